"""Open pages in headless Debian Chromium for tests, recording and blocking off-host requests.

Playwright never downloads a browser here: pages open in ``/usr/bin/chromium``.  Every
request is recorded; requests to localhost go through, basemap tile requests are
aborted (so a test proves the page draws without tiles), and any other request is
aborted and collected as a failure.  Screenshots go to ``<repo>/test-artifacts/``.

Use::

    with open_page(url, screenshot="district_map.png") as (page, log):
        page.wait_for_function("() => window.L !== undefined")
    # leaving the block fails the test if the page asked another host for anything

Pages carry a Content-Security-Policy without ``'unsafe-eval'`` (``api/headers.py``): give
``wait_for_function`` a function (``"() => window.L !== undefined"``), not a bare
expression, which Playwright would evaluate with ``eval`` in the page.
"""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from maps.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL

if TYPE_CHECKING:
    from playwright.sync_api import Page, Request, Route

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS_DIR = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0"})
# Slippy-map tiles: .../{z}/{x}/{y}.png (OSM and most sources), or WMTS-style queries
# with TILEMATRIX/TILEROW/TILECOL (天地图).
TILE_PATTERN = re.compile(
    r"/\d{1,2}/\d+/\d+(?:@2x)?\.(?:png|jpe?g|webp|pbf|mvt)(?:$|\?)"
    r"|[?&]TILEMATRIX=\d+.*[?&]TILEROW=\d+|[?&]TILECOL=\d+.*[?&]TILEROW=\d+",
    re.IGNORECASE,
)


@dataclass
class RequestLog:
    """What a page asked for.

    Attributes
    ----------
    requests
        Every URL requested, in order.
    tiles
        Tile requests (aborted).
    external
        Requests to other hosts that are not tiles (aborted): each is a failure.
    failed
        Local requests that failed (``url: reason``), e.g. a missing vendor file.
    console_errors
        ``console.error`` messages.
    page_errors
        Uncaught JavaScript exceptions.
    """

    requests: list[str] = field(default_factory=list)
    tiles: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def local_failures(self) -> list[str]:
        """Return failed requests to this machine (a missing vendor file, a broken route).

        Requests to other hosts are left out: they were aborted on purpose (tiles) or
        are failures already in ``external``; Leaflet also cancels tile requests
        itself when the view moves, before they reach the router.  A request the page
        itself cancelled (``ERR_ABORTED``: a tile the map no longer needs, a script still
        loading when a form's answer reloads the page) is not a failure either; a file
        that is missing answers 404 and shows in the page's console errors instead.
        """
        return [
            f
            for f in self.failed
            if is_local(f.split(": ", 1)[0]) and not f.endswith("net::ERR_ABORTED")
        ]


def is_local(url: str) -> bool:
    """Tell whether ``url`` stays on this machine (localhost, file:, data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about", "chrome", "devtools", "file"}:
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


def require_chromium() -> None:
    """Skip the calling test when Chromium or the playwright package is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing (pip install playwright)")


def artifact_path(name: str | Path) -> Path:
    """Return where a screenshot or other artifact goes (relative names: test-artifacts/)."""
    path = Path(name)
    if not path.is_absolute():
        path = ARTIFACTS_DIR / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def open_page(
    url: str | None = None,
    *,
    screenshot: str | Path | None = None,
    viewport: tuple[int, int] = (1280, 800),
    tile_pattern: re.Pattern[str] = TILE_PATTERN,
    fail_on_external: bool = True,
    timeout_ms: float = 30_000,
    geolocation: tuple[float, float] | None = None,
    permissions: Sequence[str] = (),
    service_workers: str = "block",
    insecure_host: str | None = None,
    timezone_id: str | None = None,
) -> Iterator[tuple[Page, RequestLog]]:
    """Open ``url`` in headless Debian Chromium and yield the page and its request log.

    Parameters
    ----------
    url
        Page to open (``load`` event awaited); None yields a blank page.
    screenshot
        File name (in ``test-artifacts/``) or path of a screenshot taken when the
        block ends, also when it fails.
    viewport
        Width and height in CSS pixels.
    tile_pattern
        Requests to other hosts whose URL matches are basemap tiles: aborted, not failures.
    fail_on_external
        Fail when the block ends if any non-tile request went to another host.
    timeout_ms
        Default timeout of page operations.
    geolocation
        (lon, lat), WGS84 degrees, the position the browser reports (grant it with
        ``permissions=("geolocation",)``).
    permissions
        Permissions granted to the page's origins (e.g. ``"geolocation"``); any other
        is refused as a user would refuse it.
    service_workers
        ``"block"`` (the default: every request passes the route that records it) or
        ``"allow"`` for an app that works offline through its service worker (the
        worker's own requests are then recorded from the context's request events).
    insecure_host
        A host name Chromium resolves to 127.0.0.1 and treats as any other host: over
        plain HTTP its pages are no secure context (no WebCrypto, no service worker, no
        caches), as on a phone that opens the app by a LAN address.  Its requests count
        as local.
    timezone_id
        The device's time zone (e.g. ``"America/New_York"``); default the machine's.

    Yields
    ------
    tuple of (playwright.sync_api.Page, RequestLog)
        The open page and what it requested so far (the log keeps filling).
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    log = RequestLog()

    def route(route: Route, request: Request) -> None:
        target = request.url
        if is_local(target) or (insecure_host and urlsplit(target).hostname == insecure_host):
            route.continue_()
        elif tile_pattern.search(target):
            log.tiles.append(target)
            route.abort("internetdisconnected")
        else:
            log.external.append(target)
            route.abort("blockedbyclient")

    def on_failed(request: Request) -> None:
        log.failed.append(f"{request.url}: {request.failure}")

    def on_console(message: Any) -> None:
        if message.type == "error":
            log.console_errors.append(message.text)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS
            + ([f"--host-resolver-rules=MAP {insecure_host} 127.0.0.1"] if insecure_host else []),
        )
        try:
            context = browser.new_context(
                viewport={"width": viewport[0], "height": viewport[1]},
                service_workers=service_workers,
                geolocation=None
                if geolocation is None
                else {"longitude": geolocation[0], "latitude": geolocation[1]},
                permissions=list(permissions),
                timezone_id=timezone_id,
            )
            context.route("**/*", route)
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            if service_workers == "allow":  # requests a service worker makes or answers
                context.on("request", lambda request: log.requests.append(request.url))
            else:
                page.on("request", lambda request: log.requests.append(request.url))
            page.on("requestfailed", on_failed)
            page.on("console", on_console)
            page.on("pageerror", lambda error: log.page_errors.append(str(error)))
            if url is not None:
                page.goto(url, wait_until="load")
            try:
                yield page, log
            finally:
                if screenshot is not None:
                    page.screenshot(path=str(artifact_path(screenshot)))
        finally:
            browser.close()
    if fail_on_external and log.external:
        pytest.fail(
            "the page requested other hosts (maps must work offline):\n  "
            + "\n  ".join(log.external)
        )


def chromium_available() -> bool:
    """Tell whether browser tests can run here."""
    return CHROMIUM.exists() and shutil.which(str(CHROMIUM)) is not None


class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serve a page folder, and the map asset folders where the app mounts them."""

    mounts = ((VENDOR_URL, VENDOR_DIR), (STATIC_URL, STATIC_DIR))

    def translate_path(self, path: str) -> str:
        for prefix, folder in self.mounts:
            if path.startswith(prefix + "/"):
                self.directory = str(folder)
                return super().translate_path(path[len(prefix) :])
        return super().translate_path(path)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve_page(html: str, folder: Path, name: str = "page.html") -> Iterator[str]:
    """Serve ``html`` over real HTTP on loopback, with the map assets; yield its URL."""
    (folder / name).write_text(html, encoding="utf-8")
    handler = functools.partial(_SiteHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{name}"
    finally:
        server.shutdown()
        server.server_close()


#: The accessibility checker injected into pages (axe-core from npm, served by the app).
AXE_URL = f"{VENDOR_URL}/axe-core/axe.min.js"


def accessibility_violations(
    page: Page, impacts: tuple[str, ...] = ("serious", "critical")
) -> list[dict[str, Any]]:
    """Run axe-core on the open page; the violations of the given impacts.

    axe is loaded from the app's own ``/static/vendor`` (so the page's
    Content-Security-Policy allows it, and nothing comes from another host).

    Returns
    -------
    list of dict
        ``id``, ``impact``, ``help`` and the CSS ``targets`` of each violation.
    """
    page.add_script_tag(url=AXE_URL)
    found = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        targets: v.nodes.map(n => n.target.join(' '))}))"""
    )
    return [v for v in found if v["impact"] in impacts]


#: True once the overview's basemap and every tile layer have drawn (``/map``).
TILE_MAP_READY = (
    "() => window.wanggeBasemap && window.wanggeBasemap.loaded && "
    "Object.values(window.wanggeTiles).every(t => t.loaded || t.tiles === 0)"
)


def grid_codes_drawn(page: Page) -> int:
    """How many grids the overview drew from its tiles, once :data:`TILE_MAP_READY` holds."""
    page.wait_for_function(TILE_MAP_READY)
    return page.evaluate(
        "() => new Set(Object.values("
        "window.wanggeTiles['网格（按户数着色）'].features.grids).map(p => p.code)).size"
    )
