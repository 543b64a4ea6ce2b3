"""The basemap under every map: the district's own offline vector basemap, or raster tiles.

With no tile source configured (``WANGGE_TILE_URL`` unset, the default) a page draws the
**offline basemap**: Wangge's own vector tiles (``/tiles/basemap/{z}/{x}/{y}.pbf``: water
and green areas, buildings, streets and their names, community and estate names, places
of interest) drawn by MapLibre GL JS inside the Leaflet map (``@maplibre/maplibre-gl-leaflet``)
with a Chinese-labelled style (:func:`basemap_style`).  Its labels are drawn from the
glyphs the server makes of the district's names with an installed CJK font
(``/tiles/basemap/glyphs/{fontstack}/{range}.pbf``, :mod:`maps.glyphs`): MapLibre then
draws no character itself (``localIdeographFontFamily: false``), which took it 0.1-0.45 s
of the overview's main thread at 200,000 households (``benchmarks/maps.py --profile``),
and the labels read the same on a machine without a CJK font.  The overview pages fetch
each fontstack's glyphs in one answer as the page starts (``…/ranges.bin``) and hand
MapLibre its ranges from it.  With no CJK font installed the style names no glyphs and
MapLibre draws the labels with the browser's fonts.  Nothing is fetched from outside
either way.

A raster source stays configurable: a URL template or a preset (:data:`TILE_PRESETS`:
OpenStreetMap, 天地图 with its key, AMap).  Tiles in GCJ-02 (AMap, Tencent) are **shifted
onto WGS84 tile by tile** in the browser — each tile is placed at its centre's GCJ-02
offset, so the layers (stored and served in WGS84) stay where they are and the basemap
moves under them; within a tile the offset varies by well under a metre.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import folium
from branca.element import Element
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from maps.assets import VENDOR_URL
from maps.glyphs import installed_label_fonts

if TYPE_CHECKING:
    from gis.settings import Settings

BASEMAP_LAYER = "底图"
#: Where the app serves the basemap's tiles and style (``{base}`` is the app's root).
BASEMAP_TILES = "/tiles/basemap/{z}/{x}/{y}.pbf"
BASEMAP_STYLE = "/tiles/basemap/style.json"
#: Where the app serves the labels' glyphs, one range of 256 code points a file …
BASEMAP_GLYPHS = "/tiles/basemap/glyphs/{fontstack}/{range}.pbf"
#: … and every range of a fontstack in one answer (:meth:`maps.glyphs.GlyphSet.bundle`).
BASEMAP_GLYPH_BUNDLE = "/tiles/basemap/glyphs/{fontstack}/ranges.bin"
#: The scheme of the glyph URL the overview pages answer from the bundles.
GLYPH_PROTOCOL = "wangge-glyphs"
#: The label layers of the basemap's tiles and the weight each is drawn in (its fontstack).
LABEL_WEIGHT = {"road_label": "regular", "poi": "regular", "place": "bold"}
#: The fontstacks of the labels without glyphs from the server (the browser's fonts).
FALLBACK_STACKS = ("Noto Sans CJK SC Regular", "Noto Sans CJK SC Bold")
#: The deepest zoom the basemap's tiles are made for (deeper views stretch them).
BASEMAP_MAX_ZOOM = 18
#: Fonts MapLibre draws labels with, in order (the system's CJK fonts first).
LABEL_FONTS = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", '
    '"PingFang SC", sans-serif'
)
OFFLINE_ATTRIBUTION = "底图：本辖区数据（道路、楼栋、水系、绿地）"


@dataclass(frozen=True)
class RasterSource:
    """A raster tile source: URL template, attribution, ``{s}`` values, datum, labels."""

    url: str
    attribution: str
    subdomains: str = "abc"
    coord_type: str = "wgs84"
    #: a second, transparent layer of labels drawn over the tiles (天地图's 注记)
    label_url: str | None = None


_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
    "&TILECOL={x}&tk={key}"
)

#: Named raster sources ``WANGGE_TILE_URL`` may give instead of a URL.
TILE_PRESETS: dict[str, RasterSource] = {
    "osm": RasterSource(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
    ),
    "tianditu": RasterSource(
        _TIANDITU.replace("{layer}", "vec"),
        "&copy; 天地图",
        subdomains="01234567",
        label_url=_TIANDITU.replace("{layer}", "cva"),
    ),
    "amap": RasterSource(
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
        "&x={x}&y={y}&z={z}",
        "&copy; 高德地图",
        subdomains="1234",
        coord_type="gcj02",
    ),
}


def raster_source(settings: Settings) -> RasterSource | None:
    """The raster source the settings name; None: the offline basemap.

    Raises
    ------
    ValueError
        For the 天地图 preset without ``WANGGE_TIANDITU_KEY``.
    """
    url = (settings.tile_url or "").strip()
    if not url:
        return None
    preset = TILE_PRESETS.get(url.lower())
    if preset is None:
        preset = RasterSource(url, settings.tile_attribution or "", settings.tile_subdomains)
    if "{key}" in preset.url:
        if not settings.tianditu_key:
            raise ValueError(
                "the 天地图 basemap needs its key: set WANGGE_TIANDITU_KEY (or leave "
                "WANGGE_TILE_URL unset for the offline basemap)"
            )
        preset = RasterSource(
            preset.url.replace("{key}", settings.tianditu_key),
            preset.attribution,
            preset.subdomains,
            preset.coord_type,
            None
            if preset.label_url is None
            else preset.label_url.replace("{key}", settings.tianditu_key),
        )
    return RasterSource(
        preset.url,
        settings.tile_attribution or preset.attribution,
        preset.subdomains if url.lower() in TILE_PRESETS else settings.tile_subdomains,
        settings.tile_coord_type or preset.coord_type,
        preset.label_url,
    )


# ---------------------------------------------------------------- the offline style

#: Road class → (casing colour, fill colour, width at zoom 12, width at zoom 18) in px.
ROAD_STYLE = {
    "arterial": ("#e0a050", "#fcd68a", 2.0, 18.0),
    "branch": ("#c8c0b4", "#ffffff", 1.0, 12.0),
    "lane": ("#d0c8bc", "#ffffff", 0.5, 7.0),
    "footway": ("#d8cfc4", "#f4efe8", 0.5, 3.0),
}


def _width(low: float, high: float) -> list[Any]:
    return ["interpolate", ["exponential", 1.6], ["zoom"], 12, low, 18, high]


def label_stacks() -> tuple[str, str] | None:
    """The (regular, bold) fontstacks the server draws glyphs of; None: no CJK font."""
    fonts = installed_label_fonts()
    return None if fonts is None else (fonts.regular.stack, fonts.bold.stack)


def basemap_style(
    tiles_url: str,
    *,
    glyphs_url: str | None = None,
    stacks: tuple[str, str] | None = None,
    name: str = "网格化管理 离线底图",
) -> dict[str, Any]:
    """The MapLibre style of the offline basemap, labels in Chinese.

    Parameters
    ----------
    tiles_url
        The basemap's tile URL template (absolute: MapLibre resolves it in a worker).
    glyphs_url
        The glyphs' URL template (``{fontstack}``, ``{range}``); None: no ``glyphs``,
        labels drawn with the browser's fonts.
    stacks
        The regular and the bold fontstack the labels name (those ``glyphs_url``
        serves); None: :data:`FALLBACK_STACKS`.

    Returns
    -------
    dict
        A MapLibre style (version 8).
    """
    regular, bold = stacks or FALLBACK_STACKS
    font = {"regular": [regular], "bold": [bold]}
    layers: list[dict[str, Any]] = [
        {"id": "background", "type": "background", "paint": {"background-color": "#f3f0ea"}},
        {
            "id": "green",
            "type": "fill",
            "source": "wangge",
            "source-layer": "green",
            "paint": {"fill-color": "#cfe6b8", "fill-outline-color": "#b5d69c"},
        },
        {
            "id": "water",
            "type": "fill",
            "source": "wangge",
            "source-layer": "water",
            "paint": {"fill-color": "#a9d3ef", "fill-outline-color": "#8cc0e3"},
        },
        {
            "id": "building",
            "type": "fill",
            "source": "wangge",
            "source-layer": "building",
            "minzoom": 15,
            "paint": {"fill-color": "#e2dbd2", "fill-outline-color": "#cbbfb2"},
        },
    ]
    order = ("footway", "lane", "branch", "arterial")
    for part in ("casing", "fill"):
        for road_class in order:
            casing, fill, low, high = ROAD_STYLE[road_class]
            extra = 1.5 if part == "casing" else 0.0
            layers.append(
                {
                    "id": f"road-{road_class}-{part}",
                    "type": "line",
                    "source": "wangge",
                    "source-layer": "road",
                    "filter": ["==", ["get", "class"], road_class],
                    "layout": {"line-cap": "round", "line-join": "round"},
                    "paint": {
                        "line-color": casing if part == "casing" else fill,
                        "line-width": _width(low + extra, high + extra),
                    },
                }
            )
    layers += [
        {
            "id": "road-label",
            "type": "symbol",
            "source": "wangge",
            "source-layer": "road_label",
            "minzoom": 13,
            "layout": {
                "symbol-placement": "line",
                "text-field": ["get", "name"],
                "text-font": font[LABEL_WEIGHT["road_label"]],
                "text-size": ["interpolate", ["linear"], ["zoom"], 13, 11, 18, 15],
                "text-max-angle": 30,
                "symbol-spacing": 300,
                "text-rotation-alignment": "map",
            },
            "paint": {"text-color": "#4a4a4a", "text-halo-color": "#ffffff", "text-halo-width": 2},
        },
        {
            "id": "poi-label",
            "type": "symbol",
            "source": "wangge",
            "source-layer": "poi",
            "minzoom": 16,
            "layout": {
                "text-field": ["get", "name"],
                "text-font": font[LABEL_WEIGHT["poi"]],
                "text-size": 11,
                "text-offset": [0, 0.8],
                "text-anchor": "top",
            },
            "paint": {
                "text-color": "#6b5b4b",
                "text-halo-color": "#ffffff",
                "text-halo-width": 1.5,
            },
        },
        {
            "id": "place-label",
            "type": "symbol",
            "source": "wangge",
            "source-layer": "place",
            "layout": {
                "text-field": ["get", "name"],
                "text-font": font[LABEL_WEIGHT["place"]],
                "text-size": ["match", ["get", "level"], "street", 16, "community", 14, 12],
            },
            "paint": {"text-color": "#3a3a5a", "text-halo-color": "#ffffff", "text-halo-width": 2},
        },
    ]
    style: dict[str, Any] = {
        "version": 8,
        "name": name,
        "sources": {
            "wangge": {
                "type": "vector",
                "tiles": [tiles_url],
                "minzoom": 0,
                "maxzoom": BASEMAP_MAX_ZOOM,
                "attribution": OFFLINE_ATTRIBUTION,
            }
        },
        "layers": layers,
    }
    if glyphs_url is not None:
        style["glyphs"] = glyphs_url
    return style


# ---------------------------------------------------------------- folium layers

_PREWARM_JS = "if (window.maplibregl && maplibregl.prewarm) { maplibregl.prewarm(); }"

#: Fetch each fontstack's glyph bundle as the page starts (``window.wanggeGlyphBundles``:
#: fontstack → promise of ``{buf, at, index}``), beside the page's scripts and tiles.
_GLYPH_FETCH_JS = """(function (styleUrl, stacks, bundlePath) {
    var folder = new URL(".", new URL(styleUrl, window.location.href)).href;
    var held = window.wanggeGlyphBundles = window.wanggeGlyphBundles || {};
    stacks.forEach(function (stack) {
        if (held[stack]) { return; }
        var url = folder + bundlePath.replace("{fontstack}", encodeURIComponent(stack));
        held[stack] = fetch(url, {credentials: "same-origin"}).then(function (r) {
            if (!r.ok) { throw new Error("glyphs of " + stack + ": HTTP " + r.status); }
            return r.arrayBuffer();
        }).then(function (buf) {
            var n = new DataView(buf).getUint32(0, true);
            var index = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
            return {buf: buf, at: 4 + n, index: index};
        });
        held[stack].catch(function () {});  // MapLibre falls back to the browser's fonts
    });
})(%s, %s, %s);"""

#: Answer MapLibre's ``wangge-glyphs://{fontstack}/{start}-{end}`` from the bundles.
_GLYPH_PROTOCOL_JS = """
if (window.maplibregl && maplibregl.addProtocol && !window.wanggeGlyphProtocol) {
    window.wanggeGlyphProtocol = true;
    maplibregl.addProtocol(%s, function (params) {
        var m = /^[a-z-]+:\\/\\/(.*)\\/(\\d+)-\\d+$/.exec(params.url);
        var bundle = m && (window.wanggeGlyphBundles || {})[m[1]];
        if (!bundle) { return Promise.reject(new Error("no glyphs for " + params.url)); }
        return bundle.then(function (b) {
            var at = b.index[m[2]];
            return {data: at ? b.buf.slice(b.at + at[0], b.at + at[0] + at[1])
                             : new ArrayBuffer(0)};
        });
    });
}
"""


#: How long the basemap's first view may wait for its last tile before drawing what it has.
FIRST_FRAME_HOLD_MS = 1000

#: Draw the basemap's first view once, when its tiles are all in, instead of once per tile
#: as they arrive.  In a browser without a GPU (software WebGL, as on many office PCs and in
#: headless Chromium) each MapLibre frame costs the page 0.15-0.25 s (its pixels are read
#: back for the compositor): the first view drew 4-8 frames before it was complete.  The
#: basemap appears whole, as a raster one does; a tile later than FIRST_FRAME_HOLD_MS no
#: longer holds the rest back.
#: MapLibre has no option for this: its painter's ``render`` is wrapped until the first
#: full frame (without a painter, as in another MapLibre, the page draws as before).
#: ``state.frames`` counts the frames drawn; ``state.heldOut`` says a tile came too late.
_HOLD_FIRST_FRAME_JS = """function holdFirstFrame(gl, state, holdMs) {
    var painter = gl.painter;
    if (!painter || typeof painter.render !== "function") { return; }
    var render = painter.render, held = true, timer = null;
    painter.render = function (style) {
        // complete: every tile in and the labels placed (new labels ask for one more frame)
        var complete = gl.style && gl.style.loaded() && gl.areTilesLoaded() &&
            gl._placementDirty !== true;
        if (held && !complete) {
            // what render sets first: arriving tiles find their style layers through it
            painter.style = style;
            if (timer === null) {
                timer = setTimeout(function () {
                    held = false;
                    state.heldOut = true;
                    gl.triggerRepaint();
                }, holdMs);
            }
            return;
        }
        clearTimeout(timer);
        painter.render = counted;
        return counted.apply(painter, arguments);
    };
    function counted() {
        state.frames += 1;
        return render.apply(painter, arguments);
    }
}"""


class OfflineBasemap(JSCSSMixin, Layer):
    """The offline basemap: MapLibre GL drawing the basemap's style inside the Leaflet map.

    ``window.wanggeBasemap`` holds ``{loaded: bool, gl: <maplibre map>, frames: int}``
    (``loaded`` turns true when the style and the visible tiles are in and drawn;
    ``frames`` counts MapLibre's frames, ``framesAtIdle`` those drawn until it first was
    idle).  With the server's glyphs (``stacks``), the labels come from the fontstacks'
    bundles fetched as the page starts.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        {%- if this.stacks %}{{ this.protocol_js }}{% endif %}
        var {{ this.get_name() }} = L.maplibreGL({
            // The style is in the page, not fetched: its request would wait behind the
            // page's tile requests (six a host) and hold the basemap's first tile back.
            // Its tiles' URL is absolute (MapLibre reads it in a worker), beside style.json.
            style: (function (style, styleUrl) {
                var folder = new URL(".", new URL(styleUrl, window.location.href)).href;
                style.sources.wangge.tiles = [folder + {{ this.tiles_path|tojson }}];
                {%- if this.data_bounds %}
                style.sources.wangge.bounds = {{ this.data_bounds|tojson }};
                {%- endif %}
                {%- if this.stacks %}
                if (window.wanggeGlyphProtocol) {
                    style.glyphs = {{ this.glyphs_url|tojson }};
                }
                {%- endif %}
                return style;
            })({{ this.style_js }}, {{ this.style_url|tojson }}),
            localIdeographFontFamily: {{ (false if this.stacks else this.fonts)|tojson }},
            attributionControl: false,
            interactive: false,
            fadeDuration: 0
        });
        (function (layer) {
            var state = window.wanggeBasemap = {loaded: false, gl: null, frames: 0};
            layer.on("add", function () {
                var gl = state.gl = layer.getMaplibreMap();
                holdFirstFrame(gl, state, {{ this.hold_ms }});
                function done() { state.loaded = gl.loaded() && gl.areTilesLoaded(); }
                gl.on("idle", function () {
                    if (state.framesAtIdle === undefined) { state.framesAtIdle = state.frames; }
                    state.loaded = true;
                });
                gl.on("dataloading", function () { state.loaded = false; });
                gl.on("load", done);
            });
        })({{ this.get_name() }});
        {%- endmacro %}
        """
    )

    def __init__(
        self,
        style_url: str,
        *,
        name: str = BASEMAP_LAYER,
        vendor_url: str = VENDOR_URL,
        data_bounds: Sequence[float] | None = None,
        stacks: tuple[str, str] | None = None,
    ):
        super().__init__(name=name, overlay=False, control=True, show=True)
        self._name = "OfflineBasemap"
        self.style_url = style_url
        # West, south, east, north outside which the basemap's tiles are empty: MapLibre
        # asks for none of those (the source's ``bounds``).
        self.data_bounds = None if data_bounds is None else [float(v) for v in data_bounds]
        # the style as style.json serves it, its tiles named beside it (see the template)
        self.tiles_path = BASEMAP_TILES.removeprefix(BASEMAP_STYLE.rsplit("/", 1)[0] + "/")
        self.stacks = stacks
        self.style_js = style_json("", stacks=stacks)
        self.fonts = LABEL_FONTS
        self.glyphs_url = f"{GLYPH_PROTOCOL}://{{fontstack}}/{{range}}"
        self.protocol_js = _GLYPH_PROTOCOL_JS % json.dumps(GLYPH_PROTOCOL)
        self.hold_ms = FIRST_FRAME_HOLD_MS
        vendor = vendor_url.rstrip("/")
        self.default_js = [
            ("maplibre-gl", f"{vendor}/maplibre-gl/dist/maplibre-gl.js"),
            (
                "maplibre-gl-leaflet",
                f"{vendor}/@maplibre/maplibre-gl-leaflet/leaflet-maplibre-gl.js",
            ),
        ]
        self.default_css = [("maplibre-gl-css", f"{vendor}/maplibre-gl/dist/maplibre-gl.css")]
        self.options = {"attribution": OFFLINE_ATTRIBUTION}

    def render(self, **kwargs: Any) -> None:
        """Link the scripts, start MapLibre's web worker at once (``prewarm``), fetch glyphs.

        The worker parses MapLibre's whole bundle again before it can cut a tile; begun
        in the page's head, that overlaps the rest of the page loading instead of
        following it.  So does the fetch of the labels' glyphs, which MapLibre would
        otherwise ask for only once a tile's labels are laid out.
        """
        super().render(**kwargs)
        figure = self.get_root()
        figure.header.add_child(  # type: ignore[attr-defined]
            Element(f"<script>{_PREWARM_JS}</script>"),
            name="wangge_maplibre_prewarm",
        )
        figure.header.add_child(  # type: ignore[attr-defined]
            Element(f"<script>{_HOLD_FIRST_FRAME_JS}</script>"),
            name="wangge_basemap_hold_first_frame",
        )
        if self.stacks:
            bundle_path = BASEMAP_GLYPH_BUNDLE.removeprefix(BASEMAP_STYLE.rsplit("/", 1)[0] + "/")
            fetch_js = _GLYPH_FETCH_JS % (
                json.dumps(self.style_url),
                json.dumps(list(self.stacks), ensure_ascii=False),
                json.dumps(bundle_path),
            )
            # first in the head (after its charset): the scripts before it would hold the
            # fetch back until they are loaded and run
            figure.header.add_child(  # type: ignore[attr-defined]
                Element(f"<script>{fetch_js}</script>"),
                name="wangge_glyph_fetch",
                index=1,
            )


#: WGS84 → GCJ-02 (the published forward formula, as in :func:`gis.coords.wgs84_to_gcj02`).
_GCJ02_JS = """
function wanggeToGcj02(lat, lon) {
    var a = 6378245.0, ee = 0.00669342162296594323, PI = Math.PI;
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) { return [lat, lon]; }
    function tLat(x, y) {
        var r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
        r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
        r += (20 * Math.sin(y * PI) + 40 * Math.sin(y / 3 * PI)) * 2 / 3;
        return r + (160 * Math.sin(y / 12 * PI) + 320 * Math.sin(y * PI / 30)) * 2 / 3;
    }
    function tLon(x, y) {
        var r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
        r += (20 * Math.sin(6 * x * PI) + 20 * Math.sin(2 * x * PI)) * 2 / 3;
        r += (20 * Math.sin(x * PI) + 40 * Math.sin(x / 3 * PI)) * 2 / 3;
        return r + (150 * Math.sin(x / 12 * PI) + 300 * Math.sin(x / 30 * PI)) * 2 / 3;
    }
    var dLat = tLat(lon - 105, lat - 35), dLon = tLon(lon - 105, lat - 35);
    var rad = lat / 180 * PI, m = 1 - ee * Math.sin(rad) * Math.sin(rad), s = Math.sqrt(m);
    dLat = dLat * 180 / ((a * (1 - ee)) / (m * s) * PI);
    dLon = dLon * 180 / (a / s * Math.cos(rad) * PI);
    return [lat + dLat, lon + dLon];
}
"""


class RasterBasemap(Layer):
    """A raster tile basemap; GCJ-02 tiles are moved onto WGS84 tile by tile.

    A GCJ-02 tile at (x, y) shows at each point the place whose GCJ-02 coordinates those
    are; the place itself lies one GCJ-02 offset back.  Each tile is therefore drawn
    shifted by the pixel offset between its centre and that centre's GCJ-02 position.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        {{ this.gcj_js }}
        var {{ this.get_name() }} = (function () {
            var Shifted = L.TileLayer.extend({
                _getTilePos: function (coords) {
                    var pos = L.TileLayer.prototype._getTilePos.call(this, coords);
                    if (!this.options.gcj02) { return pos; }
                    var c = this._tileCoordsToBounds(coords).getCenter();
                    var g = wanggeToGcj02(c.lat, c.lng);
                    var z = this._tileZoom, map = this._map;
                    var shift = map.project(c, z).subtract(map.project(L.latLng(g[0], g[1]), z));
                    return pos.add(shift.round());
                }
            });
            return new Shifted({{ this.url|tojson }}, {{ this.options|tojson }});
        })();
        {%- endmacro %}
        """
    )

    def __init__(
        self,
        url: str,
        *,
        name: str,
        attribution: str,
        subdomains: str,
        gcj02: bool,
        overlay: bool = False,
        max_zoom: int = 19,
    ):
        super().__init__(name=name, overlay=overlay, control=True, show=True)
        self._name = "RasterBasemap"
        self.url = url
        self.gcj_js = _GCJ02_JS
        self.options = {
            "attribution": attribution,
            "subdomains": subdomains,
            "maxZoom": max_zoom,
            "gcj02": gcj02,
        }


def add_basemap(
    m: folium.Map,
    settings: Settings,
    *,
    style_url: str | None = BASEMAP_STYLE,
    vendor_url: str = VENDOR_URL,
    overlay: bool = False,
    data_bounds: Sequence[float] | None = None,
) -> None:
    """Put the configured basemap on a map.

    Parameters
    ----------
    m
        The map.
    settings
        ``tile_url`` and friends (see :func:`raster_source`).
    style_url
        Where the offline basemap's style is served; None for a page opened without the
        server (a file), which then has no basemap unless a raster source is configured.
    overlay
        Make the basemap a layer that can be switched off (pages whose own layers are the
        picture).
    data_bounds
        West, south, east, north of everything the offline basemap draws (the district's
        grids, buildings, roads, facilities): no tile is asked for outside; None: every
        tile in view.
    """
    source = raster_source(settings)
    if source is not None:
        RasterBasemap(
            source.url,
            name=BASEMAP_LAYER,
            attribution=source.attribution,
            subdomains=source.subdomains,
            gcj02=source.coord_type == "gcj02",
            overlay=overlay,
        ).add_to(m)
        if source.label_url:
            RasterBasemap(
                source.label_url,
                name=f"{BASEMAP_LAYER}注记",
                attribution="",
                subdomains=source.subdomains,
                gcj02=source.coord_type == "gcj02",
                overlay=True,
            ).add_to(m)
        return
    if style_url is not None:
        OfflineBasemap(
            style_url, vendor_url=vendor_url, data_bounds=data_bounds, stacks=label_stacks()
        ).add_to(m)


def style_json(
    tiles_url: str, glyphs_url: str | None = None, stacks: tuple[str, str] | None = None
) -> str:
    """The offline basemap's style as JSON text (Chinese kept as is); see :func:`basemap_style`."""
    return json.dumps(
        basemap_style(tiles_url, glyphs_url=glyphs_url, stacks=stacks), ensure_ascii=False
    )
