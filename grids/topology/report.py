"""What the topology check reports: the kinds of problem, the tolerances and the report.

Gating.  A problem whose kind is in ``CheckTolerances.gate_kinds`` has severity
``'error'``, any other ``'warning'``.  :meth:`TopologyReport.exceeds` is true when
there is an error, where gaps, overlaps and crossings count only from
``area_m2`` upward.  By default the errors are ``invalid``, ``unknown_community``,
``gap``, ``overlap`` and ``crossing``; the warnings ``sliver``, ``no_grid``,
``band`` and ``outlier``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry import mapping

from gis.errors import GridError, InvalidInput
from gis.settings import Settings, get_settings

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


def _rows(kind: str, **columns: Any) -> pd.DataFrame:
    """A block of problem rows of one kind (severity is set once, at the end)."""
    if not columns:
        return pd.DataFrame({column: [] for column in PROBLEM_COLUMNS if column != "severity"})
    return pd.DataFrame({"kind": kind, **columns})


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


def _json_value(value: object) -> object:
    """A JSON-safe property value: numpy scalars as Python ones, NaN/NA as None."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NA:
        return None
    return value
