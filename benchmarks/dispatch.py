"""Dispatch a backlog: optimal assignment vs greedy and networkx, then intake over HTTP.

Part 1 — the batch.  The sample district of 200,000 households
(``generate_district(200_000)``) gives the road network and the places: 1,000 of its
incidents (picked at random) are the open backlog, and 200 of its on-duty grid workers
(picked evenly) stand near the centre of their primary grid with 0–12 open tasks each
(limit 20, so 8–20 free slots).  Their walking times, seconds, come from
:func:`analysis.dispatch.travel_times` (one Dijkstra per worker).  Then, on the same
matrix and the same objective (travel + 600 s per task of load, growing with the load):

- ``assign_s`` / ``assign_cost``: :func:`assign_batch`, the optimum (OR-Tools min-cost
  flow; the ``slots`` formulation with ``linear_sum_assignment`` is timed too);
- ``greedy_cost``: :func:`assign_greedy`, incidents one by one to the cheapest worker at
  that moment (and, logged, ``by="travel"``: the nearest available worker);
- ``mincostflow_s``: the same problem as a networkx graph (``nx.max_flow_min_cost`` on
  the integer centisecond costs), build + solve; its cost must equal ours exactly.

Part 2 — intake.  A scratch database ``wangge_bench_dispatch`` is loaded with the sample
district, the real app is started as a subprocess (uvicorn, 2 workers, a free loopback
port, the database vacuumed and analysed as a district in service would be), and
``POST /api/incidents`` is fired by a lean asyncio keep-alive client at a bounded
concurrency for a bounded time (default 16 in flight for 10 s), with a bearer token from
``api.services.accounts.issue_token``.  Every request's latency is recorded; afterwards
the ids of the 201 answers are looked up in ``incident``: ``lost`` = accepted but not
found.  If ``api/services/accounts.py`` or the endpoint is missing, part 2 is skipped and
says why (its keys are then null).

Usage::

    .venv/bin/python benchmarks/dispatch.py [--households 200000] [--incidents 1000]
        [--workers 200] [--duration 10] [--concurrency 32] [--skip-http]

Prints a summary to stderr and, last, one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from sqlalchemy import create_engine, text

import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analysis.dispatch import COST_SCALE, assign_batch, assign_greedy, travel_times
from analysis.network import RoadNetwork
from benchmarks._common import free_port, start_uvicorn
from etl.load import load_layers
from etl.sample import generate_district
from gis.db import cluster
from gis.db.migrate import upgrade
from gis.settings import get_settings

REPO = Path(__file__).resolve().parent.parent
BENCH_DB = "wangge_bench_dispatch"
LOAD_PENALTY_S = 600.0
MAX_OPEN = 20


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- part 1
def workers_and_incidents(
    layers: dict[str, Any], n_workers: int, n_incidents: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Positions of the backlog and of the workers, and each worker's open tasks."""
    inc = layers["incident"]
    pick = np.sort(rng.choice(len(inc), size=n_incidents, replace=False))
    inc_xy = shapely.get_coordinates(inc.geometry.to_numpy()[pick])
    staff = layers["grid_worker"]
    staff = staff[staff["on_duty"]].sort_values("id")
    take = np.unique(np.linspace(0, len(staff) - 1, n_workers).round().astype(int))
    staff = staff.iloc[take]
    ga = layers["grid_assignment"]
    primary = ga[ga["role"] == "primary"].set_index("worker_id")["grid_code"]
    grids = layers["grid"].set_index("code")
    centre = shapely.centroid(grids.loc[primary.loc[staff["id"]].to_numpy()].geometry.to_numpy())
    # last known position: within ~100 m of the grid's centre
    w_xy = shapely.get_coordinates(centre) + rng.uniform(-0.001, 0.001, size=(len(staff), 2))
    open_tasks = rng.integers(0, 13, size=len(staff))
    return {
        "inc_lon": inc_xy[:, 0],
        "inc_lat": inc_xy[:, 1],
        "worker_id": staff["id"].to_numpy(np.int64),
        "w_lon": w_xy[:, 0],
        "w_lat": w_xy[:, 1],
        "open_tasks": open_tasks,
        "capacity": MAX_OPEN - open_tasks,
    }


def integer_cost(travel: np.ndarray, worker_of: np.ndarray, open_tasks: np.ndarray) -> int:
    """The objective of an assignment (worker columns) in the solver's integer units."""
    rows = np.flatnonzero(worker_of >= 0)
    cols = worker_of[rows]
    cost = int(np.rint(travel[rows, cols] * COST_SCALE).astype(np.int64).sum())
    load = np.bincount(cols, minlength=travel.shape[1])
    for w in np.flatnonzero(load):
        k = np.arange(load[w])
        cost += int(np.rint(LOAD_PENALTY_S * (open_tasks[w] + k) * COST_SCALE).sum())
    return cost


def networkx_solve(
    travel: np.ndarray, capacity: np.ndarray, open_tasks: np.ndarray
) -> tuple[int, int, float, float]:
    """The same problem as a networkx min-cost max-flow; (assigned, cost, build s, solve s)."""
    t = time.perf_counter()
    n, m = travel.shape
    g = nx.DiGraph()
    g.add_edges_from(("s", ("i", i), {"capacity": 1, "weight": 0}) for i in range(n))
    rows, cols = np.nonzero(np.isfinite(travel) & (capacity > 0)[None, :])
    cost = np.rint(travel[rows, cols] * COST_SCALE).astype(np.int64)
    g.add_edges_from(
        (("i", i), ("w", w), {"capacity": 1, "weight": c})
        for i, w, c in zip(rows.tolist(), cols.tolist(), cost.tolist(), strict=True)
    )
    for w in range(m):
        for k in range(int(capacity[w])):
            c = int(np.rint(LOAD_PENALTY_S * (open_tasks[w] + k) * COST_SCALE))
            g.add_edge(("w", w), ("slot", w, k), capacity=1, weight=c)
            g.add_edge(("slot", w, k), "t", capacity=1, weight=0)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    flow = nx.max_flow_min_cost(g, "s", "t")
    solve_s = time.perf_counter() - t
    assigned = sum(flow["s"][("i", i)] for i in range(n))
    return assigned, int(nx.cost_of_flow(g, flow)), build_s, solve_s


def part_batch(args: argparse.Namespace, layers: dict[str, Any], rng: np.random.Generator):
    t = time.perf_counter()
    net = RoadNetwork.from_frames(layers["road_node"], layers["road_edge"])
    d = workers_and_incidents(layers, args.workers, args.incidents, rng)
    log(
        f"network {net.n_nodes:,} nodes, {net.n_edges:,} edges ({time.perf_counter() - t:.2f} s); "
        f"{len(d['inc_lon']):,} incidents, {len(d['worker_id'])} workers with "
        f"{int(d['capacity'].sum()):,} free slots"
    )
    t = time.perf_counter()
    travel = travel_times(net, d["w_lon"], d["w_lat"], d["inc_lon"], d["inc_lat"], mode=args.mode)
    travel_s = time.perf_counter() - t
    finite = travel[np.isfinite(travel)]
    log(
        f"travel_times ({args.mode}, one Dijkstra per worker): {travel_s:.2f} s for "
        f"{travel.size:,} pairs; median {np.median(finite) / 60:.1f} min, "
        f"{int((~np.isfinite(travel)).sum())} unreachable"
    )
    common = {
        "capacity": d["capacity"],
        "open_tasks": d["open_tasks"],
        "load_penalty_s": LOAD_PENALTY_S,
    }
    assign_batch(travel[:50], **common)  # warm the imports, untimed
    best = assign_batch(travel, **common)
    slots = assign_batch(travel, **common, method="slots")
    greedy = assign_greedy(travel, **common)
    nearest = assign_greedy(travel, **common, by="travel")
    assert np.all(best.load <= d["capacity"]), "a worker over capacity"
    assert best.n_assigned >= greedy.n_assigned, "the optimum assigned fewer than greedy"
    tolerance = 0.5 / COST_SCALE * len(travel)  # rounding to the solver's integer units
    assert best.cost <= greedy.cost + tolerance, (best.cost, greedy.cost)
    assert abs(slots.cost - best.cost) <= tolerance, (slots.cost, best.cost)
    log(
        f"assign_batch (min-cost flow): {best.solve_s:.3f} s, cost {best.cost / 3600:,.1f} h "
        f"(travel {best.travel_s / 3600:,.1f} h), {best.n_assigned:,} assigned; "
        f"slots + linear_sum_assignment: {slots.solve_s:.3f} s, same cost"
    )
    log(
        f"greedy (cheapest now): {greedy.solve_s:.3f} s, cost {greedy.cost / 3600:,.1f} h "
        f"(+{(greedy.cost / best.cost - 1) * 100:.1f} %); nearest available: cost "
        f"{nearest.cost / 3600:,.1f} h (+{(nearest.cost / best.cost - 1) * 100:.1f} %), "
        f"travel {nearest.travel_s / 3600:,.1f} h"
    )
    nx_assigned, nx_cost, nx_build, nx_solve = networkx_solve(
        travel, d["capacity"], d["open_tasks"]
    )
    ours = integer_cost(travel, best.worker_of, d["open_tasks"])
    assert nx_assigned == best.n_assigned, (nx_assigned, best.n_assigned)
    assert nx_cost == ours, ("networkx and ours differ", nx_cost, ours)
    log(
        f"networkx max_flow_min_cost: build {nx_build:.2f} s + solve {nx_solve:.2f} s; "
        f"same cost to the centisecond ({nx_cost:,})"
    )
    return {
        "incidents": len(travel),
        "workers": int(travel.shape[1]),
        "travel_s": round(travel_s, 3),
        "assign_s": round(best.solve_s, 3),
        "assign_cost": round(best.cost, 1),
        "assigned": best.n_assigned,
        "slots_s": round(slots.solve_s, 3),
        "greedy_s": round(greedy.solve_s, 4),
        "greedy_cost": round(greedy.cost, 1),
        "nearest_cost": round(nearest.cost, 1),
        "mincostflow_s": round(nx_build + nx_solve, 2),
    }


# ---------------------------------------------------------------------- part 2
def intake_missing() -> str | None:
    """Why part 2 cannot run yet (None when it can)."""
    try:
        from api.services.accounts import issue_token  # noqa: F401
    except ImportError as exc:
        return f"api.services.accounts.issue_token is not there yet ({exc})"
    from api.app import create_app

    paths = create_app().openapi().get("paths", {})
    if "post" not in paths.get("/api/incidents", {}):
        return "the app has no POST /api/incidents route yet"
    return None


def fresh_database() -> tuple[str, str]:
    base = cluster.ensure_server(get_settings())
    drop_database(base)
    url = cluster.server_url(base, BENCH_DB)
    cluster.ensure_database(url)
    return base, url


def drop_database(base: str) -> None:
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin.dispose()


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    """The real app: uvicorn with 2 worker processes on loopback."""
    # one token files thousands of reports: intake capacity is measured, not the abuse
    # bound (WANGGE_RATE_WRITES_PER_MIN, 120 a minute per credential by default)
    return start_uvicorn(url, port, {"WANGGE_RATE_WRITES_PER_MIN": "0"}, workers=2, timeout_s=60)


async def fire(
    port: int,
    token: str,
    points: np.ndarray,
    categories: list[str],
    duration_s: float,
    concurrency: int,
) -> tuple[list[float], list[int], dict[int, int]]:
    """POST incidents for ``duration_s`` with ``concurrency`` in flight; latencies (s).

    A lean HTTP/1.1 keep-alive client on asyncio streams (one connection per request in
    flight, as wrk does): the load generator shares the two cores with the server and
    PostgreSQL, so it must cost as little as possible (httpx costs several times more
    per request and would be measured as the server's slowness).
    """
    latencies: list[float] = []
    accepted: list[int] = []
    statuses: dict[int, int] = {}
    stop = time.perf_counter() + duration_s
    counter = iter(range(10**9))

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < stop:
                k = next(counter)
                lon, lat = points[k % len(points)]
                body = json.dumps(
                    {
                        "category_code": categories[k % len(categories)],
                        "description": f"压测上报 load test report #{k}",
                        "lon": float(lon),
                        "lat": float(lat),
                        "coord_type": "wgs84",
                        "source": "resident_app",
                    }
                ).encode()
                head = (
                    f"POST /api/incidents HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                t0 = time.perf_counter()
                writer.write(head + body)
                await writer.drain()
                answer = await reader.readuntil(b"\r\n\r\n")
                status = int(answer[9:12])
                length = 0
                for line in answer.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                data = await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
                if status == 201:
                    accepted.append(int(json.loads(data)["id"]))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            statuses[0] = statuses.get(0, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    return latencies, accepted, statuses


def part_intake(
    args: argparse.Namespace, layers: dict[str, Any], rng: np.random.Generator
) -> dict[str, Any]:
    from api.services.accounts import issue_token
    from grids.categories import DEFAULT_CATEGORIES

    base, url = fresh_database()
    proc = None
    try:
        engine = create_engine(url)
        upgrade(engine)
        t = time.perf_counter()
        load_layers(engine, layers, replace=True, progress=False)
        log(f"loaded the sample district into {BENCH_DB} in {time.perf_counter() - t:.1f} s")
        # a district in service has statistics and no pending autovacuum: do not measure
        # the background analyze of 1.2 million freshly loaded rows
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE)"))
        token = issue_token(engine, "bench_resident", "resident")
        # report points: jittered building centres, inside the district's grids
        centres = shapely.get_coordinates(shapely.centroid(layers["building"].geometry.to_numpy()))
        points = centres[rng.integers(0, len(centres), 50_000)] + rng.uniform(
            -2e-4, 2e-4, (50_000, 2)
        )
        categories = [c.code for c in DEFAULT_CATEGORIES]
        port = free_port()
        proc = start_server(url, port)
        # warm-up, untimed: each worker process opens its connections (as many as requests
        # in flight) and loads what it loads lazily (grids, categories, token)
        asyncio.run(fire(port, token, points[-2000:], categories, 2.0, args.concurrency))
        # one at a time: the service time of one report, without queueing
        serial, serial_ok, _ = asyncio.run(
            fire(port, token, points[-1100:-100], categories, 3.0, 1)
        )
        with engine.connect() as conn:
            before = int(conn.execute(text("SELECT count(*) FROM incident")).scalar_one())
        load_avg = os.getloadavg()[0]
        t = time.perf_counter()
        latencies, accepted, statuses = asyncio.run(
            fire(port, token, points, categories, args.duration, args.concurrency)
        )
        wall = time.perf_counter() - t
        with engine.connect() as conn:
            after = int(conn.execute(text("SELECT count(*) FROM incident")).scalar_one())
            found = int(
                conn.execute(
                    text("SELECT count(*) FROM incident WHERE id = ANY(:ids)"),
                    {"ids": accepted + serial_ok},
                ).scalar_one()
            )
        engine.dispose()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(base)
    ms = np.asarray(latencies) * 1e3
    rps = len(latencies) / wall
    lost = len(accepted) + len(serial_ok) - found  # every 201 must be a row
    log(
        f"intake, one request at a time: p50 {np.median(serial) * 1e3:.1f} ms over "
        f"{len(serial)}; machine load average {load_avg:.1f} (2 cores) when the run began"
    )
    log(
        f"intake POST /api/incidents: {len(latencies):,} requests in {wall:.1f} s at "
        f"{args.concurrency} in flight = {rps:,.0f} req/s; p50 {np.percentile(ms, 50):.1f} ms, "
        f"p99 {np.percentile(ms, 99):.1f} ms; statuses {statuses}; {len(accepted):,} accepted "
        f"(+{len(serial_ok)} one at a time), {found:,} of them found in the table "
        f"({after - before:,} new rows during the run); lost {lost}"
    )
    return {
        "intake_rps": round(rps, 1),
        "intake_p50_ms": round(float(np.percentile(ms, 50)), 1),
        "intake_p99_ms": round(float(np.percentile(ms, 99)), 1),
        "intake_requests": len(latencies),
        "intake_accepted": len(accepted),
        "intake_errors": len(latencies) - len(accepted),
        "lost": lost,
        "intake_serial_p50_ms": round(float(np.median(serial)) * 1e3, 1),
        "load_avg_1m": round(load_avg, 1),
    }


# ---------------------------------------------------------------------- the run
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--incidents", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=200)
    parser.add_argument("--mode", choices=("walk", "drive"), default="walk")
    parser.add_argument("--duration", type=float, default=10.0, help="intake seconds")
    parser.add_argument("--concurrency", type=int, default=16, help="intake requests in flight")
    parser.add_argument("--skip-http", action="store_true", help="part 1 only")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    t = time.perf_counter()
    layers = generate_district(args.households, args.seed, progress=False)
    log(f"sample district of {args.households:,} households ({time.perf_counter() - t:.1f} s)")
    result: dict[str, Any] = part_batch(args, layers, rng)

    empty = {"intake_rps": None, "intake_p99_ms": None, "lost": None}
    why = "--skip-http given" if args.skip_http else intake_missing()
    if why:
        log(f"part 2 (intake over HTTP) skipped: {why}")
        result |= empty | {"intake_skipped": why}
    else:
        result |= part_intake(args, layers, rng)

    goals = [
        ("assignment <= 1 s", result["assign_s"] <= 1.0),
        (
            "never costlier than greedy",
            result["assign_cost"] <= result["greedy_cost"] + 0.5 / COST_SCALE * args.incidents,
        ),
    ]
    if result["intake_rps"] is not None:
        goals += [
            ("intake >= 300 req/s", result["intake_rps"] >= 300),
            ("p99 <= 100 ms", result["intake_p99_ms"] <= 100),
            ("0 lost", result["lost"] == 0),
        ]
    log("goals: " + "; ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in goals))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
