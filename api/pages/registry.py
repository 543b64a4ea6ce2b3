"""The registry desk page (人口房屋, ``/registry``): search, read, reveal and edit households.

The page twin of :mod:`api.routers.registry`: every rule is :mod:`api.services.registry`'s.
A reveal answers its POST with the household drawn unmasked (not a redirect: the names must
not travel in a URL or a cookie); the edits redirect back to the household (303) with a
flash message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import CurrentUser
from api.deps import EngineDep
from api.inputs import INT8_MAX, BigId, Text
from api.limits import limit_search
from api.pages.render import flash, render, session_id
from api.schemas.registry import Flag
from api.services import registry
from api.services.registry import FLAGS, NewResident
from gis.errors import InvalidInput

router = APIRouter(tags=["pages"])

FormText = Annotated[Text, Form(max_length=500)]


def _context(**values: object) -> dict[str, object]:
    return {
        "flag_names": registry.FLAG_NAMES_ZH,
        "action_names": registry.ACTION_NAMES_ZH,
        **values,
    }


@router.get("/registry", response_class=HTMLResponse)
async def registry_page(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    q: Annotated[Text | None, Query(max_length=64)] = None,
    building: Annotated[BigId | None, Query()] = None,
    flag: Annotated[list[Flag], Query()] = [],  # noqa: B006
    after: Annotated[int, Query(ge=0, le=INT8_MAX)] = 0,
) -> HTMLResponse:
    """Search the households of my area (address, building, number, name, phone, groups)."""
    query = registry.search_query(q, building_id=building, flags=flag, after_id=after)
    if registry.counts_as_search(query):
        await limit_search(request, user.username)
    found = await run_in_threadpool(registry.search, engine, user, query)
    return render(request, "registry/search.html", _context(found=found, q=q or ""), user=user)


@router.get("/registry/households/{household_id}", response_class=HTMLResponse)
async def household_page(
    request: Request, engine: EngineDep, user: CurrentUser, household_id: BigId
) -> HTMLResponse:
    """One household: residents masked, the reveal form, the edits, its history."""
    view = await run_in_threadpool(registry.household, engine, user, household_id)
    return render(request, "registry/household.html", _context(view=view), user=user)


@router.post("/registry/households/{household_id}/reveal", response_class=HTMLResponse)
async def reveal(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    household_id: BigId,
    reason: FormText = "",
) -> HTMLResponse:
    """The household drawn with its residents' identities, for the reason given (audited)."""
    view = await run_in_threadpool(registry.reveal, engine, user, household_id, reason)
    return render(request, "registry/household.html", _context(view=view), user=user)


def _back(request: Request, household_id: int, message: str) -> RedirectResponse:
    response = RedirectResponse(f"/registry/households/{household_id}", status_code=303)
    sid = session_id(request)
    if sid is not None:
        flash(response, sid, message, "success")
    return response


def _birth_year(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise InvalidInput(
            f"出生年份 (birth_year) {value!r} is not a year; write e.g. 1950"
        ) from None


@router.post("/registry/households/{household_id}/move-in")
async def move_in(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    household_id: BigId,
    name: Annotated[Text, Form(max_length=40)] = "",
    sex: Annotated[Text, Form(max_length=1)] = "",
    birth_year: Annotated[Text, Form(max_length=8)] = "",
    relation: Annotated[Text, Form(max_length=20)] = "",
    id_number: Annotated[Text, Form(max_length=18)] = "",
    phone: Annotated[Text, Form(max_length=20)] = "",
    flag: Annotated[list[Flag], Form()] = [],  # noqa: B006
    reason: FormText = "",
) -> RedirectResponse:
    """Move a resident in (迁入), then back to the household."""
    person = NewResident(
        name=name,
        sex=sex,
        birth_year=_birth_year(birth_year),
        relation=relation,
        id_number=id_number,
        phone=phone,
        **{f: f in flag for f in FLAGS},
    )
    await run_in_threadpool(registry.move_in, engine, user, household_id, person, reason)
    return _back(request, household_id, "已迁入")


@router.post("/registry/households/{household_id}/residents/{resident_id}/move-out")
async def move_out(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    household_id: BigId,
    resident_id: BigId,
    reason: FormText = "",
) -> RedirectResponse:
    """Move a resident out (迁出) for the reason given, then back to the household."""
    await run_in_threadpool(registry.move_out, engine, user, household_id, resident_id, reason)
    return _back(request, household_id, "已迁出")


@router.post("/registry/households/{household_id}/residents/{resident_id}/flags")
async def set_flags(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    household_id: BigId,
    resident_id: BigId,
    flag: Annotated[list[Flag], Form()] = [],  # noqa: B006
    reason: FormText = "",
) -> RedirectResponse:
    """Set a resident's vulnerable groups to exactly those ticked, then back."""
    flags = {f: f in flag for f in FLAGS}
    await run_in_threadpool(
        registry.set_flags, engine, user, household_id, resident_id, flags, reason
    )
    return _back(request, household_id, "已更新标记")
