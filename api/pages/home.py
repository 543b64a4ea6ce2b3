"""The home page (首页): what the signed-in person must do now, and the navigation of their role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.auth import CurrentUser
from api.deps import EngineDep
from api.pages.render import render
from api.services.home import to_do

router = APIRouter(tags=["pages"])


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, engine: EngineDep, user: CurrentUser) -> HTMLResponse:
    """The to-do counts of the user's role and area, each linking to the cases behind it.

    A browser that is not signed in is sent to ``/login`` (and back here afterwards).
    """
    todo = await run_in_threadpool(to_do, engine, user)
    return render(request, "home.html", {"todo": todo}, user=user)
