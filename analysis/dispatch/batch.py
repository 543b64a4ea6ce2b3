"""A backlog assigned at once: the optimal assignment within capacities, a min-cost flow."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment

from analysis.dispatch.base import DEFAULT_LOAD_PENALTY_S, DispatchInputError
from analysis.network import FloatArray, IntArray

NO_WORKER = -1
"""``BatchAssignment.worker_of`` of an incident left unassigned."""

COST_SCALE = 100
"""Seconds are rounded to 1/COST_SCALE s (centiseconds) for the integer solver."""

_INT64_SAFE = 2**62


@dataclass(frozen=True)
class BatchAssignment:
    """Incidents assigned to workers at once, with the cost and the reasons.

    Attributes
    ----------
    worker_of : numpy.ndarray of int64
        Per incident, the worker (its id when ``worker_ids`` was given, else its column
        in ``travel_s``), or :data:`NO_WORKER` (-1) when unassigned.
    cost : float
        The objective, seconds: travel plus load penalties of the assigned incidents.
    travel_s : float
        Total travel time of the assigned incidents, seconds.
    load : numpy.ndarray of int64
        New tasks given to each worker (column order of ``travel_s``).
    unassigned : numpy.ndarray of int64
        Indices of the incidents left unassigned.
    unassigned_reason : tuple of str
        Why, for each of :attr:`unassigned`.
    reasons : tuple of str
        Per incident, why this worker (or why none).
    solve_s : float
        Wall-clock seconds of the solve.
    method : str
        ``"min_cost_flow"``, ``"slots"`` (linear_sum_assignment over worker slots) or
        ``"greedy"`` / ``"greedy_travel"``.
    """

    worker_of: IntArray
    cost: float
    travel_s: float
    load: IntArray
    unassigned: IntArray
    unassigned_reason: tuple[str, ...]
    reasons: tuple[str, ...]
    solve_s: float
    method: str

    @property
    def n_assigned(self) -> int:
        """Number of incidents assigned."""
        return int((self.worker_of != NO_WORKER).sum())


@dataclass(frozen=True)
class _Problem:
    """Checked inputs of a batch assignment (internal)."""

    travel: FloatArray  # (n, m), inf = unreachable
    capacity: IntArray  # (m,) free slots, clipped to [0, n]
    open_tasks: IntArray
    penalty: float
    level: IntArray  # (n,) 0 = most urgent
    worker_ids: IntArray  # (m,)
    allowed: NDArray[np.bool_]  # (n, m) pairs that may be assigned
    restricted: bool  # whether ``allowed`` was given (the reasons then say "eligible")

    @property
    def usable(self) -> NDArray[np.bool_]:
        """Pairs that may be assigned and are reachable, (n, m)."""
        return np.isfinite(self.travel) & self.allowed


def _problem(
    travel_s: ArrayLike,
    capacity: ArrayLike,
    open_tasks: ArrayLike,
    load_penalty_s: float,
    priority: ArrayLike | None,
    worker_ids: ArrayLike | None,
    allowed: ArrayLike | None = None,
) -> _Problem:
    travel = np.array(travel_s, dtype=np.float64, copy=True)
    if travel.ndim != 2:
        raise DispatchInputError(
            f"travel_s must be a matrix (incidents × workers), got {travel.ndim} dimension(s)"
        )
    n, m = travel.shape
    travel[np.isnan(travel)] = np.inf
    if np.any(travel < 0):
        raise DispatchInputError("travel_s has negative seconds: travel times are >= 0")
    cap = np.asarray(capacity, dtype=np.int64).ravel()
    open_ = np.asarray(open_tasks, dtype=np.int64).ravel()
    if cap.shape != (m,) or open_.shape != (m,):
        raise DispatchInputError(
            f"capacity and open_tasks need one value per worker ({m}); got "
            f"{cap.size} and {open_.size}"
        )
    if np.any(open_ < 0):
        raise DispatchInputError("open_tasks must be >= 0")
    if not (load_penalty_s >= 0 and math.isfinite(load_penalty_s)):
        raise DispatchInputError(f"load_penalty_s must be a finite number >= 0: {load_penalty_s}")
    if priority is None:
        level = np.zeros(n, dtype=np.int64)
    else:
        p = np.asarray(priority, dtype=np.float64).ravel()
        if p.shape != (n,) or np.any(np.isnan(p)):
            raise DispatchInputError(
                f"priority needs one number per incident ({n}), none missing; got {p.size}"
            )
        level = np.unique(p, return_inverse=True)[1].astype(np.int64).ravel()
    ids = (
        np.arange(m, dtype=np.int64)
        if worker_ids is None
        else np.asarray(worker_ids, dtype=np.int64).ravel()
    )
    if ids.shape != (m,):
        raise DispatchInputError(f"worker_ids needs {m} ids, got {ids.size}")
    if allowed is None:
        ok = np.ones((n, m), dtype=bool)
    else:
        ok = np.asarray(allowed)
        if ok.shape != (n, m) or ok.dtype != np.bool_:
            raise DispatchInputError(
                f"allowed must be a boolean matrix like travel_s ({n} × {m}); got "
                f"{ok.dtype} of shape {ok.shape}"
            )
    cap = np.clip(cap, 0, n)
    return _Problem(travel, cap, open_, float(load_penalty_s), level, ids, ok, allowed is not None)


def assign_batch(
    travel_s: ArrayLike,
    *,
    capacity: ArrayLike,
    open_tasks: ArrayLike,
    load_penalty_s: float = DEFAULT_LOAD_PENALTY_S,
    priority: ArrayLike | None = None,
    worker_ids: ArrayLike | None = None,
    allowed: ArrayLike | None = None,
    method: Literal["min_cost_flow", "slots"] = "min_cost_flow",
) -> BatchAssignment:
    """Assign a backlog of incidents to workers optimally, within each worker's capacity.

    Lexicographic objective: (1) assign as many incidents as capacity and reachability
    allow; (2) when not all fit, the most urgent ones (lowest ``priority`` value) are
    the ones assigned, level by level; (3) the least total cost, where incident ``i``
    given to worker ``w`` as their k-th new task (k = 0, 1, ...) costs
    ``travel_s[i, w] + load_penalty_s * (open_tasks[w] + k)``.

    Parameters
    ----------
    travel_s : array_like, shape (n_incidents, n_workers)
        Seconds from each worker to each incident; ``inf`` (or nan) = unreachable, never
        assigned.
    capacity : array_like of int, shape (n_workers,)
        Free slots of each worker (e.g. ``max_open_tasks - open_tasks``; 0 for workers
        off duty).
    open_tasks : array_like of int, shape (n_workers,)
        Open tasks each worker already has (the base of the load penalty).
    load_penalty_s : float, default 600
        Seconds of travel one task of load weighs.
    priority : array_like, shape (n_incidents,), optional
        Urgency, lower = more urgent (1 = urgent, as incident categories); only the
        order matters.  Default: all equal.
    worker_ids : array_like of int, shape (n_workers,), optional
        Ids reported in ``worker_of`` and the reasons; default the column indices.
    allowed : array_like of bool, shape (n_incidents, n_workers), optional
        The (incident, worker) pairs that may be assigned, e.g. only the workers of an
        incident's own grid (:func:`eligible_pairs`); default every pair.  The rule
        shapes the problem itself (a pair not allowed is no arc of the flow), so the
        answer is the optimum among the allowed assignments, not a filtered optimum.
    method : {"min_cost_flow", "slots"}
        ``min_cost_flow`` (OR-Tools, the default, faster) or ``slots``
        (``scipy.optimize.linear_sum_assignment`` over one column per worker slot, the
        same optimum; kept for comparison).

    Returns
    -------
    BatchAssignment

    Raises
    ------
    DispatchInputError
        On inconsistent shapes, negative times, or so many priority levels that the
        integer costs would overflow.

    Notes
    -----
    Costs are rounded to centiseconds for the solver, so the reported ``cost`` (exact
    floats) is optimal to within 0.005 s per incident.
    """
    p = _problem(travel_s, capacity, open_tasks, load_penalty_s, priority, worker_ids, allowed)
    t0 = time.perf_counter()
    if method == "min_cost_flow":
        inc, wk = _solve_min_cost_flow(p)
    elif method == "slots":
        inc, wk = _solve_slots(p)
    else:
        raise DispatchInputError(f"unknown method {method!r}: use min_cost_flow or slots")
    worker_of = np.full(p.travel.shape[0], NO_WORKER, dtype=np.int64)
    worker_of[inc] = wk
    solve_s = time.perf_counter() - t0
    return _result(p, worker_of, solve_s, method)


def _solve_min_cost_flow(p: _Problem) -> tuple[IntArray, IntArray]:
    """Min-cost max-flow: incidents → workers (travel) → slots → sink (penalty)."""
    n, m = p.travel.shape
    inc, wk = np.nonzero(p.usable & (p.capacity > 0)[None, :])
    if inc.size == 0:
        return inc.astype(np.int64), wk.astype(np.int64)
    travel_c = np.rint(p.travel[inc, wk] * COST_SCALE).astype(np.int64)
    slot_w, slot_k = _slots(p.capacity)
    slot_c = np.rint(p.penalty * (p.open_tasks[slot_w] + slot_k) * COST_SCALE).astype(np.int64)
    n_levels = int(p.level.max(initial=0)) + 1
    if n_levels > 1:
        # a level weighs more than any difference of travel + load an assignment can make
        c_max = int(travel_c.max(initial=0)) + int(slot_c.max(initial=0)) + 1
        weight = (min(n, int(p.capacity.sum())) + 2) * c_max
        top = (n_levels - 1) * weight + c_max
        if top * (n + 1) * (n + m + 2) >= _INT64_SAFE:
            raise DispatchInputError(
                f"{n_levels} distinct priority levels make the integer costs overflow: "
                "group priorities into a few levels (e.g. 1-5)"
            )
        travel_c = travel_c + p.level[inc] * weight
    # nodes: incidents 0..n-1, workers n..n+m-1, sink n+m
    sink = n + m
    tails = np.concatenate([inc, n + slot_w]).astype(np.int64)
    heads = np.concatenate([n + wk, np.full(slot_w.size, sink)]).astype(np.int64)
    caps = np.ones(tails.size, dtype=np.int64)
    costs = np.concatenate([travel_c, slot_c])
    smcf = min_cost_flow.SimpleMinCostFlow()
    arcs = smcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supply = np.concatenate([np.ones(n, np.int64), np.zeros(m, np.int64), [-n]])
    smcf.set_nodes_supplies(np.arange(n + m + 1, dtype=np.int64), supply)
    status = smcf.solve_max_flow_with_min_cost()
    if status != smcf.OPTIMAL:
        raise RuntimeError(f"min-cost flow ended with status {status}")
    flow = np.asarray(smcf.flows(arcs[: inc.size]), dtype=np.int64)
    used = flow > 0
    return inc[used].astype(np.int64), wk[used].astype(np.int64)


def _slots(capacity: IntArray) -> tuple[IntArray, IntArray]:
    """Worker and slot number (0, 1, ...) of every free slot."""
    slot_w = np.repeat(np.arange(capacity.size, dtype=np.int64), capacity)
    start = np.cumsum(capacity) - capacity
    slot_k = np.arange(slot_w.size, dtype=np.int64) - np.repeat(start, capacity)
    return slot_w, slot_k


def _solve_slots(p: _Problem) -> tuple[IntArray, IntArray]:
    """linear_sum_assignment over one column per free worker slot, plus a "none" column each."""
    n, _ = p.travel.shape
    slot_w, slot_k = _slots(p.capacity)
    if slot_w.size == 0 or n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    cost = p.travel[:, slot_w] + p.penalty * (p.open_tasks[slot_w] + slot_k)[None, :]
    cost[~p.allowed[:, slot_w]] = np.inf
    finite = np.isfinite(cost)
    c_max = float(cost[finite].max(initial=0.0)) + 1.0
    n_levels = int(p.level.max(initial=0)) + 1
    # a level weighs more than any difference of cost; leaving an incident out more still
    weight = (min(n, slot_w.size) + 2) * c_max
    left_out = (min(n, slot_w.size) + 2) * (c_max + (n_levels - 1) * weight)
    cost = cost + p.level[:, None] * weight  # stays inf where unreachable
    none = np.full((n, n), np.inf)
    np.fill_diagonal(none, left_out)
    rows, cols = linear_sum_assignment(np.concatenate([cost, none], axis=1))
    real = cols < slot_w.size
    return rows[real].astype(np.int64), slot_w[cols[real]]


def _result(p: _Problem, worker_of: IntArray, solve_s: float, method: str) -> BatchAssignment:
    """Cost, load and reasons of an assignment given as worker columns (-1 = none)."""
    n, m = p.travel.shape
    assigned = np.flatnonzero(worker_of >= 0)
    w_of = worker_of[assigned]
    load = np.bincount(w_of, minlength=m).astype(np.int64)
    travel_total = float(p.travel[assigned, w_of].sum())
    # Σ_w penalty * Σ_{k<load} (open + k)
    penalty_total = float(p.penalty * (load * p.open_tasks + load * (load - 1) / 2).sum())

    # reasons: each worker's incidents in travel order are its 1st, 2nd ... new task
    slot = np.zeros(n, dtype=np.int64)
    order = np.lexsort((p.travel[assigned, w_of], w_of))
    start = np.cumsum(load) - load
    slot[assigned[order]] = np.arange(order.size) - start[w_of[order]]
    reach = p.usable
    nearest = np.argmin(np.where(reach, p.travel, np.inf), axis=1) if m else np.zeros(n, int)
    ids = p.worker_ids
    who = "eligible worker" if p.restricted else "worker"
    reasons: list[str] = []
    unassigned: list[int] = []
    why_out: list[str] = []
    for i in range(n):
        w = int(worker_of[i])
        if w < 0:
            unassigned.append(i)
            if p.restricted and not p.allowed[i].any():
                why = "no worker is eligible for it (不在可派范围)"
            elif not reach[i].any():
                why = f"no {who} can reach it by road (不可达)"
            elif not np.any(reach[i] & (p.capacity > 0)):
                why = f"every {who} who can reach it has no free slot (已满)"
            elif np.any(p.level[assigned] < p.level[i]):
                why = f"the free slots of the {who}s who can reach it went to more urgent incidents"
            else:
                why = (
                    f"the free slots of the {who}s who can reach it are all taken "
                    f"(capacity: {int(p.capacity.sum())} free slots for {n} incidents)"
                )
            why_out.append(why)
            reasons.append(f"未派遣 unassigned: {why}")
            continue
        t = float(p.travel[i, w])
        k = int(slot[i])
        text = (
            f"worker {ids[w]}: {t / 60:.1f} min away, new task {k + 1} "
            f"(load {p.open_tasks[w] + k} open before it)"
        )
        j = int(nearest[i])
        if j != w and p.travel[i, j] < t:
            if p.capacity[j] == 0:
                why = "has no free slot"
            elif load[j] >= p.capacity[j]:
                why = "has its free slots taken by incidents it serves better"
            else:
                why = (
                    f"is busier ({p.open_tasks[j] + load[j]} tasks vs {p.open_tasks[w] + load[w]})"
                )
            text += (
                f"; the nearest{' eligible' if p.restricted else ''}, worker {ids[j]} "
                f"({p.travel[i, j] / 60:.1f} min), {why}"
            )
        else:
            text = ("nearest eligible " if p.restricted else "nearest ") + text
        reasons.append(text)
    worker_id_of = np.full(n, NO_WORKER, dtype=np.int64)
    worker_id_of[assigned] = ids[w_of]
    return BatchAssignment(
        worker_of=worker_id_of,
        cost=travel_total + penalty_total,
        travel_s=travel_total,
        load=load,
        unassigned=np.asarray(unassigned, dtype=np.int64),
        unassigned_reason=tuple(why_out),
        reasons=tuple(reasons),
        solve_s=solve_s,
        method=method,
    )
