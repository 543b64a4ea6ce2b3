"""Where new facilities should go (选址): candidate sites, a location model, the result saved.

One use case, :func:`solve`, for every door (``POST /api/planning/solve``, the sites
page, ``wangge plan solve``): today's facilities stay, the model picks among the
candidates (H3 cells with people, buildings of a use, or sites the planner gives), and
the answer can be saved as a scenario (规划方案) to compare later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from analysis import coverage as cv
from api.services.planning import (
    Group,
    Kind,
    PlanningData,
    PlanningError,
    PlanningInputs,
    Step,
    kind_and_group,
    load_inputs,
    quiet,
)
from gis.db.models import BUILDING_USES
from gis.store import plan_store
from grids.access import Principal, require_planner


@dataclass(frozen=True, eq=False)
class SolveQuery:
    """What to solve.

    Attributes
    ----------
    kind, group
        Facility kind; whose demand (default: the standard's group).
    model
        One of :data:`analysis.coverage.MODELS`.
    p
        New sites (not for ``lscp``).
    candidates
        ``cells`` (H3 cells with people), ``buildings:<use>`` or ``sites`` (``sites``).
    sites
        Candidate points when ``candidates == "sites"``: ``lon``/``lat`` (EPSG:4326) or
        geometries, optional ``id``, ``name``, ``capacity``, ``cost``
        (:func:`api.services.planning.sites_frame`, or a file a planner brings).
    sites_source
        What the sites are (``site``, ``file``): their ``site_id`` prefix.
    exclude
        ``site_id`` values that must not be chosen.
    unserved_minutes
        p-medians: minutes charged per person left unserved.
    new_capacity
        Capacity of a new site where none is given (default: unlimited).
    time_limit
        Solver time limit, seconds.
    save_as
        Save the result as a scenario of this name.
    """

    kind: str
    group: str | None = None
    model: str = "mclp"
    p: int = 3
    candidates: str = "cells"
    sites: pd.DataFrame | None = None
    sites_source: str = "site"
    exclude: Sequence[str] = ()
    unserved_minutes: float | None = None
    new_capacity: int | None = None
    time_limit: float = 30.0
    save_as: str | None = None


@dataclass(frozen=True, eq=False)
class Solved:
    """The recommendation, the candidates it chose from, and what it was computed on.

    ``people`` counts the group in the demand; ``scenario_id`` is set when saved.
    """

    kind: Kind
    group: Group
    recommendation: cv.Recommendation
    candidates: pd.DataFrame
    people: float
    scenario_id: int | None
    inputs: PlanningInputs


def _candidates(
    engine: Engine, demand: pd.DataFrame, query: SolveQuery, group: str
) -> pd.DataFrame:
    source = query.candidates
    if source == "cells":
        return cv.candidates_from_demand(demand, group=group)
    if source == "sites":
        if query.sites is None or query.sites.empty:
            raise PlanningError("candidates='sites' needs a non-empty 'sites' list")
        return cv.candidates_from_points(query.sites, source=query.sites_source)
    if source.startswith("buildings:"):
        use = source.split(":", 1)[1]
        if use not in BUILDING_USES:
            raise PlanningError(
                f"unknown building use {use!r}: use one of {', '.join(BUILDING_USES)}"
            )
        found = plan_store.buildings_of_use(engine, use)
        if found.empty:
            raise PlanningError(f"no building of use {use!r} to use as a candidate site")
        return cv.candidates_from_points(found, source=f"building:{use}")
    raise PlanningError(f"candidates must be 'cells', 'sites' or 'buildings:<use>', not {source!r}")


def solve(user: Principal, data: PlanningData, query: SolveQuery, step: Step = quiet) -> Solved:
    """Recommend new sites (LSCP, MCLP, p-median, capacitated p-median), today's kept.

    Raises
    ------
    PlanningError
        On bad candidates, or ``save_as`` when no new site was chosen.
    analysis.coverage.CoverageError
        On an unknown model, a bad ``p`` or an excluded site that is no candidate.
    gis.store.plan_store.ScenarioExists
        When ``save_as`` names a saved scenario.
    """
    require_planner(user, "recommend new sites")
    kind, group = kind_and_group(query.kind, query.group, data.standards)
    inputs = load_inputs(data, step)
    step(f"candidate sites ({query.candidates})")
    candidates = _candidates(data.engine, inputs.demand, query, group)
    if query.new_capacity is not None:
        candidates["capacity"] = candidates["capacity"].fillna(float(query.new_capacity))
    step(
        f"solving {query.model} on {len(inputs.demand):,} demand rows × "
        f"{len(candidates):,} candidates"
    )
    rec = cv.recommend_sites(
        inputs.network,
        inputs.demand,
        inputs.facilities,
        candidates,
        kind,
        model=query.model,
        p=query.p,
        group=group,
        standards=inputs.standards,
        excluded=query.exclude,
        time_limit=query.time_limit,
        unserved_minutes=query.unserved_minutes,
    )
    scenario_id = None
    if query.save_as:
        if len(rec.sites) == 0:
            raise PlanningError(
                f"nothing to save as {query.save_as!r}: no new site ({rec.explanation})"
            )
        scenario_id = plan_store.save_scenario(
            data.engine,
            name=query.save_as,
            kind=kind,
            added=rec.plan.added,
            description=f"{rec.model} · {len(rec.sites)} 处 · {cv.GROUP_NAMES[group]}",
            created_by=user.username,
        )
    people = float(inputs.demand[group].sum())
    return Solved(kind, group, rec, candidates, people, scenario_id, inputs)
