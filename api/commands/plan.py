"""``wangge plan``: facility coverage (access), recommended sites (solve), plans side by side.

Aggregates only, as the planning API: people per group, grid and community.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say
from gis import clock

plan_app = typer.Typer(
    help="Facility planning (设施规划): walking access, new sites, scenarios.",
    no_args_is_help=True,
)

KindOpt = Annotated[
    str,
    typer.Option(help="facility kind: clinic, elder_care, park, school, community_centre, shelter"),
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


def _setup(kind: str, group: str | None, standards_file: Path | None) -> tuple[Any, str, str]:
    from analysis import coverage as cv

    try:
        standards = cv.load_standards(standards_file)
        cv.check_kind(kind)
        group = cv.check_group(group or standards[kind].group)
    except cv.CoverageError as exc:
        fail(str(exc))
    return standards, kind, group


def _context(step: Any, demand_file: Path | None) -> tuple[Any, Any, Any, Any]:
    """Engine, walking network, demand and facilities from the database (or a file)."""
    import pandas as pd

    import geopandas as gpd

    from analysis import coverage as cv
    from analysis.network import RoadNetwork
    from gis.errors import ValidationError
    from gis.settings import get_settings
    from gis.store import grid_store, plan_store, queries

    settings = get_settings()
    step("connecting to the database")
    engine = ready_engine()
    step("building the walking network")
    nodes, edges = queries.road_network_frames(engine)
    if edges.empty:
        fail("no road network is loaded: wangge demo, wangge load or wangge network import")
    network = RoadNetwork.from_frames(nodes, edges, walk_speed_mps=settings.walk_speed_mps)
    step("counting demand per H3 cell and grid")
    if demand_file is not None:
        try:
            frame = (
                pd.read_csv(demand_file)
                if demand_file.suffix.lower() == ".csv"
                else gpd.read_file(demand_file)
            )
        except Exception as exc:
            fail(f"cannot read {demand_file}: {exc}")
        grids = grid_store.current_grids(engine)
        try:
            demand = cv.demand_from_file(
                frame,
                resolution=settings.h3_resolution,
                grids=grids.rename_geometry("geometry"),
                layer=demand_file.name,
            )
        except ValidationError as exc:
            fail(str(exc))
    else:
        demand = cv.demand_from_households(
            plan_store.demand_households(engine),
            plan_store.demand_residents(engine),
            reference_year=clock.now().year,
            resolution=settings.h3_resolution,
        )
    if demand.empty:
        fail("no demand: no residents are loaded (wangge demo / wangge load)")
    return engine, network, demand, plan_store.facilities(engine)


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
) -> None:
    """Who lacks a facility within walking distance: by group, grid, capacity and equity."""
    from analysis import coverage as cv
    from gis.store import plan_store

    standards, kind, group = _setup(kind, group, standards_file)
    with _progress() as step:
        engine, network, demand, facilities = _context(step, demand_file)
        step(f"walking times to the nearest {kind}")
        result = cv.access(network, demand, facilities, kind, standards=standards)
        step("capacity: served / lack of capacity / too far")
        split = cv.capacity_split(network, demand, facilities, kind, standards=standards)
    s = result.standard
    shares = cv.served_shares(result)
    fair = cv.equity(result)
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
    grids = plan_store.grid_names(engine)
    worst = cv.unserved_by(result, "grid_id", group)
    worst = worst[worst["unserved"] > 0].head(top)
    by_grid = Table(title=f"grids with the most {group} beyond {s.minutes:g} min")
    for col in ("grid", "name", "community", "people", "unserved"):
        by_grid.add_column(col, justify="right" if col in ("people", "unserved") else "left")
    for grid_id, row in worst.iterrows():
        known = grid_id is not None and grid_id == grid_id and grid_id in grids.index
        by_grid.add_row(
            str(grids.loc[grid_id, "code"]) if known else "(no grid)",
            escape(str(grids.loc[grid_id, "name"])) if known else "",
            escape(str(grids.loc[grid_id, "community_name"])) if known else "",
            _fmt(row["people"]),
            _fmt(row["unserved"]),
        )
    console.print(by_grid)
    if map_out is not None:
        from maps.assets import render_offline
        from maps.coverage import access_map, render_kwargs

        urls = render_kwargs(for_file=True)
        m = access_map(result, facilities, group=group, **urls)
        map_out.parent.mkdir(parents=True, exist_ok=True)
        map_out.write_text(
            render_offline(m, urls["vendor_url"], urls["static_url"]), encoding="utf-8"
        )
        say(f"[plan] access map written to {map_out}")


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
    import pandas as pd

    import geopandas as gpd

    from analysis import coverage as cv
    from gis.db.models import BUILDING_USES
    from gis.store import plan_store

    standards, kind, group = _setup(kind, group, standards_file)
    with _progress() as step:
        engine, network, demand, facilities = _context(step, demand_file)
        step(f"candidate sites ({candidates})")
        if candidates == "cells":
            sites = cv.candidates_from_demand(demand, group=group)
        elif candidates.startswith("buildings:"):
            use = candidates.split(":", 1)[1]
            if use not in BUILDING_USES:
                fail(f"unknown building use {use!r}: use one of {', '.join(BUILDING_USES)}")
            sites = cv.candidates_from_points(
                plan_store.buildings_of_use(engine, use), source=f"building:{use}"
            )
        else:
            path = Path(candidates)
            if not path.exists():
                fail(f"candidates: {path} does not exist (or use 'cells' / 'buildings:<use>')")
            try:
                frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else gpd.read_file(path)
                sites = cv.candidates_from_points(frame, source="file")
            except (cv.CoverageError, OSError, ValueError) as exc:
                fail(f"candidates file {path}: {exc}")
        if sites.empty:
            fail("no candidate sites")
        if new_capacity is not None:
            sites["capacity"] = sites["capacity"].fillna(float(new_capacity))
        step(f"solving {model} on {len(demand):,} demand rows × {len(sites):,} candidates")
        try:
            rec = cv.recommend_sites(
                network,
                demand,
                facilities,
                sites,
                kind,
                model=model,
                p=p,
                group=group,
                standards=standards,
                excluded=exclude or (),
                time_limit=time_limit,
                unserved_minutes=unserved_minutes,
            )
        except ValueError as exc:
            fail(str(exc))
    table = Table(title=f"recommended {cv.KIND_NAMES[kind]} sites ({rec.model}, {rec.status})")
    for col in ("site", "name", "lon", "lat"):
        table.add_column(col)
    for row in rec.sites.itertuples():
        table.add_row(str(row.site_id), escape(str(row.name)), f"{row.lon:.6f}", f"{row.lat:.6f}")
    console.print(table)
    people = float(demand[group].sum())
    say(
        f"[plan] {group} within {standards[kind].minutes:g} min: "
        f"{rec.served_before:,.0f} → {rec.served_after:,.0f} of {people:,.0f}"
    )
    if len(rec.uncoverable):
        say(f"[plan] {len(rec.uncoverable)} demand cell(s) no candidate can serve in time")
    say(rec.explanation)
    if save and len(rec.sites) == 0:
        fail(f"nothing saved as {save!r}: no new site was chosen")
    if save:
        try:
            sid = plan_store.save_scenario(engine, name=save, kind=kind, added=rec.plan.added)
        except plan_store.ScenarioError as exc:
            fail(str(exc))
        say(f"[plan] saved as scenario {sid} ({save})")
    if map_out is not None:
        _write_compare_map(
            map_out, network, demand, facilities, kind, group, standards, rec.plan, sites
        )


def _write_compare_map(
    path: Path,
    network: Any,
    demand: Any,
    facilities: Any,
    kind: str,
    group: str,
    standards: Any,
    plan: Any,
    candidates: Any = None,
) -> None:
    from analysis import coverage as cv
    from maps.assets import render_offline
    from maps.coverage import plan_map, render_kwargs

    table, accesses = cv.compare_plans(
        network, demand, facilities, [plan], kind, standards=standards
    )
    urls = render_kwargs(for_file=True)
    m = plan_map(accesses, table, facilities, plan, group=group, **urls)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_offline(m, urls["vendor_url"], urls["static_url"]), encoding="utf-8")
    say(f"[plan] before/after map written to {path}")


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
    from gis.store import plan_store

    standards, kind, group = _setup(kind, group, standards_file)
    with _progress() as step:
        engine, network, demand, facilities = _context(step, None)
        plans = []
        for key in scenario or []:
            try:
                s = plan_store.load_scenario(engine, key)
            except plan_store.ScenarioNotFound as exc:
                fail(str(exc))
            if s["kind"] != kind:
                fail(f"scenario {s['name']!r} plans {s['kind']} facilities, not {kind}")
            plans.append(cv.Plan(s["name"], kind, s["added"], s["removed"]))
        step(f"comparing {len(plans) + 1} plan(s)")
        try:
            table, _ = cv.compare_plans(
                network, demand, facilities, plans, kind, standards=standards
            )
        except cv.CoverageError as exc:
            fail(str(exc))
    out = Table(title=f"{cv.KIND_NAMES[kind]}: plans side by side")
    columns = ["facilities", *(f"share_{g}" for g in cv.GROUPS), "mean_min", "p90_min", "cost"]
    out.add_column("plan")
    for col in columns:
        out.add_column(col, justify="right")
    for name, row in table.iterrows():
        out.add_row(
            escape(str(name)),
            *(
                _fmt(row[c], "{:.1%}")
                if c.startswith("share_")
                else _fmt(row[c], "{:.1f}")
                if c.endswith("_min")
                else _fmt(row[c])
                for c in columns
            ),
        )
    console.print(out)
    if map_out is not None and plans:
        _write_compare_map(map_out, network, demand, facilities, kind, group, standards, plans[0])
