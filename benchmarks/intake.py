"""Intake over HTTP with one app server process and with two behind the same address.

The data: the sample district of ``--households`` households (20,000) loaded into a
scratch database ``wangge_bench_intake``.  The server: ``uvicorn api.app:create_app``
with one worker, then with two (``--workers 2``: two processes behind one port, as
several servers stand behind one address), the rate limits off (one client here speaks
for a whole district's residents), the reminder job off.

Timed: ``--clients`` client threads (16), each with a keep-alive connection, filing
residents' reports (``POST /api/incidents`` with an ``Idempotency-Key``) at random
buildings of the district for ``--seconds`` (20) after a warm-up: requests a second,
p50 and p99 in milliseconds.  Checked after each run: every report answered 201 is in
the database exactly once (0 lost, 0 filed twice), and nothing else was filed.

On a 2-core machine the clients, both server processes and PostgreSQL share the two
cores: the ratio printed is what a second process gives here, not what a second machine
would.

Usage::

    .venv/bin/python benchmarks/intake.py
    .venv/bin/python benchmarks/intake.py --reuse --seconds 30 --clients 32

Prints lines to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services.accounts import issue_token
from benchmarks._common import free_port, log, scratch_database, start_uvicorn
from etl.load import load_layers
from etl.sample import generate_district
from gis.db.migrate import upgrade

BENCH_DB = "wangge_bench_intake"


def prepare(households: int, reuse: bool) -> tuple[str, list[tuple[float, float]], str, str]:
    """The database URL, building points, a category and a resident's token."""
    url, ready = scratch_database(BENCH_DB, reuse=reuse)
    engine = create_engine(url)
    upgrade(engine)
    if not ready:
        t = time.perf_counter()
        load_layers(
            engine, generate_district(households, 42, progress=False), replace=True, progress=False
        )
        log(f"district of {households:,} households loaded in {time.perf_counter() - t:.0f} s")
    with engine.connect() as conn:
        points = [
            (float(x), float(y))
            for x, y in conn.execute(
                text(
                    "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                    "FROM building ORDER BY id LIMIT 5000"
                )
            )
        ]
        category = conn.execute(text("SELECT code FROM incident_category ORDER BY code")).scalar()
    token = issue_token(engine, "bench_intake_resident", "resident")
    engine.dispose()
    return url, points, str(category), token


def run(
    port: int, points: list, category: str, token: str, clients: int, seconds: float, tag: str
) -> dict[str, Any]:
    """``clients`` threads filing reports for ``seconds``; latencies and the keys answered 201."""
    latencies: list[float] = []
    filed: list[str] = []
    failures: list[int] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        keys: list[str] = []
        bad: list[int] = []
        while time.monotonic() < stop:
            lon, lat = rng.choice(points)
            key = f"{tag}-{n}-{uuid.uuid4().hex[:12]}"
            body = json.dumps(
                {
                    "category_code": category,
                    "description": f"压测 {tag} 路灯不亮",
                    "lon": lon,
                    "lat": lat,
                }
            )
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            }
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/incidents", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                bad.append(0)
                continue
            mine.append((time.perf_counter() - t) * 1000.0)
            if response.status == 201:
                keys.append(key)
            else:
                bad.append(response.status)
        conn.close()
        with lock:
            latencies.extend(mine)
            filed.extend(keys)
            failures.extend(bad)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "filed": len(filed),
        "failures": len(failures),
        "failure_statuses": sorted(set(failures)),
        "per_s": round(len(filed) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
        "keys": filed,
    }


def check(url: str, tag: str, keys: list[str]) -> dict[str, int]:
    """How many of the reports answered 201 are stored, and how many were stored in all."""
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM incident WHERE description = :d"),
            {"d": f"压测 {tag} 路灯不亮"},
        ).scalar_one()
    engine.dispose()
    return {
        "answered_201": len(keys),
        "stored": int(stored),
        "lost": max(0, len(keys) - stored),
        "extra": max(0, stored - len(keys)),
    }


def compare_servers(
    url: str,
    points: list[tuple[float, float]],
    category: str,
    token: str,
    clients: int,
    seconds: float,
) -> dict[str, Any]:
    """Intake with one server process, then two behind one port: rates, p99, lost.

    Also run by ``benchmarks/scale.py`` (the doors' half of a province).
    """
    env = {
        "WANGGE_RATE_WRITES_PER_MIN": "0",
        "WANGGE_RATE_PUBLIC_PER_MIN": "0",
        "WANGGE_ESCALATION_INTERVAL_S": "0",
        "WANGGE_RELAY_INTERVAL_S": "0",
        "WANGGE_RETENTION_INTERVAL_S": "0",
    }
    results: dict[str, Any] = {}
    for workers in (1, 2):
        port = free_port()
        server = start_uvicorn(url, port, env, workers=workers)
        try:
            run(port, points, category, token, clients, 3.0, f"warm{workers}")
            tag = f"w{workers}-{uuid.uuid4().hex[:6]}"
            got = run(port, points, category, token, clients, seconds, tag)
        finally:
            server.terminate()
            server.wait(timeout=60)
        got.update(check(url, tag, got.pop("keys")))
        log(
            f"{workers} server process(es): {got['per_s']:.0f} reports/s, p50 {got['p50_ms']} ms, "
            f"p99 {got['p99_ms']} ms; {got['answered_201']} answered 201, {got['stored']} stored, "
            f"lost {got['lost']}, extra {got['extra']}, failures {got['failures']}"
        )
        results[f"servers_{workers}"] = got
    ratio = results["servers_2"]["per_s"] / results["servers_1"]["per_s"]
    log(f"two processes / one: {ratio:.2f}× the reports a second")
    return {**results, "throughput_ratio": round(ratio, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    url, points, category, token = prepare(args.households, args.reuse)
    results = compare_servers(url, points, category, token, args.clients, args.seconds)
    print(
        "RESULT "
        + json.dumps(
            {
                "households": args.households,
                "clients": args.clients,
                "seconds": args.seconds,
                **results,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
