"""Designing a community's grids (网格划分) and storing a design as its new grids.

A design is proposed beside the community's current grids and a naive square
lattice of as many grids; it is stored only when it is not worse than the lattice
(fewer grids in the household band, or as many and one farther from it), unless the
caller forces it.  Storing retires the old grids, keeps their history and places
every record of the community again, in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

import geopandas as gpd

from api.services.grids import UnknownCommunity
from etl.grid_versions import VersionReport, save_grid_version
from gis.db.principal import as_system
from gis.errors import Conflict, ServiceError, Unavailable
from gis.settings import Settings
from gis.store import grid_store
from grids.codes import generate_codes
from grids.design import Design, DesignMetrics, design_grids, measure, naive_square_grid


class NoHouseholds(ServiceError, Unavailable):
    """The community's buildings hold no households: there is nothing to balance."""


class WorseThanLattice(ServiceError, Conflict):
    """The design is worse than the naive square lattice and was not stored."""

    title = "Worse than the lattice"


@dataclass(frozen=True)
class DesignInputs:
    """What a community's design is made from (EPSG:4326 frames of the store).

    Attributes
    ----------
    code, name : str
        The community.
    area : shapely geometry
        Its boundary.
    buildings : geopandas.GeoDataFrame
        Its buildings with footprints and ``households``.
    roads : geopandas.GeoDataFrame
        Its road edges.
    current : geopandas.GeoDataFrame
        Its current grids, with ``households``.
    """

    code: str
    name: str
    area: Any
    buildings: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    current: gpd.GeoDataFrame

    @property
    def households(self) -> int:
        """Households in the community's buildings."""
        return int(self.buildings["households"].sum())


@dataclass(frozen=True)
class DesignProposal:
    """A design beside the current grids and the lattice, ready to be stored.

    Attributes
    ----------
    inputs : DesignInputs
        What it was made from.
    design : Design
        The design; its ``grids`` carry codes and names (``<社区>第N网格``).
    lattice : Design
        The naive square lattice of as many grids.
    compared : list of (str, DesignMetrics)
        Current grids (when there are any), the design and the lattice, by label.
    shortfall : str or None
        Why the design is worse than the lattice, or None when it is not.
    """

    inputs: DesignInputs
    design: Design
    lattice: Design
    compared: list[tuple[str, DesignMetrics]]
    shortfall: str | None

    @property
    def grids(self) -> gpd.GeoDataFrame:
        """The designed grids: code, name, households … and geometry (EPSG:4326)."""
        return self.design.grids


def design_inputs(engine: Engine, community: str) -> DesignInputs:
    """Read a community's boundary, buildings, roads and current grids.

    Raises
    ------
    UnknownCommunity
        When no community has that code (the message names some that exist).
    NoHouseholds
        When its buildings hold no households.
    """
    found = grid_store.communities(engine, community)
    if found.empty:
        known = grid_store.communities(engine)["code"].tolist()
        hint = f" (known: {', '.join(known[:8])}{' …' if len(known) > 8 else ''})" if known else ""
        raise UnknownCommunity(f"no community with code {community}{hint}")
    row = found.iloc[0]
    inputs = DesignInputs(
        code=community,
        name=str(row["name"]),
        area=row.geom,
        buildings=grid_store.building_points(engine, community, footprints=True),
        roads=grid_store.road_lines(engine, community),
        current=grid_store.current_grids(engine, community),
    )
    if inputs.households == 0:
        raise NoHouseholds(
            f"community {community} ({inputs.name}) has no households in its buildings: "
            "load buildings and households first (wangge load)"
        )
    return inputs


def propose_design(
    inputs: DesignInputs,
    *,
    min_households: int,
    max_households: int,
    count: int | None = None,
    split_blocks: bool = True,
) -> DesignProposal:
    """Design grids of balanced households along the roads, and compare them.

    Parameters
    ----------
    inputs
        The community (:func:`design_inputs`).
    min_households, max_households
        The band every grid should hold.
    count
        The number of grids; None: the best number.
    split_blocks
        Cut street blocks along gaps between buildings when whole blocks miss the band
        (False: grid boundaries on roads only).

    Raises
    ------
    grids.design.DesignError
        When the community cannot be designed as asked.
    """
    lo, hi = min_households, max_households
    design = design_grids(
        inputs.area,
        inputs.roads,
        inputs.buildings,
        min_households=lo,
        max_households=hi,
        target_count=count,
        split_blocks=split_blocks,
    )
    lattice = naive_square_grid(
        inputs.area, inputs.buildings, design.metrics.n_grids, min_households=lo, max_households=hi
    )
    grids = design.grids
    grids["code"] = generate_codes(inputs.code, grids.geometry.array)
    grids["name"] = [f"{inputs.name}第{int(c[-3:])}网格" for c in grids["code"]]
    compared: list[tuple[str, DesignMetrics]] = []
    current = inputs.current
    if not current.empty:
        households = current["households"].to_numpy()
        compared.append(
            (
                "current 现状",
                measure(current.geometry.array, households, min_households=lo, max_households=hi),
            )
        )
    compared += [("designed 方案", design.metrics), ("naive square 方格", lattice.metrics)]
    shortfall = design.metrics.worse_than(lattice.metrics)
    return DesignProposal(inputs, design, lattice, compared, shortfall)


def save_design(
    engine: Engine,
    proposal: DesignProposal,
    *,
    force: bool = False,
    settings: Settings | None = None,
) -> VersionReport:
    """Store a design as the community's new grids and place its records again.

    Raises
    ------
    WorseThanLattice
        When the design is worse than the lattice and ``force`` is False; nothing is
        stored.
    etl.grid_versions.GridVersionError
        When the grids cannot be stored; nothing is stored.
    """
    community = proposal.inputs.code
    if proposal.shortfall is not None and not force:
        raise WorseThanLattice(
            f"community {community}: not saving a design worse than the naive square lattice "
            f"printed beside it ({proposal.shortfall}). Nothing was stored. Try other "
            "--min/--max or --count, check the roads and buildings of the community, or add "
            "--force to store this design anyway."
        )
    # the records of the community's area move into grids created in this transaction,
    # which no user's area lists yet: the move is the system's (the caller was checked)
    with as_system():
        return save_grid_version(
            engine,
            community,
            proposal.grids[["code", "name", "geometry"]],
            progress=False,
            settings=settings,
        )
