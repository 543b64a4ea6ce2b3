"""The naive baseline: a square lattice of as many grids, clipped to the community."""

from __future__ import annotations

import math

import numpy as np

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from gis.coords import local_metric_crs_for
from grids.codes import reading_order
from grids.design.blocks import _building_points, _community_geometry, _project, _unproject
from grids.design.metrics import (
    DEFAULT_MAX_HOUSEHOLDS,
    DEFAULT_MIN_HOUSEHOLDS,
    Design,
    DesignError,
    measure,
    polsby_popper,
)
from grids.locate import NO_GRID, locate_points


def naive_square_grid(
    community: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    n: int,
    *,
    min_households: int = DEFAULT_MIN_HOUSEHOLDS,
    max_households: int = DEFAULT_MAX_HOUSEHOLDS,
) -> Design:
    """The naive alternative: ``n`` grids from a square lattice clipped to the community.

    The lattice starts at the north-west corner of the community's bounding box in its
    UTM zone (one metre outside it), with square cells of side ``sqrt(area / n)`` (so
    ``n`` cells would cover the area).
    Cells are clipped to the community and split into their connected pieces.  While
    there are more than ``n`` pieces, the smallest is merged into the neighbour it shares
    the longest edge with (or, if it has none, the nearest piece); if there are fewer
    than ``n`` pieces (an odd outline), the side shrinks by 5 % and the lattice is drawn
    again.  Households come from the buildings, as for the designed grids.  This ignores
    roads and households entirely: it is the baseline a planner would draw with a ruler.

    Parameters
    ----------
    community
        Polygon or MultiPolygon, EPSG:4326.
    buildings
        Buildings (points or polygons) with a ``households`` column.
    n
        Number of grids, at least 1.
    min_households, max_households
        The band for the metrics.

    Returns
    -------
    Design
        Its ``blocks`` are the clipped lattice pieces before merging.
    """
    if n < 1:
        raise DesignError("a naive grid needs at least one cell")
    geom = _community_geometry(community)
    crs = local_metric_crs_for(geom)
    metric = _project(np.array([geom], dtype=object), crs)[0]
    minx, miny, maxx, maxy = metric.bounds
    # a metre of margin: lattice lines never run along an edge of the bounding box
    minx, miny, maxx, maxy = minx - 1.0, miny - 1.0, maxx + 1.0, maxy + 1.0
    side = math.sqrt(metric.area / n)
    pieces = np.empty(0, dtype=object)
    for _ in range(60):
        nx = max(1, math.ceil((maxx - minx) / side))
        ny = max(1, math.ceil((maxy - miny) / side))
        ix, iy = np.meshgrid(np.arange(nx), np.arange(ny))
        x0 = minx + ix.ravel() * side
        y0 = maxy - (iy.ravel() + 1) * side
        cells = shapely.box(x0, y0, x0 + side, y0 + side)
        cells4326 = _unproject(cells, crs)
        clipped = shapely.intersection(cells4326, geom)
        parts = shapely.get_parts(clipped)
        parts = parts[shapely.get_type_id(parts) == 3]  # Polygons
        parts = parts[shapely.area(_project(parts, crs)) > 1e-3]
        pieces = parts
        if len(pieces) >= n:
            break
        side *= 0.95
    if len(pieces) < n:
        raise DesignError(f"cannot draw {n} lattice cells in this community")

    groups = [[i] for i in range(len(pieces))]
    shapes = list(pieces)
    metric_shapes = list(_project(pieces, crs))
    while len(shapes) > n:
        areas = np.array([s.area for s in metric_shapes])
        small = int(np.argmin(areas))
        others = [i for i in range(len(shapes)) if i != small]
        shared = np.array(
            [
                shapely.length(
                    shapely.intersection(shapely.boundary(metric_shapes[small]), metric_shapes[i])
                )
                for i in others
            ]
        )
        if shared.max(initial=0.0) > 1e-6:
            target = others[int(np.argmax(shared))]
        else:
            dist = np.array([metric_shapes[small].distance(metric_shapes[i]) for i in others])
            target = others[int(np.argmin(dist))]
        shapes[target] = shapely.union_all([shapes[target], shapes[small]])
        metric_shapes[target] = shapely.union_all([metric_shapes[target], metric_shapes[small]])
        groups[target] += groups[small]
        del shapes[small], metric_shapes[small], groups[small]

    geoms = np.array(shapes, dtype=object)
    _, lon, lat, hh = _building_points(buildings)
    where = locate_points(lon, lat, geoms)
    placed = where != NO_GRID
    households = np.bincount(where[placed], weights=hh[placed], minlength=len(geoms))
    n_bld = np.bincount(where[placed], minlength=len(geoms))
    pp = polsby_popper(geoms, crs)
    order = reading_order(geoms)
    grids = gpd.GeoDataFrame(
        {
            "households": households.round().astype(np.int64),
            "buildings": n_bld,
            "blocks": np.array([len(g) for g in groups]),
            "area_m2": np.array([s.area for s in metric_shapes]),
            "polsby_popper": pp,
            "in_band": (households >= min_households) & (households <= max_households),
            "heavy": np.zeros(len(geoms), dtype=bool),
        },
        geometry=geoms,
        crs=4326,
    ).iloc[order]
    grids = grids.reset_index(drop=True)
    cell_grid = np.empty(len(pieces), dtype=np.int64)
    rank = np.empty(len(geoms), dtype=np.int64)
    rank[order] = np.arange(len(geoms))
    for gi, members in enumerate(groups):
        cell_grid[members] = rank[gi]
    blocks = gpd.GeoDataFrame({"grid": cell_grid}, geometry=pieces, crs=4326)
    metrics = measure(
        np.asarray(grids.geometry.array, dtype=object),
        grids["households"].to_numpy(),
        min_households=min_households,
        max_households=max_households,
        crs=crs,
    )
    notes = [] if placed.all() else [f"{int((~placed).sum())} building(s) outside the cells"]
    return Design(grids, blocks, metrics, [], notes)
