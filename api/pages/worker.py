"""The grid worker's field app (网格员), an installable offline-first web app at ``/worker``.

``GET /worker`` is the app's one page (``api/templates/worker/app.html``, phone 390×844
first, tablet 1280×800 too): tasks, households, the map, the check-on list during a
hazard, notices and patrol coverage.  It holds no data and no credential: its script
(``api/static/worker.js``) calls the ``/api/worker`` routes with the session cookie and
sends the session's CSRF token with every change.  It keeps the worker's offline package
(``GET /api/worker/bundle``) and the actions made offline in IndexedDB, encrypted with a
key the browser cannot export, and wipes them on sign-out.

``/worker/manifest.webmanifest`` makes it installable; ``/worker-sw.js`` is its service
worker (served from the root so it may control ``/worker``; it registers with scope
``/worker``), which keeps the app shell and its assets for when there is no network.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.auth import CurrentUser
from api.pages.render import STATIC_DIR, STATIC_URL, render
from grids.access import require_grid_worker
from maps.assets import PAGE_ASSETS

router = APIRouter(tags=["worker"])

#: Where the app lives (its service worker's scope) and its service worker's address.
APP_PATH = "/worker"
SERVICE_WORKER_PATH = "/worker-sw.js"
MANIFEST_PATH = "/worker/manifest.webmanifest"
#: Files of the app's shell the service worker keeps (the page itself is kept as fetched).
SHELL_FILES = (
    "worker-device.js",
    "worker.js",
    "worker.css",
    "worker-icon.svg",
    "worker-icon-192.png",
)


def shell_urls() -> list[str]:
    """The URLs the service worker caches on install: the app's files and Leaflet."""
    return [f"{STATIC_URL}/{name}" for name in SHELL_FILES] + [
        PAGE_ASSETS["leaflet_js"].url(),
        PAGE_ASSETS["leaflet_css"].url(),
        MANIFEST_PATH,
    ]


def _version() -> str:
    """A version of the shell's files (their sizes and times): a new one replaces the cache."""
    stamps = []
    for name in SHELL_FILES:
        stat = (STATIC_DIR / name).stat()
        stamps.append(f"{stat.st_size:x}{int(stat.st_mtime):x}")
    stat = (STATIC_DIR / "worker-sw.js").stat()
    stamps.append(f"{stat.st_size:x}{int(stat.st_mtime):x}")
    return "-".join(stamps)[-48:]


@router.get(APP_PATH, response_class=HTMLResponse)
async def worker_app(request: Request, user: CurrentUser) -> HTMLResponse:
    """The worker's app: the worker signs in at ``/login`` like staff.

    A browser that is not signed in is sent to ``/login`` and back; anyone but a grid
    worker is refused (403).  A bearer token also opens it (the token is not written
    into it).
    """
    require_grid_worker(user)
    context = {
        "manifest": MANIFEST_PATH,
        "service_worker": SERVICE_WORKER_PATH,
        "scope": APP_PATH,
    }
    return render(request, "worker/app.html", context, user=user)


@router.get(MANIFEST_PATH, include_in_schema=False)
async def manifest() -> Response:
    """The web app manifest: name 网格员, starts at ``/worker``, standalone, own icons."""
    body = {
        "name": "网格员",
        "short_name": "网格员",
        "description": "网格员工作台：任务、住户走访、灾害核查，离线可用",
        "lang": "zh-CN",
        "start_url": APP_PATH,
        "scope": APP_PATH,
        "display": "standalone",
        "orientation": "any",
        "background_color": "#ffffff",
        "theme_color": "#0b5cad",
        "icons": [
            {"src": f"{STATIC_URL}/worker-icon.svg", "sizes": "any", "type": "image/svg+xml"},
            {"src": f"{STATIC_URL}/worker-icon-192.png", "sizes": "192x192", "type": "image/png"},
        ],
    }
    return Response(
        json.dumps(body, ensure_ascii=False),
        media_type="application/manifest+json",
        headers={"Cache-Control": "no-cache"},
    )


@router.get(SERVICE_WORKER_PATH, include_in_schema=False)
async def service_worker() -> Response:
    """The app's service worker, with the list of shell files and their version filled in.

    Served from the root (its scope may be anything below ``/``; the page registers it
    for ``/worker``) and never cached by HTTP, so a new version is found at once.
    """
    source = (STATIC_DIR / "worker-sw.js").read_text(encoding="utf-8")
    source = source.replace('"__SHELL__"', json.dumps(shell_urls())).replace(
        "__VERSION__", _version()
    )
    return Response(
        source,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": APP_PATH},
    )
