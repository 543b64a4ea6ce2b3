"""The live picture for the command centre's wall screen (态势一张图), in Chinese.

One page shows what is happening now: open incidents coloured by state, incident heat
on H3 cells, Gi* hotspots, hazard areas, shelters with their occupancy (those inside a
hazard area marked unusable), grid workers' last positions, the grids a hazard touches
with each vulnerable resident to check on and their way to a safe shelter, and a panel
counting the open incidents by state.  A small script opens ``EventSource(stream_url)``
and adds, moves, recolours or removes incident markers as the server pushes changes
(server-sent events fed by PostgreSQL ``LISTEN``), without reloading the page; a
``bulk`` event (a load of many incidents) or a reconnection makes it fetch the whole
open list again from ``incidents_url``.

Every script and stylesheet is served locally (:mod:`maps.assets`); with no basemap
tile reachable every layer still draws.

Stable hooks for tests and styling: incident markers are SVG paths with class
``wangge-incident`` and attributes ``data-incident-id`` / ``data-state``; heat cells
``wangge-heat``, hotspot cells ``wangge-hotspot``, hazard areas ``wangge-hazard``,
shelters ``wangge-shelter`` (``wangge-shelter-unusable`` inside a hazard), workers
``wangge-worker``, affected grids ``wangge-affected-grid``, residents to check on
``wangge-checkon`` and their routes ``wangge-checkon-route``; the state panel is
``#wangge-live-panel`` with one ``[data-state=...]`` count per state;
``window.wanggeLive`` holds ``markers`` (id → marker), ``received`` (events handled)
and ``connected``.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

import branca.colormap as cm
import folium
import numpy as np
import pandas as pd
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.template import Template

import shapely
from shapely import LineString

from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.district import (
    SHELTER_CLASSES,
    PointLabels,
    add_title,
    base_map,
    display_value,
    feature_collection,
)
from maps.overview import tile_url
from maps.vector import MvtLayer

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.settings import Settings

TITLE = "网格化管理 · 态势一张图"

#: Incident state -> (Chinese name, marker colour).  Finished states are not drawn.
STATE_STYLES: dict[str, tuple[str, str]] = {
    "reported": ("待立案", "#e31a1c"),
    "registered": ("已立案", "#fd8d3c"),
    "dispatched": ("已派遣", "#fecc5c"),
    "in_progress": ("处置中", "#2c7fb8"),
    "resolved": ("已处置待核查", "#41b6c4"),
    "verified": ("已核查", "#7fcdbb"),
    "returned": ("退回", "#c51b8a"),
    "escalated": ("督办", "#7a0177"),
    "closed": ("已结案", "#999999"),
    "rated": ("已评价", "#999999"),
    "rejected": ("不予立案", "#999999"),
}
FINISHED_STATES = ("closed", "rated", "rejected")
OPEN_STATES = tuple(s for s in STATE_STYLES if s not in FINISHED_STATES)

HAZARD_KINDS: dict[str, tuple[str, str]] = {
    "typhoon": ("台风", "#6a3d9a"),
    "flood": ("洪涝", "#1f78b4"),
    "fire": ("火灾", "#e31a1c"),
    "gas_leak": ("燃气泄漏", "#ff7f00"),
}

INCIDENT_LAYER = "未结事件（实时）"
HEAT_LAYER = "事件热力（H3）"
HOTSPOT_LAYER = "热点（Gi*）"
HAZARD_LAYER = "灾害影响区"
SHELTER_LAYER = "避难场所（容量/人数）"
WORKER_LAYER = "网格员位置"
AFFECTED_LAYER = "受影响网格"
CHECK_ON_LAYER = "重点人员走访（安全避难场所与路线）"
GRID_LAYER = "网格"

INCIDENT_CLASS = "wangge-incident"
HEAT_CLASS = "wangge-heat"
HOTSPOT_CLASS = "wangge-hotspot"
HAZARD_CLASS = "wangge-hazard"
SHELTER_CLASS = "wangge-shelter"
WORKER_CLASS = "wangge-worker"
AFFECTED_CLASS = "wangge-affected-grid"
CHECK_ON_CLASS = "wangge-checkon"
ROUTE_CLASS = "wangge-checkon-route"
CHECK_ON_COUNT_CLASS = "wangge-checkon-count"

GROUP_NAMES = {
    "elderly_alone": "独居老人",
    "disabled": "残疾人",
    "mobility_impaired": "行动不便",
    "children": "儿童",
}

_CSS = """
<style>
#wangge-live-panel {
  position: absolute; bottom: 56px; left: 10px; z-index: 1000; min-width: 190px;
  background: rgba(20, 24, 33, 0.88); color: #f0f0f0; border-radius: 6px;
  padding: 8px 12px; font: 13px/1.5 "PingFang SC", "Microsoft YaHei",
  "Noto Sans CJK SC", sans-serif; box-shadow: 0 1px 6px rgba(0, 0, 0, 0.4);
}
#wangge-live-panel h4 { margin: 0 0 4px; font-size: 14px; font-weight: 600; }
#wangge-live-panel .wg-row { display: flex; justify-content: space-between; gap: 12px; }
#wangge-live-panel .dot { display: inline-block; width: 9px; height: 9px;
  border-radius: 50%; margin-right: 6px; }
#wangge-live-panel .status { margin-top: 4px; font-size: 11px; color: #bbb; }
.leaflet-marker-icon.wangge-checkon-count { background: none; border: none; }
.wangge-checkon-count span {
  position: absolute; transform: translate(-50%, -50%); white-space: nowrap;
  font: 600 12px/1.4 sans-serif; color: #fff; background: rgba(197, 27, 138, 0.85);
  border-radius: 9px; padding: 1px 7px; pointer-events: none;
}
</style>
"""


class LiveIncidents(Layer):
    """Open incidents drawn by a script that keeps them current from a server-sent stream.

    Parameters
    ----------
    incidents
        JSON-ready records: id, state, category, lon, lat, reported_at, grid.
    stream_url
        The ``text/event-stream`` of incident changes (events ``incident``, ``bulk``,
        ``ready``).
    incidents_url
        Where the whole open list is fetched again after a ``bulk`` event.
    snapshot_url
        The live snapshot (``/api/live``) whose ``checkon_progress`` the panel shows,
        read again on every ``checkon`` event (a worker's mark); None: no progress shown.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.featureGroup();
        (function (layer) {
            var STYLES = {{ this.styles|tojson }};
            var FINISHED = {{ this.finished|tojson }};
            var live = window.wanggeLive = {markers: {}, received: 0, connected: false};
            function tip(inc) {
                var s = STYLES[inc.state] || [inc.state, "#666"];
                var div = document.createElement("div");
                div.textContent = "事件 " + inc.id + " · " + (inc.category || "") +
                    " · " + s[0] + (inc.grid ? " · 网格 " + inc.grid : "");
                return div.innerHTML;
            }
            function tag(m, inc) {
                var el = m.getElement && m.getElement();
                if (el) {
                    el.setAttribute("data-incident-id", String(inc.id));
                    el.setAttribute("data-state", inc.state);
                }
            }
            function counts() {
                var n = {};
                Object.keys(live.markers).forEach(function (id) {
                    var st = live.markers[id].wanggeState;
                    n[st] = (n[st] || 0) + 1;
                });
                var total = 0;
                document.querySelectorAll("#wangge-live-panel [data-state]").forEach(
                    function (el) {
                        var v = n[el.getAttribute("data-state")] || 0;
                        total += v;
                        el.textContent = String(v);
                    });
                var t = document.getElementById("wangge-live-total");
                if (t) { t.textContent = String(total); }
            }
            function draw(inc, recount) {
                var id = String(inc.id);
                var m = live.markers[id];
                if (FINISHED.indexOf(inc.state) >= 0) {
                    if (m) { layer.removeLayer(m); delete live.markers[id]; }
                } else {
                    var colour = (STYLES[inc.state] || [inc.state, "#666"])[1];
                    if (!m) {
                        m = L.circleMarker([inc.lat, inc.lon], {
                            radius: 6, color: "#ffffff", weight: 1.5, fillColor: colour,
                            fillOpacity: 0.95, className: {{ this.class_name|tojson }}
                        });
                        layer.addLayer(m);
                        live.markers[id] = m;
                    } else {
                        m.setLatLng([inc.lat, inc.lon]);
                        m.setStyle({fillColor: colour});
                    }
                    m.wanggeState = inc.state;
                    m.bindTooltip(tip(inc));
                    tag(m, inc);
                }
                if (recount !== false) { counts(); }
            }
            function redraw(list) {
                Object.keys(live.markers).forEach(function (id) {
                    layer.removeLayer(live.markers[id]);
                });
                live.markers = {};
                list.forEach(function (inc) { draw(inc, false); });
                counts();
            }
            layer.on("add", function () {
                Object.keys(live.markers).forEach(function (id) {
                    var m = live.markers[id];
                    tag(m, {id: id, state: m.wanggeState});
                });
            });
            live.draw = draw;
            {{ this.get_name() }}.wanggeStart = function () {
                redraw({{ this.incidents|tojson }});
                var status = document.getElementById("wangge-live-status");
                function say(text) { if (status) { status.textContent = text; } }
                function now() {  // Beijing time, whatever zone the screen's computer is in
                    return new Date().toLocaleTimeString(
                        "zh-CN", {timeZone: "Asia/Shanghai", hour12: false});
                }
                if (!window.EventSource) { say("浏览器不支持实时推送"); return; }
                var source = new EventSource({{ this.stream_url|tojson }});
                live.source = source;
                var readies = 0;
                function refetch(text) {
                    fetch({{ this.incidents_url|tojson }}).then(function (r) {
                        return r.json();
                    }).then(function (list) {
                        redraw(list);
                        live.received += 1;
                        say(text + " " + now());
                    });
                }
                source.addEventListener("ready", function () {
                    live.connected = true;
                    readies += 1;
                    say("实时连接正常");
                    // after a reconnect, changes made while away are fetched in one go
                    if (readies > 1) { refetch("重新连接并同步"); }
                });
                source.addEventListener("incident", function (e) {
                    var inc = JSON.parse(e.data);
                    draw(inc);
                    live.received += 1;
                    say("最近更新 " + now() +
                        " · 事件 " + inc.id);
                });
                source.addEventListener("bulk", function () { refetch("批量更新"); });
                // check-on progress per grid (走访进度): read again on every worker's mark
                var progress = document.getElementById("wangge-checkon-progress");
                function showProgress() {
                    if (!progress || !{{ this.snapshot_url|tojson }}) { return; }
                    fetch({{ this.snapshot_url|tojson }}).then(function (r) {
                        return r.json();
                    }).then(function (snap) {
                        var rows = snap.checkon_progress || [];
                        progress.textContent = "";
                        if (!rows.length) { return; }
                        var head = document.createElement("h4");
                        head.textContent = "走访进度";
                        progress.appendChild(head);
                        rows.forEach(function (g) {
                            var row = document.createElement("div");
                            row.className = "wg-row";
                            row.setAttribute("data-grid", g.grid);
                            row.textContent = "网格 " + g.grid + "：已联系 " + g.reached + " / " +
                                g.total + "，不在家 " + g.not_home + "，需帮助 " + g.needs_help;
                            progress.appendChild(row);
                        });
                    });
                }
                live.showProgress = showProgress;
                showProgress();
                source.addEventListener("checkon", function () {
                    live.received += 1;
                    showProgress();
                });
                source.onerror = function () {
                    live.connected = false;
                    say("实时连接中断，正在重连…");
                };
            };
        })({{ this.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        incidents: list[dict[str, Any]],
        *,
        stream_url: str,
        incidents_url: str,
        snapshot_url: str | None = None,
        name: str = INCIDENT_LAYER,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "LiveIncidents"
        self.incidents = incidents
        self.stream_url = stream_url
        self.incidents_url = incidents_url
        self.snapshot_url = snapshot_url
        self.styles = {k: list(v) for k, v in STATE_STYLES.items()}
        self.finished = list(FINISHED_STATES)
        self.class_name = INCIDENT_CLASS


class _Start(MacroElement):
    """Starts the live layer once every layer is on the map (rendered last)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer_name }}.wanggeStart();
        {% endmacro %}
        """
    )

    def __init__(self, layer_name: str) -> None:
        super().__init__()
        self._name = "LiveStart"
        self.layer_name = layer_name


def incident_records(incidents: pd.DataFrame) -> list[dict[str, Any]]:
    """Open incidents as the JSON records the page draws (no description, no people).

    Parameters
    ----------
    incidents
        id, state, category_name (or category_code), lon, lat, reported_at,
        grid_code (optional).
    """
    if incidents is None or len(incidents) == 0:
        return []
    name = "category_name" if "category_name" in incidents else "category_code"
    category = incidents[name]
    grid = incidents["grid_code"] if "grid_code" in incidents else pd.Series(None, incidents.index)
    reported = pd.to_datetime(incidents["reported_at"], utc=True)
    out = []
    for i, state, cat, lon, lat, at, g in zip(
        incidents["id"],
        incidents["state"],
        category,
        incidents["lon"],
        incidents["lat"],
        reported,
        grid,
        strict=True,
    ):
        out.append(
            {
                "id": int(i),
                "state": str(state),
                "category": None if pd.isna(cat) else str(cat),
                "lon": round(float(lon), 6),
                "lat": round(float(lat), 6),
                "reported_at": None if pd.isna(at) else at.isoformat(),
                "grid": None if g is None or pd.isna(g) else str(g),
            }
        )
    return out


def _panel(counts: dict[str, int]) -> str:
    rows = []
    for state in OPEN_STATES:
        name, colour = STATE_STYLES[state]
        rows.append(
            f'<div class="wg-row"><span><span class="dot" style="background:{colour}"></span>'
            f'{html.escape(name)}</span><b data-state="{state}">{counts.get(state, 0)}</b></div>'
        )
    total = sum(counts.get(s, 0) for s in OPEN_STATES)
    return (
        '<div id="wangge-live-panel"><h4>未结事件 <b id="wangge-live-total">'
        f"{total}</b></h4>{''.join(rows)}"
        '<div class="status" id="wangge-live-status">正在连接…</div>'
        '<div id="wangge-checkon-progress" aria-live="polite"></div></div>'
    )


def _add_grids(m: folium.Map, grids: gpd.GeoDataFrame) -> None:
    props = [
        {"code": display_value(c), "name": display_value(n)}
        for c, n in zip(grids["code"], grids["name"], strict=True)
    ]
    folium.GeoJson(
        feature_collection(grids, props),
        name=GRID_LAYER,
        style_function=lambda _f: {
            "className": "wangge-grid",
            "color": "#555555",
            "weight": 1,
            "fill": False,
        },
        tooltip=folium.GeoJsonTooltip(fields=["code", "name"], aliases=["网格编码", "名称"]),
    ).add_to(m)


def _add_heat(m: folium.Map, heat: pd.DataFrame) -> None:
    from grids.locate import cell_polygons

    heat = heat[heat["count"] > 0]
    if heat.empty:
        return
    cells = heat["h3_cell"].to_numpy(dtype=np.int64)
    polygons = cell_polygons(cells)
    counts = heat["count"].to_numpy(dtype=np.float64)
    colormap = cm.LinearColormap(
        ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"],
        vmin=0,
        vmax=max(float(counts.max()), 1.0),
        caption="事件数（每个H3网格）",
    )
    props = [{"count": int(c), "fill": colormap(c)[:7]} for c in counts]
    frame = pd.DataFrame({"count": counts})
    folium.GeoJson(
        feature_collection(frame, props, polygons),
        name=HEAT_LAYER,
        style_function=lambda f: {
            "className": HEAT_CLASS,
            "color": f["properties"]["fill"],
            "weight": 0.5,
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.55,
        },
        tooltip=folium.GeoJsonTooltip(fields=["count"], aliases=["事件数"]),
    ).add_to(m)
    colormap.add_to(m)


def _add_hotspots(m: folium.Map, hotspots: pd.DataFrame) -> None:
    from grids.locate import cell_polygons

    hot = hotspots[hotspots["significant"] == "hot"]
    polygons = cell_polygons(hot["h3_cell"].to_numpy(dtype=np.int64))
    props = [
        {"z": round(float(z), 2), "q": f"{float(q):.2g}", "count": int(c)}
        for z, q, c in zip(hot["gi_z"], hot["q_value"], hot["count"], strict=True)
    ]
    folium.GeoJson(
        feature_collection(hot, props, polygons),
        name=f"{HOTSPOT_LAYER} {len(hot)} 处",
        style_function=lambda _f: {
            "className": HOTSPOT_CLASS,
            "color": "#b10026",
            "weight": 2.5,
            "fill": False,
            "dashArray": "4 3",
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["count", "z", "q"], aliases=["事件数", "Gi* z 值", "q 值（FDR）"]
        )
        if len(hot)
        else None,
    ).add_to(m)


def _local(at: Any) -> str:
    return pd.Timestamp(at).tz_convert("Asia/Shanghai").strftime("%m-%d %H:%M")


def _add_hazards(m: folium.Map, hazards: gpd.GeoDataFrame) -> None:
    props = []
    for kind, name, severity, start, end in zip(
        hazards["kind"],
        hazards["name"],
        hazards["severity"],
        hazards["valid_from"],
        hazards["valid_to"],
        strict=True,
    ):
        kind_name, colour = HAZARD_KINDS.get(kind, (kind, "#e31a1c"))
        props.append(
            {
                "name": display_value(name),
                "kind": display_value(kind_name),
                "severity": f"{int(severity)} 级",
                "from": _local(start),
                "to": "—" if pd.isna(end) else _local(end),
                "colour": colour,
            }
        )
    folium.GeoJson(
        feature_collection(hazards, props),
        name=HAZARD_LAYER,
        style_function=lambda f: {
            "className": HAZARD_CLASS,
            "color": f["properties"]["colour"],
            "weight": 2,
            "fillColor": f["properties"]["colour"],
            "fillOpacity": 0.22,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "kind", "severity", "from", "to"],
            aliases=["名称", "类型", "等级", "开始", "结束"],
        ),
    ).add_to(m)


def _add_shelters(
    m: folium.Map, shelters: gpd.GeoDataFrame, hazards: gpd.GeoDataFrame | None
) -> None:
    points = np.asarray(shelters.geometry.array, dtype=object)
    inside = np.zeros(len(points), dtype=bool)
    if hazards is not None and not hazards.empty:
        area = shapely.union_all(np.asarray(hazards.geometry.array, dtype=object))
        inside = shapely.intersects(area, points)
    is_open = shelters["is_open"].fillna(False).to_numpy(dtype=bool)
    props = []
    for row, unsafe, open_ in zip(
        shelters[["name", "shelter_class", "capacity", "occupancy"]].itertuples(index=False),
        inside,
        is_open,
        strict=True,
    ):
        class_name, radius = SHELTER_CLASSES.get(row.shelter_class, (row.shelter_class, 8))
        capacity = int(row.capacity or 0)
        occupancy = int(row.occupancy or 0)
        share = occupancy / capacity if capacity else 0.0
        usable = bool(open_ and not unsafe)
        status = "可用" if usable else ("位于灾害区，不可用" if unsafe else "未开放")
        colour = "#9e9e9e" if not usable else "#00843d" if share < 0.7 else "#fdae61"
        if usable and share >= 0.95:
            colour = "#d7191c"
        props.append(
            {
                "name": display_value(row.name),
                "class": display_value(class_name),
                "capacity": capacity,
                "occupancy": f"{occupancy} / {capacity}（{share:.0%}）",
                "status": status,
                "radius": radius,
                "colour": colour,
                "css": SHELTER_CLASS + ("" if usable else f" {SHELTER_CLASS}-unusable"),
            }
        )
    folium.GeoJson(
        feature_collection(shelters, props),
        name=SHELTER_LAYER,
        marker=folium.CircleMarker(
            radius=8, color="#053d1d", weight=2, fill=True, fill_opacity=0.9
        ),
        style_function=lambda f: {
            "radius": f["properties"]["radius"],
            "fillColor": f["properties"]["colour"],
            "className": f["properties"]["css"],
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "class", "occupancy", "status"],
            aliases=["避难场所", "类别", "人数/容量", "状态"],
        ),
    ).add_to(m)


def _add_affected(m: folium.Map, grids: gpd.GeoDataFrame, affected: pd.DataFrame) -> None:
    chosen = grids[grids["code"].isin(affected["code"])]
    if chosen.empty:
        return
    rows = affected.drop_duplicates("code").set_index("code")
    props = []
    for code in chosen["code"]:
        row = rows.loc[code]
        props.append(
            {
                "code": display_value(code),
                "share": f"{float(row['area_share']):.0%}",
                "households": int(row["households"]),
                "vulnerable": int(
                    row["elderly_alone"] + row["disabled"] + row["mobility_impaired"]
                ),
                "check_on": int(row.get("check_on", 0)),
            }
        )
    folium.GeoJson(
        feature_collection(chosen, props),
        name=f"{AFFECTED_LAYER} {len(chosen)} 个",
        style_function=lambda _f: {
            "className": AFFECTED_CLASS,
            "color": "#d7301f",
            "weight": 3,
            "fill": False,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["code", "share", "households", "vulnerable", "check_on"],
            aliases=["网格", "受影响面积", "受影响户数", "重点人员", "需走访"],
        ),
    ).add_to(m)


def _add_check_on(m: folium.Map, check_on: pd.DataFrame) -> None:
    group = folium.FeatureGroup(name=f"{CHECK_ON_LAYER} {len(check_on)} 人", show=True)
    props = []
    for row in check_on.itertuples(index=False):
        groups = "、".join(GROUP_NAMES.get(g, g) for g in str(row.groups).split(",") if g)
        if pd.isna(row.shelter_id):
            where = "无可安全到达的避难场所，需专人转移"
        else:
            where = f"{row.shelter_name}，步行约 {float(row.walk_s) / 60:.0f} 分钟"
        props.append(
            {
                "who": display_value(f"网格 {row.grid_code} · 居民 {row.resident_id} · {groups}"),
                "where": display_value(where),
                "fill": "#c51b8a" if not pd.isna(row.shelter_id) else "#000000",
            }
        )
    points = shapely.points(
        check_on["lon"].to_numpy(dtype=float), check_on["lat"].to_numpy(dtype=float)
    )
    folium.GeoJson(
        feature_collection(check_on, props, points),
        control=False,
        marker=folium.CircleMarker(
            radius=5,
            color="#ffffff",
            weight=1.5,
            fill=True,
            fill_opacity=1,
            class_name=CHECK_ON_CLASS,
        ),
        style_function=lambda f: {"fillColor": f["properties"]["fill"]},
        tooltip=folium.GeoJsonTooltip(fields=["who", "where"], labels=False),
    ).add_to(group)
    routes = (
        [r for r in check_on["route"] if isinstance(r, LineString)] if "route" in check_on else []
    )
    if routes:
        folium.GeoJson(
            feature_collection(pd.DataFrame(index=range(len(routes))), [{}] * len(routes), routes),
            control=False,
            style_function=lambda _f: {
                "className": ROUTE_CLASS,
                "color": "#1f6feb",
                "weight": 2,
                "opacity": 0.6,
            },
        ).add_to(group)
    group.add_to(m)


#: Below this zoom the check-on layer is a count per affected grid; from it, each resident's
#: building and their route to safety (a route means something only at street level).
CHECK_ON_ZOOM = 16


def _add_grid_tiles(m: folium.Map, tiles: str) -> None:
    MvtLayer(
        tile_url(tiles, "grids"),
        GRID_LAYER,
        {"grids": "{className: 'wangge-grid', color: '#555555', weight: 1, fill: false}"},
        tooltip={"grids": [("code", "网格编码"), ("name", "名称")]},
    ).add_to(m)


def _add_heat_tiles(m: folium.Map, tiles: str) -> None:
    """Open incidents per H3 cell (the resolution by zoom), up to street zoom."""
    MvtLayer(
        tile_url(tiles, "incidents"),
        HEAT_LAYER,
        {
            "incidents": "function (p) { var n = p.incidents || 0; var c = n >= 20 ? "
            "'#bd0026' : n >= 10 ? '#f03b20' : n >= 5 ? '#fd8d3c' : n >= 2 ? '#fecc5c' : "
            "'#ffffb2'; return {className: " + json.dumps(HEAT_CLASS) + ", color: c, "
            "weight: 0.5, fill: true, fillColor: c, fillOpacity: 0.55}; }"
        },
        tooltip={"incidents": [("incidents", "未结事件数")]},
        max_zoom=CHECK_ON_ZOOM - 2,
    ).add_to(m)


def _add_check_on_tiles(
    m: folium.Map,
    grids: gpd.GeoDataFrame,
    affected: pd.DataFrame | None,
    count: int,
    tiles: str,
) -> None:
    """Whom to check on: a count per affected grid when zoomed out, residents and routes in."""
    group = folium.FeatureGroup(name=f"{CHECK_ON_LAYER} {count} 人", show=True)
    if affected is not None and not affected.empty:
        rows = affected.drop_duplicates("code").set_index("code")
        chosen = grids[grids["code"].isin(rows.index)]
        points = shapely.point_on_surface(np.asarray(chosen.geometry.array, dtype=object))
        labels = [
            {"label": f"需走访 {int(rows.loc[code, 'check_on'])} 人"}
            for code in chosen["code"]
            if int(rows.loc[code, "check_on"]) > 0
        ]
        keep = np.asarray([int(rows.loc[c, "check_on"]) > 0 for c in chosen["code"]], bool)
        if keep.any():
            PointLabels(
                feature_collection(chosen[keep], labels, points[keep]),
                name="",
                class_name=CHECK_ON_COUNT_CLASS,
                min_zoom=0,
                max_zoom=CHECK_ON_ZOOM - 1,
            ).add_to(group)
    group.add_to(m)
    MvtLayer(
        tile_url(tiles, "checkon"),
        f"{CHECK_ON_LAYER}（街区级）",
        {
            "checkon": "function (p) { return {className: " + json.dumps(CHECK_ON_CLASS) + ", "
            "radius: 5, color: '#ffffff', weight: 1.5, fill: true, fillOpacity: 1, "
            "fillColor: p.reachable ? '#c51b8a' : '#000000'}; }",
            "checkon_routes": "{className: " + json.dumps(ROUTE_CLASS) + ", color: '#1f6feb', "
            "weight: 2, opacity: 0.6}",
        },
        tooltip={
            "checkon": [
                ("grid", "网格"),
                ("resident", "居民"),
                ("groups", "类别"),
                ("where", "去向"),
            ]
        },
        min_zoom=CHECK_ON_ZOOM,
    ).add_to(m)


def _add_workers(m: folium.Map, workers: gpd.GeoDataFrame) -> None:
    props = []
    for name, at, grids in zip(workers["name"], workers["at"], workers["grids"], strict=True):
        props.append(
            {"name": display_value(name), "at": _local(at), "grids": display_value(grids or "—")}
        )
    folium.GeoJson(
        feature_collection(workers, props),
        name=WORKER_LAYER,
        marker=folium.CircleMarker(
            radius=7,
            color="#ffffff",
            weight=2,
            fill_color="#1f4e9e",
            fill_opacity=1,
            class_name=WORKER_CLASS,
        ),
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "grids", "at"], aliases=["网格员", "负责网格", "最后定位"]
        ),
    ).add_to(m)


def live_map(
    grids: gpd.GeoDataFrame,
    incidents: pd.DataFrame,
    *,
    heat: pd.DataFrame | None = None,
    hotspots: pd.DataFrame | None = None,
    hazards: gpd.GeoDataFrame | None = None,
    shelters: gpd.GeoDataFrame | None = None,
    workers: gpd.GeoDataFrame | None = None,
    affected: pd.DataFrame | None = None,
    check_on: pd.DataFrame | None = None,
    stream_url: str = "/api/live/stream",
    incidents_url: str = "/api/live/incidents",
    snapshot_url: str | None = None,
    tiles_base: str | None = None,
    settings: Settings | None = None,
    title: str = TITLE,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
) -> folium.Map:
    """Build the wall-screen map (态势一张图), ready to render offline.

    Parameters
    ----------
    grids
        Current grids (code, name, polygons, EPSG:4326); frame the view.  Must not be
        empty.
    incidents
        Open incidents: id, state, category_name, lon, lat, reported_at, grid_code.
    heat
        ``h3_cell``, ``count`` (e.g. incidents of the last 7 days per cell).
    hotspots
        ``h3_cell``, ``count``, ``gi_z``, ``q_value``, ``significant`` (the frame of
        :class:`analysis.hotspots.Hotspots`); hot cells are outlined.
    hazards
        Hazard areas in force: kind, name, severity, valid_from, valid_to, polygons.
    shelters
        name, shelter_class, capacity, occupancy, is_open, points; a shelter inside a
        hazard area is drawn grey and marked 不可用.
    workers
        Latest worker positions: name, at, grids, points.
    affected
        Grids a hazard touches (the ``grids`` frame of
        :class:`analysis.hazard.HazardImpact` plus ``check_on`` counts): outlined.
    check_on
        Check-on rows (:attr:`analysis.hazard.HazardImpact.check_on`): each vulnerable
        resident's building (ids only, no names) and the route to the safe shelter.
    stream_url, incidents_url
        The server-sent event stream and the open-incident list the script reads.
    snapshot_url
        The live snapshot whose check-on progress per grid (走访进度) the panel shows and
        reads again on each worker's mark (``checkon`` event); None: not shown.
    tiles_base
        Where the server answers vector tiles (on the page's own host: the browser's
        session cookie signs the tile requests in, the URLs carry no key): the grids, the
        incident heat and the check-on layer then come as tiles (check-on residents and
        routes from zoom :data:`CHECK_ON_ZOOM`, a count per affected grid below it);
        None: every layer in the page.
    settings
        Basemap tiles; default :func:`gis.settings.get_settings`.

    Returns
    -------
    folium.Map
        Localized (local scripts); render with :func:`maps.assets.render_offline`.

    Raises
    ------
    ValueError
        If ``grids`` is empty.
    """
    if settings is None:
        from gis.settings import get_settings

        settings = get_settings()
    if grids is None or grids.empty:
        raise ValueError("grids: at least one grid is needed to frame the live map")
    m = base_map(grids.total_bounds, settings, zoom_start=14)
    if tiles_base is not None:
        _add_grid_tiles(m, tiles_base)
        _add_heat_tiles(m, tiles_base)
    else:
        _add_grids(m, grids)
        if heat is not None and not heat.empty:
            _add_heat(m, heat)
    if hotspots is not None:
        _add_hotspots(m, hotspots)
    if hazards is not None and not hazards.empty:
        _add_hazards(m, hazards)
    if shelters is not None and not shelters.empty:
        _add_shelters(m, shelters, hazards)
    if affected is not None and not affected.empty:
        _add_affected(m, grids, affected)
    if check_on is not None and not check_on.empty:
        if tiles_base is not None:
            _add_check_on_tiles(m, grids, affected, len(check_on), tiles_base)
        else:
            _add_check_on(m, check_on)
    if workers is not None and not workers.empty:
        _add_workers(m, workers)
    records = incident_records(incidents)
    layer = LiveIncidents(
        records, stream_url=stream_url, incidents_url=incidents_url, snapshot_url=snapshot_url
    )
    layer.add_to(m)

    counts: dict[str, int] = {}
    for r in records:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    parts = [f"网格 {len(grids)} 个", f"未结事件 {len(records)} 件"]
    if hazards is not None and not hazards.empty:
        parts.append(f"灾害影响区 {len(hazards)} 处")
    add_title(m, title, " · ".join(parts))
    root = m.get_root()
    assert isinstance(root, Figure)
    root.header.add_child(Element(_CSS), name="wangge_live_css")
    root.html.add_child(Element(_panel(counts)), name="wangge_live_panel")
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    m.add_child(_Start(layer.get_name()), name="wangge_live_start")
    localize(m, vendor_url, static_url)
    return m
