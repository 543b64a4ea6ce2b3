"""The time bounds every read of a case's events carries, so that months can be pruned.

``incident_event`` is partitioned by month of ``at`` (migration 0037).  A read by case
alone (``WHERE incident_id = …``) would be planned over, and probe, every month kept.  A
case's events lie within its **span**: no earlier than its report less :data:`EVENT_LEAD`
(a report may be dated up to the allowed clock skew ahead of the server's clock, so the
next step, dated by that clock, may precede it by minutes; a trigger of migration 0037
refuses an earlier event) and no later than its last step, ``incident.last_event_at``
(kept by a trigger of migration 0037 in the statement that adds a step; NULL: no step).

Both bounds are given as values computed before the statement (:func:`within`,
:func:`span`): ``timestamptz - interval`` is not immutable and a joined column is known
only when executing, so only values let the *planner* prune, and planning each month
kept is what costs (``benchmarks/partitions.py``).  Where the cases are found by the
statement itself, the joined columns bound each case too (:func:`within_case`: the
executor prunes), and :func:`latest_steps` reads a page's latest steps in a second
statement bounded by the page's span.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, text

#: How far before its case's report an event may lie (the trigger's and the reads' rule).
EVENT_LEAD = timedelta(days=1)
#: The same as an SQL interval literal.
EVENT_LEAD_SQL = "interval '1 day'"


def within_case(event: str = "e", case: str = "i") -> str:
    """SQL: ``event``'s events lie within the span of ``case`` (a joined ``incident``).

    Column expressions: the executor prunes by them, the planner cannot (see :func:`within`).
    """
    return (
        f"{event}.at >= {case}.reported_at - {EVENT_LEAD_SQL} "
        f"AND {event}.at <= {case}.last_event_at"
    )


def within(event: str = "e") -> str:
    """SQL: ``event``'s events lie within the bind parameters ``since`` and ``until``.

    Give them :func:`span` of the case (the cases) read: values, so that only the months
    between are planned and read.
    """
    return (
        f"{event}.at >= CAST(:since AS timestamptz) AND {event}.at <= CAST(:until AS timestamptz)"
    )


def earliest(reported_at: datetime | None) -> datetime | None:
    """The earliest time an event of a case reported at ``reported_at`` may bear."""
    return None if reported_at is None else reported_at - EVENT_LEAD


def span(cases: Iterable[tuple[datetime, datetime | None]]) -> dict[str, datetime | None]:
    """``since`` and ``until`` of :func:`within` for cases given as (reported_at, last_event_at).

    The earliest report less the lead and the latest last step; ``until`` is None (no row
    matches) when none of them has a step yet, and both are None for no cases.
    """
    pairs = list(cases)
    lasts = [last for _, last in pairs if last is not None]
    return {
        "since": earliest(min((reported for reported, _ in pairs), default=None)),
        "until": max(lasts, default=None),
    }


def span_of(conn: Connection, ids: Sequence[int]) -> dict[str, datetime | None]:
    """:func:`span` of the incidents ``ids`` (read first: one small statement by key)."""
    row = conn.execute(
        text(
            f"SELECT min(reported_at) - {EVENT_LEAD_SQL} AS since, max(last_event_at) AS until "
            "FROM incident WHERE id = ANY(:ids)"
        ),
        {"ids": [int(i) for i in ids]},
    ).one()
    return {"since": row.since, "until": row.until}


def latest_steps(
    conn: Connection, cases: Iterable[tuple[int, datetime, datetime | None]]
) -> dict[int, int]:
    """Case id → id of its latest step (``max(e.id)``, the desks' version of a case).

    ``cases`` as (id, reported_at, last_event_at), as a page read them; one statement
    bounded by their :func:`span`, so that only the page's months are planned.  Cases
    without a step are absent.
    """
    rows = list(cases)
    bounds = span((reported, last) for _, reported, last in rows)
    if not rows or bounds["until"] is None:
        return {}
    found = conn.execute(
        text(
            "SELECT e.incident_id, max(e.id) FROM incident_event e "
            f"WHERE e.incident_id = ANY(:ids) AND {within()} GROUP BY e.incident_id"
        ),
        {"ids": [int(i) for i, _, _ in rows], **bounds},
    ).all()
    return {int(i): int(m) for i, m in found}
