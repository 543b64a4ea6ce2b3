"""``wangge grids crosswalk``: the grid↔cell crosswalk (H3 or 北斗), and counts converted by it."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.commands.common import fail, ready_engine, say

out = Console()


def crosswalk(
    system: Annotated[str, typer.Option("--system", help="cells: h3 or beidou (北斗)")] = "h3",
    level: Annotated[
        int | None,
        typer.Option("--level", help="H3 resolution or 北斗 level (default: the stored one)"),
    ] = None,
    community: Annotated[
        str | None, typer.Option("--community", help="12-digit community code (default: all)")
    ] = None,
    as_user: Annotated[
        str, typer.Option("--as", help="whose area (community staff see their own grids)")
    ] = "admin",
    out_file: Annotated[
        Path | None, typer.Option("--out", help="write the table (CSV, one row a grid and cell)")
    ] = None,
    counts: Annotated[
        Path | None,
        typer.Option(
            "--counts",
            help="convert this CSV of counts (first column: cell or grid code, second: count)",
        ),
    ] = None,
    direction: Annotated[
        str,
        typer.Option("--direction", help="with --counts: cells_to_grids or grids_to_cells"),
    ] = "cells_to_grids",
    weight: Annotated[
        str, typer.Option("--weight", help="with --counts: split by area or households")
    ] = "area",
) -> None:
    """Per grid: its H3 or 北斗 cells, the area and households they share, and the shares.

    With --counts, converts counts per cell to counts per grid (or back) and prints the
    totals, which are conserved: in = out + outside your area + cells in no grid.
    """
    from api.services import crosswalk as service
    from api.services.accounts import principal_named
    from gis.settings import get_settings

    engine = ready_engine()
    user = principal_named(engine, as_user)
    query = service.CrosswalkQuery(system, level, community)
    settings = get_settings()
    if counts is not None:
        values = _read_counts(counts)
        done = service.convert(engine, settings, user, query, direction, values, weight)
        target = out_file or counts.with_name(f"{counts.stem}.{direction}.csv")
        with target.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["key", "value"])
            writer.writerows(done.values.items())
        table = Table(title=f"{direction} ({done.system} level {done.level}, by {done.weight})")
        for column in ("in", "out", "outside your area", "cells in no grid"):
            table.add_column(column, justify="right")
        table.add_row(
            f"{done.total_in:,.3f}",
            f"{done.total_out:,.3f}",
            f"{done.outside_area:,.3f}",
            f"{sum(done.unplaced.values()):,.3f}",
        )
        out.print(table)
        say(f"wrote {len(done.values)} rows to {target}")
        return
    found = service.crosswalk(engine, settings, user, query)
    table = Table(title=f"grid ↔ {found.system} cells (level {found.level})")
    for column in ("grid", "name", "cells", "area m²", "households"):
        table.add_column(column, justify="right" if column != "name" else "left")
    for grid in found.grids:
        table.add_row(
            grid.code,
            grid.name,
            str(len(grid.cells)),
            f"{grid.area_m2:,.0f}",
            f"{grid.households:,.0f}",
        )
    out.print(table)
    if out_file is not None:
        found.table.to_csv(out_file, index=False)
        say(f"wrote {len(found.table)} rows to {out_file}")


def _read_counts(path: Path) -> dict[str, float]:
    if not path.exists():
        fail(f"{path} does not exist")
    values: dict[str, float] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for i, row in enumerate(csv.reader(f), start=1):
            if len(row) < 2:
                fail(f"{path} row {i}: give two columns, the cell (or grid code) and the count")
            try:
                number = float(row[1])
            except ValueError:
                if i == 1:
                    continue  # a header
                fail(f"{path} row {i}: {row[1]!r} is not a number")
            values[row[0].strip()] = values.get(row[0].strip(), 0.0) + number
    return values
