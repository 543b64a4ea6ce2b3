"""A database with a real streaming replica, for the tests of reads that go to a replica.

A private PostgreSQL cluster (:func:`gis.db.cluster.start_private_cluster`) on a free port
with the schema migrated, and its hot standby made by ``pg_basebackup``
(:func:`gis.db.cluster.start_replica`) on another; both stopped and removed on exit.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from gis.db import cluster
from gis.db.migrate import upgrade
from gis.settings import Settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def primary_and_replica() -> Iterator[tuple[str, str, Path]]:
    """(primary URL, replica URL, the replica's data folder) of a new migrated database."""
    # the server runs as the 'postgres' user: a folder it can reach, not pytest's (0700)
    root = Path(tempfile.mkdtemp(prefix="wangge-replica-"))
    root.chmod(0o755)
    settings = Settings(database_url=None, data_dir=root / "primary", private_port=_free_port())
    try:
        primary = cluster.start_private_cluster(settings)
        cluster.ensure_database(primary)
        engine = create_engine(primary)
        upgrade(engine)
        engine.dispose()
        replica = cluster.start_replica(primary, root / "replica", _free_port())
        yield primary, replica, root / "replica"
    finally:
        cluster.stop_cluster(root / "replica")
        cluster.stop_private_cluster(settings)
        shutil.rmtree(root, ignore_errors=True)


def superuser(url: str) -> psycopg.Connection:
    """An autocommit connection as the URL's (owner) user, for pausing replay and the like."""
    return psycopg.connect(**cluster.connect_kwargs(url), autocommit=True)
