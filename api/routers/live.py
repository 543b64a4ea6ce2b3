"""The live picture over HTTP (态势一张图): snapshot, open incidents, event stream, wall screen.

For the command centre's staff (a resident or a grid worker: 403): the open incidents,
affected grids, check-on rows and workers of the grids they cover; hazards and shelters
district-wide.  Workers report their own positions here (the worker themself or an
admin).  The work is :mod:`api.services.live`; :mod:`maps.live` draws the page.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse

from api.auth import CurrentUser, still_signed_in
from api.changes import HEARTBEAT_S, NEWS_OPS, SIGNED_OUT
from api.deps import EngineDep, ImpactsDep, SettingsDep, StateDep
from api.headers import InlinePage
from api.inputs import Id
from api.schemas.live import LiveIncident, LiveSnapshot, PositionIn, PositionOut
from api.services import awareness as aw
from api.services import live
from maps.assets import render_offline
from maps.live import incident_records, live_map

router = APIRouter(tags=["awareness"])

#: A live stream ends after this long; the browser reconnects by itself (``retry``).
STREAM_MAX_S = 15 * 60


@router.get("/api/live/incidents", response_model=list[LiveIncident])
def live_incidents(engine: EngineDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Open incidents as the live map draws them (id, state, category, place; no description).

    Staff only; the incidents of the grids they cover (admin: all).
    """
    return incident_records(live.open_incidents(engine, user))


@router.get("/api/live", response_model=LiveSnapshot)
def live_snapshot(engine: EngineDep, user: CurrentUser, impacts: ImpactsDep) -> LiveSnapshot:
    """The live picture as data.

    Open incidents by state, hazards in force, shelters with occupancy (and whether a
    hazard makes them unusable), workers' last positions, and the check-on progress per
    grid during a hazard (people to check on; reached, not at home, needing help, as the
    workers marked them).  Staff only: the incidents, workers and progress of the grids
    they cover; hazards and shelters district-wide.
    """
    return LiveSnapshot.of(live.snapshot(engine, user, impacts))


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get(
    "/api/live/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the events"}},
)
async def live_stream(request: Request, state: StateDep, user: CurrentUser) -> StreamingResponse:
    """Server-sent events of incident changes, pushed from PostgreSQL ``LISTEN``.

    Events: ``ready`` (listening), ``incident`` (one changed incident: id, state,
    category, lon, lat, grid …), ``bulk`` (many changed at once: fetch
    ``/api/live/incidents`` again), ``checkon`` (a worker marked a person of a check-on
    list: hazard_id, resident_id, grid, mark, marked_at; ``/api/live`` has the progress);
    a comment every 15 s keeps proxies from closing it; ``ended`` when the credential it
    was opened with ends (a token revoked, a sign-out, the account disabled), the last.

    Staff only, and only the incidents of the grids they cover (admin: all).  A browser's
    ``EventSource`` sends no headers but does send the same-origin session cookie: the
    live page's stream is signed in by the session of ``/login``.
    """
    follower = await run_in_threadpool(live.follow, state.engine, user)
    queue = await state.hub.subscribe()

    async def events() -> AsyncIterator[str]:
        started = time.monotonic()
        try:
            yield f"retry: 3000\n: {'.' * 2048}\n\n"  # padding flushes buffering proxies
            yield _sse("ready", {"at": aw.now().isoformat()})
            while time.monotonic() - started < STREAM_MAX_S:
                try:
                    change = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    change = None
                    if await request.is_disconnected():
                        break
                if not await still_signed_in(request, state, user):
                    yield SIGNED_OUT
                    break
                if change is None:
                    yield ": keep-alive\n\n"
                    continue
                if change.get("op") == "bulk":
                    yield _sse("bulk", {"count": change.get("count")})
                    continue
                if change.get("op") in NEWS_OPS:
                    continue  # a residents' notice or alert, no incident
                if change.get("op") == "checkon":
                    mark = follower.checkon_event(change)
                    if mark is not None:
                        yield _sse("checkon", mark)
                    continue
                event = await run_in_threadpool(follower.incident_event, change)
                if event is not None:
                    yield _sse("incident", event)
        finally:
            state.hub.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/live", response_class=InlinePage)
def live_page(state: StateDep, user: CurrentUser, impacts: ImpactsDep) -> HTMLResponse:
    """The command centre's live map (态势一张图), updated by server-sent events.

    Hazards in force (the newest :data:`api.services.live.LIVE_HAZARDS`) are drawn with
    their affected grids and check-on lists (resident ids, safe shelters and routes).
    Staff only, opened in a browser signed in at ``/login``: the page's script reads the
    stream, the open incidents and the tiles with the same session cookie (the page holds
    no credential); incidents, affected grids, check-on rows and workers are those of the
    grids the user covers.
    """
    engine = state.engine
    page = live.live_page(engine, user, state.study_cells.get(engine), impacts)
    m = live_map(
        page.grids,
        page.incidents,
        heat=page.heat,
        hotspots=page.hotspots,
        hazards=page.hazards,
        shelters=page.shelters,
        workers=page.workers,
        affected=page.affected,
        check_on=page.check_on,
        stream_url="/api/live/stream",
        incidents_url="/api/live/incidents",
        snapshot_url="/api/live",
        tiles_base="/tiles",
        settings=state.settings,
    )
    return HTMLResponse(render_offline(m))


@router.post("/api/workers/{worker_id}/position", status_code=201, response_model=PositionOut)
def worker_position(
    engine: EngineDep, settings: SettingsDep, user: CurrentUser, worker_id: Id, body: PositionIn
) -> PositionOut:
    """Record where a grid worker is; the live map shows each worker's latest position.

    Only that worker themself (their tablet) or an admin may report it (403 otherwise).
    """
    report = live.PositionReport(body.lon, body.lat, body.coord_type, body.at)
    return PositionOut.of(live.record_position(engine, settings, user, worker_id, report))
