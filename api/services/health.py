"""Health: does the database answer, with PostGIS, at which schema revision."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from gis.db.engine import check_database
from gis.db.migrate import current
from gis.errors import ServiceError, Unavailable


class DatabaseDown(ServiceError, Unavailable):
    """The database does not answer, or answers without PostGIS."""

    title = "Database unavailable"


@dataclass(frozen=True)
class Health:
    """A healthy service: the versions of its database and the schema's revision."""

    status: str
    postgresql: str
    postgis: str
    schema_revision: str | None


def check(engine: Engine) -> Health:
    """Ask the database for its versions and the schema revision.

    Raises
    ------
    DatabaseDown
        On any failure to reach it (its first line says why), never a server error.
    """
    try:
        versions = check_database(engine)
        revision = current(engine)
    except Exception as exc:  # whatever stops the database answering is "down"
        raise DatabaseDown(str(exc).splitlines()[0]) from exc
    return Health(status="ok", schema_revision=revision, **versions)
