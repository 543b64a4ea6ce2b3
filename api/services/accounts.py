"""Accounts: users, their passwords, browser sessions and bearer tokens.

Called by the command line (``wangge users add|passwd|token|revoke-tokens|disable|
enable``, the demo's sign-ins), the sign-in page, tests and benchmarks.  Who a token
or session belongs to at request time is the doors' concern (``api/auth.py``, through
the application's cached state, which asks :func:`read_session` and
:func:`session_verdict`).  A token lives at most 89 days (``WANGGE_TOKEN_DAYS``, 30 by
default) and can be revoked at once (:func:`revoke_tokens`, :func:`set_disabled`).

Passwords are stored as argon2id hashes (``argon2-cffi``'s defaults, RFC 9106's
low-memory profile), re-hashed on sign-in when those defaults change.  A session id
(the browser's cookie) and a token are random and stored only as their SHA-256.

Sign-in is slowed down and locked out by failures counted per user name and per
network address over ``signin_lockout_minutes`` (settings): each recent failure makes
the answer to a wrong password wait :attr:`Settings.signin_failure_delay_s` more, and
``signin_max_failures`` failures for a name (``signin_max_failures_per_address`` from an
address) refuse every attempt, right or wrong, until the oldest of them leaves the
window.  An unknown name is answered, counted and locked exactly like a wrong password,
so the answers never tell whether a user exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine

from gis import clock
from gis.db.models import ROLES
from gis.errors import Conflict, Forbidden, InvalidInput, ServiceError, Unauthorized
from gis.settings import TOKEN_MAX_DAYS, Settings, get_settings
from gis.store import access_store, admin_store
from gis.store.access_store import SessionRow, UnknownUser
from gis.store.admin_store import WrongAreaLevel
from grids.access import ROLE_NAMES_ZH, Principal

#: How long the demo's tokens are valid, days.
DEMO_TOKEN_DAYS = 7
#: A session's last use is written at most this often (its idle clock, seconds).
TOUCH_EVERY_S = 60.0

#: What the sign-in page says, in Chinese; never whether the user name exists.
WRONG_PASSWORD = "用户名或密码不正确。"
LOCKED = "登录失败次数过多，已暂时锁定。请在 {minutes} 分钟后再试，或联系管理员。"
DISABLED = "该账号已停用，请联系管理员。"


class WeakPassword(ServiceError, InvalidInput):
    """A new password that is too short or too plain."""


class UserExists(ServiceError, Conflict):
    """``users add`` with a name in use: change its password with ``users passwd``."""


class SessionEnded(ServiceError, Unauthorized):
    """A browser's session ended: signed out, idle or past its end, or the account disabled."""


class CsrfRefused(ServiceError, Forbidden):
    """A form sent with a session cookie but without that session's CSRF token."""


class BadRole(ServiceError, InvalidInput):
    """A role that is not one of :data:`gis.db.models.ROLES`, or one the user cannot take."""


class TokenDays(ServiceError, InvalidInput):
    """A token asked to live for no days, or longer than :data:`TOKEN_MAX_DAYS`."""


class UserDisabled(ServiceError, Conflict):
    """A token asked for a disabled account: it would come alive when the account does."""


class CredentialInUrl(ServiceError, InvalidInput):
    """A token sent in the URL (``?api_key=``, ``?token=``): refused, never used (400)."""


#: The area level each staff role needs (the others have no area): they see every grid
#: under it, at any depth (:mod:`grids.access`).
AREA_LEVEL = {
    "community_staff": "community",
    "street_staff": "street",
    "district_staff": "district",
    "city_staff": "city",
}
AREA_LEVEL_ZH = {"community": "社区", "street": "街道", "district": "区", "city": "市"}
#: The other levels, in Chinese, for a refusal that names what an area is.
LEVEL_ZH = {**AREA_LEVEL_ZH, "province": "省", "estate": "小区"}


_HASHER = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash no password matches, verified for unknown names so they take as long."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The argon2id hash of a password (``$argon2id$v=19$…``), salted at random."""
    return _HASHER.hash(password)


def check_new_password(password: str, settings: Settings, username: str = "") -> None:
    """Refuse a password that is too short, all one character, or the user name.

    Raises
    ------
    WeakPassword
        Saying what is wrong and what a good one looks like.
    """
    if len(password) < settings.min_password_length:
        raise WeakPassword(
            f"the password has {len(password)} characters; use at least "
            f"{settings.min_password_length} (WANGGE_MIN_PASSWORD_LENGTH), e.g. four unrelated "
            "words or a password manager's"
        )
    if len(set(password)) < 4 or password.strip().lower() == username.strip().lower():
        raise WeakPassword(
            "the password is too easy to guess (the user name, or only a few different "
            "characters); choose another"
        )


def _password_ok(stored: str | None, password: str) -> bool:
    """Whether ``password`` matches the stored hash (always false with none, same cost)."""
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


# ------------------------------------------------------------------ users


def add_user(
    engine: Engine,
    settings: Settings,
    username: str,
    role: str,
    password: str,
    area_code: str | None = None,
    *,
    worker_id: int | None = None,
    display_name: str | None = None,
) -> int:
    """Create a user who signs in with ``password``; their id.

    Raises
    ------
    WeakPassword
        For a password :func:`check_new_password` refuses.
    UserExists
        When the name is taken (nothing is changed).
    gis.store.access_store.UnknownRole, gis.store.access_store.UnknownUser
        For an unknown role, area code or grid worker.
    gis.store.admin_store.WrongAreaLevel
        For a staff area that is not of their role's level (:data:`AREA_LEVEL`).
    """
    check_new_password(password, settings, username)
    with engine.begin() as conn:
        if access_store.credentials(conn, username) is not None:
            raise UserExists(
                f"a user is already named {username!r}; change their password with "
                f"'wangge users passwd {username}'"
            )
        _check_new_user(conn, username, role, area_code, worker_id)
        user_id = access_store.ensure_user(
            conn,
            username,
            role,
            display_name=display_name,
            area_code=area_code,
            worker_id=worker_id,
        )
        access_store.set_password_hash(conn, user_id, hash_password(password))
    return user_id


def _existing(conn: Connection, username: str) -> access_store.Credentials:
    found = access_store.credentials(conn, username)
    if found is None:
        raise UnknownUser(
            f"no user is named {username!r}; create them with 'wangge users add NAME --role …'"
        )
    return found


def set_password(engine: Engine, settings: Settings, username: str, password: str) -> None:
    """Give a user a new password; every session of theirs ends (sign in again).

    Raises
    ------
    WeakPassword
        For a password :func:`check_new_password` refuses.
    gis.store.access_store.UnknownUser
        When no user has that name.
    """
    check_new_password(password, settings, username)
    with engine.begin() as conn:
        user = _existing(conn, username)
        access_store.set_password_hash(conn, user.user_id, hash_password(password))
        access_store.revoke_sessions_of(conn, user.user_id, clock.utcnow())
        access_store.clear_failures(conn, username)


def set_disabled(engine: Engine, username: str, disabled: bool = True) -> int:
    """Disable an account (its sessions and tokens stop working at once) or enable it again.

    Disabling also revokes the user's sessions and tokens, so enabling the account later
    brings back no old browser and no old token (give them a new one with
    ``wangge users token``).  Returns how many sessions and tokens were revoked.

    Raises
    ------
    gis.store.access_store.UnknownUser
        When no user has that name.
    """
    now = clock.utcnow()
    with engine.begin() as conn:
        user = _existing(conn, username)
        access_store.set_disabled(conn, username, now if disabled else None)
        if not disabled:
            return 0
        sessions = access_store.revoke_sessions_of(conn, user.user_id, now)
        return sessions + admin_store.revoke_tokens_of(conn, user.user_id, now)


def _area_for(
    conn: Connection, role: str, area_code: str | None, worker_id: int | None
) -> int | None:
    """The area id a user of ``role`` gets; refuses a missing or wrong-level area."""
    if role not in ROLES:
        raise BadRole(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if role == "grid_worker" and worker_id is None:
        raise BadRole(
            "a grid worker (网格员) account must be linked to a grid worker: give the worker's "
            "id (grid_worker.id), or use 'wangge users add NAME --role grid_worker --worker ID'"
        )
    level = AREA_LEVEL.get(role)
    if level is None:
        return None  # admin, resident, grid worker: their grids come from elsewhere
    if not area_code:
        raise WrongAreaLevel(
            f"a {ROLE_NAMES_ZH[role]} ({role}) needs the code of their "
            f"{AREA_LEVEL_ZH[level]} ({level}) as the area"
        )
    return _area_of_level(conn, role, area_code)


def _area_of_level(conn: Connection, role: str, area_code: str) -> int:
    """The id of area ``area_code``; refuses one that is not of the level ``role`` needs."""
    level = AREA_LEVEL[role]
    area_id, found_level = admin_store.area_of_code(conn, area_code.strip())
    if found_level != level:
        raise WrongAreaLevel(
            f"area {area_code} is a {LEVEL_ZH.get(found_level, found_level)} ({found_level}); "
            f"a {ROLE_NAMES_ZH[role]} ({role}) needs the code of a "
            f"{AREA_LEVEL_ZH[level]} ({level})"
        )
    return area_id


def _check_new_user(
    conn: Connection, username: str, role: str, area_code: str | None, worker_id: int | None
) -> None:
    """Refuse, for a user about to be created, what their role cannot work without.

    A staff member's area of their role's level, a grid worker's worker: as the admin's
    form does (the command line created accounts that every page then refused); and a
    name of the characters :data:`USERNAME` allows.
    """
    if access_store.credentials(conn, username) is None:
        _area_for(conn, role, area_code, worker_id)
        check_username(username)


#: A user name: letters (Chinese too), digits, _ . - @; what a link and a log line carry
#: as they are (a name with '/' made an account the admin's pages could not open).
NAME_CHARACTER = re.compile(r"[\w.@-]")
USERNAME = re.compile(rf"{NAME_CHARACTER.pattern}{{1,64}}")


def check_username(username: str) -> None:
    """Refuse a user name of other characters, or longer than 64."""
    if not USERNAME.fullmatch(username):
        odd = sorted({c for c in username if not NAME_CHARACTER.fullmatch(c)})
        said = f" (it holds {' '.join(map(repr, odd))})" if odd else ""
        raise BadRole(f"a user name is up to 64 letters, digits or _ . - @{said}; choose another")


def check_role(engine: Engine, role: str, area_code: str | None, worker_id: int | None) -> None:
    """Refuse a role with a missing or wrong-level area, or a grid worker without a worker.

    Raises
    ------
    BadRole, gis.store.admin_store.WrongAreaLevel
        Saying what the role needs (422); an unknown area code is 404.
    """
    with engine.connect() as conn:
        _area_for(conn, role, area_code, worker_id)


def change_role(
    engine: Engine,
    username: str,
    role: str,
    area_code: str | None,
    *,
    audit_as: str | None = None,
) -> None:
    """Give a user another role and area (``wangge users role``, ``/admin/users``).

    What the user may see follows at their next request (the accounts' data versions
    move).  ``audit_as``: who is written to the audit log as having made the change.

    Raises
    ------
    gis.store.access_store.UnknownUser
        When no user has that name, or no area that code.
    BadRole, gis.store.admin_store.WrongAreaLevel
        For a role the area or the account does not fit.
    """
    with engine.begin() as conn:
        user = access_store.user_by_name(conn, username)
        if user is None:
            raise UnknownUser(f"no user is named {username!r}; see 'wangge users add'")
        area_id = _area_for(conn, role, area_code, user.worker_id)
        admin_store.set_role(conn, user.id, role, area_id)
        if audit_as is not None:
            detail = {"from": user.role, "to": role, "area": area_code if area_id else None}
            access_store.audit(conn, audit_as, "user_role", "app_user", username, detail)


@dataclass(frozen=True)
class Revoked:
    """How many sessions and tokens of the user were ended."""

    sessions: int
    tokens: int


def revoke_access(engine: Engine, username: str, *, audit_as: str | None = None) -> Revoked:
    """End every session and bearer token of a user (``wangge users revoke``, ``/admin/users``).

    The browser signs in again and the API needs a new token; the account stays enabled.

    Raises
    ------
    gis.store.access_store.UnknownUser
        When no user has that name.
    """
    now = clock.utcnow()
    with engine.begin() as conn:
        user = _existing(conn, username)
        done = Revoked(
            access_store.revoke_sessions_of(conn, user.user_id, now),
            admin_store.revoke_tokens_of(conn, user.user_id, now),
        )
        if audit_as is not None:
            detail = {"sessions": done.sessions, "tokens": done.tokens}
            access_store.audit(conn, audit_as, "user_revoke", "app_user", username, detail)
    return done


# ------------------------------------------------------------------ sign-in and sessions


@dataclass(frozen=True)
class SignedIn:
    """A new session: ``session_id`` goes into the browser's cookie, nowhere else."""

    username: str
    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class SignInRefused:
    """A refused sign-in: what to tell the person, in Chinese, and how long to wait first.

    ``retry_after_s`` is set when the name or address is locked.
    """

    message: str
    delay_s: float
    retry_after_s: float | None = None


def _locked_until(times: list[datetime], most: int, window: timedelta) -> datetime | None:
    """When a lock of ``most`` failures in ``window`` ends (None: not locked)."""
    if len(times) < most:
        return None
    return times[most - 1] + window


def sign_in(
    engine: Engine, settings: Settings, username: str, password: str, address: str | None
) -> SignedIn | SignInRefused:
    """Check a user name and password and open a session, or say why not.

    The refusal never tells whether the name exists (see the module's docstring for the
    delays and locks).

    Parameters
    ----------
    username, password
        As typed.
    address
        The network address the attempt came from (counted for the per-address lock).
    """
    username = username.strip()
    now = clock.utcnow()
    window = timedelta(minutes=settings.signin_lockout_minutes)
    with engine.begin() as conn:
        by_name = access_store.recent_failures(
            conn, since=now - window, most=settings.signin_max_failures, username=username
        )
        by_address = access_store.recent_failures(
            conn,
            since=now - window,
            most=settings.signin_max_failures_per_address,
            address=address,
        )
        until = max(
            (
                t
                for t in (
                    _locked_until(by_name, settings.signin_max_failures, window),
                    _locked_until(by_address, settings.signin_max_failures_per_address, window),
                )
                if t is not None
            ),
            default=None,
        )
        if until is not None:  # not even checked: guessing gains nothing while locked
            wait = max((until - now).total_seconds(), 1.0)
            return SignInRefused(
                LOCKED.format(minutes=max(1, round(wait / 60))),
                delay_s=settings.signin_max_delay_s,
                retry_after_s=wait,
            )
        found = access_store.credentials(conn, username)
        stored = None if found is None else found.password_hash
        matches = _password_ok(stored, password)  # as slow for an unknown name
        if found is None or stored is None or not matches:
            access_store.record_failure(conn, username, address, now, forget_before=now - window)
            recent = max(len(by_name), len(by_address)) + 1
            delay = min(settings.signin_failure_delay_s * recent, settings.signin_max_delay_s)
            return SignInRefused(WRONG_PASSWORD, delay_s=delay)
        if found.disabled:
            return SignInRefused(DISABLED, delay_s=0.0)
        if _HASHER.check_needs_rehash(stored):
            access_store.set_password_hash(conn, found.user_id, hash_password(password))
        access_store.clear_failures(conn, username)
        session_id = secrets.token_urlsafe(32)
        expires = now + timedelta(hours=settings.session_max_hours)
        access_store.insert_session(
            conn, session_digest(session_id), found.user_id, now=now, expires_at=expires
        )
    return SignedIn(username, session_id, expires)


def session_digest(session_id: str) -> str:
    """The SHA-256 under which a session is stored (never the id itself)."""
    return access_store.token_digest(session_id)


def csrf_token(session_id: str) -> str:
    """The token a session's forms carry (hidden field or ``X-CSRF-Token`` header).

    An HMAC of the session id: another site cannot know it (the cookie is HttpOnly and
    never leaves this host), and the server needs to store nothing to check it.
    """
    return hmac.new(session_id.encode(), b"wangge csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_id: str, sent: str | None) -> bool:
    """Whether ``sent`` is the session's CSRF token (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(csrf_token(session_id), str(sent))


def read_session(engine: Engine, digest: str) -> SessionRow | None:
    """The session stored under ``digest`` and its user, unless revoked or disabled."""
    with engine.connect() as conn:
        return access_store.session_by_digest(conn, digest)


Verdict = Literal["live", "idle", "expired"]


def session_verdict(row: SessionRow, now: datetime, settings: Settings) -> Verdict:
    """Whether a (not revoked) session may still be used at ``now``.

    ``expired`` past its absolute end (``session_max_hours`` after sign-in); ``idle``
    when unused for longer than ``session_idle_minutes``.
    """
    if now >= row.expires_at:
        return "expired"
    if now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        return "idle"
    return "live"


def needs_touch(row: SessionRow, now: datetime) -> bool:
    """Whether the session's last use should be written now (once a minute at most)."""
    return (now - row.last_seen_at).total_seconds() >= TOUCH_EVERY_S


def touch_session(engine: Engine, digest: str, now: datetime) -> None:
    """Record a session's use at ``now``: its idle time starts again."""
    with engine.begin() as conn:
        access_store.touch_session(conn, digest, now)


def sign_out(engine: Engine, session_id: str) -> None:
    """End a session (its cookie stops working everywhere at once)."""
    with engine.begin() as conn:
        access_store.revoke_session(conn, session_digest(session_id), clock.utcnow())


# ------------------------------------------------------------------ bearer tokens


def token_days(days: int | None) -> int:
    """How long a new token lives: ``days``, or ``WANGGE_TOKEN_DAYS`` when None.

    Raises
    ------
    TokenDays
        Unless 1 ≤ days ≤ :data:`gis.settings.TOKEN_MAX_DAYS`.
    """
    days = get_settings().token_days if days is None else days
    if not 0 < days <= TOKEN_MAX_DAYS:
        raise TokenDays(
            f"a token lives 1 to {TOKEN_MAX_DAYS} days, not {days}: give --days N in that "
            "range (the default is WANGGE_TOKEN_DAYS), and issue a new one when it ends"
        )
    return days


def issue_token(
    engine: Engine,
    username: str,
    role: str,
    area_code: str | None = None,
    *,
    worker_id: int | None = None,
    days: int | None = None,
    label: str | None = None,
) -> str:
    """A new bearer token for ``username``, creating the user with ``role`` when missing.

    An existing user keeps their role and area (see
    :func:`gis.store.access_store.ensure_user`).  It lives ``days`` days
    (:func:`token_days`: ``WANGGE_TOKEN_DAYS`` by default, at most 89).

    Raises
    ------
    TokenDays
        For ``days`` out of range.
    gis.store.access_store.UnknownRole
        For a role that is not one of :data:`gis.db.models.ROLES` (invalid input).
    gis.store.access_store.UnknownUser
        When ``area_code`` names no admin area or ``worker_id`` no grid worker (not found).
    gis.store.admin_store.WrongAreaLevel
        For a new staff user whose area is not of their role's level (:data:`AREA_LEVEL`).
    """
    days = token_days(days)
    with engine.begin() as conn:
        _check_new_user(conn, username, role, area_code, worker_id)
        user_id = access_store.ensure_user(
            conn, username, role, area_code=area_code, worker_id=worker_id
        )
        _refuse_disabled(username, access_store.credentials(conn, username))
        return access_store.issue_token(conn, user_id, days=days, label=label)


def _refuse_disabled(username: str, user: access_store.Credentials | None) -> None:
    """No new token for a disabled account: it would come alive when the account does."""
    if user is not None and user.disabled:
        raise UserDisabled(
            f"{username} is disabled: a token made now would work once they are enabled "
            f"again; enable them first ('wangge users enable {username}')"
        )


def token_for(
    engine: Engine,
    username: str,
    *,
    days: int | None = None,
    label: str | None = None,
    rotate: bool = False,
) -> str:
    """A new bearer token for an existing user, living ``days`` days (:func:`token_days`).

    With ``rotate``, the user's other tokens are revoked in the same transaction: the new
    one replaces them.

    Raises
    ------
    TokenDays
        For ``days`` out of range.
    gis.store.access_store.UnknownUser
        When no user has that name; the message says how to create one.
    UserDisabled
        For a disabled account (its old tokens stay dead; a new one would wake with it).
    """
    days = token_days(days)
    with engine.begin() as conn:
        user = _existing(conn, username)
        _refuse_disabled(username, user)
        if rotate:
            admin_store.revoke_tokens_of(conn, user.user_id, clock.utcnow())
        return access_store.issue_token(conn, user.user_id, days=days, label=label)


def revoke_tokens(engine: Engine, username: str, *, audit_as: str | None = None) -> int:
    """Revoke every token of a user at once (their sessions stay); how many were live.

    ``wangge users revoke-tokens``; :func:`revoke_access` ends the sessions too.  Every
    server process refuses them from its next request on (the tokens' data version moves).

    Raises
    ------
    gis.store.access_store.UnknownUser
        When no user has that name.
    """
    with engine.begin() as conn:
        user = _existing(conn, username)
        count = admin_store.revoke_tokens_of(conn, user.user_id, clock.utcnow())
        if audit_as is not None:
            detail = {"tokens": count}
            access_store.audit(conn, audit_as, "token_revoke", "app_user", username, detail)
        return count


@dataclass(frozen=True)
class SignIn:
    """One user of a role, a fresh password to sign in with and a token for the API."""

    role: str
    username: str
    password: str
    token: str


def new_password() -> str:
    """A random password for the demo or a reset: 16 characters, about 96 bits."""
    return secrets.token_urlsafe(12)


def demo_sign_ins(
    engine: Engine, *, days: int = DEMO_TOKEN_DAYS, area: str | None = None
) -> list[SignIn]:
    """A fresh password and a token for one user of each role of the loaded district.

    Roles with no user are skipped.  So that whoever runs the demo can try every door
    at once: the sign-in page, the worker's tablet, the API with ``Authorization: Bearer``.
    Earlier demo passwords stop working (each run sets new ones and ends their sessions).
    ``area``: the staff, worker and resident are that area's sample users (the admin is
    the deployment's, if it has one).
    """
    from etl.sample.areas import area_users_pattern  # the demo's alone: not the server's

    out = []
    now = clock.utcnow()
    users = "" if area is None else area_users_pattern(area)
    with engine.begin() as conn:
        for role, (user_id, username) in access_store.one_user_per_role(conn, users).items():
            password = new_password()
            access_store.set_password_hash(conn, user_id, hash_password(password))
            access_store.revoke_sessions_of(conn, user_id, now)
            access_store.clear_failures(conn, username)
            token = access_store.issue_token(conn, user_id, days=days, label="demo")
            out.append(SignIn(role, username, password, token))
    return out


def principal_named(engine: Engine, username: str) -> Principal:
    """The principal of the user ``username`` (a command's ``--as``).

    Raises
    ------
    gis.store.access_store.UnknownUser
        When no user has that name.
    """
    with engine.connect() as conn:
        row = access_store.user_by_name(conn, username)
    if row is None:
        raise UnknownUser(f"no user is named {username!r}; 'wangge users add' creates one")
    return Principal.of(row)
