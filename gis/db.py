"""The database engine and sessions, created on first use (never at import)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, text

from gis.cluster import resolve_url
from gis.settings import Settings, get_settings


@lru_cache(maxsize=8)
def _engine_for(url: str, pool_size: int) -> Engine:
    # No pre-ping: it costs a round trip on every checkout, a third of a report's
    # intake.  A connection the server dropped fails its request once (503) and
    # SQLAlchemy then discards the whole pool; connections older than half an hour are
    # replaced before use.  The pool holds as many connections as the server's thread
    # pool keeps busy, so a burst does not open and close connections.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)


def get_engine(settings: Settings | None = None, url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url``, or for the configured database."""
    settings = settings or get_settings()
    return _engine_for(url or resolve_url(settings), settings.db_pool_size)


def check_database(engine: Engine) -> dict[str, str]:
    """Ask the database for its PostgreSQL and PostGIS versions (raises when it is down)."""
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    return {"postgresql": str(pg), "postgis": str(postgis)}
