"""Who is calling: a bearer token or a browser session, to a :class:`grids.access.Principal`.

Two credentials, one principal, so the access rules are the same whichever door:

* the JSON API (and GDAL, QGIS, scripts) sends ``Authorization: Bearer <token>``, never
  a token in the URL: a request with ``?api_key=`` or ``?token=`` is refused before it
  gets here (:mod:`api.url_credentials`; Open311 reads its ``api_key`` itself);
* pages send the session cookie (:data:`SESSION_COOKIE`, set by the sign-in page,
  HttpOnly, SameSite=Lax, Secure over HTTPS).  A request that changes anything (any
  method but GET, HEAD, OPTIONS) with the cookie must carry the session's CSRF token,
  as the form field :data:`CSRF_FIELD` or the header :data:`CSRF_HEADER` (htmx sends
  it), or is refused with 403 before the route runs.

Every route that shows or changes anything personal depends on :data:`CurrentUser`;
what that user may then see is decided by :mod:`grids.access` alone.  Who a token or
session belongs to is kept by the application's state
(:meth:`api.state.AppState.user_for_token`, :meth:`~api.state.AppState.user_for_session`)
while no account, token, session or assignment changes.  Tokens, passwords and
sessions are made by :mod:`api.services.accounts`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import StateDep
from api.services.accounts import CsrfRefused, SessionEnded, csrf_ok
from gis.db import principal as db_principal
from gis.errors import Unauthorized
from grids.access import Principal, require_grid_desk, require_planner

#: The cookie that carries a browser's session id.
SESSION_COOKIE = "wangge_session"
#: Where a form sends its CSRF token, and where htmx and scripts send it.
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _token_of(request: Request) -> str | None:
    """The bearer token of the ``Authorization`` header; a URL is never read for one."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


async def _check_csrf(request: Request, session_id: str) -> None:
    """Refuse a changing request of a session that does not carry the session's token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(_FORMS):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not csrf_ok(session_id, sent):
        raise CsrfRefused(
            "请刷新页面后重新提交：表单缺少有效的安全令牌 (the request has no valid CSRF "
            f"token: send the page's '{CSRF_FIELD}' field or the '{CSRF_HEADER}' header)"
        )


async def _credential_user(
    request: Request, state: StateDep
) -> tuple[Literal["token", "session"] | None, Principal | None]:
    """The credential a request carries (None: none) and its user (None: unknown or ended).

    A bearer token wins over the cookie.
    """
    token = _token_of(request)
    if token is not None:
        return "token", await run_in_threadpool(state.user_for_token, token)
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return None, None
    return "session", await run_in_threadpool(state.user_for_session, session_id)


async def optional_user(request: Request, state: StateDep) -> Principal | None:
    """The signed-in user, or None when the request carries no credential.

    A bearer token wins over the cookie.  A session that ended counts as none (the
    request is anonymous; :func:`current_user` then says the session ended).  The
    user and the session id are kept in ``request.state`` for the page's drawing.

    Raises
    ------
    Unauthorized
        When a token is given but unknown or expired: a wrong token is an error, not
        an anonymous request.
    CsrfRefused
        For a changing request of a session without its CSRF token (403).
    """
    kind, user = await _credential_user(request, state)
    if kind is None:
        return None
    if user is None:
        if kind == "token":
            raise Unauthorized(
                "the token is unknown, expired or revoked; ask for a new one "
                "('wangge users token NAME'), or sign in at /login in a browser"
            )
        request.state.session_ended = True
        return None
    if kind == "session":
        session_id = request.cookies[SESSION_COOKIE]
        if request.method not in SAFE_METHODS:
            await _check_csrf(request, session_id)
        request.state.session_id = session_id
    request.state.user = user
    # the database's row-level security sees this user from here on (gis.db.principal)
    db_principal.set_user(user)
    return user


class AnonymousUntilSignedIn:
    """ASGI middleware: every request starts as ``anonymous`` for the database's policies.

    :func:`optional_user` then sets the user once their credential is resolved; what the
    server does outside a request (its jobs) stays ``system`` (:mod:`gis.db.principal`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with the anonymous principal in its context."""
        if scope["type"] in ("http", "websocket"):
            db_principal.set_principal(db_principal.ANONYMOUS_PRINCIPAL)
        await self.app(scope, receive, send)


async def current_user(
    request: Request, user: Annotated[Principal | None, Depends(optional_user)]
) -> Principal:
    """The signed-in user; a request without a credential is refused (401).

    A page answers the refusal by sending the browser to the sign-in page
    (:mod:`api.errors`).
    """
    if user is None:
        if getattr(request.state, "session_ended", False):
            raise SessionEnded("登录已过期或已退出，请重新登录 (the session ended: sign in again)")
        raise Unauthorized(
            "sign in: send 'Authorization: Bearer <token>' (a token comes from "
            "'wangge users token NAME'), or sign in at /login in a browser"
        )
    return user


async def still_signed_in(request: Request, state: StateDep, user: Principal) -> bool:
    """Whether the credential a long answer (a live stream) was opened with still holds ``user``.

    A stream stays open for minutes: a token revoked, a session ended, an account disabled
    or moved to another role or area meanwhile must end it, as it ends every request
    after it.  Read as a request reads it (cached until the accounts change).
    """
    _, now = await _credential_user(request, state)
    return now == user


CurrentUser = Annotated[Principal, Depends(current_user)]
OptionalUser = Annotated[Principal | None, Depends(optional_user)]


async def planner(user: CurrentUser) -> Principal:
    """The signed-in planner (设施规划): 401 without a token, 403 for a resident or a worker.

    On a planning router, so that an outsider is refused before any input is read;
    the planning services apply the same rule (:func:`grids.access.require_planner`).
    """
    require_planner(user, "use facility planning (coverage, sites, scenarios)")
    return user


Planner = Annotated[Principal, Depends(planner)]


async def grid_desk_user(user: CurrentUser) -> Principal:
    """The signed-in staff member at the grids desk (网格与人员): 403 for anyone else.

    Refused before any input is read: a resident who opened a design page without its
    community was told 输入有误 (422) instead of 无权操作.  The services apply the same
    rule (:func:`grids.access.require_grid_desk`).
    """
    require_grid_desk(user)
    return user


GridDeskUser = Annotated[Principal, Depends(grid_desk_user)]


OptionalUser = Annotated[Principal | None, Depends(optional_user)]
