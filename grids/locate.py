"""Place points and shapes in 网格 (grids) and H3 cells, exactly and fast.

Rules
-----
Exactness
    The grid of a point is the smallest position ``i`` such that
    ``shapely.covers(grids[i], point)``, else :data:`NO_GRID` (``-1``).  Planar
    predicates in degrees (EPSG:4326), as shapely and PostGIS ``geometry`` compute
    them; every answer equals that oracle, not an approximation of it.
Tie rule
    A point covered by several grids (on a shared edge or vertex, or in an overlap
    that the topology check would report) belongs to the grid with the smallest
    position.  Callers pass grids sorted by code, so the smallest code wins.
No grid
    A point covered by no grid, or whose coordinates are not finite, gets ``-1``:
    "no grid", never a wrong grid.
Shapes
    A polygon (a building footprint) is placed by its point on surface
    (:func:`representative_points`), a point guaranteed inside it; a centroid can
    fall outside an L-shaped block.

How it is fast
--------------
:class:`GridLocator` precomputes the H3 cells (at ``interior_resolution``, 10 by
default: about 15,000 m² a cell on average, 11,700 m² near 30°N) that meet the
grids.  A cell whose polygon, widened by a small margin, lies in the interior of a
grid and touches no earlier grid answers every point inside it by a table lookup (one
gather from a direct-address array keyed by the cell).  A cell that meets no grid
answers "no grid".  Only the points of the remaining boundary cells are tested exactly
(prepared ``shapely.intersects_xy``, which for a point is ``covers``), against the few
grids their cell meets, in position order.  The cells a caller asks for come from the
same H3 pass when the resolutions match.

Why the margin
--------------
H3 cell edges are great-circle arcs; shapely's polygons are straight in lon/lat.  At
resolution 10 (edges about 65 m) an arc bows at most about 5e-10 degrees off its
chord, and h3's own floating-point error is about 1e-13 degrees.  Widening every cell
polygon by :data:`CELL_MARGIN_DEG` (1e-7 degrees, about 1 cm) plus twice the largest
bow measured on the cells themselves (which matters only at coarse resolutions) makes
the widened polygon contain every point h3 puts in the cell, so "widened cell
properly inside grid ``i``" (``shapely.contains_properly``, exact in degrees) proves
that all its points are covered by grid ``i``, and "widened cell does not meet grid
``j``" proves that none is covered by ``j``.

Limits: grids must not cross the antimeridian; grids with invalid geometry give what
shapely's predicates give for them (the topology check reports them).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

import h3
import shapely
from h3ronpy import ContainmentMode
from h3ronpy.vector import cells_to_wkb_polygons, coordinates_to_cells, wkb_to_cells
from pyproj import Transformer

from gis.coords import local_metric_crs_for

__all__ = [
    "CELL_MARGIN_DEG",
    "NO_GRID",
    "BatchLocator",
    "CellCover",
    "CurrentGrids",
    "GridLocator",
    "beidou_cells",
    "cell_polygons",
    "cover_cells",
    "h3_cells",
    "locate_points",
    "representative_points",
]

NO_GRID: Final = -1
"""Position returned for a point in no grid."""
CELL_MARGIN_DEG: Final = 1e-7
"""Fixed part of the margin every cell polygon is widened by, degrees (about 1 cm)."""

_BOUNDARY: Final = -2
"""``CellCover.interior`` value of a cell that meets grids but is interior to none."""
_CHUNK: Final = 1_000_000
"""Points handled at once by one worker; bounds its temporaries to about 80 MB."""
_DIRECT_PER_GRID: Final = 80
"""Below this many points per grid, :func:`locate_points` skips building a locator.

A build costs about 0.2 ms a grid, an index query about 2.5 µs a point more than the
locator: they break even near 80 points a grid.
"""
_EARTH_KM: Final = 6371.0088
_KM_PER_DEG: Final = 2 * math.pi * _EARTH_KM / 360.0

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


# --------------------------------------------------------------------------- H3


def _coords(lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_arr = np.ascontiguousarray(lon, dtype=np.float64).reshape(-1)
    lat_arr = np.ascontiguousarray(lat, dtype=np.float64).reshape(-1)
    if lon_arr.shape != lat_arr.shape:
        raise ValueError(f"lon and lat differ in length: {lon_arr.size} and {lat_arr.size}")
    return lon_arr, lat_arr


def _workers(workers: int | None) -> int:
    return max(1, workers if workers is not None else min(4, os.cpu_count() or 1))


def _in_chunks(n: int, size: int, workers: int, job: Callable[[slice], None]) -> None:
    """Run ``job`` on consecutive slices of ``range(n)``, ``workers`` at a time.

    h3ronpy, numpy's searches and shapely's predicates release the GIL, so threads
    share the cores; each slice is at most ``size`` long and at most ``workers`` are
    in flight, which bounds the memory of the temporaries.
    """
    if n == 0:
        return
    size = max(1, min(size, -(-n // workers)))
    slices = [slice(start, min(start + size, n)) for start in range(0, n, size)]
    if workers == 1 or len(slices) == 1:
        for part in slices:
            job(part)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(job, slices):
            pass


def _h3(lon: FloatArray, lat: FloatArray, resolution: int) -> IntArray:
    """h3ronpy on finite coordinates, as ``int64``."""
    cells = coordinates_to_cells(lat, lon, resolution)
    return np.asarray(cells.to_numpy()).view(np.int64)


def _check_finite(lon: FloatArray, lat: FloatArray) -> None:
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{int(bad.sum())} points have non-finite coordinates (the first at index "
            f"{first}: lon={lon[first]}, lat={lat[first]}); drop or repair them first"
        )


def h3_cells(
    lon: npt.ArrayLike,
    lat: npt.ArrayLike,
    resolution: int,
    *,
    workers: int | None = None,
    chunk_size: int = _CHUNK,
) -> IntArray:
    """H3 cells of lon/lat points (degrees, EPSG:4326) as signed 64-bit integers.

    H3 indexes have their top bit clear, so the unsigned value h3 returns and the
    signed ``int64`` (PostgreSQL ``bigint``) are the same number.  Computed with
    h3ronpy, vectorised, in threads; the same cells as ``h3.latlng_to_cell``.

    Parameters
    ----------
    lon, lat
        Point coordinates, degrees (EPSG:4326).
    resolution
        H3 resolution, 0 to 15.
    workers
        Threads to use; default the number of cores, at most 4.
    chunk_size
        Points per thread at a time.

    Returns
    -------
    numpy.ndarray
        ``int64`` cells, one per point.

    Raises
    ------
    ValueError
        If a coordinate is not finite.
    """
    lon_arr, lat_arr = _coords(lon, lat)
    _check_finite(lon_arr, lat_arr)
    out = np.empty(lon_arr.size, dtype=np.int64)

    def job(part: slice) -> None:
        out[part] = _h3(lon_arr[part], lat_arr[part], resolution)

    _in_chunks(lon_arr.size, chunk_size, _workers(workers), job)
    return out


def beidou_cells(
    lon: npt.ArrayLike, lat: npt.ArrayLike, level: int, *, workers: int | None = None
) -> pd.arrays.IntegerArray:
    """北斗 grid cells (GB/T 39409-2020) of lon/lat points, packed, NA where there is none.

    The stored form of :func:`grids.beidou.encode`: a point in a polar cap (``|lat| >=
    88°``, no cell) is NA (a NULL ``beidou_cell``) rather than 0.

    Parameters
    ----------
    lon, lat
        Point coordinates, degrees (EPSG:4326; CGCS2000 agrees to centimetres).
    level
        The 北斗 level, 1 to 10 (``Settings.beidou_level``).
    workers
        Threads to use; default the number of cores, at most 4 (a Dask worker with one
        thread passes 1, so that its process does not take the cores of its neighbours).

    Returns
    -------
    pandas.arrays.IntegerArray
        ``Int64`` cells, one per point.
    """
    from grids.beidou import NO_CELL, encode  # grids.beidou builds on this module

    cells = encode(lon, lat, level, workers=workers)
    return pd.arrays.IntegerArray(cells, cells == NO_CELL)


def cell_polygons(cells: IntArray) -> npt.NDArray[np.object_]:
    """Straight-edged polygons of H3 cells, EPSG:4326 (degrees).

    Parameters
    ----------
    cells
        ``int64`` H3 cells.

    Returns
    -------
    numpy.ndarray
        Polygons through the cells' vertices, distortion vertices included.  The
        true edges are great-circle arcs a hair off these chords (see the module
        docstring).
    """
    if cells.size == 0:
        return np.empty(0, dtype=object)
    wkb = pa.array(cells_to_wkb_polygons(pa.array(cells.view(np.uint64))))
    return np.asarray(shapely.from_wkb(wkb.to_numpy(zero_copy_only=False)), dtype=object)


def parent_cells(cells: IntArray, resolution: int) -> IntArray:
    """The parent at ``resolution`` of each H3 cell, by the index's bit layout.

    An H3 index holds its resolution in bits 52-55 and one 3-bit digit per resolution
    below it, unused digits set to 7: the parent at ``r`` is the same index with the
    resolution field set to ``r`` and digits ``r + 1 … 15`` set to 7.

    Parameters
    ----------
    cells
        ``int64`` H3 cells, each at ``resolution`` or finer.
    resolution
        0 to 15.

    Returns
    -------
    numpy.ndarray
        ``int64`` parent cells.
    """
    if not 0 <= resolution <= 15:
        raise ValueError(f"an H3 resolution is 0 to 15, not {resolution}")
    cells = np.asarray(cells, dtype=np.int64)
    res_field = np.int64(0xF) << np.int64(52)
    unused = (np.int64(1) << np.int64(3 * (15 - resolution))) - np.int64(1)
    return (cells & ~res_field) | (np.int64(resolution) << np.int64(52)) | unused


def _largest_bow_deg(polygons: npt.NDArray[np.object_]) -> float:
    """Largest gap between a cell edge's great-circle midpoint and its chord's, degrees."""
    if polygons.size == 0:
        return 0.0
    rings = shapely.get_exterior_ring(polygons)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    lon_r, lat_r = np.radians(a[:, 0]), np.radians(a[:, 1])
    lon_s, lat_s = np.radians(b[:, 0]), np.radians(b[:, 1])
    v = np.stack(
        [
            np.cos(lat_r) * np.cos(lon_r) + np.cos(lat_s) * np.cos(lon_s),
            np.cos(lat_r) * np.sin(lon_r) + np.cos(lat_s) * np.sin(lon_s),
            np.sin(lat_r) + np.sin(lat_s),
        ]
    )
    mid_lon = np.degrees(np.arctan2(v[1], v[0]))
    mid_lat = np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1])))
    chord = (a + b) / 2.0
    gap = np.maximum(np.abs(mid_lon - chord[:, 0]), np.abs(mid_lat - chord[:, 1]))
    return float(gap.max(initial=0.0))


# --------------------------------------------------------------------------- cover


@dataclass(frozen=True)
class CellCover:
    """The H3 cells at one resolution that meet a set of grids, and how.

    Every cell whose widened polygon meets a grid is listed, so a point whose cell is
    not listed lies in no grid.

    Attributes
    ----------
    resolution
        H3 resolution of the cells.
    margin_deg
        How far each cell polygon was widened, degrees (see the module docstring).
    cells
        Sorted unique ``int64`` H3 cells.
    polygons
        The cells' straight-edged polygons, not widened, EPSG:4326.
    interior
        Per cell: the position of the grid that alone covers all of it (its widened
        polygon lies in that grid's interior and meets no earlier grid), else ``-2``.
    pair_cell, pair_grid
        Every (cell, grid) whose widened cell polygon meets the grid, as an index into
        ``cells`` and a grid position, sorted by cell then grid.
    """

    resolution: int
    margin_deg: float
    cells: IntArray
    polygons: npt.NDArray[np.object_]
    interior: IntArray
    pair_cell: IntArray
    pair_grid: IntArray

    @property
    def boundary_cells(self) -> int:
        """Number of cells whose points need the exact test."""
        return int((self.interior == _BOUNDARY).sum())


def _as_geometries(grids: Any) -> npt.NDArray[np.object_]:
    if hasattr(grids, "columns") and hasattr(grids, "geometry"):  # a GeoDataFrame
        grids = grids.geometry
    crs = getattr(grids, "crs", None)
    if crs is not None and crs.to_epsg() != 4326:
        raise ValueError(f"grids must be in EPSG:4326, not {crs}; call .to_crs(4326) first")
    geoms = np.asarray(grids, dtype=object).reshape(-1)
    missing = shapely.is_missing(geoms)
    if missing.any():
        geoms = geoms.copy()
        geoms[missing] = shapely.Polygon()  # never matches; keeps positions
    return geoms


def _prepare_for_threads(geoms: npt.NDArray[np.object_]) -> None:
    """Prepare polygons and build their point index now, in this thread.

    GEOS builds a prepared polygon's point-in-area index lazily (a plain locator
    for the first point query, the index on the second) and not thread-safely: two
    threads making the first queries at once crash the process.  Three queries per
    polygon here, inside its envelope, leave only read-only state for the threads.
    """
    shapely.prepare(geoms)
    live = geoms[~shapely.is_empty(geoms)]
    if live.size:
        b = shapely.bounds(live)
        cx, cy = (b[:, 0] + b[:, 2]) / 2.0, (b[:, 1] + b[:, 3]) / 2.0
        shapely.intersects_xy(np.repeat(live, 3), np.repeat(cx, 3), np.repeat(cy, 3))


def cover_cells(grids: npt.ArrayLike, resolution: int) -> CellCover:
    """Find the H3 cells that meet the grids, and which are interior to one grid.

    Parameters
    ----------
    grids
        (Multi)Polygons in EPSG:4326, in tie-break order (sorted by code).
    resolution
        H3 resolution of the cells, 0 to 15.

    Returns
    -------
    CellCover
        The cells, their polygons, interior grids and (cell, grid) pairs.
    """
    geoms = _as_geometries(grids)
    shapely.prepare(geoms)
    live = ~shapely.is_empty(geoms)
    if not live.any():
        empty = np.empty(0, dtype=np.int64)
        return CellCover(
            resolution, CELL_MARGIN_DEG, empty, np.empty(0, object), empty, empty, empty
        )
    # Candidates: cells whose centre lies in a grid's envelope widened by more than
    # a cell's half-extent (checked on the cells found, widened again if ever short),
    # so that every cell meeting the grid is among them.  Exact filtering follows.
    bounds = shapely.bounds(geoms[live])
    dlat = 2.0 * _edge_km(resolution) / _KM_PER_DEG  # an edge is a hexagon's circumradius
    max_lat = min(float(np.abs(bounds[:, [1, 3]]).max()) + dlat, 89.0)
    dlon = dlat / math.cos(math.radians(max_lat))
    while True:
        boxes = shapely.box(
            bounds[:, 0] - dlon, bounds[:, 1] - dlat, bounds[:, 2] + dlon, bounds[:, 3] + dlat
        )
        found = wkb_to_cells(
            shapely.to_wkb(boxes),
            resolution,
            containment_mode=ContainmentMode.ContainsCentroid,
            flatten=True,
        )
        candidates = np.unique(np.asarray(pa.array(found).to_numpy()).view(np.int64))
        polygons = cell_polygons(candidates)
        extent = shapely.bounds(polygons)
        half_lon = float((extent[:, 2] - extent[:, 0]).max(initial=0.0)) / 2.0
        half_lat = float((extent[:, 3] - extent[:, 1]).max(initial=0.0)) / 2.0
        if 1.5 * half_lon <= dlon and 1.5 * half_lat <= dlat:
            break
        dlon, dlat = max(dlon, 2.0 * half_lon), max(dlat, 2.0 * half_lat)
    margin = CELL_MARGIN_DEG + 2.0 * _largest_bow_deg(polygons)
    widened = shapely.buffer(polygons, margin, join_style="mitre")
    # envelopes first, then the exact test with the prepared grid on the left (its
    # index does the work: twice as fast as the tree's predicate, which prepares cells)
    cell_idx, grid_idx = shapely.STRtree(geoms).query(widened)
    meets = shapely.intersects(geoms[grid_idx], widened[cell_idx])
    cell_idx, grid_idx = cell_idx[meets], grid_idx[meets]
    order = np.lexsort((grid_idx, cell_idx))
    cell_idx, grid_idx = cell_idx[order], grid_idx[order]
    # keep only cells that meet a grid, renumbered
    kept, pair_cell = np.unique(cell_idx, return_inverse=True)
    cells, polygons, widened = candidates[kept], polygons[kept], widened[kept]
    first = np.ones(pair_cell.size, dtype=bool)
    first[1:] = pair_cell[1:] != pair_cell[:-1]
    smallest = grid_idx[first]  # smallest grid meeting each cell, cells in order
    inside = shapely.contains_properly(geoms[smallest], widened)
    interior = np.where(inside, smallest, _BOUNDARY).astype(np.int64)
    return CellCover(
        resolution=resolution,
        margin_deg=margin,
        cells=cells,
        polygons=polygons,
        interior=interior,
        pair_cell=pair_cell.astype(np.int64),
        pair_grid=grid_idx.astype(np.int64),
    )


def _edge_km(resolution: int) -> float:
    """Average H3 hexagon edge length at ``resolution``, km (h3's published table)."""
    return float(h3.average_hexagon_edge_length(resolution, unit="km"))


class _CellTable:
    """Find H3 cells of one resolution in a fixed set: cell → index into the set, or -1.

    Cells of one resolution differ only above their unused trailing digits, so
    ``cell >> 3 * (15 - resolution)`` is a unique key; over a district the keys span a
    small range and a direct-address array answers in one gather.  Far-flung sets fall
    back to pandas' hash index.
    """

    _MAX_SLOTS: Final = 1 << 24  # 64 MB of int32 at most

    def __init__(self, cells: IntArray, resolution: int) -> None:
        self.shift = 3 * (15 - resolution)
        self.cells = cells
        self.base = 0
        self.slots: npt.NDArray[np.int32] | None = None
        self.index: pd.Index | None = None
        if cells.size == 0:
            return
        keys = cells >> self.shift
        self.base = int(keys.min())
        span = int(keys.max()) - self.base + 1
        if span <= max(self._MAX_SLOTS, 8 * cells.size):
            self.slots = np.full(span, -1, dtype=np.int32)
            self.slots[keys - self.base] = np.arange(cells.size, dtype=np.int32)
        else:
            self.index = pd.Index(cells)

    def find(self, query: IntArray) -> IntArray:
        """Index of each queried cell in the set, ``-1`` when absent."""
        if self.cells.size == 0:
            return np.full(query.size, -1, dtype=np.int64)
        if self.index is not None:
            return np.asarray(self.index.get_indexer(query), dtype=np.int64)
        assert self.slots is not None
        slot = (query >> self.shift) - self.base
        inside = (slot >= 0) & (slot < self.slots.size)
        found = np.full(query.size, -1, dtype=np.int64)
        hit = self.slots[slot[inside]]
        found[inside] = hit
        # a cell of another resolution could share a key: confirm the cell itself
        wrong = found >= 0
        wrong[wrong] = self.cells[found[wrong]] != query[wrong]
        found[wrong] = -1
        return found


# --------------------------------------------------------------------------- locator


@dataclass(frozen=True)
class GridLocator:
    """A precomputed point → grid (网格) locator for one set of grids.

    Build it once per grid version with :meth:`build`, then call :meth:`locate` or
    :meth:`locate_with_cells` on as many points as needed; it is read-only and safe
    to share between threads.  The rules (exactness, ties, "no grid") are those of the
    module docstring.

    Attributes
    ----------
    grids
        The grids, EPSG:4326, prepared, in tie-break order.
    resolution
        Default H3 resolution of the cells :meth:`locate_with_cells` returns.
    cover
        The cells at the interior resolution and how they meet the grids.
    bounds
        ``(min lon, min lat, max lon, max lat)`` of all grids, degrees.
    """

    grids: npt.NDArray[np.object_]
    resolution: int
    cover: CellCover
    bounds: tuple[float, float, float, float]
    _offsets: IntArray
    _candidates: IntArray
    _table: _CellTable

    @classmethod
    def build(
        cls,
        grids: npt.ArrayLike,
        resolution: int = 10,
        *,
        interior_resolution: int | None = None,
    ) -> GridLocator:
        """Precompute the interior and boundary cells of ``grids``.

        Parameters
        ----------
        grids
            (Multi)Polygons in EPSG:4326, in tie-break order (sorted by code); a
            missing or empty geometry keeps its position and never matches.
        resolution
            H3 resolution of the cells returned with the grids, default 10.
        interior_resolution
            H3 resolution of the lookup table, default ``resolution`` (then one H3
            pass answers both).  Finer sends fewer points to the exact test but costs
            a second H3 pass when cells at ``resolution`` are asked for too.

        Returns
        -------
        GridLocator
        """
        geoms = _as_geometries(grids)
        _prepare_for_threads(geoms)
        cover = cover_cells(
            geoms, resolution if interior_resolution is None else interior_resolution
        )
        live = ~shapely.is_empty(geoms)
        if live.any():
            b = shapely.total_bounds(geoms[live])
            bounds = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        else:
            bounds = (math.nan, math.nan, math.nan, math.nan)
        counts = np.bincount(cover.pair_cell, minlength=cover.cells.size)
        offsets = np.zeros(cover.cells.size + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        table = _CellTable(cover.cells, cover.resolution)
        return cls(geoms, resolution, cover, bounds, offsets, cover.pair_grid, table)

    @property
    def interior_resolution(self) -> int:
        """H3 resolution of the lookup table."""
        return self.cover.resolution

    def locate(
        self,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        *,
        workers: int | None = None,
        chunk_size: int = _CHUNK,
    ) -> IntArray:
        """Position of the grid covering each point, :data:`NO_GRID` for none.

        Parameters
        ----------
        lon, lat
            Point coordinates, degrees (EPSG:4326); non-finite ones get ``-1``.
        workers
            Threads to use; default the number of cores, at most 4.
        chunk_size
            Points per thread at a time (about 80 bytes of temporaries a point).

        Returns
        -------
        numpy.ndarray
            ``int64`` positions into the grids; ties go to the smallest position.
        """
        positions, _ = self._run(lon, lat, None, workers, chunk_size)
        return positions

    def locate_with_cells(
        self,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        resolution: int | None = None,
        *,
        workers: int | None = None,
        chunk_size: int = _CHUNK,
    ) -> tuple[IntArray, IntArray]:
        """Grid positions and H3 cells of points, from one H3 pass when resolutions match.

        Parameters
        ----------
        lon, lat
            Point coordinates, degrees (EPSG:4326).
        resolution
            H3 resolution of the returned cells; default the locator's ``resolution``.
        workers, chunk_size
            As in :meth:`locate`.

        Returns
        -------
        positions : numpy.ndarray
            ``int64`` positions into the grids, ``-1`` for none.
        cells : numpy.ndarray
            ``int64`` H3 cells (``h3.latlng_to_cell`` as an integer).

        Raises
        ------
        ValueError
            If a coordinate is not finite (it has no H3 cell).
        """
        res = self.resolution if resolution is None else resolution
        positions, cells = self._run(lon, lat, res, workers, chunk_size)
        assert cells is not None
        return positions, cells

    # ----------------------------------------------------------------- internals

    def _run(
        self,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        cell_resolution: int | None,
        workers: int | None,
        chunk_size: int,
    ) -> tuple[IntArray, IntArray | None]:
        lon_arr, lat_arr = _coords(lon, lat)
        if cell_resolution is not None:
            _check_finite(lon_arr, lat_arr)
        n = lon_arr.size
        positions = np.full(n, NO_GRID, dtype=np.int64)
        cells = None if cell_resolution is None else np.empty(n, dtype=np.int64)

        def job(part: slice) -> None:
            x, y = lon_arr[part], lat_arr[part]
            shared = None
            if cells is not None and cell_resolution is not None:
                cells[part] = own = _h3(x, y, cell_resolution)
                if cell_resolution == self.cover.resolution:
                    shared = own  # one H3 pass answers both
            positions[part] = self._locate_chunk(x, y, shared)

        _in_chunks(n, chunk_size, _workers(workers), job)
        return positions, cells

    def _locate_chunk(self, x: FloatArray, y: FloatArray, cells: IntArray | None) -> IntArray:
        out = np.full(x.size, NO_GRID, dtype=np.int64)
        if self.cover.cells.size == 0:
            return out
        x0, y0, x1, y1 = self.bounds
        # outside the grids' bounds (or NaN) nothing covers a point; this also keeps
        # h3's wrapping of longitudes (480° is 120°) from answering for them
        near = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        if near.size == 0:
            return out
        xs, ys = x[near], y[near]
        own = cells[near] if cells is not None else _h3(xs, ys, self.cover.resolution)
        k = self._table.find(own)
        label = np.where(k >= 0, self.cover.interior[k], NO_GRID)
        out[near] = label
        todo = np.flatnonzero(label == _BOUNDARY)
        if todo.size:
            out[near[todo]] = self._exact(xs[todo], ys[todo], k[todo])
        return out

    def _exact(self, x: FloatArray, y: FloatArray, k: IntArray) -> IntArray:
        """Smallest candidate grid covering each point, tried in position order.

        Points are visited in cell order so that consecutive tests hit the same
        prepared grid (about 2.5 times faster than in input order).
        """
        key = k.astype(np.uint16 if self.cover.cells.size <= 1 << 16 else np.int64)
        order = np.argsort(key, kind="stable")
        x, y, k = x[order], y[order], k[order]
        found = np.full(x.size, NO_GRID, dtype=np.int64)
        start, stop = self._offsets[k], self._offsets[k + 1]
        open_ = np.arange(x.size)
        rank = 0
        while open_.size:
            at = start[open_] + rank
            has = at < stop[open_]
            open_, at = open_[has], at[has]
            if open_.size == 0:
                break
            grid = self._candidates[at]
            hit = shapely.intersects_xy(self.grids[grid], x[open_], y[open_])
            found[open_[hit]] = grid[hit]
            open_ = open_[~hit]
            rank += 1
        result = np.empty_like(found)
        result[order] = found
        return result


# --------------------------------------------------------------------------- functions


def locate_points(lon: npt.ArrayLike, lat: npt.ArrayLike, grids: npt.ArrayLike) -> IntArray:
    """Position in ``grids`` of the polygon that covers each point, ``-1`` for none.

    Builds a :class:`GridLocator` when there are many points per grid; for a few
    points a spatial index query answers as exactly and sooner.  To locate repeatedly
    against the same grids, build a :class:`GridLocator` once instead.

    Parameters
    ----------
    lon, lat
        Point coordinates, degrees (EPSG:4326); non-finite ones get ``-1``.
    grids
        (Multi)Polygons in EPSG:4326, in tie-break order (sorted by code).

    Returns
    -------
    numpy.ndarray
        ``int64`` positions into ``grids``; a point covered by several polygons (on a
        shared edge) gets the smallest position.
    """
    lon_arr, lat_arr = _coords(lon, lat)
    geoms = _as_geometries(grids)
    if lon_arr.size >= _DIRECT_PER_GRID * max(geoms.size, 1):
        return GridLocator.build(geoms).locate(lon_arr, lat_arr)
    result = np.full(lon_arr.size, NO_GRID, dtype=np.int64)
    if lon_arr.size == 0 or geoms.size == 0:
        return result
    tree = shapely.STRtree(geoms)
    point_idx, grid_idx = tree.query(shapely.points(lon_arr, lat_arr), predicate="intersects")
    if point_idx.size:
        # smallest grid position per point: sort by (point, grid), keep the firsts
        order = np.lexsort((grid_idx, point_idx))
        point_idx, grid_idx = point_idx[order], grid_idx[order]
        first = np.ones(point_idx.size, dtype=bool)
        first[1:] = point_idx[1:] != point_idx[:-1]
        result[point_idx[first]] = grid_idx[first]
    return result


class BatchLocator:
    """:func:`locate_points` batch after batch against the same grids, the locator built once.

    :func:`locate_points` builds a :class:`GridLocator` for every call with enough points
    per grid (about 0.2 ms a grid: half a second for 2,500 grids), so locating a city in
    batches of 200,000 would build it once a batch.  This builds it on the first batch
    that pays for it and keeps it; smaller batches are answered by :func:`locate_points`.
    The answers are the same either way (the rules of the module docstring).

    Parameters
    ----------
    grids
        (Multi)Polygons in EPSG:4326, in tie-break order (sorted by code).
    """

    def __init__(self, grids: npt.ArrayLike) -> None:
        self.grids = _as_geometries(grids)
        self.locator: GridLocator | None = None

    def locate(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> IntArray:
        """Position in the grids of the polygon that covers each point, ``-1`` for none."""
        lon_arr, lat_arr = _coords(lon, lat)
        if self.locator is None and lon_arr.size >= _DIRECT_PER_GRID * max(self.grids.size, 1):
            self.locator = GridLocator.build(self.grids)
        if self.locator is not None:
            return self.locator.locate(lon_arr, lat_arr)
        return locate_points(lon_arr, lat_arr, self.grids)


def representative_points(geoms: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Lon/lat of the point that stands for each shape: its point on surface.

    A building is placed by a point guaranteed to lie inside its footprint (a
    centroid can fall outside an L-shaped block).

    Parameters
    ----------
    geoms
        Geometries in EPSG:4326.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees; NaN for a missing or empty geometry.
    """
    pts = shapely.point_on_surface(np.asarray(geoms, dtype=object))
    return shapely.get_x(pts), shapely.get_y(pts)


def ids_at(positions: np.ndarray, ids: np.ndarray) -> pd.arrays.IntegerArray:
    """The id of the grid at each position, ``<NA>`` for :data:`NO_GRID` (also with no grids).

    Parameters
    ----------
    positions
        Positions from :func:`locate_points` / :class:`GridLocator`.
    ids
        Grid ids, in the order the grids were given.
    """
    positions = np.asarray(positions, dtype=np.int64)
    found = positions != NO_GRID
    values = np.zeros(len(positions), dtype=np.int64)
    values[found] = np.asarray(ids, dtype=np.int64)[positions[found]]
    return pd.arrays.IntegerArray(values, ~found)


@dataclass(frozen=True)
class CurrentGrids:
    """The grids in force, ready to place one report after another (which 网格, how near its edge).

    Built once per grid version from the current grids in code order (the tie rule: a
    point on a shared edge belongs to the smallest code); read-only, safe to share
    between threads.

    Attributes
    ----------
    version : tuple
        The data version the grids were read at (what a cache compares).
    ids, codes, names, community_ids, communities
        Per grid, in code order.
    locator : GridLocator
        Places points, with their H3 cells in the same pass.
    to_metric : pyproj.Transformer or None
        EPSG:4326 → the local metric CRS of the grids (None without grids).
    edges_m : numpy.ndarray
        Each grid's boundary in that CRS, metres.
    """

    version: tuple
    ids: npt.NDArray[np.int64]
    codes: list[str]
    names: list[str]
    community_ids: npt.NDArray[np.int64]
    communities: list[str]
    locator: GridLocator
    to_metric: Transformer | None
    edges_m: npt.NDArray[np.object_]

    @classmethod
    def from_frame(cls, grids: Any, resolution: int, version: tuple = ()) -> CurrentGrids:
        """From a frame of current grids (id, code, name, community_id, community_name, geometry).

        Parameters
        ----------
        grids
            GeoDataFrame in EPSG:4326, sorted by code.
        resolution
            H3 resolution of the cells placed reports get.
        version
            The data version the frame was read at.
        """
        geoms = np.asarray(grids.geometry.array, dtype=object)
        to_metric = None
        edges = np.empty(0, dtype=object)
        if len(grids):
            crs = local_metric_crs_for(grids.geometry)
            to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
            edges = shapely.boundary(np.asarray(grids.to_crs(crs).geometry.array))
        return cls(
            version=version,
            ids=grids["id"].to_numpy(dtype=np.int64),
            codes=list(grids["code"]),
            names=list(grids["name"]),
            community_ids=grids["community_id"].to_numpy(dtype=np.int64),
            communities=list(grids["community_name"]),
            locator=GridLocator.build(geoms, resolution),
            to_metric=to_metric,
            edges_m=edges,
        )

    def place(self, lon: float, lat: float) -> tuple[int, int]:
        """Position of the grid holding the point (:data:`NO_GRID` for none) and its H3 cell."""
        positions, cells = self.locator.locate_with_cells([lon], [lat], workers=1)
        return int(positions[0]), int(cells[0])

    def locate(self, lon: float, lat: float) -> int:
        """Position of the grid holding the point, or :data:`NO_GRID`."""
        return int(self.locator.locate([lon], [lat], workers=1)[0])

    def edge_distance_m(self, pos: int, lon: float, lat: float) -> float:
        """Metres from a point to the edge of grid ``pos``."""
        assert self.to_metric is not None
        x, y = self.to_metric.transform(lon, lat)
        return float(shapely.distance(self.edges_m[pos], shapely.Point(x, y)))
