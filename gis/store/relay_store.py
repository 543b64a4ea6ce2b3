"""Reads and writes of the outbox relay: claim pending messages, record each delivery.

The contract: :func:`claim` locks a batch of pending rows (``FOR UPDATE SKIP LOCKED``,
so two relays never take the same row) in the caller's transaction; the caller
publishes them and, in the *same* transaction, records the outcome with
:func:`mark_sent` and :func:`mark_retry`, then commits.  A relay that dies before the
commit leaves its rows pending (the lock goes with the connection) and they are
published again: the broker sees a message at least once, never zero times, and the
``message_id`` lets a consumer drop the rare second copy.  Times are timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, text

Bind = Engine | Connection


@dataclass(frozen=True)
class PendingMessage:
    """An outbox row claimed for delivery."""

    id: int
    message_id: str
    channel: str
    recipient: str
    body: str
    alert_recipient_id: int | None
    created_at: datetime
    attempts: int


def claim(conn: Connection, limit: int, now: datetime) -> list[PendingMessage]:
    """Lock up to ``limit`` pending messages that are due, oldest first (skips locked ones)."""
    rows = conn.execute(
        text(
            """
            SELECT id, message_id::text, channel, recipient, body, alert_recipient_id,
                   created_at, attempts
            FROM outbox
            WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= :now)
            ORDER BY id
            LIMIT :limit
            FOR UPDATE SKIP LOCKED"""
        ),
        {"limit": limit, "now": now},
    ).all()
    return [PendingMessage(*row) for row in rows]


def mark_sent(conn: Connection, ids: list[int], at: datetime) -> int:
    """Record that the broker confirmed these messages; returns the rows changed."""
    if not ids:
        return 0
    return conn.execute(
        text(
            """
            UPDATE outbox SET status = 'sent', sent_at = :at, attempts = attempts + 1,
                              last_attempt_at = :at, next_attempt_at = NULL
            WHERE id = ANY(:ids) AND status = 'pending'"""
        ),
        {"ids": ids, "at": at},
    ).rowcount


def mark_retry(
    conn: Connection,
    errors: dict[int, str],
    at: datetime,
    retry_at: datetime,
    *,
    max_attempts: int | None,
) -> tuple[int, int]:
    """Record a failed try per message (id → error); returns (to retry, now failed).

    With ``max_attempts`` a message tried that often is ``failed``; None (the broker was
    unreachable, not refusing) keeps every one pending.
    """
    if not errors:
        return 0, 0
    limit = max_attempts if max_attempts is not None else 2**31 - 1
    rows = conn.execute(
        text(
            """
            UPDATE outbox o
            SET attempts = o.attempts + 1, last_attempt_at = :at, last_error = e.error,
                next_attempt_at = :retry_at,
                status = CASE WHEN o.attempts + 1 >= :limit THEN 'failed' ELSE 'pending' END
            FROM unnest(CAST(:ids AS bigint[]), CAST(:errors AS text[])) AS e(id, error)
            WHERE o.id = e.id AND o.status = 'pending'
            RETURNING o.status"""
        ),
        {
            "ids": list(errors),
            "errors": [m[:2000] for m in errors.values()],
            "at": at,
            "retry_at": retry_at,
            "limit": limit,
        },
    ).scalars()
    statuses = list(rows)
    failed = sum(1 for s in statuses if s == "failed")
    return len(statuses) - failed, failed


def requeue_failed(conn: Connection, ids: list[int] | None = None) -> int:
    """Queue failed messages again (all, or these ids); returns how many."""
    return conn.execute(
        text(
            """
            UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = NULL
            WHERE status = 'failed'
              AND (CAST(:ids AS bigint[]) IS NULL OR id = ANY(CAST(:ids AS bigint[])))"""
        ),
        {"ids": ids},
    ).rowcount


@dataclass(frozen=True)
class OutboxCounts:
    """How the outbox stands: pending, sent (confirmed by the broker), failed, retried.

    ``retried``: messages that needed more than one try (whatever their status);
    ``oldest_pending_at``: when the oldest pending message was written (None: none).
    """

    pending: int
    sent: int
    failed: int
    retried: int
    oldest_pending_at: datetime | None


def counts(bind: Bind) -> OutboxCounts:
    """Counts of the outbox by delivery status."""
    sql = text(
        """
        SELECT count(*) FILTER (WHERE status = 'pending')::int,
               count(*) FILTER (WHERE status = 'sent')::int,
               count(*) FILTER (WHERE status = 'failed')::int,
               count(*) FILTER (WHERE attempts > 1
                                OR (status = 'pending' AND attempts > 0))::int,
               min(created_at) FILTER (WHERE status = 'pending')
        FROM outbox"""
    )
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            row = conn.execute(sql).one()
    else:
        row = bind.execute(sql).one()
    return OutboxCounts(*row)
