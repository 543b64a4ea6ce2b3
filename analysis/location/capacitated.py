"""The capacitated p-median: p sites, shortest total walk, no site over its capacity."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from analysis.location.base import (
    EMPTY,
    FloatArray,
    IntArray,
    LocationError,
    LocationResult,
    SiteSets,
    check_limits,
    check_p,
    check_unserved,
    demand_weights,
    format_number,
    merge_identical_rows,
    relative_gap,
    solve_mip,
    time_pairs,
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
    pairs = time_pairs(times, "times")
    n_demand, n_sites = pairs.n_rows, pairs.n_cols
    w = demand_weights(weights, n_demand, "weights", "the rows of times")
    cap = _capacity(capacity, n_sites)
    sites = SiteSets.of(n_sites, fixed, excluded)
    p = check_p(p, sites)
    check_limits(time_limit, mip_gap)
    penalty = check_unserved(unserved_s)
    deadline = start + float(time_limit)

    allowed = pairs.subset(sites.allowed[pairs.col])
    if penalty is not None:
        allowed = allowed.subset(allowed.value <= penalty)
    coverable = np.zeros(n_demand, dtype=bool)
    coverable[allowed.row] = True
    uncoverable = np.flatnonzero((w > 0) & ~coverable)
    need = (w > 0) & coverable
    model_pairs = allowed.subset(need[allowed.row])
    groups = merge_identical_rows(model_pairs, np.flatnonzero(need))
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
    chosen, x_val = EMPTY, np.zeros(0)
    open_cap = float(cap[sites.fixed].sum()) + float(np.sort(cap[sites.is_free])[::-1][:p].sum())
    if n_g and penalty is None and open_cap < total * (1 - 1e-9):
        status = "infeasible"
        note = (
            f"The demand to serve ({format_number(total)}) exceeds the most capacity that can be "
            f"open ({format_number(open_cap)}: the fixed sites plus the {p} largest allowed "
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
        mip = solve_mip(
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
    gap = relative_gap(objective, bound) if np.isfinite(objective) else float("nan")
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
