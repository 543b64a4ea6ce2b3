"""The case desk (案件办理): the list of the caller's cases with a map, one case, its actions.

``GET /desk`` lists the cases of the caller's area (filters in the query, the home page's
``overdue=1``, ``due=today`` and ``state=…`` among them); an htmx request gets only the
list (``desk/_list.html``).  ``GET /desk/cases/{id}`` shows one case with the actions the
caller may take now; each is a CSRF-protected form posting to ``/desk/cases/{id}/…``,
answered by a redirect to the case with a flash message (htmx: ``HX-Redirect``), or, when
refused (a 409 when someone moved the case meanwhile), by the message in ``#flash``.
``/desk/redispatch`` previews a batch re-dispatch and applies it only when confirmed.
The use cases are :mod:`api.services.desk`, :mod:`api.services.casework` and
:mod:`api.services.dispatching`.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import CurrentUser
from api.deps import EngineDep, StateDep
from api.inputs import BigId, Text
from api.pages.render import flash, render, session_id
from api.services import casework, desk, dispatching
from gis.errors import InvalidInput
from maps.basemap import BASEMAP_STYLE, raster_source

router = APIRouter(tags=["pages"])
#: The list answers htmx with a fragment and a browser with the page: caches must tell them apart.
VARY = {"Vary": "HX-Request"}

Short = Annotated[Text, Query(max_length=64)]
Note = Annotated[Text, Form(max_length=2000)]
DONE_ZH = {
    "register": "已立案",
    "reject": "已不予立案",
    "dispatch": "已派遣",
    "reassign": "已改派",
    "verify": "已核查通过",
    "return": "已退回重办（核查不通过）",
    "close": "已结案",
    "escalate": "已督办",
}


def _basemap(state: StateDep) -> dict[str, str]:
    """What the page's map draws under the cases: a raster source, or the offline basemap."""
    source = raster_source(state.settings)
    if source is None:
        return {"style": BASEMAP_STYLE}
    return {
        "raster": source.url,
        "attribution": source.attribution,
        "subdomains": source.subdomains,
    }


def _is_htmx(request: Request) -> bool:
    """An htmx request for a fragment (not its restoring a page from history)."""
    headers = request.headers
    return bool(headers.get("hx-request")) and not headers.get("hx-history-restore-request")


@router.get("/desk", response_class=HTMLResponse)
async def desk_list(
    request: Request,
    state: StateDep,
    user: CurrentUser,
    state_filter: Annotated[list[Short] | None, Query(alias="state")] = None,
    category: Short | None = None,
    grid: Short | None = None,
    worker: Short | None = None,
    source: Short | None = None,
    overdue: Short | None = None,
    due: Short | None = None,
    date_from: Annotated[Short | None, Query(alias="from")] = None,
    date_to: Annotated[Short | None, Query(alias="to")] = None,
    q: Annotated[Text | None, Query(max_length=100)] = None,
    after: Short | None = None,
) -> HTMLResponse:
    """The cases of the caller's area, newest first, 50 a page, with a map of the page."""
    f = desk.DeskFilter(
        states=tuple(s for s in state_filter or () if s),
        category_code=category or None,
        grid_code=grid or None,
        worker_id=_worker(worker),
        source=source or None,
        overdue=_flag("overdue", overdue),
        due_today=_due(due),
        date_from=_day("from", date_from),
        date_to=_day("to", date_to),
        q=q or None,
        after=after or None,
    )
    page = await run_in_threadpool(desk.desk_page, state.engine, user, f)
    context = {"page": page, "f": f, "query": _query_without_after(request)}
    if _is_htmx(request):
        return render(request, "desk/_list.html", context, user=user, headers=VARY)
    choices = await run_in_threadpool(desk.desk_choices, state.engine, user)
    context |= {"choices": choices, "basemap": _basemap(state)}
    return render(request, "desk/list.html", context, user=user, headers=VARY)


# An empty field of the filter form means "any": the form sends every field, filled or not.


def _worker(value: str | None) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) < 2**31:
        raise InvalidInput(f"worker={value!r} is not a worker id; pick one from the list")
    return int(value)


def _flag(name: str, value: str | None) -> bool:
    if value in (None, "", "0", "false"):
        return False
    if value in ("1", "true", "on"):
        return True
    raise InvalidInput(f"{name}={value!r} is neither 1 nor 0")


def _due(value: str | None) -> bool:
    if value in (None, ""):
        return False
    if value == "today":
        return True
    raise InvalidInput(f"due={value!r}: the desk knows due=today only")


def _day(name: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name}={value!r} is not a day; write it as 2024-05-01") from None


def _query_without_after(request: Request) -> str:
    """The list's query string without its position (the next page adds its own)."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "after" and v]
    return urlencode(kept)


@router.get("/desk/cases/{incident_id}", response_class=HTMLResponse)
async def case_page(
    request: Request, incident_id: BigId, state: StateDep, user: CurrentUser
) -> HTMLResponse:
    """One case: the history in Chinese, photos, the map, and the actions allowed now."""

    def sheet() -> desk.CaseSheet:
        network = state.walking_now().network
        return desk.case_sheet(state.engine, state.settings, user, incident_id, network)

    found = await run_in_threadpool(sheet)
    context = {"sheet": found, "case": found.case, "basemap": _basemap(state)}
    return render(request, "desk/case.html", context, user=user)


def _done(request: Request, target: str, message: str) -> Response:
    """After a change: back to ``target`` with the message (htmx: by ``HX-Redirect``)."""
    response: Response
    if _is_htmx(request):
        response = Response(status_code=204, headers={"HX-Redirect": target})
    else:
        response = RedirectResponse(target, status_code=303)
    sid = session_id(request)
    if sid is not None:
        flash(response, sid, message, "success")
    return response


@router.post("/desk/cases/{incident_id}/actions", response_class=HTMLResponse)
async def act(
    request: Request,
    incident_id: BigId,
    state: StateDep,
    user: CurrentUser,
    action: Annotated[Text, Form(max_length=20)],
    note: Note = "",
    assignee_id: Annotated[Text, Form(max_length=12)] = "",
) -> Response:
    """Take one action on a case (立案, 派遣, 改派, 核查, 退回, 结案, 督办 …).

    ``dispatch`` with ``assignee_id=recommended`` (or none) goes to the recommended
    worker, its reasons noted in the history.
    """
    if action not in desk.DESK_ACTIONS:
        raise InvalidInput(
            f"action={action[:20]!r} is not an action of the desk; actions are "
            + ", ".join(desk.DESK_ACTIONS)
        )
    worker: int | None = None
    if assignee_id and assignee_id != "recommended":
        if not assignee_id.isdigit() or not 1 <= int(assignee_id) < 2**31:
            raise InvalidInput(f"assignee_id={assignee_id!r} is not a worker id; pick a worker")
        worker = int(assignee_id)
    text = note.strip() or None
    if action in ("dispatch", "reassign") and worker is None:
        chosen = (
            dispatching.dispatch_recommended if action == "dispatch" else desk.reassign_recommended
        )

        def recommended() -> casework.Case:
            network = state.walking_now().network
            return chosen(state.engine, state.settings, user, incident_id, text, network)

        await run_in_threadpool(recommended)
    else:
        step = casework.Step(action, text, worker)
        await run_in_threadpool(casework.act, state.engine, user, incident_id, step)
    return _done(request, f"/desk/cases/{incident_id}", f"事件 {incident_id} {DONE_ZH[action]}")


@router.post("/desk/cases/{incident_id}/merge", response_class=HTMLResponse)
async def merge(
    request: Request,
    incident_id: BigId,
    engine: EngineDep,
    user: CurrentUser,
    into: Annotated[BigId, Form()],
) -> Response:
    """Merge this duplicate report into the case it repeats (both histories kept)."""
    await run_in_threadpool(casework.merge, engine, user, incident_id, into)
    return _done(
        request, f"/desk/cases/{into}", f"事件 {incident_id} 已作为重复上报合并至事件 {into}"
    )


@router.post("/desk/cases/{incident_id}/grid", response_class=HTMLResponse)
async def confirm_grid(
    request: Request,
    incident_id: BigId,
    state: StateDep,
    user: CurrentUser,
    grid_code: Annotated[Text, Form(max_length=32)] = "",
) -> Response:
    """Confirm the grid of a case reported near a grid edge, or move it across the edge."""
    within_m = max(2 * state.settings.near_boundary_m, 1.0)
    code = grid_code.strip() or None
    await run_in_threadpool(casework.confirm_grid, state.engine, user, incident_id, code, within_m)
    return _done(request, f"/desk/cases/{incident_id}", f"事件 {incident_id} 所属网格已确认")


# ------------------------------------------------------------------ batch re-dispatch


@router.get("/desk/redispatch", response_class=HTMLResponse)
async def redispatch_preview(
    request: Request,
    state: StateDep,
    user: CurrentUser,
    widen: Literal["grid", "community", "area"] = "grid",
    include_dispatched: bool = False,
) -> HTMLResponse:
    """What a batch re-dispatch of the caller's backlog would do; nothing changes yet."""

    def preview() -> dispatching.Preview:
        return dispatching.redispatch_preview(
            state.engine,
            state.settings,
            user,
            state.walking_now().network,
            widen=widen,
            include_dispatched=include_dispatched,
        )

    found = await run_in_threadpool(preview)
    moves = json.dumps(
        [
            {
                "incident_id": m.incident_id,
                "version": m.version,
                "state": m.state,
                "from_worker_id": m.from_worker_id,
                "to_worker_id": m.to_worker_id,
                "action": m.action,
                "reason": m.reason,
            }
            for m in found.moves
        ],
        ensure_ascii=False,
    )
    context = {"preview": found, "moves_json": moves}
    return render(request, "desk/redispatch.html", context, user=user)


_MOVE_FIELDS = {
    "incident_id": int,
    "version": (int, type(None)),
    "state": str,
    "from_worker_id": (int, type(None)),
    "to_worker_id": int,
    "action": str,
    "reason": str,
}


def _move(sent: object) -> dispatching.Move:
    """One move of a preview as the form sends it back; TypeError when it is not one."""
    if not isinstance(sent, dict) or set(sent) != set(_MOVE_FIELDS):
        raise TypeError("a move has exactly the fields " + ", ".join(_MOVE_FIELDS))
    for name, kind in _MOVE_FIELDS.items():
        if not isinstance(sent[name], kind) or isinstance(sent[name], bool):
            raise TypeError(f"a move's {name} has the wrong type")
    return dispatching.Move(**sent)


@router.post("/desk/redispatch", response_class=HTMLResponse)
async def redispatch_confirm(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    preview_id: Annotated[Text, Form(max_length=64)],
    widen: Annotated[Literal["grid", "community", "area"], Form()],
    moves: Annotated[Text, Form(max_length=2_000_000)],
) -> HTMLResponse:
    """Apply a confirmed preview, each move checked again; show what was and was not moved."""
    try:
        sent = [_move(m) for m in json.loads(moves)]
    except (ValueError, TypeError) as exc:
        raise InvalidInput(
            f"moves is not the preview's list of moves ({exc}); preview again"
        ) from None
    done = await run_in_threadpool(
        dispatching.redispatch_confirm, engine, user, preview_id, widen, sent
    )
    return render(request, "desk/redispatch_done.html", {"done": done}, user=user)
