"""Grids (网格): which grid a point is in, the grids on a map, grid files in and out, topology.

An import is checked (geometry, codes, community, topology) before anything is stored,
and stored as a new grid version of each community it covers, all in one transaction.
The topology check reads the stored grids and what lies in no grid, and says what to
fix where.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

import geopandas as gpd
import h3

from etl.grid_files import GridImportReport, export_grids, import_grids
from gis import clock
from gis.coords import to_wgs84
from gis.db.principal import as_system
from gis.errors import NotFound, ServiceError
from gis.settings import Settings
from gis.store import grid_store
from grids.beidou.place import beidou_code, stored_beidou
from grids.locate import NO_GRID, CurrentGrids
from grids.topology import CheckTolerances, TopologyReport, check_grids


class UnknownCommunity(ServiceError, NotFound):
    """No community is loaded with the code asked for."""


def import_grid_file(
    engine: Engine,
    path: Path,
    *,
    coord_type: str = "wgs84",
    community: str | None = None,
    layer: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    progress: bool = True,
    settings: Settings | None = None,
) -> GridImportReport:
    """Import a grid file as the new grids of the communities it covers (all or nothing).

    Parameters
    ----------
    engine
        The database.
    path
        GeoJSON, GeoPackage or Shapefile of grid polygons.
    coord_type
        ``wgs84``, ``gcj02`` (AMap, Tencent) or ``bd09`` (Baidu).
    community
        Put every grid in this community (12-digit code); otherwise the file's
        ``community_code``, or else the community holding most of each grid.
    layer
        The layer of a multi-layer file.
    force
        Store even when the topology check finds errors.
    dry_run
        Check everything, store nothing.

    Raises
    ------
    etl.grid_files.GridImportRejected
        When the grids break the topology rules (its ``topology`` says where).
    etl.gpkg.LayerFileError, gis.errors.ValidationError, gis.coords.CoordTypeError
        With what is wrong, where, and how to fix it; nothing is stored.
    """
    return import_grids(
        engine,
        path,
        coord_type=coord_type,
        community=community,
        layer=layer,
        force=force,
        dry_run=dry_run,
        progress=progress,
        settings=settings,
    )


def export_grid_file(engine: Engine, path: Path, community: str | None = None) -> Path:
    """Write the current grids (with household counts) to ``.geojson``, ``.gpkg`` or ``.shp``.

    Raises
    ------
    etl.gpkg.LayerFileError
        When the file name has another extension.
    """
    return export_grids(engine, path, community)


@dataclass(frozen=True)
class GridCheck:
    """A topology check of the stored grids, with what it checked (to draw the problems).

    Attributes
    ----------
    report : TopologyReport
        The problems, their summary and the tolerances they were judged by.
    grids : geopandas.GeoDataFrame
        The current grids checked (:func:`gis.store.grid_store.current_grids`).
    communities : geopandas.GeoDataFrame
        The communities checked.
    """

    report: TopologyReport
    grids: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame


def check_stored_grids(
    engine: Engine,
    tolerances: CheckTolerances,
    *,
    community: str | None = None,
    incident_days: int = 90,
) -> GridCheck:
    """Check the current grids: topology, records in no grid, household band, incident load.

    Parameters
    ----------
    engine
        The database.
    tolerances
        What is reported and what fails the check.
    community
        Only this community (12-digit code); None: every community.
    incident_days
        The incident load is counted over this many days up to now.

    Raises
    ------
    UnknownCommunity
        When ``community`` is not loaded.
    """
    communities = grid_store.communities(engine, community)
    if community is not None and communities.empty:
        raise UnknownCommunity(
            f"no community with code {community}: give a 12-digit community code that is "
            "loaded (wangge areas import), or leave out --community to check every community"
        )
    grids = grid_store.current_grids(engine, community)
    lost = grid_store.records_in_no_grid(engine, community)
    since = clock.utcnow() - timedelta(days=incident_days)
    incidents = grid_store.incident_counts(engine, since, community)
    report = check_grids(
        grids,
        communities,
        buildings=lost,
        incidents_per_grid=incidents.set_index("grid_id")["incidents"],
        tolerances=tolerances,
    )
    return GridCheck(report, grids, communities)


#: The columns of the public grid map (no personal data).
GRID_MAP_COLUMNS = (
    "code",
    "name",
    "kind",
    "community_code",
    "community_name",
    "buildings",
    "households",
)


@dataclass(frozen=True)
class GridRef:
    """A grid, as a resident or worker needs to know it."""

    code: str
    name: str
    community: str


@dataclass(frozen=True)
class Location:
    """Where a point is (WGS84, degrees): its grid (None when in none) and its H3 cell."""

    lon: float
    lat: float
    grid: GridRef | None
    h3_cell: str
    h3_resolution: int
    beidou: str | None = None
    beidou_level: int | None = None

    @property
    def in_grid(self) -> bool:
        """Whether the point lies in a grid."""
        return self.grid is not None


def load_current_grids(engine: Engine, settings: Settings, version: int = 0) -> CurrentGrids:
    """Today's grids (网格) ready for point lookup, as the server caches them."""
    frame = grid_store.current_grids(engine)
    return CurrentGrids.from_frame(frame, settings.h3_resolution, version)


def locate(
    grids: CurrentGrids,
    lon: float,
    lat: float,
    coord_type: str = "wgs84",
    beidou_level: int | None = None,
) -> Location:
    """The grid in force holding a point (in ``coord_type``), its H3 cell and 北斗 code.

    A point on an edge shared by two grids belongs to the smaller code.  The 北斗 code
    (GB/T 39409-2020) is given at ``beidou_level`` (none without it).
    """
    x, y = to_wgs84(lon, lat, coord_type)
    pos, cell = grids.place(x, y)
    grid = (
        None
        if pos == NO_GRID
        else GridRef(code=grids.codes[pos], name=grids.names[pos], community=grids.communities[pos])
    )
    code = None if beidou_level is None else beidou_code(stored_beidou(x, y, beidou_level))
    return Location(x, y, grid, h3.int_to_str(cell), grids.locator.resolution, code, beidou_level)


def grid_map(engine: Engine, community: str | None = None) -> gpd.GeoDataFrame:
    """The current grids (of one community, by its 12-digit code) with their counts, EPSG:4326.

    Public: a grid's buildings and households are counts, not anyone's data, so they are
    counted as the system (row security would count only the caller's own households).
    """
    with as_system():
        grids = grid_store.current_grids(engine, community)
    return grids[[*GRID_MAP_COLUMNS, "geom"]].set_geometry("geom")
