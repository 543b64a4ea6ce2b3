"""Accounts as an admin sees them, and the audit log read back: the SQL of administration.

Users are listed with their area and how many live sessions and tokens they hold; a
role or area is changed here, and every token of a user can be revoked (its
``expires_at`` set to now, so the row stays as a record).  The audit log is
append-only (a trigger of migration 0018 refuses UPDATE and DELETE); it is read
newest first, a page at a time by id (keyset), or streamed whole for a CSV export.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from gis.errors import GisError, InvalidInput
from gis.store.access_store import UnknownUser


class WrongAreaLevel(GisError, InvalidInput):
    """An area code of the wrong level for the role (a street for community staff …)."""


@dataclass(frozen=True)
class UserListing:
    """A user as the admin's list shows them."""

    id: int
    username: str
    display_name: str
    role: str
    area_code: str | None
    area_name: str | None
    worker_id: int | None
    disabled_at: datetime | None
    has_password: bool
    live_sessions: int
    live_tokens: int
    last_sign_in: datetime | None


_LIST_SQL = """
    SELECT u.id, u.username, u.display_name, u.role, a.code AS area_code,
           a.name AS area_name, w.id AS worker_id, u.disabled_at,
           u.password_hash IS NOT NULL AS has_password,
           (SELECT count(*) FROM app_session s WHERE s.user_id = u.id
              AND s.revoked_at IS NULL AND s.expires_at > :now) AS live_sessions,
           (SELECT count(*) FROM api_token t WHERE t.user_id = u.id
              AND t.revoked_at IS NULL AND t.expires_at > :now) AS live_tokens,
           (SELECT max(s.created_at) FROM app_session s WHERE s.user_id = u.id)
              AS last_sign_in
    FROM app_user u
    LEFT JOIN admin_area a ON a.id = u.area_id
    LEFT JOIN grid_worker w ON w.user_id = u.id
"""


def list_users(
    conn: Connection,
    now: datetime,
    *,
    search: str | None = None,
    role: str | None = None,
    after: str | None = None,
    limit: int = 100,
) -> list[UserListing]:
    """Users by name, ``limit`` of them after the name ``after`` (keyset paging).

    ``search`` matches a part of the user name or the display name (case-insensitive).
    """
    where: list[str] = []
    params: dict[str, Any] = {"now": now, "limit": limit}
    if search:
        where.append("(u.username ILIKE :like OR u.display_name ILIKE :like)")
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["like"] = f"%{escaped}%"
    if role:
        where.append("u.role = :role")
        params["role"] = role
    if after:
        where.append("u.username > :after")
        params["after"] = after
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        text(f"{_LIST_SQL} {clause} ORDER BY u.username LIMIT :limit"), params
    ).mappings()
    return [UserListing(**row) for row in rows]


def user_listing(conn: Connection, username: str, now: datetime) -> UserListing | None:
    """One user as the list shows them, or None."""
    row = (
        conn.execute(text(f"{_LIST_SQL} WHERE u.username = :u"), {"u": username, "now": now})
        .mappings()
        .first()
    )
    return None if row is None else UserListing(**row)


def area_of_code(conn: Connection, code: str) -> tuple[int, str]:
    """The id and level of the admin area with ``code``.

    Raises
    ------
    UnknownUser
        When no admin area has that code (not found).
    """
    row = conn.execute(
        text("SELECT id, level FROM admin_area WHERE code = :c"), {"c": code}
    ).first()
    if row is None:
        raise UnknownUser(
            f"no admin area has code {code!r}; use the code of a community, street, district "
            "or city"
            "(see 'wangge grids check' or the map)"
        )
    return int(row[0]), str(row[1])


def set_role(conn: Connection, user_id: int, role: str, area_id: int | None) -> None:
    """Give a user another role and area."""
    conn.execute(
        text("UPDATE app_user SET role = :r, area_id = :a WHERE id = :i"),
        {"r": role, "a": area_id, "i": user_id},
    )


def revoke_tokens_of(conn: Connection, user_id: int, now: datetime) -> int:
    """Revoke every live bearer token of a user (``revoked_at`` = ``now``); how many there were.

    A revoked token never works again, even once the account is enabled again.
    """
    return conn.execute(
        text(
            "UPDATE api_token SET revoked_at = :now "
            "WHERE user_id = :u AND revoked_at IS NULL AND expires_at > :now"
        ),
        {"u": user_id, "now": now},
    ).rowcount


# ------------------------------------------------------------------ the audit log


@dataclass(frozen=True)
class AuditFilter:
    """Which audit records: by user name, action, time (``since`` ≤ at < ``until``)."""

    username: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditRow:
    """One record of the audit log; ``detail`` is its JSON text."""

    id: int
    at: datetime
    username: str | None
    action: str
    object_type: str | None
    object_id: str | None
    detail: str


def _where(f: AuditFilter, before: int | None = None) -> tuple[str, dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    for column, value in (("username", f.username), ("action", f.action)):
        if value:
            where.append(f"{column} = :{column}")
            params[column] = value
    if f.since is not None:
        where.append("at >= :since")
        params["since"] = f.since
    if f.until is not None:
        where.append("at < :until")
        params["until"] = f.until
    if before is not None:
        where.append("id < :before")
        params["before"] = before
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


_AUDIT_COLUMNS = (
    "SELECT id, at, username, action, object_type, object_id, "
    "coalesce(detail::text, '{}') AS detail FROM audit_log"
)


def audit_page(
    conn: Connection, f: AuditFilter, *, before: int | None = None, limit: int = 100
) -> list[AuditRow]:
    """The newest ``limit`` records of the filter with an id below ``before`` (keyset)."""
    clause, params = _where(f, before)
    rows = conn.execute(
        text(f"{_AUDIT_COLUMNS} {clause} ORDER BY id DESC LIMIT :limit"),
        {**params, "limit": limit},
    ).mappings()
    return [AuditRow(**row) for row in rows]


def audit_rows(conn: Connection, f: AuditFilter, batch: int = 5000) -> Iterator[AuditRow]:
    """Every record of the filter, newest first, read ``batch`` at a time (for an export)."""
    before: int | None = None
    while True:
        page = audit_page(conn, f, before=before, limit=batch)
        yield from page
        if len(page) < batch:
            return
        before = page[-1].id


def audit_actions(conn: Connection) -> list[str]:
    """The actions the log holds (for the filter's choices)."""
    return [
        str(r[0])
        for r in conn.execute(text("SELECT DISTINCT action FROM audit_log ORDER BY 1 LIMIT 200"))
    ]
