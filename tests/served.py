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


def _start(database_url: str, log: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
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
    return server, f"http://127.0.0.1:{port}"


def _wait(server: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, log.read_text(encoding="utf-8")
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)


@contextmanager
def wangge_servers(database_url: str, logs: list[Path], **env: str) -> Iterator[list[str]]:
    """Start one ``wangge serve`` per log file, all at once, on free ports; yield their URLs.

    Each writes its output (both streams) to its log; ``env``: more environment (``WANGGE_…``
    settings).  All are stopped (SIGTERM) on exit.
    """
    started = [_start(database_url, log, env) for log in logs]
    try:
        for (server, url), log in zip(started, logs, strict=True):
            _wait(server, url, log)
        yield [url for _, url in started]
    finally:
        for server, _ in started:
            server.terminate()
        for server, _ in started:
            server.wait(timeout=30)


@contextmanager
def wangge_serve(database_url: str, log: Path, **env: str) -> Iterator[str]:
    """One ``wangge serve`` (see :func:`wangge_servers`); yield its URL."""
    with wangge_servers(database_url, [log], **env) as urls:
        yield urls[0]
