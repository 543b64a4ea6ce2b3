"""``wangge retention run``: delete what is kept longer than configured (issue 18, point 8)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.commands.common import ready_engine, say

retention_app = typer.Typer(
    help="Retention: moved-out residents' history and workers' raw positions.",
    no_args_is_help=True,
)


@retention_app.command("run")
def run_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be deleted; change nothing.")
    ] = False,
) -> None:
    """Delete what is kept longer than configured; one audit row records it.

    The history of residents who moved out more than WANGGE_RETAIN_MOVED_OUT_DAYS ago, and
    workers' positions older than WANGGE_RETAIN_POSITIONS_DAYS; the months of the audit log
    older than WANGGE_RETAIN_AUDIT_MONTHS, of incidents older than
    WANGGE_RETAIN_INCIDENT_MONTHS (with their steps, photos, contacts and check-ins) and
    of their steps older than WANGGE_RETAIN_INCIDENT_EVENT_MONTHS (dropped whole, one audit
    row each; 0 keeps them).

    For a server started with WANGGE_RETENTION_INTERVAL_S=0, run it from cron, e.g.
    ``17 3 * * * cd /srv/wangge && .venv/bin/wangge retention run``.
    """
    import getpass

    from api.services import retention
    from gis.settings import get_settings

    settings = get_settings()
    engine = ready_engine()
    names = {"positions": "worker positions", "history": "history rows of moved-out residents"}

    def progress(what: str, done: int, total: int) -> None:
        say(f"  deleting {names[what]}: {done:,} / {total:,}")

    done = retention.run(
        engine,
        settings,
        dry_run=dry_run,
        by=f"cli:{getpass.getuser()}",
        progress=progress,
    )
    verb = "would delete" if dry_run else "deleted"
    say(
        f"[retention{' dry run' if dry_run else ''}] {verb}: the history of {done.residents:,} "
        f"resident(s) who moved out before {done.moved_out_before:%Y-%m-%d %H:%M} "
        f"({done.history_rows:,} row(s), {done.households:,} household(s)); "
        f"{done.positions:,} worker position(s) taken before "
        f"{done.positions_before:%Y-%m-%d %H:%M}"
    )
    for month in done.months:
        what = (
            f"the rows of {month.table} with plain numbers from before {month.month:%Y-%m}"
            if month.plain
            else f"the month {month.month:%Y-%m} of {month.table}"
        )
        cases = " and everything of those cases" if month.table == "incident" else ""
        say(f"  {verb} {what} ({month.rows:,} row(s)){cases}")
    if not dry_run:
        audited = f"one row, action {retention.AUDIT_ACTION}"
        say(f"  audit: {audited if done.removed_anything else 'nothing removed, nothing recorded'}")


partitions_app = typer.Typer(
    help="Monthly partitions of the audit log, incidents and their events.", no_args_is_help=True
)


@partitions_app.command("run")
def partitions_command() -> None:
    """Create the coming months' partitions and move rows waiting in DEFAULT into theirs.

    The server does it at start and every WANGGE_PARTITION_INTERVAL_S; old months are
    dropped by ``wangge retention run``.
    """
    from api.services import partitions
    from gis.settings import get_settings

    done = partitions.prepare(ready_engine(), get_settings())
    for table, months in done.created.items():
        made = ", ".join(f"{m:%Y-%m}" for m in months) or "none needed"
        say(f"[partitions] {table}: created {made}; {done.moved[table]:,} row(s) moved")
