"""The district's data: the sample district, loading a district file, placing every record.

Each use case once, for every door: ``wangge sample`` / ``load`` / ``demo`` / ``locate``
call these, and so may a page or a job.  A load is all or nothing; relocation writes
only what changed, in one transaction.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from api.services.awareness import NO_GRIDS, NoGrids
from etl.area_load import prepare_area
from etl.gpkg import read_layers, write_layers
from etl.load import LoadReport, load_layers
from etl.relocate import RelocateReport, relocate
from etl.sample import generate_district
from etl.sample.areas import SampleArea, place_in_area
from gis import clock
from gis.settings import Settings
from gis.store import grid_store, queries, tile_store
from maps.assets import STATIC_DIR, STATIC_URL, VENDOR_DIR, VENDOR_URL, render_offline
from maps.basemap import BASEMAP_STYLE
from maps.district import district_map
from maps.overview import DistrictSummary, overview_map

Layers = dict[str, pd.DataFrame]

#: Days the demo's sign-in tokens stay valid.


def write_sample(path: Path, households: int, seed: int, area: SampleArea | None = None) -> Layers:
    """Generate the sample street office (三墩镇, Hangzhou) and write it as a GeoPackage.

    Parameters
    ----------
    path
        The GeoPackage to write (replaced if it exists).
    households
        Households (户) in the district; everything else scales with it.
    seed
        Random seed: the same seed gives the same district (incidents up to this hour).
    area
        The area to make it for (:func:`etl.sample.areas.place_in_area`: its codes, its
        spot, its users); None: 西湖区 (330106) as always.

    Returns
    -------
    dict of str to pandas.DataFrame
        The layers written, by name.

    Raises
    ------
    etl.sample.areas.AreaCodeError
        When the district does not fit the area (several streets for a street's code).
    """
    layers = generate_district(households, seed)
    if area is not None:
        layers = place_in_area(layers, area)
    write_layers(layers, path)
    return layers


def read_district_file(path: Path) -> Layers:
    """The layers of a district GeoPackage, or of one layer file named after its layer.

    Raises
    ------
    etl.gpkg.LayerFileError
        When the file is missing or unreadable.
    """
    return read_layers(path)


def load_district(
    engine: Engine,
    layers: Mapping[str, pd.DataFrame],
    *,
    replace: bool = False,
    coord_type: str | None = None,
    progress: bool = True,
    area: str | None = None,
) -> LoadReport:
    """Load a district's layers, all or nothing, placing every record in its grid and cell.

    Parameters
    ----------
    engine
        A migrated database.
    layers
        Layer name → frame (see :mod:`etl.layers`).
    replace
        Empty every table first (in the same transaction); with ``area``, remove that
        area's records only.
    coord_type
        ``wgs84``, ``gcj02`` (AMap) or ``bd09`` (Baidu); None: WGS84, as the layers say.
    area
        The division code of the area the district is loaded into, beside the others
        (:mod:`etl.area_load`: its records carry the area as their office, ids after
        the stored ones); None: the deployment's one district.

    Raises
    ------
    gis.errors.ValidationError, etl.load.LoadError, gis.coords.CoordTypeError
        With every problem (layer, row, field, fix); nothing was loaded.
    etl.area_load.AreaLoadError
        When the area cannot take the district (it holds one already, without
        ``replace``; the district would lie over another area); nothing was loaded.
    """
    if area is None:
        return load_layers(
            engine, layers, replace=replace, coord_type=coord_type, progress=progress
        )

    def into_area(cur, given):
        return prepare_area(cur, given, area, replace=replace)

    return load_layers(engine, layers, coord_type=coord_type, progress=progress, prepare=into_area)


def relocate_all(engine: Engine, *, progress: bool = True, on_dask: bool = False) -> RelocateReport:
    """Place every located record again in its grid and H3 cell, writing what changed.

    ``on_dask``: locate on a Dask cluster (``WANGGE_DASK_SCHEDULER``, else a LocalCluster
    started for the job, before the transaction opens so that it stays short); the
    same answer, written back the same way (:mod:`etl.relocate_dask`).
    """
    if on_dask:
        from etl.relocate_dask import dask_client, relocate_on_dask

        with dask_client() as client, engine.begin() as conn:
            return relocate_on_dask(conn, client=client, progress=progress)
    with engine.begin() as conn:
        return relocate(conn, progress=progress)


@dataclass(frozen=True)
class DemoPlan:
    """The demo's district: its size, its seed and the end of its six months of incidents."""

    households: int
    seed: int
    until: datetime
    #: the area it is made for and loaded into; None: the deployment's one district
    area: SampleArea | None = None


def plan_demo(
    settings: Settings,
    households: int | None = None,
    seed: int | None = None,
    area: SampleArea | None = None,
) -> DemoPlan:
    """The demo's district: the settings' size and seed unless given, incidents up to this hour.

    The incidents end at the current hour, so the live picture, the overdue cases and
    the KPIs are of today (the same seed gives the same district whatever the date).
    An area's district has, unless given, a seed of its own (:func:`area_seed`), so two
    areas' districts differ.
    """
    if seed is None:
        seed = settings.sample_seed if area is None else area_seed(area.code, settings.sample_seed)
    return DemoPlan(
        households=settings.sample_households if households is None else households,
        seed=seed,
        until=pd.Timestamp(clock.now()).floor("h"),
        area=area,
    )


def area_seed(code: str, base: int) -> int:
    """The seed of an area's sample district: ``base`` plus a checksum of its code."""
    return base + zlib.crc32(code.encode()) % 100_000


def load_demo(engine: Engine, plan: DemoPlan) -> LoadReport:
    """Generate the demo's district and load it in place of everything stored.

    With an area: in place of that area's records only (:func:`load_district`).
    """
    layers = generate_district(plan.households, plan.seed, end=plan.until)
    if plan.area is None:
        return load_district(engine, layers, replace=True)
    return load_district(
        engine, place_in_area(layers, plan.area), replace=True, area=plan.area.code
    )


def district_map_html(engine: Engine, settings: Settings, *, for_file: bool = False) -> str:
    """The district overview with every feature in the page (GeoJSON), no CDN.

    For a page kept as a file (``wangge demo --map-out``; ``for_file``: loading the
    assets from their folders here rather than from the server's ``/static`` paths, and
    no offline basemap, which the server draws) and for comparing with the tile page.
    """
    urls = (VENDOR_DIR.as_posix(), STATIC_DIR.as_posix()) if for_file else (VENDOR_URL, STATIC_URL)
    m = district_map(
        grid_store.current_grids(engine),
        queries.buildings_with_counts(engine),
        queries.facilities(engine),
        queries.shelters(engine),
        settings=settings,
        vendor_url=urls[0],
        static_url=urls[1],
        style_url=None if for_file else BASEMAP_STYLE,
    )
    return render_offline(m, *urls)


def overview_html(engine: Engine, settings: Settings, people_by_grid: pd.DataFrame) -> str:
    """The district overview page over vector tiles (the server's ``/map``).

    ``people_by_grid``: the counts per grid the server keeps
    (:attr:`gis.store.tile_store.PeopleCounts.by_grid`), for the legend's range and the title.

    Raises
    ------
    NoGrids
        When no grid is loaded yet (nothing to frame the map).
    """
    summary = tile_store.map_summary(engine)
    if summary["west"] is None:
        raise NoGrids(NO_GRIDS)
    shown = people_by_grid["households"]
    shown = shown[(shown == 0) | (shown >= settings.privacy_k)]
    m = overview_map(
        (summary["west"], summary["south"], summary["east"], summary["north"]),
        DistrictSummary(
            grids=len(people_by_grid),
            households=int(people_by_grid["households"].sum()),
            buildings=int(summary["buildings"]),
            shelters=int(summary["shelters"]),
            households_min=int(shown.min()) if len(shown) else 0,
            households_max=int(shown.max()) if len(shown) else 1,
        ),
        queries.facilities(engine),
        settings=settings,
        data_bounds=(
            summary["data_west"],
            summary["data_south"],
            summary["data_east"],
            summary["data_north"],
        ),
    )
    return render_offline(m)
