"""What the benchmark scripts share: progress lines, scratch databases, the server's floor.

A line on stderr, a scratch database of their own, and the least time the server needs to
write a load's rows (:func:`server_floor`).

Not a benchmark itself (``make bench`` skips files starting with ``_``).
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from gis.db import cluster
from gis.settings import get_settings


def log(message: str) -> None:
    """One line of progress on stderr (stdout carries the RESULT line)."""
    print(message, file=sys.stderr, flush=True)


def scratch_database(name: str, *, reuse: bool = False) -> tuple[str, bool]:
    """The URL of the benchmark's own database ``name``, and whether it was kept.

    Dropped and created empty, unless ``reuse`` and it exists (then left as it is, so a
    benchmark can time again on the district it built before).
    """
    base = cluster.ensure_server(get_settings())
    url = cluster.server_url(base, name)
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}
        ).first()
        if exists and not reuse:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.dispose()
    if exists and reuse:
        return url, True
    cluster.ensure_database(url)
    return url, False


REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_uvicorn(
    url: str, port: int, env: dict[str, str], *, workers: int = 1, timeout_s: float = 120
) -> subprocess.Popen[bytes]:
    """The real app under uvicorn on loopback against ``url``, once it answers ``/health``.

    ``env``: settings of the benchmark's server on top of this process's environment
    (e.g. a rate limit off: one client asks what a whole district would).
    """
    cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env, "DATABASE_URL": url}, cwd=REPO)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError(f"the server did not answer /health within {timeout_s:g} s")


def server_floor(engine: Engine, tables: list[str], folder: Path) -> float:
    """Seconds the server alone needs for the load's writes: every stored row again.

    The loaded tables are copied out as binary COPY files, then, in one transaction as a
    replacing load does (emptied, indexes and keys dropped, rows copied frozen, indexes
    and keys made again, statistics), copied back in and rolled back.  No Python work:
    the rows arrive ready, so this is the least any load of the same rows into the same
    schema (its triggers, keys, indexes, row security) can take on this machine.
    """
    import psycopg

    from gis.db.bulk import deferred_indexes
    from gis.store.load_store import empty_tables

    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        columns: dict[str, list[str]] = {}
        for table in tables:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'public' AND table_name = %s AND is_generated = 'NEVER' "
                "ORDER BY ordinal_position",
                (table,),
            )
            columns[table] = [r[0] for r in cur.fetchall()]
            names = ", ".join(columns[table])
            with (
                (folder / table).open("wb") as out,
                cur.copy(f"COPY (SELECT {names} FROM {table}) TO STDOUT (FORMAT binary)") as copy,
            ):
                for chunk in copy:
                    out.write(chunk)
        cur.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relkind = 'p' AND c.relname = ANY(%s)",
            (tables,),
        )
        partitioned = {r[0] for r in cur.fetchall()}
    steps: dict[str, float] = {}
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        t = time.perf_counter()
        with conn.transaction():
            empty_tables(cur, tables, restart=True)
            with deferred_indexes(cur, tables):
                steps["empty, keys and indexes dropped"] = time.perf_counter() - t
                for table in tables:
                    freeze = "" if table in partitioned else ", FREEZE"
                    names = ", ".join(columns[table])
                    with (
                        (folder / table).open("rb") as src,
                        cur.copy(
                            f"COPY {table} ({names}) FROM STDIN (FORMAT binary{freeze})"
                        ) as copy,
                    ):
                        while chunk := src.read(1 << 20):
                            copy.write(chunk)
                    steps[f"COPY {table}"] = time.perf_counter() - t - sum(steps.values())
            steps["keys and indexes made"] = time.perf_counter() - t - sum(steps.values())
            for table in tables:
                cur.execute(f"ANALYZE {table}")
            floor = time.perf_counter() - t
            steps["ANALYZE"] = floor - sum(steps.values())
            raise psycopg.Rollback()
    for step, seconds in sorted(steps.items(), key=lambda kv: -kv[1])[:8]:
        print(f"  {step}: {seconds:.2f} s", file=sys.stderr)
    return floor
