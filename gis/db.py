"""The database engine and sessions, created on first use (never at import)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, create_engine, text

from gis.cluster import resolve_url
from gis.settings import Settings, get_settings


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def get_engine(settings: Settings | None = None, url: str | None = None) -> Engine:
    """Return the (cached) engine for ``url``, or for the configured database."""
    return _engine_for(url or resolve_url(settings or get_settings()))


def check_database(engine: Engine) -> dict[str, str]:
    """Ask the database for its PostgreSQL and PostGIS versions (raises when it is down)."""
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    return {"postgresql": str(pg), "postgis": str(postgis)}
