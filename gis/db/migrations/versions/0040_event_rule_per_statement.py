"""An event's rule (no earlier than its case's report less a day) checked once a statement.

Migration 0037 made the rule a BEFORE INSERT OR UPDATE trigger **for each row**: each
event read its case's ``reported_at``, one index probe a row. A bulk load of the sample
district (443,770 events at 200,000 households) spent 2.4 s of its events' 5.8 s COPY
there (measured with the trigger disabled in a rolled-back transaction), on the load's
critical path.

The rule moves into 0037's statement triggers, which already read every row a statement
wrote (the transition table ``written``) to keep ``incident.last_event_at``: one join of
the written rows with their cases a statement, whatever its size. The refusal is the
same (``check_violation``, the same message, the same statement and transaction undone),
now naming table and rule with a detail, as a constraint's refusal does (a load's error
read "?: a row breaks the rule None ()");
it now also covers an UPDATE of other columns (a stored event obeys the rule, and
``reported_at`` is never changed after filing). The function is SECURITY DEFINER: it
sees the case even when the writer may not (the row trigger, run as the writer, passed
an event whose case the writer's policies hid).

The downgrade gives back 0037's row trigger and the last-step function without the check.

Revision ID: 0040
Revises: 0039
"""

from alembic import op

from gis.db import event_triggers
from gis.store.event_bound import EVENT_LEAD_SQL

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

#: Each case's last step kept, after refusing a statement with any event of a case
#: earlier than its report less the lead.
LAST_EVENT_CHECKED = f"""
CREATE OR REPLACE FUNCTION wangge_incident_last_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE early record;
BEGIN
    SELECT m.incident_id, m.first, i.reported_at INTO early
    FROM (SELECT incident_id, min(at) AS first FROM written GROUP BY incident_id) m
    JOIN incident i ON i.id = m.incident_id
    WHERE m.first < i.reported_at - {EVENT_LEAD_SQL}
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION {event_triggers.REFUSAL}, early.incident_id, early.first, early.reported_at
            USING ERRCODE = 'check_violation', TABLE = 'incident_event',
                CONSTRAINT = 'incident_event_after_report',
                DETAIL = format('incident %s: a step at %s, reported at %s; a step may lie '
                                'at most a day before its report', early.incident_id,
                                early.first, early.reported_at);
    END IF;{event_triggers.KEEP_LAST_STEP}
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER incident_event_after_report ON incident_event")
    op.execute("DROP FUNCTION wangge_incident_event_after_report()")
    op.execute(LAST_EVENT_CHECKED)


def downgrade() -> None:
    op.execute(event_triggers.LAST_EVENT)
    op.execute(event_triggers.ROW_RULE)
    op.execute(event_triggers.ROW_RULE_TRIGGER)
