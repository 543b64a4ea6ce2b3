"""One incident dispatched by rule: primary, else a backup, else the best, with reasons."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.dispatch.base import DEFAULT_LOAD_PENALTY_S, DispatchInputError
from analysis.dispatch.travel import TravelFn
from analysis.network import FloatArray, IntArray

Rule = Literal["primary", "backup", "best", "none"]

_NOT_GIVEN = "not among the workers who may take it (e.g. outside your area, 不可派)"

#: How :func:`recommend` names the relation of a worker it takes by the ``best`` rule.
_TIER_TEXT = {
    3: " of its community (同社区)",
    4: " beyond its community (跨社区), none of its community being available",
}


@dataclass(frozen=True)
class WorkerStatus:
    """What dispatch needs to know about one grid worker right now.

    Attributes
    ----------
    worker_id : int
        ``grid_worker.id``.
    on_duty : bool
        Whether the worker is on duty (在岗).
    open_tasks : int
        Incidents assigned to the worker and not yet resolved.
    max_open_tasks : int
        Workload limit: a worker with this many open tasks gets no more.
    lon, lat : float
        Last known position, or the centre of their grid, degrees, WGS84.
    """

    worker_id: int
    on_duty: bool
    open_tasks: int
    max_open_tasks: int
    lon: float
    lat: float


@dataclass(frozen=True)
class Alternative:
    """A worker who could also take the incident, ranked after the recommended one.

    Attributes
    ----------
    worker_id : int
        ``grid_worker.id``.
    rule : str
        ``"backup"`` (a backup of the grid) or ``"best"`` (chosen by travel and load).
    travel_s : float or None
        Travel time to the incident, seconds; None when not reachable or not computed.
    open_tasks : int
        The worker's open tasks.
    reason : str
        Why this worker comes next.
    """

    worker_id: int
    rule: Rule
    travel_s: float | None
    open_tasks: int
    reason: str


@dataclass(frozen=True)
class Recommendation:
    """Who should take one incident, by which rule, and why.

    Attributes
    ----------
    worker_id : int or None
        The recommended worker; None when no worker is available.
    rule : str
        ``"primary"`` (主责网格员 of the grid), ``"backup"`` (备用网格员 of the grid),
        ``"best"`` (the best available worker by travel time and load) or ``"none"``.
    travel_s : float or None
        Travel time of the worker to the incident, seconds (None if unknown/unreachable).
    open_tasks : int
        The worker's open tasks before this one (0 when nobody is recommended).
    reason : str
        Why, in Chinese and English, e.g. ``"主责网格员 worker 12 (on duty, 3/20 open
        tasks, 4.2 min away)"``.
    alternatives : tuple of Alternative
        The next choices, best first, each with its reason.
    considered : tuple of (int, str)
        Workers ruled out and why (off duty, at their limit, unreachable).
    grid_id : object
        The grid the incident lies in, as given.
    """

    worker_id: int | None
    rule: Rule
    travel_s: float | None
    open_tasks: int
    reason: str
    alternatives: tuple[Alternative, ...]
    considered: tuple[tuple[int, str], ...]
    grid_id: Any = None


@dataclass(frozen=True)
class _Workers:
    """Workers as parallel arrays (internal)."""

    worker_id: IntArray
    on_duty: NDArray[np.bool_]
    open_tasks: IntArray
    max_open_tasks: IntArray
    lon: FloatArray
    lat: FloatArray

    @property
    def available(self) -> NDArray[np.bool_]:
        return self.on_duty & (self.open_tasks < self.max_open_tasks)

    def why_not(self, i: int) -> str:
        """Why worker row ``i`` cannot take a new task (empty when it can)."""
        if not self.on_duty[i]:
            return "off duty (不在岗)"
        if self.open_tasks[i] >= self.max_open_tasks[i]:
            return (
                f"at the workload limit, {self.open_tasks[i]}/{self.max_open_tasks[i]} "
                "open tasks (已满)"
            )
        return ""


def _workers_from(workers: Sequence[WorkerStatus] | pd.DataFrame) -> _Workers:
    if isinstance(workers, pd.DataFrame):
        frame = workers
        if "worker_id" not in frame.columns and "id" in frame.columns:
            frame = frame.rename(columns={"id": "worker_id"})
    else:
        frame = pd.DataFrame(
            [
                {
                    "worker_id": w.worker_id,
                    "on_duty": w.on_duty,
                    "open_tasks": w.open_tasks,
                    "max_open_tasks": w.max_open_tasks,
                    "lon": w.lon,
                    "lat": w.lat,
                }
                for w in workers
            ],
            columns=["worker_id", "on_duty", "open_tasks", "max_open_tasks", "lon", "lat"],
        )
    need = ["worker_id", "on_duty", "open_tasks", "max_open_tasks", "lon", "lat"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise DispatchInputError(
            f"the workers frame lacks columns {missing}: it needs {need} "
            "(worker_id may be called id)"
        )
    blank = [c for c in need if c != "on_duty" and frame[c].isna().any()]
    if blank:
        raise DispatchInputError(f"the workers frame has missing values in {blank}: fill them")
    ids = frame["worker_id"].to_numpy(np.int64)
    if len(np.unique(ids)) != len(ids):
        raise DispatchInputError("worker ids repeat in the workers given: give each worker once")
    return _Workers(
        worker_id=ids,
        on_duty=frame["on_duty"].fillna(False).to_numpy(bool),
        open_tasks=frame["open_tasks"].fillna(0).to_numpy(np.int64),
        max_open_tasks=frame["max_open_tasks"].to_numpy(np.int64),
        lon=frame["lon"].to_numpy(np.float64),
        lat=frame["lat"].to_numpy(np.float64),
    )


def _grid_roles(assignments: pd.DataFrame, grid_id: Any) -> tuple[list[int], list[int]]:
    """Primary and backup worker ids of the grid (``grid_id`` or ``grid_code`` column)."""
    key = next((c for c in ("grid_id", "grid_code") if c in assignments.columns), None)
    if key is None or not {"worker_id", "role"} <= set(assignments.columns):
        raise DispatchInputError(
            "assignments need columns grid_id (or grid_code), worker_id and role "
            f"(primary / backup); got {list(assignments.columns)}"
        )
    rows = assignments[assignments[key].astype(str) == str(grid_id)]
    primary = rows.loc[rows["role"] == "primary", "worker_id"].astype(int).tolist()
    backup = rows.loc[rows["role"] == "backup", "worker_id"].astype(int).tolist()
    return primary, backup


def _minutes(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "no road route"
    return f"{seconds / 60:.1f} min away"


def recommend(
    grid_id: Any,
    incident_lon: float,
    incident_lat: float,
    *,
    assignments: pd.DataFrame,
    workers: Sequence[WorkerStatus] | pd.DataFrame,
    travel_s: TravelFn | ArrayLike,
    load_penalty_s: float = DEFAULT_LOAD_PENALTY_S,
    n_alternatives: int = 3,
    relation: ArrayLike | None = None,
) -> Recommendation:
    """Recommend the worker for one incident: primary, else a backup, else the best.

    Rules, in order:

    1. **primary** — the grid's primary worker, if on duty and under their limit
       (``open_tasks < max_open_tasks``);
    2. **backup** — else the grid's available backup with the fewest open tasks
       (ties: the nearer, then the smaller id);
    3. **best** — else, among the available workers who can reach the incident and
       stand nearest to it (with ``relation``: those of its community before anyone
       else given), the one with the least ``travel_s + load_penalty_s * open_tasks``;
    4. **none** — else nobody: ``worker_id`` is None and the reason counts why.

    Who may be named at all is who is given in ``workers``: the caller limits them
    (e.g. to the workers of their area, :func:`grids.access.workers_in_area`).

    Parameters
    ----------
    grid_id : object
        The grid (id or code) the incident lies in; matched as text against the
        ``grid_id`` (or ``grid_code``) column of ``assignments``.
    incident_lon, incident_lat : float
        The incident, degrees, WGS84.
    assignments : pandas.DataFrame
        Columns ``grid_id`` (or ``grid_code``), ``worker_id``, ``role`` (``primary`` /
        ``backup``): who covers which grid (``grid_assignment``).
    workers : sequence of WorkerStatus, or pandas.DataFrame
        Every worker that may be dispatched (frame columns as the WorkerStatus fields;
        ``worker_id`` may be called ``id``).  A worker named in ``assignments`` but not
        here counts as unavailable (e.g. a backup of the grid from outside the caller's
        area).
    travel_s : callable or array_like
        Seconds from each worker to the incident: an array aligned with ``workers``
        (``inf`` = unreachable), or a function ``(worker_lon, worker_lat, incident_lon,
        incident_lat) -> seconds`` called once with the positions of the workers it
        needs (see :func:`network_travel`).
    load_penalty_s : float, default 600
        Seconds of travel one open task weighs in the ``best`` rule.
    n_alternatives : int, default 3
        How many next choices to list.
    relation : array_like of int, optional
        How each worker given stands to the incident, in the order of ``workers``: the
        codes of :data:`RELATIONS` from :func:`relations` (3 of its community, 4 anyone
        else).  The ``best`` rule and the alternatives take the nearest relation first,
        so a worker beyond the incident's community is named only when none of it is
        available.  Default: every worker alike.

    Returns
    -------
    Recommendation

    Raises
    ------
    DispatchInputError
        If a frame lacks a column, ids repeat, or ``travel_s`` or ``relation`` does not
        match ``workers``.
    """
    w = _workers_from(workers)
    n = len(w.worker_id)
    row_of = {int(i): r for r, i in enumerate(w.worker_id.tolist())}
    primary_ids, backup_ids = _grid_roles(assignments, grid_id)
    available = w.available

    # travel times, computed only for the workers that may be named
    own = [row_of[i] for i in primary_ids + backup_ids if i in row_of]
    needed = np.union1d(np.flatnonzero(available), np.asarray(own, dtype=np.int64))
    travel = np.full(n, np.inf)
    if callable(travel_s):
        if needed.size:
            got = np.asarray(
                travel_s(w.lon[needed], w.lat[needed], float(incident_lon), float(incident_lat)),
                dtype=np.float64,
            ).ravel()
            if got.shape != needed.shape:
                raise DispatchInputError(
                    f"the travel function returned {got.size} times for {needed.size} workers"
                )
            travel[needed] = got
    else:
        given = np.asarray(travel_s, dtype=np.float64).ravel()
        if given.shape != (n,):
            raise DispatchInputError(
                f"travel_s has {given.size} values for {n} workers: give one per worker, "
                "in the order of workers"
            )
        travel = np.where(np.isnan(given), np.inf, given)
    near = np.zeros(n, dtype=np.int64) if relation is None else np.asarray(relation).ravel()
    if near.shape != (n,):
        raise DispatchInputError(
            f"relation has {near.size} values for {n} workers: give one per worker, "
            "in the order of workers"
        )

    def secs(r: int) -> float | None:
        t = float(travel[r])
        return t if math.isfinite(t) else None

    def status(r: int) -> str:
        return f"on duty, {w.open_tasks[r]}/{w.max_open_tasks[r]} open tasks, {_minutes(secs(r))}"

    considered: list[tuple[int, str]] = []
    chosen: int | None = None
    rule: Rule = "none"
    reason = ""

    # 1. primary
    primary_note = f"grid {grid_id} has no primary worker (网格未设主责)"
    for pid in primary_ids:
        r = row_of.get(pid)
        why = _NOT_GIVEN if r is None else w.why_not(r)
        if not why and r is not None:
            chosen, rule = r, "primary"
            reason = f"主责网格员 worker {pid} ({status(r)})"
            break
        considered.append((pid, f"primary of grid {grid_id}: {why}"))
        primary_note = f"primary worker {pid} is {why}"

    # 2. backups, fewest open tasks first
    backup_rows = [row_of[b] for b in backup_ids if b in row_of]
    for b in backup_ids:
        if b not in row_of:
            considered.append((b, f"backup of grid {grid_id}: {_NOT_GIVEN}"))
    ok_backups = sorted(
        (r for r in backup_rows if available[r]),
        key=lambda r: (int(w.open_tasks[r]), float(travel[r]), int(w.worker_id[r])),
    )
    for r in backup_rows:
        if not available[r]:
            considered.append((int(w.worker_id[r]), f"backup of grid {grid_id}: {w.why_not(r)}"))
    if chosen is None and ok_backups:
        r = ok_backups[0]
        chosen, rule = r, "backup"
        reason = f"备用网格员 worker {w.worker_id[r]} ({status(r)}): {primary_note}"

    # 3. best by travel + load among the available, reachable workers, nearest relation first
    score = travel + load_penalty_s * w.open_tasks
    own_rows = set(own)
    pool = np.flatnonzero(available & np.isfinite(travel))
    pool = pool[np.lexsort((w.worker_id[pool], score[pool], near[pool]))]
    if chosen is None:  # every worker given is considered: say who was ruled out
        for r in np.flatnonzero(~available).tolist():
            if r not in own_rows:
                considered.append((int(w.worker_id[r]), w.why_not(r)))
        for r in np.flatnonzero(available & ~np.isfinite(travel)).tolist():
            if r not in own_rows:
                considered.append(
                    (int(w.worker_id[r]), "cannot reach the incident by road (不可达)")
                )

    def best_reason(r: int, prefix: str) -> str:
        return (
            f"{prefix} worker {w.worker_id[r]}: {travel[r] / 60:.1f} min away + "
            f"{w.open_tasks[r]} open tasks × {load_penalty_s / 60:g} min = "
            f"{score[r] / 60:.1f} min"
        )

    if chosen is None and pool.size:
        r = int(pool[0])
        chosen, rule = r, "best"
        grid_note = (
            f"no backup of grid {grid_id} is available"
            if backup_ids
            else f"grid {grid_id} has no backup"
        )
        tier = int((near[pool] == near[r]).sum())
        reason = (
            best_reason(r, "就近派遣 best")
            + f", the lowest of {tier} available workers{_TIER_TEXT.get(int(near[r]), '')}; "
            f"{primary_note}, {grid_note}"
        )

    if chosen is None:
        off = int((~w.on_duty).sum())
        full = int((w.on_duty & ~available).sum())
        unreachable = int((available & ~np.isfinite(travel)).sum())
        reason = (
            f"无可派网格员 no worker available: {off} off duty, {full} at their workload "
            f"limit, {unreachable} cannot reach the incident (of {n} workers)"
        )
        return Recommendation(
            worker_id=None,
            rule="none",
            travel_s=None,
            open_tasks=0,
            reason=reason,
            alternatives=(),
            considered=tuple(considered),
            grid_id=grid_id,
        )

    # the next choices, in the order the rules would take them
    alternatives: list[Alternative] = []
    taken = {chosen}
    if rule == "primary":
        for r in ok_backups:
            alternatives.append(
                Alternative(
                    int(w.worker_id[r]),
                    "backup",
                    secs(r),
                    int(w.open_tasks[r]),
                    f"备用网格员 backup of grid {grid_id} ({status(r)})",
                )
            )
            taken.add(r)
    elif rule == "backup":
        for r in ok_backups[1:]:
            alternatives.append(
                Alternative(
                    int(w.worker_id[r]),
                    "backup",
                    secs(r),
                    int(w.open_tasks[r]),
                    f"next backup of grid {grid_id} ({status(r)})",
                )
            )
            taken.add(r)
    for r in pool.tolist():
        if len(alternatives) >= n_alternatives:
            break
        if r in taken:
            continue
        alternatives.append(
            Alternative(
                int(w.worker_id[r]),
                "best",
                secs(r),
                int(w.open_tasks[r]),
                best_reason(r, "next best"),
            )
        )
    return Recommendation(
        worker_id=int(w.worker_id[chosen]),
        rule=rule,
        travel_s=secs(chosen),
        open_tasks=int(w.open_tasks[chosen]),
        reason=reason,
        alternatives=tuple(alternatives[:n_alternatives]),
        considered=tuple(considered),
        grid_id=grid_id,
    )
