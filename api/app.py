"""The FastAPI application: the database engine made in the lifespan, routers, static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api import errors
from api.routers import facilities, grids, health, incidents, maps, planning, resident
from gis.db import get_engine
from gis.settings import Settings, get_settings
from maps.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the application; the database is connected when it starts, not at import."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = get_engine(settings, url=database_url)
        app.state.engine = engine
        app.state.settings = settings
        yield
        engine.dispose()

    app = FastAPI(
        title="Wangge 网格化管理",
        description="Grid management and situational awareness for urban communities.",
        version="0.1.0",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(health.router)
    app.include_router(maps.router)
    app.include_router(grids.router)
    app.include_router(resident.router)
    app.include_router(facilities.router)
    app.include_router(incidents.router)
    app.include_router(planning.router)
    # check_dir=False: the app starts before `npm ci` ran, and /health can say so
    app.mount(VENDOR_URL, StaticFiles(directory=VENDOR_DIR, check_dir=False), name="vendor")
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="maps-static")
    return app
