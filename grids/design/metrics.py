"""What a design returns and how good it is: the household band, the metrics, compactness."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

import geopandas as gpd
from pyproj import CRS

from gis.coords import local_metric_crs_for
from gis.errors import GridError, InvalidInput

DEFAULT_MIN_HOUSEHOLDS = 300
DEFAULT_MAX_HOUSEHOLDS = 500


class DesignError(GridError, InvalidInput):
    """The community cannot be designed as asked (no households, too many grids …)."""


@dataclass(frozen=True)
class DesignMetrics:
    """How good a set of grids is.

    Attributes
    ----------
    n_grids
        Number of grids.
    households
        Households in all grids together.
    households_std
        Population standard deviation of households per grid.
    households_min, households_max
        Fewest and most households in a grid.
    share_in_band
        Share (0–1) of grids with ``min_households <= households <= max_households``.
    worst_deviation
        Households by which the grid farthest from the band misses it (0: all in band).
    mean_polsby_popper
        Mean Polsby-Popper compactness ``4πA/P²`` (1 for a disc, 0.785 for a square),
        area and perimeter in a local metric CRS.
    min_households, max_households
        The band the share refers to.
    """

    n_grids: int
    households: int
    households_std: float
    households_min: int
    households_max: int
    share_in_band: float
    worst_deviation: int
    mean_polsby_popper: float
    min_households: int
    max_households: int

    def as_dict(self) -> dict[str, Any]:
        """Return the metrics as a plain dict (for JSON and tables)."""
        return asdict(self)

    def quality(self) -> tuple[float, int]:
        """Sort key, best first: more grids in the band, then a smaller worst deviation.

        The share is rounded to 1e-9 so that equal shares of different counts compare
        equal.
        """
        return (-round(self.share_in_band, 9), self.worst_deviation)

    def worse_than(self, other: DesignMetrics) -> str | None:
        """Why these grids are worse than ``other`` on :meth:`quality`, or None.

        Returns
        -------
        str or None
            E.g. ``"14% of grids in the band against 29%"`` or ``"the grid farthest
            from the band misses it by 442 households against 120"``.
        """
        if self.quality() <= other.quality():
            return None
        if round(self.share_in_band, 9) < round(other.share_in_band, 9):
            return (
                f"{self.share_in_band:.0%} of grids in the band "
                f"{self.min_households}–{self.max_households} against {other.share_in_band:.0%}"
            )
        return (
            f"the grid farthest from the band {self.min_households}–{self.max_households} "
            f"misses it by {self.worst_deviation} households against {other.worst_deviation}"
        )


@dataclass
class Design:
    """A designed set of grids for one community.

    Attributes
    ----------
    grids
        One row per grid, EPSG:4326, in reading order: ``households``, ``buildings``,
        ``blocks`` (bricks in it), ``area_m2``, ``polsby_popper``, ``in_band``,
        ``heavy`` (a single brick above the band), ``geometry`` (Polygon or
        MultiPolygon).
    blocks
        The bricks, EPSG:4326: ``households``, ``buildings``, ``major_block``,
        ``area_m2``, ``perimeter_m``, ``grid`` (row position in ``grids``), ``geometry``.
    metrics
        See :class:`DesignMetrics`.
    heavy_blocks
        Positions in ``blocks`` of bricks heavier than the band's maximum, each a grid
        of its own.
    notes
        Things a planner should know (heavy bricks, buildings outside the community,
        blocks cut between their buildings, light parts joined to a neighbour).
    """

    grids: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    metrics: DesignMetrics
    heavy_blocks: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def polsby_popper(geoms: npt.ArrayLike, crs: CRS | None = None) -> np.ndarray:
    """Polsby-Popper compactness ``4πA/P²`` of polygons in EPSG:4326.

    Parameters
    ----------
    geoms
        Polygons or MultiPolygons in EPSG:4326.
    crs
        Metric CRS to measure in; default the UTM zone of their bounds.

    Returns
    -------
    numpy.ndarray
        One value in (0, 1] per shape; 0 for an empty shape.
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return np.empty(0)
    metric = gpd.GeoSeries(arr, crs=4326)
    metric = metric.to_crs(crs or local_metric_crs_for(metric))
    area = np.asarray(metric.area, dtype=np.float64)
    perimeter = np.asarray(metric.length, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(perimeter > 0, 4.0 * math.pi * area / perimeter**2, 0.0)
    return pp


def measure(
    geoms: npt.ArrayLike,
    households: npt.ArrayLike,
    *,
    min_households: int = DEFAULT_MIN_HOUSEHOLDS,
    max_households: int = DEFAULT_MAX_HOUSEHOLDS,
    crs: CRS | None = None,
) -> DesignMetrics:
    """Metrics of any set of grids: spread of households, share in band, compactness.

    Parameters
    ----------
    geoms
        Grid polygons in EPSG:4326.
    households
        Households per grid, same order.
    min_households, max_households
        The band.
    crs
        Metric CRS for Polsby-Popper; default the UTM zone of the grids.

    Returns
    -------
    DesignMetrics
        All zeros for no grids.
    """
    hh = np.asarray(households, dtype=np.float64)
    arr = np.asarray(geoms, dtype=object)
    if len(hh) != len(arr):
        raise ValueError(f"{len(arr)} grids but {len(hh)} household counts")
    if len(hh) == 0:
        return DesignMetrics(0, 0, 0.0, 0, 0, 0.0, 0, 0.0, min_households, max_households)
    pp = polsby_popper(arr, crs)
    inside = (hh >= min_households) & (hh <= max_households)
    miss = np.maximum(min_households - hh, 0.0) + np.maximum(hh - max_households, 0.0)
    return DesignMetrics(
        n_grids=len(hh),
        households=int(hh.sum()),
        households_std=float(hh.std()),
        households_min=int(hh.min()),
        households_max=int(hh.max()),
        share_in_band=float(inside.mean()),
        worst_deviation=round(float(miss.max())),
        mean_polsby_popper=float(pp.mean()),
        min_households=min_households,
        max_households=max_households,
    )
