"""Facility coverage for planners: who can walk to a clinic, elder care, a park … in time.

Street offices plan facilities by population and judge them by the walking time along
the streets, in the 15-, 10- and 5-minute life circles (15/10/5分钟生活圈) of
GB 50180-2018 *Standard for urban residential area planning and design*
(城市居住区规划设计标准).  This package answers, for one facility kind at a time:

* **demand** (需求): people per H3 cell and 网格 by group (everyone, elderly 60+ and
  80+, children 0–14, people with disabilities), from households and residents
  (:func:`demand_from_households`) or from a file such as a census grid
  (:func:`demand_from_file`).  A *demand row* is the people of one H3 cell inside one
  grid, placed at their people-weighted mean location, so that totals per grid are
  exact and a cell on a grid boundary is not split by area.
* **access** (可达性): the walking time from every demand row to the nearest facility
  of the kind, along the network, with one multi-source Dijkstra per kind (the
  :class:`analysis.nearest.ShelterIndex` machinery), and whether it is within the
  kind's **standard** (:class:`Standard`, :data:`DEFAULT_STANDARDS`).
* **capacity** (容量): a three-way split of the demand of the kind's target group into
  served, unserved for lack of capacity (a facility is within reach but full), and
  outside the walking limit, by a maximum flow from people to facilities within the
  limit (:func:`capacity_split`).
* **equity** (公平性): each group's unserved share against everyone's, and the Gini
  coefficient of walking time (:func:`equity`).
* **candidates and plans**: candidate sites for new facilities, recommended sites from
  the location models of :mod:`analysis.location` (:func:`recommend_sites`), and the
  comparison of plans (规划方案) with today (现状) (:func:`compare_plans`).

Everything is pure: frames and the :class:`~analysis.network.RoadNetwork` in, frozen
dataclasses and frames out.  Coordinates are WGS84 degrees; times are seconds inside,
minutes in the frames meant for people.

One module per concern: :mod:`~analysis.coverage.standards` (kinds, groups, models,
standards), :mod:`~analysis.coverage.demand`, :mod:`~analysis.coverage.walking_access`
(walking times and access), :mod:`~analysis.coverage.capacity`,
:mod:`~analysis.coverage.fairness` (equity), :mod:`~analysis.coverage.candidates`,
:mod:`~analysis.coverage.plans` and :mod:`~analysis.coverage.recommend`; a whole city's
access partition by partition, on a Dask cluster, with the same answer:
:mod:`~analysis.coverage.access_partitions`.
"""

from analysis.coverage.access_partitions import access_partitioned
from analysis.coverage.candidates import (
    CANDIDATE_COLUMNS,
    candidates_from_demand,
    candidates_from_points,
)
from analysis.coverage.capacity import CapacitySplit, capacity_split
from analysis.coverage.demand import (
    DEMAND_COLUMNS,
    DEMAND_KEYS,
    demand_from_file,
    demand_from_households,
)
from analysis.coverage.fairness import equity, weighted_gini
from analysis.coverage.plans import TODAY, Plan, apply_plan, compare_plans
from analysis.coverage.recommend import Recommendation, recommend_sites
from analysis.coverage.standards import (
    DEFAULT_STANDARDS,
    GROUP_NAMES,
    GROUPS,
    KIND_NAMES,
    MODELS,
    STANDARDS_ENV,
    CoverageError,
    Standard,
    check_group,
    check_kind,
    check_model,
    load_standards,
)
from analysis.coverage.walking_access import (
    FACILITY_COLUMNS,
    Access,
    access,
    served_shares,
    travel_times,
    unserved_by,
)

__all__ = [
    "CANDIDATE_COLUMNS",
    "DEFAULT_STANDARDS",
    "DEMAND_COLUMNS",
    "DEMAND_KEYS",
    "FACILITY_COLUMNS",
    "GROUPS",
    "GROUP_NAMES",
    "KIND_NAMES",
    "MODELS",
    "STANDARDS_ENV",
    "TODAY",
    "Access",
    "CapacitySplit",
    "CoverageError",
    "Plan",
    "Recommendation",
    "Standard",
    "access",
    "access_partitioned",
    "apply_plan",
    "candidates_from_demand",
    "candidates_from_points",
    "capacity_split",
    "check_group",
    "check_kind",
    "check_model",
    "compare_plans",
    "demand_from_file",
    "demand_from_households",
    "equity",
    "load_standards",
    "recommend_sites",
    "served_shares",
    "travel_times",
    "unserved_by",
    "weighted_gini",
]
