"""Find or start the PostgreSQL server Wangge uses when no DATABASE_URL is given.

Order of precedence, the same in :func:`resolve_url` (no network) and
:func:`ensure_server` (which may start a server):

1. ``DATABASE_URL`` when it is set: used as it is, never started or changed.
2. The private cluster, when its state file says it is running.
3. The local server (``WANGGE_LOCAL_HOST``/``_PORT``/``_USER``, default
   ``postgres@127.0.0.1:5432``).

When neither answers, :func:`ensure_server` starts the system cluster of the Debian
``postgresql`` package (``pg_ctlcluster``, as root) or else a *private cluster* in
``<data_dir>/pgcluster``: trust authentication, listening on
``127.0.0.1:<private_port>`` (and a socket in that folder), logging to
``<data_dir>/logs/postgres.log``.  PostgreSQL refuses to run as root, so as root the
private cluster belongs to the ``postgres`` system user.  Its state is kept in
``<data_dir>/pgcluster.json``.

Command line::

    python -m gis.db.cluster ensure   # server + database + postgis; prints the URL
    python -m gis.db.cluster stop     # stop the private cluster, if we started one
    python -m gis.db.cluster url      # the URL resolve_url gives (password masked)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from gis.errors import GisError, Unavailable
from gis.settings import Settings, get_settings

DRIVER = "postgresql+psycopg"
STATE_FILE = "pgcluster.json"
CLUSTER_DIR = "pgcluster"
CONF_FILE = "wangge.conf"
CONNECT_TIMEOUT = 3
START_TIMEOUT = 60
# sockaddr_un.sun_path holds 108 bytes; PostgreSQL refuses longer socket paths.
MAX_SOCKET_PATH = 100

# The server answered but the database is not there yet: ensure_database creates it.
_MISSING_DATABASE = re.compile(r'database "[^"]*" does not exist')


class DatabaseUnavailable(GisError, Unavailable):
    """No usable PostGIS database; the message says what to do about it."""


# --------------------------------------------------------------------------- URLs


def normalise_url(url: str) -> str:
    """Return ``url`` with the ``postgresql+psycopg`` driver.

    Parameters
    ----------
    url
        A ``postgres://``, ``postgresql://`` or ``postgresql+<driver>://`` URL.

    Returns
    -------
    str
        The same URL with the psycopg (v3) driver, password kept.
    """
    parsed = make_url(url)
    if parsed.drivername not in ("postgres", "postgresql") and not parsed.drivername.startswith(
        "postgresql+"
    ):
        raise DatabaseUnavailable(
            f"DATABASE_URL must be a PostgreSQL URL (postgresql://user@host:port/db), "
            f"got {display_url(url)}"
        )
    return parsed.set(drivername=DRIVER).render_as_string(hide_password=False)


def display_url(url: str | URL) -> str:
    """Return ``url`` fit for printing: ``postgresql://`` scheme, password masked.

    Parameters
    ----------
    url
        A SQLAlchemy URL.

    Returns
    -------
    str
        The URL without the driver name and with the password replaced by ``***``.
    """
    parsed = make_url(url)
    if parsed.drivername.startswith("postgres"):
        parsed = parsed.set(drivername="postgresql")
    return parsed.render_as_string(hide_password=True)


def server_url(url: str, dbname: str = "postgres") -> str:
    """Return the URL of another database on the same server.

    Parameters
    ----------
    url
        A SQLAlchemy URL.
    dbname
        The database to point at.

    Returns
    -------
    str
        ``url`` with its database replaced by ``dbname``, password kept.
    """
    return make_url(url).set(database=dbname).render_as_string(hide_password=False)


def connect_kwargs(url: str) -> dict[str, Any]:
    """Translate a SQLAlchemy URL into :func:`psycopg.connect` keyword arguments.

    Parameters
    ----------
    url
        A SQLAlchemy URL; query parameters (``sslmode``, ``host`` for a socket
        folder, ...) are passed on as libpq parameters.

    Returns
    -------
    dict
        Keyword arguments for :func:`psycopg.connect`.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    for key, query_value in parsed.query.items():
        kwargs[key] = query_value[-1] if isinstance(query_value, tuple) else query_value
    fields: tuple[tuple[str, str | int | None], ...] = (
        ("host", parsed.host),
        ("port", parsed.port),
        ("user", parsed.username),
        ("password", parsed.password),
        ("dbname", parsed.database),
    )
    for key, value in fields:
        if value is not None:
            kwargs[key] = value
    kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT)
    return kwargs


def local_url(settings: Settings) -> str:
    """Return the URL of the application database on the local server.

    Parameters
    ----------
    settings
        Wangge settings.

    Returns
    -------
    str
        ``postgresql+psycopg://{local_user}@{local_host}:{local_port}/{database_name}``.
    """
    return (
        f"{DRIVER}://{settings.local_user}@{settings.local_host}:"
        f"{settings.local_port}/{settings.database_name}"
    )


def private_url(settings: Settings, port: int | None = None) -> str:
    """Return the URL of the application database on the private cluster.

    Parameters
    ----------
    settings
        Wangge settings.
    port
        The cluster's port; ``settings.private_port`` when not given.

    Returns
    -------
    str
        ``postgresql+psycopg://postgres@127.0.0.1:{port}/{database_name}``.
    """
    port = settings.private_port if port is None else port
    return f"{DRIVER}://postgres@127.0.0.1:{port}/{settings.database_name}"


def resolve_url(settings: Settings) -> str:
    """Return the application database URL, without touching the network.

    Parameters
    ----------
    settings
        Wangge settings.

    Returns
    -------
    str
        ``settings.database_url`` (normalised to ``postgresql+psycopg://``) when set;
        else the private cluster's URL when its state file says it is running; else
        the local default :func:`local_url`.
    """
    if settings.database_url:
        return normalise_url(settings.database_url)
    state = _read_state(settings)
    if state is not None and _cluster_running(Path(state["pgdata"])):
        return private_url(settings, int(state["port"]))
    return local_url(settings)


# ----------------------------------------------------------------- probing servers


def probe(url: str) -> str | None:
    """Tell whether the server of ``url`` answers.

    Parameters
    ----------
    url
        A SQLAlchemy URL.

    Returns
    -------
    str or None
        ``None`` when the server answers (a missing database counts as answering:
        :func:`ensure_database` creates it), else the connection error.
    """
    try:
        with psycopg.connect(**connect_kwargs(url)):
            return None
    except psycopg.OperationalError as exc:
        message = str(exc).strip()
        if _MISSING_DATABASE.search(message):
            return None
        return message or type(exc).__name__


def _wait_for(url: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    while True:
        error = probe(url)
        if error is None or time.monotonic() > deadline:
            return error
        time.sleep(0.5)


def ensure_server(settings: Settings) -> str:
    """Make sure a PostgreSQL server answers; return the application database URL.

    Parameters
    ----------
    settings
        Wangge settings.

    Returns
    -------
    str
        The ``postgresql+psycopg://`` URL of the application database (which may not
        exist yet: see :func:`ensure_database`).

    Raises
    ------
    DatabaseUnavailable
        When the configured server does not answer, or no server could be found or
        started.
    """
    if settings.database_url:
        url = normalise_url(settings.database_url)
        error = probe(url)
        if error is not None:
            raise DatabaseUnavailable(
                f"DATABASE_URL {display_url(url)} does not answer: {error}\n"
                "Start that server, fix DATABASE_URL, or unset DATABASE_URL to let "
                "Wangge use (or start) a local PostgreSQL."
            )
        return url

    state = _read_state(settings)
    if state is not None and _cluster_running(Path(state["pgdata"])):
        url = private_url(settings, int(state["port"]))
        if _wait_for(url, 5) is None:
            return url

    url = local_url(settings)
    local_error = probe(url)
    if local_error is None:
        return url

    if _start_system_cluster(settings) and _wait_for(url, 30) is None:
        return url

    try:
        return start_private_cluster(settings)
    except DatabaseUnavailable as exc:
        raise DatabaseUnavailable(
            f"No PostgreSQL server answers at {display_url(url)} ({local_error}), and "
            f"the private cluster could not be started: {exc}"
        ) from exc


def ensure_database(url: str) -> None:
    """Create the database of ``url`` if it is missing and enable PostGIS in it.

    Parameters
    ----------
    url
        A SQLAlchemy URL of a server that answers.

    Raises
    ------
    DatabaseUnavailable
        When the database cannot be created or PostGIS is not installed on the
        server (the message names the Debian package to install).
    """
    dbname = make_url(url).database
    if not dbname:
        raise DatabaseUnavailable(f"{display_url(url)} names no database")
    try:
        with psycopg.connect(**connect_kwargs(url)):
            pass
    except psycopg.OperationalError as exc:
        if not _MISSING_DATABASE.search(str(exc)):
            raise DatabaseUnavailable(
                f"cannot connect to {display_url(url)}: {str(exc).strip()}"
            ) from exc
        _create_database(url, dbname)

    try:
        with psycopg.connect(**connect_kwargs(url), autocommit=True) as conn:
            row = conn.execute(
                "SELECT current_setting('server_version_num')::int, "
                "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')"
            ).fetchone()
            assert row is not None
            version_num, available = row
            if not available:
                major = version_num // 10000
                raise DatabaseUnavailable(
                    f"PostGIS is not installed on the server of {display_url(url)} "
                    f"(PostgreSQL {major}). Install it: on Debian/Ubuntu "
                    f"`sudo apt-get install postgresql-{major}-postgis-3` "
                    "(or run scripts/setup.sh), elsewhere PostGIS 3 for PostgreSQL "
                    f"{major}; or set DATABASE_URL to a PostGIS database."
                )
            # UniqueViolation: another process created it at the same moment.
            with contextlib.suppress(psycopg.errors.UniqueViolation):
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"cannot enable PostGIS in {display_url(url)}: {str(exc).strip()}\n"
            "Enabling an extension needs a superuser or the database owner."
        ) from exc


def _create_database(url: str, dbname: str) -> None:
    admin = server_url(url, "postgres")
    try:
        with psycopg.connect(**connect_kwargs(admin), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)
            ).fetchone()
            if exists is None:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.errors.UniqueViolation:
        pass  # created concurrently (pg_database_datname_index)
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"cannot create database {dbname!r} on {display_url(admin)}: "
            f"{str(exc).strip()}\nCreate it yourself (createdb {dbname}) or use a "
            "role allowed to create databases."
        ) from exc


# --------------------------------------------------------- system cluster (Debian)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _start_system_cluster(settings: Settings) -> bool:
    """Start the Debian cluster that should listen on the local port; True if tried."""
    if not _is_root() or settings.local_host not in ("127.0.0.1", "localhost", "::1"):
        return False
    if shutil.which("pg_lsclusters") is None or shutil.which("pg_ctlcluster") is None:
        return False
    try:
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] != str(settings.local_port):
            continue
        version, name, status = fields[0], fields[1], fields[3]
        if status.startswith("online"):
            return False  # running, yet it did not answer: starting it again won't help
        print(f"[db] starting the system cluster {version}/{name}", file=sys.stderr)
        result = subprocess.run(
            ["pg_ctlcluster", version, name, "start"], capture_output=True, text=True
        )
        if result.returncode != 0:
            print(
                f"[db] pg_ctlcluster {version} {name} start failed: "
                f"{(result.stderr or result.stdout).strip()}",
                file=sys.stderr,
            )
            return False
        return True
    return False


# ------------------------------------------------------------------ private cluster


def _state_path(settings: Settings) -> Path:
    return settings.data_dir / STATE_FILE


def _read_state(settings: Settings) -> dict[str, Any] | None:
    try:
        state = json.loads(_state_path(settings).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or "pgdata" not in state or "port" not in state:
        return None
    return state


def _postmaster_info(pgdata: Path) -> tuple[int, int] | None:
    """Return (pid, port) from ``pgdata/postmaster.pid``, None when absent."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None


def _cluster_running(pgdata: Path) -> bool:
    """Whether ``pgdata/postmaster.pid`` names a live process (no network)."""
    info = _postmaster_info(pgdata)
    if info is None:
        return False
    pid = info[0]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_bindir() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl``, newest version first.

    Returns
    -------
    Path or None
        ``/usr/lib/postgresql/<V>/bin`` for the highest ``V`` present, else the
        folder ``pg_config --bindir`` names, else the folder of ``initdb`` on the
        PATH; ``None`` when there is none.
    """
    root = Path("/usr/lib/postgresql")
    if root.is_dir():
        versions = sorted(
            (p for p in root.iterdir() if p.name.isdigit() and (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name),
            reverse=True,
        )
        if versions:
            return versions[0] / "bin"
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            bindir = Path(
                subprocess.run(
                    [pg_config, "--bindir"], capture_output=True, text=True, check=True
                ).stdout.strip()
            )
            if (bindir / "initdb").exists():
                return bindir
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _run_as_owner(args: list[str], owner: str | None, **kwargs: Any) -> subprocess.CompletedProcess:
    command = ["runuser", "-u", owner, "--", *args] if owner else args
    kwargs.setdefault("cwd", "/")  # the owner may not be allowed into our folder
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def _ensure_postgres_user() -> None:
    if subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode == 0:
        return
    print("[db] creating the 'postgres' system user", file=sys.stderr)
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--user-group",
            "--home-dir",
            "/var/lib/postgresql",
            "--shell",
            "/bin/sh",
            "postgres",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise DatabaseUnavailable(
            f"cannot create the 'postgres' system user: {result.stderr.strip()}"
        )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def _write_conf(pgdata: Path, port: int, owner: str | None) -> None:
    socket_dir = str(pgdata)
    if len(f"{socket_dir}/.s.PGSQL.{port}") > MAX_SOCKET_PATH:
        socket_dir = ""  # path too long for a Unix socket: TCP only
    conf = (
        "# Written by gis.db.cluster at every start; edit settings, not this file.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {port}\n"
        f"unix_socket_directories = '{socket_dir}'\n"
        "max_connections = 100\n"
    )
    (pgdata / CONF_FILE).write_text(conf)
    main_conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{CONF_FILE}'"
    if include not in main_conf.read_text():
        with main_conf.open("a") as handle:
            handle.write(f"\n{include}\n")
    if owner:
        shutil.chown(pgdata / CONF_FILE, owner, owner)


def start_private_cluster(settings: Settings) -> str:
    """Create (once) and start the private cluster; return the application URL.

    Parameters
    ----------
    settings
        Wangge settings: ``data_dir`` holds the cluster, ``private_port`` is its port.

    Returns
    -------
    str
        The ``postgresql+psycopg://postgres@127.0.0.1:<port>/<database_name>`` URL.

    Raises
    ------
    DatabaseUnavailable
        When PostgreSQL is not installed, or the cluster cannot be created or
        started (the message includes the end of the server log).
    """
    bindir = find_bindir()
    if bindir is None:
        raise DatabaseUnavailable(
            "PostgreSQL is not installed (no initdb found). Install PostgreSQL ≥ 13 with "
            "PostGIS 3 (Debian/Ubuntu: sudo apt-get install postgresql "
            "postgresql-15-postgis-3, or run scripts/setup.sh), or set DATABASE_URL to a "
            "PostGIS database."
        )
    data_dir = settings.data_dir.resolve()
    pgdata = data_dir / CLUSTER_DIR
    log_dir = data_dir / "logs"
    log_file = log_dir / "postgres.log"
    port = settings.private_port
    owner: str | None = None

    log_dir.mkdir(parents=True, exist_ok=True)
    log_file.touch(exist_ok=True)
    pgdata.mkdir(parents=True, exist_ok=True)
    if _is_root():
        owner = "postgres"
        _ensure_postgres_user()
        shutil.chown(pgdata, owner, owner)
        shutil.chown(log_file, owner, owner)
        if _run_as_owner(["test", "-w", str(pgdata)], owner).returncode != 0:
            raise DatabaseUnavailable(
                f"the 'postgres' user cannot reach {pgdata}: make its parent folders "
                "traversable (chmod o+x on each) or set WANGGE_DATA_DIR to a folder it "
                "can reach (e.g. under /var/lib or /tmp)."
            )
    pgdata.chmod(0o700)

    if not (pgdata / "PG_VERSION").exists():
        print(f"[db] creating a private PostgreSQL cluster in {pgdata}", file=sys.stderr)
        result = _run_as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
            ],
            owner,
        )
        if result.returncode != 0:
            raise DatabaseUnavailable(
                f"initdb failed in {pgdata}:\n{(result.stderr or result.stdout).strip()}"
            )

    _write_conf(pgdata, port, owner)
    url = private_url(settings, port)
    info = _postmaster_info(pgdata)
    if _cluster_running(pgdata) and info is not None and info[1] == port:
        _write_state(settings, pgdata, port, bindir, owner)
        error = _wait_for(url, 30)
        if error is None:
            return url
        raise DatabaseUnavailable(
            f"the private cluster in {pgdata} runs but does not answer at "
            f"{display_url(url)}: {error}\nServer log {log_file}:\n{_tail(log_file)}"
        )
    if _cluster_running(pgdata):
        # Running on another port (settings changed): restart it on the new one.
        _run_as_owner(
            [str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"], owner
        )

    if probe(url) is None:
        raise DatabaseUnavailable(
            f"port {port} is already taken by another PostgreSQL server; set "
            "WANGGE_PRIVATE_PORT to a free port or DATABASE_URL to that server."
        )
    print(f"[db] starting the private cluster on 127.0.0.1:{port}", file=sys.stderr)
    result = _run_as_owner(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(log_file),
            "-w",
            "-t",
            str(START_TIMEOUT),
            "start",
        ],
        owner,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        log = _tail(log_file)
        hint = (
            f"\nPort {port} is in use: set WANGGE_PRIVATE_PORT to a free port."
            if "Address already in use" in log
            else ""
        )
        raise DatabaseUnavailable(
            f"pg_ctl start failed for {pgdata} (port {port}): "
            f"{(result.stderr or result.stdout).strip()}\nServer log {log_file}:\n{log}{hint}"
        )
    _write_state(settings, pgdata, port, bindir, owner)
    error = _wait_for(url, 30)
    if error is not None:
        raise DatabaseUnavailable(
            f"the private cluster started but does not answer at {display_url(url)}: "
            f"{error}\nServer log {log_file}:\n{_tail(log_file)}"
        )
    return url


def _write_state(
    settings: Settings, pgdata: Path, port: int, bindir: Path, owner: str | None
) -> None:
    state = {"pgdata": str(pgdata), "port": port, "bindir": str(bindir), "owner": owner}
    path = _state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(path)


def stop_private_cluster(settings: Settings) -> bool:
    """Stop the private cluster if we started one, and forget its state.

    Parameters
    ----------
    settings
        Wangge settings.

    Returns
    -------
    bool
        True when a running private cluster was stopped, False when there was none.

    Raises
    ------
    DatabaseUnavailable
        When ``pg_ctl stop`` fails.
    """
    state = _read_state(settings)
    if state is None:
        return False
    pgdata = Path(state["pgdata"])
    stopped = False
    if _cluster_running(pgdata):
        bindir = Path(state.get("bindir") or find_bindir() or "")
        result = _run_as_owner(
            [str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            state.get("owner") if _is_root() else None,
        )
        if result.returncode != 0 and _cluster_running(pgdata):
            raise DatabaseUnavailable(
                f"pg_ctl stop failed for {pgdata}: {(result.stderr or result.stdout).strip()}"
            )
        stopped = True
    _state_path(settings).unlink(missing_ok=True)
    return stopped


def start_replica(primary_url: str, pgdata: Path, port: int) -> str:
    """Make ``pgdata`` a streaming replica (hot standby) of a cluster and start it.

    ``pg_basebackup -R`` from the server of ``primary_url`` (it must allow replication
    connections: the private cluster and a trust ``pg_hba`` do), then the copy starts on
    ``127.0.0.1:<port>``, following the primary.  For trying
    ``WANGGE_DATABASE_REPLICA_URL`` on one machine and for the tests; returns the
    replica's URL of the same database.  Stop it with :func:`stop_cluster`.
    """
    bindir = find_bindir()
    if bindir is None:
        raise DatabaseUnavailable("PostgreSQL is not installed (no pg_basebackup found)")
    owner = "postgres" if _is_root() else None
    pgdata.mkdir(parents=True, exist_ok=True)
    if owner:
        _ensure_postgres_user()
        shutil.chown(pgdata, owner, owner)
    pgdata.chmod(0o700)
    source = make_url(normalise_url(primary_url))
    result = _run_as_owner(
        [
            str(bindir / "pg_basebackup"),
            "-h",
            source.host or "127.0.0.1",
            "-p",
            str(source.port or 5432),
            "-U",
            source.username or "postgres",
            "-D",
            str(pgdata),
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
        owner,
    )
    if result.returncode != 0:
        raise DatabaseUnavailable(f"pg_basebackup failed: {(result.stderr or '').strip()}")
    _write_conf(pgdata, port, owner)
    log_file = pgdata / "replica.log"
    result = _run_as_owner(
        [str(bindir / "pg_ctl"), "-D", str(pgdata), "-l", str(log_file), "-w", "start"],
        owner,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        raise DatabaseUnavailable(
            f"the replica in {pgdata} did not start: {(result.stderr or '').strip()}\n"
            f"{_tail(log_file)}"
        )
    url = source.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    error = _wait_for(url, 30)
    if error is not None:
        raise DatabaseUnavailable(f"the replica does not answer: {error}\n{_tail(log_file)}")
    return url


def stop_cluster(pgdata: Path) -> None:
    """Stop the PostgreSQL server of ``pgdata`` (a replica of :func:`start_replica`)."""
    if not _cluster_running(pgdata):
        return
    bindir = find_bindir() or Path("")
    _run_as_owner(
        [str(bindir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
        "postgres" if _is_root() else None,
    )


def ensure(settings: Settings | None = None) -> str:
    """Make sure the application database answers with PostGIS; return its URL.

    Parameters
    ----------
    settings
        Wangge settings; the process-wide ones when not given.

    Returns
    -------
    str
        The ``postgresql+psycopg://`` URL of the application database.
    """
    settings = settings or get_settings()
    url = ensure_server(settings)
    ensure_database(url)
    return url


# ---------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m gis.db.cluster ensure|stop|url``.

    Parameters
    ----------
    argv
        Command-line arguments without the program name.

    Returns
    -------
    int
        The exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m gis.db.cluster", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=["ensure", "stop", "url"])
    args = parser.parse_args(argv)
    settings = get_settings()
    try:
        if args.command == "ensure":
            url = ensure(settings)
            print(f"[db] using {display_url(url)}")
        elif args.command == "stop":
            if stop_private_cluster(settings):
                print("[db] private cluster stopped")
            else:
                print("[db] no private cluster running")
        else:
            print(display_url(resolve_url(settings)))
    except DatabaseUnavailable as exc:
        print(f"[db] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
