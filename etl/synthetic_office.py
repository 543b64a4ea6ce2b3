"""A synthetic street office's history for the re-division simulator: roads, homes, cases.

Made for tests and ``benchmarks/simulate.py``: a square lattice of streets over the
district, households scattered over it, and cases whose closing time grows with the
worker's open load and the walk, so an on-time model has something real to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from gis.coords import local_metric_crs_for
from grids.locate import NO_GRID, locate_points


@dataclass(frozen=True)
class SyntheticOffice:
    """Frames of a synthetic office (EPSG:4326, times UTC)."""

    nodes: gpd.GeoDataFrame
    edges: gpd.GeoDataFrame
    households: pd.DataFrame
    cases: pd.DataFrame
    end: pd.Timestamp


def candidate_layout(district: shapely.Polygon, n_grids: int, seed: int = 7) -> gpd.GeoDataFrame:
    """Voronoi grids of ``n_grids`` random seeds, clipped to the district (``key``, geometry)."""
    rng = np.random.default_rng(seed)
    w, s, e, n = district.bounds
    pts = []
    while len(pts) < n_grids:
        x, y = rng.uniform(w, e), rng.uniform(s, n)
        if district.contains(shapely.Point(x, y)):
            pts.append((x, y))
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=district)
    )
    clipped = shapely.intersection(cells, district)
    clipped = clipped[~shapely.is_empty(clipped)]
    keys = [f"C{i:04d}" for i in range(len(clipped))]
    return gpd.GeoDataFrame({"key": keys, "name": keys}, geometry=list(clipped), crs=4326)


def synthetic_office(
    grids: gpd.GeoDataFrame,
    district: shapely.Polygon,
    *,
    n_cases: int,
    n_households: int,
    street_m: float = 100.0,
    days: int = 180,
    seed: int = 11,
) -> SyntheticOffice:
    """Streets, households and ``n_cases`` cases over ``days`` in the grids of a district.

    ``grids`` carries ``worker_id`` (the worker of each grid, who gets its cases).
    """
    rng = np.random.default_rng(seed)
    crs = local_metric_crs_for(gpd.GeoSeries([district], crs=4326))
    metric = gpd.GeoSeries([district], crs=4326).to_crs(crs).iloc[0]
    x0, y0, x1, y1 = metric.bounds
    xs = np.arange(x0, x1 + street_m, street_m)
    ys = np.arange(y0, y1 + street_m, street_m)
    gx, gy = np.meshgrid(xs, ys)
    node_xy = np.column_stack([gx.ravel(), gy.ravel()])
    ids = np.arange(len(node_xy)).reshape(gx.shape)
    pairs = np.concatenate(
        [
            np.column_stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()]),
            np.column_stack([ids[:-1, :].ravel(), ids[1:, :].ravel()]),
        ]
    )
    to_wgs = gpd.GeoSeries(shapely.points(node_xy), crs=crs).to_crs(4326)
    lonlat = shapely.get_coordinates(to_wgs.to_numpy())
    nodes = gpd.GeoDataFrame({"id": np.arange(len(node_xy))}, geometry=to_wgs.to_numpy(), crs=4326)
    lines = shapely.linestrings(np.stack([lonlat[pairs[:, 0]], lonlat[pairs[:, 1]]], axis=1))
    edges = gpd.GeoDataFrame(
        {
            "id": np.arange(len(pairs)),
            "source": pairs[:, 0],
            "target": pairs[:, 1],
            "length_m": np.full(len(pairs), street_m),
            "road_class": "residential",
        },
        geometry=lines,
        crs=4326,
    )

    def inside(n: int) -> tuple[np.ndarray, np.ndarray]:
        w, s, e, nn = district.bounds
        lon = rng.uniform(w, e, int(n * 1.6) + 10)
        lat = rng.uniform(s, nn, lon.size)
        keep = shapely.contains_xy(district, lon, lat)
        return lon[keep][:n], lat[keep][:n]

    hl, ht = inside(n_households)
    households = pd.DataFrame(
        {
            "lon": hl,
            "lat": ht,
            "households": np.ones(hl.size),
            "vulnerable": rng.binomial(1, 0.12, hl.size).astype(float),
        }
    )
    cl, ct = inside(n_cases)
    pos = locate_points(cl, ct, grids.geometry.to_numpy())
    keep = pos != NO_GRID
    cl, ct, pos = cl[keep], ct[keep], pos[keep]
    n = cl.size
    end = pd.Timestamp("2026-11-30T16:00:00Z")
    start = end - pd.to_timedelta(rng.uniform(1, days, n) * 86400, unit="s")
    worker = grids["worker_id"].to_numpy()[pos]
    # a case's closing time grows with how far it lies from its grid's point and how busy
    # the worker is (the count of cases in its grid stands in for the open load)
    centre = shapely.point_on_surface(grids.geometry.to_numpy())
    far_m = np.hypot(
        (cl - shapely.get_x(centre)[pos]) * 96_000.0, (ct - shapely.get_y(centre)[pos]) * 111_000.0
    )
    busy = np.bincount(pos, minlength=len(grids))[pos] / max(n / len(grids), 1.0)
    hours = rng.exponential(30.0, n) * (0.6 + 0.6 * busy) * (0.8 + far_m / 1500.0)
    closed = start + pd.to_timedelta(hours * 3600, unit="s")
    closed = closed.where(closed <= end)
    cases = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "category_code": rng.choice(["10101", "20101", "30401", "50201"], n),
            "start": start,
            "deadline": start + pd.Timedelta(hours=72),
            "closed_at": closed,
            "assignee_id": pd.array(worker, dtype="Int64"),
            "lon": cl,
            "lat": ct,
        }
    ).sort_values("start", kind="stable", ignore_index=True)
    return SyntheticOffice(nodes, edges, households, cases, end)
