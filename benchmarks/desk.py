"""The case desk at district scale: keyset pages vs the OFFSET / LIKE query written first.

The data: the sample district of ``--households`` households (200,000) with ``--incidents``
incidents (1,000,000) over six months, loaded into a scratch PostGIS database with the
project's loader (histories, ``incident_event``, are not loaded: the list does not read
them), then ``ANALYZE``.

Contenders, on the same rows, the same filters and columns, answers checked equal:

ours
    :func:`api.services.desk.desk_page` (the desk's use case: the access rule, the filter
    checks, the keyset statement of :func:`gis.store.desk_store.page` over the indexes of
    migration 0018, the rows shaped for the page), timed whole, per call.
peer
    What a developer writes first: one ``SELECT`` with the same joins, ``grid_id =
    ANY(area)``, the filters, ``description LIKE '%…%'``, ``ORDER BY reported_at DESC, id
    DESC LIMIT 51 OFFSET (page-1)*50``, on a copy of the table (``peer_incident``) with the
    indexes the schema had before the desk (0001: state, grid, reported_at, assignee,
    category; no keyset or trigram index).

Queries, for a community's staff and a street's (the largest of each): the first page;
page 101 (ours continues after page 100's last case, as the '下一页' link does; the peer
skips 5,000 rows); and filtered first pages (督办 state, overdue, one category from the
12345 hotline, a date range, a text search of three characters and one of two).  Each
query runs ``--repeat`` times, ours and the peer in turns; p50 and p95 in milliseconds,
and peer p95 / ours p95.  Then whole pages of a community's staff over HTTP (the app
in-process, a bearer token): routing, authentication, the list, the filters' choices and
the template.

A page of ours runs without parallel workers (see :mod:`gis.store.desk_store`); the peer
keeps the server's default, as a developer's first query would.

Usage::

    .venv/bin/python benchmarks/desk.py                      # 200,000 households, 1M incidents
    .venv/bin/python benchmarks/desk.py --households 50000 --incidents 250000
    .venv/bin/python benchmarks/desk.py --reuse              # the scratch database of a run before
    .venv/bin/python benchmarks/desk.py --reuse --drop       # … and drop it afterwards

Prints a table to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from datetime import time as day_time
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services import accounts, desk
from benchmarks._common import log, scratch_database
from etl.load import load_layers
from etl.sample import generate_district
from gis import clock
from gis.db import cluster
from gis.db.migrate import upgrade
from gis.settings import get_settings
from gis.store import access_store
from grids.access import Principal
from grids.incidents import OPEN_STATES, SHANGHAI

BENCH_DB = "wangge_bench_desk"
PEER_INDEXES = ("state", "grid_id", "reported_at", "assignee_id", "category_code")


def database(reuse: bool) -> tuple[str, bool]:
    """The scratch database's URL, and whether it already holds a district (``reuse``)."""
    return scratch_database(BENCH_DB, reuse=reuse)


def build(engine: Engine, households: int, incidents: int, seed: int) -> None:
    """Generate and load the district; copy the incidents to the peer's table."""
    t = time.perf_counter()
    layers = generate_district(
        households, seed, progress=False, incidents_per_household=incidents / households
    )
    layers.pop("incident_event", None)
    log(
        f"generated {households:,} households, {len(layers['incident']):,} incidents "
        f"in {time.perf_counter() - t:.0f} s"
    )
    upgrade(engine)
    t = time.perf_counter()
    load_layers(engine, layers, replace=True, progress=False)
    del layers
    log(f"loaded in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS peer_incident")
        conn.exec_driver_sql("CREATE TABLE peer_incident AS SELECT * FROM incident")
        conn.exec_driver_sql("ALTER TABLE peer_incident ADD PRIMARY KEY (id)")
        for column in PEER_INDEXES:
            conn.exec_driver_sql(f"CREATE INDEX ON peer_incident ({column})")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    log(f"peer table and ANALYZE in {time.perf_counter() - t:.0f} s")


def users(engine: Engine) -> dict[str, Principal]:
    """Staff of the community and of the street with the most incidents."""
    with engine.begin() as conn:
        community = conn.execute(
            text(
                "SELECT a.code FROM admin_area a JOIN grid g ON g.community_id = a.id "
                "JOIN incident i ON i.grid_id = g.id GROUP BY a.code ORDER BY count(*) DESC "
                "LIMIT 1"
            )
        ).scalar_one()
        street = conn.execute(
            text(
                "SELECT s.code FROM admin_area s JOIN admin_area c ON c.parent_id = s.id "
                "JOIN grid g ON g.community_id = c.id JOIN incident i ON i.grid_id = g.id "
                "WHERE s.level = 'street' GROUP BY s.code ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
        access_store.ensure_user(conn, "bench_community", "community_staff", area_code=community)
        access_store.ensure_user(conn, "bench_street", "street_staff", area_code=street)
    return {
        "community": accounts.principal_named(engine, "bench_community"),
        "street": accounts.principal_named(engine, "bench_street"),
    }


def peer_page(
    engine: Engine, user: Principal, f: desk.DeskFilter, page: int, now: Any
) -> list[int]:
    """The first query a developer writes: OFFSET paging, LIKE, the schema's old indexes."""
    where = ["i.merged_into IS NULL", "i.grid_id = ANY(:grids)"]
    params: dict[str, Any] = {"grids": sorted(user.grid_ids or ()), "offset": (page - 1) * 50}
    states = list(f.states)
    if f.overdue:
        states = sorted(OPEN_STATES)
        where.append("i.deadline < :now")
        params["now"] = now
    if states:
        where.append("i.state = ANY(:states)")
        params["states"] = states
    if f.category_code:
        where.append("i.category_code = :cat")
        params["cat"] = f.category_code
    if f.source:
        where.append("i.source = :source")
        params["source"] = f.source
    if f.date_from:
        where.append("i.reported_at >= :since")
        params["since"] = datetime.combine(f.date_from, day_time(0), tzinfo=SHANGHAI)
    if f.date_to:
        where.append("i.reported_at < :until")
        until = f.date_to + timedelta(days=1)
        params["until"] = datetime.combine(until, day_time(0), tzinfo=SHANGHAI)
    if f.q:
        where.append("i.description LIKE :q")  # ours: LIKE too, from its trigram index
        params["q"] = f"%{f.q}%"
    sql = (
        "SELECT i.id, i.category_code, c.name, c.priority, i.source, i.description, i.state, "
        "i.reported_at, i.deadline, i.assignee_id, w.name, i.grid_id, g.code, i.near_boundary, "
        "i.duplicate_of, i.address, ST_X(i.geom), ST_Y(i.geom) "
        "FROM peer_incident i JOIN incident_category c ON c.code = i.category_code "
        "LEFT JOIN grid g ON g.id = i.grid_id LEFT JOIN grid_worker w ON w.id = i.assignee_id "
        f"WHERE {' AND '.join(where)} ORDER BY i.reported_at DESC, i.id DESC "
        "LIMIT 51 OFFSET :offset"
    )
    with engine.connect() as conn:
        return [int(r[0]) for r in conn.execute(text(sql), params)]


def ours_page(
    engine: Engine, user: Principal, f: desk.DeskFilter, page: int
) -> tuple[list[int], desk.DeskFilter]:
    """The desk's use case for a page, and the filter that asks for it again.

    A deep page continues after the previous page's last case: the pages before it are
    walked once, as the '下一页' links do (not timed).
    """
    for _ in range(page - 1):
        f = replace(f, after=desk.desk_page(engine, user, f).next_after)
    return [r.id for r in desk.desk_page(engine, user, f).rows], f


def timed_pair(ours: Any, peer: Any, repeat: int) -> tuple[list[float], Any, list[float], Any]:
    """Milliseconds of ``repeat`` calls of each (after a warm-up call), and the last answers.

    The calls take turns, so that both meet the same load of the machine.
    """
    a, b = ours(), peer()
    ours_t: list[float] = []
    peer_t: list[float] = []
    for _ in range(repeat):
        t = time.perf_counter()
        a = ours()
        ours_t.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        b = peer()
        peer_t.append((time.perf_counter() - t) * 1000)
    return ours_t, a, peer_t, b


def p95(times: list[float]) -> float:
    return sorted(times)[max(0, round(0.95 * len(times)) - 1)]


def whole_pages(
    url: str, who: dict[str, Principal], repeat: int, category: str, now: Any
) -> dict[str, Any]:
    """Milliseconds of whole pages over HTTP, p50 and p95 (the home page and the desk's).

    The app runs in-process: routing, authentication, the list and the filters' choices,
    the template.
    """
    from fastapi.testclient import TestClient

    from api.app import create_app

    settings = get_settings().model_copy(update={"escalation_interval_s": 0})
    engine = create_engine(url)
    token = accounts.token_for(engine, who["community"].username)
    engine.dispose()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}
    pages = {
        "/": {},  # the home page: the caller's to-do counts
        "/desk": {},
        "/desk?state=escalated": {},
        "/desk?overdue=1": {},
        f"/desk?category={category}&source=hotline_12345": {},
        "/desk?q=垃圾箱": {},
    }
    with clock.frozen(now), TestClient(create_app(settings, database_url=url)) as client:
        for path, row in pages.items():
            client.get(path, headers=headers)
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                answer = client.get(path, headers=headers)
                times.append((time.perf_counter() - t) * 1000)
                assert answer.status_code == 200, answer.text[:300]
            row.update(p50_ms=round(statistics.median(times), 2), p95_ms=round(p95(times), 2))
            log(f"page {path:<48} p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms")
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="use the scratch database as left")
    parser.add_argument("--drop", action="store_true", help="drop the scratch database at the end")
    args = parser.parse_args()
    url, reused = database(args.reuse)
    engine = create_engine(url, pool_size=2)
    if not reused:
        build(engine, args.households, args.incidents, args.seed)
    with engine.connect() as conn:
        n, last = conn.execute(text("SELECT count(*), max(reported_at) FROM incident")).one()
        hotline_cat = conn.execute(
            text(
                "SELECT category_code FROM incident WHERE source = 'hotline_12345' "
                "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
    now = last + timedelta(minutes=1)
    day = now.astimezone(SHANGHAI).date()
    who = users(engine)
    result: dict[str, Any] = {"incidents": int(n), "households": args.households, "queries": {}}
    log(
        f"{n:,} incidents; community staff see {len(who['community'].grid_ids or ()):,} grids, "
        f"street staff {len(who['street'].grid_ids or ()):,}"
    )
    week = (day - timedelta(days=7), day)
    queries: list[tuple[str, str, desk.DeskFilter, int]] = [
        ("first page", "community", desk.DeskFilter(), 1),
        ("first page", "street", desk.DeskFilter(), 1),
        ("page 101", "community", desk.DeskFilter(), 101),
        ("page 101", "street", desk.DeskFilter(), 101),
        ("state=escalated", "street", desk.DeskFilter(states=("escalated",)), 1),
        ("overdue", "street", desk.DeskFilter(overdue=True), 1),
        (
            "category+hotline",
            "street",
            desk.DeskFilter(category_code=hotline_cat, source="hotline_12345"),
            1,
        ),
        ("last 7 days", "community", desk.DeskFilter(date_from=week[0], date_to=week[1]), 1),
        ("text 3 chars", "community", desk.DeskFilter(q="垃圾箱"), 1),
        ("text 3 chars", "street", desk.DeskFilter(q="垃圾箱"), 1),
        ("text 2 chars", "street", desk.DeskFilter(q="井盖"), 1),
    ]
    log(
        f"{'query':<18}{'area':<10}{'rows':>5}{'ours p50':>10}{'ours p95':>10}"
        f"{'peer p50':>10}{'peer p95':>10}{'ratio':>8}"
    )
    with clock.frozen(now):
        for name, area, f, page in queries:
            user = who[area]
            first_ids, at = ours_page(engine, user, f, page)
            ours_t, ours_ans, peer_t, peer_ids = timed_pair(
                partial(desk.desk_page, engine, user, at),
                partial(peer_page, engine, user, f, page, now),
                args.repeat,
            )
            ours_ids = [r.id for r in ours_ans.rows]
            assert ours_ids == first_ids == peer_ids[:50], (name, area, ours_ids[:5], peer_ids[:5])
            row = {
                "area": area,
                "page": page,
                "rows": len(ours_ids),
                "ours_p50_ms": round(statistics.median(ours_t), 2),
                "ours_p95_ms": round(p95(ours_t), 2),
                "peer_p50_ms": round(statistics.median(peer_t), 2),
                "peer_p95_ms": round(p95(peer_t), 2),
            }
            row["ratio_p95"] = round(row["peer_p95_ms"] / max(row["ours_p95_ms"], 1e-6), 1)
            result["queries"][f"{name} ({area})"] = row
            log(
                f"{name:<18}{area:<10}{row['rows']:>5}{row['ours_p50_ms']:>10}"
                f"{row['ours_p95_ms']:>10}{row['peer_p50_ms']:>10}{row['peer_p95_ms']:>10}"
                f"{row['ratio_p95']:>8}"
            )
    result["pages_http"] = whole_pages(url, who, args.repeat, hotline_cat, now)
    worst = max(q["ours_p95_ms"] for q in result["queries"].values())
    result["ours_worst_p95_ms"] = worst
    result["target_ms"] = 150
    print("RESULT " + json.dumps(result, ensure_ascii=False))
    engine.dispose()
    if args.drop:
        base = cluster.ensure_server(get_settings())
        admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
