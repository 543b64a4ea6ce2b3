"""The topology map draws each problem of a corrupted district, offline, in Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import folium
import pytest

import geopandas as gpd
import shapely
from shapely import Point

from etl.sample import generate_district
from gis.settings import Settings
from grids.topology import KIND_LABELS, TopologyReport, check_grids
from maps.assets import (
    VENDOR_URL,
    assets_missing,
    external_references,
    render_offline,
)
from maps.topology import GRID_LAYER, PROBLEM_CLASS, topology_map
from tests.browser import artifact_path, open_page, serve_page

SETTINGS = Settings(tile_url="https://tile.openstreetmap.org/{z}/{x}/{y}.png")
BUFFER_DEG = 0.0005  # as `UPDATE grid SET geom = ST_Multi(ST_Buffer(geom, 0.0005))`


@pytest.fixture(scope="module")
def corrupted() -> tuple[gpd.GeoDataFrame, TopologyReport, str, gpd.GeoDataFrame]:
    layers = generate_district(2000, 7, progress=False)
    admin = layers["admin_area"]
    grids = layers["grid"].copy()
    target = str(grids["code"].iloc[1])
    grids.loc[1, "geometry"] = shapely.buffer(grids.geometry.iloc[1], BUFFER_DEG)
    # two incidents the database placed in no grid, outside the district
    west, south, _, _ = grids.total_bounds
    lost = gpd.GeoDataFrame(
        {"kind": ["incident", "incident"], "id": [901, 902], "households": [0, 0]},
        geometry=[Point(west - 0.002, south - 0.001), Point(west - 0.001, south - 0.002)],
        crs=4326,
    )
    communities = admin[admin["level"] == "community"]
    report = check_grids(grids, communities, buildings=lost)
    return grids, report, target, communities


@pytest.fixture(scope="module")
def page_html(corrupted: tuple[gpd.GeoDataFrame, TopologyReport, str, gpd.GeoDataFrame]) -> str:
    grids, report, _, communities = corrupted
    return render_offline(
        topology_map(grids, report.problems, communities=communities, settings=SETTINGS)
    )


def _expected_paths(problems: gpd.GeoDataFrame) -> int:
    """Leaflet draws a (Multi)Polygon as one path and each point of a MultiPoint as one."""
    count = 0
    for geom in problems.geometry:
        if geom is None or geom.is_empty:
            continue
        count += len(geom.geoms) if geom.geom_type == "MultiPoint" else 1
    return count


def test_the_corrupted_case_has_the_problems_to_draw(
    corrupted: tuple[gpd.GeoDataFrame, TopologyReport, str, gpd.GeoDataFrame],
) -> None:
    _, report, target, _ = corrupted
    summary = report.summary
    assert summary["overlap"] >= 2 and summary["crossing"] == 1 and summary["no_grid"] == 1
    assert all(target in codes for codes in report.problems.query("kind == 'overlap'").grid_codes)


def test_page_is_offline_and_labelled_in_chinese(page_html: str) -> None:
    assert external_references(page_html) == []
    assert f"{VENDOR_URL}/leaflet/dist/leaflet.js" in page_html
    for word in (
        "网格拓扑检查",
        "图例",
        "重叠",
        "越出社区边界",
        "不在任何网格内",
        GRID_LAYER,
        "社区边界",
    ):
        assert word in page_html
    assert f"{PROBLEM_CLASS}-overlap" in page_html


def test_a_map_without_problems_says_so() -> None:
    layers = generate_district(2000, 7, progress=False)
    admin = layers["admin_area"]
    report = check_grids(layers["grid"], admin[admin["level"] == "community"])
    html = render_offline(topology_map(layers["grid"], report.problems, settings=SETTINGS))
    assert "未发现问题" in html and external_references(html) == []
    assert isinstance(topology_map(layers["grid"], report.problems, settings=SETTINGS), folium.Map)


@pytest.fixture(scope="module")
def served_page(page_html: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_page(page_html, tmp_path_factory.mktemp("topology-site"), "topology.html") as url:
        yield url


@pytest.mark.browser
def test_topology_map_draws_every_problem_offline(
    served_page: str, corrupted: tuple[gpd.GeoDataFrame, TopologyReport, str, gpd.GeoDataFrame]
) -> None:
    if assets_missing():
        pytest.fail("local map assets missing: run `npm ci` in maps/")
    grids, report, target, communities = corrupted
    problems = report.problems
    expected = _expected_paths(problems)
    with open_page(served_page, screenshot="topology_map_popup.png") as (page, log):
        page.wait_for_function("() => (window.L !== undefined)")
        page.wait_for_function(
            f"() => document.querySelectorAll('path.{PROBLEM_CLASS}').length === {expected}"
        )
        assert page.locator(f"path.{PROBLEM_CLASS}").count() == expected
        for kind in ("overlap", "crossing"):
            n = int((problems["kind"] == kind).sum())
            assert page.locator(f"path.{PROBLEM_CLASS}-{kind}").count() == n
        assert page.locator(f"path.{PROBLEM_CLASS}-no_grid").count() == 2
        assert page.locator("path.wangge-grid").count() == len(grids)
        assert page.locator("path.wangge-community").count() == len(communities)
        assert page.locator("div.wangge-grid-label").count() == len(grids)
        # overlaps are red, crossings purple
        fills = page.eval_on_selector_all(
            f"path.{PROBLEM_CLASS}-overlap", "ps => ps.map(p => p.getAttribute('fill'))"
        )
        assert set(fills) == {"#e31a1c"}
        legend = page.locator(".wangge-legend").inner_text()
        for kind in ("overlap", "crossing", "no_grid"):
            assert KIND_LABELS[kind] in legend
        names = [
            n.strip()
            for n in page.locator(".leaflet-control-layers-list label span").all_inner_texts()
        ]
        assert GRID_LAYER in names and any(n.startswith("重叠（") for n in names), names
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifact_path("topology_map.png")))

        page.locator(f"path.{PROBLEM_CLASS}-crossing").first.hover()
        tooltip = page.locator(".leaflet-tooltip").first.inner_text()
        assert "越出社区边界" in tooltip and target in tooltip
        page.locator(f"path.{PROBLEM_CLASS}-crossing").first.click(force=True)
        popup = page.locator(".leaflet-popup-content").inner_text()
        assert target in popup and "clip it to the community boundary" in popup
        page.wait_for_timeout(400)

        assert log.external == []
        assert log.local_failures() == []
        assert log.page_errors == []
