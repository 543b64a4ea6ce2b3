"""The server answers over real HTTP, checks its database, and never 500s on bad input."""

from __future__ import annotations

import httpx

from gis.db.migrate import head
from tests.conftest import LiveServer


def test_health_reports_database_and_schema(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.url}/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["postgis"].startswith("3.")
    assert body["schema_revision"] == head()


def test_health_is_503_when_the_database_is_gone() -> None:
    # a server pointed at a port where nothing listens
    with LiveServer("postgresql+psycopg://postgres@127.0.0.1:9/nowhere") as server:
        r = httpx.get(f"{server.url}/health", timeout=30)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Database unavailable" in r.json()["title"]


def test_openapi_docs_are_served(live_server: LiveServer) -> None:
    assert httpx.get(f"{live_server.url}/docs").status_code == 200
    spec = httpx.get(f"{live_server.url}/openapi.json").json()
    assert "/health" in spec["paths"]
