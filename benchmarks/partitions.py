"""Incidents' events by month against the same rows in one table, with bounded reads.

On a scratch database: ``--incidents`` cases with ``--events`` events each spread over
``--months`` months, in one table (``incident_event`` before migration 0037) and in a
copy partitioned by month as migration 0037 does it (key (id, at), an index on
(incident_id, id), one partition a month and a DEFAULT one).  Timed in alternated pairs
(one table, by month), as the owner (no row-level security, so only the partitioning
differs), every statement planned anew as the server's are (psycopg never prepares):

* one case's history (what the case page reads), over ``--calls`` random cases, median
  per call: unbounded (``WHERE incident_id = :id ORDER BY at``, the reads before
  migration 0037), bounded below by the case's report (``AND at >= :since``) and
  bounded both ways, ``AND at >= :since AND at <= :until`` (report less the lead, last
  step: the values :mod:`gis.store.event_bound` has the stores compute before the
  statement, so that the planner prunes);
* the desks' latest step of each listed case: a page of ``--page`` cases ending at a
  random report time, each with ``(SELECT max(e.id) … WHERE e.incident_id = i.id AND
  <the case's span as joined columns>)`` (and without the bound), and as the stores now
  read it (``page, ranged``): the page's cases, then their latest steps in one statement
  bounded by the page's span (:func:`gis.store.event_bound.latest_steps`), over
  ``--pages`` pages, median per page;
* one month's events counted (a monthly report): ``WHERE at >= :m AND at < :next``;
* the retention of the oldest month: ``DELETE`` of its rows from the one table against
  ``DROP TABLE`` of its partition (once each).

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
from gis.store import partition_store as parts
from gis.store.event_bound import EVENT_LEAD_SQL, earliest

PLAIN = "incident_event_whole"
MONTHLY = "incident_event_by_month"
#: One case's history ({b}: its time bound or nothing).
HISTORY = "SELECT * FROM {t} e WHERE incident_id = %(i)s {b} ORDER BY at"
#: A page's cases and their bounds, then their latest steps within the page's literal range
#: (min report less the lead, max last step): what lets the planner prune a page's months.
PAGE_CASES = (
    "SELECT i.id, i.state, i.reported_at, i.last_event_at "
    "FROM incident i WHERE i.reported_at <= %(t)s "
    "ORDER BY i.reported_at DESC, i.id DESC LIMIT %(n)s"
)
PAGE_LATEST = (
    "SELECT e.incident_id, max(e.id) FROM {t} e WHERE e.incident_id = ANY(%(ids)s) "
    "AND e.at >= %(since)s AND e.at <= %(until)s GROUP BY e.incident_id"
)
#: A case's span as joined columns (the executor prunes by them, the planner cannot).
CASE_SPAN = f"e.at >= i.reported_at - {EVENT_LEAD_SQL} AND e.at <= i.last_event_at"
#: A desk's page of cases with each one's latest step ({b}: its time bound or nothing).
PAGE = (
    "SELECT i.id, i.state, (SELECT max(e.id) FROM {t} e WHERE e.incident_id = i.id{b}) "
    "FROM incident i WHERE i.reported_at <= %(t)s "
    "ORDER BY i.reported_at DESC, i.id DESC LIMIT %(n)s"
)


def build(url: str, incidents: int, events: int, months: int) -> date:
    """Migrate, fill both forms; the oldest month."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    upgrade(engine)
    this = parts.month_of(clock.now())
    first = parts.add_months(this, -(months - 1))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incident_category (code, name, family, group_name, "
                "time_limit_hours, priority) VALUES ('99999', 'bench', 'event', 'bench', 24, 3)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO incident (id, category_code, source, description, state, "
                "reported_at, geom) SELECT g, '99999', 'patrol', 'bench', 'reported', "
                ":first + (g % :months) * interval '1 month' "
                "+ ((g / :months) % 600) * interval '1 hour', "
                "ST_SetSRID(ST_MakePoint(120.1, 30.2), 4326) FROM generate_series(1, :n) g"
            ),
            {
                "first": datetime(first.year, first.month, 2, tzinfo=parts.LOCAL_TZ),
                "months": months,
                "n": incidents,
            },
        )
        # both forms made here, from the migrated table's columns and checks, whichever
        # form the migrations give it: one table, and by month as migration 0037 does;
        # a case's events follow it by hours to days, within about its month
        conn.execute(
            text(
                f"CREATE TABLE {PLAIN} (LIKE incident_event INCLUDING DEFAULTS "
                "INCLUDING CONSTRAINTS INCLUDING IDENTITY)"
            )
        )
        conn.execute(text(f"ALTER TABLE {PLAIN} ADD PRIMARY KEY (id)"))
        conn.execute(text(f"CREATE INDEX ON {PLAIN} (incident_id)"))
        conn.execute(
            text(
                f"INSERT INTO {PLAIN} (incident_id, to_state, at) "
                "SELECT i.id, 'reported', i.reported_at + (e * interval '20 hours') "
                "FROM incident i, generate_series(0, :e - 1) e"
            ),
            {"e": events},
        )
        # each case's last step kept on it (migration 0037's incident.last_event_at)
        conn.execute(
            text("ALTER TABLE incident ADD COLUMN IF NOT EXISTS last_event_at timestamptz")
        )
        conn.execute(
            text(
                f"UPDATE incident i SET last_event_at = m.at FROM (SELECT incident_id, "
                f"max(at) AS at FROM {PLAIN} GROUP BY incident_id) m WHERE m.incident_id = i.id"
            )
        )
        conn.execute(
            text(
                f"CREATE TABLE {MONTHLY} (LIKE incident_event INCLUDING DEFAULTS "
                "INCLUDING CONSTRAINTS) PARTITION BY RANGE (at)"
            )
        )
        conn.execute(text(f"ALTER TABLE {MONTHLY} ADD PRIMARY KEY (id, at)"))
        # (incident_id, id), not (incident_id) alone: by month, max(e.id) of a case is
        # otherwise planned as a backward walk of each month's key (id, at) until a row of
        # the case turns up (2 s a page of 50 cases against 4 ms)
        conn.execute(text(f"CREATE INDEX ON {MONTHLY} (incident_id, id)"))
        conn.execute(text(f"CREATE TABLE {MONTHLY}_default PARTITION OF {MONTHLY} DEFAULT"))
        for k in range(months + 1):
            a, b = parts.add_months(first, k), parts.add_months(first, k + 1)
            conn.execute(
                text(
                    f"CREATE TABLE {MONTHLY}_{a:%Y_%m} PARTITION OF {MONTHLY} FOR VALUES "
                    f"FROM ('{_local(a).isoformat()}') TO ('{_local(b).isoformat()}')"
                )
            )
        conn.execute(text(f"INSERT INTO {MONTHLY} SELECT * FROM {PLAIN}"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {PLAIN}"))
        conn.execute(text(f"VACUUM ANALYZE {MONTHLY}"))
        conn.execute(text("VACUUM ANALYZE incident"))
    engine.dispose()
    return first


def _local(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=parts.LOCAL_TZ)


def timed(conn: psycopg.Connection, sql: str, params: dict) -> float:
    start = time.perf_counter()
    conn.execute(sql, params).fetchall()
    return time.perf_counter() - start


def ranged_page(conn: psycopg.Connection, table: str, params: dict) -> float:
    """A desk page as two statements: its cases, then their latest steps in the page's range."""
    start = time.perf_counter()
    cases = conn.execute(PAGE_CASES, params).fetchall()
    conn.execute(
        PAGE_LATEST.format(t=table),
        {
            "ids": [c[0] for c in cases],
            "since": earliest(min(c[2] for c in cases)),
            "until": max(c[3] for c in cases),
        },
    ).fetchall()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=6)
    parser.add_argument("--months", type=int, default=37)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--page", type=int, default=50)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    url, _ = scratch_database("wangge_bench_partitions")
    log(f"building {args.incidents:,} cases × {args.events} events over {args.months} months")
    first = build(url, args.incidents, args.events, args.months)
    rng = random.Random(args.seed)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    out: dict[str, dict[str, float]] = {}
    # never prepared: the server plans each statement anew (migration 0028), and so here
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=None) as conn:
        reported = dict(conn.execute("SELECT id, reported_at FROM incident").fetchall())
        last = dict(conn.execute("SELECT id, last_event_at FROM incident").fetchall())
        # each sample's statements in a random order: the one run second would find the
        # case's pages in the buffers the first read them into
        samples: dict[str, dict[str, list[float]]] = {}

        def run(jobs: list[tuple[str, str, str, dict]]) -> None:
            rng.shuffle(jobs)
            for what, form, sql, params in jobs:
                took = (
                    ranged_page(conn, sql, params)
                    if what == "page, ranged"
                    else timed(conn, sql, params)
                )
                samples.setdefault(what, {"plain": [], "partitioned": []})[form].append(took)

        forms = (("plain", PLAIN), ("partitioned", MONTHLY))
        since_only = "e.at >= %(since)s"
        # the bounds gis.store.event_bound has the stores give (values computed before)
        ranged_bound = "e.at >= %(since)s AND e.at <= %(until)s"
        for _ in range(args.calls):
            i = rng.randint(1, args.incidents)
            whole = {"i": i}
            since = {"i": i, "since": earliest(reported[i])}
            ranged = {**since, "until": last[i]}
            cases = (
                ("case history", "", whole),
                ("case history bounded", f"AND {since_only}", since),
                ("case history ranged", f"AND {ranged_bound}", ranged),
            )
            run(
                [
                    (what, form, HISTORY.format(t=table, b=bound), params)
                    for what, bound, params in cases
                    for form, table in forms
                ]
            )
        times = sorted(reported.values())
        for _ in range(args.pages):
            params = {"t": times[rng.randint(args.page, len(times) - 1)], "n": args.page}
            run(
                [
                    (
                        "latest step, a page",
                        form,
                        PAGE.format(t=table, b=f" AND {CASE_SPAN}"),
                        params,
                    )
                    for form, table in forms
                ]
                + [
                    ("latest step unbounded", form, PAGE.format(t=table, b=""), params)
                    for form, table in forms
                ]
                + [("page, ranged", form, table, params) for form, table in forms]
            )
        for what, by_form in samples.items():
            out[what] = {f: statistics.median(v) * 1e3 for f, v in by_form.items()}
        month = {"plain": [], "partitioned": []}
        for _ in range(30):
            m = parts.add_months(first, rng.randint(1, args.months - 2))
            bounds = {"a": _local(m), "b": _local(parts.add_months(m, 1))}
            for form, table in (("plain", PLAIN), ("partitioned", MONTHLY)):
                month[form].append(
                    timed(
                        conn,
                        f"SELECT count(*) FROM {table} WHERE at >= %(a)s AND at < %(b)s",
                        bounds,
                    )
                )
        out["one month counted"] = {f: statistics.median(v) * 1e3 for f, v in month.items()}
        cut = _local(parts.add_months(first, 1))
        start = time.perf_counter()
        conn.execute(f"DELETE FROM {PLAIN} WHERE at < %(c)s", {"c": cut})
        delete_ms = (time.perf_counter() - start) * 1e3
        start = time.perf_counter()
        conn.execute(f"DROP TABLE {MONTHLY}_{first:%Y_%m}")
        drop_ms = (time.perf_counter() - start) * 1e3
        out["oldest month removed"] = {"plain": delete_ms, "partitioned": drop_ms}
    for what, forms in out.items():
        log(
            f"{what:22s} plain {forms['plain']:9.3f} ms   "
            f"partitioned {forms['partitioned']:9.3f} ms"
        )
    print(
        "RESULT "
        + json.dumps(
            {
                "incidents": args.incidents,
                "events": args.incidents * args.events,
                "months": args.months,
                "ratio": {w: round(f["partitioned"] / f["plain"], 2) for w, f in out.items()},
                "ms": out,
            }
        )
    )


if __name__ == "__main__":
    main()
