"""Read an OpenStreetMap file (``.osm`` XML or ``.osm.pbf``) into road node and edge frames.

The frames have the columns of ``road_node`` / ``road_edge`` (see :mod:`gis.models`)
and feed :meth:`analysis.network.RoadNetwork.from_frames`.

Reader: **pyosmium** (PyPI ``osmium``), the Python binding of libosmium, maintained
by OpenStreetMap's own developers and released with it.  It reads XML, PBF and their
compressed forms with one call, parses in C++, and attaches node locations to ways
itself (``with_locations``), so a city extract reads in well under a second; osmnx's
reader handles XML only and builds the whole document in Python, pyrosm reads PBF only
and is little maintained.

Ways tagged ``highway`` are split at every node they share with another highway way
(and at their ends) into edges; lengths are geodesic metres on the WGS84 ellipsoid.
Walkable and drivable follow the highway class (as osmnx's ``walk`` and ``drive``
filters do) and the ``foot``, ``access`` and ``motor_vehicle`` tags; ``oneway=yes``,
``oneway=-1`` (the way is reversed), roundabouts and motorways are one-way for driving.
"""

from __future__ import annotations

import re
from os import PathLike
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

import geopandas as gpd
import shapely
from pyproj import Geod

from gis.settings import get_settings

#: Highway values that are not roads for anyone (planned, disused, racing, indoor).
EXCLUDED_HIGHWAYS = frozenset(
    {
        "proposed",
        "construction",
        "abandoned",
        "disused",
        "planned",
        "razed",
        "raceway",
        "bus_guideway",
        "platform",
        "elevator",
        "escape",
        "emergency_bay",
        "rest_area",
        "services",
        "bus_stop",
    }
)
#: Highway values closed to pedestrians unless tagged ``foot=yes``.
NOT_WALKABLE = frozenset({"motorway", "motorway_link", "cycleway", "bridleway"})
#: Highway values open to cars.
DRIVABLE = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)
_NO = frozenset({"no", "private"})
_YES = frozenset({"yes", "designated", "permissive"})
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$")


class OsmError(ValueError):
    """The OpenStreetMap file holds no usable road network."""


def _flags(tags: dict[str, str]) -> tuple[bool, bool, int, float]:
    """Walkable, drivable, oneway (0 no, 1 yes, -1 reversed) and maxspeed km/h of a way."""
    hw = tags["highway"]
    access = tags.get("access", "")
    foot = tags.get("foot", "")
    walkable = hw not in NOT_WALKABLE and access not in _NO and foot not in _NO
    if foot in _YES:
        walkable = True
    motor = tags.get("motor_vehicle", tags.get("motorcar", ""))
    drivable = hw in DRIVABLE and access not in _NO and motor not in _NO
    ow = tags.get("oneway", "")
    if ow in ("-1", "reverse"):
        oneway = -1
    elif ow in ("yes", "true", "1"):
        oneway = 1
    elif ow == "no":
        oneway = 0
    else:
        junction = tags.get("junction", "")
        oneway = int(hw == "motorway" or junction in ("roundabout", "circular"))
    speed = np.nan
    m = _MAXSPEED.match(tags.get("maxspeed", ""))
    if m:
        speed = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
    return walkable, drivable, oneway, speed


def read_osm_roads(
    path: str | PathLike[str], *, walk_speed_mps: float | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Read the highway ways of an OSM file as road node and edge frames.

    Parameters
    ----------
    path : str or path-like
        An ``.osm`` (XML), ``.osm.pbf``, or compressed ``.osm.gz`` / ``.osm.bz2`` file.
    walk_speed_mps : float, optional
        Walking speed stored on every edge, m/s; default the ``walk_speed_mps``
        setting (1.2).

    Returns
    -------
    nodes : geopandas.GeoDataFrame
        ``id`` (the OSM node id) and point ``geometry``, EPSG:4326.
    edges : geopandas.GeoDataFrame
        ``id`` (1..n), ``source``, ``target`` (OSM node ids), ``osm_way_id``, ``name``,
        ``road_class`` (the ``highway`` value), ``length_m`` (geodesic metres),
        ``walkable``, ``drivable``, ``oneway`` (drivable source → target only),
        ``walk_speed_mps``, ``drive_speed_kmh`` (from ``maxspeed``, NaN when absent)
        and line ``geometry`` from source to target, EPSG:4326.

    Raises
    ------
    OsmError
        If the file holds no usable highway way.
    """
    import osmium  # a reader dependency, imported where it is used

    speed = float(walk_speed_mps if walk_speed_mps is not None else get_settings().walk_speed_mps)
    refs: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    way_len: list[int] = []
    attrs: list[tuple[int, str | None, str, bool, bool, bool, float]] = []
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if not isinstance(obj, osmium.osm.Way):
            continue
        tags = obj.tags
        hw = tags.get("highway")
        if hw is None or hw in EXCLUDED_HIGHWAYS or tags.get("area") == "yes":
            continue
        walkable, drivable, oneway, kmh = _flags(dict(tags))
        if not (walkable or drivable):
            continue
        nodes = [(n.ref, n.lon, n.lat) for n in obj.nodes if n.location.valid()]
        if len(nodes) < 2:
            continue
        if oneway < 0:
            nodes.reverse()
        for r, x, y in nodes:
            refs.append(r)
            lons.append(x)
            lats.append(y)
        way_len.append(len(nodes))
        attrs.append((obj.id, tags.get("name"), hw, walkable, drivable, oneway != 0, kmh))
    if not way_len:
        raise OsmError(f"{path}: no highway way with located nodes; is it an OSM road extract?")
    return _split(
        np.asarray(refs, np.int64),
        np.asarray(lons),
        np.asarray(lats),
        np.asarray(way_len, np.int64),
        attrs,
        speed,
    )


def _split(
    ref: NDArray[np.int64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    way_len: NDArray[np.int64],
    attrs: list[Any],
    walk_speed_mps: float,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split concatenated way node lists at shared nodes into edges (vectorised)."""
    way_end = np.cumsum(way_len)
    way_start = way_end - way_len
    way_of = np.repeat(np.arange(len(way_len)), way_len)
    _, inverse, counts = np.unique(ref, return_inverse=True, return_counts=True)
    # a node shared by two ways, or visited twice by one, splits; so do way ends
    is_split = counts[inverse] > 1
    is_split[way_start] = True
    is_split[way_end - 1] = True
    split_pos = np.flatnonzero(is_split)
    last = np.zeros(len(ref), dtype=bool)
    last[way_end - 1] = True
    starts = split_pos[~last[split_pos]]
    ends = split_pos[np.searchsorted(split_pos, starts, side="right")]
    n_coords = ends - starts + 1
    edge_of = np.repeat(np.arange(len(starts)), n_coords)
    pos = np.repeat(starts, n_coords) + (
        np.arange(int(n_coords.sum())) - np.repeat(np.cumsum(n_coords) - n_coords, n_coords)
    )
    # geodesic length: every consecutive pair within an edge
    a, b = pos[:-1], pos[1:]
    same = edge_of[:-1] == edge_of[1:]
    _, _, seg = Geod(ellps="WGS84").inv(lon[a[same]], lat[a[same]], lon[b[same]], lat[b[same]])
    length_m = np.bincount(edge_of[:-1][same], weights=seg, minlength=len(starts))
    geometry = shapely.linestrings(np.column_stack([lon[pos], lat[pos]]), indices=edge_of)

    way = way_of[starts]
    table = pd.DataFrame(
        attrs,
        columns=["osm_way_id", "name", "road_class", "walkable", "drivable", "oneway", "kmh"],
    ).iloc[way]
    edges = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(starts) + 1, dtype=np.int64),
            "source": ref[starts],
            "target": ref[ends],
            "osm_way_id": table["osm_way_id"].to_numpy(np.int64),
            "name": table["name"].to_numpy(object),
            "road_class": table["road_class"].to_numpy(object),
            "length_m": length_m,
            "walkable": table["walkable"].to_numpy(bool),
            "drivable": table["drivable"].to_numpy(bool),
            "oneway": table["oneway"].to_numpy(bool),
            "walk_speed_mps": np.full(len(starts), walk_speed_mps),
            "drive_speed_kmh": table["kmh"].to_numpy(float),
        },
        geometry=geometry,
        crs=4326,
    )
    node_ref = np.unique(np.concatenate([ref[starts], ref[ends]]))
    first = np.searchsorted(ref[np.argsort(ref, kind="stable")], node_ref)
    at = np.argsort(ref, kind="stable")[first]
    nodes = gpd.GeoDataFrame({"id": node_ref}, geometry=shapely.points(lon[at], lat[at]), crs=4326)
    return nodes, edges
