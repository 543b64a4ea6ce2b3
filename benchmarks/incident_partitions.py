"""Incidents by month (migration 0042) against the same cases in one table.

On a scratch database: ``--incidents`` cases over ``--months`` months in ``--grids``
grids, numbered as the server numbers them (:mod:`gis.store.incident_ids`), in the
migrated ``incident`` (one partition a month, RANGE of the number) and in a copy as one
table (``incident`` before migration 0042: the same columns, checks and indexes).  Timed
as the owner (no row-level security, so only the partitioning differs), every statement
planned anew as the server's are (psycopg never prepares), each sample's two forms in a
random order:

* one case by number (what a case page, a worker's action and the escalation read:
  ``WHERE id = ANY(:ids)``, :func:`gis.store.incident_store.read_incidents`);
* a desk's page: 50 cases of 5 grids before a random report time, newest first (the
  keyset of ``ix_incident_grid_id_reported_at_id``), as one statement;
* the desk's own page, :func:`gis.store.desk_store.page` (one walk per grid, by month
  the last months first), the first page of an area or a community, open or all;
* one grid's open cases (the worker's and the live picture's list);
* one month counted (a monthly KPI): ``WHERE reported_at >= :m AND reported_at < :next``;
* the oldest month removed: ``DELETE`` from the one table against the retention's
  :func:`gis.store.partition_store.drop_month` (delete, detach, drop), once each.

Prints a table to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import date, datetime
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import log, scratch_database
from gis import clock
from gis.db.migrate import upgrade
from gis.store import incident_ids
from gis.store import partition_store as parts

PLAIN = "incident_whole"
FORMS = (("plain", PLAIN), ("partitioned", "incident"))
OPEN = ["reported", "registered", "dispatched", "in_progress"]
#: ({b}: by month, the bounds on the number that the stores say beside a time range,
#: :func:`gis.store.incident_ids.time_bound_sql`; nothing for the one table)
STATEMENTS = {
    "one case by number": "SELECT * FROM {t} WHERE id = ANY(%(ids)s)",
    "a desk's page": (
        "SELECT id, state, reported_at FROM {t} WHERE grid_id = ANY(%(grids)s) "
        "AND reported_at < %(before)s{b} ORDER BY reported_at DESC, id DESC LIMIT 50"
    ),
    "a grid's open cases": (
        "SELECT id, state, reported_at FROM {t} WHERE grid_id = %(grid)s "
        "AND state = ANY(%(open)s) ORDER BY reported_at DESC, id DESC"
    ),
    "one month counted": (
        "SELECT count(*) FROM {t} WHERE reported_at >= %(a)s AND reported_at < %(b)s{b}"
    ),
}
BOUNDS = {
    "a desk's page": " AND id < %(before_id)s",
    "one month counted": (
        f" AND (id >= %(a_id)s OR id < {incident_ids.FIRST_CODED}) AND id < %(b_id)s"
    ),
}


def _local(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=parts.LOCAL_TZ)


def build(url: str, incidents: int, months: int, grids: int) -> tuple[date, list[int]]:
    """Migrate, fill both forms; the oldest month and the grids' ids."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    upgrade(engine)
    this = parts.month_of(clock.now())
    first = parts.add_months(this, -(months - 1))
    with engine.begin() as conn:
        parts.create_months(conn, "incident", [parts.add_months(first, k) for k in range(months)])
        conn.execute(
            text(
                "INSERT INTO incident_category (code, name, family, group_name, "
                "time_limit_hours, priority) VALUES ('99999', 'bench', 'event', 'bench', 24, 3)"
            )
        )
        community = conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, geom) VALUES ('330199999001', "
                "'测试社区', 'community', ST_GeomFromText('MULTIPOLYGON(((120.0 30.0, 120.2 "
                "30.0, 120.2 30.2, 120.0 30.2, 120.0 30.0)))', 4326)) RETURNING id"
            )
        ).scalar_one()
        grid_ids = list(
            conn.execute(
                text(
                    "INSERT INTO grid (code, name, community_id, geom) SELECT "
                    "'330199999001' || lpad(g::text, 3, '0'), '网格' || g, :c, "
                    "ST_Multi(ST_MakeEnvelope(120.0 + g * 0.001, 30.0, 120.0 + g * 0.001 "
                    "+ 0.001, 30.1, 4326)) FROM generate_series(1, :n) g RETURNING id"
                ),
                {"c": community, "n": grids},
            ).scalars()
        )
        # spread evenly over the months, within each month by the hour; as the server
        # numbers them: the month of the report, then the sequence
        conn.execute(
            text(
                "INSERT INTO incident (id, category_code, source, description, state, "
                "reported_at, grid_id, geom) SELECT "
                f"to_char(t AT TIME ZONE '{parts.LOCAL_TZ}', 'YYYYMM')::bigint "
                f"* {incident_ids.FACTOR} + g, '99999', 'patrol', 'bench', "
                "(ARRAY['reported','registered','dispatched','in_progress','closed',"
                "'rated'])[1 + g % 6], t, (:grids)[1 + g % :n], "
                "ST_SetSRID(ST_MakePoint(120.1, 30.05), 4326) FROM ("
                "SELECT g, :first + (g % :months) * interval '1 month' "
                "+ ((g / :months) % 650) * interval '1 hour' AS t "
                "FROM generate_series(1, :count) g) s"
            ),
            {
                "first": _local(first),
                "months": months,
                "count": incidents,
                "grids": grid_ids,
                "n": len(grid_ids),
            },
        )
        conn.execute(
            text(
                f"SELECT setval('incident_id_seq', (SELECT max({incident_ids.SERIAL_SQL}) "
                "FROM incident))"
            )
        )
        # the one table as incident was before 0042: its columns, checks and indexes
        conn.execute(
            text(
                f"CREATE TABLE {PLAIN} (LIKE incident INCLUDING DEFAULTS INCLUDING "
                "CONSTRAINTS INCLUDING INDEXES)"
            )
        )
        conn.execute(text(f"INSERT INTO {PLAIN} SELECT * FROM incident"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {PLAIN}"))
        conn.execute(text("VACUUM ANALYZE incident"))
    engine.dispose()
    return first, grid_ids


def timed(conn: psycopg.Connection, sql: str, params: dict) -> float:
    start = time.perf_counter()
    conn.execute(sql, params).fetchall()
    return time.perf_counter() - start


def desk_pages(url: str, grids: list[int], rng: random.Random, rounds: int) -> dict[str, float]:
    """Median ms of the desk's own page (:func:`gis.store.desk_store.page`) in both forms.

    The store names ``incident``: the one table takes its name inside a transaction that
    is rolled back, and is read as before migration 0042 (no window of months), in
    alternating blocks of 20 pages (a whole area's; a community's 12 grids; open cases
    only or all), the same pages in both forms.
    """
    from sqlalchemy import create_engine, text

    from gis.store import desk_store

    open_states = tuple(OPEN)
    queries = [
        desk_store.PageQuery(
            grid_ids=tuple(grids) if n % 2 else tuple(rng.sample(grids, 12)),
            states=open_states if n % 3 == 0 else (),
        )
        for n in range(20)
    ]
    windows = incident_ids.WINDOWS
    engine = create_engine(url)
    took: dict[str, list[float]] = {"plain": [], "partitioned": []}
    answers: dict[str, list] = {"plain": [], "partitioned": []}
    with engine.connect() as conn:
        for _ in range(max(rounds, 1)):
            for form in rng.sample(["plain", "partitioned"], 2):
                # the one table read as before 0042: one walk over everything, no window
                incident_ids.WINDOWS = () if form == "plain" else windows
                if form == "plain":
                    conn.execute(text("ALTER TABLE incident RENAME TO incident_by_month"))
                    conn.execute(text(f"ALTER TABLE {PLAIN} RENAME TO incident"))
                for q in queries:
                    start = time.perf_counter()
                    rows = desk_store.page(conn, q)
                    took[form].append(time.perf_counter() - start)
                    answers[form].append([r["id"] for r in rows])
                conn.rollback()
    incident_ids.WINDOWS = windows
    engine.dispose()
    assert answers["plain"] == answers["partitioned"], "the desk's pages differ"
    return {f: statistics.median(v) * 1e3 for f, v in took.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=300_000)
    parser.add_argument("--months", type=int, default=37)
    parser.add_argument("--grids", type=int, default=60)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    url, _ = scratch_database("wangge_bench_incident_partitions")
    log(f"building {args.incidents:,} cases over {args.months} months in {args.grids} grids")
    first, grids = build(url, args.incidents, args.months, args.grids)
    rng = random.Random(args.seed)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    samples: dict[str, dict[str, list[float]]] = {}
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM incident").fetchall()]
        times = sorted(r[0] for r in conn.execute("SELECT reported_at FROM incident"))
        for plain, monthly in zip(
            conn.execute(f"SELECT count(*), sum(id) FROM {PLAIN}").fetchone(),
            conn.execute("SELECT count(*), sum(id) FROM incident").fetchone(),
            strict=True,
        ):
            assert plain == monthly, "the two forms hold other rows"
        for _ in range(args.calls):
            month = parts.add_months(first, rng.randint(1, args.months - 2))
            before = times[rng.randint(len(times) // 10, len(times) - 1)]
            a, b = _local(month), _local(parts.add_months(month, 1))
            params = {
                "one case by number": {"ids": [rng.choice(ids)]},
                "a desk's page": {
                    "grids": rng.sample(grids, 5),
                    "before": before,
                    "before_id": incident_ids.upper_bound(before),
                },
                "a grid's open cases": {"grid": rng.choice(grids), "open": OPEN},
                "one month counted": {
                    "a": a,
                    "b": b,
                    "a_id": incident_ids.lower_bound(a),
                    "b_id": incident_ids.upper_bound(b),
                },
            }
            jobs = [(what, form, table) for what in STATEMENTS for form, table in FORMS]
            rng.shuffle(jobs)
            answers: dict[tuple[str, str], list] = {}
            for what, form, table in jobs:
                bound = BOUNDS.get(what, "") if form == "partitioned" else ""
                sql = STATEMENTS[what].format(t=table, b=bound)
                start = time.perf_counter()
                answers[(what, form)] = conn.execute(sql, params[what]).fetchall()
                took = time.perf_counter() - start
                samples.setdefault(what, {"plain": [], "partitioned": []})[form].append(took)
            for what in STATEMENTS:
                assert answers[(what, "plain")] == answers[(what, "partitioned")], what
        out = {
            what: {f: statistics.median(v) * 1e3 for f, v in by_form.items()}
            for what, by_form in samples.items()
        }
        out["the desk's page (desk_store.page)"] = desk_pages(url, grids, rng, args.calls // 20)
        lo, hi = incident_ids.first_id(first), incident_ids.first_id(parts.add_months(first, 1))
        start = time.perf_counter()
        conn.execute(f"DELETE FROM {PLAIN} WHERE id >= %(a)s AND id < %(b)s", {"a": lo, "b": hi})
        delete_ms = (time.perf_counter() - start) * 1e3
        from sqlalchemy import create_engine

        engine = create_engine(url)
        start = time.perf_counter()
        with engine.begin() as owner:
            parts.drop_month(owner, "incident", first)
        drop_ms = (time.perf_counter() - start) * 1e3
        engine.dispose()
        out["oldest month removed"] = {"plain": delete_ms, "partitioned": drop_ms}
    for what, forms in out.items():
        log(
            f"{what:22s} plain {forms['plain']:9.3f} ms   "
            f"partitioned {forms['partitioned']:9.3f} ms   "
            f"× {forms['partitioned'] / forms['plain']:.2f}"
        )
    print(
        "RESULT "
        + json.dumps(
            {
                "incidents": args.incidents,
                "months": args.months,
                "answers_agree": True,
                "ratio": {w: round(f["partitioned"] / f["plain"], 2) for w, f in out.items()},
                "ms": out,
            }
        )
    )


if __name__ == "__main__":
    main()
