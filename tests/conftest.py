"""Shared fixtures: a fresh PostGIS database per test session, dropped afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from gis import clock
from gis.db import cluster
from gis.db.migrate import upgrade
from gis.settings import Settings, get_settings
from tests.phases import drives_browser, may_hold

# The test servers (and commands) run no relay: they would publish test alerts to the
# machine's own broker queue, which a real SMS gateway may be consuming.  The relay's
# tests (tests/api/test_relay.py) turn it on with an exchange and a queue of their own.
os.environ.setdefault("WANGGE_RELAY_INTERVAL_S", "0")
# Nor the daily retention: a test's histories are built in the past on purpose; the
# retention's tests (tests/api/test_retention.py) run it themselves.
os.environ.setdefault("WANGGE_RETENTION_INTERVAL_S", "0")
# Rich's consoles take their width from COLUMNS when they are made (at import): the
# commands run in-process (CliRunner) print as wide as those run by run_wangge, whatever
# the terminal or the test worker
os.environ.setdefault("COLUMNS", "200")
# Nor the month partitions' job: tests/api/test_partitions.py runs it on a database of its own.
os.environ.setdefault("WANGGE_PARTITION_INTERVAL_S", "0")
get_settings.cache_clear()
# The run's clock is fixed now, before any test starts a command: every child process
# inherits its shift from WANGGE_NOW (gis.clock's anchor) and reads on from it.  Were the
# first reading left to a test, the commands started before it would each start their own
# clock at WANGGE_NOW, and a grid saved by one could be superseded by the next "before" it
# was valid (a year-ahead run failed so: valid_to 1 µs before valid_from).
clock.now()

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
ARTIFACTS = REPO / "test-artifacts"


@contextmanager
def throwaway_database(prefix: str = "wangge_test") -> Iterator[str]:
    """URL of a new database with the schema migrated; dropped on leaving."""
    base = cluster.ensure_server(get_settings())
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = cluster.server_url(base, name)
    cluster.ensure_database(url)
    try:
        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        _drop_database(base, name)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of the session's throwaway database; dropped at the end."""
    with throwaway_database() as url:
        yield url


def _drop_database(base: str, name: str) -> None:
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """Engine of the session's test database."""
    eng = create_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots and other files a person may want to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class LiveServer:
    """The real app under uvicorn on a free loopback port, in a background thread.

    ``settings`` (default: the process-wide ones) lets a test serve with other limits.
    """

    def __init__(self, database_url: str, settings: Settings | None = None):
        import socket
        import threading

        import uvicorn

        from api.app import create_app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, database_url=database_url),
            host="127.0.0.1",
            port=self.port,
            # uvicorn's loggers (access log included) pass their records on to the root
            # logger, whose handler writes the run's server log (``server_log``)
            log_config=None,
            log_level="info",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


#: The folder of the run's server logs, once a test started (read by the log scan).
_SERVER_LOG_BASE: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The in-process servers' log (access log included) in the run's temporary folder.

    Scanned after the last test for credentials and personal data (``pytest_sessionfinish``
    below, :mod:`tests.log_scan`).
    """
    import logging

    from tests.log_scan import LOG_DIR

    base = tmp_path_factory.getbasetemp()
    folder = base / LOG_DIR
    folder.mkdir(exist_ok=True)
    path = folder / "in-process.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    # uvicorn's records (the access log) go to the file only, not into the reports of
    # failed tests; the others reach it through the root logger
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(handler)
    uvicorn_log.propagate = False
    logging.getLogger().addHandler(handler)
    logging.getLogger("wangge").setLevel(logging.INFO)
    _SERVER_LOG_BASE.append(base)
    try:
        yield path
    finally:
        logging.getLogger().removeHandler(handler)
        uvicorn_log.removeHandler(handler)
        uvicorn_log.propagate = True
        handler.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a server log of it holds a token, a session, an ID number or a phone.

    After the last test, whatever order they ran in; the values are shown masked.
    """
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the controller scans every worker's logs at the end
    if _SERVER_LOG_BASE:
        base = _SERVER_LOG_BASE[0]
    elif getattr(session.config.option, "numprocesses", None):
        # the pytest-xdist controller: the workers' folders (popen-gw*) lie below its own
        base = session.config._tmp_path_factory.getbasetemp()
    else:
        return
    from tests.log_scan import leaks, log_files

    found = leaks(base)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_sep("-", f"log scan: {len(log_files(base))} server log(s) under {base}")
        for leak in found[:50]:
            reporter.write_line(f"LEAK {leak}", red=True)
        if found:
            reporter.write_line(
                f"{len(found)} credential(s) or personal value(s) in the server logs: "
                "redact them where they are logged (api/url_credentials.py), never log a "
                "request's body or headers",
                red=True,
            )
    if found:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The app served over real HTTP against the session's test database."""
    with LiveServer(database_url) as server:
        yield server


def empty_database(engine: Engine) -> None:
    """Empty every data table of the test database (ids restart).

    As a replacing load does (:func:`gis.store.load_store.empty_tables`): a server of
    another test module still running on this database may deadlock the TRUNCATE with a
    job of its (a fresh-clone run failed a fixture so), which then tries again.
    """
    from etl.load import TABLES
    from gis.store.load_store import empty_tables

    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.transaction(), conn.cursor() as cur:
            empty_tables(cur, list(TABLES), restart=True)
    finally:
        raw.close()


def advance_ids(conn: Connection, *tables: str) -> None:
    """Move the id sequences of ``tables`` past the ids a test wrote by hand.

    A row given its id explicitly leaves the sequence behind; the next row another test
    adds without an id (tests share a database and run in random order) then takes that
    id and is refused by the primary key.  A CI run failed so.
    """
    for table in tables:
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"greatest((SELECT max(id) FROM {table}), "
                f"(SELECT last_value FROM pg_sequences WHERE sequencename = "
                f"split_part(pg_get_serial_sequence('{table}', 'id'), '.', 2)), 1))"
            )
        )


def run_wangge(
    database_url: str,
    *args: str,
    timeout: float = 600,
    env: dict[str, str] | None = None,
    input_text: str | None = None,
) -> subprocess.CompletedProcess:
    """Run the ``wangge`` command line against the test database, as a user would.

    ``env`` adds environment variables (settings such as ``WANGGE_HOTLINE_MAX_ROWS``);
    ``input_text`` is its standard input (a password for ``users passwd``).
    """
    env = dict(os.environ, DATABASE_URL=database_url, COLUMNS="200", **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input_text,
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the page and solo phases, a test file that holds none of their tests is left out."""
    phase = os.environ.get("WANGGE_TEST_PHASE", "all")
    name = collection_path.name
    if name.startswith("test_") and name.endswith(".py") and not may_hold(collection_path, phase):
        return True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that drive Chromium are marked ``browser``: a phase of their own (tests.phases)."""
    for item in items:
        if drives_browser(item) and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)
    # the phases that leave files out (pytest_ignore_collect) must not leave out a test of theirs
    missed = [
        f"{item.nodeid} ({phase})"
        for item in items
        for phase in ("pages", "solo")
        if item.get_closest_marker("browser" if phase == "pages" else "solo") is not None
        and not may_hold(item.path, phase)
    ]
    if missed:
        raise pytest.UsageError(
            "tests.phases.may_hold leaves out these tests of their phase: " + ", ".join(missed)
        )
