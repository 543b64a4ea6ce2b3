"""Read an OpenStreetMap file (``.osm`` XML or ``.osm.pbf``) into road node and edge frames.

The frames have the columns of ``road_node`` / ``road_edge`` (see :mod:`gis.db.models`)
and feed :meth:`analysis.network.RoadNetwork.from_frames`.

Reader: **pyosmium** (PyPI ``osmium``), the Python binding of libosmium, maintained
by OpenStreetMap's own developers and released with it.  It reads XML, PBF and their
compressed forms with one call, parses in C++, and attaches node locations to ways
itself (``with_locations``), so a city extract reads in well under a second; osmnx's
reader handles XML only and builds the whole document in Python, pyrosm reads PBF only
and is little maintained.

Ways tagged ``highway`` are split at every node they share with another highway way
(and at their ends) into edges; lengths are geodesic metres on the WGS84 ellipsoid.
``oneway=yes``, ``oneway=-1`` (the way is reversed), roundabouts and motorways are
one-way for driving.  Drivable follows the highway class and the ``access`` and
``motor_vehicle`` tags.

Walking follows OSM's routing profiles (osmnx's ``walk`` filter, OSRM's foot profile):
a pedestrian may not use

* motorways and their links, cycleways and bridleways;
* a trunk road (城市快速路 in Chinese cities) off the ground: in a tunnel, on a bridge or
  elevated (any ``layer`` but 0), or any road tagged ``motorroad=yes``;
* the tunnel of a primary or secondary road (a car tunnel; the underpass of a street,
  a service road or a footway stays walkable);
* a way tagged ``foot=no`` or ``foot=use_sidepath``, or ``access=no``/``private``.

``foot=yes``, ``designated`` or ``permissive`` overrides all of these; a ``sidewalk``
overrides the class and tunnel rules (not a ``foot`` or ``access`` ban).  Every edge
also carries its ``z_level`` (0 on the ground, below 0 in a tunnel or underground,
above 0 on a bridge or elevated road), from the ``tunnel``, ``bridge`` and ``layer``
tags, so that points are snapped to roads on the ground.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from os import PathLike
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

import geopandas as gpd
import shapely
from pyproj import Geod

from gis.errors import EtlError, InvalidInput
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
#: Highway values closed to pedestrians unless tagged ``foot=yes`` (or with a sidewalk).
NOT_WALKABLE = frozenset({"motorway", "motorway_link", "cycleway", "bridleway"})
#: Highway values closed to pedestrians off the ground: in tunnels, on bridges, elevated.
NOT_WALKABLE_OFF_GROUND = frozenset({"trunk", "trunk_link"})
#: Highway values whose tunnels are car tunnels, closed to pedestrians.
NOT_WALKABLE_IN_TUNNELS = frozenset({"primary", "primary_link", "secondary", "secondary_link"})
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
_FOOT_NO = frozenset({"no", "private", "use_sidepath"})
_YES = frozenset({"yes", "designated", "permissive"})
#: ``tunnel`` values that do not take a way underground (a passage through a building).
_NOT_UNDERGROUND = frozenset({"no", "building_passage", "culvert"})
_SIDEWALK_KEYS = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
_NO_SIDEWALK = frozenset({"", "no", "none", "separate"})
_LAYER = re.compile(r"^\s*([+-]?\d+)\s*$")
_MAXSPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$")


T = TypeVar("T")


class OsmError(EtlError, InvalidInput):
    """The OpenStreetMap file holds no usable road network, or cannot be read."""


def read_objects(path: str | PathLike[str], processor: Iterable[T]) -> Iterator[T]:
    """The objects of an osmium ``FileProcessor`` over ``path``, its failures an :class:`OsmError`.

    libosmium refuses a file it cannot parse, and one whose objects are not in the order
    OSM tools write them (nodes, ways, relations, each by id), with a bare RuntimeError.
    """
    try:
        yield from processor
    except RuntimeError as exc:
        hint = (
            "sort it first: osmium sort FILE -o SORTED.osm.pbf"
            if "order" in str(exc)
            else "give an .osm / .osm.pbf extract (e.g. from download.geofabrik.de or osmium)"
        )
        raise OsmError(f"{path} cannot be read as OpenStreetMap data ({exc}); {hint}") from exc


def z_level(tags: dict[str, str]) -> int:
    """Vertical position of a way: 0 on the ground, < 0 below it, > 0 above it.

    ``tunnel`` (but not a building passage or culvert) puts a way below the ground and
    ``bridge`` above it, at their ``layer`` or one level; otherwise ``layer`` decides
    (an elevated road is often tagged ``layer=1`` without ``bridge``).
    """
    m = _LAYER.match(tags.get("layer", ""))
    layer = int(m.group(1)) if m else 0
    if tags.get("tunnel", "no") not in _NOT_UNDERGROUND:
        return min(layer, -1)
    if tags.get("bridge", "no") != "no":
        return max(layer, 1)
    return layer


def _walkable(tags: dict[str, str], level: int) -> bool:
    """Whether a pedestrian may use the way (see the module docstring for the rules)."""
    hw = tags["highway"]
    foot = tags.get("foot", "")
    if foot in _YES:
        return True
    if foot in _FOOT_NO or tags.get("access", "") in _NO:
        return False
    if any(tags.get(k, "") not in _NO_SIDEWALK for k in _SIDEWALK_KEYS):
        return True
    return not (
        hw in NOT_WALKABLE
        or tags.get("motorroad") == "yes"
        or (hw in NOT_WALKABLE_OFF_GROUND and level != 0)
        or (hw in NOT_WALKABLE_IN_TUNNELS and level < 0)
    )


def _flags(tags: dict[str, str]) -> tuple[bool, bool, int, float, int]:
    """Walkable, drivable, oneway (0 no, 1 yes, -1 reversed), maxspeed km/h and z level."""
    hw = tags["highway"]
    access = tags.get("access", "")
    level = z_level(tags)
    walkable = _walkable(tags, level)
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
    return walkable, drivable, oneway, speed, level


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
        ``id`` (:func:`edge_ids`: the way's id and the piece's place along it, the same
        in every extract that splits the way alike), ``source``, ``target`` (OSM node
        ids), ``osm_way_id``, ``name``,
        ``road_class`` (the ``highway`` value), ``length_m`` (geodesic metres),
        ``walkable``, ``drivable``, ``oneway`` (drivable source → target only),
        ``walk_speed_mps``, ``drive_speed_kmh`` (from ``maxspeed``, NaN when absent),
        ``z_level`` (0 on the ground, below 0 in a tunnel, above 0 on a bridge) and
        line ``geometry`` from source to target, EPSG:4326.

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
    attrs: list[tuple[int, str | None, str, bool, bool, bool, float, int]] = []
    for obj in read_objects(path, osmium.FileProcessor(str(path)).with_locations()):
        if not isinstance(obj, osmium.osm.Way):
            continue
        tags = obj.tags
        hw = tags.get("highway")
        if hw is None or hw in EXCLUDED_HIGHWAYS or tags.get("area") == "yes":
            continue
        walkable, drivable, oneway, kmh, level = _flags(dict(tags))
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
        attrs.append((obj.id, tags.get("name"), hw, walkable, drivable, oneway != 0, kmh, level))
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


#: Pieces a way may be split into: OSM caps a way at 2,000 nodes, so 1,999 pieces at most.
PIECES_PER_WAY = 4096


def edge_ids(way_ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """Stable road edge ids: ``way id × 4096 + the piece's place along the way``.

    ``way_ids`` holds each edge's way, the pieces of one way together and in order.  An id
    that does not depend on what else the file holds lets two offices' extracts meet in
    one network (``wangge import osm --area``): the same piece of the same way has one id.

    Raises
    ------
    OsmError
        When a way is split into more pieces than an id has room for.
    """
    n = len(way_ids)
    first = np.r_[True, way_ids[1:] != way_ids[:-1]] if n else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    piece = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    if n and piece.max() >= PIECES_PER_WAY:
        way = int(way_ids[int(np.argmax(piece))])
        raise OsmError(f"way {way} is split into more than {PIECES_PER_WAY:,} pieces")
    return way_ids * PIECES_PER_WAY + piece


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
        columns=[
            "osm_way_id",
            "name",
            "road_class",
            "walkable",
            "drivable",
            "oneway",
            "kmh",
            "z_level",
        ],
    ).iloc[way]
    edges = gpd.GeoDataFrame(
        {
            "id": edge_ids(table["osm_way_id"].to_numpy(np.int64)),
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
            "z_level": table["z_level"].to_numpy(np.int16),
        },
        geometry=geometry,
        crs=4326,
    )
    node_ref = np.unique(np.concatenate([ref[starts], ref[ends]]))
    first = np.searchsorted(ref[np.argsort(ref, kind="stable")], node_ref)
    at = np.argsort(ref, kind="stable")[first]
    nodes = gpd.GeoDataFrame({"id": node_ref}, geometry=shapely.points(lon[at], lat[at]), crs=4326)
    return nodes, edges


#: OSM tags (key → values) of the areas the offline basemap draws, by kind.
AREA_TAGS: dict[str, dict[str, frozenset[str]]] = {
    "water": {
        "natural": frozenset({"water", "bay"}),
        "waterway": frozenset({"riverbank", "dock", "canal"}),
        "landuse": frozenset({"reservoir", "basin"}),
        "water": frozenset({"river", "lake", "pond", "canal", "reservoir"}),
    },
    "green": {
        "leisure": frozenset({"park", "garden", "nature_reserve", "pitch", "playground"}),
        "landuse": frozenset(
            {"grass", "forest", "meadow", "recreation_ground", "village_green", "cemetery"}
        ),
        "natural": frozenset({"wood", "scrub", "grassland", "wetland"}),
    },
}


def area_kind(tags: dict[str, str]) -> str | None:
    """``water``, ``green`` or None for an OSM area's tags (water first)."""
    for kind, keys in AREA_TAGS.items():
        if any(tags.get(key) in values for key, values in keys.items()):
            return kind
    return None


def read_osm_areas(path: str | PathLike[str]) -> gpd.GeoDataFrame:
    """Read the water (水系) and green (绿地) areas of an OSM file, for the offline basemap.

    Closed ways and multipolygon relations tagged as water (``natural=water``,
    ``waterway=riverbank``, ``landuse=reservoir`` …) or green (``leisure=park``,
    ``landuse=grass``/``forest`` …, ``natural=wood``), assembled by libosmium.

    Returns
    -------
    geopandas.GeoDataFrame
        ``kind`` (water, green), ``name`` (the ``name:zh`` or ``name`` tag, may be None),
        ``source`` (``osm``) and MultiPolygon ``geometry``, EPSG:4326; invalid
        geometries are repaired, empty ones dropped.
    """
    import osmium  # a reader dependency, imported where it is used

    wkb = osmium.geom.WKBFactory()
    kinds: list[str] = []
    names: list[str | None] = []
    shapes: list[bytes] = []
    for obj in read_objects(
        path,
        osmium.FileProcessor(str(path))
        .with_areas()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.AREA)),
    ):
        tags = dict(obj.tags)
        kind = area_kind(tags)
        if kind is None:
            continue
        try:
            shape = wkb.create_multipolygon(obj)
        except RuntimeError:  # an unclosed or broken ring in the data
            continue
        kinds.append(kind)
        names.append(tags.get("name:zh") or tags.get("name"))
        shapes.append(bytes.fromhex(shape) if isinstance(shape, str) else shape)
    geometry = shapely.make_valid(shapely.from_wkb(np.asarray(shapes, dtype=object)))
    frame = gpd.GeoDataFrame(
        {"kind": kinds, "name": names, "source": "osm"}, geometry=geometry, crs=4326
    )
    frame = frame[~frame.geometry.is_empty].copy()
    frame["geometry"] = [
        shapely.MultiPolygon(
            [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and not p.is_empty]
        )
        for g in frame.geometry
    ]
    return frame[~frame.geometry.is_empty].reset_index(drop=True)
