"""The walking network and the shelter index the app answers from, cached per data version."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd
from fastapi import Request
from sqlalchemy import Engine

import shapely

from analysis.nearest import ShelterIndex
from analysis.network import RoadNetwork
from gis import queries
from gis.settings import Settings

_TABLES = ("road_node", "road_edge", "facility", "shelter")
_lock = threading.Lock()


@dataclass(frozen=True)
class WalkingState:
    """The walking network and the shelter index, built once per data version."""

    version: tuple
    index: ShelterIndex | None
    network: RoadNetwork | None
    shelters: pd.DataFrame
    bounds: tuple[float, float, float, float] | None


def walking_state(request: Request, engine: Engine, settings: Settings) -> WalkingState:
    """The walking network and shelter index, rebuilt only when their tables change."""
    version = queries.data_version(engine, _TABLES)
    with _lock:
        cached: WalkingState | None = getattr(request.app.state, "shelter_index", None)
        if cached is not None and cached.version == version:
            return cached
        nodes, edges = queries.road_network_frames(engine)
        found = queries.shelters(engine)
        index = network = bounds = None
        if not edges.empty:
            network = RoadNetwork.from_frames(nodes, edges, walk_speed_mps=settings.walk_speed_mps)
            w, s, e, n = (float(v) for v in edges.total_bounds)
            bounds = (w, s, e, n)
            if found["is_open"].any():
                geoms = np.asarray(found.geometry.array)
                index = ShelterIndex.build(
                    network,
                    found["facility_id"].to_numpy(),
                    shapely.get_x(geoms),
                    shapely.get_y(geoms),
                    is_open=found["is_open"].to_numpy(),
                    capacity=found["capacity"].to_numpy(),
                    occupancy=found["occupancy"].to_numpy(),
                )
        snap = WalkingState(version, index, network, found.set_index("facility_id"), bounds)
        request.app.state.shelter_index = snap
        return snap
