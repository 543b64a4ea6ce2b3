"""The evacuation plan and each grid's list for its worker (ids, no names): 疏散清单.

Every household is sent to a shelter on foot (capacity, fixed shelters' zones, special
needs first) on the stored road network, with the roads a caller closes and the hazard
areas in force now avoided: their roads are closed and the shelters inside them unused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import geopandas as gpd
import shapely

from analysis.evacuation_lists import EvacuationLists, build_evacuation_lists
from analysis.walking import require_network
from api.services.network import stored_network
from gis import clock
from gis.errors import NotFound, ServiceError
from gis.store import awareness_store, grid_store, queries


class UnknownGrid(ServiceError, NotFound):
    """No current grid has the code asked for."""


@dataclass(frozen=True)
class EvacuationPlan:
    """The plan, and the lists of the grids asked for.

    Attributes
    ----------
    lists : EvacuationLists
        The whole plan: households, shelters, the shelters and roads the hazards took.
    table : pandas.DataFrame
        One row per household of the grids asked for, households needing help first
        in each grid; a GeoDataFrame of routes (EPSG:4326) when routes were asked for.
        ``help_resident_ids`` holds lists of resident ids.
    grids : list of str
        The codes of the grids listed.
    hazards : geopandas.GeoDataFrame
        The hazard areas in force (id, kind, name, severity …), empty when none.
    """

    lists: EvacuationLists
    table: pd.DataFrame
    grids: list[str]
    hazards: gpd.GeoDataFrame


def plan_evacuation(
    engine: Engine,
    *,
    grid: str | None = None,
    closed_edges: Sequence[int] = (),
    candidates: int = 10,
    routes: bool = True,
) -> EvacuationPlan:
    """Plan where every household walks to, and list the households of one or every grid.

    Parameters
    ----------
    engine
        The database.
    grid
        Only this grid's list (15-digit code); None: every grid with households.
    closed_edges
        ``road_edge`` ids closed (flooded, blocked).
    candidates
        Nearest shelters considered per household.
    routes
        Add each household's walking route (a LineString, EPSG:4326) to the lists.

    Raises
    ------
    analysis.walking.NoRoadNetwork
        When no road network is loaded.
    analysis.network.NetworkError
        When a closed edge is not in the network.
    UnknownGrid
        When ``grid`` is not a current grid.
    """
    network = require_network(stored_network(engine))
    if closed_edges:
        network = network.without_edges(list(closed_edges))
    grids = grid_store.current_grids(engine)
    if grid is not None and grid not in set(grids["code"]):
        raise UnknownGrid(f"no current grid with code {grid}")
    hazards = awareness_store.hazards(engine, active_at=clock.now())
    lists = build_evacuation_lists(
        network,
        queries.evacuation_households(engine),
        queries.evacuation_shelters(engine),
        grids.rename_geometry("geometry")[["code", "geometry"]],
        candidates=candidates,
        hazard=(
            shapely.union_all(np.asarray(hazards.geometry.array, dtype=object))
            if len(hazards)
            else None
        ),
    )
    chosen = [grid] if grid is not None else lists.grids
    frames = [lists.grid_list(code, routes=routes) for code in chosen]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return EvacuationPlan(lists, table, chosen, hazards)
