"""Store a new version of a community's grids and move every record into it, atomically.

Used by the grid designer and by grid imports: the old grids are kept as history
(``valid_to``), the new ones get codes in reading order when they have none, the
lineage old → new is written, grid workers carry over to the new grid that took most
of their old grid, and every record in the community is placed again — all in one
transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

import geopandas as gpd
import shapely

from etl.relocate import RelocateReport, relocate
from gis.errors import EtlError, InvalidInput
from gis.settings import Settings
from gis.store import grid_store
from grids.codes import GridCodeError, generate_codes


@dataclass
class VersionReport:
    """What a new grid version did."""

    community_code: str
    retired: list[int]
    created: list[int]
    codes: list[str]
    relocated: RelocateReport


class GridVersionError(EtlError, InvalidInput):
    """The new grids cannot be stored (unknown community, bad codes …)."""


def save_grid_version(
    engine: Engine,
    community_code: str,
    grids: gpd.GeoDataFrame,
    *,
    progress: bool = True,
    settings: Settings | None = None,
) -> VersionReport:
    """Replace the current grids of one community by ``grids`` (EPSG:4326).

    ``grids`` may carry ``code``, ``name`` and ``kind``; missing codes are generated
    west to east, north to south, and missing names are "<社区>第N网格".

    Raises
    ------
    GridVersionError
        When the community does not exist or a code cannot be generated.
    """
    [report] = save_grid_versions(
        engine, {community_code: grids}, progress=progress, settings=settings
    )
    return report


def save_grid_versions(
    engine: Engine,
    by_community: Mapping[str, gpd.GeoDataFrame],
    *,
    progress: bool = True,
    settings: Settings | None = None,
) -> list[VersionReport]:
    """Replace the grids of several communities in one transaction (see save_grid_version)."""
    reports: list[VersionReport] = []
    with engine.begin() as conn:
        areas = []
        retired: list[int] = []
        for community_code, new in by_community.items():
            report, area = _replace(conn, community_code, new)
            reports.append(report)
            areas.append(area)
            retired += report.retired
        moved = relocate(
            conn,
            area_wkb=shapely.to_wkb(shapely.union_all(areas)),
            old_grid_ids=retired,
            progress=progress,
            settings=settings,
        )
    for report in reports:
        report.relocated = moved
    return reports


def _replace(
    conn: Connection, community_code: str, grids: gpd.GeoDataFrame
) -> tuple[VersionReport, shapely.Geometry]:
    """Retire a community's grids and insert ``grids``; return the report and the area."""
    grids = grids.to_crs(4326).copy() if grids.crs is not None else grids.copy()
    found = grid_store.communities(conn, community_code)
    if found.empty:
        raise GridVersionError(f"no community with code {community_code}")
    community = found.iloc[0]
    if "code" not in grids or grids["code"].isna().any():
        try:
            grids["code"] = generate_codes(community_code, grids.geometry.array)
        except GridCodeError as exc:
            raise GridVersionError(str(exc)) from exc
    if "name" not in grids or grids["name"].isna().any():
        grids["name"] = [f"{community['name']}第{int(c[-3:])}网格" for c in grids["code"]]
    old = grid_store.current_grids(conn, community_code)
    old_ids = [int(i) for i in old["id"]]
    created = grid_store.retire_and_insert_grids(conn, int(community["id"]), grids)
    grid_store.carry_over_workers(conn, old_ids, created)
    area = shapely.union_all([community.geom, *old.geometry, *grids.geometry])
    report = VersionReport(
        community_code,
        old_ids,
        created,
        list(grids["code"]),
        RelocateReport(changed={}, in_no_grid={}),
    )
    return report, area
