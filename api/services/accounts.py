"""Accounts: bearer tokens for users, created with their role when they are new.

Called by the command line (``wangge users add|token``, the demo's sign-ins), tests and
benchmarks.  Who a token belongs to at request time is the doors' concern (``api/auth.py``,
through the application's cached state).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from gis.store import access_store
from gis.store.access_store import UnknownUser
from grids.access import Principal

#: How long the demo's tokens are valid, days.
DEMO_TOKEN_DAYS = 7


def issue_token(
    engine: Engine,
    username: str,
    role: str,
    area_code: str | None = None,
    *,
    worker_id: int | None = None,
    days: int = 90,
    label: str | None = None,
) -> str:
    """A new bearer token for ``username``, creating the user with ``role`` when missing.

    An existing user keeps their role and area (see
    :func:`gis.store.access_store.ensure_user`).

    Raises
    ------
    gis.store.access_store.UnknownRole
        For a role that is not one of :data:`gis.db.models.ROLES` (invalid input).
    gis.store.access_store.UnknownUser
        When ``area_code`` names no admin area or ``worker_id`` no grid worker (not found).
    """
    with engine.begin() as conn:
        user_id = access_store.ensure_user(
            conn, username, role, area_code=area_code, worker_id=worker_id
        )
        return access_store.issue_token(conn, user_id, days=days, label=label)


def token_for(engine: Engine, username: str, *, days: int = 90, label: str | None = None) -> str:
    """A new bearer token for an existing user.

    Raises
    ------
    gis.store.access_store.UnknownUser
        When no user has that name; the message says how to create one.
    """
    with engine.begin() as conn:
        user = access_store.user_by_name(conn, username)
        if user is None:
            raise access_store.UnknownUser(
                f"no user is named {username!r}; create them with 'wangge users add NAME --role …'"
            )
        return access_store.issue_token(conn, user.id, days=days, label=label)


@dataclass(frozen=True)
class SignIn:
    """A token issued for one user of a role."""

    role: str
    username: str
    token: str


def demo_sign_ins(engine: Engine, *, days: int = DEMO_TOKEN_DAYS) -> list[SignIn]:
    """A token for one user of each role of the loaded district (roles with none are skipped).

    So that whoever runs the demo can try every door at once: the worker's tablet, the
    KPI report, the API with ``Authorization: Bearer …``.
    """
    out = []
    with engine.begin() as conn:
        for role, (user_id, username) in access_store.one_user_per_role(conn).items():
            token = access_store.issue_token(conn, user_id, days=days, label="demo")
            out.append(SignIn(role, username, token))
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
