"""Capacity (容量): a group's demand as served, short of capacity or too far, by max flow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import maximum_flow

from analysis.coverage.demand import _check_demand
from analysis.coverage.standards import CoverageError, Standard, _standard, check_group
from analysis.coverage.walking_access import _facilities_of, _lonlat, travel_times
from analysis.network import IntArray, RoadNetwork


@dataclass(frozen=True)
class CapacitySplit:
    """The demand of one group in three parts (whole people).

    ``served + lack_of_capacity + outside_limit == people``.  The totals are those of a
    maximum flow (the most people the facilities can take within the limit) and so
    unique; which row counts as served when several compete for the same full facility
    is one of the optima.

    Attributes
    ----------
    kind, group : str
    people : int
        Everyone of the group.
    served : int
        Within the limit of a facility with room for them.
    lack_of_capacity : int
        Within the limit of a facility, but every such facility is full (容量不足).
    outside_limit : int
        No facility within the walking limit (超出步行范围).
    row_served, row_lack, row_outside : numpy.ndarray of int64
        The same per demand row.
    facility_load : pandas.Series
        People assigned to each facility (by id).
    """

    kind: str
    group: str
    people: int
    served: int
    lack_of_capacity: int
    outside_limit: int
    row_served: IntArray = field(repr=False)
    row_lack: IntArray = field(repr=False)
    row_outside: IntArray = field(repr=False)
    facility_load: pd.Series = field(repr=False)


def capacity_split(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    kind: str,
    *,
    group: str | None = None,
    standards: Mapping[str, Standard] | None = None,
) -> CapacitySplit:
    """Split a group's demand into served / unserved for lack of capacity / too far.

    People may go to any facility within the walking limit, not only the nearest; the
    most people served is a maximum flow (people → facilities within the limit →
    capacity).  A facility with no capacity (``NaN`` / missing column) takes everyone.
    Counts are rounded to whole people.

    Parameters
    ----------
    group : str, optional
        Default the standard's target group (the people the capacity is counted in).

    Returns
    -------
    CapacitySplit
    """
    standard = _standard(kind, standards)
    group = check_group(group or standard.group)
    _check_demand(demand)
    demand = demand.reset_index(drop=True)
    people = np.rint(demand[group].to_numpy(np.float64)).astype(np.int64)
    total = int(people.sum())
    of_kind = _facilities_of(facilities, kind)
    m, n = len(of_kind), len(demand)
    if m == 0:
        zero = np.zeros(n, np.int64)
        return CapacitySplit(
            kind, group, total, 0, 0, total, zero, zero, people, pd.Series(dtype=np.int64)
        )
    d_lon, d_lat = _lonlat(demand)
    f_lon, f_lat = _lonlat(of_kind)
    within = np.isfinite(
        travel_times(network, d_lon, d_lat, f_lon, f_lat, limit_s=standard.limit_s)
    )
    if "capacity" in of_kind.columns:
        cap = pd.to_numeric(of_kind["capacity"], errors="coerce").to_numpy(np.float64)
    else:
        cap = np.full(m, np.nan)
    cap = np.where(np.isfinite(cap), np.maximum(cap, 0), total).astype(np.int64)
    big = np.iinfo(np.int32).max
    if total > big:
        raise CoverageError(f"{total:,} people are too many for one capacity split")
    # nodes: 0 source, 1..n demand rows, n+1..n+m facilities, n+m+1 sink
    i, j = np.nonzero(within & (people > 0)[:, None])
    src = np.concatenate([np.zeros(n, np.int64), 1 + i, n + 1 + np.arange(m)])
    dst = np.concatenate([1 + np.arange(n), n + 1 + j, np.full(m, n + m + 1)])
    capacity = np.concatenate([people, people[i], np.minimum(cap, total)]).astype(np.int32)
    graph = sparse.csr_array((capacity, (src, dst)), shape=(n + m + 2, n + m + 2))
    graph.sum_duplicates()
    flow = maximum_flow(graph, 0, n + m + 1).flow
    flow = sparse.csr_array(flow)
    row_served = np.asarray(flow[[0], :].toarray()[0, 1 : n + 1], np.int64)
    reachable = within.any(axis=1)
    row_outside = np.where(reachable, 0, people)
    row_lack = people - row_served - row_outside
    load = np.asarray(flow[:, [n + m + 1]].toarray()[n + 1 : n + m + 1, 0], np.int64)
    return CapacitySplit(
        kind=kind,
        group=group,
        people=total,
        served=int(row_served.sum()),
        lack_of_capacity=int(row_lack.sum()),
        outside_limit=int(row_outside.sum()),
        row_served=row_served,
        row_lack=row_lack,
        row_outside=row_outside,
        facility_load=pd.Series(load, index=of_kind["id"].to_numpy(), name="people"),
    )
