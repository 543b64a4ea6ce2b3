"""Draw the topology check's map (网格拓扑检查): grids with their codes, each problem highlighted.

Problems come from :func:`grids.topology.check_grids` (``report.problems``).  Each kind
is a layer of its own, named in Chinese with its count: overlaps red, gaps orange,
crossings purple, slivers magenta, household-band and incident outliers as dashed
outlines of the grid, invalid geometry and records in no grid as circle markers (one per
point).  A
legend lists the kinds found; a popup gives each problem's message (what, where, how
to fix).  Every script and stylesheet is local (:mod:`maps.assets`); with no basemap
tile reachable the page still draws every layer.

Stable hooks for tests and styling: grid outlines are SVG paths with the class
``wangge-grid``, community boundaries ``wangge-community``; every problem is a path
(polygon or circle marker) with the classes ``wangge-problem`` and
``wangge-problem-<kind>``; the legend is ``div.wangge-legend``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import folium
import numpy as np
from branca.element import Element, Figure

import shapely

from grids.topology import KIND_LABELS, KINDS
from maps.assets import STATIC_URL, VENDOR_URL, localize

# shared with the district map
from maps.district import (
    GRID_CLASS,
    GRID_LABEL_LAYER,
    PointLabels,
    add_title,
    base_map,
    display_value,
    feature_collection,
    prepare_frame,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.settings import Settings

DEFAULT_TITLE = "网格拓扑检查"
GRID_LAYER = "网格"
COMMUNITY_LAYER = "社区边界"
COMMUNITY_CLASS = "wangge-community"
COMMUNITY_COLOUR = "#08306b"
PROBLEM_CLASS = "wangge-problem"
LEGEND_CLASS = "wangge-legend"


@dataclass(frozen=True)
class ProblemStyle:
    """How one kind of problem is drawn.

    Parameters
    ----------
    colour
        Stroke and fill colour (CSS).
    fill_opacity
        0 for outline-only kinds.
    dash
        SVG dash array for outlines (``None``: solid).
    weight
        Stroke width, pixels.
    """

    colour: str
    fill_opacity: float = 0.55
    dash: str | None = None
    weight: float = 2.0


#: Kind -> style.  Colour-blind-safe-ish and distinct: red, orange, purple for the area errors.
PROBLEM_STYLES: dict[str, ProblemStyle] = {
    "band": ProblemStyle("#1b9e77", fill_opacity=0.08, dash="6 4", weight=3),
    "outlier": ProblemStyle("#b8860b", fill_opacity=0.08, dash="2 4", weight=3),
    "unknown_community": ProblemStyle("#636363", fill_opacity=0.35, dash="8 3"),
    "crossing": ProblemStyle("#6a3d9a", fill_opacity=0.6),
    "gap": ProblemStyle("#ff7f00", fill_opacity=0.65),
    "overlap": ProblemStyle("#e31a1c", fill_opacity=0.65),
    "sliver": ProblemStyle("#e7298a", fill_opacity=0.7, weight=3),
    "invalid": ProblemStyle("#000000", fill_opacity=0.8),
    "no_grid": ProblemStyle("#1f78b4", fill_opacity=0.9),
}
"""Drawn in this order, bottom to top: outlines of whole grids first, points last."""
MARKER_RADIUS = 6
"""Circle markers of point problems, pixels."""

_CSS = f"""
<style>
.{LEGEND_CLASS} {{
  position: absolute; bottom: 26px; right: 10px; z-index: 1000;
  background: rgba(255, 255, 255, 0.94); border-radius: 4px; padding: 8px 10px;
  box-shadow: 0 1px 5px rgba(0, 0, 0, 0.35); font: 12px/1.5 "PingFang SC",
  "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; color: #222;
}}
.{LEGEND_CLASS} .wangge-legend-title {{ font-weight: 600; margin-bottom: 4px; }}
.{LEGEND_CLASS} .wangge-swatch {{
  display: inline-block; width: 18px; height: 11px; margin-right: 6px;
  vertical-align: middle; border: 2px solid; box-sizing: border-box;
}}
.{LEGEND_CLASS} .wangge-swatch-point {{ width: 11px; border-radius: 50%; margin: 0 13px 0 4px; }}
.leaflet-popup-content .wangge-problem-message {{ max-width: 360px; white-space: normal; }}
</style>
"""

POINT_KINDS = frozenset({"invalid", "no_grid"})
"""Kinds whose geometry is usually a point (a marker); others are polygons."""


def _grid_properties(grids: gpd.GeoDataFrame) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """Tooltip properties of the grids, and the fields and Chinese aliases to show."""
    labels = [
        "" if code is None or code != code else str(code)
        for code in (grids["code"] if "code" in grids else [None] * len(grids))
    ]
    labels = [label or f"#{i + 1}" for i, label in enumerate(labels)]
    columns = [
        ("name", "名称"),
        ("community_name", "社区"),
        ("community_code", "社区编码"),
        ("households", "户数"),
    ]
    shown = [(c, alias) for c, alias in columns if c in grids]
    props = []
    for i, label in enumerate(labels):
        row = {"code": html.escape(label)}
        for column, _alias in shown:
            row[column] = display_value(grids[column].iloc[i])
        props.append(row)
    return props, ["code", *[c for c, _ in shown]], ["网格编码", *[a for _, a in shown]]


def _add_grids(m: folium.Map, grids: gpd.GeoDataFrame) -> None:
    props, fields, aliases = _grid_properties(grids)
    folium.GeoJson(
        feature_collection(grids, props),
        name=GRID_LAYER,
        style_function=lambda _f: {
            "className": GRID_CLASS,
            "color": "#3b3b3b",
            "weight": 1.5,
            "fillColor": "#ffffff",
            "fillOpacity": 0.05,
        },
        highlight_function=lambda _f: {"weight": 3, "color": "#1f4e9e"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, localize=True),
    ).add_to(m)
    points = shapely.point_on_surface(np.asarray(grids.geometry.values))
    labels = feature_collection(grids, [{"label": p["code"]} for p in props], points)
    PointLabels(labels, name=GRID_LABEL_LAYER).add_to(m)


def _add_communities(m: folium.Map, communities: gpd.GeoDataFrame) -> None:
    props = [
        {
            "code": display_value(row.get("code")),
            "name": display_value(row.get("name", "")),
        }
        for _, row in communities.iterrows()
    ]
    folium.GeoJson(
        feature_collection(communities, props),
        name=COMMUNITY_LAYER,
        style_function=lambda _f: {
            "className": COMMUNITY_CLASS,
            "color": COMMUNITY_COLOUR,
            "weight": 3,
            "dashArray": "10 6",
            "fill": False,
            "interactive": False,
        },
    ).add_to(m)


def _area_text(value: Any) -> str:
    number = float(value) if value is not None else float("nan")
    if number != number:
        return "—"
    return f"{number:,.1f}" if number < 100 else f"{number:,.0f}"


def _add_problems(m: folium.Map, problems: gpd.GeoDataFrame) -> dict[str, int]:
    """One layer per kind present; return the count drawn of each kind."""
    drawn: dict[str, int] = {}
    kinds = [k for k in PROBLEM_STYLES if (problems["kind"] == k).any()]
    kinds += sorted(set(problems["kind"]) - set(PROBLEM_STYLES))
    for kind in kinds:
        subset = problems[problems["kind"] == kind]
        style = PROBLEM_STYLES.get(kind, ProblemStyle("#000000"))
        label = KIND_LABELS.get(kind, kind)
        rows = [
            {
                "kind": html.escape(label),
                "severity": "错误" if row["severity"] == "error" else "警告",
                "grids": display_value(row["grid_codes"] or "—"),
                "community": display_value(row["community_code"]),
                "area": _area_text(row["area_m2"]),
                "message": f'<div class="wangge-problem-message">'
                f"{html.escape(str(row['message']))}</div>",
            }
            for _, row in subset.iterrows()
        ]
        # one feature per point: Leaflet cannot bind tooltips to a MultiPoint's group
        props: list[dict[str, Any]] = []
        shapes: list[Any] = []
        for row, geom in zip(rows, subset.geometry, strict=True):
            pieces = list(geom.geoms) if geom.geom_type == "MultiPoint" else [geom]
            props.extend(row for _ in pieces)
            shapes.extend(pieces)
        css = f"{PROBLEM_CLASS} {PROBLEM_CLASS}-{kind}"

        def style_function(
            _f: dict[str, Any], style: ProblemStyle = style, css: str = css
        ) -> dict[str, Any]:
            out: dict[str, Any] = {
                "className": css,
                "color": style.colour,
                "weight": style.weight,
                "fillColor": style.colour,
                "fillOpacity": style.fill_opacity,
            }
            if style.dash:
                out["dashArray"] = style.dash
            return out

        folium.GeoJson(
            feature_collection(subset, props, shapes),
            name=f"{label}（{len(subset)}）",
            style_function=style_function,
            highlight_function=lambda _f: {"weight": 4, "fillOpacity": 0.85},
            marker=folium.CircleMarker(
                radius=MARKER_RADIUS,
                color="#ffffff",
                weight=1.5,
                fill_color=style.colour,
                fill_opacity=0.95,
                class_name=css,
            ),
            tooltip=folium.GeoJsonTooltip(
                fields=["kind", "severity", "grids", "community", "area"],
                aliases=["问题", "级别", "网格", "社区", "面积 m²"],
                localize=True,
            ),
            popup=folium.GeoJsonPopup(
                fields=["message"], labels=False, max_width=380, min_width=300
            ),
        ).add_to(m)
        drawn[kind] = len(subset)
    return drawn


def _add_legend(m: folium.Map, drawn: dict[str, int]) -> None:
    rows = [
        f'<div><span class="wangge-swatch" style="border-color:{COMMUNITY_COLOUR};'
        f'border-style:dashed"></span>{COMMUNITY_LAYER}</div>',
        '<div><span class="wangge-swatch" style="border-color:#3b3b3b;background:#fff">'
        "</span>网格边界</div>",
    ]
    for kind, count in drawn.items():
        style = PROBLEM_STYLES.get(kind, ProblemStyle("#000000"))
        point = " wangge-swatch-point" if kind in POINT_KINDS else ""
        dash = "dashed" if style.dash else "solid"
        background = style.colour if style.fill_opacity >= 0.3 else "transparent"
        rows.append(
            f'<div><span class="wangge-swatch{point}" style="border-color:{style.colour};'
            f'border-style:{dash};background:{background}"></span>'
            f"{html.escape(KIND_LABELS.get(kind, kind))}　{count}</div>"
        )
    if not drawn:
        rows.append("<div>未发现问题</div>")
    box = (
        f'<div class="{LEGEND_CLASS}"><div class="wangge-legend-title">图例</div>'
        + "".join(rows)
        + "</div>"
    )
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(_CSS), name="wangge_topology_css")
    root.html.add_child(Element(box), name="wangge_topology_legend")


def topology_map(
    grids: gpd.GeoDataFrame,
    problems: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    settings: Settings | None = None,
    title: str = DEFAULT_TITLE,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
) -> folium.Map:
    """Build the topology-check map, ready to save and serve offline.

    Parameters
    ----------
    grids
        The grids checked, (Multi)Polygons in any CRS (drawn in EPSG:4326), with
        ``code`` and optionally ``name``, ``community_name``, ``community_code`` and
        ``households`` (shown in the tooltip).  Grids without a code are labelled
        ``#<row>`` like the check names them.
    problems
        ``TopologyReport.problems``: columns ``kind``, ``severity``,
        ``community_code``, ``grid_codes``, ``area_m2``, ``message``, geometry.
        Problems without a geometry are not drawn (the table has them).
    communities
        Community boundaries (``code``, optionally ``name``) drawn as dashed outlines
        (layer 社区边界), or None.
    settings
        Supplies ``tile_url`` and ``tile_attribution``; default :func:`get_settings`.
    title
        Text of the title box.
    vendor_url, static_url
        Where ``maps/node_modules`` and ``maps/static`` are reachable from the page:
        the app's paths by default; for a file opened from disk, their absolute paths
        (``maps.assets.VENDOR_DIR.as_posix()``, ...).

    Returns
    -------
    folium.Map
        The map, already localized; write it with :func:`maps.assets.render_offline`.

    Raises
    ------
    ValueError
        If a frame lacks a required column, or there is nothing to draw.
    """
    if settings is None:
        from gis.settings import get_settings

        settings = get_settings()
    grids = prepare_frame(grids, [], "grids")
    problems = prepare_frame(
        problems,
        ["kind", "severity", "community_code", "grid_codes", "area_m2", "message"],
        "problems",
    )
    communities = prepare_frame(communities, [], "communities")
    if grids.empty and problems.empty:
        raise ValueError("nothing to draw: no grid and no problem has a geometry")
    bounds = [f.total_bounds for f in (grids, problems) if not f.empty]
    m = base_map(
        (
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        ),
        settings,
        zoom_start=15,
        vendor_url=vendor_url,
    )
    if communities is not None and not communities.empty:
        _add_communities(m, communities)
    if not grids.empty:
        _add_grids(m, grids)
    drawn = _add_problems(m, problems)

    errors = int((problems["severity"] == "error").sum())
    warnings = int((problems["severity"] == "warning").sum())
    counts = " · ".join(f"{KIND_LABELS[k]} {drawn[k]}" for k in KINDS if drawn.get(k))
    subtitle = f"网格 {len(grids)} 个 · 错误 {errors} · 警告 {warnings}"
    add_title(m, title, subtitle + (f"（{counts}）" if counts else "（未发现问题）"))
    _add_legend(m, drawn)

    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    localize(m, vendor_url, static_url)
    return m
