"""The SQL of the incidents' steps' triggers that more than one migration writes.

Migration 0037 made them (each case's last step kept by a statement trigger; the rule
that no step lies more than a day before its case's report, checked row by row);
migration 0040 moved the rule into the statement trigger (keeping the last step as 0037
does) and gives 0037's back on its downgrade.  Written here once so that the downgrade
restores exactly what 0037 made.
"""

from __future__ import annotations

from gis.store.event_bound import EVENT_LEAD_SQL

#: The rule's refusal (RAISE's format: the case's id, the step's time, the report's time).
REFUSAL = "'event of incident % at % lies before its report at % less a day'"

#: The statement of the steps' statement trigger that moves each case's last step to the
#: latest of the rows the statement wrote (``written``): only later, never back.
KEEP_LAST_STEP = """
    UPDATE incident i SET last_event_at = m.at
    FROM (SELECT incident_id, max(at) AS at FROM written GROUP BY incident_id) m
    WHERE i.id = m.incident_id AND (i.last_event_at IS NULL OR i.last_event_at < m.at);"""

#: Each case's last step kept on it, in the statement that adds or moves steps (a
#: statement trigger with the rows it wrote, so a COPY of a million steps updates each case
#: once): the upper bound of every read of its events.  SECURITY DEFINER: whoever may add a
#: step (a resident filing a report) need not be allowed to update the case.  Only moved
#: later, never back: a deleted or moved-back step leaves it a bound still true.
LAST_EVENT = f"""
CREATE OR REPLACE FUNCTION wangge_incident_last_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN{KEEP_LAST_STEP}
    RETURN NULL;
END $$
"""

#: 0037's rule, row by row (trigger ``incident_event_after_report``).
ROW_RULE = f"""
CREATE FUNCTION wangge_incident_event_after_report() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE reported timestamptz;
BEGIN
    SELECT reported_at INTO reported FROM incident WHERE id = NEW.incident_id;
    IF reported IS NOT NULL AND NEW.at < reported - {EVENT_LEAD_SQL} THEN
        RAISE EXCEPTION {REFUSAL}, NEW.incident_id, NEW.at, reported
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$
"""

#: 0037's trigger running :data:`ROW_RULE`.
ROW_RULE_TRIGGER = (
    "CREATE TRIGGER incident_event_after_report BEFORE INSERT OR UPDATE OF at, "
    "incident_id ON incident_event FOR EACH ROW "
    "EXECUTE FUNCTION wangge_incident_event_after_report()"
)
