"""Scenarios (规划方案): plans saved, listed and deleted, and compared with today (现状).

A scenario adds sites and closes facilities of one kind; :func:`compare` measures
today and each plan on the same demand and network (:func:`analysis.coverage.compare_plans`).
Called by every door, as the rest of :mod:`api.services.planning`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
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
from gis.coords import to_wgs84
from gis.store import plan_store
from grids.access import Principal, require_planner


@dataclass(frozen=True)
class SitePoint:
    """A site a planner gives: a point in ``coord_type``, optionally name, capacity, cost."""

    lon: float
    lat: float
    name: str | None = None
    capacity: int | None = None
    cost: float | None = None
    site_id: str | None = None


def sites_frame(sites: Sequence[SitePoint], coord_type: str = "wgs84") -> pd.DataFrame:
    """The sites as points in WGS84: ``id, name, lon, lat, capacity, cost``."""
    if not sites:
        return pd.DataFrame(columns=["id", "name", "lon", "lat", "capacity", "cost"])
    lon, lat = to_wgs84(
        np.array([s.lon for s in sites]), np.array([s.lat for s in sites]), coord_type
    )
    return pd.DataFrame(
        {
            "id": [s.site_id or str(i + 1) for i, s in enumerate(sites)],
            "name": [s.name or f"点址{i + 1}" for i, s in enumerate(sites)],
            "lon": lon,
            "lat": lat,
            "capacity": [np.nan if s.capacity is None else s.capacity for s in sites],
            "cost": [np.nan if s.cost is None else s.cost for s in sites],
        }
    )


@dataclass(frozen=True)
class ScenarioDraft:
    """A plan to save: sites added and facilities (ids) closed."""

    name: str
    kind: str
    add: Sequence[SitePoint] = ()
    remove: Sequence[int] = ()
    coord_type: str = "wgs84"
    description: str | None = None


@dataclass(frozen=True, eq=False)
class Scenario:
    """A saved plan (规划方案): ``added`` holds ``name, capacity, cost, lon, lat``."""

    id: int
    name: str
    kind: str
    description: str | None
    created_by: str | None
    created_at: datetime | None
    added: pd.DataFrame
    removed: tuple[int, ...]

    @property
    def plan(self) -> cv.Plan:
        """The scenario as a plan to compare."""
        return cv.Plan(self.name, self.kind, self.added, self.removed)


def _scenario(engine: Engine, key: int | str) -> Scenario:
    s = plan_store.load_scenario(engine, key)
    return Scenario(
        s["id"],
        s["name"],
        s["kind"],
        s["description"],
        s["created_by"],
        s["created_at"],
        s["added"],
        s["removed"],
    )


def save_scenario(user: Principal, engine: Engine, draft: ScenarioDraft) -> Scenario:
    """Store a plan under a new name (a name in use: ``ScenarioExists``, 409)."""
    require_planner(user, "save a scenario")
    cv.check_kind(draft.kind)
    scenario_id = plan_store.save_scenario(
        engine,
        name=draft.name,
        kind=draft.kind,
        added=sites_frame(draft.add, draft.coord_type),
        removed=draft.remove,
        description=draft.description,
        created_by=user.username,
    )
    return _scenario(engine, scenario_id)


def list_scenarios(user: Principal, engine: Engine, kind: str | None = None) -> pd.DataFrame:
    """Saved plans, oldest first (``plan_store.list_scenarios``' columns)."""
    require_planner(user, "list scenarios")
    if kind is not None:
        cv.check_kind(kind)
    return plan_store.list_scenarios(engine, kind)


def scenario(user: Principal, engine: Engine, key: int | str) -> Scenario:
    """One saved plan by id or name (none: ``ScenarioNotFound``, 404)."""
    require_planner(user, "read a scenario")
    return _scenario(engine, key)


def delete_scenario(user: Principal, engine: Engine, key: int | str) -> None:
    """Delete a saved plan by id or name (none: ``ScenarioNotFound``, 404)."""
    require_planner(user, "delete a scenario")
    plan_store.delete_scenario(engine, key)


# ------------------------------------------------------------------ plans compared


@dataclass(frozen=True, eq=False)
class Comparison:
    """Today (现状) and plans side by side.

    Attributes
    ----------
    kind, group
        The kind; the group a map shows.
    table : pandas.DataFrame
        One row per plan (:func:`analysis.coverage.compare_plans`), today first.
    accesses : dict of str to Access
        Each plan's access, by name.
    plans : list of Plan
        The plans compared with today.
    facilities : pandas.DataFrame
        Today's facilities.
    """

    kind: Kind
    group: Group
    table: pd.DataFrame
    accesses: dict[str, cv.Access]
    plans: list[cv.Plan]
    facilities: pd.DataFrame


def compare_on(
    inputs: PlanningInputs, kind: Kind, group: Group, plans: Sequence[cv.Plan], step: Step = quiet
) -> Comparison:
    """Plans (saved or not) against today, on inputs already read."""
    step(f"comparing {len(plans) + 1} plan(s)")
    table, accesses = cv.compare_plans(
        inputs.network, inputs.demand, inputs.facilities, plans, kind, standards=inputs.standards
    )
    return Comparison(kind, group, table, accesses, list(plans), inputs.facilities)


def compare(
    user: Principal,
    data: PlanningData,
    kind: str,
    keys: Sequence[int | str],
    group: str | None = None,
    step: Step = quiet,
) -> Comparison:
    """Saved plans (by id or name) against today: people served, walking times, cost."""
    require_planner(user, "compare plans")
    kind, group = kind_and_group(kind, group, data.standards)
    plans = []
    for key in keys:
        found = _scenario(data.engine, key)
        if found.kind != kind:
            raise PlanningError(
                f"scenario {found.name!r} plans {found.kind} facilities, not {kind}"
            )
        plans.append(found.plan)
    return compare_on(load_inputs(data, step), kind, group, plans, step)
