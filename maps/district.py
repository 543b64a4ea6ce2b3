"""Draw the district overview map: grids by households, buildings, facilities and shelters.

This is the first map of the demo (辖区总览).  Labels are in Chinese, every script and
stylesheet is served locally (see :mod:`maps.assets`), and the basemap comes from
``settings.tile_url``; when no tile can be fetched every layer is still drawn.

Stable hooks for tests and styling: grid polygons are SVG paths with the class
``wangge-grid``, buildings ``wangge-building``, facility markers ``wangge-facility``,
shelter markers ``wangge-shelter``; grid-code labels are ``div.wangge-grid-label``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import branca.colormap as cm
import folium
import numpy as np
from branca.element import Element, Figure, MacroElement
from folium.map import FitBounds, Layer
from folium.template import Template

import shapely
from shapely.geometry import mapping

from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.basemap import BASEMAP_STYLE, add_basemap

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.settings import Settings

DEFAULT_TITLE = "网格化管理 · 辖区总览"

GRID_LAYER = "网格（按户数着色）"
GRID_LABEL_LAYER = "网格编码"
BUILDING_LAYER = "楼栋"
SHELTER_LAYER = "避难场所"
HOUSEHOLDS_CAPTION = "网格户数"

GRID_CLASS = "wangge-grid"
BUILDING_CLASS = "wangge-building"
FACILITY_CLASS = "wangge-facility"
SHELTER_CLASS = "wangge-shelter"
GRID_LABEL_CLASS = "wangge-grid-label"

#: Facility kind -> (layer name, type shown in the tooltip, marker colour).
FACILITY_STYLES: dict[str, tuple[str, str, str]] = {
    "clinic": ("医疗", "社区卫生服务站/诊所", "#d62728"),
    "elder_care": ("养老", "养老服务机构", "#9467bd"),
    "park": ("公园", "公园/绿地", "#7fbc41"),
    "school": ("学校", "学校", "#1f77b4"),
    "community_centre": ("社区服务中心", "社区服务中心", "#ff7f0e"),
}
OTHER_FACILITY_COLOUR = "#7f7f7f"

#: Shelter class -> (Chinese name, marker radius in pixels).
SHELTER_CLASSES: dict[str, tuple[str, int]] = {
    "emergency": ("紧急避难场所", 7),
    "fixed": ("固定避难场所", 9),
    "central": ("中心避难场所", 11),
}
SHELTER_COLOUR = "#00843d"

BUILDING_USES = {
    "residential": "住宅",
    "mixed": "商住混合",
    "public": "公共建筑",
    "commercial": "商业",
}

#: Grid-code labels are hidden below this zoom (hundreds of labels would overlap).
LABEL_MIN_ZOOM = 15
NO_DATA = "—"
#: ColorBrewer YlOrRd, 9 classes: few households pale yellow, many dark red.
YLORRD = (
    "#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c",
    "#fc4e2a", "#e31a1c", "#bd0026", "#800026",
)  # fmt: skip
COORD_DECIMALS = 6

_CSS = f"""
<style>
.wangge-title {{
  position: absolute; top: 10px; left: 54px; z-index: 1000;
  background: rgba(255, 255, 255, 0.92); border-radius: 4px; padding: 6px 12px;
  box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35);
  font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
    sans-serif;
}}
.wangge-title-main {{ font-size: 16px; font-weight: 600; color: #222; }}
.wangge-title-sub {{ font-size: 12px; color: #555; margin-top: 2px; }}
.leaflet-marker-icon.{GRID_LABEL_CLASS} {{ background: none; border: none; }}
.{GRID_LABEL_CLASS} span {{
  position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
  font: 600 11px/1 sans-serif; color: #333; pointer-events: none;
  text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff;
}}
.wangge-labels-hidden .{GRID_LABEL_CLASS} {{ display: none; }}
</style>
"""


class PointLabels(Layer):
    """A layer of text labels (one light ``L.divIcon`` per point), hidden when zoomed out.

    Parameters
    ----------
    data
        GeoJSON FeatureCollection of points whose ``properties.label`` is HTML-escaped text.
    name
        Layer name in the layer control.
    class_name
        CSS class of each label.
    min_zoom
        Labels are hidden (class ``wangge-labels-hidden`` on the map) below this zoom.
    max_zoom
        Given: the labels are hidden outside ``min_zoom``-``max_zoom`` one by one (not
        through the map's class), so several label layers can differ.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data|tojson }}, {
            pointToLayer: function (feature, latlng) {
                return L.marker(latlng, {
                    icon: L.divIcon({
                        className: {{ this.class_name|tojson }},
                        html: "<span>" + feature.properties.label + "</span>",
                        iconSize: null
                    }),
                    interactive: false,
                    keyboard: false
                });
            }
        });
        (function (map, layer) {
            function toggle() {
                var z = map.getZoom();
                {% if this.max_zoom is none %}
                var hide = z < {{ this.min_zoom|tojson }};
                L.DomUtil[hide ? "addClass" : "removeClass"](
                    map.getContainer(), "wangge-labels-hidden");
                {% else %}
                var hide = z < {{ this.min_zoom|tojson }} || z > {{ this.max_zoom|tojson }};
                layer.eachLayer(function (m) {
                    var el = m.getElement && m.getElement();
                    if (el) { el.style.display = hide ? "none" : ""; }
                });
                {% endif %}
            }
            layer.on("add", toggle);
            map.on("zoomend", toggle);
            map.whenReady(toggle);
        })({{ this.parent_map_name }}, {{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: dict[str, Any],
        name: str,
        class_name: str = GRID_LABEL_CLASS,
        min_zoom: int = LABEL_MIN_ZOOM,
        max_zoom: int | None = None,
    ) -> None:
        super().__init__(name=name, overlay=True, control=bool(name), show=True)
        self._name = "PointLabels"
        self.data = data
        self.class_name = class_name
        self.min_zoom = min_zoom
        self.max_zoom = max_zoom
        self.parent_map_name = ""

    def render(self, **kwargs: Any) -> Any:
        """Find the map this layer is on, then render."""
        parent = self._parent
        while parent is not None and not isinstance(parent, folium.Map):
            parent = parent._parent
        if parent is None:
            raise ValueError("PointLabels must be added to a folium.Map")
        self.parent_map_name = parent.get_name()
        return super().render(**kwargs)


# ---------------------------------------------------------------- data preparation


def display_value(value: Any) -> Any:
    """Return a JSON-safe value for a tooltip: escaped text, plain numbers, or a dash."""
    if value is None:
        return NO_DATA
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return NO_DATA
        return int(value) if value.is_integer() else round(value, 2)
    if isinstance(value, bool | int):
        return int(value)
    return html.escape(str(value))


def as_number(value: Any) -> float | None:
    """Return ``value`` as a float, or None when missing."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def prepare_frame(gdf: gpd.GeoDataFrame | None, required: Sequence[str], what: str) -> Any:
    """Check columns, drop rows without geometry and reproject to EPSG:4326."""
    if gdf is None:
        return None
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise ValueError(f"{what}: missing column(s) {', '.join(missing)}")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.crs is not None and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    return gdf


def feature_collection(
    gdf: gpd.GeoDataFrame,
    properties: Iterable[dict[str, Any]],
    geometries: Iterable[Any] | None = None,
) -> dict[str, Any]:
    """Build a compact FeatureCollection: coordinates rounded, only the given properties."""
    geoms = np.asarray(gdf.geometry.values if geometries is None else list(geometries))
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, COORD_DECIMALS))
    features = [
        {"type": "Feature", "id": i, "properties": props, "geometry": mapping(geom)}
        for i, (props, geom) in enumerate(zip(properties, rounded, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


def _rows(gdf: gpd.GeoDataFrame, columns: Sequence[str]) -> Iterable[dict[str, Any]]:
    """Yield each row's values of ``columns`` as a dict."""
    for values in gdf[list(columns)].itertuples(index=False, name=None):
        yield dict(zip(columns, values, strict=True))


# ---------------------------------------------------------------- layers


def _households_colormap(households: Sequence[float | None]) -> cm.LinearColormap:
    values = [h for h in households if h is not None]
    vmin = min(values, default=0.0)
    vmax = max(values, default=1.0)
    if vmax <= vmin:
        vmax = vmin + 1
    return cm.LinearColormap(YLORRD, vmin=vmin, vmax=vmax, caption=HOUSEHOLDS_CAPTION)


def _add_grids(m: folium.Map, grids: gpd.GeoDataFrame) -> cm.LinearColormap:
    households = [as_number(v) for v in grids["households"]]
    colormap = _households_colormap(households)
    props = []
    for row, count in zip(
        _rows(grids, ["code", "name", "community_name"]), households, strict=True
    ):
        props.append(
            {
                "code": display_value(row["code"]),
                "name": display_value(row["name"]),
                "community": display_value(row["community_name"]),
                "households": NO_DATA if count is None else int(count),
                "fill": "#cccccc" if count is None else colormap(count)[:7],
            }
        )
    data = feature_collection(grids, props)

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return {
            "className": GRID_CLASS,
            "color": "#3b3b3b",
            "weight": 1.2,
            "fillColor": feature["properties"]["fill"],
            "fillOpacity": 0.6,
        }

    def highlight(_feature: dict[str, Any]) -> dict[str, Any]:
        return {"weight": 3, "color": "#1f4e9e", "fillOpacity": 0.75}

    folium.GeoJson(
        data,
        name=GRID_LAYER,
        style_function=style,
        highlight_function=highlight,
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name", "community", "households"],
            aliases=["网格编码", "名称", "社区", "户数"],
            localize=True,
        ),
    ).add_to(m)

    points = shapely.point_on_surface(np.asarray(grids.geometry.values))
    labels = feature_collection(grids, [{"label": p["code"]} for p in props], points)
    PointLabels(labels, name=GRID_LABEL_LAYER).add_to(m)
    colormap.add_to(m)
    return colormap


def _add_buildings(m: folium.Map, buildings: gpd.GeoDataFrame) -> None:
    props = [
        {
            "name": display_value(row["name"]),
            "floors": display_value(row["floors"]),
            "use": display_value(BUILDING_USES.get(row["use"], row["use"])),
            "households": display_value(row["households"]),
        }
        for row in _rows(buildings, ["name", "floors", "use", "households"])
    ]
    folium.GeoJson(
        feature_collection(buildings, props),
        name=BUILDING_LAYER,
        style_function=lambda _f: {
            "className": BUILDING_CLASS,
            "color": "#4d4d4d",
            "weight": 0.8,
            "fillColor": "#bdbdbd",
            "fillOpacity": 0.35,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "floors", "use", "households"],
            aliases=["楼栋", "层数", "用途", "户数"],
            localize=True,
        ),
    ).add_to(m)


def _add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame) -> None:
    facilities = facilities[facilities["kind"] != "shelter"]  # drawn as 避难场所
    known = [k for k in FACILITY_STYLES if (facilities["kind"] == k).any()]
    others = sorted(set(facilities["kind"].astype(str)) - set(FACILITY_STYLES))
    for kind in known + others:
        layer_name, type_name, colour = FACILITY_STYLES.get(
            kind, (kind, kind, OTHER_FACILITY_COLOUR)
        )
        subset = facilities[facilities["kind"] == kind]
        props = [
            {
                "name": display_value(row["name"]),
                "type": display_value(type_name),
                "capacity": display_value(row["capacity"]),
            }
            for row in _rows(subset, ["name", "capacity"])
        ]
        group = folium.FeatureGroup(name=display_value(layer_name), overlay=True)
        folium.GeoJson(
            feature_collection(subset, props),
            control=False,
            marker=folium.CircleMarker(
                radius=6,
                color="#ffffff",
                weight=1.5,
                fill_color=colour,
                fill_opacity=0.95,
                class_name=f"{FACILITY_CLASS} {FACILITY_CLASS}-{kind}",
            ),
            tooltip=folium.GeoJsonTooltip(
                fields=["name", "type", "capacity"], aliases=["名称", "类型", "容量"]
            ),
        ).add_to(group)
        group.add_to(m)


def _add_shelters(m: folium.Map, shelters: gpd.GeoDataFrame) -> None:
    props = []
    for row in _rows(shelters, ["name", "shelter_class", "capacity", "occupancy"]):
        class_name, radius = SHELTER_CLASSES.get(row["shelter_class"], (row["shelter_class"], 8))
        props.append(
            {
                "name": display_value(row["name"]),
                "class": display_value(class_name),
                "capacity": display_value(row["capacity"]),
                "occupancy": display_value(row["occupancy"]),
                "radius": radius,
            }
        )
    folium.GeoJson(
        feature_collection(shelters, props),
        name=SHELTER_LAYER,
        marker=folium.CircleMarker(
            radius=8,
            color="#053d1d",
            weight=2,
            fill_color=SHELTER_COLOUR,
            fill_opacity=0.9,
            class_name=SHELTER_CLASS,
        ),
        style_function=lambda f: {"radius": f["properties"]["radius"]},
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        popup=folium.GeoJsonPopup(
            fields=["name", "class", "capacity", "occupancy"],
            aliases=["名称", "类别", "容量", "当前人数"],
            localize=True,
        ),
    ).add_to(m)


class _MapHook(MacroElement):
    """Names the page's map ``window.wanggeMap`` (for tests, benchmarks and scripts)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.wanggeMap = {{ this._parent.get_name() }};
        {% endmacro %}
        """
    )


def base_map(
    bounds: Sequence[float],
    settings: Settings,
    *,
    zoom_start: int = 15,
    basemap_overlay: bool = False,
    style_url: str | None = BASEMAP_STYLE,
    vendor_url: str = VENDOR_URL,
    data_bounds: Sequence[float] | None = None,
) -> folium.Map:
    """A map fitted to ``bounds`` (west, south, east, north; degrees) with the basemap.

    The basemap comes from the settings (:func:`maps.basemap.add_basemap`): the offline
    vector basemap served at ``style_url`` when no tile source is configured, else raster
    tiles (OpenStreetMap, 天地图, AMap or a local source); with none reachable, every
    layer still draws.  ``style_url`` None: a page opened as a file, without the server;
    so is a page whose assets are files on disk (``vendor_url`` a folder, not the app's
    URL): nothing would serve it the basemap's style and tiles.  ``data_bounds``: the
    extent of everything the offline basemap draws (no tile asked for outside).
    """
    if not vendor_url.startswith(("/static", "http://", "https://")):
        style_url = None
    west, south, east, north = (float(v) for v in bounds)
    m = folium.Map(
        location=[(south + north) / 2, (west + east) / 2],
        zoom_start=zoom_start,
        tiles=None,
        control_scale=True,
    )
    add_basemap(
        m,
        settings,
        style_url=style_url,
        vendor_url=vendor_url,
        overlay=basemap_overlay,
        data_bounds=data_bounds,
    )
    m.add_child(_MapHook(), name="wangge_map_hook")
    fit = FitBounds([[south, west], [north, east]], padding=(10, 10))
    # The first view jumps to its final zoom: an animated fit would have every tile layer
    # added meanwhile fetch (and draw) the tiles of the start zoom too, twice the requests.
    fit.options["animate"] = False
    m.add_child(fit)
    return m


def add_title(m: folium.Map, title: str, subtitle: str) -> None:
    """Put a title box (and the shared map CSS) on a map."""
    box = (
        '<div class="wangge-title">'
        f'<div class="wangge-title-main">{html.escape(title)}</div>'
        f'<div class="wangge-title-sub">{html.escape(subtitle)}</div>'
        "</div>"
    )
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(_CSS), name="wangge_district_css")
    root.html.add_child(Element(box), name="wangge_title")


# ---------------------------------------------------------------- the map


def district_map(
    grids: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    facilities: gpd.GeoDataFrame | None,
    shelters: gpd.GeoDataFrame | None,
    *,
    settings: Settings | None = None,
    title: str = DEFAULT_TITLE,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
    style_url: str | None = BASEMAP_STYLE,
) -> folium.Map:
    """Build the district overview map (辖区总览) with every feature in the page (GeoJSON).

    For a page kept as a file (``wangge demo --map-out``) and small districts; the
    server's overview draws vector tiles instead (:func:`maps.overview.overview_map`).

    Parameters
    ----------
    grids
        EPSG:4326 polygons with columns ``code``, ``name``, ``community_name`` and
        ``households``; drawn coloured by households with a legend, a tooltip and the
        grid code as a label.  Must not be empty.
    buildings
        Polygons with ``name``, ``floors``, ``use`` and ``households`` (layer 楼栋), or None.
    facilities
        Points with ``id``, ``kind``, ``name`` and ``capacity``: one layer per kind
        (医疗, 养老, 公园, 学校, 社区服务中心; kind ``shelter`` is left to ``shelters``),
        or None.
    shelters
        Points with ``facility_id``, ``name``, ``shelter_class``, ``capacity`` and
        ``occupancy`` (layer 避难场所, popup with 类别/容量/当前人数), or None.
    settings
        Supplies ``tile_url`` and ``tile_attribution``; default :func:`get_settings`.
    title
        Text of the title box.
    vendor_url, static_url
        Where the app serves ``maps/node_modules`` and ``maps/static``.

    Returns
    -------
    folium.Map
        The map, already localized (see :func:`maps.assets.localize`); write it with
        ``m.save(path)`` or :func:`maps.assets.render_offline`.

    Raises
    ------
    ValueError
        If ``grids`` is empty or a frame lacks a required column.
    """
    if settings is None:
        from gis.settings import get_settings

        settings = get_settings()
    grids = prepare_frame(grids, ["code", "name", "community_name", "households"], "grids")
    if grids is None or grids.empty:
        raise ValueError("grids: at least one grid with a geometry is needed")
    buildings = prepare_frame(buildings, ["name", "floors", "use", "households"], "buildings")
    facilities = prepare_frame(facilities, ["kind", "name", "capacity"], "facilities")
    shelters = prepare_frame(
        shelters, ["name", "shelter_class", "capacity", "occupancy"], "shelters"
    )

    m = base_map(
        grids.total_bounds, settings, zoom_start=14, style_url=style_url, vendor_url=vendor_url
    )

    _add_grids(m, grids)
    if buildings is not None and not buildings.empty:
        _add_buildings(m, buildings)
    if facilities is not None and not facilities.empty:
        _add_facilities(m, facilities)
    if shelters is not None and not shelters.empty:
        _add_shelters(m, shelters)

    households = sum(h for h in (as_number(v) for v in grids["households"]) if h is not None)
    parts = [f"网格 {len(grids)} 个", f"户数 {int(households):,}"]
    if buildings is not None:
        parts.append(f"楼栋 {len(buildings)} 栋")
    if shelters is not None:
        parts.append(f"避难场所 {len(shelters)} 处")
    add_title(m, title, " · ".join(parts))

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    localize(m, vendor_url, static_url)
    return m
