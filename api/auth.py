"""Who is calling: bearer tokens (or Open311's ``api_key``) to a :class:`grids.access.Principal`.

Every route that shows or changes anything personal depends on :data:`CurrentUser`;
what that user may then see is decided by :mod:`grids.access` alone.  Who a token
belongs to is kept by the application's state (:meth:`api.state.AppState.user_for_token`)
while no account, token or assignment changes.  Tokens are issued by
:mod:`api.services.accounts`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from api.deps import StateDep
from gis.errors import Unauthorized
from grids.access import Principal, require_planner


def _token_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.query_params.get("api_key")
    return key or None


async def optional_user(request: Request, state: StateDep) -> Principal | None:
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
    user = await run_in_threadpool(state.user_for_token, token)
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


async def planner(user: CurrentUser) -> Principal:
    """The signed-in planner (设施规划): 401 without a token, 403 for a resident or a worker.

    On a planning router, so that an outsider is refused before any input is read;
    the planning services apply the same rule (:func:`grids.access.require_planner`).
    """
    require_planner(user, "use facility planning (coverage, sites, scenarios)")
    return user


Planner = Annotated[Principal, Depends(planner)]
