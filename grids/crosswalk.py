"""Turn counts per H3 or 北斗 cell into counts per 网格 (grid) and back, by area or households.

The cells are H3 cells at a resolution (``system="h3"``) or 北斗 grid cells (GB/T
39409-2020) at a level (``system="beidou"``); everything below holds for both.

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
from grids import beidou
from grids.beidou.cover import cover_exact
from grids.locate import NO_GRID, GridLocator, cell_polygons, cover_cells, locate_points

__all__ = [
    "CROSSWALK_COLUMNS",
    "SYSTEMS",
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
System = Literal["h3", "beidou"]
SYSTEMS: Final = ("h3", "beidou")
"""The cell systems a crosswalk is built on."""
Values = TypeVar("Values", pd.Series, pd.DataFrame)


if TYPE_CHECKING:
    from pandas.core.groupby import DataFrameGroupBy


class CrosswalkError(GridError, InvalidInput):
    """Values refer to cells or grids the crosswalk does not know, or bad input."""


def _cell_resolution(cells: np.ndarray) -> np.ndarray:
    """Resolution field of int64 H3 cells."""
    return (np.asarray(cells, dtype=np.int64) >> 52) & 0xF


def _cell_level(cells: np.ndarray, system: System) -> np.ndarray:
    """Resolution (H3) or level (北斗) of packed cells."""
    if system == "beidou":
        return beidou.levels_of(cells)
    return _cell_resolution(cells)


def _cell_polygons(cells: np.ndarray, system: System) -> np.ndarray:
    if system == "beidou":
        return beidou.cell_polygons(np.asarray(cells, dtype=np.int64))
    return cell_polygons(np.asarray(cells, dtype=np.int64))


def _pairs(
    geoms: np.ndarray, resolution: int, system: System
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cells meeting the grids, their polygons, and the (cell, grid) pairs.

    Returns ``(cells, polygons, pair_cell, pair_grid, whole)``: ``pair_cell`` indexes
    ``cells``; ``whole`` says the cell lies wholly inside that grid (no cut needed).
    """
    if system == "h3":
        cover = cover_cells(geoms, resolution)
        whole = cover.interior[cover.pair_cell] == cover.pair_grid
        return cover.cells, cover.polygons, cover.pair_cell, cover.pair_grid, whole
    if system != "beidou":
        raise CrosswalkError(f"system must be one of {', '.join(SYSTEMS)}, not {system!r}")
    cells, grid_pos, whole_parts = [], [], []
    for pos, geom in enumerate(geoms):
        found = cover_exact(geom, resolution)
        inside = beidou.uncompact(found.inside, resolution) if found.inside.size else found.inside
        for part, is_whole in ((inside, True), (found.boundary, False)):
            cells.append(part)
            grid_pos.append(np.full(part.size, pos, dtype=np.int64))
            whole_parts.append(np.full(part.size, is_whole))
    every = np.concatenate(cells) if cells else np.zeros(0, dtype=np.int64)
    unique, pair_cell = np.unique(every, return_inverse=True)
    return (
        unique,
        beidou.cell_polygons(unique),
        pair_cell.astype(np.int64),
        np.concatenate(grid_pos) if grid_pos else np.zeros(0, dtype=np.int64),
        np.concatenate(whole_parts) if whole_parts else np.zeros(0, dtype=bool),
    )


def build_crosswalk(
    grids: GeoDataFrame,
    resolution: int = 10,
    households: pd.DataFrame | None = None,
    *,
    grid_id: str = "grid_id",
    count: str | None = None,
    system: System = "h3",
) -> pd.DataFrame:
    """Build the grid ↔ cell crosswalk of a set of grids (H3 or 北斗 cells).

    Parameters
    ----------
    grids
        Grid polygons in EPSG:4326 with a ``grid_id`` column, in tie-break order
        (sorted by code), not overlapping.
    resolution
        H3 resolution of the cells, default 10 (about 15,000 m² a cell); with
        ``system="beidou"`` the 北斗 level (1 to 10; 5 is 4″ × 4″, about 13,000 m²).
    households
        Optional households (or buildings with a household ``count``): either
        ``lon``/``lat`` columns (degrees, EPSG:4326), placed here with a
        :class:`~grids.locate.GridLocator` (those in no grid are left out), or
        ``cell`` (``int64`` at ``resolution``) and ``grid_id`` columns already placed.
    grid_id
        Name of the grid identifier column in ``grids`` (and ``households``).
    count
        Column of ``households`` giving households per row; default one per row.
    system
        ``"h3"`` (default) or ``"beidou"``: which cells.

    Returns
    -------
    pandas.DataFrame
        One row per (cell, grid) sharing area or households, columns
        :data:`CROSSWALK_COLUMNS` (``grid_id`` named as in ``grids``), sorted by cell
        then grid; ``attrs["resolution"]`` holds the resolution (level), ``attrs["system"]``
        the system.

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
    cells, polygons, pair_cell, pair_grid, whole = _pairs(geoms, resolution, system)

    # --- areas: pieces cut in degrees (straight lon/lat edges, as the locator sees
    # the grids), measured in the local UTM zone after densifying every edge
    to_metric = Transformer.from_crs(4326, local_metric_crs_for(grids), always_xy=True)

    def area_m2(g: np.ndarray) -> np.ndarray:
        dense = shapely.segmentize(g, _SEGMENT_DEG)
        metric = shapely.transform(dense, lambda xy: np.column_stack(to_metric.transform(*xy.T)))
        return np.asarray(shapely.area(metric), dtype=np.float64)

    cell_area = area_m2(polygons)
    area = cell_area[pair_cell].copy()
    cut = ~whole  # a cell wholly in its grid needs no cut
    if cut.any():
        pieces = shapely.intersection(
            polygons[pair_cell[cut]], np.asarray(geoms, dtype=object)[pair_grid[cut]]
        )
        area[cut] = area_m2(pieces)
    pairs = pd.DataFrame(
        {
            "cell": cells[pair_cell],
            "grid_pos": pair_grid,
            "area_m2": area,
            "cell_area_m2": cell_area[pair_cell],
        }
    )
    pairs = pairs[pairs["area_m2"] > 0.0]

    # --- households per (cell, grid)
    if households is not None:
        placed = _place_households(households, geoms, ids, resolution, grid_id, count, system)
        pairs = pairs.merge(placed, on=["cell", "grid_pos"], how="outer")
        known = pd.Series(cell_area, index=cells)
        missing = pairs["cell_area_m2"].isna()
        pairs.loc[missing, "cell_area_m2"] = known.reindex(pairs.loc[missing, "cell"]).to_numpy()
        if pairs["cell_area_m2"].isna().any():  # a given cell outside every grid's reach
            odd = pairs["cell_area_m2"].isna()
            polys = _cell_polygons(pairs.loc[odd, "cell"].to_numpy(np.int64), system)
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
    out.attrs["system"] = system
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
    geoms: np.ndarray,
    ids: np.ndarray,
    resolution: int,
    grid_id: str,
    count: str | None,
    system: System,
) -> pd.DataFrame:
    """Households per (cell, grid position), from lon/lat or from given cell and grid."""
    weight = (
        np.ones(len(households))
        if count is None
        else households[count].to_numpy(dtype=np.float64, na_value=0.0)
    )
    if {"cell", grid_id} <= set(households.columns):
        cells = households["cell"].to_numpy(dtype=np.int64)
        wrong = _cell_level(cells, system) != resolution
        if wrong.any():
            what = "level" if system == "beidou" else "resolution"
            raise CrosswalkError(
                f"{int(wrong.sum())} household cells are not {system} cells at {what} {resolution}"
            )
        pos = pd.Index(ids).get_indexer(households[grid_id].to_numpy())
    elif {"lon", "lat"} <= set(households.columns):
        lon = households["lon"].to_numpy(np.float64)
        lat = households["lat"].to_numpy(np.float64)
        if system == "beidou":
            pos = locate_points(lon, lat, geoms)
            cells = beidou.encode(lon, lat, resolution)
        else:
            pos, cells = GridLocator.build(geoms, resolution).locate_with_cells(lon, lat)
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
    """Split counts per cell (H3 or 北斗, as the crosswalk) among grids.

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
    """Spread counts per grid over cells (H3 or 北斗, as the crosswalk).

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
