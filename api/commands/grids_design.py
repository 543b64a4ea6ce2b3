"""``wangge grids design``: propose (and with --save store) balanced, road-following grids."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say

if TYPE_CHECKING:
    import geopandas as gpd

    from gis.settings import Settings
    from grids.design import Design, DesignMetrics

out = Console()


def design(
    community: Annotated[str, typer.Option("--community", help="12-digit community code")],
    min_households: Annotated[
        int | None,
        typer.Option(
            "--min", min=1, help="fewest households in a grid [WANGGE_GRID_HOUSEHOLDS_MIN]"
        ),
    ] = None,
    max_households: Annotated[
        int | None,
        typer.Option("--max", min=1, help="most households in a grid [WANGGE_GRID_HOUSEHOLDS_MAX]"),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="number of grids (default: best)")
    ] = None,
    split_blocks: Annotated[
        bool,
        typer.Option(
            "--split-blocks/--whole-blocks",
            help="cut street blocks along gaps between buildings when whole blocks miss the "
            "band (--whole-blocks: grid boundaries on roads only)",
        ),
    ] = True,
    save: Annotated[
        bool, typer.Option("--save/--dry-run", help="store the design as the new grids")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="with --save, store the design even when it is worse than the square lattice",
        ),
    ] = False,
    map_out: Annotated[
        Path | None, typer.Option("--map-out", help="write the before/after map (HTML) here")
    ] = None,
) -> None:
    """Split a community into grids of balanced households along its roads.

    Compares current grids, the design and a naive square grid; --save stores the design,
    unless it is worse than the square lattice (fewer grids in the band, or as many and
    one farther from it): then --force is needed.
    """
    from api.services.grid_design import design_inputs, propose_design, save_design
    from etl.grid_versions import GridVersionError
    from gis.settings import get_settings
    from grids.design import DesignError

    settings = get_settings()
    if min_households is None:
        min_households = settings.grid_households_min
    if max_households is None:
        max_households = settings.grid_households_max
    if min_households > max_households:
        fail(f"--min {min_households} is above --max {max_households}")
    engine = ready_engine()
    inputs = design_inputs(engine, community)
    say(
        f"[design] {inputs.name} {community}: {len(inputs.buildings)} buildings, "
        f"{inputs.households} households, {len(inputs.roads)} road edges, "
        f"{len(inputs.current)} current grids"
    )
    try:
        proposal = propose_design(
            inputs,
            min_households=min_households,
            max_households=max_households,
            count=count,
            split_blocks=split_blocks,
        )
    except DesignError as exc:
        fail(f"community {community}: {exc}")
    out.print(_comparison(proposal.compared, community))
    out.print(_grid_table(proposal.design))
    for note in proposal.design.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")

    if map_out is not None:
        _write_map(
            map_out,
            inputs.current,
            proposal.grids,
            inputs.roads,
            min_households,
            max_households,
            inputs.name,
            settings,
        )
        say(f"[design] map written to {map_out}")

    if proposal.shortfall is not None:
        console.print(
            f"[yellow]warning:[/] the design is worse than the naive square lattice: "
            f"{escape(proposal.shortfall)}"
        )
    if not save:
        say("[design] dry run: nothing stored (add --save to store this design)")
        return
    try:
        report = save_design(engine, proposal, force=force, settings=settings)
    except GridVersionError as exc:
        fail(f"{exc}\nNothing was stored.")
    out.print(
        f"stored: {len(report.retired)} grid(s) retired, {len(report.created)} created: "
        f"{', '.join(report.codes)}",
        markup=False,
    )
    out.print(
        f"records placed again: {report.relocated.changed}; "
        f"in no grid: {report.relocated.in_no_grid}",
        markup=False,
    )


def _comparison(rows: list[tuple[str, DesignMetrics]], community: str) -> Table:
    band = rows[0][1]
    table = Table(
        title=f"community {community}: households per grid "
        f"(band {band.min_households}–{band.max_households})"
    )
    table.add_column("grids")
    for column in (
        "n",
        "households",
        "std",
        "min",
        "max",
        "in band",
        "worst miss",
        "mean Polsby-Popper",
    ):
        table.add_column(column, justify="right")
    for name, m in rows:
        table.add_row(
            name,
            str(m.n_grids),
            f"{m.households:,}",
            f"{m.households_std:.1f}",
            str(m.households_min),
            str(m.households_max),
            f"{m.share_in_band:.0%}",
            str(m.worst_deviation),
            f"{m.mean_polsby_popper:.3f}",
        )
    return table


def _grid_table(proposal: Design) -> Table:
    table = Table(title="designed grids")
    for column in ("code", "households", "buildings", "blocks", "area m²", "Polsby-Popper"):
        table.add_column(column, justify="right" if column != "code" else "left")
    for g in proposal.grids.itertuples():
        flag = " ▲" if g.heavy else ("" if g.in_band else " *")
        table.add_row(
            f"{g.code}{flag}",
            f"{g.households:,}",
            str(g.buildings),
            str(g.blocks),
            f"{g.area_m2:,.0f}",
            f"{g.polsby_popper:.3f}",
        )
    table.caption = "* outside the band  ▲ one block above the band (buildings not separable)"
    return table


def _write_map(
    path: Path,
    current: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame,
    lo: int,
    hi: int,
    name: str,
    settings: Settings,
) -> None:
    """Write the before/after map, loading its assets from their folders (opens from disk)."""
    from maps.assets import STATIC_DIR, VENDOR_DIR, render_offline
    from maps.design import DEFAULT_TITLE, design_map

    path.parent.mkdir(parents=True, exist_ok=True)
    vendor, static = VENDOR_DIR.as_posix(), STATIC_DIR.as_posix()
    m = design_map(
        current,
        grids,
        roads=roads,
        settings=settings,
        title=f"{name} · {DEFAULT_TITLE}",
        min_households=lo,
        max_households=hi,
        vendor_url=vendor,
        static_url=static,
    )
    path.write_text(render_offline(m, vendor, static), encoding="utf-8")
