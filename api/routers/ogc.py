"""OGC API — Features (Part 1 Core, GeoJSON) and Tiles over the published views, at ``/ogc``.

The standard is not written here: **tipg** (developmentseed) serves it from PostGIS —
landing page, conformance, collections, items with ``bbox``, ``limit``/``offset`` paging
(``next`` links), ``datetime``, property and CQL2 filters, single items, queryables, tile
matrix sets (WebMercatorQuad …) and vector tiles per collection.  This door only decides
what it may show:

* the collections are the ``pub_*`` views of migration 0012 (made for publication: no
  personal data, households and residents only as counts suppressed below k — the
  pool's sessions carry ``wangge.privacy_k`` from the settings);
* who sees which is :mod:`grids.access`'s rule: the public set for anyone, the staff set
  for the command centre (:func:`grids.access.visible_collections`); a collection the
  caller may not see is answered 404, as if it did not exist;
* rows of the area-limited collections (incidents) are limited to the grids the caller
  covers (:func:`grids.access.collection_grids`) by a CQL2 condition joined to theirs.

Sign in as everywhere else, with the header ``Authorization: Bearer TOKEN`` (a token in
the URL, ``?api_key=``, is refused with 400).  GDAL sends it as a header too:
``ogrinfo --config GDAL_HTTP_HEADERS "Authorization: Bearer TOKEN" OAPIF:URL/ogc`` (or
``GDAL_HTTP_HEADER_FILE`` naming a file with that line, which keeps the token out of the
process list); QGIS, with an "API Header" authentication configuration.  A browser
signed in at ``/login`` sends its session cookie.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import asyncpg
from cql2 import Expr
from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send
from tipg.collections import Collection, CollectionList, register_collection_catalog
from tipg.database import close_db_connection, connect_to_db
from tipg.dependencies import CollectionParams, CollectionsParams
from tipg.errors import DEFAULT_STATUS_CODES, add_exception_handlers
from tipg.settings import DatabaseSettings, PostgresSettings

from api import errors
from api.auth import OptionalUser
from api.ogc_links import Links
from api.services.ogc_tiles import kept_tiles, view_tables
from api.state import AppState
from gis.errors import NotFound
from grids.access import (
    PUBLIC_COLLECTIONS,
    STAFF_COLLECTIONS,
    collection_grids,
    visible_collections,
)

log = logging.getLogger("wangge.ogc")
OGC_PATH = "/ogc"
SCHEMA = "public"
#: The datetime each collection's ``datetime`` filter reads (tipg would take the first in
#: alphabetical order).
DATETIME_COLUMNS = {"pub_incident": "reported_at", "pub_hazard": "valid_from"}


def _table(collection_id: str) -> str:
    return collection_id.split(".", 1)[-1]


class AreaLimited:
    """A collection whose rows are read only in some grids (a CQL2 ``grid_id IN (…)``)."""

    def __init__(self, collection: Collection, grid_ids: frozenset[int]) -> None:
        self._collection = collection
        ids = sorted(grid_ids)
        self._area: dict[str, Any] = (
            {"op": "in", "args": [{"property": "grid_id"}, ids]}
            if ids
            else {"op": "=", "args": [{"property": "grid_id"}, -1]}
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def _within(self, cql: Expr | None) -> Expr:
        if cql is None:
            return Expr(self._area)
        return Expr({"op": "and", "args": [cql.to_json(), self._area]})

    async def features(self, *args: Any, cql_filter: Expr | None = None, **kwargs: Any) -> Any:
        """The rows asked for, in the area."""
        return await self._collection.features(*args, cql_filter=self._within(cql_filter), **kwargs)

    async def get_tile(self, *args: Any, cql_filter: Expr | None = None, **kwargs: Any) -> Any:
        """The tile asked for, with the rows of the area."""
        return await self._collection.get_tile(*args, cql_filter=self._within(cql_filter), **kwargs)


def visible_collection(
    request: Request,
    collection: Annotated[Collection, Depends(CollectionParams)],
    user: OptionalUser,
) -> Collection:
    """The collection asked for, if the caller may see it (else 404), limited to their area.

    Runs in a worker thread (a plain function): a tile's data versions are read here.
    """
    table = _table(collection.id)
    if table not in visible_collections(user):
        raise NotFound(f"no collection '{collection.id}' (or it is not published to you)")
    grids = collection_grids(user, table)
    if grids is not None:
        return AreaLimited(collection, grids)  # type: ignore[return-value]
    state = getattr(request.app.state, "wangge", None)
    if state is None:
        return collection
    tables = request.app.state.view_tables.get(table, ())
    path, query = request.url.path, request.query_params.multi_items()
    kept = kept_tiles(state.engine, state.tiles, collection, tables, path, query)
    return kept or collection  # type: ignore[return-value]


def listed_collections(
    collections: Annotated[CollectionList, Depends(CollectionsParams)], user: OptionalUser
) -> CollectionList:
    """The collections the caller may see."""
    shown = visible_collections(user)
    kept = [c for c in collections["collections"] if _table(c.id) in shown]
    return CollectionList(
        collections=kept,
        matched=len(kept),
        next=collections["next"],
        prev=collections["prev"],
    )


def create_ogc_app() -> FastAPI:
    """The OGC API application, mounted at :data:`OGC_PATH` (its pool made by :func:`start`)."""
    app = FastAPI(
        title="Wangge 网格化管理 · OGC API",
        description="OGC API — Features and Tiles over Wangge's published layers (tipg).",
        openapi_url="/openapi.json",
        docs_url="/docs",
    )
    endpoints = Links(
        title="Wangge 网格化管理 · OGC API",
        collection_dependency=visible_collection,
        collections_dependency=listed_collections,
        with_tiles_viewer=False,
        router_prefix=OGC_PATH,
    )
    app.include_router(endpoints.router)
    add_exception_handlers(app, DEFAULT_STATUS_CODES)
    errors.install(app)
    return app


def libpq_url(engine: Engine) -> str:
    """The engine's database as a plain ``postgresql://`` URL (for asyncpg)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def start(app: FastAPI, state: AppState) -> None:
    """Open the OGC API's connection pool and read its catalogue of ``pub_*`` views."""
    app.state.wangge = state
    await connect_to_db(
        app,
        schemas=[SCHEMA],
        settings=PostgresSettings(database_url=libpq_url(state.engine), db_max_conn_size=4),
        server_settings={
            "wangge.privacy_k": str(state.settings.privacy_k),
            # its pages are short statements: JIT compiling cost more than it saved
            # (gis.db.engine)
            "jit": "off",
            "application_name": "wangge-ogc",
        },
    )
    tables = sorted(PUBLIC_COLLECTIONS | STAFF_COLLECTIONS)
    app.state.view_tables = await asyncio.to_thread(view_tables, state.engine, SCHEMA, tables)
    await register_collection_catalog(
        app,
        db_settings=DatabaseSettings(
            schemas=[SCHEMA], tables=[f"{SCHEMA}.{t}" for t in tables], spatial_extent=True
        ),
    )
    for collection in app.state.collection_catalog["collections"].values():
        wanted = DATETIME_COLUMNS.get(collection.table)
        if wanted:
            column = next((c for c in collection.table_columns if c.name == wanted), None)
            if column is not None:
                collection.datetime_column = column


async def stop(app: FastAPI) -> None:
    """Close the OGC API's connection pool."""
    await close_db_connection(app)


class LazyOGC:
    """The OGC API, started with the server when the database answers, else on a request.

    The server must start (and ``/health`` answer 503) while the database is down; the
    OGC API's pool and catalogue then open with the first request that finds it back,
    and until then its requests are answered 503.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state: AppState | None = None
        self.started = False
        self._lock = asyncio.Lock()

    async def start(self, state: AppState) -> None:
        """Try to start now; a database that does not answer is tried again later."""
        self.state = state
        await self._ensure()

    async def _ensure(self) -> bool:
        async with self._lock:
            if not self.started and self.state is not None:
                try:
                    await start(self.app, self.state)
                    self.started = True
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("the OGC API waits for the database: %s", type(exc).__name__)
            return self.started

    async def stop(self) -> None:
        """Close the pool if it was opened."""
        if self.started:
            await stop(self.app)
            self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer through the OGC API, or 503 while the database does not answer."""
        if scope["type"] == "http" and not await self._ensure():
            answer = errors.problem(503, "Database unavailable", "the database does not answer")
            await answer(scope, receive, send)
            return
        await self.app(scope, receive, send)


def mount(app: FastAPI) -> LazyOGC:
    """Mount the OGC API on the application; returns it (to start and stop)."""
    ogc = LazyOGC(create_ogc_app())
    app.mount(OGC_PATH, ogc)
    return ogc
