"""Build walking and driving graphs (scipy CSR) from road node and edge frames, and snap points.

The network is pure: GeoDataFrames in (EPSG:4326, the columns of ``road_node`` and
``road_edge``), arrays out.  Internally every geometry is held in a local metric CRS
(the UTM zone of the network, :func:`gis.coords.local_metric_crs_for`), so snapping
distances are metres.  Only the largest connected component of the road network
(all edges, taken as undirected) is kept; what was dropped is reported in
:attr:`RoadNetwork.dropped`.  A node inside it that only drivable-only edges reach
(a motorway) is unreachable on foot, and one-way streets may leave a node without a
way back by car: the answers there are ``inf``, not errors.

Points join the network on the ground: at the nearest walkable edge with ``z_level``
0 within :data:`GROUND_SNAP_RADIUS_M`, and only when there is none that near at the
nearest walkable tunnel or bridge edge.  A home beside a tunnel portal walks to the
street beside it, not into the tunnel (which may surface a kilometre away).

Node *indices* (0..n-1, the rows of the graphs) are distinct from node *ids* (the
``road_node.id`` values); :attr:`RoadNetwork.node_id` maps one to the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import connected_components

import shapely
from geopandas import GeoDataFrame
from pyproj import CRS, Transformer
from shapely.ops import substring

from gis.coords import local_metric_crs_for
from gis.errors import AnalysisError, InvalidInput
from gis.settings import get_settings

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Default driving speeds by road class, km/h (sample classes and OSM highway values).
DRIVE_SPEED_KMH: dict[str, float] = {
    "arterial": 50.0,
    "branch": 30.0,
    "lane": 15.0,
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 35.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 15.0,
}
#: Driving speed of a drivable class missing from the table, km/h.
DEFAULT_DRIVE_SPEED_KMH = 30.0
#: Smallest edge cost, seconds: csgraph reads a stored zero as "no edge".
MIN_COST_S = 1e-9
#: A point snaps to the nearest walkable edge on the ground within this distance, metres,
#: before any tunnel or bridge edge; beyond it, to the nearest walkable edge of any level.
GROUND_SNAP_RADIUS_M = 100.0

_REQUIRED_EDGE_COLUMNS = ("id", "source", "target", "length_m", "geometry")


class NetworkError(AnalysisError, InvalidInput):
    """The road network cannot be built or used as asked."""


@dataclass(frozen=True)
class Dropped:
    """What building the network left out: nodes and edges outside the largest component.

    Attributes
    ----------
    nodes : int
        Nodes dropped (not in the largest connected component, or isolated).
    edges : int
        Edges dropped (an end outside the component, a self-loop, or a missing node).
    node_ids : numpy.ndarray of int64
        The ``road_node.id`` values dropped.
    edge_ids : numpy.ndarray of int64
        The ``road_edge.id`` values dropped.
    """

    nodes: int
    edges: int
    node_ids: IntArray
    edge_ids: IntArray


@dataclass(frozen=True)
class Snap:
    """Where points join the network: on an edge, at a fraction of its length.

    All arrays have one entry per input point.  Distances are metres.

    Attributes
    ----------
    edge : numpy.ndarray of int64
        Edge index (into the network's edge arrays) of the edge joined: the nearest
        walkable edge on the ground, unless none lies within
        :data:`GROUND_SNAP_RADIUS_M` (then the nearest walkable edge).
    fraction : numpy.ndarray of float64
        Position of the snapped point along the edge, 0 at its source, 1 at its target.
    offset_m : numpy.ndarray of float64
        Straight-line distance from the point to the snapped point (the walk to the road).
    to_source_m, to_target_m : numpy.ndarray of float64
        Distance along the edge from the snapped point to its source / target node.
    xy : numpy.ndarray of float64, shape (n, 2)
        The input points in the network's metric CRS.
    snapped_xy : numpy.ndarray of float64, shape (n, 2)
        The snapped points on the edges, in the network's metric CRS.
    """

    edge: IntArray
    fraction: FloatArray
    offset_m: FloatArray
    to_source_m: FloatArray
    to_target_m: FloatArray
    xy: FloatArray
    snapped_xy: FloatArray


@dataclass(eq=False)
class RoadNetwork:
    """A road network as walking and driving graphs over the largest connected component.

    Build it with :meth:`from_frames`.  Graph rows and columns are node indices.

    Attributes
    ----------
    node_id : numpy.ndarray of int64
        ``road_node.id`` of each node index.
    node_xy : numpy.ndarray of float64, shape (n, 2)
        Node coordinates in :attr:`crs`, metres.
    crs : pyproj.CRS
        The local metric CRS (WGS84 / UTM zone) of every coordinate held here.
    edge_id : numpy.ndarray of int64
        ``road_edge.id`` of each edge index.
    edge_source, edge_target : numpy.ndarray of int64
        Node indices of each edge's ends (the edge geometry runs source → target).
    edge_class : numpy.ndarray of object
        Road class of each edge.
    length_m : numpy.ndarray of float64
        Edge length, metres (as given, normally geodesic).
    walkable, drivable, oneway : numpy.ndarray of bool
        Edge flags; ``oneway`` means drivable from source to target only.
    z_level : numpy.ndarray of int64
        0 for an edge on the ground, below 0 in a tunnel, above 0 on a bridge.
    walk_s : numpy.ndarray of float64
        Walking time of each edge, seconds (``length_m / walk_speed_mps``).
    drive_s : numpy.ndarray of float64
        Driving time of each edge, seconds; ``inf`` where not drivable.
    edge_geometry : numpy.ndarray of shapely.LineString
        Edge geometries in :attr:`crs`, oriented source → target.
    walk_speed_mps : float
        Walking speed, m/s.
    walk_graph : scipy.sparse.csr_array
        Undirected walking graph (stored both ways), weights in seconds; the cheapest of
        parallel edges kept.
    drive_graph : scipy.sparse.csr_array
        Directed driving graph, one-way streets respected, weights in seconds.
    walk_edge : scipy.sparse.csr_array
        Same structure as :attr:`walk_graph`; data is the edge index + 1 of each arc.
    dropped : Dropped
        What was left out of the largest connected component.
    """

    node_id: IntArray
    node_xy: FloatArray
    crs: CRS
    edge_id: IntArray
    edge_source: IntArray
    edge_target: IntArray
    edge_class: NDArray[Any]
    length_m: FloatArray
    walkable: BoolArray
    drivable: BoolArray
    oneway: BoolArray
    z_level: IntArray
    walk_s: FloatArray
    drive_s: FloatArray
    edge_geometry: NDArray[Any]
    walk_speed_mps: float
    walk_graph: sparse.csr_array
    drive_graph: sparse.csr_array
    walk_edge: sparse.csr_array
    dropped: Dropped

    @property
    def n_nodes(self) -> int:
        """Number of nodes kept."""
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        """Number of edges kept."""
        return len(self.edge_id)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_frames(
        cls,
        nodes: GeoDataFrame,
        edges: GeoDataFrame,
        *,
        walk_speed_mps: float | None = None,
        drive_speed_kmh: Mapping[str, float] | None = None,
    ) -> RoadNetwork:
        """Build the network from ``road_node`` / ``road_edge`` frames.

        Parameters
        ----------
        nodes : geopandas.GeoDataFrame
            Columns ``id`` and point ``geometry``, EPSG:4326.
        edges : geopandas.GeoDataFrame
            Columns ``id``, ``source``, ``target`` (node ids), ``length_m`` (metres) and
            line ``geometry`` (EPSG:4326, from source to target); optional
            ``road_class``, ``walkable``, ``drivable``, ``oneway`` (default: walkable,
            drivable, two-way), ``z_level`` (default 0, on the ground) and
            ``drive_speed_kmh`` (km/h; missing values come from the class table).
        walk_speed_mps : float, optional
            Walking speed, m/s; default the ``walk_speed_mps`` setting (1.2).  One speed
            for the whole network, so the nearest by time is the nearest by distance; a
            ``walk_speed_mps`` column in ``edges`` is not read.
        drive_speed_kmh : mapping of str to float, optional
            Driving speed by road class, km/h, overriding :data:`DRIVE_SPEED_KMH` and
            the frame's ``drive_speed_kmh`` column for the classes it names.

        Returns
        -------
        RoadNetwork

        Raises
        ------
        NetworkError
            If a required column is missing, a speed is not positive, or no edge is left.
        """
        missing = [c for c in _REQUIRED_EDGE_COLUMNS if c not in edges.columns]
        if missing or "id" not in nodes.columns:
            raise NetworkError(
                f"road frames lack columns {missing or ['id']}: edges need "
                f"{list(_REQUIRED_EDGE_COLUMNS)}, nodes need id and geometry"
            )
        speed = float(
            walk_speed_mps if walk_speed_mps is not None else get_settings().walk_speed_mps
        )
        if not speed > 0:
            raise NetworkError(f"walking speed must be positive, got {speed} m/s")
        if len(edges) == 0:
            raise NetworkError("no road edges: the network is empty")

        nodes = _to_wgs84(nodes)
        edges = _to_wgs84(edges)
        crs = local_metric_crs_for(edges)
        to_metric = Transformer.from_crs(4326, crs, always_xy=True)

        all_node_id = nodes["id"].to_numpy(np.int64)
        order = np.argsort(all_node_id, kind="stable")
        sorted_id = all_node_id[order]
        n_all = len(all_node_id)

        if n_all == 0:
            raise NetworkError("no road nodes: the network is empty")

        def index_of(ids: NDArray[Any]) -> IntArray:
            """Node index of each node id, -1 for an id not among the nodes."""
            pos = np.minimum(np.searchsorted(sorted_id, ids), n_all - 1)
            return np.where(sorted_id[pos] == ids, order[pos], -1).astype(np.int64)

        src = index_of(edges["source"].to_numpy(np.int64))
        dst = index_of(edges["target"].to_numpy(np.int64))
        ecount = len(edges)
        walkable = _bool_column(edges, "walkable", ecount)
        drivable = _bool_column(edges, "drivable", ecount)
        oneway = _bool_column(edges, "oneway", ecount, default=False)
        usable = (src >= 0) & (dst >= 0) & (src != dst) & (walkable | drivable)

        # largest connected component of all usable edges, as undirected
        adj = sparse.coo_array(
            (np.ones(int(usable.sum())), (src[usable], dst[usable])), shape=(n_all, n_all)
        )
        _, label = connected_components(adj, directed=False)
        degree = np.bincount(src[usable], minlength=n_all) + np.bincount(
            dst[usable], minlength=n_all
        )
        if not degree.any():
            raise NetworkError("no usable road edge joins two known nodes")
        sizes = np.bincount(label[degree > 0])
        keep_node = (label == int(np.argmax(sizes))) & (degree > 0)
        keep_edge = usable & keep_node[np.maximum(src, 0)] & keep_node[np.maximum(dst, 0)]

        new_index = np.full(n_all, -1, dtype=np.int64)
        new_index[keep_node] = np.arange(int(keep_node.sum()))
        dropped = Dropped(
            nodes=int((~keep_node).sum()),
            edges=int((~keep_edge).sum()),
            node_ids=all_node_id[~keep_node],
            edge_ids=edges["id"].to_numpy(np.int64)[~keep_edge],
        )

        kept_nodes = nodes.iloc[np.flatnonzero(keep_node)]
        e = edges.iloc[np.flatnonzero(keep_edge)]
        node_xy = _metric_xy(kept_nodes.geometry.to_numpy(), to_metric)
        geom = shapely.transform(
            e.geometry.to_numpy(), lambda xy: np.column_stack(to_metric.transform(*xy.T))
        )
        length_m = e["length_m"].to_numpy(np.float64)
        road_class = (
            e["road_class"].astype(object).to_numpy()
            if "road_class" in e.columns
            else np.full(len(e), "", dtype=object)
        )
        kmh = _drive_speeds(e, road_class, drive_speed_kmh)
        w, d, o = walkable[keep_edge], drivable[keep_edge], oneway[keep_edge]
        if np.any(d & ~(kmh > 0)):
            raise NetworkError("driving speeds must be positive for drivable edges")
        walk_s = length_m / speed
        with np.errstate(divide="ignore"):
            drive_s = np.where(d, length_m / (kmh / 3.6), np.inf)
        s, t = new_index[src[keep_edge]], new_index[dst[keep_edge]]
        n = int(keep_node.sum())

        walk_graph, walk_edge, drive_graph = _graphs(s, t, w, d, o, walk_s, drive_s, n)
        return cls(
            node_id=all_node_id[keep_node],
            node_xy=node_xy,
            crs=crs,
            edge_id=e["id"].to_numpy(np.int64),
            edge_source=s,
            edge_target=t,
            edge_class=road_class,
            length_m=length_m,
            walkable=w,
            drivable=d,
            oneway=o,
            z_level=_int_column(e, "z_level"),
            walk_s=walk_s,
            drive_s=drive_s,
            edge_geometry=geom,
            walk_speed_mps=speed,
            walk_graph=walk_graph,
            drive_graph=drive_graph,
            walk_edge=walk_edge,
            dropped=dropped,
        )

    # ------------------------------------------------------------------ closures
    def walk_route_xy(
        self,
        start: Snap,
        i: int,
        goal: Snap,
        j: int,
        end: int,
        predecessor: NDArray[np.integer[Any]],
    ) -> FloatArray:
        """Coordinates (network CRS, metres) of the walk from snapped point ``i`` to ``j``.

        Parameters
        ----------
        start, goal : Snap
            The snapped start points and goal points (e.g. shelters).
        i, j : int
            Which start and which goal.
        end : int
            The node through which the walk leaves the start's edge; -1 when it goes
            straight along the edge the two share.
        predecessor : numpy.ndarray
            Predecessors of a Dijkstra run from the goal (values ``>= n_nodes`` end the
            chain: the goal's own virtual node).

        Returns
        -------
        numpy.ndarray
            (n, 2) coordinates: point → its road → streets → the goal's road → goal.
        """
        e, f = int(start.edge[i]), float(start.fraction[i])
        ge, gf = int(goal.edge[j]), float(goal.fraction[j])
        parts: list[Any] = [start.xy[i : i + 1], start.snapped_xy[i : i + 1]]
        if end < 0:
            parts.append(_piece(self.edge_geometry[e], f, gf))
        else:
            parts.append(
                _piece(self.edge_geometry[e], f, 0.0 if end == self.edge_source[e] else 1.0)
            )
            nodes = [end]
            while predecessor[nodes[-1]] < self.n_nodes:
                nodes.append(int(predecessor[nodes[-1]]))
            a, b = np.asarray(nodes[:-1]), np.asarray(nodes[1:])
            if len(a):
                for ai, ei in zip(a.tolist(), self.walk_edge_between(a, b).tolist(), strict=True):
                    xy = shapely.get_coordinates(self.edge_geometry[ei])
                    parts.append(xy if self.edge_source[ei] == ai else xy[::-1])
            last = nodes[-1]
            parts.append(
                _piece(self.edge_geometry[ge], 0.0 if last == self.edge_source[ge] else 1.0, gf)
            )
        parts += [goal.snapped_xy[j : j + 1], goal.xy[j : j + 1]]
        xy = np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in parts])
        keep = np.ones(len(xy), dtype=bool)
        keep[1:] = np.any(np.abs(np.diff(xy, axis=0)) > 1e-9, axis=1)
        xy = xy[keep]
        return np.concatenate([xy, xy]) if len(xy) == 1 else xy

    def without_edges(self, edge_ids: ArrayLike) -> RoadNetwork:
        """A copy of the network with some edges closed (a flooded underpass, works).

        Node indexing is kept: the same nodes, in the same order, so node-indexed
        arrays of this network stay valid for the copy.  The largest connected component
        is *not* recomputed: nodes cut off by the closure stay, unreachable (``inf``
        walking times), rather than vanishing.  Edge indices do change (the closed edges
        are removed and the rest keep their order); use :attr:`edge_id` to map them.

        Parameters
        ----------
        edge_ids : array_like of int
            ``road_edge.id`` values to close.  Ids of edges already left out of the
            network (:attr:`Dropped.edge_ids`) are accepted and ignored.

        Returns
        -------
        RoadNetwork
            A new network; this one is unchanged.  :attr:`dropped` is carried over
            as is (it describes the original build, not the closure).

        Raises
        ------
        NetworkError
            If an id is neither an edge of the network nor one of its dropped edges.
        """
        closed = np.unique(np.atleast_1d(np.asarray(edge_ids, dtype=np.int64)))
        unknown = closed[~np.isin(closed, self.edge_id) & ~np.isin(closed, self.dropped.edge_ids)]
        if unknown.size:
            raise NetworkError(f"cannot close unknown road edges: {unknown[:10].tolist()}")
        keep = np.flatnonzero(~np.isin(self.edge_id, closed))
        s, t = self.edge_source[keep], self.edge_target[keep]
        w, d, o = self.walkable[keep], self.drivable[keep], self.oneway[keep]
        walk_s, drive_s = self.walk_s[keep], self.drive_s[keep]
        n = self.n_nodes
        walk_graph, walk_edge, drive_graph = _graphs(s, t, w, d, o, walk_s, drive_s, n)
        return RoadNetwork(
            node_id=self.node_id,
            node_xy=self.node_xy,
            crs=self.crs,
            edge_id=self.edge_id[keep],
            edge_source=s,
            edge_target=t,
            edge_class=self.edge_class[keep],
            length_m=self.length_m[keep],
            walkable=w,
            drivable=d,
            oneway=o,
            z_level=self.z_level[keep],
            walk_s=walk_s,
            drive_s=drive_s,
            edge_geometry=self.edge_geometry[keep],
            walk_speed_mps=self.walk_speed_mps,
            walk_graph=walk_graph,
            drive_graph=drive_graph,
            walk_edge=walk_edge,
            dropped=self.dropped,
        )

    # ------------------------------------------------------------------ lookups
    def walk_edge_between(self, a: ArrayLike, b: ArrayLike) -> IntArray:
        """Edge index of the walking arc from node index ``a`` to ``b`` (vectorised).

        Parameters
        ----------
        a, b : array_like of int
            Node indices of consecutive path nodes.

        Returns
        -------
        numpy.ndarray of int64
            Edge index of the cheapest walkable edge joining each pair; -1 where none.
        """
        a_arr = np.atleast_1d(np.asarray(a, dtype=np.int64))
        b_arr = np.atleast_1d(np.asarray(b, dtype=np.int64))
        got = np.asarray(self.walk_edge[a_arr, b_arr]).ravel()
        return got.astype(np.int64) - 1

    def to_metric(self, lon: ArrayLike, lat: ArrayLike) -> FloatArray:
        """Project lon/lat (EPSG:4326, degrees) to the network CRS; returns (n, 2) metres."""
        x, y = self._forward.transform(
            np.atleast_1d(np.asarray(lon, float)), np.atleast_1d(np.asarray(lat, float))
        )
        return np.column_stack([x, y]).astype(np.float64)

    def to_wgs84(self, geometry: Any) -> Any:
        """Reproject shapely geometries from the network CRS to EPSG:4326 (lon, lat)."""
        t = self._inverse
        return shapely.transform(geometry, lambda xy: np.column_stack(t.transform(*xy.T)))

    @cached_property
    def _forward(self) -> Transformer:
        return Transformer.from_crs(4326, self.crs, always_xy=True)

    @cached_property
    def _inverse(self) -> Transformer:
        return Transformer.from_crs(self.crs, 4326, always_xy=True)

    # ------------------------------------------------------------------ snapping
    def snap(self, lon: ArrayLike, lat: ArrayLike) -> Snap:
        """Join points to the network at the nearest point of their walkable edge.

        The edge is the nearest walkable edge on the ground within
        :data:`GROUND_SNAP_RADIUS_M`, else the nearest walkable edge (a tunnel or bridge).

        Parameters
        ----------
        lon, lat : array_like of float
            Point coordinates, degrees, EPSG:4326 (WGS84).

        Returns
        -------
        Snap
            Edge, fraction along it and the partial distances (metres) to its ends, plus
            the straight-line walk from the point to the road (``offset_m``).
        """
        return self.snap_xy(self.to_metric(lon, lat))

    def snap_xy(self, xy: ArrayLike) -> Snap:
        """Snap points given in the network's metric CRS; see :meth:`snap`."""
        pts_xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        pts = shapely.points(pts_xy)
        # GEOS raises a bare GEOSException on a NaN point: name the cause instead
        edge = (
            self.snap_edges.nearest(pts)
            if np.isfinite(pts_xy).all()
            else np.full(len(pts_xy), -1, dtype=np.int64)
        )
        if np.any(edge < 0):
            raise NetworkError("some points could not be snapped (not finite coordinates?)")
        lines = self.edge_geometry[edge]
        fraction = np.clip(shapely.line_locate_point(lines, pts, normalized=True), 0.0, 1.0)
        fraction = np.nan_to_num(fraction, nan=0.0)  # zero-length edge
        on_edge = shapely.line_interpolate_point(lines, fraction, normalized=True)
        snapped_xy = shapely.get_coordinates(on_edge)
        offset = np.hypot(*(pts_xy - snapped_xy).T)
        length = self.length_m[edge]
        return Snap(
            edge=edge,
            fraction=fraction,
            offset_m=offset,
            to_source_m=fraction * length,
            to_target_m=(1.0 - fraction) * length,
            xy=pts_xy,
            snapped_xy=snapped_xy,
        )

    @cached_property
    def snap_edges(self) -> SnapEdges:
        """The spatial indexes points are snapped with (built on first use)."""
        return SnapEdges.of(self)


@dataclass(frozen=True)
class SnapEdges:
    """Which edge a point joins: walkable edges on the ground first, then the others.

    Attributes
    ----------
    ground, walkable : shapely.STRtree or None
        Indexes of the walkable edges on the ground (``z_level`` 0) and of all walkable
        edges, in the network's metric CRS; None when there is none.
    ground_edges, walkable_edges : list of int
        Edge index of each tree item.
    ground_array, walkable_array : numpy.ndarray of int64
        The same as arrays, for many points at once (made once: converting the lists
        on every snap cost ~0.8 ms per point at 1,000,000 households).
    radius_m : float
        How far a ground edge is preferred, metres (:data:`GROUND_SNAP_RADIUS_M`).
    """

    ground: shapely.STRtree | None
    ground_edges: list[int]
    walkable: shapely.STRtree
    walkable_edges: list[int]
    ground_array: IntArray
    walkable_array: IntArray
    radius_m: float = GROUND_SNAP_RADIUS_M

    @classmethod
    def of(cls, network: RoadNetwork) -> SnapEdges:
        """The snapping indexes of a network.

        Raises
        ------
        NetworkError
            If no edge is walkable.
        """
        walkable = np.flatnonzero(network.walkable)
        if len(walkable) == 0:
            raise NetworkError("the network has no walkable edge to snap to")
        ground = walkable[network.z_level[walkable] == 0]
        geoms = network.edge_geometry
        return cls(
            ground=shapely.STRtree(geoms[ground]) if len(ground) else None,
            ground_edges=ground.tolist(),
            walkable=shapely.STRtree(geoms[walkable]),
            walkable_edges=walkable.tolist(),
            ground_array=ground.astype(np.int64),
            walkable_array=walkable.astype(np.int64),
        )

    def nearest(self, points: NDArray[Any]) -> IntArray:
        """Edge index each point (shapely, network CRS) joins; -1 for an unusable point."""
        edge = np.full(len(points), -1, dtype=np.int64)
        if self.ground is not None:
            i, j = self.ground.query_nearest(points, max_distance=self.radius_m, all_matches=False)
            edge[i] = self.ground_array[j]
        rest = np.flatnonzero(edge < 0)
        if len(rest):
            i, j = self.walkable.query_nearest(points[rest], all_matches=False)
            edge[rest[i]] = self.walkable_array[j]
        return edge

    def nearest_one(self, point: shapely.Point) -> int:
        """Edge index one point joins, without arrays (the fast path); -1 if unusable."""
        if self.ground is not None:
            hit = self.ground.query_nearest(point, max_distance=self.radius_m, all_matches=False)
            if len(hit):
                return self.ground_edges[int(hit[0])]
        hit = self.walkable.query_nearest(point, all_matches=False)
        return self.walkable_edges[int(hit[0])] if len(hit) else -1


# ---------------------------------------------------------------------- helpers
def _to_wgs84(frame: GeoDataFrame) -> GeoDataFrame:
    if frame.crs is None or CRS.from_user_input(frame.crs).equals(CRS.from_epsg(4326)):
        return frame
    return frame.to_crs(4326)


def _bool_column(frame: pd.DataFrame, name: str, n: int, default: bool = True) -> BoolArray:
    if name not in frame.columns:
        return np.full(n, default, dtype=bool)
    return frame[name].fillna(default).to_numpy(bool)


def _int_column(frame: pd.DataFrame, name: str, default: int = 0) -> IntArray:
    if name not in frame.columns:
        return np.full(len(frame), default, dtype=np.int64)
    return frame[name].fillna(default).to_numpy(np.int64)


def _metric_xy(points: NDArray[Any], transformer: Transformer) -> FloatArray:
    ll = shapely.get_coordinates(points)
    x, y = transformer.transform(ll[:, 0], ll[:, 1])
    return np.column_stack([x, y]).astype(np.float64)


def _drive_speeds(
    e: pd.DataFrame, road_class: NDArray[Any], override: Mapping[str, float] | None
) -> FloatArray:
    table = {**DRIVE_SPEED_KMH}
    by_class = pd.Series(road_class).map(table).fillna(DEFAULT_DRIVE_SPEED_KMH).to_numpy(float)
    if "drive_speed_kmh" in e.columns:
        given = pd.to_numeric(e["drive_speed_kmh"], errors="coerce").to_numpy(float)
        by_class = np.where(np.isfinite(given), given, by_class)
    if override:
        o = pd.Series(road_class).map(dict(override)).to_numpy(float)
        by_class = np.where(np.isfinite(o), o, by_class)
    return by_class


def _graphs(
    s: IntArray,
    t: IntArray,
    walkable: NDArray[np.bool_],
    drivable: NDArray[np.bool_],
    oneway: NDArray[np.bool_],
    walk_s: FloatArray,
    drive_s: FloatArray,
    n: int,
) -> tuple[sparse.csr_array, sparse.csr_array, sparse.csr_array]:
    """The walking graph (both ways) with its edge index, and the driving graph (one-way kept)."""
    edge_index = np.arange(len(s), dtype=np.int64)
    wi = np.flatnonzero(walkable)
    walk_graph, walk_edge = _csr_min(
        np.concatenate([s[wi], t[wi]]),
        np.concatenate([t[wi], s[wi]]),
        np.concatenate([walk_s[wi], walk_s[wi]]),
        np.concatenate([edge_index[wi], edge_index[wi]]),
        n,
    )
    fwd = np.flatnonzero(drivable)
    back = np.flatnonzero(drivable & ~oneway)
    drive_graph, _ = _csr_min(
        np.concatenate([s[fwd], t[back]]),
        np.concatenate([t[fwd], s[back]]),
        np.concatenate([drive_s[fwd], drive_s[back]]),
        np.concatenate([edge_index[fwd], edge_index[back]]),
        n,
    )
    return walk_graph, walk_edge, drive_graph


def _csr_min(
    row: IntArray, col: IntArray, cost: FloatArray, edge: IntArray, n: int
) -> tuple[sparse.csr_array, sparse.csr_array]:
    """CSR graph keeping the cheapest of parallel arcs, and the edge index + 1 of each arc."""
    order = np.lexsort((cost, col, row))
    row, col, cost, edge = row[order], col[order], cost[order], edge[order]
    first = np.ones(len(row), dtype=bool)
    first[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
    row, col, cost, edge = row[first], col[first], cost[first], edge[first]
    graph = sparse.csr_array((np.maximum(cost, MIN_COST_S), (row, col)), shape=(n, n))
    ids = sparse.csr_array(((edge + 1).astype(np.float64), (row, col)), shape=(n, n))
    return graph, ids


def _piece(line: Any, start: float, end: float) -> FloatArray:
    """Coordinates of ``line`` from fraction ``start`` to ``end`` (reversed when end < start)."""
    if start == end:
        return np.asarray(shapely.get_coordinates(line.interpolate(start, normalized=True)))
    return np.asarray(shapely.get_coordinates(substring(line, start, end, normalized=True)))
