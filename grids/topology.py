"""Check that the 网格 of each community tile it; report each problem with where and how to fix it.

The check is pure: GeoDataFrames in, a :class:`TopologyReport` out, no database.  It
finds, per community (社区):

========================  ========================================================
kind                      what
========================  ========================================================
``invalid``               a grid or community whose geometry is not valid (shapely's
                          :func:`shapely.is_valid_reason`), missing or empty.  It is
                          *not* repaired; the other checks see it as
                          :func:`shapely.make_valid` would repair it, so that they
                          can still say something about the rest of the community.
``unknown_community``     a grid whose ``community_code`` matches no community.
``gap``                   a part of a community covered by no grid: the community
                          minus the union of its grids, one row per part.
``overlap``               the area two grids of the same community share, one row
                          per pair (candidate pairs from an STRtree, never all
                          pairs).
``crossing``              the part of a grid outside its community, one row per
                          grid.
``sliver``                a part of a grid that is tiny or thin (see below).
``no_grid``               buildings (and, from the database, facilities and
                          incidents) in no grid: one row per community and kind of
                          record, a MultiPoint of where they are.
``band``                  a base grid whose households are outside the band
                          (300–500 by default); dedicated grids (专属网格, ``kind``
                          ``'dedicated'``) are not sized by households and are
                          skipped.
``outlier``               a grid whose incident load is unusual (see below).
========================  ========================================================

Areas and lengths are measured in metres in one local metric CRS, the UTM zone at the
centre of the data (:func:`gis.coords.local_metric_crs_for`); the overlays themselves
are computed on the coordinates as given, in EPSG:4326, so that the check adds no
error of its own.  Within a city district the UTM area error is below 0.1 %.

Noise.  Overlays snap to a 1e-8° grid (about 1 mm), which removes the sub-millimetre
spikes left where two boundaries meant to coincide carry different vertices.  Each part
is then opened (shrunk and grown back by half ``CheckTolerances.width_m``, mitred), which
removes strips and spikes thinner than ``width_m`` (1 cm) and leaves the rest as it was.
Parts smaller than ``CheckTolerances.area_m2`` (1 m²) or thinner on average than
``width_m`` are not reported: such parts come from coordinate rounding and
reprojection, not from drawing.  Everything above is.

Slivers.  For a polygon of area ``A`` (m²) and perimeter ``P`` (m), the Polsby-Popper
score ``4πA / P²`` is 1 for a circle, 0.785 for a square and about ``π / k`` for a
``k : 1`` strip; the mean width ``2A / P`` is about the width of a long strip.  A part
is a *sliver* when ``A < sliver_area_m2`` (100 m², smaller than a house) or its score
is below ``sliver_polsby_popper`` (0.05, a strip longer than about 60 times its
width).  Grid parts that are slivers are reported as kind ``sliver``; gap, overlap and
crossing rows carry a ``sliver`` flag instead, because a thin gap is still a gap (the
usual cause: two neighbouring boundaries digitised separately that do not meet; the
fix: snap them together).

Incident outliers.  With ``x = log(1 + incidents)`` per grid, the modified z-score of
Iglewicz and Hoaglin is ``z = 0.6745 (x - median(x)) / MAD``, ``MAD = median(|x -
median(x)|)``; a grid with ``|z| > outlier_z`` (3.5) is an outlier, high or low.  When
more than half the grids have the same load (``MAD = 0``) the mean absolute deviation
is used instead (``z = (x - median) / (1.2533 · mean|x - median|)``).  The test runs
only with at least ``outlier_min_grids`` (10) grids with a count: the median and MAD
of fewer say little.  The logarithm tames the right skew of counts; the median and
MAD are not pulled by the outliers they look for.

Gating.  A problem whose kind is in ``CheckTolerances.gate_kinds`` has severity
``'error'``, any other ``'warning'``.  :meth:`TopologyReport.exceeds` is true when
there is an error, where gaps, overlaps and crossings count only from
``area_m2`` upward.  By default the errors are ``invalid``, ``unknown_community``,
``gap``, ``overlap`` and ``crossing``; the warnings ``sliver``, ``no_grid``,
``band`` and ``outlier``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import CRS, Transformer
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from gis.coords import local_metric_crs_for
from gis.errors import GridError, InvalidInput
from gis.settings import Settings, get_settings

__all__ = [
    "AREA_KINDS",
    "DEFAULT_GATE_KINDS",
    "KINDS",
    "KIND_LABELS",
    "PROBLEM_COLUMNS",
    "CheckTolerances",
    "TopologyInputError",
    "TopologyReport",
    "check_grids",
    "polsby_popper",
    "robust_z",
]

KINDS: Final[tuple[str, ...]] = (
    "invalid",
    "unknown_community",
    "gap",
    "overlap",
    "crossing",
    "sliver",
    "no_grid",
    "band",
    "outlier",
)
"""Every kind of problem, in the order reports list them."""

KIND_LABELS: Final[dict[str, str]] = {
    "invalid": "几何无效",
    "unknown_community": "社区不存在",
    "gap": "缝隙（未覆盖）",
    "overlap": "重叠",
    "crossing": "越出社区边界",
    "sliver": "细碎图斑",
    "no_grid": "不在任何网格内",
    "band": "户数超出范围",
    "outlier": "事件量异常",
}
"""Chinese name of each kind, for tables, legends and layer names."""

AREA_KINDS: Final = frozenset({"gap", "overlap", "crossing"})
"""Kinds measured by area; they gate only from ``CheckTolerances.area_m2`` upward."""

DEFAULT_GATE_KINDS: Final = frozenset(
    {"invalid", "unknown_community", "gap", "overlap", "crossing"}
)
"""Kinds that are errors (and fail an import) unless configured otherwise."""

PROBLEM_COLUMNS: Final[tuple[str, ...]] = (
    "kind",
    "severity",
    "community_code",
    "grid_codes",
    "area_m2",
    "value",
    "sliver",
    "message",
    "geometry",
)
"""Columns of :attr:`TopologyReport.problems`."""

_MAD_SCALE: Final = 0.6745
"""Φ⁻¹(0.75): makes the MAD of a normal sample estimate its standard deviation."""
_MEAN_AD_SCALE: Final = 1.2533
"""√(π/2): the same for the mean absolute deviation."""
_WHERE: Final = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")
"""The location in a GEOS validity reason, ``Self-intersection[120.1 30.3]``."""
_PRECISION_DEG: Final = 1e-8
"""Overlays snap to this grid (degrees, about 1 mm): robust results, and no sub-millimetre
spikes where two boundaries meant to coincide carry different vertices."""
_M_PER_DEG: Final = 111_320.0
"""Metres in a degree of latitude: turns the width tolerance into degrees (about)."""
_TOUCH_DEG: Final = 1e-7
"""Distance (degrees, about 1 cm) within which a grid counts as a gap's neighbour."""


class TopologyInputError(GridError, InvalidInput):
    """A frame handed to the check lacks a column or a CRS it needs."""


@dataclass(frozen=True)
class CheckTolerances:
    """What the topology check reports and what makes it fail.

    Parameters
    ----------
    area_m2
        Gap, overlap and crossing parts smaller than this (m²) are not reported; from
        this area up they are, and gate when their kind is in ``gate_kinds``.
    width_m
        Parts thinner on average than this (mean width ``2·area / perimeter``, metres)
        are not reported either: rounding noise along a shared boundary.
    sliver_area_m2
        A grid part (or a gap/overlap/crossing part) smaller than this, m², is a sliver.
    sliver_polsby_popper
        A part whose Polsby-Popper score ``4π·area / perimeter²`` is below this is a
        sliver (0.05: a strip about 60 times longer than wide).
    band_min, band_max
        Households a base grid should hold, inclusive.
    outlier_z
        A grid whose robust z-score of ``log(1 + incidents)`` exceeds this in
        absolute value is an outlier.
    outlier_min_grids
        The outlier test runs only with at least this many grids with a count.
    gate_kinds
        Kinds that are errors (severity ``'error'``) and make
        :meth:`TopologyReport.exceeds` true; the others are warnings.

    Raises
    ------
    ValueError
        On a negative tolerance, ``band_min > band_max`` or an unknown kind.
    """

    area_m2: float = 1.0
    width_m: float = 0.01
    sliver_area_m2: float = 100.0
    sliver_polsby_popper: float = 0.05
    band_min: int = 300
    band_max: int = 500
    outlier_z: float = 3.5
    outlier_min_grids: int = 10
    gate_kinds: frozenset[str] = field(default=DEFAULT_GATE_KINDS)

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **overrides: Any) -> CheckTolerances:
        """Tolerances configured through ``WANGGE_`` settings (see gis.settings)."""
        s = settings or get_settings()
        values: dict[str, Any] = {
            "area_m2": s.topology_area_tolerance_m2,
            "sliver_area_m2": s.topology_sliver_area_m2,
            "band_min": s.grid_households_min,
            "band_max": s.grid_households_max,
            "outlier_z": s.incident_outlier_z,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gate_kinds", frozenset(self.gate_kinds))
        numbers = {
            "area_m2": self.area_m2,
            "width_m": self.width_m,
            "sliver_area_m2": self.sliver_area_m2,
            "sliver_polsby_popper": self.sliver_polsby_popper,
            "band_min": self.band_min,
            "outlier_z": self.outlier_z,
            "outlier_min_grids": self.outlier_min_grids,
        }
        negative = [name for name, value in numbers.items() if not value >= 0]
        if negative:
            raise ValueError(f"tolerances must be >= 0: {', '.join(negative)}")
        if self.band_min > self.band_max:
            raise ValueError(
                f"band_min ({self.band_min}) is above band_max ({self.band_max}): swap them"
            )
        unknown = sorted(self.gate_kinds - set(KINDS))
        if unknown:
            raise ValueError(
                f"unknown problem kind(s) in gate_kinds: {', '.join(unknown)} "
                f"(known: {', '.join(KINDS)})"
            )

    def severity(self, kind: str) -> str:
        """Return ``'error'`` for a kind that gates, else ``'warning'``."""
        return "error" if kind in self.gate_kinds else "warning"


@dataclass
class TopologyReport:
    """What :func:`check_grids` found.

    Attributes
    ----------
    problems
        One row per problem, EPSG:4326, columns :data:`PROBLEM_COLUMNS`: ``kind``,
        ``severity`` (``'error'``/``'warning'``), ``community_code``, ``grid_codes``
        (comma-joined; for a gap, the grids around it; for no_grid, the nearest
        grids), ``area_m2`` (m², NaN when not an area), ``value`` (gap, overlap,
        crossing: mean width in m; sliver: Polsby-Popper score; band: households;
        outlier: robust z-score; no_grid: number of records; else NaN), ``sliver``
        (the part is tiny or thin), ``message`` (Chinese and English: what, where,
        how to fix) and ``geometry`` (the gap or overlap polygon, the part outside,
        the grid, the point of an invalidity, the records in no grid).  Errors first.
    tolerances
        The tolerances the check ran with.
    metric_crs
        The CRS areas were measured in (None when there was nothing to measure).
    grids_checked, communities_checked
        How many grids and communities were looked at.
    """

    problems: gpd.GeoDataFrame
    tolerances: CheckTolerances
    metric_crs: CRS | None = None
    grids_checked: int = 0
    communities_checked: int = 0

    @property
    def summary(self) -> dict[str, int]:
        """Number of problems of each kind, every kind listed (in :data:`KINDS` order)."""
        counts = self.problems["kind"].value_counts()
        return {kind: int(counts.get(kind, 0)) for kind in KINDS}

    @property
    def errors(self) -> int:
        """Number of problems with severity ``'error'``."""
        return int((self.problems["severity"] == "error").sum())

    @property
    def warnings(self) -> int:
        """Number of problems with severity ``'warning'``."""
        return int((self.problems["severity"] == "warning").sum())

    def exceeds(self, tolerances: CheckTolerances | None = None) -> bool:
        """Tell whether the problems break the tolerances (and an import must stop).

        Parameters
        ----------
        tolerances
            Default: the ones the check ran with.  Others may be stricter or looser
            in ``gate_kinds`` and ``area_m2``; parts the check did not report (below
            its own ``area_m2`` or ``width_m``) cannot come back.

        Returns
        -------
        bool
            True when a problem's kind is in ``gate_kinds`` and, for gaps, overlaps
            and crossings, its area is at least ``area_m2``.
        """
        tol = tolerances or self.tolerances
        p = self.problems
        gated = p["kind"].isin(list(tol.gate_kinds)).to_numpy()
        by_area = p["kind"].isin(list(AREA_KINDS)).to_numpy()
        area = p["area_m2"].to_numpy(dtype=float)
        big = ~by_area | (np.nan_to_num(area, nan=np.inf) >= tol.area_m2)
        return bool((gated & big).any())

    def to_geojson(self) -> dict[str, Any]:
        """Return the problems as an RFC 7946 FeatureCollection.

        Coordinates are lon/lat (EPSG:4326, no ``crs`` member), polygon exteriors
        counter-clockwise, missing numbers ``null``.

        Returns
        -------
        dict
            Ready for :func:`json.dumps` (no NaN in it).
        """
        p = self.problems
        geoms = shapely.orient_polygons(np.asarray(p.geometry.array, dtype=object))
        features = []
        columns = [c for c in PROBLEM_COLUMNS if c != "geometry"]
        for i, (row, geom) in enumerate(
            zip(p[columns].itertuples(index=False, name=None), geoms, strict=True)
        ):
            props = {c: _json_value(v) for c, v in zip(columns, row, strict=True)}
            props["kind_label"] = KIND_LABELS.get(str(props["kind"]), props["kind"])
            features.append(
                {
                    "type": "Feature",
                    "id": i + 1,
                    "properties": props,
                    "geometry": None if geom is None else mapping(geom),
                }
            )
        return {"type": "FeatureCollection", "features": features}


def polsby_popper(area_m2: npt.ArrayLike, perimeter_m: npt.ArrayLike) -> np.ndarray:
    """Return the Polsby-Popper compactness ``4π·area / perimeter²`` (0 when no perimeter).

    Parameters
    ----------
    area_m2, perimeter_m
        Areas (m²) and perimeters (m) of polygons, in a metric CRS.

    Returns
    -------
    numpy.ndarray
        Scores in [0, 1]: 1 for a circle, 0.785 for a square, near 0 for a thin strip.
    """
    a = np.asarray(area_m2, dtype=float)
    p = np.asarray(perimeter_m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, 4.0 * math.pi * a / (p * p), 0.0)


# ------------------------------------------------------------------- the check


def check_grids(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    incidents_per_grid: pd.Series | None = None,
    tolerances: CheckTolerances | None = None,
) -> TopologyReport:
    """Check that the grids of each community tile it, and find grids to look at.

    Parameters
    ----------
    grids
        (Multi)Polygons, any CRS (EPSG:4326 assumed when none), columns
        ``community_code`` and the geometry; optional ``code`` (grids without one are
        named ``#<row>``, 1-based), ``id`` (None for a file not loaded yet),
        ``households`` and ``kind`` (``'base'``/``'dedicated'``).
    communities
        Community polygons with ``code`` and optional ``name``.  Only the
        communities given are checked for gaps.
    buildings
        Either building points (``grid_id`` nullable, ``households``; as
        :func:`gis.store.grid_store.building_points` gives) or the records in no grid
        (``kind``, ``id``, ``households``; :func:`gis.store.grid_store.records_in_no_grid`).
        Building points are in no grid when ``grid_id`` is null, or, when the grids
        carry no ``id`` (a file not loaded yet) or the frame has no ``grid_id``, when
        no grid covers them.  When ``grids`` has no ``households`` column, building
        points also give each grid its households (a point covered by several grids
        counts for the first).
    incidents_per_grid
        Incidents per grid (e.g. of the last 90 days), indexed by grid ``id`` (as
        ``incident_counts(...).set_index("grid_id")["incidents"]``) or by grid code.
        Grids missing from it are left out of the outlier test.
    tolerances
        What to report and what gates; default :class:`CheckTolerances`.

    Returns
    -------
    TopologyReport
        The problems (EPSG:4326) and the tolerances used.

    Raises
    ------
    TopologyInputError
        If a frame lacks a column the check needs.
    """
    tol = tolerances or CheckTolerances.from_settings()
    grids = _wgs84(grids, "grids", ["community_code"])
    communities = _wgs84(communities, "communities", ["code"])
    if buildings is not None:
        buildings = _wgs84(buildings, "buildings", [])

    parts: list[pd.DataFrame] = []
    everything = [f for f in (communities, grids) if len(f)]
    if not everything:
        return TopologyReport(_frame(parts, tol), tol)
    try:
        crs: CRS | None = local_metric_crs_for(pd.concat([f.geometry for f in everything]))
    except ValueError:  # no geometry at all: nothing will be measured
        crs = None
    metric = _Metric(crs or CRS.from_epsg(3857))

    g = _Grids.of(grids)
    c = _Communities.of(communities)
    parts.append(_invalid(g, c))
    parts.append(_unknown_community(g, c))
    parts.append(_gaps(g, c, metric, tol))
    parts.append(_overlaps(g, c, metric, tol))
    parts.append(_crossings(g, c, metric, tol))
    parts.append(_slivers(g, c, metric, tol))
    households = g.households
    if buildings is not None and len(buildings):
        parts.append(_no_grid(buildings, g, c))
        if households is None and "kind" not in buildings and "households" in buildings:
            households = _households_from_points(buildings, g)
    if households is not None:
        parts.append(_band(g, c, households, tol))
    if incidents_per_grid is not None:
        parts.append(_outliers(g, c, incidents_per_grid, tol))
    return TopologyReport(
        _frame(parts, tol),
        tol,
        metric_crs=crs,
        grids_checked=len(grids),
        communities_checked=len(communities),
    )


# ------------------------------------------------------------------- inputs


def _wgs84(gdf: gpd.GeoDataFrame, what: str, required: Sequence[str]) -> gpd.GeoDataFrame:
    """Check columns; return the frame in EPSG:4326 with a fresh 0..n-1 index."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TopologyInputError(f"{what}: a GeoDataFrame is needed, not {type(gdf).__name__}")
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise TopologyInputError(
            f"{what}: missing column(s) {', '.join(missing)} "
            f"(columns: {', '.join(map(str, gdf.columns))})"
        )
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    elif not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)):
        gdf = gdf.to_crs(4326)
    return gdf.reset_index(drop=True)


def _text(value: object) -> str | None:
    """A code as text; None for missing values (None, NaN, pd.NA, blank)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


@dataclass
class _Grids:
    """The grids as arrays: labels, communities and the geometry the overlays use."""

    frame: gpd.GeoDataFrame
    labels: np.ndarray
    community: np.ndarray
    geoms: np.ndarray
    """The geometry as given (None for missing)."""
    usable: np.ndarray
    """Polygonal geometry for the overlays: invalid ones made valid, missing/empty None."""
    reasons: list[str | None]
    """Why each geometry is invalid, None when valid."""
    ids: np.ndarray | None
    households: np.ndarray | None
    base: np.ndarray

    @classmethod
    def of(cls, grids: gpd.GeoDataFrame) -> _Grids:
        n = len(grids)
        codes = [_text(v) for v in grids["code"]] if "code" in grids else [None] * n
        labels = np.array([code or f"#{i + 1}" for i, code in enumerate(codes)], dtype=object)
        community = np.array([_text(v) for v in grids["community_code"]], dtype=object)
        geoms = np.asarray(grids.geometry.array, dtype=object)
        usable, reasons = _usable(geoms)
        ids = None
        if "id" in grids and n and grids["id"].notna().all():
            ids = grids["id"].to_numpy()
        households = None
        if "households" in grids:
            households = pd.to_numeric(grids["households"], errors="coerce").to_numpy(float)
        base = np.ones(n, dtype=bool)
        if "kind" in grids:
            base = ~grids["kind"].astype(object).isin(["dedicated"]).to_numpy()
        return cls(grids, labels, community, geoms, usable, reasons, ids, households, base)


@dataclass
class _Communities:
    """The communities as arrays, with a lookup from code to position."""

    codes: np.ndarray
    names: np.ndarray
    geoms: np.ndarray
    usable: np.ndarray
    reasons: list[str | None]
    position: dict[str, int]

    @classmethod
    def of(cls, communities: gpd.GeoDataFrame) -> _Communities:
        codes = np.array([_text(v) or "" for v in communities["code"]], dtype=object)
        if "name" in communities:
            names = np.array([_text(v) or "" for v in communities["name"]], dtype=object)
        else:
            names = np.full(len(codes), "", dtype=object)
        geoms = np.asarray(communities.geometry.array, dtype=object)
        usable, reasons = _usable(geoms)
        position = {code: i for i, code in enumerate(codes) if code}
        return cls(codes, names, geoms, usable, reasons, position)

    def title(self, code: str | None) -> str:
        """``名称(编码)`` of a community, or the bare code when it is unknown."""
        if code is None:
            return "?"
        i = self.position.get(code)
        name = self.names[i] if i is not None else ""
        return f"{name}({code})" if name else code


def _usable(geoms: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Return polygonal geometries safe to overlay, and why each input is invalid."""
    missing = shapely.is_missing(geoms)
    empty = np.zeros(len(geoms), dtype=bool)
    empty[~missing] = shapely.is_empty(geoms[~missing])
    valid_reason = shapely.is_valid_reason(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    reasons: list[str | None] = []
    usable = geoms.copy()
    for i, reason in enumerate(valid_reason):
        if missing[i]:
            reasons.append("missing geometry 缺少几何")
            usable[i] = None
        elif empty[i]:
            reasons.append("empty geometry 空几何")
            usable[i] = None
        elif reason != "Valid Geometry":
            reasons.append(str(reason))
            usable[i] = _polygonal(shapely.make_valid(geoms[i]))
        elif not polygonal[i]:
            reasons.append(f"not a polygon 不是面: {geoms[i].geom_type}")
            usable[i] = _polygonal(geoms[i])
        else:
            reasons.append(None)
    return usable, reasons


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal parts of a geometry as one (Multi)Polygon, None if there are none."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if len(parts) == 0:
        return None
    return shapely.union_all(parts)


# ------------------------------------------------------------------- measuring


class _Metric:
    """Areas and lengths in metres, in one local metric CRS."""

    def __init__(self, crs: CRS) -> None:
        self.crs = crs
        self._to_metric = Transformer.from_crs(4326, crs, always_xy=True)

    def _project(self, xy: np.ndarray) -> np.ndarray:
        x, y = self._to_metric.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def measure(self, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Area (m²) and perimeter (m) of EPSG:4326 geometries; NaN for missing ones."""
        if len(geoms) == 0:
            return np.empty(0), np.empty(0)
        projected = shapely.transform(np.asarray(geoms, dtype=object), self._project)
        return shapely.area(projected), shapely.length(projected)


@dataclass
class _Parts:
    """Polygon parts of some geometries, measured, noise dropped, grouped back by owner."""

    geoms: np.ndarray
    owner: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray

    @classmethod
    def of(
        cls,
        geoms: np.ndarray,
        metric: _Metric,
        tol: CheckTolerances,
        owner: np.ndarray | None = None,
    ) -> _Parts:
        """Explode ``geoms`` to polygons; keep those above the noise tolerances."""
        geoms = np.asarray(geoms, dtype=object)
        owner = np.arange(len(geoms)) if owner is None else np.asarray(owner)
        parts, index = shapely.get_parts(geoms, return_index=True)
        keep = shapely.get_type_id(parts) == 3  # polygons: drop lines and points of overlays
        # an opening (shrink, then grow back by half width_m, mitred) removes the spikes
        # and strips thinner than width_m and leaves everything wider as it was
        eps = tol.width_m / 2.0 / _M_PER_DEG
        shrunk = shapely.buffer(parts[keep], -eps, join_style="mitre")
        opened = shapely.buffer(shrunk, eps, join_style="mitre")
        parts, opened_index = shapely.get_parts(opened, return_index=True)
        index = index[keep][opened_index]
        keep = shapely.get_type_id(parts) == 3
        parts, index = parts[keep], index[keep]
        area, perimeter = metric.measure(parts)
        keep = (area >= tol.area_m2) & (_mean_width(area, perimeter) >= tol.width_m)
        return cls(parts[keep], owner[index[keep]], area[keep], perimeter[keep])

    def grouped(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Owners, their (Multi)Polygon of kept parts, total area (m²), total perimeter (m)."""
        owners, group, count = np.unique(self.owner, return_inverse=True, return_counts=True)
        order = np.argsort(group, kind="stable")
        geoms = shapely.multipolygons(self.geoms[order], indices=group[order])
        single = count == 1
        if single.any():
            geoms[single] = shapely.get_geometry(geoms[single], 0)
        area = np.bincount(group, self.area, len(owners))
        perimeter = np.bincount(group, self.perimeter, len(owners))
        return owners, geoms, area, perimeter


def _mean_width(area: np.ndarray, perimeter: np.ndarray) -> np.ndarray:
    """Mean width ``2·area / perimeter`` (m): about a long strip's width; 0 without perimeter."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 2.0 * area / perimeter, 0.0)


def _sliver(area: np.ndarray, perimeter: np.ndarray, tol: CheckTolerances) -> np.ndarray:
    """Which parts are slivers: tiny, or thin by their Polsby-Popper score."""
    return (area < tol.sliver_area_m2) | (polsby_popper(area, perimeter) < tol.sliver_polsby_popper)


# ------------------------------------------------------------------- the checks


def _rows(kind: str, **columns: Any) -> pd.DataFrame:
    """A block of problem rows of one kind (severity is set once, at the end)."""
    if not columns:
        return pd.DataFrame({column: [] for column in PROBLEM_COLUMNS if column != "severity"})
    return pd.DataFrame({"kind": kind, **columns})


def _invalid(g: _Grids, c: _Communities) -> pd.DataFrame:
    blocks = []
    for owner, reasons, geoms in (("grid", g.reasons, g.geoms), ("community", c.reasons, c.geoms)):
        rows = [i for i, r in enumerate(reasons) if r is not None]
        if not rows:
            continue
        where = [_where(reasons[i], geoms[i]) for i in rows]
        if owner == "grid":
            community = [g.community[i] for i in rows]
            labels = [g.labels[i] for i in rows]
            messages = [
                f"网格 {g.labels[i]} 几何无效（{reasons[i]}），请在 GIS 中重绘"
                "（QGIS：检查有效性）；"
                f"系统不会自动修复，因为修复会改变面积。Grid {g.labels[i]} of community "
                f"{c.title(g.community[i])} has invalid geometry ({reasons[i]}): redraw it "
                "in a GIS (QGIS: Vector > Geometry Tools > Check Validity); it is not "
                "repaired automatically because a repair can change its area."
                for i in rows
            ]
        else:
            community = [c.codes[i] for i in rows]
            labels = [""] * len(rows)
            messages = [
                f"社区 {c.title(c.codes[i])} 边界几何无效（{reasons[i]}），请重新导入边界。"
                f"The boundary of community {c.title(c.codes[i])} is invalid ({reasons[i]}): "
                "fix it and import it again (wangge areas import)."
                for i in rows
            ]
        blocks.append(
            _rows(
                "invalid",
                community_code=community,
                grid_codes=labels,
                area_m2=np.nan,
                value=np.nan,
                sliver=False,
                message=messages,
                geometry=where,
            )
        )
    return pd.concat(blocks, ignore_index=True) if blocks else _rows("invalid")


def _where(reason: str | None, geom: BaseGeometry | None) -> BaseGeometry | None:
    """The point a validity reason names, else the geometry itself."""
    match = _WHERE.search(reason or "")
    if match:
        return shapely.Point(float(match.group(1)), float(match.group(2)))
    return None if geom is None or shapely.is_empty(geom) else geom


def _unknown_community(g: _Grids, c: _Communities) -> pd.DataFrame:
    rows = [i for i, code in enumerate(g.community) if code not in c.position]
    messages = []
    for i in rows:
        code = g.community[i]
        if code is None:
            messages.append(
                f"网格 {g.labels[i]} 没有社区编码，请补充 community_code。Grid {g.labels[i]} "
                "has no community code: fill in community_code (12 digits) or import it "
                "with --community."
            )
        else:
            messages.append(
                f"网格 {g.labels[i]} 的社区编码 {code} 不存在。Grid {g.labels[i]} names "
                f"community {code}, which is not among the communities checked: correct "
                "its community_code, or load that community's boundary first "
                "(wangge areas import)."
            )
    return _rows(
        "unknown_community",
        community_code=[g.community[i] for i in rows],
        grid_codes=[g.labels[i] for i in rows],
        area_m2=np.nan,
        value=np.nan,
        sliver=False,
        message=messages,
        geometry=[g.geoms[i] for i in rows],
    )


def _members(g: _Grids, c: _Communities) -> list[np.ndarray]:
    """Positions of the usable grids of each community."""
    pos = np.array([c.position.get(code, -1) if code else -1 for code in g.community], dtype=int)
    ok = pos >= 0
    ok &= ~shapely.is_missing(g.usable)
    order = np.argsort(pos, kind="stable")
    order = order[ok[order]]
    bounds = np.searchsorted(pos[order], np.arange(len(c.codes) + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(len(c.codes))]


def _gaps(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    members = _members(g, c)
    covered = np.array(
        [
            shapely.union_all(g.usable[m], grid_size=_PRECISION_DEG) if len(m) else None
            for m in members
        ],
        dtype=object,
    )
    has = ~shapely.is_missing(c.usable)
    gaps = np.full(len(c.codes), None, dtype=object)
    with_grids = has & ~shapely.is_missing(covered)
    gaps[with_grids] = shapely.difference(
        c.usable[with_grids], covered[with_grids], grid_size=_PRECISION_DEG
    )
    gaps[has & ~with_grids] = c.usable[has & ~with_grids]
    parts = _Parts.of(gaps, metric, tol)
    if len(parts.geoms) == 0:
        return _rows("gap")
    # the grids around each gap: within about a centimetre of it, in its community
    tree = shapely.STRtree(g.usable)
    gi, ni = tree.query(parts.geoms, predicate="dwithin", distance=_TOUCH_DEG)
    same = g.community[ni] == c.codes[parts.owner[gi]]
    neighbours: list[list[str]] = [[] for _ in parts.geoms]
    for k, n in zip(gi[same], ni[same], strict=True):
        neighbours[k].append(str(g.labels[n]))
    sliver = _sliver(parts.area, parts.perimeter, tol)
    width = _mean_width(parts.area, parts.perimeter)
    points = shapely.point_on_surface(parts.geoms)
    messages = []
    for k, owner in enumerate(parts.owner):
        title = c.title(c.codes[owner])
        at = _lonlat(points[k])
        around = ", ".join(sorted(set(neighbours[k])))
        if not len(members[owner]):
            messages.append(
                f"社区 {title} 没有任何网格（{_area(parts.area[k])}）。Community {title} has "
                "no grids: draw them (wangge grids design) or import them (wangge grids import)."
            )
            continue
        fix_cn = (
            f"请把相邻网格 {around} 延伸覆盖此处，或新增网格" if around else "请新增网格覆盖此处"
        )
        fix_en = (
            f"extend the neighbouring grid(s) {around} over it, or add a grid"
            if around
            else "add a grid over it"
        )
        thin_cn = thin_en = ""
        if sliver[k]:
            thin_cn = f"（细长缝隙，平均宽 {width[k]:.2f} m，多为相邻边界未对齐：请捕捉对齐）"
            thin_en = (
                f" It is a sliver ({width[k]:.2f} m wide on average): neighbouring "
                "boundaries that do not meet; snap them together."
            )
        messages.append(
            f"社区 {title} 有 {_area(parts.area[k])} 未被任何网格覆盖，位于 {at}；{fix_cn}。"
            f"{thin_cn} Gap: {_area(parts.area[k])} of community {title} near {at} lies in "
            f"no grid: {fix_en}.{thin_en}"
        )
    return _rows(
        "gap",
        community_code=c.codes[parts.owner],
        grid_codes=[", ".join(sorted(set(n))) for n in neighbours],
        area_m2=parts.area,
        value=width,
        sliver=sliver,
        message=messages,
        geometry=parts.geoms,
    )


def _overlaps(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    known = np.array([code in c.position for code in g.community], dtype=bool)
    geoms = g.usable.copy()
    geoms[~known] = None
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = (a < b) & (g.community[a] == g.community[b])
    a, b = a[keep], b[keep]
    # pairs whose interiors share an area (not just an edge or a corner)
    inner = shapely.relate_pattern(geoms[a], geoms[b], "2********")
    a, b = a[inner], b[inner]
    if len(a) == 0:
        return _rows("overlap")
    parts = _Parts.of(
        shapely.intersection(geoms[a], geoms[b], grid_size=_PRECISION_DEG), metric, tol
    )
    if len(parts.geoms) == 0:
        return _rows("overlap")
    pair, shapes, area, perimeter = parts.grouped()
    a, b = a[pair], b[pair]
    sliver = _sliver(area, perimeter, tol)
    width = _mean_width(area, perimeter)
    points = shapely.point_on_surface(shapes)
    messages = []
    for k in range(len(pair)):
        ga, gb = g.labels[a[k]], g.labels[b[k]]
        at = _lonlat(points[k])
        thin_cn = (
            f"（细长重叠，平均宽 {width[k]:.2f} m：请把共用边界捕捉对齐）" if sliver[k] else ""
        )
        thin_en = (
            f" It is a sliver ({width[k]:.2f} m wide on average): snap the shared boundary."
            if sliver[k]
            else ""
        )
        messages.append(
            f"网格 {ga} 与 {gb} 重叠 {_area(area[k])}，位于 {at}；请确定该区域归属，"
            f"从另一网格中裁去。{thin_cn} Grids {ga} and {gb} of community "
            f"{c.title(g.community[a[k]])} overlap by {_area(area[k])} near {at}: decide "
            f"which grid the area belongs to and cut it from the other.{thin_en}"
        )
    return _rows(
        "overlap",
        community_code=g.community[a],
        grid_codes=[f"{x}, {y}" for x, y in zip(g.labels[a], g.labels[b], strict=True)],
        area_m2=area,
        value=width,
        sliver=sliver,
        message=messages,
        geometry=shapes,
    )


def _crossings(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    pos = np.array([c.position.get(code, -1) if code else -1 for code in g.community], dtype=int)
    ok = (pos >= 0) & ~shapely.is_missing(g.usable)
    ok[ok] &= ~shapely.is_missing(c.usable[pos[ok]])
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return _rows("crossing")
    outside = shapely.difference(g.usable[idx], c.usable[pos[idx]], grid_size=_PRECISION_DEG)
    parts = _Parts.of(outside, metric, tol, owner=idx)
    if len(parts.geoms) == 0:
        return _rows("crossing")
    grid, shapes, area, perimeter = parts.grouped()
    sliver = _sliver(area, perimeter, tol)
    width = _mean_width(area, perimeter)
    points = shapely.point_on_surface(shapes)
    messages = []
    for k, i in enumerate(grid):
        title = c.title(g.community[i])
        at = _lonlat(points[k])
        messages.append(
            f"网格 {g.labels[i]} 有 {_area(area[k])} 越出所属社区 {title} 的边界，位于 {at}；"
            f"请沿社区边界裁剪，或改正其社区。Grid {g.labels[i]} reaches {_area(area[k])} "
            f"outside its community {title} near {at}: clip it to the community boundary, "
            "or give it the right community."
        )
    return _rows(
        "crossing",
        community_code=g.community[grid],
        grid_codes=g.labels[grid],
        area_m2=area,
        value=width,
        sliver=sliver,
        message=messages,
        geometry=shapes,
    )


def _slivers(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    ok = np.flatnonzero(~shapely.is_missing(g.usable))
    if len(ok) == 0:
        return _rows("sliver")
    parts, index = shapely.get_parts(g.usable[ok], return_index=True)
    owner = ok[index]
    area, perimeter = metric.measure(parts)
    thin = _sliver(area, perimeter, tol)
    if not thin.any():
        return _rows("sliver")
    parts, owner, area, perimeter = parts[thin], owner[thin], area[thin], perimeter[thin]
    score = polsby_popper(area, perimeter)
    width = _mean_width(area, perimeter)
    points = shapely.point_on_surface(parts)
    messages = []
    for k, i in enumerate(owner):
        at = _lonlat(points[k])
        what_cn = "细碎" if area[k] < tol.sliver_area_m2 else "细长"
        what_en = "tiny" if area[k] < tol.sliver_area_m2 else "thin"
        messages.append(
            f"网格 {g.labels[i]} 有{what_cn}图斑 {_area(area[k])}（紧凑度 {score[k]:.3f}，"
            f"平均宽 {width[k]:.1f} m），位于 {at}；请并入相邻网格或删除。Grid {g.labels[i]} "
            f"of community {c.title(g.community[i])} has a {what_en} part of "
            f"{_area(area[k])} (Polsby-Popper {score[k]:.3f}, {width[k]:.1f} m wide on "
            f"average) near {at}: merge it into a neighbouring grid or remove it."
        )
    return _rows(
        "sliver",
        community_code=g.community[owner],
        grid_codes=g.labels[owner],
        area_m2=area,
        value=score,
        sliver=True,
        message=messages,
        geometry=parts,
    )


_RECORD_NAMES: Final[dict[str, tuple[str, str, str]]] = {
    "building": ("楼栋", "栋", "building(s)"),
    "facility": ("设施", "处", "facility(ies)"),
    "incident": ("事件", "件", "incident(s)"),
}


def _record_points(records: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each record's point (its point on surface; None when missing) and which have one."""
    geoms = np.asarray(records.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    points = np.full(len(geoms), None, dtype=object)
    points[present] = shapely.point_on_surface(geoms[present])
    return points, present


def _no_grid(buildings: gpd.GeoDataFrame, g: _Grids, c: _Communities) -> pd.DataFrame:
    points, present = _record_points(buildings)
    grid_tree = shapely.STRtree(g.usable)
    if "kind" in buildings and "grid_id" not in buildings:
        lost = present.copy()  # records_in_no_grid: the database says so
    elif "grid_id" in buildings and g.ids is not None:
        lost = present & buildings["grid_id"].isna().to_numpy()
    else:
        lost = present.copy()
        pi, _ = grid_tree.query(points, predicate="intersects")
        lost[pi] = False
    idx = np.flatnonzero(lost)
    if len(idx) == 0:
        return _rows("no_grid")
    kinds = (
        buildings["kind"].astype(object).to_numpy()[idx]
        if "kind" in buildings
        else np.full(len(idx), "building", dtype=object)
    )
    households = (
        pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()[idx]
        if "households" in buildings
        else np.zeros(len(idx))
    )
    ids = buildings["id"].to_numpy()[idx] if "id" in buildings else idx + 1
    pts = points[idx]
    # the community each record lies in, and the grid nearest to it
    comm = np.full(len(idx), None, dtype=object)
    pi, ci = shapely.STRtree(c.usable).query(pts, predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    comm[pi[first]] = c.codes[ci[first]]
    nearest = np.full(len(idx), None, dtype=object)
    if len(g.usable) and (~shapely.is_missing(g.usable)).any():
        pi, gi = grid_tree.query_nearest(pts, all_matches=False)
        nearest[pi] = g.labels[gi]
    frame = pd.DataFrame(
        {"community": comm, "kind": kinds, "households": households, "id": ids, "near": nearest}
    )
    rows: list[dict[str, Any]] = []
    for (community, kind), part in frame.groupby(
        [frame["community"].fillna(""), frame["kind"]], sort=True
    ):
        where_idx = part.index.to_numpy()
        cn, unit, en = _RECORD_NAMES.get(str(kind), (str(kind), "个", f"{kind}(s)"))
        n = len(part)
        hh = int(part["households"].sum())
        shown = ", ".join(str(v) for v in part["id"].head(10)) + (", …" if n > 10 else "")
        near = sorted({str(v) for v in part["near"] if v is not None})
        place_cn = f"社区 {c.title(community)} 内" if community else "所有社区之外"
        place_en = f"in community {c.title(community)}" if community else "outside every community"
        hh_cn = f"（{hh} 户）" if hh else ""
        hh_en = f" ({hh} households)" if hh else ""
        near_text = ", ".join(near) or "-"
        rows.append(
            {
                "community_code": community or None,
                "grid_codes": ", ".join(near),
                "value": float(n),
                "message": f"{place_cn}有 {n} {unit}{cn}{hh_cn}不在任何网格内（编号 {shown}），"
                f"最近的网格 {near_text}；请扩展网格覆盖它们，或运行 wangge locate 重新定位。"
                f"{n} {en}{hh_en} {place_en} lie in no grid (ids {shown}); nearest grid(s) "
                f"{near_text}: extend a grid over them, or run `wangge locate` if the grids "
                "already cover them.",
                "geometry": shapely.multipoints(list(pts[where_idx])),
            }
        )
    out = pd.DataFrame(rows)
    out.insert(0, "kind", "no_grid")
    out["area_m2"] = np.nan
    out["sliver"] = False
    return out


def _households_from_points(buildings: gpd.GeoDataFrame, g: _Grids) -> np.ndarray:
    """Households per grid from building points; a point in several grids counts for the first."""
    points, _ = _record_points(buildings)
    weights = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
    pi, gi = shapely.STRtree(g.usable).query(points, predicate="intersects")
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.unique(pi, return_index=True)[1]
    return np.bincount(gi[first], weights[pi[first]], minlength=len(g.labels))


def _band(g: _Grids, c: _Communities, households: np.ndarray, tol: CheckTolerances) -> pd.DataFrame:
    hh = np.asarray(households, dtype=float)
    out = g.base & ~np.isnan(hh) & ((hh < tol.band_min) | (hh > tol.band_max))
    idx = np.flatnonzero(out)
    messages = []
    for i in idx:
        n = int(hh[i])
        low = n < tol.band_min
        band = f"{tol.band_min}–{tol.band_max}"
        messages.append(
            f"网格 {g.labels[i]} 有 {n} 户，{'低于' if low else '高于'} {band} 户的范围；"
            f"请{'与相邻网格合并' if low else '拆分'}或重新划分（wangge grids design）。Grid "
            f"{g.labels[i]} of community {c.title(g.community[i])} holds {n} households, "
            f"{'below' if low else 'above'} the {band} band: "
            f"{'merge it with a neighbour' if low else 'split it'} or redraw the "
            "community's grids (wangge grids design)."
        )
    return _rows(
        "band",
        community_code=g.community[idx],
        grid_codes=g.labels[idx],
        area_m2=np.nan,
        value=hh[idx],
        sliver=False,
        message=messages,
        geometry=g.geoms[idx],
    )


def robust_z(values: npt.ArrayLike) -> np.ndarray:
    """Modified z-scores (Iglewicz and Hoaglin): ``0.6745 (x - median) / MAD``.

    When the MAD is 0 (more than half the values equal) the mean absolute deviation
    scaled by 1.2533 stands in; when that is 0 too, every score is 0.

    Parameters
    ----------
    values
        The sample (e.g. ``log(1 + incidents)``), without NaN.

    Returns
    -------
    numpy.ndarray
        One score per value.
    """
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return np.empty(0)
    deviation = x - np.median(x)
    mad = float(np.median(np.abs(deviation)))
    if mad > 0:
        return _MAD_SCALE * deviation / mad
    mean_ad = float(np.mean(np.abs(deviation)))
    if mean_ad > 0:
        return deviation / (_MEAN_AD_SCALE * mean_ad)
    return np.zeros_like(x)


def _outliers(
    g: _Grids, c: _Communities, incidents: pd.Series, tol: CheckTolerances
) -> pd.DataFrame:
    counts = pd.to_numeric(incidents, errors="coerce")
    keys: Iterable[Any]
    if g.ids is not None and counts.index.isin(g.ids).any():
        keys = g.ids
    else:
        keys = [str(v) for v in g.labels]
        counts.index = counts.index.map(str)
    per_grid = counts.groupby(level=0).sum().reindex(list(keys)).to_numpy(float)
    have = np.flatnonzero(~np.isnan(per_grid))
    if len(have) < tol.outlier_min_grids:
        return _rows("outlier")
    x = np.log1p(np.clip(per_grid[have], 0, None))
    z = robust_z(x)
    flagged = np.abs(z) > tol.outlier_z
    idx, z = have[flagged], z[flagged]
    median = float(np.expm1(np.median(x)))
    messages = []
    for i, score in zip(idx, z, strict=True):
        n = int(per_grid[i])
        high = score > 0
        messages.append(
            f"网格 {g.labels[i]} 事件量 {n} 件，{'远高于' if high else '远低于'}各网格中位数 "
            f"{median:.0f} 件（稳健 z = {score:.1f}）；"
            f"{'请核查负荷，考虑拆分网格或增派网格员' if high else '请核查巡查与上报是否正常'}。"
            f"Grid {g.labels[i]} of community {c.title(g.community[i])} had {n} incidents, "
            f"far {'above' if high else 'below'} the median of {median:.0f} (robust z = "
            f"{score:.1f}): "
            + (
                "check the workload; split the grid or add a worker."
                if high
                else "check that it is patrolled and that reports reach the system."
            )
        )
    return _rows(
        "outlier",
        community_code=g.community[idx],
        grid_codes=g.labels[idx],
        area_m2=np.nan,
        value=z,
        sliver=False,
        message=messages,
        geometry=g.geoms[idx],
    )


# ------------------------------------------------------------------- the report


def _frame(blocks: list[pd.DataFrame], tol: CheckTolerances) -> gpd.GeoDataFrame:
    """The problems frame: every column, severity from the tolerances, errors first."""
    blocks = [b for b in blocks if len(b)]
    if blocks:
        frame = pd.concat(blocks, ignore_index=True)
    else:
        frame = pd.DataFrame({column: [] for column in PROBLEM_COLUMNS})
    frame["severity"] = [tol.severity(k) for k in frame["kind"]]
    frame["community_code"] = frame["community_code"].astype(object)
    frame["grid_codes"] = frame["grid_codes"].fillna("").astype(object)
    frame["area_m2"] = frame["area_m2"].astype(float)
    frame["value"] = frame["value"].astype(float)
    frame["sliver"] = frame["sliver"].fillna(False).astype(bool)
    frame["message"] = frame["message"].astype(object)
    rank = {kind: i for i, kind in enumerate(KINDS)}
    frame["_s"] = (frame["severity"] != "error").astype(int)
    frame["_k"] = frame["kind"].map(rank)
    frame["_a"] = -frame["area_m2"].fillna(0.0)
    frame = frame.sort_values(
        ["_s", "_k", "community_code", "_a", "grid_codes"], kind="stable", na_position="last"
    )
    frame = frame.drop(columns=["_s", "_k", "_a"]).reset_index(drop=True)
    geometry = gpd.GeoSeries(list(frame["geometry"]), crs=4326)
    return gpd.GeoDataFrame(
        frame[[c for c in PROBLEM_COLUMNS if c != "geometry"]], geometry=geometry, crs=4326
    )


def _area(area_m2: float) -> str:
    """An area for a message: ``1,234 m²``, one decimal below 100 m²."""
    return f"{area_m2:,.1f} m²" if area_m2 < 100 else f"{area_m2:,.0f} m²"


def _lonlat(point: BaseGeometry | None) -> str:
    """``lon,lat`` of a point to 6 decimals (about 0.1 m), or ``?``."""
    if point is None or shapely.is_empty(point):
        return "?"
    return f"{point.x:.6f},{point.y:.6f}"


def _json_value(value: object) -> object:
    """A JSON-safe property value: numpy scalars as Python ones, NaN/NA as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA:
        return None
    return value
