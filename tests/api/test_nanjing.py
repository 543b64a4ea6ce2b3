"""Real data: the Xinjiekou (Nanjing) OpenStreetMap extract as the road network.

The network is imported with ``wangge network import``, a shelter is registered at
江苏省中医院's corner of the map, and a resident's query is answered with a route and a
phone page.  Skipped, with the reason, when ../shared/data is absent.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text

import shapely

from gis.coords import wgs84_to_gcj02
from tests.browser import open_page
from tests.conftest import SHARED_DATA, LiveServer, empty_database, run_wangge

OSM = SHARED_DATA / "nanjing-xinjiekou" / "nanjing_xinjiekou.osm"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not OSM.exists(), reason=f"real data not found: {OSM}"),
]


@pytest.fixture(scope="module")
def nanjing(engine: Engine, database_url: str, live_server: LiveServer) -> LiveServer:
    empty_database(engine)
    run = run_wangge(database_url, "network", "import", str(OSM), timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "largest connected component" in run.stderr and "not used for routing" in run.stderr
    with engine.begin() as conn:
        # a shelter on a road node near the middle of the extract
        shelter = conn.execute(
            text("""
            INSERT INTO facility (kind, name, capacity, geom)
            SELECT 'shelter', '新街口广场应急避难场所', 3000, geom FROM road_node
            ORDER BY geom <-> ST_SetSRID(ST_MakePoint(118.7840, 32.0415), 4326) LIMIT 1
            RETURNING id""")
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO shelter (facility_id, shelter_class, area_m2) "
                "VALUES (:f, 'emergency', 3000)"
            ),
            {"f": shelter},
        )
    return live_server


def test_osm_network_is_stored_with_our_road_classes(nanjing: LiveServer, engine: Engine) -> None:
    with engine.connect() as conn:
        nodes = conn.execute(text("SELECT count(*) FROM road_node")).scalar_one()
        classes = dict(
            conn.execute(
                text("SELECT road_class, count(*) FROM road_edge GROUP BY road_class")
            ).all()
        )
    assert nodes > 300  # junctions and dead ends of the ~384 highway ways
    assert {"arterial", "branch", "footway"} <= set(classes)


def test_the_stored_network_keeps_homes_beside_the_tunnel_on_the_street(
    nanjing: LiveServer, engine: Engine
) -> None:
    from analysis.network import RoadNetwork
    from gis.store import queries

    with engine.connect() as conn:
        # the 水西门 trunk tunnel: stored below the ground, and not for walking
        tunnel = conn.execute(
            text(
                "SELECT count(*), bool_or(walkable), bool_and(drivable), max(z_level) "
                "FROM road_edge WHERE name = '水西门隧道'"
            )
        ).one()
        underpasses = conn.execute(
            text("SELECT count(*) FROM road_edge WHERE z_level < 0 AND walkable")
        ).scalar_one()
    assert tuple(tunnel) == (2, False, True, -1)
    assert underpasses > 20  # Xinjiekou's pedestrian underpasses
    network = RoadNetwork.from_frames(*queries.road_network_frames(engine))
    assert (network.z_level < 0).any()
    # a home 4 m from the tunnel, 11 m from 虎踞南路 on the ground
    snap = network.snap([118.76455], [32.03233])
    assert network.z_level[snap.edge[0]] == 0 and snap.offset_m[0] < 20


def test_a_resident_in_xinjiekou_gets_a_route(nanjing: LiveServer) -> None:
    lon, lat = 118.7800, 32.0380  # a few hundred metres south-west of the shelter
    glon, glat = wgs84_to_gcj02(lon, lat)
    r = httpx.get(
        f"{nanjing.url}/api/resident/nearest-shelter",
        params={"lon": glon, "lat": glat, "coord_type": "gcj02"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["found"] and body["shelter"]["name"] == "新街口广场应急避难场所"
    route = shapely.geometry.shape(body["route"])
    straight = shapely.Point(lon, lat).distance(
        shapely.Point(body["shelter"]["lon"], body["shelter"]["lat"])
    )
    assert route.length >= straight  # along the streets, never shorter than the crow flies
    assert 1 < body["minutes"] < 30


@pytest.mark.browser
def test_the_phone_page_renders_on_nanjing(nanjing: LiveServer, artifacts: Path) -> None:
    url = f"{nanjing.url}/resident/shelter?lon=118.7800&lat=32.0380"
    with open_page(url, screenshot=artifacts / "nanjing_shelter.png", viewport=(390, 844)) as (
        page,
        log,
    ):
        page.wait_for_selector("path.wangge-route")
        assert page.locator("path.wangge-route").count() == 1
        assert log.page_errors == []
