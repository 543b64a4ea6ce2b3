"""Point folium maps at the JavaScript/CSS copies Wangge serves, so maps need no CDN.

folium (and branca) pages load Leaflet, jQuery, Bootstrap, Leaflet.awesome-markers,
Font Awesome, glyphicons, a rotate CSS and d3 from public CDNs.  Wangge installs the
same libraries from npm into ``maps/node_modules`` (``npm ci`` in ``maps/``) and keeps
the one file npm lacks in ``maps/static``.  The web app serves them at two prefixes::

    /static/vendor  ->  maps/node_modules   (VENDOR_DIR, VENDOR_URL)
    /static/maps    ->  maps/static         (STATIC_DIR, STATIC_URL)

:func:`localize` rewrites every script and stylesheet link of a map to those paths:
the ``default_js``/``default_css`` lists of the map and of every element in it, and,
at render time, every link in the page header (branca's colour-map legend adds its d3
link there directly, without a ``default_js`` list).  A CDN address with no local copy
in :data:`CDN_ASSETS` raises :class:`OfflineAssetError` naming it, so a new plugin
cannot silently bring a CDN back.  :func:`render_offline` renders a localized map to
HTML and checks that no script or stylesheet is loaded from another host.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from branca.element import Element, Figure, Link

from gis.errors import MapError, Unavailable

MAPS_DIR = Path(__file__).resolve().parent
VENDOR_DIR = MAPS_DIR / "node_modules"
"""npm packages from ``maps/package.json``; served at :data:`VENDOR_URL`."""
STATIC_DIR = MAPS_DIR / "static"
"""Files kept in the repository; served at :data:`STATIC_URL`."""
VENDOR_URL = "/static/vendor"
STATIC_URL = "/static/maps"


class OfflineAssetError(MapError, Unavailable):
    """A map loads a script or stylesheet from another host that has no local copy."""


@dataclass(frozen=True)
class LocalAsset:
    """A local copy of a CDN file.

    Parameters
    ----------
    root
        ``"vendor"`` for a file in :data:`VENDOR_DIR`, ``"static"`` for :data:`STATIC_DIR`.
    path
        Path of the file below that folder, with forward slashes.
    """

    root: Literal["vendor", "static"]
    path: str

    @property
    def file(self) -> Path:
        """The file on disk."""
        return (VENDOR_DIR if self.root == "vendor" else STATIC_DIR) / self.path

    def url(self, base_url: str = VENDOR_URL, static_url: str = STATIC_URL) -> str:
        """Return the URL the browser loads the file from.

        Parameters
        ----------
        base_url
            Where :data:`VENDOR_DIR` is served.
        static_url
            Where :data:`STATIC_DIR` is served.

        Returns
        -------
        str
            ``<prefix>/<path>``.
        """
        prefix = base_url if self.root == "vendor" else static_url
        return f"{prefix.rstrip('/')}/{self.path}"


def _vendor(path: str) -> LocalAsset:
    return LocalAsset("vendor", path)


# Every CDN address folium 0.20 and branca 0.8 use by default, keyed without the scheme.
# To use a folium plugin, add its package to maps/package.json and its URLs here.
CDN_ASSETS: Mapping[str, LocalAsset] = {
    # folium.Map default_js
    "//cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": _vendor("leaflet/dist/leaflet.js"),
    "//code.jquery.com/jquery-3.7.1.min.js": _vendor("jquery/dist/jquery.min.js"),
    "//cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": _vendor(
        "bootstrap/dist/js/bootstrap.bundle.min.js"
    ),
    "//cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": (
        _vendor("leaflet.awesome-markers/dist/leaflet.awesome-markers.js")
    ),
    # folium.Map default_css
    "//cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": _vendor("leaflet/dist/leaflet.css"),
    "//cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": _vendor(
        "bootstrap/dist/css/bootstrap.min.css"
    ),
    # Bootstrap 3's glyphicons alone (Bootstrap 3 in full would restyle the page).
    "//netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css": _vendor(
        "glyphicons-only-bootstrap/css/bootstrap.min.css"
    ),
    "//cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": _vendor(
        "@fortawesome/fontawesome-free/css/all.min.css"
    ),
    "//cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": (
        _vendor("leaflet.awesome-markers/dist/leaflet.awesome-markers.css")
    ),
    "//cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/"
    "leaflet.awesome.rotate.min.css": LocalAsset("static", "leaflet.awesome.rotate.css"),
    # branca colour-map legends (added straight to the page header at render time)
    "//cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": _vendor("d3/d3.min.js"),
    # folium.plugins.VectorGridProtobuf (Leaflet.VectorGrid: vector tiles on Leaflet)
    "//unpkg.com/leaflet.vectorgrid@latest/dist/Leaflet.VectorGrid.bundled.js": _vendor(
        "leaflet.vectorgrid/dist/Leaflet.VectorGrid.bundled.min.js"
    ),
}

#: Files the server-rendered pages (``api/templates``) and the offline API docs load, by
#: name; installed from npm like the maps' copies (``maps/package.json``).  ``axe`` is the
#: accessibility checker the browser tests inject (a dev dependency, served all the same).
PAGE_ASSETS: Mapping[str, LocalAsset] = {
    "htmx": _vendor("htmx.org/dist/htmx.min.js"),
    "leaflet_js": _vendor("leaflet/dist/leaflet.js"),
    "leaflet_css": _vendor("leaflet/dist/leaflet.css"),
    "swagger_js": _vendor("swagger-ui-dist/swagger-ui-bundle.js"),
    "swagger_css": _vendor("swagger-ui-dist/swagger-ui.css"),
    "swagger_favicon": _vendor("swagger-ui-dist/favicon-32x32.png"),
    "axe": _vendor("axe-core/axe.min.js"),
}

#: Files pages load from the local paths directly (no CDN address to replace): MapLibre GL
#: and its Leaflet binding, which draw the offline basemap (:mod:`maps.basemap`).
LOCAL_ASSETS: tuple[LocalAsset, ...] = (
    _vendor("maplibre-gl/dist/maplibre-gl.js"),
    _vendor("maplibre-gl/dist/maplibre-gl.css"),
    _vendor("@maplibre/maplibre-gl-leaflet/leaflet-maplibre-gl.js"),
)

_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


def is_remote(url: str) -> bool:
    """Tell whether ``url`` names another host (``http(s)://``, ``//host``, ``ftp://``...).

    Parameters
    ----------
    url
        A URL as written in a page.

    Returns
    -------
    bool
        False for paths on the serving host (``/static/...``, relative paths) and ``data:``.
    """
    return bool(_REMOTE.match(url.strip()))


def local_url(url: str, base_url: str = VENDOR_URL, static_url: str = STATIC_URL) -> str:
    """Return the local URL that replaces a CDN URL; local URLs are returned unchanged.

    Parameters
    ----------
    url
        Script or stylesheet address.
    base_url
        Where :data:`VENDOR_DIR` is served.
    static_url
        Where :data:`STATIC_DIR` is served.

    Returns
    -------
    str
        The local address.

    Raises
    ------
    OfflineAssetError
        If ``url`` is on another host and :data:`CDN_ASSETS` has no copy of it.
    """
    if not is_remote(url):
        return url
    key = "//" + url.strip().split("//", 1)[1]
    asset = CDN_ASSETS.get(key)
    if asset is None:
        raise OfflineAssetError(
            f"no local copy of {url}: maps must work without the internet. Add the npm "
            "package to maps/package.json (then `npm install` in maps/) and map this URL "
            "to its file in CDN_ASSETS in maps/assets.py."
        )
    return asset.url(base_url, static_url)


class _OfflineHeader(Element):
    """A page header that turns every script/stylesheet link into a local one when drawn."""

    def __init__(self, original: Element, base_url: str, static_url: str) -> None:
        super().__init__()
        self._name = "OfflineHeader"
        self._children = original._children
        self._parent = original._parent
        self.base_url = base_url
        self.static_url = static_url

    def render(self, **kwargs: Any) -> str:
        """Localize every link, then draw the header as usual."""
        for child in self._children.values():
            if isinstance(child, Link):
                child.url = local_url(child.url, self.base_url, self.static_url)
        return super().render(**kwargs)


def _walk(element: Element) -> Iterator[Element]:
    yield element
    if isinstance(element, Figure):
        for part in (element.header, element.html, element.script):
            yield from _walk(part)
    for child in element._children.values():
        yield from _walk(child)


def localize(m: Element, base_url: str = VENDOR_URL, static_url: str = STATIC_URL) -> None:
    """Make a folium map load all its scripts and stylesheets from the local paths.

    Rewrites, on the instances (never on the shared class lists), the ``default_js``
    and ``default_css`` of the map and of every element in its figure, and installs a
    page header that localizes links added later or at render time.  Call it once the
    map is built; ``m.save()``, ``m.get_root().render()`` and :func:`render_offline`
    then produce pages without CDN links.  Calling it again is harmless.

    Parameters
    ----------
    m
        A ``folium.Map`` (or any element of a figure, or the ``Figure`` itself).
    base_url
        Where :data:`VENDOR_DIR` is served.
    static_url
        Where :data:`STATIC_DIR` is served.

    Raises
    ------
    OfflineAssetError
        If an element needs a CDN file that has no local copy.
    """
    top = m.get_root()
    if isinstance(top, Figure):
        root = top
    else:
        root = Figure()
        root.add_child(top)
    for element in _walk(root):
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if links:
                local = [(name, local_url(url, base_url, static_url)) for name, url in links]
                setattr(element, attr, local)
        if isinstance(element, Link):
            element.url = local_url(element.url, base_url, static_url)
    if isinstance(root.header, _OfflineHeader):
        root.header.base_url, root.header.static_url = base_url, static_url
    else:
        root.header = _OfflineHeader(root.header, base_url, static_url)


_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_LINK_HREF = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*[\"']?([^\"')\s;]+)", re.IGNORECASE)


def external_references(html: str) -> list[str]:
    """List the scripts and stylesheets a page loads from another host.

    Parameters
    ----------
    html
        A rendered page.

    Returns
    -------
    list of str
        Remote ``<script src>``, ``<link href>`` and CSS ``@import`` addresses, in
        page order (links such as ``<a href>`` in attributions are not loads and are
        not listed).
    """
    found = [
        (match.start(), match.group(1))
        for pattern in (_SCRIPT_SRC, _LINK_HREF, _CSS_IMPORT)
        for match in pattern.finditer(html)
    ]
    return [url for _, url in sorted(found) if is_remote(url)]


def render_offline(m: Element, base_url: str = VENDOR_URL, static_url: str = STATIC_URL) -> str:
    """Localize a map (see :func:`localize`) and render its whole page.

    Parameters
    ----------
    m
        A ``folium.Map`` or ``Figure``.
    base_url
        Where :data:`VENDOR_DIR` is served.
    static_url
        Where :data:`STATIC_DIR` is served.

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    OfflineAssetError
        If a script or stylesheet would still come from another host.
    """
    localize(m, base_url, static_url)
    root = m.get_root()
    # no icon of its own: else the browser asks /favicon.ico, a 404 in the console
    root.header.add_child(Element('<link rel="icon" href="data:,">'), name="wangge_no_icon")
    html = root.render()
    remote = external_references(html)
    if remote:
        raise OfflineAssetError(
            "the page still loads from other hosts: " + ", ".join(remote) + " (add local "
            "copies to CDN_ASSETS in maps/assets.py)"
        )
    return html


def assets_missing() -> list[str]:
    """List the local copies (maps' and pages') not on disk (``npm ci`` in ``maps/`` not run yet).

    Returns
    -------
    list of str
        Paths of missing files, empty when every asset is in place.
    """
    assets = [*CDN_ASSETS.values(), *PAGE_ASSETS.values(), *LOCAL_ASSETS]
    return sorted({str(a.file) for a in assets if not a.file.is_file()})
