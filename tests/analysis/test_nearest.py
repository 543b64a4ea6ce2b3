"""Nearest shelter: one multi-source pass, checked against a networkx Dijkstra reference."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import networkx as nx
import numpy as np
import pytest

import geopandas as gpd
import shapely

from analysis.nearest import NoShelterReachable, ShelterIndex
from analysis.network import NetworkError, RoadNetwork, Snap
from etl.osm import read_osm_roads
from etl.sample import generate_district
from tests.conftest import SHARED_DATA

NANJING = SHARED_DATA / "nanjing-xinjiekou" / "nanjing_xinjiekou.osm"


@pytest.fixture(scope="module")
def district() -> dict[str, Any]:
    return generate_district(3000, 7, progress=False)


@pytest.fixture(scope="module")
def network(district: dict[str, Any]) -> RoadNetwork:
    return RoadNetwork.from_frames(district["road_node"], district["road_edge"])


def _random_points(network: RoadNetwork, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lo = network.node_xy.min(axis=0) - 50
    hi = network.node_xy.max(axis=0) + 50
    xy = rng.uniform(lo, hi, size=(n, 2))
    ll = shapely.get_coordinates(network.to_wgs84(shapely.points(xy)))
    return ll[:, 0], ll[:, 1]


def _reference(
    edges: gpd.GeoDataFrame, network: RoadNetwork, shelters: Snap, queries: Snap
) -> tuple[np.ndarray, np.ndarray]:
    """networkx: split edges at every snapped shelter and query, then multi-source Dijkstra."""
    raw = edges.set_index("id")
    inserts: dict[int, list[tuple[float, tuple[str, int]]]] = defaultdict(list)
    for j, (e, f) in enumerate(zip(shelters.edge, shelters.fraction, strict=True)):
        inserts[int(network.edge_id[e])].append((float(f), ("s", j)))
    for i, (e, f) in enumerate(zip(queries.edge, queries.fraction, strict=True)):
        inserts[int(network.edge_id[e])].append((float(f), ("q", i)))
    graph = nx.Graph()

    def link(a: Any, b: Any, w: float) -> None:
        if a == b:
            return
        if graph.has_edge(a, b) and graph[a][b]["weight"] <= w:
            return
        graph.add_edge(a, b, weight=w)

    for eid, row in raw.iterrows():
        if not row["walkable"]:
            continue
        chain = [(0.0, ("n", row["source"]))]
        chain += sorted(inserts.get(int(eid), []))
        chain.append((1.0, ("n", row["target"])))
        for (f1, a), (f2, b) in itertools.pairwise(chain):
            link(a, b, (f2 - f1) * row["length_m"])
    for j, off in enumerate(shelters.offset_m):
        link(("S", j), ("s", j), float(off))
    for i, off in enumerate(queries.offset_m):
        link(("Q", i), ("q", i), float(off))
    dist, paths = nx.multi_source_dijkstra(graph, {("S", j) for j in range(len(shelters.edge))})
    d = np.array([dist.get(("Q", i), np.inf) for i in range(len(queries.edge))])
    s = np.array(
        [paths[("Q", i)][0][1] if ("Q", i) in paths else -1 for i in range(len(queries.edge))]
    )
    return d, s


def _check_against_networkx(
    district: dict[str, Any], network: RoadNetwork, index: ShelterIndex, seed: int
) -> None:
    lon, lat = _random_points(network, 300, seed)
    ids, dist = index.query(lon, lat)
    ref_d, ref_s = _reference(
        district["road_edge"], network, index.shelter_snap, network.snap(lon, lat)
    )
    np.testing.assert_allclose(dist, ref_d, rtol=0, atol=0.01)  # the centimetre
    # the same shelter (random points never sit exactly halfway between two), or none
    np.testing.assert_array_equal(ids, np.where(ref_s >= 0, index.shelter_id[ref_s], -1))


def test_district_shelters_agree_with_networkx(
    district: dict[str, Any], network: RoadNetwork
) -> None:
    fac = district["facility"]
    sh = fac[fac["kind"] == "shelter"]
    index = ShelterIndex.build(network, sh["id"], sh.geometry.x, sh.geometry.y)
    _check_against_networkx(district, network, index, seed=1)


def test_many_random_shelters_agree_with_networkx(
    district: dict[str, Any], network: RoadNetwork
) -> None:
    lon, lat = _random_points(network, 12, seed=99)
    index = ShelterIndex.build(network, np.arange(100, 112), lon, lat)
    _check_against_networkx(district, network, index, seed=2)


def test_single_query_fast_path_equals_batch(
    district: dict[str, Any], network: RoadNetwork
) -> None:
    fac = district["facility"]
    sh = fac[fac["kind"] == "shelter"]
    lon_s, lat_s = _random_points(network, 40, seed=5)  # many on an edge of a query too
    index = ShelterIndex.build(
        network,
        np.concatenate([sh["id"], np.arange(10_000, 10_040)]),
        np.concatenate([sh.geometry.x, lon_s]),
        np.concatenate([sh.geometry.y, lat_s]),
    )
    lon, lat = _random_points(network, 500, seed=6)
    # points on the shelters' own edges, where the direct walk along the edge may win
    e = index.shelter_snap.edge
    on = shapely.line_interpolate_point(network.edge_geometry[e], 0.37, normalized=True)
    ll = shapely.get_coordinates(network.to_wgs84(on))
    lon, lat = np.concatenate([lon, ll[:, 0]]), np.concatenate([lat, ll[:, 1]])
    ids, dist = index.query(lon, lat)
    fast = [index.nearest_shelter_id(float(x), float(y)) for x, y in zip(lon, lat, strict=True)]
    np.testing.assert_array_equal([f[0] for f in fast], ids)
    np.testing.assert_allclose([f[1] for f in fast], dist, rtol=1e-12, atol=1e-9)


def test_same_edge_is_walked_directly(network: RoadNetwork) -> None:
    e = int(np.argmax(network.length_m))
    line = network.edge_geometry[e]
    pts = shapely.line_interpolate_point(line, [0.4, 0.6], normalized=True)
    ll = shapely.get_coordinates(network.to_wgs84(pts))
    index = ShelterIndex.build(network, [1], ll[1:, 0], ll[1:, 1])
    r = index.nearest(ll[0, 0], ll[0, 1])
    assert r.shelter_id == 1
    assert r.distance_m == pytest.approx(0.2 * network.length_m[e], abs=0.01)


def test_route_follows_the_network(district: dict[str, Any], network: RoadNetwork) -> None:
    fac = district["facility"]
    sh = fac[fac["kind"] == "shelter"]
    index = ShelterIndex.build(
        network,
        sh["id"],
        sh.geometry.x,
        sh.geometry.y,
        capacity=sh["capacity"],
        occupancy=np.arange(len(sh)),
    )
    lon, lat = _random_points(network, 20, seed=5)
    for x, y in zip(lon, lat, strict=True):
        r = index.nearest(float(x), float(y))
        assert r.route.is_valid
        assert r.minutes == pytest.approx(r.distance_m / network.walk_speed_mps / 60)
        k = int(np.flatnonzero(sh["id"].to_numpy() == r.shelter_id)[0])
        assert r.capacity == sh["capacity"].iloc[k] and r.occupancy == k
        assert 0 <= r.offset_m <= r.distance_m
        start = shapely.get_coordinates(r.route)[0]
        np.testing.assert_allclose(start, [x, y], atol=1e-9)
        end = shapely.get_coordinates(r.route)[-1]
        target = sh[sh["id"] == r.shelter_id].geometry.iloc[0]
        np.testing.assert_allclose(end, [target.x, target.y], atol=1e-9)
        # geodesic edge lengths vs the UTM route: within the projection's scale error
        metric = gpd.GeoSeries([r.route], crs=4326).to_crs(network.crs).length.iloc[0]
        assert metric == pytest.approx(r.distance_m, rel=2e-3)


def test_closed_shelters_are_left_out(district: dict[str, Any], network: RoadNetwork) -> None:
    fac = district["facility"]
    sh = fac[fac["kind"] == "shelter"]
    is_open = np.arange(len(sh)) == 0
    index = ShelterIndex.build(network, sh["id"], sh.geometry.x, sh.geometry.y, is_open=is_open)
    lon, lat = _random_points(network, 50, seed=3)
    ids, _ = index.query(lon, lat)
    assert set(ids) == {int(sh["id"].iloc[0])}
    with pytest.raises(NetworkError):
        ShelterIndex.build(
            network, sh["id"], sh.geometry.x, sh.geometry.y, is_open=np.zeros(len(sh), bool)
        )


def test_unreachable_shelter_is_said_clearly() -> None:
    nodes = gpd.GeoDataFrame(
        {"id": [1, 2, 3, 4]},
        geometry=shapely.points([(118.0, 32.0), (118.001, 32.0), (118.01, 32.0), (118.011, 32.0)]),
        crs=4326,
    )
    edges = gpd.GeoDataFrame(
        {
            "id": [1, 2],
            "source": [1, 3],
            "target": [2, 4],
            "length_m": [94.4, 94.4],
            "walkable": [True, True],
            "drivable": [False, False],
        },
        geometry=shapely.linestrings(
            [[(118.0, 32.0), (118.001, 32.0)], [(118.01, 32.0), (118.011, 32.0)]]
        ),
        crs=4326,
    )
    # two equal components: the first is kept
    net = RoadNetwork.from_frames(nodes, edges)
    assert net.dropped.nodes == 2 and net.dropped.edges == 1
    index = ShelterIndex.build(net, [9], [118.0005], [32.0])
    assert index.nearest(118.0002, 32.0).shelter_id == 9
    # a walkable-only graph with one drivable-only link: nodes off foot have no shelter
    edges2 = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3],
            "source": [1, 2, 3],
            "target": [2, 3, 4],
            "length_m": [94.4, 850.0, 94.4],
            "walkable": [True, False, True],
            "drivable": [True, True, True],
        },
        geometry=shapely.linestrings(
            [
                [(118.0, 32.0), (118.001, 32.0)],
                [(118.001, 32.0), (118.01, 32.0)],
                [(118.01, 32.0), (118.011, 32.0)],
            ]
        ),
        crs=4326,
    )
    net2 = RoadNetwork.from_frames(nodes, edges2)
    index2 = ShelterIndex.build(net2, [9], [118.0005], [32.0])
    ids, dist = index2.query([118.0105], [32.0])
    assert ids[0] == -1 and np.isinf(dist[0])
    assert index2.nearest_shelter_id(118.0105, 32.0) == (-1, np.inf)
    with pytest.raises(NoShelterReachable):
        index2.nearest(118.0105, 32.0)


@pytest.mark.realdata
@pytest.mark.skipif(not NANJING.exists(), reason=f"Nanjing extract absent: {NANJING}")
def test_nanjing_queries_agree_with_networkx() -> None:
    nodes, edges = read_osm_roads(NANJING)
    network = RoadNetwork.from_frames(nodes, edges)
    lon, lat = _random_points(network, 6, seed=8)
    index = ShelterIndex.build(network, np.arange(1, 7), lon, lat)
    _check_against_networkx({"road_edge": edges}, network, index, seed=4)
    r = index.nearest(118.7843, 32.0415)  # 新街口
    assert r.distance_m > 0 and r.route.length > 0
