"""Health: is the service up and can it reach its database."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from api.deps import StateDep
from api.schemas.health import Health, ReplicaHealth
from api.services.health import check

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses={503: {"description": "database down"}})
async def health(state: StateDep) -> Health:
    """Check the database answers and PostGIS is there; 503 when not.

    With a replica, also its lag in bytes of WAL (null when it does not answer) and how
    many reads went to it and to the database (this server process).
    """
    answer = Health.model_validate(await run_in_threadpool(check, state.engine))
    replica = await run_in_threadpool(state.reads.status)
    if replica is not None:
        answer.replica = ReplicaHealth.model_validate(replica)
    return answer
