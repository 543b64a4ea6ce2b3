"""Road network: graphs from the sample district and OpenStreetMap, component, snapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.sparse.csgraph import dijkstra

import geopandas as gpd
import shapely

from analysis.network import NetworkError, RoadNetwork
from etl.osm import OsmError, read_osm_areas, read_osm_roads
from etl.sample import generate_district
from tests.conftest import SHARED_DATA

NANJING = SHARED_DATA / "nanjing-xinjiekou" / "nanjing_xinjiekou.osm"


@pytest.fixture(scope="module")
def district() -> dict[str, Any]:
    return generate_district(3000, 11, progress=False)


@pytest.fixture(scope="module")
def network(district: dict[str, Any]) -> RoadNetwork:
    return RoadNetwork.from_frames(district["road_node"], district["road_edge"])


def test_sample_district_builds_whole(district: dict[str, Any], network: RoadNetwork) -> None:
    assert network.n_nodes == len(district["road_node"])
    assert network.n_edges == len(district["road_edge"])
    assert network.dropped.nodes == 0 and network.dropped.edges == 0
    assert network.crs.to_epsg() == 32651  # UTM 51N around 120° E
    np.testing.assert_allclose(network.walk_s, network.length_m / 1.2)
    # undirected walking graph
    assert (network.walk_graph != network.walk_graph.T).nnz == 0


def test_driving_respects_oneway_and_class_speeds(network: RoadNetwork) -> None:
    ow = np.flatnonzero(network.oneway & network.drivable)
    assert len(ow) > 0
    g = network.drive_graph
    s, t = network.edge_source[ow], network.edge_target[ow]
    assert np.all(np.asarray(g[s, t]).ravel() > 0)
    assert np.all(np.asarray(g[t, s]).ravel() == 0)
    art = network.edge_class == "arterial"
    np.testing.assert_allclose(network.drive_s[art], network.length_m[art] / (50 / 3.6))
    lane = network.edge_class == "lane"
    np.testing.assert_allclose(network.drive_s[lane], network.length_m[lane] / (15 / 3.6))


def test_driving_times_agree_with_networkx(district: dict[str, Any], network: RoadNetwork) -> None:
    ref = nx.DiGraph()
    for row in district["road_edge"].itertuples():
        w = row.length_m / (row.drive_speed_kmh / 3.6)
        ref.add_edge(row.source, row.target, weight=w)
        if not row.oneway:
            ref.add_edge(row.target, row.source, weight=w)
    start = int(network.node_id[0])
    expect = nx.single_source_dijkstra_path_length(ref, start)
    got = dijkstra(network.drive_graph, indices=0)
    want = np.array([expect.get(int(i), np.inf) for i in network.node_id])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_settings_and_overrides(district: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    net = RoadNetwork.from_frames(
        district["road_node"],
        district["road_edge"],
        walk_speed_mps=1.0,
        drive_speed_kmh={"arterial": 40.0},
    )
    np.testing.assert_allclose(net.walk_s, net.length_m)
    art = net.edge_class == "arterial"
    np.testing.assert_allclose(net.drive_s[art], net.length_m[art] / (40 / 3.6))
    with pytest.raises(NetworkError, match="positive"):
        RoadNetwork.from_frames(district["road_node"], district["road_edge"], walk_speed_mps=0)


def _tiny() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    xy = [(118.0, 32.0), (118.001, 32.0), (118.002, 32.0), (118.05, 32.0), (118.051, 32.0)]
    nodes = gpd.GeoDataFrame({"id": [10, 20, 30, 40, 50]}, geometry=shapely.points(xy), crs=4326)
    pairs = [(10, 20), (20, 30), (10, 20), (40, 50), (30, 30), (30, 99)]
    pos = {10: 0, 20: 1, 30: 2, 40: 3, 50: 4, 99: 4}
    edges = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3, 4, 5, 6],
            "source": [a for a, _ in pairs],
            "target": [b for _, b in pairs],
            "length_m": [100.0, 100.0, 80.0, 100.0, 0.0, 50.0],
        },
        geometry=shapely.linestrings([[xy[pos[a]], xy[pos[b]]] for a, b in pairs]),
        crs=4326,
    )
    return nodes, edges


def test_largest_component_kept_and_drops_reported() -> None:
    nodes, edges = _tiny()
    net = RoadNetwork.from_frames(nodes, edges)
    assert sorted(net.node_id) == [10, 20, 30]
    assert sorted(net.edge_id) == [1, 2, 3]
    assert net.dropped.nodes == 2 and sorted(net.dropped.node_ids) == [40, 50]
    # the other component, the self-loop and the edge to an unknown node
    assert net.dropped.edges == 3 and sorted(net.dropped.edge_ids) == [4, 5, 6]
    # parallel edges: the cheaper one is the arc
    a, b = np.searchsorted(net.node_id, [10, 20])
    assert net.walk_graph[a, b] == pytest.approx(80.0 / 1.2)
    assert net.edge_id[net.walk_edge_between([a], [b])[0]] == 3


def test_bad_frames_are_refused() -> None:
    nodes, edges = _tiny()
    with pytest.raises(NetworkError, match="length_m"):
        RoadNetwork.from_frames(nodes, edges.drop(columns="length_m"))
    with pytest.raises(NetworkError, match="empty"):
        RoadNetwork.from_frames(nodes, edges.iloc[:0])


def test_snap_to_nearest_point_of_nearest_edge(network: RoadNetwork) -> None:
    rng = np.random.default_rng(0)
    e = rng.choice(network.n_edges, 50)
    line = network.edge_geometry[e]
    mid = shapely.get_coordinates(shapely.line_interpolate_point(line, 0.3, normalized=True))
    # a point 3 m to the left of the edge at 30 %: nearest point is that spot
    first = shapely.get_coordinates(shapely.get_point(line, 0))
    last = shapely.get_coordinates(shapely.get_point(line, -1))
    d = last - first
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(*d.T)[:, None]
    snap = network.snap_xy(mid + 3.0 * normal)
    np.testing.assert_array_equal(snap.edge, e)
    np.testing.assert_allclose(snap.fraction, 0.3, atol=1e-9)
    np.testing.assert_allclose(snap.offset_m, 3.0, atol=1e-6)
    np.testing.assert_allclose(snap.to_source_m + snap.to_target_m, network.length_m[e])
    # brute force: the snapped edge is the nearest one
    pts = shapely.points(rng.uniform(network.node_xy.min(0), network.node_xy.max(0), (200, 2)))
    snap = network.snap_xy(shapely.get_coordinates(pts))
    dist = shapely.distance(pts[:, None], network.edge_geometry[None, :])
    np.testing.assert_allclose(snap.offset_m, dist.min(axis=1), atol=1e-6)


def test_snap_in_lonlat(network: RoadNetwork) -> None:
    ll = shapely.get_coordinates(network.to_wgs84(shapely.points(network.node_xy[:5])))
    snap = network.snap(ll[:, 0], ll[:, 1])
    np.testing.assert_allclose(snap.offset_m, 0.0, atol=1e-6)


# ---------------------------------------------------------------- OpenStreetMap
def test_osm_split_oneway_and_classes(tmp_path: Path) -> None:
    osm = tmp_path / "tiny.osm"
    osm.write_text(
        """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
 <node id="1" lat="32.0" lon="118.0" version="1"/>
 <node id="2" lat="32.0" lon="118.001" version="1"/>
 <node id="3" lat="32.0" lon="118.002" version="1"/>
 <node id="4" lat="32.001" lon="118.001" version="1"/>
 <node id="5" lat="32.002" lon="118.001" version="1"/>
 <way id="100" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/>
  <tag k="highway" v="residential"/><tag k="oneway" v="-1"/><tag k="maxspeed" v="20"/></way>
 <way id="101" version="1"><nd ref="2"/><nd ref="4"/><nd ref="5"/>
  <tag k="highway" v="footway"/></way>
 <way id="102" version="1"><nd ref="4"/><nd ref="5"/><tag k="highway" v="motorway"/></way>
 <way id="103" version="1"><nd ref="1"/><nd ref="5"/><tag k="highway" v="proposed"/></way>
</osm>
"""
    )
    nodes, edges = read_osm_roads(osm)
    assert sorted(nodes["id"]) == [1, 2, 3, 4, 5]
    e = edges.set_index(["osm_way_id", "source"])
    # way 100 is reversed (oneway=-1) and split at node 2, shared with way 101
    assert e.loc[(100, 3), "target"] == 2 and e.loc[(100, 2), "target"] == 1
    assert e.loc[(100, 3), "oneway"] and e.loc[(100, 3), "drive_speed_kmh"] == 20
    assert e.loc[(100, 3), "length_m"] == pytest.approx(94.4, abs=0.5)  # 0.001° lon at 32° N
    # way 101 is split at node 4, shared with the motorway
    assert len(edges[edges["osm_way_id"] == 101]) == 2
    fw = edges[edges["osm_way_id"] == 101].iloc[0]
    assert fw["walkable"] and not fw["drivable"] and not fw["oneway"]
    mw = edges[edges["osm_way_id"] == 102].iloc[0]
    assert not mw["walkable"] and mw["drivable"] and mw["oneway"]
    assert 103 not in set(edges["osm_way_id"])
    # the same as PBF
    import osmium

    pbf = tmp_path / "tiny.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(osm)):
            writer.add(obj)
    nodes2, edges2 = read_osm_roads(pbf)
    pd.testing.assert_frame_equal(pd.DataFrame(nodes), pd.DataFrame(nodes2))
    pd.testing.assert_frame_equal(pd.DataFrame(edges), pd.DataFrame(edges2))
    net = RoadNetwork.from_frames(nodes, edges)
    assert net.dropped.nodes == 0
    # walking ignores one-way; driving does not
    i = {int(x): k for k, x in enumerate(net.node_id)}
    assert np.isfinite(dijkstra(net.walk_graph, indices=i[1])[i[3]])
    assert np.isinf(dijkstra(net.drive_graph, indices=i[1])[i[3]])
    assert np.isfinite(dijkstra(net.drive_graph, indices=i[3])[i[1]])


def test_osm_without_roads_is_refused(tmp_path: Path) -> None:
    osm = tmp_path / "empty.osm"
    osm.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    with pytest.raises(OsmError, match="no highway"):
        read_osm_roads(osm)


def test_an_unsorted_or_broken_osm_file_is_refused_saying_how_to_fix_it(tmp_path: Path) -> None:
    street = {"highway": "residential"}
    # written in the order given: way 20 before way 10
    unsorted = _write_osm(
        tmp_path / "unsorted.osm",
        {20: ([(0, 0), (100, 0)], street), 10: ([(100, 0), (200, 0)], street)},
    )
    # the roads read it; the areas (assembled in two passes) do not
    with pytest.raises(OsmError, match=r"out of order.*osmium sort"):
        read_osm_areas(unsorted)
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"not a protocol buffer")
    with pytest.raises(OsmError, match="cannot be read as OpenStreetMap data"):
        read_osm_roads(broken)


def test_edge_ids_are_the_way_and_the_piece_s_place_along_it(tmp_path: Path) -> None:
    street = {"highway": "residential"}
    # way 7 is split where way 9 meets it: pieces 0 and 1; way 9 is one piece
    osm = _write_osm(
        tmp_path / "t.osm",
        {7: ([(0, 0), (100, 0), (200, 0)], street), 9: ([(100, 0), (100, 100)], street)},
    )
    _, edges = read_osm_roads(osm)
    assert sorted(edges["id"]) == [7 * 4096, 7 * 4096 + 1, 9 * 4096]


@pytest.mark.realdata
@pytest.mark.skipif(not NANJING.exists(), reason=f"Nanjing extract absent: {NANJING}")
def test_nanjing_xml_and_pbf(tmp_path: Path) -> None:
    import osmium

    nodes, edges = read_osm_roads(NANJING)
    assert len(edges) > 500
    net = RoadNetwork.from_frames(nodes, edges)
    assert net.n_nodes >= 0.75 * len(nodes)
    assert net.n_edges >= 0.8 * len(edges)
    assert net.dropped.nodes + net.n_nodes == len(nodes)
    assert net.dropped.edges + net.n_edges == len(edges)
    assert net.crs.to_epsg() == 32650  # Nanjing, 118.8° E: UTM 50N
    # geodesic lengths agree with the UTM geometries to the projection's scale
    ratio = shapely.length(net.edge_geometry) / np.maximum(net.length_m, 1e-9)
    assert np.all(np.abs(ratio[net.length_m > 1] - 1) < 1e-3)
    # the same file as PBF reads the same
    pbf = tmp_path / "nanjing.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(NANJING)):
            writer.add(obj)
    nodes2, edges2 = read_osm_roads(pbf)
    assert nodes2["id"].tolist() == nodes["id"].tolist()
    pd.testing.assert_frame_equal(
        pd.DataFrame(edges.drop(columns="geometry")), pd.DataFrame(edges2.drop(columns="geometry"))
    )
    assert shapely.equals_exact(edges.geometry.to_numpy(), edges2.geometry.to_numpy(), 1e-7).all()


# ---------------------------------------------------------------- who may walk where
M_PER_DEG_LON, M_PER_DEG_LAT = 94_430.0, 110_870.0  # at 32° N, near enough for a layout


def _lonlat(x: float, y: float) -> tuple[float, float]:
    """A point x metres east and y metres north of 118.0° E, 32.0° N."""
    return 118.0 + x / M_PER_DEG_LON, 32.0 + y / M_PER_DEG_LAT


def _write_osm(path: Path, ways: dict[int, tuple[list[tuple[float, float]], dict[str, str]]]):
    """Write ways (coordinates in metres, see _lonlat) as OSM XML; shared points share a node."""
    ids: dict[tuple[float, float], int] = {}
    for coords, _ in ways.values():
        for xy in coords:
            ids.setdefault(xy, len(ids) + 1)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    for (x, y), i in ids.items():
        lon, lat = _lonlat(x, y)
        lines.append(f' <node id="{i}" lat="{lat:.8f}" lon="{lon:.8f}" version="1"/>')
    for way_id, (coords, tags) in ways.items():
        nds = "".join(f'<nd ref="{ids[xy]}"/>' for xy in coords)
        kv = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append(f' <way id="{way_id}" version="1">{nds}{kv}</way>')
    path.write_text("\n".join([*lines, "</osm>"]), encoding="utf-8")
    return path


def test_osm_walking_leaves_out_what_pedestrians_may_not_use(tmp_path: Path) -> None:
    cases = {  # way id: (tags, walkable, z level); None: not read at all
        1: ({"highway": "motorway"}, False, 0),
        2: ({"highway": "motorway_link"}, False, 0),
        3: ({"highway": "trunk"}, True, 0),
        4: ({"highway": "trunk", "tunnel": "yes", "layer": "-1"}, False, -1),
        5: ({"highway": "trunk", "layer": "1"}, False, 1),  # elevated, no bridge tag
        6: ({"highway": "trunk_link", "bridge": "yes"}, False, 1),
        7: ({"highway": "trunk", "tunnel": "yes", "foot": "yes"}, True, -1),
        8: ({"highway": "primary", "tunnel": "yes"}, False, -1),
        9: ({"highway": "primary", "tunnel": "yes", "sidewalk": "both"}, True, -1),
        10: ({"highway": "residential", "tunnel": "yes"}, True, -1),  # an underpass
        11: ({"highway": "footway", "tunnel": "yes", "layer": "-2"}, True, -2),
        12: ({"highway": "footway", "bridge": "yes"}, True, 1),
        13: ({"highway": "residential", "foot": "no"}, False, 0),
        14: ({"highway": "service", "access": "private"}, None, None),  # for no one
        15: ({"highway": "service", "access": "private", "foot": "yes"}, True, 0),
        16: ({"highway": "primary_link", "motorroad": "yes"}, False, 0),
        17: ({"highway": "secondary", "foot": "use_sidepath"}, False, 0),
        18: ({"highway": "service", "tunnel": "building_passage"}, True, 0),
        19: ({"highway": "cycleway", "foot": "designated"}, True, 0),
    }
    ways = {i: ([(0.0, 30.0 * i), (80.0, 30.0 * i)], tags) for i, (tags, _, _) in cases.items()}
    _, edges = read_osm_roads(_write_osm(tmp_path / "ways.osm", ways))
    got = edges.set_index("osm_way_id")
    for i, (tags, walkable, level) in cases.items():
        read = None
        if i in got.index:
            read = (bool(got.loc[i, "walkable"]), int(got.loc[i, "z_level"]))
        assert read == ((walkable, level) if walkable is not None else None), tags


# a trunk tunnel 1 km long under y = 0 whose portals meet the streets at x = 0 and 1000;
# a footway at y = 25 between them, on the ground
TUNNEL_AND_FOOTWAY = {
    1: ([(0.0, 0.0), (1000.0, 0.0)], {"highway": "trunk", "tunnel": "yes", "layer": "-1"}),
    2: ([(0.0, 0.0), (0.0, 25.0)], {"highway": "residential"}),
    3: ([(1000.0, 0.0), (1000.0, 25.0)], {"highway": "residential"}),
    4: ([(0.0, 25.0), (500.0, 25.0), (1000.0, 25.0)], {"highway": "footway"}),
}


def test_a_home_beside_a_tunnel_walks_by_the_footway_to_a_clinic(tmp_path: Path) -> None:
    from analysis.coverage import travel_times
    from analysis.nearest import ShelterIndex

    nodes, edges = read_osm_roads(_write_osm(tmp_path / "tunnel.osm", TUNNEL_AND_FOOTWAY))
    net = RoadNetwork.from_frames(nodes, edges)
    home, clinic = _lonlat(500, 5), _lonlat(500, 35)  # 5 m from the tunnel, 20 m from the footway
    snap = net.snap([home[0]], [home[1]])
    footway = edges.loc[edges["osm_way_id"] == 4, "id"].to_numpy()
    assert net.edge_id[snap.edge[0]] in footway
    assert snap.offset_m[0] == pytest.approx(20.0, abs=0.5)
    seconds = travel_times(net, [home[0]], [home[1]], [clinic[0]], [clinic[1]])[0, 0]
    assert seconds * net.walk_speed_mps == pytest.approx(30.0, abs=1.0)  # not 1 km round
    index = ShelterIndex.build(net, [7], [clinic[0]], [clinic[1]])
    assert index.nearest_shelter_id(*home) == (7, pytest.approx(30.0, abs=1.0))
    assert index.query([home[0]], [home[1]])[1][0] == pytest.approx(30.0, abs=1.0)


def test_snapping_prefers_the_ground_unless_only_a_tunnel_is_near(tmp_path: Path) -> None:
    ways = {  # a street on the ground, and a pedestrian tunnel 600 m long leaving it
        1: ([(-200.0, 0.0), (0.0, 0.0), (200.0, 0.0)], {"highway": "footway"}),
        2: ([(0.0, 0.0), (0.0, 600.0)], {"highway": "footway", "tunnel": "yes", "layer": "-1"}),
        3: ([(0.0, 600.0), (100.0, 600.0)], {"highway": "footway"}),
    }
    nodes, edges = read_osm_roads(_write_osm(tmp_path / "underpass.osm", ways))
    net = RoadNetwork.from_frames(nodes, edges)
    way_of = dict(zip(edges["id"], edges["osm_way_id"], strict=True))
    near, far = _lonlat(5, 60), _lonlat(5, 300)  # 60 m / 300 m from the street, 5 m from the tunnel
    snap = net.snap([near[0], far[0]], [near[1], far[1]])
    assert [way_of[i] for i in net.edge_id[snap.edge]] == [1, 2]
    assert snap.offset_m == pytest.approx([60.0, 5.0], abs=0.5)
    one = [net.snap_edges.nearest_one(shapely.Point(xy)) for xy in snap.xy]
    assert one == snap.edge.tolist()


def _nanjing_way_tags() -> dict[int, dict[str, str]]:
    import osmium

    return {
        o.id: dict(o.tags)
        for o in osmium.FileProcessor(str(NANJING))
        if isinstance(o, osmium.osm.Way) and "highway" in o.tags
    }


def _off_ground(tags: dict[str, str]) -> bool:
    return (
        tags.get("tunnel", "no") not in ("no", "building_passage")
        or tags.get("bridge", "no") != "no"
        or tags.get("layer", "0") != "0"
    )


@pytest.mark.realdata
@pytest.mark.skipif(not NANJING.exists(), reason=f"Nanjing extract absent: {NANJING}")
def test_nanjing_no_walking_on_expressways_in_tunnels_or_where_foot_is_barred() -> None:
    tags = _nanjing_way_tags()
    _, edges = read_osm_roads(NANJING)
    way_tags = edges["osm_way_id"].map(tags)

    def barred(t: dict[str, str]) -> bool:
        hw = t["highway"]
        return t.get("foot") not in ("yes", "designated") and (
            hw.startswith("motorway")
            or (hw.startswith("trunk") and _off_ground(t))
            or t.get("foot") == "no"
            or t.get("motorroad") == "yes"
        )

    is_barred = way_tags.map(barred).to_numpy(bool)
    # the 水西门 tunnel, the 内环西线 viaduct and motorroad links are in the extract
    assert is_barred.sum() >= 8
    assert not edges["walkable"].to_numpy()[is_barred].any()
    # Xinjiekou's pedestrian underpasses stay walkable, below the ground
    underpass = way_tags.map(lambda t: t["highway"] == "footway" and "tunnel" in t).to_numpy(bool)
    assert underpass.sum() > 20
    assert edges["walkable"].to_numpy()[underpass].all()
    assert (edges["z_level"].to_numpy()[underpass] < 0).all()


@pytest.mark.realdata
@pytest.mark.skipif(not NANJING.exists(), reason=f"Nanjing extract absent: {NANJING}")
def test_nanjing_homes_by_the_tunnel_walk_to_a_clinic_on_the_street_not_round_it() -> None:
    """Homes within 40 m of the 水西门 tunnel, each with a clinic on its nearest street."""
    from analysis.coverage import travel_times

    tags = _nanjing_way_tags()
    nodes, edges = read_osm_roads(NANJING)
    net = RoadNetwork.from_frames(nodes, edges)
    tunnel = edges[edges["osm_way_id"].map(lambda i: tags[i].get("tunnel") == "yes")]
    tunnel = tunnel[tunnel["road_class"].str.startswith("trunk")].to_crs(net.crs)
    corridor = shapely.union_all(tunnel.geometry.to_numpy()).buffer(40)
    x0, y0, x1, y1 = corridor.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, 10.0), np.arange(y0, y1, 10.0))
    homes = shapely.points(gx.ravel(), gy.ravel())
    homes = homes[shapely.contains(corridor, homes)]
    # the clinic: at the nearest point of the nearest street on the ground
    way_of_edge = edges.set_index("id").loc[net.edge_id, "osm_way_id"].to_numpy()
    on_ground = np.array([not _off_ground(tags[w]) for w in way_of_edge])
    streets = net.edge_geometry[net.walkable & on_ground]
    nearest = shapely.STRtree(streets).query_nearest(homes, all_matches=False)[1]
    street = streets[nearest]
    clinics = shapely.line_interpolate_point(street, shapely.line_locate_point(street, homes))
    straight = shapely.distance(homes, clinics)
    keep = (straight >= 10) & (straight <= 50)  # clinics tens of metres away
    homes, clinics, straight = homes[keep], clinics[keep], straight[keep]
    assert len(homes) > 50
    home_ll, clinic_ll = net.to_wgs84(homes), net.to_wgs84(clinics)
    seconds = travel_times(
        net,
        shapely.get_x(home_ll),
        shapely.get_y(home_ll),
        shapely.get_x(clinic_ll),
        shapely.get_y(clinic_ll),
    ).diagonal()
    walk_m = seconds * net.walk_speed_mps
    worst = int(np.argmax(walk_m / straight))
    assert walk_m[worst] < 3 * straight[worst], (
        f"{walk_m[worst]:.0f} m on foot for {straight[worst]:.0f} m "
        f"at {shapely.get_coordinates(home_ll[worst])}"
    )
