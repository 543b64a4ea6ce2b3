"""Place points and shapes in 网格 (grids) and H3 cells.

Tie rule: a point on the shared boundary of several grids belongs to the one that
comes first in the order the grids are given (callers pass grids sorted by code, so
the grid with the smallest code wins).  A point in no grid gets ``-1``: "no grid",
never a wrong grid.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

import shapely
from h3ronpy.vector import coordinates_to_cells

NO_GRID = -1


def h3_cells(lon: npt.ArrayLike, lat: npt.ArrayLike, resolution: int) -> np.ndarray:
    """H3 cells of lon/lat points (degrees, EPSG:4326) as signed 64-bit integers.

    H3 indexes have their top bit clear, so the unsigned value h3 returns and the
    signed ``int64`` (PostgreSQL ``bigint``) are the same number.
    """
    lon_arr = np.asarray(lon, dtype=np.float64)
    lat_arr = np.asarray(lat, dtype=np.float64)
    if lon_arr.size == 0:
        return np.empty(0, dtype=np.int64)
    cells = coordinates_to_cells(lat_arr, lon_arr, resolution)
    return np.asarray(cells.to_numpy()).astype(np.uint64).view(np.int64)


def locate_points(lon: npt.ArrayLike, lat: npt.ArrayLike, grids: npt.ArrayLike) -> np.ndarray:
    """Index into ``grids`` of the polygon that covers each point, ``-1`` for none.

    Parameters
    ----------
    lon, lat
        Point coordinates in degrees (EPSG:4326).
    grids
        Array of (Multi)Polygons in EPSG:4326, in tie-break order.

    Returns
    -------
    numpy.ndarray
        ``int64`` positions into ``grids``; a point covered by several polygons (on a
        shared edge) gets the smallest position.
    """
    points = shapely.points(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    result = np.full(len(points), NO_GRID, dtype=np.int64)
    if len(points) == 0:
        return result
    tree = shapely.STRtree(np.asarray(grids, dtype=object))
    point_idx, grid_idx = tree.query(points, predicate="intersects")
    if len(point_idx):
        # keep the smallest grid position per point: sort by (point, grid), take firsts
        order = np.lexsort((grid_idx, point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.ones(len(point_idx), dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        result[point_idx[first]] = grid_idx[first]
    return result


def representative_points(geoms: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of the point that stands for each shape: its point on surface.

    A building is placed by a point guaranteed to lie inside its footprint (a
    centroid can fall outside an L-shaped block).
    """
    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    return shapely.get_x(pts), shapely.get_y(pts)
