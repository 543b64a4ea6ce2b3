"""The incidents' events partitioned by month (按月分区), every read bounded to its case's span.

LEFT APART for the lead to take or drop (``benchmarks/partitions.py``, README *Partitioned
tables*): bounded both ways, one case's history by month costs 1.26–1.31 × the same
statement on one table but 1.45–1.55 × (+0.07 ms) the one table's unbounded read, a desk
page's latest steps +0.24 ms; a month counted and the oldest month dropped are 5–20 ×
cheaper.

Migration 0031 left ``incident_event`` one table: it was read by case, never by time, so
no month could be pruned and every read of a case's history probed every month kept.
Every read now carries its case's **span** (:mod:`gis.store.event_bound`), as values
computed before the statement so that the planner prunes: from its report less a day to
its last step.  Both ends are kept true here:

* ``incident_event_after_report``, a BEFORE INSERT OR UPDATE trigger, refuses an event
  dated earlier than its case's ``reported_at`` less one day (a report may be dated up to
  the clock skew allowed ahead of the server's clock, so the next step, dated by that
  clock, may precede it by minutes; a day covers that with room).  ``reported_at`` is
  never changed after filing (:data:`gis.store.incident_store.CHANGEABLE`).
* Rows already stored that break it (imported histories were not checked) stop the
  upgrade, named, rather than vanish from every read: correct them and run it again.
* ``incident.last_event_at``, added and filled from the stored steps, is kept by
  ``incident_event_last_insert`` / ``_update``: AFTER statement triggers with the rows
  written (one UPDATE of each case a statement, even for a COPY of many), in the same
  transaction as the steps; only ever moved later, so a deleted step leaves a bound that
  still holds.  Without the upper bound a case's read was still planned over every month
  after its report (4–5 × the one table).

Then the table is rebuilt RANGE partitioned by ``at`` exactly as 0031 rebuilt the audit
log (:func:`gis.db.partitioning.convert`): one partition a local calendar month in the
schema ``wangge_partitions`` plus a DEFAULT one, key (id, at) — ``id`` stays an identity,
so the order of steps and the desks' version (``max(e.id)`` of a case) are unchanged —
the index on (incident_id, id), the foreign key to ``incident`` (ON DELETE CASCADE), the
checks, row-level security policies, grants and triggers given again; the partitions'
months come from the rows, the current month and ``WANGGE_PARTITION_MONTHS_AHEAD``
more, and the ``partitions`` job keeps them ahead (:data:`gis.store.partition_store.
TABLES`).  Nothing refers to an event by key.  The retention
(``WANGGE_RETAIN_INCIDENT_EVENT_MONTHS``, 0 by default: events are the case record the
KPIs read) drops whole old months.

The downgrade copies the rows back into one table, drops the triggers and the column.

Revision ID: 0037
Revises: 0036
"""

from alembic import op
from sqlalchemy import text

from gis.db import partitioning
from gis.db.event_triggers import LAST_EVENT, ROW_RULE, ROW_RULE_TRIGGER
from gis.store.event_bound import EVENT_LEAD_SQL

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

TABLE = "incident_event"
#: By month, a case's latest step (``max(e.id)``, the desks' version) needs (incident_id,
#: id): with (incident_id) alone it is planned as a backward walk of each month's key
#: (id, at) until a row of the case turns up — 2 s a page of 50 cases instead of 4 ms.
INDEXES = ["CREATE INDEX ix_incident_event_incident_id_id ON incident_event (incident_id, id)"]
#: The one table's index, given back by the downgrade.
PLAIN_INDEXES = ["CREATE INDEX ix_incident_event_incident_id ON incident_event (incident_id)"]
FOREIGN_KEYS = [
    "ALTER TABLE incident_event ADD CONSTRAINT fk_incident_event_incident_id_incident "
    "FOREIGN KEY (incident_id) REFERENCES incident (id) ON DELETE CASCADE"
]

#: The statements whose steps move a case's last one (no column list: a trigger with
#: transition tables may not have one).
LAST_EVENT_ON = ("INSERT", "UPDATE")


def upgrade() -> None:
    conn = op.get_bind()
    early = conn.execute(
        text(
            "SELECT e.id FROM incident_event e JOIN incident i ON i.id = e.incident_id "
            f"WHERE e.at < i.reported_at - {EVENT_LEAD_SQL} ORDER BY e.id LIMIT 21"
        )
    ).scalars()
    ids = [str(i) for i in early]
    if ids:
        raise RuntimeError(
            "incident_event rows "
            + ", ".join(ids[:20])
            + (" …" if len(ids) > 20 else "")
            + " lie more than a day before their incident's reported_at: every read of "
            "a case's events is bounded by its report, so they would no longer be read. "
            "Correct their times (or the incidents' reported_at), then upgrade again."
        )
    op.execute(ROW_RULE)
    op.execute(ROW_RULE_TRIGGER)
    op.execute("ALTER TABLE incident ADD COLUMN last_event_at timestamptz")
    op.execute(
        "UPDATE incident i SET last_event_at = m.at FROM (SELECT incident_id, max(at) AS at "
        "FROM incident_event GROUP BY incident_id) m WHERE m.incident_id = i.id"
    )
    op.execute(LAST_EVENT)
    for event in LAST_EVENT_ON:
        op.execute(
            f"CREATE TRIGGER incident_event_last_{event.lower()} AFTER {event} ON "
            "incident_event REFERENCING NEW TABLE AS written FOR EACH STATEMENT "
            "EXECUTE FUNCTION wangge_incident_last_event()"
        )
    op.execute("DROP INDEX ix_incident_event_incident_id")
    partitioning.convert(
        conn,
        TABLE,
        partitioned=True,
        indexes=INDEXES,
        foreign_keys=FOREIGN_KEYS,
        aside="before_0037",
    )


def downgrade() -> None:
    conn = op.get_bind()
    partitioning.convert(
        conn,
        TABLE,
        partitioned=False,
        indexes=PLAIN_INDEXES,
        foreign_keys=FOREIGN_KEYS,
        aside="before_0037",
    )
    op.execute("DROP TRIGGER incident_event_after_report ON incident_event")
    op.execute("DROP FUNCTION wangge_incident_event_after_report()")
    for event in LAST_EVENT_ON:
        op.execute(f"DROP TRIGGER incident_event_last_{event.lower()} ON incident_event")
    op.execute("DROP FUNCTION wangge_incident_last_event()")
    op.execute("ALTER TABLE incident DROP COLUMN last_event_at")
