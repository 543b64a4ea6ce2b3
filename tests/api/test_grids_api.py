"""Grids over HTTP: which grid a point is in (from GCJ-02 too), and the grids as GeoJSON."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import Engine

import h3

from api.state import LOOKUP_TRUST_S
from etl.load import load_layers
from gis.coords import wgs84_to_gcj02
from tests.conftest import LiveServer, empty_database
from tests.factories import MID, E, N, S, W, tiny_district


@pytest.fixture(scope="module")
def served(engine: Engine, live_server: LiveServer) -> LiveServer:
    empty_database(engine)
    load_layers(engine, tiny_district(), progress=False)
    # a lookup may answer from the grids it checked up to LOOKUP_TRUST_S ago (by design):
    # the shared server may have located a point in another module's district just now
    time.sleep(LOOKUP_TRUST_S + 0.1)
    return live_server


def test_a_point_in_the_east_half_is_in_grid_2(served: LiveServer) -> None:
    lon, lat = MID + 0.002, (S + N) / 2
    r = httpx.get(f"{served.url}/api/grids/locate", params={"lon": lon, "lat": lat})
    assert r.status_code == 200
    body = r.json()
    assert body["in_grid"] and body["grid"]["code"] == "330106109001002"
    assert body["h3_cell"] == h3.latlng_to_cell(lat, lon, 10)


def test_gcj02_input_is_converted_before_locating(served: LiveServer) -> None:
    # just west of the shared edge in WGS84: GCJ-02 moves it ~500 m east, into grid 2
    lon, lat = MID - 0.0005, (S + N) / 2
    glon, glat = wgs84_to_gcj02(lon, lat)
    r = httpx.get(
        f"{served.url}/api/grids/locate", params={"lon": glon, "lat": glat, "coord_type": "gcj02"}
    ).json()
    assert r["grid"]["code"] == "330106109001001"
    assert abs(r["lon"] - lon) < 1e-9


def test_a_point_on_the_shared_edge_goes_to_the_smaller_code(served: LiveServer) -> None:
    r = httpx.get(f"{served.url}/api/grids/locate", params={"lon": MID, "lat": S + 0.003})
    assert r.json()["grid"]["code"] == "330106109001001"


def test_a_point_outside_every_grid_says_so(served: LiveServer) -> None:
    r = httpx.get(f"{served.url}/api/grids/locate", params={"lon": E + 0.01, "lat": N})
    assert r.status_code == 200
    assert r.json()["in_grid"] is False and r.json()["grid"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"lon": 200, "lat": 30},
        {"lon": "east", "lat": 30},
        {"lat": 30},
        {"lon": W, "lat": S, "coord_type": "mars"},
    ],
)
def test_bad_input_is_a_clear_4xx(served: LiveServer, params: dict) -> None:
    r = httpx.get(f"{served.url}/api/grids/locate", params=params)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"]


def test_grids_as_geojson(served: LiveServer) -> None:
    r = httpx.get(f"{served.url}/api/grids", params={"community": "330106109001"})
    assert r.status_code == 200
    features = r.json()["features"]
    assert [f["properties"]["code"] for f in features] == ["330106109001001", "330106109001002"]
    assert [f["properties"]["households"] for f in features] == [2, 1]
    lon, lat = features[0]["geometry"]["coordinates"][0][0][0]
    assert 120 < lon < 121 and 30 < lat < 31  # lon, lat order
    bad = httpx.get(f"{served.url}/api/grids", params={"community": "33"})
    assert bad.status_code == 422
