"""The bricks of a design: the community cut by its roads into street blocks, with households.

Method
------
1. **Street blocks as bricks.**  The community boundary and the road lines that meet it
   are noded together (``shapely.union_all``) and polygonized (``shapely.polygonize``);
   the faces inside the community are the bricks.  Grids are unions of whole bricks, so
   every grid boundary is a road, the community boundary or a cut between buildings
   (step 2), and the grids tile the community exactly (no gap, no overlap) by
   construction.

   *Undershoots.*  Estate lanes and cul-de-sacs often stop a few metres short of the
   road or fence they lead to (in surveyed data as in the sample district, where the
   spine lane of an estate ends 8 m inside its fence).  A dangling road end inside the
   community is extended straight ahead up to ``extend_dangles_m`` (40 m) when that
   reaches another road or the boundary, so that such lanes cut their estate into
   pieces.  Set it to 0 to use closed street blocks only.

   *Slivers.*  A road drawn a metre or two off the community boundary leaves a long thin
   face; a face thinner than ``sliver_width_m`` (mean width 2A/P) or smaller than
   ``sliver_area_m2`` is merged into the neighbour it shares the longest edge with.

   *Major blocks.*  The same is done with the major roads only (every road whose
   ``road_class`` is not in ``minor_classes``, i.e. not an estate lane): each brick
   belongs to one major street block, and a grid boundary that runs between two bricks
   of the same major block follows a lane, not a street.  Such cuts are allowed (a
   2,000-household community of nine estates has no balanced partition into whole
   estates) but cost a little, so whole street blocks are preferred.

   Each brick weighs the households of the buildings whose point lies in it
   (:func:`grids.locate.locate_points`, so a point on a shared edge counts once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from gis.coords import local_metric_crs_for
from grids.design.metrics import DesignError
from grids.locate import NO_GRID, locate_points

DEFAULT_MINOR_CLASSES: tuple[str, ...] = ("lane",)
"""Road classes that cut estates rather than bound street blocks."""

_OVERSHOOT_M = 0.5
"""An extended dangle goes this far past the line it reaches, so that noding cuts it."""
_EPS = 1e-9
_SNAP_DEG = 1e-7
"""Road vertices this close to the community boundary (about 1 cm) are moved onto it."""


def _community_geometry(community: Any) -> BaseGeometry:
    """The community as one (Multi)Polygon in EPSG:4326."""
    if isinstance(community, gpd.GeoDataFrame | gpd.GeoSeries):
        series = community.geometry if isinstance(community, gpd.GeoDataFrame) else community
        if series.crs is not None and CRS.from_user_input(series.crs).to_epsg() != 4326:
            series = series.to_crs(4326)
        community = shapely.union_all(np.asarray(series.array, dtype=object))
    if not isinstance(community, BaseGeometry) or community.is_empty:
        raise DesignError("the community must be a non-empty polygon in EPSG:4326")
    if community.geom_type not in ("Polygon", "MultiPolygon"):
        raise DesignError(f"the community must be a polygon, not a {community.geom_type}")
    if not community.is_valid:
        community = shapely.make_valid(community)
        polys = [g for g in shapely.get_parts(community) if g.geom_type == "Polygon"]
        community = shapely.union_all(polys)
    return community


def _to_4326(gdf: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    if gdf is None:
        return None
    if gdf.crs is not None and CRS.from_user_input(gdf.crs).to_epsg() != 4326:
        return gdf.to_crs(4326)
    return gdf


def _project(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    """Shapes from EPSG:4326 to ``crs`` (same vertices in, same vertices out)."""
    return np.asarray(gpd.GeoSeries(geoms, crs=4326).to_crs(crs).array, dtype=object)


def _unproject(geoms: np.ndarray, crs: CRS) -> np.ndarray:
    return np.asarray(gpd.GeoSeries(geoms, crs=crs).to_crs(4326).array, dtype=object)


def _building_points(
    buildings: gpd.GeoDataFrame,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shapes, lon, lat (EPSG:4326) and households of buildings (polygons by point on surface).

    The shapes are the footprints (or points) as given, for the buildings with a shape.
    """
    b = _to_4326(buildings)
    assert b is not None
    if "households" not in b.columns:
        raise DesignError("buildings need a 'households' column")
    geoms = np.asarray(b.geometry.array, dtype=object)
    keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    pts = shapely.point_on_surface(geoms[keep])
    hh = pd.to_numeric(b["households"], errors="coerce").fillna(0).to_numpy()[keep]
    if (hh < 0).any():
        raise DesignError("buildings have negative household counts")
    return geoms[keep], shapely.get_x(pts), shapely.get_y(pts), hh.astype(np.float64)


def _extend_dangles(lines: np.ndarray, area: BaseGeometry, crs: CRS, max_m: float) -> np.ndarray:
    """Straight extensions (EPSG:4326) of dangling line ends inside ``area``.

    A dangle is an end of a noded line piece that no other piece shares.  It is
    extended along its last segment up to ``max_m`` metres; when the ray reaches
    another piece, the extension runs to it plus :data:`_OVERSHOOT_M`.
    """
    if max_m <= 0 or len(lines) == 0:
        return np.empty(0, dtype=object)
    pieces = shapely.get_parts(shapely.union_all(lines))
    pieces = pieces[shapely.get_type_id(pieces) == 1]  # LineStrings
    if len(pieces) == 0:
        return np.empty(0, dtype=object)
    n_coords = shapely.get_num_coordinates(pieces)
    coords = shapely.get_coordinates(pieces)
    start = np.concatenate([[0], np.cumsum(n_coords)[:-1]])
    end = start + n_coords - 1
    # both ends of every piece: (x, y) and the neighbouring vertex (for the direction)
    tip = np.concatenate([coords[start], coords[end]])
    prev = np.concatenate([coords[start + 1], coords[end - 1]])
    _, inverse, counts = np.unique(tip, axis=0, return_inverse=True, return_counts=True)
    dangling = counts[inverse.reshape(-1)] == 1
    dangling &= shapely.contains_xy(area, tip[:, 0], tip[:, 1])
    if not dangling.any():
        return np.empty(0, dtype=object)
    tip, prev = tip[dangling], prev[dangling]

    from pyproj import Transformer

    fwd = Transformer.from_crs(4326, crs, always_xy=True)
    back = Transformer.from_crs(crs, 4326, always_xy=True)
    tx, ty = fwd.transform(tip[:, 0], tip[:, 1])
    px, py = fwd.transform(prev[:, 0], prev[:, 1])
    d = np.stack([tx - px, ty - py], axis=1)
    norm = np.hypot(d[:, 0], d[:, 1])
    ok = norm > 0
    d[ok] /= norm[ok, None]
    origin = np.stack([tx, ty], axis=1) + d * 1e-3
    rays = shapely.linestrings(
        np.stack([origin, origin + d * max_m], axis=1).reshape(-1, 2),
        indices=np.repeat(np.arange(len(origin)), 2),
    )
    metric_pieces = _project(pieces, crs)
    tree = shapely.STRtree(metric_pieces)
    ray_idx, hit_idx = tree.query(rays, predicate="intersects")
    ok_pair = ok[ray_idx]
    ray_idx, hit_idx = ray_idx[ok_pair], hit_idx[ok_pair]
    if len(ray_idx) == 0:
        return np.empty(0, dtype=object)
    hits = shapely.intersection(rays[ray_idx], metric_pieces[hit_idx])
    dist = shapely.distance(shapely.points(origin[ray_idx]), hits)
    best = np.full(len(origin), np.inf)
    np.minimum.at(best, ray_idx, dist)
    reach = np.isfinite(best)
    far = origin[reach] + d[reach] * (best[reach, None] + _OVERSHOOT_M)
    fx, fy = back.transform(far[:, 0], far[:, 1])
    # start at the tip's own EPSG:4326 coordinates so that noding joins them exactly
    ext = np.stack([tip[reach], np.stack([fx, fy], axis=1)], axis=1).reshape(-1, 2)
    return shapely.linestrings(ext, indices=np.repeat(np.arange(int(reach.sum())), 2))


def _faces(
    community: BaseGeometry,
    lines: np.ndarray,
    crs: CRS,
    extend_m: float,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Faces of the community cut by ``lines`` (after dangle extension) and the lines used.

    ``fixed`` lines (the cuts along building gaps) cut too but are never extended: their
    ends overshoot the lines they reach, and such dangles bound no face.
    """
    boundary = shapely.boundary(community)
    if len(lines):
        # roads drawn along the boundary differ from it by rounding errors: snap them on
        # (1 cm), or noding leaves zero-area faces between the two copies of one line
        lines = shapely.snap(lines, boundary, _SNAP_DEG)
        base = np.concatenate([lines, [boundary]])
    else:
        base = np.array([boundary])
    ext = _extend_dangles(base, community, crs, extend_m)
    used = np.concatenate([base, ext]) if len(ext) else base
    if fixed is not None and len(fixed):
        used = np.concatenate([used, fixed])
    noded = shapely.union_all(used)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if len(faces) == 0:
        return np.array([community], dtype=object), used
    inside = shapely.covers(community, shapely.point_on_surface(faces))
    faces = faces[inside & (shapely.area(faces) > 0)]
    return faces, used


def _shared_lengths(metric_faces: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of faces sharing an edge, and the shared length (metres).

    Faces from one polygonization are built from the same noded lines, so two faces
    that share an edge share its segments vertex for vertex: segments are matched by
    their exact coordinates (a geometric intersection would also count lines that
    differ by rounding errors).
    """
    rings, owner = shapely.get_rings(metric_faces, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    face = owner[ring[:-1][same]]
    length = np.hypot(*(b - a).T)
    ok = length > 0
    a, b, face, length = a[ok], b[ok], face[ok], length[ok]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    _, seg = np.unique(np.hstack([lo, hi]), axis=0, return_inverse=True)
    seg = seg.reshape(-1)
    order = np.lexsort((face, seg))
    seg, face, length = seg[order], face[order], length[order]
    pair = np.flatnonzero((seg[1:] == seg[:-1]) & (face[1:] != face[:-1]))
    i, j = face[pair], face[pair + 1]
    if len(i) == 0:
        return i, j, np.empty(0)
    m = coo_matrix(
        (length[pair], (np.minimum(i, j), np.maximum(i, j))), shape=(len(metric_faces),) * 2
    ).tocsr()
    m.sum_duplicates()
    i, j = m.nonzero()
    return i, j, np.asarray(m[i, j]).reshape(-1)


@dataclass
class _Bricks:
    """Bricks with everything the partition needs (metres, households)."""

    frame: gpd.GeoDataFrame  # EPSG:4326, one row per brick
    members: list[np.ndarray]  # raw faces of each brick
    faces: np.ndarray  # raw faces, EPSG:4326
    weight: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    xy: np.ndarray  # area-weighted centroid, metres
    edges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # i, j, length, minor length
    unplaced_households: int
    unplaced_buildings: int
    footprints: np.ndarray  # buildings with a shape, EPSG:4326
    building_households: np.ndarray
    building_brick: np.ndarray  # brick of each building (by its point), NO_GRID outside


def _bricks(
    community: BaseGeometry,
    roads: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame,
    *,
    crs: CRS,
    extend_dangles_m: float,
    sliver_area_m2: float,
    sliver_width_m: float,
    minor_classes: Sequence[str],
    cuts: np.ndarray | None = None,
) -> _Bricks:
    """The bricks: street blocks (cut further by ``cuts``, EPSG:4326 lines, if given)."""
    roads = _to_4326(roads)
    lines = np.empty(0, dtype=object)
    minor = np.empty(0, dtype=bool)
    if roads is not None and len(roads):
        geoms = np.asarray(roads.geometry.array, dtype=object)
        ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        ok &= shapely.intersects(geoms, community)
        geoms = geoms[ok]
        # keep only the lines (a polygon in a road layer would be an error of the file)
        lines = shapely.get_parts(geoms)
        owner = np.repeat(np.arange(len(geoms)), shapely.get_num_geometries(geoms))
        is_line = np.isin(shapely.get_type_id(lines), [1, 2])
        lines, owner = lines[is_line], owner[is_line]
        if "road_class" in roads.columns:
            cls = roads["road_class"].astype(str).to_numpy()[ok][owner]
            minor = np.isin(cls, list(minor_classes))
        else:
            minor = np.zeros(len(lines), dtype=bool)

    # major street blocks first, then every road, extending dangles at each stage
    major_faces, major_lines = _faces(community, lines[~minor], crs, extend_dangles_m)
    fine_lines = np.concatenate([major_lines, lines[minor]])
    faces, _ = _faces(community, fine_lines, crs, extend_dangles_m, cuts)
    metric = _project(faces, crs)
    area = shapely.area(metric)
    perim = shapely.length(metric)
    fi, fj, flen = _shared_lengths(metric)

    # which major block each face lies in (by its point on surface)
    pos = shapely.point_on_surface(faces)
    major = locate_points(shapely.get_x(pos), shapely.get_y(pos), major_faces)

    # slivers join the neighbour they share the longest edge with (union-find)
    n = len(faces)
    sliver = (area < sliver_area_m2) | (2.0 * area / np.maximum(perim, _EPS) < sliver_width_m)
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = int(parent[a])
        return a

    if sliver.any() and len(fi):
        pi = np.concatenate([fi, fj])
        pj = np.concatenate([fj, fi])
        pl = np.concatenate([flen, flen])
        # a sliver prefers a solid neighbour, then the longest shared edge
        order = np.lexsort((-pl, sliver[pj], pi))
        pi, pj = pi[order], pj[order]
        first = np.ones(len(pi), dtype=bool)
        first[1:] = pi[1:] != pi[:-1]
        target = dict(zip(pi[first].tolist(), pj[first].tolist(), strict=True))
        for s in np.flatnonzero(sliver)[np.argsort(area[sliver], kind="stable")]:
            t = target.get(int(s))
            if t is None:
                continue
            rs, rt = find(int(s)), find(t)
            if rs != rt:
                # the solid part (larger area) names the merged brick
                if area[rs] >= area[rt] and not sliver[rs]:
                    parent[rt] = rs
                else:
                    parent[rs] = rt
    root = np.array([find(a) for a in range(n)])
    _, brick_of = np.unique(root, return_inverse=True)
    brick_of = brick_of.reshape(-1)
    nb = int(brick_of.max()) + 1
    # a brick's major block is the one of its largest face
    lead = np.lexsort((-area, brick_of))
    lead_first = lead[np.r_[True, brick_of[lead][1:] != brick_of[lead][:-1]]]
    major_block = major[lead_first]

    # households per face, then per brick
    footprints, lon, lat, hh = _building_points(buildings)
    where = locate_points(lon, lat, faces)
    placed = where != NO_GRID
    face_hh = np.bincount(where[placed], weights=hh[placed], minlength=n)
    face_bld = np.bincount(where[placed], minlength=n)

    weight = np.bincount(brick_of, weights=face_hh, minlength=nb)
    n_buildings = np.bincount(brick_of, weights=face_bld, minlength=nb).astype(np.int64)
    b_area = np.bincount(brick_of, weights=area, minlength=nb)
    cx = shapely.get_x(shapely.centroid(metric))
    cy = shapely.get_y(shapely.centroid(metric))
    xy = (
        np.stack(
            [
                np.bincount(brick_of, weights=area * cx, minlength=nb),
                np.bincount(brick_of, weights=area * cy, minlength=nb),
            ],
            axis=1,
        )
        / np.maximum(b_area, _EPS)[:, None]
    )
    bi, bj = brick_of[fi], brick_of[fj]
    internal = bi == bj
    b_perim = np.bincount(brick_of, weights=perim, minlength=nb) - 2.0 * np.bincount(
        bi[internal], weights=flen[internal], minlength=nb
    )
    bi, bj, blen = bi[~internal], bj[~internal], flen[~internal]
    lo_, hi_ = np.minimum(bi, bj), np.maximum(bi, bj)
    # sum the shared lengths of each brick pair; minor when both lie in one major block
    pair = coo_matrix((blen, (lo_, hi_)), shape=(nb, nb)).tocsr()
    pair.sum_duplicates()
    ei, ej = pair.nonzero()
    elen = np.asarray(pair[ei, ej]).reshape(-1)
    same_major = (major_block[ei] == major_block[ej]) & (major_block[ei] != NO_GRID)
    eminor = np.where(same_major, elen, 0.0)

    members = [np.flatnonzero(brick_of == b) for b in range(nb)]
    geoms = np.array(
        [faces[m[0]] if len(m) == 1 else shapely.union_all(faces[m]) for m in members],
        dtype=object,
    )
    frame = gpd.GeoDataFrame(
        {
            "households": weight.round().astype(np.int64),
            "buildings": n_buildings,
            "major_block": major_block,
            "area_m2": b_area,
            "perimeter_m": b_perim,
        },
        geometry=geoms,
        crs=4326,
    )
    return _Bricks(
        frame=frame,
        members=members,
        faces=faces,
        weight=weight,
        area=b_area,
        perimeter=b_perim,
        xy=xy,
        edges=(ei, ej, elen, eminor),
        unplaced_households=int(hh[~placed].sum()),
        unplaced_buildings=int((~placed).sum()),
        footprints=footprints,
        building_households=hh,
        building_brick=np.where(placed, brick_of[np.where(placed, where, 0)], NO_GRID),
    )


def street_blocks(
    community: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame,
    *,
    extend_dangles_m: float = 40.0,
    sliver_area_m2: float = 200.0,
    sliver_width_m: float = 6.0,
    minor_classes: Sequence[str] = DEFAULT_MINOR_CLASSES,
) -> gpd.GeoDataFrame:
    """The bricks a community's grids are built from: its street blocks, with households.

    Parameters are those of :func:`design_grids`.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per brick: ``households``, ``buildings``, ``major_block``
        (index of the street block between major roads it lies in), ``area_m2``,
        ``perimeter_m``, ``geometry``.  The bricks tile the community.
    """
    geom = _community_geometry(community)
    crs = local_metric_crs_for(geom)
    return _bricks(
        geom,
        roads,
        buildings,
        crs=crs,
        extend_dangles_m=extend_dangles_m,
        sliver_area_m2=sliver_area_m2,
        sliver_width_m=sliver_width_m,
        minor_classes=minor_classes,
    ).frame
