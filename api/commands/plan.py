"""``wangge plan``: facility coverage (access), recommended sites (solve), plans side by side.

Aggregates only, as the planning API: people per group, grid and community.  Each
command calls the use cases the API calls (:mod:`api.services.planning`,
``scenarios`` and ``siting``) as the operator, shows their steps, prints their answer
with rich and draws it with :mod:`maps.coverage`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say

plan_app = typer.Typer(
    help="Facility planning (设施规划): walking access, new sites, scenarios.",
    no_args_is_help=True,
)

KindOpt = Annotated[
    str,
    typer.Option(
        help="facility kind: clinic, elder_care, park, school, community_centre, shelter, pharmacy"
    ),
]
GroupOpt = Annotated[
    str | None,
    typer.Option(
        help="group: everyone, elderly_60, elderly_80, children, disabled "
        "(default: the group the standard is for)"
    ),
]
StandardsOpt = Annotated[
    Path | None, typer.Option(help="JSON file overriding the walking standards per kind")
]
DemandOpt = Annotated[
    Path | None,
    typer.Option(help="demand from a file (census grid: points/polygons with 'everyone' …)"),
]


@contextmanager
def _progress() -> Iterator[Any]:
    """A spinner with one line per step and its time, on stderr."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:

        def step(text: str) -> None:
            for task in progress.tasks:
                if not task.finished:
                    progress.update(task.id, completed=1, total=1)
            progress.add_task(text, total=None)

        yield step
        for task in progress.tasks:
            progress.update(task.id, completed=1, total=1)


def _operator() -> Any:
    """The command line acts with the database's own credentials: as an admin of it all."""
    from grids.access import Principal
    from grids.incidents import SYSTEM

    return Principal(0, SYSTEM.username, "系统", SYSTEM.role, grid_ids=None)


def _setup(kind: str, group: str | None, standards_file: Path | None) -> tuple[Any, str, str]:
    """The standards of ``--standards-file`` (None: the server's), the checked kind and group."""
    from analysis import coverage as cv
    from api.services.planning import kind_and_group

    standards = cv.load_standards(standards_file) if standards_file is not None else None
    kind, group = kind_and_group(kind, group, standards)
    return standards, kind, group


def _read_table(path: Path, what: str) -> Any:
    """A CSV (lon/lat columns) or a GIS file (GeoJSON, GeoPackage, Shapefile …) as a frame."""
    import pandas as pd

    import geopandas as gpd

    try:
        return pd.read_csv(path) if path.suffix.lower() == ".csv" else gpd.read_file(path)
    except Exception as exc:
        fail(f"cannot read {what} {path}: {exc}")


def _data(step: Any, standards: Any, demand_file: Path | None) -> Any:
    """The planning data: engine, walking network and (``--demand-file``) the demand."""
    from api.services import planning
    from api.services.walking import load_walking
    from gis.settings import get_settings

    settings = get_settings()
    step("connecting to the database")
    engine = ready_engine()
    step("building the walking network")
    network = load_walking(engine, settings).network
    demand = None
    if demand_file is not None:
        frame = _read_table(demand_file, "the demand file")
        step("counting demand per H3 cell and grid")
        demand = planning.demand_from_frame(
            _operator(), engine, frame, resolution=settings.h3_resolution, layer=demand_file.name
        )
    return planning.PlanningData(engine, network, settings.h3_resolution, standards, demand)


def _write_map(path: Path, m: Any, urls: dict[str, Any], what: str) -> None:
    """Write a map as a page that works offline, its assets read from this checkout."""
    from maps.assets import render_offline

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_offline(m, urls["vendor_url"], urls["static_url"]), encoding="utf-8")
    say(f"[plan] {what} written to {path}")


def _fmt(value: float, pattern: str = "{:,.0f}") -> str:
    import math

    return pattern.format(value) if value == value and math.isfinite(value) else "—"


@plan_app.command("access")
def access_command(
    kind: KindOpt,
    group: GroupOpt = None,
    top: Annotated[int, typer.Option(min=1, help="grids listed")] = 10,
    standards_file: StandardsOpt = None,
    demand_file: DemandOpt = None,
    map_out: Annotated[Path | None, typer.Option(help="write the access map (HTML) here")] = None,
    dask: Annotated[
        bool,
        typer.Option(
            "--dask",
            help="walking times partition by partition on a Dask cluster: "
            "WANGGE_DASK_SCHEDULER, else a LocalCluster of WANGGE_DASK_WORKERS processes "
            "started for the job (the same answer)",
        ),
    ] = False,
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="also compute every household's walking access (one row per household, "
            "at its building) and replace the kind's rows of household_access with it",
        ),
    ] = False,
) -> None:
    """Who lacks a facility within walking distance: by group, grid, capacity and equity."""
    from analysis import coverage as cv
    from api.services import planning
    from gis.settings import get_settings

    if store and demand_file is not None:
        fail("--store keeps the access of the stored households: leave out --demand-file")
    standards, kind, group = _setup(kind, group, standards_file)
    if dask:
        settings = get_settings()
        where = settings.dask_scheduler or f"a LocalCluster of {settings.dask_workers} workers"
        say(f"[plan] walking times on Dask: {where}")
    with _progress() as step:
        data = _data(step, standards, demand_file)
        # one cluster for the report and the households' rows
        with ExitStack() as stack:
            on: Any = stack.enter_context(planning.dask_cluster(True)) if dask else False
            report = planning.access_report(
                _operator(), data, kind, group, top=top, step=step, on_dask=on
            )
            stored = None
            if store:
                from api.services.household_access import store_household_access

                stored = store_household_access(_operator(), data, kind, on_dask=on, step=step)
    found, split = report.coverage, report.split
    s = found.access.standard
    shares, fair = report.served, report.equity
    table = Table(title=f"{cv.KIND_NAMES[kind]} within {s.minutes:g} min on foot ({s.circle})")
    for col in ("group", "people", "served", "share", "mean min", "p90 min", "Gini"):
        table.add_column(col, justify="left" if col == "group" else "right")
    for g in cv.GROUPS:
        table.add_row(
            f"{g} {cv.GROUP_NAMES[g]}",
            _fmt(shares.loc[g, "people"]),
            _fmt(shares.loc[g, "served"]),
            _fmt(shares.loc[g, "share_served"], "{:.1%}"),
            _fmt(fair.loc[g, "mean_min"], "{:.1f}"),
            _fmt(fair.loc[g, "p90_min"], "{:.1f}"),
            _fmt(fair.loc[g, "gini"], "{:.3f}"),
        )
    console.print(table)
    say(
        f"[plan] {split.group}: {split.people:,} people = {split.served:,} served + "
        f"{split.lack_of_capacity:,} lacking capacity + {split.outside_limit:,} beyond "
        f"{s.minutes:g} min"
    )
    worst = report.unserved_by_grid
    by_grid = Table(title=f"grids with the most {group} beyond {s.minutes:g} min")
    for col in ("grid", "name", "community", "people", "unserved"):
        by_grid.add_column(col, justify="right" if col in ("people", "unserved") else "left")
    for row in worst[worst["unserved"] > 0].itertuples():
        known = isinstance(row.grid_code, str)
        by_grid.add_row(
            row.grid_code if known else "(no grid)",
            escape(str(row.grid_name)) if known else "",
            escape(str(row.community_name)) if known else "",
            _fmt(row.people),
            _fmt(row.unserved),
        )
    console.print(by_grid)
    if stored is not None:
        say(
            f"[plan] household_access: {stored.households:,} households' access to {kind} "
            f"stored ({stored.served:,} within {stored.standard_minutes:g} min), "
            f"computed at {stored.computed_at:%Y-%m-%d %H:%M:%S}; the previous rows replaced"
        )
    if map_out is not None:
        from maps.coverage import access_map, render_kwargs

        urls = render_kwargs(for_file=True)
        m = access_map(found.access, found.facilities, group=group, **urls)
        _write_map(map_out, m, urls, "access map")


@plan_app.command("solve")
def solve_command(
    kind: KindOpt,
    group: GroupOpt = None,
    model: Annotated[
        str, typer.Option(help="lscp, mclp, p_median or capacitated_p_median")
    ] = "mclp",
    p: Annotated[int, typer.Option(min=1, help="new sites (mclp, p-median)")] = 3,
    candidates: Annotated[
        str,
        typer.Option(
            help="'cells' (H3 cells with people), 'buildings:<use>' (e.g. buildings:public) "
            "or a file of points (GeoJSON, GeoPackage, CSV lon/lat)"
        ),
    ] = "cells",
    exclude: Annotated[
        list[str] | None, typer.Option(help="candidate site_id not allowed (NIMBY); repeatable")
    ] = None,
    time_limit: Annotated[float, typer.Option(min=1, help="solver time limit, s")] = 60.0,
    unserved_minutes: Annotated[
        float | None,
        typer.Option(min=0.1, help="p-medians: minutes charged per person left unserved"),
    ] = None,
    new_capacity: Annotated[
        int | None, typer.Option(min=0, help="capacity of a new site (default: unlimited)")
    ] = None,
    save: Annotated[str | None, typer.Option(help="save the result as a scenario")] = None,
    standards_file: StandardsOpt = None,
    demand_file: DemandOpt = None,
    map_out: Annotated[Path | None, typer.Option(help="write the before/after map here")] = None,
) -> None:
    """Recommend new sites, today's facilities kept; optionally save them as a scenario."""
    from analysis import coverage as cv
    from api.services import scenarios, siting

    standards, kind, group = _setup(kind, group, standards_file)
    sites = None
    if candidates != "cells" and not candidates.startswith("buildings:"):
        path = Path(candidates)
        if not path.exists():
            fail(f"candidates: {path} does not exist (or use 'cells' / 'buildings:<use>')")
        sites = _read_table(path, "the candidates file")
    query = siting.SolveQuery(
        kind=kind,
        group=group,
        model=model,
        p=p,
        candidates=candidates if sites is None else "sites",
        sites=sites,
        sites_source="file",
        exclude=exclude or (),
        unserved_minutes=unserved_minutes,
        new_capacity=new_capacity,
        time_limit=time_limit,
        save_as=save,
    )
    with _progress() as step:
        data = _data(step, standards, demand_file)
        solved = siting.solve(_operator(), data, query, step)
        rec = solved.recommendation
        before_after = None
        if map_out is not None:
            before_after = scenarios.compare_on(solved.inputs, kind, group, [rec.plan], step)
    table = Table(title=f"recommended {cv.KIND_NAMES[kind]} sites ({rec.model}, {rec.status})")
    for col in ("site", "name", "lon", "lat"):
        table.add_column(col)
    for row in rec.sites.itertuples():
        table.add_row(str(row.site_id), escape(str(row.name)), f"{row.lon:.6f}", f"{row.lat:.6f}")
    console.print(table)
    minutes = solved.inputs.standards[kind].minutes
    say(
        f"[plan] {group} within {minutes:g} min: "
        f"{rec.served_before:,.0f} → {rec.served_after:,.0f} of {solved.people:,.0f}"
    )
    if len(rec.uncoverable):
        say(f"[plan] {len(rec.uncoverable)} demand cell(s) no candidate can serve in time")
    say(rec.explanation)
    if solved.scenario_id is not None:
        say(f"[plan] saved as scenario {solved.scenario_id} ({save})")
    if before_after is not None and map_out is not None:
        _write_plan_map(map_out, before_after)


def _write_plan_map(path: Path, c: Any) -> None:
    """Today against the first plan of a comparison, as a map file."""
    from maps.coverage import plan_map, render_kwargs

    urls = render_kwargs(for_file=True)
    m = plan_map(c.accesses, c.table, c.facilities, c.plans[0], group=c.group, **urls)
    _write_map(path, m, urls, "before/after map")


@plan_app.command("compare")
def compare_command(
    kind: KindOpt,
    scenario: Annotated[
        list[str] | None, typer.Option(help="scenario id or name; repeatable")
    ] = None,
    group: GroupOpt = None,
    standards_file: StandardsOpt = None,
    map_out: Annotated[
        Path | None, typer.Option(help="write today vs the first scenario as a map")
    ] = None,
) -> None:
    """Today (现状) and saved plans side by side: people served, walking times, cost."""
    from analysis import coverage as cv
    from api.services import scenarios

    standards, kind, group = _setup(kind, group, standards_file)
    with _progress() as step:
        data = _data(step, standards, None)
        c = scenarios.compare(_operator(), data, kind, scenario or [], group, step)
    out = Table(title=f"{cv.KIND_NAMES[kind]}: plans side by side")
    columns = ["facilities", *(f"share_{g}" for g in cv.GROUPS), "mean_min", "p90_min", "cost"]
    out.add_column("plan")
    for col in columns:
        out.add_column(col, justify="right")
    for name, row in c.table.iterrows():
        out.add_row(
            escape(str(name)),
            *(
                _fmt(row[col], "{:.1%}")
                if col.startswith("share_")
                else _fmt(row[col], "{:.1f}")
                if col.endswith("_min")
                else _fmt(row[col])
                for col in columns
            ),
        )
    console.print(out)
    if map_out is not None and c.plans:
        _write_plan_map(map_out, c)
