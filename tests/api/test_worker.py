"""The grid worker's tablet API over real HTTP: my grids, households (masked unless a task
needs them), tasks with walking distances, the route, check-in, and the offline GeoPackage;
and the forbidden paths tried from the outside."""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import pyogrio
import shapely

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.coords import from_wgs84, local_metric_crs
from gis.settings import get_settings
from tests.conftest import LiveServer

SEED = 17


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (a yardstick independent of the code under test)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, SEED, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


@pytest.fixture(scope="module")
def world(engine: Engine, live_server: LiveServer, district: dict) -> dict:
    """Worker A (primary of the first grid), worker B of another community, their tokens,
    and a fresh task of A's at a building of A's grid, dispatched by A's community staff."""
    with engine.connect() as conn:
        a = conn.execute(
            text(
                "SELECT g.id, g.code, g.community_id, w.id AS worker, u.username "
                "FROM grid g JOIN grid_assignment ga ON ga.grid_id = g.id AND ga.role = 'primary' "
                "JOIN grid_worker w ON w.id = ga.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            )
        ).one()
        mine = conn.execute(
            text(
                "SELECT g.code FROM grid_assignment ga JOIN grid g ON g.id = ga.grid_id "
                "WHERE ga.worker_id = :w AND g.valid_to IS NULL"
            ),
            {"w": a.worker},
        ).scalars()
        mine = set(mine)
        b = conn.execute(
            text(
                "SELECT g.id, g.code, w.id AS worker, u.username FROM grid g "
                "JOIN grid_assignment ga ON ga.grid_id = g.id AND ga.role = 'primary' "
                "JOIN grid_worker w ON w.id = ga.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL AND g.community_id <> :c ORDER BY g.code LIMIT 1"
            ),
            {"c": a.community_id},
        ).one()
        community = conn.execute(
            text("SELECT code FROM admin_area WHERE id = :c"), {"c": a.community_id}
        ).scalar_one()
        # a residential building of A's grid with residents who have names on file
        building = conn.execute(
            text(
                "SELECT b.id, ST_X(ST_PointOnSurface(b.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(b.geom)) AS lat FROM building b "
                "WHERE b.grid_id = :g AND EXISTS (SELECT 1 FROM household h JOIN resident r "
                "ON r.household_id = h.id JOIN resident_identity ri ON ri.resident_id = r.id "
                "WHERE h.building_id = b.id) ORDER BY b.id LIMIT 1"
            ),
            {"g": a.id},
        ).one()
    tokens = {
        "a": bearer(issue_token(engine, a.username, "grid_worker")),
        "b": bearer(issue_token(engine, b.username, "grid_worker")),
        "resident": bearer(issue_token(engine, "resident00003", "resident")),
        "staff": bearer(issue_token(engine, "staff_worker_test", "community_staff", community)),
        "admin": bearer(issue_token(engine, "admin_worker_test", "admin")),
    }
    url = live_server.url

    def new_task(lon: float, lat: float, worker: int, staff: dict) -> int:
        r = httpx.post(
            f"{url}/api/incidents",
            json={
                "category_code": "10101",
                "description": "楼前井盖缺失，需现场查看",
                "lon": lon,
                "lat": lat,
            },
            headers=tokens["resident"],
        )
        assert r.status_code == 201, r.text
        case = r.json()["id"]
        for body in ({"action": "register"}, {"action": "dispatch", "assignee_id": worker}):
            r = httpx.post(f"{url}/api/incidents/{case}/actions", json=body, headers=staff)
            assert r.status_code == 200, r.text
        return case

    task = new_task(building.lon, building.lat, a.worker, tokens["staff"])
    with engine.connect() as conn:
        b_point = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grid "
                "WHERE id = :g) s"
            ),
            {"g": b.id},
        ).one()
    b_task = new_task(float(b_point[0]), float(b_point[1]), b.worker, tokens["admin"])
    return {
        "url": url,
        "tokens": tokens,
        "grid": a.code,
        "grid_id": a.id,
        "my_grids": mine,
        "worker": a.worker,
        "username": a.username,
        "other_grid": b.code,
        "other_worker": b.worker,
        "building": building.id,
        "task": task,
        "task_point": (float(building.lon), float(building.lat)),
        "other_task": b_task,
        "new_task": new_task,
    }


def test_worker_sees_exactly_their_current_grids(world: dict) -> None:
    r = httpx.get(f"{world['url']}/api/worker/grids", headers=world["tokens"]["a"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    features = r.json()["features"]
    codes = {f["properties"]["code"] for f in features}
    assert codes == world["my_grids"]
    assert world["other_grid"] not in codes
    first = features[0]["properties"]
    assert first["assignment_role"] == "primary" and first["households"] > 0
    # RFC 7946: lon/lat, and the polygon holds its advertised centre
    poly = shapely.geometry.shape(features[0]["geometry"])
    assert poly.contains(shapely.Point(first["centre_lon"], first["centre_lat"]))


def test_another_workers_grid_and_a_residents_token_are_refused(world: dict) -> None:
    url, t = world["url"], world["tokens"]
    r = httpx.get(
        f"{url}/api/worker/households", params={"grid": world["other_grid"]}, headers=t["a"]
    )
    assert r.status_code == 404
    assert "households" not in r.text and r.headers["content-type"] == "application/problem+json"
    r = httpx.get(
        f"{url}/api/worker/buildings", params={"grid": world["other_grid"]}, headers=t["a"]
    )
    assert r.status_code == 404
    for path, params in (
        ("/api/worker/grids", {}),
        ("/api/worker/households", {"grid": world["grid"]}),
        ("/api/worker/tasks", {}),
        ("/api/worker/route", {"task": world["task"]}),
        ("/api/worker/package", {}),
    ):
        r = httpx.get(f"{url}{path}", params=params, headers=t["resident"])
        assert r.status_code == 403, (path, r.text)
        assert "features" not in r.text and "households" not in r.text
        assert httpx.get(f"{url}{path}", params=params).status_code == 401
    r = httpx.post(
        f"{url}/api/worker/tasks/{world['task']}/checkin",
        json={"lon": world["task_point"][0], "lat": world["task_point"][1]},
        headers=t["resident"],
    )
    assert r.status_code == 403


def test_another_workers_task_is_not_found(world: dict) -> None:
    url, t = world["url"], world["tokens"]
    r = httpx.get(f"{url}/api/worker/route", params={"task": world["other_task"]}, headers=t["a"])
    assert r.status_code == 404
    r = httpx.post(
        f"{url}/api/worker/tasks/{world['other_task']}/checkin",
        json={"lon": world["task_point"][0], "lat": world["task_point"][1]},
        headers=t["a"],
    )
    assert r.status_code == 404
    tasks = httpx.get(f"{url}/api/worker/tasks", headers=t["a"]).json()["tasks"]
    assert world["other_task"] not in {x["id"] for x in tasks}
    # a task id that does not exist at all answers the same
    r = httpx.get(f"{url}/api/worker/route", params={"task": 10**9}, headers=t["a"])
    assert r.status_code == 404


def test_names_are_masked_except_in_the_building_of_an_open_task(
    world: dict, engine: Engine
) -> None:
    url, t = world["url"], world["tokens"]
    audit_sql = text(
        "SELECT object_id FROM audit_log WHERE username = :u AND action = 'read_identity'"
    )
    with engine.connect() as conn:
        audited_before = len(conn.execute(audit_sql, {"u": world["username"]}).all())
    r = httpx.get(f"{url}/api/worker/households", params={"grid": world["grid"]}, headers=t["a"])
    assert r.status_code == 200, r.text
    households = r.json()["households"]
    with engine.connect() as conn:
        real = dict(
            conn.execute(
                text(
                    "SELECT r.id, ri.name FROM resident r "
                    "JOIN household h ON h.id = r.household_id "
                    "JOIN resident_identity ri ON ri.resident_id = r.id WHERE h.grid_id = :g"
                ),
                {"g": world["grid_id"]},
            ).all()
        )
        near = set(
            conn.execute(
                text(
                    "SELECT DISTINCT b.id FROM building b JOIN incident i ON ST_DWithin("
                    "b.geom::geography, i.geom::geography, :r) WHERE i.assignee_id = :w AND "
                    "i.state IN ('dispatched', 'in_progress', 'returned', 'escalated')"
                ),
                {"r": get_settings().task_identity_radius_m, "w": world["worker"]},
            ).scalars()
        )
    assert world["building"] in near
    assert len(households) > 0
    shown = masked = 0
    for h in households:
        for person in h["residents"]:
            name = real.get(person["id"])
            if name is None:
                continue
            assert "*" in (person["id_number"] or "*")  # ID numbers always masked
            if h["building_id"] in near:
                assert not h["identity_masked"] and person["name"] == name
                shown += 1
            else:
                assert h["identity_masked"] and person["name"] != name
                assert person["name"][0] == name[0] and "*" in person["name"]
                if person["phone"]:
                    assert "****" in person["phone"]
                masked += 1
    assert shown > 0 and masked > 0
    # vulnerable households come first and carry their flags in Chinese
    flags = [bool(h["vulnerable"]) for h in households]
    assert flags == sorted(flags, reverse=True) and any(flags)
    assert {"独居老人", "残疾", "行动不便", "低收入"} >= {
        n for h in households for n in h["vulnerable_names"]
    }
    # the unmasked read was written to the audit log, naming the building
    with engine.connect() as conn:
        rows = conn.execute(audit_sql, {"u": world["username"]}).scalars().all()
    assert len(rows) - audited_before == len(near & {h["building_id"] for h in households})
    assert str(world["building"]) in rows
    only = httpx.get(
        f"{url}/api/worker/households",
        params={"grid": world["grid"], "only_vulnerable": True},
        headers=t["a"],
    ).json()["households"]
    assert 0 < len(only) < len(households) and all(h["vulnerable"] for h in only)


def test_tasks_are_mine_sorted_by_deadline_with_network_distances(world: dict) -> None:
    url, t = world["url"], world["tokens"]
    r = httpx.get(f"{url}/api/worker/tasks", headers=t["a"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"]["kind"] == "grid_centre"
    tasks = body["tasks"]
    assert world["task"] in {x["id"] for x in tasks}
    keys = [(x["deadline"] is None, x["deadline"] or "", x["priority"]) for x in tasks]
    assert keys == sorted(keys)
    centre = (body["from"]["lon"], body["from"]["lat"])
    for x in tasks:
        assert x["state"] in ("dispatched", "in_progress", "returned", "escalated")
        assert x["walk_distance_m"] is not None
        # on foot is never shorter than as the crow flies
        assert x["walk_distance_m"] >= metres(centre, (x["lon"], x["lat"])) - 1.0
        speed = get_settings().walk_speed_mps
        assert x["walk_minutes"] == pytest.approx(x["walk_distance_m"] / speed / 60, abs=0.1)
    mine = next(x for x in tasks if x["id"] == world["task"])
    assert mine["category_name"] == "井盖破损缺失" and mine["actions"] == ["start"]

    # from my position, given in GCJ-02 as a phone map app sends it: the same answer
    lon, lat = world["task_point"][0] + 0.002, world["task_point"][1] + 0.001
    wgs = httpx.get(f"{url}/api/worker/tasks", params={"lon": lon, "lat": lat}, headers=t["a"])
    g_lon, g_lat = from_wgs84(lon, lat, "gcj02")
    gcj = httpx.get(
        f"{url}/api/worker/tasks",
        params={"lon": g_lon, "lat": g_lat, "coord_type": "gcj02"},
        headers=t["a"],
    )
    assert wgs.json()["from"]["kind"] == "position"
    d_wgs = {x["id"]: x["walk_distance_m"] for x in wgs.json()["tasks"]}
    d_gcj = {x["id"]: x["walk_distance_m"] for x in gcj.json()["tasks"]}
    assert d_wgs.keys() == d_gcj.keys()
    assert all(abs(d_wgs[k] - d_gcj[k]) < 1.0 for k in d_wgs)
    assert d_wgs[world["task"]] >= metres((lon, lat), world["task_point"])


def test_bad_positions_get_clear_errors(world: dict) -> None:
    url, t = world["url"], world["tokens"]
    r = httpx.get(f"{url}/api/worker/tasks", params={"lon": 120.1}, headers=t["a"])
    assert r.status_code == 422 and "lat" in r.json()["detail"]
    r = httpx.get(f"{url}/api/worker/tasks", params={"lon": 100.0, "lat": 40.0}, headers=t["a"])
    assert r.status_code == 422 and "coord_type" in r.json()["detail"]
    r = httpx.get(
        f"{url}/api/worker/tasks",
        params={"lon": 120.1, "lat": 30.2, "coord_type": "mars"},
        headers=t["a"],
    )
    assert r.status_code == 422 and "mars" in r.json()["detail"]
    r = httpx.get(f"{url}/api/worker/households", params={"grid": "12ab"}, headers=t["a"])
    assert r.status_code == 422


def test_route_to_a_task_is_a_walk_over_the_streets(world: dict) -> None:
    url, t = world["url"], world["tokens"]
    lon, lat = world["task_point"][0] + 0.003, world["task_point"][1] - 0.002
    r = httpx.get(
        f"{url}/api/worker/route",
        params={"task": world["task"], "lon": lon, "lat": lat},
        headers=t["a"],
    )
    assert r.status_code == 200, r.text
    feature = r.json()
    assert feature["geometry"]["type"] == "LineString"
    coords = feature["geometry"]["coordinates"]
    assert metres(tuple(coords[0]), (lon, lat)) < 1.0
    assert metres(tuple(coords[-1]), world["task_point"]) < 1.0
    line = gpd.GeoSeries([shapely.geometry.shape(feature["geometry"])], crs=4326)
    length = float(line.to_crs(local_metric_crs(lon, lat)).length.iloc[0])
    distance = feature["properties"]["distance_m"]
    assert length == pytest.approx(distance, rel=0.02)
    assert distance > metres((lon, lat), world["task_point"])
    listed = httpx.get(
        f"{url}/api/worker/tasks", params={"lon": lon, "lat": lat}, headers=t["a"]
    ).json()["tasks"]
    same = next(x for x in listed if x["id"] == world["task"])
    assert same["walk_distance_m"] == pytest.approx(distance, abs=0.5)


def test_check_in_is_accepted_within_the_tolerance_and_stored_either_way(
    world: dict, engine: Engine
) -> None:
    url, t, task = world["url"], world["tokens"], world["task"]
    lon, lat = world["task_point"]
    tolerance = get_settings().checkin_tolerance_m
    far = httpx.post(
        f"{url}/api/worker/tasks/{task}/checkin",
        json={"lon": lon, "lat": lat + 0.0015},  # about 167 m north
        headers=t["a"],
    )
    assert far.status_code == 200, far.text
    assert far.json()["accepted"] is False
    assert far.json()["distance_m"] == pytest.approx(metres((lon, lat), (lon, lat + 0.0015)), abs=2)
    assert far.json()["distance_m"] > tolerance and "未通过" in far.json()["message"]
    g_lon, g_lat = from_wgs84(lon, lat, "gcj02")
    near = httpx.post(
        f"{url}/api/worker/tasks/{task}/checkin",
        json={"lon": g_lon, "lat": g_lat, "coord_type": "gcj02"},
        headers=t["a"],
    )
    assert near.status_code == 200, near.text
    assert near.json()["accepted"] is True and near.json()["distance_m"] < 1.0
    assert near.json()["tolerance_m"] == tolerance and "签到成功" in near.json()["message"]
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT accepted, worker_id, round(distance_m::numeric, 1) FROM incident_checkin "
                "WHERE incident_id = :i ORDER BY id"
            ),
            {"i": task},
        ).all()
    assert [(s[0], s[1]) for s in stored] == [(False, world["worker"]), (True, world["worker"])]
    # a task fed back (反馈) is no longer open: no check-in there
    done = world["new_task"](lon, lat, world["worker"], t["staff"])
    for action in ("start", "resolve"):  # a worker's 反馈 always carries a note
        r = httpx.post(
            f"{url}/api/incidents/{done}/actions",
            json={"action": action, "note": "已处理"},
            headers=t["a"],
        )
        assert r.status_code == 200, r.text
    late = httpx.post(
        f"{url}/api/worker/tasks/{done}/checkin", json={"lon": lon, "lat": lat}, headers=t["a"]
    )
    assert late.status_code == 409 and "resolved" in late.json()["detail"]
    assert done not in {
        x["id"] for x in httpx.get(f"{url}/api/worker/tasks", headers=t["a"]).json()["tasks"]
    }
    bad = httpx.post(
        f"{url}/api/worker/tasks/{task}/checkin",
        json={"lon": lon, "lat": lat, "coord_type": "baidu-ish"},
        headers=t["a"],
    )
    assert bad.status_code == 422 and "baidu-ish" in bad.json()["detail"]


def test_the_offline_package_opens_and_holds_only_my_grids(
    world: dict, engine: Engine, tmp_path: Path
) -> None:
    url, t = world["url"], world["tokens"]
    r = httpx.get(f"{url}/api/worker/package", headers=t["a"], timeout=120)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geopackage+sqlite3"
    assert ".gpkg" in r.headers["content-disposition"]
    path = tmp_path / "mine.gpkg"
    path.write_bytes(r.content)
    layers = {str(name): str(kind) for name, kind in pyogrio.list_layers(path)}
    assert layers == {
        "grids": "MultiPolygon",
        "buildings": "MultiPolygon",
        "households": "Point",
        "tasks": "Point",
        "roads": "LineString",
        "shelters": "Point",
    }
    read = {name: gpd.read_file(path, layer=name) for name in layers}
    for name, frame in read.items():
        assert frame.crs is not None and frame.crs.to_epsg() == 4326, name
    assert set(read["grids"]["code"]) == world["my_grids"]
    with engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM building b JOIN grid g ON g.id = b.grid_id "
                "WHERE g.code = ANY(:c) AND g.valid_to IS NULL), "
                "(SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id "
                "WHERE g.code = ANY(:c) AND g.valid_to IS NULL)"
            ),
            {"c": sorted(world["my_grids"])},
        ).one()
        names = set(
            conn.execute(
                text(
                    "SELECT ri.name FROM resident_identity ri JOIN resident r ON r.id = "
                    "ri.resident_id JOIN household h ON h.id = r.household_id "
                    "WHERE h.building_id = :b"
                ),
                {"b": world["building"]},
            ).scalars()
        )
    assert len(read["buildings"]) == counts[0]
    assert set(read["buildings"]["grid_code"]) <= world["my_grids"]
    assert len(read["households"]) == counts[1]
    # households are masked in the offline copy, even at the building of an open task
    members = " ".join(read["households"]["members"].fillna(""))
    assert "*" in members and not any(n in members for n in names if len(n) > 1)
    assert world["task"] in set(read["tasks"]["id"]) and world["other_task"] not in set(
        read["tasks"]["id"]
    )
    grids = read["grids"].union_all()
    assert grids.contains(read["buildings"].representative_point()).all()
    west, south, east, north = grids.bounds
    assert (
        len(read["roads"]) > 0
        and read["roads"].intersects(shapely.box(west, south, east, north)).all()
    )
    assert len(read["shelters"]) > 0
