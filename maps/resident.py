"""The resident's phone page: where you are, your nearest shelter (避难场所) and the way there."""

from __future__ import annotations

import html

import folium

from shapely import LineString

from gis.settings import Settings, get_settings
from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.district import add_title, base_map

ROUTE_CLASS = "wangge-route"
YOU_CLASS = "wangge-you"
SHELTER_CLASS = "wangge-shelter"


def shelter_route_map(
    you: tuple[float, float],
    shelter: tuple[float, float],
    route: LineString,
    *,
    shelter_name: str,
    minutes: float,
    distance_m: float,
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
    """
    settings = settings or get_settings()
    xs, ys = route.xy
    m = base_map((min(xs), min(ys), max(xs), max(ys)), settings, zoom_start=16)
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
        f"最近避难场所：{shelter_name}",
        f"步行约 {minutes:.0f} 分钟 · {distance_m:,.0f} 米 · 沿蓝线前往",
    )
    root = m.get_root()
    root.header.add_child(  # type: ignore[attr-defined]
        folium.Element('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        name="viewport",
    )
    localize(m, vendor_url, static_url)
    return m
