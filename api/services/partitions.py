"""Month partitions (按月分区) of the audit log, incidents and their events: made, dropped.

* :func:`prepare` gives the current month and ``partition_months_ahead`` months after
  it their partition of each partitioned table (:data:`gis.store.partition_store.TABLES`),
  and every month that has rows waiting in the DEFAULT partition (a row whose month had
  no partition yet: never refused, moved into its month here).  The server runs it at
  start and every ``partition_interval_s``, claimed in ``job_run`` like the other jobs;
  ``wangge partitions run`` runs it once.
* :func:`expire` drops the month partitions older than the retention of each table
  (``retain_audit_months``, ``retain_incident_months``, ``retain_incident_event_months``:
  whole months before the current one; 0 keeps everything) — whole months only, never
  the current one; a month of cases goes with everything of them.  Each
  drop and the audit row that records it (action ``partition_drop``: the table, the
  month, its rows) are one transaction.  Run by the retention (:mod:`api.services.retention`).

The time is the system's clock (:mod:`gis.clock`), never the database's.  Partitions are
DDL: these run on the owner's engine (:func:`gis.db.engine.get_engine`), not the
server's role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine

from gis import clock
from gis.settings import Settings
from gis.store import access_store
from gis.store import partition_store as store
from gis.store.partition_store import MonthPartition

#: The audit log's action of a dropped month.
AUDIT_ACTION = "partition_drop"


@dataclass(frozen=True)
class PartitionRun:
    """What :func:`prepare` created: months per table, and rows moved out of DEFAULT."""

    at: datetime
    created: dict[str, list[date]] = field(default_factory=dict)
    moved: dict[str, int] = field(default_factory=dict)


def retention_months(settings: Settings) -> dict[str, int]:
    """Whole months kept before the current one, per partitioned table (0: all)."""
    return {
        "audit_log": settings.retain_audit_months,
        "incident_event": settings.retain_incident_event_months,
        "incident": settings.retain_incident_months,
    }


def prepare(engine: Engine, settings: Settings, now: datetime | None = None) -> PartitionRun:
    """Create the coming months' partitions and those of rows waiting in DEFAULT."""
    now = now or clock.now()
    this = store.month_of(now)
    ahead = [store.add_months(this, n) for n in range(settings.partition_months_ahead + 1)]
    run = PartitionRun(at=now)
    for table in store.TABLES:
        with engine.begin() as conn:
            waiting = list(store.months_in_default(conn, table))
            created, moved = store.create_months(conn, table, ahead + waiting)
        run.created[table] = created
        run.moved[table] = moved
    return run


def keep_from(settings: Settings, now: datetime) -> dict[str, date]:
    """The oldest month kept of each table whose retention is set."""
    this = store.month_of(now)
    return {
        table: store.add_months(this, -months)
        for table, months in retention_months(settings).items()
        if months > 0
    }


def expire(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    by: str = "system",
) -> list[MonthPartition]:
    """Drop (or with ``dry_run`` only list) the months older than each table's retention.

    Rows of such months still in the DEFAULT partition are moved into their month first
    (:func:`prepare`), so they go with it.
    """
    now = now or clock.now()
    if not dry_run:
        prepare(engine, settings, now)
    gone: list[MonthPartition] = []
    for table, first_kept in keep_from(settings, now).items():
        with engine.connect() as conn:
            old = store.partitions_before(conn, table, first_kept)
            if dry_run:  # what waits in DEFAULT would get its month and go with it
                have = {m.month for m in old}
                old += [
                    MonthPartition(table, m, n)
                    for m, n in store.months_in_default(conn, table).items()
                    if m < first_kept and m not in have
                ]
        if table in store.CODED:  # plain numbers carry no month: gone by their time
            with engine.connect() as conn:
                plain = store.plain_before(conn, table, first_kept)
            old += [plain] if plain.rows else []
        for month in old:
            if not dry_run:
                with engine.begin() as conn:
                    if month.plain:
                        store.delete_plain_before(conn, table, month.month)
                    else:
                        store.drop_month(conn, table, month.month)
                    access_store.audit(
                        conn,
                        by,
                        AUDIT_ACTION,
                        table,
                        f"plain before {month.month:%Y-%m}"
                        if month.plain
                        else f"{month.month:%Y-%m}",
                        {
                            "at": now.isoformat(),
                            "kept_from": f"{first_kept:%Y-%m}",
                            "rows": month.rows,
                        },
                    )
            gone.append(month)
    return gone
