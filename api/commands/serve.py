"""``wangge serve``: the API and the maps over HTTP, on the configured host and port."""

from __future__ import annotations

import os

from api.commands.common import say
from gis.db import cluster
from gis.settings import get_settings


def serve_command() -> None:
    """Serve the API and the maps (no data is loaded)."""
    serve(cluster.ensure(get_settings()))


def serve(url: str) -> None:
    """Run the application on the database at ``url`` until interrupted.

    With ``WANGGE_WORKERS`` above 1 the processes build the app by name and read the
    database from the environment.
    """
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    say(f"[serve] http://{settings.host}:{settings.port}/  (docs at /docs)")
    if settings.workers > 1:
        # several processes need the app by name; they read the database from the environment
        os.environ["DATABASE_URL"] = url
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
        )
        return
    uvicorn.run(
        create_app(settings, database_url=url),
        host=settings.host,
        port=settings.port,
        log_level="info",
    )
