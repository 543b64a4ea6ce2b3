"""The district overview (辖区总览) drawn from vector tiles: the same map at any district size.

The page carries no feature: grids, buildings, shelters, people per H3 cell and roads come
as vector tiles from the server (``/tiles/{layer}/{z}/{x}/{y}.pbf``, see
:mod:`api.services.tiles`), drawn by Leaflet.VectorGrid over the offline basemap (or the
configured raster tiles).  What it shows is what the GeoJSON page of
:func:`maps.district.district_map` shows — grids coloured by households with their codes
from zoom 15, buildings with floors, use and households, facilities by kind, shelters with
a popup — plus the people per H3 cell; counts below k are absent from the tiles.

Stable hooks: grid paths ``path.wangge-grid``, buildings ``path.wangge-building``,
shelters ``path.wangge-shelter``, H3 cells ``path.wangge-h3``, facility markers
``path.wangge-facility``, grid labels ``div.wangge-grid-label``; what each tile layer drew
is in ``window.wanggeTiles`` (see :mod:`maps.vector`), the basemap's state in
``window.wanggeBasemap``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import branca.colormap as cm
import folium

from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.district import (
    BUILDING_CLASS,
    BUILDING_LAYER,
    BUILDING_USES,
    DEFAULT_TITLE,
    GRID_CLASS,
    GRID_LABEL_CLASS,
    GRID_LAYER,
    HOUSEHOLDS_CAPTION,
    LABEL_MIN_ZOOM,
    SHELTER_CLASS,
    SHELTER_CLASSES,
    SHELTER_COLOUR,
    SHELTER_LAYER,
    YLORRD,
    _add_facilities,
    add_title,
    base_map,
    prepare_frame,
)
from maps.vector import MvtLayer

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.settings import Settings

H3_LAYER = "人口（H3网格）"
ROADS_LAYER = "道路（通行）"
H3_CLASS = "wangge-h3"
#: Buildings are drawn from this zoom (below it the grids tell the story).
BUILDING_MIN_ZOOM = 15
#: Degrees (about 50 m) the data's extent is grown by for the tile layers' bounds, so that
#: a shelter's circle (a few pixels) at the district's edge draws whole in the next tile.
BOUNDS_MARGIN_DEG = 0.0005


@dataclass(frozen=True)
class DistrictSummary:
    """What the title and the legend say: counts, and the range of households per grid."""

    grids: int
    households: int
    buildings: int
    shelters: int
    households_min: int
    households_max: int


def tile_url(base: str, layer: str) -> str:
    """The URL template of a layer's tiles (``{z}/{x}/{y}``); never a key in it.

    A browser on the same host signs the tile requests in with its session cookie.
    """
    return f"{base.rstrip('/')}/{layer}/{{z}}/{{x}}/{{y}}.pbf"


def _ramp_js(colormap: cm.LinearColormap) -> str:
    """A JavaScript function of a count giving the legend's colour (grey when absent)."""
    stops = [(float(v), colormap(v)[:7]) for v in colormap.index]
    return (
        "function (v) { var S = " + json.dumps(stops) + "; if (v === undefined || v === null) "
        "{ return '#cccccc'; } for (var i = 1; i < S.length; i++) { if (v <= S[i][0]) "
        "{ return S[i - 1][1]; } } return S[S.length - 1][1]; }"
    )


def overview_map(
    bounds: Sequence[float],
    summary: DistrictSummary,
    facilities: gpd.GeoDataFrame | None,
    *,
    settings: Settings,
    tiles_base: str = "/tiles",
    data_bounds: Sequence[float] | None = None,
    title: str = DEFAULT_TITLE,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
) -> folium.Map:
    """Build the district overview over vector tiles (辖区总览), ready to render offline.

    Parameters
    ----------
    bounds
        West, south, east, north of the grids (degrees): the first view.
    summary
        Counts for the title and the legend's range.
    facilities
        Points with ``kind``, ``name`` and ``capacity`` (one layer per kind, as in
        :func:`maps.district.district_map`), or None.
    settings
        The basemap (:func:`maps.basemap.add_basemap`).
    tiles_base
        Where the server answers ``/{layer}/{z}/{x}/{y}.pbf``.
    data_bounds
        West, south, east, north of every grid, building, road and facility: the tile
        layers ask for no tile outside (grown by :data:`BOUNDS_MARGIN_DEG`); None: ask
        for every tile in view.
    """
    around = None
    if data_bounds is not None:
        west, south, east, north = (float(v) for v in data_bounds)
        pad = BOUNDS_MARGIN_DEG
        around = (west - pad, south - pad, east + pad, north + pad)
    m = base_map(bounds, settings, zoom_start=14, vendor_url=vendor_url, data_bounds=around)
    colormap = cm.LinearColormap(
        YLORRD,
        vmin=float(summary.households_min),
        vmax=float(max(summary.households_max, summary.households_min + 1)),
        caption=HOUSEHOLDS_CAPTION,
    )
    grid_style = (
        "function (p) { return {className: " + json.dumps(GRID_CLASS) + ", color: '#3b3b3b', "
        "weight: 1.2, fill: true, fillColor: (" + _ramp_js(colormap) + ")(p.households), "
        "fillOpacity: 0.45}; }"
    )
    MvtLayer(
        tile_url(tiles_base, "grids"),
        GRID_LAYER,
        {"grids": grid_style},
        tooltip={
            "grids": [
                ("code", "网格编码"),
                ("name", "名称"),
                ("community", "社区"),
                ("households", "户数"),
                ("residents", "人数"),
            ]
        },
        labels=("grid_labels", "code", LABEL_MIN_ZOOM, GRID_LABEL_CLASS),
        bounds=around,
    ).add_to(m)
    MvtLayer(
        tile_url(tiles_base, "h3"),
        H3_LAYER,
        {
            "h3": "function (p) { return {className: "
            + json.dumps(H3_CLASS)
            + ", color: '#6a51a3', weight: 0.6, fill: true, fillColor: '#9e9ac8', "
            "fillOpacity: p.households ? Math.min(0.15 + p.households / 400, 0.7) : 0.05}; }"
        },
        tooltip={
            "h3": [
                ("households", "户数"),
                ("residents", "人数"),
                ("vulnerable", "重点人员"),
            ]
        },
        show=False,
    ).add_to(m)
    MvtLayer(
        tile_url(tiles_base, "buildings"),
        BUILDING_LAYER,
        {
            "buildings": "{className: "
            + json.dumps(BUILDING_CLASS)
            + ", color: '#4d4d4d', weight: 0.8, fill: true, fillColor: '#bdbdbd', "
            "fillOpacity: 0.35}"
        },
        tooltip={
            "buildings": [
                ("name", "楼栋"),
                ("floors", "层数"),
                ("use", "用途"),
                ("households", "户数"),
            ]
        },
        values={"use": BUILDING_USES},
        min_zoom=BUILDING_MIN_ZOOM,
        bounds=around,
    ).add_to(m)
    MvtLayer(
        tile_url(tiles_base, "roads"),
        ROADS_LAYER,
        {
            "roads": "function (p) { return {color: p.walkable ? '#2b8cbe' : '#de2d26', "
            "weight: p.class === 'arterial' ? 3 : 1.5, opacity: 0.8}; }"
        },
        tooltip={"roads": [("name", "道路"), ("class", "等级")]},
        values={
            "class": {"arterial": "主干路", "branch": "支路", "lane": "巷道", "footway": "步行道"}
        },
        bounds=around,
        show=False,
    ).add_to(m)
    facilities = prepare_frame(facilities, ["kind", "name", "capacity"], "facilities")
    if facilities is not None and not facilities.empty:
        _add_facilities(m, facilities)
    radius = {k: r for k, (_, r) in SHELTER_CLASSES.items()}
    MvtLayer(
        tile_url(tiles_base, "shelters"),
        SHELTER_LAYER,
        {
            "shelters": "function (p) { return {className: "
            + json.dumps(SHELTER_CLASS)
            + ", radius: ("
            + json.dumps(radius)
            + ")[p.class] || 8, color: '#053d1d', weight: 2, fill: true, fillColor: "
            + json.dumps(SHELTER_COLOUR)
            + ", fillOpacity: 0.9}; }"
        },
        tooltip={"shelters": [("name", "避难场所")]},
        popup={
            "shelters": [
                ("name", "名称"),
                ("class", "类别"),
                ("capacity", "容量"),
                ("occupancy", "当前人数"),
            ]
        },
        values={"class": {k: name for k, (name, _) in SHELTER_CLASSES.items()}},
        bounds=around,
    ).add_to(m)
    colormap.add_to(m)
    parts = [
        f"网格 {summary.grids} 个",
        f"户数 {summary.households:,}",
        f"楼栋 {summary.buildings} 栋",
        f"避难场所 {summary.shelters} 处",
    ]
    add_title(m, title, " · ".join(parts))
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    localize(m, vendor_url, static_url)
    return m
