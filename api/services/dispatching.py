"""Choosing the worker (派遣): one case by the grid's rules, or a whole backlog at once.

The rules and the optimisation are :mod:`analysis.dispatch`; this module gathers what
they need (assignments, load, positions from :mod:`gis.store.dispatch_store`, walking times on
the network the door hands in) and records the outcome through
:mod:`api.services.casework`, so a
recommended dispatch is guarded and stored like any other step, its reason in the note.
A backlog is first previewed (:func:`redispatch_preview`, nothing changes), then the
preview is confirmed (:func:`redispatch_confirm`), each move checked again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, astuple, dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine

from analysis import dispatch
from analysis.network import RoadNetwork
from analysis.walking import require_network
from api.services import casework
from gis import clock
from gis.errors import InvalidInput, NotFound
from gis.settings import Settings
from gis.store import dispatch_store, incident_store
from grids import incidents as lifecycle
from grids.access import Forbidden, Principal, require_staff, workers_in_area


def _scope(user: Principal) -> tuple[int, ...] | None:
    return None if user.grid_ids is None else tuple(sorted(user.grid_ids))


@dataclass(frozen=True)
class Candidate:
    """A worker who could take a case: by which rule, how related to its grid, and why."""

    worker_id: int
    worker_name: str | None
    rule: str
    relation: str | None
    travel_s: float | None
    open_tasks: int
    reason: str


@dataclass(frozen=True)
class NotChosen:
    """A worker ruled out (off duty, at their limit, unreachable) and why."""

    worker_id: int
    why: str


@dataclass(frozen=True)
class Recommendation:
    """Who should take a case (``worker_id`` None: nobody can), the alternatives, and why."""

    incident_id: int
    worker_id: int | None
    worker_name: str | None
    rule: str
    relation: str | None
    travel_s: float | None
    open_tasks: int
    reason: str
    alternatives: list[Candidate]
    not_chosen: list[NotChosen]


def recommendation(
    engine: Engine,
    settings: Settings,
    user: Principal,
    incident_id: int,
    network: RoadNetwork | None,
) -> Recommendation:
    """Who should take a case, and why, among the workers the user may give it to.

    The same rule as the batch re-dispatch (:func:`redispatch_preview`): only workers of
    the user's area (:func:`grids.access.workers_in_area`) are considered, so a backup
    of the grid borrowed from another community is named only to those whose area holds
    it.  Of them: the grid's primary, else its least-loaded available backup, else the
    best by walking time and load among the workers of the case's community, and only
    when none of them is available, among the rest of the area
    (:func:`analysis.dispatch.relations`).  Community staff's area is their community,
    so they are never offered a worker of another one; street staff and admins, who
    coordinate between communities, are offered a worker of a neighbouring community of
    their area as the last resort, marked ``relation: "area"`` with the reason.

    ``network`` is the walking network loaded now (None: none is, and the answer is
    :class:`analysis.walking.NoRoadNetwork`).
    """
    require_staff(user, "ask for a dispatch recommendation")
    with engine.connect() as conn:
        row = casework.visible_incident(conn, user, incident_id)
        community = dispatch_store.community_of(conn, row.grid_id)
        assignments = dispatch_store.assignments(conn)
        area = workers_in_area(user, assignments)
        workers = dispatch_store.worker_statuses(conn, worker_ids=tuple(sorted(area)))
    relation = dispatch.relations([row.grid_id], [community], workers["worker_id"], assignments)[0]
    rec = dispatch.recommend(
        row.grid_id,
        row.lon,
        row.lat,
        assignments=assignments,
        workers=workers,
        travel_s=dispatch.network_travel(require_network(network)),
        load_penalty_s=settings.dispatch_load_penalty_s,
        relation=relation,
    )
    ids = workers["worker_id"].astype(int)
    names = dict(zip(ids, workers["name"], strict=True))
    related = {w: dispatch.RELATIONS[int(r)] for w, r in zip(ids, relation, strict=True)}
    return Recommendation(
        incident_id=incident_id,
        worker_id=rec.worker_id,
        worker_name=names.get(rec.worker_id) if rec.worker_id is not None else None,
        rule=rec.rule,
        relation=related.get(rec.worker_id) if rec.worker_id is not None else None,
        travel_s=None if rec.travel_s is None else round(rec.travel_s, 1),
        open_tasks=rec.open_tasks,
        reason=rec.reason,
        alternatives=[
            Candidate(
                worker_id=a.worker_id,
                worker_name=names.get(a.worker_id),
                rule=a.rule,
                relation=related.get(a.worker_id),
                travel_s=None if a.travel_s is None else round(a.travel_s, 1),
                open_tasks=a.open_tasks,
                reason=a.reason,
            )
            for a in rec.alternatives
        ],
        not_chosen=[NotChosen(int(w), why) for w, why in rec.considered],
    )


def dispatch_recommended(
    engine: Engine,
    settings: Settings,
    user: Principal,
    incident_id: int,
    note: str | None,
    network: RoadNetwork | None,
) -> casework.Case:
    """Dispatch a registered case to the recommended worker, the reason in the note."""
    rec = recommendation(engine, settings, user, incident_id, network)
    if rec.worker_id is None:
        raise InvalidInput(f"no worker can take incident {incident_id}: {rec.reason}")
    text = f"推荐派遣: {rec.reason}" + (f"; {note}" if note else "")
    case = casework.act(engine, user, incident_id, casework.Step("dispatch", text, rec.worker_id))
    return replace(case, recommendation=rec)


@dataclass(frozen=True)
class Move:
    """One move of a re-dispatch preview, as the caller sends it back to confirm it.

    ``version`` is the id of the case's latest event when the preview was made, so a case
    changed since (a step or a note) is recognised; ``reason`` goes into the history.
    """

    incident_id: int
    version: int | None
    state: str
    from_worker_id: int | None
    to_worker_id: int
    action: str
    reason: str


def preview_id(user: Principal, widen: str, moves: Iterable[Move]) -> str:
    """The id of a preview: SHA-256 of who asked, how wide, and the moves (any order)."""
    canon = sorted((list(astuple(m)) for m in moves), key=lambda c: c[0])
    payload = json.dumps(
        {"user": user.user_id, "widen": widen, "moves": canon},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _ids(values: Any) -> list[int | None]:
    """A nullable id column as Python ints and Nones."""
    return [None if pd.isna(v) else int(v) for v in values]


def _backlog(
    conn: Connection,
    user: Principal,
    states: tuple[str, ...],
    incident_ids: tuple[int, ...] | None,
    limit: int,
) -> pd.DataFrame:
    """The cases to re-dispatch; a named case the user may not see is "not found"."""
    cases = dispatch_store.backlog(conn, grid_ids=_scope(user), states=states, ids=incident_ids)
    for missing in sorted(set(incident_ids or ()) - set(cases["id"].astype(int))):
        row = casework.visible_incident(conn, user, missing)
        if row.merged_into is not None:
            raise InvalidInput(
                f"incident {missing} was merged into {row.merged_into}: re-dispatch that one"
            )
        raise InvalidInput(
            f"incident {missing} is {row.state}: only {' or '.join(states)} cases can be "
            "re-dispatched" + ("" if "dispatched" in states else " (include_dispatched for more)")
        )
    return cases.head(limit)


@dataclass(frozen=True)
class ShownMove(Move):
    """A move as a preview shows it: with the grid, the workers' names and travel times."""

    grid_code: str
    from_worker_name: str | None
    to_worker_name: str | None
    relation: str
    travel_s: float
    current_travel_s: float | None


@dataclass(frozen=True)
class Unassigned:
    """A case the optimum leaves where it is, and why."""

    incident_id: int
    stays_with: int | None
    reason: str


@dataclass(frozen=True)
class Totals:
    """The cost of the optimum beside the current and the greedy assignment (seconds)."""

    workers: int = 0
    cost: float = 0.0
    travel_s: float = 0.0
    assigned: int = 0
    current_cost: float = 0.0
    current_travel_s: float = 0.0
    current_assigned: int = 0
    greedy_cost: float = 0.0
    solve_s: float = 0.0


@dataclass(frozen=True)
class Preview(Totals):
    """What a batch re-dispatch would do: the costs, the moves, what stays, what is left."""

    preview_id: str = ""
    widen: str = "grid"
    include_dispatched: bool = False
    cases: int = 0
    moves: list[ShownMove] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    unassigned: list[Unassigned] = field(default_factory=list)


def redispatch_preview(
    engine: Engine,
    settings: Settings,
    user: Principal,
    network: RoadNetwork | None,
    *,
    widen: dispatch.Widen = "grid",
    include_dispatched: bool = False,
    incident_ids: tuple[int, ...] | None = None,
    limit: int = 2000,
) -> Preview:
    """What a batch re-dispatch of the user's backlog would do, changing nothing (预览).

    The registered cases of the user's area (and, with ``include_dispatched``,
    dispatched ones not yet started; or only ``incident_ids``) are assigned as one
    optimal assignment (:func:`analysis.dispatch.assign_batch`: least walking time plus
    load penalty within each worker's free slots), among the allowed pairs only: the
    workers of the user's area (:func:`grids.access.workers_in_area`), and of those the
    case's grid's own primary and backups, or, with ``widen``, its community's workers
    (``community``) or the whole area's (``area``).  Beside the optimum: the cost of
    the current assignment and of the greedy one.

    The answer lists the moves (what, from whom to whom, why, travel now and after), the
    cases that stay, those left unassigned and why, and a ``preview_id``.  Confirm with
    :func:`redispatch_confirm`.

    Why stateless: the preview is kept nowhere.  Its id is a SHA-256 digest of the
    user, ``widen`` and the moves, each carrying its case's version (latest event id),
    and the caller sends the moves back with it (a staff page holds them anyway, to
    show them).  So nothing is stored, expires or must be shared between server
    processes, a preview is bound to whoever made it, and a case changed since is
    caught by its version.  The digest is not a signature (there is no server secret
    to keep): it binds a confirmation to what was shown; the safety is that every
    move is checked again on confirmation exactly as the caller's own single 改派
    would be, so moves made up by hand gain nothing.

    ``network`` is the walking network loaded now (needed only when there are cases).
    """
    require_staff(user, "re-dispatch a backlog")
    if widen not in dispatch.REACH:
        raise InvalidInput(f"widen must be one of {', '.join(dispatch.REACH)}, not {widen!r}")
    states = ("registered", "dispatched") if include_dispatched else ("registered",)
    with engine.connect() as conn:
        cases = _backlog(conn, user, states, incident_ids, limit)
        assignments = dispatch_store.assignments(conn)
        area = workers_in_area(user, assignments)
        current_ids = {w for w in _ids(cases["assignee_id"]) if w is not None}
        workers = dispatch_store.worker_statuses(conn, worker_ids=tuple(sorted(area | current_ids)))
    plan = _Plan.nothing() if cases.empty else None
    if plan is None:
        plan = _plan(require_network(network), settings, cases, workers, assignments, area, widen)
    return Preview(
        preview_id=preview_id(user, widen, plan.moves),
        widen=widen,
        include_dispatched=include_dispatched,
        cases=len(cases),
        **asdict(plan.totals),
        moves=plan.shown,
        unchanged=plan.unchanged,
        unassigned=plan.unassigned,
    )


@dataclass(frozen=True)
class _Plan:
    """A solved re-dispatch: the moves (as confirmed and as shown) and the rest."""

    moves: list[Move]
    shown: list[ShownMove]
    unchanged: list[int]
    unassigned: list[Unassigned]
    totals: Totals

    @classmethod
    def nothing(cls) -> _Plan:
        return cls([], [], [], [], Totals())


_WIDER = {
    "grid": "; widen to community or area to look beyond its grid's own workers",
    "community": "; widen to area to look beyond its community",
    "area": "",
}


def _plan(
    network: RoadNetwork,
    settings: Settings,
    cases: pd.DataFrame,
    workers: pd.DataFrame,
    assignments: pd.DataFrame,
    area: frozenset[int],
    widen: dispatch.Widen,
) -> _Plan:
    """The optimal assignment of the cases among the allowed (case, worker) pairs."""
    workers = workers[workers["lon"].notna()].reset_index(drop=True)  # no grid, no place
    assignee = _ids(cases["assignee_id"])
    relation = dispatch.relations(
        cases["grid_id"], cases["community_id"], workers["worker_id"], assignments
    )
    in_area = workers["worker_id"].isin(list(area)).to_numpy()
    allowed = dispatch.eligible_pairs(relation, widen) & in_area[None, :]
    # the workers that matter: those allowed some case, and the current ones (for the cost)
    keep = allowed.any(axis=0) | workers["worker_id"].isin(assignee).to_numpy()
    workers = workers[keep].reset_index(drop=True)
    relation, allowed = relation[:, keep], allowed[:, keep]
    travel = dispatch.travel_times(
        network,
        workers["lon"].to_numpy(),
        workers["lat"].to_numpy(),
        cases["lon"].to_numpy(),
        cases["lat"].to_numpy(),
    )
    column = {int(w): j for j, w in enumerate(workers["worker_id"])}
    now_col = np.array([-1 if w is None else column.get(w, -1) for w in assignee], np.int64)
    now_travel = np.where(
        now_col >= 0, travel[np.arange(len(cases)), np.maximum(now_col, 0)], np.inf
    )
    now_col[~np.isfinite(now_travel)] = -1  # a current pair without a road counts as none
    # a case moving between workers frees a slot of its current worker
    open_tasks = workers["open_tasks"].to_numpy(dtype=np.int64) - np.bincount(
        now_col[now_col >= 0], minlength=len(workers)
    )
    capacity = np.where(
        workers["on_duty"].to_numpy(dtype=bool),
        np.maximum(workers["max_open_tasks"].to_numpy() - open_tasks, 0),
        0,
    )
    common: dict[str, Any] = dict(
        open_tasks=open_tasks,
        load_penalty_s=settings.dispatch_load_penalty_s,
        worker_ids=workers["worker_id"].to_numpy(),
    )
    solve = dict(common, capacity=capacity, priority=cases["priority"].to_numpy(), allowed=allowed)
    best = dispatch.assign_batch(travel, **solve)
    greedy = dispatch.assign_greedy(travel, **solve)
    current = dispatch.evaluate(travel, now_col, **common)
    names = dict(zip(workers["worker_id"].astype(int), workers["name"], strict=True))
    moves: list[Move] = []
    shown: list[ShownMove] = []
    unchanged: list[int] = []
    for i, case in enumerate(cases.itertuples(index=False)):
        worker = int(best.worker_of[i])
        if worker == dispatch.NO_WORKER or worker == assignee[i]:
            if worker != dispatch.NO_WORKER:
                unchanged.append(int(case.id))
            continue
        rel = dispatch.RELATIONS[int(relation[i, column[worker]])]
        move = Move(
            incident_id=int(case.id),
            version=_ids([case.version])[0],
            state=str(case.state),
            from_worker_id=assignee[i],
            to_worker_id=worker,
            action="dispatch" if case.state == "registered" else "reassign",
            reason=f"{_RELATION_TEXT[rel].format(grid=case.grid_code)}; {best.reasons[i]}",
        )
        moves.append(move)
        shown.append(
            ShownMove(
                **asdict(move),
                grid_code=str(case.grid_code),
                from_worker_name=None if assignee[i] is None else names.get(assignee[i]),
                to_worker_name=names.get(worker),
                relation=rel,
                travel_s=round(float(travel[i, column[worker]]), 1),
                current_travel_s=round(float(now_travel[i]), 1) if now_col[i] >= 0 else None,
            )
        )
    unassigned = [
        Unassigned(int(cases["id"].iloc[i]), assignee[i], why + _WIDER[widen])
        for i, why in zip(best.unassigned.tolist(), best.unassigned_reason, strict=True)
    ]
    totals = Totals(
        workers=int(allowed.any(axis=0).sum()),
        cost=round(best.cost, 1),
        travel_s=round(best.travel_s, 1),
        assigned=best.n_assigned,
        current_cost=round(current.cost, 1),
        current_travel_s=round(current.travel_s, 1),
        current_assigned=current.n_assigned,
        greedy_cost=round(greedy.cost, 1),
        solve_s=round(best.solve_s, 4),
    )
    return _Plan(moves, shown, unchanged, unassigned, totals)


_RELATION_TEXT = {
    "primary": "主责网格员 primary worker of grid {grid}",
    "backup": "备用网格员 backup worker of grid {grid}",
    "community": "同社区网格员 a worker of the community of grid {grid}",
    "area": "辖区网格员 a worker of your area",
}


@dataclass(frozen=True)
class AppliedMove(Move):
    """A move of a confirmed preview, applied with this note in the case's history."""

    note: str


@dataclass(frozen=True)
class MoveConflict:
    """A move of a confirmed preview that was not applied, and why."""

    incident_id: int
    reason: str


@dataclass(frozen=True)
class Confirmed:
    """What the confirmation of a preview did: the moves applied and those refused."""

    preview_id: str
    applied: list[AppliedMove]
    conflicts: list[MoveConflict]


def redispatch_confirm(
    engine: Engine, user: Principal, preview: str, widen: dispatch.Widen, moves: Sequence[Move]
) -> Confirmed:
    """Apply the moves of a preview of :func:`redispatch_preview`, each checked again.

    ``preview``, ``widen`` and ``moves`` must be exactly those of a preview the same
    user made (else "not found": nothing is applied).  Each move is then checked as
    if asked for alone: the case is still one of the user's area waiting for a worker,
    in the state, with the worker and at the version the preview saw, and the new
    worker is still of the user's area, within ``widen`` of the case and on duty (the
    check of every dispatch and reassignment, :func:`api.services.casework.apply_step`, made in
    the move's own transaction).  A move that fails is a conflict, reported and not
    applied; the others are applied one by one, each a guarded step (派遣 or 改派) with
    its reason in the history.
    """
    require_staff(user, "re-dispatch a backlog")
    ids = tuple(sorted({m.incident_id for m in moves}))
    if len(ids) < len(moves):
        raise InvalidInput("a case appears more than once in moves; a preview moves each once")
    if preview_id(user, widen, moves) != preview:
        raise NotFound(
            f"no preview {preview[:12]}… of yours with exactly these moves: send back the "
            "preview's widen and moves unchanged, or ask for a new preview"
        )
    with engine.connect() as conn:
        cases = dispatch_store.backlog(
            conn, grid_ids=_scope(user), states=("registered", "dispatched"), ids=ids
        )
        assignments = dispatch_store.assignments(conn)
    area = workers_in_area(user, assignments)
    targets = sorted({m.to_worker_id for m in moves})
    target_col = {w: j for j, w in enumerate(targets)}
    relation = dispatch.relations(cases["grid_id"], cases["community_id"], targets, assignments)
    allowed = dispatch.eligible_pairs(relation, widen)
    row_of = {int(c): r for r, c in enumerate(cases["id"])}
    now = clock.now()
    applied: list[AppliedMove] = []
    conflicts: list[MoveConflict] = []
    for move in moves:
        verb = "批量派遣" if move.action == "dispatch" else "批量改派"
        note = (
            f"{verb} (preview {preview[:12]}): "
            + ("" if move.from_worker_id is None else f"worker {move.from_worker_id} → ")
            + f"worker {move.to_worker_id}, {move.reason}"
        )
        why = _conflict(
            move, cases, row_of, area, allowed[:, target_col[move.to_worker_id]]
        ) or _apply(engine, user, move, note, now)
        if why is None:
            applied.append(AppliedMove(**asdict(move), note=note))
        else:
            conflicts.append(MoveConflict(move.incident_id, why + "; not moved"))
    return Confirmed(preview, applied, conflicts)


def _apply(engine: Engine, user: Principal, move: Move, note: str, at: datetime) -> str | None:
    """Apply one move as a guarded step of its own; why not, if it could not be."""
    try:
        with engine.begin() as conn:
            row = incident_store.read_incident(conn, move.incident_id)
            if row is None or row.last_event_id != move.version:
                return f"incident {move.incident_id} was changed meanwhile"
            step = casework.Step(move.action, note, move.to_worker_id)
            casework.apply_step(conn, user, row, step, at=at)
    except (
        incident_store.StaleIncident,
        lifecycle.IllegalTransition,
        lifecycle.NotAllowed,
        lifecycle.InvalidInput,
        Forbidden,
    ) as exc:
        return str(exc)
    return None


def _conflict(
    move: Move,
    cases: pd.DataFrame,
    row_of: dict[int, int],
    area: frozenset[int],
    allowed: NDArray[np.bool_],
) -> str | None:
    """Why a move may no longer be applied (None: it still may)."""
    r = row_of.get(move.incident_id)
    if r is None:
        return (
            f"incident {move.incident_id} is no longer a case of your area waiting for a "
            "worker (registered or dispatched)"
        )
    case = cases.iloc[r]
    now = (
        str(case["state"]),
        _ids([case["assignee_id"]])[0],
        _ids([case["version"]])[0],
    )
    if now != (move.state, move.from_worker_id, move.version):
        return (
            f"incident {move.incident_id} changed since the preview: it was {move.state} "
            f"with worker {move.from_worker_id}, it is {now[0]} with worker {now[1]}"
        )
    if move.to_worker_id not in area or not allowed[r]:
        return (
            f"worker {move.to_worker_id} may no longer take incident {move.incident_id}: "
            "not of your area or not within the widen asked for (assignments changed?)"
        )
    return None
