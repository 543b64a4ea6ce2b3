"""The printable review chart and page: A4 landscape, Chinese that renders, counts on the bars."""

from __future__ import annotations

import base64
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font
from PIL import Image

from grids.kpi import kpis
from maps import kpi_chart
from maps.kpi_chart import CLOSE_COLOUR, ON_TIME_COLOUR, kpi_chart_png, kpi_report_html

NOW = pd.Timestamp("2026-11-20 12:00", tz="Asia/Shanghai")


def _table() -> pd.DataFrame:
    """Three grids: all closed on time (4/4), half closed late (2 of 4 due), nothing due."""
    t = pd.Timestamp("2026-11-01 09:00", tz="Asia/Shanghai")
    day = pd.Timedelta(days=1)
    rows = [
        # grid A: 4 cases, all closed within the deadline
        *[("A", t, t + 2 * day, t + day, "closed") for _ in range(4)],
        # grid B: 2 closed late, 2 open past the deadline
        *[("B", t, t + day, t + 3 * day, "closed") for _ in range(2)],
        *[("B", t, t + day, None, "in_progress") for _ in range(2)],
        # grid C: one open case still inside its time limit
        ("C", t, NOW + day, None, "dispatched"),
    ]
    incidents = pd.DataFrame(
        rows, columns=["grid_code", "reported_at", "deadline", "closed_at", "state"]
    )
    incidents.insert(0, "id", np.arange(1, len(incidents) + 1))
    table = kpis(incidents, by=("grid",), now=NOW)
    table["name"] = table["grid"].map({"A": "东苑网格", "B": "西苑网格", "C": "<b>南苑</b>网格"})
    return table


def _pixels(png: bytes, colour: str) -> np.ndarray:
    """A boolean mask of the pixels of one colour."""
    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    want = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
    return np.abs(rgb - want).sum(axis=2) < 12


def test_chart_is_a4_landscape_with_bars_in_proportion(artifacts: Path) -> None:
    table = _table()
    assert list(table["close_rate"].fillna(-1)) == [1.0, 0.5, -1]
    png = kpi_chart_png(
        table, label_column="name", title="网格化管理考核报表 · 测试街道", subtitle="2026年11月"
    )
    (artifacts / "kpi_chart.png").write_bytes(png)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    width, height = image.size
    assert abs(width / height - 297 / 210) < 0.01 and width >= 1700
    # the 结案率 bars: grid A (100 %) twice as long as grid B (50 %); grid C has none
    close = _pixels(png, CLOSE_COLOUR)
    rows = np.flatnonzero(close.sum(axis=1) > 50)
    bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)
    lengths = [int(close[band].sum(axis=1).max()) for band in bands]
    assert len(lengths) == 2  # grid A and grid B (the legend's swatch is short)
    assert lengths[0] / lengths[1] == pytest.approx(2.0, rel=0.03)
    assert _pixels(png, ON_TIME_COLOUR).sum() > 0


def test_chinese_labels_render_with_an_installed_cjk_font() -> None:
    family = kpi_chart.cjk_font()
    if family is None:
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")
    path = font_manager.findfont(font_manager.FontProperties(family=family))
    font = FT2Font(path)
    for char in "网格化管理考核报表结案率按期无应事件东苑":
        assert font.get_char_index(ord(char)) != 0, char


def test_missing_font_warns_and_still_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kpi_chart, "CJK_FONTS", ("No Such Font Sans",))
    kpi_chart.cjk_font.cache_clear()
    try:
        with pytest.warns(kpi_chart.MissingCJKFont, match="fonts-wqy-microhei"):
            png = kpi_chart_png(_table(), label_column="name", title="考核")
        assert Image.open(io.BytesIO(png)).format == "PNG"
    finally:
        kpi_chart.cjk_font.cache_clear()


def test_many_groups_keep_the_worst_and_say_so() -> None:
    t = pd.Timestamp("2026-11-01 09:00", tz="Asia/Shanghai")
    incidents = pd.DataFrame(
        {
            "id": np.arange(60),
            "grid_code": [f"G{i:02d}" for i in range(60)],
            "reported_at": t,
            "deadline": t + pd.Timedelta(days=1),
            "closed_at": [t + pd.Timedelta(hours=2 if i % 2 else 30) for i in range(60)],
            "state": "closed",
        }
    )
    table = kpis(incidents, by=("grid",), now=NOW)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no font or layout warnings
        png = kpi_chart_png(table, label_column="grid", title="考核", max_groups=30)
    on_time = _pixels(png, ON_TIME_COLOUR)
    # the 30 kept are the late ones (按期结案率 0): no on-time bar but the legend swatch
    assert on_time.sum() < 1500


def test_page_has_table_chart_totals_and_print_css() -> None:
    table = _table()
    total = kpis(
        pd.DataFrame(
            {
                "id": [1],
                "reported_at": [NOW],
                "deadline": [NOW],
                "closed_at": [NOW],
                "state": ["closed"],
            }
        ),
        by=(),
        now=NOW,
    ).iloc[0]
    png = kpi_chart_png(table, label_column="name", title="考核")
    html = kpi_report_html(
        table,
        total,
        label_columns=["name"],
        headers=["网格", *[str(i) for i in range(len(kpi_chart.TABLE_COLUMNS))]],
        title="网格化管理考核报表",
        area="测试街道",
        by_label="网格",
        period="2026-11-01 至 2026-11-30",
        as_of="2026-11-20 12:00",
        chart_png=png,
    )
    assert "<title>网格化管理考核报表</title>" in html and "测试街道" in html
    assert "@media print" in html and "size: A4 landscape" in html
    # rates as percentages, counts as integers, nothing due as a dash
    row_b = re.search(r"<tr class=\"bad\">(.*?)</tr>", html, re.S)
    assert row_b is not None and "西苑网格" in row_b.group(1) and "50.0%" in row_b.group(1)
    assert "—" in html and "合计" in html
    # names are escaped, not markup
    assert "&lt;b&gt;南苑&lt;/b&gt;网格" in html and "<b>南苑" not in html
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert embedded is not None and base64.b64decode(embedded.group(1)) == png
