"""The audit log partitioned by month (按月分区), so that its retention drops whole months.

Which tables, and why
---------------------
* ``audit_log`` becomes RANGE partitioned by its time ``at``, one partition a calendar
  month of local time (Asia/Shanghai), plus a DEFAULT partition.  It only grows (a row
  for every sensitive read and change), is never updated (migration 0019 refuses it),
  no foreign key refers to it, and it is read by time (the admin's pages, an inquiry
  into a period).  By month, a period reads only its months and the retention drops a
  whole old month at once (``DROP TABLE``: no row-by-row DELETE, which the table refuses
  anyway, no vacuum, no bloat); a month can also be detached to an archive.
* ``incident_event`` is **not** partitioned, though it is append-only and referenced by
  nothing: it is read by case, not by time.  Every read of a case's history, and the
  desks' and dispatch's ``(SELECT max(e.id) FROM incident_event e WHERE e.incident_id =
  i.id)`` for each listed case, names ``incident_id`` and no time, so no partition can be
  pruned: each statement is planned over every month kept and probes every month's
  index.  Measured (``benchmarks/partitions.py``: 600,000 events over 37 months, 2 cores
  shared, load average 5–10, statements unprepared as the server's are; each pair from
  one run, four runs): one case's history 0.25 / 0.28 / 0.93 / 2.2 ms as one table
  against 1.65 / 1.73 / 2.9 / 4.7 ms by month, 2–7 times as long, and growing with every
  month kept (a case's history is kept for good).  Counting one month's events went from
  52–112 ms to 2–3 ms and removing the oldest month from 56–466 ms to 13–69 ms, but
  neither is a hot path.  It would pay once every read of events carries a time bound
  the planner can prune with — e.g. ``at >= i.reported_at`` made a rule of the table (a trigger refusing
  an event before its case's report; today a report may lie up to the clock skew ahead
  of the next step, and imported histories are not checked) and added to the stores'
  queries (:mod:`gis.store.incident_store`, ``dispatch_store``, ``grid_desk_store``,
  ``open311_store``, ``worker_field_store``, ``redivision_store``, ``kpi_store``); then
  it is one entry in :data:`gis.store.partition_store.TABLES` and a migration like this.
* ``incident`` is not partitioned either.  PostgreSQL requires every primary key and
  unique constraint of a partitioned table to include the partition key, and a foreign
  key can reference it only through such a key.  Partitioned by ``reported_at``, the
  incident would need (id, reported_at) as its key and that pair in every table
  referring to it (events, photos, contacts, check-ins, reminders, the worker's tables,
  merges …), every one of their foreign keys, inserts and joins rewritten; and its unique
  keys — (source, source_ref), the idempotency of a 12345 or Open311 intake, and the
  public token — could no longer be unique across months, only within one (a re-sent
  report of another month would be filed twice), unless moved into a separate,
  unpartitioned key table.  Cases are also not append-only (open ones change every day)
  and are kept as records (the KPIs read years back), so a month of cases is rarely
  dropped whole.

How
---
* The partitions live in the schema ``wangge_partitions``, on which the server's role
  (``wangge_app``, migration 0022) has no privilege: rows are read and written through
  the parent, whose grants, row-level security policies and triggers apply; a
  partition cannot be named directly, so its lack of policies exposes nothing.
* The primary key becomes (id, at) — PostgreSQL's rule above; ``id`` stays an identity,
  unique in practice, and nothing refers to these rows by key.
* Row triggers on the parent are cloned to every partition (PostgreSQL 13 and later),
  so the append-only trigger refuses UPDATE and DELETE through the parent and in every
  partition.  Dropping a whole partition (the retention, by the owner) fires none, as a
  TRUNCATE by the owner did not.
* The partitions are created by this migration (every month that holds rows, and the
  current month and the settings' months ahead) and then by the server's job
  (:mod:`api.services.partitions`) ahead of time; a row of a month without its own
  partition lands in the DEFAULT partition, never refused, and the next run moves it
  into its month.  pg_partman (Debian's ``postgresql-15-partman``) would do the same, but
  its maintenance reads the database's clock (the tests and the year-ahead run set ours
  with ``WANGGE_NOW``), its extension must be created by a superuser, and it moves rows
  out of the DEFAULT partition with DELETE, which the audit log refuses.

The conversion (:func:`gis.db.partitioning.convert`, shared with migration 0037) copies the table into its new partitioned form in one transaction
(policies, grants and triggers read from the catalogue and given again, the identity
continued), then drops the old one.  The downgrade copies back.

Revision ID: 0031
Revises: 0030
"""

from alembic import op
from sqlalchemy import Connection

from gis.db import partitioning
from gis.store import partition_store as parts

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

#: table -> (indexes besides the key, its foreign keys): what the new form needs again.
SHAPES: dict[str, tuple[list[str], list[str]]] = {
    "audit_log": (
        [
            "CREATE INDEX ix_audit_log_at ON audit_log (at)",
            "CREATE INDEX ix_audit_log_username ON audit_log (username)",
        ],
        [],
    ),
}


def _convert(conn: Connection, table: str, partitioned: bool) -> None:
    indexes, foreign_keys = SHAPES[table]
    partitioning.convert(
        conn,
        table,
        partitioned=partitioned,
        indexes=indexes,
        foreign_keys=foreign_keys,
        aside="before_0031",
    )


def upgrade() -> None:
    conn = op.get_bind()
    parts.create_schema(conn)
    for table in SHAPES:  # its own tables: later migrations partition others
        _convert(conn, table, partitioned=True)


def downgrade() -> None:
    conn = op.get_bind()
    for table in SHAPES:
        _convert(conn, table, partitioned=False)
    op.execute(f"DROP SCHEMA {parts.SCHEMA}")
