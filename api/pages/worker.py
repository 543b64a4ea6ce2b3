"""The grid worker's field app (网格员), an installable offline-first web app at ``/worker``.

``GET /worker`` is the app's one page (``api/templates/worker/app.html``, phone 390×844
first, tablet 1280×800 too): tasks, households, the map, the check-on list during a
hazard, notices and patrol coverage.  Its script (``api/static/worker.js``) calls the
``/api/worker`` routes with the session cookie and sends the session's CSRF token with
every change.

The first screen needs nothing but the page (issue 16: tasks within 1 s on slow 4G,
where every further request costs a round trip of up to 560 ms): the page carries its
stylesheet and scripts inline (with the request's CSP nonce) and the worker's open tasks
as JSON, exactly the answer of ``GET /api/worker/tasks`` without a position, and travels
gzip-compressed.  The service worker keeps the page for offline use without those tasks
(personal data is kept on the device only encrypted, in the offline package).

The app keeps the worker's offline package (``GET /api/worker/bundle``) and the actions
made offline in IndexedDB, encrypted with a key the browser cannot export, and wipes
them on sign-out.

``/worker/manifest.webmanifest`` makes it installable; ``/worker-sw.js`` is its service
worker (served from the root so it may control ``/worker``; it registers with scope
``/worker``), which keeps the app shell and its assets for when there is no network.
"""

from __future__ import annotations

import gzip
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.auth import CurrentUser
from api.deps import SettingsDep, StateDep
from api.pages.render import STATIC_DIR, STATIC_URL, render
from api.schemas.worker import TasksAnswer
from api.services import worker
from api.state import AppState
from gis.errors import WanggeError
from gis.settings import Settings
from grids.access import Principal, require_grid_worker
from maps.assets import PAGE_ASSETS

log = logging.getLogger(__name__)

router = APIRouter(tags=["worker"])

#: Where the app lives (its service worker's scope) and its service worker's address.
APP_PATH = "/worker"
SERVICE_WORKER_PATH = "/worker-sw.js"
MANIFEST_PATH = "/worker/manifest.webmanifest"
#: The app's stylesheet and scripts, written into the page itself (no request of their own).
INLINE_FILES = {"css": "worker.css", "device": "worker-device.js", "app": "worker.js"}
#: Files of the app's shell the service worker keeps (the page itself is kept as fetched,
#: less its tasks).
SHELL_FILES = ("worker-icon.svg", "worker-icon-192.png")
#: The page is sent gzip-compressed from this size (bytes) when the browser accepts it.
GZIP_FROM = 1024


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
    for name in (*SHELL_FILES, *INLINE_FILES.values()):
        stat = (STATIC_DIR / name).stat()
        stamps.append(f"{stat.st_size:x}{int(stat.st_mtime):x}")
    stat = (STATIC_DIR / "worker-sw.js").stat()
    stamps.append(f"{stat.st_size:x}{int(stat.st_mtime):x}")
    return "-".join(stamps)[-48:]


def inline_sources() -> dict[str, str]:
    """The stylesheet and scripts the page carries inline (read each time: edits show at once).

    Raises ``ValueError`` if one holds ``</`` followed by ``script`` or ``style``: written
    into the page, that would end its element early.
    """
    found = {}
    for key, name in INLINE_FILES.items():
        source = (STATIC_DIR / name).read_text(encoding="utf-8")
        lowered = source.lower()
        if "</script" in lowered or "</style" in lowered:
            raise ValueError(f"{name} cannot be written inline: it holds a closing tag")
        found[key] = source
    return found


def first_tasks(state: AppState, settings: Settings, user: Principal) -> dict[str, Any] | None:
    """The worker's open tasks as ``GET /api/worker/tasks`` answers them without a position.

    None when the service refuses (a worker with no grid, say): the page then asks the
    route itself, and shows its answer.
    """
    try:
        found = worker.tasks(state.engine, settings, state.walking_now(), user, None, None, "wgs84")
    except WanggeError as exc:
        log.info("the worker page carries no tasks: %s", exc)
        return None
    return TasksAnswer.of(found).model_dump(mode="json", by_alias=True)


def compressed(request: Request, page: Response) -> Response:
    """``page`` gzip-compressed when the browser accepts it (``Vary: Accept-Encoding``).

    Only this page among the HTML pages: it echoes nothing of the request beside its
    CSRF token, so its compressed size tells nothing about the token (BREACH).
    """
    page.headers["Vary"] = "Accept-Encoding"
    body = bytes(page.body)
    if len(body) < GZIP_FROM or "gzip" not in request.headers.get("accept-encoding", ""):
        return page
    page.body = gzip.compress(body, compresslevel=6)
    page.headers["Content-Encoding"] = "gzip"
    page.headers["Content-Length"] = str(len(page.body))
    return page


@router.get(APP_PATH, response_class=HTMLResponse)
async def worker_app(
    request: Request, user: CurrentUser, state: StateDep, settings: SettingsDep
) -> Response:
    """The worker's app: the worker signs in at ``/login`` like staff.

    A browser that is not signed in is sent to ``/login`` and back; anyone but a grid
    worker is refused (403).  A bearer token also opens it (the token is not written
    into it).  The page carries the worker's open tasks (see the module's docstring);
    like every page it is never stored by a shared cache (``Cache-Control: no-store``).
    """
    require_grid_worker(user)
    tasks = await run_in_threadpool(first_tasks, state, settings, user)
    context = {
        "manifest": MANIFEST_PATH,
        "service_worker": SERVICE_WORKER_PATH,
        "scope": APP_PATH,
        "inline": inline_sources(),
        "first_tasks": tasks,
    }
    return compressed(request, render(request, "worker/app.html", context, user=user))


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
