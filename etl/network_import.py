"""Bring a road network from an OpenStreetMap file into the database, in place of the old one.

OSM's ``highway`` values are mapped onto Wangge's four road classes (the speeds and
rules of the analysis are per class): trunk/primary/secondary roads are arterials,
tertiary/residential/unclassified roads branch roads, service roads and living
streets lanes, and paths for people only footways.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from sqlalchemy import Engine

import geopandas as gpd

from etl.load import LoadReport, load_layers
from etl.osm import OsmError, read_osm_areas, read_osm_roads
from gis.store import network_store
from gis.store.network_store import Box

ARTERIAL = {
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
}
BRANCH = {"tertiary", "tertiary_link", "residential", "unclassified", "road", "busway"}
LANE = {"service", "living_street", "track"}


def road_class(highway: pd.Series) -> pd.Series:
    """Wangge's road class for OSM ``highway`` values (arterial, branch, lane, footway)."""
    values = highway.astype(str)
    out = pd.Series("footway", index=highway.index, dtype=object)
    out[values.isin(LANE)] = "lane"
    out[values.isin(BRANCH)] = "branch"
    out[values.isin(ARTERIAL)] = "arterial"
    return out


def import_osm_network(
    engine: Engine,
    path: str | Path,
    *,
    region: Box | None = None,
    dry_run: bool = False,
    progress: bool = True,
    using: psycopg.Connection | None = None,
) -> LoadReport:
    """Replace the stored road network by the highways of an ``.osm`` / ``.osm.pbf`` file.

    The file's water and green areas (:func:`etl.osm.read_osm_areas`), when it has any,
    replace the stored ones too: the offline basemap draws them under the streets.

    With ``region`` (an office's area and a margin, ``wangge import osm --area``) only
    that region is replaced: the file's roads and areas whose boxes meet it take the
    place of the stored ones there (as far as the file's roads reach), and the rest of
    the network (other offices') stays;
    the two meet at the OSM nodes they share (edge ids are the same in every extract,
    :func:`etl.osm.edge_ids`).

    Everything happens in one transaction: the old network is removed and the new one
    loaded (each node placed in its grid and H3 cell), or nothing changes; ``dry_run``
    rolls it back; ``using`` makes it part of the caller's transaction
    (:func:`etl.load.load_layers`).

    Raises
    ------
    etl.osm.OsmError
        When the file holds no highway (in ``region``, when given).
    """
    nodes, edges = read_osm_roads(path)
    edges = edges.assign(road_class=road_class(edges["road_class"]))
    keep = [
        "id",
        "source",
        "target",
        "name",
        "road_class",
        "length_m",
        "walkable",
        "drivable",
        "oneway",
        "walk_speed_mps",
        "drive_speed_kmh",
        "z_level",
        "geometry",
    ]
    edges = edges[keep]
    areas = read_osm_areas(path)
    if region is not None:
        return _merge_region(engine, path, nodes, edges, areas, region, dry_run, progress, using)
    layers = {"road_node": nodes, "road_edge": edges}
    empty = ["road_edge", "road_node"]
    if len(areas):
        # the basemap's water and green areas come with the streets from the same file
        layers["map_area"] = areas
        empty.append("map_area")
    return load_layers(
        engine,
        layers,
        empty_first=tuple(empty),
        dry_run=dry_run,
        progress=progress,
        using=using,
    )


def _meets(frame: gpd.GeoDataFrame, box: Box) -> np.ndarray:
    """Which rows' boxes meet ``box`` (the test PostGIS's ``&&`` makes on the stored rows)."""
    bounds = frame.geometry.bounds.to_numpy()
    w, s, e, n = box
    return (bounds[:, 0] <= e) & (bounds[:, 2] >= w) & (bounds[:, 1] <= n) & (bounds[:, 3] >= s)


def _merge_region(
    engine: Engine,
    path: str | Path,
    nodes: gpd.GeoDataFrame,
    edges: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    region: Box,
    dry_run: bool,
    progress: bool,
    using: psycopg.Connection | None,
) -> LoadReport:
    """Load the file's roads and areas of ``region`` in place of the stored ones there."""
    edges = edges[_meets(edges, region)]
    if edges.empty:
        raise OsmError(f"{path}: no highway of the file lies in the area (box {region})")
    used = nodes["id"].isin(edges["source"]) | nodes["id"].isin(edges["target"])
    layers: dict[str, pd.DataFrame] = {"road_node": nodes[used], "road_edge": edges}
    if len(areas):
        layers["map_area"] = areas[_meets(areas, region)]

    # what the file knows of: the stored roads of the region its roads cover, no further
    # (an extract cut short of the margin leaves the neighbour's roads there as they are)
    w, s, e, n = edges.total_bounds
    known = (max(w, region[0]), max(s, region[1]), min(e, region[2]), min(n, region[3]))

    def prepare(cur: psycopg.Cursor, given: Mapping[str, pd.DataFrame]) -> dict:
        network_store.clear_region(cur, known, given["road_edge"]["id"])
        node = given["road_node"]
        stored = network_store.stored_nodes(cur, node["id"])
        return {**given, "road_node": node[~node["id"].isin(stored)]}

    return load_layers(
        engine, layers, prepare=prepare, dry_run=dry_run, progress=progress, using=using
    )
