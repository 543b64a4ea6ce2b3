"""The grid worker's field app (网格员外勤): visits, proof rules, check-on, notices, coverage.

Use cases of the installable, offline-first worker app, beside the tablet's
(:mod:`api.services.worker`), every one for a grid worker of their own current grids
(another grid: not found, nothing told):

* visits (走访) to a household of their grids, with a note and when (a time the phone
  recorded offline is checked like every client time, :mod:`gis.times`);
* the proof each category asks for at 反馈 (note always; photo, check-in per category —
  enforced by :func:`api.services.casework.require_proof`);
* during a hazard, the check-on list (走访名单) of their grid with names and phones (the
  worker of the grid only; each read audited), the safe shelter and route, and their
  marks (reached, not at home, needs help) that the command centre follows live;
* notices: deadlines near or past, 督办 on their cases, cases taken from them, hazards
  over their grids;
* patrol coverage (巡查覆盖) per grid over N days, for them and for the staff's desk;
* the offline bundle: everything above the app caches, households always masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine

import shapely

from analysis.walking import Walking
from api.services import live, worker
from api.services.impact import ImpactOf
from gis import clock
from gis.coords import to_wgs84
from gis.db.worker_models import CHECKON_MARKS, FIELD_NOTE_MAX
from gis.errors import InvalidInput, NotFound, ServiceError
from gis.settings import Settings
from gis.store import worker_field_store as store
from gis.store import worker_store
from gis.store.access_store import audit
from gis.store.awareness_store import INCIDENT_CHANNEL
from gis.times import check_time
from grids.access import (
    Principal,
    mask_id_number,
    mask_name,
    mask_phone,
    require_grid_desk,
    require_grid_worker,
)
from grids.incidents import OPEN_STATES, SHANGHAI

#: Notices look back this far (督办 steps, cases taken away).
NOTICE_DAYS = 7
#: A deadline this close (or past) is a notice.
DEADLINE_NOTICE = timedelta(hours=2)
#: At most this many notices, newest first.
NOTICES_MAX = 100
HAZARD_NAMES_ZH = {"typhoon": "台风", "flood": "洪涝", "fire": "火灾", "gas_leak": "燃气泄漏"}
MARK_NAMES_ZH = {"reached": "已联系到", "not_home": "不在家", "needs_help": "需要帮助"}


class FieldInputError(ServiceError, InvalidInput):
    """A visit or mark the app sent that cannot be stored as it is; the message says why."""


def _local(at: Any) -> datetime | None:
    if at is None or (not isinstance(at, datetime) and pd.isna(at)):
        return None
    return pd.Timestamp(at).tz_convert(SHANGHAI).to_pydatetime()


def _my_current_grids(engine: Engine, user: Principal) -> dict[int, str]:
    """The worker's current grids: code by id (primary first)."""
    grids = worker.my_grids(engine, user)
    return dict(zip(grids["id"].astype(int).tolist(), grids["code"].tolist(), strict=True))


def _my_grid(engine: Engine, user: Principal, code: str) -> int:
    """The id of one of the worker's current grids, by code; not found for any other."""
    for grid_id, known in _my_current_grids(engine, user).items():
        if known == code:
            return grid_id
    raise NotFound(f"no current grid {code} of yours; GET /api/worker/grids lists them")


def _client_time(at: datetime | None, name: str) -> datetime:
    """A time the app recorded (offline, perhaps), checked as every client time; else now."""
    return clock.now() if at is None else check_time(at, name, planned=False)


def _note(note: str | None, *, required: bool) -> str | None:
    text = (note or "").strip()
    if not text:
        if required:
            raise FieldInputError("note is empty: say what the visit found (走访情况)")
        return None
    if len(text) > FIELD_NOTE_MAX:
        raise FieldInputError(f"note has {len(text)} characters; at most {FIELD_NOTE_MAX}")
    return text


# ------------------------------------------------------------------ visits


@dataclass(frozen=True)
class Visit:
    """A visit (走访) as stored."""

    id: int
    household_id: int
    visited_at: datetime
    grid: str | None


def record_visit(
    engine: Engine,
    settings: Settings,
    user: Principal,
    household_id: int,
    note: str,
    visited_at: datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    coord_type: str = "wgs84",
) -> Visit:
    """Record a visit to a household of one of the worker's current grids.

    Where the worker stood is kept ``visit_position_retention_days``: older positions of
    the grid's visits are erased as each new visit is stored (the visits stay).

    Raises
    ------
    NotFound
        For a household outside the worker's grids (or none with that id).
    InvalidInput
        For an empty or too long note, half a position, a bad coord_type or a time out
        of the accepted range.
    """
    worker_id = require_grid_worker(user)
    text = _note(note, required=True)
    assert text is not None
    at = _client_time(visited_at, "visited_at")
    if (lon is None) != (lat is None):
        raise FieldInputError("give both lon and lat (where you stood), or neither")
    x = y = None
    if lon is not None and lat is not None:
        wx, wy = to_wgs84(lon, lat, coord_type)
        x, y = float(wx), float(wy)
    mine = _my_current_grids(engine, user)
    with engine.begin() as conn:
        place = store.household_place(conn, household_id)
        if place is None or place["grid_id"] not in mine:
            raise NotFound(
                f"no household {household_id} in your grids; GET /api/worker/households lists them"
            )
        visit_id = store.insert_visit(
            conn,
            worker_id=worker_id,
            household_id=household_id,
            grid_id=int(place["grid_id"]),
            visited_at=at,
            note=text,
            lon=x,
            lat=y,
        )
        # no position track kept beyond the retention: the visit stays, where they stood goes
        keep = timedelta(days=settings.visit_position_retention_days)
        store.forget_positions(conn, int(place["grid_id"]), clock.now() - keep)
    return Visit(visit_id, household_id, at.astimezone(SHANGHAI), place["grid_code"])


# ------------------------------------------------------------------ proof of 反馈


@dataclass(frozen=True)
class ProofRule:
    """What a category's 反馈 needs besides the note: a photo, a check-in on site."""

    code: str
    name: str
    photo: bool
    checkin: bool


def _rules(rows: list[dict[str, Any]]) -> list[ProofRule]:
    return [
        ProofRule(r["code"], r["name"], bool(r["proof_photo"]), bool(r["proof_checkin"]))
        for r in rows
    ]


def proof_rules(engine: Engine, user: Principal) -> list[ProofRule]:
    """Every category's proof rule, by code (the app checks before it queues a 反馈)."""
    require_grid_worker(user)
    return _rules(store.proof_rules(engine))


def set_proof_rule(
    engine: Engine, code: str, *, photo: bool | None, checkin: bool | None
) -> ProofRule:
    """Change what a category's 反馈 needs (the operator's command line); None: unchanged."""
    with engine.begin() as conn:
        row = store.set_proof(conn, code, photo=photo, checkin=checkin)
    if row is None:
        codes = ", ".join(r.code for r in _rules(store.proof_rules(engine)))
        raise NotFound(f"no incident category {code!r}; the categories are {codes}")
    return _rules([row])[0]


# ------------------------------------------------------------------ check-on during a hazard


@dataclass(frozen=True)
class CheckOnPerson:
    """A person of my grid to check on, named (the worker of the grid), with the way out."""

    resident_id: int
    name: str | None
    phone: str | None
    age_group: str | None
    needs: list[str]
    building: str | None
    household_id: int
    shelter: dict[str, Any] | None
    route: dict[str, Any] | None
    walk_min: float | None
    mark: str | None
    marked_at: datetime | None


@dataclass(frozen=True)
class CheckOn:
    """The check-on list of one grid in the newest hazard in force over it (None: none)."""

    grid: str
    hazard: dict[str, Any] | None
    people: list[CheckOnPerson]


def _line(geom: Any) -> dict[str, Any] | None:
    if geom is None or (not isinstance(geom, shapely.Geometry) and pd.isna(geom)):
        return None
    rounded = shapely.set_precision(geom, 1e-6)
    return {"type": "LineString", "coordinates": [list(c) for c in rounded.coords]}


def _age_group(birth_year: Any) -> str | None:
    if birth_year is None or pd.isna(birth_year):
        return None
    age = clock.now().year - int(birth_year)
    if age < 15:
        return "child"
    if age < 60:
        return "adult"
    return "elderly" if age < 80 else "very_elderly"


def check_on(engine: Engine, user: Principal, code: str, impact_of: ImpactOf) -> CheckOn:
    """Whom to check on in one of the worker's grids during the newest hazard over it.

    Names and phones in full: the worker assigned to the grid (primary or backup) is the
    one who must reach them; the read is written to the audit log (one row per read,
    naming the grid, the hazard and the residents).  Shelter, route and walking time
    come from the hazard's impact (:func:`api.services.live.check_on_by_hazard`, the
    same computation as the command centre's lists).
    """
    grid_id = _my_grid(engine, user, code)
    for hazard, grids, rows in live.check_on_by_hazard(engine, user, impact_of):
        if grid_id not in set(grids["grid_id"].astype(int)):
            continue
        mine = rows[rows["grid_id"].astype(int) == grid_id]
        return CheckOn(code, _hazard_ref(hazard), _people(engine, user, hazard, grid_id, mine))
    return CheckOn(code, None, [])


def _hazard_ref(hazard: pd.Series) -> dict[str, Any]:
    return {
        "id": int(hazard["id"]),
        "name": str(hazard["name"]),
        "kind": str(hazard["kind"]),
        "kind_name": HAZARD_NAMES_ZH.get(str(hazard["kind"]), str(hazard["kind"])),
        "severity": int(hazard["severity"]),
    }


def _people(
    engine: Engine, user: Principal, hazard: pd.Series, grid_id: int, rows: pd.DataFrame
) -> list[CheckOnPerson]:
    hazard_id = int(hazard["id"])
    ids = [int(r) for r in rows["resident_id"]]
    marks = store.latest_marks(engine, [hazard_id])
    marked = {int(m["resident_id"]): m for m in marks.to_dict("records")}
    shelters = store.shelter_points(engine, [int(s) for s in rows["shelter_id"].dropna()])
    names = store.building_names(engine, [int(b) for b in rows["building_id"]])
    with engine.begin() as conn:
        who = store.people(conn, ids)
        if ids:
            detail = {"hazard_id": hazard_id, "reason": "check-on list during a hazard"}
            detail["resident_ids"] = ids
            audit(conn, user.username, "read_identity", "grid", grid_id, detail)
    out = []
    for r in rows.to_dict("records"):
        rid = int(r["resident_id"])
        person = who.get(rid, {})
        shelter_id = r["shelter_id"]
        shelter = None
        if shelter_id is not None and not pd.isna(shelter_id) and int(shelter_id) in shelters:
            s = shelters[int(shelter_id)]
            shelter = {"id": int(shelter_id), "name": s["name"], "lon": s["lon"], "lat": s["lat"]}
        mark = marked.get(rid)
        walk = r["walk_s"]
        out.append(
            CheckOnPerson(
                resident_id=rid,
                name=person.get("name"),
                phone=person.get("phone"),
                age_group=_age_group(person.get("birth_year")),
                needs=[g for g in str(r["groups"] or "").split(",") if g],
                building=names.get(int(r["building_id"])),
                household_id=int(r["household_id"]),
                shelter=shelter,
                route=_line(r["route"]),
                walk_min=None if walk is None or pd.isna(walk) else round(float(walk) / 60, 1),
                mark=None if mark is None else str(mark["mark"]),
                marked_at=None if mark is None else _local(mark["marked_at"]),
            )
        )
    return out


@dataclass(frozen=True)
class Mark:
    """A mark on a person of a check-on list, as stored."""

    id: int
    hazard_id: int
    resident_id: int
    grid: str | None
    mark: str
    marked_at: datetime


def record_mark(
    engine: Engine,
    user: Principal,
    impact_of: ImpactOf,
    hazard_id: int,
    resident_id: int,
    mark: str,
    note: str | None = None,
    marked_at: datetime | None = None,
) -> Mark:
    """Mark a person of a check-on list of the worker's grids (the latest mark counts).

    The command centre sees it at once (an event on the live stream, the progress on
    ``/api/live``).

    Raises
    ------
    NotFound
        For a hazard not in force, or a person not on its list in the worker's grids.
    """
    worker_id = require_grid_worker(user)
    if mark not in CHECKON_MARKS:
        raise FieldInputError(f"mark {mark!r} is not one of {', '.join(CHECKON_MARKS)}")
    text = _note(note, required=False)
    at = _client_time(marked_at, "marked_at")
    mine = _my_current_grids(engine, user)
    row = None
    for hazard, _, rows in live.check_on_by_hazard(engine, user, impact_of):
        if int(hazard["id"]) != hazard_id:
            continue
        found = rows[(rows["resident_id"].astype(int) == resident_id)]
        found = found[found["grid_id"].astype(int).isin(list(mine))]
        if len(found):
            row = found.iloc[0]
    if row is None:
        raise NotFound(
            f"resident {resident_id} is on no check-on list of yours for hazard {hazard_id} "
            "(in force now); GET /api/worker/checkon lists them"
        )
    grid_id = int(row["grid_id"])
    with engine.begin() as conn:
        mark_id = store.insert_mark(
            conn,
            hazard_id=hazard_id,
            resident_id=resident_id,
            grid_id=grid_id,
            grid_code=mine.get(grid_id),
            worker_id=worker_id,
            marked_by=user.username,
            mark=mark,
            note=text,
            marked_at=at,
            channel=INCIDENT_CHANNEL,
        )
    return Mark(mark_id, hazard_id, resident_id, mine.get(grid_id), mark, at.astimezone(SHANGHAI))


# ------------------------------------------------------------------ notices


@dataclass(frozen=True)
class Notice:
    """Something the worker should know now, in Chinese."""

    kind: str
    incident_id: int | None
    text: str
    at: datetime


def notices(engine: Engine, user: Principal) -> list[Notice]:
    """Deadlines near or past, 督办 on my cases, cases taken from me, hazards over my grids.

    Newest first, at most :data:`NOTICES_MAX`.
    """
    worker_id = require_grid_worker(user)
    now = clock.now()
    since = now - timedelta(days=NOTICE_DAYS)
    out: list[Notice] = []
    for t in worker_store.as_records(worker_store.open_tasks(engine, worker_id, OPEN_STATES)):
        deadline = _local(t["deadline"])
        if deadline is None or deadline > now + DEADLINE_NOTICE:
            continue
        what = f"工单 {t['id']}「{t['category_name']}」"
        if deadline < now:
            text = f"{what}已超期（期限 {deadline:%m-%d %H:%M}），请尽快处置"
        else:
            text = f"{what}将于 {deadline:%H:%M} 到期，请尽快处置"
        out.append(Notice("deadline", int(t["id"]), text, deadline))
    for e in store.escalations_of(engine, worker_id, OPEN_STATES, since):
        note = f"：{e['note']}" if e["note"] else ""
        text = f"工单 {e['incident_id']}「{e['category_name']}」被督办{note}"
        out.append(Notice("urged", int(e["incident_id"]), text, _local(e["at"]) or now))
    for h in store.handovers_from(engine, worker_id, since):
        to = h["to_name"] or "其他网格员"
        text = f"工单 {h['incident_id']} 已改派给 {to}，不再由您处理"
        out.append(Notice("reassigned", int(h["incident_id"]), text, _local(h["at"]) or now))
    hazards: dict[int, dict[str, Any]] = {}
    for z in store.hazards_over(engine, list(_my_current_grids(engine, user)), now):
        hazards.setdefault(int(z["id"]), {**z, "codes": []})["codes"].append(z["grid_code"])
    for z in hazards.values():
        kind = HAZARD_NAMES_ZH.get(z["kind"], z["kind"])
        text = (
            f"预警：{z['name']}（{kind}，{z['severity']} 级）影响您的网格 "
            f"{'、'.join(z['codes'])}，请查看走访名单"
        )
        out.append(Notice("alert", None, text, _local(z["valid_from"]) or now))
    out.sort(key=lambda n: n.at, reverse=True)
    return out[:NOTICES_MAX]


# ------------------------------------------------------------------ coverage


@dataclass(frozen=True)
class GridCoverage:
    """Patrol coverage (巡查覆盖) of one grid over the period."""

    grid: str
    households: int
    households_visited: int
    buildings: int
    buildings_visited: int
    checkins: int


def _coverage(engine: Engine, grid_ids: list[int], days: int) -> list[GridCoverage]:
    if not 1 <= days <= 365:
        raise FieldInputError(f"days {days} is out of range: give 1 to 365")
    since = clock.now() - timedelta(days=days)
    rows = store.coverage(engine, grid_ids, since) if grid_ids else []
    keys = ("grid", "households", "households_visited", "buildings", "buildings_visited")
    return [GridCoverage(**{k: r[k] for k in keys}, checkins=r["checkins"]) for r in rows]


def my_coverage(engine: Engine, user: Principal, days: int = 30) -> list[GridCoverage]:
    """Coverage of the worker's current grids over the last ``days`` days.

    Any worker's visits and accepted check-ins in the grid count.
    """
    require_grid_worker(user)
    return _coverage(engine, list(_my_current_grids(engine, user)), days)


def desk_coverage(engine: Engine, user: Principal, days: int = 30) -> list[GridCoverage]:
    """Coverage of every current grid of the staff's area (admin: all), by grid code."""
    require_grid_desk(user, "review patrol coverage (巡查覆盖)")
    area = None if user.sees_everything else sorted(user.grid_ids or ())
    return _coverage(engine, store.current_grids_of_area(engine, area), days)


# ------------------------------------------------------------------ the offline bundle


@dataclass(frozen=True)
class Bundle:
    """The offline package of the worker app, JSON-ready apart from the dataclasses."""

    generated_at: datetime
    expires_at: datetime
    worker: dict[str, Any]
    grids: dict[str, Any]
    buildings: dict[str, Any]
    households: list[worker.Household]
    tasks: list[worker.Task]
    roads: dict[str, Any]
    shelters: dict[str, Any]
    proof_rules: list[ProofRule]


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _frame_features(frame: Any, drop: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """GeoJSON Features of a GeoDataFrame, coordinates rounded to 6 decimals."""
    if frame.empty:
        return []
    frame = frame.drop(columns=[c for c in drop if c in frame.columns])
    frame = frame.set_geometry(shapely.set_precision(frame.geometry.array, 1e-6))
    return list(frame.to_geo_dict(drop_id=True)["features"])


def bundle(engine: Engine, settings: Settings, walking: Walking, user: Principal) -> Bundle:
    """The worker's offline package, expiring after ``offline_ttl_hours``.

    Grids, buildings, households (always masked), tasks, roads (simplified, 6
    decimals), shelters and proof rules.
    """
    worker_id = require_grid_worker(user)
    now = clock.now()
    grids = worker.my_grids(engine, user)
    if grids.empty:
        raise NotFound(worker.NO_GRID)
    grid_ids = [int(g) for g in grids["id"]]
    with engine.begin() as conn:
        residents = worker_store.grid_residents(
            conn,
            grid_ids,
            identity_buildings=(),  # offline copies are always masked (a phone can be lost)
            username=user.username,
            mask_name=mask_name,
            mask_phone=mask_phone,
            mask_id_number=mask_id_number,
        )
    homes = worker.group_households(residents, only_vulnerable=False)
    homes = worker.with_visits(engine, settings, grid_ids, homes)
    tasks = worker.tasks(engine, settings, walking, user).tasks
    west, south, east, north = (float(v) for v in grids.total_bounds)
    return Bundle(
        generated_at=now,
        expires_at=now + timedelta(hours=settings.offline_ttl_hours),
        worker={"id": worker_id, "name": user.display_name, "username": user.username},
        grids=_collection(_frame_features(grids, drop=("id",))),
        buildings=_collection(store.bundle_buildings(engine, grid_ids)),
        households=homes,
        tasks=tasks,
        roads=_collection(store.bundle_roads(engine, (west, south, east, north))),
        shelters=_collection(_frame_features(worker_store.shelters_near(engine, grid_ids, 2000.0))),
        proof_rules=_rules(store.proof_rules(engine)),
    )
