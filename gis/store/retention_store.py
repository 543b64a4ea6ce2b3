"""Retention: what the register keeps of residents who moved out, and workers' raw positions.

A move-out (迁出) deletes the resident and their identity at once; what stays is the
household's history of that resident (move-in, flags, move-out: masked name, sex, birth
year, the reason given).  After the retention period these rows go too.  Workers'
positions (``worker_position``) older than their period are deleted; check-ins on cases
(``incident_checkin``) are records of work and are never touched here.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text


def moved_out_before(conn: Connection, before: datetime) -> list[tuple[int, int]]:
    """(resident id, household id) of every resident who moved out before ``before``.

    Only those with history rows left: a resident purged already is not found again.
    """
    rows = conn.execute(
        text(
            "SELECT DISTINCT resident_id, household_id FROM household_history "
            "WHERE action = 'move_out' AND resident_id IS NOT NULL AND at < :before "
            "ORDER BY resident_id"
        ),
        {"before": before},
    ).all()
    return [(int(r[0]), int(r[1])) for r in rows]


def history_rows_of(conn: Connection, resident_ids: list[int]) -> int:
    """How many household history rows name these residents."""
    return int(
        conn.execute(
            text("SELECT count(*) FROM household_history WHERE resident_id = ANY(:ids)"),
            {"ids": resident_ids},
        ).scalar_one()
    )


def delete_history_of(conn: Connection, resident_ids: list[int]) -> int:
    """Delete every household history row naming these residents; how many."""
    return int(
        conn.execute(
            text("DELETE FROM household_history WHERE resident_id = ANY(:ids)"),
            {"ids": resident_ids},
        ).rowcount
    )


def positions_before(conn: Connection, before: datetime) -> int:
    """How many worker positions were taken before ``before``."""
    return int(
        conn.execute(
            text("SELECT count(*) FROM worker_position WHERE at < :before"), {"before": before}
        ).scalar_one()
    )


def delete_positions_before(conn: Connection, before: datetime, batch: int) -> int:
    """Delete up to ``batch`` worker positions taken before ``before``; how many."""
    return int(
        conn.execute(
            text(
                "DELETE FROM worker_position WHERE id IN (SELECT id FROM worker_position "
                "WHERE at < :before ORDER BY at LIMIT :n)"
            ),
            {"before": before, "n": batch},
        ).rowcount
    )
