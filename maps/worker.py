"""The grid worker's tablet page (网格员工作台): a map of my grids and tasks beside my task list.

The page is built for a 1280×800 tablet held landscape: the map on the left, a
400-pixel column of tasks on the right, no horizontal scrolling.  It carries no data
of its own (it is the same for every worker) and no credential: the worker signs in at
``/login``, and its script calls the worker's JSON API on the same host, which the
browser's session cookie signs in (each change also sends the session's CSRF token as
``X-CSRF-Token``; a session that ended sends the tablet back to ``/login``):

* ``GET /api/worker/grids`` — my grids, drawn and fitted;
* ``GET /api/worker/buildings`` — their buildings, those with residents who need care
  (独居老人, 残疾, 行动不便) in orange;
* ``GET /api/worker/tasks`` — my open tasks by deadline, with the walk from where I am
  (the browser's position when it gives one, else my grid's centre);
* ``POST /api/incidents/{id}/actions`` — 接单 (``start``) and 反馈 (``resolve``, with
  the note typed in the card);
* ``POST /api/worker/tasks/{id}/checkin`` — 签到 at the browser's position;
* ``GET /api/worker/route`` — 路线: the walking route drawn on the map.

Like every Wangge map it loads Leaflet and Bootstrap from the app's own copies
(:func:`maps.assets.localize`), so it works on a closed network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import folium
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from gis.settings import Settings, get_settings
from maps.assets import STATIC_URL, VENDOR_URL, localize
from maps.district import base_map

PAGE_TITLE = "网格员工作台"
PANEL_ID = "wangge-panel"
TASK_LIST_ID = "wangge-tasks"
STATUS_ID = "wangge-status"
GRID_CLASS = "wangge-worker-grid"
TASK_CLASS = "wangge-task"
ROUTE_CLASS = "wangge-route"
BUILDING_CLASS = "wangge-worker-building"
YOU_CLASS = "wangge-you"
PANEL_WIDTH_PX = 400
#: Where the map starts when no grid is known yet (the page fits my grids once loaded).
FALLBACK_BOUNDS = (120.10, 30.25, 120.20, 30.32)

_CSS = f"""
<style>
body > .folium-map {{
  position: absolute !important; left: 0; top: 0; bottom: 0;
  width: calc(100% - {PANEL_WIDTH_PX}px) !important; height: 100% !important;
}}
#{PANEL_ID} {{
  position: absolute; right: 0; top: 0; bottom: 0; width: {PANEL_WIDTH_PX}px;
  box-sizing: border-box; overflow-y: auto; overflow-x: hidden; padding: 10px 12px;
  background: #f6f8fa; border-left: 1px solid #d0d7de;
  font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
    sans-serif;
  font-size: 14px;
}}
#{PANEL_ID} h1 {{ font-size: 18px; font-weight: 600; margin: 0 0 4px; }}
#{PANEL_ID} .who {{ color: #57606a; font-size: 13px; margin-bottom: 6px; }}
#{STATUS_ID} {{ min-height: 20px; font-size: 13px; color: #0969da; margin-bottom: 6px;
  overflow-wrap: anywhere; }}
#{STATUS_ID}.error {{ color: #cf222e; }}
.{TASK_CLASS} {{ background: #fff; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 8px 10px; margin-bottom: 8px; overflow-wrap: anywhere; }}
.{TASK_CLASS}.overdue {{ border-left: 5px solid #cf222e; }}
.{TASK_CLASS}.selected {{ box-shadow: 0 0 0 2px #0969da; }}
.{TASK_CLASS} .head {{ display: flex; justify-content: space-between; gap: 6px; }}
.{TASK_CLASS} .cat {{ font-weight: 600; }}
.{TASK_CLASS} .meta {{ color: #57606a; font-size: 12px; margin: 2px 0; }}
.{TASK_CLASS} .desc {{ margin: 4px 0; }}
.{TASK_CLASS} textarea {{ width: 100%; box-sizing: border-box; font-size: 13px;
  margin: 4px 0; resize: vertical; }}
.{TASK_CLASS} .buttons {{ display: flex; flex-wrap: wrap; gap: 6px; }}
.{TASK_CLASS} .buttons button {{ min-width: 64px; min-height: 36px; }}
.{TASK_CLASS} .result {{ font-size: 12px; margin-top: 4px; }}
.badge-p1 {{ background: #cf222e; }} .badge-p2 {{ background: #bc4c00; }}
.badge-p3 {{ background: #9a6700; }} .badge-p4, .badge-p5 {{ background: #57606a; }}
</style>
"""

_PANEL = f"""
<div id="{PANEL_ID}">
  <h1>{PAGE_TITLE}</h1>
  <div class="who" id="wangge-who">我的网格与待办工单</div>
  <div id="{STATUS_ID}" role="status">正在加载…</div>
  <div id="{TASK_LIST_ID}"></div>
</div>
"""


class TabletScript(MacroElement):
    """The page's script, rendered after the map so it can use the map's variable."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
          var CSRF = {{ this.csrf_token|tojson }};
          var statusBox = document.getElementById({{ this.status_id|tojson }});
          var list = document.getElementById({{ this.list_id|tojson }});
          var gridLayer = L.featureGroup().addTo(map);
          var taskLayer = L.featureGroup().addTo(map);
          var buildingLayer = L.featureGroup().addTo(map);
          var routeLayer = L.featureGroup().addTo(map);
          var hereLayer = L.featureGroup().addTo(map);
          var here = null;  // {lon, lat} when the browser gives a position
          var markers = {};

          function say(text, error) {
            statusBox.textContent = text;
            statusBox.className = error ? "error" : "";
          }
          function esc(s) {
            return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g,
              function (c) { return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                                     "'": "&#39;"}[c]; });
          }
          function api(path, options) {
            options = options || {};
            options.credentials = "same-origin";
            options.headers = Object.assign({"X-CSRF-Token": CSRF}, options.headers || {});
            return fetch(path, options).then(function (r) {
              if (r.status === 401) {  // the session ended: sign in again, then come back
                location.assign("/login?next=" + encodeURIComponent(location.pathname));
              }
              return r.json().catch(function () { return {}; }).then(function (body) {
                if (!r.ok) { throw new Error(body.detail || (r.status + " " + r.statusText)); }
                return body;
              });
            });
          }
          function post(path, body) {
            return api(path, {method: "POST", body: JSON.stringify(body),
                              headers: {"Content-Type": "application/json"}});
          }
          function position(timeoutMs) {
            return new Promise(function (resolve) {
              if (!navigator.geolocation) { resolve(null); return; }
              navigator.geolocation.getCurrentPosition(
                function (p) { resolve({lon: p.coords.longitude, lat: p.coords.latitude}); },
                function () { resolve(null); },
                {enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 10000});
            });
          }
          function at(p) { return p ? "lon=" + p.lon + "&lat=" + p.lat : ""; }
          function when(iso) {
            if (!iso) { return "无期限"; }
            var d = new Date(iso);
            return (d.getMonth() + 1) + "月" + d.getDate() + "日 " +
              String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
          }

          function drawGrids(fc) {
            gridLayer.clearLayers();
            L.geoJSON(fc, {
              style: function (f) {
                return {color: f.properties.assignment_role === "primary" ? "#0969da" : "#8250df",
                        weight: 3, fillOpacity: 0.08, className: {{ this.grid_class|tojson }}};
              },
              onEachFeature: function (f, layer) {
                var p = f.properties;
                layer.bindTooltip(esc(p.name) + "（" + esc(p.code) + "）<br>户数 " +
                  p.households + " · 楼栋 " + p.buildings + " · 重点关注人员 " +
                  p.vulnerable_residents);
              }
            }).addTo(gridLayer);
            if (fc.features.length) { map.fitBounds(gridLayer.getBounds(), {padding: [20, 20]}); }
            fc.features.forEach(function (f) {
              api("/api/worker/buildings?grid=" + f.properties.code).then(drawBuildings)
                .catch(function (e) { say("楼栋加载失败：" + e.message, true); });
            });
            var names = fc.features.map(function (f) { return f.properties.name; });
            document.getElementById("wangge-who").textContent =
              "我的网格：" + (names.length ? names.join("、") : "无");
          }

          function drawBuildings(fc) {
            L.geoJSON(fc, {
              style: function (f) {
                var p = f.properties;
                var care = p.living_alone_elderly + p.disabled + p.mobility_impaired;
                return {color: care ? "#bc4c00" : "#6e7781", weight: care ? 2 : 1,
                        fillColor: care ? "#fb8f44" : "#afb8c1", fillOpacity: 0.5,
                        className: {{ this.building_class|tojson }}};
              },
              onEachFeature: function (f, layer) {
                var p = f.properties;
                layer.bindTooltip(esc(p.name || "楼栋 " + p.id) + "<br>户数 " + p.households +
                  " · 独居老人 " + p.living_alone_elderly + " · 残疾 " + p.disabled +
                  " · 行动不便 " + p.mobility_impaired + " · 低收入 " + p.low_income);
              }
            }).addTo(buildingLayer);
            buildingLayer.bringToBack();
            gridLayer.bringToBack();
          }
          function showHere() {
            hereLayer.clearLayers();
            if (here) {
              L.circleMarker([here.lat, here.lon], {
                radius: 8, color: "#fff", weight: 3, fillColor: "#d1242f", fillOpacity: 1,
                className: {{ this.you_class|tojson }}
              }).bindTooltip("我的位置").addTo(hereLayer);
            }
          }

          function card(t, index) {
            var div = document.createElement("div");
            div.className = {{ this.task_class|tojson }} + (t.overdue ? " overdue" : "");
            div.dataset.task = t.id;
            var walk = t.walk_minutes === null ? "无法步行到达" :
              "步行约 " + Math.round(t.walk_minutes) + " 分钟（" +
              Math.round(t.walk_distance_m) + " 米）";
            var buttons = "";
            if (t.actions.indexOf("start") >= 0) {
              buttons += '<button class="btn btn-sm btn-primary" data-do="start">接单</button>';
            }
            if (t.actions.indexOf("resolve") >= 0) {
              buttons += '<button class="btn btn-sm btn-success" data-do="resolve">反馈</button>';
            }
            buttons += '<button class="btn btn-sm btn-outline-primary" data-do="checkin">' +
              "签到</button>";
            buttons += '<button class="btn btn-sm btn-outline-secondary" data-do="route">' +
              "路线</button>";
            div.innerHTML =
              '<div class="head"><span class="cat">' + (index + 1) + ". " + esc(t.category_name) +
              '</span><span class="badge badge-p' + t.priority + '">优先级 ' + t.priority +
              "</span></div>" +
              '<div class="meta">' + esc(t.state_name) + " · 期限 " + when(t.deadline) +
              (t.overdue ? ' · <b style="color:#cf222e">已超期</b>' : "") + "</div>" +
              '<div class="meta">' + walk + "</div>" +
              '<div class="desc">' + esc(t.description) + "</div>" +
              (t.actions.indexOf("resolve") >= 0 ?
                '<textarea rows="2" placeholder="处置情况（反馈说明）"></textarea>' : "") +
              '<div class="buttons">' + buttons + "</div>" +
              '<div class="result"></div>';
            div.querySelectorAll("button").forEach(function (b) {
              b.addEventListener("click", function () { act(t, b.dataset.do, div); });
            });
            div.addEventListener("mouseenter", function () {
              if (markers[t.id]) { markers[t.id].openTooltip(); }
            });
            return div;
          }

          function act(t, what, div) {
            var result = div.querySelector(".result");
            result.textContent = "处理中…";
            result.style.color = "#57606a";
            var done;
            if (what === "start" || what === "resolve") {
              var note = div.querySelector("textarea");
              done = post("/api/incidents/" + t.id + "/actions",
                          {action: what, note: note && note.value ? note.value : null})
                .then(function () { return loadTasks("已" + (what === "start" ? "接单" : "反馈") +
                                                     "：工单 " + t.id); });
            } else if (what === "checkin") {
              done = position(10000).then(function (p) {
                if (!p) { throw new Error("无法获取当前位置，请允许定位后再签到"); }
                here = p;
                showHere();
                return post("/api/worker/tasks/" + t.id + "/checkin",
                            {lon: p.lon, lat: p.lat, coord_type: "wgs84"});
              }).then(function (r) {
                result.textContent = r.message;
                result.style.color = r.accepted ? "#1a7f37" : "#cf222e";
                result.dataset.accepted = r.accepted;
              });
            } else {
              done = api("/api/worker/route?task=" + t.id + (here ? "&" + at(here) : ""))
                .then(function (f) {
                  routeLayer.clearLayers();
                  var style = {color: "#1f6feb", weight: 6, opacity: 0.85,
                               className: {{ this.route_class|tojson }}};
                  L.geoJSON(f, {style: style}).addTo(routeLayer);
                  map.fitBounds(routeLayer.getBounds(), {padding: [30, 30]});
                  result.textContent = "路线：" + f.properties.message;
                  result.style.color = "#0969da";
                });
            }
            done.catch(function (e) {
              result.textContent = "失败：" + e.message;
              result.style.color = "#cf222e";
            });
          }

          function loadTasks(message) {
            showHere();
            var query = here ? "?" + at(here) : "";
            return api("/api/worker/tasks" + query).then(function (body) {
              taskLayer.clearLayers();
              markers = {};
              list.innerHTML = "";
              body.tasks.forEach(function (t, i) {
                list.appendChild(card(t, i));
                markers[t.id] = L.circleMarker([t.lat, t.lon], {
                  radius: 9, color: "#fff", weight: 2, fillOpacity: 1,
                  fillColor: t.overdue ? "#cf222e" : "#bc4c00",
                  className: {{ this.task_class|tojson }}
                }).bindTooltip((i + 1) + ". " + esc(t.category_name)).addTo(taskLayer);
              });
              var from = body.from.kind === "position" ? "从当前位置" : "从网格中心";
              say((message ? message + "；" : "") + "待办工单 " + body.tasks.length +
                  " 件（按期限排序，距离" + from + "步行计算）");
            });
          }

          api("/api/worker/grids").then(drawGrids)
            .then(function () { return position(3000); })
            .then(function (p) { here = p; return loadTasks(); })
            .catch(function (e) { say("加载失败：" + e.message, true); });
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, csrf_token: str = "") -> None:
        super().__init__()
        self._name = "TabletScript"
        self.csrf_token = csrf_token
        self.status_id = STATUS_ID
        self.list_id = TASK_LIST_ID
        self.grid_class = GRID_CLASS
        self.task_class = TASK_CLASS
        self.route_class = ROUTE_CLASS
        self.building_class = BUILDING_CLASS
        self.you_class = YOU_CLASS


def worker_page(
    bounds: Sequence[float] | None,
    *,
    settings: Settings | None = None,
    vendor_url: str = VENDOR_URL,
    static_url: str = STATIC_URL,
    csrf_token: str = "",
) -> folium.Map:
    """Build the worker's tablet page (the same for every worker; data comes from the API).

    Parameters
    ----------
    bounds
        (west, south, east, north), degrees: where the map starts (the district's
        grids) until the worker's own grids are loaded; None for a default view.
    settings
        Supplies the basemap ``tile_url`` and ``tile_attribution``.
    vendor_url, static_url
        Where the app serves ``maps/node_modules`` and ``maps/static``.
    csrf_token
        The signed-in session's CSRF token, sent with each change (not a credential: it
        is worthless without the session's HttpOnly cookie).

    Returns
    -------
    folium.Map
        Localized; render it with :func:`maps.assets.render_offline`.
    """
    settings = settings or get_settings()
    m = base_map(bounds or FALLBACK_BOUNDS, settings, zoom_start=15)
    root: Any = m.get_root()
    assert isinstance(root, Figure)
    root.title = PAGE_TITLE
    root.header.add_child(Element(_CSS), name="wangge_worker_css")
    root.header.add_child(
        Element('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        name="viewport",
    )
    root.html.add_child(Element(_PANEL), name="wangge_worker_panel")
    m.add_child(TabletScript(csrf_token), name="wangge_worker_script")
    localize(m, vendor_url, static_url)
    return m
