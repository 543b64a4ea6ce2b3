"""The designer's before/after map renders offline and switches between the two grid sets."""

from __future__ import annotations

import json
from collections.abc import Iterator

import folium
import numpy as np
import pytest

import geopandas as gpd

from gis.settings import Settings
from grids.design import design_grids, naive_square_grid
from maps.assets import (
    VENDOR_URL,
    assets_missing,
    external_references,
    render_offline,
)
from maps.design import (
    AFTER_LAYER,
    BEFORE_LAYER,
    BEFORE_OUTLINE_LAYER,
    ROAD_LAYER,
    band_colormap,
    design_map,
)
from tests.browser import artifact_path, open_page, serve_page
from tests.grids.test_design import square_community

SETTINGS = Settings(
    tile_url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    tile_attribution='&copy; <a href="https://www.openstreetmap.org/copyright">'
    "OpenStreetMap</a> contributors",
)
COMMUNITY = "330106109001"


@pytest.fixture(scope="module")
def frames() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Before: a naive square grid with codes; after: the design; and the roads."""
    households = np.random.default_rng(11).integers(40, 170, size=(6, 6))
    community, roads, buildings = square_community(6, households=households, lanes=True)
    after = design_grids(community, roads, buildings).grids
    after["code"] = [f"{COMMUNITY}{i:03d}" for i in range(1, len(after) + 1)]
    before = naive_square_grid(community, buildings, len(after) - 1).grids
    before["code"] = [f"{COMMUNITY}{i:03d}" for i in range(1, len(before) + 1)]
    before["name"] = [f"翠苑社区第{i}网格" for i in range(1, len(before) + 1)]
    return before, after, roads


@pytest.fixture(scope="module")
def page_html(frames: tuple[gpd.GeoDataFrame, ...]) -> str:
    before, after, roads = frames
    return render_offline(
        design_map(before, after, roads=roads, settings=SETTINGS, title="翠苑社区 · 网格优化方案")
    )


def test_page_is_offline_and_in_chinese(page_html: str) -> None:
    assert external_references(page_html) == []
    assert f"{VENDOR_URL}/leaflet/dist/leaflet.js" in page_html
    for word in (AFTER_LAYER, BEFORE_LAYER, BEFORE_OUTLINE_LAYER, ROAD_LAYER, "网格户数", "达标率"):
        assert in_page(word, page_html), word


def in_page(word: str, html: str) -> bool:
    """Whether ``word`` is in the page as text or as JSON (folium escapes non-ASCII there)."""
    return word in html or json.dumps(word)[1:-1] in html


def test_colour_scale_marks_the_band() -> None:
    scale = band_colormap([120.0, 420.0, 650.0], 300, 500)
    below, inside_low, inside_high, above = (scale(v)[:7] for v in (120, 310, 480, 650))
    assert len({below, inside_low, inside_high, above}) == 4
    assert "300–500" in scale.caption


def test_input_checks_and_missing_codes(frames: tuple[gpd.GeoDataFrame, ...]) -> None:
    before, after, _ = frames
    with pytest.raises(ValueError, match="after"):
        design_map(before, after.iloc[0:0], settings=SETTINGS)
    with pytest.raises(ValueError, match="households"):
        design_map(before, after.drop(columns="households"), settings=SETTINGS)
    # no current grids and no codes yet: the proposal is labelled 方案1, 方案2 … alone
    m = design_map(before.iloc[0:0], after.drop(columns="code"), settings=SETTINGS)
    html = render_offline(m)
    assert in_page("方案1", html) and not in_page(BEFORE_LAYER, html)
    assert external_references(html) == []


def test_other_crs_is_reprojected(frames: tuple[gpd.GeoDataFrame, ...]) -> None:
    before, after, roads = frames
    m = design_map(before.to_crs(32651), after.to_crs(3857), roads=roads, settings=SETTINGS)
    assert isinstance(m, folium.Map)
    assert f"{COMMUNITY}001" in render_offline(m)


@pytest.fixture(scope="module")
def served_page(page_html: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_page(page_html, tmp_path_factory.mktemp("design-site"), "design.html") as url:
        yield url


@pytest.mark.browser
def test_before_and_after_in_a_real_browser(
    served_page: str, frames: tuple[gpd.GeoDataFrame, ...]
) -> None:
    if assets_missing():
        pytest.fail("local map assets missing: run `npm ci` in maps/")
    before, after, roads = frames
    with open_page(served_page, viewport=(1280, 900)) as (page, log):
        page.wait_for_function("() => (window.L !== undefined)")
        page.wait_for_function(
            f"() => document.querySelectorAll('path.wangge-design-after').length === {len(after)}"
        )
        # the proposal is shown first, with the current lines dashed on top
        assert page.locator("path.wangge-design-after").count() == len(after)
        assert page.locator("path.wangge-design-before").count() == 0
        assert page.locator("path.wangge-design-before-outline").count() == len(before)
        assert page.locator("path.wangge-design-road").count() == len(roads)
        assert page.locator("div.wangge-grid-label").count() == len(after)
        fills = page.eval_on_selector_all(
            "path.wangge-design-after", "ps => new Set(ps.map(p => p.getAttribute('fill'))).size"
        )
        assert fills >= 2  # coloured by households
        names = [
            n.strip()
            for n in page.locator(".leaflet-control-layers-list label span").all_inner_texts()
        ]
        for name in (AFTER_LAYER, BEFORE_LAYER, BEFORE_OUTLINE_LAYER, ROAD_LAYER, "底图"):
            assert name in names, names
        assert "网格户数" in page.locator(".legend").inner_text()
        summary = page.locator("div.wangge-design-summary").inner_text()
        for word in ("现状", "方案", "户数标准差", "达标率", "平均紧凑度"):
            assert word in summary, summary
        assert "翠苑社区" in page.locator(".wangge-title").inner_text()
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifact_path("design_map.png")))

        # (the grid's centre may lie under a road, which has its own tooltip)
        page.locator("path.wangge-design-after").first.dispatch_event("mouseover")
        tip = page.locator(".leaflet-tooltip").first.inner_text()
        assert "网格编码" in tip and COMMUNITY in tip and "紧凑度" in tip

        # the radio button switches to the current grids
        page.get_by_text(BEFORE_LAYER, exact=True).click()
        page.wait_for_function(
            f"() => document.querySelectorAll('path.wangge-design-before').length === {len(before)}"
        )
        assert page.locator("path.wangge-design-after").count() == 0
        assert page.locator("div.wangge-grid-label").count() == len(before)
        page.locator("path.wangge-design-before").first.dispatch_event("mouseover")
        assert "翠苑社区第" in page.locator(".leaflet-tooltip").last.inner_text()
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifact_path("design_map_before.png")))

        assert log.tiles, "the page should have asked for tiles (and been refused)"
        assert log.local_failures() == []
        assert log.page_errors == []
