"""The topology check: every check run over a community's grids, gathered in one report."""

from __future__ import annotations

import pandas as pd

import geopandas as gpd
from pyproj import CRS

from gis.coords import local_metric_crs_for
from grids.topology.inputs import _Communities, _Grids, _wgs84
from grids.topology.measuring import _Metric
from grids.topology.records import _band, _households_from_points, _no_grid, _outliers
from grids.topology.report import CheckTolerances, TopologyReport, _frame
from grids.topology.tiling import (
    _crossings,
    _gaps,
    _invalid,
    _overlaps,
    _slivers,
    _unknown_community,
)


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
