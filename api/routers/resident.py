"""For residents: the nearest open shelter and the walk there; no login, no personal data."""

from __future__ import annotations

import html
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import Engine

import shapely

from analysis.hazard import KIND_NAMES
from analysis.nearest import NoShelterReachable
from analysis.walking import SheltersNow
from api.deps import EngineDep, SettingsDep, get_state
from gis.coords import COORD_TYPES, to_wgs84
from gis.settings import Settings
from maps.assets import render_offline
from maps.resident import WARNING_CLASS, shelter_route_map

router = APIRouter(tags=["resident"])

#: Skipped shelters named in the warning (the rest are counted).
SKIPPED_NAMED = 3

SHELTER_CLASS_NAMES = {
    "emergency": "紧急避难场所",
    "fixed": "固定避难场所",
    "central": "中心避难场所",
}


class ShelterInfo(BaseModel):
    """A shelter as the public may know it."""

    id: int
    name: str
    shelter_class: str
    shelter_class_name: str
    capacity: int
    occupancy: int
    lon: float
    lat: float


class HazardInfo(BaseModel):
    """A hazard area in force (预警), as the public may know it."""

    id: int
    kind: str
    kind_name: str
    name: str
    severity: int


class ShelterRef(BaseModel):
    """A shelter by id and name."""

    id: int
    name: str


class NearestShelterAnswer(BaseModel):
    """The nearest open shelter on foot, or why there is none.

    While hazard areas are in force (``hazards``), the shelters inside them are skipped
    (``skipped_shelters``), the roads meeting them are closed, and ``warning`` says so
    in Chinese; a point inside one (``in_hazard_area``) walks straight to the nearest
    open road first, its way out.
    """

    found: bool
    message: str
    lon: float
    lat: float
    shelter: ShelterInfo | None = None
    distance_m: float | None = None
    minutes: float | None = None
    walk_to_road_m: float | None = None
    route: dict[str, Any] | None = None
    hazards: list[HazardInfo] = []
    skipped_shelters: list[ShelterRef] = []
    in_hazard_area: bool = False
    warning: str | None = None


def _hazard_fields(data: SheltersNow, x: float, y: float) -> dict[str, Any]:
    """The hazards in force, the shelters skipped and the warning to show (none: empty)."""
    if data.closure is None or data.closure.area_m is None:
        return {}
    hazards = [
        HazardInfo(
            id=int(h.id),
            kind=str(h.kind),
            kind_name=KIND_NAMES.get(h.kind, str(h.kind)),
            name=str(h.name),
            severity=int(h.severity),
        )
        for h in data.hazards.itertuples()
    ]
    names = data.walking.shelters["name"]
    skipped = [ShelterRef(id=int(i), name=str(names.loc[i])) for i in data.shelters_inside]
    inside = bool(data.closure.covers([x], [y])[0])
    warning = "；".join(f"{h.kind_name}预警生效中：{h.name}" for h in hazards)
    warning += "，已避开危险区域内的避难场所"
    if skipped:
        listed = "、".join(s.name for s in skipped[:SKIPPED_NAMED])
        more = f"等{len(skipped)}处" if len(skipped) > SKIPPED_NAMED else ""
        warning += f"（{listed}{more}）"
    warning += "和道路。"
    if inside:
        warning += "您正位于危险区域内，请沿路线尽快离开。"
    return {
        "hazards": hazards,
        "skipped_shelters": skipped,
        "in_hazard_area": inside,
        "warning": warning,
    }


def _answer(
    request: Request, engine: Engine, settings: Settings, lon: float, lat: float, coord_type: str
) -> tuple[NearestShelterAnswer, Any, SheltersNow]:
    x, y = to_wgs84(lon, lat, coord_type)
    data = get_state(request).shelters_now()
    network, bounds = data.walking.network, data.walking.bounds
    if network is None or bounds is None:
        raise HTTPException(503, "no road network is loaded yet")
    w, s, e, n = bounds
    served = f"the road network of this district (lon {w:.4f}–{e:.4f}, lat {s:.4f}–{n:.4f})"
    snap = network.snap(np.array([x]), np.array([y]))
    offset = float(np.asarray(snap.offset_m)[0])
    if offset > settings.max_walk_to_road_m:
        raise HTTPException(
            422,
            f"the point ({x:.5f}, {y:.5f}) is {offset:,.0f} m from the "
            f"nearest road, outside the area served: {served}. Check the "
            "coordinates and coord_type (a WeChat mini-program sends gcj02).",
        )
    hazard = _hazard_fields(data, x, y)
    outside = " outside the hazard area" if hazard else ""
    if data.index is None:
        return (
            NearestShelterAnswer(
                found=False,
                lon=x,
                lat=y,
                walk_to_road_m=offset,
                message=f"no open shelter{outside} in this district: call 110/119 or follow "
                "your grid worker",
                **hazard,
            ),
            None,
            data,
        )
    try:
        best = data.index.nearest(x, y)
    except NoShelterReachable:
        return (
            NearestShelterAnswer(
                found=False,
                lon=x,
                lat=y,
                walk_to_road_m=offset,
                message=f"no open shelter{outside} can be reached on foot from "
                "here; call 110/119 or follow your grid worker",
                **hazard,
            ),
            None,
            data,
        )
    row = data.walking.shelters.loc[best.shelter_id]
    info = ShelterInfo(
        id=int(best.shelter_id),
        name=str(row["name"]),
        shelter_class=str(row["shelter_class"]),
        shelter_class_name=SHELTER_CLASS_NAMES.get(row["shelter_class"], "避难场所"),
        capacity=int(row["capacity"]),
        occupancy=int(row["occupancy"]),
        lon=float(row["geom"].x),
        lat=float(row["geom"].y),
    )
    answer = NearestShelterAnswer(
        found=True,
        lon=x,
        lat=y,
        shelter=info,
        distance_m=round(best.distance_m, 1),
        minutes=round(best.minutes, 1),
        walk_to_road_m=round(best.offset_m, 1),
        route=shapely.geometry.mapping(shapely.set_precision(best.route, 1e-7)),
        message=f"最近的{'安全' if hazard else ''}避难场所是{info.name}，"
        f"步行约{best.minutes:.0f}分钟",
        **hazard,
    )
    return answer, best, data


Lon = Annotated[float, Query(ge=-180, le=180, description="longitude, degrees")]
Lat = Annotated[float, Query(ge=-90, le=90, description="latitude, degrees")]
CoordType = Annotated[str, Query(description=f"one of {', '.join(COORD_TYPES)}")]


@router.get("/api/resident/nearest-shelter", response_model=NearestShelterAnswer)
async def nearest_shelter(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    lon: Lon,
    lat: Lat,
    coord_type: CoordType = "wgs84",
) -> NearestShelterAnswer:
    """The nearest open shelter on foot: which, how far, how long, and the route (GeoJSON)."""
    answer, _, _ = await run_in_threadpool(_answer, request, engine, settings, lon, lat, coord_type)
    return answer


@router.get("/resident/shelter", response_class=HTMLResponse)
async def shelter_page(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    lon: Lon,
    lat: Lat,
    coord_type: CoordType = "wgs84",
) -> HTMLResponse:
    """A phone page (in Chinese): you, the route and your nearest shelter."""

    def render() -> str:
        answer, best, data = _answer(request, engine, settings, lon, lat, coord_type)
        if best is None or answer.shelter is None:
            warning = (
                f"<p class='{WARNING_CLASS}' role='alert'>{html.escape(answer.warning)}</p>"
                if answer.warning
                else ""
            )
            return (
                f"<!doctype html><meta charset='utf-8'><meta name='viewport' "
                f"content='width=device-width'>{warning}<p>{html.escape(answer.message)}</p>"
            )
        m = shelter_route_map(
            (answer.lon, answer.lat),
            (answer.shelter.lon, answer.shelter.lat),
            best.route,
            shelter_name=answer.shelter.name,
            minutes=best.minutes,
            distance_m=best.distance_m,
            warning=answer.warning,
            hazard=data.area,
            settings=settings,
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))
