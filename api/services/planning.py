"""Facility coverage for planners (设施规划): the standards, the demand, walking access.

Every door calls these use cases: the JSON routes, the planners' pages and
``wangge plan``; saved plans and their comparison with today are
:mod:`api.services.scenarios`, recommending new sites (选址) :mod:`api.services.siting`.  The
answers are aggregates (people per H3 cell, grid and community), never a person.

Each use case takes the caller (planning is for the street office's staff:
:func:`grids.access.require_planner`) and a :class:`PlanningData`, what the door holds:
the engine, the walking network (None when no road is loaded: the one
:class:`~analysis.walking.NoRoadNetwork` answer), the H3 resolution, and optionally the
standards and the demand a planner brings instead of the residents.  ``step`` callbacks
let a door show progress; a service never prints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union, get_args

import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd

from analysis import coverage as cv
from analysis.network import RoadNetwork
from analysis.walking import require_network
from gis import clock
from gis.coords import geometries_to_wgs84
from gis.db.models import FACILITY_KINDS
from gis.errors import InvalidInput, ServiceError, Unavailable
from gis.store import grid_store, plan_store
from grids.access import Principal, require_planner

if TYPE_CHECKING:
    from distributed import Client

Kind = Literal["clinic", "elder_care", "park", "school", "community_centre", "shelter", "pharmacy"]
"""A facility kind (``facility.kind``)."""
Group = Literal["everyone", "elderly_60", "elderly_80", "children", "disabled"]
"""A population group demand is counted for."""
Model = Literal["lscp", "mclp", "p_median", "capacitated_p_median"]
"""A location model of :func:`analysis.coverage.recommend_sites`."""

if (get_args(Kind), get_args(Group), get_args(Model)) != (FACILITY_KINDS, cv.GROUPS, cv.MODELS):
    raise ImportError("Kind, Group and Model must name gis.db.models' and analysis.coverage's")

#: A door's progress line (e.g. a spinner step); services call it, never print.
Step = Callable[[str], None]


def quiet(_: str) -> None:
    """No progress shown."""


class PlanningError(ServiceError, InvalidInput):
    """A planning request that cannot be answered as given (a plan of another kind …)."""


class NoDemand(ServiceError, Unavailable):
    """No residents are loaded, so there is nobody to plan for."""


class StandardsUnavailable(ServiceError, Unavailable):
    """The standards file the server is configured with cannot be used."""


@dataclass(frozen=True, eq=False)
class PlanningData:
    """What the door holds for a planning answer.

    Attributes
    ----------
    engine : sqlalchemy.Engine
    network : RoadNetwork or None
        The walking network; None when no road network is loaded.
    resolution : int
        H3 resolution of the demand cells.
    standards : mapping of str to Standard, optional
        The walking standards; None: the server's (``WANGGE_PLAN_STANDARDS`` or the
        defaults of GB 50180-2018).
    demand : pandas.DataFrame, optional
        Demand a planner brings (:func:`demand_from_frame`); None: the residents.
    """

    engine: Engine
    network: RoadNetwork | None
    resolution: int = 10
    standards: Mapping[str, cv.Standard] | None = None
    demand: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class PlanningInputs:
    """What every planning answer is computed from: network, demand, facilities, standards."""

    network: RoadNetwork
    demand: pd.DataFrame
    facilities: pd.DataFrame
    standards: Mapping[str, cv.Standard]


# ------------------------------------------------------------------ standards and inputs


def standards_in_force(
    standards: Mapping[str, cv.Standard] | None = None,
) -> Mapping[str, cv.Standard]:
    """``standards`` itself, else the server's (a broken standards file: 503)."""
    if standards is not None:
        return standards
    try:
        return cv.load_standards()
    except cv.CoverageError as exc:
        raise StandardsUnavailable(
            f"the planning standards file ({cv.STANDARDS_ENV}) cannot be used: {exc}; "
            "fix it or unset the variable"
        ) from exc


def kind_and_group(
    kind: str, group: str | None = None, standards: Mapping[str, cv.Standard] | None = None
) -> tuple[Kind, Group]:
    """A checked kind and group (default: the group the kind's standard is for)."""
    cv.check_kind(kind)
    table = standards_in_force(standards)
    return kind, cv.check_group(group or table[kind].group)  # type: ignore[return-value]


def standards(user: Principal) -> Mapping[str, cv.Standard]:
    """The walking standards per facility kind (GB 50180-2018 life circles)."""
    require_planner(user, "read the planning standards")
    return standards_in_force()


def resident_demand(engine: Engine, resolution: int) -> pd.DataFrame:
    """People by group per H3 cell and grid, from the stored households and residents."""
    demand = cv.demand_from_households(
        plan_store.demand_households(engine),
        plan_store.demand_residents(engine),
        reference_year=clock.now().year,
        resolution=resolution,
    )
    if demand.empty:
        raise NoDemand(
            "no residents are loaded yet, so there is nobody to plan for: load a district "
            "first ('wangge load FILE.gpkg' or 'wangge demo')"
        )
    return demand


def load_inputs(data: PlanningData, step: Step = quiet) -> PlanningInputs:
    """The network (or :class:`NoRoadNetwork`), the demand and the facilities."""
    network = require_network(data.network)
    demand = data.demand
    if demand is None:
        step("counting demand per H3 cell and grid")
        demand = resident_demand(data.engine, data.resolution)
    facilities = plan_store.facilities(data.engine)
    return PlanningInputs(network, demand, facilities, standards_in_force(data.standards))


def demand_from_frame(
    user: Principal, engine: Engine, frame: pd.DataFrame, *, resolution: int, layer: str
) -> pd.DataFrame:
    """Demand a planner brings (a census grid: points or polygons, EPSG:4326), in grids.

    Raises
    ------
    gis.errors.ValidationError
        Naming each row and column with a bad count or no location.
    """
    require_planner(user, "plan for demand of their own")
    grids = grid_store.current_grids(engine).rename_geometry("geometry")
    return cv.demand_from_file(frame, resolution=resolution, grids=grids, layer=layer)


def demand_from_geojson(
    user: Principal,
    engine: Engine,
    collection: Mapping[str, Any],
    *,
    coord_type: str = "wgs84",
    resolution: int,
) -> pd.DataFrame:
    """:func:`demand_from_frame` of a GeoJSON FeatureCollection in ``coord_type``."""
    is_collection = collection.get("type") == "FeatureCollection"
    features = collection.get("features") if is_collection else None
    if not isinstance(features, list) or not features:
        raise PlanningError("demand: give a GeoJSON FeatureCollection with features")
    try:
        frame = gpd.GeoDataFrame.from_features(features, crs=4326)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PlanningError(f"demand: not valid GeoJSON features ({exc})") from exc
    frame = frame.set_geometry(geometries_to_wgs84(frame.geometry.values, coord_type))
    return demand_from_frame(user, engine, frame, resolution=resolution, layer="demand")


# ------------------------------------------------------------------ access


@dataclass(frozen=True, eq=False)
class Coverage:
    """Walking access to one kind, the group it is shown for, and the facilities."""

    kind: Kind
    group: Group
    access: cv.Access
    facilities: pd.DataFrame


@dataclass(frozen=True, eq=False)
class AccessReport:
    """Who lacks a facility within its walking limit.

    Attributes
    ----------
    coverage : Coverage
    facilities : int
        Facilities of the kind today.
    served : pandas.DataFrame
        By group (:func:`analysis.coverage.served_shares`).
    split : CapacitySplit
        The standard's group: served, lacking capacity, too far.
    equity : pandas.DataFrame
        By group (:func:`analysis.coverage.equity`).
    unserved_by_grid, unserved_by_community : pandas.DataFrame
        The ``top`` grids (``grid_id, people, unserved, share_unserved, grid_code,
        grid_name, community_name``) and communities (``community_id … community_code,
        community_name``) with the most unserved people of the group, most first.
    """

    coverage: Coverage
    facilities: int
    served: pd.DataFrame
    split: cv.CapacitySplit
    equity: pd.DataFrame
    unserved_by_grid: pd.DataFrame
    unserved_by_community: pd.DataFrame


#: Where walking times are computed: False here, True on a Dask cluster started for the
#: job (``WANGGE_DASK_SCHEDULER``, else a LocalCluster), or a ``distributed.Client`` to use.
OnDask = Union[bool, "Client"]


@contextmanager
def dask_cluster(on_dask: OnDask) -> Iterator[Client]:
    """The client ``on_dask`` names: itself, or one started for the block (True)."""
    if on_dask is True:
        from etl.relocate_dask import dask_client

        with dask_client() as client:
            yield client
    elif on_dask is False:
        raise ValueError("no cluster: on_dask is False")
    else:
        yield on_dask


def coverage_on(
    inputs: PlanningInputs, kind: Kind, group: Group, step: Step = quiet, *, on_dask: OnDask = False
) -> Coverage:
    """Walking time from every demand row to the nearest facility of ``kind``.

    ``on_dask``: partition by partition on a Dask cluster (:data:`OnDask`;
    :func:`analysis.coverage.access_partitioned`), the same answer as in one process.
    """
    if on_dask is not False:
        step(f"walking times to the nearest {kind}, on Dask")
        with dask_cluster(on_dask) as client:
            result = cv.access_partitioned(
                inputs.network,
                inputs.demand,
                inputs.facilities,
                kind,
                client=client,
                standards=inputs.standards,
            )
        return Coverage(kind, group, result, inputs.facilities)
    step(f"walking times to the nearest {kind}")
    result = cv.access(
        inputs.network, inputs.demand, inputs.facilities, kind, standards=inputs.standards
    )
    return Coverage(kind, group, result, inputs.facilities)


def coverage(
    user: Principal, data: PlanningData, kind: str, group: str | None = None, step: Step = quiet
) -> Coverage:
    """Walking access to ``kind`` for ``group`` (the access map's data)."""
    require_planner(user, "see facility coverage")
    kind, group = kind_and_group(kind, group, data.standards)
    return coverage_on(load_inputs(data, step), kind, group, step)


def access_report(
    user: Principal,
    data: PlanningData,
    kind: str,
    group: str | None = None,
    *,
    top: int = 20,
    step: Step = quiet,
    on_dask: OnDask = False,
) -> AccessReport:
    """Shares served, the capacity split, equity, and the grids worst off.

    ``on_dask``: the walking times on a Dask cluster (:func:`coverage_on`).
    """
    require_planner(user, "see facility coverage")
    kind, group = kind_and_group(kind, group, data.standards)
    inputs = load_inputs(data, step)
    found = coverage_on(inputs, kind, group, step, on_dask=on_dask)
    step("capacity: served / lack of capacity / too far")
    split = cv.capacity_split(
        inputs.network, inputs.demand, inputs.facilities, kind, standards=inputs.standards
    )
    result = found.access
    grids = plan_store.grid_names(data.engine)
    communities = plan_store.community_names(data.engine)
    by_grid = cv.unserved_by(result, "grid_id", group).head(top).reset_index()
    by_grid["grid_code"] = by_grid["grid_id"].map(grids["code"])
    by_grid["grid_name"] = by_grid["grid_id"].map(grids["name"])
    by_grid["community_name"] = by_grid["grid_id"].map(grids["community_name"])
    by_comm = cv.unserved_by(result, "community_id", group).head(top).reset_index()
    by_comm["community_code"] = by_comm["community_id"].map(communities["code"])
    by_comm["community_name"] = by_comm["community_id"].map(communities["name"])
    return AccessReport(
        coverage=found,
        facilities=int((inputs.facilities["kind"] == kind).sum()),
        served=cv.served_shares(result),
        split=split,
        equity=cv.equity(result),
        unserved_by_grid=by_grid,
        unserved_by_community=by_comm,
    )
