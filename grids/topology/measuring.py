"""Areas and lengths in metres, noise dropped, and which parts are slivers.

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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

import shapely
from pyproj import CRS, Transformer

from grids.topology.report import CheckTolerances

_M_PER_DEG: Final = 111_320.0
"""Metres in a degree of latitude: turns the width tolerance into degrees (about)."""


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
