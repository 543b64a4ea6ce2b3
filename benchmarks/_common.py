"""What the benchmark scripts share: a line on stderr, and a scratch database of their own.

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

from sqlalchemy import create_engine, text

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
