"""``wangge hazard``, ``wangge alert`` and ``wangge report``, from the shell.

Hazard areas and their impact and check-on lists, alerts to residents, and the daily
situation report.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from api.commands.common import console, fail, ready_engine, say
from gis import clock

KINDS_HELP = "typhoon, flood, fire or gas_leak"


def _network(engine: Any) -> Any:
    from analysis.network import RoadNetwork
    from gis.store import queries

    nodes, edges = queries.road_network_frames(engine)
    if edges.empty:
        fail("no road network is loaded: wangge demo, wangge load or wangge network import")
    return RoadNetwork.from_frames(nodes, edges)


def _time(value: str | None, name: str) -> datetime | None:
    """A date-time option (naive: China time), checked as every door checks a time."""
    if value is None:
        return None
    import pandas as pd

    from gis.errors import ValidationError
    from gis.times import check_time

    try:
        at = pd.Timestamp(value).to_pydatetime()
    except ValueError:
        fail(f"--{name} {value!r} is not a date-time (e.g. 2026-10-01T08:00+08:00)")
    try:
        return check_time(at, name, planned=True)
    except ValidationError as exc:
        fail(f"--{name}: {exc.problems[0].message}; {exc.problems[0].fix}")


def _impact(engine: Any, hazard_id: int) -> Any:
    from fastapi import HTTPException

    from api.routers.awareness import compute_impact

    try:
        return compute_impact(engine, hazard_id, _network(engine))
    except HTTPException as exc:
        fail(str(exc.detail))
    except LookupError as exc:
        fail(str(exc))


def import_command(
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or Shapefile polygon(s)")],
    kind: Annotated[str | None, typer.Option(help=KINDS_HELP + " (or the file's 'kind')")] = None,
    severity: Annotated[int | None, typer.Option(min=1, max=4, help="1 (low) to 4")] = None,
    name: Annotated[str | None, typer.Option(help="name shown on maps and in alerts")] = None,
    valid_from: Annotated[str | None, typer.Option(help="start (default now)")] = None,
    valid_to: Annotated[str | None, typer.Option(help="end (default open)")] = None,
    coord_type: Annotated[str, typer.Option(help="wgs84, gcj02 (AMap) or bd09 (Baidu)")] = "wgs84",
    layer: Annotated[str | None, typer.Option(help="layer of a GeoPackage")] = None,
) -> None:
    """Import a hazard area; refuse it when empty, invalid or outside the area served."""
    from etl.gpkg import LayerFileError
    from etl.hazard_files import read_hazard_file
    from gis.coords import CoordTypeError
    from gis.db.models import HAZARD_KINDS
    from gis.errors import ValidationError
    from gis.store import awareness_store as store

    engine = ready_engine()
    try:
        checked = read_hazard_file(
            path, coord_type=coord_type, served=store.served_area(engine), layer=layer
        )
    except (LayerFileError, ValidationError, CoordTypeError) as exc:
        fail(f"{exc}\nNothing was stored.")
    props = checked.properties
    kind = kind or props.get("kind")
    if kind not in HAZARD_KINDS:
        fail(f"--kind must be one of {', '.join(HAZARD_KINDS)}, not {kind!r}")
    severity = severity if severity is not None else props.get("severity")
    if severity is None or not 1 <= int(severity) <= 4:
        fail(f"--severity must be 1 to 4, not {severity!r}")
    start = _time(valid_from or props.get("valid_from"), "valid-from") or clock.now()
    stop = _time(valid_to or props.get("valid_to"), "valid-to")
    if stop is not None and stop <= start:
        fail("--valid-to must come after --valid-from")
    label = name or props.get("name") or f"{kind} {start:%Y-%m-%d %H:%M}"
    for warning in checked.warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
    with engine.begin() as conn:
        hazard_id = store.insert_hazard(
            conn,
            kind=kind,
            name=str(label),
            severity=int(severity),
            valid_from=start,
            valid_to=stop,
            geom=checked.geometry,
        )
    km2 = checked.area_m2 / 1e6
    say(f"[hazard] {hazard_id} stored: {label} ({kind}, severity {severity}), {km2:.2f} km²")
    typer.echo(hazard_id)


def simulate_command(
    kind: Annotated[str, typer.Option(help=KINDS_HELP)] = "typhoon",
    width_m: Annotated[float, typer.Option(min=50, help="width of the band, metres")] = 600.0,
    severity: Annotated[int, typer.Option(min=1, max=4)] = 3,
    name: Annotated[str, typer.Option(help="name shown on maps and in alerts")] = "模拟台风",
) -> None:
    """Store a simulated hazard: a north–south band through the middle of the area served."""
    import geopandas as gpd
    from shapely import box

    from gis.coords import local_metric_crs_for
    from gis.db.models import HAZARD_KINDS
    from gis.store import awareness_store as store

    if kind not in HAZARD_KINDS:
        fail(f"--kind must be one of {', '.join(HAZARD_KINDS)}, not {kind!r}")
    engine = ready_engine()
    served = store.served_area(engine)
    if served is None:
        fail("no grids are loaded: wangge demo or wangge load first")
    crs = local_metric_crs_for(served)
    w, s, e, n = gpd.GeoSeries([served], crs=4326).to_crs(crs).total_bounds
    middle = (w + e) / 2
    band = box(middle - width_m / 2, s - 100, middle + width_m / 2, n + 100)
    geom = gpd.GeoSeries([band], crs=crs).to_crs(4326).iloc[0]
    with engine.begin() as conn:
        hazard_id = store.insert_hazard(
            conn,
            kind=kind,
            name=name,
            severity=severity,
            valid_from=clock.now(),
            valid_to=None,
            geom=geom,
        )
    say(f"[hazard] {hazard_id} stored: {name} ({kind}), a {width_m:.0f} m band north to south")
    typer.echo(hazard_id)


def impact_command(
    hazard_id: Annotated[int, typer.Argument(help="hazard area id")],
    out: Annotated[
        Path | None, typer.Option(help="write the check-on lists (.geojson with routes, or .csv)")
    ] = None,
    grid: Annotated[str | None, typer.Option(help="only this grid's list (15-digit code)")] = None,
) -> None:
    """The grids, households and residents a hazard touches, and each worker's check-on list."""
    import pandas as pd
    from rich.table import Table

    import geopandas as gpd

    engine = ready_engine()
    got = _impact(engine, hazard_id)
    imp = got.impact
    table = Table(title=f"hazard {hazard_id}: {got.hazard.name}")
    columns = ("grid", "area inside", "households", "residents", "elderly alone", "disabled")
    for column in (*columns, "mobility", "check on"):
        table.add_column(column, justify="right")
    per_grid = imp.check_on.groupby("grid_id").size()
    for row in imp.grids.itertuples(index=False):
        table.add_row(
            row.code,
            f"{row.area_share:.0%}",
            f"{row.households:,}",
            f"{row.residents:,}",
            str(row.elderly_alone),
            str(row.disabled),
            str(row.mobility_impaired),
            str(int(per_grid.get(row.grid_id, 0))),
        )
    console.print(table)
    names = dict(zip(got.inputs.shelters["facility_id"], got.inputs.shelters["name"], strict=True))
    unusable = ", ".join(str(names.get(int(s), s)) for s in imp.shelters_inside) or "none"
    people = imp.residents_by_group["residents"]
    say(
        f"[impact] {len(imp.households):,} households, {people:,} residents; shelters "
        f"inside (unusable): {unusable}; {len(imp.closed_edges)} road segments closed"
    )
    if out is None:
        return
    rows = imp.check_on if grid is None else imp.check_on[imp.check_on["grid_code"] == grid]
    if grid is not None and rows.empty and grid not in set(imp.grids["code"]):
        fail(f"grid {grid} is not touched by hazard {hazard_id}")
    rooms = got.inputs.households.set_index("id")["room"]
    rows = rows.assign(room=rows["household_id"].map(rooms))
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        pd.DataFrame(rows.drop(columns="route")).to_csv(out, index=False)
    else:
        geometry = [
            r if r is not None else gpd.points_from_xy([x], [y])[0]
            for r, x, y in zip(rows["route"], rows["lon"], rows["lat"], strict=True)
        ]
        frame = gpd.GeoDataFrame(rows.drop(columns="route"), geometry=geometry, crs=4326)
        frame.to_file(out, driver="GeoJSON", RFC7946="YES")
    say(f"[impact] {len(rows)} check-on row(s) written to {out}")


def alert_send_command(
    hazard_id: Annotated[int, typer.Argument(help="hazard area id")],
    group: Annotated[
        str,
        typer.Option(help="all, vulnerable, elderly_alone, disabled, mobility_impaired, children"),
    ] = "all",
    message: Annotated[
        str | None, typer.Option(help="the warning (default: from the hazard)")
    ] = None,
    by: Annotated[str | None, typer.Option(help="who sends it (username)")] = None,
) -> None:
    """Alert the residents of a hazard area (or one group), each told a safe shelter."""
    from fastapi import HTTPException
    from rich.table import Table

    from analysis.alerts import NoRecipients
    from api.routers.awareness import AlertIn, deliver_alert

    engine = ready_engine()
    got = _impact(engine, hazard_id)
    try:
        sent = deliver_alert(
            engine, got, _network(engine), AlertIn(group=group, message=message, created_by=by)
        )
    except NoRecipients as exc:
        fail(str(exc))
    except HTTPException as exc:
        fail(str(exc.detail))
    table = Table(title=f"alert {sent['alert_id']} ({sent['group_name']})")
    for column in ("grid", "recipients", "sent", "vulnerable"):
        table.add_column(column, justify="right")
    for g in sent["grids"]:
        table.add_row(
            str(g["grid_code"]), str(g["recipients"]), str(g["sent"]), str(g["vulnerable"])
        )
    console.print(table)
    say(
        f"[alert] {sent['recipients']} recipient(s), {sent['outbox_messages']} message(s) in "
        f"the outbox; {sent['without_safe_shelter']} without a safe shelter"
    )
    typer.echo(sent["alert_id"])


def alert_status_command(alert_id: Annotated[int, typer.Argument(help="alert id")]) -> None:
    """Per grid: how many were alerted, how many confirmed reached, who is still pending."""
    from rich.table import Table

    from gis.store import awareness_store as store

    engine = ready_engine()
    row = store.read_alert(engine, alert_id)
    if row is None:
        fail(f"no alert has id {alert_id}")
    status = store.alert_status(engine, alert_id)
    table = Table(title=f"alert {alert_id}: {row.message}")
    for column in ("grid", "recipients", "confirmed", "vulnerable", "pending residents"):
        table.add_column(column, justify="right")
    for g in status.itertuples(index=False):
        pending = ", ".join(str(r) for r in g.pending_resident_ids[:10])
        more = " …" if len(g.pending_resident_ids) > 10 else ""
        table.add_row(
            str(g.grid_code), str(g.recipients), str(g.confirmed), str(g.vulnerable), pending + more
        )
    console.print(table)


def report_daily_command(
    out: Annotated[Path, typer.Option(help="the report (.html)")],
    street: Annotated[str | None, typer.Option(help="street code (9 digits)")] = None,
    community: Annotated[str | None, typer.Option(help="community code (12 digits)")] = None,
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today, China time)")] = None,
) -> None:
    """Write the daily situation report (每日态势报告) of a street or community."""
    from api.routers.awareness import gather_daily
    from gis.store import awareness_store as store
    from maps.report import daily_report_html

    if (street is None) == (community is None):
        fail("give exactly one of --street or --community")
    code = street or community
    assert code is not None
    day = (_time(date, "date") or clock.now()).date()
    engine = ready_engine()
    area = store.read_area(engine, code)
    level = "street" if street else "community"
    if area is None or area.level != level:
        fail(f"no {level} has code {code}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(daily_report_html(gather_daily(engine, area, day)), encoding="utf-8")
    say(f"[report] {area.name} {day}: written to {out}")


hazard_app = typer.Typer(
    help="Hazard areas (typhoon, flood, fire, gas leak): import, list, impact.",
    no_args_is_help=True,
)
hazard_app.command("import")(import_command)
hazard_app.command("simulate")(simulate_command)
hazard_app.command("impact")(impact_command)
alert_app = typer.Typer(help="Alerts to the residents of a hazard area.", no_args_is_help=True)
alert_app.command("send")(alert_send_command)
alert_app.command("status")(alert_status_command)
report_app = typer.Typer(help="Situation reports (态势报告).", no_args_is_help=True)
report_app.command("daily")(report_daily_command)
