"""User management (用户管理) at ``/admin/users``: admins only (403 for everyone else).

List and search users; create one (with a password the admin types, or a random one
shown once); per user: disable or enable, reset the password, change role or area,
revoke every session and token.  Each form posts, the change is made by
:mod:`api.services.admin` (and audited), and the browser is sent back with a message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import CurrentUser
from api.deps import EngineDep, SettingsDep
from api.inputs import Id, Text
from api.pages.render import flash, render, session_id
from api.services import admin
from gis.db.models import ROLES
from grids.access import ROLE_NAMES_ZH, Principal, require_admin

router = APIRouter(tags=["pages"])

NAME = Annotated[Text, Form(max_length=64)]
OPTIONAL = Annotated[Text, Form(max_length=200)]
PASSWORD = Annotated[Text, Form(max_length=1024)]


async def administrator(user: CurrentUser) -> Principal:
    """The signed-in admin: 401 without a session or token, 403 for any other role."""
    require_admin(user, "open the administration pages")
    return user


Admin = Annotated[Principal, Depends(administrator)]


def _roles() -> list[dict[str, str]]:
    return [{"value": r, "label": ROLE_NAMES_ZH[r]} for r in ROLES]


def _back(request: Request, target: str, text: str, level: str = "success") -> Response:
    response = RedirectResponse(target, status_code=303)
    sid = session_id(request)
    if sid is not None:
        flash(response, sid, text, level)
    return response


def _user_url(username: str) -> str:
    from urllib.parse import quote

    return f"/admin/users/{quote(username, safe='')}"


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(
    request: Request,
    engine: EngineDep,
    user: Admin,
    q: Text | None = None,
    role: Text | None = None,
    after: Text | None = None,
) -> HTMLResponse:
    """The users by name (searchable, by role), and the form that creates one."""
    found = await run_in_threadpool(
        admin.users, engine, user, search=q, role=role or None, after=after
    )
    return render(
        request,
        "admin/users.html",
        {
            "page": found,
            "q": q or "",
            "role": role or "",
            "roles": _roles(),
            "role_names": ROLE_NAMES_ZH,
        },
        user=user,
    )


@router.post("/admin/users", response_class=HTMLResponse)
async def create_user(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: Admin,
    username: NAME,
    role: Annotated[Text, Form(max_length=24)],
    display_name: OPTIONAL = "",
    area: OPTIONAL = "",
    worker_id: Annotated[Id | None, Form()] = None,
    password: PASSWORD = "",
) -> Response:
    """Create the user; a random password (when none was typed) is shown on this answer once."""
    new = admin.NewUser(
        username=username,
        role=role,
        display_name=display_name or None,
        area_code=area or None,
        worker_id=worker_id,
        password=password or None,
    )
    created = await run_in_threadpool(admin.create_user, engine, settings, user, new)
    if created.generated_password is None:
        return _back(request, _user_url(created.username), f"已创建用户 {created.username}")
    return render(
        request,
        "admin/password.html",
        {"username": created.username, "password": created.generated_password, "new": True},
        user=user,
    )


@router.get("/admin/users/{username}", response_class=HTMLResponse)
async def user_page(request: Request, engine: EngineDep, user: Admin, username: Text) -> Response:
    """One user: their role, area, sessions and tokens, and the forms that change them."""
    shown = await run_in_threadpool(admin.user, engine, user, username)
    return render(
        request,
        "admin/user.html",
        {
            "account": shown,
            "roles": _roles(),
            "role_names": ROLE_NAMES_ZH,
            "is_self": shown.username == user.username,
        },
        user=user,
    )


@router.post("/admin/users/{username}/disable", response_class=HTMLResponse)
async def disable_user(
    request: Request, engine: EngineDep, user: Admin, username: Text
) -> Response:
    """Disable the account: its sessions and tokens stop working at once."""
    ended = await run_in_threadpool(admin.set_enabled, engine, user, username, False)
    return _back(
        request, _user_url(username), f"已停用 {username}，结束了 {ended} 个登录会话", "warning"
    )


@router.post("/admin/users/{username}/enable", response_class=HTMLResponse)
async def enable_user(request: Request, engine: EngineDep, user: Admin, username: Text) -> Response:
    """Enable the account again (the user signs in anew)."""
    await run_in_threadpool(admin.set_enabled, engine, user, username, True)
    return _back(request, _user_url(username), f"已启用 {username}")


@router.post("/admin/users/{username}/password", response_class=HTMLResponse)
async def reset_password(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    user: Admin,
    username: Text,
    password: PASSWORD = "",
) -> Response:
    """Set a new password (typed, or random and shown once); the user's sessions end."""
    made = await run_in_threadpool(
        admin.reset_password, engine, settings, user, username, password or None
    )
    if made is None:
        return _back(request, _user_url(username), f"已重置 {username} 的密码，其登录会话已结束")
    return render(
        request,
        "admin/password.html",
        {"username": username, "password": made, "new": False},
        user=user,
    )


@router.post("/admin/users/{username}/role", response_class=HTMLResponse)
async def change_role(
    request: Request,
    engine: EngineDep,
    user: Admin,
    username: Text,
    role: Annotated[Text, Form(max_length=24)],
    area: OPTIONAL = "",
) -> Response:
    """Give the user another role or area."""
    await run_in_threadpool(admin.change_role, engine, user, username, role, area or None)
    label = ROLE_NAMES_ZH.get(role, role)
    return _back(request, _user_url(username), f"{username} 的角色已改为{label}")


@router.post("/admin/users/{username}/revoke", response_class=HTMLResponse)
async def revoke_access(
    request: Request, engine: EngineDep, user: Admin, username: Text
) -> Response:
    """End every session and bearer token of the user."""
    done = await run_in_threadpool(admin.revoke_access, engine, user, username)
    return _back(
        request,
        _user_url(username),
        f"已注销 {username} 的 {done.sessions} 个登录会话和 {done.tokens} 个接口令牌",
        "warning",
    )
