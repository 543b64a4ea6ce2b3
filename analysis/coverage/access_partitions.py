"""Walking access of a whole city, partition by partition (on Dask), equal to :func:`access`.

:func:`~analysis.coverage.walking_access.access` snaps every demand row and looks up its
nearest facility after one multi-source Dijkstra over the whole network.  For a city,
:func:`access_partitioned` cuts the demand into partitions (square tiles of the network's
metric CRS, or the values of a column such as ``community_id``) and answers each on a
worker with a *sub-network*: the edges crossing the partition's box grown by a buffer.

Exactness (why the answers equal the single-process ones)
    * Facilities are snapped once, on the whole network, and each partition gets their
      joins (edge, fraction, the walks to its two ends) where they touch its nodes: a
      partition never snaps a facility to a road of its own.
    * The sub-network is a slice of the whole :class:`~analysis.network.RoadNetwork` (its
      CRS, its component set, edge and node order kept), so the same path costs the same.
    * A demand row snaps to the same edge as on the whole network when its snap offset is
      within the buffer (then every nearer road crosses the grown box) and the buffer is at
      least :data:`~analysis.network.GROUND_SNAP_RADIUS_M` (the ground rule sees the same
      ground edges).
    * The *boundary* of a sub-network is its nodes that touch a walkable edge left out.
      A walk that leaves the sub-network passes a boundary node first, so it is at least
      as long as the walk to the nearest boundary node (one more multi-source Dijkstra,
      from the boundary).  A row whose nearest facility in the sub-network is nearer than
      that is exact: no walk through the rest of the city can be shorter.
    * Rows that fail either test (beyond the buffer: mostly people outside the standard,
      whose exact times the single-process path reports too) go again in a next round
      with tiles and buffer :data:`GROWTH` times larger, until the grown box covers the
      whole network, where every answer is exact by construction.

Everything here is pure; the cluster is the caller's (``client``: a
``distributed.Client``, see :func:`etl.relocate_dask.dask_client`), or None to run the
partitions one after the other in this process.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

import shapely
from pyproj import CRS

from analysis.coverage.demand import _check_demand
from analysis.coverage.standards import CoverageError, Standard, _standard
from analysis.coverage.walking_access import Access, _facilities_of, _lonlat
from analysis.nearest import ShelterIndex
from analysis.network import (
    GROUND_SNAP_RADIUS_M,
    MIN_COST_S,
    BoolArray,
    Dropped,
    FloatArray,
    IntArray,
    NetworkError,
    RoadNetwork,
    Snap,
    _graphs,
)

if TYPE_CHECKING:
    from distributed import Client

#: Side of a demand tile in the first round, metres (a street office's size or less).
DEFAULT_TILE_M: Final = 3000.0
#: Tiles and buffer grow by this factor from one round to the next.
GROWTH: Final = 4.0
#: Partitions in flight per worker thread on a cluster.
IN_FLIGHT_PER_THREAD: Final = 2
_EMPTY = np.empty(0, np.int64)


@dataclass(frozen=True)
class NetworkPiece:
    """A slice of a road network (its edges ``edges``), as it travels to a worker.

    The arrays are those of :class:`~analysis.network.RoadNetwork` restricted to the
    slice, nodes renumbered in their order in the whole; :meth:`network` builds the graphs.
    ``boundary`` lists the slice's nodes (its indices) touching a walkable edge left out.
    """

    node_id: IntArray
    node_xy: FloatArray
    crs_wkt: str
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
    boundary: IntArray

    @classmethod
    def of(cls, network: RoadNetwork, edges: IntArray) -> tuple[NetworkPiece, IntArray, IntArray]:
        """The slice of ``network`` made of ``edges`` (sorted edge indices).

        Returns
        -------
        piece : NetworkPiece
        node_local, edge_local : numpy.ndarray of int64
            For every node / edge of the whole, its index in the slice, -1 when outside.
        """
        s, t = network.edge_source[edges], network.edge_target[edges]
        nodes = np.unique(np.concatenate([s, t]))
        node_local = np.full(network.n_nodes, -1, np.int64)
        node_local[nodes] = np.arange(len(nodes))
        edge_local = np.full(network.n_edges, -1, np.int64)
        edge_local[edges] = np.arange(len(edges))
        left_out = network.walkable & (edge_local < 0)
        ends = node_local[
            np.concatenate([network.edge_source[left_out], network.edge_target[left_out]])
        ]
        piece = cls(
            node_id=network.node_id[nodes],
            node_xy=network.node_xy[nodes],
            crs_wkt=network.crs.to_wkt(),
            edge_id=network.edge_id[edges],
            edge_source=node_local[s],
            edge_target=node_local[t],
            edge_class=network.edge_class[edges],
            length_m=network.length_m[edges],
            walkable=network.walkable[edges],
            drivable=network.drivable[edges],
            oneway=network.oneway[edges],
            z_level=network.z_level[edges],
            walk_s=network.walk_s[edges],
            drive_s=network.drive_s[edges],
            edge_geometry=network.edge_geometry[edges],
            walk_speed_mps=network.walk_speed_mps,
            boundary=np.unique(ends[ends >= 0]),
        )
        return piece, node_local, edge_local

    def network(self) -> RoadNetwork:
        """The slice as a network (graphs built here, on the worker)."""
        n = len(self.node_id)
        walk_graph, walk_edge, drive_graph = _graphs(
            self.edge_source,
            self.edge_target,
            self.walkable,
            self.drivable,
            self.oneway,
            self.walk_s,
            self.drive_s,
            n,
        )
        return RoadNetwork(
            node_id=self.node_id,
            node_xy=self.node_xy,
            crs=CRS.from_wkt(self.crs_wkt),
            edge_id=self.edge_id,
            edge_source=self.edge_source,
            edge_target=self.edge_target,
            edge_class=self.edge_class,
            length_m=self.length_m,
            walkable=self.walkable,
            drivable=self.drivable,
            oneway=self.oneway,
            z_level=self.z_level,
            walk_s=self.walk_s,
            drive_s=self.drive_s,
            edge_geometry=self.edge_geometry,
            walk_speed_mps=self.walk_speed_mps,
            walk_graph=walk_graph,
            drive_graph=drive_graph,
            walk_edge=walk_edge,
            dropped=Dropped(0, 0, _EMPTY, _EMPTY),
        )


@dataclass(frozen=True)
class FacilityJoins:
    """Facilities snapped on the whole network, as seen from one slice.

    ``edge`` is the slice's index of each facility's edge (-1 when the edge is outside);
    ``source_node`` / ``target_node`` the slice's index of its ends (-1 when outside).
    The other arrays are the whole network's :class:`~analysis.network.Snap` values.
    """

    ids: IntArray
    edge: IntArray
    fraction: FloatArray
    offset_m: FloatArray
    to_source_m: FloatArray
    to_target_m: FloatArray
    source_node: IntArray
    target_node: IntArray

    @classmethod
    def of(
        cls,
        network: RoadNetwork,
        ids: IntArray,
        snap: Snap,
        node_local: IntArray,
        edge_local: IntArray,
    ) -> FacilityJoins:
        """The joins of facilities snapped on ``network`` (``snap``) to one slice of it."""
        return cls(
            ids=ids,
            edge=edge_local[snap.edge],
            fraction=snap.fraction,
            offset_m=snap.offset_m,
            to_source_m=snap.to_source_m,
            to_target_m=snap.to_target_m,
            source_node=node_local[network.edge_source[snap.edge]],
            target_node=node_local[network.edge_target[snap.edge]],
        )


@dataclass(frozen=True)
class PartitionTask:
    """One partition's work: its slice, the facilities' joins, its demand rows."""

    piece: NetworkPiece
    facilities: FacilityJoins
    rows: IntArray
    lon: FloatArray
    lat: FloatArray
    buffer_m: float


@dataclass(frozen=True)
class PartitionAnswer:
    """Per row of a partition: seconds, facility id, and whether the answer is proven exact."""

    rows: IntArray
    time_s: FloatArray
    facility_id: IntArray
    exact: BoolArray


def access_partition(task: PartitionTask) -> PartitionAnswer:
    """Walking access of one partition's rows on its slice (runs on a worker).

    The same arithmetic as :func:`~analysis.coverage.walking_access.access` (a
    :class:`~analysis.nearest.ShelterIndex` over the slice, with the facilities' joins
    from the whole network), plus the proof of exactness of each row (module docstring).
    """
    net = task.piece.network()
    f = task.facilities
    n, k = net.n_nodes, len(f.ids)
    speed = net.walk_speed_mps
    virtual = n + np.arange(k, dtype=np.int64)
    has_s, has_t = f.source_node >= 0, f.target_node >= 0
    links = sparse.csr_array(
        (
            np.maximum(
                np.concatenate([f.offset_m + f.to_source_m, f.offset_m + f.to_target_m]) / speed,
                MIN_COST_S,
            )[np.concatenate([has_s, has_t])],
            (
                np.concatenate([virtual[has_s], virtual[has_t]]),
                np.concatenate([f.source_node[has_s], f.target_node[has_t]]),
            ),
        ),
        shape=(n + k, n + k),
    )
    graph = sparse.block_diag([net.walk_graph, sparse.csr_array((k, k))], format="csr")
    graph = sparse.csr_array(graph + links)
    dist_s, pred, source = dijkstra(
        graph, directed=True, indices=virtual, min_only=True, return_predecessors=True
    )
    zeros = np.zeros((k, 2))
    index = ShelterIndex(
        network=net,
        shelter_id=f.ids,
        shelter_snap=Snap(
            f.edge, f.fraction, f.offset_m, f.to_source_m, f.to_target_m, zeros, zeros
        ),
        node_distance_m=np.asarray(dist_s[:n] * speed, dtype=np.float64),
        node_shelter=np.where(source[:n] >= n, source[:n] - n, -1).astype(np.int64),
        predecessor=np.asarray(pred, dtype=np.int32),
    )
    snap = net.snap(task.lon, task.lat)
    choice = index._choose(task.lon, task.lat, snap=snap)
    fid = np.where(choice.shelter >= 0, f.ids[np.maximum(choice.shelter, 0)], -1)
    exact = np.ones(len(task.rows), dtype=bool)
    if len(task.piece.boundary):
        to_edge_m = (
            dijkstra(net.walk_graph, directed=True, indices=task.piece.boundary, min_only=True)
            * speed
        )
        u, v = net.edge_source[snap.edge], net.edge_target[snap.edge]
        out_m = np.minimum(
            snap.offset_m + snap.to_source_m + to_edge_m[u],
            snap.offset_m + snap.to_target_m + to_edge_m[v],
        )
        # no boundary within reach: every walk from the row stays in the slice
        exact = (snap.offset_m <= task.buffer_m) & (
            (choice.distance_m < out_m) | ~np.isfinite(out_m)
        )
    return PartitionAnswer(
        task.rows,
        np.asarray(choice.distance_m / speed, np.float64),
        fid.astype(np.int64),
        exact,
    )


def _groups(keys: NDArray[Any]) -> list[IntArray]:
    """Row positions of each distinct key (an int per row, or a tile's two ints), in key order."""
    keys = np.asarray(keys, np.int64)
    if keys.ndim == 2:  # tile (column, row) as one number
        keys = keys - keys.min(axis=0)
        keys = keys[:, 0] * (int(keys[:, 1].max()) + 1) + keys[:, 1]
    order = np.argsort(keys, kind="stable")
    cuts = np.flatnonzero(np.diff(keys[order])) + 1
    return [np.asarray(g, np.int64) for g in np.split(order, cuts)]


def default_buffer_m(network: RoadNetwork, standard: Standard) -> float:
    """The first round's buffer: the standard's walk plus two snaps (home and facility)."""
    return standard.limit_s * network.walk_speed_mps + 2 * GROUND_SNAP_RADIUS_M


def access_partitioned(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    kind: str,
    *,
    client: Client | None = None,
    standards: Mapping[str, Standard] | None = None,
    by: str | None = None,
    tile_m: float = DEFAULT_TILE_M,
    buffer_m: float | None = None,
) -> Access:
    """:func:`~analysis.coverage.walking_access.access`, partition by partition.

    Parameters
    ----------
    network, demand, facilities, kind, standards
        As for :func:`~analysis.coverage.walking_access.access`.
    client : distributed.Client, optional
        The cluster the partitions run on; None: one after the other, here.
    by : str, optional
        A demand column whose values make the first round's partitions (e.g.
        ``community_id``; missing values make one partition); default square tiles.
    tile_m : float
        Side of the first round's tiles, metres.
    buffer_m : float, optional
        The first round's buffer, metres (at least
        :data:`~analysis.network.GROUND_SNAP_RADIUS_M`); default :func:`default_buffer_m`.

    Returns
    -------
    Access
        Equal to the single-process answer (times to float rounding).

    Raises
    ------
    CoverageError
        As :func:`access`, and for a tile or buffer that is not positive or a missing column.
    NetworkError
        As :func:`access`, for a demand row whose coordinates are not finite.
    """
    standard = _standard(kind, standards)
    _check_demand(demand)
    demand = demand.reset_index(drop=True)
    if by is not None and by not in demand.columns:
        raise CoverageError(f"cannot partition the demand by {by!r}: no such column")
    if not tile_m > 0:
        raise CoverageError(f"the tile side must be positive, got {tile_m} m")
    buffer = default_buffer_m(network, standard) if buffer_m is None else float(buffer_m)
    if not buffer > 0:
        raise CoverageError(f"the buffer must be positive, got {buffer} m")
    buffer = max(buffer, GROUND_SNAP_RADIUS_M)
    of_kind = _facilities_of(facilities, kind)
    time_s = np.full(len(demand), np.inf)
    fid = np.full(len(demand), -1, np.int64)
    if of_kind.empty:
        return Access(kind, standard, demand, time_s, fid)
    f_lon, f_lat = _lonlat(of_kind)
    f_ids = of_kind["id"].to_numpy(np.int64)
    f_snap = network.snap(f_lon, f_lat)
    d_lon, d_lat = _lonlat(demand)
    xy = network.to_metric(d_lon, d_lat)
    if not np.isfinite(xy).all():
        raise NetworkError("some points could not be snapped (not finite coordinates?)")
    tree = shapely.STRtree(network.edge_geometry)
    extent = shapely.total_bounds(network.edge_geometry)
    everything = np.arange(network.n_edges, dtype=np.int64)

    def tasks(pending: IntArray, round_: int) -> Iterator[PartitionTask]:
        grow = GROWTH**round_
        buf = buffer * grow
        if round_ == 0 and by is not None:
            keys = pd.factorize(demand[by].iloc[pending], use_na_sentinel=False)[0]
        else:
            keys = np.floor(xy[pending] / (tile_m * grow)).astype(np.int64)
        for group in _groups(keys):
            rows = pending[group]
            lo, hi = xy[rows].min(axis=0) - buf, xy[rows].max(axis=0) + buf
            if (
                lo[0] <= extent[0]
                and lo[1] <= extent[1]
                and hi[0] >= extent[2]
                and hi[1] >= extent[3]
            ):
                edges = everything
            else:
                edges = np.sort(tree.query(shapely.box(*lo, *hi), predicate="intersects"))
                edges = edges.astype(np.int64)
            if len(edges) == 0 or not network.walkable[edges].any():
                edges = everything  # no road near: only the whole network answers
            piece, node_local, edge_local = NetworkPiece.of(network, edges)
            joins = FacilityJoins.of(network, f_ids, f_snap, node_local, edge_local)
            yield PartitionTask(piece, joins, rows, d_lon[rows], d_lat[rows], buf)

    pending = np.arange(len(demand), dtype=np.int64)
    round_ = 0
    while len(pending):
        left: list[IntArray] = []
        for answer in _run(tasks(pending, round_), client):
            time_s[answer.rows] = answer.time_s
            fid[answer.rows] = answer.facility_id
            left.append(answer.rows[~answer.exact])
        pending = np.sort(np.concatenate(left)) if left else _EMPTY
        round_ += 1
    return Access(kind, standard, demand, time_s, fid)


def _run(tasks: Iterator[PartitionTask], client: Client | None) -> Iterator[PartitionAnswer]:
    """Every task's answer, here or on the cluster (a bounded number in flight)."""
    if client is None:
        for task in tasks:
            yield access_partition(task)
        return
    from distributed import as_completed

    most = IN_FLIGHT_PER_THREAD * max(1, sum(client.nthreads().values()))
    running = as_completed()
    for task in tasks:
        # straight to a worker, not through the scheduler (a late round's slice is MBs)
        [sent] = client.scatter([task], hash=False)
        running.add(client.submit(access_partition, sent, pure=False))
        while running.count() >= most:
            yield next(running).result()
    while not running.is_empty():
        yield next(running).result()
