"""``wangge import``, ``wangge template`` and ``wangge export``: the registers in and out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say

KINDS_HELP = "areas, grids, buildings, households, residents, facilities, shelters or osm"
IMPORT_KINDS = ("areas", "grids", "buildings", "households", "residents", "facilities", "shelters")


def _options(
    coord_type: str,
    mapping: list[str] | None,
    sheet: str | None,
    on_error: str,
    rejects: Path | None,
    dry_run: bool,
    replace: bool,
    offset_check: bool,
    path: Path,
    area: str | None = None,
):
    from api.services.registry_io import ImportOptions

    if on_error not in ("abort", "skip"):
        fail(f"--on-error {on_error!r}: use abort (all or nothing) or skip (the good rows)")
    pairs: dict[str, str] = {}
    for entry in mapping or []:
        source, sep, target = entry.partition("=")
        if not sep:
            fail(f"--map {entry!r}: write it as 源列=field, e.g. 楼号=building")
        pairs[source.strip()] = target.strip()
    if on_error == "skip" and rejects is None:
        rejects = path.with_name(f"{path.stem}.rejects.xlsx")
    if rejects is not None and rejects.resolve() == path.resolve():
        fail(
            f"--rejects {rejects}: that is the file being imported; name another file "
            f"(e.g. {path.with_name(f'{path.stem}.rejects.xlsx')})"
        )
    return ImportOptions(
        coord_type=coord_type,
        mapping=pairs,
        sheet=sheet,
        on_error=on_error,  # type: ignore[arg-type]
        rejects=rejects,
        dry_run=dry_run,
        replace=replace,
        offset_check=offset_check,
        area=area,
    )


def print_summary(summary, *, title: str | None = None) -> None:
    """The counts of an import, its notes, warnings and refused rows."""
    from etl.imports.problems import summarise

    table = Table(title=title or f"{summary.kind} from {summary.source}")
    for column in ("added", "changed", "unchanged", "removed", "rejected"):
        table.add_column(column, justify="right")
    table.add_row(
        *(
            f"{getattr(summary, c):,}"
            for c in ("added", "changed", "unchanged", "removed", "rejected")
        )
    )
    console.print(table)
    for note in summary.notes:
        say(f"  note: {note}")
    if summary.outside_grids:
        say(f"  note: {summary.outside_grids:,} record(s) lie in no grid")
    for warning in summary.warnings[:10]:
        console.print(f"  [yellow]warning:[/] {escape(warning)}")
    if len(summary.warnings) > 10:
        say(f"  … and {len(summary.warnings) - 10} more warnings")
    if summary.rejected:
        say(f"  {summary.rejected:,} row(s) refused:")
        for line in summarise(summary.problems):
            say(f"    - {line}")
        if summary.rejects_file is not None:
            say(f"  the refused rows, with a reason column, are in {summary.rejects_file}")
    if summary.dry_run:
        say("  dry run: nothing was stored")


def import_command(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP)],
    path: Annotated[
        Path,
        typer.Argument(help=".xlsx, .csv (UTF-8 or GBK), .geojson, .gpkg, .shp; .osm/.osm.pbf"),
    ],
    coord_type: Annotated[
        str, typer.Option(help="wgs84, gcj02 (AMap, Tencent) or bd09 (Baidu)")
    ] = "wgs84",
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="源列=field for a header not recognised (repeatable)"),
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="sheet of a workbook, layer of a file")] = None,
    on_error: Annotated[
        str, typer.Option(help="abort: all or nothing; skip: the good rows, rejects to a file")
    ] = "abort",
    rejects: Annotated[
        Path | None, typer.Option(help="where skip writes the refused rows (.xlsx or .csv)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="do everything, store nothing")] = False,
    replace: Annotated[
        bool, typer.Option(help="remove the stored records of the kind not in the file")
    ] = False,
    offset_check: Annotated[
        bool, typer.Option(help="look for GCJ-02/BD-09 coordinates declared WGS84")
    ] = True,
    community: Annotated[str | None, typer.Option(help="grids: put all in this community")] = None,
    force: Annotated[bool, typer.Option(help="grids: store despite topology errors")] = False,
    area: Annotated[
        str | None,
        typer.Option(
            help="the office's area code when one deployment serves many offices: its ids "
            "are its own, its records must lie in it, --replace removes only its records"
        ),
    ] = None,
) -> None:
    """Import an office's file of one kind: matched on its own ids, all or nothing."""
    from api.services import registry_io as service
    from etl.gpkg import LayerFileError
    from etl.grid_files import GridImportRejected
    from etl.imports.headers import MappingError
    from etl.imports.problems import ImportRejected
    from etl.imports.readers import FileReadError
    from etl.load import LoadError
    from etl.osm import OsmError
    from gis.coords import CoordTypeError
    from gis.errors import ValidationError

    if kind not in (*IMPORT_KINDS, "osm"):
        fail(f"unknown kind {kind!r}: use one of {KINDS_HELP}")
    if not path.exists():
        fail(f"{path}: no such file")
    if kind == "grids" and area is not None:
        fail("--area is for an office's registers; grids belong where their community code says")
    if kind == "osm" and on_error == "abort":
        on_error = "skip"  # a few broken footprints must not refuse an extract
    options = _options(
        coord_type, mapping, sheet, on_error, rejects, dry_run, replace, offset_check, path, area
    )
    engine = ready_engine()
    try:
        if kind == "osm":
            osm = service.import_osm(engine, path, options, progress=True)
            say(
                f"[osm] road network: {osm.road_nodes:,} nodes, {osm.road_edges:,} edges "
                f"(replaced) from {osm.source}"
            )
            for what, tags in osm.decided_by.items():
                ranked = sorted(tags.items(), key=lambda tn: -tn[1])  # the most first
                shown = ", ".join(f"{t} {n}" for t, n in ranked[:6])
                more = len(ranked) - 6
                shown += f" and {more} more tag(s)" if more > 0 else ""
                say(f"[osm] {what}: {sum(tags.values()):,} ({shown})")
            if osm.incomplete_buildings:
                say(
                    f"[osm] {osm.incomplete_buildings:,} building(s) at the edge of the extract "
                    "were incomplete and left out"
                )
            for part in osm.parts:
                print_summary(part)
            return
        if kind == "grids":
            summary, report = service.import_grids_file(
                engine, path, options, community=community, force=force, progress=True
            )
            from api.commands.grids_io import _print_topology

            _print_topology(getattr(report, "topology", None))
            print_summary(summary)
            return
        summary = service.import_file(engine, kind, path, options, progress=True)  # type: ignore[arg-type]
    except GridImportRejected as exc:
        from api.commands.grids_io import _print_topology

        _print_topology(exc.topology)
        fail(str(exc))
    except ImportRejected as exc:
        fail(str(exc))
    except (
        FileReadError,
        MappingError,
        LayerFileError,
        LoadError,
        ValidationError,
        CoordTypeError,
        OsmError,
    ) as exc:
        fail(f"{exc}\nNothing was stored.")
    print_summary(summary)


def template_command(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP.replace(" or osm", ""))],
    path: Annotated[Path, typer.Argument(help="the workbook to write (.xlsx)")],
) -> None:
    """Write an empty workbook to fill in: Chinese headers, a notes row, data validation."""
    from api.services.registry_io import write_template

    if kind not in IMPORT_KINDS:
        fail(f"unknown kind {kind!r}: use one of {', '.join(IMPORT_KINDS)}")
    if path.suffix.lower() != ".xlsx":
        fail(f"{path}: the template is an Excel workbook; name it .xlsx")
    out = write_template(kind, path)  # type: ignore[arg-type]
    say(f"template of {kind} written to {out}")


def export_command(
    kind: Annotated[
        str, typer.Argument(help="households, residents, buildings, facilities or incidents")
    ],
    path: Annotated[Path, typer.Argument(help="the file to write: .xlsx, .csv or .gpkg")],
    area: Annotated[str, typer.Option(help="the admin area's code (district … estate)")],
    as_user: Annotated[str, typer.Option("--as", help="who exports (masking follows the role)")],
) -> None:
    """Export the registers of an area, masked by the user's role (audited)."""
    from api.services.accounts import UnknownUser, principal_named
    from api.services.registry_io import AreaNotFound, export_registers
    from grids.access import Forbidden

    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("xlsx", "csv", "gpkg"):
        fail(f"{path}: write .xlsx, .csv or .gpkg")
    if kind not in ("households", "residents", "buildings", "facilities", "incidents"):
        fail(f"unknown kind {kind!r}: households, residents, buildings, facilities or incidents")
    engine = ready_engine()
    try:
        user = principal_named(engine, as_user)
        exported = export_registers(engine, user, kind, area, fmt)  # type: ignore[arg-type]
    except (UnknownUser, AreaNotFound, Forbidden) as exc:
        fail(str(exc))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(exported.content)
    masked = "; names, ID numbers and phones masked" if exported.masked else ""
    audited = "; written to the audit log" if exported.audited else ""
    say(f"{exported.rows:,} {kind} of {area} written to {path}{masked}{audited}")
