"""The 北斗 grid code over HTTP: stored on every located record, a location, an aggregate key."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, create_engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from gis.db.migrate import downgrade, upgrade
from gis.settings import get_settings
from grids.beidou import decode, encode, to_strings
from tests.conftest import LiveServer, empty_database, throwaway_database
from tests.factories import MID, E, N, S, W, tiny_case, tiny_district

LEVEL = get_settings().beidou_level
POINTS = {
    "building": "ST_PointOnSurface(geom)",
    "facility": "geom",
    "road_node": "geom",
    "incident": "geom",
}


@pytest.fixture(scope="module")
def served(engine: Engine, live_server: LiveServer) -> dict:
    empty_database(engine)
    load_layers(engine, tiny_district(), progress=False)
    token = issue_token(engine, "admin", "admin")
    return {"url": live_server.url, "admin": {"Authorization": f"Bearer {token}"}}


def _code(lon: float, lat: float) -> str:
    return str(to_strings(encode([lon], [lat], LEVEL))[0])


def _stored_cells_match_their_points(engine: Engine) -> int:
    checked = 0
    with engine.connect() as conn:
        for table, point in POINTS.items():
            rows = conn.execute(
                text(f"SELECT beidou_cell, ST_X({point}), ST_Y({point}) FROM {table}")
            ).all()
            if not rows:
                continue
            stored = np.array([r[0] for r in rows], dtype=np.int64)
            expected = encode([r[1] for r in rows], [r[2] for r in rows], LEVEL)
            assert (stored == expected).all(), table
            checked += len(rows)
        wrong = conn.execute(
            text(
                "SELECT count(*) FROM household h JOIN building b ON b.id = h.building_id "
                "WHERE h.beidou_cell IS DISTINCT FROM b.beidou_cell OR h.beidou_cell IS NULL"
            )
        ).scalar_one()
        assert wrong == 0
    return checked


def test_every_located_record_carries_its_beidou_cell(served: dict, engine: Engine) -> None:
    assert _stored_cells_match_their_points(engine) > 0


def test_the_migration_fills_the_records_already_stored(database_url: str) -> None:
    with throwaway_database("wangge_beidou") as url:
        eng = create_engine(url)
        try:
            load_layers(eng, tiny_district(), progress=False)
            downgrade(eng, "0017")  # the revision before 0018_beidou_cells
            upgrade(eng)
            assert _stored_cells_match_their_points(eng) > 0
        finally:
            eng.dispose()


def test_a_beidou_code_locates_like_the_centre_of_its_cell(served: dict) -> None:
    lon, lat = MID + 0.002, (S + N) / 2
    code = _code(lon, lat)
    by_code = httpx.get(f"{served['url']}/api/grids/locate", params={"beidou": code})
    assert by_code.status_code == 200, by_code.text
    box = decode([code])
    by_point = httpx.get(
        f"{served['url']}/api/grids/locate",
        params={"lon": float(box.lon[0]), "lat": float(box.lat[0])},
    )
    assert by_code.json() == by_point.json()
    assert by_code.json()["grid"]["code"] == "330106109001002"
    # lower case is the same code
    lower = httpx.get(f"{served['url']}/api/grids/locate", params={"beidou": code.lower()})
    assert lower.json() == by_code.json()


def test_the_resident_and_worker_doors_take_a_code_too(served: dict, engine: Engine) -> None:
    code = _code(W + 0.002, S + 0.002)
    box = decode([code])
    centre = {"lon": float(box.lon[0]), "lat": float(box.lat[0])}
    url = f"{served['url']}/api/resident/nearest-shelter"
    a, b = httpx.get(url, params={"beidou": code}), httpx.get(url, params=centre)
    assert a.status_code == b.status_code and a.json() == b.json()
    worker = {"Authorization": f"Bearer {issue_token(engine, 'worker1', 'grid_worker')}"}
    url = f"{served['url']}/api/worker/tasks"
    a = httpx.get(url, params={"beidou": code}, headers=worker)
    b = httpx.get(url, params=centre, headers=worker)
    assert a.status_code == 200 and a.json() == b.json()


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"beidou": "N50J4753"}, "beidou='N50J4753' has 8 characters"),
        ({"beidou": "X51R80112C5"}, "starts with 'X'"),
        ({"beidou": "N51R8011ZC5"}, "character 9"),
        ({"beidou": "N000"}, "polar"),
        ({"beidou": "N51R80112C5", "lon": 120.08}, "both given"),
        ({"lon": 120.08}, "lat is missing"),
        ({}, "lon is missing"),
    ],
)
def test_a_malformed_code_is_a_422_naming_the_parameter(
    served: dict, params: dict, says: str
) -> None:
    r = httpx.get(f"{served['url']}/api/grids/locate", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert says in r.json()["detail"]
    if "beidou" in params:
        assert "beidou" in r.json()["detail"]


def test_a_report_filed_by_code_lands_in_its_cell(served: dict, engine: Engine) -> None:
    code = _code(E - 0.002, S + 0.003)
    body = {"category_code": "10101", "description": "井盖缺失", "beidou": code}
    r = httpx.post(f"{served['url']}/api/incidents", json=body, headers=served["admin"])
    assert r.status_code == 201, r.text
    filed = r.json()
    assert filed["beidou"] == code and filed["grid_code"] == "330106109001002"
    case = httpx.get(f"{served['url']}/api/incidents/{filed['id']}", headers=served["admin"])
    assert case.json()["beidou"] == code
    bad = httpx.post(
        f"{served['url']}/api/incidents",
        json={**body, "beidou": "N51R80112G5"},
        headers=served["admin"],
    )
    assert bad.status_code == 422 and "beidou" in bad.text
    assert _stored_cells_match_their_points(engine) > 0


def test_incidents_are_counted_by_beidou_cell(served: dict, engine: Engine) -> None:
    r = httpx.get(
        f"{served['url']}/api/awareness/aggregates",
        params={"by": "beidou_cell"},
        headers=served["admin"],
    )
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    with engine.connect() as conn:
        expected = dict(
            conn.execute(
                text(
                    "SELECT beidou_cell, count(*) FROM incident WHERE beidou_cell IS NOT NULL "
                    "GROUP BY beidou_cell"
                )
            ).all()
        )
    assert {int(row["beidou_cell"]): row["count"] for row in rows} == expected
    for row in rows:
        assert row["beidou"] == str(to_strings([int(row["beidou_cell"])])[0])
    warnings = httpx.get(
        f"{served['url']}/api/awareness/warnings",
        params={"by": "beidou_cell"},
        headers=served["admin"],
    )
    assert warnings.status_code == 200, warnings.text


def test_bodies_take_a_code_too(served: dict, engine: Engine) -> None:
    code = _code(E - 0.001, N - 0.001)  # by incident 2, dispatched to worker1
    box = decode([code])
    centre = {"lon": float(box.lon[0]), "lat": float(box.lat[0])}
    worker = {"Authorization": f"Bearer {issue_token(engine, 'worker1', 'grid_worker')}"}
    url = f"{served['url']}/api/worker/tasks/{tiny_case(2)}/checkin"
    a = httpx.post(url, json={"beidou": code}, headers=worker)
    b = httpx.post(url, json=centre, headers=worker)
    assert a.status_code == b.status_code == 200, a.text
    assert a.json()["distance_m"] == b.json()["distance_m"]
    assert (a.json()["lon"], a.json()["lat"]) == (centre["lon"], centre["lat"])
    both = httpx.post(url, json={"beidou": code, **centre}, headers=worker)
    assert both.status_code == 422 and "both given" in both.text
    bad = httpx.post(url, json={"beidou": "N50"}, headers=worker)
    assert bad.status_code == 422 and "beidou='N50' has 3 characters" in bad.text
    none = httpx.post(
        f"{served['url']}/api/incidents",
        json={"category_code": "10101", "description": "井盖缺失"},
        headers=served["admin"],
    )
    assert none.status_code == 422 and "lon" in none.text
