"""Walking access (可达性): time along roads to the nearest facility of a kind; who is served."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from analysis.coverage.demand import _check_demand
from analysis.coverage.standards import (
    GROUP_NAMES,
    GROUPS,
    CoverageError,
    Standard,
    _standard,
    check_group,
)
from analysis.nearest import ShelterIndex
from analysis.network import FloatArray, IntArray, RoadNetwork

FACILITY_COLUMNS: Final = ("id", "kind", "name", "capacity", "lon", "lat")
"""Columns of a facility frame (``capacity`` may be missing: unlimited)."""

_DIJKSTRA_CELLS = 4_000_000
"""Distances (sites × nodes) one Dijkstra call of :func:`travel_times` keeps at a time."""


def _lonlat(frame: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
    return frame["lon"].to_numpy(np.float64), frame["lat"].to_numpy(np.float64)


def travel_times(
    network: RoadNetwork,
    origin_lon: ArrayLike,
    origin_lat: ArrayLike,
    site_lon: ArrayLike,
    site_lat: ArrayLike,
    *,
    limit_s: float | None = None,
) -> FloatArray:
    """Walking seconds from every origin to every site along the network.

    One Dijkstra per site (cut at ``limit_s``), each site joined to its road at the
    snapped point like the shelter index; an origin takes the better of the two ends of
    its edge, or walks straight along the edge it shares with a site.  The straight
    walks between a point and its road are included.

    Parameters
    ----------
    network : RoadNetwork
        The walking network.
    origin_lon, origin_lat, site_lon, site_lat : array_like of float
        Degrees, EPSG:4326.
    limit_s : float, optional
        Times above this are ``inf`` (and not searched for): the cover models only
        need pairs within the standard.

    Returns
    -------
    numpy.ndarray
        (n_origins, n_sites) seconds, ``inf`` where not reachable (within the limit).
    """
    o_lon = np.atleast_1d(np.asarray(origin_lon, np.float64))
    s_lon = np.atleast_1d(np.asarray(site_lon, np.float64))
    n_o, k = len(o_lon), len(s_lon)
    if n_o == 0 or k == 0:
        return np.full((n_o, k), np.inf)
    speed = network.walk_speed_mps
    origin = network.snap(o_lon, np.atleast_1d(np.asarray(origin_lat, np.float64)))
    site = network.snap(s_lon, np.atleast_1d(np.asarray(site_lat, np.float64)))
    n = network.n_nodes
    virtual = n + np.arange(k, dtype=np.int64)
    links = sparse.csr_array(
        (
            np.maximum(
                np.concatenate([site.offset_m + site.to_source_m, site.offset_m + site.to_target_m])
                / speed,
                1e-9,
            ),
            (
                np.concatenate([virtual, virtual]),
                np.concatenate([network.edge_source[site.edge], network.edge_target[site.edge]]),
            ),
        ),
        shape=(n + k, n + k),
    )
    graph = sparse.block_diag([network.walk_graph, sparse.csr_array((k, k))], format="csr")
    graph = sparse.csr_array(graph + links)
    u = network.edge_source[origin.edge]
    v = network.edge_target[origin.edge]
    to_u = (origin.offset_m + origin.to_source_m)[:, None] / speed
    to_v = (origin.offset_m + origin.to_target_m)[:, None] / speed
    times = np.empty((n_o, k))
    # sites in chunks, so that a chunk's distances to every node stay near 32 MB
    chunk = max(1, _DIJKSTRA_CELLS // max(n, 1))
    for start in range(0, k, chunk):
        part = slice(start, min(start + chunk, k))
        dist = dijkstra(
            graph,
            directed=True,
            indices=virtual[part],
            limit=np.inf if limit_s is None else limit_s,
        )[:, :n]
        times[:, part] = np.minimum(to_u + dist[:, u].T, to_v + dist[:, v].T)
    # straight along the edge an origin shares with a site
    same = origin.edge[:, None] == site.edge[None, :]
    if same.any():
        i, j = np.nonzero(same)
        direct = (
            origin.offset_m[i]
            + np.abs(origin.fraction[i] - site.fraction[j]) * network.length_m[origin.edge[i]]
            + site.offset_m[j]
        ) / speed
        times[i, j] = np.minimum(times[i, j], direct)
    if limit_s is not None:
        times[times > limit_s] = np.inf
    return np.asarray(times, dtype=np.float64)


@dataclass(frozen=True)
class Access:
    """Walking access of every demand row to the nearest facility of one kind.

    Attributes
    ----------
    kind : str
        Facility kind.
    standard : Standard
        The limit applied.
    demand : pandas.DataFrame
        The demand rows (:data:`DEMAND_COLUMNS`).
    time_s : numpy.ndarray of float64
        Walking seconds to the nearest facility, ``inf`` when none is reachable.
    facility_id : numpy.ndarray of int64
        The nearest facility's id, -1 when none.
    """

    kind: str
    standard: Standard
    demand: pd.DataFrame = field(repr=False)
    time_s: FloatArray = field(repr=False)
    facility_id: IntArray = field(repr=False)

    @property
    def served(self) -> NDArray[np.bool_]:
        """Per demand row: within the walking limit."""
        return self.time_s <= self.standard.limit_s

    @property
    def minutes(self) -> FloatArray:
        """Walking minutes per demand row (``inf`` when unreachable)."""
        return self.time_s / 60.0

    def frame(self) -> pd.DataFrame:
        """The demand rows with ``minutes``, ``facility_id`` and ``served``."""
        out = self.demand.copy()
        out["minutes"] = self.minutes
        out["facility_id"] = self.facility_id
        out["served"] = self.served
        return out


def _facilities_of(facilities: pd.DataFrame, kind: str) -> pd.DataFrame:
    missing = [c for c in ("id", "kind", "lon", "lat") if c not in facilities.columns]
    if missing:
        raise CoverageError(f"the facility frame lacks columns {missing}")
    return facilities[facilities["kind"] == kind].reset_index(drop=True)


def access(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    kind: str,
    *,
    standards: Mapping[str, Standard] | None = None,
) -> Access:
    """Walking time from every demand row to the nearest facility of ``kind``.

    One multi-source Dijkstra from all facilities of the kind
    (:meth:`analysis.nearest.ShelterIndex.build`), then a lookup per demand row.

    Parameters
    ----------
    network : RoadNetwork
        The walking network.
    demand : pandas.DataFrame
        Demand rows (:func:`demand_from_households` or :func:`demand_from_file`).
    facilities : pandas.DataFrame
        ``id``, ``kind``, ``lon``, ``lat`` (and ``capacity``); other kinds are ignored.
    kind : str
        Facility kind.
    standards : mapping, optional
        The standards table; default :data:`DEFAULT_STANDARDS`.

    Returns
    -------
    Access

    Raises
    ------
    CoverageError
        On an unknown kind or an empty demand.
    """
    standard = _standard(kind, standards)
    _check_demand(demand)
    demand = demand.reset_index(drop=True)
    of_kind = _facilities_of(facilities, kind)
    if of_kind.empty:
        time_s = np.full(len(demand), np.inf)
        fid = np.full(len(demand), -1, np.int64)
    else:
        f_lon, f_lat = _lonlat(of_kind)
        index = ShelterIndex.build(network, of_kind["id"].to_numpy(np.int64), f_lon, f_lat)
        d_lon, d_lat = _lonlat(demand)
        fid, dist_m = index.query(d_lon, d_lat)
        time_s = dist_m / network.walk_speed_mps
    return Access(kind, standard, demand, np.asarray(time_s, np.float64), fid)


def served_shares(result: Access) -> pd.DataFrame:
    """People of each group within the walking limit, and the share.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``people``, ``served``, ``unserved``, ``share_served``
        (NaN for a group with nobody), ``name`` (Chinese).
    """
    served = result.served
    rows = []
    for g in GROUPS:
        people = result.demand[g].to_numpy(np.float64)
        total = float(people.sum())
        ok = float(people[served].sum())
        rows.append(
            {
                "group": g,
                "name": GROUP_NAMES[g],
                "people": total,
                "served": ok,
                "unserved": total - ok,
                "share_served": ok / total if total > 0 else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("group")


def unserved_by(result: Access, by: str = "grid_id", group: str = "everyone") -> pd.DataFrame:
    """People of ``group`` beyond the walking limit per grid or community, most first.

    Parameters
    ----------
    by : {"grid_id", "community_id", "cell"}
        What to total over.
    group : str
        Population group.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``by``: ``people``, ``unserved``, ``share_unserved``, sorted by
        ``unserved`` descending.  Rows with no grid are under ``<NA>``.
    """
    check_group(group)
    if by not in ("grid_id", "community_id", "cell"):
        raise CoverageError(f"unserved_by: by must be grid_id, community_id or cell, not {by!r}")
    people = result.demand[group].to_numpy(np.float64)
    frame = pd.DataFrame(
        {by: result.demand[by], "people": people, "unserved": np.where(result.served, 0.0, people)}
    )
    out = frame.groupby(by, dropna=False, sort=True).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["share_unserved"] = out["unserved"] / out["people"]
    return out.sort_values(["unserved", "people"], ascending=False, kind="stable")
