"""The residents' phone pages (居民端), in Chinese, 390 px wide first.

``/r/report`` files a problem (报事报修: category, description, up to 4 photos resized on
the phone, the browser's position with a draggable pin), signed in or anonymous with a
call-back phone; the answer is the tracking code's page ``/r/track/{code}`` (public
progress: a plain Chinese timeline, rating once closed).  ``/r/requests`` lists a
signed-in resident's own reports.  ``/r/shelter`` asks the browser's position and shows
the walk to the nearest shelter outside the hazards in force, over the offline basemap.
The use cases are :mod:`api.services.resident_cases` and :mod:`api.services.resident`;
``/resident/shelter`` is the older folium page (coordinates in the address).
"""

from __future__ import annotations

import html
import json
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from shapely.geometry import mapping

from api.auth import CurrentUser, OptionalUser
from api.deps import SettingsDep, StateDep
from api.headers import InlinePage
from api.inputs import BigId, Text
from api.limits import limit_phone
from api.pages.render import render
from api.schemas.common import CoordTypeQuery, LatQuery, LonQuery
from api.services import intake, reminders, resident_cases
from api.services.resident import nearest_shelter, shelter_for_phone
from maps.assets import render_offline
from maps.basemap import BASEMAP_STYLE, raster_source
from maps.resident import WARNING_CLASS, shelter_route_map

router = APIRouter(tags=["resident"])

Code = Annotated[str, Path(max_length=64)]
Comment = Annotated[Text | None, Form(max_length=resident_cases.MAX_COMMENT)]


def _basemap(state: StateDep) -> dict[str, str]:
    """What the page's map draws under its layers: a raster source, or the offline basemap."""
    source = raster_source(state.settings)
    if source is None:
        return {"style": BASEMAP_STYLE}
    return {
        "raster": source.url,
        "attribution": source.attribution,
        "subdomains": source.subdomains,
    }


def _centre(state: StateDep) -> tuple[float, float]:
    w, s, e, n = state.settings.service_area_bounds
    return (w + e) / 2, (s + n) / 2


@router.get("/r/report", response_class=HTMLResponse)
async def report_form(request: Request, state: StateDep, user: OptionalUser) -> HTMLResponse:
    """The report form: category, description, photos, position on a map, phone."""
    table = await run_in_threadpool(intake.categories, state.engine)
    categories = sorted(table.values(), key=lambda c: c.code)
    lon, lat = _centre(state)
    context = {
        "categories": categories,
        "signed_in": user is not None and user.role == "resident",
        "basemap": _basemap(state),
        "centre": {"lon": lon, "lat": lat},
        "max_photos": state.settings.photo_max_count,
    }
    return render(request, "resident/report.html", context, user=user)


@router.post("/r/report", response_class=HTMLResponse, status_code=201)
async def report_file(
    request: Request,
    state: StateDep,
    user: OptionalUser,
    category_code: Annotated[Text, Form(max_length=32)],
    description: Annotated[Text, Form(max_length=intake.MAX_DESCRIPTION)],
    lon: Annotated[float, Form()],
    lat: Annotated[float, Form()],
    contact_phone: Annotated[Text | None, Form(max_length=32)] = None,
    contact_name: Annotated[Text | None, Form(max_length=50)] = None,
    photos: Annotated[list[UploadFile] | None, File()] = None,
) -> HTMLResponse:
    """File the report; answered (201) by a page with its tracking code and the link to it.

    Not a redirect: an Idempotency-Key replay gives back the answer's body (not its
    ``Location``), so the page's script finds the link in the body (``#r-track-link``).
    """
    if user is None or user.role != "resident":  # anonymous: counted per call-back phone too
        await limit_phone(request, contact_phone)
    files = [(f.filename, await f.read()) for f in photos or () if f.filename or f.size]
    rep = intake.Report(
        category_code=category_code,
        description=description,
        lon=lon,
        lat=lat,
        contact_phone=contact_phone or None,
        contact_name=contact_name or None,
    )

    def file() -> intake.Filed:
        return resident_cases.file_resident_report(
            state.engine, state.current_grids(), state.settings, user, rep, files
        )

    filed = await run_in_threadpool(file)
    context = {"code": filed.public_token, "track": f"/r/track/{filed.public_token}?new=1"}
    return render(request, "resident/filed.html", context, user=user, status_code=201)


@router.get("/r/track", response_class=HTMLResponse, response_model=None)
async def track_form(
    request: Request,
    user: OptionalUser,
    code: Annotated[Text | None, Query(max_length=64)] = None,
) -> HTMLResponse | RedirectResponse:
    """Follow a report without an account: type its tracking code (查询码)."""
    if code and code.strip():
        return RedirectResponse(f"/r/track/{quote(code.strip(), safe='')}", status_code=303)
    return render(request, "resident/track_form.html", {}, user=user)


@router.get("/r/track/{code}", response_class=HTMLResponse)
async def track(
    request: Request,
    state: StateDep,
    user: OptionalUser,
    code: Code,
    new: Annotated[str | None, Query(max_length=1)] = None,
    rated: Annotated[str | None, Query(max_length=1)] = None,
) -> HTMLResponse:
    """The public progress of a report by its tracking code."""
    progress = await run_in_threadpool(resident_cases.track, state.engine, code)
    context = {
        "progress": progress,
        "code": code,
        "new": bool(new),
        "rated": bool(rated),
        "rate_action": f"/r/track/{code}/rate",
    }
    return render(request, "resident/track.html", context, user=user)


@router.post("/r/track/{code}/rate")
async def rate_by_code(
    state: StateDep,
    user: OptionalUser,
    code: Code,
    rating: Annotated[int, Form(ge=1, le=5)],
    comment: Comment = None,
) -> RedirectResponse:
    """Rate the closed case of a tracking code."""
    await run_in_threadpool(resident_cases.rate_by_code, state.engine, code, rating, comment)
    return RedirectResponse(f"/r/track/{code}?rated=1", status_code=303)


@router.get("/r/requests", response_class=HTMLResponse)
async def my_requests(request: Request, state: StateDep, user: CurrentUser) -> HTMLResponse:
    """A signed-in resident's own reports, newest first."""
    mine = await run_in_threadpool(resident_cases.my_requests, state.engine, user)
    sent = await run_in_threadpool(reminders.reminders_for, state.engine, user)
    context = {"requests": mine, "reminders": sent, "live_reminders": True}
    return render(request, "resident/requests.html", context, user=user)


@router.get("/r/requests/{incident_id}", response_class=HTMLResponse)
async def my_request(
    request: Request,
    state: StateDep,
    user: CurrentUser,
    incident_id: BigId,
    rated: Annotated[str | None, Query(max_length=1)] = None,
) -> HTMLResponse:
    """One of the resident's own reports, as its timeline."""
    progress = await run_in_threadpool(resident_cases.my_case, state.engine, user, incident_id)
    context = {
        "progress": progress,
        "code": None,
        "new": False,
        "rated": bool(rated),
        "rate_action": f"/r/requests/{incident_id}/rate",
    }
    return render(request, "resident/track.html", context, user=user)


@router.post("/r/requests/{incident_id}/rate")
async def rate_mine(
    state: StateDep,
    user: CurrentUser,
    incident_id: BigId,
    rating: Annotated[int, Form(ge=1, le=5)],
    comment: Comment = None,
) -> RedirectResponse:
    """Rate one's own closed report."""
    await run_in_threadpool(
        resident_cases.rate_mine, state.engine, user, incident_id, rating, comment
    )
    return RedirectResponse(f"/r/requests/{incident_id}?rated=1", status_code=303)


@router.get("/r/shelter", response_class=HTMLResponse)
async def shelter(
    request: Request,
    state: StateDep,
    user: OptionalUser,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
) -> HTMLResponse:
    """The nearest shelter from the browser's position (asked by the page), with the way."""
    context: dict[str, object] = {"basemap": _basemap(state), "asked": False}
    status = 200
    if lon is not None and lat is not None:
        found = await run_in_threadpool(
            lambda: shelter_for_phone(state.shelters_now(for_lookup=True), state.settings, lon, lat)
        )
        way = found.way
        drawn = None
        if way is not None and way.shelter is not None and way.route is not None:
            drawn = {
                "you": [way.lat, way.lon],
                "shelter": [way.shelter.lat, way.shelter.lon],
                "route": [[y, x] for x, y in way.route.coords],
                "hazard": None if way.hazards.area is None else mapping(way.hazards.area),
            }
        context |= {
            "asked": True,
            "found": found,
            "way": way,
            "map_data": None if drawn is None else json.dumps(drawn),
        }
        status = 422 if found.outside else 200
    return render(request, "resident/shelter.html", context, user=user, status_code=status)


@router.get("/resident/shelter", response_class=InlinePage)
async def shelter_page(
    state: StateDep,
    settings: SettingsDep,
    lon: LonQuery,
    lat: LatQuery,
    coord_type: CoordTypeQuery = "wgs84",
) -> HTMLResponse:
    """A phone page (in Chinese): you, the route and your nearest shelter."""

    def render_map() -> str:
        way = nearest_shelter(state.shelters_now(for_lookup=True), settings, lon, lat, coord_type)
        warning = way.hazards.warning
        if way.shelter is None or way.route is None:
            alert = (
                f"<p class='{WARNING_CLASS}' role='alert'>{html.escape(warning)}</p>"
                if warning
                else ""
            )
            return (
                f"<!doctype html><meta charset='utf-8'><meta name='viewport' "
                f"content='width=device-width'>{alert}<p>{html.escape(way.message)}</p>"
            )
        m = shelter_route_map(
            (way.lon, way.lat),
            (way.shelter.lon, way.shelter.lat),
            way.route,
            shelter_name=way.shelter.name,
            minutes=way.minutes or 0.0,
            distance_m=way.distance_m or 0.0,
            warning=warning,
            hazard=way.hazards.area,
            settings=settings,
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render_map))
