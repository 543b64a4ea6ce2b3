"""Load a 200,000-household district into PostGIS: ours (validate + locate + COPY) vs to_postgis.

The peer is what an analyst would write: ``GeoDataFrame.to_postgis`` for the spatial
layers and ``DataFrame.to_sql`` for the others, into a schema of its own, with the
same frames.  Ours does more work (validation, placing every record in its grid and
H3 cell, constraints and indexes) and must still be faster.

Usage::

    .venv/bin/python benchmarks/load.py [--households 200000] [--seed 42]

Prints one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, text

import geopandas as gpd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import scratch_database, server_floor
from etl.load import load_layers
from etl.sample import generate_district
from gis.db.migrate import upgrade

BENCH_DB = "wangge_bench_load"


def fresh_database() -> str:
    return scratch_database(BENCH_DB)[0]


def peer_load(engine, layers: dict[str, pd.DataFrame]) -> None:
    """What an analyst would write: to_postgis / to_sql, one layer after another."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS peer CASCADE; CREATE SCHEMA peer")
    for name, frame in layers.items():
        if isinstance(frame, gpd.GeoDataFrame):
            frame.to_postgis(name, engine, schema="peer", if_exists="replace", index=False)
        else:
            frame.to_sql(name, engine, schema="peer", if_exists="replace", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time the server alone writing the same rows (binary COPY, no Python)",
    )
    args = parser.parse_args()

    t = time.perf_counter()
    layers = generate_district(args.households, args.seed, progress=False)
    print(
        f"generated {args.households:,} households in {time.perf_counter() - t:.1f} s",
        file=sys.stderr,
    )
    engine = create_engine(fresh_database())
    upgrade(engine)

    t = time.perf_counter()
    report = load_layers(engine, layers, replace=True, progress=False)
    ours_s = time.perf_counter() - t

    t = time.perf_counter()
    peer_load(engine, layers)
    peer_s = time.perf_counter() - t

    with engine.connect() as conn:
        for name, frame in layers.items():
            ours = conn.execute(text(f"SELECT count(*) FROM public.{name}")).scalar_one()
            peer = conn.execute(text(f"SELECT count(*) FROM peer.{name}")).scalar_one()
            assert ours == peer == len(frame), (name, ours, peer, len(frame))
    floor_s = None
    if args.floor:
        loaded = [t for t, n in report.rows.items() if n]
        with tempfile.TemporaryDirectory() as folder:
            floor_s = server_floor(engine, loaded, Path(folder))
        print(
            f"the server alone, the same rows as binary COPY: {floor_s:.2f} s "
            f"(ratio at best {peer_s / floor_s:.2f}x)",
            file=sys.stderr,
        )
    households = report.rows["household"]
    rows = sum(len(f) for f in layers.values())
    print(
        f"ours: {ours_s:.2f} s ({households / ours_s:,.0f} households/s); "
        f"to_postgis: {peer_s:.2f} s ({households / peer_s:,.0f} households/s); "
        f"{rows:,} rows in {len(layers)} layers, counts agree",
        file=sys.stderr,
    )
    engine.dispose()
    result = {
        "households": households,
        "rows": rows,
        "ours_s": round(ours_s, 3),
        "peer_s": round(peer_s, 3),
        "ours_households_per_s": round(households / ours_s),
        "peer_households_per_s": round(households / peer_s),
        "ratio": round(peer_s / ours_s, 2),
    }
    if floor_s is not None:
        result["server_floor_s"] = round(floor_s, 3)
        result["ratio_at_best"] = round(peer_s / floor_s, 2)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
