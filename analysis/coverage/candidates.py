"""Candidate sites for new facilities: one per H3 cell with people, or points a planner gives."""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

import shapely

from analysis.coverage.demand import _check_demand
from analysis.coverage.standards import CoverageError, check_group
from analysis.coverage.walking_access import _lonlat

CANDIDATE_COLUMNS: Final = ("site_id", "name", "lon", "lat", "capacity", "cost", "source")
"""Columns of a candidate-site frame."""


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
