"""Reads that tolerate lag (map tiles) on a streaming replica, without ever reading stale data.

With ``WANGGE_DATABASE_REPLICA_URL`` set, the heavy part of such a read (building a
tile) goes to the replica, while the data versions it is cached under are read from the
database as before, with the database's WAL position right after them.  The replica
serves the read only once it has replayed that far: so whatever it answers is at least
as new as the versions the answer is cached and tagged with.  A replica that lags, or
fails, leaves the read to the database (a failure for :data:`RETRY_S` seconds); no
read fails because of the replica.

The position a read needs is the one seen when its versions were first seen: a layer
whose data did not change is read from a replica that lags behind other writes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from gis.db.engine import describe_error
from gis.store import queries

T = TypeVar("T")

log = logging.getLogger("wangge")

#: Seconds reads stay on the database after the replica failed, before it is tried again.
RETRY_S = 30.0


@dataclass(frozen=True)
class ReplicaStatus:
    """What ``/health`` tells of the replica: its lag and where reads went."""

    lag_bytes: int | None
    replica_reads: int
    database_reads: int
    failures: int


class ReplicaReads:
    """Chooses, per read, between the replica and the database (see the module)."""

    def __init__(self, engine: Engine, replica: Engine | None) -> None:
        self.engine = engine
        self.replica = replica
        self._lock = threading.Lock()
        self._replayed = 0
        self._down_until = 0.0
        self._first_seen: dict[Hashable, tuple[tuple, int]] = {}
        self.replica_reads = 0
        self.database_reads = 0
        self.failures = 0

    def position(self, key: Hashable, versions: tuple) -> int | None:
        """The WAL position a read of data at ``versions`` needs; None without a replica.

        Read from the database right after the versions (they were committed before
        it); kept while ``key``'s versions stand still.
        """
        if self.replica is None:
            return None
        with self._lock:
            seen = self._first_seen.get(key)
        if seen is not None and seen[0] == versions:
            return seen[1]
        at = queries.wal_position(self.engine)
        with self._lock:
            self._first_seen[key] = (versions, at)
        return at

    def read(self, work: Callable[[Engine], T], needed: int | None) -> T:
        """``work(engine)`` on the replica if it has replayed ``needed``, else the database."""
        replica = self.replica
        if replica is None or needed is None or time.monotonic() < self._down_until:
            return self._on_database(work)
        try:
            if self._replayed < needed:
                self._replayed = max(self._replayed, queries.replayed_position(replica))
            if self._replayed < needed:
                return self._on_database(work)  # it lags: the database answers
            answer = work(replica)
        except (OperationalError, psycopg.OperationalError) as exc:
            # psycopg's own: raised where the transaction begins (gis.db.principal)
            self._down_until = time.monotonic() + RETRY_S
            self.failures += 1
            log.warning(
                "the replica failed (%s): reads go to the database for %.0f s",
                describe_error(exc),
                RETRY_S,
            )
            return self._on_database(work)
        self.replica_reads += 1
        return answer

    def _on_database(self, work: Callable[[Engine], T]) -> T:
        self.database_reads += 1
        return work(self.engine)

    def status(self) -> ReplicaStatus | None:
        """The replica's lag (None when it does not answer) and the reads so far."""
        if self.replica is None:
            return None
        try:
            lag = max(
                0, queries.wal_position(self.engine) - queries.replayed_position(self.replica)
            )
        except (OperationalError, psycopg.OperationalError):
            lag = None
        return ReplicaStatus(lag, self.replica_reads, self.database_reads, self.failures)
