"""The layout rules of CONTRIBUTING.md, checked on the tree itself.

Where a use case lives (``api/services``), where SQL lives (``gis``), and how big a module
may grow are conventions a newcomer can break without noticing; these tests name the file
and the line that breaks one, so the layout stays the one the design describes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "analysis", "etl", "gis", "grids", "maps")
SQL_START = re.compile(
    r"^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS|CREATE\s+"
    r"(TABLE|INDEX|VIEW|TEMP)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX|VIEW)|TRUNCATE|COPY\s+\w+)\b",
)  # upper case, as every statement of the project is written; prose is not SQL


def _modules(*packages: str) -> list[Path]:
    return sorted(
        path
        for package in packages
        for path in (ROOT / package).rglob("*.py")
        if "node_modules" not in path.parts
    )


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with the line of the import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_services_never_see_the_web_or_the_doors() -> None:
    forbidden = ("fastapi", "starlette", "api.state", "api.app", "api.routers", "api.pages")
    forbidden += ("api.commands", "api.deps")
    broken = [
        f"{_relative(path)}:{line} imports {name}"
        for path in _modules("api/services")
        for line, name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert not broken, "a service imports a door or the web framework:\n" + "\n".join(broken)


def test_commands_call_services_not_the_store() -> None:
    broken = [
        f"{_relative(path)}:{line} imports {name}"
        for path in _modules("api/commands")
        for line, name in _imports(path)
        if name == "gis.store" or name.startswith("gis.store.")
    ]
    assert not broken, "a command reaches the store past its service:\n" + "\n".join(broken)


def test_routers_and_pages_do_not_reach_the_store() -> None:
    broken = [
        f"{_relative(path)}:{line} imports {name}"
        for path in _modules("api/routers") + _modules("api/pages")
        for line, name in _imports(path)
        if name == "gis.store" or name.startswith("gis.store.")
    ]
    assert not broken, "a door reaches the store past its service:\n" + "\n".join(broken)


def _sql_strings(path: Path) -> list[int]:
    """Lines of the string constants of ``path`` that start like an SQL statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SQL_START.match(node.value)
    ]


def test_sql_lives_in_gis_only() -> None:
    outside = [p for p in _modules(*PACKAGES) if p.parts[len(ROOT.parts)] != "gis"]
    broken = [f"{_relative(path)}:{line}" for path in outside for line in _sql_strings(path)]
    assert not broken, "SQL outside gis/ (move it to gis/store):\n" + "\n".join(broken)


def test_the_sql_detector_finds_sql() -> None:
    """The rule above can fail: the detector sees the statements of a store module."""
    assert _sql_strings(ROOT / "gis" / "store" / "grid_store.py")


@pytest.mark.parametrize(
    ("packages", "limit"),
    [((*PACKAGES, "tests", "benchmarks"), 1000), (("api/routers",), 400)],
    ids=["any-module", "routers"],
)
def test_modules_stay_small(packages: tuple[str, ...], limit: int) -> None:
    too_big = [
        f"{_relative(path)}: {lines} lines"
        for path in _modules(*packages)
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > limit
    ]
    assert not too_big, f"modules over {limit} lines (split them):\n" + "\n".join(too_big)


def test_every_json_api_answer_declares_its_shape() -> None:
    """``/docs`` shows what each ``/api`` route answers: a schema for every JSON 2xx answer.

    Open311 (``/open311``) answers in the GeoReport v2 format, JSON or XML by suffix, and
    the basemap's ``style.json`` is MapLibre's style format: both documented by their
    standards, not by a model of ours.
    """
    from api.app import create_app

    spec = create_app().openapi()
    undeclared = [
        f"{method.upper()} {path} → {code}"
        for path, operations in spec["paths"].items()
        if path.startswith("/api/")
        for method, operation in operations.items()
        for code, answer in operation.get("responses", {}).items()
        if code.startswith("2")
        for content_type, body in answer.get("content", {}).items()
        if "json" in content_type and not body.get("schema")
    ]
    assert spec["paths"], "the app has no routes?"
    assert not undeclared, "JSON answers without a response model:\n" + "\n".join(undeclared)
