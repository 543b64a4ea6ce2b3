"""Keep every located record in the right grid (网格) and H3 cell after the grids change.

The same locator as the loader places the records (one rule everywhere: a point on
a shared boundary goes to the grid with the smallest code), and the changes are
written back through :mod:`gis.store.placement_store` (COPY into a temporary table and
one UPDATE per table) inside the caller's transaction: grids and the records in them
change together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Connection
from tqdm import tqdm

import shapely

from gis.settings import Settings, get_settings
from gis.store import placement_store
from grids.locate import NO_GRID, beidou_cells, h3_cells, ids_at, locate_points


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
    grid_geoms = shapely.from_wkb(grid_wkb)
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
                pos = locate_points(batch.lon, batch.lat, grid_geoms)
                in_no_grid[table] = in_no_grid.get(table, 0) + int((pos == NO_GRID).sum())
                places = pd.DataFrame(
                    {
                        "id": batch.ids,
                        "grid_id": ids_at(pos, grid_ids),
                        "h3_cell": h3_cells(batch.lon, batch.lat, settings.h3_resolution),
                        "beidou_cell": beidou_cells(batch.lon, batch.lat, settings.beidou_level),
                    }
                )
                placement_store.stage_places(conn, places)
                bar.update(len(batch.ids))
            changed.update(placement_store.write_places(conn, table))
    return RelocateReport(changed=changed, in_no_grid=in_no_grid)
