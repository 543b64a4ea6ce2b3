"""Security headers on every answer: a Content-Security-Policy for pages, no sniffing, no framing.

Every response gets ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``
and ``X-Frame-Options: DENY``; an answer of the JSON API or Open311 that sets no caching of
its own ``Cache-Control: private, no-store`` (:data:`PRIVATE_PREFIXES`); an HTML page also
gets a Content-Security-Policy.  Two
policies, both allowing only this host's scripts, styles, fonts and requests (every
asset is served from ``/static``), images from here, ``data:`` and the basemap's tile
host, and no framing (``frame-ancestors 'none'``):

``strict`` (the default, every page drawn from ``api/templates``, and ``/docs``)
    scripts and ``<style>`` elements only from this host or carrying the request's
    nonce (``request.state.csp_nonce``, in templates ``{{ csp_nonce }}``): an injected
    inline script does not run.
``inline`` (the routes declared with ``response_class=InlinePage``)
    ``'unsafe-inline'`` scripts and styles as well: folium writes each map as inline
    scripts and styles, and the live picture, the KPI and daily
    report pages were written the same way.  These pages draw nothing a user typed
    without escaping it; moving them to templates moves them to ``strict``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where an answer may hold personal data (the JSON API, Open311 with its key): one that
#: says nothing of caching is kept by no cache, the browser's own included (a worker's
#: tablet is shared; 退出 wipes the app's data, not the HTTP cache).
PRIVATE_PREFIXES = ("/api/", "/open311/")
NO_STORE = "private, no-store"
#: Headers every answer carries.
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class InlinePage(HTMLResponse):
    """An HTML page that runs inline scripts and styles (folium maps and the older pages).

    Declare it as the route's ``response_class``: the page then gets the ``inline``
    policy (see the module's docstring) instead of the ``strict`` one.
    """


def tile_source(tile_url: str) -> str | None:
    """The CSP source of a basemap's tiles (``https://*.tile.example.org``), None if local.

    Parameters
    ----------
    tile_url
        The tile URL template of the settings (``{s}`` subdomains become ``*``).
    """
    parts = urlsplit(tile_url.replace("{s}", "*"))
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def policy(nonce: str, *, inline: bool, tiles: str | None) -> str:
    """The Content-Security-Policy of one page (see the module's docstring)."""
    code = "'unsafe-inline'" if inline else f"'nonce-{nonce}'"
    images = " ".join(s for s in ("'self'", "data:", "blob:", tiles) if s)
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {code}",
            f"style-src 'self' {code}",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            # MapLibre GL (the offline basemap) runs its tile workers from blob: URLs
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


def _inline(scope: Scope) -> bool:
    """Whether the route that answered was declared with ``response_class=InlinePage``."""
    kind = getattr(scope.get("route"), "response_class", None)
    return isinstance(kind, type) and issubclass(kind, InlinePage)


class SecurityHeaders:
    """ASGI middleware: a CSP nonce for each request, the headers on each answer.

    Plain ASGI (not ``BaseHTTPMiddleware``), so streamed answers (``/api/live/stream``)
    pass through untouched.  A header the route set itself is kept.
    """

    def __init__(self, app: ASGIApp, tile_urls: Sequence[str] = ()) -> None:
        self.app = app
        sources = sorted({s for s in map(tile_source, tile_urls) if s})
        self.tiles = " ".join(sources) or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the request, adding the headers to the start of the response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                if scope["path"].startswith(PRIVATE_PREFIXES):
                    headers.setdefault("Cache-Control", NO_STORE)
                html = headers.get("content-type", "").startswith("text/html")
                if html and "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = policy(
                        nonce, inline=_inline(scope), tiles=self.tiles
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)
