"""Vector tiles of the map layers (Mapbox Vector Tile from ``ST_AsMVT``), one use case per tile.

Every door that draws a map — the overview, the live wall screen, a GIS client — asks
for ``layer``/``z``/``x``/``y`` of the WebMercatorQuad tile matrix set.  The layers:

==========  ==================================================  =========================
layer       what (MVT layers inside)                            who
==========  ==================================================  =========================
basemap     water, green, building, road, road_label, place,    anyone
            poi: the offline basemap
grids       grids (code, name, community, people counts),       anyone (counts below k
            grid_labels (a point per grid from zoom 15)         suppressed)
buildings   buildings (name, floors, use, households), from     anyone (idem)
            zoom 13 (empty below)
roads       roads (name, class, walkable, drivable, oneway)     anyone
h3          h3 (households, residents, vulnerable per H3 cell,  anyone (idem)
            the resolution by zoom)
shelters    shelters (class, capacity, occupancy, open, in a    anyone
            hazard area now)
hazards     hazards in force now                                command centre
incidents   open incidents: per H3 cell below zoom 15, points   command centre (points of
            from 15                                             their grids only)
checkon     whom to check on in the hazards in force and their  check-on readers (their
            routes to safety, from zoom 16 (empty below)        grids)
==========  ==================================================  =========================

A tile is built from the database (:mod:`gis.store.tile_store`) and the counts the server
keeps (:class:`TileSources`); the door keeps built tiles while the data versions of the
layer's tables (:data:`LAYER_TABLES`) stand still, and answers their ETag.  A tile's
versions (:meth:`LayerVersions.at`) are those of the offices whose records may lie in it
(:func:`gis.store.office_versions.office_reach`) and the shared part (tables without
offices, rows of no office): an import by one street office leaves the tiles of
another street's area, and their ETags, as they were.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import h3
import shapely

from api.services.awareness import now
from gis.errors import InvalidInput, ServiceError
from gis.settings import Settings
from gis.store import awareness_store, tile_store
from gis.store.office_versions import (
    OFFICE_TABLES,
    AreaVersions,
    Box,
    area_versions,
    meets,
    office_reach,
    widen,
)
from gis.store.queries import data_version
from grids.access import CHECK_ON_LAYER, PUBLIC_MAP_LAYERS, Principal, require_map_layer
from maps.cells import CellShapes, resolution_for_zoom
from maps.live import FINISHED_STATES, GROUP_NAMES

TileLayer = Literal[
    "basemap", "grids", "buildings", "roads", "h3", "shelters", "hazards", "incidents", "checkon"
]
TILE_LAYERS: tuple[str, ...] = TileLayer.__args__  # type: ignore[attr-defined]
MAX_ZOOM = 22
#: From this zoom the incidents layer holds points; below, counts per H3 cell.
INCIDENT_POINT_ZOOM = 15
#: From this zoom the check-on layer holds the residents' buildings and their routes.
CHECK_ON_ZOOM = 16
#: From this zoom the grids layer holds a point per grid for its code label.
GRID_LABEL_ZOOM = 15
MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Layers anyone may read (cached by browsers and proxies as public).
PUBLIC_LAYERS = PUBLIC_MAP_LAYERS

#: The versioned tables each layer is drawn from: a tile is rebuilt when one moves.
#: (``grid`` stands in for the admin areas, loaded and replaced with the grids.)
LAYER_TABLES: dict[str, tuple[str, ...]] = {
    "basemap": ("map_area", "road_edge", "building", "facility", "grid"),
    "grids": ("grid", "household", "resident"),
    "buildings": ("building", "household"),
    "roads": ("road_edge",),
    "h3": ("household", "resident"),
    "shelters": ("facility", "shelter", "hazard_area"),
    "hazards": ("hazard_area",),
    "incidents": ("incident", "incident_category", "grid"),
    "checkon": (
        "grid",
        "building",
        "household",
        "resident",
        "facility",
        "shelter",
        "road_edge",
        "hazard_area",
    ),
}
#: Layers that change with the clock as well: what is in force *now*.
CLOCK_LAYERS = frozenset({"shelters", "hazards", "checkon"})
#: Layers drawn per grid: an office's change shows wherever the grids it meets reach.
PER_GRID_LAYERS = frozenset({"grids"})
#: Layers a change anywhere may reach (the routes to safety cross offices): every
#: office's version counts in every tile.
WHOLE_LAYERS = frozenset({"checkon"})
#: The margin around a tile within which a record changes it: more than the buffer
#: the tiles are drawn with (:mod:`gis.store.tile_store`, 1/64 of a tile).
TILE_REACH_MARGIN = 1 / 16
#: Counts suppressed below k in the public H3 layer.
PEOPLE_COUNTS = ("households", "residents", "vulnerable")


class TileError(ServiceError, InvalidInput):
    """A tile address outside the tile matrix set."""


@dataclass(frozen=True)
class TileSources:
    """What a tile may need from the server's caches, each read only when needed.

    ``people_by_grid``: counts per grid (:attr:`gis.store.tile_store.PeopleCounts.by_grid`);
    ``people_cells`` / ``incident_cells``: people and open incidents per H3 cell;
    ``check_on``: the check-on rows of the hazards in force the user may see (with
    ``lon``, ``lat``, ``route``).
    """

    people_by_grid: Callable[[], pd.DataFrame]
    people_cells: Callable[[], CellShapes]
    incident_cells: Callable[[], CellShapes]
    check_on: Callable[[], pd.DataFrame | None]


def check_tile(z: int, x: int, y: int) -> None:
    """Raise :class:`TileError` unless (z, x, y) is a tile of WebMercatorQuad."""
    if not 0 <= z <= MAX_ZOOM:
        raise TileError(f"zoom {z} is outside 0-{MAX_ZOOM}: ask for a tile /z/x/y with z in it")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise TileError(
            f"tile {z}/{x}/{y} does not exist: at zoom {z}, x and y run from 0 to {n - 1}"
        )


def tile_box(z: int, x: int, y: int, margin: float = 1 / 64) -> tuple[float, float, float, float]:
    """The tile's box in degrees (W, S, E, N), grown by ``margin`` of its size each side."""
    n = 1 << z

    def lon(tx: float) -> float:
        return tx / n * 360.0 - 180.0

    def lat(ty: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / n))))

    return lon(x - margin), lat(y + 1 + margin), lon(x + 1 + margin), lat(y - margin)


def authorize(user: Principal | None, layer: str) -> None:
    """Raise unless the user may read the layer (see :func:`grids.access.require_map_layer`)."""
    require_map_layer(user, layer)


def variant(user: Principal | None, layer: str, z: int) -> Hashable:
    """What besides the address tells two tiles apart: the user's area, or None.

    Rows per place (incident points, check-on rows) differ by area; every other tile is
    the same for every reader.
    """
    per_place = (layer == "incidents" and z >= INCIDENT_POINT_ZOOM) or layer == CHECK_ON_LAYER
    if not per_place or user is None or user.sees_everything:
        return None
    return tuple(sorted(user.grid_ids or ()))


@dataclass(frozen=True)
class LayerVersions:
    """A layer's data versions, per office, and where each office's records may lie.

    ``reach``: office id → box (W, S, E, N), worked out at ``places`` (the data versions
    of the areas and grids); ``extra``: what else the layer follows (the hazards in force
    now).  Read once for a layer, then asked per tile (:meth:`at`).
    """

    layer: str
    versions: AreaVersions
    reach: Mapping[int, Box]
    extra: tuple = ()
    places: tuple = ()

    @property
    def whole(self) -> tuple:
        """Every version of the layer: what moves when anything of it changes."""
        return (self.versions.whole, self.extra)

    def at(self, z: int, x: int, y: int, h3_resolution: int) -> tuple:
        """The versions tile ``z/x/y`` is built at: only the offices that may reach it.

        ``h3_resolution``: the finest stored H3 resolution; the H3 layer draws cells
        coarser by zoom, and a cell shows the change of a record anywhere inside it.
        """
        if self.layer in WHOLE_LAYERS:
            offices = list(self.versions.offices)
        else:
            box = tile_box(z, x, y, margin=TILE_REACH_MARGIN)
            if self.layer == "h3":
                box = widen(box, cell_reach_m(resolution_for_zoom(z, h3_resolution)))
            offices = [o for o, reach in self.reach.items() if meets(reach, box)]
        return (*self.versions.of(offices), self.extra)


def cell_reach_m(resolution: int) -> float:
    """How far from a record the H3 cell holding it may stretch, in metres.

    A cell's box is at most two of its circumradii (its edge) wide; the edge of a cell
    is taken as 1.5 times the average at its resolution (they vary over the globe).
    """
    return 2 * 1.5 * h3.average_hexagon_edge_length(resolution, unit="m")


def version(engine: Engine, layer: str, previous: LayerVersions | None = None) -> LayerVersions:
    """The data versions a layer's tiles are built at (and the hazards in force now).

    The offices' reach is taken from ``previous`` (the layer's last reading) while the
    areas, the grids and the offices that wrote are the same: a few milliseconds saved
    per reading at hundreds of offices.
    """
    tables = LAYER_TABLES[layer]
    versions = area_versions(engine, tables)
    reach: Mapping[int, Box] = {}
    places: tuple = ()
    if versions.offices and layer not in WHOLE_LAYERS and set(tables) & set(OFFICE_TABLES):
        places = data_version(engine, ("admin_area", "grid"))
        if (
            previous is not None
            and previous.places == places
            and set(previous.reach) == set(versions.offices)
        ):
            reach = previous.reach
        else:
            reach = office_reach(engine, versions.offices, with_grids=layer in PER_GRID_LAYERS)
    extra: tuple = ()
    if layer in CLOCK_LAYERS:
        extra = (awareness_store.hazard_versions(engine, active_at=now()),)
    return LayerVersions(layer, versions, reach, extra, places)


def etag(layer: str, z: int, x: int, y: int, at: tuple, area: Hashable, k: int) -> str:
    """A strong ETag for a tile: its address, data versions, area and k."""
    digest = hashlib.sha1(repr((layer, z, x, y, at, area, k)).encode(), usedforsecurity=False)
    return f'"{digest.hexdigest()[:20]}"'


def render(
    engine: Engine,
    settings: Settings,
    user: Principal | None,
    layer: str,
    z: int,
    x: int,
    y: int,
    sources: TileSources,
) -> bytes:
    """Build one tile of a layer (the caller has checked access with :func:`authorize`).

    Returns
    -------
    bytes
        The Mapbox Vector Tile (empty when nothing lies in the tile).
    """
    check_tile(z, x, y)
    k = settings.privacy_k
    if layer == "basemap":
        return tile_store.basemap_tile(engine, z, x, y)
    if layer == "grids":
        people = sources.people_by_grid()
        return tile_store.grids_tile(
            engine, z, x, y, people=people, k=k, label_zoom=GRID_LABEL_ZOOM
        )
    if layer == "buildings":
        return tile_store.buildings_tile(engine, z, x, y, k=k)
    if layer == "roads":
        return tile_store.roads_tile(engine, z, x, y)
    if layer == "shelters":
        return tile_store.shelters_tile(engine, z, x, y, at=now())
    if layer == "hazards":
        return tile_store.hazards_tile(engine, z, x, y, at=now())
    if layer == "h3":
        return _cells_tile(engine, "h3", z, x, y, sources.people_cells(), k, PEOPLE_COUNTS)
    if layer == "incidents":
        if z < INCIDENT_POINT_ZOOM:
            return _cells_tile(engine, "incidents", z, x, y, sources.incident_cells(), None, ())
        grids = None if user is None or user.sees_everything else sorted(user.grid_ids or ())
        return tile_store.incident_points_tile(
            engine, z, x, y, finished=FINISHED_STATES, grid_ids=grids
        )
    if layer == CHECK_ON_LAYER:
        if z < CHECK_ON_ZOOM:
            return b""
        return _check_on_tile(engine, z, x, y, sources.check_on())
    raise TileError(f"no map layer '{layer}'; the layers are {', '.join(TILE_LAYERS)}")


def _cells_tile(
    engine: Engine,
    layer: str,
    z: int,
    x: int,
    y: int,
    shapes: CellShapes,
    k: int | None,
    suppressed: tuple[str, ...],
) -> bytes:
    level = shapes.level(resolution_for_zoom(z, shapes.resolution))
    chosen = level.in_box(*tile_box(z, x, y))
    if not len(chosen):
        return b""
    props = CellShapes.properties(level, chosen, k=k, suppressed=suppressed)
    # id: the cell's position in its level (the H3 index itself is the 'cell' property)
    return tile_store.shapes_tile(
        engine,
        z,
        x,
        y,
        layer=layer,
        ids=chosen.astype(np.int64),
        wkb=[bytes(b) for b in level.wkb[chosen]],
        props=props,
    )


def _check_on_tile(engine: Engine, z: int, x: int, y: int, rows: pd.DataFrame | None) -> bytes:
    """Whom to check on (points: grid, resident, groups, where to) and their routes."""
    if rows is None or rows.empty:
        return b""
    w, s, e, n = tile_box(z, x, y)
    lon, lat = rows["lon"].to_numpy(float), rows["lat"].to_numpy(float)
    inside = (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)
    routes = np.asarray(rows["route"].to_numpy(), dtype=object) if "route" in rows else None
    has_route = np.zeros(len(rows), dtype=bool)
    if routes is not None:
        present = np.asarray([r is not None and not shapely.is_missing(r) for r in routes])
        boxes = np.full((len(rows), 4), np.nan)
        if present.any():
            boxes[present] = shapely.bounds(np.asarray(list(routes[present]), dtype=object))
        has_route = present & (boxes[:, 0] <= e) & (boxes[:, 2] >= w)
        has_route &= (boxes[:, 1] <= n) & (boxes[:, 3] >= s)
    points = rows[inside]
    body = b""
    if len(points):
        props = []
        for row in points.itertuples(index=False):
            groups = "、".join(GROUP_NAMES.get(g, g) for g in str(row.groups).split(",") if g)
            where = (
                "无可安全到达的避难场所，需专人转移"
                if pd.isna(row.shelter_id)
                else f"{row.shelter_name}，步行约 {float(row.walk_s) / 60:.0f} 分钟"
            )
            props.append(
                pd.Series(
                    {
                        "grid": str(row.grid_code),
                        "resident": int(row.resident_id),
                        "groups": groups,
                        "where": where,
                        "reachable": not pd.isna(row.shelter_id),
                    }
                ).to_json(force_ascii=False)
            )
        body += tile_store.shapes_tile(
            engine,
            z,
            x,
            y,
            layer="checkon",
            ids=points["resident_id"].to_numpy(np.int64),
            wkb=[bytes(b) for b in shapely.to_wkb(shapely.points(lon[inside], lat[inside]))],
            props=props,
        )
    if has_route.any():
        chosen = rows[has_route]
        body += tile_store.shapes_tile(
            engine,
            z,
            x,
            y,
            layer="checkon_routes",
            ids=chosen["resident_id"].to_numpy(np.int64),
            wkb=[bytes(b) for b in shapely.to_wkb(np.asarray(list(routes[has_route])))],
            props=[f'{{"grid": "{g}"}}' for g in chosen["grid_code"].astype(str)],
        )
    return body
