"""Hazard areas (灾害影响区): storing them, what they touch, whom to check on; workers' positions.

One path for every door: a hazard drawn on a map (a GeoJSON body), imported from a
bureau's file or simulated from the command line is checked and stored by the same
rules (:func:`create_hazard`, :func:`import_hazard`, :func:`simulate_hazard`), and its
impact and check-on lists are read by the JSON routes, the wall screen and the command
line alike.

Access (:mod:`grids.access`): ``user`` is who asks over HTTP; None is the operator at the
command line, who sees everything.  Hazards and their totals are the command centre's
(staff); the impact's grid rows and check-on lists are limited to the grids the user
covers (a grid worker reads their own grids' lists).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd
from shapely import box
from shapely.geometry.base import BaseGeometry

from analysis.hazard import HazardError, HazardImpact, hazard_impact
from analysis.network import RoadNetwork
from analysis.walking import require_network
from etl.hazard_files import HazardPolygon, hazard_from_geojson, read_hazard_file
from gis import clock
from gis.coords import local_metric_crs_for, to_wgs84
from gis.db.models import HAZARD_KINDS
from gis.errors import InvalidInput, NotFound, ServiceError, Unavailable
from gis.settings import Settings
from gis.store import awareness_store as store
from gis.store import queries
from gis.store.awareness_store import HazardRow, ImpactInputs
from gis.times import check_time
from gis.validate import text_problem
from grids.access import (
    Principal,
    may_see_worker,
    require_check_on,
    require_command_centre,
    require_own_position,
    rows_in_area,
)


class HazardInputError(ServiceError, InvalidInput):
    """A hazard's kind, severity, validity or name cannot be used; the message says which."""


class PositionError(ServiceError, InvalidInput):
    """A worker's position that cannot be right (outside the service area)."""


class NoGrids(ServiceError, Unavailable):
    """No grids are loaded: there is no area to simulate a hazard on or to draw."""


NO_GRIDS = "no grids are loaded yet: wangge demo or wangge load"


def now() -> datetime:
    """The time now, aware (UTC), as every answer of situational awareness states it."""
    return clock.utcnow()


def checked_time(at: datetime | None, name: str, *, planned: bool = True) -> datetime | None:
    """A time given by a caller, checked (:func:`gis.times.check_time`, naming ``name``).

    Naive times are read as China time.  ``planned``: a planned time or a query bound (up
    to the horizon ahead), else a time that happened.
    """
    return None if at is None else check_time(at, name, planned=planned)


def grid_codes(engine: Engine) -> dict[int, str]:
    """The code of each current grid, by id."""
    frame = store.grids_in_area(engine)
    return dict(zip(frame["id"].astype(int).tolist(), frame["code"].tolist(), strict=True))


def road_network(engine: Engine, settings: Settings) -> RoadNetwork:
    """The stored road network for walking (the command line's; the server keeps its own).

    Raises
    ------
    analysis.walking.NoRoadNetwork
        When no road network is loaded.
    """
    nodes, edges = queries.road_network_frames(engine)
    network = None
    if not edges.empty:
        network = RoadNetwork.from_frames(nodes, edges, walk_speed_mps=settings.walk_speed_mps)
    return require_network(network)


# ---------------------------------------------------------------- storing a hazard


@dataclass(frozen=True)
class HazardFields:
    """What the caller says about a hazard; None: from the area's own properties."""

    kind: str | None = None
    name: str | None = None
    severity: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@dataclass(frozen=True)
class StoredHazard:
    """A hazard just stored: its row, its area (m², local metric CRS) and repairs made."""

    hazard: HazardRow
    area_m2: float
    warnings: list[str]


def _read(value: Any, cast: Callable[[Any], Any], name: str) -> Any:
    if value is None:
        return None
    try:
        return cast(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise HazardInputError(f"{name} {value!r} cannot be read: {exc}") from exc


def _datetime(value: Any) -> datetime:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _given(value: Any, prop: Any, name: str, cast: Callable[[Any], Any]) -> Any:
    """The caller's value, else the area's property ``name`` read with ``cast``."""
    return value if value is not None else _read(prop, cast, name)


def _save(
    engine: Engine,
    *,
    kind: Any,
    name: str | None,
    severity: Any,
    valid_from: datetime | None,
    valid_to: datetime | None,
    geom: BaseGeometry,
) -> HazardRow:
    """Check a hazard's fields and store it (the one place a hazard is written)."""
    where = "(given, or the area's '{}' property)"
    if kind not in HAZARD_KINDS:
        raise HazardInputError(
            f"kind must be one of {', '.join(HAZARD_KINDS)} {where.format('kind')}, not {kind!r}"
        )
    if severity is None or isinstance(severity, bool) or not 1 <= severity <= 4:
        raise HazardInputError(
            f"severity must be 1 to 4 {where.format('severity')}, not {severity!r}"
        )
    start = checked_time(valid_from, "valid_from") or clock.now()
    stop = checked_time(valid_to, "valid_to")
    if stop is not None and stop <= start:
        raise HazardInputError(
            f"valid_to {stop.isoformat()} is not after valid_from {start.isoformat()}"
        )
    label = str(name or f"{kind} {start:%Y-%m-%d %H:%M}")
    wrong = text_problem(label)
    if wrong is not None:
        raise HazardInputError(f"name {where.format('name')} {wrong}")
    with engine.begin() as conn:
        hazard_id = store.insert_hazard(
            conn,
            kind=kind,
            name=label,
            severity=int(severity),
            valid_from=start,
            valid_to=stop,
            geom=geom,
        )
    return _hazard(engine, hazard_id)


def _store(engine: Engine, checked: HazardPolygon, given: HazardFields) -> StoredHazard:
    props = checked.properties
    row = _save(
        engine,
        kind=given.kind or props.get("kind"),
        name=given.name or props.get("name"),
        severity=_given(given.severity, props.get("severity"), "severity", int),
        valid_from=_given(given.valid_from, props.get("valid_from"), "valid_from", _datetime),
        valid_to=_given(given.valid_to, props.get("valid_to"), "valid_to", _datetime),
        geom=checked.geometry,
    )
    return StoredHazard(row, checked.area_m2, [str(w) for w in checked.warnings])


def create_hazard(
    engine: Engine,
    settings: Settings,
    body: Any,
    *,
    coord_type: str = "wgs84",
    given: HazardFields = HazardFields(),
    user: Principal | None = None,
) -> StoredHazard:
    """Store a hazard area drawn on a map or sent by a bureau (GeoJSON, in ``coord_type``).

    The polygon is converted to WGS84, repaired when harmless and refused (with the fix)
    when empty, invalid or outside the area served; ``given`` overrides its properties.
    """
    if user is not None:
        require_command_centre(user, "store hazard areas")
    served = store.served_area(engine)
    checked = hazard_from_geojson(body, coord_type=coord_type, served=served, settings=settings)
    return _store(engine, checked, given)


def import_hazard(
    engine: Engine,
    path: Path,
    *,
    coord_type: str = "wgs84",
    layer: str | None = None,
    given: HazardFields = HazardFields(),
) -> StoredHazard:
    """Store a hazard area read from a GeoJSON, GeoPackage or Shapefile, checked as above."""
    served = store.served_area(engine)
    checked = read_hazard_file(path, coord_type=coord_type, served=served, layer=layer)
    return _store(engine, checked, given)


def simulate_hazard(
    engine: Engine, *, kind: str, width_m: float, severity: int, name: str
) -> StoredHazard:
    """Store a simulated hazard: a band ``width_m`` metres wide, north to south, mid-area."""
    served = store.served_area(engine)
    if served is None:
        raise NoGrids(NO_GRIDS)
    crs = local_metric_crs_for(served)
    w, s, e, n = gpd.GeoSeries([served], crs=4326).to_crs(crs).total_bounds
    middle = (w + e) / 2
    band = box(middle - width_m / 2, s - 100, middle + width_m / 2, n + 100)
    geom = gpd.GeoSeries([band], crs=crs).to_crs(4326).iloc[0]
    row = _save(
        engine,
        kind=kind,
        name=name,
        severity=severity,
        valid_from=None,
        valid_to=None,
        geom=geom,
    )
    return StoredHazard(row, float(band.area), [])


# ---------------------------------------------------------------- reading hazards


def _hazard(engine: Engine, hazard_id: int) -> HazardRow:
    row = store.read_hazard(engine, hazard_id)
    if row is None:
        raise NotFound(f"no hazard area has id {hazard_id}: GET /api/hazards lists them")
    return row


def hazards(engine: Engine, user: Principal, *, active: bool = False) -> gpd.GeoDataFrame:
    """Hazard areas, newest first (``active``: only those in force now); district-wide."""
    require_command_centre(user, "read hazard areas")
    return store.hazards(engine, active_at=now() if active else None)


def hazard(engine: Engine, user: Principal, hazard_id: int) -> HazardRow:
    """One hazard area."""
    require_command_centre(user, "read hazard areas")
    return _hazard(engine, hazard_id)


# ---------------------------------------------------------------- impact


@dataclass(frozen=True)
class Impact:
    """A stored hazard's impact with what it was computed from (``at``: monotonic s)."""

    hazard: HazardRow
    inputs: ImpactInputs
    impact: HazardImpact
    network: RoadNetwork
    at: float


#: How a door gets the impact of a hazard by id: computed, or from the server's cache.
ImpactOf = Callable[[int], Impact]


def compute_impact(engine: Engine, hazard_id: int, network: RoadNetwork | None) -> Impact:
    """The impact of a stored hazard, computed now.

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
        reference_year=clock.now().year,
    )
    return Impact(hazard, inputs, impact, network, time.monotonic())


def affected_grids(got: Impact, user: Principal | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid rows (with their ``check_on`` count) and check-on rows the user may see."""
    grids, rows = got.impact.grids, got.impact.check_on
    if user is not None:
        grids = grids[rows_in_area(user, grids["grid_id"])]
        rows = rows[rows_in_area(user, rows["grid_id"])]
    per_grid = rows.groupby("grid_id").size()
    grids = grids.assign(check_on=grids["grid_id"].map(per_grid).fillna(0).astype(int))
    return grids, rows


@dataclass(frozen=True)
class ShelterState:
    """A shelter as the impact names it."""

    id: int
    name: str | None
    usable: bool


@dataclass(frozen=True)
class ImpactView:
    """A hazard's impact as one user sees it: their grids' rows, the whole hazard's totals.

    ``grids``: code, area_share, counts by group, ``check_on`` and the grid's primary
    ``worker_id``; the totals are counts without personal data.
    """

    hazard: HazardRow
    area_m2: float
    grids: pd.DataFrame
    buildings: int
    households: int
    residents_by_group: dict[str, int]
    check_on: int
    check_on_without_safe_shelter: int
    shelters_inside: list[ShelterState]
    shelters_outside: list[ShelterState]
    closed_road_edges: int
    notes: list[str]


def impact_view(user: Principal | None, hazard_id: int, impact_of: ImpactOf) -> ImpactView:
    """What a hazard touches: grids, buildings, households, residents by group, shelters."""
    if user is not None:
        require_command_centre(user, "read a hazard's impact")
    got = impact_of(hazard_id)
    imp, inputs = got.impact, got.inputs
    grids, mine = affected_grids(got, user)
    primary = inputs.workers[inputs.workers["role"] == "primary"].set_index("grid_id")
    grids = grids.assign(worker_id=grids["grid_id"].map(primary["worker_id"]).astype("Int64"))
    shelters = inputs.shelters.set_index("facility_id")
    names = {int(k): v for k, v in shelters["name"].items()}
    is_open = {int(k): bool(v) for k, v in shelters["is_open"].items()}
    return ImpactView(
        hazard=got.hazard,
        area_m2=imp.area_m2,
        grids=grids,
        buildings=len(imp.buildings),
        households=len(imp.households),
        residents_by_group=dict(imp.residents_by_group),
        check_on=len(mine),
        check_on_without_safe_shelter=int((mine["reason"] != "ok").sum()) if len(mine) else 0,
        shelters_inside=[
            ShelterState(int(s), names.get(int(s)), False) for s in imp.shelters_inside
        ],
        shelters_outside=[
            ShelterState(int(s), names.get(int(s)), is_open.get(int(s), False))
            for s in imp.shelters_outside
        ],
        closed_road_edges=len(imp.closed_edges),
        notes=list(imp.notes),
    )


@dataclass(frozen=True)
class CheckOnList:
    """Whom the workers must check on (走访名单), with safe shelter and walking route.

    ``rows``: the check-on rows of :func:`analysis.hazard.hazard_impact` (ids and flags,
    no names) plus ``room`` and ``walk_min``; ``route`` is a WGS84 line or None.
    """

    hazard_id: int
    grid: str | None
    rows: pd.DataFrame


def check_on_list(
    engine: Engine,
    user: Principal | None,
    hazard_id: int,
    impact_of: ImpactOf,
    grid: str | None = None,
) -> CheckOnList:
    """The check-on rows of a hazard, of one grid (15-digit code) or every grid visible.

    Raises
    ------
    NotFound
        For a grid that is not a current grid of the user's area (as if it did not exist).
    """
    if user is not None:
        require_check_on(user)
    got = impact_of(hazard_id)
    _, rows = affected_grids(got, user)
    if grid is not None:
        known = store.grids_in_area(engine)
        if user is not None:
            known = known[rows_in_area(user, known["id"])]
        if grid not in set(known["code"]):
            area = " in your area" if user is not None else ""
            raise NotFound(f"no current grid{area} has code {grid}")
        rows = rows[rows["grid_code"] == grid]
    rooms = got.inputs.households.set_index("id")["room"]
    walk_min = [None if pd.isna(s) else round(float(s) / 60, 1) for s in rows["walk_s"]]
    rows = rows.assign(room=rows["household_id"].map(rooms), walk_min=walk_min)
    return CheckOnList(hazard_id, grid, rows.reset_index(drop=True))


# ---------------------------------------------------------------- workers' positions


@dataclass(frozen=True)
class PositionReport:
    """A position report from a grid worker's tablet (degrees in ``coord_type``)."""

    lon: float
    lat: float
    coord_type: str = "wgs84"
    at: datetime | None = None


@dataclass(frozen=True)
class Position:
    """A stored position (WGS84)."""

    id: int
    worker_id: int
    lon: float
    lat: float
    at: datetime


def record_position(
    engine: Engine, settings: Settings, user: Principal, worker_id: int, report: PositionReport
) -> Position:
    """Record where a grid worker is; only that worker themself or an admin may."""
    require_own_position(user, worker_id)
    x, y = to_wgs84(report.lon, report.lat, report.coord_type)
    w, s, e, n = settings.service_area_bounds
    if not (w <= x <= e and s <= y <= n):
        hint = " (lon and lat look swapped)" if w <= y <= e and s <= x <= n else ""
        raise PositionError(
            f"the position ({x:.5f}, {y:.5f}) is outside the service area "
            f"(W {w}, S {s}, E {e}, N {n}){hint}: send lon, lat in degrees"
        )
    at = checked_time(report.at, "at", planned=False) or now()
    if not store.worker_exists(engine, worker_id):
        raise NotFound(f"no grid worker has id {worker_id}")
    with engine.begin() as conn:
        position_id = store.record_position(conn, worker_id, x, y, at)
    return Position(position_id, worker_id, x, y, at)


def visible_positions(engine: Engine, user: Principal | None) -> gpd.GeoDataFrame:
    """Workers' latest positions the user may see (those of the grids they cover)."""
    frame = store.latest_positions(engine)
    if user is None or frame.empty:
        return frame
    ids = {code: grid_id for grid_id, code in grid_codes(engine).items()}
    visible = [
        may_see_worker(user, [ids[c] for c in str(codes).split(",") if c in ids])
        for codes in frame["grids"]
    ]
    return frame[np.asarray(visible, dtype=bool)]
