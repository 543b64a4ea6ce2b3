"""For residents: the nearest open shelter and the walk there; no login, no personal data."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import Engine

import shapely

from analysis.nearest import NoShelterReachable
from api.deps import EngineDep, SettingsDep
from api.walking import walking_state
from gis.coords import COORD_TYPES, to_wgs84
from gis.settings import Settings
from maps.assets import render_offline
from maps.resident import shelter_route_map

router = APIRouter(tags=["resident"])

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


class NearestShelterAnswer(BaseModel):
    """The nearest open shelter on foot, or why there is none."""

    found: bool
    message: str
    lon: float
    lat: float
    shelter: ShelterInfo | None = None
    distance_m: float | None = None
    minutes: float | None = None
    walk_to_road_m: float | None = None
    route: dict[str, Any] | None = None


def _answer(
    request: Request, engine: Engine, settings: Settings, lon: float, lat: float, coord_type: str
) -> tuple[NearestShelterAnswer, Any]:
    x, y = to_wgs84(lon, lat, coord_type)
    data = walking_state(request, engine, settings)
    if data.network is None or data.bounds is None:
        raise HTTPException(503, "no road network is loaded yet")
    w, s, e, n = data.bounds
    served = f"the road network of this district (lon {w:.4f}–{e:.4f}, lat {s:.4f}–{n:.4f})"
    snap = data.network.snap(np.array([x]), np.array([y]))
    offset = float(np.asarray(snap.offset_m)[0])
    if offset > settings.max_walk_to_road_m:
        raise HTTPException(
            422,
            f"the point ({x:.5f}, {y:.5f}) is {offset:,.0f} m from the "
            f"nearest road, outside the area served: {served}. Check the "
            "coordinates and coord_type (a WeChat mini-program sends gcj02).",
        )
    if data.index is None:
        return NearestShelterAnswer(
            found=False,
            lon=x,
            lat=y,
            walk_to_road_m=offset,
            message="no open shelter in this district: call 110/119 or follow your grid worker",
        ), None
    try:
        best = data.index.nearest(x, y)
    except NoShelterReachable:
        return NearestShelterAnswer(
            found=False,
            lon=x,
            lat=y,
            walk_to_road_m=offset,
            message="no open shelter can be reached on foot from "
            "here; call 110/119 or follow your grid worker",
        ), None
    row = data.shelters.loc[best.shelter_id]
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
        message=f"最近的避难场所是{info.name}，步行约{best.minutes:.0f}分钟",
    )
    return answer, best


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
    answer, _ = await run_in_threadpool(_answer, request, engine, settings, lon, lat, coord_type)
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
        answer, best = _answer(request, engine, settings, lon, lat, coord_type)
        if best is None or answer.shelter is None:
            return (
                f"<!doctype html><meta charset='utf-8'><meta name='viewport' "
                f"content='width=device-width'><p>{answer.message}</p>"
            )
        m = shelter_route_map(
            (answer.lon, answer.lat),
            (answer.shelter.lon, answer.shelter.lat),
            best.route,
            shelter_name=answer.shelter.name,
            minutes=best.minutes,
            distance_m=best.distance_m,
            settings=settings,
        )
        return render_offline(m)

    return HTMLResponse(await run_in_threadpool(render))
