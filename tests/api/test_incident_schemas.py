"""The incident family's doors as a newcomer reads them: /docs shows every answer's shape,
and the use cases behind them know nothing of HTTP."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from api.app import create_app

REPO = Path(__file__).resolve().parents[2]
OPENAPI = create_app().openapi()
#: Routes that answer bytes, not JSON.
NOT_JSON = {("get", "/api/incidents/{incident_id}/photos/{photo_id}")}


def _operations(tag: str) -> list[tuple[str, str, dict]]:
    return [
        (method, path, op)
        for path, ops in OPENAPI["paths"].items()
        for method, op in ops.items()
        if tag in op.get("tags", ()) and (method, path) not in NOT_JSON
    ]


@pytest.mark.parametrize(("method", "path", "op"), _operations("incidents"))
def test_every_incident_route_documents_its_answer(method: str, path: str, op: dict) -> None:
    ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    assert ok, f"{method} {path} declares no success answer"
    for code, r in ok.items():
        schema = r["content"]["application/json"]["schema"]
        # a model, a list of a model, or one of several models: never a bare object
        models = schema.get("anyOf", [schema.get("items", schema)])
        assert all("$ref" in m for m in models), f"{method} {path} {code}: {schema}"


def test_a_case_documents_its_history_photos_and_contact() -> None:
    case = OPENAPI["components"]["schemas"]["CaseAnswer"]["properties"]
    assert {"history", "photos", "allowed_actions", "contact", "recommendation"} <= set(case)


@pytest.mark.parametrize(
    "module", sorted((REPO / "api" / "services").glob("*.py")), ids=lambda p: p.name
)
def test_a_service_imports_no_web_framework(module: Path) -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
            if node.module.startswith("api."):
                imported.add(node.module)
    assert not imported & {"fastapi", "starlette"}
    assert not {m for m in imported if m.startswith(("api.routers", "api.state", "api.app"))}
