"""What a hazard area (typhoon, flood, fire, gas leak) touches, and who must be checked on.

Given the polygon of a hazard area, :func:`hazard_impact` answers the command centre's
first questions: which grids (网格) it covers and how much of each, which buildings,
households and residents are inside, how many of them are vulnerable (elderly living
alone 独居老人, disabled, mobility-impaired, children), which shelters (避难场所) are
inside and so unusable, which remain safe, and, for each grid, the check-on list of its
worker: every vulnerable resident inside, where they live, the nearest *safe* shelter on
foot and the walking route that avoids the hazard area.

Rules
-----
Inside
    A building is affected when its footprint intersects the hazard area (a flood that
    reaches a block's wall reaches its ground-floor households); its households and
    residents are affected with it.  A shelter is inside when the hazard area covers
    its point; it is listed as unusable and never recommended.  Every test runs in the
    local metric CRS (UTM) of the road network.
Grids
    A grid is listed when the hazard covers part of its area (``area_share`` > 0) or
    holds an affected building.  Buildings carry their grid in a ``grid_id`` column, or
    are placed in the grid covering their point on surface
    (:func:`grids.locate.locate_points`, grids in code order).
Routing
    Road edges that intersect the hazard area are closed (:func:`edges_inside`,
    :meth:`analysis.network.RoadNetwork.without_edges`); the nearest safe (open,
    outside) shelter is found on what is left with :class:`analysis.nearest.ShelterIndex`.
    The route starts with the straight walk from the building to the nearest road still
    open, which may cross the hazard area (the resident must get out of it): that first
    leg is the only part of a route inside the hazard area.  A building from which no
    safe shelter can be reached is *cut off* (``reason`` says so; ``route`` is None).
    :func:`close_hazard` is this rule, once: the check-on lists, the alerts, the
    resident's nearest shelter and the evacuation plan all take their network and their
    usable shelters from it, so they name the same shelter for the same building.
Groups
    ``elderly_alone``, ``disabled`` and ``mobility_impaired`` are the resident flags;
    ``children`` are residents aged :data:`CHILD_MAX_AGE` or less in the reference year
    (0–14, as in the census).  The check-on list holds residents with any of the first
    three (children too with ``include_children=True``).
Privacy
    Only ids travel: no names, ID numbers or phones (joined behind access control).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

import shapely
from geopandas import GeoDataFrame
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from analysis.nearest import NoShelterReachable, ShelterIndex
from analysis.network import NetworkError, RoadNetwork
from gis import clock
from gis.coords import CoordTypeError, geometries_to_wgs84, local_metric_crs_for
from gis.errors import AnalysisError, InvalidInput
from gis.settings import get_settings
from gis.validate import describe_area
from grids.locate import locate_points, representative_points

__all__ = [
    "CHILD_MAX_AGE",
    "GROUPS",
    "KIND_NAMES",
    "REASONS",
    "HazardClosure",
    "HazardError",
    "HazardImpact",
    "close_hazard",
    "edges_inside",
    "hazard_impact",
    "validate_hazard",
]

#: Oldest age counted as a child (0–14, the census bracket).
CHILD_MAX_AGE: Final = 14
#: Vulnerable groups counted, in the order of the columns.
GROUPS: Final = ("elderly_alone", "disabled", "mobility_impaired", "children")
#: Groups that put a resident on the check-on list by default.
CHECK_ON_GROUPS: Final = ("elderly_alone", "disabled", "mobility_impaired")
#: Resident flag column of each group (children come from the birth year).
_FLAG_OF: Final = {
    "elderly_alone": "living_alone_elderly",
    "disabled": "disabled",
    "mobility_impaired": "mobility_impaired",
}
#: Why a check-on row has the shelter it has (or none).
REASONS: Final = {
    "ok": "nearest safe shelter on foot, on roads outside the hazard area",
    "cut_off": "cut off: no safe shelter can be reached on foot without entering the hazard area",
    "no_safe_shelter": "no safe shelter: every shelter is inside the hazard area or closed",
}
#: Chinese names of the hazard kinds, for messages and pages.
KIND_NAMES: Final = {"typhoon": "台风", "flood": "洪涝", "fire": "火灾", "gas_leak": "燃气泄漏"}
#: Largest relative area change accepted when repairing an invalid polygon.
REPAIR_MAX_AREA_CHANGE: Final = 0.01


class HazardError(AnalysisError, InvalidInput):
    """A hazard area that cannot be analysed: what is wrong and how to fix it."""


@dataclass(frozen=True)
class HazardImpact:
    """Everything a hazard area touches.

    Attributes
    ----------
    grids : pandas.DataFrame
        One row per grid touched: ``grid_id``, ``code``, ``area_share`` (share of the
        grid's area inside, 0–1), ``buildings``, ``households``, ``residents`` and one
        column per group of :data:`GROUPS`; sorted by code.
    buildings : numpy.ndarray of int64
        Ids of the affected buildings.
    households : numpy.ndarray of int64
        Ids of the households in them.
    residents_by_group : dict of str to int
        ``residents`` (all) and each group of :data:`GROUPS`.
    shelters_inside : numpy.ndarray of int64
        Shelters (facility ids) inside the hazard area: unusable.
    shelters_outside : numpy.ndarray of int64
        Shelters outside it (open or not).
    check_on : pandas.DataFrame
        One row per vulnerable resident inside: ``grid_id``, ``grid_code``,
        ``worker_id``, ``resident_id``, ``household_id``, ``building_id``, ``lon``,
        ``lat`` (the building's point, EPSG:4326), ``groups`` (comma-separated),
        ``shelter_id``, ``shelter_name``, ``walk_m``, ``walk_s``, ``route``
        (LineString, EPSG:4326, or None) and ``reason`` (a key of :data:`REASONS`);
        sorted by grid, building and resident.
    closed_edges : numpy.ndarray of int64
        Road edge ids closed because they intersect the hazard area.
    hazard : shapely geometry
        The hazard area analysed (WGS84), repaired if it had to be.
    area_m2 : float
        Its area, m².
    notes : tuple of str
        Repairs and other remarks a user should see.
    """

    grids: pd.DataFrame
    buildings: NDArray[np.int64]
    households: NDArray[np.int64]
    residents_by_group: dict[str, int]
    shelters_inside: NDArray[np.int64]
    shelters_outside: NDArray[np.int64]
    check_on: pd.DataFrame
    closed_edges: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    hazard: BaseGeometry | None = None
    area_m2: float = 0.0
    notes: tuple[str, ...] = ()

    def check_on_list(self, grid_id: int) -> pd.DataFrame:
        """The check-on list of one grid's worker."""
        return self.check_on[self.check_on["grid_id"] == grid_id].reset_index(drop=True)


# ---------------------------------------------------------------------- validation
def validate_hazard(
    hazard: Any, *, coord_type: str = "wgs84", service_area: Sequence[float] | None = None
) -> tuple[BaseGeometry, tuple[str, ...]]:
    """Check a hazard polygon, convert it to WGS84 and repair it when the repair keeps its shape.

    Parameters
    ----------
    hazard : shapely geometry
        Polygon or MultiPolygon, lon/lat degrees.
    coord_type : {"wgs84", "gcj02", "bd09"}
        Coordinate system of ``hazard`` (a polygon drawn on an AMap or Baidu basemap is
        GCJ-02 or BD-09); it is converted to WGS84 first.
    service_area : (west, south, east, north), optional
        Where the hazard must lie; default the settings' box (a stored hazard was
        checked against the imported boundaries when it was stored).

    Returns
    -------
    geometry : shapely geometry
        The polygon, repaired with ``make_valid`` if it was invalid and the repair
        changed its area by less than 1 %.
    notes : tuple of str
        What was repaired.

    Raises
    ------
    HazardError
        If the geometry is missing, empty, not polygonal, invalid beyond repair, or
        its coordinates are not lon/lat in the service area (or look swapped), or
        ``coord_type`` is unknown.
    """
    if hazard is None or not isinstance(hazard, BaseGeometry):
        raise HazardError(
            "no hazard area given: pass a Polygon or MultiPolygon in lon/lat (EPSG:4326)"
        )
    if hazard.is_empty:
        raise HazardError("the hazard area is empty: draw at least one polygon with an area")
    if hazard.geom_type not in ("Polygon", "MultiPolygon"):
        raise HazardError(
            f"the hazard area is a {hazard.geom_type}, not a polygon: buffer a point or "
            "line into an area first (in metres, in a metric CRS)"
        )
    if coord_type != "wgs84":
        try:
            hazard = geometries_to_wgs84(np.array([hazard], dtype=object), coord_type)[0]
        except CoordTypeError as exc:
            raise HazardError(str(exc)) from exc
    minx, miny, maxx, maxy = hazard.bounds
    if not all(np.isfinite([minx, miny, maxx, maxy])):
        raise HazardError("the hazard area has non-finite coordinates")
    area = service_area if service_area is not None else get_settings().service_area_bounds
    w, s, e, n = area
    inside = w <= minx and maxx <= e and s <= miny and maxy <= n
    swapped = w <= miny and maxy <= e and s <= minx and maxx <= n
    if not inside:
        hint = (
            "its coordinates look like (lat, lon): swap them to (lon, lat)"
            if swapped
            else "give lon/lat degrees in WGS84 (convert GCJ-02 / BD-09 first)"
        )
        raise HazardError(
            f"the hazard area's bounds {tuple(round(v, 5) for v in hazard.bounds)} lie "
            f"outside the service area ({describe_area(area)}): {hint}"
        )
    notes: list[str] = []
    if not hazard.is_valid:
        reason = shapely.is_valid_reason(hazard)
        fixed = shapely.make_valid(hazard)
        polys = shapely.get_parts(fixed)
        polys = polys[np.isin(shapely.get_type_id(polys), [3, 6])]
        repaired = shapely.union_all(polys) if len(polys) else None
        before, after = abs(_area_m2(hazard)), _area_m2(repaired) if repaired else 0.0
        if (
            repaired is None
            or repaired.is_empty
            or before <= 0
            or (abs(after - before) > REPAIR_MAX_AREA_CHANGE * before)
        ):
            raise HazardError(
                f"the hazard area is invalid ({reason}) and cannot be repaired without "
                "changing its shape: redraw it without self-crossing edges (a bow-tie is "
                "two polygons)"
            )
        notes.append(f"hazard area repaired ({reason}); area changed by {after - before:+.1f} m²")
        hazard = repaired
    return hazard, tuple(notes)


def _area_m2(geom: BaseGeometry) -> float:
    crs = local_metric_crs_for(geom)
    t = Transformer.from_crs(4326, crs, always_xy=True)
    return float(shapely.area(_transform(geom, t)))


def _transform(geom: Any, t: Transformer) -> Any:
    return shapely.transform(geom, lambda xy: np.column_stack(t.transform(*xy.T)))


# ---------------------------------------------------------------------- routing
def edges_inside(network: RoadNetwork, hazard: BaseGeometry) -> NDArray[np.int64]:
    """Ids of the road edges whose geometry intersects the hazard area.

    Parameters
    ----------
    network : RoadNetwork
        The road network.
    hazard : shapely geometry
        The hazard area, EPSG:4326.

    Returns
    -------
    numpy.ndarray of int64
        ``road_edge.id`` values, sorted; close them with
        ``network.without_edges(...)`` so that routes avoid the area.
    """
    t = Transformer.from_crs(4326, network.crs, always_xy=True)
    area = _transform(hazard, t)
    tree = shapely.STRtree(network.edge_geometry)
    hit = tree.query(area, predicate="intersects")
    return np.sort(network.edge_id[np.asarray(hit, dtype=np.int64)])


@dataclass(frozen=True)
class HazardClosure:
    """The walking network and the shelters as a hazard area leaves them.

    Attributes
    ----------
    network : RoadNetwork
        The walking network with every edge meeting the area closed.
    closed_edges : numpy.ndarray of int64
        ``road_edge`` ids closed (:func:`edges_inside`), sorted.
    shelter_id : numpy.ndarray of int64
        The shelters given, in their order.
    lon, lat : numpy.ndarray of float64
        Their points, degrees, EPSG:4326.
    inside : numpy.ndarray of bool
        Per shelter: the area covers it (unusable).
    usable : numpy.ndarray of bool
        Per shelter: open and outside the area.
    area_m : shapely geometry or None
        The hazard area in the network's metric CRS (None without a hazard).
    """

    network: RoadNetwork
    closed_edges: NDArray[np.int64]
    shelter_id: NDArray[np.int64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]
    inside: NDArray[np.bool_]
    usable: NDArray[np.bool_]
    area_m: BaseGeometry | None = None

    def covers(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Which points the hazard area covers (a point on its boundary is inside).

        The test of the shelters, run in the network's metric CRS.

        Parameters
        ----------
        lon, lat : array_like of float
            Points, degrees, EPSG:4326.
        """
        xy = self.network.to_metric(lon, lat)
        if self.area_m is None:
            return np.zeros(len(xy), dtype=bool)
        return np.asarray(shapely.intersects_xy(self.area_m, xy[:, 0], xy[:, 1]), dtype=bool)

    def shelter_index(
        self, *, capacity: ArrayLike | None = None, occupancy: ArrayLike | None = None
    ) -> ShelterIndex | None:
        """The nearest usable shelter on the network left open; None when there is none.

        Parameters
        ----------
        capacity, occupancy : array_like of int, optional
            Per shelter given (people), carried into the answers.
        """
        if not self.usable.any() or not self.network.walkable.any():
            return None
        try:
            return ShelterIndex.build(
                self.network,
                self.shelter_id,
                self.lon,
                self.lat,
                is_open=self.usable,
                capacity=capacity,
                occupancy=occupancy,
            )
        except NetworkError:
            return None


def close_hazard(
    network: RoadNetwork,
    hazard: BaseGeometry | None,
    shelter_id: ArrayLike,
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    is_open: ArrayLike | None = None,
) -> HazardClosure:
    """Close the roads meeting a hazard area and set aside the shelters it covers.

    The routing rule of every door (see *Routing* in the module docstring): a point is
    then snapped to the nearest road left open and routed on open roads only.

    Parameters
    ----------
    network : RoadNetwork
        The walking network.
    hazard : shapely geometry or None
        The hazard area (the union of those in force), EPSG:4326; None or empty: no
        hazard, nothing is closed.
    shelter_id : array_like of int
        Shelter (facility) ids.
    lon, lat : array_like of float
        Their points, degrees, EPSG:4326.
    is_open : array_like of bool, optional
        Which shelters are open; default all.

    Returns
    -------
    HazardClosure
    """
    ids = np.atleast_1d(np.asarray(shelter_id, dtype=np.int64))
    x = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    y = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    open_ = (
        np.ones(len(ids), dtype=bool)
        if is_open is None
        else np.atleast_1d(np.asarray(is_open, dtype=bool))
    )
    if hazard is None or hazard.is_empty:
        closed, area = np.zeros(0, dtype=np.int64), None
    else:
        closed = edges_inside(network, hazard)
        area = _transform(hazard, Transformer.from_crs(4326, network.crs, always_xy=True))
        shapely.prepare(area)
    closure = HazardClosure(
        network=network.without_edges(closed) if len(closed) else network,
        closed_edges=closed,
        shelter_id=ids,
        lon=x,
        lat=y,
        inside=np.zeros(len(ids), dtype=bool),
        usable=open_,
        area_m=area,
    )
    if area is None or len(ids) == 0:
        return closure
    inside = closure.covers(x, y)
    return replace(closure, inside=inside, usable=open_ & ~inside)


# ---------------------------------------------------------------------- impact
def hazard_impact(
    hazard: Any,
    *,
    grids: GeoDataFrame,
    buildings: GeoDataFrame,
    households: pd.DataFrame,
    residents: pd.DataFrame,
    shelters: GeoDataFrame,
    network: RoadNetwork,
    workers: pd.DataFrame | None = None,
    reference_year: int | None = None,
    include_children: bool = False,
    routes: bool = True,
    coord_type: str = "wgs84",
    service_area: Sequence[float] | None = None,
) -> HazardImpact:
    """Grids, buildings, households, residents and shelters a hazard area touches.

    Parameters
    ----------
    hazard : shapely geometry
        The hazard area, Polygon or MultiPolygon in EPSG:4326 (lon/lat).
    grids : geopandas.GeoDataFrame
        Current grids: ``id`` (or ``grid_id``), ``code`` and polygon ``geometry``.
    buildings : geopandas.GeoDataFrame
        ``id``, footprint ``geometry`` and optionally ``grid_id``.
    households : pandas.DataFrame
        ``id`` and ``building_id``.
    residents : pandas.DataFrame
        ``id``, ``household_id``, ``birth_year`` and the flags
        ``living_alone_elderly``, ``disabled``, ``mobility_impaired`` (names, ID
        numbers and phones are not read).
    shelters : geopandas.GeoDataFrame
        One row per shelter with its point ``geometry``, an id column (``shelter_id``,
        ``facility_id`` or ``id``), optionally ``name`` and ``is_open``.
    network : RoadNetwork
        The walking network.
    workers : pandas.DataFrame, optional
        ``grid_id`` → ``worker_id`` (rows with a ``role`` other than ``primary`` are
        ignored); fills ``worker_id`` of the check-on list.
    reference_year : int, optional
        Year in which ages are counted; default this year.
    include_children : bool
        Put children on the check-on list too.
    routes : bool
        Build the walking routes (``False`` fills shelter and distance only).
    coord_type : {"wgs84", "gcj02", "bd09"}
        Coordinate system of ``hazard``; the frames are WGS84 (as stored).
    service_area : (west, south, east, north), optional
        Where the hazard must lie (see :func:`validate_hazard`).

    Returns
    -------
    HazardImpact

    Raises
    ------
    HazardError
        If the hazard area is invalid (see :func:`validate_hazard`) or does not meet
        the served area (the grids).
    """
    geom, notes = validate_hazard(hazard, coord_type=coord_type, service_area=service_area)
    if len(grids) == 0:
        raise HazardError("no grids given: the served area is empty")
    crs = CRS.from_user_input(network.crs)
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    area = _transform(geom, to_m)
    shapely.prepare(area)

    # grids: order by code (tie rule of locate_points), area share inside
    grid_id_col = "grid_id" if "grid_id" in grids.columns else "id"
    g = grids.sort_values("code", kind="stable").reset_index(drop=True)
    g_geom = _transform(np.asarray(g.geometry.array, dtype=object), to_m)
    served = shapely.union_all(shapely.envelope(g_geom))
    if not shapely.intersects(area, served):
        km = shapely.distance(area, served) / 1000.0
        raise HazardError(
            f"the hazard area lies {km:.1f} km outside the served area (the grids): "
            "check its coordinates (lon/lat WGS84; GCJ-02 and BD-09 must be converted)"
        )
    gi = np.asarray(shapely.STRtree(g_geom).query(area, predicate="intersects"), np.int64)
    share = np.zeros(len(g))
    if len(gi):
        share[gi] = shapely.area(shapely.intersection(g_geom[gi], area)) / shapely.area(g_geom[gi])

    # buildings whose footprint meets the area, and their grids
    b_geom_ll = np.asarray(buildings.geometry.array, dtype=object)
    b_geom = _transform(b_geom_ll, to_m)
    bi = np.sort(np.asarray(shapely.STRtree(b_geom).query(area, predicate="intersects")))
    b_ids = buildings["id"].to_numpy(np.int64)[bi]
    lon, lat = representative_points(b_geom_ll[bi])
    g_ids = g[grid_id_col].to_numpy(np.int64)
    if "grid_id" in buildings.columns:
        b_grid = pd.to_numeric(buildings["grid_id"].iloc[bi]).fillna(-1).to_numpy(np.int64)
    else:
        pos = locate_points(lon, lat, np.asarray(g.geometry.array, dtype=object))
        b_grid = np.where(pos >= 0, g_ids[np.maximum(pos, 0)], -1)
    bld = pd.DataFrame({"building_id": b_ids, "grid_id": b_grid, "lon": lon, "lat": lat})

    # households and residents in them
    hh = households[np.isin(households["building_id"].to_numpy(np.int64), b_ids)]
    hh = hh[["id", "building_id"]].rename(columns={"id": "household_id"})
    res_mask = np.isin(residents["household_id"].to_numpy(np.int64), hh["household_id"])
    res = residents[res_mask]
    year = reference_year if reference_year is not None else clock.utcnow().year
    people = pd.DataFrame(
        {
            "resident_id": res["id"].to_numpy(np.int64),
            "household_id": res["household_id"].to_numpy(np.int64),
        }
    )
    for group, flag in _FLAG_OF.items():
        people[group] = res[flag].fillna(False).to_numpy(bool) if flag in res else False
    people["children"] = (year - res["birth_year"].to_numpy(np.int64)) <= CHILD_MAX_AGE
    people = people.merge(hh, on="household_id", how="left").merge(
        bld[["building_id", "grid_id", "lon", "lat"]], on="building_id", how="left"
    )

    grid_rows = _grid_table(g, grid_id_col, share, bld, hh, people)
    by_group = {"residents": len(people)}
    by_group.update({grp: int(people[grp].sum()) for grp in GROUPS})

    # shelters: inside (unusable) / outside; safe = open and outside
    sid_col = next(c for c in ("shelter_id", "facility_id", "id") if c in shelters.columns)
    s_ids = shelters[sid_col].to_numpy(np.int64)
    s_ll = shapely.get_coordinates(shapely.point_on_surface(np.asarray(shelters.geometry.array)))
    s_open = (
        shelters["is_open"].fillna(True).to_numpy(bool)
        if "is_open" in shelters.columns
        else np.ones(len(shelters), bool)
    )
    s_names = (
        shelters["name"].astype(object).to_numpy()
        if "name" in shelters.columns
        else np.full(len(shelters), None, dtype=object)
    )
    closure = close_hazard(network, geom, s_ids, s_ll[:, 0], s_ll[:, 1], is_open=s_open)
    s_inside = closure.inside

    check_on = _check_on(
        people,
        include_children=include_children,
        closure=closure,
        names=dict(zip(s_ids.tolist(), s_names.tolist(), strict=True)),
        codes=dict(zip(g_ids.tolist(), g["code"].astype(str).tolist(), strict=True)),
        workers=_primary_workers(workers),
        routes=routes,
    )
    return HazardImpact(
        grids=grid_rows,
        buildings=b_ids,
        households=hh["household_id"].to_numpy(np.int64),
        residents_by_group=by_group,
        shelters_inside=np.sort(s_ids[s_inside]),
        shelters_outside=np.sort(s_ids[~s_inside]),
        check_on=check_on,
        closed_edges=closure.closed_edges,
        hazard=geom,
        area_m2=float(shapely.area(area)),
        notes=notes,
    )


def _grid_table(
    g: pd.DataFrame,
    grid_id_col: str,
    share: NDArray[np.float64],
    bld: pd.DataFrame,
    hh: pd.DataFrame,
    people: pd.DataFrame,
) -> pd.DataFrame:
    """Per grid touched: area share and counts of buildings, households, residents, groups."""
    out = pd.DataFrame(
        {
            "grid_id": g[grid_id_col].to_numpy(np.int64),
            "code": g["code"].astype(str).to_numpy(),
            "area_share": share,
        }
    ).set_index("grid_id")
    out["buildings"] = bld.groupby("grid_id").size()
    hh_grid = hh["building_id"].map(bld.set_index("building_id")["grid_id"])
    out["households"] = hh_grid.value_counts()
    out["residents"] = people.groupby("grid_id").size()
    for grp in GROUPS:
        out[grp] = people.groupby("grid_id")[grp].sum()
    counts = ["buildings", "households", "residents", *GROUPS]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    out = out[(out["area_share"] > 0) | (out["buildings"] > 0)]
    return out.reset_index().sort_values("code", kind="stable").reset_index(drop=True)


def _primary_workers(workers: pd.DataFrame | None) -> dict[int, int]:
    if workers is None or len(workers) == 0:
        return {}
    w = workers
    if "role" in w.columns:
        w = w[w["role"] == "primary"]
    w = w.drop_duplicates("grid_id")
    return dict(
        zip(
            w["grid_id"].astype(np.int64).tolist(),
            w["worker_id"].astype(np.int64).tolist(),
            strict=True,
        )
    )


def _check_on(
    people: pd.DataFrame,
    *,
    include_children: bool,
    closure: HazardClosure,
    names: dict[int, Any],
    codes: dict[int, str],
    workers: dict[int, int],
    routes: bool,
) -> pd.DataFrame:
    """The check-on rows: vulnerable residents, their safe shelter, walk and route."""
    groups = list(CHECK_ON_GROUPS) + (["children"] if include_children else [])
    flags = people[groups].to_numpy(bool)
    who = people[flags.any(axis=1)].copy()
    labels = np.array(groups, dtype=object)
    who["groups"] = [",".join(labels[row]) for row in flags[flags.any(axis=1)]]
    who = who.sort_values(["grid_id", "building_id", "resident_id"], kind="stable")

    # one answer per building
    bld = who.drop_duplicates("building_id")[["building_id", "lon", "lat"]]
    n = len(bld)
    shelter = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    route: list[Any] = [None] * n
    reason = np.full(n, "no_safe_shelter", dtype=object)
    if n:
        index = closure.shelter_index()
        if index is not None:
            blon, blat = bld["lon"].to_numpy(float), bld["lat"].to_numpy(float)
            shelter, dist = index.query(blon, blat)
            reason = np.where(shelter >= 0, "ok", "cut_off").astype(object)
            if routes:
                for i in np.flatnonzero(shelter >= 0).tolist():
                    try:
                        route[i] = index.nearest(float(blon[i]), float(blat[i])).route
                    except NoShelterReachable:  # pragma: no cover - query said reachable
                        reason[i] = "cut_off"
    speed = closure.network.walk_speed_mps
    answer = pd.DataFrame(
        {
            "building_id": bld["building_id"].to_numpy(np.int64),
            "shelter_id": np.where(shelter >= 0, shelter, -1),
            "walk_m": np.where(np.isfinite(dist), dist, np.nan),
            "route": route,
            "reason": reason,
        }
    )
    answer["walk_s"] = answer["walk_m"] / speed
    out = who.merge(answer, on="building_id", how="left")
    out["shelter_id"] = out["shelter_id"].astype("Int64").mask(out["shelter_id"] < 0)
    out["shelter_name"] = out["shelter_id"].map(lambda s: None if pd.isna(s) else names.get(s))
    out["grid_code"] = out["grid_id"].map(codes)
    out["worker_id"] = out["grid_id"].map(workers).astype("Int64")
    cols = [
        "grid_id",
        "grid_code",
        "worker_id",
        "resident_id",
        "household_id",
        "building_id",
        "lon",
        "lat",
        "groups",
        "shelter_id",
        "shelter_name",
        "walk_m",
        "walk_s",
        "route",
        "reason",
    ]
    return out[cols].reset_index(drop=True)
