"""Tests of gis.db.cluster: URL resolution, database creation, the private cluster."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from gis.db import cluster
from gis.db.cluster import (
    DatabaseUnavailable,
    connect_kwargs,
    display_url,
    ensure_database,
    ensure_server,
    probe,
    resolve_url,
    server_url,
    stop_private_cluster,
)
from gis.settings import Settings


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"database_url": None, "data_dir": tmp_path}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------ resolve_url


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db.example:5433/app", "postgresql+psycopg://u:p@db.example:5433/app"),
        ("postgresql://u@h/app", "postgresql+psycopg://u@h/app"),
        ("postgresql+psycopg://u@h:1/app", "postgresql+psycopg://u@h:1/app"),
        (
            "postgresql+psycopg2://u@h/app?sslmode=require",
            "postgresql+psycopg://u@h/app?sslmode=require",
        ),
    ],
)
def test_resolve_url_normalises_database_url(tmp_path: Path, given: str, expected: str) -> None:
    assert resolve_url(_settings(tmp_path, database_url=given)) == expected


def test_resolve_url_rejects_other_databases(tmp_path: Path) -> None:
    with pytest.raises(DatabaseUnavailable, match="PostgreSQL URL"):
        resolve_url(_settings(tmp_path, database_url="mysql://u:secret@h/app"))


def test_resolve_url_local_default(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, local_host="10.0.0.5", local_port=6543, local_user="gis", database_name="wg"
    )
    assert resolve_url(settings) == "postgresql+psycopg://gis@10.0.0.5:6543/wg"


def test_database_url_wins_over_local_default_and_private_cluster(tmp_path: Path) -> None:
    # A state file pointing at a "running" cluster (this process's pid) ...
    pgdata = tmp_path / "pgcluster"
    pgdata.mkdir()
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n0\n54999\n")
    (tmp_path / "pgcluster.json").write_text(f'{{"pgdata": "{pgdata}", "port": 54999}}')
    private = _settings(tmp_path, database_name="wg")
    # ... wins over the local default when no DATABASE_URL is given ...
    assert resolve_url(private) == "postgresql+psycopg://postgres@127.0.0.1:54999/wg"
    # ... and DATABASE_URL wins over both.
    configured = _settings(tmp_path, database_url="postgres://me@elsewhere/x")
    assert resolve_url(configured) == "postgresql+psycopg://me@elsewhere/x"


def test_stale_private_state_falls_back_to_local_default(tmp_path: Path) -> None:
    (tmp_path / "pgcluster").mkdir()
    (tmp_path / "pgcluster.json").write_text(f'{{"pgdata": "{tmp_path / "pgcluster"}", "port": 1}}')
    assert resolve_url(_settings(tmp_path)) == (
        "postgresql+psycopg://postgres@127.0.0.1:5432/wangge"
    )


def test_settings_read_database_url_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://env@host/envdb")
    assert resolve_url(Settings(data_dir=tmp_path)) == "postgresql+psycopg://env@host/envdb"


def test_server_url_and_display_url() -> None:
    url = "postgresql+psycopg://u:s3cret@h:5/app?sslmode=require"
    assert server_url(url) == "postgresql+psycopg://u:s3cret@h:5/postgres?sslmode=require"
    assert server_url(url, "other").endswith("/other?sslmode=require")
    shown = display_url(url)
    assert "s3cret" not in shown
    assert shown.startswith("postgresql://u:***@h:5/app")
    assert connect_kwargs(url) == {
        "sslmode": "require",
        "host": "h",
        "port": 5,
        "user": "u",
        "password": "s3cret",
        "dbname": "app",
        "connect_timeout": cluster.CONNECT_TIMEOUT,
    }


def test_configured_url_that_does_not_answer_is_a_clear_error(tmp_path: Path) -> None:
    url = f"postgresql://u:topsecret@127.0.0.1:{_free_port()}/x"
    with pytest.raises(DatabaseUnavailable) as info:
        ensure_server(_settings(tmp_path, database_url=url))
    message = str(info.value)
    assert "does not answer" in message
    assert "topsecret" not in message
    assert "DATABASE_URL" in message


# ------------------------------------------------------- ensure_database (real server)


@pytest.fixture
def server() -> str:
    """URL of the server the project uses (set up by scripts/setup.sh)."""
    url = resolve_url(Settings())
    error = probe(url)
    if error is not None:
        if os.environ.get("CI"):
            pytest.fail(f"no PostgreSQL answers at {display_url(url)}: {error}")
        pytest.skip(f"no PostgreSQL answers at {display_url(url)} (run scripts/setup.sh)")
    return url


def _drop_database(url: str) -> None:
    dbname = make_url(url).database
    assert dbname
    with psycopg.connect(**connect_kwargs(server_url(url)), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def test_ensure_database_creates_database_with_postgis(server: str) -> None:
    url = server_url(server, f"wangge_test_{uuid.uuid4().hex[:12]}")
    try:
        ensure_database(url)
        ensure_database(url)  # idempotent
        with psycopg.connect(**connect_kwargs(url)) as conn:
            row = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'postgis'"
            ).fetchone()
            assert row is not None and row[0].startswith("3")
            point = conn.execute("SELECT ST_AsText(ST_MakePoint(116.4, 39.9))").fetchone()
            assert point == ("POINT(116.4 39.9)",)
    finally:
        _drop_database(url)


# ------------------------------------------------------------------ private cluster


def _can_run_private_cluster() -> tuple[bool, str]:
    if cluster.find_bindir() is None:
        return False, "no PostgreSQL server binaries (initdb) installed"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return False, "running as root without runuser"
    return True, ""


_CAN_RUN, _WHY_NOT = _can_run_private_cluster()


@pytest.fixture
def private_data_dir() -> Iterator[Path]:
    """A data folder the postgres user can reach (under /tmp, parents 755)."""
    base = Path(tempfile.mkdtemp(prefix="wg-pg-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(not _CAN_RUN, reason=_WHY_NOT)
@pytest.mark.timeout(180)
def test_private_cluster_starts_answers_and_stops(private_data_dir: Path) -> None:
    port = _free_port()
    unused = _free_port()
    settings = _settings(
        private_data_dir,
        private_port=port,
        local_port=unused,  # no server there, and no system cluster on that port
        database_name="wangge_private",
    )
    assert stop_private_cluster(settings) is False  # nothing started yet
    try:
        url = ensure_server(settings)
        assert url == f"postgresql+psycopg://postgres@127.0.0.1:{port}/wangge_private"
        assert probe(url) is None
        assert resolve_url(settings) == url  # the state file is found without network
        assert (private_data_dir / "logs" / "postgres.log").exists()
        # A second call reuses the running cluster.
        assert ensure_server(settings) == url
        with psycopg.connect(**connect_kwargs(server_url(url))) as conn:
            assert conn.execute("SHOW port").fetchone() == (str(port),)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    finally:
        stopped = stop_private_cluster(settings)
    assert stopped is True
    assert probe(url) is not None
    assert not (private_data_dir / "pgcluster.json").exists()
    assert (
        resolve_url(settings) == f"postgresql+psycopg://postgres@127.0.0.1:{unused}/wangge_private"
    )
    assert stop_private_cluster(settings) is False
