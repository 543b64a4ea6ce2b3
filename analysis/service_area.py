"""Walking service areas (5/10/15-minute life circles) around facilities, from the road network.

Rules
-----
What is reached
    The facility points are snapped to the walking network like any point (the straight
    walk from the point to its road counts), and one limited multi-source Dijkstra
    (``scipy.sparse.csgraph.dijkstra(..., min_only=True, limit=...)``) gives every node
    its walking time from the nearest of them.  An edge both of whose ends leave enough
    time to walk it is taken whole; otherwise the reached part from each reached end is
    cut off it (``shapely.ops.substring``), and the facility's own edge contributes the
    part around the snapped point that the time allows.
Area, not hull
    The reached lines are buffered by ``buffer_m`` (50 m by default) and unioned: a
    convex or alpha hull would cover what cannot be reached (the far bank of a river
    with no bridge nearby, the inside of a walled estate).  The buffer stands for the
    frontage a street serves: building entrances sit back from the road centre line
    (the sample district's red lines are 16-40 m wide, and buildings are set back from
    them), so a door within about half a block-face depth of a reached street is
    counted as served.  The walk across the buffer is not timed; set ``buffer_m``
    smaller for a stricter area.
Nesting
    The area of a longer time is unioned with the area of the shorter one, so the areas
    nest exactly (5 ⊂ 10 ⊂ 15) whatever the floating point of the buffer does.

Times are at the network's walking speed (1.2 m/s by default); distances along an edge
are its ``length_m`` (metres) spread evenly over its geometry.  Geometry is built in the
network's local metric CRS and returned in EPSG:4326, with the area in m².
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

import shapely
from geopandas import GeoDataFrame
from shapely.geometry import LineString
from shapely.ops import substring

from analysis.network import FloatArray, NetworkError, RoadNetwork

#: The life circles of GB 50180-2018, minutes on foot.
DEFAULT_MINUTES: tuple[float, ...] = (5.0, 10.0, 15.0)
#: Default buffer around reached streets, metres (see the module docstring).
DEFAULT_BUFFER_M = 50.0


def node_walk_seconds(
    network: RoadNetwork, lon: ArrayLike, lat: ArrayLike, *, limit_s: float = np.inf
) -> tuple[FloatArray, Any]:
    """Walking time from the nearest of some points to every node, limited.

    Parameters
    ----------
    network : RoadNetwork
        The walking network.
    lon, lat : array_like of float
        The points (facilities), degrees, EPSG:4326.
    limit_s : float
        Stop the search beyond this many seconds; farther nodes get ``inf``.

    Returns
    -------
    seconds : numpy.ndarray of float64, shape (n_nodes,)
        Walking time from the nearest point, seconds, including the walk from the point
        to its road; ``inf`` beyond ``limit_s`` or unreachable.
    snap : analysis.network.Snap
        Where the points join the network.
    """
    snap = network.snap(lon, lat)
    n, k = network.n_nodes, len(snap.edge)
    speed = network.walk_speed_mps
    virtual = n + np.arange(k, dtype=np.int64)
    src = network.edge_source[snap.edge]
    dst = network.edge_target[snap.edge]
    cost = (
        np.concatenate([snap.offset_m + snap.to_source_m, snap.offset_m + snap.to_target_m]) / speed
    )
    links = sparse.csr_array(
        (
            np.maximum(cost, 1e-9),
            (np.concatenate([virtual, virtual]), np.concatenate([src, dst])),
        ),
        shape=(n + k, n + k),
    )
    graph = sparse.block_diag([network.walk_graph, sparse.csr_array((k, k))], format="csr")
    graph = sparse.csr_array(graph + links)
    dist = dijkstra(graph, directed=True, indices=virtual, min_only=True, limit=limit_s)
    return np.asarray(dist[:n], dtype=np.float64), snap


def point_walk_seconds(
    network: RoadNetwork,
    lon: float,
    lat: float,
    *,
    limit_s: float = np.inf,
    snap: Any = None,
) -> tuple[FloatArray, Any]:
    """:func:`node_walk_seconds` for one point, without building a graph for it.

    The point joins the network on one edge, so its time to a node is the quicker of
    the walks through that edge's two ends: one Dijkstra from both ends on the walking
    graph as it is (no copy of the graph per question, which costs more than the search
    on a district's network), each end's time added after.

    ``snap``: where the point joins the network, when the caller snapped it already.

    Returns
    -------
    seconds : numpy.ndarray of float64, shape (n_nodes,)
        As :func:`node_walk_seconds`: ``inf`` beyond ``limit_s`` or unreachable.
    snap : analysis.network.Snap
        Where the point joins the network.
    """
    snap = network.snap([lon], [lat]) if snap is None else snap
    edge = int(snap.edge[0])
    ends = np.array([network.edge_source[edge], network.edge_target[edge]], dtype=np.int64)
    to_end = (
        np.array([snap.offset_m[0] + snap.to_source_m[0], snap.offset_m[0] + snap.to_target_m[0]])
        / network.walk_speed_mps
    )
    to_end = np.maximum(to_end, 1e-9)
    dist = dijkstra(network.walk_graph, directed=True, indices=ends, limit=limit_s)
    seconds = np.minimum(dist[0] + to_end[0], dist[1] + to_end[1])
    seconds[seconds > limit_s] = np.inf
    return np.asarray(seconds, dtype=np.float64), snap


def reached_lines(
    network: RoadNetwork, node_seconds: FloatArray, snap: Any, seconds: float
) -> list[LineString]:
    """The parts of the walking network reached within ``seconds``, in the network CRS.

    Parameters
    ----------
    network : RoadNetwork
        The walking network.
    node_seconds : numpy.ndarray of float64, shape (n_nodes,)
        Walking time to every node, seconds (from :func:`node_walk_seconds`).
    snap : analysis.network.Snap
        Where the sources join the network (from :func:`node_walk_seconds`).
    seconds : float
        The time allowed, seconds.

    Returns
    -------
    list of shapely.LineString
        Whole edges, cut edges and the sources' walks to their roads, metric CRS.
    """
    budget_m = seconds * network.walk_speed_mps
    reach = budget_m - node_seconds * network.walk_speed_mps  # metres left at each node
    reach = np.where(np.isfinite(reach), reach, -np.inf)
    walk = np.flatnonzero(network.walkable)
    length = network.length_m[walk]
    r_s = reach[network.edge_source[walk]]
    r_t = reach[network.edge_target[walk]]
    whole = r_s + r_t >= length
    lines: list[LineString] = list(network.edge_geometry[walk[whole]])
    for e, rs, rt, ln in zip(
        walk[~whole].tolist(),
        r_s[~whole].tolist(),
        r_t[~whole].tolist(),
        length[~whole].tolist(),
        strict=True,
    ):
        geom = network.edge_geometry[e]
        if rs > 0:
            lines.append(_cut(geom, 0.0, rs / ln))
        if rt > 0:
            lines.append(_cut(geom, 1.0 - rt / ln, 1.0))
    # each source: its walk to the road and the reached part of its own edge
    for i in range(len(snap.edge)):
        left = budget_m - float(snap.offset_m[i])
        if left < 0:
            continue
        p, q = snap.xy[i], snap.snapped_xy[i]
        walk_in = LineString([p, q]) if np.any(p != q) else None
        if walk_in is not None:
            lines.append(walk_in)
        e = int(snap.edge[i])
        ln = float(network.length_m[e])
        if ln > 0:
            f = float(snap.fraction[i])
            lines.append(_cut(network.edge_geometry[e], f - left / ln, f + left / ln))
    return lines


def service_areas(
    network: RoadNetwork,
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    minutes: Sequence[float] = DEFAULT_MINUTES,
    buffer_m: float = DEFAULT_BUFFER_M,
    quad_segs: int = 4,
) -> GeoDataFrame:
    """Walking service areas around facility points: reached streets, buffered, unioned.

    All points are taken together (an area served by *any* of them); call once per
    facility for one area each.

    Parameters
    ----------
    network : RoadNetwork
        The walking network.
    lon, lat : array_like of float
        Facility points, degrees, EPSG:4326.
    minutes : sequence of float
        Walking times, minutes (default 5, 10 and 15: the life circles).
    buffer_m : float
        Buffer around the reached streets, metres (default 50; see the module docstring).
    quad_segs : int
        Segments per quarter circle of the buffer's round caps.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per time, ascending: ``minutes``, ``geometry`` (Polygon or MultiPolygon,
        EPSG:4326; empty when nothing is reached) and ``area_m2`` (m², measured in the
        network's metric CRS).

    Raises
    ------
    NetworkError
        If ``minutes`` is empty or has a negative value, or ``buffer_m`` is not positive.
    """
    mins = sorted(float(m) for m in minutes)
    if not mins or mins[0] < 0:
        raise NetworkError(f"minutes must be a non-empty list of times >= 0, got {minutes!r}")
    if not buffer_m > 0:
        raise NetworkError(f"buffer_m must be positive, got {buffer_m}")
    seconds, snap = node_walk_seconds(network, lon, lat, limit_s=mins[-1] * 60.0)
    areas: list[Any] = []
    previous: Any = shapely.Polygon()
    for m in mins:
        lines = reached_lines(network, seconds, snap, m * 60.0)
        # one buffer per piece, then a cascaded union: far faster than buffering the
        # MultiLineString as a whole (GEOS unions those buffers one by one)
        area = (
            shapely.union_all(
                shapely.buffer(np.asarray(lines, dtype=object), buffer_m, quad_segs=quad_segs)
            )
            if lines
            else shapely.Polygon()
        )
        area = shapely.union(area, previous) if not previous.is_empty else area
        areas.append(area)
        previous = area
    metric = np.asarray(areas, dtype=object)
    return GeoDataFrame(
        pd.DataFrame({"minutes": mins, "area_m2": shapely.area(metric)}),
        geometry=network.to_wgs84(metric),
        crs=4326,
    )


def _cut(line: LineString, start: float, end: float) -> LineString:
    """Part of ``line`` between fractions ``start`` and ``end`` (clipped to 0..1)."""
    a, b = max(0.0, start), min(1.0, end)
    if b <= a:
        pt = line.interpolate(a, normalized=True)
        return LineString([pt, pt])
    piece = substring(line, a, b, normalized=True)
    if piece.geom_type != "LineString":  # a point when the piece is degenerate
        return LineString([piece, piece])
    return piece
