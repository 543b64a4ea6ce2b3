"""The residents' phone pages of an estate and the staff pages behind them.

Residents (``/r/…``, Chinese, 390 px wide first): ``/r/nearby`` (周边服务: the browser's
position, then the services by walking time, drawn by ``/r/nearby/list``), ``/r/notices``
(hazard alerts first, then the notices for where they live, with the unread count) and
``/r/wishes`` (你说我做: post a wish, support others').  Staff: ``/desk/notices`` (post to an
estate, a grid, the community or a group) and ``/desk/wishes`` (adopt, decline with a
reason, or make a task with an owner and a due date).  The use cases are
:mod:`api.services.neighbourhood` and :mod:`api.services.nearby`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import CurrentUser, OptionalUser
from api.deps import EngineDep, SettingsDep, StateDep
from api.inputs import BigId, Id, Text
from api.pages.render import flash, render, session_id
from api.schemas.common import PointQuery
from api.services import nearby, neighbourhood, reminders
from gis.errors import InvalidInput
from maps.basemap import BASEMAP_STYLE, raster_source

router = APIRouter(tags=["pages"])

Title = Annotated[Text, Form(max_length=120)]
Body = Annotated[Text, Form(max_length=4000)]
Short = Annotated[Text, Form(max_length=64)]


def _done(request: Request, target: str, message: str) -> Response:
    """After a change: back to ``target`` with the message (htmx: by ``HX-Redirect``)."""
    response: Response
    if request.headers.get("hx-request"):
        response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    sid = session_id(request)
    if sid is not None:
        flash(response, sid, message, "success")
    return response


def _optional_id(name: str, value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) < 2**31:
        raise InvalidInput(f"{name}={value[:20]!r} is not an id; pick one from the list")
    return int(value)


# ------------------------------------------------------------------ 周边服务


def _basemap(state: StateDep) -> dict[str, str]:
    """What the map draws under the services: a raster source, or the offline basemap."""
    source = raster_source(state.settings)
    if source is None:
        return {"style": BASEMAP_STYLE}
    return {
        "raster": source.url,
        "attribution": source.attribution,
        "subdomains": source.subdomains,
    }


@router.get("/r/nearby", response_class=HTMLResponse)
async def nearby_page(request: Request, state: StateDep, user: OptionalUser) -> HTMLResponse:
    """周边服务: asks the browser for its position, then lists the services on foot."""
    context = {"kinds": nearby.SERVICE_KINDS, "basemap": _basemap(state)}
    return render(request, "r/nearby.html", context, user=user)


@router.get("/r/nearby/list", response_class=HTMLResponse)
async def nearby_list(
    request: Request,
    state: StateDep,
    settings: SettingsDep,
    user: OptionalUser,
    point: PointQuery,
) -> HTMLResponse:
    """The services within a walk of the position, nearest first (a fragment)."""

    def found() -> nearby.Nearby:
        return nearby.nearby_services(
            state.engine,
            state.walking_now(for_lookup=True),
            settings,
            point.lon,
            point.lat,
            point.coord_type,
        )

    context = {"nearby": await run_in_threadpool(found)}
    return render(request, "r/_nearby.html", context, user=user)


# ------------------------------------------------------------------ notices


@router.get("/r/notices", response_class=HTMLResponse)
async def my_notices(request: Request, engine: EngineDep, user: CurrentUser) -> HTMLResponse:
    """通知公告: hazard alerts first, the reminders of their cases, then the notices."""
    mine = await run_in_threadpool(neighbourhood.my_notices, engine, user)
    sent = await run_in_threadpool(reminders.reminders_for, engine, user)
    return render(
        request,
        "r/notices.html",
        {"mine": mine, "reminders": sent, "live_reminders": True},
        user=user,
    )


@router.get("/r/notices/{notice_id}", response_class=HTMLResponse)
async def one_notice(
    request: Request, notice_id: BigId, engine: EngineDep, user: CurrentUser
) -> HTMLResponse:
    """One notice, recorded as read."""
    notice = await run_in_threadpool(neighbourhood.read_notice, engine, user, notice_id)
    return render(request, "r/notice.html", {"notice": notice}, user=user)


@router.post("/r/alerts/{alert_id}/seen", response_class=HTMLResponse)
async def see_alert(
    request: Request, alert_id: BigId, engine: EngineDep, user: CurrentUser
) -> Response:
    """The resident has seen a hazard alert (知道了): it no longer counts as unread."""
    await run_in_threadpool(neighbourhood.see_alert, engine, user, alert_id)
    return _done(request, "/r/notices", "已确认收到预警")


@router.get("/desk/notices", response_class=HTMLResponse)
async def notices_desk(request: Request, engine: EngineDep, user: CurrentUser) -> HTMLResponse:
    """Post a notice to an estate, a grid, a community or a group; the latest posted."""

    def sheet() -> dict:
        return {
            "communities": neighbourhood.communities(engine, user),
            "posted": neighbourhood.posted_notices(engine, user),
            "scopes": neighbourhood.SCOPE_NAMES,
            "groups": neighbourhood.GROUP_NAMES,
        }

    return render(request, "desk/notices.html", await run_in_threadpool(sheet), user=user)


@router.post("/desk/notices", response_class=HTMLResponse)
async def post_notice(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    community_id: Annotated[Id, Form()],
    scope: Short,
    title: Title,
    body: Body,
    estate_id: Short = "",
    grid_id: Short = "",
    target_group: Short = "",
) -> Response:
    """Post the notice; back to the desk with a message."""
    draft = neighbourhood.NoticeDraft(
        community_id=community_id,
        scope=scope,
        title=title,
        body=body,
        estate_id=_optional_id("estate_id", estate_id) if scope == "estate" else None,
        grid_id=_optional_id("grid_id", grid_id) if scope == "grid" else None,
        target_group=(target_group or None) if scope == "group" else None,
    )
    await run_in_threadpool(neighbourhood.post_notice, engine, user, draft)
    return _done(request, "/desk/notices", f"通知“{title.strip()[:30]}”已发布")


# ------------------------------------------------------------------ 你说我做


@router.get("/r/wishes", response_class=HTMLResponse)
async def wishes_page(request: Request, engine: EngineDep, user: CurrentUser) -> HTMLResponse:
    """你说我做: the wishes of the resident's estate, their progress, and a form for a new one."""
    where, found = await run_in_threadpool(neighbourhood.estate_wishes, engine, user)
    return render(request, "r/wishes.html", {"where": where, "wishes": found}, user=user)


@router.post("/r/wishes", response_class=HTMLResponse)
async def post_wish(
    request: Request, engine: EngineDep, user: CurrentUser, title: Title, body: Body = ""
) -> Response:
    """Post a wish for the resident's estate."""
    wish_id = await run_in_threadpool(neighbourhood.post_wish, engine, user, title, body)
    return _done(request, f"/r/wishes#wish-{wish_id}", "心愿已提交，邻居们可以为它点赞支持")


@router.post("/r/wishes/{wish_id}/support", response_class=HTMLResponse)
async def support_wish(
    request: Request, wish_id: BigId, engine: EngineDep, user: CurrentUser
) -> Response:
    """Support a wish of the estate (once)."""
    await run_in_threadpool(neighbourhood.support_wish, engine, user, wish_id)
    return _done(request, f"/r/wishes#wish-{wish_id}", "已支持")


@router.get("/desk/wishes", response_class=HTMLResponse)
async def wishes_desk(request: Request, engine: EngineDep, user: CurrentUser) -> HTMLResponse:
    """The wishes of the staff member's communities, with the decisions open to them."""
    where, found = await run_in_threadpool(neighbourhood.estate_wishes, engine, user)
    context = {"where": where, "wishes": found}
    return render(request, "desk/wishes.html", context, user=user)


DONE_ZH = {"adopt": "已采纳", "decline": "已答复不予采纳", "task": "已转为任务"}


@router.post("/desk/wishes/{wish_id}/decide", response_class=HTMLResponse)
async def decide_wish(
    request: Request,
    wish_id: BigId,
    engine: EngineDep,
    user: CurrentUser,
    action: Short,
    reason: Body = "",
    owner: Short = "",
    due_date: Short = "",
) -> Response:
    """Adopt, decline with a reason, or make a task with an owner and a due date."""
    due: date | None = None
    if action == "task" and due_date:
        try:
            due = date.fromisoformat(due_date)
        except ValueError:
            raise InvalidInput(
                f"due_date={due_date[:20]!r} is not a date; use YYYY-MM-DD"
            ) from None
    decision = neighbourhood.Decision(action, reason or None, owner or None, due)
    await run_in_threadpool(neighbourhood.decide_wish, engine, user, wish_id, decision)
    return _done(request, "/desk/wishes", f"心愿 {wish_id} {DONE_ZH.get(action, '已处理')}")
