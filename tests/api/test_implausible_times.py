"""Implausible times, from the outside: every door that takes a time refuses one outside
the accepted range (422 or 400 naming the field and the range, nothing stored), and no row
the database may hold — however it got there — turns a dashboard into a 500."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from tests.conftest import LiveServer, run_wangge

EARLIEST = "2000-01-01T00:00:00+08:00"  # the default WANGGE_EARLIEST_TIME, said in the range
#: Times no door may take: far future (the 9999 that took the dashboards down), far past,
#: before the system's start, a century ahead.
IMPLAUSIBLE = (
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00+14:00",
    "1970-01-01T00:00:00+08:00",
    "2100-01-01T00:00:00+08:00",
)


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def town(engine: Engine, live_server: LiveServer) -> dict:
    """The sample district; a point inside a grid, its bounds, and tokens."""
    layers = generate_district(3000, 17, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        grid = conn.execute(
            text("SELECT id FROM grid WHERE valid_to IS NULL ORDER BY code LIMIT 1")
        ).scalar_one()
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer(geom::geography,"
                " -60)::geometry) AS p FROM grid WHERE id = :g) s"
            ),
            {"g": grid},
        ).one()
        worker_id = conn.execute(text("SELECT min(id) FROM grid_worker")).scalar_one()
        staff = conn.execute(
            text("SELECT username FROM app_user WHERE role = 'street_staff' ORDER BY id LIMIT 1")
        ).scalar_one()
    return {
        "url": live_server.url,
        "point": (float(lon), float(lat)),
        "worker_id": int(worker_id),
        "resident": _bearer(issue_token(engine, "resident00001", "resident")),
        "staff_key": (staff_key := issue_token(engine, staff, "street_staff")),
        "staff": _bearer(staff_key),
        "admin": _bearer(issue_token(engine, "admin", "admin")),
    }


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _refused(r: httpx.Response, field: str, status: int = 422) -> dict:
    """A problem answer naming ``field`` and stating the accepted range."""
    assert r.status_code == status, r.text
    body = r.json()
    [problem] = [p for p in body["problems"] if p["field"] == field]
    assert "out of range" in problem["message"]
    assert EARLIEST in problem["fix"] and " to " in problem["fix"]
    return problem


# ---------------------------------------------------------------- the doors


@pytest.mark.parametrize("at", IMPLAUSIBLE)
def test_a_report_with_an_implausible_time_is_refused(town: dict, engine: Engine, at: str) -> None:
    lon, lat = town["point"]
    before = _count(engine, "incident")
    r = httpx.post(
        f"{town['url']}/api/incidents",
        json={"category_code": "10101", "description": "井盖缺失", "lon": lon, "lat": lat}
        | {"reported_at": at},
        headers=town["resident"],
    )
    _refused(r, "reported_at")
    assert _count(engine, "incident") == before


def test_a_report_a_little_ahead_of_the_clock_is_taken_further_ahead_not(
    town: dict, engine: Engine
) -> None:
    lon, lat = town["point"]
    body = {"category_code": "10101", "description": "井盖缺失", "lon": lon, "lat": lat}
    now = clock.now()
    ahead = httpx.post(
        f"{town['url']}/api/incidents",
        json=body | {"reported_at": (now + timedelta(minutes=15)).isoformat()},
        headers=town["resident"],
    )
    assert "in the future" in _refused(ahead, "reported_at")["message"]
    skewed = httpx.post(
        f"{town['url']}/api/incidents",
        json=body | {"reported_at": (now + timedelta(minutes=2)).isoformat()},
        headers=town["resident"],
    )
    assert skewed.status_code == 201, skewed.text  # a phone's clock runs a little fast
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM incident WHERE id = :i"), {"i": skewed.json()["id"]})


def _hotline_csv(town: dict, at: str) -> str:
    lon, lat = town["point"]
    fine = (clock.now() - timedelta(hours=3)).isoformat()
    return (
        "category_code,description,lon,lat,reported_at,contact_name\n"
        f"10102,路灯不亮,{lon},{lat},{fine},王先生\n"
        f"10102,路灯不亮,{lon},{lat},{at},李女士\n"
    )


def test_a_hotline_file_with_an_implausible_time_is_refused_whole(
    town: dict, engine: Engine
) -> None:
    before = _count(engine, "incident")
    r = httpx.post(
        f"{town['url']}/api/incidents/hotline",
        files={"file": ("12345.csv", _hotline_csv(town, IMPLAUSIBLE[0]).encode(), "text/csv")},
        headers=town["staff"],
    )
    assert _refused(r, "reported_at")["row"] == 2
    assert _count(engine, "incident") == before


def test_the_hotline_command_refuses_it_too(
    town: dict, engine: Engine, database_url: str, tmp_path
) -> None:
    path = tmp_path / "12345.csv"
    path.write_text(_hotline_csv(town, "1970-01-01T08:00:00+08:00"), encoding="utf-8")
    before = _count(engine, "incident")
    run = run_wangge(database_url, "incidents", "import-hotline", str(path), "--as", "admin")
    assert run.returncode == 1
    said = " ".join(run.stderr.split())  # rich wraps long lines
    assert "row 2" in said and "reported_at" in said and EARLIEST in said
    assert "Nothing was filed" in said
    assert _count(engine, "incident") == before


def test_open311_takes_no_requested_time_and_refuses_implausible_filters(town: dict) -> None:
    lon, lat = town["point"]
    url = f"{town['url']}/open311/v2/requests.json"
    form = {"api_key": town["staff_key"], "service_code": "10101", "lat": lat, "long": lon}
    filed = httpx.post(url, data=form | {"requested_datetime": IMPLAUSIBLE[0]})
    assert filed.status_code == 201, filed.text
    rid = filed.json()[0]["service_request_id"]
    got = httpx.get(f"{town['url']}/open311/v2/requests/{rid}.json", params=form)
    taken = datetime.fromisoformat(got.json()[0]["requested_datetime"])
    assert abs(taken - clock.now()) < timedelta(minutes=5)  # filed now, whatever it says
    for name in ("start_date", "end_date"):
        r = httpx.get(url, params={"api_key": town["staff_key"], name: IMPLAUSIBLE[0]})
        assert r.status_code == 400, r.text
        said = " ".join(e["description"] for e in r.json())
        assert name in said and "out of range" in said and EARLIEST in said


def _hazard_body(engine: Engine, **properties: str) -> dict:
    with engine.connect() as conn:
        w, s, e, n = conn.execute(
            text(
                "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
                "(SELECT ST_Extent(geom) AS b FROM grid WHERE valid_to IS NULL) x"
            )
        ).one()
    cx, cy = (w + e) / 2, (s + n) / 2
    ring = [[cx - 0.002, cy - 0.002], [cx + 0.002, cy - 0.002], [cx + 0.002, cy + 0.002]]
    polygon = {"type": "Polygon", "coordinates": [[*ring, [cx - 0.002, cy + 0.002], ring[0]]]}
    return {"type": "Feature", "properties": properties, "geometry": polygon}


@pytest.mark.parametrize(
    ("params", "properties", "field"),
    [
        ({"valid_to": IMPLAUSIBLE[0]}, {}, "valid_to"),
        ({}, {"valid_from": IMPLAUSIBLE[2]}, "valid_from"),
        ({"valid_from": IMPLAUSIBLE[1]}, {}, "valid_from"),
    ],
)
def test_a_hazard_with_an_implausible_validity_is_refused(
    town: dict, engine: Engine, params: dict, properties: dict, field: str
) -> None:
    before = _count(engine, "hazard_area")
    r = httpx.post(
        f"{town['url']}/api/hazards",
        params={"kind": "flood", "severity": 2, **params},
        json=_hazard_body(engine, **properties),
        headers=town["admin"],
    )
    _refused(r, field)
    assert _count(engine, "hazard_area") == before


def test_the_hazard_command_refuses_it_too(
    town: dict, engine: Engine, database_url: str, tmp_path
) -> None:
    path = tmp_path / "flood.geojson"
    path.write_text(json.dumps(_hazard_body(engine)), encoding="utf-8")
    before = _count(engine, "hazard_area")
    run = run_wangge(
        database_url,
        "hazard",
        "import",
        str(path),
        "--kind",
        "flood",
        "--severity",
        "2",
        "--valid-to",
        IMPLAUSIBLE[0],
    )
    assert run.returncode == 1
    said = " ".join(run.stderr.split())
    assert "valid-to" in said and "out of range" in said and EARLIEST in said
    assert _count(engine, "hazard_area") == before


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/kpi", {"by": "grid", "start": "1970-01-01"}, "start"),
        ("/api/kpi", {"by": "grid", "end": "9999-12-31"}, "end"),
        ("/api/kpi", {"by": "grid", "as_of": IMPLAUSIBLE[0]}, "as_of"),
        ("/api/kpi/chart.png", {"by": "grid", "as_of": IMPLAUSIBLE[1]}, "as_of"),
        ("/api/awareness/aggregates", {"start": IMPLAUSIBLE[0]}, "start"),
        ("/api/awareness/aggregates", {"end": IMPLAUSIBLE[1]}, "end"),
        ("/api/awareness/hotspots", {"end": IMPLAUSIBLE[1]}, "end"),
        ("/api/awareness/hotspots", {"start": IMPLAUSIBLE[3]}, "start"),
        ("/api/awareness/warnings", {"current": IMPLAUSIBLE[0]}, "current"),
        ("/reports/daily", {"street": "330106109", "date": "9999-12-31"}, "date"),
    ],
)
def test_query_times_far_out_of_range_are_a_422(
    town: dict, path: str, params: dict, field: str
) -> None:
    r = httpx.get(f"{town['url']}{path}", params=params, headers=town["staff"], timeout=60)
    _refused(r, field)


def test_a_worker_position_at_an_implausible_time_is_refused(town: dict, engine: Engine) -> None:
    lon, lat = town["point"]
    before = _count(engine, "worker_position")
    r = httpx.post(
        f"{town['url']}/api/workers/{town['worker_id']}/position",
        json={"lon": lon, "lat": lat, "at": IMPLAUSIBLE[0]},
        headers=town["admin"],
    )
    _refused(r, "at")
    assert _count(engine, "worker_position") == before


# ---------------------------------------------------------------- the reads

#: Rows a legacy import or a hand-written INSERT may have left: beyond what pandas or
#: Python can hold, and merely implausible ones.
STORED = (
    ("9999-12-31T23:59:59+14:00", None),
    ("0001-01-01T00:00:00+14:00", None),  # 1 BC in UTC: not a Python datetime at all
    ("infinity", None),
    ("1970-01-01T00:00:00+08:00", "9999-12-31T00:00:00+00:00"),  # closed "in 9999"
    ("2100-01-01T00:00:00+08:00", None),
)
#: The CHECK constraints of migration 0007.
RANGE_CONSTRAINTS = (
    "ck_incident_reported_at_range",
    "ck_incident_deadline_range",
    "ck_incident_closed_at_range",
    "ck_incident_event_at_range",
)
READS = (
    "/api/kpi?by=grid",
    "/api/kpi?by=period&period=month&date_by=reported",
    "/api/kpi/chart.png?by=grid",
    "/kpi?by=grid",
    "/api/awareness/aggregates",
    "/api/awareness/aggregates?window=day&by=grid_id",
    "/api/awareness/hotspots",
    "/api/awareness/warnings",
    "/api/incidents",
    "/api/live",
    "/open311/v2/requests.json",
)


@pytest.fixture
def legacy_rows(town: dict, engine: Engine):
    """Incidents with implausible times written straight into the tables, as a legacy
    import before migration 0007 might have: its range constraints are lifted for the
    insert and put back (validated) afterwards, the rows removed."""
    with engine.begin() as conn:
        constraints = conn.execute(
            text(
                "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
                "FROM pg_constraint WHERE conname = ANY(:names) "
                "AND coninhcount = 0"  # not the copies on incident_event's partitions
            ),
            {"names": list(RANGE_CONSTRAINTS)},
        ).all()
        assert len(constraints) == 4
        for table, name, _ in constraints:
            conn.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {name}"))
    ids = []
    try:
        with engine.begin() as conn:
            for reported, closed in STORED:
                new = conn.execute(
                    text(
                        "INSERT INTO incident (category_code, source, description, state, "
                        "reported_at, closed_at, grid_id, h3_cell, geom) "
                        "SELECT category_code, source, '旧数据', 'closed', "
                        "CAST(:r AS timestamptz), CAST(:c AS timestamptz), grid_id, h3_cell, geom "
                        "FROM incident "
                        "WHERE grid_id IS NOT NULL ORDER BY id LIMIT 1 RETURNING id"
                    ),
                    {"r": reported, "c": closed},
                ).scalar_one()
                conn.execute(
                    text(
                        "INSERT INTO incident_event (incident_id, to_state, at, actor) "
                        "VALUES (:i, 'dispatched', CAST(:r AS timestamptz), 'legacy')"
                    ),
                    {"i": new, "r": reported},
                )
                ids.append(new)
        yield ids
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM incident WHERE id = ANY(:ids)"), {"ids": ids})
            for table, name, definition in constraints:
                conn.execute(text(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"))


def test_no_stored_time_turns_a_read_into_a_500(
    town: dict, engine: Engine, legacy_rows: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        for path in READS:
            for who in ("staff", "admin"):
                r = httpx.get(f"{town['url']}{path}", headers=town[who], timeout=120)
                assert r.status_code == 200, (path, who, r.text[:300])
        for case in legacy_rows:  # each row itself can still be opened (and corrected)
            for path in (f"/api/incidents/{case}", f"/open311/v2/requests/{case}.json"):
                r = httpx.get(f"{town['url']}{path}", headers=town["admin"])
                assert r.status_code == 200, (path, r.text[:300])
    # the rows with a time outside 1900–2200 are left out, and the log says which
    told = " ".join(r.getMessage() for r in caplog.records if "left out" in r.getMessage())
    assert all(str(i) in told for i in legacy_rows[:4]), told
    assert str(legacy_rows[4]) not in told
    with engine.connect() as conn:
        readable = conn.execute(
            text(
                "SELECT count(*) FROM incident WHERE reported_at >= '1900-01-01+00' "
                "AND reported_at < '2200-01-01+00' AND (closed_at IS NULL OR "
                "closed_at < '2200-01-01+00')"
            )
        ).scalar_one()
    total = httpx.get(f"{town['url']}/api/awareness/aggregates", headers=town["staff"]).json()
    assert total["total"] == readable  # the 2100 row counts; 9999, 1 BC, infinity do not
