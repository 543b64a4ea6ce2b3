"""Facility location on network walking times: ours (HiGHS, compact models) vs PySAL spopt.

The instances are the sample district's: ``generate_district`` roads make the walking
network (:class:`analysis.network.RoadNetwork`), demand points are household buildings
(weight: their households), snapped to the network (the straight walk to the road
counts), and candidate sites are road nodes picked at random.  One
``scipy.sparse.csgraph.dijkstra`` from the site nodes gives the walking-time matrix,
seconds, dense and complete (every building reaches every site).

Measured, in one run:

(a) MCLP, p = 10, 2,000 demand × 200 sites, standard 10 minutes on foot (600 s), and
    p-median, p = 10, 1,000 demand × 100 sites: ours (:func:`analysis.location.mclp`
    on :func:`analysis.location.cover_matrix`, :func:`analysis.location.p_median`) and
    spopt's ``MCLP.from_cost_matrix`` / ``PMedian.from_cost_matrix`` solved by PuLP's
    HiGHS interface (the fastest solver PuLP offers here), on the same matrix, end to
    end (model build + solve), both asked for a relative gap of 1e-7.  The objectives
    are checked equal (1e-6 relative) and spopt's status is read from PuLP.
(b) 10,000 demand × 500 sites, MCLP p = 20 (10-minute standard) and p-median p = 20,
    ours only, 60 s time limit each: the time and the proven gap.  With ``--big-spopt``
    spopt's MCLP is tried at that size too, in a subprocess bounded to 120 s and 4 GB
    (its p-median would need 5 million PuLP variables and is not attempted).

Usage::

    .venv/bin/python benchmarks/coverage.py [--repeat 1] [--seed 42] [--big-spopt]

Prints a summary to stderr and one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pulp
from scipy.sparse.csgraph import dijkstra

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.location import LocationResult, cover_matrix, mclp, p_median
from analysis.network import RoadNetwork
from etl.sample import generate_district

STANDARD_S = 600.0  # the 10-minute life circle
GAP = 1e-7
BIG_TIME_LIMIT = 60.0
SPOPT_BIG_TIMEOUT = 120.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- the instances
def walking_times(
    households: int, n_demand: int, n_sites: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Walking times (seconds, n_demand × n_sites) from buildings to road-node sites.

    Returns the dense matrix and the demand weights (households per building).
    """
    district = generate_district(households, seed=seed, progress=False)
    net = RoadNetwork.from_frames(district["road_node"], district["road_edge"])
    per_building = district["household"].groupby("building_id").size()
    buildings = district["building"].set_index("id")
    buildings = buildings.loc[buildings.index.isin(per_building.index)]
    rng = np.random.default_rng(seed)
    walk_degree = np.diff(net.walk_graph.indptr)
    site_nodes = rng.choice(np.flatnonzero(walk_degree > 0), n_sites, replace=False)
    dist = dijkstra(net.walk_graph, directed=True, indices=site_nodes)  # sites × nodes
    points = shapely.point_on_surface(buildings.geometry.to_numpy())
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    snap = net.snap(lon, lat)
    speed = net.walk_speed_mps
    src, tgt = net.edge_source[snap.edge], net.edge_target[snap.edge]
    times = (
        snap.offset_m / speed
        + np.minimum(
            snap.to_source_m / speed + dist[:, src], snap.to_target_m / speed + dist[:, tgt]
        )
    ).T
    reachable = np.flatnonzero(np.isfinite(times).all(axis=1))
    if len(reachable) < n_demand:
        raise SystemExit(
            f"the sample district of {households:,} households has {len(reachable):,} "
            f"buildings that reach every site, fewer than {n_demand:,}: raise households"
        )
    pick = np.sort(rng.choice(reachable, n_demand, replace=False))
    weights = per_building.loc[buildings.index[pick]].to_numpy(np.float64)
    return np.ascontiguousarray(times[pick]), weights


# ---------------------------------------------------------------------- the runs
def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def spopt_mclp(times: np.ndarray, weights: np.ndarray, p: int) -> tuple[float, str]:
    from spopt.locate import MCLP

    model = MCLP.from_cost_matrix(times, weights, service_radius=STANDARD_S, p_facilities=p)
    model.solve(pulp.HiGHS(msg=False, gapRel=GAP))
    return float(pulp.value(model.problem.objective)), pulp.LpStatus[model.problem.status]


def spopt_pmedian(times: np.ndarray, weights: np.ndarray, p: int) -> tuple[float, str]:
    from spopt.locate import PMedian

    model = PMedian.from_cost_matrix(times, weights, p_facilities=p)
    model.solve(pulp.HiGHS(msg=False, gapRel=GAP))
    return float(pulp.value(model.problem.objective)), pulp.LpStatus[model.problem.status]


def same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def describe(name: str, result: LocationResult) -> None:
    log(
        f"  {name}: {result.status}, objective {result.objective:,.3f}, bound "
        f"{result.bound:,.3f}, gap {result.gap:.2e}, {result.solve_s:.3f} s, "
        f"sites {result.sites.tolist()}"
    )


def child_spopt(path: str, p: int) -> None:
    """Run spopt's MCLP on a saved instance (in a bounded subprocess) and print its answer."""
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    data = np.load(path)
    t0 = time.perf_counter()
    objective, status = spopt_mclp(data["times"], data["weights"], p)
    print(json.dumps({"s": time.perf_counter() - t0, "objective": objective, "status": status}))


def big_spopt(times: np.ndarray, weights: np.ndarray, p: int, ours: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "instance.npz")
        np.savez(path, times=times, weights=weights)
        cmd = [sys.executable, __file__, "--child-spopt", path, "--child-p", str(p)]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=SPOPT_BIG_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return {"mclp": f"no answer within {SPOPT_BIG_TIMEOUT:.0f} s (killed)"}
        wall = time.perf_counter() - t0
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["?"]
            return {"mclp": f"failed after {wall:.0f} s: {tail[0][:200]}"}
        got = json.loads(done.stdout.strip().splitlines()[-1])
        got["objective_equal"] = same(got["objective"], ours)
        return {"mclp": got}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs, for everyone")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--big-spopt", action="store_true", help="try spopt MCLP at size (b)")
    parser.add_argument("--child-spopt", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-p", type=int, default=20, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_spopt:
        child_spopt(args.child_spopt, args.child_p)
        return

    # warm-up: imports, HiGHS and PuLP first calls
    warm_t, warm_w = walking_times(5_000, 50, 10, args.seed)
    mclp(cover_matrix(warm_t, STANDARD_S), warm_w, 2)
    p_median(warm_t, warm_w, 2)
    spopt_mclp(warm_t, warm_w, 2)
    spopt_pmedian(warm_t, warm_w, 2)

    # (a) ours vs spopt
    t_a, w_a = walking_times(120_000, 2_000, 200, args.seed)
    log(
        f"(a) MCLP 2,000 × 200, p = 10, {STANDARD_S:.0f} s standard: times "
        f"{np.median(t_a):.0f} s median, {t_a.max():.0f} s max"
    )
    mclp_s, ours_mclp = best_of(
        args.repeat, lambda: mclp(cover_matrix(t_a, STANDARD_S), w_a, 10, mip_gap=GAP)
    )
    describe("ours", ours_mclp)
    spopt_mclp_s, (sp_mclp_obj, sp_mclp_status) = best_of(
        args.repeat, lambda: spopt_mclp(t_a, w_a, 10)
    )
    log(f"  spopt: {sp_mclp_status}, objective {sp_mclp_obj:,.3f}, {spopt_mclp_s:.3f} s")

    t_m, w_m = t_a[:1_000, :100], w_a[:1_000]
    log("(a) p-median 1,000 × 100, p = 10")
    pmedian_s, ours_pm = best_of(args.repeat, lambda: p_median(t_m, w_m, 10, mip_gap=GAP))
    describe("ours", ours_pm)
    spopt_pmedian_s, (sp_pm_obj, sp_pm_status) = best_of(
        args.repeat, lambda: spopt_pmedian(t_m, w_m, 10)
    )
    log(f"  spopt: {sp_pm_status}, objective {sp_pm_obj:,.3f}, {spopt_pmedian_s:.3f} s")
    objective_equal = bool(
        same(ours_mclp.objective, sp_mclp_obj)
        and same(ours_pm.objective, sp_pm_obj)
        and ours_mclp.status == "optimal"
        and ours_pm.status == "optimal"
        and sp_mclp_status == "Optimal"
        and sp_pm_status == "Optimal"
    )

    # (b) ours at size
    t_b, w_b = walking_times(600_000, 10_000, 500, args.seed + 1)
    log(f"(b) 10,000 × 500, p = 20, time limit {BIG_TIME_LIMIT:.0f} s")
    big_mclp = mclp(cover_matrix(t_b, STANDARD_S), w_b, 20, time_limit=BIG_TIME_LIMIT)
    describe("MCLP", big_mclp)
    big_pm = p_median(t_b, w_b, 20, time_limit=BIG_TIME_LIMIT)
    describe("p-median", big_pm)

    result: dict[str, Any] = {
        "mclp_demand": 2000,
        "mclp_sites": 200,
        "pmedian_demand": 1000,
        "pmedian_sites": 100,
        "mclp_s": round(mclp_s, 4),
        "spopt_mclp_s": round(spopt_mclp_s, 4),
        "pmedian_s": round(pmedian_s, 4),
        "spopt_pmedian_s": round(spopt_pmedian_s, 4),
        "ratio_mclp": round(spopt_mclp_s / mclp_s, 1),
        "ratio_pmedian": round(spopt_pmedian_s / pmedian_s, 1),
        "objective_equal": objective_equal,
        "big_demand": 10000,
        "big_sites": 500,
        "big_mclp_s": round(big_mclp.solve_s, 3),
        "big_mclp_gap": big_mclp.gap,
        "big_pmedian_s": round(big_pm.solve_s, 3),
        "big_pmedian_gap": big_pm.gap,
    }
    log(f"  big statuses: MCLP {big_mclp.status}, p-median {big_pm.status}")
    if args.big_spopt:
        result["big_spopt"] = big_spopt(t_b, w_b, 20, big_mclp.objective)
        log(f"  spopt at size (b): {result['big_spopt']}")
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
