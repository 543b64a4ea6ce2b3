"""The baselines of a batch: greedy dispatch by hand, and the cost of a given assignment."""

from __future__ import annotations

import math
import time
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from analysis.dispatch.base import DEFAULT_LOAD_PENALTY_S, DispatchInputError
from analysis.dispatch.batch import NO_WORKER, BatchAssignment, _problem, _result


def assign_greedy(
    travel_s: ArrayLike,
    *,
    capacity: ArrayLike,
    open_tasks: ArrayLike,
    load_penalty_s: float = DEFAULT_LOAD_PENALTY_S,
    priority: ArrayLike | None = None,
    worker_ids: ArrayLike | None = None,
    allowed: ArrayLike | None = None,
    by: Literal["cost", "travel"] = "cost",
) -> BatchAssignment:
    """The baseline: incidents one by one in priority order, each to the cheapest worker now.

    Incidents are taken by ``priority`` (lowest value first), then in the order given
    (pass them by deadline).  Each goes to the worker with a free slot who can reach it
    and is cheapest at that moment: by ``travel + load penalty of the next slot``
    (``by="cost"``, the same objective as :func:`assign_batch`) or by travel alone
    (``by="travel"``, "nearest available").  Parameters and result as
    :func:`assign_batch`; its ``cost`` is measured with the same objective.
    """
    p = _problem(travel_s, capacity, open_tasks, load_penalty_s, priority, worker_ids, allowed)
    t0 = time.perf_counter()
    n, m = p.travel.shape
    order = np.argsort(p.level, kind="stable")
    remaining = p.capacity.copy()
    load = np.zeros(m, dtype=np.int64)
    worker_of = np.full(n, NO_WORKER, dtype=np.int64)
    use_load = by == "cost"
    for i in order.tolist() if m else ():
        row = p.travel[i] + (p.penalty * (p.open_tasks + load) if use_load else 0.0)
        row = np.where((remaining > 0) & p.allowed[i], row, np.inf)
        w = int(np.argmin(row))
        if math.isfinite(row[w]):
            worker_of[i] = w
            remaining[w] -= 1
            load[w] += 1
    solve_s = time.perf_counter() - t0
    return _result(p, worker_of, solve_s, "greedy" if use_load else "greedy_travel")


def evaluate(
    travel_s: ArrayLike,
    worker_of: ArrayLike,
    *,
    open_tasks: ArrayLike,
    load_penalty_s: float = DEFAULT_LOAD_PENALTY_S,
    worker_ids: ArrayLike | None = None,
) -> BatchAssignment:
    """The cost of a given assignment (e.g. the current one) by :func:`assign_batch`'s objective.

    Parameters
    ----------
    travel_s : array_like, shape (n_incidents, n_workers)
        Seconds from each worker to each incident.
    worker_of : array_like of int, shape (n_incidents,)
        Per incident, the worker's column in ``travel_s``, or -1 for none.
    open_tasks : array_like of int, shape (n_workers,)
        Open tasks of each worker besides these incidents.
    load_penalty_s : float, default 600
        Seconds of travel one task of load weighs.
    worker_ids : array_like of int, shape (n_workers,), optional
        Ids reported in ``worker_of`` of the result; default the column indices.

    Returns
    -------
    BatchAssignment
        With ``method="given"``; ``cost`` is ``inf`` if a given pair is unreachable.

    Raises
    ------
    DispatchInputError
        On inconsistent shapes or a column out of range.
    """
    travel = np.asarray(travel_s, dtype=np.float64)
    given = np.asarray(worker_of, dtype=np.int64).ravel()
    n, m = travel.shape if travel.ndim == 2 else (0, 0)
    if travel.ndim == 2 and (given.shape != (n,) or np.any((given < -1) | (given >= m))):
        raise DispatchInputError(
            f"worker_of needs one column (0..{m - 1}) or -1 per incident ({n}); "
            f"got {given.size} values"
        )
    load = np.bincount(given[given >= 0], minlength=m) if travel.ndim == 2 else given[:0]
    p = _problem(travel, load, open_tasks, load_penalty_s, None, worker_ids)  # checks the rest
    return _result(p, np.where(given >= 0, given, NO_WORKER), 0.0, "given")
