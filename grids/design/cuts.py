"""Cuts between buildings: street blocks too heavy for the band split along the gaps between them.

Method
------
2. **Cuts along building gaps.**  Where the street network is sparse, whole street
   blocks are too coarse: a superblock holding 900 households is a grid of twice the
   band, and the small blocks beside it are left as grids of a handful.  When the
   partition of whole blocks (step 4) leaves grids outside the band, the blocks above
   ``max_households`` are cut between their buildings into pieces of at most the band's
   width ``max - min`` households (at least ``max / 4``; pieces that light can always
   be added up to a total inside the band) and the partition is run again; if grids
   are still outside the band, so are all blocks above that width.  A design with
   cuts is kept only when it is better (more grids in the band, then a smaller worst
   miss, :meth:`DesignMetrics.quality`).

   A block is cut by recursive bisection of its buildings (:func:`_bisect`).  Buildings
   that touch or overlap are one obstacle, and so is every footprint reaching into the
   block (no cut crosses a building; only the block's own buildings weigh).  Along
   each of 14 directions (every 15° and the axes of the block's minimum rotated
   rectangle) the obstacles are ordered by the middle of their extent, and every split
   of that order is scored by its balance (the households before the cut against the
   nearest whole share of the pieces to make), the length of a straight cut there (short
   cuts, compact pieces) and the gap between the two groups (clusters of buildings
   apart rather than rows cut through).  When the best split leaves a gap of at least
   ``min_gap_m`` (2 m), the cut is the straight line in its middle; otherwise it is the
   boundary between the Voronoi cells of the two groups' outlines (densified to
   ``min_gap_m / 2``), which winds between the buildings and stays out of any two
   footprints further apart than that.  The cut lines are noded with the roads like
   lanes (but never extended), so the pieces still tile the community, and a grid
   boundary along a cut costs like one along a lane.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from grids.design.blocks import _EPS, _OVERSHOOT_M, _Bricks, _project, _unproject

_GAP_ANGLES = np.deg2rad(np.arange(0.0, 180.0, 15.0))
"""Directions tried for a cut (every 15°), besides the axes of the piece's rectangle."""
_GAP_WIDE_M = 20.0
"""A gap this wide (metres) earns a cut the whole bonus (an overlap as deep, the malus)."""
_CUT_LENGTH_W = 0.1
"""Weight of a cut's length (per square root of the piece's area) against its imbalance."""
_GAP_WIDTH_W = 0.1
"""Weight of a gap's width (per :data:`_GAP_WIDE_M`) against a cut's imbalance."""


def _gap_cuts(
    bricks: _Bricks, targets: np.ndarray, limit: float, crs: CRS, min_gap_m: float
) -> np.ndarray:
    """Lines (EPSG:4326) between buildings that cut the bricks ``targets`` into light pieces.

    Each brick in ``targets`` is bisected recursively (:func:`_bisect`) until every
    piece holds at most ``limit`` households or holds a single building.  Every
    footprint reaching into the brick is an obstacle no cut may cross, but only the
    brick's own buildings (by their point) weigh.
    """
    if len(targets) == 0 or len(bricks.footprints) == 0:
        return np.empty(0, dtype=object)
    footprints = _project(bricks.footprints, crs)
    tree = shapely.STRtree(footprints)
    pieces = _project(np.asarray(bricks.frame.geometry.array, dtype=object)[targets], crs)
    cuts: list[BaseGeometry] = []
    for b, piece in zip(targets, pieces, strict=True):
        obstacles = tree.query(piece, predicate="intersects")
        shapes = footprints[obstacles]
        weight = np.where(
            bricks.building_brick[obstacles] == b, bricks.building_households[obstacles], 0.0
        )
        # buildings that touch or overlap stay on one side: one obstacle
        ii, jj = shapely.STRtree(shapes).query(shapes, predicate="intersects")
        n_obs, cluster = connected_components(
            coo_matrix((np.ones(len(ii)), (ii, jj)), shape=(len(shapes),) * 2), directed=False
        )
        # outlines densified to half the narrowest gap: their Voronoi diagram keeps out
        # of every footprint wherever two buildings stand further apart than that
        outline = shapely.segmentize(shapes, min_gap_m / 2.0)
        coords, owner = shapely.get_coordinates(outline, return_index=True)
        cuts += _bisect(
            piece,
            coords,
            cluster[owner],
            np.bincount(cluster, weights=weight, minlength=n_obs),
            np.arange(n_obs),
            limit,
            min_gap_m,
        )
    if not cuts:
        return np.empty(0, dtype=object)
    return _unproject(np.array(cuts, dtype=object), crs)


def _bisect(
    piece: BaseGeometry,
    coords: np.ndarray,
    owner: np.ndarray,
    weight: np.ndarray,
    sel: np.ndarray,
    limit: float,
    min_gap_m: float,
) -> list[BaseGeometry]:
    """Cut lines (metres) that split ``piece`` between its buildings, recursively.

    Along each direction ``u`` (every 15° and the two axes of the piece's minimum
    rotated rectangle) the buildings ``sel`` are ordered by the middle of their
    extent on ``u``; every split of that order into a first and a second group is a
    candidate.  With ``W`` households in the piece, ``k = ceil(W / limit)`` pieces to
    reach and ``w`` households in the first group, a candidate scores
    ``|w/W - j/k|`` (``j``: the nearest whole share, 1 … k-1), plus
    :data:`_CUT_LENGTH_W` times the length of a straight cut across the piece there
    per ``sqrt(area)`` (short cuts, compact pieces), minus :data:`_GAP_WIDTH_W` times
    the gap between the two groups on ``u`` per :data:`_GAP_WIDE_M` (clusters of
    buildings apart, not rows cut through; an overlap counts negative).  For the
    best candidate, when the gap is at least ``min_gap_m`` the cut is the straight
    line in its middle; otherwise it is the boundary between the Voronoi cells of
    the two groups' outlines, which winds between the buildings.  Both sides are
    cut again.

    Parameters
    ----------
    piece
        The (Multi)Polygon to cut, metres.
    coords, owner
        Outline vertices of all obstacles (metres) and the obstacle each belongs to.
    weight
        Households of each obstacle (0 for buildings of other bricks).
    sel
        Obstacles in ``piece``.
    limit
        Households a piece may hold without being cut.
    min_gap_m
        Narrowest gap a straight cut may run through.

    Returns
    -------
    list of LineString
        The cut lines inside the piece, each overshooting it by :data:`_OVERSHOOT_M` at
        both ends so that noding joins it to the lines it reaches.
    """
    total = float(weight[sel].sum())
    if total <= limit or len(sel) < 2:
        return []
    k = math.ceil(total / limit)
    mine = np.isin(owner, sel)
    xy, own = coords[mine], owner[mine]
    rect = shapely.get_coordinates(shapely.oriented_envelope(piece))
    axis = math.atan2(rect[1, 1] - rect[0, 1], rect[1, 0] - rect[0, 0]) if len(rect) > 1 else 0.0
    angles = np.concatenate([_GAP_ANGLES, np.mod([axis, axis + math.pi / 2], math.pi)])
    minx, miny, maxx, maxy = piece.bounds
    reach = math.hypot(maxx - minx, maxy - miny) + 1.0
    centre = np.array([(minx + maxx) / 2, (miny + maxy) / 2])
    scale = math.sqrt(max(piece.area, _EPS))
    w_sel = weight[sel]
    best: tuple[float, np.ndarray, float, float, np.ndarray, np.ndarray] | None = None
    for theta in angles:
        u = np.array([math.cos(theta), math.sin(theta)])
        v = np.array([-u[1], u[0]])
        proj = xy @ u
        lo = np.full(len(weight), np.inf)
        hi = np.full(len(weight), -np.inf)
        np.minimum.at(lo, own, proj)
        np.maximum.at(hi, own, proj)
        lo, hi = lo[sel], hi[sel]
        order = np.lexsort((sel, lo + hi))
        first_end = np.maximum.accumulate(hi[order])[:-1]
        second_start = np.minimum.accumulate(lo[order][::-1])[::-1][1:]
        before = np.cumsum(w_sel[order])[:-1]
        ok = np.flatnonzero((before > 0) & (before < total))
        if len(ok) == 0:
            continue
        gap = second_start[ok] - first_end[ok]
        at = (first_end[ok] + second_start[ok]) / 2.0
        frac = before[ok] / total
        imbalance = np.abs(frac - np.clip(np.round(frac * k), 1, k - 1) / k)
        along = float(centre @ v)
        ends = np.stack(
            [at[:, None] * u + (along - reach) * v, at[:, None] * u + (along + reach) * v], axis=1
        )
        length = shapely.length(shapely.intersection(shapely.linestrings(ends), piece))
        score = (
            imbalance
            + _CUT_LENGTH_W * length / scale
            - _GAP_WIDTH_W * np.clip(gap, -_GAP_WIDE_M, _GAP_WIDE_M) / _GAP_WIDE_M
        )
        i = int(np.argmin(score))
        if best is None or score[i] < best[0] - 1e-12:
            first, second = sel[order[: ok[i] + 1]], sel[order[ok[i] + 1 :]]
            best = (float(score[i]), u, float(at[i]), float(gap[i]), first, second)
    if best is None:
        return []
    _, u, at_, gap_, first, second = best
    v = np.array([-u[1], u[0]])
    along = float(centre @ v)
    if gap_ >= min_gap_m:
        a, b = at_ * u + (along - reach) * v, at_ * u + (along + reach) * v
        side: BaseGeometry | None = shapely.Polygon([a, b, b - 2 * reach * u, a - 2 * reach * u])
    else:
        side = _nearer(xy, own, first, shapely.buffer(shapely.envelope(piece), reach))
    if side is None:
        return []
    lines = shapely.line_merge(shapely.intersection(shapely.boundary(side), piece))
    segments = shapely.get_parts(lines)
    out = [_overshoot(seg) for seg in segments[shapely.get_type_id(segments) == 1]]
    for part, members in (
        (shapely.intersection(piece, side), first),
        (shapely.difference(piece, side), second),
    ):
        polys = shapely.get_parts(part)
        polys = polys[shapely.get_type_id(polys) == 3]  # Polygons
        if len(polys):
            out += _bisect(
                shapely.multipolygons(polys), coords, owner, weight, members, limit, min_gap_m
            )
    return out


def _nearer(
    xy: np.ndarray, own: np.ndarray, members: np.ndarray, frame: BaseGeometry
) -> BaseGeometry | None:
    """The part of ``frame`` nearer the outlines of ``members`` than to the other ones.

    The union of the Voronoi cells of the members' outline vertices; None when the
    vertices do not make a diagram (all in one group).  The diagram is built around the
    origin (UTM coordinates in the millions cost precision), and the many collinear
    sites of densified outlines can give GEOS a degenerate cell: cells are made valid
    and dissolved with a snap-rounding union (1 mm).
    """
    uniq, first = np.unique(xy, axis=0, return_index=True)
    group = np.isin(own[first], members)
    if group.all() or not group.any():
        return None
    origin = uniq.mean(axis=0)
    local = shapely.transform(frame, lambda c: c - origin)
    cells = shapely.voronoi_polygons(
        shapely.multipoints(uniq - origin), extend_to=local, ordered=True
    )
    cells = shapely.get_parts(cells)
    if len(cells) != len(uniq):
        return None
    cells = cells[group]
    bad = ~shapely.is_valid(cells)
    cells[bad] = shapely.make_valid(cells[bad])
    parts = shapely.get_parts(cells)
    side = shapely.union_all(parts[shapely.get_type_id(parts) == 3], grid_size=1e-3)
    return shapely.transform(side, lambda c: c + origin)


def _overshoot(line: BaseGeometry) -> BaseGeometry:
    """``line`` extended straight by :data:`_OVERSHOOT_M` at both ends (rings as they are)."""
    xy = shapely.get_coordinates(line)
    if len(xy) < 2 or np.array_equal(xy[0], xy[-1]):
        return line
    head, tail = xy[0] - xy[1], xy[-1] - xy[-2]
    head = head / max(float(np.hypot(*head)), _EPS)
    tail = tail / max(float(np.hypot(*tail)), _EPS)
    return shapely.LineString(
        np.vstack([xy[0] + head * _OVERSHOOT_M, xy[1:-1], xy[-1] + tail * _OVERSHOOT_M])
    )


def _piece_households(lo: int, hi: int) -> float:
    """Households a piece of a cut street block may hold: the band's width, at least hi/4.

    Pieces no heavier than the band's width can be added up to a total in the band
    (each step is smaller than the band), so the partition can always reach it.
    """
    return float(max(hi - lo, hi / 4.0))
