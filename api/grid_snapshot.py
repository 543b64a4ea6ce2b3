"""The current grids as the app answers from them, read once per grid version.

Locating a report (which 网格, how close to its edge) happens on every intake, so
the grids, their spatial index and their edges in metres are kept in memory and
rebuilt only when the ``grid`` table changes (its data version).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from fastapi import Request
from sqlalchemy import Engine

import shapely
from pyproj import Transformer

from gis.coords import local_metric_crs_for
from gis.store import grid_store, queries
from grids.locate import NO_GRID

_lock = threading.Lock()


@dataclass(frozen=True)
class GridSnapshot:
    """The current grids in code order, with an STRtree and their edges in a metric CRS."""

    version: tuple
    ids: np.ndarray
    codes: list[str]
    names: list[str]
    community_ids: np.ndarray
    communities: list[str]
    geoms: np.ndarray
    tree: shapely.STRtree
    to_metric: Transformer | None
    edges_m: np.ndarray

    def locate(self, lon: float, lat: float) -> int:
        """Position of the grid containing the point (smallest code on an edge), or NO_GRID."""
        hits = self.tree.query(shapely.Point(lon, lat), predicate="intersects")
        return int(hits.min()) if len(hits) else NO_GRID

    def edge_distance_m(self, pos: int, lon: float, lat: float) -> float:
        """Metres from a point to the edge of grid ``pos``."""
        assert self.to_metric is not None
        x, y = self.to_metric.transform(lon, lat)
        return float(shapely.distance(self.edges_m[pos], shapely.Point(x, y)))


def read_snapshot(engine: Engine, version: tuple = ()) -> GridSnapshot:
    """Read the current grids and index them."""
    grids = grid_store.current_grids(engine)
    geoms = np.asarray(grids.geometry.array)
    to_metric = None
    edges = np.empty(0, dtype=object)
    if len(grids):
        crs = local_metric_crs_for(grids.geometry)
        to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        edges = shapely.boundary(np.asarray(grids.to_crs(crs).geometry.array))
    return GridSnapshot(
        version=version,
        ids=grids["id"].to_numpy(dtype=np.int64),
        codes=list(grids["code"]),
        names=list(grids["name"]),
        community_ids=grids["community_id"].to_numpy(dtype=np.int64),
        communities=list(grids["community_name"]),
        geoms=geoms,
        tree=shapely.STRtree(geoms),
        to_metric=to_metric,
        edges_m=edges,
    )


#: Seconds a snapshot is trusted without asking the database for the grid version.
RECHECK_SECONDS = 1.0


def grid_snapshot(request: Request, engine: Engine, *, fresh: bool = False) -> GridSnapshot:
    """The app's current grids, re-read only when a grid was added, changed or retired.

    For lookups the version is asked at most once a second, so a burst of them costs no
    extra query and a grid redrawn is seen a second later at most.  ``fresh=True`` asks
    the version every time: a report is stored with its grid, so it must never be placed
    in grids that were replaced a moment ago.
    """
    now = time.monotonic()
    cached: GridSnapshot | None = getattr(request.app.state, "grid_snapshot", None)
    checked = getattr(request.app.state, "grid_snapshot_checked", 0.0)
    if cached is not None and not fresh and now - checked < RECHECK_SECONDS:
        return cached
    version = queries.data_version(engine, ("grid",))
    request.app.state.grid_snapshot_checked = now
    with _lock:
        cached = getattr(request.app.state, "grid_snapshot", None)
        if cached is not None and cached.version == version:
            return cached
        snap = read_snapshot(engine, version)
        request.app.state.grid_snapshot = snap
        return snap
