"""What a hazard area touches (影响评估) and whom the workers must check on (走访名单).

The impact of a stored hazard — grids, buildings, households, residents by group,
shelters inside and outside, closed roads, the check-on rows with safe shelter and
walking route — is computed once (:func:`compute_impact`; the server keeps it while
the data stand still) and read by the JSON routes, the wall screen, the alerts and the
command line alike.

Access (:mod:`grids.access`): ``user`` is who asks over HTTP; None is the operator at the
command line, who sees everything.  The impact is the command centre's (staff); its grid
rows and check-on lists are limited to the grids the user covers (a grid worker reads
their own grids' lists); its totals are counts without personal data.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from analysis.hazard import HazardError, HazardImpact, hazard_impact
from analysis.network import RoadNetwork
from analysis.walking import require_network
from api.services.awareness import read_hazard
from gis import clock
from gis.errors import NotFound
from gis.settings import Settings
from gis.store import awareness_store as store
from gis.store import queries
from gis.store.awareness_store import HazardRow, ImpactInputs
from grids.access import Principal, require_check_on, require_command_centre, rows_in_area


def road_network(engine: Engine, settings: Settings) -> RoadNetwork:
    """The stored road network for walking (the command line's; the server keeps its own).

    Raises
    ------
    analysis.walking.NoRoadNetwork
        When no road network is loaded.
    """
    nodes, edges = queries.road_network_frames(engine)
    network = None
    if not edges.empty:
        network = RoadNetwork.from_frames(nodes, edges, walk_speed_mps=settings.walk_speed_mps)
    return require_network(network)


@dataclass(frozen=True)
class Impact:
    """A stored hazard's impact with what it was computed from (``at``: monotonic s)."""

    hazard: HazardRow
    inputs: ImpactInputs
    impact: HazardImpact
    network: RoadNetwork
    at: float


#: How a door gets the impact of a hazard by id: computed, or from the server's cache.
ImpactOf = Callable[[int], Impact]


def compute_impact(engine: Engine, hazard_id: int, network: RoadNetwork | None) -> Impact:
    """The impact of a stored hazard, computed now.

    Raises
    ------
    NotFound
        For an unknown hazard.
    NoRoadNetwork
        Without a road network.
    HazardError
        When the hazard meets no grid.
    """
    hazard = read_hazard(engine, hazard_id)
    network = require_network(network)
    inputs = store.impact_inputs(engine, hazard.geom)
    if inputs.grids.empty:
        raise HazardError(
            f"hazard {hazard_id} ('{hazard.name}') meets no current grid: it affects nobody "
            "in the area served (check its polygon)"
        )
    impact = hazard_impact(
        hazard.geom,
        grids=inputs.grids,
        buildings=inputs.buildings,
        households=inputs.households,
        residents=inputs.residents,
        shelters=inputs.shelters,
        network=network,
        workers=inputs.workers,
        reference_year=clock.now().year,
        # checked against the imported boundaries when it was stored; any place on Earth
        # here, so that a district outside China is not refused by the settings' box
        service_area=(-180.0, -90.0, 180.0, 90.0),
    )
    return Impact(hazard, inputs, impact, network, time.monotonic())


def affected_grids(got: Impact, user: Principal | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid rows (with their ``check_on`` count) and check-on rows the user may see."""
    grids, rows = got.impact.grids, got.impact.check_on
    if user is not None:
        grids = grids[rows_in_area(user, grids["grid_id"])]
        rows = rows[rows_in_area(user, rows["grid_id"])]
    per_grid = rows.groupby("grid_id").size()
    grids = grids.assign(check_on=grids["grid_id"].map(per_grid).fillna(0).astype(int))
    return grids, rows


@dataclass(frozen=True)
class ShelterState:
    """A shelter as the impact names it."""

    id: int
    name: str | None
    usable: bool


@dataclass(frozen=True)
class ImpactView:
    """A hazard's impact as one user sees it: their grids' rows, the whole hazard's totals.

    ``grids``: code, area_share, counts by group, ``check_on`` and the grid's primary
    ``worker_id``; the totals are counts without personal data.
    """

    hazard: HazardRow
    area_m2: float
    grids: pd.DataFrame
    buildings: int
    households: int
    residents_by_group: dict[str, int]
    check_on: int
    check_on_without_safe_shelter: int
    shelters_inside: list[ShelterState]
    shelters_outside: list[ShelterState]
    closed_road_edges: int
    notes: list[str]


def impact_view(user: Principal | None, hazard_id: int, impact_of: ImpactOf) -> ImpactView:
    """What a hazard touches: grids, buildings, households, residents by group, shelters."""
    if user is not None:
        require_command_centre(user, "read a hazard's impact")
    got = impact_of(hazard_id)
    imp, inputs = got.impact, got.inputs
    grids, mine = affected_grids(got, user)
    primary = inputs.workers[inputs.workers["role"] == "primary"].set_index("grid_id")
    grids = grids.assign(worker_id=grids["grid_id"].map(primary["worker_id"]).astype("Int64"))
    shelters = inputs.shelters.set_index("facility_id")
    names = {int(k): v for k, v in shelters["name"].items()}
    is_open = {int(k): bool(v) for k, v in shelters["is_open"].items()}
    return ImpactView(
        hazard=got.hazard,
        area_m2=imp.area_m2,
        grids=grids,
        buildings=len(imp.buildings),
        households=len(imp.households),
        residents_by_group=dict(imp.residents_by_group),
        check_on=len(mine),
        check_on_without_safe_shelter=int((mine["reason"] != "ok").sum()) if len(mine) else 0,
        shelters_inside=[
            ShelterState(int(s), names.get(int(s)), False) for s in imp.shelters_inside
        ],
        shelters_outside=[
            ShelterState(int(s), names.get(int(s)), is_open.get(int(s), False))
            for s in imp.shelters_outside
        ],
        closed_road_edges=len(imp.closed_edges),
        notes=list(imp.notes),
    )


@dataclass(frozen=True)
class CheckOnList:
    """Whom the workers must check on (走访名单), with safe shelter and walking route.

    ``rows``: the check-on rows of :func:`analysis.hazard.hazard_impact` (ids and flags,
    no names) plus ``room`` and ``walk_min``; ``route`` is a WGS84 line or None.
    """

    hazard_id: int
    grid: str | None
    rows: pd.DataFrame


def check_on_list(
    engine: Engine,
    user: Principal | None,
    hazard_id: int,
    impact_of: ImpactOf,
    grid: str | None = None,
) -> CheckOnList:
    """The check-on rows of a hazard, of one grid (15-digit code) or every grid visible.

    Raises
    ------
    NotFound
        For a grid that is not a current grid of the user's area (as if it did not exist).
    """
    if user is not None:
        require_check_on(user)
    got = impact_of(hazard_id)
    _, rows = affected_grids(got, user)
    if grid is not None:
        known = store.grids_in_area(engine)
        if user is not None:
            known = known[rows_in_area(user, known["id"])]
        if grid not in set(known["code"]):
            area = " in your area" if user is not None else ""
            raise NotFound(f"no current grid{area} has code {grid}")
        rows = rows[rows["grid_code"] == grid]
    rooms = got.inputs.households.set_index("id")["room"]
    walk_min = [None if pd.isna(s) else round(float(s) / 60, 1) for s in rows["walk_s"]]
    rows = rows.assign(room=rows["household_id"].map(rooms), walk_min=walk_min)
    return CheckOnList(hazard_id, grid, rows.reset_index(drop=True))


# ---------------------------------------------------------------- workers' positions
