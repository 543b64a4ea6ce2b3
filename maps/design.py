"""Draw the grid designer's before/after map: current grids (现状) against the proposal (方案).

The two grid sets are the map's two base layers, so a radio button switches between
them over the same roads and basemap (folium's side-by-side ``DualMap`` needs the
Leaflet.Sync plugin from a CDN, which Wangge does not serve).  Both are coloured by
households on one scale that marks the band (below it blue, inside it greens, above it
red), with a legend, the grid code and counts in tooltips, the proposal's codes as
labels (in each layer), the current grid lines as a dashed orange overlay, the roads,
and a box comparing the two sets (spread, share in band, compactness).  Labels are in
Chinese and every script and stylesheet is local (see :mod:`maps.assets`).

Stable hooks for tests and styling: SVG paths of the current grids have the class
``wangge-design-before``, of the proposal ``wangge-design-after``, the dashed current
lines ``wangge-design-before-outline``, roads ``wangge-design-road``; the codes of the
layer shown are ``div.wangge-grid-label``; the comparison box is
``div.wangge-design-summary``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import branca.colormap as cm
import folium
import numpy as np
from branca.element import Element, Figure

import shapely

from grids.codes import reading_order
from grids.design import DesignMetrics, measure
from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.district import (
    NO_DATA,
    PointLabels,
    add_title,
    as_number,
    base_map,
    display_value,
    feature_collection,
    prepare_frame,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.settings import Settings

DEFAULT_TITLE = "网格优化方案 · 现状与方案对比"

BEFORE_LAYER = "现状网格（按户数着色）"
AFTER_LAYER = "方案网格（按户数着色）"
BEFORE_OUTLINE_LAYER = "现状网格边界"
ROAD_LAYER = "道路"

BEFORE_CLASS = "wangge-design-before"
AFTER_CLASS = "wangge-design-after"
BEFORE_OUTLINE_CLASS = "wangge-design-before-outline"
ROAD_CLASS = "wangge-design-road"
SUMMARY_CLASS = "wangge-design-summary"

#: Below the band, three shades inside it (fewer → more households), above it.
BAND_COLOURS = ("#6baed6", "#c7e9c0", "#74c476", "#238b45", "#ef3b2c")
NO_DATA_COLOUR = "#cccccc"
#: Grid-code labels are hidden below this zoom (a community fills the screen at ~16).
LABEL_MIN_ZOOM = 14

#: road_class -> (Chinese name, line weight in pixels, colour, dash pattern).
ROAD_STYLES: dict[str, tuple[str, float, str, str | None]] = {
    "arterial": ("主干路", 4.0, "#7f7f7f", None),
    "branch": ("支路", 2.5, "#969696", None),
    "lane": ("小区道路", 1.2, "#a6a6a6", "3 3"),
}
OTHER_ROAD_STYLE = ("道路", 2.0, "#969696", None)

_SUMMARY_CSS = f"""
<style>
.{SUMMARY_CLASS} {{
  position: absolute; bottom: 26px; right: 10px; z-index: 1000;
  background: rgba(255, 255, 255, 0.94); border-radius: 4px; padding: 6px 10px;
  box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); font-size: 12px; color: #222;
  font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
    sans-serif;
}}
.{SUMMARY_CLASS} table {{ border-collapse: collapse; }}
.{SUMMARY_CLASS} th, .{SUMMARY_CLASS} td {{ padding: 1px 8px; text-align: right; }}
.{SUMMARY_CLASS} th:first-child, .{SUMMARY_CLASS} td:first-child {{ text-align: left; }}
.{SUMMARY_CLASS} thead th {{ border-bottom: 1px solid #999; }}
</style>
"""


def band_colormap(
    households: Sequence[float | None], min_households: int, max_households: int
) -> cm.StepColormap:
    """A step colour scale of households per grid that marks the band.

    Parameters
    ----------
    households
        Households of every grid drawn (None for unknown), to size the scale.
    min_households, max_households
        The band (户).

    Returns
    -------
    branca.colormap.StepColormap
        Blue below ``min_households``, three greens inside the band, red above it.
    """
    values = [h for h in households if h is not None]
    top = max([*values, max_households * 1.2, max_households + 1.0])
    step = (max_households - min_households) / 3
    index = [
        0.0,
        float(min_households),
        min_households + step,
        min_households + 2 * step,
        float(max_households),
        float(top),
    ]
    return cm.StepColormap(
        list(BAND_COLOURS),
        index=index,
        vmin=0.0,
        vmax=float(top),
        caption=f"网格户数（标准 {min_households}–{max_households} 户）",
    )


def _grid_properties(
    grids: gpd.GeoDataFrame, colormap: cm.StepColormap, fallback_prefix: str
) -> list[dict[str, Any]]:
    """Tooltip properties of each grid: code (or a provisional label), counts, colour."""
    codes: list[str | None]
    if "code" in grids.columns:
        codes = [None if c is None or c != c else str(c) for c in grids["code"]]
    else:
        codes = [None] * len(grids)
    if any(c is None for c in codes):
        order = reading_order(np.asarray(grids.geometry.array, dtype=object))
        seq = np.empty(len(order), dtype=np.int64)
        seq[order] = np.arange(1, len(order) + 1)
        codes = [
            c if c is not None else f"{fallback_prefix}{s}" for c, s in zip(codes, seq, strict=True)
        ]
    props = []
    for i, code in enumerate(codes):
        count = as_number(grids["households"].iloc[i])
        row: dict[str, Any] = {
            "code": display_value(code),
            "name": display_value(grids["name"].iloc[i]) if "name" in grids.columns else NO_DATA,
            "households": NO_DATA if count is None else round(count),
            "buildings": (
                display_value(grids["buildings"].iloc[i])
                if "buildings" in grids.columns
                else NO_DATA
            ),
            "compactness": (
                display_value(round(float(grids["polsby_popper"].iloc[i]), 2))
                if "polsby_popper" in grids.columns
                else NO_DATA
            ),
            "fill": NO_DATA_COLOUR if count is None else colormap(count)[:7],
        }
        props.append(row)
    return props


def _add_grid_layer(
    m: folium.Map,
    grids: gpd.GeoDataFrame,
    props: list[dict[str, Any]],
    *,
    name: str,
    class_name: str,
    show: bool,
) -> None:
    """One grid set as a base layer: filled by households, tooltips, code labels."""

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        return {
            "className": class_name,
            "color": "#252525",
            "weight": 2,
            "fillColor": feature["properties"]["fill"],
            "fillOpacity": 0.6,
        }

    def highlight(_feature: dict[str, Any]) -> dict[str, Any]:
        return {"weight": 3, "color": "#1f4e9e", "fillOpacity": 0.75}

    group = folium.FeatureGroup(name=name, overlay=False, control=True, show=show)
    folium.GeoJson(
        feature_collection(grids, props),
        control=False,
        style_function=style,
        highlight_function=highlight,
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "name", "households", "buildings", "compactness"],
            aliases=["网格编码", "名称", "户数", "楼栋", "紧凑度"],
            localize=True,
        ),
    ).add_to(group)
    # the labels belong to the layer, so that switching layers switches codes too
    points = shapely.point_on_surface(np.asarray(grids.geometry.array, dtype=object))
    labels = feature_collection(grids, [{"label": p["code"]} for p in props], points)
    PointLabels(labels, name=f"{name} 编码", min_zoom=LABEL_MIN_ZOOM).add_to(group)
    group.add_to(m)


def _add_outline_layer(m: folium.Map, grids: gpd.GeoDataFrame) -> None:
    props: list[dict[str, Any]] = [{} for _ in range(len(grids))]
    folium.GeoJson(
        feature_collection(grids, props),
        name=BEFORE_OUTLINE_LAYER,
        style_function=lambda _f: {
            "className": BEFORE_OUTLINE_CLASS,
            "color": "#e6550d",
            "weight": 2.5,
            "dashArray": "8 5",
            "fill": False,
            "interactive": False,
        },
    ).add_to(m)


def _add_roads(m: folium.Map, roads: gpd.GeoDataFrame) -> None:
    classes = (
        roads["road_class"].astype(str).tolist()
        if "road_class" in roads.columns
        else ["road"] * len(roads)
    )
    names = roads["name"].tolist() if "name" in roads.columns else [None] * len(roads)
    props = []
    for cls, name in zip(classes, names, strict=True):
        label, weight, colour, dash = ROAD_STYLES.get(cls, OTHER_ROAD_STYLE)
        props.append(
            {
                "name": display_value(name),
                "class": label,
                "weight": weight,
                "colour": colour,
                "dash": dash,
            }
        )
    folium.GeoJson(
        feature_collection(roads, props),
        name=ROAD_LAYER,
        style_function=lambda f: {
            "className": ROAD_CLASS,
            "color": f["properties"]["colour"],
            "weight": f["properties"]["weight"],
            "dashArray": f["properties"]["dash"],
            "opacity": 0.9,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name", "class"], aliases=["道路", "等级"]),
    ).add_to(m)


def _summary_html(rows: Sequence[tuple[str, DesignMetrics]]) -> str:
    """The comparison box: one column per grid set."""
    header = "".join(f"<th>{html.escape(name)}</th>" for name, _ in rows)
    lines = [
        ("网格数", [f"{r.n_grids}" for _, r in rows]),
        ("户数标准差", [f"{r.households_std:.1f}" for _, r in rows]),
        ("最少 / 最多户数", [f"{r.households_min} / {r.households_max}" for _, r in rows]),
        ("达标率", [f"{r.share_in_band:.0%}" for _, r in rows]),
        ("平均紧凑度", [f"{r.mean_polsby_popper:.2f}" for _, r in rows]),
    ]
    body = "".join(
        f"<tr><td>{label}</td>" + "".join(f"<td>{v}</td>" for v in values) + "</tr>"
        for label, values in lines
    )
    return (
        f'<div class="{SUMMARY_CLASS}"><table><thead><tr><th></th>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def design_map(
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    *,
    roads: gpd.GeoDataFrame | None = None,
    settings: Settings | None = None,
    title: str = DEFAULT_TITLE,
    min_households: int | None = None,
    max_households: int | None = None,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
) -> folium.Map:
    """Build the before/after map of a grid design, ready to save and serve offline.

    Parameters
    ----------
    before
        Current grids, EPSG:4326 (or any CRS, reprojected): ``households`` and
        optionally ``code``, ``name``, ``buildings``, ``polsby_popper``.  May be empty
        (a community without grids yet).
    after
        Designed grids, same columns (``code`` missing or empty: labelled 方案1, 方案2 …
        in reading order).  Must not be empty.
    roads
        Road lines with optional ``road_class`` and ``name``, or None.
    settings
        Supplies ``tile_url`` and ``tile_attribution``; default :func:`get_settings`.
    title
        Text of the title box.
    min_households, max_households
        The band marked on the colour scale and used for the share in band; default
        ``settings.grid_households_min`` / ``grid_households_max``.
    vendor_url, static_url
        Where the app serves ``maps/node_modules`` and ``maps/static`` (relative
        paths work too, for a file opened from disk).

    Returns
    -------
    folium.Map
        The map, already localized; write it with ``m.save(path)`` or
        :func:`maps.assets.render_offline`.

    Raises
    ------
    ValueError
        If ``after`` is empty or a frame lacks ``households``.
    """
    if settings is None:
        from gis.settings import get_settings

        settings = get_settings()
    if min_households is None:
        min_households = settings.grid_households_min
    if max_households is None:
        max_households = settings.grid_households_max
    after = prepare_frame(after, ["households"], "after")
    if after is None or after.empty:
        raise ValueError("after: at least one designed grid with a geometry is needed")
    before = prepare_frame(before, ["households"], "before")
    roads = prepare_frame(roads, [], "roads")
    has_before = before is not None and not before.empty

    counts = [as_number(v) for v in after["households"]]
    if has_before:
        counts += [as_number(v) for v in before["households"]]
    colormap = band_colormap(counts, min_households, max_households)

    bounds = np.asarray(after.total_bounds, dtype=np.float64)
    if has_before:
        b = before.total_bounds
        bounds = np.array(
            [min(bounds[0], b[0]), min(bounds[1], b[1]), max(bounds[2], b[2]), max(bounds[3], b[3])]
        )
    m = base_map(bounds, settings, zoom_start=16, basemap_overlay=True, vendor_url=vendor_url)

    after_props = _grid_properties(after, colormap, "方案")
    _add_grid_layer(m, after, after_props, name=AFTER_LAYER, class_name=AFTER_CLASS, show=True)
    if has_before:
        before_props = _grid_properties(before, colormap, "现状")
        _add_grid_layer(
            m, before, before_props, name=BEFORE_LAYER, class_name=BEFORE_CLASS, show=False
        )
    if roads is not None and not roads.empty:
        _add_roads(m, roads)
    if has_before:
        _add_outline_layer(m, before)
    colormap.add_to(m)

    rows: list[tuple[str, DesignMetrics]] = []
    if has_before:
        rows.append(("现状", _metrics(before, min_households, max_households)))
    rows.append(("方案", _metrics(after, min_households, max_households)))
    after_m = rows[-1][1]
    subtitle = f"方案 {after_m.n_grids} 个网格，达标率 {after_m.share_in_band:.0%}"
    if has_before:
        before_m = rows[0][1]
        subtitle = (
            f"现状 {before_m.n_grids} 个网格，达标率 {before_m.share_in_band:.0%} → " + subtitle
        )
    add_title(m, title, subtitle)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(_SUMMARY_CSS), name="wangge_design_css")
    root.html.add_child(Element(_summary_html(rows)), name="wangge_design_summary")

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    localize(m, vendor_url, static_url)
    return m


def _metrics(grids: gpd.GeoDataFrame, lo: int, hi: int) -> DesignMetrics:
    households = np.array([as_number(v) or 0.0 for v in grids["households"]])
    return measure(
        np.asarray(grids.geometry.array, dtype=object),
        households,
        min_households=lo,
        max_households=hi,
    )
