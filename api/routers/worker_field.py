"""The grid worker's field app over HTTP (网格员外勤), and the staff's review of coverage.

Visits, proof rules, check-on lists and marks, notices, patrol coverage and the offline
bundle.

Every ``/api/worker`` route needs a grid worker's bearer token or signed-in session (403
for any other role; a change sent with the session cookie carries the page's CSRF token);
every POST honours ``Idempotency-Key`` (a visit or mark queued offline and sent twice is
filed once).  What they see, and every rule, is :mod:`api.services.worker_field`'s.
"""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import EngineDep, ImpactsDep, SettingsDep, StateDep
from api.schemas.worker_field import (
    BundleAnswer,
    CheckOnAnswer,
    CoverageAnswer,
    GridCoverageOut,
    MarkAnswer,
    MarkBody,
    NoticeOut,
    NoticesAnswer,
    ProofRuleOut,
    ProofRules,
    VisitAnswer,
    VisitBody,
)
from api.services import worker_field

router = APIRouter(tags=["worker"])

GridCode = Annotated[str, Query(pattern=r"^\d{15}$", description="15-digit grid code")]
Days = Annotated[int, Query(ge=1, le=365, description="the period, days back from now")]
#: Answers smaller than this are sent as they are (gzip would not pay).
GZIP_FROM = 1024


@router.post("/api/worker/visits", status_code=201, response_model=VisitAnswer)
async def record_visit(
    body: VisitBody, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> VisitAnswer:
    """Record a visit (走访) to a household of one of my grids (404 for any other)."""
    done = await run_in_threadpool(
        worker_field.record_visit,
        engine,
        settings,
        user,
        body.household_id,
        body.note,
        body.visited_at,
        body.lon,
        body.lat,
        body.coord_type,
    )
    return VisitAnswer.model_validate(done)


@router.get("/api/worker/proof-rules", response_model=ProofRules)
async def proof_rules(engine: EngineDep, user: CurrentUser) -> ProofRules:
    """What each category's 反馈 needs besides the note: a photo, a check-in on site."""
    rules = await run_in_threadpool(worker_field.proof_rules, engine, user)
    return ProofRules(categories=[ProofRuleOut.model_validate(r) for r in rules])


@router.get("/api/worker/checkon", response_model=CheckOnAnswer)
async def check_on(
    engine: EngineDep, user: CurrentUser, impacts: ImpactsDep, grid: GridCode
) -> CheckOnAnswer:
    """Whom to check on in one of my grids during the newest hazard in force over it.

    Names and phones in full for the worker of the grid (each read audited), needs, the
    safe shelter, the walking route around the hazard and my latest mark on each.
    """
    found = await run_in_threadpool(worker_field.check_on, engine, user, grid, impacts)
    return CheckOnAnswer.model_validate(found, from_attributes=True)


@router.post("/api/worker/checkon/marks", status_code=201, response_model=MarkAnswer)
async def mark_person(
    body: MarkBody, engine: EngineDep, user: CurrentUser, impacts: ImpactsDep
) -> MarkAnswer:
    """Mark a person of my check-on list: reached, not at home, needs help (latest counts).

    The command centre sees it live (``checkon`` on ``/api/live/stream``, the progress
    on ``/api/live``).
    """
    done = await run_in_threadpool(
        worker_field.record_mark,
        engine,
        user,
        impacts,
        body.hazard_id,
        body.resident_id,
        body.mark,
        body.note,
        body.marked_at,
    )
    return MarkAnswer.model_validate(done)


@router.get("/api/worker/notices", response_model=NoticesAnswer)
async def notices(engine: EngineDep, user: CurrentUser) -> NoticesAnswer:
    """Deadlines within 2 h or past, 督办 on my cases, cases taken from me, hazard alerts."""
    found = await run_in_threadpool(worker_field.notices, engine, user)
    return NoticesAnswer(notices=[NoticeOut.model_validate(n) for n in found])


@router.get("/api/worker/coverage", response_model=CoverageAnswer)
async def my_coverage(engine: EngineDep, user: CurrentUser, days: Days = 30) -> CoverageAnswer:
    """Patrol coverage (巡查覆盖) of my grids: households and buildings visited, check-ins."""
    found = await run_in_threadpool(worker_field.my_coverage, engine, user, days)
    return CoverageAnswer(days=days, grids=[GridCoverageOut.model_validate(g) for g in found])


@router.get("/api/desk/coverage", response_model=CoverageAnswer)
async def desk_coverage(engine: EngineDep, user: CurrentUser, days: Days = 30) -> CoverageAnswer:
    """Patrol coverage of every current grid of my area (staff; admin: all grids)."""
    found = await run_in_threadpool(worker_field.desk_coverage, engine, user, days)
    return CoverageAnswer(days=days, grids=[GridCoverageOut.model_validate(g) for g in found])


@router.get("/api/worker/bundle", response_model=BundleAnswer)
async def offline_bundle(request: Request, state: StateDep, user: CurrentUser) -> Response:
    """My offline package as JSON for the app to cache (households always masked).

    Grids, buildings, households with visits, tasks, roads (simplified), shelters and
    proof rules; ``expires_at`` says when the app must drop it.  gzip-compressed when the
    client accepts it; never stored by a cache (``Cache-Control: private, no-store``).
    """

    def build() -> bytes:
        found = worker_field.bundle(state.engine, state.settings, state.walking_now(), user)
        return BundleAnswer.model_validate(found, from_attributes=True).model_dump_json().encode()

    body = await run_in_threadpool(build)
    headers = {"Cache-Control": "private, no-store", "Vary": "Accept-Encoding"}
    if len(body) >= GZIP_FROM and "gzip" in request.headers.get("accept-encoding", ""):
        body = await run_in_threadpool(gzip.compress, body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/json", headers=headers)
