"""Residents: the nearest shelter on foot over HTTP (WGS84 or GCJ-02), and the phone page."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from sqlalchemy import Engine, text

import shapely

from analysis.nearest import ShelterIndex
from analysis.network import RoadNetwork
from etl.load import load_layers
from etl.sample import generate_district
from gis import queries
from gis.coords import wgs84_to_gcj02
from tests.browser import open_page
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


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
    }
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
