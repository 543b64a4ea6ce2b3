"""The walking network and the shelter index the app answers from, cached per data version.

The shelter index follows the hazard areas in force as well (:func:`shelter_state`):
their roads are closed and the shelters inside them left out
(:func:`analysis.hazard.close_hazard`, the rule of the check-on lists).  Which hazards
are in force changes with the clock as much as with the table, so their ids and row
versions are read on every call (one small statement) and the index is rebuilt when
they change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fastapi import Request
from numpy.typing import NDArray
from sqlalchemy import Engine

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from analysis.hazard import HazardClosure, close_hazard
from analysis.nearest import ShelterIndex
from analysis.network import RoadNetwork
from gis import clock
from gis.settings import Settings
from gis.store import awareness_store, queries

_TABLES = ("road_node", "road_edge", "facility", "shelter")
_lock = threading.Lock()


@dataclass(frozen=True)
class WalkingState:
    """The walking network and the shelters, built once per data version."""

    version: tuple
    network: RoadNetwork | None
    shelters: pd.DataFrame
    bounds: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class ShelterState:
    """The nearest-shelter index as the hazard areas in force leave the district.

    Attributes
    ----------
    key : tuple
        The data version and the hazards in force (ids and row versions) it was built for.
    walking : WalkingState
        The full walking network and every shelter.
    hazards : geopandas.GeoDataFrame
        The hazard areas in force: id, kind, name, severity, valid_from, valid_to,
        geometry (EPSG:4326); empty when none.
    area : shapely geometry or None
        Their union, EPSG:4326; None when none is in force.
    closure : HazardClosure or None
        The roads closed and the shelters set aside (None without a road network).
    index : ShelterIndex or None
        The nearest open shelter outside the hazard areas, on the roads left open; None
        when there is none (or no road network).
    shelters_inside : numpy.ndarray of int64
        Shelters (facility ids) inside a hazard area in force: never recommended.
    """

    key: tuple
    walking: WalkingState
    hazards: gpd.GeoDataFrame
    area: BaseGeometry | None
    closure: HazardClosure | None
    index: ShelterIndex | None
    shelters_inside: NDArray[np.int64]


def walking_state(request: Request, engine: Engine, settings: Settings) -> WalkingState:
    """The walking network and the shelters, rebuilt only when their tables change."""
    version = queries.data_version(engine, _TABLES)
    with _lock:
        cached: WalkingState | None = getattr(request.app.state, "walking", None)
        if cached is not None and cached.version == version:
            return cached
        nodes, edges = queries.road_network_frames(engine)
        found = queries.shelters(engine)
        network = bounds = None
        if not edges.empty:
            network = RoadNetwork.from_frames(nodes, edges, walk_speed_mps=settings.walk_speed_mps)
            w, s, e, n = (float(v) for v in edges.total_bounds)
            bounds = (w, s, e, n)
        snap = WalkingState(version, network, found.set_index("facility_id"), bounds)
        request.app.state.walking = snap
        return snap


def shelter_state(request: Request, engine: Engine, settings: Settings) -> ShelterState:
    """The shelter index for now: rebuilt when the data or the hazards in force change."""
    walking = walking_state(request, engine, settings)
    now = clock.now()
    key = (walking.version, awareness_store.hazard_versions(engine, active_at=now))
    with _lock:
        cached: ShelterState | None = getattr(request.app.state, "shelters_now", None)
        if cached is not None and cached.key == key:
            return cached
        hazards = awareness_store.hazards(engine, active_at=now)
        geoms = np.asarray(hazards.geometry.array, dtype=object)
        area = shapely.union_all(geoms) if len(geoms) else None
        closure, index, inside = None, None, np.zeros(0, dtype=np.int64)
        found = walking.shelters
        if walking.network is not None:
            points = np.asarray(found.geometry.array, dtype=object)
            closure = close_hazard(
                walking.network,
                area,
                found.index.to_numpy(),
                shapely.get_x(points),
                shapely.get_y(points),
                is_open=found["is_open"].fillna(False).to_numpy(dtype=bool),
            )
            index = closure.shelter_index(
                capacity=found["capacity"].to_numpy(), occupancy=found["occupancy"].to_numpy()
            )
            inside = np.sort(closure.shelter_id[closure.inside])
        state = ShelterState(key, walking, hazards, area, closure, index, inside)
        request.app.state.shelters_now = state
        return state
