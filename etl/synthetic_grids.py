"""Synthetic grid partitions with realistic boundaries, for tests and benchmarks.

Real grid files have wavy, hand-drawn boundaries with hundreds of vertices; a
Voronoi partition with bent, densified edges has the same shape statistics and tiles
its district exactly, so exactness and speed can be checked at any size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import geopandas as gpd
import shapely
from pyproj import Transformer


def _bent_edge(a: np.ndarray, b: np.ndarray, step_m: float, rng: np.random.Generator) -> np.ndarray:
    """Points from ``a`` to ``b`` every ``step_m`` metres, bent sideways by two sines.

    The bend vanishes at both ends (so edges still meet at their nodes) and is at most
    about 4.5 % of the edge length, small enough that no two edges cross.
    """
    length = float(np.hypot(*(b - a)))
    u = np.linspace(0.0, 1.0, max(int(length / step_m), 1) + 1)
    normal = np.array([a[1] - b[1], b[0] - a[0]]) / length
    phase = rng.uniform(0.0, 2 * np.pi, 2)
    bend = (
        length
        * np.sin(np.pi * u)
        * (0.03 * np.sin(2 * np.pi * u + phase[0]) + 0.015 * np.sin(6 * np.pi * u + phase[1]))
    )
    return a + np.outer(u, b - a) + np.outer(bend, normal)


def district_grids(
    n_grids: int = 500,
    *,
    size_m: float = 10_000.0,
    step_m: float = 5.0,
    seed: int = 42,
    lon0: float = 120.1,
    lat0: float = 30.3,
) -> tuple[gpd.GeoDataFrame, shapely.Polygon]:
    """Grids with realistic boundaries tiling a district, and the district.

    Parameters
    ----------
    n_grids
        Number of Voronoi seeds; the grid count is about this (a seed whose cell the
        district edge cuts in two gives two grids).
    size_m
        Diameter of the (wavy, round) district, metres.
    step_m
        Spacing of the vertices along grid edges, metres.
    seed
        Random seed.
    lon0, lat0
        Centre of the district, degrees.

    Returns
    -------
    grids : geopandas.GeoDataFrame
        ``grid_id`` (``"G0001"`` …, in row order) and polygons, EPSG:4326, valid,
        tiling ``district`` with no gap or overlap.
    district : shapely.Polygon
        The district boundary, EPSG:4326.
    """
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 2 * np.pi, int(np.pi * size_m / step_m), endpoint=False)
    radius = size_m / 2 * (0.95 + 0.04 * np.sin(3 * t + 1) + 0.02 * np.sin(7 * t))
    disc = shapely.Polygon(np.column_stack([radius * np.cos(t), radius * np.sin(t)]))
    seeds = rng.uniform(-size_m / 2, size_m / 2, (4 * n_grids, 2))
    seeds = seeds[shapely.contains_xy(disc, seeds[:, 0], seeds[:, 1])][:n_grids]
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=disc.buffer(size_m))
    )
    edges = shapely.get_parts(shapely.union_all(shapely.boundary(cells)))
    bent = [
        shapely.linestrings(_bent_edge(*shapely.get_coordinates(e)[[0, -1]], step_m, rng))
        for e in edges
    ]
    network = shapely.union_all(np.array([*bent, disc.exterior], dtype=object))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(network)))
    inside = shapely.contains(disc, shapely.point_on_surface(faces))
    faces = faces[inside]
    to_lonlat = Transformer.from_crs(
        f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84", "EPSG:4326", always_xy=True
    )

    def lonlat(g: Any) -> Any:
        return shapely.transform(g, lambda xy: np.column_stack(to_lonlat.transform(*xy.T)))

    faces, district = lonlat(faces), lonlat(disc)
    if not shapely.is_valid(faces).all():
        raise RuntimeError(f"seed {seed} bent an edge across another; try another seed")
    order = np.lexsort(
        (shapely.get_x(shapely.centroid(faces)), -shapely.get_y(shapely.centroid(faces)))
    )
    grids = gpd.GeoDataFrame(
        {"grid_id": [f"G{i + 1:04d}" for i in range(len(faces))]},
        geometry=faces[order],
        crs=4326,
    )
    return grids, district
