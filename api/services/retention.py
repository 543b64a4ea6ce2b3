"""Retention (issue 18, point 8): what is kept of people no longer than it is needed.

* **Residents who moved out.**  A move-out (迁出, :func:`api.services.registry.move_out`)
  deletes the resident and their identity (name, ID number, phone) at once; the household
  keeps their history (move-in, flag changes, move-out — masked name, sex, birth year,
  the reasons given), shown on the registry desk.  After ``retain_moved_out_days`` those
  rows are deleted too, so the person disappears from the live registry.
* **Workers' raw positions** (``worker_position``, the tablets' tracks) older than
  ``retain_positions_days`` are deleted.  Check-ins on cases are records of work: kept.
* **Old months of the audit log** (``retain_audit_months``) and of the incidents' events
  (``retain_incident_event_months``, 0 by default: kept): their month partitions are
  dropped whole (:func:`api.services.partitions.expire`, one audit row
  ``partition_drop`` per month).

Every run that deletes anything writes one audit row (action ``retention_purge``) with
the cut-off times, the counts and the ids of the residents and households whose history
was removed: enough to prove what was removed, nothing personal.  A dry run only counts.

Run by ``wangge retention run`` and, when ``retention_interval_s`` > 0, once a day by the
server in the background (:func:`api.app.retention_loop`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from api.services import partitions
from gis import clock
from gis.settings import Settings
from gis.store import access_store
from gis.store import retention_store as store
from gis.store.partition_store import MonthPartition

#: The audit log's action of a purge.
AUDIT_ACTION = "retention_purge"
#: Positions deleted per transaction (a long track must not hold one lock for minutes).
POSITION_BATCH = 20_000


@dataclass(frozen=True)
class RetentionRun:
    """What a run found (dry run) or removed."""

    at: datetime
    moved_out_before: datetime
    positions_before: datetime
    residents: int
    households: int
    history_rows: int
    positions: int
    dry_run: bool
    #: the month partitions dropped (or that would be), with their rows
    months: tuple[MonthPartition, ...] = ()

    @property
    def removed_anything(self) -> bool:
        """Whether the run removed (or would remove) any row."""
        return bool(self.history_rows or self.positions or self.months)


def cutoffs(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """(moved out before, positions taken before): older than these goes."""
    return (
        now - timedelta(days=settings.retain_moved_out_days),
        now - timedelta(days=settings.retain_positions_days),
    )


def run(
    engine: Engine,
    settings: Settings,
    *,
    dry_run: bool = False,
    by: str = "system",
    progress: Callable[[str, int, int], None] | None = None,
    owner: Engine | None = None,
) -> RetentionRun:
    """Delete (or with ``dry_run`` only count) what is kept longer than configured.

    ``progress(what, done, total)`` is told how far the deletion of each kind got.
    ``owner``: the engine that may drop partitions (the tables' owner) when ``engine``
    acts as the server's role; None: ``engine`` itself.
    """
    now = clock.now()
    moved_before, positions_before = cutoffs(settings, now)
    with engine.connect() as conn:
        gone = store.moved_out_before(conn, moved_before)
        ids = [r for r, _ in gone]
        history_rows = store.history_rows_of(conn, ids) if ids else 0
        positions_total = store.positions_before(conn, positions_before)
    households = sorted({h for _, h in gone})
    positions = 0
    if not dry_run:
        # positions in batches (each its own transaction), then the history and the audit
        # row in one: the register's purge is never without its record
        while positions < positions_total:
            with engine.begin() as conn:
                n = store.delete_positions_before(conn, positions_before, POSITION_BATCH)
            if n == 0:
                break
            positions += n
            if progress is not None:
                progress("positions", positions, positions_total)
        with engine.begin() as conn:
            history_rows = store.delete_history_of(conn, ids) if ids else 0
            if progress is not None:
                progress("history", history_rows, history_rows)
            if history_rows or positions:
                access_store.audit(
                    conn,
                    by,
                    AUDIT_ACTION,
                    "retention",
                    None,
                    {
                        "at": now.isoformat(),
                        "moved_out_before": moved_before.isoformat(),
                        "positions_before": positions_before.isoformat(),
                        "residents": len(ids),
                        "households": len(households),
                        "history_rows": history_rows,
                        "positions": positions,
                        "resident_ids": ids,
                        "household_ids": households,
                    },
                )
    else:
        positions = positions_total
    months = partitions.expire(owner or engine, settings, now=now, dry_run=dry_run, by=by)
    return RetentionRun(
        at=now,
        moved_out_before=moved_before,
        positions_before=positions_before,
        residents=len(ids),
        households=len(households),
        history_rows=history_rows,
        positions=positions,
        dry_run=dry_run,
        months=tuple(months),
    )
