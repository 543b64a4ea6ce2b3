"""Filing a report (采集): one path for the resident app, patrol, the 12345 hotline and Open311.

Whatever door a report comes through, it is checked the same way (known category,
plausible place converted from its ``coord_type``, inside a grid, a plausible time:
:func:`gis.times.time_problem`), placed in its 网格 and H3 cell, flagged when it lies
near a grid edge (the grid should be confirmed) or looks like an earlier report of the
same category nearby (a likely duplicate, to merge), and stored with its first history
step in one transaction.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import Connection, Engine

import h3

from etl.hotline import read_hotline_csv
from gis import clock
from gis.coords import to_wgs84
from gis.db.models import INCIDENT_SOURCES
from gis.db.principal import as_system
from gis.errors import InvalidInput, Problem, ValidationError
from gis.settings import Settings
from gis.store import incident_store, partition_store, register_store
from gis.store.incident_store import EventRow, IncidentRow
from gis.times import time_problem
from gis.validate import ServiceArea
from grids.access import Principal, incident_filter, require_staff
from grids.beidou.place import beidou_code, stored_beidou
from grids.categories import Category
from grids.incidents import SHANGHAI, report
from grids.locate import NO_GRID, CurrentGrids

#: The sources each role may file under (staff and admins file for the hotline too).
SOURCES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "resident": ("resident_app",),
    "grid_worker": ("patrol",),
    "community_staff": INCIDENT_SOURCES,
    "street_staff": INCIDENT_SOURCES,
    "district_staff": INCIDENT_SOURCES,
    "city_staff": INCIDENT_SOURCES,
    "admin": INCIDENT_SOURCES,
}
DEFAULT_SOURCE = {"resident": "resident_app", "grid_worker": "patrol"}
MAX_DESCRIPTION = 2000


def categories(engine: Engine) -> dict[str, Category]:
    """The deployment's category table (a small table: read where it is needed)."""
    with engine.connect() as conn:
        return {r["code"]: Category(**r) for r in incident_store.category_rows(conn)}


@dataclass(frozen=True)
class Report:
    """A problem as someone reports it, before it is checked and placed."""

    category_code: str
    description: str
    lon: float
    lat: float
    coord_type: str = "wgs84"
    source: str | None = None
    address: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    reported_at: datetime | None = None
    #: its key at the source (a 12345 case number or row digest): filed once, however often sent
    source_ref: str | None = None


@dataclass(frozen=True)
class Placed:
    """A checked report, placed in its grid and H3 cell."""

    report: Report
    source: str
    lon: float
    lat: float
    grid_pos: int
    grid_id: int
    h3_cell: int
    beidou_cell: int | None
    near_boundary: bool
    edge_distance_m: float
    reported_at: datetime


@dataclass(frozen=True)
class Filed:
    """A stored report: its id, grid, cell, flags and the likely duplicates found.

    ``duplicates`` lists the nearest few (``Settings.duplicate_max_listed``);
    ``duplicate_count`` says how many there are in all.  Both hold only reports the
    reporter may see; ``similar_elsewhere`` says that others exist, and nothing more
    (their ids, states and times are not the reporter's to know).
    """

    id: int
    state: str
    public_token: str
    grid_id: int
    grid_code: str
    grid_name: str
    community: str
    h3_cell: str
    beidou: str | None
    lon: float
    lat: float
    reported_at: datetime
    near_boundary: bool
    edge_distance_m: float
    duplicate_of: int | None
    duplicate_count: int = 0
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    similar_elsewhere: bool = False


@dataclass(frozen=True)
class Imported:
    """The outcome of a file of reports: the rows filed now, and those filed before.

    Rows are numbered from 1, the header not counted.  ``already_filed`` pairs a row
    with the incident filed from it earlier (a file sent again, an export that repeats
    yesterday's rows, a case listed twice); None when another office filed it.
    """

    rows: int
    filed: list[tuple[int, Filed]]
    already_filed: list[tuple[int, int | None]]


def _problem(row: int | None, fld: str, message: str, fix: str) -> Problem:
    return Problem(layer="report", row=row, record_id=None, field=fld, message=message, fix=fix)


def service_area(engine: Engine, settings: Settings) -> ServiceArea:
    """Where reports may lie: the imported boundaries and their margin (else the settings' box)."""
    # the boundaries' box is public by design (the area served), whoever files
    with as_system(), engine.connect() as conn:
        return register_store.service_area(conn, settings)


def check_report(
    rep: Report,
    user: Principal,
    snap: CurrentGrids,
    settings: Settings,
    table: dict[str, Category],
    *,
    row: int | None = None,
    area: ServiceArea | None = None,
) -> tuple[Placed | None, list[Problem]]:
    """Check one report and place it; the problems say what, which field, and the fix.

    ``area`` is where reports may lie (:func:`service_area`); None: the settings' box.
    """
    problems: list[Problem] = []
    if rep.category_code not in table:
        problems.append(
            _problem(
                row,
                "category_code",
                f"unknown category {rep.category_code!r}",
                "use a code of GET /api/categories (e.g. 10101 井盖破损缺失)",
            )
        )
    if not rep.description or not rep.description.strip():
        problems.append(
            _problem(row, "description", "the description is empty", "say what is wrong")
        )
    elif len(rep.description) > MAX_DESCRIPTION:
        problems.append(
            _problem(
                row,
                "description",
                f"the description has {len(rep.description)} characters",
                f"keep it under {MAX_DESCRIPTION}",
            )
        )
    allowed = SOURCES_BY_ROLE[user.role]
    source = _source_of(rep, user)
    if source not in allowed:
        problems.append(
            _problem(
                row,
                "source",
                f"a {user.role} may not file reports from {source!r}",
                f"use one of {', '.join(allowed)}",
            )
        )
    at = rep.reported_at or clock.now()
    if at.tzinfo is None:
        problems.append(
            _problem(
                row,
                "reported_at",
                f"{at.isoformat()} has no time zone",
                "give the offset, e.g. 2026-11-23T09:30:00+08:00",
            )
        )
    elif (
        late := time_problem(at, "reported_at", layer="report", row=row, settings=settings)
    ) is not None:
        problems.append(late)
    area = area if area is not None else ServiceArea(settings.service_area_bounds)
    place = _place(rep, snap, area, row, problems)
    if problems or place is None:
        return None, problems
    lon, lat, pos, cell = place
    edge = snap.edge_distance_m(pos, lon, lat)
    placed = Placed(
        report=rep,
        source=source,
        lon=lon,
        lat=lat,
        grid_pos=pos,
        grid_id=int(snap.ids[pos]),
        h3_cell=cell,
        beidou_cell=stored_beidou(lon, lat, settings.beidou_level),
        near_boundary=edge < settings.near_boundary_m,
        edge_distance_m=edge,
        reported_at=at.astimezone(SHANGHAI),
    )
    return placed, problems


def _source_of(rep: Report, user: Principal) -> str:
    """The source a report is filed under: the one it names, else the user's usual one."""
    return rep.source or DEFAULT_SOURCE.get(user.role, "hotline_12345")


def _place(
    rep: Report, snap: CurrentGrids, area: ServiceArea, row: int | None, problems: list[Problem]
) -> tuple[float, float, int, int] | None:
    """WGS84 lon/lat, grid position and H3 cell of a report, or None with the problem added."""
    if not (math.isfinite(rep.lon) and math.isfinite(rep.lat)):
        problems.append(_problem(row, "lon/lat", "the location is not a number", "send degrees"))
        return None
    if not (-180 <= rep.lon <= 180 and -90 <= rep.lat <= 90):
        swapped = -180 <= rep.lat <= 180 and -90 <= rep.lon <= 90
        problems.append(
            _problem(
                row,
                "lon/lat",
                f"({rep.lon}, {rep.lat}) is outside the longitude/latitude range",
                "longitude and latitude look swapped; send lon first"
                if swapped
                else "send degrees",
            )
        )
        return None
    w, s, e, n = area
    if not (w <= rep.lon <= e and s <= rep.lat <= n):
        # the same words for every such row, so that a file's many are told in one line
        swapped = w <= rep.lat <= e and s <= rep.lon <= n
        problems.append(
            _problem(
                row,
                "lon/lat",
                f"the location lies outside the service area ({area.describe()})",
                "longitude and latitude look swapped; send lon first"
                if swapped
                else "check the location and its coord_type",
            )
        )
        return None
    try:
        lon, lat = to_wgs84(rep.lon, rep.lat, rep.coord_type)
    except ValueError as exc:
        problems.append(_problem(row, "coord_type", str(exc), "use wgs84, gcj02 or bd09"))
        return None
    lon, lat = float(lon), float(lat)
    pos, cell = snap.place(lon, lat)
    if pos == NO_GRID:
        problems.append(
            _problem(
                row,
                "lon/lat",
                f"({lon:.6f}, {lat:.6f}) (WGS84, from {rep.coord_type}) lies in no grid",
                "check the location and its coord_type (AMap/WeChat send gcj02, Baidu bd09); "
                "GET /api/grids/locate tells which grid a point is in",
            )
        )
        return None
    return lon, lat, pos, cell


def _store(
    conn: Connection, placed: Placed, user: Principal, snap: CurrentGrids, settings: Settings
) -> Filed:
    rep = placed.report
    state, step = report(rep.category_code, user.actor, placed.reported_at, "上报")
    token = str(uuid.uuid4())
    rule = incident_filter(user)
    incident_id, dups, dup_count, hidden = incident_store.file_incident(
        conn,
        IncidentRow(
            id=None,
            category_code=rep.category_code,
            source=placed.source,
            description=rep.description.strip(),
            state=state.state,
            reported_at=placed.reported_at,
            lon=placed.lon,
            lat=placed.lat,
            reporter_id=user.user_id or None,  # ANONYMOUS (0) names no account
            grid_id=placed.grid_id,
            h3_cell=placed.h3_cell,
            beidou_cell=placed.beidou_cell,
            near_boundary=placed.near_boundary,
            public_token=token,
            address=rep.address,
            source_ref=rep.source_ref,
            events=(EventRow(step.from_state, step.to_state, step.at, user.username, step.note),),
        ),
        radius_m=settings.duplicate_radius_m,
        window_hours=settings.duplicate_window_hours,
        max_listed=settings.duplicate_max_listed,
        seen_by=incident_store.visibility(
            rule.everything, rule.grid_ids, rule.worker_id, rule.reporter_id
        ),
    )
    incident_store.insert_contact(
        conn, incident_id, name=rep.contact_name, phone=rep.contact_phone, email=rep.contact_email
    )
    pos = placed.grid_pos
    return Filed(
        id=incident_id,
        state=state.state,
        public_token=token,
        grid_id=placed.grid_id,
        grid_code=snap.codes[pos],
        grid_name=snap.names[pos],
        community=snap.communities[pos],
        h3_cell=h3.int_to_str(placed.h3_cell),
        beidou=None if placed.beidou_cell is None else beidou_code(placed.beidou_cell),
        lon=placed.lon,
        lat=placed.lat,
        reported_at=placed.reported_at,
        near_boundary=placed.near_boundary,
        edge_distance_m=round(placed.edge_distance_m, 1),
        duplicate_of=int(dups[0]["id"]) if dups else None,
        duplicate_count=dup_count,
        duplicates=dups,
        similar_elsewhere=hidden > 0,
    )


#: Who files a resident's report sent without an account (报事人未登录): no reporter
#: account is stored (``reporter_id`` NULL); the call-back phone is the report's contact.
ANONYMOUS = Principal(user_id=0, username="匿名居民", display_name="匿名居民", role="resident")


def store_report(
    conn: Connection, placed: Placed, user: Principal, snap: CurrentGrids, settings: Settings
) -> Filed:
    """Store a report :func:`check_report` accepted, in the caller's transaction."""
    return _store(conn, placed, user, snap, settings)


def file_report(
    engine: Engine, snap: CurrentGrids, settings: Settings, user: Principal, rep: Report
) -> Filed:
    """Check, place and store one report.

    Raises
    ------
    ValidationError
        With every problem found (field and fix); nothing is stored.
    """
    area = service_area(engine, settings)
    placed, problems = check_report(rep, user, snap, settings, categories(engine), area=area)
    if placed is None:
        raise ValidationError(problems)
    with engine.begin() as conn:
        return _store(conn, placed, user, snap, settings)


def file_reports(
    engine: Engine,
    snap: CurrentGrids,
    settings: Settings,
    user: Principal,
    reports: Sequence[Report],
) -> Imported:
    """File many reports (a 12345 hotline export) all or nothing, each at most once.

    A report whose ``source_ref`` was filed before from the same source, or that
    repeats an earlier row of the same file, is not filed again: it is answered with
    the incident filed from it.  Every other row is checked first; one bad row refuses
    the whole file with every problem listed by row (1-based, the header not counted)
    and field.  Imports from one source run one at a time, so that two uploads of one
    file at once file its rows once.
    """
    if not reports:
        raise InvalidInput("the file holds no reports")
    table = categories(engine)
    area = service_area(engine, settings)
    keys = [(_source_of(r, user), r.source_ref) if r.source_ref else None for r in reports]
    with engine.begin() as conn:
        known: dict[tuple[str, str], int | None] = {}
        for source in sorted({k[0] for k in keys if k is not None}):
            incident_store.lock_imports(conn, source)
            refs = [k[1] for k in keys if k is not None and k[0] == source]
            found = incident_store.filed_by_source_ref(conn, source, refs)
            known.update(((source, ref), i) for ref, i in found.items())
        first_row: dict[tuple[str, str], int] = {}
        repeats: list[tuple[int, tuple[str, str]]] = []
        placed: list[tuple[int, Placed]] = []
        problems: list[Problem] = []
        for i, (rep, key) in enumerate(zip(reports, keys, strict=True), start=1):
            if key is not None and (key in known or key in first_row):
                repeats.append((i, key))
                continue
            if key is not None:
                first_row[key] = i
            one, found_problems = check_report(rep, user, snap, settings, table, row=i, area=area)
            problems.extend(found_problems)
            if one is not None:
                placed.append((i, one))
        if problems:
            raise ValidationError(problems)
        filed = [(i, _store(conn, p, user, snap, settings)) for i, p in placed]
    by_row = {i: f.id for i, f in filed}
    already = [(i, known[k] if k in known else by_row[first_row[k]]) for i, k in repeats]
    return Imported(rows=len(reports), filed=filed, already_filed=already)


def import_hotline(
    engine: Engine,
    snap: CurrentGrids,
    settings: Settings,
    user: Principal,
    stream: BinaryIO,
) -> Imported:
    """File every call of a 12345 hotline export (:func:`etl.hotline.read_hotline_csv`).

    Staff only; all or nothing, each row at most once (:func:`file_reports`).  The
    stream is read here and left open: the caller closes it.  The calls' months get their
    partition first, so that an export of last year's calls is numbered by month.
    """
    require_staff(user, "import hotline reports")
    rows = read_hotline_csv(stream, settings)
    partition_store.make_case_months(
        engine, [r.reported_at for r in rows if r.reported_at is not None]
    )
    reports = [Report(source="hotline_12345", **asdict(row)) for row in rows]
    return file_reports(engine, snap, settings, user, reports)
