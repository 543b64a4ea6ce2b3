"""What the per-office data versions (migration 0034) cost a bulk write: with and without.

On a scratch database: one office's ``--rows`` households COPYed into ``household`` in
one transaction, then all of them updated, then deleted — each timed with the office
triggers of migration 0034 (``REFERENCING NEW TABLE`` / ``OLD TABLE``: every row goes
into a transition table, then ``SELECT DISTINCT office_id`` over it) and with them
disabled (what migration 0033 did: one ``nextval`` per statement).  Alternated pairs,
``--rounds`` of them, median per step; as the owner (no row-level security).

Prints a table to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import log, scratch_database
from gis.db.migrate import upgrade

BENCH_DB = "wangge_bench_office_versions"
TRIGGERS = [f"household_office_versions_{e}" for e in ("insert", "update", "delete")]
STEPS = ("copy", "update", "delete")


def build(dsn: str, buildings: int) -> int:
    """One office and its buildings; the office's id."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        office = conn.execute(
            "INSERT INTO admin_area (code, name, level, geom) VALUES ('330106109', 'A街道', "
            "'street', ST_Multi(ST_MakeEnvelope(120.0, 30.0, 120.2, 30.2, 4326))) RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO building (ref, floors, office_id, geom) "
            "SELECT 'B' || i, 6, %s, ST_Multi(ST_MakeEnvelope(120.0 + i * 1e-5, 30.1, "
            "120.0 + i * 1e-5 + 5e-6, 30.10001, 4326)) FROM generate_series(1, %s) i",
            (office, buildings),
        )
        conn.execute("VACUUM ANALYZE building")
    return office


def one_round(dsn: str, office: int, rows: int, buildings: int, on: bool) -> dict[str, float]:
    """Seconds of each step (COPY, UPDATE, DELETE), each its own transaction."""
    took = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        switch = "ENABLE" if on else "DISABLE"
        for trigger in TRIGGERS:
            conn.execute(f"ALTER TABLE household {switch} TRIGGER {trigger}")
        first = conn.execute("SELECT min(id) FROM building").fetchone()[0]
        t = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(
                "COPY household (id, ref, office_id, building_id, unit, room, size) FROM STDIN"
            ) as copy,
        ):
            for i in range(rows):
                b = first + i % buildings
                copy.write_row((i + 1, f"H{i}", office, b, 1, str(i // buildings), 3))
        took["copy"] = time.perf_counter() - t
        t = time.perf_counter()
        with conn.transaction():
            conn.execute("UPDATE household SET size = 4")
        took["update"] = time.perf_counter() - t
        t = time.perf_counter()
        with conn.transaction():
            conn.execute("DELETE FROM household")
        took["delete"] = time.perf_counter() - t
        conn.execute("VACUUM household")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--buildings", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url, _ = scratch_database(BENCH_DB)
    from sqlalchemy import create_engine

    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    office = build(dsn, args.buildings)
    one_round(dsn, office, 1000, args.buildings, True)  # warm up; makes the office's sequence
    times: dict[bool, dict[str, list[float]]] = {on: {s: [] for s in STEPS} for on in (False, True)}
    for r in range(args.rounds):
        for on in (False, True) if r % 2 == 0 else (True, False):
            for step, s in one_round(dsn, office, args.rows, args.buildings, on).items():
                times[on][step].append(s)
    result = {}
    log(f"{args.rows:,} households of one office, median of {args.rounds} (seconds)")
    log(f"{'step':8} {'0033 (per table)':>18} {'0034 (per office)':>18} {'extra':>8}")
    for step in STEPS:
        before = statistics.median(times[False][step])
        after = statistics.median(times[True][step])
        log(f"{step:8} {before:18.3f} {after:18.3f} {100 * (after / before - 1):7.1f}%")
        result[step] = {"before_s": round(before, 3), "after_s": round(after, 3)}
    print("RESULT " + json.dumps({"rows": args.rows, **result}))


if __name__ == "__main__":
    main()
