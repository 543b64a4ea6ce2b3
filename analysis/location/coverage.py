"""Coverage models: the cover matrix, set covering (LSCP) and maximal covering (MCLP)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from analysis.location.base import (
    EMPTY,
    BoolArray,
    FloatArray,
    Groups,
    IntArray,
    LocationError,
    LocationResult,
    Pairs,
    SiteSets,
    check_limits,
    check_p,
    cover_pairs,
    demand_weights,
    dense_times,
    merge_identical_rows,
    relative_gap,
    site_load,
    solve_mip,
    time_pairs,
)


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
        dense = dense_times(times, "times")
        return sparse.csr_matrix(dense <= float(limit_s))
    pairs = time_pairs(times, "times")
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
    pairs = cover_pairs(cover, "cover")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    sites = SiteSets.of(n_sites, fixed, excluded)
    w = (
        np.ones(n_demand)
        if weights is None
        else demand_weights(weights, n_demand, "weights", "the rows of cover")
    )
    check_limits(time_limit, 0.0)
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
    groups = merge_identical_rows(free, np.flatnonzero(need))
    model_rows, cols, site_of_col = _compress(free, groups)

    status, objective, bound, chosen = "optimal", 0.0, 0.0, EMPTY
    if groups.n_groups:
        a_rows = sparse.csr_matrix(
            (np.ones(len(model_rows)), (model_rows, cols)),
            shape=(groups.n_groups, len(site_of_col)),
        )
        a_rows, _, site_of_col = _reduce_cover(a_rows, np.ones(groups.n_groups), site_of_col)
        a = a_rows.tocsc()
        start_y = _greedy_set_cover(a_rows)
        mip = solve_mip(
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
        gap=relative_gap(objective, bound),
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
        load=site_load(assignment, w, n_sites),
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
    pairs = cover_pairs(cover, "cover")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    w = demand_weights(weights, n_demand, "weights", "the rows of cover")
    sites = SiteSets.of(n_sites, fixed, excluded)
    p = check_p(p, sites)
    check_limits(time_limit, mip_gap)
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
    groups = merge_identical_rows(free, np.flatnonzero(need))
    model_rows, cols, site_of_col = _compress(free, groups)
    group_w = np.bincount(groups.group_of[need], weights=w[need], minlength=groups.n_groups).astype(
        np.float64
    )

    status, bound, chosen = "optimal", offset, EMPTY
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
        mip = solve_mip(
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
    if status == "optimal" or relative_gap(objective, bound) <= mip_gap:
        status = "optimal"
    return LocationResult(
        model="mclp",
        status=status,
        objective=objective,
        bound=float(bound),
        gap=relative_gap(objective, bound),
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
        load=site_load(assignment, w, n_sites),
    )


# ---------------------------------------------------------------------- coverage helpers
def _nearest_for_assignment(times: Any, n_demand: int, n_sites: int) -> Pairs | None:
    if times is None:
        return None
    pairs = time_pairs(times, "times")
    if (pairs.n_rows, pairs.n_cols) != (n_demand, n_sites):
        raise LocationError(
            f"times has shape {(pairs.n_rows, pairs.n_cols)} but cover has "
            f"{(n_demand, n_sites)}: give both for the same demand points and sites"
        )
    return pairs


def _compress(pairs: Pairs, groups: Groups) -> tuple[IntArray, IntArray, IntArray]:
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
            pairs = Pairs(
                np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(a.indptr)),
                a.indices.astype(np.int64),
                np.ones(a.nnz),
                n_rows,
                a.shape[1],
            )
            groups = merge_identical_rows(pairs, np.arange(n_rows, dtype=np.int64))
            if groups.n_groups < n_rows:
                reps = np.flatnonzero(groups.is_representative)
                w = np.bincount(groups.group_of, weights=w, minlength=groups.n_groups).astype(
                    np.float64
                )
                a = sparse.csr_matrix(a[reps[np.argsort(groups.group_of[reps])]])
    return sparse.csr_matrix(a), w, site_of_col


def _cover_assignment(
    pairs: Pairs, open_sites: IntArray, n_demand: int, nearest: Pairs | None
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
