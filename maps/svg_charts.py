"""Small charts as SVG markup drawn on the server: lines of rates over periods, bars of shares.

For the pages (the KPI review's trend and satisfaction): no chart library and no script
in the browser, nothing from a CDN, and the strict Content-Security-Policy is kept (no
``style`` attribute; colours are SVG presentation attributes).  Every text is escaped;
each chart is an ``role="img"`` with a title and a description for screen readers, and
every point or bar carries its value as a ``<title>`` (shown on hover).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

#: Colours with at least 3:1 contrast on white (WCAG non-text contrast).
PALETTE = ("#0d47a1", "#b3261e", "#1a6b2f", "#7a4d00")
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 36, 56


@dataclass(frozen=True)
class Series:
    """A named line (or bar) of values in [0, 1] (NaN: no value), one per label."""

    name: str
    values: Sequence[float]


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _frame(title: str, desc: str, chart_id: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'id="{chart_id}">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
    ]


def _y_axis(out: list[str]) -> None:
    plot_h = HEIGHT - TOP - BOTTOM
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = TOP + plot_h * (1 - tick)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="#d0d7de" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#4a5260">{tick:.0%}</text>'
        )


def _x_labels(out: list[str], labels: Sequence[str], xs: Sequence[float]) -> None:
    step = max(1, math.ceil(len(labels) / 12))  # at most about twelve labels
    y = HEIGHT - BOTTOM + 18
    for i, (label, x) in enumerate(zip(labels, xs, strict=True)):
        if i % step == 0 or i == len(labels) - 1:
            out.append(
                f'<text x="{x:.1f}" y="{y}" text-anchor="middle" font-size="12" '
                f'fill="#1b1f24">{escape(label)}</text>'
            )


def _legend(out: list[str], names: Sequence[str], colours: Sequence[str]) -> None:
    x = LEFT
    for name, colour in zip(names, colours, strict=True):
        out.append(f'<rect x="{x}" y="10" width="14" height="14" fill="{colour}"/>')
        out.append(f'<text x="{x + 20}" y="22" font-size="13" fill="#1b1f24">{escape(name)}</text>')
        x += 28 + 14 * len(name)


def _empty(out: list[str], text: str) -> str:
    out.append(
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="15" '
        f'fill="#4a5260">{escape(text)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out)


def line_chart(
    labels: Sequence[str], series: Sequence[Series], *, title: str, chart_id: str
) -> str:
    """Lines of shares (0–1) over ``labels`` (periods), one per series; the SVG markup.

    A missing value (NaN) breaks its line: no point is drawn and the line resumes at the
    next value.
    """
    desc = "；".join(
        f"{s.name}："
        + "，".join(
            f"{label} {'无' if _missing(v) else _pct(v)}"
            for label, v in zip(labels, s.values, strict=True)
        )
        for s in series
    )
    out = _frame(title, desc, chart_id)
    colours = PALETTE[: len(series)]
    _legend(out, [s.name for s in series], colours)
    if not labels:
        return _empty(out, "所选期间没有数据")
    _y_axis(out)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(labels)
    xs = [LEFT + plot_w * ((i + 0.5) / n) for i in range(n)]
    _x_labels(out, labels, xs)
    for s, colour in zip(series, colours, strict=True):
        runs: list[list[tuple[float, float]]] = [[]]
        for x, v in zip(xs, s.values, strict=True):
            if _missing(v):
                runs.append([])
                continue
            runs[-1].append((x, TOP + plot_h * (1 - min(max(v, 0.0), 1.0))))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                out.append(
                    f'<polyline points="{points}" fill="none" stroke="{colour}" '
                    f'stroke-width="2.5"/>'
                )
        for label, x, v in zip(labels, xs, s.values, strict=True):
            if _missing(v):
                continue
            y = TOP + plot_h * (1 - min(max(v, 0.0), 1.0))
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" '
                f'data-series="{escape(s.name)}"><title>{escape(label)} {escape(s.name)} '
                f"{_pct(v)}</title></circle>"
            )
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(
    labels: Sequence[str],
    shares: Sequence[float],
    *,
    notes: Sequence[str] | None = None,
    name: str,
    title: str,
    chart_id: str,
) -> str:
    """Bars of shares (0–1) over ``labels``, each with its value (and a note) above; SVG markup."""
    notes = notes or [""] * len(labels)
    desc = "，".join(
        f"{label} {'无' if _missing(v) else _pct(v)}{(' ' + note) if note else ''}"
        for label, v, note in zip(labels, shares, notes, strict=True)
    )
    out = _frame(title, f"{name}：{desc}", chart_id)
    _legend(out, [name], PALETTE[2:3])
    if not labels:
        return _empty(out, "所选期间没有数据")
    _y_axis(out)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(labels)
    slot = plot_w / n
    width = max(min(slot * 0.6, 48), 2)
    xs = [LEFT + slot * (i + 0.5) for i in range(n)]
    _x_labels(out, labels, xs)
    for label, x, v, note in zip(labels, xs, shares, notes, strict=True):
        if _missing(v):
            out.append(
                f'<text x="{x:.1f}" y="{TOP + plot_h - 4}" text-anchor="middle" '
                f'font-size="11" fill="#4a5260">无评价</text>'
            )
            continue
        h = plot_h * min(max(v, 0.0), 1.0)
        y = TOP + plot_h - h
        out.append(
            f'<rect x="{x - width / 2:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[2]}" data-value="{v:.4f}"><title>{escape(label)} {escape(name)} '
            f"{_pct(v)}{escape((' ' + note) if note else '')}</title></rect>"
        )
        if n <= 16:
            out.append(
                f'<text x="{x:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11" '
                f'fill="#1b1f24">{_pct(v)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)
