"""The daily situation report (每日态势报告) of a street or community, as one HTML file.

A street office prints or forwards the day's picture: key figures (new, closed, open,
overdue incidents and the on-time closing rate), charts (incidents by hour, the top
categories, open incidents by state), a map of the area (grids shaded by the day's
incidents, the incidents, hazard areas), a table per grid (or per community for a
street), hazard areas in force with their alerts and how many people were reached,
and the early warnings with their evidence.

The page is self-contained: charts and the map are matplotlib PNGs embedded as
``data:`` URLs (no script, no CDN, no tiles), so it opens offline, prints, and can be
mailed as one file.  Everything is computed from frames handed in
(:class:`DailyData`); reading them is the caller's job.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from analysis.hazard import KIND_NAMES

if TYPE_CHECKING:
    import geopandas as gpd

matplotlib.use("Agg")

TZ = "Asia/Shanghai"
CJK_FONTS = [
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
    "DejaVu Sans",
]
STATE_NAMES = {
    "reported": "待立案",
    "registered": "已立案",
    "dispatched": "已派遣",
    "in_progress": "处置中",
    "resolved": "已处置待核查",
    "verified": "已核查",
    "returned": "退回",
    "escalated": "督办",
    "closed": "已结案",
    "rated": "已评价",
    "rejected": "不予立案",
}
FINISHED = ("closed", "rated", "rejected")
LEVEL_NAMES = {"street": "街道", "community": "社区"}


@dataclass(frozen=True)
class DailyData:
    """What a daily report shows, read by the caller.

    Attributes
    ----------
    area_code, area_name, area_level
        The street or community reported on.
    day
        The day (China time).
    grids
        Its current grids: id, code, name, community_name, geometry (EPSG:4326).
    incidents
        Its incidents reported before the end of the day (any state): id,
        category_name, state, reported_at, deadline, closed_at, grid_id, lon, lat.
    hazards
        Hazard areas in force during the day that meet the area: id, kind, name,
        severity, valid_from, valid_to, geometry.
    alerts
        Alerts of those hazards: id, hazard_id, created_at, target_group, recipients,
        confirmed.
    warnings
        Early warnings of the day: evidence (str) and place_code, category_name.
    generated_at
        When the report was made.
    """

    area_code: str
    area_name: str
    area_level: str
    day: date
    grids: gpd.GeoDataFrame
    incidents: pd.DataFrame
    hazards: gpd.GeoDataFrame
    alerts: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    generated_at: datetime = field(default_factory=lambda: pd.Timestamp.now(tz=TZ))


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cjk() -> Any:
    """Matplotlib settings for Chinese labels (the first CJK font installed)."""
    return matplotlib.rc_context(
        {"font.family": "sans-serif", "font.sans-serif": CJK_FONTS, "axes.unicode_minus": False}
    )


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height))
    return fig


def _local(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True).dt.tz_convert(TZ)


@dataclass(frozen=True)
class _Day:
    reported: pd.DataFrame
    closed: pd.DataFrame
    open_: pd.DataFrame
    overdue: pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp


def _split(data: DailyData) -> _Day:
    start = pd.Timestamp(data.day).tz_localize(TZ)
    end = start + pd.Timedelta(days=1)
    inc = data.incidents.copy()
    reported_at = _local(inc["reported_at"])
    closed_at = _local(inc["closed_at"])
    deadline = _local(inc["deadline"])
    reported = inc[(reported_at >= start) & (reported_at < end)]
    closed = inc[(closed_at >= start) & (closed_at < end)]
    still_open = (reported_at < end) & (closed_at.isna() | (closed_at >= end))
    still_open &= ~inc["state"].isin(["rejected"])
    open_ = inc[still_open]
    overdue = inc[still_open & deadline.notna() & (deadline < end)]
    return _Day(reported, closed, open_, overdue, start, end)


def _chart_hours(day: _Day) -> str:
    with _cjk():
        fig = _figure(6.2, 2.6)
        ax = fig.subplots()
        hours = np.arange(24)
        new = np.bincount(_local(day.reported["reported_at"]).dt.hour, minlength=24)
        done = np.bincount(_local(day.closed["closed_at"]).dt.hour, minlength=24)
        ax.bar(hours - 0.2, new, width=0.4, label="新增", color="#e6550d")
        ax.bar(hours + 0.2, done, width=0.4, label="结案", color="#31a354")
        ax.set_xticks(range(0, 24, 2))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("时")
        ax.set_ylabel("件")
        ax.set_title("分时段事件")
        ax.legend(frameon=False)
        ax.spines[["top", "right"]].set_visible(False)
        return _png(fig)


def _chart_categories(day: _Day) -> str | None:
    counts = day.reported["category_name"].value_counts().head(10)[::-1]
    if counts.empty:
        return None
    with _cjk():
        fig = _figure(6.2, 0.35 * len(counts) + 0.9)
        ax = fig.subplots()
        ax.barh(counts.index.astype(str), counts.to_numpy(), color="#3182bd")
        ax.set_title("当日新增事件类别（前十）")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("件")
        ax.spines[["top", "right"]].set_visible(False)
        return _png(fig)


def _chart_states(day: _Day) -> str | None:
    counts = day.open_["state"].value_counts()
    if counts.empty:
        return None
    order = [s for s in STATE_NAMES if s in counts.index]
    with _cjk():
        fig = _figure(6.2, 2.4)
        ax = fig.subplots()
        ax.bar([STATE_NAMES[s] for s in order], [int(counts[s]) for s in order], color="#756bb1")
        ax.set_title("日终未结事件状态")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("件")
        ax.tick_params(axis="x", labelrotation=20)
        ax.spines[["top", "right"]].set_visible(False)
        return _png(fig)


def _chart_map(data: DailyData, day: _Day) -> str | None:
    grids = data.grids
    if grids is None or grids.empty:
        return None
    from gis.coords import local_metric_crs_for

    crs = local_metric_crs_for(grids)
    g = grids.to_crs(crs)
    per_grid = day.reported.groupby("grid_id").size()
    g = g.assign(n=g["id"].map(per_grid).fillna(0).to_numpy())
    with _cjk():
        fig = _figure(6.2, 5.4)
        ax = fig.subplots()
        g.plot(
            ax=ax,
            column="n",
            cmap="OrRd",
            edgecolor="#555555",
            linewidth=0.5,
            legend=True,
            legend_kwds={"label": "当日新增事件（件）", "shrink": 0.6},
        )
        if len(data.hazards):
            data.hazards.to_crs(crs).plot(
                ax=ax, facecolor="none", edgecolor="#6a3d9a", hatch="///", linewidth=1.5
            )
        if len(day.reported):
            import geopandas as gpd

            pts = gpd.GeoSeries(
                gpd.points_from_xy(day.reported["lon"], day.reported["lat"]), crs=4326
            ).to_crs(crs)
            pts.plot(ax=ax, markersize=6, color="#08519c", alpha=0.7)
        w, s, e, n = g.total_bounds
        pad = 0.03 * max(e - w, n - s)
        ax.set_xlim(w - pad, e + pad)
        ax.set_ylim(s - pad, n + pad)
        ax.set_axis_off()
        ax.set_title("网格当日事件分布（紫色斜线：灾害影响区）")
        return _png(fig)


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _per_place(data: DailyData, day: _Day) -> str:
    g = data.grids
    if g is None or g.empty:
        return "<p>该区域暂无网格。</p>"
    key, label = ("community_name", "社区") if data.area_level == "street" else ("code", "网格")
    place = g.set_index("id")[key]

    def count(frame: pd.DataFrame) -> pd.Series:
        return frame["grid_id"].map(place).value_counts()

    table = pd.DataFrame(
        {
            "新增": count(day.reported),
            "结案": count(day.closed),
            "未结": count(day.open_),
            "超期未结": count(day.overdue),
        }
    )
    table = table.reindex(sorted(set(place.dropna()))).fillna(0).astype(int)
    rows = [[name, *row] for name, row in zip(table.index, table.to_numpy().tolist(), strict=True)]
    return _table([label, "新增", "结案", "未结", "超期未结"], rows)


def _hazards(data: DailyData) -> str:
    if data.hazards is None or data.hazards.empty:
        return "<p>当日无灾害影响区。</p>"
    alerts = data.alerts if data.alerts is not None else pd.DataFrame()
    rows = []
    for _, h in data.hazards.iterrows():
        mine = alerts[alerts["hazard_id"] == h["id"]] if len(alerts) else alerts
        sent = int(mine["recipients"].sum()) if len(mine) else 0
        reached = int(mine["confirmed"].sum()) if len(mine) else 0
        rate = f"{reached / sent:.0%}" if sent else "—"
        rows.append(
            [
                h["name"],
                KIND_NAMES.get(h["kind"], h["kind"]),
                f"{int(h['severity'])} 级",
                len(mine),
                sent,
                f"{reached}（{rate}）",
            ]
        )
    return _table(["灾害", "类型", "等级", "预警次数", "通知对象", "已确认到位"], rows)


def _warnings(data: DailyData) -> str:
    if not data.warnings:
        return "<p>当日无异常预警。</p>"
    items = "".join(f"<li>{html.escape(str(w.get('evidence', '')))}</li>" for w in data.warnings)
    return f"<ul>{items}</ul>"


_STYLE = """
body { font-family: "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC",
  "WenQuanYi Micro Hei", sans-serif; margin: 24px auto; max-width: 980px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px;
  border-bottom: 2px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; font-size: 13px; }
.kpis { display: flex; gap: 12px; flex-wrap: wrap; margin-top: 14px; }
.kpi { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.kpi b { display: block; font-size: 22px; } .kpi span { color: #666; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 10px; } img { max-width: 100%; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f5f5f5; }
@media print { body { margin: 0; } }
"""


def daily_report_html(data: DailyData) -> str:
    """Render the daily report as one self-contained HTML page (Chinese).

    Parameters
    ----------
    data
        The area, the day and its frames.

    Returns
    -------
    str
        The page; charts and the map are embedded PNGs (``<img class="wangge-chart">``,
        the map ``<img class="wangge-report-map">``).
    """
    day = _split(data)
    on_time = day.closed[
        day.closed["deadline"].isna()
        | (_local(day.closed["closed_at"]) <= _local(day.closed["deadline"]))
    ]
    rate = f"{len(on_time) / len(day.closed):.0%}" if len(day.closed) else "—"
    kpis = [
        ("当日新增", len(day.reported)),
        ("当日结案", len(day.closed)),
        ("日终未结", len(day.open_)),
        ("超期未结", len(day.overdue)),
        ("按期结案率", rate),
        ("灾害影响区", 0 if data.hazards is None else len(data.hazards)),
    ]
    charts = [
        _chart_hours(day),
        _chart_categories(day),
        _chart_states(day),
    ]
    the_map = _chart_map(data, day)
    level = LEVEL_NAMES.get(data.area_level, data.area_level)
    title = f"{data.area_name}{level if not data.area_name.endswith(level) else ''}每日态势报告"
    when = pd.Timestamp(data.generated_at).tz_convert(TZ).strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)} {data.day.isoformat()}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<div class='sub'>{html.escape(data.area_code)} · {data.day.isoformat()}（北京时间）"
        f" · 生成于 {when}</div>",
        "<div class='kpis'>",
        *(f"<div class='kpi'><b>{v}</b><span>{html.escape(k)}</span></div>" for k, v in kpis),
        "</div><h2>事件概况</h2><div class='charts'>",
        *(f"<img class='wangge-chart' alt='图表' src='{c}'>" for c in charts if c),
        "</div>",
    ]
    if the_map:
        parts += ["<h2>地图</h2>", f"<img class='wangge-report-map' alt='地图' src='{the_map}'>"]
    label = "社区" if data.area_level == "street" else "网格"
    parts += [
        f"<h2>分{label}情况</h2>",
        _per_place(data, day),
        "<h2>灾害与预警通知</h2>",
        _hazards(data),
        "<h2>异常预警（高于自身基线）</h2>",
        _warnings(data),
        "</body></html>",
    ]
    return "\n".join(parts)
