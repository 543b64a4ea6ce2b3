"""Keep every located record in the right grid (网格) and H3 cell after the grids change.

The same locator as the loader places the records (one rule everywhere: a point on
a shared boundary goes to the grid with the smallest code), and the changes are
written back through :mod:`gis.store.placement_store` (COPY into a temporary table and
one UPDATE per table) inside the caller's transaction: grids and the records in them
change together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection
from tqdm import tqdm

import shapely

from gis.settings import Settings, get_settings
from gis.store import placement_store
from grids.locate import NO_GRID, BatchLocator, beidou_cells, h3_cells, ids_at


@dataclass
class RelocateReport:
    """Rows whose grid or cell changed, per table, and records left in no grid."""

    changed: dict[str, int]
    in_no_grid: dict[str, int]


def relocate(
    conn: Connection,
    *,
    area_wkb: bytes | None = None,
    old_grid_ids: list[int] | None = None,
    progress: bool = True,
    settings: Settings | None = None,
) -> RelocateReport:
    """Place located records in the current grids and H3 cells, writing what changed.

    Parameters
    ----------
    conn
        A connection inside the caller's transaction.
    area_wkb
        WKB of a polygon (EPSG:4326): only records whose point lies in it are placed
        again (e.g. the community whose grids changed).  None: every record.
    old_grid_ids
        With ``area_wkb``: also place again the records that were in these grids
        (retired ones), wherever they lie.
    progress
        Show a progress bar.

    Returns
    -------
    RelocateReport
    """
    settings = settings or get_settings()
    grid_ids, grid_wkb = placement_store.current_grid_shapes(conn)
    locator = BatchLocator(shapely.from_wkb(grid_wkb))
    placement_store.start_placing(conn)
    changed: dict[str, int] = {}
    in_no_grid: dict[str, int] = {}
    with tqdm(desc="locating", unit="rows", disable=not progress) as bar:
        for table in placement_store.POINT_SQL:
            bar.set_description(f"locating {table}")
            placement_store.clear_places(conn)
            for batch in placement_store.point_batches(
                conn, table, area_wkb=area_wkb, old_grid_ids=old_grid_ids
            ):
                pos = locator.locate(batch.lon, batch.lat)
                in_no_grid[table] = in_no_grid.get(table, 0) + int((pos == NO_GRID).sum())
                places = places_frame(
                    batch.ids,
                    batch.lon,
                    batch.lat,
                    ids_at(pos, grid_ids),
                    h3_resolution=settings.h3_resolution,
                    beidou_level=settings.beidou_level,
                )
                placement_store.stage_places(conn, places)
                bar.update(len(batch.ids))
            changed.update(placement_store.write_places(conn, table))
    return RelocateReport(changed=changed, in_no_grid=in_no_grid)


def places_frame(
    ids: NDArray[np.int64],
    lon: NDArray[np.float64],
    lat: NDArray[np.float64],
    grid_ids: pd.arrays.IntegerArray,
    *,
    h3_resolution: int,
    beidou_level: int,
    workers: int | None = None,
) -> pd.DataFrame:
    """The rows :func:`gis.store.placement_store.stage_places` copies: id, grid and cells.

    One place for the frame both the single-process and the Dask path build (see
    :mod:`etl.relocate_dask`), so that their answers cannot drift apart.

    Parameters
    ----------
    ids, lon, lat
        The records and their points (EPSG:4326, degrees).
    grid_ids
        The id of each point's grid, ``<NA>`` for none (:func:`grids.locate.ids_at`).
    h3_resolution, beidou_level
        The cells' resolution and level (``Settings``).
    workers
        Threads for the cells; default the number of cores, at most 4.
    """
    return pd.DataFrame(
        {
            "id": ids,
            "grid_id": grid_ids,
            "h3_cell": h3_cells(lon, lat, h3_resolution, workers=workers),
            "beidou_cell": beidou_cells(lon, lat, beidou_level, workers=workers),
        }
    )
