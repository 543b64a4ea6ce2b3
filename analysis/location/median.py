"""The p-median: heuristic, Lagrangian bound and exact radius model, within one time limit."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from analysis.location.base import (
    EMPTY,
    BoolArray,
    FloatArray,
    IntArray,
    LocationResult,
    Pairs,
    SiteSets,
    check_limits,
    check_p,
    check_unserved,
    demand_weights,
    relative_gap,
    site_load,
    time_pairs,
)
from analysis.location.median_problem import MedianProblem


def p_median(
    times: Any,
    weights: ArrayLike,
    p: int,
    *,
    fixed: Iterable[int] | ArrayLike = (),
    excluded: Iterable[int] | ArrayLike = (),
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
    unserved_s: float | None = None,
    threads: int | None = None,
) -> LocationResult:
    """p-median: the ``p`` new sites that make the total weighted walk to the nearest shortest.

    Each demand walks to its nearest open site (fixed or new); the objective is
    ``Σ_i w_i · time(i, nearest open site)``, seconds.  Demand no allowed site reaches
    is listed in :attr:`LocationResult.uncoverable` and left out.  Solved by the
    heuristic, Lagrangian and radius-formulation steps of the Notes below; times
    are used as given (not rounded).  When the time limit stops the search the answer
    is the best found and ``gap`` says how far from optimal it can be at most.

    Parameters
    ----------
    times : scipy.sparse matrix or array_like, shape (n_demand, n_sites)
        Walking times, seconds; sparse: stored entries are the reachable pairs (a
        stored 0 is 0 s); dense: ``inf`` for unreachable.
    weights : array_like of float, shape (n_demand,)
        Nonnegative demand weights.
    p : int
        Number of new sites to open (at most; more never lengthens a walk).
    fixed, excluded : sequence of int
        Existing sites (always open, not counted in ``p``) and sites that may not be
        opened.
    time_limit : float
        Seconds for the whole call (heuristic and solver).
    mip_gap : float
        Relative gap at which the answer is accepted as optimal.
    unserved_s : float, optional
        When the matrix is sparse (a walking-time cut-off), ``p`` sites may not reach
        every demand.  By default every reachable demand must be served, and the model
        is infeasible when no ``p`` sites reach them all; with ``unserved_s`` a demand
        left unserved counts this many seconds instead (and sites farther than that are
        ignored), so an answer always exists.
    threads : int, optional
        HiGHS threads.

    Returns
    -------
    LocationResult
        ``objective`` is the total weighted walking time, seconds (with ``unserved_s``,
        unserved demand counted at that time).

    Raises
    ------
    LocationError
        On bad input (shapes, indices, negative or NaN weights or times, p out of range).

    Notes
    -----
    Solved in four steps, each within a share of the time limit: a greedy answer
    improved by vertex substitution (Teitz–Bart interchange), vectorised over demand ×
    sites; the Lagrangian relaxation of the assignment rows, by subgradient steps over
    only the pairs in reach, for a lower bound as strong as the LP's and to fix sites
    that cannot be in any better answer (Beasley 1993); interchange again from the
    Lagrangian answers; then, while the gap is open, the exact model on the sites left,
    in the radius formulation of Elloumi (2010) instead of the classic one with a
    variable per demand-site pair: for each demand its distinct times ``D¹ < D² < …``
    and a variable ``z^k`` = "no open site within ``D^k``", so that its walk is
    ``D¹ + Σ_k (D^{k+1} − D^k) z^k``.  Its rows are kept only up to the rank at which
    the incumbent serves each demand; this truncated model is a relaxation, so its
    bound is valid, and when its answer serves every demand within the kept ranks it is
    exact; otherwise the ranks are extended and it is solved again (García, Labbé &
    Marín 2011).  Times are used as given (no rounding).  The heuristics hold demand ×
    sites arrays (after merging identical demand), about 8 bytes × demand × sites each.

    References
    ----------
    Teitz & Bart (1968), Heuristic methods for estimating the generalized vertex median
    of a weighted graph.  Beasley (1993), Lagrangean heuristics for location problems,
    EJOR 65.  Elloumi (2010), A tighter formulation of the p-median problem, J. Comb.
    Optim. 19.  García, Labbé & Marín (2011), Solving large p-median problems with a
    radius formulation, INFORMS J. Comput.
    """
    start = time.perf_counter()
    pairs = time_pairs(times, "times")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    w = demand_weights(weights, n_demand, "weights", "the rows of times")
    sites = SiteSets.of(n_sites, fixed, excluded)
    p = check_p(p, sites)
    check_limits(time_limit, mip_gap)
    penalty = check_unserved(unserved_s)
    deadline = start + 0.97 * float(time_limit)  # the rest for packaging the answer

    prob = MedianProblem.build(pairs, w, sites, penalty)
    status, bound, note = "optimal", prob.offset, ""
    best = np.zeros(prob.n_cols, dtype=bool)
    if prob.n_groups:
        limit = float(time_limit)
        best = _greedy_interchange(prob, p, start + 0.15 * limit)
        lag = _lagrangian(prob, p, best, start + 0.45 * limit, mip_gap)
        lag = _improve(prob, p, lag, start + 0.75 * limit, mip_gap)
        best, best_cost, bound = lag.best, lag.best_cost, lag.bound
        status = "optimal" if relative_gap(best_cost, bound) <= mip_gap else "time_limit"
        if status != "optimal":
            status, best, best_cost, bound, note = _solve_reduced(
                prob, p, lag, deadline, mip_gap, threads
            )
        if status != "infeasible" and not np.isfinite(best_cost):
            status = "time_limit"
            note = (
                "The time limit stopped the search before any answer serving every "
                "reachable demand point was found: allow more time or pass unserved_s."
            )
        elif status != "infeasible":
            best = _drop_useless_median(prob, best)
    return _median_result(
        "p_median", prob, pairs, w, sites, p, status, best, bound, start, note=note
    )


# ---------------------------------------------------------------------- heuristics
def _greedy_interchange(prob: MedianProblem, p: int, deadline: float) -> BoolArray:
    """Greedy add (the site that shortens the walk most, ``p`` times), then interchange."""
    d = prob.dense
    w = prob.group_w
    cap = np.where(np.isfinite(prob.cap), prob.cap, prob.big)
    n_cols = prob.n_cols
    open_cols = np.zeros(n_cols, dtype=bool)
    current = cap.copy()
    for _ in range(min(p, n_cols)):
        totals = w @ np.minimum(d, current[:, None])
        totals[open_cols] = np.inf
        j = int(np.argmin(totals))
        now = float(w @ current)
        if not totals[j] < now - 1e-9 * max(1.0, abs(now)):
            break
        open_cols[j] = True
        current = np.minimum(current, d[:, j])
    return _interchange(prob, open_cols, deadline)


def _interchange(prob: MedianProblem, open_cols: BoolArray, deadline: float) -> BoolArray:
    """Best-improvement vertex substitution (Teitz–Bart) from ``open_cols``, vectorised.

    Each round prices every swap (close r, open c) at once from each demand's nearest
    and second-nearest open site, and makes the best one while it shortens the walk.
    """
    d = prob.dense
    w = prob.group_w
    cap = np.where(np.isfinite(prob.cap), prob.cap, prob.big)
    n_cols = prob.n_cols
    open_cols = open_cols.copy()
    while time.perf_counter() < deadline and 0 < open_cols.sum() < n_cols:
        chosen = np.flatnonzero(open_cols)
        options = np.column_stack([d[:, chosen], cap])
        nearest = np.argmin(options, axis=1)
        d1 = options[np.arange(len(w)), nearest]
        d2 = np.partition(options, 1, axis=1)[:, 1] if options.shape[1] > 1 else d1
        base = float(w @ d1)
        gain_add = w @ np.minimum(d, d1[:, None])  # cost with column c added
        lose = w[:, None] * (np.minimum(d, d2[:, None]) - np.minimum(d, d1[:, None]))
        owner = np.where(nearest < len(chosen), nearest, len(chosen))
        by_removed = np.zeros((len(chosen) + 1, n_cols))
        np.add.at(by_removed, owner, lose)
        swap = gain_add[None, :] + by_removed[: len(chosen)]
        swap[:, open_cols] = np.inf
        r, c = np.unravel_index(int(np.argmin(swap)), swap.shape)
        if not swap[r, c] < base - 1e-9 * max(1.0, abs(base)):
            break
        open_cols[chosen[r]] = False
        open_cols[c] = True
    return open_cols


# ---------------------------------------------------------------------- Lagrangian bound
@dataclass(frozen=True, eq=False)
class _Lagrange:
    """What the Lagrangian relaxation proved: a bound, and sites closed or open for sure."""

    bound: float
    best: BoolArray
    best_cost: float
    closed: BoolArray  # every answer with the site open costs at least ``upper``
    forced: BoolArray  # every answer with the site closed costs at least ``upper``
    upper: float  # the incumbent cost the fixing was measured against
    lam: FloatArray  # the multipliers of the best bound
    trials: list[BoolArray]  # Lagrangian answers, latest last (starts for interchange)


class _LagrangeTerms:
    """Evaluates ``L(λ)`` of a p-median from the pairs in reach (see :func:`_lagrangian`)."""

    def __init__(self, prob: MedianProblem, p: int) -> None:
        self.prob, self.k = prob, min(p, prob.n_cols)
        row, value = prob.row, prob.value
        self.span = float(value.max()) + 1.0 if len(value) else 1.0
        self.key = row * self.span + value  # sorted: pairs are in (group, time) order
        self.ids = np.arange(prob.n_groups)
        self.group_start = np.searchsorted(row, self.ids)
        group_end = np.searchsorted(row, self.ids, side="right")
        last_time = np.where(group_end > self.group_start, value[np.maximum(group_end - 1, 0)], 0.0)
        w = prob.group_w
        with np.errstate(invalid="ignore"):
            self.w_cap = np.where(np.isfinite(prob.cap), w * prob.cap, np.inf)
        self.lam_max = w * np.where(np.isfinite(prob.cap), prob.cap, last_time)

    def __call__(self, lam: FloatArray) -> tuple[float, FloatArray, IntArray, IntArray, IntArray]:
        """Bound, ρ per site, the Lagrangian answer, and the group and site of pairs in reach."""
        prob, w = self.prob, self.prob.group_w
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.where(w > 0, lam / w, 0.0)
        ends = np.maximum(np.searchsorted(self.key, self.ids * self.span + reach), self.group_start)
        lengths = ends - self.group_start
        grp = np.repeat(self.ids, lengths)
        first = np.repeat(np.cumsum(lengths) - lengths, lengths)
        idx = np.arange(int(lengths.sum())) - first + self.group_start[grp]
        gain = w[grp] * prob.value[idx] - lam[grp]  # < 0 for the pairs in reach
        site = prob.col[idx]
        rho = np.bincount(site, weights=gain, minlength=prob.n_cols).astype(np.float64)
        k, n_cols = self.k, prob.n_cols
        chosen = np.argpartition(rho, k - 1)[:k] if k < n_cols else np.arange(n_cols)
        chosen = chosen[rho[chosen] < 0]
        bound = float(lam.sum() + np.minimum(self.w_cap - lam, 0.0).sum() + rho[chosen].sum())
        return bound + prob.offset, rho, chosen.astype(np.int64), grp, site

    def fixing(
        self, bound: float, rho: FloatArray, chosen: IntArray, upper: float
    ) -> tuple[BoolArray, BoolArray]:
        """Sites that must stay closed / open in any answer cheaper than ``upper``.

        Forcing a site outside the Lagrangian answer open (it replaces the answer's worst)
        or one inside it closed (the best outside one takes its place) lifts the bound;
        when that reaches ``upper`` the site is fixed (Beasley 1993).
        """
        n_cols = self.prob.n_cols
        in_answer = np.zeros(n_cols, dtype=bool)
        in_answer[chosen] = True
        if not np.isfinite(upper):
            return np.zeros(n_cols, dtype=bool), np.zeros(n_cols, dtype=bool)
        kth = min(float(rho[chosen].max()), 0.0) if len(chosen) == self.k else 0.0
        outside = rho[~in_answer]
        next_best = min(float(outside.min()), 0.0) if len(outside) else 0.0
        margin = upper - 1e-9 * max(1.0, abs(upper))
        closed = ~in_answer & (bound - kth + rho >= margin)
        forced = in_answer & (bound - rho + next_best >= margin)
        return closed, forced


def _lagrangian(
    prob: MedianProblem, p: int, best: BoolArray, deadline: float, mip_gap: float
) -> _Lagrange:
    """Lagrangian bound of the p-median by subgradient optimisation, and variable fixing.

    The assignment rows ``Σ_j x_ij + u_i = 1`` (``u_i``: walk to the cap) are relaxed
    with multipliers ``λ_i``: ``L(λ) = Σ λ_i + Σ min(0, w_i c_i − λ_i) + Σ_{p smallest}
    ρ_j`` with ``ρ_j = Σ_i min(0, w_i t_ij − λ_i)``, a lower bound for every ``λ``
    (equal to the LP bound at its best).  Only the pairs with ``w_i t_ij < λ_i`` count,
    a prefix of each demand's sorted pairs, so an iteration costs the pairs in reach,
    not demand × sites.  Sites are fixed open or closed on the way
    (:meth:`_LagrangeTerms.fixing`), which shrinks the exact model handed to HiGHS, and
    the Lagrangian answers (the ``p`` sites of smallest ``ρ``) are kept as incumbents
    and as starts for interchange.
    """
    terms = _LagrangeTerms(prob, p)
    n_cols, w = prob.n_cols, prob.group_w
    best_cost = prob.cost(best)
    lam = np.minimum(w * prob.walk(best), terms.lam_max)
    best_lam = lam
    closed = np.zeros(n_cols, dtype=bool)
    forced = np.zeros(n_cols, dtype=bool)
    trials: list[BoolArray] = []
    best_bound, theta, stale, iteration = -np.inf, 2.0, 0, 0
    while terms.k > 0 and time.perf_counter() < deadline:
        iteration += 1
        bound, rho, chosen, grp, site = terms(lam)
        if not np.isfinite(best_bound) or bound > best_bound + 1e-12 * abs(best_bound):
            best_bound, best_lam, stale = bound, lam, 0
        else:
            stale += 1
            if stale >= 40:
                theta, stale = theta / 2, 0
        if iteration % 10 == 1 and len(chosen):
            trial = np.zeros(n_cols, dtype=bool)
            trial[chosen] = True
            trials.append(trial)
            trial_cost = prob.cost(trial)
            if trial_cost < best_cost:
                best, best_cost = trial, trial_cost
        now_closed, now_forced = terms.fixing(bound, rho, chosen, best_cost)
        closed |= now_closed
        forced |= now_forced
        upper = best_cost if np.isfinite(best_cost) else abs(bound) * 1.1 + 1.0
        if best_bound >= upper * (1 - mip_gap) or theta < 1e-3:
            break
        in_answer = np.zeros(n_cols, dtype=bool)
        in_answer[chosen] = True
        covered = np.bincount(grp[in_answer[site]], minlength=prob.n_groups)
        direction = 1.0 - covered - (terms.w_cap < lam)
        norm = float(direction @ direction)
        if norm == 0:
            break
        lam = np.clip(lam + theta * (upper - bound) / norm * direction, 0.0, terms.lam_max)
    return _Lagrange(
        bound=max(best_bound, prob.offset) if np.isfinite(best_bound) else prob.offset,
        best=best,
        best_cost=best_cost,
        closed=closed & ~forced,
        forced=forced & ~closed,
        upper=best_cost,
        lam=best_lam,
        trials=trials,
    )


def _improve(
    prob: MedianProblem, p: int, lag: _Lagrange, deadline: float, mip_gap: float
) -> _Lagrange:
    """Interchange from the Lagrangian answers (latest first) while time allows, then refix.

    Greedy + interchange alone stops in the first local optimum; the Lagrangian answers
    are spread over other basins.  A better incumbent lets the fixing at the best
    multipliers close (or open) more sites.
    """
    best, best_cost = lag.best, lag.best_cost
    seen: set[bytes] = set()
    misses = 0
    for trial in reversed(lag.trials):
        if time.perf_counter() >= deadline or relative_gap(best_cost, lag.bound) <= mip_gap:
            break
        if trial.tobytes() in seen:
            continue
        seen.add(trial.tobytes())
        found = _interchange(prob, trial, deadline)
        cost = prob.cost(found)
        if cost < best_cost:
            best, best_cost, misses = found, cost, 0
        else:
            misses += 1
            if misses >= 12:  # the basins near the Lagrangian answers look exhausted
                break
    if best_cost >= lag.best_cost:
        return lag
    terms = _LagrangeTerms(prob, p)
    bound, rho, chosen, _, _ = terms(lag.lam)
    closed, forced = terms.fixing(bound, rho, chosen, best_cost)
    closed |= lag.closed
    forced |= lag.forced
    return _Lagrange(
        bound=lag.bound,
        best=best,
        best_cost=best_cost,
        closed=closed & ~forced,
        forced=forced & ~closed,
        upper=best_cost,
        lam=lag.lam,
        trials=lag.trials,
    )


# ---------------------------------------------------------------------- exact solve and the answer
def _solve_reduced(
    prob: MedianProblem,
    p: int,
    lag: _Lagrange,
    deadline: float,
    mip_gap: float,
    threads: int | None,
) -> tuple[str, BoolArray, float, float, str]:
    """Solve the radius model over the sites the Lagrangian fixing left open to choice.

    Returns status, the best answer (original columns), its cost, the proven bound and
    a note.  Answers excluded by the fixing cost at least ``lag.upper``, so the bound is
    ``min(bound of the reduced model, lag.upper)``.
    """
    best, best_cost = lag.best, lag.best_cost
    red, keep_cols = prob.reduced(lag.closed, lag.forced)
    p_red = p - int(lag.forced.sum())

    infeasible_note = (
        f"No choice of {p} new site{'s' if p != 1 else ''} reaches every demand point "
        "that some allowed site reaches: raise p, add fixed sites, or pass unserved_s to "
        "let demand go unserved at a cost."
    )

    def lift(y: BoolArray) -> BoolArray:
        full = lag.forced.copy()
        full[keep_cols[y]] = True
        return full

    if red.n_cols == 0 or p_red <= 0 or red.n_groups == 0 or not np.any(red.group_w > 0):
        only = lift(np.zeros(red.n_cols, dtype=bool))
        cost = prob.cost(only)
        if cost < best_cost:
            best, best_cost = only, cost
        if not np.isfinite(best_cost):
            return "infeasible", best, best_cost, float("nan"), infeasible_note
        return "optimal", best, best_cost, best_cost, ""
    consistent = np.array_equal(best & (lag.forced | lag.closed), lag.forced)
    start_y = best[keep_cols] if consistent else np.zeros(red.n_cols, dtype=bool)
    start_cost = red.cost(start_y) if consistent else float("inf")
    ranks = red.ranks_served(start_y if consistent else np.ones(red.n_cols, dtype=bool))
    # some room beyond the incumbent's ranks saves rounds of extension; the whole model
    # (every rank) is far slower for HiGHS than a few truncated rounds
    ranks = np.minimum(np.maximum(red.n_ranks, 1), ranks + ranks // 2 + 2)
    bounds = [lag.bound]
    while True:
        mip = red.solve_radius(ranks, p_red, start_y, start_cost, deadline, mip_gap, threads)
        if mip.status == "infeasible":
            if np.isfinite(best_cost):  # nothing beats the incumbent
                return "optimal", best, best_cost, best_cost, ""
            return "infeasible", best, best_cost, float("nan"), infeasible_note
        y_red = mip.x[: red.n_cols] > 0.5 if mip.x is not None else start_y
        if mip.x is not None:
            cost_y = prob.cost(lift(y_red))
            if cost_y < best_cost:
                best, best_cost = lift(y_red), cost_y
                start_y, start_cost = y_red, red.cost(y_red)
        if np.isfinite(mip.bound):
            bounds.append(min(mip.bound, lag.upper))
        bound = max(bounds)
        if relative_gap(best_cost, bound) <= mip_gap + 1e-12:
            return "optimal", best, best_cost, bound, ""
        if mip.status != "optimal" or time.perf_counter() >= deadline:
            return "time_limit", best, best_cost, bound, ""
        # the truncated model is solved but its answer walks some demand beyond the kept
        # ranks: keep more ranks for those and solve again
        served = red.ranks_served(y_red)
        beyond = served > ranks
        wider = ranks.copy()
        wider[beyond] = served[beyond] + served[beyond] // 2 + 2
        wider = np.minimum(np.maximum(red.n_ranks, 1), wider)
        if np.array_equal(wider, ranks):
            wider = np.minimum(np.maximum(red.n_ranks, 1), ranks * 2)
        if np.array_equal(wider, ranks):  # every rank kept: the model was exact
            return "optimal", best, best_cost, min(best_cost, max(bounds)), ""
        ranks = wider


def _drop_useless_median(prob: MedianProblem, open_cols: BoolArray) -> BoolArray:
    """Close new sites whose closing lengthens no walk."""
    keep = open_cols.copy()
    base = prob.cost(keep)
    for j in np.flatnonzero(open_cols)[::-1]:
        keep[j] = False
        if not prob.cost(keep) <= base:
            keep[j] = True
    return keep


def _median_result(
    model: str,
    prob: MedianProblem,
    pairs: Pairs,
    w: FloatArray,
    sites: SiteSets,
    p: int,
    status: str,
    open_cols: BoolArray,
    bound: float,
    start: float,
    *,
    note: str = "",
) -> LocationResult:
    """Assign every demand to its nearest open site and package the answer."""
    n_demand = pairs.n_rows
    chosen = prob.site_of_col[open_cols] if status != "infeasible" else EMPTY
    open_sites = np.union1d(sites.fixed, chosen).astype(np.int64)
    is_open = np.zeros(pairs.n_cols, dtype=bool)
    is_open[open_sites] = True
    hit = pairs.subset(is_open[pairs.col])
    if not prob.must_serve:
        hit = hit.subset(hit.value <= prob.penalty)
    assignment = np.full(n_demand, -1, dtype=np.int64)
    best_t = np.full(n_demand, np.inf)
    if len(hit.row):
        order = np.lexsort((hit.col, hit.value, hit.row))
        first = np.ones(len(order), dtype=bool)
        first[1:] = hit.row[order][1:] != hit.row[order][:-1]
        assignment[hit.row[order][first]] = hit.col[order][first]
        best_t[hit.row[order][first]] = hit.value[order][first]
    covered = assignment >= 0
    if status == "infeasible":
        objective = bound = gap = float("nan")
        assignment[:] = -1
        covered[:] = False
    else:
        positive = w > 0
        served = covered & positive
        objective = float((w[served] * best_t[served]).sum())
        if not prob.must_serve:
            lost = positive & ~covered
            lost[prob.uncoverable] = False
            objective += float(w[lost].sum() * prob.penalty)
        bound = min(bound, objective) if np.isfinite(bound) else bound
        gap = relative_gap(objective, bound)
    return LocationResult(
        model=model,
        status=status,
        objective=objective,
        bound=float(bound),
        gap=gap,
        sites=np.sort(chosen).astype(np.int64),
        open_sites=open_sites,
        assignment=assignment,
        covered=covered,
        uncoverable=prob.uncoverable,
        solve_s=time.perf_counter() - start,
        p=p,
        fixed=sites.fixed,
        excluded=sites.excluded,
        total_weight=float(w.sum()),
        served_weight=float(w[covered].sum()),
        load=site_load(assignment, w, pairs.n_cols),
        note=note,
    )
