"""A stored case moved to another report time, for tests that need one dated so.

A case's number carries the month it was reported in (:mod:`gis.store.incident_ids`) and
its month's partition holds it: its ``reported_at`` cannot move to another month, and the
product never moves it.  A test that wants a case "reported a minute ago" out of the
sample's cases files it again under the number of its new time — everything that refers
to it follows — and drops the old row.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, text

from gis import clock

#: What is not copied: the number, the time and the key at its source (moved after).
_SET_APART = ("id", "reported_at", "source_ref")


def redate_case(conn: Connection, incident_id: int, at: datetime) -> int:
    """File case ``incident_id`` again as reported at ``at``; its new number.

    Its steps are dated ``at`` too (a case's steps never precede its report), as are
    the rows of every table whose key refers to it, which follow it to the new number.
    """
    columns = [
        c
        for c in conn.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'public.incident'::regclass "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
            )
        ).scalars()
        if c not in _SET_APART
    ]
    listed = ", ".join(columns)
    new = conn.execute(
        text(
            f"INSERT INTO incident (id, reported_at, {listed}) "
            f"SELECT wangge_incident_id(:at), :at, {listed} FROM incident WHERE id = :old "
            "RETURNING id"
        ),
        {"at": at, "old": incident_id},
    ).scalar_one()
    referrers = conn.execute(
        text(
            "SELECT conrelid::regclass::text, a.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "WHERE c.contype = 'f' AND c.confrelid = 'public.incident'::regclass "
            "AND c.conparentid = 0"
        )
    ).all()
    for table, column in referrers:
        dated = ", at = :at" if table == "incident_event" else ""
        conn.execute(
            text(f"UPDATE {table} SET {column} = :new{dated} WHERE {column} = :old"),
            {"new": new, "old": incident_id, "at": at},
        )
    conn.execute(
        text(
            "UPDATE incident SET source_ref = (SELECT source_ref FROM incident WHERE id = :old) "
            "WHERE id = :new"
        ),
        {"new": new, "old": incident_id},
    )
    conn.execute(text("DELETE FROM incident WHERE id = :old"), {"old": incident_id})
    return int(new)


def out_of_the_escalation_jobs_way(conn: Connection, *incident_ids: int) -> None:
    """Give the cases a deadline years ahead: a server of another test module may run its
    escalation job on the same database, and would move an overdue case on meanwhile."""
    conn.execute(
        text("UPDATE incident SET deadline = :far WHERE id = ANY(:i)"),
        {"far": clock.now() + timedelta(days=3650), "i": list(incident_ids)},
    )
