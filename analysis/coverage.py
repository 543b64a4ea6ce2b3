"""Facility coverage for planners: who can walk to a clinic, elder care, a park … in time.

Street offices plan facilities by population and judge them by the walking time along
the streets, in the 15-, 10- and 5-minute life circles (15/10/5分钟生活圈) of
GB 50180-2018 *Standard for urban residential area planning and design*
(城市居住区规划设计标准).  This module answers, for one facility kind at a time:

* **demand** (需求): people per H3 cell and 网格 by group (everyone, elderly 60+ and
  80+, children 0–14, people with disabilities), from households and residents
  (:func:`demand_from_households`) or from a file such as a census grid
  (:func:`demand_from_file`).  A *demand row* is the people of one H3 cell inside one
  grid, placed at their people-weighted mean location, so that totals per grid are
  exact and a cell on a grid boundary is not split by area.
* **access** (可达性): the walking time from every demand row to the nearest facility
  of the kind, along the network, with one multi-source Dijkstra per kind (the
  :class:`analysis.nearest.ShelterIndex` machinery), and whether it is within the
  kind's **standard** (:class:`Standard`, :data:`DEFAULT_STANDARDS`).
* **capacity** (容量): a three-way split of the demand of the kind's target group into
  served, unserved for lack of capacity (a facility is within reach but full), and
  outside the walking limit, by a maximum flow from people to facilities within the
  limit (:func:`capacity_split`).
* **equity** (公平性): each group's unserved share against everyone's, and the Gini
  coefficient of walking time (:func:`equity`).
* **candidates and plans**: candidate sites for new facilities, recommended sites from
  the location models of :mod:`analysis.location` (:func:`recommend_sites`), and the
  comparison of plans (规划方案) with today (现状) (:func:`compare_plans`).

Everything is pure: frames and the :class:`~analysis.network.RoadNetwork` in, frozen
dataclasses and frames out.  Coordinates are WGS84 degrees; times are seconds inside,
minutes in the frames meant for people.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import sparse
from scipy.sparse.csgraph import dijkstra, maximum_flow

import shapely

from analysis.nearest import ShelterIndex
from analysis.network import FloatArray, IntArray, RoadNetwork
from gis.db.models import FACILITY_KINDS
from gis.errors import AnalysisError, InvalidInput
from grids.locate import h3_cells

__all__ = [
    "DEFAULT_STANDARDS",
    "GROUPS",
    "GROUP_NAMES",
    "KIND_NAMES",
    "Access",
    "CapacitySplit",
    "CoverageError",
    "Plan",
    "Recommendation",
    "Standard",
    "access",
    "apply_plan",
    "candidates_from_demand",
    "candidates_from_points",
    "capacity_split",
    "check_group",
    "check_kind",
    "check_model",
    "compare_plans",
    "demand_from_file",
    "demand_from_households",
    "equity",
    "load_standards",
    "recommend_sites",
    "served_shares",
    "travel_times",
    "unserved_by",
    "weighted_gini",
]

GROUPS: Final = ("everyone", "elderly_60", "elderly_80", "children", "disabled")
"""The population groups demand is counted for."""

GROUP_NAMES: Final = {
    "everyone": "全体居民",
    "elderly_60": "60岁及以上老人",
    "elderly_80": "80岁及以上老人",
    "children": "儿童（0–14岁）",
    "disabled": "残疾人",
}
KIND_NAMES: Final = {
    "clinic": "社区卫生服务站/诊所",
    "elder_care": "养老服务设施",
    "park": "公园/绿地",
    "school": "学校",
    "community_centre": "社区服务中心",
    "shelter": "避难场所",
}
STANDARDS_ENV: Final = "WANGGE_PLAN_STANDARDS"
"""Environment variable naming a JSON file that overrides :data:`DEFAULT_STANDARDS`."""

DEMAND_KEYS: Final = ("cell", "grid_id", "community_id")
DEMAND_COLUMNS: Final = (*DEMAND_KEYS, "lon", "lat", *GROUPS)
"""Columns of a demand frame, in order."""

CANDIDATE_COLUMNS: Final = ("site_id", "name", "lon", "lat", "capacity", "cost", "source")
"""Columns of a candidate-site frame."""

FACILITY_COLUMNS: Final = ("id", "kind", "name", "capacity", "lon", "lat")
"""Columns of a facility frame (``capacity`` may be missing: unlimited)."""

MODELS: Final = ("lscp", "mclp", "p_median", "capacitated_p_median")
"""Location models :func:`recommend_sites` can solve."""

_DIJKSTRA_CELLS = 4_000_000
"""Distances (sites × nodes) one Dijkstra call of :func:`travel_times` keeps at a time."""

_GB50180 = "GB 50180-2018 城市居住区规划设计标准（15/10/5分钟生活圈）"


class CoverageError(AnalysisError, InvalidInput):
    """Bad planning input: an unknown kind or group, an empty demand, a bad standard."""


@dataclass(frozen=True)
class Standard:
    """What counts as served for one facility kind.

    Attributes
    ----------
    kind : str
        Facility kind (``facility.kind``).
    minutes : float
        Walking limit, minutes along the network.
    group : str
        The group the facility is planned for; its capacity counts these people
        (elder care: ``elderly_60``, schools: ``children``, else ``everyone``).
    circle : str
        The life circle, as planners name it (e.g. 15分钟生活圈).
    source : str
        Where the limit comes from.
    """

    kind: str
    minutes: float
    group: str = "everyone"
    circle: str = ""
    source: str = _GB50180

    @property
    def limit_s(self) -> float:
        """The walking limit, seconds."""
        return self.minutes * 60.0


DEFAULT_STANDARDS: Final[Mapping[str, Standard]] = {
    "clinic": Standard("clinic", 15, "everyone", "15分钟生活圈"),
    "elder_care": Standard("elder_care", 15, "elderly_60", "15分钟生活圈"),
    "community_centre": Standard("community_centre", 15, "everyone", "15分钟生活圈"),
    "school": Standard("school", 15, "children", "15分钟生活圈"),
    "park": Standard("park", 10, "everyone", "10分钟生活圈"),
    "shelter": Standard(
        "shelter", 15, "everyone", "15分钟步行", "GB 51143-2015 防灾避难场所设计规范; " + _GB50180
    ),
}
"""Default standards: GB 50180-2018 life circles (clinic, elder care, community centre
and school in the 15-minute circle, parks in the 10-minute circle) and shelters within
a 15-minute walk."""


def check_kind(kind: str) -> str:
    """Return ``kind`` if it is a facility kind, else raise naming the valid ones."""
    if kind not in FACILITY_KINDS:
        raise CoverageError(
            f"unknown facility kind {kind!r}: use one of {', '.join(FACILITY_KINDS)}"
        )
    return kind


def check_group(group: str) -> str:
    """Return ``group`` if it is a population group, else raise naming the valid ones."""
    if group not in GROUPS:
        raise CoverageError(f"unknown group {group!r}: use one of {', '.join(GROUPS)}")
    return group


def check_model(model: str) -> str:
    """Return ``model`` if it is a location model, else raise naming the valid ones."""
    if model not in MODELS:
        raise CoverageError(f"unknown model {model!r}: use one of {', '.join(MODELS)}")
    return model


def load_standards(source: str | Path | Mapping[str, Any] | None = None) -> dict[str, Standard]:
    """The standards table: the defaults, overridden per kind by a JSON file or mapping.

    Parameters
    ----------
    source : str, path or mapping, optional
        ``{"park": {"minutes": 5}, "clinic": {"minutes": 10, "group": "elderly_60"}}``
        as a mapping, a JSON file, or None to read the file named by the
        ``WANGGE_PLAN_STANDARDS`` environment variable (the defaults when unset).

    Returns
    -------
    dict of str to Standard

    Raises
    ------
    CoverageError
        On an unreadable file, an unknown kind, group or field, or a limit that is not
        a positive number of minutes.
    """
    if source is None:
        source = os.environ.get(STANDARDS_ENV) or None
        if source is None:
            return dict(DEFAULT_STANDARDS)
    if isinstance(source, str | Path):
        try:
            overrides = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CoverageError(f"cannot read the standards file {source}: {exc}") from exc
    else:
        overrides = dict(source)
    if not isinstance(overrides, dict):
        raise CoverageError("standards: a JSON object {kind: {minutes, group}} is expected")
    table = dict(DEFAULT_STANDARDS)
    allowed = {"minutes", "group", "circle", "source"}
    for kind, values in overrides.items():
        check_kind(kind)
        if not isinstance(values, dict) or set(values) - allowed:
            raise CoverageError(
                f"standards[{kind!r}]: give an object with fields {', '.join(sorted(allowed))}"
            )
        new = replace(table[kind], **values)
        check_group(new.group)
        if not (isinstance(new.minutes, int | float) and 0 < new.minutes <= 120):
            raise CoverageError(
                f"standards[{kind!r}].minutes must be a number of minutes in (0, 120], "
                f"got {new.minutes!r}"
            )
        table[kind] = replace(new, minutes=float(new.minutes))
    return table


def _standard(kind: str, standards: Mapping[str, Standard] | None) -> Standard:
    check_kind(kind)
    table = DEFAULT_STANDARDS if standards is None else standards
    if kind not in table:
        raise CoverageError(f"no standard for kind {kind!r} in the standards table")
    return table[kind]


# ------------------------------------------------------------------ demand


def _ages_in_groups(birth_year: NDArray[Any], disabled: NDArray[Any], year: int) -> NDArray[Any]:
    """(n, 5) 0/1 matrix: is each resident in each group of :data:`GROUPS`."""
    age = year - birth_year.astype(np.int64)
    return np.column_stack(
        [np.ones(len(age), bool), age >= 60, age >= 80, (age >= 0) & (age <= 14), disabled]
    ).astype(np.int64)


def _demand_rows(
    keys: pd.DataFrame, lon: FloatArray, lat: FloatArray, counts: NDArray[Any]
) -> pd.DataFrame:
    """Sum counts per (cell, grid, community); locate each row at its people-weighted mean."""
    people = counts[:, 0].astype(np.float64)
    frame = keys.reset_index(drop=True).copy()
    frame["_w"] = people
    frame["_x"] = lon * people
    frame["_y"] = lat * people
    # unweighted fallback location for rows with nobody (kept out below)
    for i, g in enumerate(GROUPS):
        frame[g] = counts[:, i]
    summed = frame.groupby(list(DEMAND_KEYS), dropna=False, sort=True).sum(numeric_only=True)
    summed = summed[summed["_w"] > 0].reset_index()
    summed["lon"] = summed["_x"] / summed["_w"]
    summed["lat"] = summed["_y"] / summed["_w"]
    out = summed[list(DEMAND_COLUMNS)].copy()
    out["cell"] = out["cell"].astype(np.int64)
    for key in ("grid_id", "community_id"):
        out[key] = out[key].astype("Int64")
    for g in GROUPS:
        out[g] = out[g].astype(np.float64)
    return out.reset_index(drop=True)


def demand_from_households(
    households: pd.DataFrame,
    residents: pd.DataFrame,
    *,
    reference_year: int,
    resolution: int = 10,
) -> pd.DataFrame:
    """People by group per H3 cell and grid, from households and their residents.

    Parameters
    ----------
    households : pandas.DataFrame
        One row per household: ``id``, ``lon``, ``lat`` (its building, degrees,
        EPSG:4326); optional ``h3_cell`` (computed at ``resolution`` where missing),
        ``grid_id`` and ``community_id``.
    residents : pandas.DataFrame
        ``household_id``, ``birth_year`` and ``disabled`` (bool).  Residents of a
        household not in ``households`` are ignored.
    reference_year : int
        Ages are ``reference_year - birth_year``: elderly 60+ and 80+, children 0–14.
    resolution : int
        H3 resolution of cells computed here.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DEMAND_COLUMNS`; one row per (cell, grid) with people, sorted.
    """
    for col in ("id", "lon", "lat"):
        if col not in households.columns:
            raise CoverageError(f"households lack column {col!r}")
    for col in ("household_id", "birth_year", "disabled"):
        if col not in residents.columns:
            raise CoverageError(f"residents lack column {col!r}")
    hh = households.reset_index(drop=True)
    lon = hh["lon"].to_numpy(np.float64)
    lat = hh["lat"].to_numpy(np.float64)
    keys = pd.DataFrame(index=hh.index)
    cells = (
        pd.array(hh["h3_cell"], dtype="Int64")
        if "h3_cell" in hh.columns
        else pd.array([pd.NA] * len(hh), dtype="Int64")
    )
    missing = np.asarray(pd.isna(cells))
    cell = np.where(missing, 0, np.asarray(cells.fillna(0), dtype=np.int64))
    if missing.any():
        cell[missing] = h3_cells(lon[missing], lat[missing], resolution)
    keys["cell"] = cell
    for key in ("grid_id", "community_id"):
        keys[key] = pd.array(hh[key], dtype="Int64") if key in hh.columns else pd.NA
    position = pd.Index(hh["id"].to_numpy()).get_indexer(residents["household_id"].to_numpy())
    known = position >= 0
    groups = _ages_in_groups(
        residents["birth_year"].to_numpy()[known],
        residents["disabled"].fillna(False).to_numpy(bool)[known],
        reference_year,
    )
    counts = np.zeros((len(hh), len(GROUPS)), np.int64)
    np.add.at(counts, position[known], groups)
    return _demand_rows(keys, lon, lat, counts)


def demand_from_file(
    frame: pd.DataFrame,
    *,
    resolution: int = 10,
    grids: pd.DataFrame | None = None,
    layer: str = "demand",
) -> pd.DataFrame:
    """People by group per H3 cell from a file a planner brings (e.g. a census grid).

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
        Points or polygons (EPSG:4326; a polygon counts at its representative point),
        or plain ``lon``/``lat`` columns, with an ``everyone`` column (people) and any
        of the other :data:`GROUPS` (missing ones are 0).
    resolution : int
        H3 resolution of the cells.
    grids : geopandas.GeoDataFrame, optional
        Current grids (``id``, ``community_id``, polygons) to place each row in its
        grid; without them ``grid_id`` and ``community_id`` stay empty.
    layer : str
        Name of the input in error messages.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DEMAND_COLUMNS`.

    Raises
    ------
    gis.validate.ValidationError
        Naming each row and column with a missing, negative or non-numeric count, or
        a missing location.
    """
    from gis.errors import Problem, ValidationError

    problems: list[Problem] = []
    if "everyone" not in frame.columns:
        raise ValidationError(
            [
                Problem(
                    layer,
                    None,
                    None,
                    "everyone",
                    "no 'everyone' column (people per row)",
                    f"add it; other group columns may be {', '.join(GROUPS[1:])}",
                )
            ]
        )
    geometry = getattr(frame, "geometry", None) if hasattr(frame, "geometry") else None
    if geometry is not None:
        crs = getattr(frame, "crs", None)
        if crs is not None and crs.to_epsg() != 4326:
            frame = frame.to_crs(4326)  # type: ignore[attr-defined]
            geometry = frame.geometry
        geoms = np.asarray(geometry.values, dtype=object)
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        points = shapely.point_on_surface(np.where(missing, shapely.Point(0, 0), geoms))
        lon, lat = shapely.get_x(points), shapely.get_y(points)
    elif {"lon", "lat"} <= set(frame.columns):
        lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(np.float64)
        lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(np.float64)
        missing = ~(np.isfinite(lon) & np.isfinite(lat))
    else:
        raise ValidationError(
            [Problem(layer, None, None, "geometry", "no location", "give geometry or lon/lat")]
        )
    for row in np.flatnonzero(missing)[:20]:
        problems.append(
            Problem(layer, int(row) + 1, None, "geometry", "no location", "give a point")
        )
    counts = np.zeros((len(frame), len(GROUPS)), np.float64)
    for i, g in enumerate(GROUPS):
        if g not in frame.columns:
            continue
        values = pd.to_numeric(frame[g], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        for row in np.flatnonzero(bad)[:20]:
            problems.append(
                Problem(
                    layer,
                    int(row) + 1,
                    None,
                    g,
                    f"{frame[g].iloc[row]!r} is not a count of people",
                    "give a number ≥ 0",
                )
            )
        counts[:, i] = np.where(bad, 0, values)
    if problems:
        raise ValidationError(problems)
    keys = pd.DataFrame({"cell": h3_cells(lon, lat, resolution)})
    keys["grid_id"] = pd.array([pd.NA] * len(keys), dtype="Int64")
    keys["community_id"] = pd.array([pd.NA] * len(keys), dtype="Int64")
    if grids is not None and len(grids):
        from grids.locate import locate_points

        pos = locate_points(lon, lat, np.asarray(grids.geometry.values))
        inside = pos >= 0
        gid = grids["id"].to_numpy()
        keys.loc[inside, "grid_id"] = gid[pos[inside]]
        if "community_id" in grids.columns:
            keys.loc[inside, "community_id"] = grids["community_id"].to_numpy()[pos[inside]]
    return _demand_rows(keys, lon, lat, counts)


def _check_demand(demand: pd.DataFrame) -> None:
    missing = [c for c in DEMAND_COLUMNS if c not in demand.columns]
    if missing:
        raise CoverageError(f"the demand frame lacks columns {missing}")
    if len(demand) == 0 or not demand["everyone"].sum() > 0:
        raise CoverageError(
            "no demand: no residents are loaded (wangge demo / wangge load) or the file "
            "counts nobody"
        )


# ------------------------------------------------------------------ walking times


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


# ------------------------------------------------------------------ access


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


# ------------------------------------------------------------------ capacity


@dataclass(frozen=True)
class CapacitySplit:
    """The demand of one group in three parts (whole people).

    ``served + lack_of_capacity + outside_limit == people``.  The totals are those of a
    maximum flow (the most people the facilities can take within the limit) and so
    unique; which row counts as served when several compete for the same full facility
    is one of the optima.

    Attributes
    ----------
    kind, group : str
    people : int
        Everyone of the group.
    served : int
        Within the limit of a facility with room for them.
    lack_of_capacity : int
        Within the limit of a facility, but every such facility is full (容量不足).
    outside_limit : int
        No facility within the walking limit (超出步行范围).
    row_served, row_lack, row_outside : numpy.ndarray of int64
        The same per demand row.
    facility_load : pandas.Series
        People assigned to each facility (by id).
    """

    kind: str
    group: str
    people: int
    served: int
    lack_of_capacity: int
    outside_limit: int
    row_served: IntArray = field(repr=False)
    row_lack: IntArray = field(repr=False)
    row_outside: IntArray = field(repr=False)
    facility_load: pd.Series = field(repr=False)


def capacity_split(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    kind: str,
    *,
    group: str | None = None,
    standards: Mapping[str, Standard] | None = None,
) -> CapacitySplit:
    """Split a group's demand into served / unserved for lack of capacity / too far.

    People may go to any facility within the walking limit, not only the nearest; the
    most people served is a maximum flow (people → facilities within the limit →
    capacity).  A facility with no capacity (``NaN`` / missing column) takes everyone.
    Counts are rounded to whole people.

    Parameters
    ----------
    group : str, optional
        Default the standard's target group (the people the capacity is counted in).

    Returns
    -------
    CapacitySplit
    """
    standard = _standard(kind, standards)
    group = check_group(group or standard.group)
    _check_demand(demand)
    demand = demand.reset_index(drop=True)
    people = np.rint(demand[group].to_numpy(np.float64)).astype(np.int64)
    total = int(people.sum())
    of_kind = _facilities_of(facilities, kind)
    m, n = len(of_kind), len(demand)
    if m == 0:
        zero = np.zeros(n, np.int64)
        return CapacitySplit(
            kind, group, total, 0, 0, total, zero, zero, people, pd.Series(dtype=np.int64)
        )
    d_lon, d_lat = _lonlat(demand)
    f_lon, f_lat = _lonlat(of_kind)
    within = np.isfinite(
        travel_times(network, d_lon, d_lat, f_lon, f_lat, limit_s=standard.limit_s)
    )
    if "capacity" in of_kind.columns:
        cap = pd.to_numeric(of_kind["capacity"], errors="coerce").to_numpy(np.float64)
    else:
        cap = np.full(m, np.nan)
    cap = np.where(np.isfinite(cap), np.maximum(cap, 0), total).astype(np.int64)
    big = np.iinfo(np.int32).max
    if total > big:
        raise CoverageError(f"{total:,} people are too many for one capacity split")
    # nodes: 0 source, 1..n demand rows, n+1..n+m facilities, n+m+1 sink
    i, j = np.nonzero(within & (people > 0)[:, None])
    src = np.concatenate([np.zeros(n, np.int64), 1 + i, n + 1 + np.arange(m)])
    dst = np.concatenate([1 + np.arange(n), n + 1 + j, np.full(m, n + m + 1)])
    capacity = np.concatenate([people, people[i], np.minimum(cap, total)]).astype(np.int32)
    graph = sparse.csr_array((capacity, (src, dst)), shape=(n + m + 2, n + m + 2))
    graph.sum_duplicates()
    flow = maximum_flow(graph, 0, n + m + 1).flow
    flow = sparse.csr_array(flow)
    row_served = np.asarray(flow[[0], :].toarray()[0, 1 : n + 1], np.int64)
    reachable = within.any(axis=1)
    row_outside = np.where(reachable, 0, people)
    row_lack = people - row_served - row_outside
    load = np.asarray(flow[:, [n + m + 1]].toarray()[n + 1 : n + m + 1, 0], np.int64)
    return CapacitySplit(
        kind=kind,
        group=group,
        people=total,
        served=int(row_served.sum()),
        lack_of_capacity=int(row_lack.sum()),
        outside_limit=int(row_outside.sum()),
        row_served=row_served,
        row_lack=row_lack,
        row_outside=row_outside,
        facility_load=pd.Series(load, index=of_kind["id"].to_numpy(), name="people"),
    )


# ------------------------------------------------------------------ equity


def weighted_gini(values: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Gini coefficient of ``values`` (e.g. walking times) over people ``weights``.

    ``G = Σᵢ Σⱼ wᵢ wⱼ |xᵢ − xⱼ| / (2 W Σ wᵢ xᵢ)``: 0 when everyone walks as long, towards
    1 when a few walk all of it.  Non-finite values are left out.  NaN when nothing is
    left or every value is 0.
    """
    x = np.asarray(values, np.float64).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64).ravel()
    keep = np.isfinite(x) & (w > 0)
    x, w = x[keep], w[keep]
    total_w, total_wx = w.sum(), (w * x).sum()
    if len(x) == 0 or total_wx <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    w_before = np.cumsum(w) - w
    wx_before = np.cumsum(w * x) - w * x
    return float((w * (x * w_before - wx_before)).sum() / (total_w * total_wx))


def _weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    keep = weights > 0
    x, w = values[keep], weights[keep]
    if len(x) == 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cum = np.cumsum(w)
    return float(x[min(int(np.searchsorted(cum, q * cum[-1], side="left")), len(x) - 1)])


def equity(result: Access) -> pd.DataFrame:
    """Who is left out: each group's unserved share against everyone's, and time Gini.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``share_unserved``, ``ratio_to_everyone`` (the group's
        unserved share over everyone's; above 1 the group is worse off), ``mean_min``
        and ``p90_min`` (people-weighted walking minutes; ``inf`` when more than the
        share is unreachable), ``gini`` (of walking time among those who can reach a
        facility) and ``unreachable`` (people who cannot reach any).
    """
    shares = served_shares(result)
    minutes = result.minutes
    base = 1 - shares.loc["everyone", "share_served"]
    rows = []
    for g in GROUPS:
        w = result.demand[g].to_numpy(np.float64)
        unserved = 1 - shares.loc[g, "share_served"]
        finite = np.isfinite(minutes)
        reach_w = w[finite]
        rows.append(
            {
                "group": g,
                "name": GROUP_NAMES[g],
                "share_unserved": unserved,
                "ratio_to_everyone": unserved / base if base > 0 else float("nan"),
                "mean_min": float((minutes[finite] * reach_w).sum() / reach_w.sum())
                if reach_w.sum() > 0
                else float("nan"),
                "p90_min": _weighted_quantile(minutes, w, 0.9),
                "gini": weighted_gini(minutes, w),
                "unreachable": float(w[~finite].sum()),
            }
        )
    return pd.DataFrame(rows).set_index("group")


# ------------------------------------------------------------------ candidates


def candidates_from_demand(demand: pd.DataFrame, *, group: str = "everyone") -> pd.DataFrame:
    """One candidate site per H3 cell with people of ``group``, at their mean location.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CANDIDATE_COLUMNS`; ``site_id`` is ``cell:<h3 hex>``.
    """
    check_group(group)
    _check_demand(demand)
    d = demand[demand[group] > 0]
    w = d[group].to_numpy(np.float64)
    g = pd.DataFrame({"cell": d["cell"], "w": w, "x": d["lon"] * w, "y": d["lat"] * w})
    by = g.groupby("cell", sort=True).sum()
    hexes = [f"{int(c):x}" for c in by.index]
    return pd.DataFrame(
        {
            "site_id": [f"cell:{h}" for h in hexes],
            "name": [f"H3单元 {h}" for h in hexes],
            "lon": (by["x"] / by["w"]).to_numpy(),
            "lat": (by["y"] / by["w"]).to_numpy(),
            "capacity": np.nan,
            "cost": np.nan,
            "source": "cells",
        }
    )


def candidates_from_points(
    frame: pd.DataFrame, *, source: str, id_column: str = "id", name_column: str = "name"
) -> pd.DataFrame:
    """Candidate sites from points: buildings of a use, vacant parcels, or a file.

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
        ``lon``/``lat`` columns or geometries (EPSG:4326; polygons at their
        representative point); optional ``capacity`` and ``cost`` columns.
    source : str
        What they are (``buildings:public``, ``file`` …); ``site_id`` is
        ``<source>:<id>``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CANDIDATE_COLUMNS`.
    """
    if {"lon", "lat"} <= set(frame.columns):
        lon, lat = _lonlat(frame)
    elif hasattr(frame, "geometry"):
        pts = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
        lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    else:
        raise CoverageError("candidate sites need lon/lat columns or geometries")
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0]) + 1
        raise CoverageError(f"candidate site row {bad} has no location: give a point")
    n = len(frame)
    ids = frame[id_column].astype(str).to_numpy() if id_column in frame.columns else range(1, n + 1)
    names = frame[name_column].astype(str).to_numpy() if name_column in frame.columns else None
    site_ids = [f"{source}:{i}" for i in ids]
    return pd.DataFrame(
        {
            "site_id": site_ids,
            "name": names if names is not None else site_ids,
            "lon": lon,
            "lat": lat,
            "capacity": pd.to_numeric(frame["capacity"], errors="coerce").to_numpy(np.float64)
            if "capacity" in frame.columns
            else np.nan,
            "cost": pd.to_numeric(frame["cost"], errors="coerce").to_numpy(np.float64)
            if "cost" in frame.columns
            else np.nan,
            "source": source,
        }
    )


# ------------------------------------------------------------------ plans


@dataclass(frozen=True)
class Plan:
    """A plan (规划方案) of one kind: new sites and existing facilities closed.

    Attributes
    ----------
    name : str
        How planners call it; today is :data:`TODAY`.
    kind : str
        Facility kind.
    added : pandas.DataFrame
        New sites: ``lon``, ``lat`` and optional ``name``, ``capacity``, ``cost``.
    removed : tuple of int
        Ids of existing facilities the plan closes.
    """

    name: str
    kind: str
    added: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["lon", "lat"]))
    removed: tuple[int, ...] = ()

    @property
    def cost(self) -> float:
        """Total cost of the new sites (0 when none is given)."""
        if "cost" not in self.added.columns:
            return 0.0
        return float(pd.to_numeric(self.added["cost"], errors="coerce").fillna(0).sum())


TODAY: Final = "现状"


def apply_plan(facilities: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The facilities after a plan: the closed ones out, the new ones in (negative ids).

    Raises
    ------
    CoverageError
        When the plan closes a facility that is not of its kind (or does not exist).
    """
    check_kind(plan.kind)
    of_kind = set(_facilities_of(facilities, plan.kind)["id"].tolist())
    unknown = sorted(set(plan.removed) - of_kind)
    if unknown:
        raise CoverageError(
            f"plan {plan.name!r} removes facilities {unknown} that are not {plan.kind} facilities"
        )
    kept = facilities[~facilities["id"].isin(plan.removed)]
    added = plan.added
    if len(added) == 0:
        return kept.reset_index(drop=True)
    new = pd.DataFrame(
        {
            "id": -np.arange(1, len(added) + 1, dtype=np.int64),
            "kind": plan.kind,
            "name": added["name"].to_numpy()
            if "name" in added.columns
            else [f"新增{KIND_NAMES[plan.kind]}{i + 1}" for i in range(len(added))],
            "capacity": pd.to_numeric(added["capacity"], errors="coerce").to_numpy()
            if "capacity" in added.columns
            else np.nan,
            "lon": added["lon"].to_numpy(np.float64),
            "lat": added["lat"].to_numpy(np.float64),
        }
    )
    return pd.concat([kept[[c for c in new.columns if c in kept.columns]], new], ignore_index=True)


def compare_plans(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    plans: Sequence[Plan],
    kind: str,
    *,
    standards: Mapping[str, Standard] | None = None,
    include_today: bool = True,
) -> tuple[pd.DataFrame, dict[str, Access]]:
    """Plans side by side: people served per group, walking times, capacity, cost.

    Parameters
    ----------
    plans : sequence of Plan
        Plans of ``kind``; today (现状) is put first unless ``include_today`` is False.

    Returns
    -------
    table : pandas.DataFrame
        One row per plan (indexed by name): ``facilities``, ``added``, ``removed``,
        ``served_<group>`` and ``share_<group>`` for every group, ``mean_min`` and
        ``p90_min`` of the standard's group, ``served_with_capacity`` (the three-way
        split's served count of that group) and ``cost``.
    accesses : dict of str to Access
        The access of each plan, for maps.
    """
    standard = _standard(kind, standards)
    all_plans = ([Plan(TODAY, kind)] if include_today else []) + list(plans)
    names = [p.name for p in all_plans]
    if len(set(names)) != len(names):
        raise CoverageError(f"plan names must differ: {names}")
    for p in all_plans:
        if p.kind != kind:
            raise CoverageError(f"plan {p.name!r} is for {p.kind}, not {kind}")
    rows, accesses = [], {}
    for p in all_plans:
        after = apply_plan(facilities, p)
        result = access(network, demand, after, kind, standards=standards)
        split = capacity_split(network, demand, after, kind, standards=standards)
        shares = served_shares(result)
        fair = equity(result)
        row: dict[str, Any] = {
            "plan": p.name,
            "facilities": int((after["kind"] == kind).sum()),
            "added": len(p.added),
            "removed": len(p.removed),
        }
        for g in GROUPS:
            row[f"served_{g}"] = shares.loc[g, "served"]
            row[f"share_{g}"] = shares.loc[g, "share_served"]
        row["mean_min"] = fair.loc[standard.group, "mean_min"]
        row["p90_min"] = fair.loc[standard.group, "p90_min"]
        row["served_with_capacity"] = split.served
        row["cost"] = p.cost
        rows.append(row)
        accesses[p.name] = result
    return pd.DataFrame(rows).set_index("plan"), accesses


# ------------------------------------------------------------------ recommending sites


@dataclass(frozen=True)
class Recommendation:
    """Recommended new sites for one kind, with today's and the plan's coverage.

    Attributes
    ----------
    model : str
        Location model solved (:data:`MODELS`).
    kind, group : str
    status : str
        ``optimal``, ``time_limit`` or ``infeasible`` (from the solver).
    objective : float
        The model's objective (people covered, weighted seconds …).
    sites : pandas.DataFrame
        The chosen candidates (:data:`CANDIDATE_COLUMNS`).
    served_before, served_after : float
        People of ``group`` within the walking limit today and with the new sites.
    uncoverable : pandas.DataFrame
        Demand rows no site can serve within the limit (why an LSCP is infeasible).
    explanation : str
        The solver's account of the result.
    plan : Plan
        The recommendation as a plan, ready to save and compare.
    """

    model: str
    kind: str
    group: str
    status: str
    objective: float
    sites: pd.DataFrame
    served_before: float
    served_after: float
    uncoverable: pd.DataFrame
    explanation: str
    plan: Plan


def recommend_sites(
    network: RoadNetwork,
    demand: pd.DataFrame,
    facilities: pd.DataFrame,
    candidates: pd.DataFrame,
    kind: str,
    *,
    model: str = "mclp",
    p: int = 3,
    group: str | None = None,
    standards: Mapping[str, Standard] | None = None,
    excluded: Sequence[str] = (),
    time_limit: float = 60.0,
    unserved_minutes: float | None = None,
) -> Recommendation:
    """The best new sites among ``candidates``, existing facilities kept fixed.

    Demand is the ``group``'s people per demand row; sites are today's facilities of
    the kind (fixed, open) followed by the candidates.  The models are those of
    :mod:`analysis.location`: ``lscp`` (fewest new sites so that everyone is within
    the limit), ``mclp`` (``p`` new sites covering the most people), ``p_median`` and
    ``capacitated_p_median`` (``p`` new sites with the least people-weighted walking
    time; the capacitated one respects ``capacity``).

    Parameters
    ----------
    excluded : sequence of str
        Candidate ``site_id`` values that must not be chosen (NIMBY, land not available).
    unserved_minutes : float, optional
        p-medians: minutes charged per person left unserved, so that too little capacity
        gives the best partial answer instead of ``infeasible``; default: all must be
        served.

    Raises
    ------
    CoverageError
        On an unknown kind, group or model, no candidates, or an unknown excluded site.
    """
    from analysis import location

    standard = _standard(kind, standards)
    group = check_group(group or standard.group)
    check_model(model)
    _check_demand(demand)
    if len(candidates) == 0:
        raise CoverageError("no candidate sites: give a file, a building use, or use cells")
    if model != "lscp" and p < 1:
        raise CoverageError(f"p must be at least 1, got {p}")
    unknown = sorted(set(excluded) - set(candidates["site_id"]))
    if unknown:
        raise CoverageError(f"excluded sites {unknown[:5]} are not among the candidates")
    demand = demand.reset_index(drop=True)
    weights_all = demand[group].to_numpy(np.float64)
    rows = np.flatnonzero(weights_all > 0)
    if len(rows) == 0:
        raise CoverageError(f"nobody of group {group} in the demand")
    d = demand.iloc[rows].reset_index(drop=True)
    weights = weights_all[rows]
    existing = _facilities_of(facilities, kind)
    sites = pd.concat(
        [
            existing.assign(site_id=[f"facility:{i}" for i in existing["id"]])[
                ["site_id", "lon", "lat"]
            ],
            candidates[["site_id", "lon", "lat"]],
        ],
        ignore_index=True,
    )
    n_fixed = len(existing)
    fixed = np.arange(n_fixed)
    excl = n_fixed + np.flatnonzero(candidates["site_id"].isin(list(excluded)).to_numpy())
    d_lon, d_lat = _lonlat(d)
    s_lon, s_lat = _lonlat(sites)
    cover_only = model in ("lscp", "mclp")
    unserved_s = None if unserved_minutes is None else float(unserved_minutes) * 60.0
    times = travel_times(
        network, d_lon, d_lat, s_lon, s_lat, limit_s=standard.limit_s if cover_only else None
    )
    if model == "lscp":
        result = location.lscp(
            location.cover_matrix(times, standard.limit_s),
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            weights=weights,
            times=times,
        )
    elif model == "mclp":
        result = location.mclp(
            location.cover_matrix(times, standard.limit_s),
            weights,
            p,
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            times=times,
        )
    elif model == "p_median":
        result = location.p_median(
            times,
            weights,
            p,
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            unserved_s=unserved_s,
        )
    else:
        cap_existing = (
            pd.to_numeric(existing["capacity"], errors="coerce").to_numpy(np.float64)
            if "capacity" in existing.columns
            else np.full(n_fixed, np.nan)
        )
        cap_new = pd.to_numeric(candidates["capacity"], errors="coerce").to_numpy(np.float64)
        capacity = np.concatenate([cap_existing, cap_new])
        capacity = np.where(np.isfinite(capacity), capacity, np.inf)  # none given: unlimited
        result = location.capacitated_p_median(
            times,
            weights,
            capacity,
            p,
            fixed=fixed,
            excluded=excl,
            time_limit=time_limit,
            unserved_s=unserved_s,
        )
    new_idx = np.asarray(result.sites, np.int64)
    new_idx = new_idx[new_idx >= n_fixed]
    chosen = candidates.iloc[new_idx - n_fixed].reset_index(drop=True)
    within = np.isfinite(times) & (times <= standard.limit_s)
    before = float(weights[within[:, :n_fixed].any(axis=1)].sum()) if n_fixed else 0.0
    open_cols = np.concatenate([fixed, new_idx])
    after = float(weights[within[:, open_cols].any(axis=1)].sum()) if len(open_cols) else 0.0
    uncoverable = d.iloc[np.asarray(result.uncoverable, np.int64)].reset_index(drop=True)
    added = chosen[["name", "lon", "lat", "capacity", "cost"]].copy()
    plan = Plan(name=f"{model}·{len(chosen)}处新增{KIND_NAMES[kind]}", kind=kind, added=added)
    objective = float(result.objective) if result.objective is not None else math.nan
    return Recommendation(
        model=model,
        kind=kind,
        group=group,
        status=str(result.status),
        objective=objective,
        sites=chosen,
        served_before=before,
        served_after=after,
        uncoverable=uncoverable,
        explanation=result.explain()
        + (
            " Site numbers are today's facilities first, then the candidates; the new "
            f"sites are {', '.join(chosen['site_id'].astype(str))}."
            if len(chosen)
            else ""
        ),
        plan=plan,
    )
