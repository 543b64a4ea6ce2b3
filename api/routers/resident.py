"""For residents: the shelter and services nearby (no login); a resident's messages, live."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.auth import CurrentUser, still_signed_in
from api.changes import HEARTBEAT_S, NEWS_OPS, SIGNED_OUT
from api.deps import EngineDep, SettingsDep, StateDep
from api.inputs import Text
from api.schemas.common import PointQuery
from api.schemas.resident import (
    AlertEvent,
    NearbyAnswer,
    NearestShelterAnswer,
    NoticeEvent,
    ReminderAnswer,
)
from api.services import neighbourhood, reminders, resident_cases
from api.services.nearby import DEFAULT_MINUTES, MAX_MINUTES, SERVICE_KINDS, nearby_services
from api.services.resident import nearest_shelter

router = APIRouter(tags=["resident"])

#: A live stream ends after this long; the browser reconnects by itself (``retry``).
STREAM_MAX_S = 15 * 60
#: New cases whose reporter may be the one listening.
SOURCES = reminders.RESIDENT_SOURCES


@router.get("/api/resident/nearest-shelter", response_model=NearestShelterAnswer)
async def nearest_shelter_route(
    state: StateDep,
    settings: SettingsDep,
    point: PointQuery,
) -> NearestShelterAnswer:
    """The nearest open shelter on foot: which, how far, how long, and the route (GeoJSON).

    From ``lon``/``lat`` (in ``coord_type``) or the centre of a 北斗 code's cell (``beidou``).
    """

    def answer() -> NearestShelterAnswer:
        return NearestShelterAnswer.of(
            nearest_shelter(
                state.shelters_now(for_lookup=True),
                settings,
                point.lon,
                point.lat,
                point.coord_type,
            )
        )

    return await run_in_threadpool(answer)


KindsQuery = Annotated[
    list[Annotated[Text, Query(max_length=24)]] | None,
    Query(alias="kind", description=f"only these kinds: {', '.join(SERVICE_KINDS)}"),
]
MinutesQuery = Annotated[
    float, Query(ge=1, le=MAX_MINUTES, description="the longest walk shown, minutes")
]


@router.get("/api/resident/nearby", response_model=NearbyAnswer)
async def nearby_route(
    state: StateDep,
    settings: SettingsDep,
    point: PointQuery,
    kinds: KindsQuery = None,
    minutes: MinutesQuery = DEFAULT_MINUTES,
) -> NearbyAnswer:
    """Services near the point (周边服务), nearest on foot first.

    Clinics, pharmacies, elder care, community centres, schools and parks within a walk,
    with walking minutes on the roads, opening hours and phone where known.
    """

    def answer() -> NearbyAnswer:
        return NearbyAnswer.of(
            nearby_services(
                state.engine,
                state.walking_now(for_lookup=True),
                settings,
                point.lon,
                point.lat,
                point.coord_type,
                tuple(kinds or ()),
                minutes,
            )
        )

    return await run_in_threadpool(answer)


@router.get("/api/resident/reminders", response_model=list[ReminderAnswer])
async def my_reminders(engine: EngineDep, user: CurrentUser) -> list[ReminderAnswer]:
    """The reminders about the signed-in resident's own cases (办理提醒), newest first.

    One per step of a case the reporter follows (受理, 已派给网格员, 处理中, 已办结 …), as
    delivered through the outbox; no staff names, no reasons.  Staff: an empty list.
    """
    found = await run_in_threadpool(reminders.reminders_for, engine, user)
    return [ReminderAnswer.model_validate(r, from_attributes=True) for r in found]


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _news_events(news: neighbourhood.MyNotices | None) -> list[str]:
    """The alerts (first) and notices new on a resident's page, as events."""
    if news is None:
        return []
    out = [
        _sse(
            "alert",
            AlertEvent(
                id=a.id,
                kind_name=a.kind_name,
                hazard_name=a.hazard_name,
                severity=a.severity,
                message=a.message,
                at=a.created_at,
                unread=news.unread,
            ).model_dump(mode="json"),
        )
        for a in reversed(news.alerts)
    ]
    out += [
        _sse(
            "notice",
            NoticeEvent(
                id=n.id, title=n.title, audience=n.audience, at=n.created_at, unread=news.unread
            ).model_dump(mode="json"),
        )
        for n in reversed(news.notices)
    ]
    return out


@router.get(
    "/api/resident/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "the events"}},
)
async def my_stream(request: Request, state: StateDep, user: CurrentUser) -> StreamingResponse:
    """Server-sent events of the signed-in resident's new messages (their pages update live).

    Events: ``ready``, then ``reminder`` (id, incident_id, text, at) for each reminder
    written about one of their cases from now on, ``alert`` (id, kind_name, hazard_name,
    severity, message, at, unread) for each hazard alert sent to their household and ``notice``
    (id, title, audience, at, unread) for each notice posted to them (their estate, grid,
    community or group): exactly what ``/r/notices`` would show on reload.  A comment
    every 15 s keeps proxies from closing it.  Woken by the changes the server hears
    (PostgreSQL ``LISTEN``): a step of one of their cases, which writes its reminder in
    the same transaction, or a notice or alert stored; checked again on every keep-alive.
    A browser's ``EventSource`` is signed in by the session cookie; anyone else's cases,
    alerts and notices never show.
    """
    engine = state.engine
    last = await run_in_threadpool(reminders.latest_id, engine, user)
    seen: set[tuple[str, int]] = set()
    await run_in_threadpool(neighbourhood.news_since, engine, user, seen)
    queue = await state.hub.subscribe()

    def mine() -> set[int]:
        return {r.id for r in resident_cases.my_requests(engine, user)}

    async def events() -> AsyncIterator[str]:
        nonlocal last
        started = time.monotonic()
        cases = await run_in_threadpool(mine)
        try:
            yield f"retry: 3000\n: {'.' * 2048}\n\n"  # padding flushes buffering proxies
            yield _sse("ready", {"after": last})
            while time.monotonic() - started < STREAM_MAX_S:
                news = cased = True
                try:
                    change = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                    op = change.get("op")
                    if op in NEWS_OPS:
                        cased = False
                    elif op != "bulk":
                        news = False
                        if change.get("id") not in cases:
                            if op == "insert" and change.get("source") in SOURCES:
                                cases = await run_in_threadpool(mine)
                            continue
                except TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield ": keep-alive\n\n"
                    cases = await run_in_threadpool(mine)
                if not await still_signed_in(request, state, user):
                    yield SIGNED_OUT
                    break
                if news:
                    found = await run_in_threadpool(neighbourhood.news_since, engine, user, seen)
                    for event in _news_events(found):
                        yield event
                if not cased:
                    continue
                new = await run_in_threadpool(
                    partial(reminders.reminders_for, engine, user, after_id=last)
                )
                for r in reversed(new):
                    last = max(last, r.id)
                    yield _sse(
                        "reminder",
                        ReminderAnswer.model_validate(r, from_attributes=True).model_dump(
                            mode="json"
                        ),
                    )
        finally:
            state.hub.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
