"""``wangge incidents …``: the 12345 import, the 督办 job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.commands.common import console, fail, ready_engine, say

incidents_app = typer.Typer(
    help="Incidents (事件): hotline import, reminders and escalation.", no_args_is_help=True
)


@incidents_app.command("import-hotline")
def import_hotline(
    path: Annotated[Path, typer.Argument(help="12345 hotline export (CSV, UTF-8 or GBK)")],
    as_user: Annotated[str, typer.Option("--as", help="staff user filing the reports")] = "admin",
) -> None:
    """File every report of a 12345 hotline CSV, all or nothing; rows filed before are skipped."""
    from api.services.accounts import UnknownUser, principal_named
    from api.services.grids import load_current_grids
    from api.services.intake import import_hotline
    from gis.errors import WanggeError
    from gis.settings import get_settings

    settings = get_settings()
    engine = ready_engine()
    try:
        user = principal_named(engine, as_user)
    except UnknownUser as exc:
        fail(str(exc))
    try:
        grids = load_current_grids(engine, settings)
        with path.open("rb") as stream:
            imported = import_hotline(engine, grids, settings, user, stream)
    except (WanggeError, OSError) as exc:  # the context: nothing of the file was filed
        fail(f"{exc}\nNothing was filed.")
    say(f"[hotline] {imported.rows} row(s) read from {path}")
    table = Table(title=f"{len(imported.filed)} report(s) filed")
    for name in ("row", "id", "grid", "near edge", "likely duplicate of", "nearby"):
        # a case's number (15 digits, its month first) is shown whole, never cut short
        number = name in ("id", "likely duplicate of")
        table.add_column(name, no_wrap=number, min_width=15 if number else None)
    for i, f in imported.filed:
        table.add_row(
            str(i),
            str(f.id),
            f.grid_code,
            "yes" if f.near_boundary else "",
            "" if f.duplicate_of is None else str(f.duplicate_of),
            str(f.duplicate_count) if f.duplicate_count else "",
        )
    console.print(table)
    if imported.already_filed:
        first = ", ".join(
            f"row {i} → {'another office' if n is None else n}"
            for i, n in imported.already_filed[:5]
        )
        more = " …" if len(imported.already_filed) > 5 else ""
        say(
            f"[hotline] {len(imported.already_filed)} row(s) filed before, not filed again "
            f"({first}{more})"
        )


@incidents_app.command("escalate")
def escalate() -> None:
    """Remind assignees of near deadlines and escalate (督办) overdue cases one level now."""
    from api.services.casework import run_escalations

    engine = ready_engine()
    run = run_escalations(engine)
    say(
        f"[督办] {len(run.escalated)} escalated, {len(run.reminders)} reminder(s), "
        f"{len(run.skipped)} skipped (changed meanwhile)"
    )
    for e in run.escalated:
        say(f"  incident {e.incident_id} → {e.level}")
