"""The database refuses incident times outside 1900–2200 (``gis.db.models.STORED_TIMES``).

A report dated 9999-12-31 was once accepted and then broke every dashboard that reads
incidents into pandas (nanosecond timestamps end in 2262).  The doors now check every
time against a narrower, configurable range (:mod:`gis.times`); these CHECK constraints
are the net under them, for whatever writes to the tables directly.

They are added ``NOT VALID`` (existing rows are not scanned under a lock) and then
validated when no existing row breaks them.  When some do, the constraint stays
``NOT VALID`` — new rows are still checked, the reads leave the old ones out with a
logged warning — and the migration says which rows to correct, after which
``ALTER TABLE … VALIDATE CONSTRAINT …`` completes it.

Revision ID: 0009
Revises: 0008
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

RANGE = "{c} >= '1900-01-01 00:00:00+00' AND {c} < '2200-01-01 00:00:00+00'"
CONSTRAINTS = (
    ("incident", "ck_incident_reported_at_range", "reported_at", "id"),
    ("incident", "ck_incident_deadline_range", "deadline", "id"),
    ("incident", "ck_incident_closed_at_range", "closed_at", "id"),
    ("incident_event", "ck_incident_event_at_range", "at", "id"),
)


def upgrade() -> None:
    conn = op.get_bind()
    for table, name, column, key in CONSTRAINTS:
        check = RANGE.format(c=column)
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check}) NOT VALID")
        bad = conn.execute(
            sa.text(f"SELECT {key} FROM {table} WHERE NOT ({check}) ORDER BY {key} LIMIT 21")
        ).scalars()
        ids = [str(i) for i in bad]
        if not ids:
            op.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")
            continue
        shown = ", ".join(ids[:20]) + (" …" if len(ids) > 20 else "")
        log.warning(
            "%s.%s: rows %s lie outside 1900–2200; the constraint %s checks new rows only. "
            "Correct those rows, then run: ALTER TABLE %s VALIDATE CONSTRAINT %s",
            table,
            column,
            shown,
            name,
            table,
            name,
        )


def downgrade() -> None:
    for table, name, _, _ in reversed(CONSTRAINTS):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
