"""Network travel times from grid workers to incidents, walking or driving, seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from analysis.dispatch.base import DispatchInputError
from analysis.network import FloatArray, RoadNetwork, Snap

TravelFn = Callable[[FloatArray, FloatArray, float, float], ArrayLike]
"""``(worker_lon, worker_lat, incident_lon, incident_lat) -> seconds per worker``."""


def _partial_edge_s(network: RoadNetwork, mode: str) -> tuple[FloatArray, FloatArray]:
    """Seconds to run each whole edge forward (source → target) and backward, by mode.

    Walking: both ways at walking speed.  Driving: at the edge's driving speed, never
    against a one-way street (``inf``); an edge that is not drivable (a footpath a
    point was snapped to) is walked to its ends.
    """
    if mode == "walk":
        return network.walk_s, network.walk_s
    fwd = np.where(network.drivable, network.drive_s, network.walk_s)
    bwd = np.where(
        network.drivable, np.where(network.oneway, np.inf, network.drive_s), network.walk_s
    )
    return fwd, bwd


def travel_times(
    network: RoadNetwork,
    worker_lon: ArrayLike,
    worker_lat: ArrayLike,
    incident_lon: ArrayLike,
    incident_lat: ArrayLike,
    *,
    mode: Literal["walk", "drive"] = "walk",
) -> FloatArray:
    """Network travel time from every worker to every incident, seconds.

    Workers and incidents are snapped to their nearest walkable edge
    (:meth:`RoadNetwork.snap`); each worker becomes a virtual node joined to both ends
    of its edge (the walk to the road plus the part of the edge to that end), and one
    ``scipy.sparse.csgraph.dijkstra`` per worker reaches every node.  An incident is
    reached through either end of its edge, or straight along the edge when a worker
    stands on the same one; the walk from the road to the incident is added.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    worker_lon, worker_lat : array_like of float
        Worker positions, degrees, WGS84.
    incident_lon, incident_lat : array_like of float
        Incident positions, degrees, WGS84.
    mode : {"walk", "drive"}
        ``walk``: the walking graph at the network's walking speed.  ``drive``: the
        driving graph (one-way streets respected, class speeds); the walks between the
        points and their roads, and the part of a non-drivable edge they are snapped to,
        are on foot.

    Returns
    -------
    numpy.ndarray of float64, shape (n_incidents, n_workers)
        Seconds; ``inf`` where the incident cannot be reached (e.g. by car on a
        footpath-only part of the network).

    Raises
    ------
    DispatchInputError
        On an unknown mode or coordinate arrays of different lengths.
    analysis.network.NetworkError
        If a point cannot be snapped (coordinates not finite).
    """
    if mode not in ("walk", "drive"):
        raise DispatchInputError(f"unknown travel mode {mode!r}: use walk or drive")
    wlon = np.atleast_1d(np.asarray(worker_lon, dtype=np.float64))
    wlat = np.atleast_1d(np.asarray(worker_lat, dtype=np.float64))
    ilon = np.atleast_1d(np.asarray(incident_lon, dtype=np.float64))
    ilat = np.atleast_1d(np.asarray(incident_lat, dtype=np.float64))
    if wlon.shape != wlat.shape or ilon.shape != ilat.shape:
        raise DispatchInputError("lon and lat arrays differ in length")
    m, k = wlon.size, ilon.size
    if m == 0 or k == 0:
        return np.zeros((k, m), dtype=np.float64)
    speed = network.walk_speed_mps
    fwd, bwd = _partial_edge_s(network, mode)
    ws = network.snap(wlon, wlat)
    inc = network.snap(ilon, ilat)

    # worker virtual nodes n..n+m-1 → both ends of their edge
    n = network.n_nodes
    graph_base = network.walk_graph if mode == "walk" else network.drive_graph
    virtual = n + np.arange(m, dtype=np.int64)
    w_off = ws.offset_m / speed
    to_u = w_off + ws.fraction * bwd[ws.edge]
    to_v = w_off + (1.0 - ws.fraction) * fwd[ws.edge]
    link_s = np.concatenate([to_u, to_v])
    ok = np.isfinite(link_s)  # no link against a one-way street
    links = sparse.csr_array(
        (
            np.maximum(link_s[ok], 1e-9),
            (
                np.concatenate([virtual, virtual])[ok],
                np.concatenate([network.edge_source[ws.edge], network.edge_target[ws.edge]])[ok],
            ),
        ),
        shape=(n + m, n + m),
    )
    graph = sparse.block_diag([graph_base, sparse.csr_array((m, m))], format="csr")
    graph = sparse.csr_array(graph + links)
    dist = dijkstra(graph, directed=True, indices=virtual)[:, :n]  # (m, n) seconds

    times = _arrive(network, inc, dist, fwd, bwd, speed)  # (k, m)
    _same_edge(ws, inc, fwd, bwd, speed, times)
    return times


def _arrive(
    network: RoadNetwork,
    inc: Snap,
    dist: FloatArray,
    fwd: FloatArray,
    bwd: FloatArray,
    speed: float,
) -> FloatArray:
    """Seconds to each snapped incident through either end of its edge, (k, m)."""
    u = network.edge_source[inc.edge]
    v = network.edge_target[inc.edge]
    off = inc.offset_m / speed
    from_u = off + inc.fraction * fwd[inc.edge]
    from_v = off + (1.0 - inc.fraction) * bwd[inc.edge]
    via_u = dist[:, u].T + from_u[:, None]
    via_v = dist[:, v].T + from_v[:, None]
    return np.asarray(np.minimum(via_u, via_v), dtype=np.float64)


def _same_edge(
    ws: Snap, inc: Snap, fwd: FloatArray, bwd: FloatArray, speed: float, times: FloatArray
) -> None:
    """Straight along the edge when a worker and an incident share it (in place)."""
    order = np.argsort(ws.edge, kind="stable")
    sorted_edge = ws.edge[order]
    lo = np.searchsorted(sorted_edge, inc.edge, side="left")
    hi = np.searchsorted(sorted_edge, inc.edge, side="right")
    count = hi - lo
    if not count.any():
        return
    i = np.repeat(np.arange(inc.edge.size), count)
    within = np.arange(i.size) - np.repeat(np.cumsum(count) - count, count)
    w = order[np.repeat(lo, count) + within]
    e = inc.edge[i]
    delta = inc.fraction[i] - ws.fraction[w]
    along = np.where(delta >= 0, delta * fwd[e], -delta * bwd[e])
    direct = ws.offset_m[w] / speed + along + inc.offset_m[i] / speed
    np.minimum.at(times, (i, w), direct)


def network_travel(network: RoadNetwork, *, mode: Literal["walk", "drive"] = "walk") -> TravelFn:
    """A ``travel_s`` function for :func:`recommend`: network seconds from workers to a point."""

    def travel(
        worker_lon: FloatArray, worker_lat: FloatArray, lon: float, lat: float
    ) -> FloatArray:
        return travel_times(network, worker_lon, worker_lat, [lon], [lat], mode=mode)[0]

    return travel
