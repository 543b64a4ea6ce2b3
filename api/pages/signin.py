"""Signing in and out (登录 / 退出): the session cookie the pages authenticate by.

``GET /login`` draws the form; ``POST /login`` checks the name and password
(:func:`api.services.accounts.sign_in`: slowed down and locked out after failures) and
sets the session cookie; ``POST /logout`` revokes the session.  The sign-in form has
no session yet, so its CSRF token is a random value kept in a short-lived cookie of its
own (:data:`SIGNIN_COOKIE`, SameSite=Strict) and echoed by the form.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import CSRF_FIELD, SESSION_COOKIE, OptionalUser
from api.deps import EngineDep, SettingsDep
from api.inputs import Text
from api.pages.render import flash, render, session_id
from api.services import accounts

router = APIRouter(tags=["pages"])

#: The cookie holding the sign-in form's CSRF token.
SIGNIN_COOKIE = "wangge_signin"
NOTICES = {
    "ended": "登录已过期或已在别处退出，请重新登录。",
    "bye": "您已安全退出。",
}


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _secure(request: Request) -> bool:
    """Cookies are Secure when the page was served over HTTPS."""
    return request.url.scheme == "https"


def _form(
    request: Request,
    *,
    next_path: str,
    username: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The sign-in form with a fresh CSRF token in its cookie and hidden field."""
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {
            "signin_token": token,
            "next": next_path,
            "username": username,
            "error": error,
            "notice": notice,
        },
        status_code=status_code,
        headers=headers,
    )
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(
    request: Request,
    user: OptionalUser,
    next: Text | None = None,
    ended: bool = False,
    bye: bool = False,
) -> Response:
    """The sign-in form; a signed-in browser goes straight on to ``next`` (or home)."""
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    notice = NOTICES["ended"] if ended else NOTICES["bye"] if bye else None
    return _form(request, next_path=safe_next(next), notice=notice)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    username: Annotated[Text, Form(max_length=64)],
    password: Annotated[Text, Form(max_length=1024)],
    csrf_token: Annotated[Text, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[Text, Form(max_length=2000)] = "/",
) -> Response:
    """Check the name and password: on success set the session cookie and go on.

    A refusal draws the form again with the reason in Chinese (401, or 429 with
    ``Retry-After`` while locked), after a delay that grows with the recent failures.
    """
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        raise accounts.CsrfRefused(
            "登录表单已失效，请刷新页面后重新登录 (the sign-in form's CSRF token is missing "
            "or stale: reload /login)"
        )
    client = request.client.host if request.client else None
    outcome = await run_in_threadpool(
        accounts.sign_in, engine, settings, username, password, client
    )
    target = safe_next(next)
    if isinstance(outcome, accounts.SignInRefused):
        await asyncio.sleep(outcome.delay_s)
        locked = outcome.retry_after_s is not None
        return _form(
            request,
            next_path=target,
            username=username.strip()[:64],
            error=outcome.message,
            status_code=429 if locked else 401,
            headers={"Retry-After": str(int(outcome.retry_after_s or 0) + 1)} if locked else None,
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        outcome.session_id,
        # max-age, not the end's date: the browser's clock need not agree with ours
        max_age=int(settings.session_max_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/login")
    flash(response, outcome.session_id, f"已登录：{outcome.username}", "success")
    return response


@router.post("/logout", response_class=HTMLResponse)
async def logout(request: Request, engine: EngineDep, user: OptionalUser) -> Response:
    """End the session (its CSRF token checked like any form's) and show the sign-in page.

    Without a live session there is nothing to end: the browser goes to the sign-in page.
    """
    sid = session_id(request)
    if user is not None and sid is not None:
        await run_in_threadpool(accounts.sign_out, engine, sid)
    response = RedirectResponse("/login?bye=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
