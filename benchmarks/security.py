"""The cost of row-level security (migration 0022) on the hot reads, side by side in one run.

The data: the sample district of ``--households`` households (50,000) with
``--incidents`` incidents (250,000), loaded into a scratch PostGIS database with the
project's loader, then ``VACUUM ANALYZE``.

Two engines on the same database: **off**, the owner's (:func:`gis.db.engine.get_engine`,
the policies do not apply: what the server did before 0022), and **on**, the server's
(:func:`gis.db.engine.get_app_engine`:
``SET ROLE wangge_app`` and the caller's settings at the start of every transaction, so
every statement also passes the policies).  The same use cases run through both, in
turns, with the same principal:

case list
    :func:`api.services.desk.desk_page`, the first page of a community's staff (the
    community with most cases), and the first page of open cases.
registry search
    :func:`api.services.registry.search`: the area's first page, and a text search.
worker households
    :func:`api.services.worker.households`: the households and residents of a worker's
    grid (identities masked except at their tasks; the read is audited).
incident intake
    :func:`api.services.intake.file_report`: a resident's report at a point of the
    worker's grid (the duplicate search, two inserts), a write whose answer is read back.

The answers of both engines are checked equal first (the ids listed; not for intake,
whose every call adds a report).  Each runs ``--repeat`` times per engine (after two
warm-up calls each); p50 and p95 in milliseconds and the overhead ``on p50 / off p50 - 1``.
The target is ≤ 15 %.  Beside it the fastest call of each and their ratio
(``overhead_min``): on a machine shared with other work the p50 of a few milliseconds
moves by tens of percent between runs, the fastest call much less.

Usage::

    .venv/bin/python benchmarks/security.py                       # 50,000 households
    .venv/bin/python benchmarks/security.py --households 20000 --incidents 100000
    .venv/bin/python benchmarks/security.py --reuse               # the district of a run before
    .venv/bin/python benchmarks/security.py --reuse --drop        # … and drop it afterwards

Prints a table to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services import accounts, desk, intake, registry, worker
from api.services.grids import load_current_grids
from benchmarks._common import log, scratch_database
from etl.load import load_layers
from etl.sample import generate_district
from gis.db import cluster, principal
from gis.db.engine import get_app_engine, get_engine
from gis.db.migrate import upgrade
from gis.settings import get_settings
from gis.store import access_store
from grids.access import Principal

BENCH_DB = "wangge_bench_security"


def database(reuse: bool) -> tuple[str, bool]:
    """The scratch database's URL, and whether it already holds a district (``reuse``)."""
    return scratch_database(BENCH_DB, reuse=reuse)


def drop(url: str) -> None:
    """Drop the scratch database."""
    base = cluster.ensure_server(get_settings())
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin.dispose()


def build(engine: Engine, households: int, incidents: int, seed: int) -> None:
    """Generate and load the district."""
    t = time.perf_counter()
    layers = generate_district(
        households, seed, progress=False, incidents_per_household=incidents / households
    )
    layers.pop("incident_event", None)
    upgrade(engine)
    load_layers(engine, layers, replace=True, progress=False)
    del layers
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    log(f"district built and loaded in {time.perf_counter() - t:.0f} s")


def people(engine: Engine) -> dict[str, Any]:
    """A community's staff (the community with most cases), a worker, a resident."""
    with engine.connect() as conn:
        community = conn.execute(
            text(
                "SELECT a.code FROM admin_area a JOIN grid g ON g.community_id = a.id "
                "JOIN incident i ON i.grid_id = g.id GROUP BY a.code ORDER BY count(*) DESC "
                "LIMIT 1"
            )
        ).scalar_one()
        grid = conn.execute(
            text(
                "SELECT g.code, u.username, ST_X(ST_PointOnSurface(g.geom)) AS lon, "
                "ST_Y(ST_PointOnSurface(g.geom)) AS lat FROM grid g "
                "JOIN grid_assignment a ON a.grid_id = g.id AND a.role = 'primary' "
                "JOIN grid_worker w ON w.id = a.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL ORDER BY (SELECT count(*) FROM household h "
                "WHERE h.grid_id = g.id) DESC LIMIT 1"
            )
        ).one()
        category = conn.execute(text("SELECT code FROM incident_category LIMIT 1")).scalar_one()
    accounts.issue_token(engine, "bench_staff", "community_staff", community)
    accounts.issue_token(engine, "bench_resident", "resident")
    with engine.begin() as conn:
        users = {
            n: Principal.of(access_store.user_by_name(conn, n))
            for n in ("bench_staff", "bench_resident", grid.username)
        }
    return {
        "staff": users["bench_staff"],
        "resident": users["bench_resident"],
        "worker": users[grid.username],
        "grid_code": grid.code,
        "point": (float(grid.lon), float(grid.lat)),
        "category": category,
    }


def timed(call: Callable[[], Any]) -> float:
    t = time.perf_counter()
    call()
    return (time.perf_counter() - t) * 1000.0


def compare(
    name: str,
    user: Principal,
    run: Callable[[Engine], Any],
    engines: dict[str, Engine],
    repeat: int,
    answer: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """``run(engine)`` as ``user`` on both engines, in turns; p50, p95 and the overhead.

    ``answer(result)``: what must be the same with and without the policies (checked).
    """
    principal.set_user(user)
    try:
        if answer is not None:
            got = {key: answer(run(engine)) for key, engine in engines.items()}
            if got["on"] != got["off"]:
                sys.exit(f"{name}: the answers differ with and without row-level security")
        for engine in engines.values():
            run(engine)
            run(engine)
        times: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(repeat):
            for key, engine in engines.items():
                times[key].append(timed(lambda e=engine: run(e)))
    finally:
        principal.set_principal(None)
    out: dict[str, Any] = {"query": name}
    for key, values in times.items():
        values.sort()
        out[f"{key}_p50_ms"] = round(statistics.median(values), 2)
        out[f"{key}_p95_ms"] = round(values[int(0.95 * (len(values) - 1))], 2)
        out[f"{key}_min_ms"] = round(values[0], 2)
    out["overhead"] = round(out["on_p50_ms"] / out["off_p50_ms"] - 1.0, 3)
    # the fastest call of each: what the policies cost when nothing else competes for the
    # machine (on a shared machine the p50 moves by tens of percent from run to run)
    out["overhead_min"] = round(out["on_min_ms"] / out["off_min_ms"] - 1.0, 3)
    log(
        f"{name:<34} off p50 {out['off_p50_ms']:8.2f} p95 {out['off_p95_ms']:8.2f}   "
        f"on p50 {out['on_p50_ms']:8.2f} p95 {out['on_p95_ms']:8.2f}   "
        f"overhead {out['overhead'] * 100:+6.1f} %   "
        f"(min {out['off_min_ms']:.2f} / {out['on_min_ms']:.2f}: "
        f"{out['overhead_min'] * 100:+6.1f} %)"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=50_000)
    parser.add_argument("--incidents", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--drop", action="store_true")
    args = parser.parse_args()

    settings = get_settings()
    if not settings.db_app_role:
        sys.exit("WANGGE_DB_APP_ROLE is empty: set it (wangge_app) to measure the policies")
    url, ready = database(args.reuse)
    # the server's engine as it was before the policies (the same loaders, no SET ROLE)
    off = get_engine(settings, url=url)
    if not ready:
        build(off, args.households, args.incidents, args.seed)
    else:
        upgrade(off)
    on = get_app_engine(settings, url=url)
    engines = {"off": off, "on": on}
    who = people(off)
    with principal.as_system():
        snap = load_current_grids(off, settings, 0)
    lon, lat = who["point"]
    report = intake.Report(
        category_code=who["category"], description="bench: 井盖松动", lon=lon, lat=lat
    )
    staff, wk = who["staff"], who["worker"]
    results = [
        compare(
            "case list: first page",
            staff,
            lambda e: desk.desk_page(e, staff, desk.DeskFilter()),
            engines,
            args.repeat,
            lambda page: [r.id for r in page.rows],
        ),
        compare(
            "case list: open cases",
            staff,
            lambda e: desk.desk_page(e, staff, desk.DeskFilter(states=("dispatched",))),
            engines,
            args.repeat,
            lambda page: [r.id for r in page.rows],
        ),
        compare(
            "registry search: first page",
            staff,
            lambda e: registry.search(e, staff, registry.search_query()),
            engines,
            args.repeat,
            lambda found: ([h.id for h in found.households], [b["id"] for b in found.buildings]),
        ),
        compare(
            "registry search: text '1'",
            staff,
            lambda e: registry.search(e, staff, registry.search_query("1")),
            engines,
            args.repeat,
            lambda found: ([h.id for h in found.households], [b["id"] for b in found.buildings]),
        ),
        compare(
            "worker households: one grid",
            wk,
            lambda e: worker.households(e, settings, wk, who["grid_code"], only_vulnerable=False),
            engines,
            args.repeat,
            lambda found: [(h.id, len(h.residents)) for h in found],
        ),
        compare(
            "incident intake: a resident's report",
            who["resident"],
            lambda e: intake.file_report(e, snap, settings, who["resident"], report),
            engines,
            args.repeat,
        ),
    ]
    worst = max(r["overhead"] for r in results)
    log(f"worst overhead {worst * 100:+.1f} % (target ≤ +15 %)")
    on.dispose()
    off.dispose()
    if args.drop:
        drop(url)
    print(
        "RESULT "
        + json.dumps(
            {
                "households": args.households,
                "incidents": args.incidents,
                "repeat": args.repeat,
                "worst_overhead": worst,
                "results": results,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
