"""Commands that move grids and admin areas in and out: import, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.commands.common import console, fail, ready_engine


def import_command(
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or Shapefile of grids")],
    coord_type: Annotated[str, typer.Option(help="wgs84, gcj02 (AMap) or bd09 (Baidu)")] = "wgs84",
    community: Annotated[str | None, typer.Option(help="put every grid in this community")] = None,
    layer: Annotated[str | None, typer.Option(help="layer of a multi-layer file")] = None,
    force: Annotated[bool, typer.Option(help="store even with topology errors")] = False,
    dry_run: Annotated[bool, typer.Option(help="check only, store nothing")] = False,
) -> None:
    """Import a grid file as the new grids of the communities it covers (all or nothing)."""
    from api.services.grids import import_grid_file
    from etl.gpkg import LayerFileError
    from etl.grid_files import GridImportRejected
    from gis.coords import CoordTypeError
    from gis.errors import ValidationError

    engine = ready_engine()
    try:
        report = import_grid_file(
            engine,
            path,
            coord_type=coord_type,
            community=community,
            layer=layer,
            force=force,
            dry_run=dry_run,
        )
    except GridImportRejected as exc:
        _print_topology(exc.topology)
        fail(str(exc))
    except (LayerFileError, ValidationError, CoordTypeError) as exc:
        fail(f"{exc}\nNothing was stored.")
    _print_topology(report.topology)
    for version in report.versions:
        console.print(
            f"community {version.community_code}: {len(version.retired)} grid(s) "
            f"retired, {len(version.created)} created: {', '.join(version.codes)}",
            markup=False,
        )
    if report.versions:
        moved = report.versions[0].relocated
        console.print(
            f"records placed again: {moved.changed}; in no grid: {moved.in_no_grid}", markup=False
        )
    if report.unchanged:
        console.print(
            f"{report.unchanged} grid(s) exactly as stored: no new version made", markup=False
        )
    if not report.saved and report.unchanged < report.grids:
        console.print(f"dry run: {report.grids} grid(s) checked, nothing stored", markup=False)


def _print_topology(topology: object) -> None:
    problems = getattr(topology, "problems", None)
    if problems is None or len(problems) == 0:
        return
    from rich.table import Table

    table = Table(title="topology")
    for column in ("kind", "severity", "grid_codes", "area_m2", "message"):
        table.add_column(column)
    for row in problems.itertuples():
        area = "" if row.area_m2 != row.area_m2 else f"{row.area_m2:,.0f}"
        table.add_row(row.kind, row.severity, str(row.grid_codes), area, escape(row.message))
    console.print(table)


def export_command(
    path: Annotated[Path, typer.Argument(help="output: .geojson, .gpkg or .shp")],
    community: Annotated[str | None, typer.Option(help="only this community")] = None,
) -> None:
    """Export the current grids, with household counts."""
    from api.services.grids import export_grid_file
    from etl.gpkg import LayerFileError

    try:
        out = export_grid_file(ready_engine(), path, community)
    except LayerFileError as exc:
        fail(str(exc))
    console.print(f"grids written to {out}", markup=False)


def import_areas_command(
    path: Annotated[Path, typer.Argument(help="file of admin-area polygons")],
    coord_type: Annotated[str, typer.Option(help="wgs84, gcj02 or bd09")] = "wgs84",
    layer: Annotated[str | None, typer.Option(help="layer of a multi-layer file")] = None,
) -> None:
    """Import province / city / district / street / community / estate boundaries.

    The same as 'import areas'.  Codes, names, levels (省/市/区/街道/社区/小区) and parents
    are read in any of the data dictionary's spellings (AMap's adcode …); a bare geometry
    named by its code (320102.geojson, 320100.geojson) is read too, and the hierarchy is
    built from the codes: a district already stored is hung under its city when the city
    is imported.
    """
    from api.commands.registry import import_command

    import_command("areas", path, coord_type=coord_type, sheet=layer)
