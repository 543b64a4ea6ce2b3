"""``wangge serve`` in a process of its own, as an operator starts it, for the tests that
need the real command (its logging, several servers on one database)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import REPO


@contextmanager
def wangge_serve(database_url: str, log: Path, **env: str) -> Iterator[str]:
    """Start ``wangge serve`` on a free port, output (both streams) in ``log``; yield its URL.

    ``env``: more environment (``WANGGE_…`` settings).  Stopped (SIGTERM) on exit.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    environment = dict(
        os.environ, DATABASE_URL=database_url, WANGGE_HOST="127.0.0.1", WANGGE_PORT=str(port)
    )
    environment.update(env)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"],
            cwd=REPO,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
