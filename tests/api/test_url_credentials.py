"""No credential in a URL, from the outside: every route of the app, every page and the OGC
door answer a token in the query (``?api_key=``, ``?token=``, ``?access_token=``) with 400 and
nothing else, saying to sign in at /login or send the header; Open311 alone still takes its
``api_key``.  Tokens end (``--days``, at most 89) and die at once when revoked, rotated or
their account disabled, through the command line against a running server."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import Engine
from uvicorn.logging import AccessFormatter

from api.app import create_app
from api.url_credentials import redact_logs
from gis import clock
from gis.settings import Settings
from tests.conftest import LiveServer, run_wangge
from tests.signin import HTML, PASSWORD, bearer, signed_in

NAMES = ("api_key", "token", "access_token", "API_KEY", "wangge_session")


@pytest.fixture(scope="module")
def admin(database_url: str, live_server: LiveServer) -> str:
    """An admin made with the command line, with a password and a token; the token."""
    made = run_wangge(
        database_url,
        *("users", "add", "url_admin", "--role", "admin", "--password-stdin"),
        input_text=PASSWORD + "\n",
    )
    assert made.returncode == 0 or "already named" in made.stderr, made.stderr
    return _token(database_url, "url_admin")


def _token(database_url: str, name: str, *args: str) -> str:
    done = run_wangge(database_url, "users", "token", name, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _paths() -> list[tuple[str, str]]:
    """Every documented route of the app (method, path with its parameters filled in)."""
    routes = []
    for path, operations in create_app().openapi()["paths"].items():
        if path.startswith("/open311"):
            continue
        for method in operations:
            routes.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path)))
    ogc = [("GET", "/ogc/collections"), ("GET", "/ogc/collections/public.pub_grid/items")]
    pages = [("GET", "/desk"), ("GET", "/static/app/app.css")]
    return [*routes, *ogc, *pages]


def test_every_route_refuses_a_token_in_its_url(admin: str, live_server: LiveServer) -> None:
    routes = _paths()
    assert len(routes) > 60 and ("GET", "/live") in routes and ("GET", "/worker") in routes
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for i, (method, path) in enumerate(routes):
            name = NAMES[i % len(NAMES)]
            r = client.request(method, path, params={name: admin, "by": "grid"})
            assert r.status_code == 400, (method, path, r.status_code, r.text[:200])
            assert r.headers["content-type"].startswith("application/problem+json")
            body = r.json()
            assert set(body) == {"type", "title", "status", "detail"}, (path, body)
            assert "/login" in body["detail"] and "Authorization: Bearer" in body["detail"]
            assert admin not in r.text
            # even with a good header besides: the URL's token is refused, not ignored
            both = client.request(method, path, params={name: admin}, headers=bearer(admin))
            assert both.status_code == 400, (method, path)


def test_a_page_with_a_token_in_its_url_is_a_chinese_error_page(
    admin: str, live_server: LiveServer
) -> None:
    for path in ("/live", "/worker", "/reports/daily", "/kpi", "/", "/desk", "/map"):
        for name in ("api_key", "token"):
            r = httpx.get(f"{live_server.url}{path}", params={name: admin}, headers=HTML)
            assert r.status_code == 400, (path, r.status_code)
            assert "请求有误" in r.text and "/login" in r.text and admin not in r.text
            assert "wangge-panel" not in r.text and "EventSource" not in r.text
            assert r.headers["content-security-policy"]  # the usual headers, on this page too
    # signed in, the same page opens (and still refuses the token in the URL)
    with signed_in(live_server.url, "url_admin") as browser:
        assert browser.get("/", headers=HTML).status_code == 200
        assert browser.get("/api/me").json()["username"] == "url_admin"
        assert browser.get("/", params={"api_key": admin}, headers=HTML).status_code == 400


def test_open311_alone_keeps_its_api_key(admin: str, live_server: LiveServer) -> None:
    url = f"{live_server.url}/open311/v2/requests.json"
    assert httpx.get(url, params={"api_key": admin}, timeout=60).status_code == 200
    assert httpx.get(url, params={"api_key": "not a token"}, timeout=60).status_code == 403


def test_tokens_end_and_die_at_once_when_revoked_rotated_or_disabled(
    admin: str, database_url: str, live_server: LiveServer, engine: Engine
) -> None:
    me = f"{live_server.url}/api/me"
    # an account of its own: revoking and disabling it leaves the module's admin alone
    made = run_wangge(
        database_url,
        *("users", "add", "url_revoked", "--role", "admin", "--password-stdin"),
        input_text=PASSWORD + "\n",
    )
    assert made.returncode == 0 or "already named" in made.stderr, made.stderr
    mine = _token(database_url, "url_revoked")
    # a token lives 1 to 89 days; the default is WANGGE_TOKEN_DAYS (30)
    too_long = run_wangge(database_url, "users", "token", "url_revoked", "--days", "90")
    assert too_long.returncode != 0 and "1 to 89 days" in too_long.stderr
    with pytest.raises(ValidationError):
        Settings(token_days=90)
    assert Settings().token_days == 30
    short = _token(database_url, "url_revoked", "--days", "2")
    assert httpx.get(me, headers=bearer(short)).status_code == 200
    with clock.frozen(clock.now() + timedelta(days=2, minutes=1)):
        ended = httpx.get(me, headers=bearer(short))
        assert ended.status_code == 401 and "expired" in ended.json()["detail"]
        assert httpx.get(me, headers=bearer(admin)).status_code == 200  # 30 days

    # revoke-tokens: every token of the user, at once, in the running server
    other = _token(database_url, "url_revoked")
    done = run_wangge(database_url, "users", "revoke-tokens", "url_revoked")
    assert done.returncode == 0 and "revoked" in done.stderr + done.stdout, done.stderr
    for token in (mine, other):
        assert httpx.get(me, headers=bearer(token)).status_code == 401

    # rotation: the new token works, the one before it no longer
    first = _token(database_url, "url_revoked")
    second = _token(database_url, "url_revoked", "--rotate")
    assert httpx.get(me, headers=bearer(first)).status_code == 401
    assert httpx.get(me, headers=bearer(second)).status_code == 200

    # disabled: token and session die at once, and stay dead when enabled again
    with signed_in(live_server.url, "url_revoked") as browser:
        assert browser.get("/api/me").status_code == 200
        assert run_wangge(database_url, "users", "disable", "url_revoked").returncode == 0
        try:
            assert browser.get("/api/me").status_code == 401
            assert httpx.get(me, headers=bearer(second)).status_code == 401
            # no new token for a disabled account (it would wake with the account)
            asked = run_wangge(database_url, "users", "token", "url_revoked")
            assert asked.returncode != 0 and "is disabled" in asked.stderr, asked.stdout
        finally:
            assert run_wangge(database_url, "users", "enable", "url_revoked").returncode == 0
        assert browser.get("/api/me").status_code == 401  # the old session stays ended
    assert httpx.get(me, headers=bearer(second)).status_code == 401  # and the old token
    unknown = run_wangge(database_url, "users", "revoke-tokens", "nobody_here")
    assert unknown.returncode != 0 and "no user is named" in unknown.stderr


def test_no_logger_writes_a_credential_of_a_url() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    ours = logging.getLogger("wangge.test_url_credentials")
    ours.addHandler(handler)
    ours.propagate = False
    access = logging.getLogger("uvicorn.access")
    access_out = io.StringIO()
    access_handler = logging.StreamHandler(access_out)
    access_handler.setFormatter(AccessFormatter('%(request_line)s" %(status_code)s'))
    access.addHandler(access_handler)
    level = access.level
    access.setLevel(logging.INFO)
    try:
        redact_logs()
        ours.warning("fetching %s failed", "/tiles/x?z=1&api_key=SECRET1")
        ours.warning("retry /api/me?Token=SECRET2 and /a?access_token=SECRET3#x")
        # a session cookie pasted into a URL (the fuzz once sent one: the log scan caught it)
        ours.warning("opened /desk?wangge_session=SECRET5")
        ours.warning("a form's csrf_token=kept is no credential of a URL")
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", "/live?api_key=SECRET4", "1.1", 400
        )
        # a registry search by phone or ID number: personal data, blanked too
        access.info(
            '%s - "%s %s HTTP/%s" %d',
            "127.0.0.1:1",
            "GET",
            "/api/registry?q=13912345678",
            "1.1",
            200,
        )
        # a name, and numbers written as people write them (the trial's: each found the
        # household, and the log kept it)
        for target in (
            "/api/registry?q=%E9%99%88%E4%B8%BD%E7%BE%8E",
            "/api/registry?q=138+2413+4852&after=0",
            "/registry?q=%2B8613824134852",
        ):
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET", target, "1.1", 200)
        ours.warning("searched 11010519491231002X")
        ours.warning("called 138-2413-4852 and +86 139 1234 5678 about 330106 19570517 1700")
        ours.warning("at 2026-12-07 12:00:01 job 12345678901234 took 1234 ms")
    finally:
        ours.removeHandler(handler)
        access.removeHandler(access_handler)
        access.setLevel(level)
    written = out.getvalue() + access_out.getvalue()
    assert "SECRET" not in written, written
    assert "/tiles/x?z=1&api_key=*** failed" in written and "Token=***" in written
    assert "csrf_token=kept" in written and "wangge_session=***" in written
    assert 'GET /live?api_key=*** HTTP/1.1" 400' in written
    assert "13912345678" not in written and "/api/registry?q=***" in written
    assert "11010519491231002X" not in written
    assert "%E9%99%88" not in written and "2413" not in written and "1234 5678" not in written
    assert "/api/registry?q=***&after=0" in written and "/registry?q=***" in written
    assert "called *** and *** about ***" in written
    assert "at 2026-12-07 12:00:01 job 12345678901234 took 1234 ms" in written  # not a person
