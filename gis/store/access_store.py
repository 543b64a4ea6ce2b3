"""Users, their tokens and sessions, the grids their role covers, the audit log: the SQL of access.

Tokens and session ids are random (``secrets.token_urlsafe``) and stored only as their
SHA-256, so a copy of the database does not let anyone sign in; passwords are stored
only as the argon2 hashes :mod:`api.services.accounts` makes.  A disabled account
(``disabled_at`` set) is nobody's: no token or session resolves to it.  The grids a
user covers follow from their role and area (see :mod:`grids.access` for the rules);
they are resolved here in one query so every door applies the same area.
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
from gis.errors import Conflict, GisError, InvalidInput, NotFound


class UnknownUser(GisError, NotFound):
    """No user has that name, or no area or grid worker has that code or id."""


class WorkerTaken(GisError, Conflict):
    """The grid worker is already linked to another account (one account per worker)."""


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


#: Staff roles whose grids are those of every area under theirs, at any depth: a street's
#: communities, a district's streets' communities, a city's districts' … (街道, 区, 市).
AREA_TREE_ROLES = frozenset({"street_staff", "district_staff", "city_staff"})

#: The grids (every version) of the communities at any depth under an area, the area
#: itself included.  ``UNION`` (not ``UNION ALL``) ends the walk should the parents of
#: the stored areas ever form a cycle.
_GRIDS_UNDER_SQL = """
    WITH RECURSIVE under_area(id) AS (
        SELECT CAST(:key AS integer)
        UNION
        SELECT a.id FROM admin_area a JOIN under_area u ON a.parent_id = u.id
    )
    SELECT g.id FROM grid g JOIN under_area u ON g.community_id = u.id
"""


def _grids_of(conn: Connection, role: str, area_id: int | None, worker_id: int | None) -> Any:
    """The grids a user covers (see :mod:`grids.access`); None: every grid (admin).

    Community staff: the grids of their community.  Street, district and city staff: the
    grids of every community under their area at any depth (:data:`AREA_TREE_ROLES`).
    A grid worker: the grids they are assigned to.  Anyone else: none.
    """
    if role == "admin":
        return None
    if role == "grid_worker" and worker_id is not None:
        sql = "SELECT grid_id FROM grid_assignment WHERE worker_id = :key"
        key: int | None = worker_id
    elif role == "community_staff" and area_id is not None:
        sql = "SELECT id FROM grid WHERE community_id = :key"
        key = area_id
    elif role in AREA_TREE_ROLES and area_id is not None:
        sql = _GRIDS_UNDER_SQL
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
    """The user a bearer token belongs to; None if unknown, expired, revoked or disabled."""
    now = now or clock.utcnow()
    return _user(
        conn,
        "u.disabled_at IS NULL AND u.id = (SELECT user_id FROM api_token "
        "WHERE token_sha256 = :digest AND revoked_at IS NULL AND expires_at > :now)",
        digest=token_digest(token),
        now=now,
    )


def token_expires_at(conn: Connection, token: str) -> datetime | None:
    """When a live (not revoked) token ends; None if unknown or revoked."""
    found = conn.execute(
        text(
            "SELECT expires_at FROM api_token WHERE token_sha256 = :digest AND revoked_at IS NULL"
        ),
        {"digest": token_digest(token)},
    ).scalar()
    return None if found is None else found


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
            text(
                "SELECT w.id, u.username FROM grid_worker w "
                "LEFT JOIN app_user u ON u.id = w.user_id WHERE w.id = :w"
            ),
            {"w": worker_id},
        ).first()
        if linked is None:
            raise UnknownUser(f"no grid worker has id {worker_id}")
        if linked.username is not None:  # taken silently, the other account lost its work
            raise WorkerTaken(
                f"grid worker {worker_id} already signs in as {linked.username!r} (one "
                "account per worker): link another worker, or sign in as that account"
            )
        conn.execute(
            text("UPDATE grid_worker SET user_id = :uid WHERE id = :w"),
            {"uid": user_id, "w": worker_id},
        )
    return user_id


def issue_token(conn: Connection, user_id: int, *, days: int, label: str | None = None) -> str:
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
    "AND username ~ :users ORDER BY username LIMIT 1",
    "community_staff": "SELECT id, username FROM app_user WHERE role = 'community_staff' "
    "AND username ~ :users ORDER BY username LIMIT 1",
    "grid_worker": "SELECT u.id, u.username FROM app_user u JOIN grid_worker w "
    "ON w.user_id = u.id WHERE w.on_duty AND u.username ~ :users ORDER BY u.username LIMIT 1",
    "resident": "SELECT id, username FROM app_user WHERE role = 'resident' "
    "AND username ~ :users ORDER BY username LIMIT 1",
}


def one_user_per_role(conn: Connection, users: str = "") -> dict[str, tuple[int, str]]:
    """One user (id, username) of each role that has any, for the demo's sign-ins.

    ``users``: a regular expression the names of all but the admin must match (an
    area's sample users); empty: any.
    """
    found = {}
    for role, sql in _ONE_PER_ROLE.items():
        row = conn.execute(text(sql), {"users": users}).first()
        if row is not None:
            found[role] = (int(row[0]), str(row[1]))
    return found


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


# ------------------------------------------------------------------ passwords and sessions


@dataclass(frozen=True)
class Credentials:
    """What checking a password needs: user id, argon2 hash (None: not set), disabled or not."""

    user_id: int
    password_hash: str | None
    disabled: bool


def credentials(conn: Connection, username: str) -> Credentials | None:
    """The stored credentials of ``username``, or None when no user has that name."""
    row = conn.execute(
        text("SELECT id, password_hash, disabled_at IS NOT NULL FROM app_user WHERE username = :u"),
        {"u": username},
    ).first()
    return None if row is None else Credentials(int(row[0]), row[1], bool(row[2]))


def set_password_hash(conn: Connection, user_id: int, password_hash: str) -> None:
    """Store a user's new password hash."""
    conn.execute(
        text("UPDATE app_user SET password_hash = :h WHERE id = :i"),
        {"h": password_hash, "i": user_id},
    )


def set_disabled(conn: Connection, username: str, at: datetime | None) -> int | None:
    """Disable the account (``at``: since when) or enable it (None); its id, None if unknown."""
    found = conn.execute(
        text("UPDATE app_user SET disabled_at = :at WHERE username = :u RETURNING id"),
        {"at": at, "u": username},
    ).scalar()
    return None if found is None else int(found)


@dataclass(frozen=True)
class SessionRow:
    """A session that is not revoked, of an account that is not disabled, and its user."""

    user: UserRow
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def insert_session(
    conn: Connection, digest: str, user_id: int, *, now: datetime, expires_at: datetime
) -> None:
    """Store a new session under the digest of its id."""
    conn.execute(
        text(
            "INSERT INTO app_session (id_sha256, user_id, created_at, last_seen_at, expires_at) "
            "VALUES (:d, :u, :now, :now, :exp)"
        ),
        {"d": digest, "u": user_id, "now": now, "exp": expires_at},
    )


def session_by_digest(conn: Connection, digest: str) -> SessionRow | None:
    """The session stored under ``digest`` with its user.

    None when unknown, revoked or the account is disabled; whether it has expired is the
    caller's rule (:mod:`api.services.accounts`).
    """
    row = conn.execute(
        text(
            "SELECT s.user_id, s.created_at, s.last_seen_at, s.expires_at FROM app_session s "
            "JOIN app_user u ON u.id = s.user_id "
            "WHERE s.id_sha256 = :d AND s.revoked_at IS NULL AND u.disabled_at IS NULL"
        ),
        {"d": digest},
    ).first()
    if row is None:
        return None
    user = _user(conn, "u.id = :i", i=row[0])
    if user is None:
        return None
    return SessionRow(user, row[1], row[2], row[3])


def touch_session(conn: Connection, digest: str, now: datetime) -> None:
    """Record that the session was used at ``now`` (its idle time starts again)."""
    conn.execute(
        text(
            "UPDATE app_session SET last_seen_at = :now "
            "WHERE id_sha256 = :d AND last_seen_at < :now"
        ),
        {"d": digest, "now": now},
    )


def revoke_session(conn: Connection, digest: str, now: datetime) -> None:
    """End one session (sign-out)."""
    conn.execute(
        text(
            "UPDATE app_session SET revoked_at = :now WHERE id_sha256 = :d AND revoked_at IS NULL"
        ),
        {"d": digest, "now": now},
    )


def revoke_sessions_of(conn: Connection, user_id: int, now: datetime) -> int:
    """End every live session of a user; how many there were."""
    return conn.execute(
        text(
            "UPDATE app_session SET revoked_at = :now "
            "WHERE user_id = :u AND revoked_at IS NULL AND expires_at > :now"
        ),
        {"u": user_id, "now": now},
    ).rowcount


def recent_failures(
    conn: Connection,
    *,
    since: datetime,
    most: int,
    username: str | None = None,
    address: str | None = None,
) -> list[datetime]:
    """When sign-ins failed since ``since`` for a user name or an address, newest first.

    At most ``most`` times: enough to tell whether a limit of ``most`` is reached and
    when the oldest of them leaves the window.
    """
    column, value = ("username", username) if username is not None else ("address", address)
    if value is None:
        return []
    rows = conn.execute(
        text(
            f"SELECT at FROM sign_in_failure WHERE {column} = :v AND at > :since "
            "ORDER BY at DESC LIMIT :most"
        ),
        {"v": value, "since": since, "most": most},
    )
    return [r[0] for r in rows]


def record_failure(
    conn: Connection, username: str, address: str | None, at: datetime, *, forget_before: datetime
) -> None:
    """Record a failed sign-in.

    Failures of that name and address before ``forget_before`` (outside every window)
    are deleted on the way.
    """
    conn.execute(
        text("DELETE FROM sign_in_failure WHERE at < :old AND (username = :u OR address = :a)"),
        {"old": forget_before, "u": username, "a": address},
    )
    conn.execute(
        text("INSERT INTO sign_in_failure (at, username, address) VALUES (:at, :u, :a)"),
        {"at": at, "u": username, "a": address},
    )


def clear_failures(conn: Connection, username: str) -> None:
    """Forget a user name's failed sign-ins (after a successful one)."""
    conn.execute(text("DELETE FROM sign_in_failure WHERE username = :u"), {"u": username})
