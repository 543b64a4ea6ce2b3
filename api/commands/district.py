"""``wangge sample``, ``load``, ``demo`` and ``locate``: the district's data in and placed."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say
from gis.settings import get_settings

if TYPE_CHECKING:
    import pandas as pd

    from api.services.accounts import SignIn
    from etl.load import LoadReport
    from etl.sample.areas import SampleArea


#: ``--area``: the area a sample district is made for or loaded into (many offices, #20).
AREA_HELP = (
    "division code of the area: a district's (6 digits) or a street's (9); the district is "
    "made with its codes, at a spot of its own, and loaded beside the other areas' "
    "(--replace then removes this area's records only)"
)
AT_HELP = "LON,LAT of the district's centre (with --area; default: a spot chosen by the code)"


def sample(
    out: Annotated[Path, typer.Option(help="GeoPackage to write")] = Path("sample.gpkg"),
    households: Annotated[int, typer.Option(min=100, help="number of households")] = 20_000,
    seed: Annotated[int, typer.Option(min=0, help="random seed (same seed, same district)")] = 42,
    area: Annotated[str | None, typer.Option(help=AREA_HELP)] = None,
    at: Annotated[str | None, typer.Option(help=AT_HELP)] = None,
) -> None:
    """Generate the sample street office (三墩镇, Hangzhou) and write it as a GeoPackage."""
    from api.services.district import write_sample
    from etl.sample.areas import AreaCodeError

    started = time.perf_counter()
    try:
        layers = write_sample(out, households, seed, _area(area, at))
    except AreaCodeError as exc:
        fail(str(exc))
    _print_counts(layers, f"{out} written in {time.perf_counter() - started:.1f} s")


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
    area: Annotated[
        str | None,
        typer.Option(
            help="load into this area beside the others (a district made by 'wangge sample "
            "--area CODE'); --replace then removes this area's records only"
        ),
    ] = None,
) -> None:
    """Load a district GeoPackage, or one layer file, into the database, all or nothing."""
    from api.services.district import load_district, read_district_file
    from etl.gpkg import LayerFileError

    if area is not None:
        _area(area, None)  # a code of the right form, before reading the file
    try:
        layers = read_district_file(path)
    except LayerFileError as exc:
        fail(str(exc))
    engine = ready_engine()
    _loaded(
        lambda: load_district(engine, layers, replace=replace, coord_type=coord_type, area=area)
    )


def demo(
    households: Annotated[
        int | None, typer.Option(min=100, help="households in the district")
    ] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="random seed")] = None,
    serve: Annotated[bool, typer.Option(help="serve the app after loading")] = True,
    map_out: Annotated[Path | None, typer.Option(help="also write the map HTML here")] = None,
    area: Annotated[str | None, typer.Option(help=AREA_HELP)] = None,
    at: Annotated[str | None, typer.Option(help=AT_HELP)] = None,
) -> None:
    """Generate and load the sample district, then serve the map at http://HOST:PORT/.

    Without ``--area`` the district replaces everything stored; with it, only that
    area's records, and the sign-ins printed are that area's staff (and the admin).
    """
    from api.commands.serve import serve as serve_app
    from api.services.accounts import demo_sign_ins
    from api.services.district import load_demo, plan_demo

    settings = get_settings()
    plan = plan_demo(settings, households, seed, _area(area, at))
    into = "" if plan.area is None else f" into area {plan.area.code}"
    say(
        f"[demo] generating {plan.households:,} households (seed {plan.seed}){into}, "
        f"incidents up to {plan.until}"
    )
    engine = ready_engine()
    _loaded(lambda: load_demo(engine, plan))
    if map_out is None and not serve:
        map_out = settings.data_dir / "demo_map.html"
    if map_out is not None:
        from api.services.district import district_map_html

        map_out.parent.mkdir(parents=True, exist_ok=True)
        map_out.write_text(district_map_html(engine, settings, for_file=True), encoding="utf-8")
        say(f"[demo] map written to {map_out}")
    _print_sign_ins(demo_sign_ins(engine, area=area), f"http://{settings.host}:{settings.port}")
    if serve:
        serve_app(engine.url.render_as_string(hide_password=False))


def locate_command(
    dask: Annotated[
        bool,
        typer.Option(
            "--dask",
            help="locate on a Dask cluster: WANGGE_DASK_SCHEDULER, else a LocalCluster of "
            "WANGGE_DASK_WORKERS processes started for the job",
        ),
    ] = False,
) -> None:
    """Place every located record again in its grid and H3 cell (with progress)."""
    from api.services.district import relocate_all

    if dask:
        settings = get_settings()
        where = settings.dask_scheduler or f"a LocalCluster of {settings.dask_workers} workers"
        say(f"[locate] on Dask: {where}")
    report = relocate_all(ready_engine(), on_dask=dask)
    console.print(f"changed: {report.changed}; in no grid: {report.in_no_grid}", markup=False)


def _area(code: str | None, at: str | None) -> SampleArea | None:
    """The area of ``--area`` (and ``--at``), or None; a clear refusal for a bad one."""
    from etl.sample.areas import AreaCodeError, sample_area

    if code is None:
        if at is not None:
            fail("--at places an area's district: give --area CODE too")
        return None
    centre = None
    if at is not None:
        try:
            lon, lat = (float(v) for v in at.split(","))
        except ValueError:
            fail(f"--at {at!r}: give LON,LAT, e.g. 120.15,30.28")
        centre = (lon, lat)
    try:
        return sample_area(code, centre)
    except AreaCodeError as exc:
        fail(str(exc))


def _loaded(run: Callable[[], LoadReport]) -> None:
    """Run a load; print its warnings, the records in no grid and the rows per layer."""
    from etl.area_load import AreaLoadError
    from etl.load import LoadError
    from etl.sample.areas import AreaCodeError
    from gis.coords import CoordTypeError
    from gis.errors import ValidationError

    try:
        report = run()
    except LoadError as exc:  # the database's refusal, which says nothing was loaded
        fail(str(exc))
    except (ValidationError, CoordTypeError, AreaLoadError, AreaCodeError) as exc:
        fail(f"{exc}\nNothing was loaded.")
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(str(warning))}")
    for table, n in report.outside_grids.items():
        console.print(f"[yellow]note:[/] {n} {table} record(s) lie in no grid")
    _print_counts(report.rows, "loaded")


def _print_counts(rows: Mapping[str, int | pd.DataFrame], title: str) -> None:
    table = Table(title=title)
    table.add_column("layer")
    table.add_column("rows", justify="right")
    for name, value in rows.items():
        table.add_row(name, f"{value if isinstance(value, int) else len(value):,}")
    console.print(table)


def _print_sign_ins(sign_ins: list[SignIn], base_url: str) -> None:
    """Print the demo's sign-ins in full, one line each (never cut to the terminal's width).

    A user name and a fresh password per role for the sign-in page (the pages, the
    worker's tablet included), and a bearer token for the API.
    """
    from api.services.accounts import DEMO_TOKEN_DAYS

    say(f"[demo] sign in at {base_url}/login (new passwords on every run):")
    width = max((len(s.role) for s in sign_ins), default=0)
    for s in sign_ins:
        typer.echo(f"  {s.role:<{width}}  user: {s.username}  password: {s.password}")
    say(f"[demo] API tokens (valid {DEMO_TOKEN_DAYS} days; 'Authorization: Bearer TOKEN'):")
    for s in sign_ins:
        typer.echo(f"  {s.role:<{width}}  {s.token}")
    tokens = {s.role: s.token for s in sign_ins}
    if "grid_worker" in tokens:
        say(f"[demo] worker's tablet: {base_url}/worker (signed in as grid_worker)")
    if "street_staff" in tokens:
        say(f"[demo] KPI report:      {base_url}/kpi (signed in as street_staff)")
