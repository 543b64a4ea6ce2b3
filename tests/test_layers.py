"""The arrows of the design point one way: each package imports only the ones below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = ("gis", "grids", "etl", "analysis", "maps", "api")
#: DESIGN.md, "The layout": what each package may import.
ALLOWED = {
    "gis": set(),
    "grids": {"gis"},
    "etl": {"gis", "grids"},
    "analysis": {"gis", "grids"},
    "maps": {"gis", "grids", "analysis"},
    "api": {"gis", "grids", "etl", "analysis", "maps"},
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(OURS)


@pytest.mark.parametrize("package", OURS)
def test_package_imports_only_what_the_design_allows(package: str) -> None:
    wrong = {
        str(path.relative_to(REPO)): sorted(_imports(path) - ALLOWED[package] - {package})
        for path in (REPO / package).rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {k: v for k, v in wrong.items() if v} == {}
