"""Turn counts per H3 cell into counts per 网格 (grid) and back, by area or household weights.

A cell on a grid boundary lies in several grids, so a count per cell cannot simply be
given to "its" grid.  The crosswalk lists every (cell, grid) pair that share area (or
households) with the weights that split a cell between its grids and a grid between
its cells:

``area_share``
    Share of the cell's covered area that lies in the grid; sums to 1 over the grids
    of a cell.
``household_share``
    Share of the cell's households that live in the grid; sums to 1 over the grids
    of a cell.  A cell with no households falls back to its ``area_share``.
``grid_area_share``, ``grid_household_share``
    The same, the other way round: shares of a grid's area (households) that lie in
    each of its cells; each sums to 1 over the cells of a grid (a grid with no
    households falls back to its ``grid_area_share``).

Cells at the district edge are partly outside every grid.  Their shares are taken
over the covered part, so a count in such a cell goes wholly to the grids it meets:
the part outside is nobody's responsibility here (grids tile the district).
``cell_coverage`` (covered area / cell area) says how much of the cell that is, for
a caller that would rather scale an edge cell's count down.  The crosswalk assumes
grids that do not overlap (the topology check reports overlaps); an overlap would be
counted in each grid it lies in.

Areas are in square metres.  Cells and grids are cut in degrees, with straight
lon/lat edges as the locator sees them, and the pieces measured in the local UTM zone
(:func:`gis.coords.local_metric_crs_for`) after densifying their edges to 1e-4
degrees; a cell's area so measured is within 0.01 % of its geodesic area at
resolution 10.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal, TypeVar

import numpy as np
import pandas as pd

import shapely
from geopandas import GeoDataFrame
from pyproj import Transformer

from gis.coords import local_metric_crs_for
from gis.errors import GridError, InvalidInput
from grids.locate import NO_GRID, GridLocator, cell_polygons, cover_cells

__all__ = [
    "CROSSWALK_COLUMNS",
    "CrosswalkError",
    "build_crosswalk",
    "cells_to_grids",
    "grids_to_cells",
]

CROSSWALK_COLUMNS: Final = (
    "cell",
    "grid_id",
    "area_m2",
    "cell_area_m2",
    "cell_coverage",
    "households",
    "area_share",
    "household_share",
    "grid_area_share",
    "grid_household_share",
)
"""Columns of a crosswalk, in order."""

_SEGMENT_DEG: Final = 1e-4
"""Longest edge (degrees, about 10 m) kept straight when projecting to metres."""

Weight = Literal["area", "households"]
Values = TypeVar("Values", pd.Series, pd.DataFrame)


if TYPE_CHECKING:
    from pandas.core.groupby import DataFrameGroupBy


class CrosswalkError(GridError, InvalidInput):
    """Values refer to cells or grids the crosswalk does not know, or bad input."""


def _cell_resolution(cells: np.ndarray) -> np.ndarray:
    """Resolution field of int64 H3 cells."""
    return (np.asarray(cells, dtype=np.int64) >> 52) & 0xF


def build_crosswalk(
    grids: GeoDataFrame,
    resolution: int = 10,
    households: pd.DataFrame | None = None,
    *,
    grid_id: str = "grid_id",
    count: str | None = None,
) -> pd.DataFrame:
    """Build the grid ↔ H3 crosswalk of a set of grids.

    Parameters
    ----------
    grids
        Grid polygons in EPSG:4326 with a ``grid_id`` column, in tie-break order
        (sorted by code), not overlapping.
    resolution
        H3 resolution of the cells, default 10 (about 15,000 m² a cell).
    households
        Optional households (or buildings with a household ``count``): either
        ``lon``/``lat`` columns (degrees, EPSG:4326), placed here with a
        :class:`~grids.locate.GridLocator` (those in no grid are left out), or
        ``cell`` (``int64`` at ``resolution``) and ``grid_id`` columns already placed.
    grid_id
        Name of the grid identifier column in ``grids`` (and ``households``).
    count
        Column of ``households`` giving households per row; default one per row.

    Returns
    -------
    pandas.DataFrame
        One row per (cell, grid) sharing area or households, columns
        :data:`CROSSWALK_COLUMNS` (``grid_id`` named as in ``grids``), sorted by cell
        then grid; ``attrs["resolution"]`` holds the resolution.

    Raises
    ------
    CrosswalkError
        If ``grids`` is not in EPSG:4326, lacks ``grid_id`` or repeats one, or the
        households lack usable columns or carry cells of another resolution.
    """
    if grids.crs is None or grids.crs.to_epsg() != 4326:
        raise CrosswalkError(f"grids must be in EPSG:4326, not {grids.crs}; use .to_crs(4326)")
    if grid_id not in grids.columns:
        raise CrosswalkError(f"grids have no {grid_id!r} column")
    ids = grids[grid_id].to_numpy()
    if pd.Series(ids).duplicated().any():
        raise CrosswalkError(f"grids repeat a {grid_id!r}: each grid needs its own id")
    geoms = grids.geometry.to_numpy()
    cover = cover_cells(geoms, resolution)

    # --- areas: pieces cut in degrees (straight lon/lat edges, as the locator sees
    # the grids), measured in the local UTM zone after densifying every edge
    to_metric = Transformer.from_crs(4326, local_metric_crs_for(grids), always_xy=True)

    def area_m2(g: np.ndarray) -> np.ndarray:
        dense = shapely.segmentize(g, _SEGMENT_DEG)
        metric = shapely.transform(dense, lambda xy: np.column_stack(to_metric.transform(*xy.T)))
        return np.asarray(shapely.area(metric), dtype=np.float64)

    cell_area = area_m2(cover.polygons)
    pair_cell, pair_grid = cover.pair_cell, cover.pair_grid
    whole = cover.interior[pair_cell] == pair_grid  # the cell lies wholly in this grid
    area = cell_area[pair_cell].copy()
    cut = ~whole
    if cut.any():
        pieces = shapely.intersection(
            cover.polygons[pair_cell[cut]], np.asarray(geoms, dtype=object)[pair_grid[cut]]
        )
        area[cut] = area_m2(pieces)
    pairs = pd.DataFrame(
        {
            "cell": cover.cells[pair_cell],
            "grid_pos": pair_grid,
            "area_m2": area,
            "cell_area_m2": cell_area[pair_cell],
        }
    )
    pairs = pairs[pairs["area_m2"] > 0.0]

    # --- households per (cell, grid)
    if households is not None:
        placed = _place_households(households, grids, geoms, ids, resolution, grid_id, count)
        pairs = pairs.merge(placed, on=["cell", "grid_pos"], how="outer")
        known = pd.Series(cell_area, index=cover.cells)
        missing = pairs["cell_area_m2"].isna()
        pairs.loc[missing, "cell_area_m2"] = known.reindex(pairs.loc[missing, "cell"]).to_numpy()
        if pairs["cell_area_m2"].isna().any():  # a given cell outside every grid's reach
            odd = pairs["cell_area_m2"].isna()
            polys = cell_polygons(pairs.loc[odd, "cell"].to_numpy(np.int64))
            pairs.loc[odd, "cell_area_m2"] = area_m2(polys)
        pairs = pairs.fillna({"area_m2": 0.0, "households": 0.0})
    else:
        pairs["households"] = 0.0

    pairs = pairs.sort_values(["cell", "grid_pos"], kind="stable").reset_index(drop=True)
    pairs["grid_id"] = ids[pairs["grid_pos"].to_numpy(np.int64)]
    by_cell = pairs.groupby("cell", sort=False)
    by_grid = pairs.groupby("grid_pos", sort=False)
    cell_area_in = by_cell["area_m2"].transform("sum")
    pairs["cell_coverage"] = cell_area_in / pairs["cell_area_m2"]
    pairs["area_share"] = _share(pairs["area_m2"], cell_area_in, by_cell)
    pairs["household_share"] = _share(
        pairs["households"], by_cell["households"].transform("sum"), None, pairs["area_share"]
    )
    grid_area = by_grid["area_m2"].transform("sum")
    pairs["grid_area_share"] = _share(pairs["area_m2"], grid_area, by_grid)
    pairs["grid_household_share"] = _share(
        pairs["households"],
        by_grid["households"].transform("sum"),
        None,
        pairs["grid_area_share"],
    )
    out = pairs.rename(columns={"grid_id": grid_id})[
        [grid_id if c == "grid_id" else c for c in CROSSWALK_COLUMNS]
    ]
    out["cell"] = out["cell"].astype(np.int64)
    out.attrs["resolution"] = resolution
    out.attrs["grid_id"] = grid_id
    return out


def _share(
    part: pd.Series,
    whole: pd.Series,
    groups: DataFrameGroupBy | None,
    fallback: pd.Series | None = None,
) -> pd.Series:
    """``part / whole``; where ``whole`` is 0, ``fallback`` (or an equal split)."""
    share = part / whole.where(whole > 0)
    if fallback is not None:
        return share.fillna(fallback)
    assert groups is not None
    return share.fillna(1.0 / groups["area_m2"].transform("size"))


def _place_households(
    households: pd.DataFrame,
    grids: GeoDataFrame,
    geoms: np.ndarray,
    ids: np.ndarray,
    resolution: int,
    grid_id: str,
    count: str | None,
) -> pd.DataFrame:
    """Households per (cell, grid position), from lon/lat or from given cell and grid."""
    weight = (
        np.ones(len(households))
        if count is None
        else households[count].to_numpy(dtype=np.float64, na_value=0.0)
    )
    if {"cell", grid_id} <= set(households.columns):
        cells = households["cell"].to_numpy(dtype=np.int64)
        wrong = _cell_resolution(cells) != resolution
        if wrong.any():
            raise CrosswalkError(
                f"{int(wrong.sum())} household cells are not at resolution {resolution}"
            )
        pos = pd.Index(ids).get_indexer(households[grid_id].to_numpy())
    elif {"lon", "lat"} <= set(households.columns):
        locator = GridLocator.build(geoms, resolution)
        pos, cells = locator.locate_with_cells(
            households["lon"].to_numpy(np.float64), households["lat"].to_numpy(np.float64)
        )
    else:
        raise CrosswalkError(
            f"households need lon/lat columns or cell and {grid_id} columns; "
            f"got {list(households.columns)}"
        )
    keep = pos != NO_GRID
    placed = pd.DataFrame({"cell": cells[keep], "grid_pos": pos[keep], "households": weight[keep]})
    return placed.groupby(["cell", "grid_pos"], as_index=False)["households"].sum()


def _weights(crosswalk: pd.DataFrame, weight: Weight, towards: str) -> pd.Series:
    if weight not in ("area", "households"):
        raise CrosswalkError(f"weight must be 'area' or 'households', not {weight!r}")
    prefix = "" if towards == "grid" else "grid_"
    column = f"{prefix}{'area' if weight == 'area' else 'household'}_share"
    return crosswalk[column]


def _spread(
    values: Values,
    keys: pd.Series,
    weights: pd.Series,
    targets: pd.Series,
    outside: Literal["raise", "drop"],
    what: str,
) -> Values:
    known = pd.Index(keys.unique())
    unknown = ~values.index.isin(known)
    if unknown.any():
        stray = values[unknown]
        total = stray.abs().to_numpy().sum()
        if outside == "raise" and total > 0:
            raise CrosswalkError(
                f"{int(unknown.sum())} {what} with values (total {total:g}) are not in the "
                f"crosswalk (outside every grid?); pass outside='drop' to leave them out"
            )
    taken = values.reindex(keys.to_numpy()).fillna(0)
    taken.index = targets.to_numpy()
    spread = taken.mul(weights.to_numpy(), axis=0)
    result = spread.groupby(level=0, sort=True).sum()
    result.index.name = targets.name
    return result


def cells_to_grids(
    values_by_cell: Values,
    crosswalk: pd.DataFrame,
    weight: Weight = "area",
    *,
    outside: Literal["raise", "drop"] = "raise",
) -> Values:
    """Split counts per H3 cell among grids.

    Parameters
    ----------
    values_by_cell
        A Series or DataFrame indexed by ``int64`` cell, at the crosswalk's resolution.
    crosswalk
        From :func:`build_crosswalk`.
    weight
        ``"area"`` (``area_share``) or ``"households"`` (``household_share``).
    outside
        What to do with non-zero values of cells the crosswalk does not list (cells
        meeting no grid): ``"raise"`` (default) or ``"drop"``.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Indexed by grid id (every grid of the crosswalk); totals are conserved for the
        cells the crosswalk lists.

    Raises
    ------
    CrosswalkError
        On an unknown weight, or values outside the crosswalk with ``outside="raise"``.
    """
    grid_id = crosswalk.attrs.get("grid_id", "grid_id")
    return _spread(
        values_by_cell,
        crosswalk["cell"],
        _weights(crosswalk, weight, "grid"),
        crosswalk[grid_id],
        outside,
        "cells",
    )


def grids_to_cells(
    values_by_grid: Values,
    crosswalk: pd.DataFrame,
    weight: Weight = "area",
    *,
    outside: Literal["raise", "drop"] = "raise",
) -> Values:
    """Spread counts per grid over H3 cells.

    Parameters
    ----------
    values_by_grid
        A Series or DataFrame indexed by grid id.
    crosswalk
        From :func:`build_crosswalk`.
    weight
        ``"area"`` (``grid_area_share``) or ``"households"``
        (``grid_household_share``).
    outside
        What to do with non-zero values of grids the crosswalk does not list:
        ``"raise"`` (default) or ``"drop"``.

    Returns
    -------
    pandas.Series or pandas.DataFrame
        Indexed by ``int64`` cell (every cell of the crosswalk); totals are conserved.

    Raises
    ------
    CrosswalkError
        On an unknown weight, or values outside the crosswalk with ``outside="raise"``.
    """
    grid_id = crosswalk.attrs.get("grid_id", "grid_id")
    return _spread(
        values_by_grid,
        crosswalk[grid_id],
        _weights(crosswalk, weight, "cell"),
        crosswalk["cell"],
        outside,
        "grids",
    )
