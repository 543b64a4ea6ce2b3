"""Place 1M and 10M points in 500 grids (网格) and H3 cells: ours against the peers.

The district: about 500 Voronoi grids over a 10 km disc near 30.3°N 120.1°E, every
shared edge densified to 5 m and bent (two sines) so that each grid has hundreds of
vertices, the grids tiling the district exactly.  Points: uniform, about 90 % inside the
district and 10 % around it (in no grid).

Contenders, all on the same points, answers checked against each other:

ours
    :class:`grids.locate.GridLocator`: ``build`` from the grids, then
    ``locate_with_cells`` (grid and H3 resolution-10 cell of every point).
    ``ours_s`` = build + locate.
sjoin + h3
    ``geopandas.sjoin(points, grids, predicate="within")`` (points on the left,
    including making the point GeoDataFrame), then ``h3.latlng_to_cell`` per point
    in a Python loop (h3-py's ``basic_int`` API, which gives the ``bigint`` directly;
    h3-py has no vectorised call).
PostGIS (1M only)
    Written the fast way: grids loaded and cut with ``ST_Subdivide`` (64 vertices) under
    a GiST index; points sent by binary ``COPY`` as EWKB into an unlogged table with
    a GiST index of their own; then, per grid piece, the points it covers
    (``ST_Intersects``, which for a point is ``ST_Covers`` and, unlike
    ``ST_Contains``, keeps points on the cut lines), so each piece is prepared once;
    the smallest grid per point is kept.  Everything from the grids to the answers in
    numpy counts.  No H3 step (h3-pg is not installed): conservative for us.
SedonaDB + h3
    SedonaDB's spatial join (``ST_Intersects`` of ``ST_Point(lon, lat)`` and the
    grids, smallest grid per point) plus the same h3-py step (its best time, measured
    for sjoin + h3, added).

Ties: ours, PostGIS and SedonaDB give a point covered by several grids to the smallest
position; ``within`` gives boundary points no grid.  Differences are checked with
shapely: a point where a peer differs but lies on a grid boundary (measure zero, so
none are expected in random data) is counted apart, not as a disagreement.

Every contender is timed as the best of ``--repeat`` runs (3; the machine may be
shared), after a warm-up on 10,000 points.  The 10M run is ours alone, once, in a
fresh process so that ``peak_mb`` (peak RSS, input and output arrays included) is
ours only; a 200,000-point sample of it is checked against shapely afterwards.

Usage::

    .venv/bin/python benchmarks/locate.py            # 1M + 10M, about 1.5 minutes
    .venv/bin/python benchmarks/locate.py --quick    # 100k + 1M, about 10 seconds

Prints a summary to stderr and one final line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import geopandas as gpd
import h3.api.basic_int as h3int
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etl.synthetic_grids import district_grids
from grids.locate import NO_GRID, GridLocator

BENCH_DB = "wangge_bench_locate"
RESOLUTION = 10


# --------------------------------------------------------------------------- data


def random_points(
    district: shapely.Polygon, n: int, seed: int, outside_share: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform points, about ``1 - outside_share`` of them in the district, degrees.

    Candidates are drawn around the district and those outside it kept with the
    probability that gives the asked share, straight into the output arrays (no
    shuffle, no concatenation: the memory of a 10M run stays that of its answer).
    """
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = district.bounds
    pad_x, pad_y = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
    shapely.prepare(district)
    lon, lat = np.empty(n), np.empty(n)
    filled, keep_outside = 0, None
    while filled < n:
        m = 2_000_000
        x = rng.uniform(x0 - pad_x, x1 + pad_x, m)
        y = rng.uniform(y0 - pad_y, y1 + pad_y, m)
        inside = shapely.contains_xy(district, x, y)
        if keep_outside is None:  # odds of keeping an outside candidate
            share_in = inside.mean()
            keep_outside = outside_share / (1 - outside_share) * share_in / (1 - share_in)
        keep = np.flatnonzero(inside | (rng.random(m) < keep_outside))[: n - filled]
        lon[filled : filled + keep.size] = x[keep]
        lat[filled : filled + keep.size] = y[keep]
        filled += keep.size
    return lon, lat


def _fresh(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """A copy whose geometries share nothing (no prepared state) with ``grids``."""
    out = grids.copy()
    out.geometry = shapely.from_wkb(shapely.to_wkb(grids.geometry.to_numpy()))
    return out


def _first_per_point(n: int, point: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Smallest grid per point from (point, grid) pairs; -1 where a point has none."""
    out = np.full(n, NO_GRID, dtype=np.int64)
    if point.size:
        order = np.lexsort((grid, point))
        point, grid = point[order], grid[order]
        first = np.ones(point.size, dtype=bool)
        first[1:] = point[1:] != point[:-1]
        out[point[first]] = grid[first]
    return out


# --------------------------------------------------------------------------- contenders


def run_ours(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    geoms = _fresh(grids).geometry.to_numpy()
    t0 = time.perf_counter()
    locator = GridLocator.build(geoms, RESOLUTION)
    t1 = time.perf_counter()
    pos, cells = locator.locate_with_cells(lon, lat)
    t2 = time.perf_counter()
    cover = locator.cover
    k = np.searchsorted(cover.cells, cells).clip(0, max(cover.cells.size - 1, 0))
    in_boundary = (cover.cells[k] == cells) & (cover.interior[k] == -2)
    return {
        "build_s": t1 - t0,
        "locate_s": t2 - t1,
        "total_s": t2 - t0,
        "pos": pos,
        "cells": cells,
        "n_cells": int(cover.cells.size),
        "boundary_cells": cover.boundary_cells,
        "boundary_point_share": float(in_boundary.mean()) if cells.size else 0.0,
        "margin_deg": cover.margin_deg,
    }


def run_sjoin(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    right = _fresh(grids)[["geometry"]]
    t0 = time.perf_counter()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    t1 = time.perf_counter()
    joined = gpd.sjoin(points, right, predicate="within", how="inner")
    pos = _first_per_point(
        lon.size, joined.index.to_numpy(np.int64), joined["index_right"].to_numpy(np.int64)
    )
    t2 = time.perf_counter()
    return {"points_s": t1 - t0, "join_s": t2 - t1, "total_s": t2 - t0, "pos": pos}


def run_h3_loop(lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    t0 = time.perf_counter()
    cells = [
        h3int.latlng_to_cell(y, x, RESOLUTION)
        for x, y in zip(lon.tolist(), lat.tolist(), strict=True)
    ]
    out = np.array(cells, dtype=np.uint64).view(np.int64)
    return {"total_s": time.perf_counter() - t0, "cells": out}


def _ewkb_copy(lon: np.ndarray, lat: np.ndarray) -> bytes:
    """Binary COPY payload of rows (id int4, geom geometry) with SRID 4326 EWKB points."""
    row = np.dtype(
        [
            ("nfields", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i4"),
            ("geom_len", ">i4"),
            ("order", "u1"),
            ("type", "<u4"),
            ("srid", "<u4"),
            ("x", "<f8"),
            ("y", "<f8"),
        ]
    )
    rows = np.empty(lon.size, dtype=row)
    rows["nfields"], rows["id_len"], rows["id"], rows["geom_len"] = 2, 4, np.arange(lon.size), 25
    rows["order"], rows["type"], rows["srid"] = 1, 0x20000001, 4326
    rows["x"], rows["y"] = lon, lat
    return b"PGCOPY\n\xff\r\n\x00" + bytes(8) + rows.tobytes() + b"\xff\xff"


def run_postgis(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    import psycopg

    from gis.db import cluster
    from gis.settings import get_settings

    base = cluster.ensure_server(get_settings())
    admin = cluster.connect_kwargs(cluster.server_url(base, "postgres"))
    with psycopg.connect(**admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    url = cluster.server_url(base, BENCH_DB)
    cluster.ensure_database(url)
    wkb = shapely.to_wkb(shapely.set_srid(grids.geometry.to_numpy(), 4326), include_srid=True)
    payload = _ewkb_copy(lon, lat)
    try:
        with psycopg.connect(**cluster.connect_kwargs(url), autocommit=True) as conn:
            t0 = time.perf_counter()
            conn.execute("CREATE UNLOGGED TABLE grids (pos int4, geom geometry(Polygon, 4326))")
            with conn.cursor().copy("COPY grids (pos, geom) FROM STDIN") as copy:
                for i, g in enumerate(wkb):
                    copy.write_row((i, g.hex()))
            conn.execute(
                "CREATE UNLOGGED TABLE grid_parts AS "
                "SELECT pos, ST_Subdivide(geom, 64) AS geom FROM grids"
            )
            conn.execute("CREATE INDEX ON grid_parts USING gist (geom)")
            conn.execute("ANALYZE grid_parts")
            t1 = time.perf_counter()
            conn.execute("CREATE UNLOGGED TABLE pts (id int4, geom geometry(Point, 4326))")
            with conn.cursor().copy("COPY pts (id, geom) FROM STDIN (FORMAT binary)") as copy:
                copy.write(payload)
            conn.execute("CREATE INDEX ON pts USING gist (geom)")
            conn.execute("ANALYZE pts")
            t2 = time.perf_counter()
            query = (
                "SELECT p.id, g.pos FROM grid_parts g "
                "CROSS JOIN LATERAL (SELECT id FROM pts p WHERE ST_Intersects(g.geom, p.geom)) p"
            )
            chunks = []
            with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT binary)") as copy:
                for block in copy:
                    chunks.append(bytes(block))
            raw = b"".join(chunks)
            pair = np.dtype(
                [("n", ">i2"), ("l1", ">i4"), ("id", ">i4"), ("l2", ">i4"), ("pos", ">i4")]
            )
            rows = np.frombuffer(raw[19:-2], dtype=pair)
            pos = _first_per_point(
                lon.size, rows["id"].astype(np.int64), rows["pos"].astype(np.int64)
            )
            t3 = time.perf_counter()
            plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query).fetchall())
            row = conn.execute("SELECT postgis_lib_version()").fetchone()
            version = "" if row is None else str(row[0])
    finally:
        with psycopg.connect(**admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    return {
        "grids_s": t1 - t0,
        "load_s": t2 - t1,
        "join_s": t3 - t2,
        "total_s": t3 - t0,
        "pos": pos,
        "plan": plan,
        "version": version,
    }


def run_sedonadb(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> dict[str, Any]:
    import pyarrow as pa
    import sedonadb

    frame = _fresh(grids)
    frame["pos"] = np.arange(len(frame), dtype=np.int64)
    t0 = time.perf_counter()
    ctx = sedonadb.connect()
    ctx.create_data_frame(frame[["pos", "geometry"]]).to_view("grids", overwrite=True)
    ctx.create_data_frame(pa.table({"id": np.arange(lon.size), "lon": lon, "lat": lat})).to_view(
        "pts", overwrite=True
    )
    table = ctx.sql(
        "SELECT p.id, g.pos FROM "
        "(SELECT id, ST_SetSRID(ST_Point(lon, lat), 4326) AS geom FROM pts) p "
        "JOIN grids g ON ST_Intersects(p.geom, g.geometry)"
    ).to_arrow_table()
    pos = _first_per_point(
        lon.size,
        table["id"].to_numpy().astype(np.int64),
        table["pos"].to_numpy().astype(np.int64),
    )
    return {"total_s": time.perf_counter() - t0, "pos": pos, "version": sedonadb.__version__}


# --------------------------------------------------------------------------- checks


def disagreements(
    ours: np.ndarray, peer: np.ndarray, grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray
) -> dict[str, int]:
    """Points where a peer differs from ours: on a grid boundary (a tie) or truly."""
    differ = np.flatnonzero(ours != peer)
    if differ.size == 0:
        return {"differ": 0, "on_boundary": 0}
    edges = shapely.boundary(grids.geometry.to_numpy())
    tree = shapely.STRtree(edges)
    hit, _ = tree.query(shapely.points(lon[differ], lat[differ]), predicate="intersects")
    on_edge = np.unique(hit).size
    return {"differ": int(differ.size - on_edge), "on_boundary": int(on_edge)}


def oracle(grids: gpd.GeoDataFrame, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Smallest i with ``shapely.covers(grids[i], point)``, else -1."""
    tree = shapely.STRtree(grids.geometry.to_numpy())
    point, grid = tree.query(shapely.points(lon, lat), predicate="intersects")
    return _first_per_point(lon.size, point, grid)


# --------------------------------------------------------------------------- runs


def child_big(n_grids: int, n_points: int, seed: int) -> None:
    """The big run of ours alone, in this fresh process; prints one JSON line."""
    grids, district = district_grids(n_grids, seed=seed)
    lon, lat = random_points(district, n_points, seed + 1)
    geoms = _fresh(grids).geometry.to_numpy()
    before_mb = _rss_mb()
    t0 = time.perf_counter()
    locator = GridLocator.build(geoms, RESOLUTION)
    pos, cells = locator.locate_with_cells(lon, lat)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sample = np.random.default_rng(seed).choice(n_points, min(n_points, 200_000), replace=False)
    wrong = int((oracle(grids, lon[sample], lat[sample]) != pos[sample]).sum())
    cells_ok = bool(
        all(
            h3int.latlng_to_cell(lat[i], lon[i], RESOLUTION) == int(cells[i].view(np.uint64))
            for i in sample[:20_000]
        )
    )
    result = {"seconds": seconds, "peak_mb": peak_mb, "before_mb": before_mb}
    print(json.dumps({**result, "sample_wrong": wrong, "cells_ok": cells_ok}))


def _rss_mb() -> float:
    """Resident set size of this process now, MB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def best_of(repeat: int, run: Any, *args: Any) -> dict[str, Any]:
    """The fastest of ``repeat`` runs (the machine is shared: the minimum is the signal)."""
    runs = [run(*args) for _ in range(repeat)]
    return min(runs, key=lambda r: r["total_s"])


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k and 1M points")
    parser.add_argument("--grids", type=int, default=500)
    parser.add_argument("--points", type=int, default=None, help="default 1M (100k quick)")
    parser.add_argument("--big", type=int, default=None, help="default 10M (1M quick)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs, for everyone")
    parser.add_argument("--no-postgis", action="store_true")
    parser.add_argument("--no-sedonadb", action="store_true")
    parser.add_argument("--child-big", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_big is not None:
        child_big(args.grids, args.child_big, args.seed)
        return
    n = args.points or (100_000 if args.quick else 1_000_000)
    big = args.big or (1_000_000 if args.quick else 10_000_000)

    grids, district = district_grids(args.grids, seed=args.seed)
    vertices = shapely.get_num_coordinates(grids.geometry.to_numpy())
    _say(
        f"{len(grids)} grids tiling a {_km2(district):.0f} km² district, "
        f"vertices per grid min {vertices.min()} / median {int(np.median(vertices))} / "
        f"max {vertices.max()}"
    )
    lon, lat = random_points(district, n, args.seed + 1)
    outside = ~shapely.contains_xy(district, lon, lat)
    _say(f"{n:,} points, {int(outside.sum()):,} of them outside the district")

    # warm-up on a small sample: imports, thread pools, first-call costs of everyone
    few = slice(0, 10_000)
    run_ours(grids, lon[few], lat[few])
    run_sjoin(grids, lon[few], lat[few])
    run_h3_loop(lon[few], lat[few])
    repeat = max(1, args.repeat)

    ours = best_of(repeat, run_ours, grids, lon, lat)
    _say(
        f"ours: build {ours['build_s']:.3f} s + locate with cells {ours['locate_s']:.3f} s = "
        f"{ours['total_s']:.3f} s ({n / ours['locate_s'] / 1e6:.2f} M points/s located); "
        f"{ours['n_cells']:,} cells at res {RESOLUTION}, {ours['boundary_cells']:,} of them "
        f"boundary cells holding {ours['boundary_point_share']:.0%} of the points "
        f"(margin {ours['margin_deg']:.3g}°)"
    )
    truth = oracle(grids, lon, lat)
    exact_wrong = int((truth != ours["pos"]).sum())
    _say(f"ours vs shapely covers (smallest grid): {exact_wrong} differ")

    sj = best_of(repeat, run_sjoin, grids, lon, lat)
    h3loop = best_of(repeat, run_h3_loop, lon, lat)
    cells_differ = int((h3loop["cells"] != ours["cells"]).sum())
    sjoin_h3_s = sj["total_s"] + h3loop["total_s"]
    sj_diff = disagreements(ours["pos"], sj["pos"], grids, lon, lat)
    _say(
        f"sjoin(within): points {sj['points_s']:.2f} s + join {sj['join_s']:.2f} s; "
        f"h3-py loop {h3loop['total_s']:.2f} s; total {sjoin_h3_s:.2f} s; "
        f"grids differ from ours at {sj_diff['differ']} points "
        f"(+{sj_diff['on_boundary']} on a boundary); cells differ at {cells_differ}"
    )

    postgis_s = None
    if not args.no_postgis:
        try:
            pg = best_of(repeat, run_postgis, grids, lon, lat)
        except Exception as exc:  # report, do not hide: the RESULT says null
            _say(f"PostGIS: not run ({type(exc).__name__}: {exc})")
        else:
            postgis_s = pg["total_s"]
            pg_diff = disagreements(ours["pos"], pg["pos"], grids, lon, lat)
            _say(
                f"PostGIS {pg['version']}: grids + subdivide + index {pg['grids_s']:.2f} s, "
                f"points COPY + index {pg['load_s']:.2f} s, join + fetch {pg['join_s']:.2f} s; "
                f"total {postgis_s:.2f} s; differ at {pg_diff['differ']} "
                f"(+{pg_diff['on_boundary']} on a boundary)\n  plan: "
                + pg["plan"].replace("\n", "\n        ")
            )

    sedonadb_h3_s = None
    if not args.no_sedonadb:
        try:
            run_sedonadb(grids, lon[few], lat[few])
            sd = best_of(repeat, run_sedonadb, grids, lon, lat)
        except Exception as exc:
            _say(f"SedonaDB: not run ({type(exc).__name__}: {exc})")
        else:
            sedonadb_h3_s = sd["total_s"] + h3loop["total_s"]
            sd_diff = disagreements(ours["pos"], sd["pos"], grids, lon, lat)
            _say(
                f"SedonaDB {sd['version']}: join {sd['total_s']:.2f} s + the h3-py loop "
                f"{h3loop['total_s']:.2f} s = {sedonadb_h3_s:.2f} s; differ at "
                f"{sd_diff['differ']} (+{sd_diff['on_boundary']} on a boundary)"
            )

    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-big",
            str(big),
            "--grids",
            str(args.grids),
            "--seed",
            str(args.seed),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    big_run = json.loads(child.stdout.strip().splitlines()[-1])
    _say(
        f"ours, {big:,} points in a fresh process: {big_run['seconds']:.2f} s (build + locate "
        f"with cells), peak RSS {big_run['peak_mb']:.0f} MB ({big_run['before_mb']:.0f} MB "
        f"before locating: interpreter, libraries, grids and the input points); "
        f"200k-point sample vs shapely: "
        f"{big_run['sample_wrong']} differ; cells equal h3-py's: {big_run['cells_ok']}"
    )

    def ratio(peer: float | None) -> float | None:
        return None if peer is None else round(peer / ours["total_s"], 2)

    result = {
        "points": n,
        "ours_s": round(ours["total_s"], 3),
        "sjoin_h3_s": round(sjoin_h3_s, 3),
        "postgis_s": None if postgis_s is None else round(postgis_s, 3),
        "sedonadb_h3_s": None if sedonadb_h3_s is None else round(sedonadb_h3_s, 3),
        "ratio_vs_sjoin": ratio(sjoin_h3_s),
        "ratio_vs_postgis": ratio(postgis_s),
        "ratio_vs_sedonadb": ratio(sedonadb_h3_s),
        "points_10m_s": round(big_run["seconds"], 3),
        "peak_mb": round(big_run["peak_mb"], 1),
    }
    if args.quick:
        _say(f"(quick run: points_10m_s and peak_mb are for {big:,} points)")
    print("RESULT " + json.dumps(result))


def _km2(district: shapely.Polygon) -> float:
    """Area of a lon/lat polygon, km² (on the ellipsoid)."""
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").geometry_area_perimeter(district)[0]) / 1e6


if __name__ == "__main__":
    main()
