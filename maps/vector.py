"""A folium layer drawing Wangge's vector tiles with Leaflet.VectorGrid, with tooltips and labels.

:class:`MvtLayer` is folium's ``VectorGridProtobuf`` plugin (the script self-hosted, see
:mod:`maps.assets`) with what the map pages need on top: a style per MVT layer (a
JavaScript function of the feature's properties and the zoom), a tooltip and a popup
naming chosen properties in Chinese, text labels placed at the points of one MVT layer
from a zoom on (grid codes), and a record of what was drawn for tests and benchmarks::

    window.wanggeTiles[<layer name>] = {loaded: true|false, tiles: n, features: {
        <mvt layer>: {<feature id>: properties, ...}, ...}}

Features are drawn as SVG paths (``rendererFactory: L.svg.tile``) carrying the
``className`` their style gives, so a page keeps its CSS hooks (``path.wangge-grid`` …).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from folium.plugins import VectorGridProtobuf
from folium.template import Template

#: ``{mvt layer: [(property, label), ...]}``: the properties a tooltip or popup lists.
Fields = Mapping[str, Sequence[tuple[str, str]]]


class MvtLayer(VectorGridProtobuf):
    """Vector tiles of one Wangge map layer on a folium map.

    Parameters
    ----------
    url
        Tile URL template with ``{z}/{x}/{y}`` (no key: same-origin requests carry the
        session cookie).
    name
        Layer name in the layer control (and the key of ``window.wanggeTiles``).
    styles
        ``{mvt layer: JavaScript}``: an expression giving a Leaflet path style object
        for a feature, or a ``function (p, z) {...}`` of its properties and the zoom
        (return ``[]`` to leave the feature out).
    tooltip, popup
        The properties shown on hover and on click, per MVT layer.
    values
        ``{property: {value: text}}``: how raw values are shown (``residential`` → 住宅).
    labels
        ``(mvt layer, property, min zoom, css class)``: a text label at each point of
        that MVT layer from that zoom on; the points themselves are not drawn.
    min_zoom, max_zoom
        Zooms between which the layer is drawn.
    max_native_zoom
        The deepest zoom tiles are asked for; deeper views stretch those tiles.
    show
        Whether the layer is on when the page opens.
    bounds
        West, south, east, north (degrees) outside which the layer has no feature: tiles
        wholly outside are not asked for (at the first view of a district, half of a
        screen's tiles can be empty).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = (function () {
            var NAME = {{ this.layer_name|tojson }};
            var TIP = {{ this.tooltip_fields|tojson }};
            var POP = {{ this.popup_fields|tojson }};
            var VALUES = {{ this.values|tojson }};
            var LABELS = {{ this.labels|tojson }};
            var reg = (window.wanggeTiles = window.wanggeTiles || {});
            var seen = reg[NAME] = {loaded: false, tiles: 0, features: {}};
            function esc(v) {
                var d = document.createElement("div");
                d.textContent = v === undefined || v === null ? "—" : String(v);
                return d.innerHTML;
            }
            function show(field, v) {
                if (v === undefined || v === null) { return "—"; }
                var m = VALUES[field];
                return m && m[v] !== undefined ? m[v] : v;
            }
            function table(fields, p) {
                return fields.map(function (f) {
                    return "<tr><th>" + esc(f[1]) + "</th><td>" + esc(show(f[0], p[f[0]])) +
                        "</td></tr>";
                }).join("");
            }
            function track(layer, style) {
                return function (p, z) {
                    var got = seen.features[layer] || (seen.features[layer] = {});
                    got[p.id] = p;
                    p.__layer = layer;
                    if (LABELS && LABELS[0] === layer) {
                        return {radius: 0, opacity: 0, fillOpacity: 0, interactive: false};
                    }
                    return typeof style === "function" ? style(p, z) : style;
                };
            }
            var styles = {{ this.styles_js }};
            Object.keys(styles).forEach(function (k) { styles[k] = track(k, styles[k]); });
            if (LABELS) {
                styles[LABELS[0]] = styles[LABELS[0]] || track(LABELS[0], {});
            }
            var layer = L.vectorGrid.protobuf({{ this.url|tojson }}, {
                rendererFactory: L.svg.tile,
                interactive: true,
                maxNativeZoom: {{ this.max_native_zoom|tojson }},
                minZoom: {{ this.min_zoom|tojson }},
                maxZoom: {{ this.max_zoom|tojson }},
                {%- if this.bounds %}
                bounds: L.latLngBounds({{ this.bounds|tojson }}),
                {%- endif %}
                vectorTileLayerStyles: styles,
                getFeatureId: function (f) { return f.type + ":" + f.properties.id; }
            });
            layer.on("load", function () { seen.loaded = true; });
            layer.on("loading", function () { seen.loaded = false; });
            layer.on("tileload", function (e) {
                seen.tiles += 1;
                // a point feature answers getLatLng() (Leaflet asks it on every mouse event)
                var map = layer._map, r = layer._vectorTiles[layer._tileCoordsToKey(e.coords)];
                if (!map || !r || !r._features) { return; }
                var origin = e.coords.scaleBy(layer.getTileSize());
                Object.keys(r._features).forEach(function (id) {
                    var f = r._features[id].feature;
                    if (f._point && !f._latlng) {
                        f._latlng = map.unproject(origin.add(f._point), e.coords.z);
                    }
                });
            });
            layer.on("mouseover", function (e) {
                var p = e.layer && e.layer.properties;
                var which = p && TIP[p.__layer] && p.__layer;
                if (!which) { return; }
                layer.bindTooltip("<table class='wangge-tip'>" + table(TIP[which], p) +
                    "</table>", {sticky: true}).openTooltip(e.latlng);
            });
            layer.on("mouseout", function () { layer.closeTooltip(); layer.unbindTooltip(); });
            layer.on("click", function (e) {
                var p = e.layer && e.layer.properties;
                var which = p && POP[p.__layer] && p.__layer;
                if (!which) { return; }
                L.popup().setLatLng(e.latlng).setContent(
                    "<table class='wangge-tip'>" + table(POP[which], p) + "</table>"
                ).openOn(layer._map);
            });
            if (LABELS) {
                var marks = L.layerGroup(), placed = {};
                layer.on("tileload", function (e) {
                    var map = layer._map, key = layer._tileCoordsToKey(e.coords);
                    var r = layer._vectorTiles[key];
                    if (!map || !r || !r._features) { return; }
                    var origin = e.coords.scaleBy(layer.getTileSize());
                    Object.keys(r._features).forEach(function (id) {
                        var f = r._features[id];
                        if (f.layerName !== LABELS[0] || !f.feature._point) { return; }
                        var p = f.feature.properties, text = p[LABELS[1]];
                        if (placed[text]) { return; }
                        var ll = map.unproject(origin.add(f.feature._point), e.coords.z);
                        placed[text] = L.marker(ll, {
                            icon: L.divIcon({className: LABELS[3],
                                html: "<span>" + esc(text) + "</span>", iconSize: null}),
                            interactive: false, keyboard: false
                        }).addTo(marks);
                    });
                });
                layer.on("add", function () {
                    var map = layer._map;
                    function toggle() {
                        if (map.getZoom() >= LABELS[2] && map.hasLayer(layer)) {
                            marks.addTo(map);
                        } else {
                            marks.remove();
                        }
                    }
                    map.on("zoomend", toggle);
                    toggle();
                });
                layer.on("remove", function () { marks.remove(); });
            }
            return layer;
        })();
        {%- endmacro %}
        """
    )

    def __init__(
        self,
        url: str,
        name: str,
        styles: Mapping[str, str],
        *,
        tooltip: Fields | None = None,
        popup: Fields | None = None,
        values: Mapping[str, Mapping[str, str]] | None = None,
        labels: tuple[str, str, int, str] | None = None,
        min_zoom: int = 0,
        max_zoom: int = 22,
        max_native_zoom: int = 18,
        show: bool = True,
        bounds: Sequence[float] | None = None,
    ) -> None:
        super().__init__(url, name=name, overlay=True, control=True, show=show)
        self._name = "MvtLayer"
        self.styles_js = "{" + ", ".join(f"{json.dumps(k)}: {v}" for k, v in styles.items()) + "}"
        self.tooltip_fields: dict[str, Any] = {k: list(v) for k, v in (tooltip or {}).items()}
        self.popup_fields: dict[str, Any] = {k: list(v) for k, v in (popup or {}).items()}
        self.values = {k: dict(v) for k, v in (values or {}).items()}
        self.labels = list(labels) if labels else None
        self.min_zoom = min_zoom
        self.max_zoom = max_zoom
        self.max_native_zoom = max_native_zoom
        self.bounds = None
        if bounds is not None:
            west, south, east, north = (float(v) for v in bounds)
            self.bounds = [[south, west], [north, east]]
