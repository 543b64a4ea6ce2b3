"""Run the stages of the sample district in order, each on the typed results it needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from etl.sample.buildings import place_buildings
from etl.sample.constants import LAYERS, TZ
from etl.sample.facilities import place_facilities
from etl.sample.frames import map_area_frame, place_frames
from etl.sample.incidents import draw_incidents
from etl.sample.layout import cut_grids, inset_estates, lay_out_blocks, lay_out_communities
from etl.sample.people import staff_grids
from etl.sample.population import (
    Population,
    draw_residents,
    give_identities,
    occupy_dwellings,
)
from etl.sample.roads import build_roads
from etl.sample.work_frames import work_frames
from gis import clock

#: The stages, as the progress bar names them.
STEPS = (
    "layout",
    "grids",
    "estates",
    "buildings",
    "households",
    "residents",
    "identities",
    "facilities",
    "roads",
    "people at work",
    "incidents",
    "frames",
)


def generate_district(
    households: int = 20_000,
    seed: int = 42,
    *,
    progress: bool = True,
    incidents_per_household: float = 0.3,
    months: int = 6,
    end: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate a sample district with exactly ``households`` households.

    Parameters
    ----------
    households
        Number of households (户); communities, grids, buildings and everything else
        scale with it (about 1,900 households per community).
    seed
        Seed of ``numpy.random.default_rng``; the output is deterministic for
        ``(households, seed, end)`` and the other arguments.
    progress
        Show a tqdm progress bar.
    incidents_per_household
        Incidents over the whole window per household.
    months
        Length of the incident window, in calendar months ending at ``end``.
    end
        End of the incident window (naive times are Asia/Shanghai); defaults to the start
        of the current hour by :mod:`gis.clock`, so that the district's cases are of today.
        Pass a fixed end (e.g. :data:`DEFAULT_END`) for output that does not depend on the
        day it is made.

    Returns
    -------
    dict of str to pandas.DataFrame
        The layers in :data:`LAYERS` order: GeoDataFrames in EPSG:4326 (geometry column
        ``geometry``) for admin_area, grid, building, facility, shelter, road_node,
        road_edge and incident; plain DataFrames for the others.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    n_households = int(households)
    rng = np.random.default_rng(seed)
    end_ts = end_timestamp(end)
    with tqdm(total=len(STEPS), desc="sample district", disable=not progress) as bar:
        with _step(bar, "layout"):
            layout = lay_out_communities(n_households, rng)
            blocks = lay_out_blocks(layout, rng)
        with _step(bar, "grids"):
            grids = cut_grids(layout, blocks, rng)
        with _step(bar, "estates"):
            estates = inset_estates(blocks, rng)
        with _step(bar, "buildings"):
            buildings = place_buildings(blocks, grids, estates, rng)
        with _step(bar, "households"):
            homes = occupy_dwellings(buildings, grids, n_households, rng)
        with _step(bar, "residents"):
            residents = draw_residents(homes, buildings, end_ts, rng)
        with _step(bar, "identities"):
            identities = give_identities(residents, rng)
            population = Population(homes, residents, identities)
        with _step(bar, "facilities"):
            facilities = place_facilities(layout, blocks, estates, population, rng)
        with _step(bar, "roads"):
            roads = build_roads(layout, blocks, estates, rng)
        with _step(bar, "people at work"):
            workers = staff_grids(layout, grids, n_households, rng)
        with _step(bar, "incidents"):
            incidents = draw_incidents(
                layout,
                blocks,
                grids,
                estates,
                buildings,
                population,
                end=end_ts,
                months=int(months),
                incidents_per_household=float(incidents_per_household),
                rng=rng,
            )
        with _step(bar, "frames"):
            layers, areas, grid_codes = place_frames(
                layout, blocks, grids, estates, buildings, population, facilities, roads, rng
            )
            layers |= work_frames(
                layout, buildings, roads, workers, incidents, areas, grid_codes, rng
            )
            layers["map_area"] = map_area_frame(layers["facility"])
    return {name: layers[name] for name in LAYERS}


@contextmanager
def _step(bar: tqdm, name: str) -> Iterator[None]:
    """Show ``name`` on the progress bar while its stage runs, then count it done."""
    bar.set_postfix_str(name)
    yield
    bar.update()


def end_timestamp(end: datetime | None) -> pd.Timestamp:
    """The end of the incident window, tz-aware in Asia/Shanghai."""
    if end is None:
        return pd.Timestamp(clock.now()).tz_convert(TZ).floor("h")
    ts = pd.Timestamp(end)
    return ts.tz_localize(TZ) if ts.tzinfo is None else ts.tz_convert(TZ)
