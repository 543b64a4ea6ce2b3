"""Locate a synthetic city set on a 2-worker Dask LocalCluster against one process.

The data
    ``--points`` records, half households and half incidents, from the sample generator
    (:func:`etl.sample.generate_district`, one incident per household) run for as many
    districts of ``--households-per-district`` as needed, each with its own seed and
    moved onto its own spot of a lattice (20 districts a row, a row a "city"), so that
    their grids tile a region side by side.  Each district is generated in a child
    process and written at once as one GeoParquet partition (households at their
    building's point on surface, incidents at their point; ids made unique), so the
    memory stays that of one district whatever the total.  The grids of all districts
    go to one GeoParquet file, codes prefixed by the district so that they sort apart.
    The set is kept in ``--dir`` and reused when its parameters match.
The two paths, in the same run, on the same files
    single process
        What :func:`etl.relocate.relocate` does, without the database: each partition
        read with geopandas, located, its H3 and 北斗 cells computed
        (:func:`etl.relocate.places_frame`, its default threads) and summed.  The
        locator is built once, as on the workers (``--single-locator once``, like for
        like), or chosen per batch by relocate's own rule (``batch``).
    Dask
        A ``LocalCluster`` of ``--workers`` processes of one thread and ``--memory``
        each: the grids scattered to every worker once, the partitions read with
        dask-geopandas on the workers, each located by
        :func:`etl.relocate_dask.place_partition` (the function ``wangge locate --dask``
        runs), summed on the worker; the driver adds up the small summaries.
    Each partition's summary: a digest of every record's (id, grid, H3 cell, 北斗 cell)
    and the counts per grid and per 北斗 cell (the grid and 北斗 aggregates).  Answers
    equal means equal digests for every partition and equal aggregates.
Intake over HTTP (``--http-seconds``, 0 to skip)
    :func:`benchmarks.intake.compare_servers`: residents' reports filed by
    ``--http-clients`` threads into a ``--http-households`` district through one app
    server process and then two behind one address, reports a second, p50 / p99, and
    every report answered 201 checked stored exactly once (0 lost).
What is printed
    Both times (best of ``--repeat``, alternating), the scaling efficiency
    ``single / (workers × dask)`` (1.0: the cluster is ``workers`` times faster), the
    peak memory of each Dask worker (its process's peak RSS, ``ru_maxrss``, read on the
    worker) and of the driver, and a final line ``RESULT {json}``.

Caveat: the single-process path already uses threads (up to 4, here 2) for H3, 北斗 and
the exact tests, so on a 2-core machine the efficiency measures processes against
threads, not against one core; and the machine may be shared (the load average is
printed with the result).

Usage::

    .venv/bin/python benchmarks/scale.py                       # 2,000,000 records
    .venv/bin/python benchmarks/scale.py --points 20000000     # the issue's 20 M + 20 M is 40000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from benchmarks._common import log

#: Districts a row of the lattice (a "city"); the spacing of the lattice, degrees.
PER_ROW = 20
STEP_LON, STEP_LAT = 0.05, 0.04
#: Ids of district ``i`` start at ``i * ID_BLOCK`` (households, then incidents after them).
ID_BLOCK = 10**9


# --------------------------------------------------------------------------- the data


def district_file(folder: Path, i: int) -> Path:
    return folder / "points" / f"part-{i:05d}.parquet"


def generate_one(folder: Path, i: int, households: int) -> int:
    """District ``i``: generated, moved to its lattice spot, written; its grid count."""
    from etl.sample import DEFAULT_END, generate_district
    from grids.locate import representative_points

    layers = generate_district(
        households, seed=1000 + i, progress=False, incidents_per_household=1.0, end=DEFAULT_END
    )
    dx, dy = (i % PER_ROW) * STEP_LON, (i // PER_ROW) * STEP_LAT

    def moved(geoms: np.ndarray) -> np.ndarray:
        return shapely.transform(geoms, lambda xy: xy + np.array([dx, dy]))

    buildings = layers["building"]
    bx, by = representative_points(moved(buildings.geometry.to_numpy()))
    where = pd.Series(np.arange(len(buildings)), index=buildings["id"].to_numpy())
    at = where.loc[layers["household"]["building_id"].to_numpy()].to_numpy()
    incidents = moved(layers["incident"].geometry.to_numpy())
    n_inc = len(incidents)
    points = gpd.GeoDataFrame(
        {
            "id": np.concatenate(
                [
                    i * ID_BLOCK + layers["household"]["id"].to_numpy(dtype=np.int64),
                    i * ID_BLOCK + ID_BLOCK // 2 + layers["incident"]["id"].to_numpy(np.int64),
                ]
            ),
            "kind": np.repeat(np.array(["household", "incident"]), [len(at), n_inc]),
        },
        geometry=np.concatenate([shapely.points(bx[at], by[at]), incidents]),
        crs=4326,
    )
    points.to_parquet(district_file(folder, i), index=False, row_group_size=len(points))
    grids = layers["grid"][["code", "geometry"]].copy()
    grids["code"] = [f"{i:05d}{c}" for c in grids["code"]]
    grids["geometry"] = moved(grids.geometry.to_numpy())
    grids.to_parquet(folder / "grids" / f"part-{i:05d}.parquet", index=False)
    return len(grids)


def generate(folder: Path, points: int, per_district: int) -> dict:
    """The district set in ``folder`` (reused when its manifest matches)."""
    districts = math.ceil(points / (2 * per_district))
    manifest = {"points": points, "per_district": per_district, "districts": districts}
    stamp = folder / "manifest.json"
    if stamp.exists():
        kept = json.loads(stamp.read_text())
        if {k: kept.get(k) for k in manifest} == manifest:
            log(f"[scale] reusing the {districts} districts in {folder}")
            return kept
    for sub in ("points", "grids"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
        for old in (folder / sub).glob("*.parquet"):
            old.unlink()
    started = time.perf_counter()
    for i in range(districts):
        households = min(per_district, points // 2 - i * per_district)
        # a child process per district: its memory is given back at once
        subprocess.run(
            [sys.executable, __file__, "--generate-one", str(i), str(households), str(folder)],
            check=True,
        )
        if i % 5 == 4 or i == districts - 1:
            log(f"[scale] generated {i + 1}/{districts} districts")
    grids = gpd.read_parquet(sorted((folder / "grids").glob("*.parquet")))
    grids.sort_values("code").to_parquet(folder / "grids.parquet", index=False)
    manifest["generate_s"] = round(time.perf_counter() - started, 1)
    stamp.write_text(json.dumps(manifest))
    return manifest


# --------------------------------------------------------------------------- one partition


@dataclass
class Summary:
    """What a partition adds to the answer: digests, records and the aggregates."""

    digests: dict[int, str]
    records: int
    in_no_grid: int
    by_grid: Counter
    by_beidou: Counter

    def add(self, other: Summary) -> None:
        """Add another partition's (or path's) summary to this one."""
        self.digests.update(other.digests)
        self.records += other.records
        self.in_no_grid += other.in_no_grid
        self.by_grid.update(other.by_grid)
        self.by_beidou.update(other.by_beidou)


def summarize(places: pd.DataFrame) -> Summary:
    """Digest of every (id, grid, H3, 北斗) of a partition, and its counts per grid and cell."""
    ordered = places.sort_values("id")
    digest = hashlib.blake2b(digest_size=16)
    for column in ("id", "grid_id", "h3_cell", "beidou_cell"):
        values = ordered[column].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
        digest.update(values.tobytes())
    first = int(ordered["id"].iloc[0]) if len(ordered) else -1
    grid = places["grid_id"].dropna().astype(np.int64)
    beidou = places["beidou_cell"].dropna().astype(np.int64)
    return Summary(
        {first: digest.hexdigest()},
        len(places),
        int(places["grid_id"].isna().sum()),
        Counter(dict(grid.value_counts().items())),
        Counter(dict(beidou.value_counts().items())),
    )


def xy(part: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    geoms = part.geometry.to_numpy()
    return part["id"].to_numpy(dtype=np.int64), shapely.get_x(geoms), shapely.get_y(geoms)


def locate_on_worker(shapes, part: gpd.GeoDataFrame) -> Summary:
    """One partition on a Dask worker: the function ``wangge locate --dask`` runs there."""
    from etl.relocate_dask import place_partition

    ids, lon, lat = xy(part)
    return summarize(place_partition(shapes, ids, lon, lat))


# --------------------------------------------------------------------------- the paths


def single_process(
    folder: Path, grid_ids: np.ndarray, grid_wkb: list[bytes], locator_rule: str
) -> Summary:
    """Every partition in this process, as :func:`etl.relocate.relocate` locates a batch.

    ``locator_rule`` ``once``: one :class:`grids.locate.GridLocator` for all partitions,
    the algorithm every Dask worker runs (like for like); ``batch``: relocate's own
    :class:`grids.locate.BatchLocator`, which answers a partition with fewer than 80
    points a grid by an index query instead (with 25,000 grids, every 100,000 one).
    """
    from etl.relocate import places_frame
    from gis.settings import get_settings
    from grids.locate import BatchLocator, GridLocator, ids_at

    settings = get_settings()
    grids = shapely.from_wkb(grid_wkb)
    locator = GridLocator.build(grids) if locator_rule == "once" else BatchLocator(grids)
    total = Summary({}, 0, 0, Counter(), Counter())
    for path in sorted((folder / "points").glob("*.parquet")):
        ids, lon, lat = xy(gpd.read_parquet(path))
        places = places_frame(
            ids,
            lon,
            lat,
            ids_at(locator.locate(lon, lat), grid_ids),
            h3_resolution=settings.h3_resolution,
            beidou_level=settings.beidou_level,
        )
        total.add(summarize(places))
    return total


def on_dask(client, folder: Path, shapes) -> Summary:
    """Every partition on the cluster (read there by dask-geopandas), summaries added here."""
    import dask
    import dask_geopandas
    from distributed import as_completed

    frame = dask_geopandas.read_parquet(str(folder / "points" / "*.parquet"))
    [shared] = client.scatter([shapes], broadcast=True, hash=False)
    tasks = [dask.delayed(locate_on_worker)(shared, part) for part in frame.to_delayed()]
    total = Summary({}, 0, 0, Counter(), Counter())
    for future in as_completed(client.compute(tasks)):
        total.add(future.result())
    client.cancel([shared])
    return total


def cpu_s() -> float:
    """CPU seconds (user + system, all threads) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def workers_cpu_s(client) -> float:
    """CPU seconds the worker processes have used, together."""
    return sum(client.run(cpu_s).values())


def worker_peaks_mb(client) -> list[float]:
    """Each worker process's peak RSS so far, MB (``ru_maxrss`` read on the worker)."""

    def peak() -> float:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return [round(v, 1) for _, v in sorted(client.run(peak).items())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=2_000_000, help="households + incidents")
    parser.add_argument("--households-per-district", type=int, default=50_000)
    parser.add_argument("--dir", type=Path, default=Path(".data/bench_scale"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", default="2GiB", help="memory limit of each worker")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--single-locator",
        choices=("once", "batch"),
        default="once",
        help="the single process's locator: built once (as on the workers) or relocate's rule",
    )
    parser.add_argument(
        "--http-seconds",
        type=float,
        default=20.0,
        help="intake over HTTP, 1 vs 2 server processes, this long each (0: skip)",
    )
    parser.add_argument("--http-clients", type=int, default=16)
    parser.add_argument("--http-households", type=int, default=20_000)
    parser.add_argument("--generate-one", nargs=3, metavar=("I", "HOUSEHOLDS", "DIR"))
    args = parser.parse_args()
    if args.generate_one:
        i, households, folder = args.generate_one
        generate_one(Path(folder), int(i), int(households))
        return

    import logging

    from etl.relocate_dask import GridShapes, dask_client
    from gis.settings import get_settings

    settings = get_settings()
    manifest = generate(args.dir, args.points, args.households_per_district)
    grids = gpd.read_parquet(args.dir / "grids.parquet")
    grid_ids = np.arange(1, len(grids) + 1, dtype=np.int64)  # in code order, as the store
    grid_wkb = list(shapely.to_wkb(grids.geometry.to_numpy()))
    shapes = GridShapes.of(grid_ids, grid_wkb, settings.h3_resolution, settings.beidou_level)
    districts = manifest["districts"]
    log(f"[scale] {args.points:,} records in {districts} districts, {len(grids):,} grids")

    logging.getLogger("distributed").setLevel(logging.WARNING)
    single_s: list[float] = []
    dask_s: list[float] = []
    single_cpu: list[float] = []
    dask_cpu: list[float] = []
    # the cluster the project's own bulk work starts (a LocalCluster of this size)
    local = settings.model_copy(
        update={
            "dask_scheduler": "",
            "dask_workers": args.workers,
            "dask_worker_memory": args.memory,
        }
    )
    with dask_client(local) as client:
        for run in range(args.repeat):
            started, cpu_before = time.perf_counter(), cpu_s()
            single = single_process(args.dir, grid_ids, grid_wkb, args.single_locator)
            single_s.append(time.perf_counter() - started)
            single_cpu.append(cpu_s() - cpu_before)
            driver_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            cpu_before = workers_cpu_s(client) + cpu_s()
            started = time.perf_counter()
            distributed_ = on_dask(client, args.dir, shapes)
            dask_s.append(time.perf_counter() - started)
            dask_cpu.append(workers_cpu_s(client) + cpu_s() - cpu_before)
            log(
                f"[scale] run {run + 1}: single process {single_s[-1]:.2f} s "
                f"({single_cpu[-1]:.1f} CPU s), dask ({args.workers} workers) "
                f"{dask_s[-1]:.2f} s ({dask_cpu[-1]:.1f} CPU s, driver included); "
                f"load average {os.getloadavg()[0]:.2f}"
            )
            equal = (
                single.digests == distributed_.digests
                and single.by_grid == distributed_.by_grid
                and single.by_beidou == distributed_.by_beidou
                and single.in_no_grid == distributed_.in_no_grid
            )
            if not equal:
                log("[scale] the answers DIFFER")
                break
        peaks = worker_peaks_mb(client)
    best_single, best_dask = min(single_s), min(dask_s)
    result = {
        "records": single.records,
        "districts": manifest["districts"],
        "grids": len(grids),
        "partitions": len(single.digests),
        "in_no_grid": single.in_no_grid,
        "workers": args.workers,
        "single_locator": args.single_locator,
        "worker_memory_limit": args.memory,
        "single_s": round(best_single, 2),
        "dask_s": round(best_dask, 2),
        "single_runs_s": [round(t, 2) for t in single_s],
        "dask_runs_s": [round(t, 2) for t in dask_s],
        "single_cpu_s": [round(t, 1) for t in single_cpu],
        "dask_cpu_s": [round(t, 1) for t in dask_cpu],
        "speedup": round(best_single / best_dask, 2),
        "scaling_efficiency": round(best_single / (args.workers * best_dask), 2),
        "answers_equal": equal,
        "worker_peak_rss_mb": peaks,
        "driver_peak_rss_mb_after_single": round(driver_peak_mb, 1),
        "single_mrecords_per_s": round(single.records / best_single / 1e6, 2),
        "dask_mrecords_per_s": round(single.records / best_dask / 1e6, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
        "generate_s": manifest.get("generate_s"),
    }
    log(
        f"[scale] best: single {best_single:.2f} s, dask {best_dask:.2f} s, efficiency "
        f"{result['scaling_efficiency']}, worker peaks {peaks} MB, answers equal: {equal}"
    )
    if args.http_seconds > 0:
        # the doors' half of a province: the same reports through one app process and two
        from benchmarks import intake

        url, points, category, token = intake.prepare(args.http_households, reuse=True)
        result["intake"] = intake.compare_servers(
            url, points, category, token, args.http_clients, args.http_seconds
        )
    print("RESULT " + json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
