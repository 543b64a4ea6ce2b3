"""The OGC API's tiles kept in the server's tile cache while their data stand still.

A GIS client (QGIS, ArcGIS) asks for the same tiles at every pan and zoom, and tipg builds
each from its view every time (0.1-0.15 s for a city's grids or buildings at zoom 8-12).
A tile is kept with the data versions of the tables under its view
(:func:`gis.store.view_versions.view_tables`) and built again when they move, as the map's
own tiles are (:class:`api.state.TileCache`: one memory bound for both).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

from sqlalchemy import Engine

from gis.store import view_versions
from gis.store.queries import data_version

#: ``…/tiles/{tileMatrixSetId}/{z}/{x}/{y}`` and the default set's ``…/tiles/{z}/{x}/{y}``
TILE_PATH = re.compile(r"/tiles/(?:[^/]+/)?\d+/\d+/\d+$")


class TileKeeper(Protocol):
    """Where tiles are kept (:class:`api.state.TileCache`)."""

    def version(self, layer: str, read: Callable[[Any], Any]) -> Any:
        """The layer's data versions, read again when old."""

    def lookup(self, key: Hashable, version: tuple) -> bytes | None:
        """The tile of ``key`` if it is held at ``version``."""

    def keep(self, key: Hashable, version: tuple, body: bytes) -> None:
        """Hold the tile of ``key`` built at ``version``."""


class KeptTiles:
    """A tipg collection whose ``get_tile`` answers from the cache at ``version``.

    Only for a collection every caller who may see it sees alike (not one limited to the
    caller's area): the key is the tile's path and query, nothing of the caller.
    """

    def __init__(self, collection: Any, cache: TileKeeper, key: Hashable, version: tuple) -> None:
        self._collection = collection
        self._cache = cache
        self._key = key
        self._version = version

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    async def get_tile(self, *args: Any, **kwargs: Any) -> bytes:
        """The tile asked for, from the cache while the data stand still."""
        body = self._cache.lookup(self._key, self._version)
        if body is None:
            body = await self._collection.get_tile(*args, **kwargs)
            self._cache.keep(self._key, self._version, body)
        return body


def kept_tiles(
    engine: Engine,
    cache: TileKeeper,
    collection: Any,
    tables: Sequence[str],
    path: str,
    query: Sequence[tuple[str, str]],
) -> KeptTiles | None:
    """``collection`` with its tiles kept, for a tile request of a view over ``tables``.

    None for any other request (items, metadata: ``path``) or a view not followed.
    Reads the tables' data versions (at most once a second per collection): call it
    from a worker thread.
    """
    if not tables or not TILE_PATH.search(path):
        return None
    version = cache.version(
        f"ogc:{collection.id}", lambda _last: data_version(engine, tuple(tables))
    )
    return KeptTiles(collection, cache, ("ogc", path, tuple(sorted(query))), version)


def view_tables(engine: Engine, schema: str, views: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The versioned tables under each published view (:mod:`gis.store.view_versions`)."""
    return view_versions.view_tables(engine, schema, views)
