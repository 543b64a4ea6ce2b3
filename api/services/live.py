"""The live picture (态势一张图): open incidents, hazards in force, shelters, workers, changes.

What the wall screen, its JSON snapshot and its event stream show, and the workers'
positions they draw (reported by the worker themself, or an admin).  For the command
centre's staff; the open incidents, affected grids, check-on rows and workers are those
of the grids the user covers (``user`` None: everything, for the command line); hazards
and shelters are district-wide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd
import shapely

from analysis.hazard import HazardError
from analysis.hotspots import HotspotError, gi_star
from analysis.walking import NoRoadNetwork
from api.services.awareness import NO_GRIDS, NoGrids, checked_time, grid_codes, now
from api.services.impact import ImpactOf, affected_grids
from api.services.intake import service_area
from gis.coords import to_wgs84
from gis.errors import InvalidInput, NotFound, ServiceError
from gis.settings import Settings
from gis.store import awareness_store as store
from gis.store import grid_store, worker_field_store
from grids.access import (
    Principal,
    may_see_worker,
    require_check_on,
    require_command_centre,
    require_own_position,
    rows_in_area,
)

#: Days of incidents behind the live map's heat and hotspot layers.
LIVE_HEAT_DAYS = 7
#: Hazards in force whose impact (affected grids, check-on lists) the live map draws.
LIVE_HAZARDS = 3


def _open(engine: Engine, user: Principal | None) -> pd.DataFrame:
    frame = store.open_incidents(engine)
    return frame if user is None else frame[rows_in_area(user, frame["grid_id"])]


def open_incidents(engine: Engine, user: Principal) -> pd.DataFrame:
    """Open incidents of the grids the user covers (admin: all).

    Columns of :func:`gis.store.awareness_store.open_incidents`: id, state, category,
    place (no description, no people).
    """
    require_command_centre(user, "read the live picture")
    return _open(engine, user)


# ---------------------------------------------------------------- workers' positions


class PositionError(ServiceError, InvalidInput):
    """A worker's position that cannot be right (outside the service area)."""


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
    area = service_area(engine, settings)
    w, s, e, n = area
    if not (w <= x <= e and s <= y <= n):
        hint = " (lon and lat look swapped)" if w <= y <= e and s <= x <= n else ""
        raise PositionError(
            f"the position ({x:.5f}, {y:.5f}) is outside the service area "
            f"({area.describe()}){hint}: send lon, lat in degrees"
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


# ---------------------------------------------------------------- the picture


@dataclass(frozen=True)
class Snapshot:
    """The live picture as data.

    ``shelters``: with ``usable`` (open and outside every hazard in force).
    """

    at: datetime
    incidents: pd.DataFrame
    hazards: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    workers: gpd.GeoDataFrame
    checkon_progress: list[dict[str, Any]] = field(default_factory=list)


def snapshot(engine: Engine, user: Principal, impact_of: ImpactOf | None = None) -> Snapshot:
    """Open incidents, hazards in force, shelters with occupancy, workers' last positions.

    With ``impact_of``, also the check-on progress per grid of the user's area
    (:func:`checkon_progress`: people to check on, and how the workers marked them).
    """
    require_command_centre(user, "read the live picture")
    at = now()
    hazards = store.hazards(engine, active_at=at)
    shelters = store.shelters_live(engine)
    inside = np.zeros(len(shelters), dtype=bool)
    if len(hazards) and len(shelters):
        area = shapely.union_all(np.asarray(hazards.geometry.array, dtype=object))
        inside = shapely.intersects(area, np.asarray(shelters.geometry.array, dtype=object))
    shelters = shelters.assign(usable=shelters["is_open"].astype(bool).to_numpy() & ~inside)
    progress: list[dict[str, Any]] = []
    if impact_of is not None and len(hazards):
        by_hazard = [
            (hazards.set_index("id", drop=False).loc[h], g, rows)
            for h, g, rows in _impacts(hazards, user, impact_of)
        ]
        marks = worker_field_store.latest_marks(engine, [int(h["id"]) for h, _, _ in by_hazard])
        progress = checkon_progress(by_hazard, marks)
    return Snapshot(
        at, _open(engine, user), hazards, shelters, visible_positions(engine, user), progress
    )


@dataclass
class Follower:
    """One screen following the incident changes: whom it is for, the names it shows."""

    engine: Engine
    user: Principal
    codes: dict[int, str]
    names: dict[str, str] = field(default_factory=dict)

    def incident_event(self, change: dict[str, Any]) -> dict[str, Any] | None:
        """A changed incident as the screen receives it; None when outside the user's area."""
        grid_id = change.get("grid_id")
        if not self.user.covers_grid(None if grid_id is None else int(grid_id)):
            return None  # outside the user's area: not theirs to see
        if grid_id is not None and grid_id not in self.codes:
            self.codes.update(grid_codes(self.engine))  # a grid added meanwhile
        return {
            "id": change.get("id"),
            "op": change.get("op"),
            "state": change.get("state"),
            "category": self.names.get(
                str(change.get("category_code")), change.get("category_code")
            ),
            "lon": change.get("lon"),
            "lat": change.get("lat"),
            "reported_at": change.get("reported_at"),
            "grid": self.codes.get(grid_id) if grid_id is not None else None,
        }

    def checkon_event(self, change: dict[str, Any]) -> dict[str, Any] | None:
        """A check-on mark as the screen receives it; None when outside the user's area."""
        grid_id = change.get("grid_id")
        if not self.user.covers_grid(None if grid_id is None else int(grid_id)):
            return None
        keys = ("hazard_id", "resident_id", "grid", "mark", "marked_at")
        return {k: change.get(k) for k in keys}


def follow(engine: Engine, user: Principal) -> Follower:
    """Start following the incident changes (the stream's door delivers them)."""
    require_command_centre(user, "follow the live stream")
    return Follower(engine, user, grid_codes(engine), store.category_names(engine))


@dataclass(frozen=True)
class LivePage:
    """Every layer of the wall screen, for :func:`maps.live.live_map` to draw."""

    grids: gpd.GeoDataFrame
    incidents: pd.DataFrame
    heat: pd.DataFrame
    hotspots: pd.DataFrame | None
    hazards: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    workers: gpd.GeoDataFrame
    affected: pd.DataFrame | None
    check_on: pd.DataFrame | None


def live_page(
    engine: Engine, user: Principal | None, study_cells: np.ndarray, impact_of: ImpactOf
) -> LivePage:
    """The layers of the live map.

    The heat and hotspot layers count the last :data:`LIVE_HEAT_DAYS` days of incidents
    (``study_cells``: every H3 cell of the area served); the newest :data:`LIVE_HAZARDS`
    hazards in force are drawn with their affected grids and check-on lists (a hazard
    whose impact cannot be computed — no road network yet, or meeting no grid — is drawn
    without them).
    """
    if user is not None:
        require_command_centre(user, "open the live map")
    grids = grid_store.current_grids(engine)
    if grids.empty:
        raise NoGrids(NO_GRIDS)
    at = now()
    # the last week of incidents; when none came in it (a demo district whose incidents
    # end in the past), the last week that has some, so the heat layer is never blank
    latest = store.latest_report_time(engine)
    until = at if latest is None or latest >= at else latest + timedelta(seconds=1)
    recent = store.incidents_frame(engine, start=until - timedelta(days=LIVE_HEAT_DAYS), end=until)
    heat = recent.dropna(subset=["h3_cell"]).groupby("h3_cell").size().rename("count").reset_index()
    hot = None
    if len(heat):
        try:
            hot = gi_star(
                heat["h3_cell"].to_numpy(np.int64),
                heat["count"].to_numpy(np.float64),
                study_area=study_cells,
            ).frame
        except HotspotError:
            hot = None
    hazards = store.hazards(engine, active_at=at)
    affected, check_on = _in_force(hazards, user, impact_of)
    return LivePage(
        grids=grids.rename_geometry("geometry"),
        incidents=_open(engine, user),
        heat=heat,
        hotspots=hot,
        hazards=hazards,
        shelters=store.shelters_live(engine),
        workers=visible_positions(engine, user),
        affected=affected,
        check_on=check_on,
    )


def _impacts(
    hazards: gpd.GeoDataFrame, user: Principal | None, impact_of: ImpactOf
) -> list[tuple[int, pd.DataFrame, pd.DataFrame]]:
    """(hazard id, affected grids, check-on rows) of the newest :data:`LIVE_HAZARDS` given."""
    out = []
    for hazard_id in hazards["id"].head(LIVE_HAZARDS):
        try:
            got = impact_of(int(hazard_id))
        except (NoRoadNetwork, HazardError):
            continue
        g, mine = affected_grids(got, user)
        out.append((int(hazard_id), g, mine))
    return out


def _in_force(
    hazards: gpd.GeoDataFrame, user: Principal | None, impact_of: ImpactOf
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Affected grids and check-on rows of the newest :data:`LIVE_HAZARDS` hazards given."""
    found = _impacts(hazards, user, impact_of)
    parts = [g for _, g, _ in found]
    rows = [mine for _, _, mine in found]
    return (
        pd.concat(parts, ignore_index=True) if parts else None,
        pd.concat(rows, ignore_index=True).drop_duplicates("resident_id") if rows else None,
    )


def check_on_now(
    engine: Engine, user: Principal | None, impact_of: ImpactOf
) -> pd.DataFrame | None:
    """Whom to check on in the hazards in force the live map draws, in the user's grids.

    The rows of :attr:`analysis.hazard.HazardImpact.check_on` (with ``lon``, ``lat`` and
    ``route``); None when no hazard is in force or none could be computed.
    """
    if user is not None:
        require_check_on(user)
    return _in_force(store.hazards(engine, active_at=now()), user, impact_of)[1]


def check_on_by_hazard(
    engine: Engine, user: Principal | None, impact_of: ImpactOf
) -> list[tuple[pd.Series, pd.DataFrame, pd.DataFrame]]:
    """The hazards in force the live map draws (newest first), with grids and check-on rows.

    Each: the hazard's row, the grids it affects and its check-on rows, both in the
    user's grids (:func:`check_on_now`'s rows, per hazard).
    """
    if user is not None:
        require_check_on(user)
    hazards = store.hazards(engine, active_at=now())
    rows = hazards.set_index("id", drop=False)
    return [(rows.loc[h], g, mine) for h, g, mine in _impacts(hazards, user, impact_of)]


def checkon_progress(
    by_hazard: list[tuple[pd.Series, pd.DataFrame, pd.DataFrame]], marks: pd.DataFrame
) -> list[dict[str, Any]]:
    """Per grid: people to check on in the hazards given, and how many are marked how.

    ``marks``: the latest mark per hazard and person
    (:func:`gis.store.worker_field_store.latest_marks`).  A person on the lists of two
    hazards counts once, under the newer hazard (as :func:`check_on_now`).
    """
    parts = [
        rows[["grid_code", "resident_id"]].assign(hazard_id=int(hazard["id"]))
        for hazard, _, rows in by_hazard
        if len(rows)
    ]
    if not parts:
        return []
    people = pd.concat(parts, ignore_index=True).drop_duplicates("resident_id")
    people["resident_id"] = people["resident_id"].astype("int64")
    latest = marks[["hazard_id", "resident_id", "mark"]].astype({"resident_id": "int64"})
    joined = people.merge(
        latest.astype({"hazard_id": "int64"}), on=["hazard_id", "resident_id"], how="left"
    )
    out = []
    for grid, part in joined.groupby("grid_code", sort=True):
        counts = part["mark"].value_counts()
        out.append(
            {
                "grid": str(grid),
                "total": len(part),
                **{m: int(counts.get(m, 0)) for m in ("reached", "not_home", "needs_help")},
            }
        )
    return out
