"""Nearest shelter on a city-sized walking network: ours vs networkx and pgRouting, plus a plan.

The network is the sample district at scale: ``generate_district(1_000_000)``'s road
layers with every edge cut into pieces of at most 25 m, about the node density of an
OpenStreetMap city (a node every 10–25 m along a street, where the sample has one per
block, ~100 m); about 120,000 nodes.  100 of the sample's shelters are kept (picked
evenly by id) and each is moved onto its nearest road node, so that the peers, which
route node to node, answer exactly the same question.

Measured, in one run:

- ``precompute_s``: :meth:`ShelterIndex.build` (snap the shelters, one multi-source
  ``scipy.sparse.csgraph.dijkstra``); the network build is reported apart.
- ``query_us``: median of 10,000 single in-process queries at random points
  (:meth:`ShelterIndex.nearest_shelter_id`).
- ``networkx_query_us``: the per-query peer a user would write,
  ``nx.multi_source_dijkstra(G, shelters, target=node)``: a Dijkstra from all shelters
  that stops when it reaches the query node (graph built once, not timed); 200 queries.
- ``pgrouting_query_us``: ``pgr_dijkstraCost`` from the query node to the 100 shelter
  nodes (one-to-many on the undirected graph, the minimum taken), 50 queries, in a
  database ``wangge_bench_shelters`` created and dropped here.
- ``http_p50_ms``: median of 500 ``GET /api/resident/nearest-shelter`` on loopback (one
  keep-alive connection) against the real app with the road layers and shelters loaded.
- ``plan_s``: an :class:`EvacuationPlan` for 200,000 of the households: snap their
  buildings, one Dijkstra per shelter (100 × N), the 10 nearest shelters of each by
  network distance, then the solve.

Answers are checked: our nearest shelter and distance against networkx and pgRouting on
every sampled query (to 1 cm), the fast single query against the batch query, and the
HTTP answers against the in-process ones.

Usage::

    .venv/bin/python benchmarks/shelters.py [--quick] [--households 1000000] [--seed 42]

Prints a summary to stderr and one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse.csgraph import dijkstra
from sqlalchemy import create_engine

import geopandas as gpd
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.evacuation import CandidateCosts, EvacuationPlan
from analysis.nearest import ShelterIndex
from analysis.network import RoadNetwork
from etl.load import load_layers
from etl.sample import generate_district
from gis.coords import local_metric_crs_for
from gis.db import cluster
from gis.db.migrate import upgrade
from gis.settings import get_settings

BENCH_DB = "wangge_bench_shelters"
MAX_PIECE_M = 25.0
N_SHELTERS = 100
K_CANDIDATES = 10
EDGE_COLUMNS = (
    "name",
    "road_class",
    "walkable",
    "drivable",
    "oneway",
    "walk_speed_mps",
    "drive_speed_kmh",
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the network
def subdivide(
    nodes: gpd.GeoDataFrame, edges: gpd.GeoDataFrame, max_m: float
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Cut every edge into straight pieces of at most ``max_m`` metres, with new nodes.

    Pieces are interpolated in lon/lat along each segment of the edge (at this scale the
    same as in metres); each piece's ``length_m`` is the edge's ``length_m`` shared out in
    proportion to its metric length, so that the lengths of a street still add up.
    """
    crs = local_metric_crs_for(edges)
    fwd = Transformer.from_crs(4326, crs, always_xy=True)
    ll, line = shapely.get_coordinates(edges.geometry.to_numpy(), return_index=True)
    mx, my = fwd.transform(ll[:, 0], ll[:, 1])
    seg = np.flatnonzero(line[1:] == line[:-1])  # segment from vertex seg to seg + 1
    seg_m = np.hypot(mx[seg + 1] - mx[seg], my[seg + 1] - my[seg])
    pieces = np.maximum(np.ceil(seg_m / max_m).astype(np.int64), 1)
    # the vertices of the cut lines: each segment's start and its inner points, per line
    # in order, then each line's last vertex
    s_rep = np.repeat(seg, pieces)
    k = np.arange(len(s_rep)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t = (k / np.repeat(pieces, pieces))[:, None]
    a, b = ll[s_rep], ll[s_rep + 1]
    inner = a + (b - a) * t
    inner[k == 0] = a[k == 0]
    last = np.flatnonzero(np.r_[line[1:] != line[:-1], True])
    verts = np.concatenate([inner, ll[last]])
    vline = np.concatenate([line[s_rep], line[last]])
    # keys that sort every line's vertices in order, its last vertex after the others
    vkey = np.concatenate([np.arange(len(s_rep)), np.full(len(last), len(s_rep))])
    order = np.lexsort((vkey, vline))
    verts, vline = verts[order], vline[order]
    first = np.r_[True, vline[1:] != vline[:-1]]
    final = np.r_[vline[1:] != vline[:-1], True]
    interior = ~(first | final)
    node_of = np.empty(len(verts), dtype=np.int64)
    node_of[first] = edges["source"].to_numpy(np.int64)[vline[first]]
    node_of[final] = edges["target"].to_numpy(np.int64)[vline[final]]
    next_id = int(nodes["id"].max()) + 1
    node_of[interior] = next_id + np.arange(int(interior.sum()))

    a_i = np.flatnonzero(~final)  # piece from vertex a_i to a_i + 1
    p_line = vline[a_i]
    px, py = fwd.transform(verts[:, 0], verts[:, 1])
    p_m = np.hypot(px[a_i + 1] - px[a_i], py[a_i + 1] - py[a_i])
    line_m = np.bincount(p_line, weights=p_m, minlength=len(edges))
    share = np.divide(p_m, line_m[p_line], out=np.full(len(p_m), 0.0), where=line_m[p_line] > 0)
    new_edges = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(a_i) + 1, dtype=np.int64),
            "source": node_of[a_i],
            "target": node_of[a_i + 1],
            **{c: edges[c].to_numpy()[p_line] for c in EDGE_COLUMNS if c in edges.columns},
            "length_m": edges["length_m"].to_numpy(np.float64)[p_line] * share,
        },
        geometry=shapely.linestrings(np.stack([verts[a_i], verts[a_i + 1]], axis=1)),
        crs=4326,
    )
    new_nodes = gpd.GeoDataFrame(
        {"id": node_of[interior]}, geometry=shapely.points(verts[interior]), crs=4326
    )
    return pd.concat([nodes, new_nodes], ignore_index=True), new_edges


def pick_shelters(
    layers: dict[str, Any], nodes: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """100 sample shelters, evenly by id, each facility moved onto its nearest road node."""
    sh = layers["shelter"].sort_values("facility_id").reset_index(drop=True)
    take = np.unique(np.linspace(0, len(sh) - 1, N_SHELTERS).round().astype(int))
    sh = sh.iloc[take].reset_index(drop=True)
    fac = layers["facility"].set_index("id").loc[sh["facility_id"]].reset_index()
    node_geom = nodes.geometry.to_numpy()
    tree = shapely.STRtree(node_geom)
    nearest = tree.query_nearest(fac.geometry.to_numpy(), all_matches=False)[1]
    fac = fac.set_geometry(node_geom[nearest]).set_crs(4326, allow_override=True)
    return fac, gpd.GeoDataFrame(sh, geometry="geometry", crs=layers["shelter"].crs)


# ---------------------------------------------------------------------- peers
def networkx_graph(net: RoadNetwork) -> nx.Graph:
    """The walking graph as networkx, weights metres (the cheapest of parallel edges)."""
    coo = net.walk_graph.tocoo()
    up = coo.row < coo.col
    g = nx.Graph()
    g.add_weighted_edges_from(
        zip(
            coo.row[up].tolist(),
            coo.col[up].tolist(),
            (coo.data[up] * net.walk_speed_mps).tolist(),
            strict=True,
        )
    )
    return g


def fresh_database() -> str:
    base = cluster.ensure_server(get_settings())
    drop_database(base)
    url = cluster.server_url(base, BENCH_DB)
    cluster.ensure_database(url)
    return url


def drop_database(base: str) -> None:
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin.dispose()


PGR_SQL = """
SELECT end_vid, agg_cost FROM pgr_dijkstraCost(
    'SELECT id, source, target, length_m AS cost, length_m AS reverse_cost
     FROM road_edge WHERE walkable',
    %s::bigint, %s::bigint[], directed => false)
ORDER BY agg_cost, end_vid LIMIT 1
"""


# ---------------------------------------------------------------------- the run
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a small run: 60,000 households (and the sample's 40 shelters)",
    )
    parser.add_argument("--households", type=int, default=None)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    households = args.households or (60_000 if args.quick else 1_000_000)
    n_queries = 1_000 if args.quick else 10_000
    n_nx, n_pgr, n_http = (50, 10, 100) if args.quick else (200, 50, 500)
    n_plan = min(200_000, households)
    rng = np.random.default_rng(args.seed)

    t = time.perf_counter()
    layers = generate_district(households, args.seed, progress=False)
    nodes, edges = subdivide(layers["road_node"], layers["road_edge"], MAX_PIECE_M)
    fac, sh = pick_shelters(layers, nodes)
    log(
        f"district of {households:,} households: {len(layers['road_edge']):,} edges cut into "
        f"{len(edges):,} pieces <= {MAX_PIECE_M:g} m, {len(nodes):,} nodes "
        f"({time.perf_counter() - t:.1f} s)"
    )

    t = time.perf_counter()
    net = RoadNetwork.from_frames(nodes, edges)
    network_s = time.perf_counter() - t
    t = time.perf_counter()
    index = ShelterIndex.build(
        net,
        fac["id"],
        fac.geometry.x,
        fac.geometry.y,
        capacity=fac["capacity"],
        occupancy=sh["occupancy"],
    )
    precompute_s = time.perf_counter() - t
    log(
        f"network build {network_s:.2f} s ({net.n_nodes:,} nodes, {net.n_edges:,} edges, "
        f"dropped {net.dropped.nodes} nodes); shelter index (snap + multi-source Dijkstra) "
        f"{precompute_s:.3f} s for {len(index.shelter_id)} shelters"
    )

    # ------------------------------------------------------------ in-process queries
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    ll = shapely.get_coordinates(
        net.to_wgs84(shapely.points(rng.uniform(lo, hi, size=(n_queries, 2))))
    )
    qlon, qlat = ll[:, 0].tolist(), ll[:, 1].tolist()
    index.nearest_shelter_id(qlon[0], qlat[0])  # build the scalar tables, untimed
    clock = time.perf_counter_ns
    times = np.empty(n_queries)
    fast = []
    for i in range(n_queries):
        t0 = clock()
        fast.append(index.nearest_shelter_id(qlon[i], qlat[i]))
        times[i] = clock() - t0
    query_us = float(np.median(times)) / 1e3
    t = time.perf_counter()
    ids, dist = index.query(ll[:, 0], ll[:, 1])
    batch_us = (time.perf_counter() - t) / n_queries * 1e6
    t = time.perf_counter()
    for i in range(min(n_queries, 2_000)):
        index.query([qlon[i]], [qlat[i]])
    single_batch_us = (time.perf_counter() - t) / min(n_queries, 2_000) * 1e6
    assert np.array_equal([f[0] for f in fast], ids), "fast path and batch disagree (id)"
    np.testing.assert_allclose([f[1] for f in fast], dist, rtol=1e-12, atol=1e-9)
    log(
        f"query: median {query_us:.1f} µs single (p90 {np.percentile(times, 90) / 1e3:.1f}); "
        f"the batch query() {batch_us:.1f} µs/pt for {n_queries:,}, "
        f"{single_batch_us:.1f} µs for one point; fast == batch on all {n_queries:,}"
    )

    # ------------------------------------------------------------ the peers' queries
    shelter_node = np.flatnonzero(np.isin(net.node_id, sh_node_ids(fac, nodes)))
    # query nodes other than the shelters' (pgRouting leaves out the start = end pair)
    others = np.setdiff1d(np.arange(net.n_nodes), shelter_node)
    q_nodes = rng.choice(others, size=max(n_nx, n_pgr), replace=False)
    node_ll = shapely.get_coordinates(net.to_wgs84(shapely.points(net.node_xy[q_nodes])))
    ours = [index.nearest_shelter_id(float(x), float(y)) for x, y in node_ll]
    fac_of_node = dict(
        zip(
            sh_node_ids(fac, nodes).tolist(),
            fac["id"].tolist(),
            strict=True,
        )
    )

    g = networkx_graph(net)
    sources = set(shelter_node.tolist())
    times_nx = []
    for i in range(n_nx):
        t0 = clock()
        d, path = nx.multi_source_dijkstra(g, sources, target=int(q_nodes[i]))
        times_nx.append(clock() - t0)
        got = fac_of_node[int(net.node_id[path[0]])]
        assert abs(d - ours[i][1]) <= 0.01, ("networkx", i, d, ours[i])
        assert got == ours[i][0] or abs(d - ours[i][1]) <= 1e-6, ("networkx", i, got, ours[i])
    networkx_query_us = statistics.median(times_nx) / 1e3
    log(
        f"networkx multi_source_dijkstra(target=node): median {networkx_query_us / 1e3:.1f} ms "
        f"over {n_nx} queries; same shelter and distance (1 cm) on all"
    )

    # ------------------------------------------------------------ the database
    base = cluster.ensure_server(get_settings())
    url = fresh_database()
    try:
        engine = create_engine(url)
        upgrade(engine)
        t = time.perf_counter()
        keep = {"admin_area", "grid"}
        load_layers(
            engine,
            {
                **{k: v for k, v in layers.items() if k in keep},
                "road_node": nodes,
                "road_edge": edges,
                "facility": fac,
                "shelter": sh,
            },
            replace=True,
            progress=False,
        )
        log(f"loaded road layers and shelters into {BENCH_DB} in {time.perf_counter() - t:.1f} s")

        raw = engine.raw_connection()
        try:
            cur = raw.driver_connection.cursor()
            cur.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
            targets = sh_node_ids(fac, nodes).tolist()
            times_pg = []
            for i in range(n_pgr):
                start = int(net.node_id[q_nodes[i]])
                t0 = clock()
                cur.execute(PGR_SQL, (start, targets))
                row = cur.fetchone()
                times_pg.append(clock() - t0)
                got_node, d = (int(row[0]), float(row[1])) if row else (start, 0.0)
                assert abs(d - ours[i][1]) <= 0.01, ("pgrouting", i, d, ours[i])
                assert fac_of_node[got_node] == ours[i][0] or abs(d - ours[i][1]) <= 1e-6
            raw.commit()
        finally:
            raw.close()
        pgrouting_query_us = statistics.median(times_pg) / 1e3
        log(
            f"pgRouting pgr_dijkstraCost(node -> {len(targets)} shelter nodes): median "
            f"{pgrouting_query_us / 1e3:.0f} ms over {n_pgr} queries; same answers (1 cm)"
        )

        # -------------------------------------------------------- over HTTP
        from tests.conftest import LiveServer

        near = net.node_xy[rng.integers(0, net.n_nodes, n_http)] + rng.uniform(
            -20, 20, size=(n_http, 2)
        )
        hll = shapely.get_coordinates(net.to_wgs84(shapely.points(near)))
        with LiveServer(url) as server:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)

            def get(x: float, y: float) -> dict[str, Any]:
                conn.request("GET", f"/api/resident/nearest-shelter?lon={x!r}&lat={y!r}")
                resp = conn.getresponse()
                body = resp.read()
                assert resp.status == 200, (resp.status, body[:300])
                return json.loads(body)

            t = time.perf_counter()
            # the app builds its network and index on the first query
            get(float(hll[0, 0]), float(hll[0, 1]))
            log(f"HTTP first query (app builds its index): {time.perf_counter() - t:.1f} s")
            times_http = []
            for x, y in hll:
                t0 = clock()
                answer = get(float(x), float(y))
                times_http.append(clock() - t0)
                sid, d = index.nearest_shelter_id(float(x), float(y))
                assert answer["shelter"]["id"] == sid, (answer, sid)
                # the API rounds to the decimetre
                assert abs(answer["distance_m"] - d) <= 0.051, (answer["distance_m"], d)
            conn.close()
        http_p50_ms = statistics.median(times_http) / 1e6
        log(
            f"HTTP GET /api/resident/nearest-shelter: median {http_p50_ms:.2f} ms, p90 "
            f"{np.percentile(times_http, 90) / 1e6:.2f} ms over {n_http}; answers agree"
        )
        engine.dispose()
    finally:
        drop_database(base)

    # ------------------------------------------------------------ the evacuation plan
    plan_households, plan_s = run_plan(layers, net, fac, nodes, n_plan, rng)

    result = {
        "nodes": net.n_nodes,
        "shelters": len(index.shelter_id),
        "precompute_s": round(precompute_s, 3),
        "query_us": round(query_us, 1),
        "networkx_query_us": round(networkx_query_us, 1),
        "pgrouting_query_us": round(pgrouting_query_us, 1),
        "http_p50_ms": round(http_p50_ms, 2),
        "plan_households": plan_households,
        "plan_s": round(plan_s, 2),
    }
    goals = [
        ("precompute <= 1 s", precompute_s <= 1.0),
        ("query <= 50 µs", query_us <= 50.0),
        ("HTTP p50 <= 5 ms", http_p50_ms <= 5.0),
        ("plan of 200k households <= 10 s", plan_s <= 10.0 and plan_households >= 200_000),
    ]
    log("goals: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in goals))
    print("RESULT " + json.dumps(result))


def sh_node_ids(fac: gpd.GeoDataFrame, nodes: gpd.GeoDataFrame) -> np.ndarray:
    """``road_node.id`` of the node each shelter facility sits on (same coordinates)."""
    key = pd.Series(
        nodes["id"].to_numpy(),
        index=pd.MultiIndex.from_arrays(shapely.get_coordinates(nodes.geometry.to_numpy()).T),
    )
    xy = shapely.get_coordinates(fac.geometry.to_numpy())
    return key.loc[list(zip(xy[:, 0], xy[:, 1], strict=True))].to_numpy(np.int64)


def run_plan(
    layers: dict[str, Any],
    net: RoadNetwork,
    fac: gpd.GeoDataFrame,
    nodes: gpd.GeoDataFrame,
    n_plan: int,
    rng: np.random.Generator,
) -> tuple[int, float]:
    """Plan for ``n_plan`` households; returns (households, seconds from coordinates)."""
    hh = layers["household"]
    take = np.sort(rng.choice(len(hh), size=n_plan, replace=False))
    hh = hh.iloc[take]
    res = layers["resident"]
    needs = res["living_alone_elderly"] | res["disabled"] | res["mobility_impaired"]
    special = np.isin(hh["id"].to_numpy(), res.loc[needs, "household_id"].to_numpy())
    bld = layers["building"].set_index("id")
    b_ids, b_of_hh = np.unique(hh["building_id"].to_numpy(), return_inverse=True)
    centre = shapely.centroid(bld.loc[b_ids].geometry.to_numpy())
    speed = net.walk_speed_mps

    t_all = time.perf_counter()
    snap = net.snap(shapely.get_x(centre), shapely.get_y(centre))
    t_snap = time.perf_counter() - t_all
    src_nodes = np.searchsorted(net.node_id, sh_node_ids(fac, nodes))
    assert np.array_equal(net.node_id[src_nodes], sh_node_ids(fac, nodes)), "node ids unsorted"
    t = time.perf_counter()
    d_s = dijkstra(net.walk_graph, directed=True, indices=src_nodes)  # (shelters, nodes), s
    t_dij = time.perf_counter() - t
    t = time.perf_counter()
    u, v = net.edge_source[snap.edge], net.edge_target[snap.edge]
    cost = snap.offset_m / speed + np.minimum(
        snap.to_source_m / speed + d_s[:, u], snap.to_target_m / speed + d_s[:, v]
    )  # (shelters, buildings), seconds
    k = min(K_CANDIDATES, cost.shape[0])
    cand = np.argpartition(cost.T, k - 1, axis=1)[:, :k]  # per building
    cand_s = np.take_along_axis(cost.T, cand, axis=1)
    costs = CandidateCosts.from_triples(
        np.repeat(np.arange(n_plan), k),
        cand[b_of_hh].ravel(),
        cand_s[b_of_hh].ravel(),
        n_plan,
    )
    t_cand = time.perf_counter() - t
    t = time.perf_counter()
    plan = EvacuationPlan.solve(
        costs,
        hh["size"].to_numpy(),
        fac["capacity"].to_numpy(),
        special_needs=special,
    )
    t_solve = time.perf_counter() - t
    plan_s = time.perf_counter() - t_all
    assert np.all(plan.load <= plan.capacity), "a shelter over capacity"
    log(
        f"plan: {n_plan:,} households ({int(special.sum()):,} with special needs), "
        f"{plan.population:,} people, capacity {int(plan.capacity.sum()):,}: "
        f"{plan.unassigned_population:,} people unassigned, mean walk "
        f"{plan.mean_walk_seconds / 60:.1f} min; {plan_s:.2f} s = snap {len(b_ids):,} "
        f"buildings {t_snap:.2f} + Dijkstra x{len(src_nodes)} {t_dij:.2f} + "
        f"{k} candidates {t_cand:.2f} + solve {t_solve:.2f}"
        f"{' (timed out)' if plan.timed_out else ''}"
    )
    return n_plan, plan_s


if __name__ == "__main__":
    main()
