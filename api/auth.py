"""Who is calling: bearer tokens (or Open311's ``api_key``) to a :class:`grids.access.Principal`.

Every route that shows or changes anything personal depends on :data:`CurrentUser`;
what that user may then see is decided by :mod:`grids.access` alone.  A token is
looked up once and its user (with the grids their role covers) kept for
:data:`CACHE_SECONDS`, so an intake burst costs no extra queries; a revoked token or a
changed area takes effect within that time.
"""

from __future__ import annotations

import threading
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from api.deps import EngineDep
from api.errors import Unauthorized
from gis.store import access_store
from gis.store.access_store import UserRow
from grids.access import Principal

CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, Principal]] = {}
_lock = threading.Lock()


def principal_of(row: UserRow) -> Principal:
    """The principal of a stored user."""
    return Principal(
        user_id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        worker_id=row.worker_id,
        area_id=row.area_id,
        grid_ids=row.grid_ids,
    )


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.query_params.get("api_key")
    return key or None


def user_for_token(engine: Engine, token: str) -> Principal | None:
    """The user of a token (cached for :data:`CACHE_SECONDS`); None when unknown or expired."""
    digest = access_store.token_digest(token)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(digest)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    with engine.connect() as conn:
        row = access_store.user_by_token(conn, token)
    if row is None:
        return None
    user = principal_of(row)
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[digest] = (now, user)
    return user


def forget_cached_users() -> None:
    """Drop every cached token (after roles or areas changed, and between tests)."""
    with _lock:
        _cache.clear()


async def optional_user(request: Request, engine: EngineDep) -> Principal | None:
    """The signed-in user, or None when the request carries no token.

    Raises
    ------
    Unauthorized
        When a token is given but unknown or expired: a wrong token is an error, not
        an anonymous request.
    """
    token = _token_of(request)
    if token is None:
        return None
    user = await run_in_threadpool(user_for_token, engine, token)
    if user is None:
        raise Unauthorized("the token is unknown or expired; ask for a new one")
    return user


async def current_user(user: Annotated[Principal | None, Depends(optional_user)]) -> Principal:
    """The signed-in user; a request without a token is refused (401)."""
    if user is None:
        raise Unauthorized(
            "sign in: send 'Authorization: Bearer <token>' (a token comes from "
            "'wangge users token NAME')"
        )
    return user


CurrentUser = Annotated[Principal, Depends(current_user)]


def issue_token(
    engine: Engine,
    username: str,
    role: str,
    area_code: str | None = None,
    *,
    worker_id: int | None = None,
    days: int = 90,
) -> str:
    """A token for ``username``, creating the user with ``role`` when missing."""
    with engine.begin() as conn:
        user_id = access_store.ensure_user(
            conn, username, role, area_code=area_code, worker_id=worker_id
        )
        return access_store.issue_token(conn, user_id, days=days)
