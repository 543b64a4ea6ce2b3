"""Replaying cases onto a layout: who would hold each case, their open load, the walk to it.

Pure array code, shared by the fit (the office's real assignees) and the simulation (the
workers of a layout): :func:`open_load` counts a worker's open cases when a case starts,
:func:`walk_minutes` measures the walk from a base to each case on the road network.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from analysis.network import RoadNetwork

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

DETOUR: Final = 1.3
"""Walking distance / straight-line distance assumed when no road network is loaded."""
DETOUR_LIMIT: Final = 3.0
"""A first search from a base stops at this × the farthest straight line to its cases."""
_SOURCES_AT_ONCE: Final = 64
"""Bases searched by one Dijkstra call (bounds its distance matrix)."""


def open_load(worker: IntArray, start_s: FloatArray, end_s: FloatArray) -> IntArray:
    """How many cases each case's worker already had open when it started.

    A case is open on ``[start, end)``.  Cases of the same worker starting at the same
    moment count in the order given.

    Parameters
    ----------
    worker
        Worker of each case (any integers; one queue each).
    start_s, end_s
        Start and end of each case, seconds (any common origin); ``end >= start``.

    Returns
    -------
    numpy.ndarray
        ``int64`` count of the worker's other cases open at each case's start.
    """
    n = worker.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    _, w = np.unique(worker, return_inverse=True)
    counts = np.bincount(w)
    before_worker = np.concatenate([[0], np.cumsum(counts)[:-1]])  # cases of earlier workers
    origin = float(np.min(start_s))
    span = float(max(np.max(end_s), np.max(start_s)) - origin) + 1.0
    wf = w.astype(np.float64)
    key_start = wf * span + (start_s - origin)
    key_end = wf * span + (end_s - origin)
    order = np.argsort(key_start, kind="stable")  # ties in the order given
    # the worker's cases that started before: rank within the worker's run of the order
    started_before = np.empty(n, dtype=np.int64)
    started_before[order] = np.arange(n) - before_worker[w[order]]
    # the worker's cases ended by then (queries in sorted order: one pass through memory)
    ends = np.sort(key_end)
    ended = np.empty(n, dtype=np.int64)
    ended[order] = np.searchsorted(ends, key_start[order], side="right")
    ended -= before_worker[w]
    ended -= end_s <= start_s  # a case that ends as it starts is not one of the others
    return np.maximum(started_before - ended, 0).astype(np.int64)


def walk_minutes(
    network: RoadNetwork | None,
    base_lon: FloatArray,
    base_lat: FloatArray,
    case_base: IntArray,
    case_lon: FloatArray,
    case_lat: FloatArray,
    *,
    walk_speed_mps: float,
    case_node: tuple[IntArray, FloatArray] | None = None,
) -> FloatArray:
    """Walking minutes from each case's base to the case.

    On the road network: from the base's nearest node to the case's nearest node
    (Dijkstra, a batch of bases at a time), plus the straight steps from each point to
    its node.  Without a network: the straight line × :data:`DETOUR`.

    Parameters
    ----------
    network
        The walking network, or None.
    base_lon, base_lat
        The bases, degrees (EPSG:4326).
    case_base
        Index into the bases of each case.
    case_lon, case_lat
        The cases, degrees.
    walk_speed_mps
        Walking speed, m/s (used off the network).
    case_node
        The cases' nearest nodes and their distances, metres (:func:`nearest_nodes`),
        when already known.
    """
    if network is None:
        return _straight_minutes(base_lon, base_lat, case_base, case_lon, case_lat, walk_speed_mps)
    base_node, base_off = nearest_nodes(network, base_lon, base_lat)
    node, off = case_node if case_node is not None else nearest_nodes(network, case_lon, case_lat)
    speed = network.walk_speed_mps
    out = np.empty(case_base.size, dtype=np.float64)
    sources, source_of_base = np.unique(base_node, return_inverse=True)
    source = source_of_base[case_base]
    order = np.argsort(source, kind="stable")
    ordered = source[order]
    # a search stops past DETOUR_LIMIT × the farthest straight line of its batch; the few
    # cases beyond it (a river between) are searched again without a limit
    straight = np.hypot(*(network.node_xy[base_node[case_base]] - network.node_xy[node]).T)
    for lo in range(0, sources.size, _SOURCES_AT_ONCE):
        first, last = np.searchsorted(ordered, [lo, lo + _SOURCES_AT_ONCE])
        if first == last:
            continue
        rows = order[first:last]
        batch = sources[lo : lo + _SOURCES_AT_ONCE]
        limit = (DETOUR_LIMIT * float(straight[rows].max()) + 100.0) / speed
        seconds = dijkstra(network.walk_graph, directed=False, indices=batch, limit=limit)
        found = seconds[source[rows] - lo, node[rows]]
        far = ~np.isfinite(found)
        if far.any():
            again = np.unique(source[rows[far]])
            full = dijkstra(network.walk_graph, directed=False, indices=sources[again])
            found[far] = full[np.searchsorted(again, source[rows[far]]), node[rows[far]]]
        out[rows] = found
    out += (off + base_off[case_base]) / speed
    return out / 60.0


def nearest_nodes(
    network: RoadNetwork, lon: FloatArray, lat: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Nearest network node of each point and its straight distance, metres."""
    dist, node = cKDTree(network.node_xy).query(network.to_metric(lon, lat), workers=-1)
    return node.astype(np.int64), dist.astype(np.float64)


def _straight_minutes(
    base_lon: FloatArray,
    base_lat: FloatArray,
    case_base: IntArray,
    lon: FloatArray,
    lat: FloatArray,
    speed: float,
) -> FloatArray:
    lat0 = np.radians(np.asarray(lat, np.float64))
    dx = np.radians(np.asarray(lon) - base_lon[case_base]) * np.cos(lat0) * 6_371_008.8
    dy = np.radians(np.asarray(lat) - base_lat[case_base]) * 6_371_008.8
    return np.hypot(dx, dy) * DETOUR / speed / 60.0
