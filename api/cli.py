"""The ``wangge`` command line: database, sample district, loading, the demo and the server."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say
from gis import clock
from gis.db import cluster
from gis.errors import InvalidInput
from gis.settings import get_settings

app = typer.Typer(
    help="Wangge 网格化管理: grid management for urban communities.",
    no_args_is_help=True,
    add_completion=False,
    # a crash's traceback must not print local variables: reports, names, phones, tokens
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="The database: find or start it, migrate it.", no_args_is_help=True)
app.add_typer(db_app, name="db")
grids_app = typer.Typer(help="Grids (网格): import, export, check, design.", no_args_is_help=True)
app.add_typer(grids_app, name="grids")
areas_app = typer.Typer(
    help="Admin areas: districts, streets, communities, estates.", no_args_is_help=True
)
app.add_typer(areas_app, name="areas")
network_app = typer.Typer(help="The road network.", no_args_is_help=True)
app.add_typer(network_app, name="network")


@db_app.command("ensure")
def db_ensure() -> None:
    """Make sure a PostgreSQL server with PostGIS answers; print its URL."""
    try:
        url = cluster.ensure(get_settings())
    except cluster.DatabaseUnavailable as exc:
        fail(str(exc))
    say(f"[db] using {cluster.display_url(url)}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the schema (Alembic) up to a revision."""
    from gis.db.migrate import current

    engine = ready_engine(migrate_to=revision)
    say(f"[db] schema at revision {current(engine)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target, e.g. 'base'")) -> None:
    """Take the schema back to a revision ('base' drops every table)."""
    from gis.db.migrate import current, downgrade

    engine = ready_engine(migrate_to=None)
    downgrade(engine, revision)
    say(f"[db] schema at revision {current(engine)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the private cluster, if Wangge started one."""
    stopped = cluster.stop_private_cluster(get_settings())
    say("[db] private cluster stopped" if stopped else "[db] no private cluster ran")


@db_app.command("url")
def db_url() -> None:
    """Print the database URL in use (password masked)."""
    typer.echo(cluster.display_url(cluster.resolve_url(get_settings())))


@app.command()
def sample(
    out: Annotated[Path, typer.Option(help="GeoPackage to write")] = Path("sample.gpkg"),
    households: Annotated[int, typer.Option(min=100, help="number of households")] = 20_000,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same district)")] = 42,
) -> None:
    """Generate the sample street office (三墩镇, Hangzhou) and write it as a GeoPackage."""
    from etl.gpkg import write_layers
    from etl.sample import generate_district

    started = time.perf_counter()
    layers = generate_district(households, seed)
    write_layers(layers, out)
    _print_counts(layers, f"{out} written in {time.perf_counter() - started:.1f} s")


@app.command()
def load(
    path: Annotated[
        Path,
        typer.Argument(
            help="GeoPackage with the district's layers, or one layer as a CSV, GeoJSON or "
            "Shapefile named after it (household.csv)"
        ),
    ],
    replace: Annotated[bool, typer.Option(help="empty every table first")] = False,
    coord_type: Annotated[
        str, typer.Option(help="coordinates of the file: wgs84, gcj02 (AMap) or bd09 (Baidu)")
    ] = "wgs84",
) -> None:
    """Load a district GeoPackage, or one layer file, into the database, all or nothing."""
    from etl.gpkg import LayerFileError, read_layers

    try:
        layers = read_layers(path)
    except LayerFileError as exc:
        fail(str(exc))
    _load(layers, replace=replace, coord_type=coord_type)


def _load(layers, *, replace: bool, coord_type: str | None = None):
    from etl.load import LoadError, load_layers
    from gis.coords import CoordTypeError
    from gis.errors import ValidationError

    engine = ready_engine()
    try:
        report = load_layers(engine, layers, replace=replace, coord_type=coord_type)
    except (ValidationError, LoadError, CoordTypeError) as exc:
        fail(f"{exc}\nNothing was loaded.")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(str(warning))}")
    for table, n in report.outside_grids.items():
        console.print(f"[yellow]note:[/] {n} {table} record(s) lie in no grid")
    _print_counts(report.rows, "loaded")
    return engine


def _print_counts(rows, title: str) -> None:
    table = Table(title=title)
    table.add_column("layer")
    table.add_column("rows", justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value if isinstance(value, int) else len(value):,}")
    console.print(table)


@app.command()
def demo(
    households: Annotated[int | None, typer.Option(help="households in the district")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    serve: Annotated[bool, typer.Option(help="serve the app after loading")] = True,
    map_out: Annotated[Path | None, typer.Option(help="also write the map HTML here")] = None,
) -> None:
    """Generate and load the sample district, then serve the map at http://HOST:PORT/."""
    import pandas as pd

    from etl.sample import generate_district

    settings = get_settings()
    households = households or settings.sample_households
    seed = settings.sample_seed if seed is None else seed
    # six months of incidents up to this hour, so the live picture, the overdue cases and
    # the KPIs are of today (the same seed gives the same district whatever the date)
    until = pd.Timestamp(clock.now()).floor("h")
    say(f"[demo] generating {households:,} households (seed {seed}), incidents up to {until}")
    layers = generate_district(households, seed, end=until)
    engine = _load(layers, replace=True)
    if map_out is None and not serve:
        map_out = settings.data_dir / "demo_map.html"
    if map_out is not None:
        from api.routers.maps import render_district_map

        map_out.parent.mkdir(parents=True, exist_ok=True)
        map_out.write_text(render_district_map(engine, settings, for_file=True), encoding="utf-8")
        say(f"[demo] map written to {map_out}")
    from api.commands.incidents import print_demo_sign_ins

    print_demo_sign_ins(engine, f"http://{settings.host}:{settings.port}")
    if serve:
        _serve(engine.url.render_as_string(hide_password=False))


@app.command("serve")
def serve_command() -> None:
    """Serve the API and the maps (no data is loaded)."""
    _serve(cluster.ensure(get_settings()))


def _serve(url: str) -> None:
    import uvicorn

    from api.app import create_app

    settings = get_settings()
    say(f"[serve] http://{settings.host}:{settings.port}/  (docs at /docs)")
    if settings.workers > 1:
        # several processes need the app by name; they read the database from the environment
        os.environ["DATABASE_URL"] = url
        uvicorn.run(
            "api.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="warning",
        )
        return
    uvicorn.run(
        create_app(settings, database_url=url),
        host=settings.host,
        port=settings.port,
        log_level="info",
    )


def _register() -> None:
    """Commands that live in their own modules (api/commands/)."""
    from api.commands import evacuate, grids_check, grids_design, grids_io, incidents, network

    app.add_typer(incidents.users_app, name="users")
    app.add_typer(incidents.incidents_app, name="incidents")

    grids_app.command("import")(grids_io.import_command)
    grids_app.command("export")(grids_io.export_command)
    grids_app.command("check")(grids_check.check)
    grids_app.command("design")(grids_design.design)
    areas_app.command("import")(grids_io.import_areas_command)
    app.command("locate")(grids_io.locate_command)
    network_app.command("import")(network.import_command)
    app.command("evacuate")(evacuate.evacuate)
    from api.commands import plan

    app.add_typer(plan.plan_app, name="plan")
    from api.commands import hazard

    app.add_typer(hazard.hazard_app, name="hazard")
    app.add_typer(hazard.alert_app, name="alert")
    app.add_typer(hazard.report_app, name="report")


_register()


def main() -> None:
    """The ``wangge`` command: an error of ours ends as its message and a non-zero status.

    Every kind of error (:mod:`gis.errors`) already says what, where and how to fix it,
    so the operator sees that line, not a traceback; other failures keep theirs.
    """
    from gis.errors import WanggeError

    try:
        app()
    except WanggeError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise SystemExit(2 if isinstance(exc, InvalidInput) else 1) from None


if __name__ == "__main__":
    main()
