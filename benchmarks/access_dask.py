"""Walking access of a synthetic city: one process against a 2-worker Dask LocalCluster.

The data
    A street lattice of ``--side``² nodes ``--step`` metres apart (each node moved up to
    a quarter step at random, one street in eight missing, lengths the straight lines),
    near Hangzhou (UTM 51N); ``--demand`` demand rows (people per H3 cell and grid, as
    :func:`analysis.coverage.demand_from_households` makes them) at random points over
    it, and ``--facilities`` clinics at random points.  The clinics' standard is
    ``--minutes`` on foot.
The two paths, on the same data in the same run
    single process
        :func:`analysis.coverage.access` (what ``wangge plan access`` runs): one
        multi-source Dijkstra over the whole network, every row snapped and looked up.
    Dask
        :func:`analysis.coverage.access_partitioned` on a ``LocalCluster`` of
        ``--workers`` processes of one thread (what ``wangge plan access --dask`` runs):
        tiles of ``--tile`` metres, each on its slice of the network, rows not proven
        exact retried with larger tiles.  The cluster's start is timed apart.
    The answers are checked equal: the same facility and served flag for every row and
    times within 1e-9 s.
What is printed
    Both times (best of ``--repeat``; one process timed before the cluster starts), the
    ratio single / Dask, the time of the same partitions run one after the other in this
    process (what partitioning itself costs, apart from the cluster), the rows per round,
    and a final line ``RESULT {json}``.  The machine may be shared: the load average is
    printed.

Usage::

    .venv/bin/python benchmarks/access_dask.py                    # 200² nodes, 500,000 rows
    .venv/bin/python benchmarks/access_dask.py --side 400 --demand 2000000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis import coverage as cv
from analysis.coverage import access_partitions
from analysis.network import RoadNetwork

ORIGIN = (200_000.0, 3_340_000.0)  # UTM 51N, Hangzhou
TO_LONLAT = Transformer.from_crs(32651, 4326, always_xy=True)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def lonlat(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = TO_LONLAT.transform(ORIGIN[0] + xy[:, 0], ORIGIN[1] + xy[:, 1])
    return np.asarray(lon), np.asarray(lat)


def city(side: int, step: float, rng: np.random.Generator) -> RoadNetwork:
    """The jittered street lattice as a walking network."""
    j, i = np.divmod(np.arange(side * side), side)
    xy = np.column_stack([i, j]).astype(float) * step
    xy += rng.uniform(-step / 4, step / 4, size=xy.shape)
    lon, lat = lonlat(xy)
    a = np.arange(side * side)
    src = np.concatenate([a[i < side - 1], a[j < side - 1]])
    dst = np.concatenate([a[i < side - 1] + 1, a[j < side - 1] + side])
    keep = rng.random(len(src)) > 0.125
    src, dst = src[keep], dst[keep]
    ll = np.column_stack([lon, lat])
    lines = shapely.linestrings(np.stack([ll[src], ll[dst]], axis=1))
    edges = gpd.GeoDataFrame(
        {
            "id": np.arange(len(src)) + 1,
            "source": src + 1,
            "target": dst + 1,
            "length_m": np.hypot(*(xy[src] - xy[dst]).T),
        },
        geometry=lines,
        crs=4326,
    )
    nodes = gpd.GeoDataFrame({"id": a + 1}, geometry=shapely.points(ll), crs=4326)
    return RoadNetwork.from_frames(nodes, edges, walk_speed_mps=1.2)


def demand_rows(n: int, extent: float, rng: np.random.Generator) -> pd.DataFrame:
    lon, lat = lonlat(rng.uniform(0, extent, size=(n, 2)))
    frame = pd.DataFrame(
        {
            "cell": np.arange(n, dtype=np.int64) + 1,
            "grid_id": pd.array(rng.integers(1, 1000, n), dtype="Int64"),
            "community_id": pd.array(rng.integers(1, 100, n), dtype="Int64"),
            "lon": lon,
            "lat": lat,
        }
    )
    for g in cv.GROUPS:
        frame[g] = rng.integers(1, 30, n).astype(float)
    return frame


def clinics(k: int, extent: float, rng: np.random.Generator) -> pd.DataFrame:
    lon, lat = lonlat(rng.uniform(0, extent, size=(k, 2)))
    return pd.DataFrame(
        {"id": np.arange(k) + 1, "kind": "clinic", "name": "c", "lon": lon, "lat": lat}
    )


def same(a: cv.Access, b: cv.Access) -> dict[str, Any]:
    """Whether two answers agree, and by how much the times differ."""
    fin = np.isfinite(a.time_s)
    both = fin == np.isfinite(b.time_s)
    diff = float(np.max(np.abs(a.time_s[fin] - b.time_s[fin]))) if fin.any() else 0.0
    return {
        "equal": bool(
            both.all()
            and diff <= 1e-9
            and np.array_equal(a.served, b.served)
            and np.array_equal(a.facility_id, b.facility_id)
        ),
        "max_abs_diff_s": diff,
        "facility_differs": int((a.facility_id != b.facility_id).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=200, help="lattice nodes per side")
    parser.add_argument("--step", type=float, default=100.0, help="metres between nodes")
    parser.add_argument("--demand", type=int, default=500_000, help="demand rows")
    parser.add_argument("--facilities", type=int, default=150)
    parser.add_argument("--minutes", type=float, default=15.0, help="the clinics' standard")
    parser.add_argument("--tile", type=float, default=access_partitions.DEFAULT_TILE_M)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)
    rng = np.random.default_rng(args.seed)
    t = time.perf_counter()
    network = city(args.side, args.step, rng)
    extent = (args.side - 1) * args.step
    demand = demand_rows(args.demand, extent, rng)
    sites = clinics(args.facilities, extent, rng)
    standards = cv.load_standards({"clinic": {"minutes": args.minutes}})
    log(
        f"network {network.n_nodes:,} nodes, {network.n_edges:,} edges, {extent / 1000:.1f} km "
        f"a side; {len(demand):,} demand rows, {len(sites)} clinics "
        f"({time.perf_counter() - t:.1f} s to make)"
    )

    rounds: list[tuple[float, int, int]] = []
    run_one = access_partitions.access_partition

    def counted(task: access_partitions.PartitionTask) -> access_partitions.PartitionAnswer:
        answer = run_one(task)
        rounds.append((task.buffer_m, len(task.rows), int(answer.exact.sum())))
        return answer

    single_s, dask_s = [], []
    one = many = None
    for _ in range(args.repeat):
        t = time.perf_counter()
        one = cv.access(network, demand, sites, "clinic", standards=standards)
        single_s.append(time.perf_counter() - t)
    t = time.perf_counter()
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as local,
        Client(local) as client,
    ):
        start_s = time.perf_counter() - t
        for _ in range(args.repeat):
            t = time.perf_counter()
            many = cv.access_partitioned(
                network,
                demand,
                sites,
                "clinic",
                client=client,
                standards=standards,
                tile_m=args.tile,
            )
            dask_s.append(time.perf_counter() - t)
    assert one is not None and many is not None
    # the same partitions one after the other in this process (the cost of partitioning,
    # apart from the cluster), each counted
    access_partitions.access_partition = counted
    t = time.perf_counter()
    here = cv.access_partitioned(
        network, demand, sites, "clinic", standards=standards, tile_m=args.tile
    )
    here_s = time.perf_counter() - t
    access_partitions.access_partition = run_one
    assert np.array_equal(here.time_s, many.time_s)
    per_round: dict[float, list[int]] = {}
    for buf, rows, exact in rounds:
        got = per_round.setdefault(buf, [0, 0, 0])
        got[0] += 1
        got[1] += rows
        got[2] += exact
    check = same(one, many)
    result = {
        "nodes": network.n_nodes,
        "edges": network.n_edges,
        "demand_rows": len(demand),
        "facilities": len(sites),
        "minutes": args.minutes,
        "served_share": float(one.served.mean()),
        "workers": args.workers,
        "tile_m": args.tile,
        "cluster_start_s": round(start_s, 2),
        "single_s": round(min(single_s), 2),
        "dask_s": round(min(dask_s), 2),
        "single_over_dask": round(min(single_s) / min(dask_s), 2),
        "partitioned_here_s": round(here_s, 2),
        "rounds": [
            {"buffer_m": b, "partitions": p, "rows": r, "exact": e}
            for b, (p, r, e) in sorted(per_round.items())
        ],
        **check,
        "load": os.getloadavg()[0],
    }
    log(
        f"single process {result['single_s']} s, Dask ({args.workers} workers) "
        f"{result['dask_s']} s: ratio {result['single_over_dask']} "
        f"(cluster start {result['cluster_start_s']} s apart); answers equal: {check['equal']}"
    )
    log(f"the same partitions one after the other here: {result['partitioned_here_s']} s")
    for r in result["rounds"]:
        log(
            f"  buffer {r['buffer_m']:,.0f} m: {r['partitions']} partitions, {r['rows']:,} rows, "
            f"{r['exact']:,} proven exact"
        )
    print("RESULT " + json.dumps(result))
    if not check["equal"]:
        raise SystemExit("the Dask answer differs from the single-process one")


if __name__ == "__main__":
    main()
