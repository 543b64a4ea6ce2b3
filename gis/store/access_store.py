"""Users, their bearer tokens, the grids their role covers, and the audit log: the SQL of access.

Tokens are random (``secrets.token_urlsafe``) and stored only as their SHA-256, so a
copy of the database does not let anyone sign in.  The grids a user covers follow
from their role and area (see :mod:`grids.access` for the rules); they are resolved
here in one query so every door applies the same area.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from gis import clock
from gis.db.models import ROLES
from gis.errors import GisError, InvalidInput, NotFound


class UnknownUser(GisError, NotFound):
    """No user has that name, or no area or grid worker has that code or id."""


class UnknownRole(GisError, InvalidInput):
    """A role that is not one of :data:`gis.db.models.ROLES`."""


@dataclass(frozen=True)
class UserRow:
    """An ``app_user`` row, with the grid worker it is (if any) and the grids it covers.

    ``grid_ids`` is None for an admin (every grid).
    """

    id: int
    username: str
    display_name: str
    role: str
    area_id: int | None
    worker_id: int | None
    grid_ids: frozenset[int] | None


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _grids_of(conn: Connection, role: str, area_id: int | None, worker_id: int | None) -> Any:
    if role == "admin":
        return None
    if role == "grid_worker" and worker_id is not None:
        sql = "SELECT grid_id FROM grid_assignment WHERE worker_id = :key"
        key: int | None = worker_id
    elif role == "community_staff" and area_id is not None:
        sql = "SELECT id FROM grid WHERE community_id = :key"
        key = area_id
    elif role == "street_staff" and area_id is not None:
        sql = (
            "SELECT g.id FROM grid g JOIN admin_area c ON c.id = g.community_id "
            "WHERE c.parent_id = :key OR c.id = :key"
        )
        key = area_id
    else:
        return frozenset()
    return frozenset(int(r[0]) for r in conn.execute(text(sql), {"key": key}))


_USER_SQL = """
    SELECT u.id, u.username, u.display_name, u.role, u.area_id, w.id AS worker_id
    FROM app_user u LEFT JOIN grid_worker w ON w.user_id = u.id
"""


def _user(conn: Connection, where: str, **params: Any) -> UserRow | None:
    row = conn.execute(text(f"{_USER_SQL} WHERE {where}"), params).mappings().first()
    if row is None:
        return None
    grids = _grids_of(conn, row["role"], row["area_id"], row["worker_id"])
    return UserRow(**row, grid_ids=grids)


def user_by_token(conn: Connection, token: str, now: datetime | None = None) -> UserRow | None:
    """The user a bearer token belongs to; None for an unknown or expired token."""
    now = now or clock.utcnow()
    return _user(
        conn,
        "u.id = (SELECT user_id FROM api_token WHERE token_sha256 = :digest "
        "AND (expires_at IS NULL OR expires_at > :now))",
        digest=token_digest(token),
        now=now,
    )


def user_by_name(conn: Connection, username: str) -> UserRow | None:
    """The user with that name, or None."""
    return _user(conn, "u.username = :name", name=username)


def ensure_user(
    conn: Connection,
    username: str,
    role: str,
    *,
    display_name: str | None = None,
    area_code: str | None = None,
    worker_id: int | None = None,
) -> int:
    """The id of the user ``username``, created with ``role`` (and area) when missing.

    An existing user keeps their role and area: a role is changed deliberately, not as a
    side effect of issuing a token.

    Raises
    ------
    UnknownUser
        When ``area_code`` names no admin area or ``worker_id`` no grid worker.
    UnknownRole
        For an unknown role.
    """
    if role not in ROLES:
        raise UnknownRole(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    found = conn.execute(
        text("SELECT id FROM app_user WHERE username = :u"), {"u": username}
    ).scalar()
    if found is not None:
        return int(found)
    area_id = None
    if area_code is not None:
        area_id = conn.execute(
            text("SELECT id FROM admin_area WHERE code = :c"), {"c": area_code}
        ).scalar()
        if area_id is None:
            raise UnknownUser(f"no admin area has code {area_code!r}")
    user_id = int(
        conn.execute(
            text(
                "INSERT INTO app_user (username, display_name, role, area_id) "
                "VALUES (:u, :d, :r, :a) RETURNING id"
            ),
            {"u": username, "d": display_name or username, "r": role, "a": area_id},
        ).scalar_one()
    )
    if worker_id is not None:
        linked = conn.execute(
            text("UPDATE grid_worker SET user_id = :uid WHERE id = :w RETURNING id"),
            {"uid": user_id, "w": worker_id},
        ).first()
        if linked is None:
            raise UnknownUser(f"no grid worker has id {worker_id}")
    return user_id


def issue_token(conn: Connection, user_id: int, *, days: int = 90, label: str | None = None) -> str:
    """A new bearer token for the user, valid ``days`` days; only its digest is stored."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        text(
            "INSERT INTO api_token (token_sha256, user_id, label, expires_at) "
            "VALUES (:digest, :uid, :label, :expires)"
        ),
        {
            "digest": token_digest(token),
            "uid": user_id,
            "label": label,
            "expires": clock.utcnow() + timedelta(days=days),
        },
    )
    return token


#: For each role, how the demo picks one of its users: the first by name (an admin, the
#: first by id; a grid worker, the first on duty).
_ONE_PER_ROLE = {
    "admin": "SELECT id, username FROM app_user WHERE role = 'admin' ORDER BY id LIMIT 1",
    "street_staff": "SELECT id, username FROM app_user WHERE role = 'street_staff' "
    "ORDER BY username LIMIT 1",
    "community_staff": "SELECT id, username FROM app_user WHERE role = 'community_staff' "
    "ORDER BY username LIMIT 1",
    "grid_worker": "SELECT u.id, u.username FROM app_user u JOIN grid_worker w "
    "ON w.user_id = u.id WHERE w.on_duty ORDER BY u.username LIMIT 1",
    "resident": "SELECT id, username FROM app_user WHERE role = 'resident' "
    "ORDER BY username LIMIT 1",
}


def one_user_per_role(conn: Connection) -> dict[str, tuple[int, str]]:
    """One user (id, username) of each role that has any, for the demo's sign-ins."""
    found = {}
    for role, sql in _ONE_PER_ROLE.items():
        row = conn.execute(text(sql)).first()
        if row is not None:
            found[role] = (int(row[0]), str(row[1]))
    return found


#: One user of each role to sign in as, picked the same way on every run.
_ONE_OF_EACH_ROLE = {
    "admin": "SELECT id, username FROM app_user WHERE role = 'admin' ORDER BY id LIMIT 1",
    "street_staff": "SELECT id, username FROM app_user WHERE role = 'street_staff' "
    "ORDER BY username LIMIT 1",
    "community_staff": "SELECT id, username FROM app_user WHERE role = 'community_staff' "
    "ORDER BY username LIMIT 1",
    "grid_worker": "SELECT u.id, u.username FROM app_user u JOIN grid_worker w "
    "ON w.user_id = u.id WHERE w.on_duty ORDER BY u.username LIMIT 1",
    "resident": "SELECT id, username FROM app_user WHERE role = 'resident' "
    "ORDER BY username LIMIT 1",
}


def audit(
    conn: Connection,
    username: str | None,
    action: str,
    object_type: str,
    object_id: str | int | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record a sensitive access (e.g. residents' identities read in full)."""
    conn.execute(
        text(
            "INSERT INTO audit_log (username, action, object_type, object_id, detail) "
            "VALUES (:u, :a, :t, :i, CAST(:d AS jsonb))"
        ),
        {
            "u": username,
            "a": action,
            "t": object_type,
            "i": None if object_id is None else str(object_id),
            "d": json.dumps(detail or {}, ensure_ascii=False),
        },
    )


#: Whom the demo signs in as, one user per role: the first by id (admin) or by name.
_DEMO_USERS = {
    "admin": "SELECT id, username FROM app_user WHERE role = 'admin' ORDER BY id LIMIT 1",
    "street_staff": "SELECT id, username FROM app_user WHERE role = 'street_staff' "
    "ORDER BY username LIMIT 1",
    "community_staff": "SELECT id, username FROM app_user WHERE role = 'community_staff' "
    "ORDER BY username LIMIT 1",
    "grid_worker": "SELECT u.id, u.username FROM app_user u JOIN grid_worker w "
    "ON w.user_id = u.id WHERE w.on_duty ORDER BY u.username LIMIT 1",
    "resident": "SELECT id, username FROM app_user WHERE role = 'resident' "
    "ORDER BY username LIMIT 1",
}
