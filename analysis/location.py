"""Exact facility location-allocation: where the next clinic, elder-care home or park goes.

Street-office planners (街道规划) ask two kinds of question about new facilities:

- *coverage*: how few sites put everyone within the walking standard (a 15-minute life
  circle, 15分钟生活圈) — the **location set covering problem** (:func:`lscp`) — or, with
  a budget of ``p`` sites, how many people can be put within it — the **maximal
  covering location problem** (:func:`mclp`);
- *access*: with ``p`` sites, how short can the total walk be — the **p-median
  problem** (:func:`p_median`), and the same when each site can only take so many
  people (:func:`capacitated_p_median`).

Every model is solved exactly with the HiGHS MIP solver (``highspy``; the p-median
with a Lagrangian bound and heuristics around it, see below): the answer says
whether it is proven optimal (``status="optimal"``), or the best found when the time
limit stopped the search (``status="time_limit"``, with the proven ``bound`` and
``gap``), or that no answer exists (``status="infeasible"``, with the reason in
:meth:`LocationResult.explain`).  Models are built directly as sparse column arrays
and handed to HiGHS in one call, never row by row.

Inputs
------
Walking times
    Seconds, demand × candidate site, either a :mod:`scipy.sparse` matrix or array
    holding only the reachable pairs (a missing entry is *unreachable*, a stored 0 is
    0 s) or a dense array with ``inf`` for unreachable.  Build the sparse form from
    ``(data, (row, col))``: ``csr_matrix(dense)`` drops the zeros, which would make a
    demand point standing on a site unreachable from it.  Coverage models take a
    boolean *cover* matrix instead (True: the site serves the demand within the
    standard; see :func:`cover_matrix`).
Weights
    Nonnegative demand weights (people, elderly residents, households).
Fixed and excluded sites
    ``fixed`` sites are existing facilities: always open, never counted in ``p``.
    ``excluded`` sites may not be chosen (land not available, residents oppose an elder
    day-care centre there — 邻避).

How the models are kept small
-----------------------------
- Demand points with identical rows (the same sites at the same times) are merged and
  their weights summed; demand served by a fixed site is settled before the model.
- In the covering models a site that covers a subset of what another covers is dropped
  (swapping it for the other never loses cover), and rows are merged again.
- :func:`p_median` is solved in four steps, each within a share of the time limit:
  a greedy answer improved by vertex substitution (Teitz–Bart interchange), vectorised
  over demand × sites; the Lagrangian relaxation of the assignment rows, by subgradient
  steps over only the pairs in reach, for a lower bound as strong as the LP's and to fix
  sites that cannot be in any better answer (Beasley 1993); interchange again from the
  Lagrangian answers; then, while the gap is open, the exact model on the sites left,
  in the radius formulation of Elloumi (2010) instead of the classic one with a variable
  per demand-site pair: for each demand its distinct times ``D¹ < D² < …`` and a
  variable ``z^k`` = "no open site within ``D^k``", so that its walk is
  ``D¹ + Σ_k (D^{k+1} − D^k) z^k``.  Its rows are kept only up to the rank at which the
  incumbent serves each demand; this truncated model is a relaxation, so its bound is
  valid, and when its answer serves every demand within the kept ranks it is exact;
  otherwise the ranks are extended and it is solved again (García, Labbé & Marín 2011).
  Times are used as given (no rounding).  The heuristics hold demand × sites arrays
  (after merging identical demand), about 8 bytes × demand × sites each.

References
----------
Church & ReVelle (1974), The maximal covering location problem.  Teitz & Bart (1968),
Heuristic methods for estimating the generalized vertex median of a weighted graph.
Beasley (1993), Lagrangean heuristics for location problems, EJOR 65.  Elloumi (2010), A
tighter formulation of the p-median problem, J. Comb. Optim. 19.  García, Labbé & Marín
(2011), Solving large p-median problems with a radius formulation, INFORMS J. Comput.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Model names, as in :attr:`LocationResult.model`.
MODELS = ("lscp", "mclp", "p_median", "capacitated_p_median")
#: Human names of the models, for :meth:`LocationResult.explain`.
MODEL_NAMES = {
    "lscp": "Set covering (LSCP: fewest new sites that put all demand within the standard)",
    "mclp": "Maximal covering (MCLP: most demand within the standard with p new sites)",
    "p_median": "p-median (shortest total weighted walk with p new sites)",
    "capacitated_p_median": (
        "Capacitated p-median (shortest total weighted walk with p new sites, "
        "no site over its capacity)"
    ),
}
_EMPTY = np.zeros(0, dtype=np.int64)


class LocationError(ValueError):
    """The location model was given bad input; the message says what and how to fix it."""


@dataclass(frozen=True, eq=False)
class LocationResult:
    """The answer of a location model: which sites to open and whom they serve.

    Attributes
    ----------
    model : str
        ``"lscp"``, ``"mclp"``, ``"p_median"`` or ``"capacitated_p_median"``.
    status : str
        ``"optimal"`` (proven within the requested gap), ``"time_limit"`` (the best
        answer found when the time limit stopped the search; not proven) or
        ``"infeasible"`` (no answer satisfies the constraints; see :meth:`explain`).
    objective : float
        LSCP: number of new sites; MCLP: demand weight covered (including what the
        fixed sites cover); p-median: total weighted walking time, seconds (demand
        no allowed site reaches is left out).  ``nan`` when infeasible.
    bound : float
        Best proven bound on the objective (the dual bound): a lower bound for LSCP
        and the p-medians, an upper bound for MCLP.
    gap : float
        Relative gap ``|objective − bound| / max(|objective|, |bound|)``; 0.0 when the
        bound meets the objective, at most the requested ``mip_gap`` when optimal.
    sites : numpy.ndarray of int64
        Chosen *new* site indices (sorted); fixed sites are not included.
    open_sites : numpy.ndarray of int64
        Fixed and new sites, sorted.
    assignment : numpy.ndarray of int64
        Per demand point: the serving site, -1 when not served (uncovered or
        unreachable).  Coverage models without ``times`` take the lowest-index open
        site that covers the demand; capacitated p-median takes the site with the
        largest share of it.
    covered : numpy.ndarray of bool
        Per demand point: LSCP/MCLP — within the standard of an open site; p-median —
        reaches an open site.
    uncoverable : numpy.ndarray of int64
        Demand points no allowed (non-excluded) site can reach: whatever is opened,
        they stay unserved (the reason an LSCP cannot cover everyone).
    solve_s : float
        Wall time of the whole call, seconds.
    p : int
        The number of new sites allowed (LSCP: the number used).
    fixed : numpy.ndarray of int64
        The fixed (existing) sites, sorted.
    excluded : numpy.ndarray of int64
        The excluded sites, sorted.
    total_weight : float
        Sum of all demand weights.
    served_weight : float
        Demand weight covered (LSCP/MCLP) or served by an open site (p-medians).
    load : numpy.ndarray of float64
        Demand weight each site serves (all sites; 0 for closed ones).
    note : str
        Extra words of the solver (why the model is infeasible, what was assumed).
    """

    model: str
    status: str
    objective: float
    bound: float
    gap: float
    sites: IntArray
    open_sites: IntArray
    assignment: IntArray
    covered: BoolArray
    uncoverable: IntArray
    solve_s: float
    p: int = 0
    fixed: IntArray = field(default_factory=lambda: _EMPTY.copy())
    excluded: IntArray = field(default_factory=lambda: _EMPTY.copy())
    total_weight: float = 0.0
    served_weight: float = 0.0
    load: FloatArray = field(default_factory=lambda: np.zeros(0))
    note: str = ""

    def explain(self) -> str:
        """One paragraph in plain words: what was opened, whom it serves, how sure it is."""
        words = [MODEL_NAMES.get(self.model, self.model) + "."]
        if self.status == "infeasible":
            words.append("No answer meets the constraints.")
            if self.note:
                words.append(self.note)
            return " ".join(words)
        n_new = len(self.sites)
        opened = (
            f"{n_new} new site{'s' if n_new != 1 else ''} opened ({_list(self.sites)})"
            if n_new
            else "no new site opened"
        )
        if len(self.fixed):
            opened += (
                f" besides {len(self.fixed)} existing one{'s' if len(self.fixed) != 1 else ''}"
            )
        if self.model in ("mclp", "p_median", "capacitated_p_median") and n_new < self.p:
            opened += f" ({n_new} of the {self.p} allowed: more would not improve the answer)"
        words.append(opened[0].upper() + opened[1:] + ".")
        share = self.served_weight / self.total_weight if self.total_weight > 0 else 1.0
        if self.model in ("lscp", "mclp"):
            words.append(
                f"They put {_num(self.served_weight)} of {_num(self.total_weight)} demand weight "
                f"({share:.1%}) within the standard."
            )
        else:
            mean = self.objective / self.served_weight if self.served_weight > 0 else 0.0
            words.append(
                f"They serve {_num(self.served_weight)} of {_num(self.total_weight)} demand "
                f"weight ({share:.1%}); total weighted walk {_num(self.objective)} s, "
                f"{mean / 60:.1f} min on average."
            )
        if self.status == "optimal":
            words.append(
                "Proven optimal."
                if self.gap <= 1e-9
                else f"Proven optimal within {self.gap:.2%} (the requested gap)."
            )
        else:
            words.append(
                f"The solver stopped at its time limit: this is the best answer found, not "
                f"proven optimal; the optimum is at most {self.gap:.2%} better "
                f"(bound {_num(self.bound)})."
            )
        coverage = self.model in ("lscp", "mclp")
        if len(self.uncoverable):
            one = len(self.uncoverable) == 1
            where = (
                f"{'is' if one else 'are'} within the standard of no allowed site"
                if coverage
                else "can reach no allowed site"
            )
            words.append(
                f"{len(self.uncoverable)} demand point{'' if one else 's'} "
                f"({_list(self.uncoverable)}) {where} and {'stays' if one else 'stay'} "
                f"unserved whatever is opened: add or allow a candidate site near "
                f"{'it' if one else 'them'}."
            )
        unserved = np.flatnonzero(~self.covered)
        unserved = unserved[~np.isin(unserved, self.uncoverable)]
        if len(unserved) and self.model != "lscp":
            one = len(unserved) == 1
            where = (
                f"{'is' if one else 'are'} within the standard of an allowed site but not of "
                "the sites opened"
                if coverage
                else "can reach an allowed site but none of the sites opened"
            )
            words.append(
                f"{len(unserved)} more demand point{'' if one else 's'} "
                f"({_list(unserved)}) {where}."
            )
        if self.note:
            words.append(self.note)
        return " ".join(words)


# ---------------------------------------------------------------------- public models
def cover_matrix(times: Any, limit_s: float) -> sparse.csr_matrix:
    """Boolean cover matrix from walking times: True where the time is at most ``limit_s``.

    Parameters
    ----------
    times : scipy.sparse matrix or array_like, shape (n_demand, n_sites)
        Walking times, seconds; sparse: stored entries are the reachable pairs (a stored
        0 is 0 s); dense: ``inf`` for unreachable.
    limit_s : float
        The standard, seconds (e.g. 900 for the 15-minute life circle).

    Returns
    -------
    scipy.sparse.csr_matrix of bool
        Stored True exactly where the site serves the demand within the standard.

    Raises
    ------
    LocationError
        If the times are not a 2-D matrix of nonnegative numbers or ``limit_s`` is not a
        nonnegative number.
    """
    if not (isinstance(limit_s, int | float | np.integer | np.floating) and limit_s >= 0):
        raise LocationError(f"limit_s must be a nonnegative number of seconds, got {limit_s!r}")
    if not sparse.issparse(times):
        dense = _dense_times(times, "times")
        return sparse.csr_matrix(dense <= float(limit_s))
    pairs = _time_pairs(times, "times")
    keep = pairs.value <= float(limit_s)
    return sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), (pairs.row[keep], pairs.col[keep])),
        shape=(pairs.n_rows, pairs.n_cols),
    )


def lscp(
    cover: Any,
    *,
    fixed: Iterable[int] | ArrayLike = (),
    excluded: Iterable[int] | ArrayLike = (),
    time_limit: float = 60.0,
    weights: ArrayLike | None = None,
    times: Any = None,
    threads: int | None = None,
) -> LocationResult:
    """Location set covering: the fewest new sites that put all demand within the standard.

    Demand that no allowed site covers (all its covering sites excluded, or none) cannot
    be covered whatever is opened: it is left out, listed in
    :attr:`LocationResult.uncoverable` and named by :meth:`LocationResult.explain`, and
    the rest is solved (status ``"optimal"`` when proven).

    Parameters
    ----------
    cover : scipy.sparse matrix or array_like of bool, shape (n_demand, n_sites)
        True where the site serves the demand within the standard (:func:`cover_matrix`).
    fixed : sequence of int
        Existing sites, always open, not counted.
    excluded : sequence of int
        Sites that may not be opened.
    time_limit : float
        Seconds for the whole call.
    weights : array_like of float, optional
        Demand weights; demand with weight 0 need not be covered.
    times : scipy.sparse matrix or array_like, optional
        Walking times (as for :func:`p_median`), only to assign each demand to its
        nearest covering open site.
    threads : int, optional
        HiGHS threads (default: HiGHS' own choice).

    Returns
    -------
    LocationResult
        ``objective`` is the number of new sites.

    Raises
    ------
    LocationError
        On bad input (shapes, indices, weights, time limit).
    """
    start = time.perf_counter()
    pairs = _cover_pairs(cover, "cover")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    sites = _SiteSets.of(n_sites, fixed, excluded)
    w = (
        np.ones(n_demand)
        if weights is None
        else _weights(weights, n_demand, "weights", "the rows of cover")
    )
    _check_limits(time_limit, 0.0)
    deadline = start + float(time_limit)
    nearest = _nearest_for_assignment(times, n_demand, n_sites)

    allowed_pairs = pairs.subset(sites.allowed[pairs.col])
    coverable = np.zeros(n_demand, dtype=bool)
    coverable[allowed_pairs.row] = True
    uncoverable = np.flatnonzero((w > 0) & ~coverable)
    by_fixed = np.zeros(n_demand, dtype=bool)
    by_fixed[allowed_pairs.row[sites.is_fixed[allowed_pairs.col]]] = True
    need = (w > 0) & coverable & ~by_fixed
    free = allowed_pairs.subset(need[allowed_pairs.row] & sites.is_free[allowed_pairs.col])
    groups = _merge_identical_rows(free, np.flatnonzero(need))
    model_rows, cols, site_of_col = _compress(free, groups)

    status, objective, bound, chosen = "optimal", 0.0, 0.0, _EMPTY
    if groups.n_groups:
        a_rows = sparse.csr_matrix(
            (np.ones(len(model_rows)), (model_rows, cols)),
            shape=(groups.n_groups, len(site_of_col)),
        )
        a_rows, _, site_of_col = _reduce_cover(a_rows, np.ones(groups.n_groups), site_of_col)
        a = a_rows.tocsc()
        start_y = _greedy_set_cover(a_rows)
        mip = _solve(
            cost=np.ones(a.shape[1]),
            col_lower=np.zeros(a.shape[1]),
            col_upper=np.ones(a.shape[1]),
            integral=np.ones(a.shape[1], dtype=bool),
            a=a,
            row_lower=np.ones(a.shape[0]),
            row_upper=np.full(a.shape[0], np.inf),
            maximize=False,
            offset=0.0,
            deadline=deadline,
            mip_gap=1e-9,
            start=start_y.astype(float),
            threads=threads,
        )
        status = mip.status
        y = mip.x if mip.x is not None else start_y.astype(float)
        chosen = site_of_col[y > 0.5]
        objective = float(len(chosen))
        bound = float(np.ceil(mip.bound - 1e-6)) if np.isfinite(mip.bound) else 0.0
        if status == "infeasible":  # cannot happen: every kept row has a free site
            raise RuntimeError("HiGHS reported a coverable set covering model infeasible")
    open_sites = np.union1d(sites.fixed, chosen).astype(np.int64)
    covered, assignment = _cover_assignment(pairs, open_sites, n_demand, nearest)
    return LocationResult(
        model="lscp",
        status=status,
        objective=objective,
        bound=bound,
        gap=_gap(objective, bound),
        sites=np.sort(chosen).astype(np.int64),
        open_sites=open_sites,
        assignment=assignment,
        covered=covered,
        uncoverable=uncoverable,
        solve_s=time.perf_counter() - start,
        p=len(chosen),
        fixed=sites.fixed,
        excluded=sites.excluded,
        total_weight=float(w.sum()),
        served_weight=float(w[covered].sum()),
        load=_load(assignment, w, n_sites),
    )


def mclp(
    cover: Any,
    weights: ArrayLike,
    p: int,
    *,
    fixed: Iterable[int] | ArrayLike = (),
    excluded: Iterable[int] | ArrayLike = (),
    time_limit: float = 60.0,
    mip_gap: float = 1e-7,
    times: Any = None,
    threads: int | None = None,
) -> LocationResult:
    """Maximal covering: the ``p`` new sites that put the most demand within the standard.

    Model (Church & ReVelle 1974): ``y_j`` binary (open site j), ``z_i`` in [0, 1]
    (demand i covered; integral at the optimum), ``Σ_{j covers i} y_j ≥ z_i``,
    ``Σ y ≤ p``, maximise ``Σ w_i z_i``.  Demand covered by a fixed site counts as
    covered and stays out of the model; identical rows are merged.  When fewer than
    ``p`` sites already cover all that can be covered, only those are returned.

    Parameters
    ----------
    cover : scipy.sparse matrix or array_like of bool, shape (n_demand, n_sites)
        True where the site serves the demand within the standard (:func:`cover_matrix`).
    weights : array_like of float, shape (n_demand,)
        Nonnegative demand weights.
    p : int
        Number of new sites to open (at most).
    fixed, excluded : sequence of int
        Existing sites (always open, not counted in ``p``) and sites that may not be
        opened.
    time_limit : float
        Seconds for the whole call.
    mip_gap : float
        Relative gap at which the answer is accepted as optimal.
    times : scipy.sparse matrix or array_like, optional
        Walking times, only to assign each demand to its nearest covering open site.
    threads : int, optional
        HiGHS threads.

    Returns
    -------
    LocationResult
        ``objective`` is the covered demand weight.

    Raises
    ------
    LocationError
        On bad input (shapes, indices, negative or NaN weights, p out of range).
    """
    start = time.perf_counter()
    pairs = _cover_pairs(cover, "cover")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    w = _weights(weights, n_demand, "weights", "the rows of cover")
    sites = _SiteSets.of(n_sites, fixed, excluded)
    p = _check_p(p, sites)
    _check_limits(time_limit, mip_gap)
    deadline = start + float(time_limit)
    nearest = _nearest_for_assignment(times, n_demand, n_sites)

    allowed_pairs = pairs.subset(sites.allowed[pairs.col])
    coverable = np.zeros(n_demand, dtype=bool)
    coverable[allowed_pairs.row] = True
    uncoverable = np.flatnonzero((w > 0) & ~coverable)
    by_fixed = np.zeros(n_demand, dtype=bool)
    by_fixed[allowed_pairs.row[sites.is_fixed[allowed_pairs.col]]] = True
    need = (w > 0) & coverable & ~by_fixed
    offset = float(w[by_fixed].sum())
    free = allowed_pairs.subset(need[allowed_pairs.row] & sites.is_free[allowed_pairs.col])
    groups = _merge_identical_rows(free, np.flatnonzero(need))
    model_rows, cols, site_of_col = _compress(free, groups)
    group_w = np.bincount(groups.group_of[need], weights=w[need], minlength=groups.n_groups).astype(
        np.float64
    )

    status, bound, chosen = "optimal", offset, _EMPTY
    if groups.n_groups and p > 0:
        a_cover = sparse.csr_matrix(
            (np.ones(len(model_rows)), (model_rows, cols)),
            shape=(groups.n_groups, len(site_of_col)),
        )
        a_cover, group_w, site_of_col = _reduce_cover(a_cover, group_w, site_of_col)
        n_z, n_y = a_cover.shape
        # rows: Σ_j a_ij y_j − z_i ≥ 0 ; Σ_j y_j ≤ p
        a = sparse.vstack(
            [
                sparse.hstack([a_cover, -sparse.identity(n_z, format="csr")]),
                sparse.hstack([np.ones((1, n_y)), sparse.csr_matrix((1, n_z))]),
            ],
            format="csc",
        )
        start_y = _greedy_max_cover(a_cover, group_w, p)
        start_z = np.minimum(a_cover @ start_y, 1.0)
        mip = _solve(
            cost=np.concatenate([np.zeros(n_y), group_w]),
            col_lower=np.zeros(n_y + n_z),
            col_upper=np.ones(n_y + n_z),
            integral=np.concatenate([np.ones(n_y, dtype=bool), np.zeros(n_z, dtype=bool)]),
            a=a,
            row_lower=np.concatenate([np.zeros(n_z), [-np.inf]]),
            row_upper=np.concatenate([np.full(n_z, np.inf), [float(p)]]),
            maximize=True,
            offset=offset,
            deadline=deadline,
            mip_gap=mip_gap,
            start=np.concatenate([start_y, start_z]),
            threads=threads,
        )
        status = mip.status
        y = start_y
        if mip.x is not None:  # keep the better of the solver's answer and the greedy one
            solved = (mip.x[:n_y] > 0.5).astype(np.float64)
            if group_w @ np.minimum(a_cover @ solved, 1) >= group_w @ np.minimum(
                a_cover @ start_y, 1
            ):
                y = solved
        keep = _drop_useless(a_cover, group_w, y > 0.5)
        chosen = site_of_col[keep]
        bound = mip.bound if np.isfinite(mip.bound) else float(w[coverable].sum())
    open_sites = np.union1d(sites.fixed, chosen).astype(np.int64)
    covered, assignment = _cover_assignment(pairs, open_sites, n_demand, nearest)
    objective = float(w[covered].sum())
    bound = max(bound, objective)
    if status == "optimal" or _gap(objective, bound) <= mip_gap:
        status = "optimal"
    return LocationResult(
        model="mclp",
        status=status,
        objective=objective,
        bound=float(bound),
        gap=_gap(objective, bound),
        sites=np.sort(chosen).astype(np.int64),
        open_sites=open_sites,
        assignment=assignment,
        covered=covered,
        uncoverable=uncoverable,
        solve_s=time.perf_counter() - start,
        p=p,
        fixed=sites.fixed,
        excluded=sites.excluded,
        total_weight=float(w.sum()),
        served_weight=objective,
        load=_load(assignment, w, n_sites),
    )


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
    heuristic, Lagrangian and radius-formulation steps of the module docstring; times
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
    """
    start = time.perf_counter()
    pairs = _time_pairs(times, "times")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    w = _weights(weights, n_demand, "weights", "the rows of times")
    sites = _SiteSets.of(n_sites, fixed, excluded)
    p = _check_p(p, sites)
    _check_limits(time_limit, mip_gap)
    penalty = _check_unserved(unserved_s)
    deadline = start + 0.97 * float(time_limit)  # the rest for packaging the answer

    prob = _MedianProblem.build(pairs, w, sites, penalty)
    status, bound, note = "optimal", prob.offset, ""
    best = np.zeros(prob.n_cols, dtype=bool)
    if prob.n_groups:
        limit = float(time_limit)
        best = _greedy_interchange(prob, p, start + 0.15 * limit)
        lag = _lagrangian(prob, p, best, start + 0.45 * limit, mip_gap)
        lag = _improve(prob, p, lag, start + 0.75 * limit, mip_gap)
        best, best_cost, bound = lag.best, lag.best_cost, lag.bound
        status = "optimal" if _gap(best_cost, bound) <= mip_gap else "time_limit"
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


def capacitated_p_median(
    times: Any,
    weights: ArrayLike,
    capacity: ArrayLike | float,
    p: int,
    *,
    fixed: Iterable[int] | ArrayLike = (),
    excluded: Iterable[int] | ArrayLike = (),
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
    unserved_s: float | None = None,
    threads: int | None = None,
) -> LocationResult:
    """p-median with site capacities: demand may be split between sites.

    Model: ``y_j`` binary, ``x_ij ≥ 0`` the share of demand i served by site j (reachable
    pairs only), ``Σ_j x_ij = 1`` for every reachable demand, ``Σ_i w_i x_ij ≤ cap_j y_j``
    and ``x_ij ≤ y_j`` (the strong linking rows), ``Σ y ≤ p``; minimise
    ``Σ w_i t_ij x_ij``.  The assignment reported is the site with the largest share.

    Parameters
    ----------
    times : scipy.sparse matrix or array_like, shape (n_demand, n_sites)
        Walking times, seconds (as for :func:`p_median`).
    weights : array_like of float, shape (n_demand,)
        Nonnegative demand weights, in the unit of ``capacity`` (people, places).
    capacity : float or array_like of float, shape (n_sites,)
        What each site can take; ``inf`` for unlimited.
    p : int
        Number of new sites to open (at most).
    fixed, excluded : sequence of int
        Existing sites (always open, not counted in ``p``) and sites that may not be
        opened.
    time_limit : float
        Seconds for the whole call.
    mip_gap : float
        Relative gap at which the answer is accepted as optimal.
    unserved_s : float, optional
        Seconds charged per unit of demand left unserved; by default all reachable demand
        must be served and too little capacity makes the model infeasible.
    threads : int, optional
        HiGHS threads.

    Returns
    -------
    LocationResult
        ``status="infeasible"`` (with the reason in :meth:`LocationResult.explain`) when
        the capacity that can be opened cannot take the demand.

    Raises
    ------
    LocationError
        On bad input, including negative or NaN capacities.
    """
    start = time.perf_counter()
    pairs = _time_pairs(times, "times")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    w = _weights(weights, n_demand, "weights", "the rows of times")
    cap = _capacity(capacity, n_sites)
    sites = _SiteSets.of(n_sites, fixed, excluded)
    p = _check_p(p, sites)
    _check_limits(time_limit, mip_gap)
    penalty = _check_unserved(unserved_s)
    deadline = start + float(time_limit)

    allowed = pairs.subset(sites.allowed[pairs.col])
    if penalty is not None:
        allowed = allowed.subset(allowed.value <= penalty)
    coverable = np.zeros(n_demand, dtype=bool)
    coverable[allowed.row] = True
    uncoverable = np.flatnonzero((w > 0) & ~coverable)
    need = (w > 0) & coverable
    model_pairs = allowed.subset(need[allowed.row])
    groups = _merge_identical_rows(model_pairs, np.flatnonzero(need))
    group_w = np.bincount(groups.group_of[need], weights=w[need], minlength=groups.n_groups).astype(
        np.float64
    )
    rep_pairs = model_pairs.subset(groups.is_representative[model_pairs.row])
    g_row = groups.group_of[rep_pairs.row]
    site_ids = np.unique(rep_pairs.col)
    col_of_site = np.full(n_sites, -1, dtype=np.int64)
    col_of_site[site_ids] = np.arange(len(site_ids))
    n_y, n_x, n_g = len(site_ids), len(rep_pairs.row), groups.n_groups
    y_fixed = sites.is_fixed[site_ids]
    total = float(group_w.sum())
    cap_y = np.minimum(cap[site_ids], total)

    status, objective, bound, note = "optimal", 0.0, 0.0, ""
    chosen, x_val = _EMPTY, np.zeros(0)
    open_cap = float(cap[sites.fixed].sum()) + float(np.sort(cap[sites.is_free])[::-1][:p].sum())
    if n_g and penalty is None and open_cap < total * (1 - 1e-9):
        status = "infeasible"
        note = (
            f"The demand to serve ({_num(total)}) exceeds the most capacity that can be "
            f"open ({_num(open_cap)}: the fixed sites plus the {p} largest allowed "
            "candidates): raise p, allow larger sites, or pass unserved_s."
        )
    elif n_g:
        n_u = n_g if penalty is not None else 0
        x_cols = n_y + np.arange(n_x)
        entries_r: list[IntArray] = []
        entries_c: list[IntArray] = []
        entries_v: list[FloatArray] = []
        # assignment rows: Σ_j x_ij (+ u_i) = 1
        entries_r += [g_row]
        entries_c += [x_cols]
        entries_v += [np.ones(n_x)]
        if n_u:
            entries_r += [np.arange(n_g)]
            entries_c += [n_y + n_x + np.arange(n_g)]
            entries_v += [np.ones(n_g)]
        # capacity rows: Σ_i w_i x_ij − cap_j y_j ≤ 0 (fixed: ≤ cap_j)
        cap_row = n_g + col_of_site[rep_pairs.col]
        entries_r += [cap_row, n_g + np.arange(n_y)[~y_fixed]]
        entries_c += [x_cols, np.arange(n_y)[~y_fixed]]
        entries_v += [group_w[g_row], -cap_y[~y_fixed]]
        # linking rows x_ij − y_j ≤ 0 for free sites
        free_pair = np.flatnonzero(~y_fixed[col_of_site[rep_pairs.col]])
        link_row = n_g + n_y + np.arange(len(free_pair))
        entries_r += [link_row, link_row]
        entries_c += [x_cols[free_pair], col_of_site[rep_pairs.col[free_pair]]]
        entries_v += [np.ones(len(free_pair)), -np.ones(len(free_pair))]
        budget_row = n_g + n_y + len(free_pair)
        free_cols = np.flatnonzero(~y_fixed)
        entries_r += [np.full(len(free_cols), budget_row)]
        entries_c += [free_cols]
        entries_v += [np.ones(len(free_cols))]
        n_rows = budget_row + 1
        n_cols_all = n_y + n_x + n_u
        a = sparse.csc_matrix(
            (np.concatenate(entries_v), (np.concatenate(entries_r), np.concatenate(entries_c))),
            shape=(n_rows, n_cols_all),
        )
        cost = np.concatenate(
            [np.zeros(n_y), group_w[g_row] * rep_pairs.value, group_w * (penalty or 0.0)]
        )[:n_cols_all]
        col_lower = np.zeros(n_cols_all)
        col_lower[:n_y][y_fixed] = 1.0
        row_lower = np.concatenate(
            [np.ones(n_g), np.full(n_y + len(free_pair), -np.inf), [-np.inf]]
        )
        row_upper = np.concatenate(
            [np.ones(n_g), np.where(y_fixed, cap_y, 0.0), np.zeros(len(free_pair)), [float(p)]]
        )
        integral = np.zeros(n_cols_all, dtype=bool)
        integral[:n_y] = ~y_fixed
        mip = _solve(
            cost=cost,
            col_lower=col_lower,
            col_upper=np.ones(n_cols_all),
            integral=integral,
            a=a,
            row_lower=row_lower,
            row_upper=row_upper,
            maximize=False,
            offset=0.0,
            deadline=deadline,
            mip_gap=mip_gap,
            start=None,
            threads=threads,
        )
        status, bound = mip.status, mip.bound
        if status == "infeasible":
            note = (
                "The sites that can be opened cannot take all demand within reach: some "
                "demand can only reach sites whose capacity is used up. Raise p, allow "
                "larger or more sites, or pass unserved_s."
            )
        elif mip.x is None:
            status = "time_limit"
            note = "The time limit stopped the solver before it found any answer."
        else:
            y = mip.x[:n_y] > 0.5
            chosen = site_ids[y & ~y_fixed]
            x_val = np.clip(mip.x[n_y : n_y + n_x], 0.0, 1.0)
            objective = float(mip.objective)
    open_sites = np.union1d(sites.fixed, chosen).astype(np.int64)

    assignment = np.full(n_demand, -1, dtype=np.int64)
    load = np.zeros(n_sites)
    if len(x_val):
        # the largest share of each group, spread back to its demand points
        order = np.lexsort((-x_val, g_row))
        first = np.ones(len(order), dtype=bool)
        first[1:] = g_row[order][1:] != g_row[order][:-1]
        best_pair = order[first & (x_val[order] > 1e-6)]
        group_site = np.full(n_g, -1, dtype=np.int64)
        group_site[g_row[best_pair]] = rep_pairs.col[best_pair]
        assignment[need] = group_site[groups.group_of[need]]
        share = np.zeros(n_g)
        np.add.at(share, g_row, x_val)
        served_share = np.minimum(share, 1.0)
        np.add.at(load, rep_pairs.col, x_val * group_w[g_row])
        served_weight = float((served_share * group_w).sum())
    else:
        served_weight = 0.0
    covered = assignment >= 0
    if status == "infeasible":
        objective = bound = float("nan")
    bound = min(bound, objective) if np.isfinite(bound) and np.isfinite(objective) else bound
    gap = _gap(objective, bound) if np.isfinite(objective) else float("nan")
    if status == "time_limit" and np.isfinite(gap) and gap <= mip_gap:
        status = "optimal"
    return LocationResult(
        model="capacitated_p_median",
        status=status,
        objective=objective,
        bound=float(bound),
        gap=gap,
        sites=np.sort(chosen).astype(np.int64),
        open_sites=open_sites,
        assignment=assignment,
        covered=covered,
        uncoverable=uncoverable,
        solve_s=time.perf_counter() - start,
        p=p,
        fixed=sites.fixed,
        excluded=sites.excluded,
        total_weight=float(w.sum()),
        served_weight=served_weight,
        load=load,
        note=note,
    )


# ---------------------------------------------------------------------- input handling
@dataclass(frozen=True, eq=False)
class _Pairs:
    """The stored pairs of a demand × site matrix, as coordinate arrays."""

    row: IntArray
    col: IntArray
    value: FloatArray
    n_rows: int
    n_cols: int

    def subset(self, mask: BoolArray) -> _Pairs:
        return _Pairs(self.row[mask], self.col[mask], self.value[mask], self.n_rows, self.n_cols)


def _as_pairs(matrix: Any, name: str, *, boolean: bool) -> _Pairs:
    """Coordinate arrays of a sparse or dense matrix, sorted by (row, value, column).

    Sparse: the stored entries (explicit zeros kept; a stored ``inf`` or, for a cover,
    False is left out; duplicates keep the smallest).  Dense: the finite (or True)
    entries.
    """
    if sparse.issparse(matrix):
        if matrix.ndim != 2:
            raise LocationError(f"{name} must be 2-D (demand × sites), got {matrix.ndim}-D")
        n_rows, n_cols = matrix.shape
        canonical = matrix.format == "csr" and matrix.has_canonical_format
        m = matrix if canonical else sparse.coo_matrix(matrix)  # coo keeps duplicates, zeros
        try:
            value = np.asarray(m.data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise LocationError(f"{name} must hold numbers, got {m.data.dtype}") from exc
        if canonical:
            row = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(m.indptr))
            col = np.asarray(m.indices, dtype=np.int64)
        else:
            row = np.asarray(m.row, dtype=np.int64)
            col = np.asarray(m.col, dtype=np.int64)
        if np.isnan(value).any():
            i = int(np.flatnonzero(np.isnan(value))[0])
            raise LocationError(
                f"{name} holds NaN (first at demand {row[i]}, site {col[i]}); "
                + (
                    "store True/False (or 1/0) only"
                    if boolean
                    else "leave unreachable pairs out of a sparse matrix"
                )
            )
        keep = value != 0 if boolean else np.isfinite(value)
        row, col, value = row[keep], col[keep], value[keep]
        if boolean:
            value = np.ones(len(row))
        if not canonical and len(row):  # one entry per pair, the smallest
            order = np.lexsort((value, col, row))
            row, col, value = row[order], col[order], value[order]
            first = np.ones(len(row), dtype=bool)
            first[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
            row, col, value = row[first], col[first], value[first]
        _check_times(row, col, value, name, boolean)
        if not boolean:  # (row, col) order → (row, value, col), by two stable sorts
            order = np.argsort(value, kind="stable")
            order = order[np.argsort(row[order], kind="stable")]
            row, col, value = row[order], col[order], value[order]
        return _Pairs(row, col, value, int(n_rows), int(n_cols))
    dense = _dense_times(matrix, name, boolean=boolean)
    n_rows, n_cols = dense.shape
    if boolean:
        row2, col2 = np.nonzero(dense != 0)
        row, col = row2.astype(np.int64), col2.astype(np.int64)
        return _Pairs(row, col, np.ones(len(row)), int(n_rows), int(n_cols))
    order = np.argsort(dense, axis=1, kind="stable")  # inf last
    ordered = np.take_along_axis(dense, order, axis=1)
    finite = np.isfinite(ordered)
    row = np.broadcast_to(np.arange(n_rows, dtype=np.int64)[:, None], dense.shape)[finite]
    return _Pairs(row, order[finite].astype(np.int64), ordered[finite], int(n_rows), int(n_cols))


def _dense_times(matrix: Any, name: str, *, boolean: bool = False) -> FloatArray:
    """A dense matrix as float64, refused when not 2-D, NaN, or (times) negative."""
    try:
        dense = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LocationError(f"{name} must be a numeric matrix (demand × sites)") from exc
    if dense.ndim != 2:
        raise LocationError(f"{name} must be 2-D (demand × sites), got shape {dense.shape}")
    if np.isnan(dense).any():
        i, j = np.argwhere(np.isnan(dense))[0]
        raise LocationError(
            f"{name} holds NaN (first at demand {i}, site {j}); use inf (dense) or "
            "leave the pair out (sparse) for unreachable"
        )
    if not boolean and (dense < 0).any():
        i, j = np.argwhere(dense < 0)[0]
        _check_times(np.array([i]), np.array([j]), dense[i, j : j + 1], name, boolean)
    return dense


def _check_times(row: IntArray, col: IntArray, value: FloatArray, name: str, boolean: bool) -> None:
    if boolean or not (value < 0).any():
        return
    i = int(np.flatnonzero(value < 0)[0])
    raise LocationError(
        f"{name} holds a negative time ({value[i]} at demand {row[i]}, site {col[i]}); "
        "walking times are seconds ≥ 0"
    )


def _time_pairs(times: Any, name: str) -> _Pairs:
    return _as_pairs(times, name, boolean=False)


def _cover_pairs(cover: Any, name: str) -> _Pairs:
    return _as_pairs(cover, name, boolean=True)


def _weights(weights: ArrayLike, n: int, name: str, what: str) -> FloatArray:
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LocationError(f"{name} must be numbers, one per demand point") from exc
    if w.ndim != 1 or len(w) != n:
        raise LocationError(
            f"{name} must have one value per demand point: got shape {w.shape}, "
            f"expected ({n},) to match {what}"
        )
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise LocationError(
            f"{name} must be finite and ≥ 0: demand {int(bad[0])} has {w[bad[0]]} "
            f"({len(bad)} bad value{'s' if len(bad) != 1 else ''} in all)"
        )
    return w


def _capacity(capacity: ArrayLike | float, n_sites: int) -> FloatArray:
    try:
        cap = np.asarray(capacity, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LocationError("capacity must be numbers, one per site (or one for all)") from exc
    if cap.ndim == 0:
        cap = np.full(n_sites, float(cap))
    if cap.shape != (n_sites,):
        raise LocationError(
            f"capacity must have one value per site: got shape {cap.shape}, expected "
            f"({n_sites},) to match the columns of times"
        )
    bad = np.flatnonzero(np.isnan(cap) | (cap < 0))
    if len(bad):
        raise LocationError(
            f"capacity must be ≥ 0 (inf for unlimited): site {int(bad[0])} has {cap[bad[0]]}"
        )
    return cap


@dataclass(frozen=True, eq=False)
class _SiteSets:
    """Fixed, excluded and free candidate sites."""

    fixed: IntArray
    excluded: IntArray
    is_fixed: BoolArray
    allowed: BoolArray
    is_free: BoolArray

    @classmethod
    def of(cls, n_sites: int, fixed: Any, excluded: Any) -> _SiteSets:
        f = _indices(fixed, n_sites, "fixed")
        e = _indices(excluded, n_sites, "excluded")
        both = np.intersect1d(f, e)
        if len(both):
            raise LocationError(
                f"sites {both[:10].tolist()} are both fixed and excluded; an existing "
                "facility cannot be excluded — remove them from one of the two"
            )
        is_fixed = np.zeros(n_sites, dtype=bool)
        is_fixed[f] = True
        allowed = np.ones(n_sites, dtype=bool)
        allowed[e] = False
        return cls(f, e, is_fixed, allowed, allowed & ~is_fixed)


def _indices(values: Any, n: int, name: str) -> IntArray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if arr.size == 0:
        return _EMPTY.copy()
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise LocationError(f"{name} as a mask must have one value per site ({n})")
        return np.flatnonzero(arr).astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise LocationError(f"{name} must be site indices (integers), got {arr[:5].tolist()}")
    arr = arr.ravel().astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n)]
    if len(bad):
        raise LocationError(
            f"{name} holds site indices out of range {bad[:10].tolist()}: sites are the "
            f"columns 0..{n - 1}"
        )
    return np.unique(arr)


def _check_p(p: Any, sites: _SiteSets) -> int:
    if isinstance(p, bool) or not isinstance(p, int | np.integer):
        raise LocationError(f"p must be a whole number of new sites, got {p!r}")
    n_free = int(sites.is_free.sum())
    if p < 0:
        raise LocationError(f"p must be ≥ 0 new sites, got {p}")
    if p > n_free:
        raise LocationError(
            f"p = {p} new sites asked but only {n_free} candidate sites are allowed "
            f"({len(sites.is_free)} sites, {len(sites.fixed)} fixed, {len(sites.excluded)} "
            "excluded): lower p or add candidates"
        )
    return int(p)


def _check_limits(time_limit: Any, mip_gap: Any) -> None:
    if not (isinstance(time_limit, int | float | np.number) and 0 < float(time_limit) < np.inf):
        raise LocationError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if not (isinstance(mip_gap, int | float | np.number) and 0 <= float(mip_gap) < 1):
        raise LocationError(f"mip_gap must be a relative gap in [0, 1), got {mip_gap!r}")


def _check_unserved(unserved_s: Any) -> float | None:
    if unserved_s is None:
        return None
    if not (isinstance(unserved_s, int | float | np.number) and 0 <= float(unserved_s) < np.inf):
        raise LocationError(
            f"unserved_s must be a nonnegative number of seconds, got {unserved_s!r}"
        )
    return float(unserved_s)


def _nearest_for_assignment(times: Any, n_demand: int, n_sites: int) -> _Pairs | None:
    if times is None:
        return None
    pairs = _time_pairs(times, "times")
    if (pairs.n_rows, pairs.n_cols) != (n_demand, n_sites):
        raise LocationError(
            f"times has shape {(pairs.n_rows, pairs.n_cols)} but cover has "
            f"{(n_demand, n_sites)}: give both for the same demand points and sites"
        )
    return pairs


# ---------------------------------------------------------------------- model helpers
@dataclass(frozen=True, eq=False)
class _Groups:
    """Demand points merged by identical rows: one representative per group."""

    group_of: IntArray  # per demand point, -1 for points not in the model
    is_representative: BoolArray
    n_groups: int


def _merge_identical_rows(
    pairs: _Pairs, rows: IntArray, extra: FloatArray | None = None
) -> _Groups:
    """Group ``rows`` whose stored pairs (sites and values), and ``extra[row]``, are identical.

    ``pairs`` must be sorted by (row, value, column), as :func:`_as_pairs` gives them (so
    identical rows list their pairs in the same order).  Rows are keyed by two random
    64-bit sums over their pairs, their length and ``extra``, then the grouping is
    verified pair by pair (a row whose key collided is split off), so the merge is exact.
    """
    n = pairs.n_rows
    group_of = np.full(n, -1, dtype=np.int64)
    is_rep = np.zeros(n, dtype=bool)
    if len(rows) == 0:
        return _Groups(group_of, is_rep, 0)
    rng = np.random.default_rng(20100601)
    r1 = rng.integers(1, 2**63, size=pairs.n_cols, dtype=np.uint64) | np.uint64(1)
    r2 = rng.integers(1, 2**63, size=pairs.n_cols, dtype=np.uint64)
    bits = np.ascontiguousarray(pairs.value).view(np.uint64)
    with np.errstate(over="ignore"):
        k1 = r1[pairs.col] * (bits + np.uint64(0x9E3779B97F4A7C15))
        k2 = r2[pairs.col] ^ (bits * np.uint64(0xC2B2AE3D27D4EB4F))
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    np.add.at(h1, pairs.row, k1)
    np.add.at(h2, pairs.row, k2)
    length = np.bincount(pairs.row, minlength=n)
    extra_bits = (
        np.zeros(n, dtype=np.uint64)
        if extra is None
        else np.ascontiguousarray(extra, dtype=np.float64).view(np.uint64)
    )
    keys = np.stack([h1[rows], h2[rows], length[rows].astype(np.uint64), extra_bits[rows]], 1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rep_of = np.full(n, -1, dtype=np.int64)
    rep_of[rows] = rows[first[inverse.ravel()]]
    # verify pair by pair against the representative, at the same place in its row
    starts = np.searchsorted(pairs.row, np.arange(n))
    rep_of_pair = rep_of[pairs.row]
    in_model = rep_of_pair >= 0
    pos = np.arange(len(pairs.row)) - starts[pairs.row]
    other = np.minimum(starts[np.maximum(rep_of_pair, 0)] + pos, max(len(pairs.row) - 1, 0))
    bad_pair = in_model & ((pairs.col[other] != pairs.col) | (pairs.value[other] != pairs.value))
    bad = np.unique(pairs.row[bad_pair])
    bad = np.union1d(bad, rows[length[rows] != length[rep_of[rows]]])
    if extra is not None:
        bad = np.union1d(bad, rows[extra_bits[rows] != extra_bits[rep_of[rows]]])
    rep_of[bad] = bad  # a collision: split off as its own group
    reps, group = np.unique(rep_of[rows], return_inverse=True)
    group_of[rows] = group.ravel()
    is_rep[reps] = True
    return _Groups(group_of, is_rep, len(reps))


def _compress(pairs: _Pairs, groups: _Groups) -> tuple[IntArray, IntArray, IntArray]:
    """Model rows and columns of the representatives' pairs, and the site of each column."""
    rep = pairs.subset(groups.is_representative[pairs.row])
    site_of_col, cols = np.unique(rep.col, return_inverse=True)
    return groups.group_of[rep.row], cols.ravel().astype(np.int64), site_of_col.astype(np.int64)


def _reduce_cover(
    a: sparse.csr_matrix, w: FloatArray, site_of_col: IntArray
) -> tuple[sparse.csr_matrix, FloatArray, IntArray]:
    """Drop dominated sites of a covering model, then merge the rows that became identical.

    A site that covers a subset of what another covers is never needed (swap it for the
    other), so its column goes (of identical sites the lowest index stays); rows whose
    cover sets then coincide are merged, their weights summed.  Exact for LSCP and MCLP.
    """
    n_rows, n_cols = a.shape
    if 1 < n_cols <= 2000:  # the site × site overlap stays small
        a = sparse.csr_matrix(a, dtype=np.float64)
        size = np.asarray(a.sum(axis=0)).ravel()
        overlap = (a.T @ a).tocoo()
        j, k, shared = overlap.row, overlap.col, overlap.data
        inside = (j != k) & (shared >= size[j]) & ((size[k] > size[j]) | (k < j))
        dominated = np.zeros(n_cols, dtype=bool)
        dominated[j[inside]] = True
        if dominated.any():
            keep = np.flatnonzero(~dominated)
            a = sparse.csr_matrix(a[:, keep])
            site_of_col = site_of_col[keep]
            a.sort_indices()
            pairs = _Pairs(
                np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(a.indptr)),
                a.indices.astype(np.int64),
                np.ones(a.nnz),
                n_rows,
                a.shape[1],
            )
            groups = _merge_identical_rows(pairs, np.arange(n_rows, dtype=np.int64))
            if groups.n_groups < n_rows:
                reps = np.flatnonzero(groups.is_representative)
                w = np.bincount(groups.group_of, weights=w, minlength=groups.n_groups).astype(
                    np.float64
                )
                a = sparse.csr_matrix(a[reps[np.argsort(groups.group_of[reps])]])
    return sparse.csr_matrix(a), w, site_of_col


def _cover_assignment(
    pairs: _Pairs, open_sites: IntArray, n_demand: int, nearest: _Pairs | None
) -> tuple[BoolArray, IntArray]:
    """Who is covered by an open site, and by which (nearest when times are known)."""
    is_open = np.zeros(pairs.n_cols, dtype=bool)
    is_open[open_sites] = True
    hit = pairs.subset(is_open[pairs.col])
    covered = np.zeros(n_demand, dtype=bool)
    covered[hit.row] = True
    assignment = np.full(n_demand, -1, dtype=np.int64)
    if len(hit.row):
        if nearest is not None:
            t = sparse.csr_matrix(
                (nearest.value + 1.0, (nearest.row, nearest.col)), shape=(n_demand, pairs.n_cols)
            )
            rank = np.asarray(t[hit.row, hit.col]).ravel()
            rank[rank == 0] = np.inf  # covering but no time given: last
        else:
            rank = hit.col.astype(np.float64)
        order = np.lexsort((hit.col, rank, hit.row))
        first = np.ones(len(order), dtype=bool)
        first[1:] = hit.row[order][1:] != hit.row[order][:-1]
        assignment[hit.row[order][first]] = hit.col[order][first]
    return covered, assignment


def _load(assignment: IntArray, w: FloatArray, n_sites: int) -> FloatArray:
    ok = assignment >= 0
    return np.bincount(assignment[ok], weights=w[ok], minlength=n_sites).astype(np.float64)


def _gap(objective: float, bound: float) -> float:
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return float("inf") if np.isfinite(objective) else float("nan")
    scale = max(abs(objective), abs(bound))
    return 0.0 if scale == 0 else abs(objective - bound) / scale


def _list(indices: ArrayLike, most: int = 10) -> str:
    arr = np.asarray(indices).ravel()
    shown = ", ".join(str(int(i)) for i in arr[:most])
    return shown + (f" and {len(arr) - most} more" if len(arr) > most else "")


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------- HiGHS
_BANNER_LOCK = threading.Lock()
_banner_done = False


def _highs() -> highspy.Highs:
    """A new HiGHS instance; the first one of the process prints a banner to fd 1, hidden.

    HiGHS writes its copyright banner with C ``printf`` when the first instance is made,
    whatever ``output_flag`` says; a CLI answering JSON on stdout must not get it.
    """
    global _banner_done
    with _BANNER_LOCK:
        if _banner_done:
            return highspy.Highs()
        _banner_done = True
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError):
            return highspy.Highs()
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                h = highspy.Highs()
                with contextlib.suppress(OSError, AttributeError):
                    ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        return h


@dataclass(frozen=True, eq=False)
class _Mip:
    status: str
    objective: float
    bound: float
    x: FloatArray | None


def _solve(
    *,
    cost: FloatArray,
    col_lower: FloatArray,
    col_upper: FloatArray,
    integral: BoolArray,
    a: sparse.csc_matrix,
    row_lower: FloatArray,
    row_upper: FloatArray,
    maximize: bool,
    offset: float,
    deadline: float,
    mip_gap: float,
    start: FloatArray | None,
    threads: int | None,
) -> _Mip:
    """Pass a MIP to HiGHS in one call (column-wise arrays), solve it, read what it proved."""
    a = sparse.csc_matrix(a)
    a.sum_duplicates()
    inf = highspy.kHighsInf
    h = _highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.01))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    h.passModel(
        int(a.shape[1]),
        int(a.shape[0]),
        int(a.nnz),
        1,  # MatrixFormat.kColwise
        -1 if maximize else 1,  # ObjSense
        float(offset),
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(col_lower, dtype=np.float64),
        np.ascontiguousarray(col_upper, dtype=np.float64),
        np.ascontiguousarray(np.clip(row_lower, -inf, inf), dtype=np.float64),
        np.ascontiguousarray(np.clip(row_upper, -inf, inf), dtype=np.float64),
        np.ascontiguousarray(a.indptr, dtype=np.int32),
        np.ascontiguousarray(a.indices, dtype=np.int32),
        np.ascontiguousarray(a.data, dtype=np.float64),
        np.ascontiguousarray(integral, dtype=np.int32),
    )
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == highspy.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    ms = highspy.HighsModelStatus
    if model_status == ms.kOptimal:
        status = "optimal"
    elif model_status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        status = "infeasible"
    elif model_status in (
        ms.kTimeLimit,
        ms.kInterrupt,
        ms.kIterationLimit,
        ms.kSolutionLimit,
        ms.kObjectiveBound,
        ms.kObjectiveTarget,
        ms.kMemoryLimit,
        ms.kUnknown,
    ):
        status = "time_limit"
    else:
        raise RuntimeError(f"HiGHS failed: {h.modelStatusToString(model_status)}")
    objective = float(info.objective_function_value) if has_x else float("nan")
    bound = float(info.mip_dual_bound)
    if not np.isfinite(bound) or abs(bound) >= inf:
        bound = float("nan")
    if status == "optimal" and not np.isfinite(bound):
        bound = objective
    return _Mip(status, objective, bound, x)


# ---------------------------------------------------------------------- coverage heuristics
def _greedy_set_cover(a: sparse.csr_matrix) -> FloatArray:
    """Greedy set cover (most uncovered rows first): a feasible start for LSCP."""
    n_rows, n_cols = a.shape
    a_csc = a.tocsc()
    uncovered = np.ones(n_rows, dtype=bool)
    y = np.zeros(n_cols)
    while uncovered.any():
        gain = a_csc.T @ uncovered.astype(np.float64)
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        y[j] = 1.0
        uncovered[a_csc.indices[a_csc.indptr[j] : a_csc.indptr[j + 1]]] = False
    return y


def _greedy_max_cover(a: sparse.csr_matrix, w: FloatArray, p: int) -> FloatArray:
    """Greedy maximal cover (most uncovered weight first), at most ``p`` sites."""
    a_csc = a.tocsc()
    left = w.astype(np.float64).copy()
    y = np.zeros(a.shape[1])
    for _ in range(p):
        gain = a_csc.T @ left
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        y[j] = 1.0
        left[a_csc.indices[a_csc.indptr[j] : a_csc.indptr[j + 1]]] = 0.0
    return y


def _drop_useless(a: sparse.csr_matrix, w: FloatArray, chosen: BoolArray) -> BoolArray:
    """Close chosen sites that cover no weight the others do not (fewest sites, same cover)."""
    a_csc = a.tocsc()
    keep = chosen.copy()
    count = a_csc @ keep.astype(np.float64)
    for j in np.flatnonzero(chosen)[::-1]:
        rows = a_csc.indices[a_csc.indptr[j] : a_csc.indptr[j + 1]]
        rows = rows[w[rows] > 0]
        if np.all(count[rows] >= 2):
            keep[j] = False
            count[rows] -= 1
    return keep


# ---------------------------------------------------------------------- p-median
@dataclass(frozen=True, eq=False)
class _MedianProblem:
    """A p-median after settling fixed sites and merging identical demand.

    ``pairs`` hold the representatives' pairs with free sites that beat their cap, rows
    renumbered to groups and columns to model columns, sorted by (group, time).  The
    cap of a group is what it walks when no new site is nearer: the nearest fixed site,
    ``unserved_s``, or infinity (must be served).
    """

    group_of: IntArray
    group_w: FloatArray
    cap: FloatArray
    row: IntArray
    col: IntArray
    value: FloatArray
    rank: IntArray  # distinct-time rank of each pair within its group, from 1
    n_ranks: IntArray  # per group
    site_of_col: IntArray
    offset: float  # weighted walk of demand with no free site to gain from
    must_serve: bool
    penalty: float
    dense: FloatArray  # group × column times, cap where not reachable (big M when inf)
    big: float
    uncoverable: IntArray

    @property
    def n_groups(self) -> int:
        return len(self.group_w)

    @property
    def n_cols(self) -> int:
        return len(self.site_of_col)

    @classmethod
    def build(
        cls, pairs: _Pairs, w: FloatArray, sites: _SiteSets, penalty: float | None
    ) -> _MedianProblem:
        n_demand = pairs.n_rows
        allowed = pairs.subset(sites.allowed[pairs.col])
        if penalty is not None:
            allowed = allowed.subset(allowed.value <= penalty)
        coverable = np.zeros(n_demand, dtype=bool)
        coverable[allowed.row] = True
        uncoverable = np.flatnonzero((w > 0) & ~coverable)
        need = (w > 0) & coverable
        fixed_t = np.full(n_demand, np.inf)
        fp = allowed.subset(sites.is_fixed[allowed.col])
        np.minimum.at(fixed_t, fp.row, fp.value)
        cap_demand = np.minimum(fixed_t, np.inf if penalty is None else penalty)
        # free pairs that beat the cap
        fr = allowed.subset(sites.is_free[allowed.col] & need[allowed.row])
        fr = fr.subset(fr.value < cap_demand[fr.row])
        has_free = np.zeros(n_demand, dtype=bool)
        has_free[fr.row] = True
        settled = need & ~has_free  # walks its cap whatever is opened
        offset = float((w[settled] * cap_demand[settled]).sum())
        model = need & has_free
        groups = _merge_identical_rows(fr, np.flatnonzero(model), cap_demand)
        group_w = np.bincount(
            groups.group_of[model], weights=w[model], minlength=groups.n_groups
        ).astype(np.float64)
        rep = fr.subset(groups.is_representative[fr.row])
        g = groups.group_of[rep.row]
        site_of_col, col = np.unique(rep.col, return_inverse=True)
        col = col.ravel().astype(np.int64)
        value = rep.value  # (group, time, column) order: groups number rows in order
        new_level = np.ones(len(g), dtype=bool)
        new_level[1:] = (g[1:] != g[:-1]) | (value[1:] != value[:-1])
        level = np.cumsum(new_level)
        first_level_of_group = np.zeros(groups.n_groups, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else _EMPTY
        first_level_of_group[g[starts]] = level[starts]
        rank = level - first_level_of_group[g] + 1
        n_ranks = np.zeros(groups.n_groups, dtype=np.int64)
        np.maximum.at(n_ranks, g, rank)
        cap_g = np.full(groups.n_groups, np.inf)
        reps = np.flatnonzero(groups.is_representative)
        cap_g[groups.group_of[reps]] = cap_demand[reps]
        finite_t = value[np.isfinite(value)]
        big = 1000.0 * (float(finite_t.max()) + 1.0) if len(finite_t) else 1000.0
        dense = np.broadcast_to(
            np.where(np.isfinite(cap_g), cap_g, big)[:, None], (groups.n_groups, len(site_of_col))
        ).copy()
        dense[g, col] = value
        return cls(
            group_of=groups.group_of,
            group_w=group_w,
            cap=cap_g,
            row=g,
            col=col,
            value=value,
            rank=rank,
            n_ranks=n_ranks,
            site_of_col=site_of_col.astype(np.int64),
            offset=offset,
            must_serve=penalty is None,
            penalty=np.inf if penalty is None else float(penalty),
            dense=dense,
            big=big,
            uncoverable=uncoverable,
        )

    def walk(self, open_cols: BoolArray) -> FloatArray:
        """Per group: the time to the nearest open new site or the cap (big M if none)."""
        capped = np.where(np.isfinite(self.cap), self.cap, self.big)
        if not open_cols.any():
            return capped
        return np.minimum(self.dense[:, open_cols].min(axis=1), capped)

    def cost(self, open_cols: BoolArray) -> float:
        """True weighted walk of the model demand (inf when some must-serve group is not)."""
        walk = self.walk(open_cols)
        if np.any(walk >= self.big):
            return float("inf")
        return float(self.group_w @ walk) + self.offset

    def ranks_served(self, open_cols: BoolArray) -> IntArray:
        """Per group: the rank of its walk among its distinct times (all ranks if unserved)."""
        walk = self.walk(open_cols)
        at_or_before = self.value <= walk[self.row]
        ranks = np.ones(self.n_groups, dtype=np.int64)
        np.maximum.at(ranks, self.row[at_or_before], self.rank[at_or_before])
        unserved = walk >= np.where(np.isfinite(self.cap), self.cap, self.big)
        ranks[unserved] = self.n_ranks[unserved]
        return np.maximum(ranks, 1)

    def reduced(self, closed: BoolArray, forced: BoolArray) -> tuple[_MedianProblem, IntArray]:
        """The problem without the ``closed`` columns and with the ``forced`` ones open.

        Forced columns become part of each group's cap (a walk always available); groups
        left with no column to gain from keep their place with weight 0, their walk
        moved into the offset.  Returns the problem and the original index of each kept
        column.
        """
        keep_cols = np.flatnonzero(~closed & ~forced)
        cap = np.where(np.isfinite(self.cap), self.cap, np.inf)
        if forced.any():
            via = np.full(self.n_groups, np.inf)
            hit = forced[self.col]
            np.minimum.at(via, self.row[hit], self.value[hit])
            cap = np.minimum(cap, via)
        new_col = np.full(self.n_cols, -1, dtype=np.int64)
        new_col[keep_cols] = np.arange(len(keep_cols))
        keep = (new_col[self.col] >= 0) & (self.value < cap[self.row])
        row, col, value = self.row[keep], new_col[self.col[keep]], self.value[keep]
        has_pair = np.zeros(self.n_groups, dtype=bool)
        has_pair[row] = True
        settled = ~has_pair
        with np.errstate(invalid="ignore"):
            offset = self.offset + float((self.group_w[settled] * cap[settled]).sum())
        group_w = np.where(has_pair, self.group_w, 0.0)
        new_level = np.ones(len(row), dtype=bool)
        new_level[1:] = (row[1:] != row[:-1]) | (value[1:] != value[:-1])
        level = np.cumsum(new_level)
        first_level = np.zeros(self.n_groups, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]]) if len(row) else _EMPTY
        first_level[row[starts]] = level[starts]
        rank = level - first_level[row] + 1
        n_ranks = np.zeros(self.n_groups, dtype=np.int64)
        np.maximum.at(n_ranks, row, rank)
        capped = np.where(np.isfinite(cap), cap, self.big)
        dense = np.minimum(self.dense[:, keep_cols], capped[:, None])
        problem = _MedianProblem(
            group_of=self.group_of,
            group_w=group_w,
            cap=cap,
            row=row,
            col=col,
            value=value,
            rank=rank,
            n_ranks=n_ranks,
            site_of_col=self.site_of_col[keep_cols],
            offset=offset,
            must_serve=self.must_serve,
            penalty=self.penalty,
            dense=dense,
            big=self.big,
            uncoverable=self.uncoverable,
        )
        return problem, keep_cols

    def solve_radius(
        self,
        ranks: IntArray,
        p: int,
        start_cols: BoolArray,
        start_cost: float,
        deadline: float,
        mip_gap: float,
        threads: int | None,
    ) -> _Mip:
        """Solve the radius formulation truncated at ``ranks`` (a relaxation; exact when wide)."""
        keep = self.rank <= ranks[self.row]
        row, col, value, rank = self.row[keep], self.col[keep], self.value[keep], self.rank[keep]
        first_of_level = np.ones(len(row), dtype=bool)
        first_of_level[1:] = (row[1:] != row[:-1]) | (rank[1:] != rank[:-1])
        lv = np.flatnonzero(first_of_level)
        lv_row, lv_rank, lv_time = row[lv], rank[lv], value[lv]
        n_lv = len(lv)
        level_of_pair = np.cumsum(first_of_level) - 1
        # next distinct time of each kept level (from all levels of the group), or the cap
        all_first = np.ones(len(self.row), dtype=bool)
        all_first[1:] = (self.row[1:] != self.row[:-1]) | (self.rank[1:] != self.rank[:-1])
        all_lv = np.flatnonzero(all_first)
        next_time = np.full(len(all_lv), np.nan)
        same = self.row[all_lv[1:]] == self.row[all_lv[:-1]]
        next_time[:-1][same] = self.value[all_lv[1:]][same]
        last = np.isnan(next_time)
        next_time[last] = self.cap[self.row[all_lv[last]]]
        # map kept levels to all levels: both are ordered by (group, rank)
        group_first_all = np.searchsorted(self.row[all_lv], np.arange(self.n_groups))
        nxt = next_time[group_first_all[lv_row] + lv_rank - 1]
        at_end = ~np.isfinite(nxt)  # must-serve groups at their last rank: z = 0
        coef = np.where(at_end, 0.0, nxt - lv_time) * self.group_w[lv_row]
        n_y = self.n_cols
        z_col = n_y + np.arange(n_lv)
        prev = np.flatnonzero(lv_rank > 1)
        r = np.concatenate([level_of_pair, np.arange(n_lv), prev, np.full(n_y, n_lv)])
        c = np.concatenate([col, z_col, z_col[prev - 1], np.arange(n_y)])
        v = np.concatenate([np.ones(len(col)), np.ones(n_lv), -np.ones(len(prev)), np.ones(n_y)])
        a = sparse.csc_matrix((v, (r, c)), shape=(n_lv + 1, n_y + n_lv))
        first_time = np.zeros(self.n_groups)
        first_time[lv_row[lv_rank == 1]] = lv_time[lv_rank == 1]
        offset = float(self.group_w @ first_time) + self.offset
        col_upper = np.ones(n_y + n_lv)
        col_upper[n_y:][at_end] = 0.0
        start = None
        if np.isfinite(start_cost):
            walk = self.walk(start_cols)
            z0 = (walk[lv_row] > lv_time).astype(np.float64)
            start = np.concatenate([start_cols.astype(np.float64), z0])
        return _solve(
            cost=np.concatenate([np.zeros(n_y), coef]),
            col_lower=np.zeros(n_y + n_lv),
            col_upper=col_upper,
            integral=np.concatenate([np.ones(n_y, dtype=bool), np.zeros(n_lv, dtype=bool)]),
            a=a,
            row_lower=np.concatenate([(lv_rank == 1).astype(np.float64), [-np.inf]]),
            row_upper=np.concatenate([np.full(n_lv, np.inf), [float(p)]]),
            maximize=False,
            offset=offset,
            deadline=deadline,
            mip_gap=mip_gap,
            start=start,
            threads=threads,
        )


def _greedy_interchange(prob: _MedianProblem, p: int, deadline: float) -> BoolArray:
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


def _interchange(prob: _MedianProblem, open_cols: BoolArray, deadline: float) -> BoolArray:
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

    def __init__(self, prob: _MedianProblem, p: int) -> None:
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
    prob: _MedianProblem, p: int, best: BoolArray, deadline: float, mip_gap: float
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
    prob: _MedianProblem, p: int, lag: _Lagrange, deadline: float, mip_gap: float
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
        if time.perf_counter() >= deadline or _gap(best_cost, lag.bound) <= mip_gap:
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


def _solve_reduced(
    prob: _MedianProblem,
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
        if _gap(best_cost, bound) <= mip_gap + 1e-12:
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


def _drop_useless_median(prob: _MedianProblem, open_cols: BoolArray) -> BoolArray:
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
    prob: _MedianProblem,
    pairs: _Pairs,
    w: FloatArray,
    sites: _SiteSets,
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
    chosen = prob.site_of_col[open_cols] if status != "infeasible" else _EMPTY
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
        gap = _gap(objective, bound)
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
        load=_load(assignment, w, pairs.n_cols),
        note=note,
    )
