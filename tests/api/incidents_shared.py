"""What test_incidents_api.py and test_incidents_dispatch.py share: the sample district,
the people who act on its incidents, and reporting and acting on a case over HTTP.

The fixtures are module-scoped and imported by each of those modules: each module loads
its own district (other modules replace the data in between)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 21, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


@pytest.fixture(scope="module")
def people(engine: Engine, district: dict) -> dict:
    """Tokens of a resident, the worker of one grid, that grid's community staff, another
    community's staff, another grid's worker, and the admin."""
    with engine.connect() as conn:
        grid = conn.execute(
            text(
                "SELECT g.id, g.code, g.community_id, w.id AS worker, u.username "
                "FROM grid g JOIN grid_assignment a ON a.grid_id = g.id AND a.role = 'primary' "
                "JOIN grid_worker w ON w.id = a.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            )
        ).one()
        other = conn.execute(
            text(
                "SELECT u.username, w.id FROM grid g JOIN grid_assignment a ON a.grid_id = g.id "
                "AND a.role = 'primary' JOIN grid_worker w ON w.id = a.worker_id "
                "JOIN app_user u ON u.id = w.user_id WHERE g.community_id <> :c "
                "ORDER BY g.code LIMIT 1"
            ),
            {"c": grid.community_id},
        ).one()
        codes = conn.execute(
            text("SELECT id, code FROM admin_area WHERE level = 'community' ORDER BY code")
        ).all()
        point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom::geography,"
                " -60)::geometry) AS p FROM grid WHERE id = :g) s"
            ),
            {"g": grid.id},
        ).one()
    mine = next(c for i, c in codes if i == grid.community_id)
    theirs = next(c for i, c in codes if i != grid.community_id)

    def bearer(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    return {
        "grid_id": grid.id,
        "grid_code": grid.code,
        "worker_id": grid.worker,
        "other_worker_id": other.id,
        "point": (float(point[0]), float(point[1])),
        "resident": bearer(issue_token(engine, "resident00001", "resident")),
        "resident2": bearer(issue_token(engine, "resident00002", "resident")),
        "worker": bearer(issue_token(engine, grid.username, "grid_worker")),
        "other_worker": bearer(issue_token(engine, other.username, "grid_worker")),
        "staff": bearer(issue_token(engine, "staff_test_mine", "community_staff", mine)),
        "other_staff": bearer(issue_token(engine, "staff_test_theirs", "community_staff", theirs)),
        "admin": bearer(issue_token(engine, "admin", "admin")),
    }


def _report(server: LiveServer, headers: dict, lon: float, lat: float, **extra) -> httpx.Response:
    body = {
        "category_code": "10101",
        "description": "井盖缺失，有人险些踩空",
        "lon": lon,
        "lat": lat,
    }
    body.update(extra)
    return httpx.post(f"{server.url}/api/incidents", json=body, headers=headers)


def _act(server: LiveServer, headers: dict, incident: int, action: str, **extra) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/incidents/{incident}/actions",
        json={"action": action, **extra},
        headers=headers,
    )
