"""The grids desk (网格与人员): grids with workers and KPIs, handovers, checks and designs.

Each grid of the caller's area with its workers, load and KPIs; handing a grid over to
another worker; the topology check and a design proposal to confirm.

One use case per function, for the ``/grids`` pages (and any other door).  Who may see or
change what is :mod:`grids.access`'s: the grids of the caller's area
(:func:`~grids.access.may_manage_grid`), the workers who belong to it
(:func:`~grids.access.workers_in_area`), street staff for a community's new design.

A handover (网格交接) makes the new worker the grid's primary, removes the old worker from
the grid entirely (their next request no longer sees it: the cached principals follow
``grid_assignment``), moves their open tasks in the grid to the new worker (same state,
one event each, so the case history says who handed what to whom) and writes the
handover to the audit log — all in one transaction.  The grid's history (its cases,
closed or open) stays with the grid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd

from api.services import grid_design, kpi
from api.services.grids import UnknownCommunity, check_stored_grids
from etl.grid_versions import VersionReport
from gis import clock
from gis.errors import Conflict, Forbidden, InvalidInput, NotFound, ServiceError
from gis.settings import Settings
from gis.store import access_store, dispatch_store, grid_desk_store, grid_store, incident_store
from grids.access import (
    ROLE_NAMES_ZH,
    Principal,
    may_manage_grid,
    may_see_area,
    require_grid_desk,
    require_street_staff,
    workers_in_area,
)
from grids.incidents import OPEN_STATES, SHANGHAI
from grids.topology import CheckTolerances
from grids.topology.report import KIND_LABELS

_OPEN = tuple(sorted(OPEN_STATES))


class GridNotFound(ServiceError, NotFound):
    """No current grid with that id in the caller's area."""


class WorkerOutsideArea(ServiceError, Forbidden):
    """The worker to hand a grid to does not belong to the caller's area."""


class ProposalChanged(ServiceError, Conflict):
    """The design confirmed is not the one computed now (the data changed meanwhile)."""


@dataclass(frozen=True)
class WorkerRef:
    """A grid worker as the desk shows them, with their open tasks (all grids)."""

    id: int
    name: str
    phone: str | None
    on_duty: bool
    open_tasks: int
    max_open_tasks: int
    username: str | None


@dataclass(frozen=True)
class GridRow:
    """A current grid of the area: counts, workers, load and KPIs (by 应结案 due date)."""

    id: int
    code: str
    name: str
    community_code: str
    community_name: str
    households: int
    buildings: int
    open_cases: int
    overdue_cases: int
    primary: WorkerRef | None
    backups: list[WorkerRef]
    kpis: dict[str, float | int | None]


@dataclass(frozen=True)
class GridsOverview:
    """The grids desk: the area's grids, the workers a grid may go to, recent handovers."""

    as_of: datetime
    grids: list[GridRow]
    workers: list[WorkerRef]
    handovers: list[dict[str, Any]]
    communities: list[tuple[str, str]]


def _worker(row: dict[str, Any]) -> WorkerRef:
    return WorkerRef(
        id=int(row["worker_id"]),
        name=str(row["name"]),
        phone=row["phone"],
        on_duty=bool(row["on_duty"]),
        open_tasks=int(row["open_tasks"]),
        max_open_tasks=int(row["max_open_tasks"]),
        username=row["username"],
    )


def _area(user: Principal) -> tuple[int, ...] | None:
    require_grid_desk(user)
    return None if user.sees_everything else tuple(sorted(user.grid_ids or ()))


def _kpis(engine: Engine, user: Principal) -> dict[str, dict[str, Any]]:
    """Per grid code: due, closed, 结案率 and 按期结案率 (all time up to now), overdue open."""
    review = kpi.build_review(engine, user, kpi.review_query("grid", None, None, None, "due", None))
    table = review.table
    if table.empty:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for row in table.to_dict("records"):
        out[str(row["grid"])] = {
            k: (None if isinstance(v, float) and pd.isna(v) else v)
            for k, v in row.items()
            if k in ("due", "closed", "close_rate", "on_time_rate", "overdue_open")
        }
    return out


def overview(engine: Engine, user: Principal) -> GridsOverview:
    """Each current grid of the user's area with its primary, backups, load and KPIs."""
    area = _area(user)
    now = clock.now()
    with engine.connect() as conn:
        grids = grid_desk_store.area_grids(conn, area, _OPEN, now)
        people = grid_desk_store.area_assignments(conn, area, _OPEN)
        choices = workers_in_area(user, dispatch_store.assignments(conn))
        eligible = grid_desk_store.workers(conn, sorted(choices))
        handovers = grid_desk_store.handovers(conn, area)
    for row in handovers:  # China time, as everything the desk shows
        row["at"] = row["at"].astimezone(SHANGHAI)
    load = {int(p["worker_id"]): int(p["open_tasks"]) for p in people}
    kpis = _kpis(engine, user)
    rows = []
    for g in grids:
        mine = [p for p in people if p["grid_id"] == g["id"]]
        primary = next((_worker(p) for p in mine if p["role"] == "primary"), None)
        rows.append(
            GridRow(
                **{k: g[k] for k in ("id", "code", "name", "community_code", "community_name")},
                households=int(g["households"]),
                buildings=int(g["buildings"]),
                open_cases=int(g["open_cases"]),
                overdue_cases=int(g["overdue_cases"]),
                primary=primary,
                backups=[_worker(p) for p in mine if p["role"] == "backup"],
                kpis=kpis.get(g["code"], {}),
            )
        )
    workers = [
        WorkerRef(
            id=int(w["id"]),
            name=str(w["name"]),
            phone=w["phone"],
            on_duty=bool(w["on_duty"]),
            open_tasks=load.get(int(w["id"]), 0),
            max_open_tasks=0,
            username=w["username"],
        )
        for w in eligible
    ]
    communities = sorted({(g.community_code, g.community_name) for g in rows})
    return GridsOverview(now, rows, workers, handovers, communities)


@dataclass(frozen=True)
class Handover:
    """What a handover did: the grid, from whom to whom, the open tasks that followed."""

    grid_code: str
    grid_name: str
    from_worker: str | None
    to_worker: str
    tasks: list[int] = field(default_factory=list)


def hand_over(
    engine: Engine, user: Principal, grid_id: int, to_worker_id: int, reason: str | None = None
) -> Handover:
    """Hand a grid of the user's area to another worker of the area (网格交接).

    Raises
    ------
    GridNotFound
        When the grid is not a current grid of the user's area.
    WorkerOutsideArea
        When the new worker does not belong to the user's area.
    InvalidInput
        When the worker is already the grid's primary.
    """
    require_grid_desk(user, "hand a grid over (网格交接)")
    now = clock.now()
    with engine.begin() as conn:
        grid = grid_desk_store.current_grid(conn, grid_id, lock=True)
        if grid is None or not may_manage_grid(user, grid_id):
            raise GridNotFound(
                f"grid {grid_id} is not a current grid of your area; pick one on /grids"
            )
        if to_worker_id not in workers_in_area(user, dispatch_store.assignments(conn)):
            raise WorkerOutsideArea(
                f"grid worker {to_worker_id} does not belong to your area "
                f"({ROLE_NAMES_ZH[user.role]} {user.display_name}); pick a worker listed on /grids"
            )
        old = grid_desk_store.primary_of(conn, grid_id)
        if old == to_worker_id:
            raise InvalidInput(
                f"grid worker {to_worker_id} is already the primary worker of grid {grid['code']}"
            )
        names = {
            int(w["id"]): w["name"] for w in grid_desk_store.workers(conn, [to_worker_id, old or 0])
        }
        grid_desk_store.hand_over(conn, grid_id, old, to_worker_id)
        moved: list[int] = []
        if old is not None:
            note = f"网格交接：{grid['name']} 由 {names.get(old)} 移交给 {names[to_worker_id]}"
            for task in grid_desk_store.open_tasks(conn, grid_id, old, _OPEN):
                incident_store.record_transition(
                    conn,
                    int(task["id"]),
                    expected_state=task["state"],
                    to_state=task["state"],
                    at=now,
                    actor=user.username,
                    note=note,
                    changes={"assignee_id": to_worker_id},
                    expected_event_id=task["last_event_id"],
                )
                moved.append(int(task["id"]))
        access_store.audit(
            conn,
            user.username,
            "grid_handover",
            "grid",
            grid_id,
            {
                "grid_code": grid["code"],
                "grid_name": grid["name"],
                "from_worker_id": old,
                "from_worker": names.get(old) if old is not None else None,
                "to_worker_id": to_worker_id,
                "to_worker": names[to_worker_id],
                "tasks": moved,
                "reason": (reason or "").strip() or None,
            },
        )
    return Handover(
        grid["code"], grid["name"], names.get(old) if old else None, names[to_worker_id], moved
    )


# ------------------------------------------------------------------ topology check and design


@dataclass(frozen=True)
class DesignView:
    """A community's current grids, their topology problems and a proposed design, as GeoJSON.

    ``fingerprint`` identifies the proposal: saving it again asks for the same one.
    """

    community_code: str
    community_name: str
    current: dict[str, Any]
    problems: dict[str, Any]
    summary: dict[str, int]
    proposal: dict[str, Any] | None
    compared: list[tuple[str, dict[str, Any]]]
    shortfall: str | None
    fingerprint: str | None
    error: str | None
    may_save: bool
    min_households: int
    max_households: int


def _geojson(frame: gpd.GeoDataFrame, columns: list[str]) -> dict[str, Any]:
    if frame.empty:
        return {"type": "FeatureCollection", "features": []}
    keep = [c for c in columns if c in frame.columns]
    out = gpd.GeoDataFrame(frame[keep], geometry=frame.geometry.values, crs=frame.crs)
    out = out.to_crs(4326) if out.crs is not None else out
    return json.loads(out.to_json(drop_id=True))


def _fingerprint(grids: gpd.GeoDataFrame) -> str:
    digest = hashlib.sha256()
    for code, geom in zip(grids["code"], grids.geometry, strict=True):
        digest.update(code.encode())
        digest.update(geom.wkb)
    return digest.hexdigest()[:32]


def _community(engine: Engine, user: Principal, community: str) -> str:
    """The community's name when the user's area holds it; 404 otherwise."""
    require_grid_desk(user, "check or design grids")
    found = grid_store.communities(engine, community)
    current = grid_store.current_grids(engine, community)
    if found.empty or (not user.sees_everything and not may_see_area(user, current["id"].tolist())):
        raise UnknownCommunity(
            f"no community {community} in your area; pick one of your communities on /grids"
        )
    return str(found.iloc[0]["name"])


def _band(settings: Settings, lo: int | None, hi: int | None) -> tuple[int, int]:
    lo = settings.grid_households_min if lo is None else lo
    hi = settings.grid_households_max if hi is None else hi
    if not 1 <= lo < hi <= 100_000:
        raise InvalidInput(
            f"households per grid: min={lo}, max={hi}; give 1 ≤ min < max (e.g. 300 and 500)"
        )
    return lo, hi


def design_view(
    engine: Engine,
    user: Principal,
    settings: Settings,
    community: str,
    *,
    min_households: int | None = None,
    max_households: int | None = None,
    count: int | None = None,
) -> DesignView:
    """The topology check of a community's grids and the designer's proposal, nothing saved."""
    name = _community(engine, user, community)
    lo, hi = _band(settings, min_households, max_households)
    checked = check_stored_grids(
        engine,
        CheckTolerances.from_settings(settings, band_min=lo, band_max=hi),
        community=community,
    )
    report = checked.report
    proposal = compared = shortfall = fingerprint = error = None
    try:
        made = grid_design.propose_design(
            grid_design.design_inputs(engine, community),
            min_households=lo,
            max_households=hi,
            count=count,
        )
    except InvalidInput as exc:  # a community that cannot be designed as asked: say so
        error = str(exc)
    else:
        proposal = _geojson(made.grids, ["code", "name", "households"])
        # the page says them in Chinese: "current 现状" → "现状" (the command line: both)
        compared = [(label.split(" ")[-1], metrics.__dict__) for label, metrics in made.compared]
        shortfall = made.shortfall
        fingerprint = _fingerprint(made.grids)
    return DesignView(
        community_code=community,
        community_name=name,
        current=_geojson(checked.grids, ["code", "name", "households"]),
        problems=_geojson(report.problems, ["kind", "severity", "grid_codes", "message"]),
        summary={KIND_LABELS.get(k, k): n for k, n in report.summary.items()},
        proposal=proposal,
        compared=compared or [],
        shortfall=shortfall,
        fingerprint=fingerprint,
        error=error,
        may_save=user.role in ("street_staff", "admin"),
        min_households=lo,
        max_households=hi,
    )


def save_design(
    engine: Engine,
    user: Principal,
    settings: Settings,
    community: str,
    fingerprint: str,
    *,
    min_households: int | None = None,
    max_households: int | None = None,
    count: int | None = None,
) -> VersionReport:
    """Store the proposal the user confirmed as the community's new grids (street staff).

    Raises
    ------
    ProposalChanged
        When the proposal computed now is not the one confirmed (409): look again.
    grid_design.WorseThanLattice
        When the design is worse than the naive lattice (nothing stored).
    """
    require_street_staff(user, "store a new grid design")
    _community(engine, user, community)
    lo, hi = _band(settings, min_households, max_households)
    made = grid_design.propose_design(
        grid_design.design_inputs(engine, community),
        min_households=lo,
        max_households=hi,
        count=count,
    )
    if _fingerprint(made.grids) != fingerprint:
        raise ProposalChanged(
            f"the design of community {community} is no longer the one you confirmed (its "
            "buildings, roads or grids changed meanwhile); open the proposal again and check it"
        )
    report = grid_design.save_design(engine, made, settings=settings)
    with engine.begin() as conn:
        access_store.audit(
            conn,
            user.username,
            "grid_design",
            "community",
            community,
            {"created": report.codes, "retired": len(report.retired), "band": [lo, hi]},
        )
    return report
