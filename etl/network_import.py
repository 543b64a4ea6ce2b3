"""Bring a road network from an OpenStreetMap file into the database, replacing the old one.

OSM's ``highway`` values are mapped onto Wangge's four road classes (the speeds and
rules of the analysis are per class): trunk/primary/secondary roads are arterials,
tertiary/residential/unclassified roads branch roads, service roads and living
streets lanes, and paths for people only footways.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from etl.load import LoadReport, load_layers
from etl.osm import read_osm_areas, read_osm_roads

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


def import_osm_network(engine: Engine, path: str | Path, *, progress: bool = True) -> LoadReport:
    """Replace the stored road network by the highways of an ``.osm`` / ``.osm.pbf`` file.

    The file's water and green areas (:func:`etl.osm.read_osm_areas`), when it has any,
    replace the stored ones too: the offline basemap draws them under the streets.

    Everything happens in one transaction: the old network is removed and the new one
    loaded (each node placed in its grid and H3 cell), or nothing changes.
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
    layers = {"road_node": nodes, "road_edge": edges[keep]}
    empty = ["road_edge", "road_node"]
    areas = read_osm_areas(path)
    if len(areas):
        # the basemap's water and green areas come with the streets from the same file
        layers["map_area"] = areas
        empty.append("map_area")
    return load_layers(engine, layers, empty_first=tuple(empty), progress=progress)
