"""The resident's phone page: where you are, your nearest shelter (避难场所) and the way there."""

from __future__ import annotations

import html

import folium

import shapely
from shapely import LineString
from shapely.geometry.base import BaseGeometry

from gis.settings import Settings, get_settings
from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.district import add_title, base_map

ROUTE_CLASS = "wangge-route"
YOU_CLASS = "wangge-you"
SHELTER_CLASS = "wangge-shelter"
HAZARD_CLASS = "wangge-hazard"
WARNING_CLASS = "wangge-hazard-warning"

_WARNING_CSS = f"""
<style>
.{WARNING_CLASS} {{
  position: absolute; left: 10px; right: 10px; bottom: 60px; z-index: 1000;
  background: #d1242f; color: #fff; border-radius: 6px; padding: 8px 12px;
  font: 600 14px/1.4 "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
  box-shadow: 0 1px 6px rgba(0, 0, 0, 0.4);
}}
</style>
"""


def shelter_route_map(
    you: tuple[float, float],
    shelter: tuple[float, float],
    route: LineString,
    *,
    shelter_name: str,
    minutes: float,
    distance_m: float,
    warning: str | None = None,
    hazard: BaseGeometry | None = None,
    settings: Settings | None = None,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
) -> folium.Map:
    """A small map for a phone: you, the walking route and the shelter, in Chinese.

    Parameters
    ----------
    you, shelter
        (lon, lat), degrees, EPSG:4326.
    route
        The walking route, EPSG:4326.
    warning
        A hazard warning in force (Chinese), shown in a red box over the map.
    hazard
        The hazard area(s) in force, EPSG:4326, drawn in red.
    """
    settings = settings or get_settings()
    xs, ys = route.xy
    m = base_map((min(xs), min(ys), max(xs), max(ys)), settings, zoom_start=16)
    if hazard is not None and not hazard.is_empty:
        polygons = shapely.get_parts(hazard)
        for polygon in polygons[shapely.get_type_id(polygons) == 3]:
            rings = [polygon.exterior, *polygon.interiors]
            folium.Polygon(
                [[(y, x) for x, y in ring.coords] for ring in rings],
                color="#d1242f",
                weight=2,
                fill=True,
                fill_color="#d1242f",
                fill_opacity=0.2,
                class_name=HAZARD_CLASS,
                tooltip="危险区域",
            ).add_to(m)
    folium.PolyLine(
        [(y, x) for x, y in zip(xs, ys, strict=True)],
        color="#1f6feb",
        weight=6,
        opacity=0.85,
        class_name=ROUTE_CLASS,
        tooltip=f"步行约 {minutes:.0f} 分钟（{distance_m:,.0f} 米）",
    ).add_to(m)
    folium.CircleMarker(
        (you[1], you[0]),
        radius=8,
        color="#ffffff",
        weight=3,
        fill=True,
        fill_color="#d1242f",
        fill_opacity=1,
        class_name=YOU_CLASS,
        tooltip="您的位置",
    ).add_to(m)
    folium.CircleMarker(
        (shelter[1], shelter[0]),
        radius=10,
        color="#ffffff",
        weight=3,
        fill=True,
        fill_color="#00843d",
        fill_opacity=1,
        class_name=SHELTER_CLASS,
        tooltip=html.escape(shelter_name),
    ).add_to(m)
    add_title(
        m,
        f"{'最近安全避难场所' if warning else '最近避难场所'}：{shelter_name}",
        f"步行约 {minutes:.0f} 分钟 · {distance_m:,.0f} 米 · 沿蓝线前往",
    )
    root = m.get_root()
    root.header.add_child(  # type: ignore[attr-defined]
        folium.Element('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        name="viewport",
    )
    if warning:
        root.header.add_child(folium.Element(_WARNING_CSS), name="wangge_warning_css")  # type: ignore[attr-defined]
        root.html.add_child(  # type: ignore[attr-defined]
            folium.Element(
                f'<div class="{WARNING_CLASS}" role="alert">{html.escape(warning)}</div>'
            ),
            name="wangge_warning",
        )
    localize(m, vendor_url, static_url)
    return m
