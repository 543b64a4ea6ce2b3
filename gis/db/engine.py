"""The database engine and sessions, created on first use (never at import)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

import psycopg
from psycopg.adapt import Loader
from psycopg.pq import Format
from sqlalchemy import Engine, create_engine, event, text

from gis.db import principal
from gis.db.cluster import resolve_url
from gis.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: psycopg's own (C, when installed) loader of text ``timestamptz`` values.
_PSYCOPG_LOADER = cast(
    type[Loader],
    psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT),
)
#: What :class:`LenientTimestamptzLoader` reads for times before year 1 and after 9999.
READ_FROM = datetime(1, 1, 2, tzinfo=UTC)
READ_UNTIL = datetime(9999, 12, 30, tzinfo=UTC)


class LenientTimestamptzLoader(Loader):
    """Reads a ``timestamptz`` that Python cannot hold as the nearest one it can, with a warning.

    PostgreSQL holds times from 4713 BC to 294276 AD and ``±infinity``; Python's
    datetime holds the years 1 to 9999.  A row written before the CHECK constraints of
    migration 0007 (or by hand) may hold anything, and psycopg's own loader then fails
    the whole read.  This one reads a time before year 1 as :data:`READ_FROM` and one
    after 9999 as :data:`READ_UNTIL` (a day inside Python's range, so any time zone can
    show it): the row can still be listed, opened and corrected, and the frame reads leave
    it out (:func:`gis.times.readable_times`).
    """

    format = Format.TEXT

    def __init__(self, oid: int, context: Any = None):
        super().__init__(oid, context)
        self._inner = _PSYCOPG_LOADER(oid, context)

    def load(self, data: Any) -> Any:
        """The datetime, or the nearest one Python holds."""
        try:
            return self._inner.load(data)
        except psycopg.DataError:
            raw = bytes(data).decode("ascii", "replace")
            early = raw.startswith("-") or raw.endswith("BC")
            at = READ_FROM if early else READ_UNTIL
            log.warning("the stored time %s cannot be held in Python; read as %s", raw, at)
            return at


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.adapters.register_loader("timestamptz", LenientTimestamptzLoader)


@lru_cache(maxsize=8)
def _engine_for(url: str, pool_size: int, role: str = "") -> Engine:
    # No pre-ping: it costs a round trip on every checkout, a third of a report's
    # intake.  A connection the server dropped fails its request once (503) and
    # SQLAlchemy then discards the whole pool; connections older than half an hour are
    # replaced before use.  The pool holds as many connections as the server's thread
    # pool keeps busy, so a burst does not open and close connections.
    # hide_parameters: an error's message must not carry the values of the statement
    # (a reporter's name and phone) into the server's log.
    # jit off: the app's statements are short, and PostgreSQL's JIT compiles whatever
    # the planner *estimates* as costly: an OGC page of 1,000 buildings (a count of
    # households per building, over-estimated) spent 275 ms of its 526 ms compiling.
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        hide_parameters=True,
        connect_args={"options": "-c jit=off"},
    )
    event.listen(engine, "connect", _on_connect)
    return principal.install(engine, role)


def get_engine(settings: Settings | None = None, url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url``, or for the configured database."""
    settings = settings or get_settings()
    return _engine_for(url or resolve_url(settings), settings.db_pool_size)


def get_app_engine(settings: Settings | None = None, url: str | None = None) -> Engine:
    """The server's engine: as :func:`get_engine`, acting as ``settings.db_app_role``.

    Its connections ``SET ROLE`` to the unprivileged role and tell each transaction who
    asks (:mod:`gis.db.principal`), so row-level security applies; an empty role gives
    the owner's engine of :func:`get_engine`.
    """
    settings = settings or get_settings()
    return _engine_for(url or resolve_url(settings), settings.db_pool_size, settings.db_app_role)


def check_database(engine: Engine) -> dict[str, str]:
    """Ask the database for its PostgreSQL and PostGIS versions (raises when it is down)."""
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    return {"postgresql": str(pg), "postgis": str(postgis)}


def describe_error(exc: BaseException) -> str:
    """A database error as a log may keep it: its kind, SQLSTATE, table, column, constraint.

    Never the statement's parameters nor the message PostgreSQL sends with it (its
    DETAIL says "Failing row contains (…)", and some messages quote the value refused):
    they carry the row's values, such as a reporter's name and phone.
    """
    orig = getattr(exc, "orig", None) or exc
    parts = [type(orig).__name__]
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate:
        parts.append(f"SQLSTATE {sqlstate}")
    diag = getattr(orig, "diag", None)
    if diag is not None:
        for label in ("table", "column", "constraint"):
            value = getattr(diag, f"{label}_name", None)
            if value:
                parts.append(f"{label} {value}")
    return ", ".join(parts)
