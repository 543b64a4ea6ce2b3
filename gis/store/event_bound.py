"""The time bound every read of a case's events carries, so that months can be pruned.

``incident_event`` is partitioned by month of ``at`` (migration 0037).  A read by case
alone (``WHERE incident_id = …``) would be planned over, and probe, every month kept; a
case's events never lie before its report, less :data:`EVENT_LEAD` (a report may be
dated up to the allowed clock skew ahead of the server's clock, so the next step, dated
by that clock, may precede it by minutes).  That is a rule of the table: a trigger
(migration 0037) refuses an event earlier than its case's ``reported_at`` less the lead.
With ``at >= reported_at - lead`` in the read, the planner (a literal time) or the
executor (a case's ``reported_at`` joined in) skips every month before the case's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: How far before its case's report an event may lie (the trigger's and the reads' rule).
EVENT_LEAD = timedelta(days=1)
#: The same as an SQL interval literal.
EVENT_LEAD_SQL = "interval '1 day'"


def since_report(event: str = "e", reported_at: str = "i.reported_at") -> str:
    """SQL: ``event``'s events lie no earlier than the case's report (less the lead).

    ``reported_at`` is an SQL expression, the case's column joined in: the executor
    prunes by it.  When the case is known, :func:`since_bound` prunes when planning.
    """
    return f"{event}.at >= {reported_at} - {EVENT_LEAD_SQL}"


def since_bound(event: str = "e") -> str:
    """SQL: ``event``'s events lie no earlier than the bind parameter ``since``.

    Give it :func:`earliest` of the case's (the cases') report: a value, not an
    expression (``timestamptz - interval`` is not immutable, so the planner would not
    prune with it), so only the months from it on are planned and read.
    """
    return f"{event}.at >= CAST(:since AS timestamptz)"


def earliest(reported_at: datetime | None) -> datetime | None:
    """The earliest time an event of a case reported at ``reported_at`` may bear."""
    return None if reported_at is None else reported_at - EVENT_LEAD
