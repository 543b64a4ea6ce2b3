"""Situational awareness through the real HTTP app: a simulated typhoon over the sample
district gives the affected grids, per-grid check-on lists with safe shelters and routes
that avoid it, alerts with confirmations; plus aggregates, hotspots, early warnings,
workers' positions, the event stream and the daily report.  Who may use which door is
test_awareness_access.py."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely
from shapely import box
from shapely.geometry import LineString, mapping, shape

from gis.coords import wgs84_to_gcj02
from gis.store import awareness_store as store
from gis.store import grid_store
from tests.api.awareness_shared import (
    PROBLEM,
    _events,
    _post_hazard,
    _typhoon_wgs84,
    _worker_token,
)

# module-scoped fixtures shared with test_awareness_access.py: each module loads its own district
from tests.api.awareness_shared import admin as admin
from tests.api.awareness_shared import district as district
from tests.api.awareness_shared import people as people
from tests.api.awareness_shared import typhoon as typhoon
from tests.conftest import LiveServer, run_wangge

TZ = ZoneInfo("Asia/Shanghai")
FIRE = "20402"  # 火情


def test_a_typhoon_drawn_in_gcj02_is_stored_in_wgs84(
    typhoon: dict, live_server: LiveServer, admin: dict
) -> None:
    stored = shape(typhoon["feature"]["geometry"])
    assert shapely.hausdorff_distance(stored, typhoon["wgs84"]) < 2e-7  # ~2 cm
    assert typhoon["feature"]["properties"]["kind"] == "typhoon"
    assert typhoon["feature"]["properties"]["area_m2"] > 100_000
    listed = httpx.get(
        f"{live_server.url}/api/hazards", params={"active": True}, headers=admin
    ).json()
    assert typhoon["feature"]["id"] in [f["id"] for f in listed["features"]]


def test_the_impact_lists_grids_people_by_group_and_unusable_shelters(
    typhoon: dict, live_server: LiveServer, engine: Engine, admin: dict
) -> None:
    hid = typhoon["feature"]["id"]
    r = httpx.get(f"{live_server.url}/api/hazards/{hid}/impact", headers=admin, timeout=120)
    assert r.status_code == 200, r.text
    impact = r.json()
    band = typhoon["wgs84"]
    grids = grid_store.current_grids(engine)
    crossed = grids[grids.intersects(band)]
    assert len(crossed) >= 3
    assert {g["code"] for g in impact["grids"]} == set(crossed["code"])
    # every household whose building meets the band, and no other
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM household h JOIN building b ON b.id = h.building_id "
                "WHERE ST_Intersects(b.geom, ST_GeomFromText(:wkt, 4326))"
            ),
            {"wkt": band.wkt},
        ).scalar_one()
    assert impact["households"] == expected > 0
    groups = impact["residents_by_group"]
    assert groups["residents"] > groups["elderly_alone"] > 0
    assert sum(g["check_on"] for g in impact["grids"]) == impact["check_on"] > 0
    shelters = store.shelters_live(engine)
    inside = set(shelters.loc[shelters.intersects(band), "facility_id"])
    assert {s["id"] for s in impact["shelters_inside"]} == inside
    assert all(not s["usable"] for s in impact["shelters_inside"])
    assert impact["closed_road_edges"] > 0


def test_each_grid_worker_gets_a_check_on_list_with_safe_shelters_and_routes_around_it(
    typhoon: dict, live_server: LiveServer, engine: Engine, admin: dict
) -> None:
    hid = typhoon["feature"]["id"]
    band = typhoon["wgs84"]
    impact = httpx.get(
        f"{live_server.url}/api/hazards/{hid}/impact", headers=admin, timeout=120
    ).json()
    unusable = {s["id"] for s in impact["shelters_inside"]}
    routed = 0
    for grid in impact["grids"]:
        worker, _, _ = _worker_token(engine, grid["code"])  # the grid's own worker asks
        r = httpx.get(
            f"{live_server.url}/api/hazards/{hid}/check-on",
            params={"grid": grid["code"]},
            headers=worker,
            timeout=120,
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["count"] == grid["check_on"] == len(body["features"])
        for f in body["features"]:
            p = f["properties"]
            assert p["grid_code"] == grid["code"]
            assert p["worker_id"] == grid["worker_id"]
            assert p["groups"]  # why this resident is on the list
            assert p["room"]
            assert not {"name", "phone", "id_number"} & set(p)  # ids only
            if p["reason"] == "ok":
                assert p["shelter_id"] not in unusable
                route = shape(f["geometry"])
                coords = list(route.coords)
                # the walk leaves the building, then never enters the hazard area again
                if len(coords) > 3:
                    assert not LineString(coords[1:-1]).intersects(band)
                assert shapely.Point(coords[-1]).distance(band) > 0
                routed += 1
    assert routed > 0
    unknown = httpx.get(
        f"{live_server.url}/api/hazards/{hid}/check-on",
        params={"grid": "330106109999999"},
        headers=admin,
    )
    assert unknown.status_code == 404
    missing = httpx.get(f"{live_server.url}/api/hazards/99999/check-on", headers=admin)
    assert missing.status_code == 404


def test_an_alert_to_the_elderly_living_alone_names_a_safe_shelter_and_is_confirmed(
    typhoon: dict, live_server: LiveServer, engine: Engine, admin: dict
) -> None:
    hid = typhoon["feature"]["id"]
    impact = httpx.get(
        f"{live_server.url}/api/hazards/{hid}/impact", headers=admin, timeout=120
    ).json()
    r = httpx.post(
        f"{live_server.url}/api/hazards/{hid}/alerts",
        json={
            "group": "elderly_alone",
            "message": "台风海葵今晚登陆，请勿外出。",
            "created_by": "someone_else",  # ignored: the sender is the token's user
        },
        headers=admin,
        timeout=120,
    )
    assert r.status_code == 201, r.text
    sent = r.json()
    # each elderly person living alone, and their household (the family's contacts)
    assert sent["residents"] == impact["residents_by_group"]["elderly_alone"]
    assert sent["recipients"] == sent["residents"] + sent["households"]
    assert sent["outbox_messages"] == sent["recipients"]
    alert_id = sent["alert_id"]
    outbox = store.outbox(engine, alert_id=alert_id)
    assert len(outbox) == sent["recipients"]
    kinds = outbox["recipient"].str.split(":").str[0].value_counts().to_dict()
    assert kinds == {"resident": sent["residents"], "household": sent["households"]}
    assert outbox["body"].str.contains("台风海葵今晚登陆").all()
    unusable = {s["name"] for s in impact["shelters_inside"]}
    named = outbox["body"].str.extract(r"最近的安全避难场所：(.+?)，")[0].dropna()
    assert len(named) > 0 and not set(named) & unusable

    # the same warning sent again for the same hazard and group is not queued again
    again = httpx.post(
        f"{live_server.url}/api/hazards/{hid}/alerts",
        json={"group": "elderly_alone", "message": "台风海葵今晚登陆，请勿外出。"},
        headers=admin,
        timeout=120,
    )
    assert again.status_code == 201, again.text
    assert again.json()["outbox_messages"] == 0
    assert again.json()["already_queued"] == sent["recipients"]
    everything = store.outbox(engine)
    assert everything["body"].str.contains("台风海葵今晚登陆").sum() == sent["recipients"]

    status = httpx.get(f"{live_server.url}/api/alerts/{alert_id}", headers=admin).json()
    assert status["recipients"] == sent["recipients"] and status["confirmed"] == 0
    assert status["created_by"] == "aw_admin"
    grids = [g for g in status["grids"] if g["pending_resident_ids"]]
    grid = grids[0]
    resident = grid["pending_resident_ids"][0]
    # the grid's own worker confirms, under their own name
    worker, username, _ = _worker_token(engine, grid["grid_code"])
    r = httpx.post(
        f"{live_server.url}/api/alerts/{alert_id}/confirm",
        json={"resident_ids": [resident], "note": "已电话联系，女儿接走"},
        headers=worker,
    )
    assert r.status_code == 200, r.text
    assert r.json()["confirmed_by"] == username
    with engine.connect() as conn:
        own = set(
            conn.execute(
                text(
                    "SELECT g.code FROM grid_assignment a JOIN grid g ON g.id = a.grid_id "
                    "JOIN grid_worker w ON w.id = a.worker_id JOIN app_user u "
                    "ON u.id = w.user_id WHERE u.username = :u"
                ),
                {"u": username},
            ).scalars()
        )
    assert {g["grid_code"] for g in r.json()["grids"]} <= own  # the worker's grids only
    after = {g["grid_code"]: g for g in r.json()["grids"]}[grid["grid_code"]]
    assert after["confirmed"] == grid["confirmed"] + 1
    assert resident not in after["pending_resident_ids"]
    listed = httpx.get(
        f"{live_server.url}/api/alerts/{alert_id}", params={"recipients": True}, headers=admin
    ).json()["recipient_list"]
    confirmed = [r for r in listed if r["resident_id"] == resident]
    assert confirmed[0]["confirmed_by"] == username
    assert not {"name", "phone", "id_number"} & set(listed[0])  # ids and flags only
    # confirming someone who was not alerted says so
    r = httpx.post(
        f"{live_server.url}/api/alerts/{alert_id}/confirm",
        json={"resident_ids": [999999999]},
        headers=admin,
    )
    assert r.status_code == 422 and "is a recipient of alert" in r.json()["detail"]
    assert httpx.get(f"{live_server.url}/api/alerts/424242", headers=admin).status_code == 404


def test_an_alert_with_no_recipients_says_so(
    district: dict, engine: Engine, live_server: LiveServer, admin: dict
) -> None:
    # a 30 m square in the district as far as possible from any building
    grids = grid_store.current_grids(engine)
    w, s, e, n = grids.total_bounds
    xs, ys = np.meshgrid(np.linspace(w, e, 60), np.linspace(s, n, 30))
    points = shapely.points(xs.ravel(), ys.ravel())
    area = shapely.union_all(np.asarray(grids.geometry.array))
    buildings = shapely.union_all(np.asarray(district["building"].geometry.array))
    points = points[shapely.contains(area, points)]
    far = points[np.argmax(shapely.distance(points, buildings))]
    square = shapely.buffer(far, 0.00015, cap_style="square")
    r = _post_hazard(live_server.url, admin, square, kind="gas_leak", severity=2)
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{live_server.url}/api/hazards/{r.json()['id']}/alerts",
        json={},
        headers=admin,
        timeout=60,
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith(PROBLEM)
    assert "nobody would be alerted" in r.json()["detail"]


@pytest.mark.parametrize(
    ("geometry", "params", "expected"),
    [
        ({"type": "Polygon", "coordinates": []}, {}, "empty"),
        (
            {
                "type": "Polygon",
                "coordinates": [
                    [
                        [120.085, 30.318],
                        [120.09, 30.322],
                        [120.09, 30.318],
                        [120.085, 30.322],
                        [120.085, 30.318],
                    ]
                ],
            },
            {},
            "cannot be repaired",
        ),
        (mapping(box(116.39, 39.90, 116.40, 39.91)), {}, "outside the area served"),
        (mapping(box(120.085, 30.318, 120.09, 30.322)), {"coord_type": "utm"}, "coord"),
        (mapping(box(120.085, 30.318, 120.09, 30.322)), {"kind": "meteor"}, "kind must be"),
    ],
    ids=["empty", "bow-tie", "beijing", "unknown-coord-type", "unknown-kind"],
)
def test_bad_hazard_polygons_are_clear_4xx_errors(
    district: dict,
    live_server: LiveServer,
    admin: dict,
    geometry: dict,
    params: dict,
    expected: str,
) -> None:
    query = {"kind": "flood", "severity": 2, **params}
    r = httpx.post(
        f"{live_server.url}/api/hazards", params=query, json=geometry, headers=admin, timeout=60
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert expected in json.dumps(r.json(), ensure_ascii=False)
    r = httpx.post(
        f"{live_server.url}/api/hazards",
        params={"kind": "flood", "severity": 2},
        content=b"not json",
        headers={"content-type": "application/json", **admin},
    )
    assert r.status_code == 422


def _hazard_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM hazard_area")).scalar_one()


@pytest.mark.parametrize("coord_type", ["wgs84", "gcj02"])
def test_nan_or_infinite_vertices_are_a_422_naming_the_geometry_and_store_nothing(
    district: dict, engine: Engine, live_server: LiveServer, admin: dict, coord_type: str
) -> None:
    ring = [list(xy) for xy in _typhoon_wgs84(engine).exterior.coords]
    nan, inf = float("nan"), float("inf")
    variants = {
        "nan first and last": [[nan, ring[0][1]], *ring[1:-1], [nan, ring[0][1]]],
        "nan latitude": [ring[0], [ring[1][0], nan], *ring[2:]],
        "infinite longitude": [ring[0], [inf, ring[1][1]], *ring[2:]],
        "all nan": [[nan, nan]] * 4,
    }
    before = _hazard_count(engine)
    for name, coords in [*variants.items(), ("nan hole", None)]:
        rings = [ring, [[nan, nan]] * 4] if coords is None else [coords]
        body = json.dumps({"type": "Polygon", "coordinates": rings})  # NaN, Infinity tokens
        r = httpx.post(
            f"{live_server.url}/api/hazards",
            params={"kind": "flood", "severity": 2, "coord_type": coord_type},
            content=body,
            headers={**admin, "content-type": "application/json"},
            timeout=60,
        )
        assert r.status_code == 422, (name, r.text)
        [problem] = r.json()["problems"]
        assert problem["field"] == "geometry" and "not a finite number" in problem["message"]
    assert _hazard_count(engine) == before


def test_a_nul_in_a_hazard_name_is_a_422_naming_it(
    district: dict, engine: Engine, live_server: LiveServer, admin: dict
) -> None:
    feature = {
        "type": "Feature",
        "properties": {"name": "台风\x00海葵"},
        "geometry": mapping(_typhoon_wgs84(engine)),
    }
    before = _hazard_count(engine)
    for params, body in [
        ({}, feature),
        ({"name": "台风\x00海葵"}, {**feature, "properties": {}}),
    ]:
        r = httpx.post(
            f"{live_server.url}/api/hazards",
            params={"kind": "typhoon", "severity": 3, **params},
            json=body,
            headers=admin,
            timeout=60,
        )
        assert r.status_code == 422, r.text
        assert "name" in r.json()["detail"] and "NUL" in r.json()["detail"]
    assert _hazard_count(engine) == before


def test_hazard_ids_beyond_the_integer_key_are_422_on_every_sub_path(
    district: dict, live_server: LiveServer, admin: dict
) -> None:
    for method, tail in [
        ("GET", ""),
        ("GET", "/impact"),
        ("GET", "/check-on"),
        ("POST", "/alerts"),
    ]:
        for hazard_id in (2**31, 2**63, -1):
            r = httpx.request(
                method, f"{live_server.url}/api/hazards/{hazard_id}{tail}", json={}, headers=admin
            )
            assert r.status_code == 422, r.text
            assert ["path", "hazard_id"] in [e["loc"] for e in r.json()["errors"]]
        largest = httpx.request(
            method, f"{live_server.url}/api/hazards/{2**31 - 1}{tail}", json={}, headers=admin
        )
        assert largest.status_code == 404, largest.text  # fits the key: merely unknown


def test_aggregates_by_grid_match_the_database(
    district: dict, engine: Engine, live_server: LiveServer, admin: dict
) -> None:
    r = httpx.get(
        f"{live_server.url}/api/awareness/aggregates", params={"by": "grid_id"}, headers=admin
    )
    assert r.status_code == 200, r.text
    got = {row["grid_id"]: row["count"] for row in r.json()["rows"]}
    with engine.connect() as conn:
        expected = dict(
            conn.execute(
                text("SELECT grid_id, count(*) FROM incident WHERE grid_id IS NOT NULL GROUP BY 1")
            ).all()
        )
    assert got == expected
    r = httpx.get(
        f"{live_server.url}/api/awareness/aggregates",
        params={
            "by": "h3_cell",
            "window": "week",
            "split_by": "state",
            "state": ["closed", "rated"],
        },
        headers=admin,
    )
    rows = r.json()["rows"]
    assert rows and {row["state"] for row in rows} <= {"closed", "rated"}
    assert all(row["h3_index"].startswith("8a") for row in rows)  # resolution 10
    bad = httpx.get(
        f"{live_server.url}/api/awareness/aggregates", params={"by": "street"}, headers=admin
    )
    assert bad.status_code == 422 and "by must be one of" in bad.json()["detail"]


def _spike(engine: Engine, grid_id: int, n: int, at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                """
                INSERT INTO incident (category_code, source, description, state,
                                      reported_at, grid_id, h3_cell, geom)
                SELECT :cat, 'patrol', '火情', 'reported',
                       CAST(:at AS timestamptz) + g * interval '1 minute', i.grid_id,
                       i.h3_cell, i.geom
                FROM generate_series(0, :n - 1) g,
                     (SELECT grid_id, h3_cell, geom FROM incident
                      WHERE grid_id = :grid LIMIT 1) i"""
            ),
            {"cat": FIRE, "at": at, "n": n, "grid": grid_id},
        )


def test_early_warning_flags_a_spike_above_its_own_baseline_with_the_evidence(
    district: dict, engine: Engine, live_server: LiveServer, admin: dict
) -> None:
    grid = grid_store.current_grids(engine).iloc[0]
    day = datetime(2026, 10, 31, 8, 0, tzinfo=TZ)
    _spike(engine, int(grid["id"]), 8, day)
    r = httpx.get(
        f"{live_server.url}/api/awareness/warnings",
        params={"current": day.isoformat(), "window": "day"},
        headers=admin,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    found = [w for w in r.json()["warnings"] if w["category_code"] == FIRE]
    assert found and found[0]["place_code"] == grid["code"]
    assert found[0]["observed"] >= 8 and found[0]["expected"] < 1
    assert "火情" in found[0]["evidence"]
    hot = httpx.get(
        f"{live_server.url}/api/awareness/hotspots",
        params={
            "start": (day - timedelta(days=30)).isoformat(),
            "end": (day + timedelta(days=1)).isoformat(),
        },
        headers=admin,
        timeout=60,
    ).json()
    assert hot["type"] == "FeatureCollection" and hot["cells_tested"] >= 3
    assert all(f["properties"]["significant"] in ("hot", "cold") for f in hot["features"])
    assert "Gi*" in hot["method"]


def test_worker_positions_show_on_the_live_picture(
    district: dict, live_server: LiveServer, engine: Engine, admin: dict, people: dict
) -> None:
    lon, lat = district["road_node"].geometry.iloc[3].coords[0]
    glon, glat = wgs84_to_gcj02(lon, lat)
    me = people["worker_id"]
    r = httpx.post(
        f"{live_server.url}/api/workers/{me}/position",
        json={"lon": glon, "lat": glat, "coord_type": "gcj02"},
        headers=people["worker"],  # the worker's own tablet
    )
    assert r.status_code == 201, r.text
    assert r.json()["lon"] == pytest.approx(lon, abs=1e-6)
    live = httpx.get(f"{live_server.url}/api/live", headers=admin).json()
    assert [w["worker_id"] for w in live["workers"]] == [me]
    assert live["open_incidents"] == sum(live["open_by_state"].values()) > 0
    assert {s["id"] for s in live["shelters"]} == set(district["shelter"]["facility_id"])
    # the staff of the worker's community see them; another community's staff do not
    mine = httpx.get(f"{live_server.url}/api/live", headers=people["staff"]).json()
    assert [w["worker_id"] for w in mine["workers"]] == [me]
    theirs = httpx.get(f"{live_server.url}/api/live", headers=people["other_staff"]).json()
    assert theirs["workers"] == []
    swapped = httpx.post(
        f"{live_server.url}/api/workers/{me}/position",
        json={"lon": lat, "lat": lon},
        headers=people["worker"],
    )
    assert swapped.status_code == 422 and "swapped" in swapped.json()["detail"]
    nobody = httpx.post(
        f"{live_server.url}/api/workers/9999/position", json={"lon": lon, "lat": lat}, headers=admin
    )
    assert nobody.status_code == 404


def test_the_event_stream_pushes_an_incident_change_to_every_screen(
    district: dict, engine: Engine, live_server: LiveServer, admin: dict
) -> None:
    url = f"{live_server.url}/api/live/stream"
    with (
        httpx.stream("GET", url, headers=admin, timeout=30) as one,
        httpx.stream("GET", url, headers=admin, timeout=30) as two,
    ):
        assert one.status_code == two.status_code == 200
        assert one.headers["content-type"].startswith("text/event-stream")
        first, second = _events(one.iter_lines()), _events(two.iter_lines())
        assert next(first)[0] == next(second)[0] == "ready"
        with engine.connect() as conn:
            listening = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            ).scalar_one()
        assert listening == 1  # one LISTEN connection, however many screens
        with engine.begin() as conn:
            case = conn.execute(
                text(
                    "UPDATE incident SET state = 'in_progress' WHERE id = (SELECT min(id) "
                    "FROM incident) RETURNING id"
                )
            ).scalar_one()
        got = [next(first), next(second)]
    for name, data in got:
        assert name == "incident"
        assert data["id"] == case and data["state"] == "in_progress" and data["op"] == "update"
        assert data["grid"] is None or len(data["grid"]) == 15


def test_the_daily_report_of_a_community_has_figures_charts_and_a_map(
    district: dict, live_server: LiveServer, admin: dict
) -> None:
    community = district["admin_area"].query("level == 'community'").iloc[0]
    r = httpx.get(
        f"{live_server.url}/reports/daily",
        params={"community": community["code"], "date": "2026-10-31"},
        headers=admin,
        timeout=120,
    )
    assert r.status_code == 200, r.text
    page = r.text
    assert f"{community['name']}" in page and "每日态势报告" in page
    assert page.count("class='wangge-chart'") >= 1
    assert "class='wangge-report-map'" in page
    assert "<script" not in page and "http" not in page.replace("http-equiv", "")
    street = district["admin_area"].query("level == 'street'").iloc[0]
    r = httpx.get(
        f"{live_server.url}/reports/daily",
        params={"street": street["code"]},
        headers=admin,
        timeout=120,
    )
    assert r.status_code == 200 and "分社区情况" in r.text
    unknown = httpx.get(
        f"{live_server.url}/reports/daily", params={"community": "1"}, headers=admin
    )
    assert unknown.status_code == 404
    empty = httpx.get(f"{live_server.url}/reports/daily", params={"street": ""}, headers=admin)
    assert empty.status_code == 404  # an empty code names no street: not a 500
    nul = httpx.get(f"{live_server.url}/reports/daily", params={"street": "3\x00"}, headers=admin)
    assert nul.status_code == 422 and "query.street" in nul.json()["detail"]
    both = httpx.get(
        f"{live_server.url}/reports/daily",
        params={"community": community["code"], "street": street["code"]},
        headers=admin,
    )
    assert both.status_code == 422
    bad_day = httpx.get(
        f"{live_server.url}/reports/daily",
        params={"community": community["code"], "date": "31/10"},
        headers=admin,
    )
    assert bad_day.status_code == 422


def test_unknown_hazards_are_404_problems(
    district: dict, live_server: LiveServer, admin: dict
) -> None:
    for path in ("/api/hazards/777777", "/api/hazards/777777/impact"):
        r = httpx.get(f"{live_server.url}{path}", headers=admin)
        assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)


def test_the_command_line_imports_a_typhoon_lists_check_ons_alerts_and_reports(
    district: dict, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    band = _typhoon_wgs84(engine)
    source = tmp_path / "typhoon.geojson"
    gpd.GeoDataFrame(
        {"name": ["台风海葵"], "kind": ["typhoon"]}, geometry=[band], crs=4326
    ).to_file(source)
    done = run_wangge(database_url, "hazard", "import", str(source), "--severity", "3")
    assert done.returncode == 0, done.stderr
    hazard_id = int(done.stdout.split()[-1])
    assert store.read_hazard(engine, hazard_id).name == "台风海葵"

    lists = tmp_path / "check_on.geojson"
    done = run_wangge(database_url, "hazard", "impact", str(hazard_id), "--out", str(lists))
    assert done.returncode == 0, done.stderr
    rows = gpd.read_file(lists)
    assert len(rows) > 0 and rows["grid_code"].nunique() >= 2
    assert not {"name", "phone", "id_number"} & set(rows.columns)

    done = run_wangge(database_url, "alert", "send", str(hazard_id), "--group", "vulnerable")
    assert done.returncode == 0, done.stderr
    alert_id = int(done.stdout.split()[-1])
    assert len(store.outbox(engine, alert_id=alert_id)) > 0
    # the trial: --by nobody queued the alert with created_by 'nobody'
    by = run_wangge(database_url, "alert", "send", str(hazard_id), "--by", "nobody_at_all")
    assert by.returncode != 0 and "no user is named 'nobody_at_all'" in by.stderr, by.stdout

    community = district["admin_area"].query("level == 'community'").iloc[0]["code"]
    report = tmp_path / "report.html"
    done = run_wangge(
        database_url,
        "report",
        "daily",
        "--community",
        community,
        "--date",
        "2026-10-31",
        "--out",
        str(report),
    )
    assert done.returncode == 0, done.stderr
    assert "每日态势报告" in report.read_text(encoding="utf-8")

    done = run_wangge(database_url, "hazard", "simulate", "--width-m", "300")
    assert done.returncode == 0, done.stderr
    simulated = store.read_hazard(engine, int(done.stdout.split()[-1]))
    assert simulated.kind == "typhoon"
    assert (
        len(grid_store.current_grids(engine).pipe(lambda g: g[g.intersects(simulated.geom)])) >= 2
    )

    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    done = run_wangge(database_url, "hazard", "import", str(empty), "--kind", "flood")
    assert done.returncode == 1
    assert "Nothing was stored" in done.stderr
