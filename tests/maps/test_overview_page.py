"""The overview page (/map) in Chromium with every non-local request blocked: the offline
basemap draws with its streets' Chinese names (from the glyphs the server draws, not the
browser's fonts), and every tile layer draws over it; a GCJ-02 raster source is shifted with
the same formula as the server's."""

from __future__ import annotations

import math
import re

import httpx
import pytest
from sqlalchemy import Engine, text

from etl.load import load_layers
from etl.sample import generate_district
from gis.coords import wgs84_to_gcj02
from gis.settings import Settings
from maps.assets import external_references, render_offline
from maps.district import base_map
from maps.glyphs import find_label_fonts
from tests.browser import TILE_MAP_READY, artifact_path, open_page, serve_page
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def district(engine: Engine, live_server: LiveServer) -> dict:
    layers = generate_district(3000, 11, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        names = {r[0] for r in conn.execute(text("SELECT DISTINCT name FROM road_edge"))}
        grids = {r[0] for r in conn.execute(text("SELECT code FROM grid WHERE valid_to IS NULL"))}
        extent = conn.execute(
            text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(g)"
                "::geometry e FROM (SELECT geom g FROM grid UNION ALL SELECT geom FROM building"
                " UNION ALL SELECT geom FROM road_edge UNION ALL SELECT geom FROM facility) t) x"
            )
        ).one()
    return {"roads": names, "grids": grids, "extent": tuple(extent)}


def tile_outside(url: str, extent: tuple[float, float, float, float]) -> bool:
    """Tell whether the tile ``…/z/x/y.pbf`` lies wholly outside ``extent`` (W, S, E, N)."""
    z, x, y = (int(v) for v in re.search(r"/(\d+)/(\d+)/(\d+)\.pbf", url).groups())
    n = 2**z
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    margin = 0.001  # the page grows the extent by 0.0005 degrees
    w, s, e, n_ = extent
    return east < w - margin or west > e + margin or north < s - margin or south > n_ + margin


READY = TILE_MAP_READY


def test_overview_draws_the_offline_basemap_and_every_layer(
    district: dict, live_server: LiveServer
) -> None:
    page_html = httpx.get(f"{live_server.url}/map", timeout=60).text
    assert external_references(page_html) == []
    # no grid or building is embedded: they come as tiles (facilities stay in the page)
    assert '"Polygon"' not in page_html and '"MultiPolygon"' not in page_html
    with open_page(f"{live_server.url}/map", screenshot="overview_map_zoomed.png") as (page, log):
        page.wait_for_function(READY)
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifact_path("overview_map.png")))
        # the basemap: streets drawn, and their names in Chinese from the district's data
        roads = page.evaluate(
            "window.wanggeBasemap.gl.queryRenderedFeatures({layers: ['road-label']})"
            ".map(f => f.properties.name)"
        )
        assert roads and set(roads) <= district["roads"]
        lines = page.evaluate(
            "window.wanggeBasemap.gl.queryRenderedFeatures().filter("
            "f => f.sourceLayer === 'road').length"
        )
        assert lines > 0
        # drawn once, whole, not once per tile as they came (each frame is slow in a
        # browser without a GPU); unless a tile came later than the hold, as on a machine
        # busy with other work (a fresh-clone run drew 5 so)
        basemap = page.evaluate(
            "({f: window.wanggeBasemap.framesAtIdle, late: window.wanggeBasemap.heldOut})"
        )
        assert basemap["f"] == 1 or basemap["late"] is True, basemap
        tiles = page.evaluate("window.wanggeTiles")
        drawn = {f["code"] for f in tiles["网格（按户数着色）"]["features"]["grids"].values()}
        assert drawn == district["grids"]
        assert page.locator("path.wangge-grid").count() >= len(district["grids"])
        assert page.locator("path.wangge-shelter").count() > 0
        assert page.locator("path.wangge-facility").count() > 0
        # no tile asked for outside the district: it could only be empty
        tile_urls = [u for u in log.requests if re.search(r"/tiles/\w+/\d+/\d+/\d+\.pbf", u)]
        assert tile_urls
        assert [u for u in tile_urls if tile_outside(u, district["extent"])] == []
        # street zoom: buildings, grid codes; the H3 layer when switched on
        page.evaluate("wanggeMap.setZoom(16)")
        page.locator(".leaflet-control-layers-list label", has_text="人口（H3网格）").click()
        page.wait_for_function(READY)
        page.wait_for_selector("path.wangge-building")
        page.wait_for_selector("path.wangge-h3")
        labels = page.eval_on_selector_all(
            "div.wangge-grid-label", "es => es.map(e => e.innerText)"
        )
        assert labels and set(labels) <= district["grids"]
        # a park shelter lies under its park's marker: the facilities go off first
        for kind in ("医疗", "养老", "公园", "学校", "社区服务中心"):
            page.locator(".leaflet-control-layers-list label", has_text=kind).click()
        page.locator("path.wangge-shelter").first.click()
        popup = page.locator(".leaflet-popup-content").inner_text()
        for word in ("名称", "类别", "容量", "当前人数"):
            assert word in popup
        page.wait_for_timeout(400)
        assert log.external == []
        assert log.local_failures() == []
        assert log.page_errors == []


#: What MapLibre holds per fontstack: ranges received from the server, characters with a
#: glyph, and whether it drew any character itself (TinySDF, the browser's fonts).
GLYPH_MANAGER = """(() => {
    var entries = window.wanggeBasemap.gl.style.glyphManager.entries, out = {};
    Object.keys(entries).forEach(function (stack) {
        var e = entries[stack];
        out[stack] = {
            ranges: Object.keys(e.ranges).filter(function (r) { return e.ranges[r]; }),
            glyphs: Object.keys(e.glyphs).filter(function (c) { return e.glyphs[c]; }).map(Number),
            drewLocally: !!(e.tinySDF || e.ideographTinySDF)
        };
    });
    return out;
})()"""
#: The glyph answers the page received, with their HTTP status.
GLYPH_ANSWERS = (
    "performance.getEntriesByType('resource').filter(e => e.name.includes('/glyphs/'))"
    ".map(e => [e.name, e.responseStatus])"
)


@pytest.mark.skipif(find_label_fonts() is None, reason="no CJK font installed")
def test_street_names_are_drawn_from_the_servers_glyphs(
    district: dict, live_server: LiveServer
) -> None:
    with open_page(f"{live_server.url}/map", screenshot="overview_map_labels.png") as (
        page,
        log,
    ):
        page.wait_for_function(READY)
        # the glyphs came from this server (one answer per fontstack), and were answered
        answers = page.evaluate(GLYPH_ANSWERS)
        assert answers and all(status == 200 for _, status in answers), answers
        assert all(url.startswith(live_server.url) for url, _ in answers)
        names = page.evaluate(
            "window.wanggeBasemap.gl.queryRenderedFeatures({layers: ['road-label']})"
            ".map(f => f.properties.name)"
        )
        assert names and set(names) <= district["roads"]
        stack = page.evaluate(
            "window.wanggeBasemap.gl.getLayoutProperty('road-label', 'text-font')[0]"
        )
        held = page.evaluate(GLYPH_MANAGER)
        # every character of the street names on screen has a glyph from the server's
        # ranges, and MapLibre drew none itself
        assert held[stack]["ranges"] and not held[stack]["drewLocally"]
        assert {ord(c) for name in names for c in name} <= set(held[stack]["glyphs"])
        assert not any(h["drewLocally"] for h in held.values())
        assert log.external == []
        assert log.local_failures() == []
        assert log.page_errors == []


def test_a_gcj02_raster_source_is_shifted_as_the_server_would(tmp_path_factory) -> None:
    settings = Settings(tile_url="amap")
    m = base_map((120.08, 30.31, 120.10, 30.33), settings)
    html = render_offline(m)
    assert "autonavi" in html and '"gcj02": true' in html
    points = [(120.09, 30.32), (116.397, 39.909), (121.47, 31.23)]
    with serve_page(html, tmp_path_factory.mktemp("amap"), "amap.html") as url:
        amap = re.compile(r"autonavi\.com/appmaptile")
        with open_page(url, screenshot="amap_shifted.png", tile_pattern=amap) as (page, log):
            page.wait_for_function("() => (window.wanggeMap !== undefined)")
            for lon, lat in points:
                glat, glon = page.evaluate(f"wanggeToGcj02({lat}, {lon})")
                want = wgs84_to_gcj02(lon, lat)
                assert abs(glon - float(want[0])) < 1e-9 and abs(glat - float(want[1])) < 1e-9
            assert log.tiles and all("autonavi" in t for t in log.tiles)
            # a tile's place on screen is moved by the GCJ-02 offset (some 500 m here)
            shift = page.evaluate(
                "(() => { var l; wanggeMap.eachLayer(x => { if (x.options.gcj02) l = x; });"
                " var c = Object.values(l._tiles)[0].coords;"
                " var p = l._getTilePos(c), q = L.TileLayer.prototype._getTilePos.call(l, c);"
                " return [p.x - q.x, p.y - q.y]; })()"
            )
            assert abs(shift[0]) > 5 or abs(shift[1]) > 5
