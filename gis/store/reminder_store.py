"""Reminders to a case's reporter (办理提醒): outbox rows that name their case.

Written in the transaction of the step that moved the case (one per step: the key is the
step's event), read back for the reporter's pages and their live stream.  The outbox's
row security (migrations 0022, 0024) shows a reminder to whoever sees its case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text

Bind = Engine | Connection


@dataclass(frozen=True)
class ReminderRow:
    """One reminder: its outbox id, the case, the text, when it was written, its delivery."""

    id: int
    incident_id: int
    body: str
    created_at: datetime
    status: str


def insert_reminder(
    conn: Connection,
    *,
    incident_id: int,
    recipient: str,
    body: str,
    dedupe_key: str,
    at: datetime,
) -> int | None:
    """Queue one reminder (channel ``outbox``, pending); None if its key is queued already."""
    return conn.execute(
        text(
            """
            INSERT INTO outbox (channel, recipient, body, incident_id, dedupe_key, created_at)
            VALUES ('outbox', :recipient, :body, :incident_id, :key, :at)
            ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
            RETURNING id"""
        ),
        {
            "recipient": recipient,
            "body": body,
            "incident_id": incident_id,
            "key": dedupe_key,
            "at": at,
        },
    ).scalar()


_COLUMNS = "o.id, o.incident_id, o.body, o.created_at, o.status"


def _read(bind: Bind, sql: str, params: dict) -> list[ReminderRow]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            rows = conn.execute(text(sql), params).all()
    else:
        rows = bind.execute(text(sql), params).all()
    return [ReminderRow(*r) for r in rows]


def reminders_of_reporter(
    bind: Bind, reporter_id: int, *, after_id: int = 0, limit: int = 50
) -> list[ReminderRow]:
    """The reminders about the cases ``reporter_id`` filed, newest first (ids > ``after_id``)."""
    return _read(
        bind,
        f"""
        SELECT {_COLUMNS}
        FROM outbox o JOIN incident i ON i.id = o.incident_id
        WHERE i.reporter_id = :reporter AND o.id > :after
        ORDER BY o.id DESC
        LIMIT :limit""",
        {"reporter": reporter_id, "after": after_id, "limit": limit},
    )


def reminders_of_case(bind: Bind, incident_id: int, *, limit: int = 50) -> list[ReminderRow]:
    """The reminders about one case, newest first."""
    return _read(
        bind,
        f"""
        SELECT {_COLUMNS} FROM outbox o
        WHERE o.incident_id = :incident
        ORDER BY o.id DESC
        LIMIT :limit""",
        {"incident": incident_id, "limit": limit},
    )


def latest_reminder_id(bind: Bind, reporter_id: int) -> int:
    """The newest reminder id about the reporter's cases (0: none)."""
    rows = _read(
        bind,
        f"""
        SELECT {_COLUMNS}
        FROM outbox o JOIN incident i ON i.id = o.incident_id
        WHERE i.reporter_id = :reporter
        ORDER BY o.id DESC
        LIMIT 1""",
        {"reporter": reporter_id},
    )
    return rows[0].id if rows else 0
