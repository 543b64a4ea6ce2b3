"""Demand (需求): people by group per H3 cell and grid, from residents or a file."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

import shapely

from analysis.coverage.standards import GROUPS, CoverageError
from analysis.network import FloatArray
from grids.locate import h3_cells

DEMAND_KEYS: Final = ("cell", "grid_id", "community_id")
DEMAND_COLUMNS: Final = (*DEMAND_KEYS, "lon", "lat", *GROUPS)
"""Columns of a demand frame, in order."""


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
