"""Plans (规划方案): new and closed facilities of one kind, compared with today (现状)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from analysis.coverage.capacity import capacity_split
from analysis.coverage.fairness import equity
from analysis.coverage.standards import (
    GROUPS,
    KIND_NAMES,
    CoverageError,
    Standard,
    _standard,
    check_kind,
)
from analysis.coverage.walking_access import Access, _facilities_of, access, served_shares
from analysis.network import RoadNetwork


@dataclass(frozen=True)
class Plan:
    """A plan (规划方案) of one kind: new sites and existing facilities closed.

    Attributes
    ----------
    name : str
        How planners call it; today is :data:`TODAY`.
    kind : str
        Facility kind.
    added : pandas.DataFrame
        New sites: ``lon``, ``lat`` and optional ``name``, ``capacity``, ``cost``.
    removed : tuple of int
        Ids of existing facilities the plan closes.
    """

    name: str
    kind: str
    added: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["lon", "lat"]))
    removed: tuple[int, ...] = ()

    @property
    def cost(self) -> float:
        """Total cost of the new sites (0 when none is given)."""
        if "cost" not in self.added.columns:
            return 0.0
        return float(pd.to_numeric(self.added["cost"], errors="coerce").fillna(0).sum())


TODAY: Final = "现状"


def apply_plan(facilities: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The facilities after a plan: the closed ones out, the new ones in (negative ids).

    Raises
    ------
    CoverageError
        When the plan closes a facility that is not of its kind (or does not exist).
    """
    check_kind(plan.kind)
    of_kind = set(_facilities_of(facilities, plan.kind)["id"].tolist())
    unknown = sorted(set(plan.removed) - of_kind)
    if unknown:
        raise CoverageError(
            f"plan {plan.name!r} removes facilities {unknown} that are not {plan.kind} facilities"
        )
    kept = facilities[~facilities["id"].isin(plan.removed)]
    added = plan.added
    if len(added) == 0:
        return kept.reset_index(drop=True)
    new = pd.DataFrame(
        {
            "id": -np.arange(1, len(added) + 1, dtype=np.int64),
            "kind": plan.kind,
            "name": added["name"].to_numpy()
            if "name" in added.columns
            else [f"新增{KIND_NAMES[plan.kind]}{i + 1}" for i in range(len(added))],
            "capacity": pd.to_numeric(added["capacity"], errors="coerce").to_numpy()
            if "capacity" in added.columns
            else np.nan,
            "lon": added["lon"].to_numpy(np.float64),
            "lat": added["lat"].to_numpy(np.float64),
        }
    )
    return pd.concat([kept[[c for c in new.columns if c in kept.columns]], new], ignore_index=True)


def compare_plans(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    plans: Sequence[Plan],
    kind: str,
    *,
    standards: Mapping[str, Standard] | None = None,
    include_today: bool = True,
) -> tuple[pd.DataFrame, dict[str, Access]]:
    """Plans side by side: people served per group, walking times, capacity, cost.

    Parameters
    ----------
    plans : sequence of Plan
        Plans of ``kind``; today (现状) is put first unless ``include_today`` is False.

    Returns
    -------
    table : pandas.DataFrame
        One row per plan (indexed by name): ``facilities``, ``added``, ``removed``,
        ``served_<group>`` and ``share_<group>`` for every group, ``mean_min`` and
        ``p90_min`` of the standard's group, ``served_with_capacity`` (the three-way
        split's served count of that group) and ``cost``.
    accesses : dict of str to Access
        The access of each plan, for maps.
    """
    standard = _standard(kind, standards)
    all_plans = ([Plan(TODAY, kind)] if include_today else []) + list(plans)
    names = [p.name for p in all_plans]
    if len(set(names)) != len(names):
        raise CoverageError(f"plan names must differ: {names}")
    for p in all_plans:
        if p.kind != kind:
            raise CoverageError(f"plan {p.name!r} is for {p.kind}, not {kind}")
    rows, accesses = [], {}
    for p in all_plans:
        after = apply_plan(facilities, p)
        result = access(network, demand, after, kind, standards=standards)
        split = capacity_split(network, demand, after, kind, standards=standards)
        shares = served_shares(result)
        fair = equity(result)
        row: dict[str, Any] = {
            "plan": p.name,
            "facilities": int((after["kind"] == kind).sum()),
            "added": len(p.added),
            "removed": len(p.removed),
        }
        for g in GROUPS:
            row[f"served_{g}"] = shares.loc[g, "served"]
            row[f"share_{g}"] = shares.loc[g, "share_served"]
        row["mean_min"] = fair.loc[standard.group, "mean_min"]
        row["p90_min"] = fair.loc[standard.group, "p90_min"]
        row["served_with_capacity"] = split.served
        row["cost"] = p.cost
        rows.append(row)
        accesses[p.name] = result
    return pd.DataFrame(rows).set_index("plan"), accesses
