"""Maps at city scale: the overview over vector tiles vs today's folium page embedding GeoJSON.

The data: the sample district of ``--households`` households (200,000 by default), loaded
into a scratch PostGIS database with the project's loader, served by the real app under
uvicorn on loopback.

Contenders, in one run:

tiles (ours)
    ``/map``: the offline basemap (MapLibre GL) and Leaflet.VectorGrid layers over
    ``/tiles/{layer}/{z}/{x}/{y}.pbf`` (``ST_AsMVT``), no feature in the page.
folium GeoJSON (today's page)
    :func:`api.services.district.district_map_html`: every grid, building, facility and
    shelter embedded as GeoJSON (OpenStreetMap raster tiles, blocked as offline).

Measured: the overview ready in headless Chromium with every non-local request blocked
(the median of ``--page-runs`` loads, each in a new browser context), from the page's
navigation start (``performance.now()`` in the page; the launch of the
test browser is printed beside it, not counted) to all layers drawn (the basemap idle
and every tile layer loaded; for the GeoJSON page every grid path drawn), the bytes
transferred (``performance`` entries, and the basemap tiles MapLibre's workers fetched,
fetched again as a browser does), tile latency p50/p99 cold (first request, built
from PostGIS, once the server's start-up warm-up is done: the first ``/map`` is timed
apart) and warm (the server's tile cache) over zooms 6-18 and the public layers, the
same for the OGC API tiles of every public collection,
and OGC API items pages of 1,000 buildings and of 1,000 grids (the slower p50 is the
target's).  Answers checked: the grids each page drew
against the database, the OGC pages' ids and matched count against the table.

Usage::

    .venv/bin/python benchmarks/maps.py                      # 200,000 households
    .venv/bin/python benchmarks/maps.py --households 20000
    .venv/bin/python benchmarks/maps.py --keep               # keep the district for --reuse
    .venv/bin/python benchmarks/maps.py --reuse --keep       # time again on the kept district

Prints a summary to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.services.district import district_map_html
from benchmarks._common import scratch_database
from etl.load import load_layers
from etl.sample import generate_district
from gis.db import cluster
from gis.db.migrate import upgrade
from gis.settings import Settings, get_settings
from tests.browser import open_page, serve_page

BENCH_DB = "wangge_bench_maps"
LAYERS = ("basemap", "grids", "buildings", "h3", "roads", "shelters")
#: "at any zoom": from a province's view (6) to a building's (18)
ZOOMS = tuple(range(6, 19))

READY_TILES = (
    "window.wanggeBasemap && window.wanggeBasemap.loaded && "
    "Object.values(window.wanggeTiles || {}).every(t => t.loaded || t.tiles === 0)"
)
BYTES = (
    "performance.getEntries().filter(e => e.transferSize !== undefined)"
    ".reduce((s, e) => s + e.transferSize, 0)"
)

#: Requests the page made, by kind: tiles per layer (``tiles/<layer>``), the labels' glyphs
#: (``glyphs``), the rest as one.
#: MapLibre fetches the basemap's tiles in its workers, whose entries are not the page's:
#: those are counted from the tiles MapLibre holds (its 5.x ``tileManagers``).
REQUESTS = """(() => {
    var out = {};
    performance.getEntriesByType('resource').forEach(function (e) {
        var m = e.name.match(/\\/tiles\\/([a-z0-9_]+)\\/\\d+\\/\\d+\\/\\d+\\.pbf/);
        var glyphs = e.name.indexOf('/tiles/basemap/glyphs/') >= 0;
        var key = m ? 'tiles/' + m[1] : (glyphs ? 'glyphs' : 'other');
        out[key] = (out[key] || 0) + 1;
    });
    var gl = window.wanggeBasemap && window.wanggeBasemap.gl;
    var held = gl && gl.style && gl.style.tileManagers && gl.style.tileManagers.wangge;
    if (held && held.getIds) { out['tiles/basemap'] = held.getIds().length; }
    return out;
})()"""
#: The basemap tiles MapLibre holds, as URLs: its workers fetch them, and a worker's
#: requests are not among the page's ``performance`` entries.
BASEMAP_TILE_URLS = """(() => {
    var gl = window.wanggeBasemap && window.wanggeBasemap.gl;
    var held = gl && gl.style && gl.style.tileManagers && gl.style.tileManagers.wangge;
    if (!held || !held.getIds) { return []; }
    var template = gl.getStyle().sources.wangge.tiles[0];
    return held.getIds().map(function (id) {
        var c = held.getTileByID(id).tileID.canonical;
        return template.replace('{z}', c.z).replace('{x}', c.x).replace('{y}', c.y);
    });
})()"""


def bytes_over_the_wire(urls: list[str]) -> int:
    """What fetching ``urls`` as a browser does (gzip accepted) transfers, bodies only."""
    total = 0
    with httpx.Client(timeout=120, headers={"Accept-Encoding": "gzip"}) as client:
        for url in urls:
            with client.stream("GET", url) as r:
                r.raise_for_status()
                for _ in r.iter_raw():
                    pass
                total += r.num_bytes_downloaded
    return total


#: Seconds from navigation start to the page's first byte (its build on the server).
PAGE_RESPONSE = "performance.getEntriesByType('navigation')[0].responseStart / 1000"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def district_database(
    households: int, seed: int, reuse: bool, name: str = BENCH_DB
) -> tuple[str, Engine]:
    """The scratch database holding a district of ``households``, and an engine on it.

    With ``reuse`` and a database left by a run before (``--keep``), it is migrated to the
    current head and timed as it is (the load takes minutes at 200,000 households); its
    household count must match ``households``, else the numbers would be labelled wrong.
    """
    url, kept = scratch_database(name, reuse=reuse)
    engine = create_engine(url)
    upgrade(engine)
    if kept:
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM household")).scalar_one()
        if n != households:
            raise SystemExit(
                f"{name} holds {n:,} households, not {households:,}: "
                f"run with --households {n} or without --reuse"
            )
        log(f"reusing {name} ({n:,} households)")
        return url, engine
    t = time.perf_counter()
    layers = generate_district(households, seed, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    del layers
    log(f"district of {households:,} households loaded in {time.perf_counter() - t:.0f} s")
    return url, engine


def serve(url: str, settings: Settings) -> tuple[str, Any]:
    import uvicorn

    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, database_url=url), port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    r = math.radians(lat)
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(r)) / math.pi) / 2 * n)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def grids_in_view(engine: Engine, bounds: dict[str, float]) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM grid WHERE valid_to IS NULL AND ST_Intersects(geom, "
                "ST_MakeEnvelope(:w, :s, :e, :n, 4326))"
            ),
            bounds,
        ).scalar_one()


def ready_after_navigation(page: Any, condition: str, timeout_ms: int) -> float:
    """Seconds from the page's navigation start to the first moment ``condition`` holds.

    Read in the page (``performance.now()`` counts from the navigation's time origin), so it
    is what the user waits for, not the launch of the test browser.
    """
    # A function, not an expression: the page's CSP forbids eval of a string.
    stamped = f"() => ({condition}) && (window.__wanggeReadyAt ||= performance.now())"
    page.wait_for_function(stamped, timeout=timeout_ms, polling=20)
    return page.evaluate("window.__wanggeReadyAt") / 1000


#: MapLibre's functions that draw a label's characters in the page (TinySDF): their time
#: is what the server's glyphs save.
LOCAL_GLYPH_FUNCTIONS = frozenset({"draw", "_drawGlyph", "edt", "edt1d"})


def main_thread_profile(profile: dict[str, Any], top: int = 8) -> dict[str, Any]:
    """The page's main-thread time by function (self time, ms) from a CDP ``Profiler`` profile."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    by_node: dict[int, float] = {}
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        by_node[node_id] = by_node.get(node_id, 0.0) + delta / 1000
    by_function: dict[str, float] = {}
    glyphs_ms = 0.0
    for node_id, ms in by_node.items():
        frame = nodes[node_id]["callFrame"]
        name = frame["functionName"] or "(anonymous)"
        script = frame["url"].rsplit("/", 1)[-1]
        key = f"{name} {script}".strip()
        by_function[key] = by_function.get(key, 0.0) + ms
        if name in LOCAL_GLYPH_FUNCTIONS and script.startswith("maplibre-gl"):
            glyphs_ms += ms
    busy = sum(ms for k, ms in by_function.items() if not k.startswith("(idle)"))
    ranked = sorted(by_function.items(), key=lambda kv: -kv[1])[:top]
    return {
        "busy_ms": round(busy),
        "local_glyphs_ms": round(glyphs_ms),
        "top": {k: round(v) for k, v in ranked},
    }


def measure_tile_page(base: str, engine: Engine, *, profile: bool = False) -> dict[str, Any]:
    t0 = time.perf_counter()
    with open_page(None, timeout_ms=120_000) as (page, _log):
        cdp = None
        if profile:
            cdp = page.context.new_cdp_session(page)
            cdp.send("Profiler.enable")
            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            cdp.send("Profiler.start")
        page.goto(f"{base}/map")
        ready = ready_after_navigation(page, READY_TILES, 120_000)
        with_launch = time.perf_counter() - t0
        main_thread = None
        if cdp is not None:
            main_thread = main_thread_profile(cdp.send("Profiler.stop")["profile"])
        drawn = page.evaluate(
            "new Set(Object.values(window.wanggeTiles['网格（按户数着色）'].features.grids)"
            ".map(p => p.code)).size"
        )
        b = page.evaluate(
            "(() => { var b = wanggeMap.getBounds(); return {w: b.getWest(), s: b.getSouth(),"
            " e: b.getEast(), n: b.getNorth()}; })()"
        )
        basemap_frames = page.evaluate("window.wanggeBasemap.framesAtIdle")
        transferred = page.evaluate(BYTES)
        basemap_bytes = bytes_over_the_wire(page.evaluate(BASEMAP_TILE_URLS))
        requests = page.evaluate(REQUESTS)
        page_s = page.evaluate(PAGE_RESPONSE)
    expected = grids_in_view(engine, b)
    out = {
        "ready_s": ready,
        "ready_with_browser_launch_s": with_launch,
        "page_response_s": page_s,
        "bytes": transferred + basemap_bytes,
        "basemap_tile_bytes": basemap_bytes,
        "requests": requests,
        "grids_drawn": drawn,
        "grids_in_view": expected,
        "basemap_frames_to_idle": basemap_frames,
    }
    if main_thread is not None:
        out["main_thread"] = main_thread
    return out


def measure_geojson_page(html: str, engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        n_grids = conn.execute(
            text("SELECT count(*) FROM grid WHERE valid_to IS NULL")
        ).scalar_one()
    with tempfile.TemporaryDirectory() as folder, serve_page(html, Path(folder), "old.html") as url:
        t0 = time.perf_counter()
        with open_page(url, timeout_ms=300_000) as (page, _log):
            ready = ready_after_navigation(
                page,
                f"document.querySelectorAll('path.wangge-grid').length >= {n_grids}",
                300_000,
            )
            with_launch = time.perf_counter() - t0
            drawn = page.evaluate("document.querySelectorAll('path.wangge-grid').length")
            transferred = page.evaluate(BYTES)
    return {
        "ready_s": ready,
        "ready_with_browser_launch_s": with_launch,
        "bytes": transferred,
        "grids_drawn": drawn,
        "grids_in_view": n_grids,
    }


def repeated(measure: Callable[[], dict[str, Any]], runs: int) -> dict[str, Any]:
    """The first of ``runs`` measurements of a page, its ready time the median of all.

    A page's time to ready varies by ±0.3 s from one load to the next on a shared machine:
    one load is not a figure. Each run is a new browser context (nothing cached in it).
    """
    results = [measure() for _ in range(max(1, runs))]
    out = dict(results[0])
    out["ready_runs_s"] = [round(r["ready_s"], 3) for r in results]
    out["ready_s"] = statistics.median(r["ready_s"] for r in results)
    return out


def measure_warm_up(base: str) -> float:
    """Seconds until the server's first ``/map`` answers (it waits for the warm-up)."""
    t = time.perf_counter()
    httpx.get(f"{base}/map", timeout=600).raise_for_status()
    return time.perf_counter() - t


def map_tile_urls(base: str, centre: tuple[float, float], spread: int) -> list[str]:
    """The map's own tiles (``/tiles``) of every layer around the centre, zooms 6-18."""
    urls = []
    for z in ZOOMS:
        cx, cy = tile_of(*centre, z)
        for dx in range(-spread, spread + 1):
            for dy in range(-spread, spread + 1):
                urls += [f"{base}/tiles/{layer}/{z}/{cx + dx}/{cy + dy}.pbf" for layer in LAYERS]
    return urls


def ogc_tile_urls(base: str, centre: tuple[float, float]) -> list[str]:
    """OGC API — Tiles of every public collection at the centre, zooms 6-18 (tipg)."""
    with httpx.Client(timeout=120) as client:
        body = client.get(f"{base}/ogc/collections").json()
    urls = []
    for collection in body["collections"]:
        for z in ZOOMS:
            x, y = tile_of(*centre, z)
            urls.append(
                f"{base}/ogc/collections/{collection['id']}/tiles/WebMercatorQuad/{z}/{x}/{y}"
            )
    return urls


def measure_tiles(urls: list[str]) -> dict[str, Any]:
    """Each tile asked twice: cold (built) and warm (the server's cache)."""
    cold: list[float] = []
    warm: list[float] = []
    sizes: list[int] = []
    with httpx.Client(timeout=120) as client:
        for url in urls:
            t = time.perf_counter()
            r = client.get(url)
            cold.append(time.perf_counter() - t)
            r.raise_for_status()
            sizes.append(len(r.content))
            t = time.perf_counter()
            client.get(url).raise_for_status()
            warm.append(time.perf_counter() - t)
    return {
        "tiles": len(cold),
        "cold_p50_ms": 1000 * percentile(cold, 0.5),
        "cold_p99_ms": 1000 * percentile(cold, 0.99),
        "cold_max_ms": 1000 * max(cold),
        "warm_p50_ms": 1000 * percentile(warm, 0.5),
        "warm_p99_ms": 1000 * percentile(warm, 0.99),
        "max_tile_bytes": max(sizes),
    }


def measure_ogc(base: str, engine: Engine, pages: int) -> dict[str, Any]:
    """Pages of 1,000 buildings and of 1,000 grids (their people counts), p50 each."""
    out: dict[str, Any] = {"pages": pages}
    collections = (
        ("buildings", "pub_building", "building", ""),
        ("grids", "pub_grid", "grid", " WHERE valid_to IS NULL"),
    )
    for what, view, table, where in collections:
        with engine.connect() as conn:
            total = conn.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar_one()
        times = []
        with httpx.Client(timeout=120) as client:
            url = f"{base}/ogc/collections/public.{view}/items"
            client.get(url, params={"limit": 10}).raise_for_status()
            for i in range(pages):
                offset = (i * 1000) % max(total, 1)
                t = time.perf_counter()
                r = client.get(url, params={"limit": 1000, "offset": offset})
                times.append(time.perf_counter() - t)
                body = r.json()
                assert body["numberMatched"] == total, (view, body["numberMatched"], total)
                assert body["numberReturned"] == min(1000, total - offset)
        out[what] = total
        out[f"{what}_p50_ms"] = 1000 * statistics.median(times)
    out["p50_ms"] = max(out["buildings_p50_ms"], out["grids_p50_ms"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--spread", type=int, default=1, help="tiles each side of the centre")
    ap.add_argument("--ogc-pages", type=int, default=20)
    ap.add_argument(
        "--page-runs", type=int, default=5, help="loads of each page (ready: their median)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    ap.add_argument(
        "--reuse", action="store_true", help="time on the scratch database a --keep run left"
    )
    ap.add_argument(
        "--profile",
        action="store_true",
        help="profile the overview's main thread until ready (CDP sampling, by function)",
    )
    ap.add_argument(
        "--database",
        default=BENCH_DB,
        help="the scratch database's name (two runs side by side each keep their own)",
    )
    args = ap.parse_args()

    url, engine = district_database(args.households, args.seed, args.reuse, args.database)
    # One client asks for hundreds of tiles a minute here: the public rate limit
    # (WANGGE_RATE_PUBLIC_PER_MIN, per address) would answer 429 to the benchmark itself.
    settings = Settings(escalation_interval_s=0, rate_public_per_min=0, rate_writes_per_min=0)
    base, server = serve(url, settings)
    try:
        with engine.connect() as conn:
            w, s, e, n = conn.execute(
                text(
                    "SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x) FROM (SELECT "
                    "ST_Extent(geom)::geometry x FROM grid WHERE valid_to IS NULL) t"
                )
            ).one()
        centre = ((w + e) / 2, (s + n) / 2)
        # "cold" is a tile the server has not built yet, on a server that has started:
        # its warm-up (the overview, the counts per grid and per H3 cell) runs as it
        # starts; the first /map waits for it, and is timed on its own
        warm_up = measure_warm_up(base)
        log(f"first /map after the start (the warm-up): {warm_up:.2f} s")
        tiles = measure_tiles(map_tile_urls(base, centre, args.spread))
        log(f"tiles: {tiles}")
        ogc_tiles = measure_tiles(ogc_tile_urls(base, centre))
        log(f"OGC API tiles: {ogc_tiles}")
        ours = repeated(
            lambda: measure_tile_page(base, engine, profile=args.profile), args.page_runs
        )
        log(f"overview over tiles: {ours}")
        old_html = district_map_html(engine, Settings(tile_url="osm"), for_file=False)
        peer = repeated(lambda: measure_geojson_page(old_html, engine), args.page_runs)
        peer["page_bytes"] = len(old_html.encode())
        log(f"folium GeoJSON page: {peer}")
        ogc = measure_ogc(base, engine, args.ogc_pages)
        log(f"OGC items: {ogc}")
    finally:
        server.should_exit = True
        engine.dispose()
        if not args.keep:
            admin = create_engine(
                cluster.server_url(cluster.ensure_server(get_settings()), "postgres"),
                isolation_level="AUTOCOMMIT",
            )
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
            admin.dispose()
    checks = {
        "tile_page_grids_ok": ours["grids_drawn"] == ours["grids_in_view"],
        "geojson_page_grids_ok": peer["grids_drawn"] >= peer["grids_in_view"],
    }
    targets = {
        "ready_le_2s": ours["ready_s"] <= 2.0,
        "bytes_le_3MB": ours["bytes"] <= 3 * 1024**2,
        "tile_warm_p50_le_20ms": tiles["warm_p50_ms"] <= 20,
        "tile_warm_p99_le_100ms": tiles["warm_p99_ms"] <= 100,
        "tile_cold_p99_le_150ms": tiles["cold_p99_ms"] <= 150,
        "ogc_tile_warm_p50_le_20ms": ogc_tiles["warm_p50_ms"] <= 20,
        "ogc_tile_warm_p99_le_100ms": ogc_tiles["warm_p99_ms"] <= 100,
        "ogc_tile_cold_p99_le_150ms": ogc_tiles["cold_p99_ms"] <= 150,
        "ogc_1000_p50_le_100ms": ogc["p50_ms"] <= 100,
    }
    result = {
        "households": args.households,
        "load_average": os.getloadavg(),
        "first_map_after_start_s": warm_up,
        "tiles_page": ours,
        "geojson_page": peer,
        "ratio_bytes": peer["bytes"] / max(ours["bytes"], 1),
        "ratio_ready": peer["ready_s"] / max(ours["ready_s"], 1e-9),
        "tiles": tiles,
        "ogc_tiles": ogc_tiles,
        "ogc": ogc,
        "checks": checks,
        "targets": targets,
    }
    log(
        f"ratio folium/tiles: bytes {result['ratio_bytes']:.1f}x, "
        f"time to ready {result['ratio_ready']:.1f}x"
    )
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
