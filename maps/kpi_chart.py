"""The printable performance review (考核报表): a bar chart of 结案率 / 按期结案率 and its page.

A street office prints its monthly review and pins it up or files it, so the chart is
laid out for A4 landscape, labelled in Chinese, and carries the counts behind every
rate (结案 closed / 应结 due), not just the bars.  Built from a ``grids.kpi.kpis`` table
handed in; nothing here reads the database.

Chinese text needs a CJK font.  :func:`cjk_font` picks the first installed one of
:data:`CJK_FONTS` (WenQuanYi Micro Hei comes with Debian's ``fonts-wqy-microhei``, which
``scripts/setup.sh`` installs); when none is installed the chart is still drawn, with a
warning, and Chinese characters show as boxes.
"""

from __future__ import annotations

import base64
import functools
import io
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, select_autoescape
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import PercentFormatter

__all__ = [
    "A4_LANDSCAPE_INCHES",
    "CJK_FONTS",
    "TABLE_COLUMNS",
    "MissingCJKFont",
    "cell_text",
    "cjk_font",
    "kpi_chart_png",
    "kpi_report_html",
]

#: A4 landscape, inches (297 × 210 mm).
A4_LANDSCAPE_INCHES = (297 / 25.4, 210 / 25.4)
#: CJK fonts tried in order (Linux, then fonts a Windows or macOS office has).
CJK_FONTS: tuple[str, ...] = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
#: The KPI columns of the printed table, in order.
TABLE_COLUMNS: tuple[str, ...] = (
    "cases",
    "due",
    "closed",
    "closed_on_time",
    "overdue_open",
    "close_rate",
    "on_time_rate",
    "dispatch_hours_mean",
    "close_hours_mean",
    "rating_mean",
    "satisfied_share",
)
_RATES = {"close_rate", "on_time_rate", "satisfied_share"}
_DECIMALS = {"dispatch_hours_mean", "close_hours_mean", "rating_mean"}
CLOSE_COLOUR, ON_TIME_COLOUR = "#1f5fa8", "#e08a1e"


class MissingCJKFont(UserWarning):
    """No CJK font is installed: Chinese labels will show as boxes."""


@functools.cache
def cjk_font() -> str | None:
    """The family name of the first installed font of :data:`CJK_FONTS`, or None (warned)."""
    for family in CJK_FONTS:
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        return family
    warnings.warn(
        "no CJK font found (tried " + ", ".join(CJK_FONTS) + "); Chinese labels will show as "
        "boxes. Install one, e.g. 'apt-get install fonts-wqy-microhei', then remove "
        "matplotlib's font cache (~/.cache/matplotlib)",
        MissingCJKFont,
        stacklevel=2,
    )
    return None


def _font(size: float) -> font_manager.FontProperties:
    family = cjk_font()
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    return font_manager.FontProperties(family=families, size=size)


def _count(value: Any) -> int:
    return 0 if pd.isna(value) else int(value)


def kpi_chart_png(
    table: pd.DataFrame,
    *,
    label_column: str,
    title: str,
    subtitle: str = "",
    max_groups: int = 40,
    dpi: int = 150,
) -> bytes:
    """A4 landscape PNG: 结案率 and 按期结案率 per group, each bar with its counts.

    Parameters
    ----------
    table
        A ``grids.kpi.kpis`` table (one row per group, in the order to draw, top
        first) with a ``label_column`` naming each group in words.
    label_column
        Column of ``table`` with the group names (网格 name, worker name, category …).
    title, subtitle
        Printed at the top (e.g. 网格化管理考核报表 · 某某街道, and the period).
    max_groups
        At most this many groups are drawn; with more, the groups with the lowest
        按期结案率 are kept (those are the ones a review discusses) and the subtitle
        says how many are left out.  The full list is in the table of the page.
    dpi
        Resolution; 150 dpi gives 1754 × 1240 pixels.

    Returns
    -------
    bytes
        The PNG file.
    """
    rows = table.reset_index(drop=True)
    note = ""
    if len(rows) > max_groups:
        worst = rows["on_time_rate"].fillna(2.0).to_numpy().argsort(kind="stable")[:max_groups]
        rows = rows.iloc[np.sort(worst)].reset_index(drop=True)
        note = f"（共 {len(table)} 组，仅列按期结案率最低的 {max_groups} 组）"
    n = len(rows)
    # constrained layout makes room for long group names (网格 names with their codes)
    fig = Figure(figsize=A4_LANDSCAPE_INCHES, dpi=dpi, layout="constrained")
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(w_pad=0.25, h_pad=0.2)  # inches of white around the page
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontproperties=_font(18))
    ax = fig.add_subplot()
    ax.set_title(f"{subtitle}{note}", fontproperties=_font(11), pad=12)
    size = float(np.clip(260 / max(n, 1), 6, 11))
    if n == 0:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "所选范围内没有事件", ha="center", fontproperties=_font(16))
    else:
        y = np.arange(n)
        height = 0.38
        close = rows["close_rate"].to_numpy(dtype=float)
        on_time = rows["on_time_rate"].to_numpy(dtype=float)
        ax.barh(y - height / 2, np.nan_to_num(close), height, color=CLOSE_COLOUR, label="结案率")
        ax.barh(
            y + height / 2, np.nan_to_num(on_time), height, color=ON_TIME_COLOUR, label="按期结案率"
        )
        for i, row in rows.iterrows():
            due = _count(row["due"])
            if due == 0:
                ax.text(
                    0.01, i, "无应结案事件", va="center", fontproperties=_font(size), color="#666"
                )
                continue
            closed, in_time = _count(row["closed"]), _count(row["closed_on_time"])
            ax.text(
                close[i] + 0.005,
                i - height / 2,
                f"{close[i]:.0%}  {closed}/{due}",
                va="center",
                fontproperties=_font(size * 0.85),
            )
            ax.text(
                on_time[i] + 0.005,
                i + height / 2,
                f"{on_time[i]:.0%}  {in_time}/{due}",
                va="center",
                fontproperties=_font(size * 0.85),
            )
        ax.set_yticks(y)
        ax.set_yticklabels([str(v) for v in rows[label_column]], fontproperties=_font(size))
        ax.set_ylim(max(n, 8) - 0.5, -0.5)  # top first; few groups keep a slim bar
        ax.set_xlim(0, 1.18)
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(axis="x", color="#ddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.legend(prop=_font(10), loc="lower right", frameon=False, ncols=2)
        ax.set_xlabel(
            "比率（条形旁为 结案数/应结案数、按期结案数/应结案数）", fontproperties=_font(10)
        )
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # without a CJK font every Chinese glyph would warn again; cjk_font() said it once
        if cjk_font() is None:
            warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def cell_text(column: str, value: Any) -> str:
    """A KPI value as the table prints it: rates in %, hours and ratings to one decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "—"
    if column in _RATES:
        return f"{float(value):.1%}"
    if column in _DECIMALS:
        return f"{float(value):.1f}"
    return str(int(value))


_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
  body { font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei",
         sans-serif; margin: 24px; color: #222; }
  h1 { font-size: 22px; margin: 0 0 4px; text-align: center; }
  .meta { text-align: center; color: #444; margin-bottom: 12px; font-size: 14px; }
  .tools { margin-bottom: 12px; }
  .table-scroll { max-width: 100%; overflow-x: auto; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  th, td { border: 1px solid #999; padding: 3px 6px; text-align: right; }
  th { background: #eef2f7; text-align: center; }
  td.group { text-align: left; }
  tr.total td { font-weight: bold; background: #f7f7f7; }
  tr.bad td.on_time_rate { color: #b00020; font-weight: bold; }
  img.chart { width: 100%; max-width: 1100px; display: block; margin: 16px auto; }
  .foot { font-size: 12px; color: #555; margin-top: 8px; }
  @page { size: A4 landscape; margin: 12mm; }
  @media print {
    body { margin: 0; }
    .tools { display: none; }
    .table-scroll { overflow: visible; }
    table { font-size: 10pt; }
    th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
    thead { display: table-header-group; }
    tr { page-break-inside: avoid; }
    .chart-page { page-break-before: always; }
    img.chart { max-width: none; width: 100%; }
  }
</style>
</head>
<body>
<h1>{{ title }}</h1>
<div class="meta">{{ area }} · 统计维度：{{ by_label }} · 统计期间：{{ period }} ·
  截至 {{ as_of }}</div>
<div class="tools"><button onclick="window.print()">打印 Print</button>
  {% for link in links %}<a href="{{ link.href }}">{{ link.text }}</a> {% endfor %}</div>
<div class="table-scroll" role="region" aria-label="表格，可左右滑动" tabindex="0">
<table id="kpi-table">
<thead><tr>{% for h in headers %}<th>{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{% for row in rows %}<tr class="{{ row.css }}">{% for c in row.cells %}
<td class="{{ c.css }}">{{ c.text }}</td>{% endfor %}</tr>
{% endfor %}</tbody>
</table>
</div>
<p class="foot">结案率 = 结案数 / 应结案数；按期结案率 = 按期结案数 / 应结案数。
应结案：已结案，或处置时限已过。不予立案的上报不计入应结案。
按期结案率低于 {{ threshold }} 的行以红色标出。</p>
<div class="chart-page"><img class="chart" alt="结案率与按期结案率"
  src="data:image/png;base64,{{ chart }}"></div>
</body>
</html>
"""
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def kpi_report_html(
    table: pd.DataFrame,
    total: pd.Series,
    *,
    label_columns: Sequence[str],
    headers: Sequence[str],
    title: str,
    area: str,
    by_label: str,
    period: str,
    as_of: str,
    chart_png: bytes,
    links: Sequence[tuple[str, str]] = (),
    threshold: float = 0.9,
) -> str:
    """The printable review page: title, area, period, the KPI table, the chart, print CSS.

    Parameters
    ----------
    table
        The ``grids.kpi.kpis`` rows with their group names in ``label_columns``.
    total
        The single total row (``kpis(..., by=())``), printed last as 合计.
    label_columns, headers
        The group-name columns and the headers of all columns: one per label column,
        then one per :data:`TABLE_COLUMNS`.
    title, area, by_label, period, as_of
        What the heading says: the title, the street or community, the breakdown
        (网格, 网格员 …), the period under review and the time of the assessment.
    chart_png
        The chart of :func:`kpi_chart_png`, embedded in the page so that it prints
        and saves as one file.
    links
        ``(text, href)`` pairs shown above the table on screen, not on paper.
    threshold
        按期结案率 below this is marked in red.

    Returns
    -------
    str
        The HTML page.
    """
    rows = []
    for _, row in table.iterrows():
        cells = [{"css": "group", "text": str(row[c])} for c in label_columns]
        cells += [{"css": c, "text": cell_text(c, row[c])} for c in TABLE_COLUMNS]
        bad = not pd.isna(row["on_time_rate"]) and row["on_time_rate"] < threshold
        rows.append({"css": "bad" if bad else "", "cells": cells})
    total_cells = [{"css": "group", "text": "合计"}]
    total_cells += [{"css": "group", "text": ""} for _ in label_columns[1:]]
    total_cells += [{"css": c, "text": cell_text(c, total[c])} for c in TABLE_COLUMNS]
    rows.append({"css": "total", "cells": total_cells})
    return _ENV.from_string(_PAGE).render(
        title=title,
        area=area,
        by_label=by_label,
        period=period,
        as_of=as_of,
        headers=list(headers),
        rows=rows,
        links=[{"text": t, "href": h} for t, h in links],
        threshold=f"{threshold:.0%}",
        chart=base64.b64encode(chart_png).decode("ascii"),
    )
