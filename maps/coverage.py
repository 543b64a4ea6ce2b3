"""Planners' maps (设施覆盖): walking access on H3 cells, unserved hot spots, sites, before/after.

Built from :mod:`analysis.coverage` results handed in; labels are in Chinese and every
script is served locally (:mod:`maps.assets`), so the pages draw with no internet.

Stable hooks for tests and styling: access cells are SVG paths with the class
``wangge-access`` (after a plan: ``wangge-access-after``), unserved hot spots
``wangge-hotspot``, existing facilities ``wangge-facility``, candidate sites
``wangge-candidate``, recommended or added sites ``wangge-recommended``, facilities a
plan closes ``wangge-removed``; the legend is ``div.wangge-legend`` and the comparison
table ``table.wangge-compare``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement
from folium.template import Template

import geopandas as gpd
import shapely

from analysis.coverage import GROUP_NAMES, KIND_NAMES, TODAY, Access, Plan
from grids.locate import cell_polygons
from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.district import add_title, base_map, display_value, feature_collection

if TYPE_CHECKING:
    from gis.settings import Settings

ACCESS_CLASS = "wangge-access"
AFTER_CLASS = "wangge-access-after"
HOTSPOT_CLASS = "wangge-hotspot"
FACILITY_CLASS = "wangge-facility"
CANDIDATE_CLASS = "wangge-candidate"
RECOMMENDED_CLASS = "wangge-recommended"
REMOVED_CLASS = "wangge-removed"

#: Walking-minute classes: (upper bound, colour, label); above the last: far, grey: none.
MINUTE_CLASSES: tuple[tuple[float, str, str], ...] = (
    (5, "#1a9850", "5分钟内"),
    (10, "#91cf60", "5–10分钟"),
    (15, "#fee08b", "10–15分钟"),
    (20, "#fc8d59", "15–20分钟"),
    (math.inf, "#d73027", "20分钟以上"),
)
UNREACHABLE_COLOUR = "#9e9e9e"

_CSS = """
<style>
.wangge-legend, .wangge-compare-box {
  position: absolute; z-index: 1000; background: rgba(255,255,255,0.94);
  border-radius: 4px; padding: 6px 10px; box-shadow: 0 1px 5px rgba(0,0,0,0.35);
  font: 12px/1.5 "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
}
.wangge-legend { bottom: 56px; left: 10px; }
.wangge-legend i { display: inline-block; width: 14px; height: 10px; margin-right: 6px; }
.wangge-compare-box { bottom: 24px; right: 10px; max-width: 60%; overflow-x: auto; }
table.wangge-compare { border-collapse: collapse; }
table.wangge-compare td, table.wangge-compare th {
  border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: right; white-space: nowrap;
}
table.wangge-compare th:first-child, table.wangge-compare td:first-child { text-align: left; }
</style>
"""


def minute_colour(minutes: float) -> str:
    """The colour of a walking time on the access maps (grey when unreachable)."""
    if not math.isfinite(minutes):
        return UNREACHABLE_COLOUR
    for upper, colour, _ in MINUTE_CLASSES:
        if minutes <= upper:
            return colour
    return MINUTE_CLASSES[-1][1]


def access_cells(result: Access, group: str) -> gpd.GeoDataFrame:
    """One H3 hexagon per cell: people of ``group``, unserved people, walking minutes.

    Demand rows of the same cell (a cell on a grid boundary) are added up; the minutes
    are the people-weighted mean (``inf`` when no one there can reach a facility).
    """
    frame = result.frame()
    w = frame[group].to_numpy(np.float64)
    minutes = frame["minutes"].to_numpy(np.float64)
    finite = np.isfinite(minutes)
    cells = pd.DataFrame(
        {
            "cell": frame["cell"].to_numpy(np.int64),
            "people": w,
            "everyone": frame["everyone"].to_numpy(np.float64),
            "unserved": np.where(frame["served"].to_numpy(bool), 0.0, w),
            "wm": np.where(finite, minutes, 0.0) * frame["everyone"].to_numpy(np.float64),
            "wf": np.where(finite, frame["everyone"].to_numpy(np.float64), 0.0),
            "best": minutes,
        }
    )
    by = cells.groupby("cell", sort=True).agg(
        people=("people", "sum"),
        everyone=("everyone", "sum"),
        unserved=("unserved", "sum"),
        wm=("wm", "sum"),
        wf=("wf", "sum"),
        best=("best", "min"),
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(by["wf"] > 0, by["wm"] / by["wf"], by["best"])
    out = gpd.GeoDataFrame(
        {
            "cell": by.index.to_numpy(np.int64),
            "people": by["people"].to_numpy(),
            "unserved": by["unserved"].to_numpy(),
            "minutes": mean,
        },
        geometry=cell_polygons(by.index.to_numpy(np.int64)),
        crs=4326,
    )
    return out


def _add_css(m: folium.Map) -> None:
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(_CSS), name="wangge_coverage_css")


def _legend(m: folium.Map, limit_min: float) -> None:
    rows = "".join(
        f'<div><i style="background:{c}"></i>{html.escape(label)}</div>'
        for _, c, label in MINUTE_CLASSES
    )
    rows += f'<div><i style="background:{UNREACHABLE_COLOUR}"></i>步行不可达</div>'
    box = (
        '<div class="wangge-legend"><b>步行时间</b>'
        f"（标准：{limit_min:g}分钟内）{rows}"
        '<div><i style="background:#b2182b;border-radius:7px"></i>未覆盖人口热点</div></div>'
    )
    m.get_root().html.add_child(Element(box), name="wangge_coverage_legend")  # type: ignore[attr-defined]


def _add_cells(
    m: folium.Map, cells: gpd.GeoDataFrame, *, name: str, class_name: str, show: bool = True
) -> None:
    props = [
        {
            "cell": f"{int(c):x}",
            "people": display_value(round(float(p))),
            "unserved": display_value(round(float(u))),
            "minutes": f"{mi:.1f}" if math.isfinite(mi) else "不可达",
            "fill": minute_colour(float(mi)),
        }
        for c, p, u, mi in zip(
            cells["cell"], cells["people"], cells["unserved"], cells["minutes"], strict=True
        )
    ]
    folium.GeoJson(
        feature_collection(cells, props),
        name=name,
        show=show,
        style_function=lambda f: {
            "className": class_name,
            "color": "#555555",
            "weight": 0.4,
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.65,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["minutes", "people", "unserved", "cell"],
            aliases=["步行（分钟）", "人口", "未覆盖人口", "H3单元"],
        ),
    ).add_to(m)


def _add_hotspots(m: folium.Map, cells: gpd.GeoDataFrame, top: int) -> folium.FeatureGroup | None:
    hot = cells[cells["unserved"] > 0].nlargest(top, "unserved")
    if hot.empty:
        return None
    group = folium.FeatureGroup(name="未覆盖热点", overlay=True)
    biggest = float(hot["unserved"].max())
    centres = shapely.centroid(np.asarray(hot.geometry.values))
    for (_, row), pt in zip(hot.iterrows(), centres, strict=True):
        folium.CircleMarker(
            (pt.y, pt.x),
            radius=6 + 12 * math.sqrt(float(row["unserved"]) / biggest),
            color="#67001f",
            weight=1.5,
            fill=True,
            fill_color="#b2182b",
            fill_opacity=0.55,
            class_name=HOTSPOT_CLASS,
            tooltip=f"未覆盖 {row['unserved']:.0f} 人",
        ).add_to(group)
    group.add_to(m)
    return group


def _add_points(
    m: folium.Map,
    points: pd.DataFrame | None,
    *,
    name: str,
    class_name: str,
    colour: str,
    radius: float,
    label: str,
) -> folium.FeatureGroup | None:
    if points is None or len(points) == 0:
        return None
    group = folium.FeatureGroup(name=name, overlay=True)
    names = points["name"] if "name" in points.columns else [label] * len(points)
    caps = points["capacity"] if "capacity" in points.columns else [None] * len(points)
    for lon, lat, n, cap in zip(points["lon"], points["lat"], names, caps, strict=True):
        tip = f"{label}：{html.escape(str(n))}"
        if cap is not None and not pd.isna(cap):
            tip += f"（容量 {float(cap):.0f}）"
        folium.CircleMarker(
            (float(lat), float(lon)),
            radius=radius,
            color="#ffffff",
            weight=2,
            fill=True,
            fill_color=colour,
            fill_opacity=0.95,
            class_name=class_name,
            tooltip=tip,
        ).add_to(group)
    group.add_to(m)
    return group


class _MarkersOnTop(MacroElement):
    """Keep point layers above the cells when a cell layer is switched on again."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, groups) {
            map.on("overlayadd", function () {
                groups.forEach(function (g) {
                    if (map.hasLayer(g)) {
                        g.eachLayer(function (l) { if (l.bringToFront) { l.bringToFront(); } });
                    }
                });
            });
        })({{ this.map_name }}, [{{ this.group_names|join(", ") }}]);
        {% endmacro %}
        """
    )

    def __init__(self, m: folium.Map, groups: Sequence[folium.FeatureGroup | None]) -> None:
        super().__init__()
        self._name = "MarkersOnTop"
        self.map_name = m.get_name()
        self.group_names = [g.get_name() for g in groups if g is not None]


def _bounds(cells: gpd.GeoDataFrame, *points: pd.DataFrame | None) -> Sequence[float]:
    w, s, e, n = (float(v) for v in cells.total_bounds)
    for p in points:
        if p is not None and len(p):
            w, e = min(w, float(p["lon"].min())), max(e, float(p["lon"].max()))
            s, n = min(s, float(p["lat"].min())), max(n, float(p["lat"].max()))
    return (w, s, e, n)


def access_map(
    result: Access,
    facilities: pd.DataFrame,
    *,
    group: str,
    candidates: pd.DataFrame | None = None,
    recommended: pd.DataFrame | None = None,
    hotspots: int = 10,
    settings: Settings | None = None,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
) -> folium.Map:
    """The access map of one facility kind and group (可达性分析).

    Parameters
    ----------
    result : Access
        From :func:`analysis.coverage.access`.
    facilities : pandas.DataFrame
        ``lon``, ``lat``, ``name``, ``capacity`` (and ``kind``: only ``result.kind``
        is drawn).
    group : str
        Whose people the cells and hot spots count.
    candidates, recommended : pandas.DataFrame, optional
        Candidate and recommended sites (``lon``, ``lat``, ``name``).
    hotspots : int
        How many cells with the most unserved people to ring.

    Returns
    -------
    folium.Map
        Localized, ready for :func:`maps.assets.render_offline`.
    """
    if settings is None:
        from gis.settings import get_settings

        settings = get_settings()
    cells = access_cells(result, group)
    if "kind" in facilities.columns:
        facilities = facilities[facilities["kind"] == result.kind]
    m = base_map(
        _bounds(cells, facilities, candidates, recommended),
        settings,
        zoom_start=14,
        vendor_url=vendor_url,
    )
    _add_css(m)
    _add_cells(m, cells, name="步行时间（H3单元）", class_name=ACCESS_CLASS)
    groups = [_add_hotspots(m, cells, hotspots)]
    groups.append(
        _add_points(
            m,
            candidates,
            name="候选点址",
            class_name=CANDIDATE_CLASS,
            colour="#6a6a6a",
            radius=4,
            label="候选点址",
        )
    )
    groups.append(
        _add_points(
            m,
            facilities,
            name=f"现有{KIND_NAMES[result.kind]}",
            class_name=FACILITY_CLASS,
            colour="#2166ac",
            radius=8,
            label=KIND_NAMES[result.kind],
        )
    )
    groups.append(
        _add_points(
            m,
            recommended,
            name="推荐点址",
            class_name=RECOMMENDED_CLASS,
            colour="#e7298a",
            radius=10,
            label="推荐新增",
        )
    )
    _MarkersOnTop(m, groups).add_to(m)
    _legend(m, result.standard.minutes)
    people = float(cells["people"].sum())
    unserved = float(cells["unserved"].sum())
    share = (1 - unserved / people) if people > 0 else float("nan")
    add_title(
        m,
        f"{KIND_NAMES[result.kind]}可达性 · {GROUP_NAMES[group]}",
        f"{result.standard.circle or f'{result.standard.minutes:g}分钟'}：覆盖 {share:.1%}"
        f" · 未覆盖 {unserved:,.0f} 人（共 {people:,.0f} 人）",
    )
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    localize(m, vendor_url, static_url)
    return m


_TABLE_COLUMNS = (
    ("facilities", "设施数", "{:.0f}"),
    ("added", "新增", "{:.0f}"),
    ("removed", "撤并", "{:.0f}"),
    ("share_everyone", "全体覆盖率", "{:.1%}"),
    ("share_elderly_60", "60+覆盖率", "{:.1%}"),
    ("share_children", "儿童覆盖率", "{:.1%}"),
    ("mean_min", "平均步行（分）", "{:.1f}"),
    ("p90_min", "90%步行（分）", "{:.1f}"),
    ("served_with_capacity", "容量内服务人数", "{:,.0f}"),
    ("cost", "投资", "{:,.0f}"),
)


def compare_rows(table: pd.DataFrame) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The plan comparison as text: the headers, and each plan's name and formatted values."""
    headers = ["方案", *(title for _, title, _ in _TABLE_COLUMNS)]
    rows = []
    for name, row in table.iterrows():
        cells = []
        for col, _, fmt in _TABLE_COLUMNS:
            value = row.get(col)
            ok = value is not None and not pd.isna(value) and math.isfinite(float(value))
            cells.append(fmt.format(float(value)) if ok else "—")
        rows.append((str(name), cells))
    return headers, rows


def access_svg(
    access: Access,
    facilities: pd.DataFrame,
    *,
    group: str,
    added: pd.DataFrame | None = None,
    removed: Sequence[int] = (),
    bounds: Sequence[float] | None = None,
    title: str,
    chart_id: str,
    width: int = 420,
) -> str:
    """A small static map of one plan as SVG markup: H3 cells by walking time, the sites.

    For the side-by-side comparison page (no script, strict CSP): cells coloured as on the
    access maps (:data:`MINUTE_CLASSES`), today's facilities in blue, the ones the plan
    closes as black crosses, its new sites in magenta.  ``bounds`` (west, south, east,
    north; degrees) keeps several panels on the same frame.
    """
    cells = access_cells(access, group)
    if "kind" in facilities.columns:
        facilities = facilities[facilities["kind"] == access.kind]
    if bounds is None:
        bounds = _bounds(cells, facilities, added)
    west, south, east, north = (float(v) for v in bounds)
    squeeze = math.cos(math.radians((south + north) / 2))
    span_x = max((east - west) * squeeze, 1e-9)
    span_y = max(north - south, 1e-9)
    height = max(int(width * span_y / span_x), 120)
    sx, sy = width / span_x, height / span_y

    def xy(lon: float, lat: float) -> str:
        return f"{(lon - west) * squeeze * sx:.1f},{(north - lat) * sy:.1f}"

    unserved = float(cells["unserved"].sum())
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="plan-map" role="img" aria-labelledby="{chart_id}-t" id="{chart_id}">',
        f'<title id="{chart_id}-t">{html.escape(title)}：未覆盖 {unserved:,.0f} 人</title>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f4f6f8"/>',
    ]
    for polygon, minutes in zip(cells.geometry, cells["minutes"], strict=True):
        ring = " ".join(xy(x, y) for x, y in list(polygon.exterior.coords)[:-1])
        out.append(f'<polygon points="{ring}" fill="{minute_colour(float(minutes))}"/>')
    closed = set(int(i) for i in removed)
    for row in facilities.itertuples():
        point = xy(float(row.lon), float(row.lat)).split(",")
        if int(row.id) in closed:
            x, y = float(point[0]), float(point[1])
            out.append(
                f'<path d="M{x - 5:.1f},{y - 5:.1f}L{x + 5:.1f},{y + 5:.1f}'
                f'M{x - 5:.1f},{y + 5:.1f}L{x + 5:.1f},{y - 5:.1f}" stroke="#000000" '
                'stroke-width="2.5" class="removed"/>'
            )
        else:
            out.append(
                f'<circle cx="{point[0]}" cy="{point[1]}" r="5" fill="#2166ac" '
                'stroke="#ffffff" stroke-width="1.5" class="facility"/>'
            )
    if added is not None:
        for row in added.itertuples():
            point = xy(float(row.lon), float(row.lat)).split(",")
            out.append(
                f'<circle cx="{point[0]}" cy="{point[1]}" r="7" fill="#c2185b" '
                'stroke="#ffffff" stroke-width="2" class="added"/>'
            )
    out.append("</svg>")
    return "\n".join(out)


def compare_bounds(
    today: Access, facilities: pd.DataFrame, group: str, added: Sequence[pd.DataFrame | None]
) -> tuple[float, ...]:
    """One frame (west, south, east, north) for every panel of a comparison."""
    cells = access_cells(today, group)
    if "kind" in facilities.columns:
        facilities = facilities[facilities["kind"] == today.kind]
    return tuple(float(v) for v in _bounds(cells, facilities, *added))


def compare_table_html(table: pd.DataFrame) -> str:
    """The plan comparison as an HTML table (class ``wangge-compare``), in Chinese."""
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t, _ in _TABLE_COLUMNS)
    body = []
    for name, row in table.iterrows():
        cells = []
        for col, _, fmt in _TABLE_COLUMNS:
            value = row.get(col)
            ok = value is not None and not pd.isna(value) and math.isfinite(float(value))
            cells.append(f"<td>{fmt.format(float(value)) if ok else '—'}</td>")
        body.append(f"<tr><td>{html.escape(str(name))}</td>{''.join(cells)}</tr>")
    return f'<table class="wangge-compare"><tr><th>方案</th>{head}</tr>{"".join(body)}</table>'


def compare_map(
    before: Access,
    after: Access,
    facilities: pd.DataFrame,
    *,
    group: str,
    added: pd.DataFrame | None,
    removed: Sequence[int] = (),
    table: pd.DataFrame | None = None,
    plan_name: str = "规划方案",
    settings: Settings | None = None,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
) -> folium.Map:
    """Before and after a plan (现状 / 规划后) on one map, with the comparison table.

    Parameters
    ----------
    before, after : Access
        Access today and with the plan.
    facilities : pandas.DataFrame
        Today's facilities (``id``, ``lon``, ``lat``, ``name``; other kinds ignored).
    added : pandas.DataFrame, optional
        The plan's new sites.
    removed : sequence of int
        Facility ids the plan closes (drawn crossed out).
    table : pandas.DataFrame, optional
        From :func:`analysis.coverage.compare_plans`.
    """
    if settings is None:
        from gis.settings import get_settings

        settings = get_settings()
    cells_before = access_cells(before, group)
    cells_after = access_cells(after, group)
    if "kind" in facilities.columns:
        facilities = facilities[facilities["kind"] == before.kind]
    closed = facilities[facilities["id"].isin(list(removed))]
    kept = facilities[~facilities["id"].isin(list(removed))]
    m = base_map(
        _bounds(cells_after, facilities, added), settings, zoom_start=14, vendor_url=vendor_url
    )
    _add_css(m)
    _add_cells(m, cells_before, name=f"{TODAY}：步行时间", class_name=ACCESS_CLASS, show=False)
    _add_cells(m, cells_after, name=f"{plan_name}：步行时间", class_name=AFTER_CLASS)
    groups = [_add_hotspots(m, cells_after, 10)]
    kind_name = KIND_NAMES[before.kind]
    groups.append(
        _add_points(
            m,
            kept,
            name=f"现有{kind_name}",
            class_name=FACILITY_CLASS,
            colour="#2166ac",
            radius=8,
            label=kind_name,
        )
    )
    groups.append(
        _add_points(
            m,
            closed,
            name="撤并设施",
            class_name=REMOVED_CLASS,
            colour="#000000",
            radius=7,
            label="撤并",
        )
    )
    groups.append(
        _add_points(
            m,
            added,
            name="新增点址",
            class_name=RECOMMENDED_CLASS,
            colour="#e7298a",
            radius=10,
            label="新增",
        )
    )
    _MarkersOnTop(m, groups).add_to(m)
    _legend(m, before.standard.minutes)
    if table is not None and len(table):
        box = f'<div class="wangge-compare-box">{compare_table_html(table)}</div>'
        m.get_root().html.add_child(Element(box), name="wangge_compare")  # type: ignore[attr-defined]
    unserved_before = float(cells_before["unserved"].sum())
    unserved_after = float(cells_after["unserved"].sum())
    add_title(
        m,
        f"{kind_name} · {plan_name}与{TODAY}对比 · {GROUP_NAMES[group]}",
        f"未覆盖人口：{TODAY} {unserved_before:,.0f} 人 → 规划后 {unserved_after:,.0f} 人",
    )
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    localize(m, vendor_url, static_url)
    return m


def render_kwargs(for_file: bool) -> dict[str, Any]:
    """``vendor_url`` / ``static_url`` for a page served by the app or opened from disk."""
    from maps.assets import STATIC_DIR, VENDOR_DIR

    if for_file:
        return {"vendor_url": VENDOR_DIR.as_posix(), "static_url": STATIC_DIR.as_posix()}
    return {"vendor_url": VENDOR_URL, "static_url": STATIC_URL}


def plan_map(
    accesses: dict[str, Access],
    table: pd.DataFrame,
    facilities: pd.DataFrame,
    plan: Plan,
    *,
    group: str,
    **urls: Any,
) -> folium.Map:
    """:func:`compare_map` of one plan against today, from :func:`compare_plans`' output."""
    return compare_map(
        accesses[TODAY],
        accesses[plan.name],
        facilities,
        group=group,
        added=plan.added,
        removed=plan.removed,
        table=table,
        plan_name=plan.name,
        **urls,
    )
