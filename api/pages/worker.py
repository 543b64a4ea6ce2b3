"""The grid worker's tablet page (网格员工作台, in Chinese, 1280×800)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep
from api.headers import InlinePage
from api.pages.render import csrf_token
from api.services.worker import tablet_page

router = APIRouter(tags=["worker"])


@router.get("/worker", response_class=InlinePage)
async def worker_tablet(
    request: Request, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> HTMLResponse:
    """The worker's tablet page: the worker signs in at ``/login`` like staff.

    A browser that is not signed in is sent to ``/login`` and back; anyone but a grid
    worker is refused (403).  The page holds no data and no token: its script calls the
    ``/api/worker`` routes with the session cookie (and the session's CSRF token on
    every change).  A bearer token also opens it (the token is not written into it).
    """
    html = await run_in_threadpool(tablet_page, engine, settings, user, csrf_token(request) or "")
    return HTMLResponse(html, headers={"Cache-Control": "private, no-store"})
