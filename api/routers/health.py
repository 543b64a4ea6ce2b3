"""Health: is the service up and can it reach its database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import EngineDep
from api.schemas.health import Health
from api.services.health import check

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"description": "database down"}})
async def health(engine: EngineDep) -> Health:
    """Check the database answers and PostGIS is there; 503 when not."""
    return Health.model_validate(await run_in_threadpool(check, engine))
