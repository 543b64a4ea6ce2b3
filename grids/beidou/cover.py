"""Cover polygons with 北斗 cells: the cells that meet a polygon, or its exact split.

A cell *meets* a polygon when their interiors overlap (a cell that only touches the
polygon's outline along an edge or at a corner does not); it lies *inside* when the
polygon covers its closed box.  Both are shapely's exact predicates on the cells' boxes
in degrees (EPSG:4326), the same boxes :func:`~grids.beidou.codec.decode` gives, so an
answer here equals testing every cell with shapely.

Method: start from the level-1 cells over the polygon's bounding box and refine.  A
cell whose box does not touch the polygon's outline is wholly inside or wholly outside
(one point-in-polygon test of its centre decides); only boxes on the outline get the
exact predicates, and only cells that meet the polygon without lying inside it are split
into their children at the next level.  Work grows with the outline's length in cells,
not with the area.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import shapely

from grids.beidou.codec import cells_in_box, children, decode, uncompact
from grids.beidou.lattice import (
    CELL_LAT,
    CELL_LON,
    POLAR_LAT,
    SPAN,
    UNITS_PER_DEGREE,
    BeidouError,
    BeidouTooLarge,
    IntArray,
    check_level,
    levels_of,
)

__all__ = ["PolygonCover", "cover", "cover_exact"]

_MAX_CELLS = 20_000_000
"""Most cells :func:`cover` returns (160 MB of ``int64``) before asking for a coarser level."""
_MAX_OUTLINE_CELLS = 5_000_000
"""Most outline cells :func:`cover_exact` refines to (about half a minute of shapely)."""


@dataclass(frozen=True)
class PolygonCover:
    """A polygon split into 北斗 cells: those inside it and those on its outline.

    Attributes
    ----------
    level
        The level of the boundary cells (the finest asked for).
    inside
        Cells whose box the polygon covers, compacted: each as coarse as possible
        (sorted, mixed levels up to ``level``).
    boundary
        Cells of ``level`` that meet the polygon but are not inside it (sorted).
    """

    level: int
    inside: IntArray
    boundary: IntArray

    def cells(self) -> IntArray:
        """Every cell of :attr:`level` that meets the polygon (inside ones expanded), sorted."""
        return np.union1d(uncompact(self.inside, self.level), self.boundary)


def _polygonal(geometry: shapely.Geometry) -> shapely.Geometry:
    if not isinstance(geometry, shapely.Polygon | shapely.MultiPolygon) or geometry.is_empty:
        kind = "an empty geometry" if geometry.is_empty else f"a {geometry.geom_type}"
        raise BeidouError(
            f"only polygons can be covered with cells, not {kind}; encode points with "
            "grids.beidou.encode"
        )
    if not geometry.is_valid:
        reason = shapely.is_valid_reason(geometry)
        raise BeidouError(
            f"the polygon is invalid ({reason}); repair it first (shapely.make_valid)"
        )
    west, south, east, north = geometry.bounds
    if south < -POLAR_LAT or north > POLAR_LAT or west < -180.0 or east > 180.0:
        raise BeidouError(
            f"the polygon reaches ({west:.6f}, {south:.6f}, {east:.6f}, {north:.6f}): it must "
            f"stay within ±180° longitude and ±{POLAR_LAT:g}° latitude (the standard's polar "
            "caps are not covered; split a polygon that crosses the antimeridian)"
        )
    return geometry


def _classify(
    polygon: shapely.Geometry, outline: shapely.Geometry, cells: IntArray
) -> tuple[IntArray, IntArray]:
    """``(inside, meeting)`` of cells: covered by the polygon, or meeting it but not covered."""
    box = decode(cells)
    boxes = shapely.box(box.west, box.south, box.east, box.north)
    on_outline = shapely.intersects(outline, boxes)
    away = ~on_outline
    centre_in = np.zeros(cells.size, dtype=bool)
    centre_in[away] = shapely.contains_xy(polygon, box.lon[away], box.lat[away])
    edge = np.flatnonzero(on_outline)
    covered = np.zeros(cells.size, dtype=bool)
    overlaps = np.zeros(cells.size, dtype=bool)
    covered[edge] = shapely.covers(polygon, boxes[edge])
    rest = edge[~covered[edge]]
    overlaps[rest] = shapely.relate_pattern(polygon, boxes[rest], "T********")
    inside = (away & centre_in) | covered
    return cells[inside], cells[overlaps]


def _cell_size_deg(level: int) -> tuple[float, float]:
    return CELL_LON[level] / UNITS_PER_DEGREE, CELL_LAT[level] / UNITS_PER_DEGREE


def cover_exact(
    geometry: shapely.Geometry, level: int, *, max_outline_cells: int = _MAX_OUTLINE_CELLS
) -> PolygonCover:
    """Split a polygon into the cells inside it (compacted) and those of ``level`` on its outline.

    Parameters
    ----------
    geometry
        A valid Polygon or MultiPolygon, EPSG:4326 degrees, within ±88° latitude and
        ±180° longitude.
    level
        The level of the outline cells, 1 to 10.
    max_outline_cells
        Refuse outlines that cross about more cells than this at ``level`` (estimated
        from the outline's length before any work).

    Returns
    -------
    PolygonCover
        ``inside`` plus ``boundary`` are exactly the cells of ``level`` that meet the
        polygon (after expanding ``inside``); ``inside`` alone the cells it covers.

    Raises
    ------
    BeidouError
        For a non-polygonal, empty or invalid geometry, or one beyond ±88°/±180°
        (:class:`~grids.beidou.lattice.BeidouTooLarge` past ``max_outline_cells``).
    """
    level = check_level(level)
    polygon = _polygonal(geometry)
    crossed = polygon.boundary.length / min(_cell_size_deg(level))
    if crossed > max_outline_cells:
        raise BeidouTooLarge(
            f"the polygon's outline crosses about {crossed:,.0f} cells of level {level}, "
            f"more than {max_outline_cells:,}; choose a coarser level or split the polygon"
        )
    shapely.prepare(polygon)
    outline = polygon.boundary
    shapely.prepare(outline)
    west, south, east, north = polygon.bounds
    candidates = cells_in_box(west, south, east, north, level=1)
    inside: list[IntArray] = []
    for lev in range(1, level + 1):
        found, meeting = _classify(polygon, outline, candidates)
        inside.append(found)
        if lev == level:
            return PolygonCover(
                level=level, inside=np.sort(np.concatenate(inside)), boundary=np.sort(meeting)
            )
        candidates = children(meeting).reshape(-1)
    raise AssertionError("unreachable")  # pragma: no cover


def cover(geometry: shapely.Geometry, level: int, *, max_cells: int = _MAX_CELLS) -> IntArray:
    """Every cell of ``level`` that meets a polygon (their interiors overlap), sorted.

    Parameters
    ----------
    geometry
        A valid Polygon or MultiPolygon, EPSG:4326 degrees, within ±88°/±180°.
    level
        1 to 10.
    max_cells
        Refuse answers larger than this; :func:`cover_exact` answers big areas compactly.

    Raises
    ------
    BeidouError
        As :func:`cover_exact`; :class:`~grids.beidou.lattice.BeidouTooLarge` when the
        answer would exceed ``max_cells``.
    """
    level = check_level(level)
    polygon = _polygonal(geometry)
    width, height = _cell_size_deg(level)
    at_least = polygon.area / (width * height)  # the cells meeting it cover its area
    if at_least > max_cells:
        raise BeidouTooLarge(
            f"the polygon meets at least {at_least:,.0f} cells of level {level}, more than "
            f"{max_cells:,}; choose a coarser level, or use cover_exact for the compact answer"
        )
    split = cover_exact(polygon, level)
    span = np.asarray(SPAN, dtype=np.int64)
    total = int((span[levels_of(split.inside)] // span[level]).sum()) + split.boundary.size
    if total > max_cells:
        raise BeidouTooLarge(
            f"the polygon meets {total:,} cells of level {level}, more than {max_cells:,}; "
            "choose a coarser level, or use cover_exact for the compact answer"
        )
    return split.cells()
