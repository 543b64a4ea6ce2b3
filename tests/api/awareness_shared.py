"""What test_awareness.py and test_awareness_access.py share: the sample district, the
command centre's admin, a typhoon drawn over it, who is who around it, and small helpers.

The fixtures are module-scoped and imported by each of those modules: each module loads
its own district and draws its own typhoon (other modules replace the data in between)."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

import shapely
from shapely import box
from shapely.geometry import mapping

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.coords import wgs84_to_gcj02
from gis.store import grid_store
from tests.conftest import LiveServer

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def admin(district: dict, engine: Engine) -> dict:
    """The command centre's admin (sees every grid)."""
    return _bearer(issue_token(engine, "aw_admin", "admin"))


def _typhoon_wgs84(engine: Engine) -> shapely.Polygon:
    """A 600 m band across the whole district, north to south: it crosses several grids."""
    w, s, e, n = grid_store.current_grids(engine).total_bounds
    cx = (w + e) / 2
    return box(cx - 0.003, s - 0.001, cx + 0.003, n + 0.001)


def _post_hazard(
    url: str, headers: dict, geom: shapely.Geometry, coord_type: str = "wgs84", **params
) -> httpx.Response:
    feature = {"type": "Feature", "properties": {"name": "台风海葵"}, "geometry": mapping(geom)}
    return httpx.post(
        f"{url}/api/hazards",
        params={"coord_type": coord_type, "kind": "typhoon", "severity": 3, **params},
        json=feature,
        headers=headers,
        timeout=60,
    )


@pytest.fixture(scope="module")
def typhoon(district: dict, engine: Engine, live_server: LiveServer, admin: dict) -> dict:
    """The typhoon drawn on an AMap front end (GCJ-02) and stored through the API."""
    band = _typhoon_wgs84(engine)
    xy = shapely.get_coordinates(band)
    glon, glat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    polygon = shapely.Polygon(np.column_stack([glon, glat]))
    r = _post_hazard(live_server.url, admin, polygon, "gcj02")
    assert r.status_code == 201, r.text
    return {"feature": r.json(), "wgs84": band}


def _worker_token(engine: Engine, grid_code: str) -> tuple[dict, str, int]:
    """The token, username and id of the primary worker of a current grid."""
    with engine.connect() as conn:
        username, worker_id = conn.execute(
            text(
                "SELECT u.username, w.id FROM grid g JOIN grid_assignment a ON a.grid_id = g.id "
                "AND a.role = 'primary' JOIN grid_worker w ON w.id = a.worker_id "
                "JOIN app_user u ON u.id = w.user_id "
                "WHERE g.code = :code AND g.valid_to IS NULL"
            ),
            {"code": grid_code},
        ).one()
    return _bearer(issue_token(engine, username, "grid_worker")), username, int(worker_id)


@pytest.fixture(scope="module")
def people(typhoon: dict, engine: Engine, live_server: LiveServer, admin: dict) -> dict:
    """Who is who around the typhoon: the worker of one affected grid ("mine") with
    check-ons, another affected grid with check-ons that worker does not cover, the
    staff of the first grid's community, of another community, and of the street."""
    hid = typhoon["feature"]["id"]
    impact = httpx.get(
        f"{live_server.url}/api/hazards/{hid}/impact", headers=admin, timeout=120
    ).json()
    with_check_ons = [g for g in impact["grids"] if g["check_on"] > 0]
    assert len(with_check_ons) >= 2
    mine = with_check_ons[0]
    worker, username, worker_id = _worker_token(engine, mine["code"])
    with engine.connect() as conn:
        own = set(
            conn.execute(
                text("SELECT grid_id FROM grid_assignment WHERE worker_id = :w"),
                {"w": worker_id},
            ).scalars()
        )
        areas = dict(
            conn.execute(
                text("SELECT id, code FROM admin_area WHERE level IN ('community', 'street')")
            ).all()
        )
        street = conn.execute(
            text("SELECT code FROM admin_area WHERE level = 'street' ORDER BY code LIMIT 1")
        ).scalar_one()
    other = next(g for g in with_check_ons if g["grid_id"] not in own)
    community = mine["code"][:12]  # a grid code starts with its community's
    theirs = next(
        c for c in sorted(areas.values()) if len(c) == 12 and c != community
    )  # another community
    return {
        "mine": mine,
        "other": other,
        "community": community,
        "other_community": theirs,
        "street": street,
        "worker": worker,
        "worker_name": username,
        "worker_id": worker_id,
        "staff": _bearer(issue_token(engine, "aw_staff_mine", "community_staff", community)),
        "other_staff": _bearer(issue_token(engine, "aw_staff_theirs", "community_staff", theirs)),
        "street_staff": _bearer(issue_token(engine, "aw_street", "street_staff", street)),
    }


def _events(lines):  # type: ignore[no-untyped-def]
    name, data = None, []
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data.append(line.split(":", 1)[1].strip())
        elif line == "" and name is not None:
            yield name, json.loads("\n".join(data))
            name, data = None, []
