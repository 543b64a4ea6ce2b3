"""Residents: the nearest shelter on foot over HTTP (WGS84 or GCJ-02), and the phone page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, box, mapping, shape

from analysis.nearest import ShelterIndex
from analysis.network import RoadNetwork
from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.coords import local_metric_crs_for, wgs84_to_gcj02
from gis.store import queries
from tests.browser import open_page
from tests.conftest import LiveServer

NEAREST = "/api/resident/nearest-shelter"
TYPHOON = "台风海燕（测试）"


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


@pytest.fixture(scope="module")
def staff(district: dict, engine: Engine) -> dict:
    """The command centre, who may store hazard areas."""
    return {"Authorization": f"Bearer {issue_token(engine, 'res_admin', 'admin')}"}


@contextmanager
def _hazard(
    url: str, headers: dict, area: shapely.Geometry, engine: Engine, **params: str
) -> Iterator[dict]:
    """A typhoon stored over HTTP as the command centre would; removed when the block ends
    (other tests share the database)."""
    feature = {"type": "Feature", "properties": {"name": TYPHOON}, "geometry": mapping(area)}
    r = httpx.post(
        f"{url}/api/hazards",
        params={"kind": "typhoon", "severity": 3, **params},
        json=feature,
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 201, r.text
    try:
        yield r.json()
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM hazard_area WHERE id = :id"), {"id": r.json()["id"]})


def _square(centre: Point, half_m: float) -> shapely.Polygon:
    """A square of half-side ``half_m`` metres around a WGS84 point, in WGS84."""
    crs = local_metric_crs_for(centre)
    there = gpd.GeoSeries([centre], crs=4326).to_crs(crs).iloc[0]
    return gpd.GeoSeries([box(*there.buffer(half_m).bounds)], crs=crs).to_crs(4326).iloc[0]


def _metres(geom: shapely.Geometry) -> shapely.Geometry:
    t = Transformer.from_crs(4326, local_metric_crs_for(geom), always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(*xy.T)))


def _inside(layers: dict) -> tuple[float, float]:
    b = layers["building"].geometry.iloc[5].representative_point()
    return b.x, b.y


def test_nearest_shelter_with_route_and_no_personal_data(
    district: dict, live_server: LiveServer, engine: Engine
) -> None:
    lon, lat = _inside(district)
    r = httpx.get(
        f"{live_server.url}/api/resident/nearest-shelter", params={"lon": lon, "lat": lat}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["found"] and body["shelter"]["name"]
    assert set(body) == {
        "found",
        "message",
        "lon",
        "lat",
        "shelter",
        "distance_m",
        "minutes",
        "walk_to_road_m",
        "route",
        "hazards",
        "skipped_shelters",
        "in_hazard_area",
        "warning",
    }
    # no hazard in force: nothing skipped, no warning
    assert body["hazards"] == [] and body["skipped_shelters"] == []
    assert body["warning"] is None and body["in_hazard_area"] is False
    assert not {"phone", "id_number", "resident"} & set(str(body).split("'"))
    # the same answer as the analysis computed directly
    nodes, edges = queries.road_network_frames(engine)
    shelters = queries.shelters(engine)
    index = ShelterIndex.build(
        RoadNetwork.from_frames(nodes, edges),
        shelters["facility_id"].to_numpy(),
        shapely.get_x(np.asarray(shelters.geometry.array)),
        shapely.get_y(np.asarray(shelters.geometry.array)),
    )
    best = index.nearest(lon, lat)
    assert body["shelter"]["id"] == best.shelter_id
    assert abs(body["distance_m"] - best.distance_m) < 0.1
    assert abs(body["minutes"] - best.distance_m / 1.2 / 60) < 0.1
    route = shapely.geometry.shape(body["route"])
    start, end = shapely.Point(route.coords[0]), shapely.Point(route.coords[-1])
    assert start.distance(shapely.Point(lon, lat)) < 1e-6
    assert end.distance(shapely.Point(body["shelter"]["lon"], body["shelter"]["lat"])) < 1e-6


def test_gcj02_from_a_mini_program_gives_the_same_answer(
    district: dict, live_server: LiveServer
) -> None:
    lon, lat = _inside(district)
    glon, glat = wgs84_to_gcj02(lon, lat)
    url = f"{live_server.url}/api/resident/nearest-shelter"
    wgs = httpx.get(url, params={"lon": lon, "lat": lat}).json()
    gcj = httpx.get(url, params={"lon": glon, "lat": glat, "coord_type": "gcj02"}).json()
    assert gcj["shelter"]["id"] == wgs["shelter"]["id"]
    assert abs(gcj["distance_m"] - wgs["distance_m"]) < 0.01


@pytest.mark.parametrize(
    "params",
    [
        {"lon": 116.397, "lat": 39.909},  # Beijing: far from this district
        {"lon": 120.09, "lat": 30.32, "coord_type": "wgs"},
        {"lon": 120.09},
        {"lon": 999, "lat": 30.32},
    ],
)
def test_bad_or_far_points_get_a_clear_4xx(
    district: dict, live_server: LiveServer, params: dict
) -> None:
    r = httpx.get(f"{live_server.url}/api/resident/nearest-shelter", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    if "lat" in params and params["lon"] == 116.397:
        assert "outside the area served" in r.json()["detail"]


def test_no_open_shelter_is_a_clear_answer(
    district: dict, live_server: LiveServer, engine: Engine
) -> None:
    lon, lat = _inside(district)
    with engine.begin() as conn:
        conn.execute(text("UPDATE shelter SET is_open = false"))
    try:
        r = httpx.get(
            f"{live_server.url}/api/resident/nearest-shelter", params={"lon": lon, "lat": lat}
        )
        assert r.status_code == 200
        assert r.json()["found"] is False and "no open shelter" in r.json()["message"], r.json()
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE shelter SET is_open = true"))


def test_a_typhoon_over_the_nearest_shelter_sends_the_resident_to_a_safe_one(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    lon, lat = _inside(district)
    url = f"{live_server.url}{NEAREST}"
    before = httpx.get(url, params={"lon": lon, "lat": lat}).json()
    nearest = Point(before["shelter"]["lon"], before["shelter"]["lat"])
    # a typhoon over that shelter, short of the resident
    half = min(100.0, _metres(LineString([(lon, lat), nearest.coords[0]])).length / 2)
    area = _square(nearest, half)
    assert area.covers(nearest) and not area.intersects(Point(lon, lat))
    with _hazard(live_server.url, staff, area, engine) as hazard:
        r = httpx.get(url, params={"lon": lon, "lat": lat})
        assert r.status_code == 200
        body = r.json()
        assert body["found"], body
        safe = Point(body["shelter"]["lon"], body["shelter"]["lat"])
        assert body["shelter"]["id"] != before["shelter"]["id"] and not area.intersects(safe)
        route = shape(body["route"])
        assert not route.intersects(area)  # around the typhoon, not through it
        assert Point(route.coords[0]).distance(Point(lon, lat)) < 1e-6
        assert Point(route.coords[-1]).distance(safe) < 1e-6
        assert body["distance_m"] >= before["distance_m"]
        assert _metres(route).length == pytest.approx(body["distance_m"], rel=5e-3)
        # the answer names the hazard and the shelter it skipped
        assert body["hazards"] == [
            {
                "id": hazard["id"],
                "kind": "typhoon",
                "kind_name": "台风",
                "name": TYPHOON,
                "severity": 3,
            }
        ]
        assert before["shelter"]["id"] in {s["id"] for s in body["skipped_shelters"]}
        assert body["in_hazard_area"] is False
        assert body["warning"].startswith(f"台风预警生效中：{TYPHOON}，已避开危险区域内的避难场所")
        assert before["shelter"]["name"] in body["warning"]
        assert "安全避难场所" in body["message"]
        # the phone page says it too (the served HTML; the browser test draws it)
        page = httpx.get(
            f"{live_server.url}/resident/shelter", params={"lon": lon, "lat": lat}, timeout=60
        )
        assert page.status_code == 200 and f"台风预警生效中：{TYPHOON}" in page.text
    # the typhoon removed: the first answer again, with no warning
    after = httpx.get(url, params={"lon": lon, "lat": lat}).json()
    assert after["shelter"]["id"] == before["shelter"]["id"] and after["warning"] is None


def test_a_resident_inside_the_typhoon_is_routed_out_of_it(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    lon, lat = _inside(district)
    area = _square(Point(lon, lat), 150.0)
    with _hazard(live_server.url, staff, area, engine):
        body = httpx.get(f"{live_server.url}{NEAREST}", params={"lon": lon, "lat": lat}).json()
    assert body["found"] and body["in_hazard_area"] is True, body
    assert "您正位于危险区域内" in body["warning"]
    safe = Point(body["shelter"]["lon"], body["shelter"]["lat"])
    assert not area.intersects(safe)
    # the straight walk to the nearest open road is the way out; then it stays outside
    coords = shape(body["route"]).coords
    assert Point(coords[0]).distance(Point(lon, lat)) < 1e-6
    assert not LineString(coords[1:]).intersects(area.buffer(-1e-6))


def test_a_hazard_posted_counts_in_the_very_next_answer(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    """A burst of residents' questions is answered from the index the server holds; a
    typhoon posted in the middle of it is in the very next answer, not a second later."""
    lon, lat = _inside(district)
    with httpx.Client(base_url=live_server.url, timeout=60) as phone:
        burst = [phone.get(NEAREST, params={"lon": lon, "lat": lat}).json() for _ in range(5)]
        before = burst[-1]
        assert all(b == before for b in burst) and before["found"]
        area = _square(Point(before["shelter"]["lon"], before["shelter"]["lat"]), 60.0)
        with _hazard(live_server.url, staff, area, engine) as hazard:
            during = phone.get(NEAREST, params={"lon": lon, "lat": lat}).json()
        after = phone.get(NEAREST, params={"lon": lon, "lat": lat}).json()
    assert [h["id"] for h in during["hazards"]] == [hazard["id"]]
    assert during["shelter"]["id"] != before["shelter"]["id"]
    assert before["shelter"]["id"] in {s["id"] for s in during["skipped_shelters"]}
    assert after == before  # the typhoon removed (by this process): the next answer again


def test_only_a_hazard_in_force_counts_as_the_clock_runs(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict
) -> None:
    lon, lat = _inside(district)
    url = f"{live_server.url}{NEAREST}"
    before = httpx.get(url, params={"lon": lon, "lat": lat}).json()
    area = _square(Point(before["shelter"]["lon"], before["shelter"]["lat"]), 60.0)
    now = clock.now()
    params = {
        "valid_from": (now + timedelta(hours=6)).isoformat(),
        "valid_to": (now + timedelta(hours=12)).isoformat(),
    }
    with _hazard(live_server.url, staff, area, engine, **params):
        assert httpx.get(url, params={"lon": lon, "lat": lat}).json() == before  # not yet
        with clock.frozen(now + timedelta(hours=7)):  # the server's clock too (same process)
            during = httpx.get(url, params={"lon": lon, "lat": lat}).json()
        with clock.frozen(now + timedelta(hours=13)):
            after = httpx.get(url, params={"lon": lon, "lat": lat}).json()
    assert during["shelter"]["id"] != before["shelter"]["id"] and len(during["hazards"]) == 1
    assert after == before  # over: no table changed, the clock did


@pytest.mark.browser
def test_phone_page_warns_of_the_typhoon_it_avoids(
    district: dict, live_server: LiveServer, engine: Engine, staff: dict, artifacts
) -> None:
    lon, lat = _inside(district)
    before = httpx.get(f"{live_server.url}{NEAREST}", params={"lon": lon, "lat": lat}).json()
    area = _square(Point(before["shelter"]["lon"], before["shelter"]["lat"]), 60.0)
    url = f"{live_server.url}/resident/shelter?lon={lon}&lat={lat}"
    with (
        _hazard(live_server.url, staff, area, engine),
        open_page(
            url, screenshot=artifacts / "resident_shelter_typhoon.png", viewport=(390, 844)
        ) as (page, log),
    ):
        page.wait_for_selector("path.wangge-route")
        page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
        warning = page.locator(".wangge-hazard-warning")
        assert warning.is_visible()
        assert warning.inner_text().startswith(f"台风预警生效中：{TYPHOON}")
        assert "已避开危险区域内的避难场所" in warning.inner_text()
        assert page.locator("path.wangge-hazard").count() == 1
        title = page.locator(".wangge-title-main").inner_text()
        assert title.startswith("最近安全避难场所：")
        assert title != f"最近安全避难场所：{before['shelter']['name']}"
        assert log.page_errors == [] and log.local_failures() == []


@pytest.mark.browser
def test_phone_page_shows_you_the_route_and_the_shelter(
    district: dict, live_server: LiveServer, artifacts
) -> None:
    lon, lat = _inside(district)
    url = f"{live_server.url}/resident/shelter?lon={lon}&lat={lat}"
    with open_page(url, screenshot=artifacts / "resident_shelter.png", viewport=(390, 844)) as (
        page,
        log,
    ):
        page.wait_for_selector("path.wangge-route")
        assert page.locator("path.wangge-route").count() == 1
        assert page.locator("path.wangge-shelter").count() == 1
        assert "最近避难场所" in page.locator(".wangge-title").inner_text()
        assert page.locator(".wangge-hazard-warning").count() == 0
        assert log.page_errors == [] and log.local_failures() == []


def test_service_areas_of_a_clinic_nest_and_follow_the_streets(
    district: dict, live_server: LiveServer
) -> None:
    clinic = district["facility"][district["facility"]["kind"] == "clinic"].iloc[0]
    r = httpx.get(f"{live_server.url}/api/facilities/{int(clinic['id'])}/service-area")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    areas = {
        f["properties"]["minutes"]: shapely.geometry.shape(f["geometry"])
        for f in r.json()["features"]
    }
    assert sorted(areas) == [5, 10, 15]
    assert areas[10].buffer(1e-7).covers(areas[5])
    assert areas[15].buffer(1e-7).covers(areas[10])
    assert areas[5].area < areas[10].area < areas[15].area
    assert areas[5].covers(shapely.Point(clinic.geometry.x, clinic.geometry.y))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/facilities/999999/service-area", 404),
        ("/api/facilities/1/service-area?minutes=0", 422),
        ("/api/facilities/abc/service-area", 422),
    ],
)
def test_service_area_bad_input(
    district: dict, live_server: LiveServer, path: str, status: int
) -> None:
    r = httpx.get(f"{live_server.url}{path}")
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
