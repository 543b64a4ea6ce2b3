"""Re-locate every record of a city or province on a Dask cluster, after a grid change.

The same answer as :func:`etl.relocate.relocate`, with the locating spread over the
workers of a ``dask.distributed`` cluster:

1. The current grids (ids and WKB polygons in code order, as the caller's transaction
   sees them) go to every worker once (``client.scatter(..., broadcast=True)``); each
   worker process builds one :class:`grids.locate.GridLocator` from them and keeps it
   for every partition it is given.
2. The records are read in partitions of ``partition_rows`` (consecutive chunks of one
   server-side cursor) in the caller's transaction, and each partition is located on a
   worker: grid (the same exact rule and tie rule), H3 cell and 北斗 cell, by the same
   functions the single-process path calls (:func:`etl.relocate.places_frame`).
3. The answers come back as they finish and are written through the same validated COPY
   path (:mod:`gis.store.placement_store`: COPY into a temporary table, one UPDATE per
   table) inside the caller's transaction: grids and records change together or not at
   all, and a failing worker rolls everything back.

Why the driver reads and writes: a grid change (``etl.grid_versions``) relocates inside
the transaction that inserted the new grids, which no other connection can see, and the
workers of a remote cluster need not reach the database at all.  At most two partitions
per worker thread are in flight, so the driver's memory stays bounded whatever the table size.

Where it runs: :func:`dask_client` connects to ``WANGGE_DASK_SCHEDULER`` when set (every
worker needs Wangge installed, the same version), else starts a ``LocalCluster`` of
``WANGGE_DASK_WORKERS`` processes of one thread each, ``WANGGE_DASK_WORKER_MEMORY`` each,
no dashboard, for the job only.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection
from tqdm import tqdm

import shapely

from etl.relocate import RelocateReport, places_frame
from gis.settings import Settings, get_settings
from gis.store import placement_store
from grids.locate import NO_GRID, GridLocator, ids_at

if TYPE_CHECKING:
    from distributed import Client

#: Partitions in flight per worker thread: one being located while the next one waits.
IN_FLIGHT_PER_THREAD = 2


@dataclass(frozen=True)
class GridShapes:
    """The current grids as they travel to the workers, and the cells to compute.

    Attributes
    ----------
    ids
        Grid ids, in code order (the tie rule: a point on a shared edge belongs to the
        smallest code).
    wkb
        Their polygons, WKB, EPSG:4326, in the same order.
    h3_resolution, beidou_level
        Resolution and level of the cells every record gets (``Settings``).
    token
        A digest of all of the above: the key of the workers' locator cache.
    """

    ids: NDArray[np.int64]
    wkb: list[bytes]
    h3_resolution: int
    beidou_level: int
    token: str

    @classmethod
    def of(
        cls, ids: NDArray[np.int64], wkb: list[bytes], h3_resolution: int, beidou_level: int
    ) -> GridShapes:
        """The grid set with its digest computed."""
        digest = hashlib.blake2b(digest_size=16)
        digest.update(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
        for shape in wkb:
            digest.update(len(shape).to_bytes(8, "little"))
            digest.update(shape)
        digest.update(f"{h3_resolution}/{beidou_level}".encode())
        return cls(ids, wkb, h3_resolution, beidou_level, digest.hexdigest())


#: One locator per worker process: (token, locator) of the last grid set seen.
_LOCATOR: list[tuple[str, GridLocator]] = []
_LOCATOR_LOCK = threading.Lock()


def _locator(grids: GridShapes) -> GridLocator:
    """The worker's locator of ``grids``, built on the first partition only."""
    with _LOCATOR_LOCK:
        if _LOCATOR and _LOCATOR[0][0] == grids.token:
            return _LOCATOR[0][1]
        locator = GridLocator.build(shapely.from_wkb(grids.wkb), grids.h3_resolution)
        _LOCATOR[:] = [(grids.token, locator)]
        return locator


def place_partition(
    grids: GridShapes,
    ids: NDArray[np.int64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
) -> pd.DataFrame:
    """Grid id, H3 cell and 北斗 cell of one partition's points (runs on a worker).

    One thread: a worker of the cluster is one core's share, the cluster scales by
    processes.  Returns the frame :func:`etl.relocate.places_frame` builds (``grid_id``
    ``<NA>`` for a point in no grid).
    """
    if len(grids.ids):
        positions = _locator(grids).locate(lon, lat, workers=1)
    else:
        positions = np.full(len(ids), NO_GRID, dtype=np.int64)
    return places_frame(
        ids,
        lon,
        lat,
        ids_at(positions, grids.ids),
        h3_resolution=grids.h3_resolution,
        beidou_level=grids.beidou_level,
        workers=1,
    )


@contextmanager
def dask_client(settings: Settings | None = None) -> Iterator[Client]:
    """A client of the cluster bulk work runs on: ``WANGGE_DASK_SCHEDULER``, else a LocalCluster.

    The LocalCluster (``dask_workers`` processes of one thread, ``dask_worker_memory``
    each, no dashboard) lives as long as the ``with`` block; a remote cluster is only
    connected to and disconnected from.
    """
    from distributed import Client, LocalCluster

    settings = settings or get_settings()
    if settings.dask_scheduler:
        with Client(settings.dask_scheduler) as client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=settings.dask_workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=settings.dask_worker_memory,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def relocate_on_dask(
    conn: Connection,
    *,
    client: Client | None = None,
    area_wkb: bytes | None = None,
    old_grid_ids: list[int] | None = None,
    progress: bool = True,
    settings: Settings | None = None,
    partition_rows: int = placement_store.FETCH_ROWS,
) -> RelocateReport:
    """:func:`etl.relocate.relocate` with the locating on a Dask cluster; the same answer.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction (records read and written there).
    client
        The cluster to use; None: :func:`dask_client` for the job (a LocalCluster
        unless ``WANGGE_DASK_SCHEDULER`` is set).
    area_wkb, old_grid_ids
        As in :func:`etl.relocate.relocate`: only the records in this area, and those
        that were in these retired grids.
    progress
        Show a progress bar (records placed, per table).
    settings
        Cell resolution and level, and the cluster to start.
    partition_rows
        Records per partition (per task).

    Returns
    -------
    RelocateReport
        Rows changed per table and records left in no grid.
    """
    settings = settings or get_settings()
    if client is None:
        with dask_client(settings) as own:
            return relocate_on_dask(
                conn,
                client=own,
                area_wkb=area_wkb,
                old_grid_ids=old_grid_ids,
                progress=progress,
                settings=settings,
                partition_rows=partition_rows,
            )
    from distributed import as_completed

    grid_ids, grid_wkb = placement_store.current_grid_shapes(conn)
    shapes = GridShapes.of(grid_ids, grid_wkb, settings.h3_resolution, settings.beidou_level)
    [shared] = client.scatter([shapes], broadcast=True, hash=False)
    threads = client.nthreads()  # every worker's threads (scheduler_info lists only a few)
    workers = max(1, len(threads))
    most_in_flight = IN_FLIGHT_PER_THREAD * max(1, sum(threads.values()))
    placement_store.start_placing(conn)
    changed: dict[str, int] = {}
    in_no_grid: dict[str, int] = {}
    try:
        with tqdm(desc="locating", unit="rows", disable=not progress) as bar:
            for table in placement_store.POINT_SQL:
                bar.set_description(f"locating {table} on {workers} dask workers")
                placement_store.clear_places(conn)
                running = as_completed()

                def stage_next(table: str = table, running: as_completed = running) -> None:
                    """Copy the next finished partition into the temporary table."""
                    places = next(running).result()
                    missing = int(places["grid_id"].isna().sum())
                    in_no_grid[table] = in_no_grid.get(table, 0) + missing
                    placement_store.stage_places(conn, places)
                    bar.update(len(places))

                for batch in placement_store.point_batches(
                    conn, table, area_wkb=area_wkb, old_grid_ids=old_grid_ids, rows=partition_rows
                ):
                    running.add(
                        client.submit(
                            place_partition, shared, batch.ids, batch.lon, batch.lat, pure=False
                        )
                    )
                    while running.count() >= most_in_flight:
                        stage_next()
                while not running.is_empty():
                    stage_next()
                changed.update(placement_store.write_places(conn, table))
    finally:
        client.cancel([shared])
    return RelocateReport(changed=changed, in_no_grid=in_no_grid)
