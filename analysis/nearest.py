"""Nearest open shelter (避难场所) on foot for any point, by one multi-source Dijkstra pass.

Shelters are snapped to the walking network like any point and joined to the ends of
their edge by virtual nodes; one ``scipy.sparse.csgraph.dijkstra`` from all of them
(``min_only=True``) gives every node its walking time to the nearest shelter, the
shelter and the predecessor tree.  A query then snaps the point and takes the best of
the two ends of its edge (plus the direct way along the edge when a shelter sits on
the same edge): a lookup.  Distances are metres along the network, including the
straight walk from each point to its road; routes are returned in EPSG:4326.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from pyproj import Transformer
from shapely.geometry import LineString, Point

from analysis.network import FloatArray, IntArray, NetworkError, RoadNetwork, Snap, SnapEdges


class NoShelterReachable(NetworkError):
    """No open shelter can be reached on foot from the point."""


@dataclass(frozen=True)
class NearestShelter:
    """The answer for one point: which shelter, how far, how long and which way.

    Attributes
    ----------
    shelter_id : int
        Id of the nearest open shelter (as given to :meth:`ShelterIndex.build`).
    distance_m : float
        Walking distance along the network, metres, including the walks between the
        point / the shelter and their roads.
    minutes : float
        Walking time, minutes, at the network's walking speed.
    route : shapely.LineString
        The way, EPSG:4326 (lon, lat), from the point to the shelter.
    offset_m : float
        Straight-line walk from the point to its road, metres (included in
        ``distance_m``); a large value means the point is far from the network.
    capacity, occupancy : int or None
        The shelter's capacity and current occupancy (people), when given to
        :meth:`ShelterIndex.build`.
    """

    shelter_id: int
    distance_m: float
    minutes: float
    route: LineString
    offset_m: float
    capacity: int | None = None
    occupancy: int | None = None


@dataclass(frozen=True)
class _Choice:
    """Per query: the shelter index, the distance and how it was reached."""

    shelter: IntArray  # index into ShelterIndex.shelter_id, -1 when none
    distance_m: FloatArray
    end_node: IntArray  # node index through which the route leaves the edge; -1 direct
    snap: Snap


@dataclass(eq=False)
class ShelterIndex:
    """Walking distance from every node to its nearest open shelter, precomputed.

    Attributes
    ----------
    network : RoadNetwork
        The walking network.
    shelter_id : numpy.ndarray of int64
        Ids of the open shelters indexed.
    shelter_snap : Snap
        Where each shelter joins the network.
    node_distance_m : numpy.ndarray of float64
        Walking distance, metres, from each node to its nearest shelter (``inf`` if none).
    node_shelter : numpy.ndarray of int64
        Index (into :attr:`shelter_id`) of each node's nearest shelter, -1 if none.
    predecessor : numpy.ndarray of int32
        Next node on the way to the shelter; a value >= ``network.n_nodes`` is the
        shelter's virtual node (the last hop is the partial shelter edge).
    capacity, occupancy : numpy.ndarray of int64 or None
        Per indexed shelter, people, when given.
    """

    network: RoadNetwork
    shelter_id: IntArray
    shelter_snap: Snap
    node_distance_m: FloatArray
    node_shelter: IntArray
    predecessor: NDArray[np.int32]
    capacity: IntArray | None = None
    occupancy: IntArray | None = None

    @classmethod
    def build(
        cls,
        network: RoadNetwork,
        shelter_id: ArrayLike,
        lon: ArrayLike,
        lat: ArrayLike,
        *,
        is_open: ArrayLike | None = None,
        capacity: ArrayLike | None = None,
        occupancy: ArrayLike | None = None,
    ) -> ShelterIndex:
        """Snap the open shelters and run one multi-source Dijkstra from all of them.

        Parameters
        ----------
        network : RoadNetwork
            The walking network.
        shelter_id : array_like of int
            Shelter (facility) ids.
        lon, lat : array_like of float
            Shelter locations, degrees, EPSG:4326.
        is_open : array_like of bool, optional
            Which shelters are open; closed ones are left out.  Default: all open.
        capacity, occupancy : array_like of int, optional
            Each shelter's capacity and current occupancy, people; carried into answers.

        Returns
        -------
        ShelterIndex

        Raises
        ------
        NetworkError
            If no shelter is open.
        """
        ids = np.atleast_1d(np.asarray(shelter_id, dtype=np.int64))
        lon_a = np.atleast_1d(np.asarray(lon, dtype=np.float64))
        lat_a = np.atleast_1d(np.asarray(lat, dtype=np.float64))
        cap = None if capacity is None else np.atleast_1d(np.asarray(capacity, np.int64))
        occ = None if occupancy is None else np.atleast_1d(np.asarray(occupancy, np.int64))
        if is_open is not None:
            mask = np.atleast_1d(np.asarray(is_open, dtype=bool))
            ids, lon_a, lat_a = ids[mask], lon_a[mask], lat_a[mask]
            cap = None if cap is None else cap[mask]
            occ = None if occ is None else occ[mask]
        if len(ids) == 0:
            raise NetworkError("no open shelter to route to: open one or add shelters")
        snap = network.snap(lon_a, lat_a)
        n, k = network.n_nodes, len(ids)
        speed = network.walk_speed_mps
        virtual = n + np.arange(k, dtype=np.int64)
        src = network.edge_source[snap.edge]
        dst = network.edge_target[snap.edge]
        links = sparse.csr_array(
            (
                np.maximum(
                    np.concatenate(
                        [snap.offset_m + snap.to_source_m, snap.offset_m + snap.to_target_m]
                    )
                    / speed,
                    1e-9,
                ),
                (np.concatenate([virtual, virtual]), np.concatenate([src, dst])),
            ),
            shape=(n + k, n + k),
        )
        graph = sparse.block_diag([network.walk_graph, sparse.csr_array((k, k))], format="csr")
        graph = sparse.csr_array(graph + links)
        dist_s, pred, source = dijkstra(
            graph, directed=True, indices=virtual, min_only=True, return_predecessors=True
        )
        node_shelter = np.where(source[:n] >= n, source[:n] - n, -1).astype(np.int64)
        return cls(
            network=network,
            shelter_id=ids,
            shelter_snap=snap,
            node_distance_m=np.asarray(dist_s[:n] * speed, dtype=np.float64),
            node_shelter=node_shelter,
            predecessor=np.asarray(pred, dtype=np.int32),
            capacity=cap,
            occupancy=occ,
        )

    # ------------------------------------------------------------------ queries
    @cached_property
    def _by_edge(self) -> tuple[IntArray, IntArray]:
        """Shelter indices sorted by their edge, and those edges."""
        order = np.argsort(self.shelter_snap.edge, kind="stable").astype(np.int64)
        return order, self.shelter_snap.edge[order]

    def _choose(self, lon: ArrayLike, lat: ArrayLike, snap: Snap | None = None) -> _Choice:
        net = self.network
        snap = net.snap(lon, lat) if snap is None else snap
        u, v = net.edge_source[snap.edge], net.edge_target[snap.edge]
        via_u = snap.offset_m + snap.to_source_m + self.node_distance_m[u]
        via_v = snap.offset_m + snap.to_target_m + self.node_distance_m[v]
        use_v = via_v < via_u
        dist = np.where(use_v, via_v, via_u)
        end = np.where(use_v, v, u)
        shelter = self.node_shelter[end].copy()
        end = np.where(np.isfinite(dist), end, -1)

        # a shelter on the same edge may be reached directly along it
        sh = self.shelter_snap
        order, sorted_edge = self._by_edge
        lo = np.searchsorted(sorted_edge, snap.edge, side="left")
        hi = np.searchsorted(sorted_edge, snap.edge, side="right")
        count = hi - lo
        if count.any():
            q = np.repeat(np.arange(len(snap.edge)), count)
            within = np.arange(len(q)) - np.repeat(np.cumsum(count) - count, count)
            j = order[np.repeat(lo, count) + within]
            direct = (
                snap.offset_m[q]
                + np.abs(snap.fraction[q] - sh.fraction[j]) * net.length_m[snap.edge[q]]
                + sh.offset_m[j]
            )
            best = np.full(len(snap.edge), np.inf)
            np.minimum.at(best, q, direct)
            is_best = direct == best[q]
            better = best < dist
            pick = np.full(len(snap.edge), -1, dtype=np.int64)
            pick[q[is_best]] = j[is_best]
            dist = np.where(better, best, dist)
            shelter = np.where(better, pick, shelter)
            end = np.where(better, -1, end)
        shelter = np.where(np.isfinite(dist), shelter, -1)
        return _Choice(shelter=shelter, distance_m=dist, end_node=end, snap=snap)

    def query(self, lon: ArrayLike, lat: ArrayLike) -> tuple[IntArray, FloatArray]:
        """Nearest open shelter and walking distance for many points (vectorised).

        Parameters
        ----------
        lon, lat : array_like of float
            Points, degrees, EPSG:4326.

        Returns
        -------
        shelter_id : numpy.ndarray of int64
            Id of the nearest shelter, -1 where none is reachable.
        distance_m : numpy.ndarray of float64
            Walking distance, metres (``inf`` where none is reachable).
        """
        c = self._choose(lon, lat)
        ids = np.where(c.shelter >= 0, self.shelter_id[np.maximum(c.shelter, 0)], -1)
        return ids.astype(np.int64), c.distance_m

    @cached_property
    def _scalar(self) -> _ScalarTables:
        """Plain-Python copies of what one query reads (built on first use)."""
        net = self.network
        sh = self.shelter_snap
        on_edge: dict[int, list[tuple[int, float, float]]] = {}
        order, sorted_edge = self._by_edge
        for j, e in zip(order.tolist(), sorted_edge.tolist(), strict=True):
            on_edge.setdefault(e, []).append((j, float(sh.fraction[j]), float(sh.offset_m[j])))
        return _ScalarTables(
            forward=Transformer.from_crs(4326, net.crs, always_xy=True),
            snap_edges=net.snap_edges,
            geometry=net.edge_geometry,
            source=net.edge_source.tolist(),
            target=net.edge_target.tolist(),
            length_m=net.length_m.tolist(),
            node_distance_m=self.node_distance_m.tolist(),
            node_shelter=self.node_shelter.tolist(),
            shelter_id=self.shelter_id.tolist(),
            on_edge=on_edge,
        )

    def nearest_shelter_id(self, lon: float, lat: float) -> tuple[int, float]:
        """Nearest open shelter and walking distance for one point, without the route.

        The same answer as :meth:`query` for a single point, computed in plain Python
        on floats (no array allocations): the fast path for one query at a time.

        Parameters
        ----------
        lon, lat : float
            The point, degrees, EPSG:4326.

        Returns
        -------
        shelter_id : int
            Id of the nearest shelter, -1 when none is reachable.
        distance_m : float
            Walking distance, metres (``inf`` when none is reachable).

        Raises
        ------
        NetworkError
            If the point cannot be snapped (coordinates not finite).
        """
        t = self._scalar
        x, y = t.forward.transform(lon, lat)
        pt = Point(x, y)
        e = t.snap_edges.nearest_one(pt)
        if e < 0:
            raise NetworkError(f"the point ({lon}, {lat}) could not be snapped (not finite?)")
        line = t.geometry[e]
        f = line.project(pt, normalized=True)
        f = 0.0 if f != f else min(max(f, 0.0), 1.0)  # nan: zero-length edge
        on = line.interpolate(f, normalized=True)
        offset = math.hypot(x - on.x, y - on.y)
        length = t.length_m[e]
        u, v = t.source[e], t.target[e]
        via_u = offset + f * length + t.node_distance_m[u]
        via_v = offset + (1.0 - f) * length + t.node_distance_m[v]
        dist, end = (via_v, v) if via_v < via_u else (via_u, u)
        shelter = t.node_shelter[end]
        best, pick = math.inf, -1
        for j, sf, soff in t.on_edge.get(e, ()):
            direct = offset + abs(f - sf) * length + soff
            if direct <= best:
                best, pick = direct, j
        if best < dist:
            dist, shelter = best, pick
        if not dist < math.inf:
            return -1, math.inf
        return t.shelter_id[shelter], dist

    def nearest(self, lon: float, lat: float, snap: Snap | None = None) -> NearestShelter:
        """Nearest open shelter of one point, with the walking route.

        Parameters
        ----------
        lon, lat : float
            The point, degrees, EPSG:4326.
        snap : Snap, optional
            The point already snapped to this index's network (``network.snap``), when
            the caller has it: not snapped twice.

        Returns
        -------
        NearestShelter

        Raises
        ------
        NoShelterReachable
            If no open shelter can be reached on foot from the point.
        """
        c = self._choose([lon], [lat], snap)
        j = int(c.shelter[0])
        if j < 0:
            raise NoShelterReachable(f"no open shelter is reachable on foot from ({lon}, {lat})")
        route = self.network.to_wgs84(LineString(self._route_xy(c, j)))
        dist = float(c.distance_m[0])
        return NearestShelter(
            shelter_id=int(self.shelter_id[j]),
            distance_m=dist,
            minutes=dist / self.network.walk_speed_mps / 60.0,
            route=route,
            offset_m=float(c.snap.offset_m[0]),
            capacity=None if self.capacity is None else int(self.capacity[j]),
            occupancy=None if self.occupancy is None else int(self.occupancy[j]),
        )

    def _route_xy(self, c: _Choice, j: int) -> FloatArray:
        """Route coordinates in the network CRS for query 0 of ``c`` to shelter ``j``."""
        return self.network.walk_route_xy(
            c.snap, 0, self.shelter_snap, j, int(c.end_node[0]), self.predecessor
        )


@dataclass(frozen=True)
class _ScalarTables:
    """What :meth:`ShelterIndex.nearest_shelter_id` reads, as Python lists and dicts."""

    forward: Transformer
    snap_edges: SnapEdges
    geometry: NDArray[Any]
    source: list[int]
    target: list[int]
    length_m: list[float]
    node_distance_m: list[float]
    node_shelter: list[int]
    shelter_id: list[int]
    on_edge: dict[int, list[tuple[int, float, float]]]
