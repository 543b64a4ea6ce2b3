"""The FastAPI application: the engine made in the lifespan, routers, pages, static files."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import errors, jobs
from api.auth import AnonymousUntilSignedIn
from api.changes import ChangeHub
from api.delivery import OWN_FILES, VENDORED, CachedStatic, compress
from api.headers import SecurityHeaders
from api.idempotency import Idempotency
from api.limits import RateLimits, limit_rate
from api.pages import admin as admin_pages
from api.pages import admin_data as admin_data_pages
from api.pages import desk as desk_pages
from api.pages import docs as docs_page
from api.pages import grids as grid_pages
from api.pages import home as home_page
from api.pages import kpi as kpi_pages
from api.pages import maps as map_pages
from api.pages import neighbourhood as neighbourhood_pages
from api.pages import planning as planning_pages
from api.pages import registry as registry_pages
from api.pages import resident as resident_pages
from api.pages import signin as signin_pages
from api.pages import simulate as simulate_pages
from api.pages import worker as worker_pages
from api.pages.render import STATIC_DIR as PAGES_STATIC_DIR
from api.pages.render import STATIC_URL as PAGES_STATIC_URL
from api.routers import (
    alerts,
    dispatch,
    exports,
    facilities,
    grids,
    hazards,
    health,
    incidents,
    live,
    ogc,
    planning,
    reports,
    resident,
    tiles,
    trends,
)
from api.routers import kpi as kpi_routes
from api.routers import open311 as open311_routes
from api.routers import registry as registry_routes
from api.routers import worker as worker_routes
from api.routers import worker_field as worker_field_routes
from api.state import AppState, keep_maps_warm
from api.url_credentials import RefuseUrlCredentials, redact_access_log, redact_logs
from gis.db.engine import get_app_engine
from gis.settings import Settings, get_settings
from gis.store import awareness_store
from maps.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL
from maps.basemap import raster_source

log = logging.getLogger("wangge")


#: The families of ``/docs`` in the order a reader looks for them: the JSON API first, the
#: server-rendered pages (HTML and their forms) last.
OPENAPI_TAGS = [
    {"name": "incidents", "description": "报事 and their life cycle: intake, casework, photos"},
    {"name": "resident", "description": "Residents: nearest shelter, nearby services"},
    {"name": "worker", "description": "The grid worker's tablet: grids, tasks, check-ins"},
    {"name": "grids", "description": "Grids (网格): map, locate, crosswalk, simulate"},
    {"name": "registry", "description": "The register of the caller's area (masked)"},
    {"name": "awareness", "description": "Hazards, impacts, alerts, aggregates, hotspots"},
    {"name": "planning", "description": "Facility coverage and plans"},
    {"name": "kpi", "description": "Performance review (考核)"},
    {"name": "facilities", "description": "Facilities and their service areas"},
    {"name": "exports", "description": "Registers exported, masked by role"},
    {"name": "maps", "description": "Vector tiles and map pages"},
    {"name": "open311", "description": "GeoReport v2 (Open311)"},
    {"name": "health", "description": "Is the server and its database up"},
    {"name": "pages", "description": "Server-rendered pages (HTML) and their forms"},
]


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the application; the database is connected when it starts, not at import."""
    settings = settings or get_settings()
    redact_access_log()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_logs()  # the server's handlers exist by now
        engine = get_app_engine(settings, url=database_url)
        replica = None
        if settings.database_replica_url:
            replica = get_app_engine(settings, url=settings.database_replica_url)
        state = AppState(engine, settings, ChangeHub(awareness_store.conninfo(engine)), replica)
        app.state.wangge = state
        await ogc_app.start(state)
        # what start-up built (modules, the app, its routes) lives as long as the process:
        # out of the collector's way, a full collection no longer walks it — without this
        # every few requests pay ~100 ms for it (benchmarks/worker.py: the household list)
        gc.collect()
        gc.freeze()
        periodic = jobs.start(engine, settings)
        if settings.map_warm_interval_s > 0:
            periodic.append(
                asyncio.create_task(keep_maps_warm(state, settings.map_warm_interval_s))
            )
        relay_stop, relay_job = asyncio.Event(), None
        if settings.relay_interval_s > 0:
            relay_job = asyncio.create_task(jobs.relay_loop(engine, settings, relay_stop))
        yield
        for task in periodic:
            task.cancel()
        if relay_job is not None:
            # the batch in hand is finished and recorded (a cancel would leave it to be
            # published again by the next relay)
            relay_stop.set()
            try:
                await asyncio.wait_for(relay_job, timeout=15)
            except (TimeoutError, asyncio.CancelledError):
                log.warning("the relay did not stop in time; its batch stays pending")
        await ogc_app.stop()
        if replica is not None:
            replica.dispose()
        engine.dispose()

    app = FastAPI(
        title="Wangge 网格化管理",
        description="Grid management and situational awareness for urban communities.",
        version="0.1.0",
        lifespan=lifespan,
        # served offline by api/pages/docs.py (the defaults load Swagger UI and ReDoc
        # from a CDN)
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(limit_rate)],
        openapi_tags=OPENAPI_TAGS,
    )
    app.state.limits = RateLimits(settings)
    errors.install(app)
    # the raster basemap's host (none with the offline basemap) may serve the pages' images
    source = raster_source(settings)
    tile_urls = [] if source is None else [u for u in (source.url, source.label_url) if u]
    # the headers wrap every answer, a replayed one too
    app.add_middleware(Idempotency)
    # a credential in the URL is refused before the idempotency keys are looked at, inside
    # the headers' middleware, so that its refusal page has a nonce and the headers
    app.add_middleware(RefuseUrlCredentials)
    app.add_middleware(SecurityHeaders, tile_urls=tile_urls)
    # gzip on the way out (not pages, not event streams: api/delivery.py), outside the
    # idempotency keys so that a replay is compressed like the first answer
    compress(app)
    # outermost: the database's policies see every request as anonymous until signed in
    app.add_middleware(AnonymousUntilSignedIn)
    app.include_router(health.router)
    app.include_router(home_page.router)
    app.include_router(desk_pages.router)
    app.include_router(signin_pages.router)
    app.include_router(docs_page.router)
    app.include_router(map_pages.router)
    app.include_router(tiles.router)
    app.include_router(grids.router)
    app.include_router(resident.router)
    app.include_router(resident_pages.router)
    app.include_router(neighbourhood_pages.router)
    app.include_router(facilities.router)
    app.include_router(incidents.router)
    app.include_router(dispatch.router)
    app.include_router(planning.router)
    app.include_router(planning_pages.router)
    app.include_router(trends.router)
    app.include_router(hazards.router)
    app.include_router(alerts.router)
    app.include_router(live.router)
    app.include_router(reports.router)
    app.include_router(worker_routes.router)
    app.include_router(worker_field_routes.router)
    app.include_router(worker_pages.router)
    app.include_router(kpi_routes.router)
    app.include_router(kpi_pages.router)
    app.include_router(open311_routes.router)
    app.include_router(exports.router)
    app.include_router(registry_routes.router)
    app.include_router(registry_pages.router)
    app.include_router(grid_pages.router)
    app.include_router(simulate_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(admin_data_pages.router)
    # check_dir=False: the app starts before `npm ci` ran, and /health can say so
    vendor = CachedStatic(directory=VENDOR_DIR, check_dir=False, cache_control=VENDORED)
    app.mount(VENDOR_URL, vendor, name="vendor")
    own = CachedStatic(directory=STATIC_DIR, cache_control=OWN_FILES)
    app.mount(STATIC_URL, own, name="maps-static")
    pages = CachedStatic(directory=PAGES_STATIC_DIR, cache_control=OWN_FILES)
    app.mount(PAGES_STATIC_URL, pages, name="pages-static")
    ogc_app = ogc.mount(app)
    return app
