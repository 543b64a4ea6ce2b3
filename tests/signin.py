"""Signing in from a test as a person does: through the ``/login`` form, with httpx or in
Chromium, so that pages are opened with the session cookie and never with a token in the URL.

Users made with a token only (``issue_token``) get a password first (:func:`give_password`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import Engine

from api.services import accounts
from gis.settings import get_settings

HTML = {"Accept": "text/html"}
#: The password :func:`give_password` sets when none is given.
PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def give_password(engine: Engine, username: str, password: str = PASSWORD) -> str:
    """Set a user's password (as ``wangge users passwd`` does); the password."""
    accounts.set_password(engine, get_settings(), username, password)
    return password


def bearer(token: str) -> dict[str, str]:
    """The header that carries a token (the only place a token goes)."""
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def signed_in(
    url: str, username: str, password: str = PASSWORD, **options: Any
) -> Iterator[httpx.Client]:
    """An httpx client signed in through the sign-in form (its cookie jar holds the session).

    ``options`` go to :class:`httpx.Client` (``timeout`` …).
    """
    with httpx.Client(base_url=url, **{"timeout": 120, **options}) as client:
        form = client.get("/login", headers=HTML)
        assert form.status_code == 200, form.text[:300]
        token = _CSRF.search(form.text)
        assert token is not None, "the sign-in form has no CSRF field"
        done = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token.group(1)},
            headers=HTML,
        )
        assert done.status_code == 303, done.text[:500]
        yield client


def csrf_of(client: httpx.Client) -> str:
    """The CSRF token of a signed-in client's session, as its pages carry it."""
    home = client.get("/", headers=HTML)
    assert home.status_code == 200, home.text[:300]
    found = _CSRF.search(home.text)
    assert found is not None
    return found.group(1)


def sign_in_page(
    page: Any, url: str, username: str, password: str = PASSWORD, then: str = "/"
) -> None:
    """Sign in a Playwright page at ``/login`` as a person would, and land on ``then``."""
    page.goto(f"{url}/login?next={quote(then)}", wait_until="load")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    target = f"{url}{then}"
    page.wait_for_url(lambda at: at == target, wait_until="load")
