"""Hazard areas (灾害影响区): stored from a map, a bureau's file or a simulation, and read.

One path for every door: a hazard drawn on a map (a GeoJSON body), imported from a
bureau's file or simulated from the command line is checked and stored by the same
rules (:func:`create_hazard`, :func:`import_hazard`, :func:`simulate_hazard`).  Also the
clock and time checks every awareness service shares.

Access (:mod:`grids.access`): ``user`` is who asks over HTTP; None is the operator at the
command line.  Hazard areas are the command centre's (staff), district-wide.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd
from shapely import box
from shapely.geometry.base import BaseGeometry

from etl.hazard_files import HazardPolygon, hazard_from_geojson, read_hazard_file
from gis import clock
from gis.coords import local_metric_crs_for
from gis.db.models import HAZARD_KINDS
from gis.db.principal import as_system
from gis.errors import InvalidInput, NotFound, ServiceError, Unavailable
from gis.settings import Settings, get_settings
from gis.store import awareness_store as store
from gis.store import register_store
from gis.store.awareness_store import HazardRow
from gis.times import check_time
from gis.validate import (
    ServiceArea,
    text_problem,
)
from grids.access import Principal, require_command_centre


class HazardInputError(ServiceError, InvalidInput):
    """A hazard's kind, severity, validity or name cannot be used; the message says which."""


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
    if severity is None:
        raise HazardInputError(
            "no severity: give one of 1 to 4 (1 low, 4 severe): --severity on the command "
            "line, or a 'severity' property on the area"
        )
    if isinstance(severity, bool) or not 1 <= severity <= 4:
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
    return read_hazard(engine, hazard_id)


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


def _service_area(engine: Engine, settings: Settings | None) -> ServiceArea:
    """The imported boundaries' box and margin (the settings' box before any)."""
    # the area served is public by design: whoever stores a hazard may know it
    with as_system(), engine.connect() as conn:
        return register_store.service_area(conn, settings or get_settings())


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
    checked = hazard_from_geojson(
        body,
        coord_type=coord_type,
        served=served,
        settings=settings,
        service_area=_service_area(engine, settings),
    )
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
    checked = read_hazard_file(
        path,
        coord_type=coord_type,
        served=served,
        layer=layer,
        service_area=_service_area(engine, None),
    )
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


def read_hazard(engine: Engine, hazard_id: int) -> HazardRow:
    """A stored hazard area, or :class:`NotFound`."""
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
    return read_hazard(engine, hazard_id)
