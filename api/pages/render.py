"""Drawing a page: the Jinja2 templates of ``api/templates`` with what every page shows.

A page route calls :func:`render` with its template and its own values; the common
context is added here (see :func:`common_context`): the signed-in user and their role
in Chinese, the navigation of that role (:data:`NAV`, only the pages that exist), the
session's CSRF token (every form carries it, htmx sends it as a header), the request's
CSP nonce, the flash messages (:func:`flash`) and the URLs of the self-hosted assets
(``assets.htmx``, ``assets.leaflet_js`` …, from :data:`maps.assets.PAGE_ASSETS`).

Templates extend ``base.html`` (header, navigation, sign-out, flash messages, the
``main`` block); see CONTRIBUTING.md, "Adding a page".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.routing import Match

from api.services import accounts
from grids.access import ROLE_NAMES_ZH, STAFF_ROLES, Principal
from maps.assets import PAGE_ASSETS

API_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = API_DIR / "templates"
#: The pages' own CSS, scripts and images, served at :data:`STATIC_URL`.
STATIC_DIR = API_DIR / "static"
STATIC_URL = "/static/app"
#: The cookie that carries flash messages to the next page (signed with the session).
FLASH_COOKIE = "wangge_flash"

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.globals["assets"] = {name: asset.url() for name, asset in PAGE_ASSETS.items()}
templates.env.globals["static"] = lambda name: f"{STATIC_URL}/{name}"

EVERYONE = frozenset(ROLE_NAMES_ZH)


@dataclass(frozen=True)
class NavItem:
    """An entry of the navigation: its Chinese label, where it goes, which roles see it.

    An entry is shown only when the application has a route at its path, so a page's
    entry can be listed here before the page is written.
    """

    label: str
    href: str
    roles: frozenset[str]

    @property
    def path(self) -> str:
        """The href without its query."""
        return self.href.split("?", 1)[0]


#: The navigation, in order.  Who may open a page is decided by the page itself
#: (:mod:`grids.access`); this only keeps links a role cannot use out of its menu.
NAV: tuple[NavItem, ...] = (
    NavItem("首页", "/", EVERYONE),
    NavItem("我的任务", "/worker", frozenset({"grid_worker"})),
    NavItem("报事报修", "/r/report", frozenset({"resident"})),
    NavItem("我的报事", "/r/requests", frozenset({"resident"})),
    NavItem("避难场所", "/r/shelter", frozenset({"resident"})),
    NavItem("案件办理", "/desk", STAFF_ROLES),
    NavItem("社区通知", "/desk/notices", STAFF_ROLES),
    NavItem("你说我做", "/desk/wishes", STAFF_ROLES),
    NavItem("周边服务", "/r/nearby", frozenset({"resident"})),
    NavItem("通知公告", "/r/notices", frozenset({"resident"})),
    NavItem("你说我做", "/r/wishes", frozenset({"resident"})),
    NavItem("人口房屋", "/registry", STAFF_ROLES),
    NavItem("网格与人员", "/grids", STAFF_ROLES),
    NavItem("考核", "/kpi", STAFF_ROLES | {"grid_worker"}),
    NavItem("实时态势", "/live", STAFF_ROLES),
    NavItem("辖区地图", "/map", EVERYONE),
    NavItem("设施规划", "/planning/access?kind=elder_care", STAFF_ROLES),
    NavItem("用户管理", "/admin/users", frozenset({"admin"})),
    NavItem("审计日志", "/admin/audit", frozenset({"admin"})),
    NavItem("数据导入", "/admin/imports", frozenset({"admin"})),
    NavItem("接口文档", "/docs", STAFF_ROLES),
)


#: Other paths pages link to only once they exist (the home page's ``/desk``).
LINKED_PATHS = ("/desk", "/worker")


def _answers_get(request: Request, path: str) -> bool:
    """Whether the application has a route that answers ``GET path`` in full."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes)


def page_paths(request: Request) -> frozenset[str]:
    """The paths of :data:`NAV` and the home page's links that the application answers.

    Found once per application by matching each path against its routes (so a page
    added later appears in the navigation by itself).
    """
    app_state = request.app.state
    paths = getattr(app_state, "page_paths", None)
    if paths is None:
        wanted = {item.path for item in NAV} | set(LINKED_PATHS)
        paths = frozenset(p for p in wanted if _answers_get(request, p))
        app_state.page_paths = paths
    return paths


def nav_for(request: Request, user: Principal | None) -> list[dict[str, Any]]:
    """The navigation of the user's role: label, href and whether it is the current page."""
    if user is None:
        return []
    here = request.url.path
    paths = page_paths(request)
    return [
        {"label": item.label, "href": item.href, "current": item.path == here}
        for item in NAV
        if user.role in item.roles and item.path in paths
    ]


def session_id(request: Request) -> str | None:
    """The id of the request's signed-in session (set by :func:`api.auth.optional_user`)."""
    return getattr(request.state, "session_id", None)


def csrf_token(request: Request) -> str | None:
    """The CSRF token the page's forms must send back; None without a session."""
    sid = session_id(request)
    return None if sid is None else accounts.csrf_token(sid)


def _sign(key: str, payload: str) -> str:
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]


def flash(response: Response, session: str, text: str, level: str = "info") -> None:
    """Show ``text`` on the next page this session draws (after a redirect).

    Parameters
    ----------
    response
        The answer (usually a 303 redirect) that carries the message.
    session
        The session id the message is for: it is signed with that session's key, so
        another site cannot plant a message.
    text
        The message, in Chinese; escaped when drawn.
    level
        ``info``, ``success``, ``warning`` or ``error`` (its colour and role).
    """
    payload = base64.urlsafe_b64encode(
        json.dumps([[level, text]], ensure_ascii=False).encode()
    ).decode()
    signature = _sign(accounts.csrf_token(session), payload)
    response.set_cookie(
        FLASH_COOKIE, f"{payload}.{signature}", max_age=120, httponly=True, samesite="lax"
    )


def _flashed(request: Request) -> list[dict[str, str]]:
    """The flash messages the request brought (only with the session they were signed for)."""
    raw, sid = request.cookies.get(FLASH_COOKIE), session_id(request)
    if not raw or sid is None or "." not in raw:
        return []
    payload, signature = raw.rsplit(".", 1)
    if not hmac.compare_digest(_sign(accounts.csrf_token(sid), payload), signature):
        return []
    try:
        messages = json.loads(base64.urlsafe_b64decode(payload.encode()))
        return [{"level": str(level), "text": str(text)} for level, text in messages]
    except (ValueError, TypeError):
        return []


def common_context(request: Request, user: Principal | None) -> dict[str, Any]:
    """What every template may use besides its own values."""
    return {
        "request": request,
        "user": user,
        "role_name": None if user is None else ROLE_NAMES_ZH[user.role],
        "nav": nav_for(request, user),
        "pages": page_paths(request),
        "csrf_token": csrf_token(request),
        "csp_nonce": getattr(request.state, "csp_nonce", ""),
        "flashes": _flashed(request),
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    user: Principal | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Draw ``template`` with the common context and ``context``; never cached by proxies.

    Parameters
    ----------
    request
        The request (for the session, the nonce, the current path).
    template
        A file of ``api/templates``, e.g. ``"home.html"``.
    context
        The page's own values.
    user
        The signed-in user (None on the sign-in page).
    status_code, headers
        Of the answer.
    """
    values = common_context(request, user) | dict(context or {})
    response = templates.TemplateResponse(
        request,
        template,
        values,
        status_code=status_code,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )
    if values["flashes"]:
        response.delete_cookie(FLASH_COOKIE)
    return response
