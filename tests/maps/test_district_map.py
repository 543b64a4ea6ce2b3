"""The district map renders without CDNs and draws every layer in Chromium with no tiles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import folium
import pytest

import geopandas as gpd
from shapely.geometry import MultiPolygon, Point, box

from gis.settings import Settings
from maps.assets import (
    CDN_ASSETS,
    STATIC_URL,
    VENDOR_URL,
    OfflineAssetError,
    assets_missing,
    external_references,
    local_url,
    localize,
    render_offline,
)
from maps.district import (
    BUILDING_LAYER,
    FACILITY_STYLES,
    GRID_LABEL_LAYER,
    GRID_LAYER,
    SHELTER_LAYER,
    district_map,
)
from tests.browser import artifact_path, open_page, serve_page

SETTINGS = Settings(
    tile_url="https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    tile_attribution='&copy; <a href="https://www.openstreetmap.org/copyright">'
    "OpenStreetMap</a> contributors",
)
WEST, SOUTH, STEP = 120.084, 30.314, 0.004  # 4 x 3 grids of about 400 m
N_GRIDS = 12


def _grids() -> gpd.GeoDataFrame:
    rows = []
    for i in range(N_GRIDS):
        col, row = i % 4, i // 4
        x, y = WEST + col * STEP, SOUTH + row * STEP
        rows.append(
            {
                "code": f"330106001{i + 1:03d}",
                "name": f"第{i + 1}网格",
                "community_name": ["翠苑一区", "翠苑二区", "文新社区"][row],
                "households": 120 + 95 * i,
                # 9 decimals on purpose: the page must carry 6
                "geometry": MultiPolygon(
                    [box(x + 1e-9, y + 1e-9, x + STEP - 3e-9, y + STEP - 7e-9)]
                ),
            }
        )
    return gpd.GeoDataFrame(rows, crs=4326)


def _buildings() -> gpd.GeoDataFrame:
    rows = []
    for i, (dx, dy) in enumerate([(0.001, 0.001), (0.0055, 0.0012), (0.0092, 0.006)]):
        x, y = WEST + dx, SOUTH + dy
        rows.append(
            {
                "name": f"{i + 1}幢",
                "floors": 6 + 5 * i,
                "use": ["residential", "mixed", "public"][i],
                "households": [48, 90, 0][i],
                "geometry": box(x, y, x + 0.0008, y + 0.0003),
            }
        )
    return gpd.GeoDataFrame(rows, crs=4326)


def _facilities() -> gpd.GeoDataFrame:
    kinds = [*FACILITY_STYLES, "shelter"]
    rows = [
        {
            "id": i + 1,
            "kind": kind,
            "name": f"{kind}-{i + 1}",
            "capacity": None if kind == "park" else 100 + i,
            "geometry": Point(WEST + 0.0015 + 0.0028 * i, SOUTH + 0.0068),
        }
        for i, kind in enumerate(kinds)
    ]
    return gpd.GeoDataFrame(rows, crs=4326)


def _shelters() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [
            {
                "facility_id": 6,
                "name": "翠苑公园避难场所",
                "shelter_class": "emergency",
                "capacity": 1500,
                "occupancy": 320,
                "geometry": Point(WEST + 0.0062, SOUTH + 0.0028),
            },
            {
                "facility_id": 7,
                "name": "文新中学避难场所",
                "shelter_class": "fixed",
                "capacity": 4000,
                "occupancy": 0,
                "geometry": Point(WEST + 0.0135, SOUTH + 0.0108),
            },
        ],
        crs=4326,
    )


@pytest.fixture(scope="module")
def district() -> folium.Map:
    return district_map(
        _grids(), _buildings(), _facilities(), _shelters(), settings=SETTINGS, title="翠苑街道"
    )


@pytest.fixture(scope="module")
def page_html(district: folium.Map) -> str:
    return render_offline(district)


# ---------------------------------------------------------------- offline assets


def test_rendered_page_loads_nothing_from_a_cdn(page_html: str) -> None:
    assert external_references(page_html) == []
    for cdn in ("cdn.jsdelivr.net", "cdnjs.cloudflare.com", "code.jquery.com", "netdna"):
        assert cdn not in page_html
    assert f'<script src="{VENDOR_URL}/leaflet/dist/leaflet.js"></script>' in page_html
    assert f'href="{STATIC_URL}/leaflet.awesome.rotate.css"' in page_html
    assert f"{VENDOR_URL}/d3/d3.min.js" in page_html  # branca's legend
    # an icon of its own: no request for /favicon.ico (a 404 in the console)
    assert page_html.count('<link rel="icon" href="data:,">') == 1
    # the basemap is configured, not a CDN script
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in page_html
    assert "OpenStreetMap" in page_html


def test_every_local_asset_is_installed() -> None:
    missing = assets_missing()
    assert missing == [], f"run `npm ci` in maps/ (missing: {missing})"


def test_save_is_offline_too(district: folium.Map, tmp_path: Path) -> None:
    district.save(tmp_path / "m.html")
    assert external_references((tmp_path / "m.html").read_text(encoding="utf-8")) == []


def test_localize_leaves_folium_defaults_alone() -> None:
    m = folium.Map()
    localize(m)
    assert m.default_js[0][1] == f"{VENDOR_URL}/leaflet/dist/leaflet.js"
    assert folium.Map.default_js[0][1].startswith("https://")


def test_unknown_cdn_is_an_error_naming_it() -> None:
    from folium.plugins import MarkerCluster

    m = folium.Map()
    MarkerCluster().add_to(m)
    with pytest.raises(OfflineAssetError, match=r"leaflet\.markercluster"):
        localize(m)
    m = folium.Map()
    localize(m)  # a link added after localize() is caught when the page is drawn
    m.get_root().header.add_child(folium.JavascriptLink("https://example.org/x.js"))
    with pytest.raises(OfflineAssetError, match=r"https://example\.org/x\.js"):
        m.get_root().render()


def test_local_url_table() -> None:
    assert local_url("/static/vendor/x.js") == "/static/vendor/x.js"
    assert (
        local_url("https://code.jquery.com/jquery-3.7.1.min.js", "/v")
        == "/v/jquery/dist/jquery.min.js"
    )
    assert {a.root for a in CDN_ASSETS.values()} == {"vendor", "static"}


def test_external_references_ignores_plain_links() -> None:
    page = (
        '<script src="/static/vendor/a.js"></script><a href="https://osm.org">osm</a>'
        '<link rel="stylesheet" href="//cdn.example/b.css"/>'
        "<script src='http://cdn.example/c.js'></script>"
    )
    assert external_references(page) == ["//cdn.example/b.css", "http://cdn.example/c.js"]


# ---------------------------------------------------------------- map content


def test_geojson_is_compact(district: folium.Map) -> None:
    grid_layer = next(
        c for c in district._children.values() if getattr(c, "layer_name", None) == GRID_LAYER
    )
    feature = grid_layer.data["features"][0]
    assert set(feature["properties"]) == {"code", "name", "community", "households", "fill"}
    ring = feature["geometry"]["coordinates"][0][0]
    for x, y in ring:
        assert round(x, 6) == x and round(y, 6) == y


def test_input_checks() -> None:
    with pytest.raises(ValueError, match="grids"):
        district_map(_grids().iloc[0:0], None, None, None, settings=SETTINGS)
    with pytest.raises(ValueError, match="households"):
        district_map(_grids().drop(columns="households"), None, None, None, settings=SETTINGS)


def test_grids_alone_and_other_crs() -> None:
    html = render_offline(district_map(_grids().to_crs(3857), None, None, None, settings=SETTINGS))
    assert "330106001001" in html and external_references(html) == []


# ---------------------------------------------------------------- in a real browser


@pytest.fixture(scope="module")
def served_page(page_html: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_page(page_html, tmp_path_factory.mktemp("site"), "district.html") as url:
        yield url


@pytest.mark.browser
def test_district_map_draws_every_layer_offline(served_page: str) -> None:
    if assets_missing():
        pytest.fail("local map assets missing: run `npm ci` in maps/")
    with open_page(served_page, screenshot="district_map_popup.png") as (page, log):
        page.wait_for_function("() => (window.L !== undefined && window.L.version === '1.9.3')")
        page.wait_for_function(
            f"() => document.querySelectorAll('path.wangge-grid').length === {N_GRIDS}"
        )
        assert page.locator("path.wangge-grid").count() == N_GRIDS
        assert page.locator("path.wangge-building").count() == 3
        assert page.locator("path.wangge-facility").count() == len(FACILITY_STYLES)
        assert page.locator("path.wangge-shelter").count() == 2
        assert page.locator("div.wangge-grid-label").count() == N_GRIDS
        assert page.evaluate("typeof jQuery") == "function"

        names = page.locator(".leaflet-control-layers-list label span").all_inner_texts()
        names = [n.strip() for n in names]
        expected = [GRID_LAYER, GRID_LABEL_LAYER, BUILDING_LAYER, SHELTER_LAYER]
        expected += [style[0] for style in FACILITY_STYLES.values()]
        for name in [*expected, "底图"]:
            assert name in names, names

        assert "网格户数" in page.locator(".legend").inner_text()  # branca legend via d3
        assert "翠苑街道" in page.locator(".wangge-title").inner_text()
        fills = page.eval_on_selector_all(
            "path.wangge-grid", "ps => new Set(ps.map(p => p.getAttribute('fill'))).size"
        )
        assert fills > 6  # coloured by households, not one flat colour
        page.wait_for_timeout(300)
        page.screenshot(path=str(artifact_path("district_map.png")))

        page.locator("path.wangge-grid").first.hover()
        tooltip = page.locator(".leaflet-tooltip").first
        assert "网格编码" in tooltip.inner_text()
        page.locator("path.wangge-shelter").first.click()
        popup = page.locator(".leaflet-popup-content").inner_text()
        for word in ("类别", "紧急避难场所", "容量", "当前人数", "320"):
            assert word in popup, popup
        page.wait_for_timeout(400)  # let the popup fade in before the final screenshot

        assert log.tiles, "the page should have asked for tiles (and been refused)"
        assert log.external == []
        assert log.local_failures() == []
        assert log.page_errors == []
