"""Import an office's register: ours (wangge import) vs pandas + geopandas + to_postgis, same files.

The files are those a street office has: buildings as a Shapefile (with a ``.cpg``),
households and residents as ``.xlsx`` workbooks and as ``.csv`` exports, 200,000
households by default (about 500,000 residents), made from the sample district.

* **ours**: ``wangge import buildings|households|residents`` (the service the command
  calls): read (python-calamine / CSV), recognise the Chinese headers, validate every
  value (ID numbers' check digits included), match on the office's ids, place every
  building and household in its grid and H3 cell, COPY — into a database holding the
  district's boundaries, grids and roads.
* **peer**, what an analyst would write: ``geopandas.read_file`` for the buildings, their
  points ``geopandas.sjoin``-ed with the grids and given their H3 cell with h3-py,
  ``pandas.read_excel`` (or ``read_csv``) for the registers, the households joined to
  their buildings, everything written with ``to_postgis`` / ``to_sql``.

Both run on the same files in one run, each in its own process (for its peak memory);
the answers are checked equal: buildings and households per grid, residents per
household, H3 cells of the households.  Prints a summary to stderr and one line
``RESULT {json}``.

Usage::

    .venv/bin/python benchmarks/import.py [--households 200000] [--seed 42] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_DB = "wangge_bench_import"
HOUSEHOLD_COLUMNS = ["户编号", "楼栋编号", "单元", "室", "人数"]
RESIDENT_COLUMNS = [
    "人员编号",
    "户编号",
    "姓名",
    "性别",
    "出生年份",
    "身份证号",
    "联系电话",
    "标签",
]


def _url() -> str:
    from gis.db import cluster
    from gis.settings import get_settings

    return cluster.server_url(cluster.ensure_server(get_settings()), BENCH_DB)


def fresh_database() -> str:
    from gis.db import cluster
    from gis.db.migrate import upgrade
    from gis.settings import get_settings

    base = cluster.ensure_server(get_settings())
    admin = create_engine(cluster.server_url(base, "postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
    admin.dispose()
    url = cluster.server_url(base, BENCH_DB)
    cluster.ensure_database(url)
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


# ----------------------------------------------------------------------------- the files


def _valid_id(number: str) -> str:
    from etl.imports.values import id_check_digit

    return number[:17] + id_check_digit(number[:17])


def make_files(households: int, seed: int, folder: Path) -> dict[str, object]:
    """The office's files, and the district's base layers (areas, grids, roads) as a gpkg."""
    from openpyxl import Workbook

    from etl.gpkg import write_layers
    from etl.sample import generate_district

    t = time.perf_counter()
    d = generate_district(households, seed, progress=False)
    base = {k: d[k] for k in ("admin_area", "grid", "road_node", "road_edge")}
    write_layers(base, folder / "base.gpkg", progress=False)
    b = d["building"]
    buildings = b.assign(
        楼栋编号=[f"B{i:07d}" for i in b["id"]],
        层数=b["floors"],
        名称=b["name"],
    )[["楼栋编号", "名称", "层数", "geometry"]]
    # GBK, as Chinese GIS software writes it (UTF-8 names longer than 10 bytes get cut)
    buildings.to_file(folder / "楼栋.shp", driver="ESRI Shapefile", encoding="GBK")
    h = d["household"]
    register = pd.DataFrame(
        {
            "户编号": [f"H{i:08d}" for i in h["id"]],
            "楼栋编号": [f"B{i:07d}" for i in h["building_id"]],
            "单元": h["unit"].to_numpy(),
            "室": h["room"].astype(str).to_numpy(),
            "人数": h["size"].to_numpy(),
        }
    )
    r = d["resident"]
    flags = {"living_alone_elderly": "独居老人", "disabled": "残疾", "low_income": "低保"}
    tags = np.full(len(r), "", dtype=object)
    for column, word in flags.items():
        on = r[column].to_numpy(dtype=bool)
        tags[on] = [f"{t}、{word}" if t else word for t in tags[on]]
    people = pd.DataFrame(
        {
            "人员编号": [f"P{i:09d}" for i in r["id"]],
            "户编号": [f"H{i:08d}" for i in r["household_id"]],
            "姓名": r["name"].to_numpy(),
            "性别": np.where(r["sex"] == "M", "男", "女"),
            "出生年份": r["birth_year"].to_numpy(),
            "身份证号": [_valid_id(x) for x in r["id_number"]],
            "联系电话": r["phone"].to_numpy(),
            "标签": tags,
        }
    )
    people = people.drop_duplicates("身份证号")
    for name, frame in (("户籍", register), ("居民", people)):
        frame.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8-sig")
        book = Workbook(write_only=True)
        sheet = book.create_sheet(name)
        sheet.append([f"{name}台账"])  # a title row above the header, as offices do
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append(list(row))
        book.save(folder / f"{name}.xlsx")
    print(
        f"files: {len(b):,} buildings, {len(register):,} households, {len(people):,} residents "
        f"written in {time.perf_counter() - t:.0f} s",
        file=sys.stderr,
    )
    return {"buildings": len(b), "households": len(register), "residents": len(people)}


# ----------------------------------------------------------------------------- the two sides


def load_base(url: str, folder: Path) -> None:
    """Boundaries, grids and roads: what an office has before its registers."""
    from etl.gpkg import read_layers
    from etl.load import load_layers

    engine = create_engine(url)
    load_layers(engine, read_layers(folder / "base.gpkg"), replace=True, progress=False)
    engine.dispose()


#: The tables an import of the registers writes (the identities: residents' ID numbers
#: and phones, sealed).
FLOOR_TABLES = ("building", "household", "resident", "resident_identity")


def run_ours(url: str, folder: Path, fmt: str) -> dict[str, float]:
    from api.services.registry_io import ImportOptions, import_file

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE building, household, resident CASCADE"))
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    for kind, path in (
        ("buildings", folder / "楼栋.shp"),
        ("households", folder / f"户籍.{fmt}"),
        ("residents", folder / f"居民.{fmt}"),
    ):
        t = time.perf_counter()
        summary = import_file(engine, kind, path, ImportOptions())  # type: ignore[arg-type]
        times[kind] = time.perf_counter() - t
        assert summary.rejected == 0 and summary.added > 0, summary
    times["total"] = time.perf_counter() - t0
    engine.dispose()
    return times


def run_peer(url: str, folder: Path, fmt: str) -> dict[str, float]:
    import geopandas as gpd
    import h3

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS peer CASCADE; CREATE SCHEMA peer")
    grids = gpd.read_postgis(
        "SELECT code, geom FROM grid WHERE valid_to IS NULL", engine, geom_col="geom"
    )
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    t = time.perf_counter()
    buildings = gpd.read_file(folder / "楼栋.shp")
    points = buildings.set_geometry(buildings.geometry.representative_point())
    placed = gpd.sjoin(points, grids, how="left", predicate="within")
    placed = placed[~placed.index.duplicated()]
    buildings["grid_code"] = placed["code"]
    buildings["h3_cell"] = [h3.str_to_int(h3.latlng_to_cell(p.y, p.x, 10)) for p in points.geometry]
    buildings.to_postgis("building", engine, schema="peer", index=False)
    times["buildings"] = time.perf_counter() - t
    t = time.perf_counter()
    read = pd.read_excel if fmt == "xlsx" else pd.read_csv
    extra = {"skiprows": 1} if fmt == "xlsx" else {}
    households = read(
        folder / f"户籍.{fmt}", dtype={"户编号": str, "楼栋编号": str, "室": str}, **extra
    )
    households = households.merge(
        pd.DataFrame(buildings[["楼栋编号", "grid_code", "h3_cell"]]), on="楼栋编号", how="left"
    )
    households.to_sql("household", engine, schema="peer", index=False, chunksize=10_000)
    times["households"] = time.perf_counter() - t
    t = time.perf_counter()
    residents = read(folder / f"居民.{fmt}", dtype={"身份证号": str, "联系电话": str}, **extra)
    residents.to_sql("resident", engine, schema="peer", index=False, chunksize=10_000)
    times["residents"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
    engine.dispose()
    return times


def compare(url: str) -> dict[str, int]:
    """The two sides' answers, checked equal."""
    engine = create_engine(url)
    with engine.connect() as conn:

        def rows(sql: str) -> list[tuple]:
            return [tuple(r) for r in conn.execute(text(sql))]

        ours_b = rows(
            "SELECT g.code, count(*) FROM building b JOIN grid g ON g.id = b.grid_id "
            "GROUP BY g.code ORDER BY 1"
        )
        peer_b = rows(
            "SELECT grid_code, count(*) FROM peer.building WHERE grid_code IS NOT NULL "
            "GROUP BY 1 ORDER BY 1"
        )
        ours_h = rows(
            "SELECT g.code, count(*) FROM household h JOIN grid g ON g.id = h.grid_id "
            "GROUP BY g.code ORDER BY 1"
        )
        peer_h = rows(
            "SELECT grid_code, count(*) FROM peer.household WHERE grid_code IS NOT NULL "
            "GROUP BY 1 ORDER BY 1"
        )
        ours_cells = rows("SELECT h3_cell, count(*) FROM household GROUP BY 1 ORDER BY 1")
        peer_cells = rows("SELECT h3_cell, count(*) FROM peer.household GROUP BY 1 ORDER BY 1")
        ours_r = rows(
            "SELECT h.ref, count(*) FROM resident r JOIN household h ON h.id = r.household_id "
            "GROUP BY 1 ORDER BY 1"
        )
        peer_r = rows('SELECT "户编号", count(*) FROM peer.resident GROUP BY 1 ORDER BY 1')
    engine.dispose()
    assert ours_b == peer_b, "buildings per grid differ"
    assert ours_h == peer_h, "households per grid differ"
    assert ours_cells == peer_cells, "households per H3 cell differ"
    assert ours_r == peer_r, "residents per household differ"
    return {
        "buildings": sum(n for _, n in ours_b),
        "households": sum(n for _, n in ours_h),
        "residents": sum(n for _, n in ours_r),
    }


def _child(side: str, url: str, folder: Path, fmt: str) -> dict[str, float]:
    """Run one side in its own process; its times and peak memory (MB)."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--side",
            side,
            "--url",
            url,
            "--folder",
            str(folder),
            "--format",
            fmt,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{side} {fmt} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None, help="write the files here")
    parser.add_argument("--side", choices=["ours", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="xlsx", help=argparse.SUPPRESS)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time the server alone writing the imported rows (binary COPY, no Python)",
    )
    args = parser.parse_args()
    if args.side:  # a child: one side, one format
        run = run_ours if args.side == "ours" else run_peer
        times = run(args.url, args.folder, args.format)
        times["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(times))
        return

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        sizes = make_files(args.households, args.seed, folder)
        url = fresh_database()
        load_base(url, folder)
        result: dict[str, object] = {"households": sizes["households"], **sizes}
        for fmt in ("xlsx", "csv"):
            ours = _child("ours", url, folder, fmt)
            peer = _child("peer", url, folder, fmt)
            checked = compare(url)
            ratio = peer["total"] / ours["total"]
            print(
                f"{fmt}: ours {ours['total']:.1f} s (buildings {ours['buildings']:.1f}, "
                f"households {ours['households']:.1f}, residents {ours['residents']:.1f}; "
                f"peak {ours['peak_mb']:.0f} MB) · peer {peer['total']:.1f} s (buildings "
                f"{peer['buildings']:.1f}, households {peer['households']:.1f}, residents "
                f"{peer['residents']:.1f}; peak {peer['peak_mb']:.0f} MB) · {ratio:.1f}× · "
                f"answers agree ({checked['households']:,} households in grids)",
                file=sys.stderr,
            )
            result[fmt] = {
                "ours_s": round(ours["total"], 2),
                "peer_s": round(peer["total"], 2),
                "ratio": round(ratio, 2),
                "ours_peak_mb": round(ours["peak_mb"]),
                "peer_peak_mb": round(peer["peak_mb"]),
                "ours_steps_s": {
                    k: round(v, 2) for k, v in ours.items() if k not in ("total", "peak_mb")
                },
                "peer_steps_s": {
                    k: round(v, 2) for k, v in peer.items() if k not in ("total", "peak_mb")
                },
            }
        if args.floor:  # the rows of the last import (CSV) are in the tables
            from benchmarks._common import server_floor

            engine = create_engine(url)
            with tempfile.TemporaryDirectory() as dump:
                floor = server_floor(engine, list(FLOOR_TABLES), Path(dump))
            engine.dispose()
            best = {f: result[f]["peer_s"] / floor for f in ("xlsx", "csv")}  # type: ignore[index]
            print(
                f"the server alone, the imported rows as binary COPY into emptied tables: "
                f"{floor:.2f} s (ratio at best: xlsx {best['xlsx']:.2f}x, csv {best['csv']:.2f}x)",
                file=sys.stderr,
            )
            result["server_floor_s"] = round(floor, 3)
            result["ratio_at_best"] = {f: round(r, 2) for f, r in best.items()}
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
