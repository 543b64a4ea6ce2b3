"""Recommended new sites: the models of :mod:`analysis.location` on walking times."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.coverage.demand import _check_demand
from analysis.coverage.plans import Plan
from analysis.coverage.standards import (
    KIND_NAMES,
    CoverageError,
    Standard,
    _standard,
    check_group,
    check_model,
)
from analysis.coverage.walking_access import _facilities_of, _lonlat, travel_times
from analysis.network import RoadNetwork


@dataclass(frozen=True)
class Recommendation:
    """Recommended new sites for one kind, with today's and the plan's coverage.

    Attributes
    ----------
    model : str
        Location model solved (:data:`MODELS`).
    kind, group : str
    status : str
        ``optimal``, ``time_limit`` or ``infeasible`` (from the solver).
    objective : float
        The model's objective (people covered, weighted seconds …).
    sites : pandas.DataFrame
        The chosen candidates (:data:`CANDIDATE_COLUMNS`).
    served_before, served_after : float
        People of ``group`` within the walking limit today and with the new sites.
    uncoverable : pandas.DataFrame
        Demand rows no site can serve within the limit (why an LSCP is infeasible).
    explanation : str
        The solver's account of the result.
    plan : Plan
        The recommendation as a plan, ready to save and compare.
    """

    model: str
    kind: str
    group: str
    status: str
    objective: float
    sites: pd.DataFrame
    served_before: float
    served_after: float
    uncoverable: pd.DataFrame
    explanation: str
    plan: Plan


def recommend_sites(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    candidates: pd.DataFrame,
    kind: str,
    *,
    model: str = "mclp",
    p: int = 3,
    group: str | None = None,
    standards: Mapping[str, Standard] | None = None,
    excluded: Sequence[str] = (),
    time_limit: float = 60.0,
    unserved_minutes: float | None = None,
) -> Recommendation:
    """The best new sites among ``candidates``, existing facilities kept fixed.

    Demand is the ``group``'s people per demand row; sites are today's facilities of
    the kind (fixed, open) followed by the candidates.  The models are those of
    :mod:`analysis.location`: ``lscp`` (fewest new sites so that everyone is within
    the limit), ``mclp`` (``p`` new sites covering the most people), ``p_median`` and
    ``capacitated_p_median`` (``p`` new sites with the least people-weighted walking
    time; the capacitated one respects ``capacity``).

    Parameters
    ----------
    excluded : sequence of str
        Candidate ``site_id`` values that must not be chosen (NIMBY, land not available).
    unserved_minutes : float, optional
        p-medians: minutes charged per person left unserved, so that too little capacity
        gives the best partial answer instead of ``infeasible``; default: all must be
        served.

    Raises
    ------
    CoverageError
        On an unknown kind, group or model, no candidates, or an unknown excluded site.
    """
    from analysis import location

    standard = _standard(kind, standards)
    group = check_group(group or standard.group)
    check_model(model)
    _check_demand(demand)
    if len(candidates) == 0:
        raise CoverageError("no candidate sites: give a file, a building use, or use cells")
    if model != "lscp" and p < 1:
        raise CoverageError(f"p must be at least 1, got {p}")
    unknown = sorted(set(excluded) - set(candidates["site_id"]))
    if unknown:
        raise CoverageError(f"excluded sites {unknown[:5]} are not among the candidates")
    demand = demand.reset_index(drop=True)
    weights_all = demand[group].to_numpy(np.float64)
    rows = np.flatnonzero(weights_all > 0)
    if len(rows) == 0:
        raise CoverageError(f"nobody of group {group} in the demand")
    d = demand.iloc[rows].reset_index(drop=True)
    weights = weights_all[rows]
    existing = _facilities_of(facilities, kind)
    sites = pd.concat(
        [
            existing.assign(site_id=[f"facility:{i}" for i in existing["id"]])[
                ["site_id", "lon", "lat"]
            ],
            candidates[["site_id", "lon", "lat"]],
        ],
        ignore_index=True,
    )
    n_fixed = len(existing)
    fixed = np.arange(n_fixed)
    excl = n_fixed + np.flatnonzero(candidates["site_id"].isin(list(excluded)).to_numpy())
    d_lon, d_lat = _lonlat(d)
    s_lon, s_lat = _lonlat(sites)
    cover_only = model in ("lscp", "mclp")
    unserved_s = None if unserved_minutes is None else float(unserved_minutes) * 60.0
    times = travel_times(
        network, d_lon, d_lat, s_lon, s_lat, limit_s=standard.limit_s if cover_only else None
    )
    if model == "lscp":
        result = location.lscp(
            location.cover_matrix(times, standard.limit_s),
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            weights=weights,
            times=times,
        )
    elif model == "mclp":
        result = location.mclp(
            location.cover_matrix(times, standard.limit_s),
            weights,
            p,
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            times=times,
        )
    elif model == "p_median":
        result = location.p_median(
            times,
            weights,
            p,
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            unserved_s=unserved_s,
        )
    else:
        cap_existing = (
            pd.to_numeric(existing["capacity"], errors="coerce").to_numpy(np.float64)
            if "capacity" in existing.columns
            else np.full(n_fixed, np.nan)
        )
        cap_new = pd.to_numeric(candidates["capacity"], errors="coerce").to_numpy(np.float64)
        capacity = np.concatenate([cap_existing, cap_new])
        capacity = np.where(np.isfinite(capacity), capacity, np.inf)  # none given: unlimited
        result = location.capacitated_p_median(
            times,
            weights,
            capacity,
            p,
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            unserved_s=unserved_s,
        )
    new_idx = np.asarray(result.sites, np.int64)
    new_idx = new_idx[new_idx >= n_fixed]
    chosen = candidates.iloc[new_idx - n_fixed].reset_index(drop=True)
    within = np.isfinite(times) & (times <= standard.limit_s)
    before = float(weights[within[:, :n_fixed].any(axis=1)].sum()) if n_fixed else 0.0
    open_cols = np.concatenate([fixed, new_idx])
    after = float(weights[within[:, open_cols].any(axis=1)].sum()) if len(open_cols) else 0.0
    uncoverable = d.iloc[np.asarray(result.uncoverable, np.int64)].reset_index(drop=True)
    added = chosen[["name", "lon", "lat", "capacity", "cost"]].copy()
    plan = Plan(name=f"{model}·{len(chosen)}处新增{KIND_NAMES[kind]}", kind=kind, added=added)
    objective = float(result.objective) if result.objective is not None else math.nan
    return Recommendation(
        model=model,
        kind=kind,
        group=group,
        status=str(result.status),
        objective=objective,
        sites=chosen,
        served_before=before,
        served_after=after,
        uncoverable=uncoverable,
        explanation=result.explain()
        + (
            " Site numbers are today's facilities first, then the candidates; the new "
            f"sites are {', '.join(chosen['site_id'].astype(str))}."
            if len(chosen)
            else ""
        ),
        plan=plan,
    )
