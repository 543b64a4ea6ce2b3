"""Upload a 12345 hotline CSV of reports crowded within 50 m: answer size, time, server memory.

Every row lies within 50 m of the others, in one category, at one time: the worst case
for the duplicate search (each row is a likely duplicate of every earlier one).  The
server is ``wangge serve`` in its own process (address space capped, so a runaway
cannot take the machine), against a scratch database with a small sample district; its
peak resident memory is read from ``/proc/PID/status`` (``VmHWM``) after each upload.
A fresh server is started for each size, and each file is uploaded twice (the second
upload must file nothing).

Usage::

    .venv/bin/python benchmarks/hotline.py [--rows 2000 20000] [--max-rows 20000]
        [--mem-limit-gb 3] [--timeout 900]

Prints one line ``RESULT {json}``.

Measured on the shared 2-core machine (loaded), server at 361 MB after start-up:

=====================  ==========  =======  ============  ====================
file                   answer      time     server peak   sent again
=====================  ==========  =======  ============  ====================
2,000 rows, before     182 MB      33 s     6.4 GB        filed all again, 500
2,000 rows, after      2.0 MB      28 s     394 MB        0 filed, 0.2 s
10,000 rows, after     9.9 MB      253 s    465 MB        0 filed, 0.3 s
20,000 rows, after     413, 431 B  0.5 s    372 MB        nothing stored
20,000 (limit raised)  19.9 MB     1330 s   553 MB        0 filed, 0.7 s
=====================  ==========  =======  ============  ====================

The time still grows with the square of a crowd's size: every row counts the earlier
reports around it (a few microseconds each in PostGIS); memory and the answer do not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services.accounts import issue_token
from benchmarks._common import scratch_database
from etl.load import load_layers
from etl.sample import generate_district
from gis.db.migrate import upgrade

REPO = Path(__file__).resolve().parent.parent
BENCH_DB = "wangge_bench_hotline"


def fresh_database() -> str:
    return scratch_database(BENCH_DB)[0]


def crowded_csv(lon: float, lat: float, rows: int, seed: int = 7) -> bytes:
    """``rows`` reports of one category within 20 m of (lon, lat), so within 50 m of each other."""
    rng = np.random.default_rng(seed)
    dx = rng.uniform(-20, 20, rows) / (111_320 * np.cos(np.radians(lat)))
    dy = rng.uniform(-20, 20, rows) / 110_540
    lines = ["category_code,description,lon,lat,reported_at"]
    lines += [
        f"10102,路灯不亮 第{i}次来电,{lon + x:.7f},{lat + y:.7f},2026-11-20T20:00:00+08:00"
        for i, (x, y) in enumerate(zip(dx, dy, strict=True))
    ]
    return ("\n".join(lines) + "\n").encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm_hwm_mb(pid: int) -> float | None:
    """Peak resident memory of a process in MB (``VmHWM``), None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return None
    return None


class PeakWatch:
    """Polls a process's ``VmHWM`` while it runs, so the peak is known even if it is killed."""

    def __init__(self, pid: int):
        self.pid, self.peak_mb, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = vm_hwm_mb(self.pid)
            if now is None:
                return
            self.peak_mb = max(self.peak_mb, now)
            time.sleep(0.1)

    def stop(self) -> float:
        """Stop polling; the peak seen, MB."""
        self._stop.set()
        self._thread.join()
        return round(self.peak_mb, 1)


def start_server(url: str, port: int, mem_limit_gb: float, max_rows: int) -> subprocess.Popen:
    """``wangge serve`` in its own process, its address space capped at ``mem_limit_gb``."""
    limit = int(mem_limit_gb * 1024**3)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(
        os.environ,
        DATABASE_URL=url,
        WANGGE_PORT=str(port),
        WANGGE_ESCALATION_INTERVAL_S="0",
        WANGGE_HOTLINE_MAX_ROWS=str(max_rows),
        WANGGE_HOTLINE_MAX_BYTES=str(64 * 1024**2),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        cwd=REPO,
        env=env,
        preexec_fn=cap,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
    proc.kill()
    raise RuntimeError("the server did not start")


def upload(port: int, token: str, data: bytes, timeout: float) -> dict:
    t = time.perf_counter()
    try:
        r = httpx.post(
            f"http://127.0.0.1:{port}/api/incidents/hotline",
            files={"file": ("12345.csv", data, "text/csv")},
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        return {"error": type(exc).__name__, "seconds": round(time.perf_counter() - t, 1)}
    body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
    return {
        "status": r.status_code,
        "seconds": round(time.perf_counter() - t, 1),
        "answer_bytes": len(r.content),
        "filed": body.get("filed"),
        "already_filed": body.get("already_filed"),
        "most_listed": max(
            (len(i.get("possible_duplicates", ())) for i in body.get("incidents", ())), default=0
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--max-rows", type=int, default=20_000, help="WANGGE_HOTLINE_MAX_ROWS")
    parser.add_argument("--mem-limit-gb", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()

    url = fresh_database()
    engine = create_engine(url)
    upgrade(engine)
    load_layers(engine, generate_district(2000, 5, progress=False), replace=True, progress=False)
    token = issue_token(engine, "bench_admin", "admin")
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(ST_Buffer("
                "geom::geography, -60)::geometry) AS p FROM grid WHERE valid_to IS NULL "
                "ORDER BY code LIMIT 1) s"
            )
        ).one()
    results = []
    for rows in args.rows:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE incident CASCADE"))
        data = crowded_csv(float(lon), float(lat), rows)
        port = free_port()
        proc = start_server(url, port, args.mem_limit_gb, args.max_rows)
        try:
            base_mb = vm_hwm_mb(proc.pid)
            watch = PeakWatch(proc.pid)
            first = upload(port, token, data, args.timeout)
            first["server_alive"] = proc.poll() is None
            if first["server_alive"]:
                second = upload(port, token, data, args.timeout)
                second["server_alive"] = proc.poll() is None
            else:
                second = {}
            peak_mb = watch.stop()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM incident")).scalar()
        one = {
            "rows": rows,
            "csv_bytes": len(data),
            "server_start_mb": base_mb,
            "server_peak_mb": peak_mb,
            "first": first,
            "second": second,
            "incidents_stored": stored,
        }
        print(json.dumps(one), file=sys.stderr)
        results.append(one)
    engine.dispose()
    print("RESULT " + json.dumps(results))


if __name__ == "__main__":
    main()
