"""The case desk (案件办理) of community and street-office staff: list, filter, open and work cases.

:func:`desk_page` lists the cases of the caller's area (:func:`grids.access.incident_filter`)
a page at a time by keyset (:mod:`gis.store.desk_store`), filtered by state, category,
grid, worker, source, overdue (超期), due today (今日到期), report date and text; the
home page's links (``/desk?overdue=1``, ``?due=today``, ``?state=…``) read the same
filters, so a count and its list agree.  :func:`case_sheet` is one case as the case page
shows it: the case itself (:func:`api.services.casework.read_case`), the history, the
actions the caller may take now in Chinese, the recommended worker with its reasons in
Chinese (:func:`api.services.dispatching.recommendation`) and the workers the caller may
give the case to.  The actions themselves are the existing use cases
(:mod:`api.services.casework`, :mod:`api.services.dispatching`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection, Engine

from analysis.network import RoadNetwork
from api.services import casework, dispatching
from api.services.intake import categories
from gis import clock
from gis.db.models import INCIDENT_SOURCES, INCIDENT_STATES
from gis.errors import InvalidInput, NotFound, Unavailable
from gis.settings import Settings
from gis.store import desk_store, dispatch_store
from grids.access import Principal, incident_filter, require_staff, workers_in_area
from grids.incidents import OPEN_STATES, RULE_BY_ACTION, SHANGHAI, STATE_NAMES_ZH

#: Cases on one page of the desk.
PAGE_SIZE = 50
SOURCE_NAMES_ZH = {
    "patrol": "网格员巡查",
    "resident_app": "居民上报",
    "hotline_12345": "12345热线",
}
#: The actions of the case page, in the order they are offered (staff's, not the worker's).
DESK_ACTIONS = (
    "register",
    "reject",
    "dispatch",
    "reassign",
    "verify",
    "return",
    "close",
    "escalate",
)
HISTORY_NAMES_ZH = {
    "report": "上报",
    "note": "备注",
    **{action: rule.name_zh for action, rule in RULE_BY_ACTION.items()},
}
_RULE_ZH = {
    "primary": "主责网格员",
    "backup": "备用网格员",
    "best": "就近派遣",
    "none": "无可派人员",
}
_RELATION_ZH = {
    "primary": "本网格主责",
    "backup": "本网格备用",
    "community": "同社区",
    "area": "辖区内其他社区",
}
_CURSOR = re.compile(r"^(\d{1,19})-(\d{1,19})$")


def end_of_day(now: datetime) -> datetime:
    """Midnight at the end of ``now``'s day in China time."""
    day = now.astimezone(SHANGHAI).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def cursor_of(reported_at: datetime, incident_id: int) -> str:
    """The ``after`` value that continues a listing after this case (microseconds-id)."""
    micros = (reported_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    return f"{micros}-{incident_id}"


def parse_cursor(value: str) -> tuple[datetime, int]:
    """The ``(reported_at, id)`` of an ``after`` value made by :func:`cursor_of`."""
    found = _CURSOR.match(value)
    if found is None:
        raise InvalidInput(
            f"after={value[:40]!r} is not a position in the list (microseconds-id, as the "
            "'下一页' link gives it); open /desk again to start from the newest case"
        )
    micros, incident_id = int(found[1]), int(found[2])
    if incident_id > 2**63 - 1:
        raise InvalidInput(f"after={value[:40]!r} names no case; open /desk again")
    try:
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    except OverflowError:
        raise InvalidInput(f"after={value[:40]!r} lies outside any time a case has") from None
    return at, incident_id


@dataclass(frozen=True)
class DeskFilter:
    """What the desk is asked to list (every field optional).

    ``overdue``: open cases past their deadline; ``due_today``: open cases due before
    midnight (China time); ``date_from``/``date_to``: report days, both included;
    ``q``: words of the description; ``after``: continue after this position.
    """

    states: tuple[str, ...] = ()
    category_code: str | None = None
    grid_code: str | None = None
    worker_id: int | None = None
    source: str | None = None
    overdue: bool = False
    due_today: bool = False
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None
    after: str | None = None

    def check(self) -> None:
        """Refuse a filter no case can meet, naming the field and what it may be."""
        bad = [s for s in self.states if s not in INCIDENT_STATES]
        if bad:
            raise InvalidInput(
                f"state={bad[0]!r} is not a state of a case; states are "
                + ", ".join(INCIDENT_STATES)
            )
        if self.source is not None and self.source not in INCIDENT_SOURCES:
            raise InvalidInput(
                f"source={self.source!r} is not a source; sources are "
                + ", ".join(INCIDENT_SOURCES)
            )
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidInput(
                f"from={self.date_from} is after to={self.date_to}: give the earlier day first"
            )
        if self.overdue and self.due_today:
            raise InvalidInput("overdue=1 and due=today exclude each other: ask for one of them")


@dataclass(frozen=True)
class DeskRow:
    """One case of the list, as shown (times in China time, names in Chinese)."""

    id: int
    category_code: str
    category_name: str
    priority: int
    source_name: str
    description: str
    state: str
    state_name: str
    reported_at: datetime
    deadline: datetime | None
    overdue: bool
    assignee_id: int | None
    assignee_name: str | None
    grid_code: str | None
    near_boundary: bool
    address: str | None
    lon: float
    lat: float


@dataclass(frozen=True)
class DeskPage:
    """A page of the desk: its cases, where the next page starts (None: none), as of when."""

    rows: list[DeskRow]
    next_after: str | None
    as_of: datetime
    first: bool


def _local_day(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def _scope(user: Principal, grid_code: str | None, conn: Connection) -> tuple[int, ...] | None:
    """The grids to list: the caller's area, or one grid of it (all its versions)."""
    area = incident_filter(user)
    mine = None if area.everything else tuple(area.grid_ids)
    if grid_code is None:
        return mine
    versions = desk_store.grid_ids_by_code(conn, grid_code)
    chosen = tuple(g for g in versions if mine is None or g in set(mine))
    if not chosen:
        raise NotFound(
            f"no grid {grid_code} in your area; pick one of the grids the desk's grid list offers"
        )
    return chosen


def desk_page(engine: Engine, user: Principal, f: DeskFilter) -> DeskPage:
    """One page of the cases of the caller's area that meet ``f``, newest first (staff only)."""
    require_staff(user, "open the case desk")
    f.check()
    now = clock.now()
    states = f.states
    deadline_from = deadline_before = None
    if f.overdue or f.due_today:
        states = tuple(s for s in (states or sorted(OPEN_STATES)) if s in OPEN_STATES)
        if not states:
            return DeskPage([], None, now, f.after is None)
        if f.overdue:
            deadline_before = now
        else:
            deadline_from, deadline_before = now, end_of_day(now)
    with engine.connect() as conn:
        query = desk_store.PageQuery(
            grid_ids=_scope(user, f.grid_code, conn),
            states=tuple(sorted(set(states))),
            category_codes=() if f.category_code is None else (f.category_code,),
            assignee_id=f.worker_id,
            sources=() if f.source is None else (f.source,),
            since=None if f.date_from is None else _local_day(f.date_from),
            until=None if f.date_to is None else _local_day(f.date_to + timedelta(days=1)),
            deadline_from=deadline_from,
            deadline_before=deadline_before,
            text=(f.q or "").strip() or None,
            after=None if f.after is None else parse_cursor(f.after),
            limit=PAGE_SIZE + 1,
        )
        found = desk_store.page(conn, query)
    more = len(found) > PAGE_SIZE
    rows = [_row(r, now) for r in found[:PAGE_SIZE]]
    last = found[PAGE_SIZE - 1] if more else None
    after = None if last is None else cursor_of(last["reported_at"], int(last["id"]))
    return DeskPage(rows, after, now, f.after is None)


def _row(r: dict, now: datetime) -> DeskRow:
    deadline = r["deadline"]
    return DeskRow(
        id=int(r["id"]),
        category_code=r["category_code"],
        category_name=r["category_name"],
        priority=int(r["priority"]),
        source_name=SOURCE_NAMES_ZH.get(r["source"], r["source"]),
        description=r["description"],
        state=r["state"],
        state_name=STATE_NAMES_ZH.get(r["state"], r["state"]),
        reported_at=r["reported_at"].astimezone(SHANGHAI),
        deadline=None if deadline is None else deadline.astimezone(SHANGHAI),
        overdue=bool(deadline is not None and r["state"] in OPEN_STATES and deadline < now),
        assignee_id=r["assignee_id"],
        assignee_name=r["assignee_name"],
        grid_code=r["grid_code"],
        near_boundary=bool(r["near_boundary"]),
        address=r["address"],
        lon=float(r["lon"]),
        lat=float(r["lat"]),
    )


@dataclass(frozen=True)
class Choice:
    """An option of a filter or a form: its value and Chinese label."""

    value: str
    label: str


@dataclass(frozen=True)
class DeskChoices:
    """The options of the desk's filters for this caller."""

    states: list[Choice]
    categories: list[Choice]
    grids: list[Choice]
    workers: list[Choice]
    sources: list[Choice]


def _area_workers(conn: Connection, user: Principal) -> list[Choice]:
    """The workers the caller may give cases to (or filter by), by name."""
    assignments = dispatch_store.assignments(conn)
    ids = tuple(sorted(workers_in_area(user, assignments)))
    names = desk_store.worker_names(conn, ids)
    return sorted((Choice(str(w), n) for w, n in names.items()), key=lambda c: (c.label, c.value))


def desk_choices(engine: Engine, user: Principal) -> DeskChoices:
    """The states, categories, grids, workers and sources the caller may filter by."""
    require_staff(user, "open the case desk")
    area = incident_filter(user)
    with engine.connect() as conn:
        grids = desk_store.current_grids(conn, None if area.everything else area.grid_ids)
        workers = _area_workers(conn, user)
    table = categories(engine)
    return DeskChoices(
        states=[Choice(s, STATE_NAMES_ZH[s]) for s in INCIDENT_STATES],
        categories=[Choice(c.code, f"{c.name}（{c.group_name}）") for c in table.values()],
        grids=[Choice(g["code"], f"{g['code']} {g['name'] or ''}".strip()) for g in grids],
        workers=workers,
        sources=[Choice(s, SOURCE_NAMES_ZH[s]) for s in INCIDENT_SOURCES],
    )


# ------------------------------------------------------------------ one case


@dataclass(frozen=True)
class Advice:
    """The recommended worker for a dispatch, explained in Chinese."""

    worker_id: int | None
    worker_name: str | None
    summary: str
    reasons: list[str]
    alternatives: list[str]
    detail: str


@dataclass(frozen=True)
class CaseSheet:
    """One case as the case page shows it.

    ``actions``: (action, Chinese name) the caller may take now, among :data:`DESK_ACTIONS`;
    ``advice``: the recommendation when ``dispatch`` is among them (None otherwise);
    ``advice_unavailable``: why there is none (no road network loaded);
    ``workers``: whom the caller may dispatch or reassign to.
    """

    case: casework.Case
    source_name: str
    history: list[tuple[casework.HistoryEntry, str, str | None, str]]
    actions: list[Choice]
    note_required: frozenset[str]
    advice: Advice | None
    advice_unavailable: str | None
    workers: list[Choice]
    assignee_name: str | None
    merge_into: int | None
    as_of: datetime = field(default_factory=clock.now)


def _minutes(seconds: float | None) -> str:
    return "无法经道路到达" if seconds is None else f"步行约 {seconds / 60:.0f} 分钟"


def explain(rec: dispatching.Recommendation, max_open: dict[int, int]) -> Advice:
    """The recommendation in Chinese: who, by which rule, how far, how loaded, the others."""
    if rec.worker_id is None:
        return Advice(
            None,
            None,
            "当前没有可派遣的网格员",
            ["区域内网格员均不在岗、已满负荷或无法到达"],
            [],
            rec.reason,
        )
    name = rec.worker_name or f"网格员 {rec.worker_id}"
    limit = max_open.get(rec.worker_id)
    load = f"在办 {rec.open_tasks} 件" + ("" if limit is None else f"（上限 {limit} 件）")
    reasons = [
        f"派遣规则：{_RULE_ZH.get(rec.rule, rec.rule)}"
        + ("" if rec.relation is None else f"（{_RELATION_ZH.get(rec.relation, rec.relation)}）"),
        f"距离：{_minutes(rec.travel_s)}（按道路网计算）",
        f"工作量：{load}",
    ]
    if rec.rule == "backup":
        reasons.append("本网格主责网格员当前不在岗、已满负荷或未设置，故由备用网格员承接")
    elif rec.rule == "best":
        reasons.append("本网格主责与备用网格员均不可派，按步行时间加工作量综合最优选派")
    others = [
        f"{a.worker_name or a.worker_id}：{_RELATION_ZH.get(a.relation or '', '')}"
        f"{_RULE_ZH.get(a.rule, a.rule)}，{_minutes(a.travel_s)}，在办 {a.open_tasks} 件"
        for a in rec.alternatives
    ]
    summary = f"推荐派遣给 {name}"
    return Advice(rec.worker_id, name, summary, reasons, others, rec.reason)


def case_sheet(
    engine: Engine,
    settings: Settings,
    user: Principal,
    incident_id: int,
    network: RoadNetwork | None,
) -> CaseSheet:
    """One case of the caller's area with what the caller may do to it now (staff only)."""
    require_staff(user, "open a case on the desk")
    case = casework.read_case(engine, user, incident_id)
    allowed = set(case.allowed_actions)
    actions = [Choice(a, RULE_BY_ACTION[a].name_zh) for a in DESK_ACTIONS if a in allowed]
    with engine.connect() as conn:
        workers = _area_workers(conn, user) if allowed & {"dispatch", "reassign"} else []
        assignee = (
            None
            if case.assignee_id is None
            else desk_store.worker_names(conn, (case.assignee_id,)).get(case.assignee_id)
        )
        statuses = dispatch_store.worker_statuses(
            conn, worker_ids=tuple(int(w.value) for w in workers)
        )
    max_open = dict(
        zip(statuses["worker_id"].astype(int), statuses["max_open_tasks"].astype(int), strict=True)
    )
    load = {
        int(r.worker_id): f"在办 {int(r.open_tasks)}/{int(r.max_open_tasks)}"
        + ("" if bool(r.on_duty) else "，不在岗")
        for r in statuses.itertuples(index=False)
    }
    workers = [
        Choice(w.value, f"{w.label}（{load[int(w.value)]}）") if int(w.value) in load else w
        for w in workers
    ]
    advice = unavailable = None
    if allowed & {"dispatch", "reassign"}:
        try:
            rec = dispatching.recommendation(engine, settings, user, incident_id, network)
            advice = explain(rec, max_open)
        except Unavailable as exc:  # no road network loaded: dispatch by hand still works
            unavailable = f"暂无法推荐网格员（未加载道路网）：{exc}"
    history = [
        (
            h,
            HISTORY_NAMES_ZH.get(h.action, h.action),
            None if h.from_state is None else STATE_NAMES_ZH.get(h.from_state, h.from_state),
            STATE_NAMES_ZH.get(h.to_state, h.to_state),
        )
        for h in case.history
    ]
    merge_into = (
        case.duplicate_of
        if case.duplicate_of is not None and case.state == "reported" and case.merged_into is None
        else None
    )
    return CaseSheet(
        case=case,
        source_name=SOURCE_NAMES_ZH.get(case.source, case.source),
        history=history,
        actions=actions,
        note_required=frozenset(a for a in allowed if RULE_BY_ACTION[a].note_required),
        advice=advice,
        advice_unavailable=unavailable,
        workers=workers,
        assignee_name=assignee,
        merge_into=merge_into,
    )


def reassign_recommended(
    engine: Engine,
    settings: Settings,
    user: Principal,
    incident_id: int,
    note: str | None,
    network: RoadNetwork | None,
) -> casework.Case:
    """Reassign (改派) a case to the recommended worker, the reason in the note.

    The recommendation is that of a dispatch (:func:`api.services.dispatching.recommendation`);
    a case already with the recommended worker is not moved (the answer says whom to pick).
    """
    rec = dispatching.recommendation(engine, settings, user, incident_id, network)
    if rec.worker_id is None:
        raise InvalidInput(f"no worker can take incident {incident_id}: {rec.reason}")
    case = casework.read_case(engine, user, incident_id)
    if case.assignee_id == rec.worker_id:
        raise InvalidInput(
            f"incident {incident_id} is already with the recommended worker "
            f"{rec.worker_name or rec.worker_id} (推荐人选即现承办人); "
            "pick another worker to reassign to"
        )
    advice = explain(rec, {})
    text = f"推荐改派：{advice.worker_name}；{'；'.join(advice.reasons)}" + (
        f"；{note}" if note else ""
    )
    return casework.act(engine, user, incident_id, casework.Step("reassign", text, rec.worker_id))
