"""The statements of idempotency keys (``idempotent_request``): claim, finish, forget."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text


@dataclass(frozen=True)
class Stored:
    """What a key holds: the first request's fingerprint and, once done, its answer."""

    request_sha256: str
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes | None


def claim(
    engine: Engine, caller: str, key: str, request_sha256: str, now: datetime, keep: timedelta
) -> Stored | None:
    """Take ``key`` for a new request (None), or what an earlier request with it left.

    Keys older than ``keep`` are forgotten first, so a key may be used again after that.
    """
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM idempotent_request WHERE created_at < :before"),
            {"before": now - keep},
        )
        taken = conn.execute(
            text(
                "INSERT INTO idempotent_request (caller_sha256, key, request_sha256, created_at) "
                "VALUES (:c, :k, :r, :now) ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"c": caller, "k": key, "r": request_sha256, "now": now},
        ).first()
        if taken is not None:
            return None
        row = conn.execute(
            text(
                "SELECT request_sha256, status, headers, body FROM idempotent_request "
                "WHERE caller_sha256 = :c AND key = :k"
            ),
            {"c": caller, "k": key},
        ).one()
    headers = [(str(k), str(v)) for k, v in (row[2] or [])]
    return Stored(row[0], row[1], headers, None if row[3] is None else bytes(row[3]))


def finish(
    engine: Engine,
    caller: str,
    key: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    """Keep the answer (status, headers that describe it, body) of the request holding ``key``."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE idempotent_request SET status = :s, headers = CAST(:h AS jsonb), body = :b "
                "WHERE caller_sha256 = :c AND key = :k"
            ),
            {"c": caller, "k": key, "s": status, "h": json.dumps(headers), "b": body},
        )


def release(engine: Engine, caller: str, key: str) -> None:
    """Give ``key`` back (the request failed on our side: a retry should run it again)."""
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM idempotent_request WHERE caller_sha256 = :c AND key = :k"),
            {"c": caller, "k": key},
        )
