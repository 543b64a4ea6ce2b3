"""The registry desk over HTTP (``/api/registry``): the JSON twin of the ``/registry`` page.

Community staff, street staff and admins search the buildings, households and residents of
their area, read a household (identities masked), reveal one household's identities for a
stated reason (audited), move residents in and out and set their vulnerable groups (with
history).  Every rule is :mod:`api.services.registry`'s; a household outside the area is 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import CurrentUser
from api.deps import EngineDep
from api.inputs import INT8_MAX, BigId, Text
from api.limits import limit_search
from api.schemas.registry import (
    Flag,
    FlagsBody,
    FlagsOut,
    HouseholdOut,
    MovedIn,
    MoveInBody,
    MoveOutBody,
    RevealBody,
    SearchAnswer,
)
from api.services import registry
from api.services.registry import NewResident

router = APIRouter(prefix="/api/registry", tags=["registry"])


@router.get("", response_model=SearchAnswer)
async def search(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    q: Annotated[
        Text | None,
        Query(max_length=64, description="address, building, household number, name or phone"),
    ] = None,
    building: Annotated[BigId | None, Query(description="only this building")] = None,
    flag: Annotated[list[Flag], Query(description="only households with these groups")] = [],  # noqa: B006
    after: Annotated[
        int, Query(ge=0, le=INT8_MAX, description="the last id of the previous page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=registry.MAX_LIMIT)] = 50,
) -> SearchAnswer:
    """Households of my area matching the search, by id (keyset pages); names masked."""
    query = registry.search_query(q, building_id=building, flags=flag, after_id=after, limit=limit)
    if registry.counts_as_search(query):
        await limit_search(request, user.username)
    found = await run_in_threadpool(registry.search, engine, user, query)
    return SearchAnswer.model_validate(
        {
            "households": [h.__dict__ for h in found.households],
            "buildings": found.buildings,
            "next_after": found.next_after,
        }
    )


def _out(view: registry.HouseholdView) -> HouseholdOut:
    people = [{**p.__dict__, "flags": list(p.flags)} for p in view.people]
    return HouseholdOut.model_validate({**view.__dict__, "people": people})


@router.get("/households/{household_id}", response_model=HouseholdOut)
async def household(engine: EngineDep, user: CurrentUser, household_id: BigId) -> HouseholdOut:
    """One household of my area: residents (masked), history, who revealed it and why."""
    return _out(await run_in_threadpool(registry.household, engine, user, household_id))


@router.post("/households/{household_id}/reveal", response_model=HouseholdOut)
async def reveal(
    engine: EngineDep, user: CurrentUser, household_id: BigId, body: RevealBody
) -> HouseholdOut:
    """The household's residents unmasked, for the reason given; written to the audit log."""
    view = await run_in_threadpool(registry.reveal, engine, user, household_id, body.reason)
    return _out(view)


@router.post("/households/{household_id}/residents", response_model=MovedIn, status_code=201)
async def move_in(
    engine: EngineDep, user: CurrentUser, household_id: BigId, body: MoveInBody
) -> MovedIn:
    """Move a resident into the household (迁入); recorded in its history."""
    person = NewResident(
        name=body.name,
        sex=body.sex,
        birth_year=body.birth_year,
        relation=body.relation,
        id_number=body.id_number,
        phone=body.phone,
        **{f: True for f in body.flags},
    )
    resident_id = await run_in_threadpool(
        registry.move_in, engine, user, household_id, person, body.reason
    )
    return MovedIn(resident_id=resident_id)


@router.post("/households/{household_id}/residents/{resident_id}/move-out", status_code=204)
async def move_out(
    engine: EngineDep, user: CurrentUser, household_id: BigId, resident_id: BigId, body: MoveOutBody
) -> None:
    """Move a resident out of the household (迁出), saying why; recorded in its history."""
    await run_in_threadpool(registry.move_out, engine, user, household_id, resident_id, body.reason)


@router.patch("/households/{household_id}/residents/{resident_id}/flags", response_model=FlagsOut)
async def set_flags(
    engine: EngineDep, user: CurrentUser, household_id: BigId, resident_id: BigId, body: FlagsBody
) -> FlagsOut:
    """Set or clear a resident's vulnerable groups; a change is recorded in the history."""
    flags = await run_in_threadpool(
        registry.set_flags, engine, user, household_id, resident_id, dict(body.flags), body.reason
    )
    return FlagsOut(flags=flags)
