"""``wangge hazard``, ``wangge alert`` and ``wangge report``, from the shell.

Hazard areas and their impact and check-on lists, alerts to residents, and the daily
situation report.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.commands.common import console, fail, ready_engine, say

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from api.services.impact import Impact, ImpactOf

KINDS_HELP = "typhoon, flood, fire or gas_leak"


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


def _impacts(engine: Engine) -> ImpactOf:
    """Impacts computed on the stored road network, each once per command."""
    from api.services.impact import compute_impact, road_network
    from gis.settings import get_settings

    @functools.cache
    def impact(hazard_id: int) -> Impact:
        return compute_impact(engine, hazard_id, road_network(engine, get_settings()))

    return impact


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
    from api.services.awareness import HazardFields, import_hazard
    from gis.errors import InvalidInput

    given = HazardFields(
        kind, name, severity, _time(valid_from, "valid-from"), _time(valid_to, "valid-to")
    )
    engine = ready_engine()
    try:
        stored = import_hazard(engine, path, coord_type=coord_type, layer=layer, given=given)
    except InvalidInput as exc:
        fail(f"{exc}\nNothing was stored.")
    for warning in stored.warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
    h = stored.hazard
    km2 = stored.area_m2 / 1e6
    say(f"[hazard] {h.id} stored: {h.name} ({h.kind}, severity {h.severity}), {km2:.2f} km²")
    typer.echo(h.id)


def simulate_command(
    kind: Annotated[str, typer.Option(help=KINDS_HELP)] = "typhoon",
    width_m: Annotated[
        float, typer.Option(min=50, max=50_000, help="width of the band, metres (50 to 50,000)")
    ] = 600.0,
    severity: Annotated[int, typer.Option(min=1, max=4)] = 3,
    name: Annotated[str, typer.Option(help="name shown on maps and in alerts")] = "模拟台风",
) -> None:
    """Store a simulated hazard: a north–south band through the middle of the area served."""
    from api.services.awareness import simulate_hazard

    engine = ready_engine()
    stored = simulate_hazard(engine, kind=kind, width_m=width_m, severity=severity, name=name)
    h = stored.hazard
    say(f"[hazard] {h.id} stored: {h.name} ({h.kind}), a {width_m:.0f} m band north to south")
    typer.echo(h.id)


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

    from api.services.impact import check_on_list, impact_view

    engine = ready_engine()
    impacts = _impacts(engine)
    view = impact_view(None, hazard_id, impacts)
    table = Table(title=f"hazard {hazard_id}: {view.hazard.name}")
    columns = ("grid", "area inside", "households", "residents", "elderly alone", "disabled")
    for column in (*columns, "mobility", "check on"):
        table.add_column(column, justify="right")
    for row in view.grids.itertuples(index=False):
        table.add_row(
            row.code,
            f"{row.area_share:.0%}",
            f"{row.households:,}",
            f"{row.residents:,}",
            str(row.elderly_alone),
            str(row.disabled),
            str(row.mobility_impaired),
            str(row.check_on),
        )
    console.print(table)
    unusable = ", ".join(s.name or str(s.id) for s in view.shelters_inside) or "none"
    people = view.residents_by_group["residents"]
    say(
        f"[impact] {view.households:,} households, {people:,} residents; shelters "
        f"inside (unusable): {unusable}; {view.closed_road_edges} road segments closed"
    )
    if out is None:
        return
    rows = check_on_list(engine, None, hazard_id, impacts, grid).rows
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
    by: Annotated[
        str | None,
        typer.Option(
            help="send as this command-centre user: the households of their area only, "
            "as over HTTP (default: the whole district)"
        ),
    ] = None,
) -> None:
    """Alert the residents of a hazard area (or one group), each told a safe shelter."""
    from rich.table import Table

    from api.services.accounts import principal_named
    from api.services.alerts import AlertRequest, send_alert

    engine = ready_engine()
    user = None if by is None else principal_named(engine, by)  # unknown: said; a role: 403
    request = AlertRequest(group=group, message=message)
    sent = send_alert(engine, hazard_id, request, impact_of=_impacts(engine), user=user)
    table = Table(title=f"alert {sent.alert_id} ({sent.group_name})")
    for column in ("grid", "recipients", "sent", "vulnerable"):
        table.add_column(column, justify="right")
    for g in sent.grids.itertuples(index=False):
        table.add_row(str(g.grid_code), str(g.recipients), str(g.sent), str(g.vulnerable))
    console.print(table)
    say(
        f"[alert] {sent.recipients} recipient(s), {sent.outbox_messages} message(s) in "
        f"the outbox ({sent.already_queued} sent before, not again); "
        f"{sent.without_safe_shelter} without a safe shelter"
    )
    typer.echo(sent.alert_id)


def alert_status_command(alert_id: Annotated[int, typer.Argument(help="alert id")]) -> None:
    """Per grid: how many were alerted, how many confirmed reached, who is still pending."""
    from rich.table import Table

    from api.services.alerts import alert_status

    status = alert_status(ready_engine(), None, alert_id)
    table = Table(title=f"alert {alert_id}: {status.alert.message}")
    for column in ("grid", "recipients", "confirmed", "vulnerable", "pending residents"):
        table.add_column(column, justify="right")
    for g in status.grids.itertuples(index=False):
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
    from api.services.reports import daily_report
    from maps.report import daily_report_html

    at = _time(date, "date")
    engine = ready_engine()
    data = daily_report(
        engine, None, street=street, community=community, day=None if at is None else at.date()
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(daily_report_html(data), encoding="utf-8")
    say(f"[report] {data.area_name} {data.day}: written to {out}")


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
