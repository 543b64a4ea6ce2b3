"""The grid↔cell crosswalk (网格与H3/北斗网格对照): per grid its cells and shares; counts both ways.

Data often arrives per cell — a census grid on H3, a provincial platform's counts keyed
by 北斗 grid code (GB/T 39409-2020) — and must be read per 网格, or the other way round.
The crosswalk (:mod:`grids.crosswalk`) is built over every current grid of the district
(or one community), so a cell on the edge of the caller's area is split exactly as it
would be for anyone; the caller then sees only the grids of their area, and a conversion
says how much of a total went to grids outside it.  Totals are conserved:
``total_in == total_out + outside_area + unplaced``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine

import h3

from api.services.grids import UnknownCommunity
from gis.errors import InvalidInput, NotFound, Problem, ServiceError
from gis.settings import Settings
from gis.store import grid_store
from grids import beidou
from grids.access import Principal, require_staff, rows_in_area
from grids.crosswalk import SYSTEMS, build_crosswalk, cells_to_grids, grids_to_cells

Direction = Literal["cells_to_grids", "grids_to_cells"]
DIRECTIONS = ("cells_to_grids", "grids_to_cells")
WEIGHTS = ("area", "households")
#: Most values one conversion takes.
MAX_VALUES = 200_000


class CrosswalkInputError(ServiceError, InvalidInput):
    """A cell or grid key, system, level or value a conversion cannot use."""


class NoGridsHere(ServiceError, NotFound):
    """The caller's area holds none of the grids asked for."""


@dataclass(frozen=True)
class CrosswalkQuery:
    """Which crosswalk: cell system, its resolution (H3) or level (北斗), one community or all."""

    system: str = "h3"
    level: int | None = None
    community: str | None = None


@dataclass(frozen=True)
class CellShare:
    """One cell of a grid and how the two share it (areas m², households)."""

    cell: str
    area_m2: float
    cell_area_m2: float
    cell_coverage: float
    households: float
    area_share: float
    household_share: float
    grid_area_share: float
    grid_household_share: float


@dataclass(frozen=True)
class GridCells:
    """A grid and its cells."""

    grid_id: int
    code: str
    name: str
    community: str
    area_m2: float
    households: float
    cells: list[CellShare]


@dataclass(frozen=True)
class Crosswalk:
    """The crosswalk of the caller's grids: ``table`` as rows, ``grids`` per grid."""

    system: str
    level: int
    grids: list[GridCells]
    table: pd.DataFrame = field(repr=False)


@dataclass(frozen=True)
class Conversion:
    """Counts converted through the crosswalk, with the totals that prove nothing was lost."""

    system: str
    level: int
    direction: str
    weight: str
    values: dict[str, float]
    total_in: float
    total_out: float
    outside_area: float
    unplaced: dict[str, float]


def _level(settings: Settings, query: CrosswalkQuery) -> int:
    if query.system not in SYSTEMS:
        raise CrosswalkInputError(
            f"system must be one of {', '.join(SYSTEMS)}, not {query.system!r}"
        )
    if query.system == "h3":
        level = settings.h3_resolution if query.level is None else query.level
        if not 0 <= level <= 15:
            raise CrosswalkInputError(f"level (H3 resolution) must be 0 to 15, not {level}")
        if level < 7:
            raise CrosswalkInputError(
                f"H3 resolution {level} has cells larger than a street: use 7 to 15"
            )
        return level
    level = settings.beidou_level if query.level is None else query.level
    if not 4 <= level <= 10:
        raise CrosswalkInputError(
            f"level (北斗) must be 4 (1′ cells) to 10 for a crosswalk of 网格, not {level}"
        )
    return level


Built = tuple[pd.DataFrame, pd.DataFrame, int]


def _build(engine: Engine, settings: Settings, query: CrosswalkQuery) -> Built:
    """(crosswalk over every current grid in scope, the grids, level)."""
    level = _level(settings, query)
    if query.community is not None and grid_store.communities(engine, query.community).empty:
        raise UnknownCommunity(
            f"no community with code {query.community}: give a 12-digit community code that "
            "is loaded, or leave community out for the whole district"
        )
    grids = grid_store.current_grids(engine, query.community)
    if grids.empty:
        empty = pd.DataFrame(columns=["cell", "id"])
        return empty, grids, level
    buildings = grid_store.building_points(engine, query.community)
    households = pd.DataFrame(
        {
            "lon": buildings.geometry.x.to_numpy(),
            "lat": buildings.geometry.y.to_numpy(),
            "households": buildings["households"].to_numpy(),
        }
    )
    table = build_crosswalk(
        grids[["id", "geom"]].set_geometry("geom"),
        level,
        households,
        grid_id="id",
        count="households",
        system=query.system,  # type: ignore[arg-type]
    )
    return table, grids, level


def _cell_text(cells: np.ndarray, system: str) -> list[str]:
    if system == "beidou":
        return beidou.to_strings(cells).tolist()
    return [h3.int_to_str(int(c)) for c in cells]


def crosswalk(
    engine: Engine, settings: Settings, user: Principal, query: CrosswalkQuery
) -> Crosswalk:
    """Per grid of the caller's area: its cells, their areas, households and the four shares.

    ``area_share``/``household_share`` split a cell among its grids (1 over a cell's grids,
    which may lie partly outside the caller's area); ``grid_area_share`` and
    ``grid_household_share`` split a grid among its cells (1 over each grid's cells).
    """
    require_staff(user, "read the grid↔cell crosswalk")
    table, grids, level = _build(engine, settings, query)
    visible = grids[rows_in_area(user, grids["id"])]
    if query.community is not None and visible.empty and not grids.empty:
        raise NoGridsHere(
            f"community {query.community} is not in your area: ask for one of your own "
            "communities, or leave community out"
        )
    table = table[table["id"].isin(visible["id"])].reset_index(drop=True)
    table.insert(1, "code", _cell_text(table["cell"].to_numpy(np.int64), query.system))
    out: list[GridCells] = []
    for grid in visible.itertuples(index=False):
        rows = table[table["id"] == grid.id]
        cells = [
            CellShare(
                cell=r.code,
                area_m2=round(float(r.area_m2), 2),
                cell_area_m2=round(float(r.cell_area_m2), 2),
                cell_coverage=float(r.cell_coverage),
                households=float(r.households),
                area_share=float(r.area_share),
                household_share=float(r.household_share),
                grid_area_share=float(r.grid_area_share),
                grid_household_share=float(r.grid_household_share),
            )
            for r in rows.itertuples(index=False)
        ]
        out.append(
            GridCells(
                grid_id=int(grid.id),
                code=str(grid.code),
                name=str(grid.name),
                community=str(grid.community_name),
                area_m2=round(float(rows["area_m2"].sum()), 2),
                households=float(rows["households"].sum()),
                cells=cells,
            )
        )
    grid_codes = dict(zip(visible["id"], visible["code"], strict=True))
    table.insert(0, "grid_code", table["id"].map(grid_codes))
    return Crosswalk(query.system, level, out, table.drop(columns=["cell"]))


def _parse_cells(keys: list[str], system: str, level: int) -> np.ndarray:
    problems: list[Problem] = []
    cells = np.zeros(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        try:
            if system == "beidou":
                cell = int(beidou.from_strings([key])[0])
                ok = int(beidou.levels_of([cell])[0]) == level
            else:
                ok = h3.is_valid_cell(key) and h3.get_resolution(key) == level
                cell = h3.str_to_int(key) if ok else 0
        except (ValueError, beidou.BeidouError):
            ok, cell = False, 0
        if not ok:
            what = "a 北斗 code of level" if system == "beidou" else "an H3 index of resolution"
            problems.append(
                Problem(
                    layer="values",
                    row=i + 1,
                    record_id=None,
                    field="cell",
                    message=f"{key!r} is not {what} {level}",
                    fix=f"send {what} {level}, or set level to the cells' own",
                )
            )
        cells[i] = cell
    if problems:
        shown = "; ".join(f"{p.message} (value {p.row})" for p in problems[:10])
        error = CrosswalkInputError(f"{len(problems)} of {len(keys)} keys are not cells: {shown}")
        error.problems = problems[:100]
        raise error
    return cells


def convert(
    engine: Engine,
    settings: Settings,
    user: Principal,
    query: CrosswalkQuery,
    direction: str,
    values: Mapping[str, float],
    weight: str = "area",
) -> Conversion:
    """Convert counts per cell to counts per grid (``cells_to_grids``) or back.

    Parameters
    ----------
    values
        Keyed by cell (H3 hex index, or 北斗 code, at the crosswalk's level) or by grid
        code (15 digits, a current grid of the caller's area).
    weight
        ``area`` or ``households``: how a cell is split among grids (a grid among cells).

    Returns
    -------
    Conversion
        Per grid code (or cell) of the caller's area; ``outside_area`` is what went to
        grids outside it, ``unplaced`` the values of cells that meet no grid.
    """
    require_staff(user, "convert counts through the grid↔cell crosswalk")
    if direction not in DIRECTIONS:
        raise CrosswalkInputError(
            f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}"
        )
    if weight not in WEIGHTS:
        raise CrosswalkInputError(f"weight must be one of {', '.join(WEIGHTS)}, not {weight!r}")
    if len(values) > MAX_VALUES:
        raise CrosswalkInputError(
            f"{len(values):,} values are more than {MAX_VALUES:,}: send them in parts"
        )
    numbers = np.array([float(v) for v in values.values()], dtype=np.float64)
    if not np.isfinite(numbers).all():
        raise CrosswalkInputError("every value must be a finite number (no NaN or infinity)")
    keys = [str(k).strip() for k in values]
    table, grids, level = _build(engine, settings, query)
    visible = set(grids.loc[rows_in_area(user, grids["id"]), "id"].tolist())
    total_in = float(numbers.sum())
    if direction == "cells_to_grids":
        cells = _parse_cells(keys, query.system, level)
        series = pd.Series(numbers, index=cells).groupby(level=0).sum()
        known = series.index.isin(table["cell"].unique() if len(table) else [])
        unplaced_cells = series[~known]
        per_grid = (
            cells_to_grids(series[known], table, weight, outside="drop")
            if known.any()
            else pd.Series(dtype=np.float64)
        )
        mine = per_grid[per_grid.index.isin(visible)]
        codes = dict(zip(grids["id"], grids["code"], strict=True))
        out = {codes[int(g)]: float(v) for g, v in mine.items()}
        unplaced = dict(
            zip(
                _cell_text(unplaced_cells.index.to_numpy(np.int64), query.system),
                unplaced_cells.astype(float).tolist(),
                strict=True,
            )
        )
        outside = float(per_grid.sum() - mine.sum())
    else:
        ids = dict(zip(grids["code"], grids["id"], strict=True))
        wrong = [k for k in keys if k not in ids or ids[k] not in visible]
        if wrong:
            raise CrosswalkInputError(
                f"{len(wrong)} keys are not current grids of your area: "
                f"{', '.join(repr(w) for w in wrong[:10])}; send 15-digit grid codes "
                "(GET /api/grids lists them)"
            )
        series = pd.Series(numbers, index=[ids[k] for k in keys]).groupby(level=0).sum()
        per_cell = grids_to_cells(series, table, weight, outside="drop")  # type: ignore[arg-type]
        per_cell = per_cell[per_cell != 0]
        out = dict(
            zip(
                _cell_text(per_cell.index.to_numpy(np.int64), query.system),
                per_cell.astype(float).tolist(),
                strict=True,
            )
        )
        unplaced, outside = {}, 0.0
    return Conversion(
        system=query.system,
        level=level,
        direction=direction,
        weight=weight,
        values=out,
        total_in=total_in,
        total_out=float(sum(out.values())),
        outside_area=outside,
        unplaced=unplaced,
    )
