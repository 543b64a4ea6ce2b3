"""Health: is the service up and can it reach its database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import EngineDep
from api.errors import problem
from gis.db.engine import check_database
from gis.db.migrate import current

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The answer of a healthy service."""

    status: str
    postgresql: str
    postgis: str
    schema_revision: str | None


@router.get("/health", response_model=Health, responses={503: {"description": "database down"}})
async def health(engine: EngineDep) -> Health | JSONResponse:
    """Check the database answers and PostGIS is there; 503 when not."""
    try:
        versions = await run_in_threadpool(check_database, engine)
        revision = await run_in_threadpool(current, engine)
    except Exception as exc:  # any failure to reach the database is a 503, not a 500
        return problem(503, "Database unavailable", str(exc).splitlines()[0])
    return Health(status="ok", schema_revision=revision, **versions)
