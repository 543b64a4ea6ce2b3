"""``wangge grids check``: check the stored grids' topology; a table, a GeoJSON and a map of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say

if TYPE_CHECKING:
    from grids.topology import TopologyReport

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}


def check(
    community: Annotated[
        str | None, typer.Option("--community", help="only this community (12-digit code)")
    ] = None,
    geojson_out: Annotated[
        Path | None, typer.Option(help="write the problems here as RFC 7946 GeoJSON")
    ] = None,
    map_out: Annotated[
        Path | None, typer.Option(help="write the map of the problems here (HTML)")
    ] = None,
    band_min: Annotated[
        int | None,
        typer.Option(
            min=0, help="fewest households a grid should hold [WANGGE_GRID_HOUSEHOLDS_MIN]"
        ),
    ] = None,
    band_max: Annotated[
        int | None,
        typer.Option(min=0, help="most households a grid should hold [WANGGE_GRID_HOUSEHOLDS_MAX]"),
    ] = None,
    incident_days: Annotated[
        int, typer.Option(min=1, help="incident load counted over this many days")
    ] = 90,
) -> None:
    """Check the current grids' topology, records in no grid, household band, incident load.

    Finds gaps, overlaps, grids crossing their community, slivers, invalid shapes,
    buildings in no grid, grids outside the household band and incident outliers.
    Exits with status 1 when errors exceed the tolerances (to gate an import), else 0.
    """
    from api.services.grids import UnknownCommunity, check_stored_grids
    from grids.topology import CheckTolerances

    try:
        tolerances = CheckTolerances.from_settings(band_min=band_min, band_max=band_max)
    except ValueError as exc:
        fail(str(exc))
    engine = ready_engine()
    try:
        checked = check_stored_grids(
            engine, tolerances, community=community, incident_days=incident_days
        )
    except UnknownCommunity as exc:
        fail(str(exc))
    report, grids = checked.report, checked.grids
    print_report(report, title=f"topology of {community or 'every community'}")

    if geojson_out is not None:
        geojson_out.parent.mkdir(parents=True, exist_ok=True)
        geojson_out.write_text(
            json.dumps(report.to_geojson(), ensure_ascii=False, allow_nan=False),
            encoding="utf-8",
        )
        say(f"[check] problems written to {geojson_out}")
    if map_out is not None:
        from maps.assets import STATIC_DIR, VENDOR_DIR, render_offline
        from maps.topology import topology_map

        if grids.empty and report.problems.empty:
            say("[check] nothing to draw: no map written")
        else:
            # a file opened from disk loads the assets from their folders here
            m = topology_map(
                grids,
                report.problems,
                communities=checked.communities,
                vendor_url=VENDOR_DIR.as_posix(),
                static_url=STATIC_DIR.as_posix(),
            )
            map_out.parent.mkdir(parents=True, exist_ok=True)
            map_out.write_text(render_offline(m), encoding="utf-8")
            say(f"[check] map written to {map_out}")
    if report.exceeds():
        console.print(
            f"[bold red]failed:[/] {report.errors} error(s) exceed the tolerances "
            f"(gating kinds: {', '.join(sorted(tolerances.gate_kinds))}; parts from "
            f"{tolerances.area_m2:g} m²)"
        )
        raise typer.Exit(1)
    console.print(f"[green]passed:[/] {report.warnings} warning(s), no error above the tolerances")


def print_report(report: TopologyReport, title: str = "topology") -> None:
    """Print a topology report to stderr: one row per problem, then a count per kind.

    Parameters
    ----------
    report
        A :class:`grids.topology.TopologyReport`.
    title
        Title of the table.
    """
    from grids.topology import KIND_LABELS

    problems = report.problems
    if len(problems):
        table = Table(title=title, show_lines=True)
        table.add_column("kind")
        table.add_column("severity")
        table.add_column("community")
        table.add_column("grids")
        table.add_column("area m²", justify="right")
        table.add_column("message", ratio=1)
        for row in problems.itertuples():
            area = "" if row.area_m2 != row.area_m2 else f"{row.area_m2:,.1f}"
            style = SEVERITY_STYLE.get(str(row.severity), "")
            table.add_row(
                f"{row.kind}\n{KIND_LABELS.get(str(row.kind), '')}",
                f"[{style}]{row.severity}[/]",
                escape(str(row.community_code or "")),
                escape(str(row.grid_codes).replace(", ", "\n")),
                area,
                escape(str(row.message)),
            )
        console.print(table)
    summary = Table(
        title=f"summary: {report.grids_checked} grid(s), "
        f"{report.communities_checked} community(ies)"
    )
    summary.add_column("kind")
    summary.add_column("问题")
    summary.add_column("count", justify="right")
    summary.add_column("severity")
    for kind, count in report.summary.items():
        severity = report.tolerances.severity(kind)
        summary.add_row(
            kind,
            KIND_LABELS[kind],
            str(count),
            f"[{SEVERITY_STYLE[severity]}]{severity}[/]" if count else severity,
        )
    console.print(summary)
