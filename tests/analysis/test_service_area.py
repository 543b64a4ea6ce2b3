"""Walking service areas: reached streets buffered, never across a river without a bridge."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely
from pyproj import Transformer

from analysis.network import NetworkError, RoadNetwork
from analysis.service_area import (
    node_walk_seconds,
    point_walk_seconds,
    reached_lines,
    service_areas,
)
from etl.sample import generate_district

UTM = "EPSG:32651"
X0, Y0 = 250_000.0, 3_358_000.0  # near 120.4 E, 30.3 N: inside UTM zone 51N
_TO_LL = Transformer.from_crs(UTM, 4326, always_xy=True)


def ll(x: float, y: float) -> tuple[float, float]:
    lon, lat = _TO_LL.transform(X0 + x, Y0 + y)
    return float(lon), float(lat)


def frames(
    nodes: dict[int, tuple[float, float]], edges: list[tuple[int, int, int]]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Road frames from local metres (x east, y north of an origin in UTM 51N)."""
    node_df = gpd.GeoDataFrame(
        {"id": list(nodes)},
        geometry=[shapely.Point(X0 + x, Y0 + y) for x, y in nodes.values()],
        crs=UTM,
    )
    lines = [
        shapely.LineString(
            [(X0 + nodes[s][0], Y0 + nodes[s][1]), (X0 + nodes[t][0], Y0 + nodes[t][1])]
        )
        for _, s, t in edges
    ]
    edge_df = gpd.GeoDataFrame(
        {
            "id": [e for e, _, _ in edges],
            "source": [s for _, s, _ in edges],
            "target": [t for _, _, t in edges],
            "length_m": [ln.length for ln in lines],
        },
        geometry=lines,
        crs=UTM,
    )
    return node_df.to_crs(4326), edge_df.to_crs(4326)


def river_network() -> RoadNetwork:
    """Two streets 50 m apart across a canal, y = 0 and y = 50, x = 0..1000; one bridge at x = 1000.

    Node ids: south street 0..10 (x = 100 i), north street 100..110; edge ids: south 1..10,
    north 101..110, the bridge 999.
    """
    nodes = {i: (100.0 * i, 0.0) for i in range(11)}
    nodes |= {100 + i: (100.0 * i, 50.0) for i in range(11)}
    edges = [(i + 1, i, i + 1) for i in range(10)]
    edges += [(101 + i, 100 + i, 101 + i) for i in range(10)]
    edges.append((999, 10, 110))
    return RoadNetwork.from_frames(*frames(nodes, edges), walk_speed_mps=1.2)


@pytest.fixture(scope="module")
def river() -> RoadNetwork:
    return river_network()


def test_no_area_across_the_river(river: RoadNetwork) -> None:
    # the facility 10 m north of the south street; the point 30 m further, 10 m off the north
    lon, lat = ll(500, 10)
    areas = service_areas(river, [lon], [lat], buffer_m=15.0)
    assert areas["minutes"].tolist() == [5.0, 10.0, 15.0]
    across = shapely.Point(ll(500, 40))
    assert shapely.Point(lon, lat).distance(across) > 0
    five, ten, fifteen = areas.geometry
    assert not five.covers(across)
    assert not ten.covers(across)
    # 15 min = 1080 m >= 10 + 500 + 50 (bridge) + 500: reached the long way round
    assert fifteen.covers(across)
    # the near bank is served
    assert five.covers(shapely.Point(ll(600, -5)))


def test_areas_nest_and_are_measured(river: RoadNetwork) -> None:
    lon, lat = ll(200, 0)
    areas = service_areas(river, [lon], [lat], minutes=[15, 5, 10], buffer_m=20.0)
    assert areas["minutes"].tolist() == [5.0, 10.0, 15.0]
    g = list(areas.to_crs(river.crs).geometry)
    for small, big in itertools.pairwise(g):
        assert small.difference(big).area < 1e-6  # m²: nothing
    a = areas["area_m2"].to_numpy()
    assert np.all(np.diff(a) > 0)
    # 5 min from x = 200 reaches x in [0, 560]: a 560 m street, 40 m wide, two round ends
    expected = 560 * 40 + np.pi * 20**2
    assert a[0] == pytest.approx(expected, rel=0.005)
    assert areas.crs.to_epsg() == 4326


def test_partial_edge_is_cut_at_the_right_distance(river: RoadNetwork) -> None:
    lon, lat = ll(0, 0)  # exactly on node 0
    seconds, snap = node_walk_seconds(river, [lon], [lat], limit_s=600)
    assert np.isinf(seconds).sum() > 0  # the limit stops the search
    lines = reached_lines(river, seconds, snap, 300.0)  # 300 s = 360 m
    xy = np.concatenate([shapely.get_coordinates(line) for line in lines]) - [X0, Y0]
    lines_x = xy[:, 0]
    assert lines_x.max() == pytest.approx(360.0, abs=1.0)
    assert np.all(np.abs(xy[:, 1]) < 1e-6)  # nothing on the north street
    # the edge 300..400 is cut, not taken whole
    total = shapely.union_all(lines).length  # pieces may overlap (the source edge)
    assert total == pytest.approx(360.0, abs=1.0)


def test_two_facilities_and_bad_arguments(river: RoadNetwork) -> None:
    lon, lat = zip(ll(0, 0), ll(0, 50), strict=True)
    both = service_areas(river, lon, lat, minutes=[5])
    one = service_areas(river, lon[:1], lat[:1], minutes=[5])
    assert both["area_m2"].iloc[0] > one["area_m2"].iloc[0]
    with pytest.raises(NetworkError):
        service_areas(river, lon, lat, minutes=[])
    with pytest.raises(NetworkError):
        service_areas(river, lon, lat, buffer_m=0)


def test_sample_district_clinic_areas() -> None:
    d = generate_district(3000, 7, progress=False)
    net = RoadNetwork.from_frames(d["road_node"], d["road_edge"])
    fac = d["facility"]
    clinic = fac[fac["kind"] == "clinic"].iloc[0]
    areas = service_areas(net, [clinic.geometry.x], [clinic.geometry.y])
    assert isinstance(areas, gpd.GeoDataFrame)
    assert list(areas.columns) == ["minutes", "area_m2", "geometry"]
    assert pd.Series(areas["area_m2"]).is_monotonic_increasing
    assert areas.geometry.iloc[0].covers(clinic.geometry)
    # 15 min ≈ 1080 m: far less than the disc of that radius (streets, not a hull)
    assert areas["area_m2"].iloc[2] < np.pi * 1080**2


def test_one_point_walks_as_the_general_search_does() -> None:
    d = generate_district(3000, 7, progress=False)
    net = RoadNetwork.from_frames(d["road_node"], d["road_edge"])
    rng = np.random.default_rng(3)
    w, s, e, n = d["road_edge"].total_bounds
    for lon, lat in zip(rng.uniform(w, e, 30), rng.uniform(s, n, 30), strict=True):
        for limit in (300.0, np.inf):
            general, snap = node_walk_seconds(net, [lon], [lat], limit_s=limit)
            one, one_snap = point_walk_seconds(net, float(lon), float(lat), limit_s=limit)
            assert one_snap.edge[0] == snap.edge[0]
            again, _ = point_walk_seconds(net, float(lon), float(lat), limit_s=limit, snap=snap)
            np.testing.assert_array_equal(again, one)
            assert (np.isinf(one) == np.isinf(general)).all()
            reached = np.isfinite(general)
            np.testing.assert_allclose(one[reached], general[reached], atol=1e-9)
