"""Per-grid evacuation lists: which household goes to which shelter, who needs help, which way.

Rules
-----
Candidates
    One Dijkstra per open shelter (from a virtual node joined to the ends of the
    shelter's snapped edge, so the walk from the shelter to its road counts) gives the
    walking time from every node to every shelter, ``(n_shelters, n_nodes)``.  Each
    building is snapped once; its time to a shelter is the best of the two ends of its
    edge (or straight along the edge when the shelter sits on the same one).  The ``k``
    nearest reachable shelters of each building (``numpy.argpartition``) are the
    candidates of its households.
Plan
    :meth:`analysis.evacuation.EvacuationPlan.solve` assigns the households: capacities
    (places left: capacity minus current occupancy), responsibility zones of fixed
    shelters (a household may use a fixed shelter only when its building lies in the
    shelter's zone; emergency shelters take anyone), special needs first.  Households
    left out and fixed shelters below 15 % of their zone's population (GB 51143) are
    reported, not hidden.
Hazards
    With a hazard area in force the plan follows the rule of the check-on lists
    (:func:`analysis.hazard.close_hazard`): roads meeting the area are closed, shelters
    inside it are left out (:attr:`EvacuationLists.shelters_inside`), and a household
    inside walks straight to the nearest road left open, then on open roads only.
Lists
    Every household is placed in the grid (网格) whose polygon covers its building
    point (:func:`grids.locate.locate_points`).  A grid's list has one row per
    household, those who need help first: household and building ids, size, which
    special-needs flags its residents carry (and those residents' ids), the shelter, the
    walking distance (m) and time (min) and the route, a LineString in EPSG:4326 from the
    building to the shelter.
No personal data
    The lists carry household, building and resident *ids* only: no names, ID numbers or
    phones.  A grid worker's app joins those behind access control (only the grid's
    workers may see its residents), and the audit log records who looked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

import shapely
from geopandas import GeoDataFrame
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry

from analysis.evacuation import (
    ASSIGNED,
    NO_CANDIDATE,
    NO_SHELTER,
    CandidateCosts,
    EvacuationPlan,
)
from analysis.hazard import close_hazard
from analysis.network import FloatArray, IntArray, NetworkError, RoadNetwork, Snap
from grids.locate import locate_points, representative_points

#: Resident flags that mark a household as needing help to evacuate (special needs).
NEED_FLAGS: tuple[str, ...] = ("living_alone_elderly", "disabled", "mobility_impaired")

#: Default number of candidate shelters per household.
DEFAULT_CANDIDATES = 10

_REASON = {ASSIGNED: "assigned", NO_CANDIDATE: "no_candidate"}


# ---------------------------------------------------------------------- inputs
def households_from_layers(
    building: GeoDataFrame,
    household: pd.DataFrame,
    resident: pd.DataFrame,
    *,
    flags: tuple[str, ...] = NEED_FLAGS,
) -> pd.DataFrame:
    """One row per household with its building point and special-needs flags.

    Parameters
    ----------
    building : geopandas.GeoDataFrame
        ``id`` and footprint ``geometry``, EPSG:4326.
    household : pandas.DataFrame
        ``id``, ``building_id`` and ``size`` (residents).
    resident : pandas.DataFrame
        ``id``, ``household_id`` and the boolean ``flags`` columns.  Other columns
        (names, ID numbers, phones) are not read and not carried.
    flags : tuple of str
        The resident flags that mean "needs help".

    Returns
    -------
    pandas.DataFrame
        ``household_id``, ``building_id``, ``size``, ``lon``, ``lat`` (the building's
        point on surface, degrees, EPSG:4326), one boolean column per flag (any resident
        of the household has it) and ``help_resident_ids`` (tuple of the ids of the
        residents with a flag).
    """
    lon, lat = representative_points(np.asarray(building.geometry.array))
    where = pd.DataFrame({"lon": lon, "lat": lat}, index=building["id"].to_numpy(np.int64))
    bid = household["building_id"].to_numpy(np.int64)
    out = pd.DataFrame(
        {
            "household_id": household["id"].to_numpy(np.int64),
            "building_id": bid,
            "size": household["size"].to_numpy(np.int64),
            "lon": where["lon"].reindex(bid).to_numpy(np.float64),
            "lat": where["lat"].reindex(bid).to_numpy(np.float64),
        }
    )
    res = resident[["id", "household_id", *flags]]
    need = res[list(flags)].fillna(False).astype(bool)
    by_hh = need.groupby(res["household_id"].to_numpy(np.int64)).any()
    for f in flags:
        out[f] = by_hh[f].reindex(out["household_id"]).fillna(False).to_numpy(bool)
    helped = res[need.any(axis=1).to_numpy()]
    ids = helped.groupby("household_id")["id"].agg(tuple)
    out["help_resident_ids"] = [ids.get(h, ()) for h in out["household_id"].tolist()]
    return out


def shelters_from_layers(facility: GeoDataFrame, shelter: GeoDataFrame) -> GeoDataFrame:
    """One row per shelter: its point, capacity, class and responsibility zone.

    Parameters
    ----------
    facility : geopandas.GeoDataFrame
        ``id``, ``capacity`` (persons) and point ``geometry``, EPSG:4326.
    shelter : geopandas.GeoDataFrame
        ``facility_id``, ``shelter_class`` (``fixed`` or ``emergency``), optional
        ``occupancy`` and ``is_open``, and the zone polygon as ``geometry``, EPSG:4326.

    Returns
    -------
    geopandas.GeoDataFrame
        ``shelter_id``, ``capacity``, ``occupancy``, ``shelter_class``, ``is_open``,
        ``zone`` (polygons) and the shelter point as ``geometry``, EPSG:4326.
    """
    fac = facility.set_index("id")
    sid = shelter["facility_id"].to_numpy(np.int64)
    n = len(sid)
    return GeoDataFrame(
        {
            "shelter_id": sid,
            "capacity": fac["capacity"].reindex(sid).to_numpy(np.int64),
            "occupancy": (
                shelter["occupancy"].fillna(0).to_numpy(np.int64)
                if "occupancy" in shelter.columns
                else np.zeros(n, np.int64)
            ),
            "shelter_class": shelter["shelter_class"].astype(object).to_numpy(),
            "is_open": (
                shelter["is_open"].fillna(True).to_numpy(bool)
                if "is_open" in shelter.columns
                else np.ones(n, bool)
            ),
            "zone": np.asarray(shelter.geometry.array, dtype=object),
        },
        geometry=np.asarray(fac.geometry.reindex(sid).array, dtype=object),
        crs=4326,
    )


# ---------------------------------------------------------------------- distances
@dataclass(frozen=True)
class ShelterDistances:
    """Walking time from every node to every shelter: one Dijkstra per shelter.

    Attributes
    ----------
    network : RoadNetwork
        The walking network.
    snap : Snap
        Where each shelter joins the network.
    seconds : numpy.ndarray of float64, shape (n_shelters, n_nodes)
        Walking time between each shelter and each node, seconds, including the walk
        between the shelter and its road; ``inf`` where unreachable.
    predecessor : numpy.ndarray of int32, shape (n_shelters, n_nodes + n_shelters)
        Per shelter, the next node towards it; ``n_nodes + j`` is shelter ``j`` itself.
    """

    network: RoadNetwork
    snap: Snap
    seconds: FloatArray
    predecessor: NDArray[np.int32]

    @classmethod
    def compute(cls, network: RoadNetwork, lon: Any, lat: Any) -> ShelterDistances:
        """Snap the shelters and run one Dijkstra from each.

        Parameters
        ----------
        network : RoadNetwork
            The walking network.
        lon, lat : array_like of float
            Shelter points, degrees, EPSG:4326.

        Returns
        -------
        ShelterDistances
        """
        snap = network.snap(lon, lat)
        n, m = network.n_nodes, len(snap.edge)
        virtual = n + np.arange(m, dtype=np.int64)
        cost = np.concatenate([snap.offset_m + snap.to_source_m, snap.offset_m + snap.to_target_m])
        links = sparse.csr_array(
            (
                np.maximum(cost / network.walk_speed_mps, 1e-9),
                (
                    np.concatenate([virtual, virtual]),
                    np.concatenate(
                        [network.edge_source[snap.edge], network.edge_target[snap.edge]]
                    ),
                ),
            ),
            shape=(n + m, n + m),
        )
        graph = sparse.block_diag([network.walk_graph, sparse.csr_array((m, m))], format="csr")
        dist, pred = dijkstra(
            sparse.csr_array(graph + links),
            directed=True,
            indices=virtual,
            return_predecessors=True,
        )
        return cls(
            network=network,
            snap=snap,
            seconds=np.asarray(dist[:, :n], dtype=np.float64),
            predecessor=np.asarray(pred, dtype=np.int32),
        )

    @property
    def n_shelters(self) -> int:
        """Number of shelters."""
        return len(self.snap.edge)

    def to_points(self, snap: Snap) -> tuple[FloatArray, IntArray]:
        """Walking time from snapped points to every shelter.

        Parameters
        ----------
        snap : Snap
            Snapped points (``network.snap``).

        Returns
        -------
        seconds : numpy.ndarray of float64, shape (n_shelters, n_points)
            Walking time, seconds, ``inf`` where unreachable.
        end : numpy.ndarray of int64, shape (n_shelters, n_points)
            Node index through which the way leaves the point's edge; -1 when it goes
            straight along the edge to a shelter on the same edge.
        """
        net = self.network
        speed = net.walk_speed_mps
        u, v = net.edge_source[snap.edge], net.edge_target[snap.edge]
        via_u = (snap.offset_m + snap.to_source_m) / speed + self.seconds[:, u]
        via_v = (snap.offset_m + snap.to_target_m) / speed + self.seconds[:, v]
        use_v = via_v < via_u
        seconds = np.where(use_v, via_v, via_u)
        end = np.where(use_v, v, u).astype(np.int64)
        sh = self.snap
        for j in np.flatnonzero(np.isin(sh.edge, snap.edge)).tolist():
            same = np.flatnonzero(snap.edge == sh.edge[j])
            direct = (
                snap.offset_m[same]
                + np.abs(snap.fraction[same] - sh.fraction[j]) * net.length_m[sh.edge[j]]
                + sh.offset_m[j]
            ) / speed
            better = direct < seconds[j, same]
            seconds[j, same[better]] = direct[better]
            end[j, same[better]] = -1
        return seconds, end

    def route(self, snap: Snap, i: int, j: int, end: int) -> LineString:
        """The walking route from snapped point ``i`` to shelter ``j``, network CRS.

        Parameters
        ----------
        snap : Snap
            Snapped points.
        i, j : int
            Point and shelter index.
        end : int
            Node through which the way leaves the point's edge, -1 for straight along it
            (from :meth:`to_points`).

        Returns
        -------
        shapely.LineString
            From the point to the shelter, metres, in the network's CRS.
        """
        xy = self.network.walk_route_xy(snap, i, self.snap, j, end, self.predecessor[j])
        return LineString(xy)


# ---------------------------------------------------------------------- the lists
@dataclass(frozen=True)
class EvacuationLists:
    """The evacuation plan of an area, as one table of households and lists per grid.

    Attributes
    ----------
    plan : EvacuationPlan
        The solved plan (households in the order of :attr:`households`, shelters in the
        order of :attr:`shelters`).
    households : pandas.DataFrame
        One row per household: ``household_id``, ``building_id``, ``grid`` (code, or
        ``None`` outside every grid), ``size``, the need flags, ``needs_help``,
        ``help_resident_ids``, ``shelter_id`` (-1 when unassigned), ``walk_m``
        (metres), ``walk_minutes``, ``status`` (``assigned``, ``no_candidate``: no
        reachable shelter allowed to it, ``no_capacity``: those allowed are full),
        ``lon`` and ``lat`` (building point, degrees, EPSG:4326).
    shelters : pandas.DataFrame
        One row per open shelter: ``shelter_id``, ``shelter_class``, ``capacity``
        (places left for the plan, persons), ``load`` (persons assigned),
        ``utilisation``, ``fixed``, ``zone_population`` and ``gb51143_short`` (a fixed
        shelter holding less than 15 % of its zone's population, GB 51143).
    distances : ShelterDistances
        Walking times from every node to every shelter (for routes and recomputes).
    building_snap : Snap
        Where each building joins the network (households index it by ``_point``).
    shelters_inside : numpy.ndarray of int64
        Shelters the hazard area covers, left out of the plan (none without a hazard).
    closed_edges : numpy.ndarray of int64
        ``road_edge`` ids closed because they meet the hazard area.
    """

    plan: EvacuationPlan
    households: pd.DataFrame
    shelters: pd.DataFrame
    distances: ShelterDistances
    building_snap: Snap
    _point: IntArray
    _end: IntArray
    shelters_inside: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    closed_edges: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def unassigned_population(self) -> int:
        """Residents left without a shelter."""
        return self.plan.unassigned_population

    @property
    def gb51143_short(self) -> list[int]:
        """Ids of the fixed shelters below 15 % of their zone's population (GB 51143)."""
        return self.shelters.loc[self.shelters["gb51143_short"], "shelter_id"].tolist()

    @property
    def grids(self) -> list[str]:
        """Codes of the grids with at least one household, sorted."""
        return sorted(self.households["grid"].dropna().unique().tolist())

    def grid_list(self, code: str, *, routes: bool = True) -> GeoDataFrame:
        """The evacuation list of one grid, households needing help first.

        Parameters
        ----------
        code : str
            Grid code.
        routes : bool
            Build the walking routes (the ``geometry``); ``False`` leaves it empty.

        Returns
        -------
        geopandas.GeoDataFrame
            The :attr:`households` rows of the grid, sorted by ``needs_help`` (first),
            then unassigned before assigned, then building and household id; the
            ``geometry`` is the route, a LineString in EPSG:4326 from the building to the
            shelter (``None`` when unassigned).
        """
        rows = np.flatnonzero((self.households["grid"] == code).to_numpy(bool))
        part = self.households.iloc[rows]
        order = np.lexsort(
            (
                part["household_id"].to_numpy(),
                part["building_id"].to_numpy(),
                part["shelter_id"].to_numpy() >= 0,
                ~part["needs_help"].to_numpy(bool),
            )
        )
        rows = rows[order]
        geoms: list[Any] = [None] * len(rows)
        if routes:
            geoms = self._routes(rows)
        return GeoDataFrame(
            self.households.iloc[rows].reset_index(drop=True), geometry=geoms, crs=4326
        )

    def grid_lists(self, *, routes: bool = True) -> dict[str, GeoDataFrame]:
        """Every grid's list (see :meth:`grid_list`), by grid code."""
        return {code: self.grid_list(code, routes=routes) for code in self.grids}

    def _routes(self, rows: IntArray) -> list[Any]:
        """Routes (EPSG:4326) of the households at ``rows``, one per (building, shelter)."""
        shelter = self.plan.shelter[rows]
        point = self._point[rows]
        cache: dict[tuple[int, int], Any] = {}
        out: list[Any] = []
        for p, j in zip(point.tolist(), shelter.tolist(), strict=True):
            if j == NO_SHELTER:
                out.append(None)
                continue
            key = (p, j)
            if key not in cache:
                cache[key] = self.distances.route(self.building_snap, p, j, int(self._end[j, p]))
            out.append(cache[key])
        if not cache:
            return out
        keys = list(cache)
        wgs = self.distances.network.to_wgs84(np.asarray([cache[k] for k in keys], dtype=object))
        cache = dict(zip(keys, wgs, strict=True))
        return [
            None if g is None else cache[(p, j)]
            for g, p, j in zip(out, point.tolist(), shelter.tolist(), strict=True)
        ]


def build_evacuation_lists(
    network: RoadNetwork,
    households: pd.DataFrame,
    shelters: GeoDataFrame,
    grids: GeoDataFrame | None = None,
    *,
    candidates: int = DEFAULT_CANDIDATES,
    flags: tuple[str, ...] = NEED_FLAGS,
    time_limit_s: float = 10.0,
    hazard: BaseGeometry | None = None,
) -> EvacuationLists:
    """Plan the evacuation of households to shelters and make the per-grid lists.

    Parameters
    ----------
    network : RoadNetwork
        The walking network (after any closures: :meth:`RoadNetwork.without_edges`).
    households : pandas.DataFrame
        ``household_id``, ``building_id``, ``size`` (residents), ``lon``, ``lat``
        (building point, degrees, EPSG:4326), the boolean ``flags`` columns, optionally
        ``help_resident_ids`` and ``grid`` (a code; read when ``grids`` is not given).
        :func:`households_from_layers` makes it from the sample layers.
    shelters : geopandas.GeoDataFrame
        ``shelter_id``, ``capacity`` (persons) and point ``geometry`` (EPSG:4326);
        optional ``occupancy`` (persons already there; places = capacity - occupancy),
        ``is_open`` (closed ones are left out), ``shelter_class`` (``fixed`` ones serve
        only their ``zone``) and ``zone`` (polygons, EPSG:4326).
        :func:`shelters_from_layers` makes it from the sample layers.
    grids : geopandas.GeoDataFrame, optional
        ``code`` and polygon ``geometry`` (EPSG:4326) to place buildings in grids.
    candidates : int
        Candidate shelters per household (the nearest by walking time).
    flags : tuple of str
        The household columns that mean "needs help" (special needs, placed first).
    time_limit_s : float
        Passed to :meth:`EvacuationPlan.solve`.
    hazard : shapely geometry, optional
        The hazard area in force (the union of those in force), EPSG:4326: the roads
        meeting it are closed and the shelters it covers left out
        (:func:`analysis.hazard.close_hazard`, the rule of the check-on lists); a
        household inside walks straight to the nearest road left open, then on open
        roads only.

    Returns
    -------
    EvacuationLists

    Raises
    ------
    NetworkError
        If no shelter is open (and outside the hazard area).
    """
    if candidates < 1:
        raise NetworkError(f"candidates must be >= 1, got {candidates}")
    open_ = (
        shelters["is_open"].fillna(True).to_numpy(bool)
        if "is_open" in shelters.columns
        else np.ones(len(shelters), bool)
    )
    all_pts = np.asarray(shelters.geometry.array, dtype=object)
    closure = close_hazard(
        network,
        hazard,
        shelters["shelter_id"].to_numpy(np.int64),
        shapely.get_x(all_pts),
        shapely.get_y(all_pts),
        is_open=open_,
    )
    network = closure.network
    sh = shelters.iloc[np.flatnonzero(closure.usable)]
    if len(sh) == 0:
        where = " outside the hazard area" if closure.inside.any() else ""
        raise NetworkError(f"no open shelter{where} to evacuate to: open one or add shelters")
    pts = np.asarray(sh.geometry.array, dtype=object)
    dist = ShelterDistances.compute(network, shapely.get_x(pts), shapely.get_y(pts))
    m = dist.n_shelters

    # buildings: snap each distinct point once
    lon = households["lon"].to_numpy(np.float64)
    lat = households["lat"].to_numpy(np.float64)
    uniq, point = np.unique(np.column_stack([lon, lat]), axis=0, return_inverse=True)
    point = point.ravel().astype(np.int64)
    bsnap = network.snap(uniq[:, 0], uniq[:, 1])
    seconds, end = dist.to_points(bsnap)  # (m, n_points)

    # k nearest shelters per building, then per household
    k = min(candidates, m)
    near = (
        np.argpartition(seconds, k - 1, axis=0)[:k]
        if k < m
        else np.broadcast_to(np.arange(m)[:, None], seconds.shape)
    )
    n = len(households)
    hh = np.repeat(np.arange(n, dtype=np.int64), k)
    cand_s = near[:, point].T.ravel()
    cand_t = seconds[cand_s, np.repeat(point, k)]
    costs = CandidateCosts.from_triples(hh, cand_s, cand_t, n_households=n)

    # zones of fixed shelters
    cls_ = (
        sh["shelter_class"].astype(object).to_numpy()
        if "shelter_class" in sh.columns
        else np.full(m, "emergency", dtype=object)
    )
    has_zone = (
        ~pd.isna(pd.Series(np.asarray(sh["zone"], dtype=object))).to_numpy()
        if "zone" in sh.columns
        else np.zeros(m, bool)
    )
    fixed = (cls_ == "fixed") & has_zone
    zones = None
    if fixed.any():
        zone_geom = np.asarray(sh["zone"], dtype=object)[fixed]
        in_p, in_z = shapely.STRtree(zone_geom).query(shapely.points(uniq), predicate="covered_by")
        point_zone = np.zeros((len(uniq), m), dtype=bool)
        point_zone[in_p, np.flatnonzero(fixed)[in_z]] = True
        zones = point_zone[point]

    need = np.column_stack([households[f].fillna(False).to_numpy(bool) for f in flags])
    needs_help = need.any(axis=1)
    capacity = sh["capacity"].to_numpy(np.int64)
    if "occupancy" in sh.columns:
        capacity = np.maximum(capacity - sh["occupancy"].fillna(0).to_numpy(np.int64), 0)
    plan = EvacuationPlan.solve(
        costs,
        households["size"].to_numpy(np.int64),
        capacity,
        special_needs=needs_help,
        zones=zones,
        fixed=fixed,
        time_limit_s=time_limit_s,
    )

    # where each household is
    if grids is not None:
        g = grids.sort_values("code", kind="stable")
        pos = locate_points(uniq[:, 0], uniq[:, 1], np.asarray(g.geometry.array))
        codes = g["code"].astype(object).to_numpy()
        grid_of_point = np.where(pos >= 0, codes[np.maximum(pos, 0)], None)
        grid = grid_of_point[point]
    elif "grid" in households.columns:
        grid = households["grid"].astype(object).to_numpy()
    else:
        grid = np.full(n, None, dtype=object)

    sid = sh["shelter_id"].to_numpy(np.int64)
    assigned = plan.shelter != NO_SHELTER
    walk_s = plan.walk_seconds
    table = pd.DataFrame(
        {
            "household_id": households["household_id"].to_numpy(np.int64),
            "building_id": households["building_id"].to_numpy(np.int64),
            "grid": grid,
            "size": plan.sizes,
            **{f: need[:, i] for i, f in enumerate(flags)},
            "needs_help": needs_help,
            "help_resident_ids": (
                households["help_resident_ids"].to_numpy(object)
                if "help_resident_ids" in households.columns
                else pd.Series([()] * n, dtype=object).to_numpy()
            ),
            "shelter_id": np.where(assigned, sid[np.maximum(plan.shelter, 0)], -1),
            "walk_m": walk_s * network.walk_speed_mps,
            "walk_minutes": walk_s / 60.0,
            "status": [_REASON.get(r, "no_capacity") for r in plan.unassigned_reason.tolist()],
            "lon": lon,
            "lat": lat,
        }
    )
    short = np.zeros(m, dtype=bool)
    short[plan.gb51143_short] = True
    shelter_table = pd.DataFrame(
        {
            "shelter_id": sid,
            "shelter_class": cls_,
            "capacity": plan.capacity,
            "load": plan.load,
            "utilisation": plan.utilisation,
            "fixed": plan.fixed,
            "zone_population": plan.zone_population,
            "gb51143_short": short,
        }
    )
    return EvacuationLists(
        plan=plan,
        households=table,
        shelters=shelter_table,
        distances=dist,
        building_snap=bsnap,
        _point=point,
        _end=end,
        shelters_inside=np.sort(closure.shelter_id[closure.inside]),
        closed_edges=closure.closed_edges,
    )
