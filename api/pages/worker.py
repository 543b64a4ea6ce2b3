"""The grid worker's tablet page (网格员工作台, in Chinese, 1280×800)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.deps import EngineDep, SettingsDep
from api.headers import InlinePage
from api.services.worker import tablet_page

router = APIRouter(tags=["worker"])


@router.get("/worker", response_class=InlinePage)
async def worker_tablet(engine: EngineDep, settings: SettingsDep) -> HTMLResponse:
    """The worker's tablet page: open it once as ``/worker?token=…``.

    The page holds no data; its script reads the token once from ``?token=…`` (then
    removes it from the address bar and keeps it in ``sessionStorage`` for the tab's
    lifetime) and calls the ``/api/worker`` routes with ``Authorization: Bearer``.
    """
    return HTMLResponse(await run_in_threadpool(tablet_page, engine, settings))
