"""Situational awareness (态势感知) over HTTP.

Aggregates, hotspots, early warnings, hazard areas and their impact, check-on lists,
alerts and confirmations, workers' positions, the live stream and wall-screen page,
and the daily report.

Handlers are thin: they read through :mod:`gis.store.awareness_store`, compute with the pure
``analysis`` modules and draw with ``maps``.

Who may use which door is decided in :mod:`grids.access` alone (every route needs a
token, ``Authorization: Bearer`` or ``?api_key=``; none → 401):

* the command centre's doors — aggregates, hotspots, warnings, hazards (create, list,
  get, impact), alerts (send, status), the live picture, stream and ``/live`` page, the
  daily report — are for staff (:func:`grids.access.require_command_centre`; a resident
  or a grid worker → 403);
* per-place answers are limited to the grids the user covers
  (:func:`grids.access.rows_in_area`): open incidents on the live picture and stream,
  the impact's grid rows and check-on counts, check-on lists, alert recipients and
  status per grid; a daily report of a street or community outside the user's area is
  404 (:func:`grids.access.may_see_area`).  Aggregate counts without personal data
  (incidents per cell, hotspots, warnings, hazards, shelters, the impact's totals) stay
  district-wide;
* check-on lists and alert confirmations are also the grid worker's, for their own
  grids (another grid → 404); a confirmation is recorded under the caller's username;
* a worker's position is reported by that worker (or an admin) only, and seen by the
  staff covering their grids.

The per-resident answers (check-on rows, alert recipients) carry ids, rooms and
vulnerability flags only — never names, phones or ID numbers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

import geopandas as gpd
import h3
import shapely
from shapely.geometry import mapping

from analysis.aggregates import WINDOWS, window_starts
from analysis.alerts import (
    GROUP_NAMES,
    GROUPS,
    NoRecipients,
    compose_messages,
    nearest_safe_shelters,
    select_recipients,
)
from analysis.hazard import KIND_NAMES, HazardError, HazardImpact, hazard_impact
from analysis.hotspots import HotspotError, early_warning, gi_star
from analysis.network import RoadNetwork
from analysis.walking import require_network
from api.auth import CurrentUser
from api.changes import HEARTBEAT_S
from api.deps import EngineDep, SettingsDep, get_state
from api.errors import problem
from api.inputs import BigId, Id, Text
from etl.hazard_files import hazard_from_geojson
from gis import clock
from gis.coords import COORD_TYPES, to_wgs84
from gis.db.models import ALERT_CHANNELS, HAZARD_KINDS
from gis.errors import NotFound
from gis.settings import Settings
from gis.store import awareness_store as store
from gis.store import grid_store
from gis.times import check_time
from gis.validate import text_problem
from grids.access import (
    Principal,
    may_see_area,
    may_see_worker,
    require_alert_confirmer,
    require_check_on,
    require_command_centre,
    require_own_position,
    rows_in_area,
)
from grids.locate import cover_cells, representative_points
from maps.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL, render_offline
from maps.live import incident_records, live_map

router = APIRouter(tags=["awareness"])

TZ = "Asia/Shanghai"
#: A live stream ends after this long; the browser reconnects by itself (``retry``).
STREAM_MAX_S = 15 * 60
#: Days of incidents behind the live map's heat and hotspot layers.
LIVE_HEAT_DAYS = 7
#: Hazards in force whose impact (affected grids, check-on lists) the live map draws.
LIVE_HAZARDS = 3

PLACE_COLUMNS = ("h3_cell", "grid_id", "community_id")
SPLIT_COLUMNS = ("category_code", "state", "source")

ISO = "ISO 8601 date-time with offset, e.g. 2026-10-01T08:00:00+08:00"


def _now() -> datetime:
    return clock.utcnow()


def _aware(at: datetime | None, name: str, *, planned: bool = True) -> datetime | None:
    """A time given to a door, checked (:func:`gis.times.check_time`, 422 naming ``name``).

    Naive times are read as China time (the street office's clock).  ``planned``: a
    planned time or a query bound (up to the horizon ahead), else a time that happened.
    """
    return None if at is None else check_time(at, name, planned=planned)


def _h3(cell: Any) -> str | None:
    return None if cell is None or pd.isna(cell) else h3.int_to_str(int(cell))


def _json(value: Any) -> Any:
    """A value as JSON can carry it (numpy scalars, NA, timestamps)."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


# ---------------------------------------------------------------- aggregates


@router.get("/api/awareness/aggregates")
async def aggregates(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    by: Annotated[str, Query(description=f"one of {', '.join(PLACE_COLUMNS)}")] = "h3_cell",
    window: Annotated[str | None, Query(description="hour, day or week; none: whole range")] = None,
    start: Annotated[datetime | None, Query(description=f"reported from ({ISO})")] = None,
    end: Annotated[datetime | None, Query(description=f"reported before ({ISO})")] = None,
    category: Annotated[list[str] | None, Query(description="category codes")] = None,
    state: Annotated[list[str] | None, Query(description="incident states")] = None,
    split_by: Annotated[list[str] | None, Query(description="category_code, state, source")] = None,
) -> dict[str, Any]:
    """Incident counts by H3 cell, grid or community, per hour/day/week, category, state.

    Answered from a columnar index rebuilt only when an incident changes, so a map can
    redraw city-wide on every click.  Staff only; counts without personal data, so
    district-wide for every staff member.
    """
    require_command_centre(user, "read incident aggregates")
    if by not in PLACE_COLUMNS:
        raise HTTPException(422, f"by must be one of {', '.join(PLACE_COLUMNS)}, not {by!r}")
    if window is not None and window not in WINDOWS:
        raise HTTPException(422, f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
    bad = [s for s in split_by or [] if s not in SPLIT_COLUMNS]
    if bad:
        raise HTTPException(422, f"split_by accepts {', '.join(SPLIT_COLUMNS)}, not {bad}")
    cube = await run_in_threadpool(get_state(request).cube.get, engine)
    table = cube.aggregate(
        by=by,
        window=window,
        start=_aware(start, "start"),
        end=_aware(end, "end"),
        categories=category,
        states=state,
        split_by=tuple(split_by or ()),
    )
    if by == "h3_cell":
        table.insert(1, "h3_index", [h3.int_to_str(int(c)) for c in table["h3_cell"]])
        table["h3_cell"] = table["h3_cell"].astype(str)  # 63-bit ints lose digits in JS
    return {
        "by": by,
        "window": window,
        "rows": _records(table),
        "total": int(table["count"].sum()) if len(table) else 0,
    }


# ---------------------------------------------------------------- hotspots, warnings


def _range(start: datetime | None, end: datetime | None, days: int) -> tuple[datetime, datetime]:
    end = _aware(end, "end") or _now()
    start = _aware(start, "start") or end - timedelta(days=days)
    if end <= start:
        raise HTTPException(422, f"end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end


@router.get("/api/awareness/hotspots")
async def hotspots(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    start: Annotated[
        datetime | None, Query(description=f"default: 7 days before end ({ISO})")
    ] = None,
    end: Annotated[datetime | None, Query(description=f"default: now ({ISO})")] = None,
    category: Annotated[list[str] | None, Query(description="category codes")] = None,
    k: Annotated[int, Query(ge=1, le=5, description="H3 ring of each neighbourhood")] = 1,
    alpha: Annotated[float, Query(gt=0, lt=1, description="significance level")] = 0.05,
    fdr: Annotated[bool, Query(description="Benjamini-Hochberg correction")] = True,
    all_cells: Annotated[
        bool, Query(alias="all", description="every cell, not only hot/cold")
    ] = False,
) -> dict[str, Any]:
    """Getis-Ord Gi* hotspots of incidents on H3 cells (k-ring), FDR-corrected, as GeoJSON.

    Staff only; counts per cell, district-wide.
    """
    require_command_centre(user, "read incident hotspots")
    lo, hi = _range(start, end, LIVE_HEAT_DAYS)

    def compute() -> dict[str, Any]:
        state = get_state(request)
        counts = state.cube.get(engine).aggregate(
            by="h3_cell", start=lo, end=hi, categories=category
        )
        area = state.study_cells.get(engine)
        result = gi_star(
            counts["h3_cell"].to_numpy(np.int64),
            counts["count"].to_numpy(np.float64),
            k=k,
            alpha=alpha,
            fdr=fdr,
            study_area=area,
        )
        frame = result.frame if all_cells else result.frame[result.frame["significant"] != "none"]
        from grids.locate import cell_polygons

        polygons = cell_polygons(frame["h3_cell"].to_numpy(np.int64))
        features = []
        for row, poly in zip(frame.to_dict(orient="records"), polygons, strict=True):
            props = {k_: _json(v) for k_, v in row.items()}
            props["h3_cell"] = str(row["h3_cell"])
            props["h3_index"] = _h3(row["h3_cell"])
            features.append({"type": "Feature", "properties": props, "geometry": mapping(poly)})
        return {
            "type": "FeatureCollection",
            "features": features,
            "method": result.method,
            "k": result.k,
            "alpha": result.alpha,
            "start": lo.isoformat(),
            "end": hi.isoformat(),
            "cells_tested": len(result.frame),
            "hot": int((result.frame["significant"] == "hot").sum()),
            "cold": int((result.frame["significant"] == "cold").sum()),
        }

    return await run_in_threadpool(compute)


_WINDOW_LENGTH = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}


@router.get("/api/awareness/warnings")
async def warnings(
    request: Request,
    engine: EngineDep,
    user: CurrentUser,
    by: Annotated[str, Query(description="grid_id, community_id or h3_cell")] = "grid_id",
    window: Annotated[str, Query(description="hour, day or week")] = "day",
    baseline: Annotated[int, Query(ge=1, le=366, description="previous windows of baseline")] = 28,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.001,
    min_count: Annotated[int, Query(ge=1)] = 3,
    current: Annotated[
        datetime | None, Query(description=f"window to test; default now ({ISO})")
    ] = None,
    category: Annotated[list[str] | None, Query(description="category codes")] = None,
) -> dict[str, Any]:
    """Early warnings: a category's count in a place far above its own baseline, with evidence.

    Staff only; counts per place, district-wide.
    """
    require_command_centre(user, "read early warnings")
    if by not in PLACE_COLUMNS:
        raise HTTPException(422, f"by must be one of {', '.join(PLACE_COLUMNS)}, not {by!r}")
    if window not in WINDOWS:
        raise HTTPException(422, f"window must be one of {', '.join(WINDOWS)}, not {window!r}")
    at = _aware(current, "current") or _now()
    now = window_starts(pd.Timestamp(at), pd.Timestamp(at) + pd.Timedelta(1, "ns"), window, TZ)[0]
    since = now - baseline * _WINDOW_LENGTH[window]

    def compute() -> dict[str, Any]:
        counts = (
            get_state(request)
            .cube.get(engine)
            .aggregate(
                by=by,
                window=window,
                start=since,
                end=now + _WINDOW_LENGTH[window],
                categories=category,
                split_by=("category_code",),
            )
            .rename(columns={by: "place"})
        )
        names = dict(
            store.incidents_frame(engine, start=since)[["category_code", "category_name"]]
            .drop_duplicates()
            .itertuples(index=False, name=None)
        )
        found = early_warning(
            counts,
            window=window,
            baseline_windows=baseline,
            alpha=alpha,
            min_count=min_count,
            current=now,
            place_kind={"grid_id": "grid", "community_id": "community"}.get(by, "h3_cell"),
            category_names=names,
            tz=TZ,
        )
        codes = {}
        if by == "grid_id" and found:
            grids = store.grids_in_area(engine)
            codes = dict(zip(grids["id"].tolist(), grids["code"].tolist(), strict=True))
        return {
            "window": window,
            "current": now.isoformat(),
            "baseline_windows": baseline,
            "warnings": [
                {
                    "place_kind": w.place_kind,
                    "place_id": str(w.place_id) if by == "h3_cell" else _json(w.place_id),
                    "place_code": codes.get(w.place_id) if by == "grid_id" else None,
                    "category_code": w.category,
                    "category_name": names.get(w.category),
                    "window_start": w.window_start.isoformat(),
                    "observed": w.observed,
                    "expected": round(w.expected, 3),
                    "p_value": w.p_value,
                    "evidence": w.evidence,
                    "method": w.method,
                }
                for w in found
            ],
        }

    return await run_in_threadpool(compute)


# ---------------------------------------------------------------- hazards


def _hazard_feature(row: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "id": int(row["id"]),
        "properties": {
            "id": int(row["id"]),
            "kind": row["kind"],
            "name": row["name"],
            "severity": int(row["severity"]),
            "valid_from": _json(row["valid_from"]),
            "valid_to": _json(row["valid_to"]),
            **extra,
        },
        "geometry": mapping(shapely.set_precision(row["geometry"], 1e-7)),
    }


def _opt(value: Any, cast: Any, name: str) -> Any:
    if value is None:
        return None
    try:
        return cast(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise HTTPException(422, f"{name} {value!r} cannot be read: {exc}") from exc


@router.post("/api/hazards", status_code=201)
async def create_hazard(
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    body: Annotated[
        dict[str, Any],
        Body(
            description="GeoJSON Feature, FeatureCollection or Polygon; properties may "
            "carry kind, name, severity, valid_from, valid_to",
        ),
    ],
    coord_type: Annotated[str, Query(description=f"one of {', '.join(COORD_TYPES)}")] = "wgs84",
    kind: Annotated[str | None, Query(description=", ".join(HAZARD_KINDS))] = None,
    name: Text | None = None,
    severity: Annotated[int | None, Query(ge=1, le=4, description="1 (low) to 4 (extreme)")] = None,
    valid_from: Annotated[datetime | None, Query(description=f"default now ({ISO})")] = None,
    valid_to: Annotated[datetime | None, Query(description=ISO)] = None,
) -> dict[str, Any]:
    """Store a hazard area (typhoon, flood, fire, gas leak) drawn on a map or from a bureau.

    The polygon is converted from ``coord_type``, repaired when harmless, and rejected
    (422, with the fix) when empty, invalid or outside the area served.  Staff only.
    """
    require_command_centre(user, "store hazard areas")

    def create() -> dict[str, Any]:
        served = store.served_area(engine)
        checked = hazard_from_geojson(body, coord_type=coord_type, served=served, settings=settings)
        props = checked.properties
        k = kind or props.get("kind")
        if k not in HAZARD_KINDS:
            raise HTTPException(
                422,
                f"kind must be one of {', '.join(HAZARD_KINDS)} (query or properties), not {k!r}",
            )
        sev = severity if severity is not None else _opt(props.get("severity"), int, "severity")
        if sev is None or not 1 <= sev <= 4:
            raise HTTPException(422, f"severity must be 1 to 4 (query or properties), not {sev!r}")
        start = _aware(valid_from, "valid_from") or _aware(
            _opt(props.get("valid_from"), datetime.fromisoformat, "valid_from"), "valid_from"
        )
        start = start or _now()
        stop = _aware(valid_to, "valid_to") or _aware(
            _opt(props.get("valid_to"), datetime.fromisoformat, "valid_to"), "valid_to"
        )
        if stop is not None and stop <= start:
            raise HTTPException(422, f"valid_to {stop.isoformat()} is not after valid_from")
        label = str(name or props.get("name") or f"{k} {start:%Y-%m-%d %H:%M}")
        wrong = text_problem(label)
        if wrong is not None:
            raise HTTPException(422, f"name (query or properties) {wrong}")
        with engine.begin() as conn:
            hazard_id = store.insert_hazard(
                conn,
                kind=k,
                name=label,
                severity=int(sev),
                valid_from=start,
                valid_to=stop,
                geom=checked.geometry,
            )
        row = store.hazards(engine).set_index("id", drop=False).loc[hazard_id]
        return _hazard_feature(
            row,
            area_m2=round(checked.area_m2, 1),
            warnings=[str(w) for w in checked.warnings],
        )

    return await run_in_threadpool(create)


@router.get("/api/hazards")
async def list_hazards(
    engine: EngineDep,
    user: CurrentUser,
    active: Annotated[bool, Query(description="only the hazards in force now")] = False,
) -> dict[str, Any]:
    """Hazard areas as GeoJSON, newest first (staff; district-wide)."""
    require_command_centre(user, "read hazard areas")
    frame = await run_in_threadpool(store.hazards, engine, active_at=_now() if active else None)
    return {
        "type": "FeatureCollection",
        "features": [_hazard_feature(row) for _, row in frame.iterrows()],
    }


def _hazard(engine: Engine, hazard_id: int) -> store.HazardRow:
    row = store.read_hazard(engine, hazard_id)
    if row is None:
        raise NotFound(f"no hazard area has id {hazard_id}: GET /api/hazards lists them")
    return row


@dataclass(frozen=True)
class _Impact:
    hazard: store.HazardRow
    inputs: store.ImpactInputs
    impact: HazardImpact
    at: float


def compute_impact(engine: Engine, hazard_id: int, network: RoadNetwork | None) -> _Impact:
    """The impact of a stored hazard (no cache): for the API and the command line.

    Raises
    ------
    NotFound
        For an unknown hazard.
    NoRoadNetwork
        Without a road network.
    HazardError
        When the hazard meets no grid.
    """
    hazard = _hazard(engine, hazard_id)
    network = require_network(network)
    inputs = store.impact_inputs(engine, hazard.geom)
    if inputs.grids.empty:
        raise HazardError(
            f"hazard {hazard_id} ('{hazard.name}') meets no current grid: it affects nobody "
            "in the area served (check its polygon)"
        )
    impact = hazard_impact(
        hazard.geom,
        grids=inputs.grids,
        buildings=inputs.buildings,
        households=inputs.households,
        residents=inputs.residents,
        shelters=inputs.shelters,
        network=network,
        workers=inputs.workers,
        reference_year=_now().astimezone().year,
    )
    return _Impact(hazard, inputs, impact, time.monotonic())


def _impact(request: Request, engine: Engine, settings: Settings, hazard_id: int) -> _Impact:
    """The impact of a stored hazard, reused while the data stand still (a minute at most)."""
    _hazard(engine, hazard_id)
    state = get_state(request)
    return state.impacts.get(
        engine,
        hazard_id,
        lambda: compute_impact(engine, hazard_id, state.walking_now().network),
    )


@router.get("/api/hazards/{hazard_id}")
async def get_hazard(engine: EngineDep, user: CurrentUser, hazard_id: Id) -> dict[str, Any]:
    """One hazard area as a GeoJSON Feature (staff)."""
    require_command_centre(user, "read hazard areas")
    row = await run_in_threadpool(_hazard, engine, hazard_id)
    return _hazard_feature(
        {
            "id": row.id,
            "kind": row.kind,
            "name": row.name,
            "severity": row.severity,
            "valid_from": row.valid_from,
            "valid_to": row.valid_to,
            "geometry": row.geom,
        }
    )


@router.get("/api/hazards/{hazard_id}/impact")
async def get_impact(
    request: Request, engine: EngineDep, settings: SettingsDep, user: CurrentUser, hazard_id: Id
) -> dict[str, Any]:
    """What a hazard area touches: grids, buildings, households, residents by group.

    Also the shelters inside (unusable) and outside, and per grid how many residents
    its worker must check on.  Staff only.  The grid rows and the check-on counts are
    those of the grids the user covers; the totals (buildings, households, residents by
    group, shelters, closed roads) are the whole hazard's: counts, no personal data.
    """
    require_command_centre(user, "read a hazard's impact")
    got = await run_in_threadpool(_impact, request, engine, settings, hazard_id)
    imp, inputs = got.impact, got.inputs
    grids = imp.grids[rows_in_area(user, imp.grids["grid_id"])].copy()
    mine = imp.check_on[rows_in_area(user, imp.check_on["grid_id"])]
    per_grid = mine.groupby("grid_id").size()
    grids["check_on"] = grids["grid_id"].map(per_grid).fillna(0).astype(int)
    workers = inputs.workers[inputs.workers["role"] == "primary"].set_index("grid_id")
    grids["worker_id"] = grids["grid_id"].map(workers["worker_id"]).astype("Int64")
    names = dict(
        zip(inputs.shelters["facility_id"].tolist(), inputs.shelters["name"].tolist(), strict=True)
    )
    open_ = dict(
        zip(
            inputs.shelters["facility_id"].tolist(),
            inputs.shelters["is_open"].tolist(),
            strict=True,
        )
    )
    cut_off = int((mine["reason"] != "ok").sum()) if len(mine) else 0
    return {
        "hazard": {
            "id": got.hazard.id,
            "kind": got.hazard.kind,
            "name": got.hazard.name,
            "severity": got.hazard.severity,
        },
        "area_m2": round(imp.area_m2, 1),
        "grids": _records(grids),
        "buildings": len(imp.buildings),
        "households": len(imp.households),
        "residents_by_group": imp.residents_by_group,
        "check_on": len(mine),
        "check_on_without_safe_shelter": cut_off,
        "shelters_inside": [
            {"id": int(s), "name": names.get(int(s)), "usable": False} for s in imp.shelters_inside
        ],
        "shelters_outside": [
            {"id": int(s), "name": names.get(int(s)), "usable": bool(open_.get(int(s)))}
            for s in imp.shelters_outside
        ],
        "closed_road_edges": len(imp.closed_edges),
        "notes": list(imp.notes),
    }


@router.get("/api/hazards/{hazard_id}/check-on")
async def check_on(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    hazard_id: Id,
    grid: Annotated[
        Text | None, Query(description="15-digit grid code; default every grid")
    ] = None,
) -> dict[str, Any]:
    """Per grid, who its worker must check on, with safe shelter and route (GeoJSON).

    Each feature: resident and household ids, room, building, groups, the nearest
    safe shelter and the walking route avoiding the hazard.

    Personal data: ids and flags only; names and phones are joined behind access control.
    Staff read the grids they cover, a grid worker their own grids; any other grid is
    404, as if it did not exist.  A resident gets 403.
    """
    require_check_on(user)

    def build() -> dict[str, Any]:
        got = _impact(request, engine, settings, hazard_id)
        rows = got.impact.check_on
        rows = rows[rows_in_area(user, rows["grid_id"])]
        if grid is not None:
            known = store.grids_in_area(engine)
            known = known[rows_in_area(user, known["id"])]
            if grid not in set(known["code"]):
                raise NotFound(f"no current grid in your area has code {grid}")
            rows = rows[rows["grid_code"] == grid]
        rooms = got.inputs.households.set_index("id")["room"]
        features = []
        for row in rows.to_dict(orient="records"):
            route = row.get("route")
            geometry = (
                mapping(shapely.set_precision(route, 1e-7))
                if route is not None
                else {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
            )
            props = {k: _json(v) for k, v in row.items() if k not in ("route",)}
            props["room"] = _json(rooms.get(row["household_id"]))
            props["walk_min"] = (
                None if props.get("walk_s") is None else round(props["walk_s"] / 60, 1)
            )
            features.append({"type": "Feature", "properties": props, "geometry": geometry})
        return {
            "type": "FeatureCollection",
            "hazard_id": hazard_id,
            "grid": grid,
            "count": len(features),
            "features": features,
        }

    return await run_in_threadpool(build)


# ---------------------------------------------------------------- alerts


class AlertIn(BaseModel):
    """An alert to send for a hazard area."""

    group: Text = Field(
        default="all",
        description="all, vulnerable, elderly_alone, disabled, mobility_impaired or children",
    )
    message: Text | None = Field(
        default=None, max_length=500, description="default: from the hazard"
    )
    channel: Text = Field(default="outbox", description="outbox (here); sms, wechat in production")
    created_by: Text | None = Field(
        default=None, max_length=64, description="over HTTP: always the caller's username"
    )
    families: bool = Field(
        default=True,
        description="for a group: also message each member's household (their family)",
    )


def _check_alert(alert: AlertIn) -> None:
    if alert.group not in GROUPS:
        raise HTTPException(422, f"group must be one of {', '.join(GROUPS)}, not {alert.group!r}")
    if alert.channel not in ALERT_CHANNELS:
        raise HTTPException(
            422, f"channel must be one of {', '.join(ALERT_CHANNELS)}, not {alert.channel!r}"
        )
    if alert.channel != "outbox":
        raise HTTPException(
            422,
            f"the {alert.channel} channel is not configured in this deployment: use "
            "channel 'outbox' (a relay delivers the outbox to SMS or WeChat)",
        )


def send_alert(
    request: Request,
    engine: Engine,
    settings: Settings,
    hazard_id: int,
    alert: AlertIn,
    user: Principal | None = None,
) -> dict[str, Any]:
    """Target, store and deliver an alert; the work behind ``POST /api/hazards/{id}/alerts``."""
    _check_alert(alert)
    got = _impact(request, engine, settings, hazard_id)
    network = require_network(get_state(request).walking_now().network)
    return deliver_alert(engine, got, network, alert, user=user)


def deliver_alert(
    engine: Engine,
    got: _Impact,
    network: RoadNetwork,
    alert: AlertIn,
    *,
    user: Principal | None = None,
) -> dict[str, Any]:
    """Pick the recipients of an alert, store it and hand its messages to the channel.

    ``user``: who sends it over HTTP; only the households of the grids they cover are
    alerted and shown (None: the operator at the command line, every household).

    Raises
    ------
    NoRecipients
        When nobody in the hazard area (and the user's area) matches the group.
    """
    _check_alert(alert)
    hazard_id = got.hazard.id
    imp, inputs, hazard = got.impact, got.inputs, got.hazard
    households = inputs.households[inputs.households["id"].isin(imp.households)]
    if user is not None:
        households = households[rows_in_area(user, households["grid_id"])]
        if households.empty:
            raise NoRecipients(
                f"nobody would be alerted: hazard {hazard_id} meets no household of the "
                "grids you cover"
            )
    buildings = inputs.buildings.set_index("id")
    lon, lat = representative_points(
        np.asarray(buildings.loc[households["building_id"]].geometry.array, dtype=object)
    )
    safe = nearest_safe_shelters(
        network, hazard.geom, households["id"].to_numpy(), lon, lat, inputs.shelters
    )
    recipients = select_recipients(
        households.rename(columns={"id": "household_id"}),
        inputs.residents,
        alert.group,
        reference_year=_now().astimezone().year,
        shelters=safe.frame,
        families=alert.families,
    )
    message = alert.message or (
        f"【{KIND_NAMES.get(hazard.kind, hazard.kind)}预警】{hazard.name}影响您所在区域，"
        "请做好防范，必要时前往避难场所。"
    )
    names = dict(
        zip(inputs.shelters["facility_id"].tolist(), inputs.shelters["name"].tolist(), strict=True)
    )
    at = _now()
    with engine.begin() as conn:
        alert_id = store.insert_alert(
            conn,
            hazard_id=hazard_id,
            message=message,
            target_group=alert.group,
            channel=alert.channel,
            created_by=alert.created_by,
            created_at=at,
        )
        ids = store.insert_recipients(conn, alert_id, recipients)
        messages = compose_messages(recipients, message, shelter_names=names, recipient_ids=ids)
        outbox_ids = store.OutboxChannel(conn).deliver(messages)
        store.mark_sent(conn, ids, at)
    status = store.alert_status(engine, alert_id)
    if user is not None:
        status = status[rows_in_area(user, status["grid_id"])]
    return {
        "alert_id": alert_id,
        "hazard_id": hazard_id,
        "group": alert.group,
        "group_name": GROUP_NAMES[alert.group],
        "channel": alert.channel,
        "created_at": at.isoformat(),
        "message": message,
        "recipients": len(ids),
        "residents": int(recipients["resident_id"].notna().sum()),
        "households": int(recipients["household_id"].nunique()),
        "without_safe_shelter": int(recipients["shelter_id"].isna().sum()),
        "outbox_messages": len(outbox_ids),
        "grids": _records(status),
    }


@router.post("/api/hazards/{hazard_id}/alerts", status_code=201)
async def create_alert(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: CurrentUser,
    hazard_id: Id,
    alert: Annotated[AlertIn, Body()] = AlertIn(),  # noqa: B008 - FastAPI body default
) -> Any:
    """Alert the residents of a hazard area (or one group), each told a safe shelter.

    Stored with who was alerted and when (the caller's username), and delivered through
    the outbox.  Staff only, to the households of the grids they cover.
    """
    require_command_centre(user, "send alerts")
    alert = alert.model_copy(update={"created_by": user.username})
    try:
        return await run_in_threadpool(
            send_alert, request, engine, settings, hazard_id, alert, user
        )
    except NoRecipients as exc:
        return problem(422, "No recipients", str(exc), hazard_id=hazard_id, group=alert.group)


class ConfirmIn(BaseModel):
    """A grid worker's confirmation that residents (or households) were reached."""

    resident_ids: list[BigId] = Field(default_factory=list)
    household_ids: list[BigId] = Field(default_factory=list)
    note: Text | None = Field(default=None, max_length=500)


def _alert(engine: Engine, alert_id: int) -> store.AlertRow:
    row = store.read_alert(engine, alert_id)
    if row is None:
        raise NotFound(f"no alert has id {alert_id}")
    return row


def _alert_in_area(engine: Engine, user: Principal, alert_id: int) -> pd.DataFrame:
    """The alert's recipients in the user's grids; 404 when none (or no such alert)."""
    recipients = store.alert_recipients(engine, alert_id)
    mine = recipients[rows_in_area(user, recipients["grid_id"])]
    if store.read_alert(engine, alert_id) is None or mine.empty:
        raise NotFound(f"no alert has id {alert_id} in your area")
    return mine


@router.post("/api/alerts/{alert_id}/confirm")
async def confirm_alert(
    engine: EngineDep, user: CurrentUser, alert_id: Id, body: ConfirmIn
) -> dict[str, Any]:
    """Record that residents were reached (已通知到位); answers the grid's status after it.

    The grid worker of the recipients' grids or staff covering them; recipients outside
    the caller's grids are not confirmed (answered as not recipients).  Recorded under
    the caller's username.
    """
    require_alert_confirmer(user)
    if not body.resident_ids and not body.household_ids:
        raise HTTPException(422, "give resident_ids or household_ids to confirm")

    def confirm() -> dict[str, Any]:
        mine = _alert_in_area(engine, user, alert_id)
        own_residents = set(mine["resident_id"].dropna().astype(int))
        own_households = set(mine["household_id"].astype(int))
        with engine.begin() as conn:
            rows = store.confirm_recipients(
                conn,
                alert_id,
                by=user.username,
                at=_now(),
                resident_ids=[r for r in body.resident_ids if r in own_residents],
                household_ids=[h for h in body.household_ids if h in own_households],
                note=body.note,
            )
        rows = rows[rows_in_area(user, rows["grid_id"])]
        matched_res = set(rows["resident_id"].dropna().astype(int))
        matched_hh = set(rows["household_id"].astype(int))
        unknown = sorted(set(body.resident_ids) - matched_res) + sorted(
            set(body.household_ids) - matched_hh
        )
        if rows.empty:
            raise HTTPException(
                422,
                f"none of residents {body.resident_ids} / households {body.household_ids} "
                f"is a recipient of alert {alert_id}: GET /api/alerts/{alert_id} lists them",
            )
        status = store.alert_status(engine, alert_id)
        return {
            "alert_id": alert_id,
            "confirmed": len(rows),
            "confirmed_by": user.username,
            "newly_confirmed": int(rows["newly"].sum()),
            "not_recipients": unknown,
            "grids": _records(status[rows_in_area(user, status["grid_id"])]),
        }

    return await run_in_threadpool(confirm)


@router.get("/api/alerts/{alert_id}")
async def get_alert(
    engine: EngineDep,
    user: CurrentUser,
    alert_id: Id,
    recipients: Annotated[bool, Query(description="also list every recipient")] = False,
) -> dict[str, Any]:
    """An alert: who sent what when, and per grid how many were reached and who is pending.

    Staff only; the grids (and recipients) of the caller's area, and the counts over
    them; an alert that reached nobody in it is 404.
    """
    require_command_centre(user, "read the status of alerts")

    def read() -> dict[str, Any]:
        mine = _alert_in_area(engine, user, alert_id)
        row = _alert(engine, alert_id)
        status = store.alert_status(engine, alert_id)
        status = status[rows_in_area(user, status["grid_id"])]
        out: dict[str, Any] = {
            "id": row.id,
            "hazard_id": row.hazard_id,
            "created_at": row.created_at.isoformat(),
            "created_by": row.created_by,
            "message": row.message,
            "group": row.target_group,
            "channel": row.channel,
            "recipients": int(status["recipients"].sum()) if len(status) else 0,
            "confirmed": int(status["confirmed"].sum()) if len(status) else 0,
            "grids": _records(status),
        }
        if recipients:
            out["recipient_list"] = _records(mine)
        return out

    return await run_in_threadpool(read)


# ---------------------------------------------------------------- workers


class PositionIn(BaseModel):
    """A position report from a grid worker's tablet."""

    lon: float = Field(description="longitude, degrees (checked against the service area)")
    lat: float = Field(description="latitude, degrees")
    coord_type: Text = Field(default="wgs84", description=", ".join(COORD_TYPES))
    at: datetime | None = Field(default=None, description=f"default now ({ISO})")


@router.post("/api/workers/{worker_id}/position", status_code=201)
async def worker_position(
    engine: EngineDep, settings: SettingsDep, user: CurrentUser, worker_id: Id, body: PositionIn
) -> dict[str, Any]:
    """Record where a grid worker is; the live map shows each worker's latest position.

    Only that worker themself (their tablet) or an admin may report it (403 otherwise).
    """
    require_own_position(user, worker_id)
    x, y = to_wgs84(body.lon, body.lat, body.coord_type)
    w, s, e, n = settings.service_area_bounds
    if not (w <= x <= e and s <= y <= n):
        hint = " (lon and lat look swapped)" if w <= y <= e and s <= x <= n else ""
        raise HTTPException(
            422,
            f"the position ({x:.5f}, {y:.5f}) is outside the service area "
            f"(W {w}, S {s}, E {e}, N {n}){hint}: send lon, lat in degrees",
        )
    at = _aware(body.at, "at", planned=False) or _now()

    def record() -> int:
        if not store.worker_exists(engine, worker_id):
            raise NotFound(f"no grid worker has id {worker_id}")
        with engine.begin() as conn:
            return store.record_position(conn, worker_id, x, y, at)

    position_id = await run_in_threadpool(record)
    return {"id": position_id, "worker_id": worker_id, "lon": x, "lat": y, "at": at.isoformat()}


# ---------------------------------------------------------------- live


def _open_incidents(engine: Engine, user: Principal | None) -> pd.DataFrame:
    """Open incidents of the grids the user covers (None: all, for the command line)."""
    frame = store.open_incidents(engine)
    return frame if user is None else frame[rows_in_area(user, frame["grid_id"])]


def _positions(engine: Engine, user: Principal | None) -> gpd.GeoDataFrame:
    """Workers' latest positions the user may see (those of the grids they cover)."""
    frame = store.latest_positions(engine)
    if user is None or frame.empty:
        return frame
    ids = {code: grid_id for grid_id, code in _grid_codes(engine).items()}
    visible = [
        may_see_worker(user, [ids[c] for c in str(codes).split(",") if c in ids])
        for codes in frame["grids"]
    ]
    return frame[np.asarray(visible, dtype=bool)]


def _open_records(engine: Engine, user: Principal) -> list[dict[str, Any]]:
    return incident_records(_open_incidents(engine, user))


@router.get("/api/live/incidents")
async def live_incidents(engine: EngineDep, user: CurrentUser) -> list[dict[str, Any]]:
    """Open incidents as the live map draws them (id, state, category, place; no description).

    Staff only; the incidents of the grids they cover (admin: all).
    """
    require_command_centre(user, "read the live picture")
    return await run_in_threadpool(_open_records, engine, user)


@router.get("/api/live")
async def live_snapshot(engine: EngineDep, user: CurrentUser) -> dict[str, Any]:
    """The live picture as data.

    Open incidents by state, hazards in force, shelters with occupancy (and whether a
    hazard makes them unusable), workers' last positions.  Staff only: the incidents
    and workers of the grids they cover; hazards and shelters district-wide.
    """
    require_command_centre(user, "read the live picture")

    def read() -> dict[str, Any]:
        now = _now()
        incidents = _open_incidents(engine, user)
        hazards = store.hazards(engine, active_at=now)
        shelters = store.shelters_live(engine)
        inside = np.zeros(len(shelters), dtype=bool)
        if len(hazards) and len(shelters):
            area = shapely.union_all(np.asarray(hazards.geometry.array, dtype=object))
            inside = shapely.intersects(area, np.asarray(shelters.geometry.array, dtype=object))
        workers = _positions(engine, user)
        return {
            "at": now.isoformat(),
            "open_incidents": len(incidents),
            "open_by_state": {k: int(v) for k, v in incidents["state"].value_counts().items()},
            "hazards": [
                {
                    "id": int(r["id"]),
                    "kind": r["kind"],
                    "name": r["name"],
                    "severity": int(r["severity"]),
                }
                for _, r in hazards.iterrows()
            ],
            "shelters": [
                {
                    "id": int(r["facility_id"]),
                    "name": r["name"],
                    "capacity": int(r["capacity"]),
                    "occupancy": int(r["occupancy"]),
                    "usable": bool(r["is_open"]) and not bool(unsafe),
                    "lon": r.geometry.x,
                    "lat": r.geometry.y,
                }
                for (_, r), unsafe in zip(shelters.iterrows(), inside, strict=True)
            ],
            "workers": [
                {
                    "worker_id": int(r["worker_id"]),
                    "at": _json(r["at"]),
                    "lon": r.geometry.x,
                    "lat": r.geometry.y,
                }
                for _, r in workers.iterrows()
            ],
        }

    return await run_in_threadpool(read)


def _grid_codes(engine: Engine) -> dict[int, str]:
    frame = store.grids_in_area(engine)
    return dict(zip(frame["id"].astype(int).tolist(), frame["code"].tolist(), strict=True))


def _category_names(engine: Engine) -> dict[str, str]:
    return store.category_names(engine)


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/api/live/stream")
async def live_stream(request: Request, engine: EngineDep, user: CurrentUser) -> StreamingResponse:
    """Server-sent events of incident changes, pushed from PostgreSQL ``LISTEN``.

    Events: ``ready`` (listening), ``incident`` (one changed incident: id, state,
    category, lon, lat, grid …), ``bulk`` (many changed at once: fetch
    ``/api/live/incidents`` again); a comment every 15 s keeps proxies from closing it.

    Staff only, and only the incidents of the grids they cover (admin: all).  A browser's
    ``EventSource`` sends no headers: sign in with ``?api_key=``.
    """
    require_command_centre(user, "follow the live stream")
    codes = await run_in_threadpool(_grid_codes, engine)
    names = await run_in_threadpool(_category_names, engine)
    hub = get_state(request).hub
    queue = await hub.subscribe()

    async def events() -> AsyncIterator[str]:
        started = time.monotonic()
        try:
            yield f"retry: 3000\n: {'.' * 2048}\n\n"  # padding flushes buffering proxies
            yield _sse("ready", {"at": _now().isoformat()})
            while time.monotonic() - started < STREAM_MAX_S:
                try:
                    change = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield ": keep-alive\n\n"
                    continue
                if change.get("op") == "bulk":
                    yield _sse("bulk", {"count": change.get("count")})
                    continue
                grid_id = change.get("grid_id")
                if not user.covers_grid(None if grid_id is None else int(grid_id)):
                    continue  # outside the user's area: not theirs to see
                if grid_id is not None and grid_id not in codes:
                    codes.update(await run_in_threadpool(_grid_codes, engine))
                yield _sse(
                    "incident",
                    {
                        "id": change.get("id"),
                        "op": change.get("op"),
                        "state": change.get("state"),
                        "category": names.get(
                            str(change.get("category_code")), change.get("category_code")
                        ),
                        "lon": change.get("lon"),
                        "lat": change.get("lat"),
                        "reported_at": change.get("reported_at"),
                        "grid": codes.get(grid_id) if grid_id is not None else None,
                    },
                )
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def render_live_page(
    engine: Engine,
    settings: Settings,
    *,
    impacts: list[_Impact] | None = None,
    for_file: bool = False,
    user: Principal | None = None,
    api_key: str | None = None,
) -> str:
    """The wall-screen page (态势一张图) with every layer, rendered offline.

    ``impacts``: of the hazards in force, drawn as affected grids and check-on lists.
    ``for_file``: a page opened from disk loads its assets from their folders here.
    ``user``: who looks; open incidents, affected grids, check-on rows and workers are
    those of the grids they cover (None: everything, for the command line).
    ``api_key``: the caller's token, put on the stream and incident URLs the page's
    script reads (a browser's ``EventSource`` cannot send an ``Authorization`` header).
    """
    urls = (VENDOR_DIR.as_posix(), STATIC_DIR.as_posix()) if for_file else (VENDOR_URL, STATIC_URL)
    grids = grid_store.current_grids(engine)
    if grids.empty:
        raise HTTPException(503, "no grids are loaded yet: wangge demo or wangge load")
    now = _now()
    # the last week of incidents; when none came in it (a demo district whose incidents
    # end in the past), the last week that has some, so the heat layer is never blank
    latest = store.latest_report_time(engine)
    until = now if latest is None or latest >= now else latest + timedelta(seconds=1)
    recent = store.incidents_frame(engine, start=until - timedelta(days=LIVE_HEAT_DAYS), end=until)
    heat = recent.dropna(subset=["h3_cell"]).groupby("h3_cell").size().rename("count").reset_index()
    hot = None
    if len(heat):
        cells = cover_cells(
            np.asarray(grids.geometry.array, dtype=object), settings.h3_resolution
        ).cells
        try:
            hot = gi_star(
                heat["h3_cell"].to_numpy(np.int64),
                heat["count"].to_numpy(np.float64),
                study_area=cells,
            ).frame
        except HotspotError:
            hot = None
    affected = check_on = None
    if impacts:
        parts, rows = [], []
        for got in impacts:
            mine = got.impact.check_on
            g = got.impact.grids
            if user is not None:
                mine = mine[rows_in_area(user, mine["grid_id"])]
                g = g[rows_in_area(user, g["grid_id"])]
            per_grid = mine.groupby("grid_id").size()
            g = g.copy()
            g["check_on"] = g["grid_id"].map(per_grid).fillna(0).astype(int)
            parts.append(g)
            rows.append(mine)
        affected = pd.concat(parts, ignore_index=True)
        check_on = pd.concat(rows, ignore_index=True).drop_duplicates("resident_id")
    key = "" if api_key is None else "?" + urlencode({"api_key": api_key})
    m = live_map(
        grids.rename_geometry("geometry"),
        _open_incidents(engine, user),
        heat=heat,
        hotspots=hot,
        hazards=store.hazards(engine, active_at=now),
        shelters=store.shelters_live(engine),
        workers=_positions(engine, user),
        affected=affected,
        check_on=check_on,
        stream_url=f"/api/live/stream{key}",
        incidents_url=f"/api/live/incidents{key}",
        settings=settings,
        vendor_url=urls[0],
        static_url=urls[1],
    )
    return render_offline(m, *urls)


def _token(request: Request) -> str | None:
    """The caller's token as sent (``?api_key=`` or ``Authorization: Bearer``)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("api_key") or None


@router.get("/live", response_class=HTMLResponse)
async def live_page(
    request: Request, engine: EngineDep, settings: SettingsDep, user: CurrentUser
) -> HTMLResponse:
    """The command centre's live map (态势一张图), updated by server-sent events.

    Hazards in force (the newest :data:`LIVE_HAZARDS`) are drawn with their affected
    grids and check-on lists (resident ids, safe shelters and routes).  Staff only,
    opened as ``/live?api_key=TOKEN``: the page's script reads the stream and the open
    incidents with the same key; incidents, affected grids, check-on rows and workers
    are those of the grids the user covers.
    """
    require_command_centre(user, "open the live map")
    api_key = _token(request)

    def render() -> str:
        active = store.hazards(engine, active_at=_now()).head(LIVE_HAZARDS)
        impacts = []
        for hazard_id in active["id"]:
            try:
                impacts.append(_impact(request, engine, settings, int(hazard_id)))
            except HTTPException:  # no road network yet, or a hazard meeting no grid
                continue
        return render_live_page(engine, settings, impacts=impacts, user=user, api_key=api_key)

    return HTMLResponse(await run_in_threadpool(render))


# ---------------------------------------------------------------- reports


def gather_daily(engine: Engine, area: store.AreaRow, day: Any) -> Any:
    """Read what the daily report of a street or community shows (see maps.report)."""
    from analysis.aggregates import aggregate
    from maps.report import DailyData

    start = pd.Timestamp(day).tz_localize(TZ)
    end = start + pd.Timedelta(days=1)
    grids = store.grids_in_area(engine, area.code)
    incidents = store.incidents_frame(engine, end=end.to_pydatetime(), area=area.code)
    hazards = store.hazards(engine)
    if len(hazards):
        in_force = (pd.to_datetime(hazards["valid_from"], utc=True) < end) & (
            hazards["valid_to"].isna() | (pd.to_datetime(hazards["valid_to"], utc=True) > start)
        )
        meets = shapely.intersects(np.asarray(hazards.geometry.array, dtype=object), area.geom)
        hazards = hazards[in_force.to_numpy() & meets]
    alerts = store.alerts_of_hazard(engine)
    alerts = alerts[alerts["hazard_id"].isin(hazards["id"])]
    found: list[dict[str, Any]] = []
    baseline = 28
    history = incidents[
        pd.to_datetime(incidents["reported_at"], utc=True) >= start - pd.Timedelta(days=baseline)
    ]
    if len(history):
        counts = aggregate(
            history, by="grid_id", window="day", split_by=("category_code",), tz=TZ
        ).rename(columns={"grid_id": "place"})
        names = store.category_names(engine)
        codes = dict(zip(grids["id"].tolist(), grids["code"].tolist(), strict=True))
        for w in early_warning(
            counts,
            window="day",
            baseline_windows=baseline,
            current=start,
            category_names=names,
            tz=TZ,
        ):
            found.append(
                {
                    "evidence": w.evidence.replace(
                        f"grid {w.place_id}", f"网格 {codes.get(w.place_id, w.place_id)}"
                    ),
                    "place_code": codes.get(w.place_id),
                    "category_name": names.get(w.category, w.category),
                }
            )
    return DailyData(
        area_code=area.code,
        area_name=area.name,
        area_level=area.level,
        day=start.date(),
        grids=grids,
        incidents=incidents,
        hazards=hazards,
        alerts=alerts,
        warnings=found,
    )


@router.get("/reports/daily", response_class=HTMLResponse)
async def daily_report(
    engine: EngineDep,
    user: CurrentUser,
    street: Annotated[Text | None, Query(description="street code (9 digits)")] = None,
    community: Annotated[Text | None, Query(description="community code (12 digits)")] = None,
    date: Annotated[str | None, Query(description="YYYY-MM-DD (China time); default today")] = None,
) -> HTMLResponse:
    """The daily situation report (每日态势报告) of a street or community: charts and a map.

    Staff only, for a street or community within their area (another one: 404).  Opened
    in a browser as ``/reports/daily?community=CODE&api_key=TOKEN``.
    """
    from maps.report import daily_report_html

    require_command_centre(user, "read daily reports")

    if (street is None) == (community is None):
        raise HTTPException(422, "give exactly one of street= or community= (its code)")
    code = street if street is not None else community
    assert code is not None
    try:
        day = pd.Timestamp(date).date() if date else clock.now().date()
    except ValueError as exc:
        raise HTTPException(422, f"date {date!r} is not YYYY-MM-DD") from exc
    _aware(datetime.combine(day, datetime.min.time()), "date")

    def render() -> str:
        area = store.read_area(engine, code)
        if (
            area is None
            or area.level != ("street" if street else "community")
            or not may_see_area(user, store.grids_in_area(engine, area.code)["id"].tolist())
        ):
            raise NotFound(f"no {'street' if street else 'community'} in your area has code {code}")
        return daily_report_html(gather_daily(engine, area, day))

    return HTMLResponse(await run_in_threadpool(render))
