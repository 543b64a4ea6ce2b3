"""Administration (系统管理): accounts and the audit log, for admins only.

The pages of ``/admin/users`` and ``/admin/audit`` call these; the command line's
``wangge users …`` calls :mod:`api.services.accounts`, which these build on.  Every
change an admin makes is written to the audit log (who, what, to whom).  Disabling an
account, resetting its password or revoking its access ends its sessions at once; a
disabled account's tokens resolve to nobody (:mod:`gis.store.access_store`), and the
application's caches follow the accounts' data versions, so the very next request of
that browser or token is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from api.services import accounts
from api.services.accounts import AREA_LEVEL, BadRole, Revoked
from gis import clock
from gis.db.models import ROLES
from gis.errors import Conflict, InvalidInput, ServiceError
from gis.settings import Settings
from gis.store import access_store, admin_store
from gis.store.access_store import UnknownUser
from gis.store.admin_store import AuditFilter, AuditRow, UserListing
from grids.access import Principal, require_admin

#: Users and audit records on one page.
PAGE_SIZE = 100


#: The actions of the audit log in Chinese (others are shown as they are stored).
AUDIT_ACTIONS_ZH = {
    "read_identity": "查看身份信息",
    "export": "导出台账",
    "remind": "督办提醒",
    "user_create": "新建用户",
    "user_disable": "停用用户",
    "user_enable": "启用用户",
    "user_password": "重置密码",
    "user_role": "修改角色",
    "user_revoke": "注销会话和令牌",
    "token_revoke": "注销令牌",
    "audit_export": "导出审计日志",
    "import_dry_run": "试导入",
    "import": "导入数据",
    "retention_purge": "到期数据清除",
}


class OwnAccount(ServiceError, Conflict):
    """An admin disabling, demoting or locking out their own account."""


@dataclass(frozen=True)
class UserPage:
    """A page of users by name; ``next_after`` is the name to continue after (None: last)."""

    users: list[UserListing]
    next_after: str | None


def users(
    engine: Engine,
    admin: Principal,
    *,
    search: str | None = None,
    role: str | None = None,
    after: str | None = None,
) -> UserPage:
    """Users by name, :data:`PAGE_SIZE` at a time, with their live sessions and tokens."""
    require_admin(admin, "manage users")
    if role and role not in ROLES:
        raise BadRole(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    with engine.connect() as conn:
        found = admin_store.list_users(
            conn,
            clock.utcnow(),
            search=search or None,
            role=role or None,
            after=after or None,
            limit=PAGE_SIZE + 1,
        )
    more = len(found) > PAGE_SIZE
    found = found[:PAGE_SIZE]
    return UserPage(found, found[-1].username if more else None)


def _audit(engine: Engine, admin: Principal, action: str, username: str, **detail: object) -> None:
    with engine.begin() as conn:
        access_store.audit(conn, admin.username, action, "app_user", username, detail)


@dataclass(frozen=True)
class NewUser:
    """A user to create; ``password`` None: a random one is made and shown once."""

    username: str
    role: str
    display_name: str | None = None
    area_code: str | None = None
    worker_id: int | None = None
    password: str | None = None


@dataclass(frozen=True)
class Created:
    """The user created, and the password made for them (None when the admin chose it)."""

    username: str
    generated_password: str | None


def create_user(engine: Engine, settings: Settings, admin: Principal, new: NewUser) -> Created:
    """Create a user who signs in at /login; audited as ``user_create``.

    Raises
    ------
    BadRole, WrongAreaLevel
        For a role or area that do not fit (422); an unknown area is 404.
    api.services.accounts.UserExists, api.services.accounts.WeakPassword
        For a name in use (409) or a password too weak (422).
    """
    require_admin(admin, "create users")
    username = new.username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise InvalidInput(
            f"the user name {new.username!r} must be 1 to 64 characters without spaces"
        )
    accounts.check_role(engine, new.role, new.area_code, new.worker_id)
    password = new.password or accounts.new_password()
    area = new.area_code.strip() if new.area_code and new.role in AREA_LEVEL else None
    accounts.add_user(
        engine,
        settings,
        username,
        new.role,
        password,
        area,
        worker_id=new.worker_id,
        display_name=(new.display_name or "").strip() or None,
    )
    _audit(engine, admin, "user_create", username, role=new.role, area=area)
    return Created(username, None if new.password else password)


def _not_self(admin: Principal, username: str, what: str) -> None:
    if admin.username == username:
        raise OwnAccount(
            f"you cannot {what} your own account ({username}); ask another admin to do it"
        )


def set_enabled(engine: Engine, admin: Principal, username: str, enabled: bool) -> int:
    """Enable or disable an account; how many sessions disabling ended.

    A disabled account's sessions and tokens stop working on their next request.
    """
    require_admin(admin, "disable or enable users")
    _not_self(admin, username, "disable")
    ended = accounts.set_disabled(engine, username, not enabled)
    _audit(engine, admin, "user_enable" if enabled else "user_disable", username, sessions=ended)
    return ended


def reset_password(
    engine: Engine, settings: Settings, admin: Principal, username: str, password: str | None
) -> str | None:
    """Give a user a new password (a random one when None, returned); their sessions end."""
    require_admin(admin, "reset passwords")
    new = password or accounts.new_password()
    accounts.set_password(engine, settings, username, new)
    _audit(engine, admin, "user_password", username, generated=password is None)
    return None if password else new


def change_role(
    engine: Engine,
    admin: Principal,
    username: str,
    role: str,
    area_code: str | None,
) -> None:
    """Give a user another role or area; what they may see follows at their next request."""
    require_admin(admin, "change roles")
    if role != "admin":
        _not_self(admin, username, "demote")
    accounts.change_role(engine, username, role, area_code, audit_as=admin.username)


def revoke_access(engine: Engine, admin: Principal, username: str) -> Revoked:
    """End every session and bearer token of a user (they sign in again; tokens are reissued)."""
    require_admin(admin, "revoke sessions and tokens")
    _not_self(admin, username, "revoke the sessions of")
    return accounts.revoke_access(engine, username, audit_as=admin.username)


def user(engine: Engine, admin: Principal, username: str) -> UserListing:
    """One user as the list shows them."""
    require_admin(admin, "manage users")
    with engine.connect() as conn:
        found = admin_store.user_listing(conn, username, clock.utcnow())
    if found is None:
        raise UnknownUser(f"no user is named {username!r}; see the list at /admin/users")
    return found


# ------------------------------------------------------------------ the audit log


@dataclass(frozen=True)
class AuditPage:
    """A page of the audit log, newest first; ``next_before`` continues (None: last page)."""

    rows: list[AuditRow]
    next_before: int | None
    actions: list[str]


def check_window(since: datetime | None, until: datetime | None) -> None:
    """Refuse a time window that ends before it starts."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput(
            f"the audit window ends ({until:%Y-%m-%d}) before it starts ({since:%Y-%m-%d}); "
            "swap the dates"
        )


def audit_log(
    engine: Engine, admin: Principal, f: AuditFilter, before: int | None = None
) -> AuditPage:
    """The audit records of the filter, :data:`PAGE_SIZE` at a time (keyset on id)."""
    require_admin(admin, "read the audit log")
    check_window(f.since, f.until)
    with engine.connect() as conn:
        rows = admin_store.audit_page(conn, f, before=before, limit=PAGE_SIZE + 1)
        actions = admin_store.audit_actions(conn)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return AuditPage(rows, rows[-1].id if more else None, actions)


CSV_HEADER = ("编号", "时间", "用户", "操作", "对象类型", "对象", "详情")


def audit_csv(engine: Engine, admin: Principal, f: AuditFilter) -> Iterator[str]:
    """The audit records of the filter as CSV text (UTF-8 with BOM for Excel), in pieces.

    The export itself is written to the audit log first (who exported which filter).
    """
    require_admin(admin, "export the audit log")
    check_window(f.since, f.until)
    with engine.begin() as conn:
        access_store.audit(
            conn,
            admin.username,
            "audit_export",
            "audit_log",
            None,
            {
                "username": f.username,
                "action": f.action,
                "since": None if f.since is None else f.since.isoformat(),
                "until": None if f.until is None else f.until.isoformat(),
            },
        )

    def pieces() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow(CSV_HEADER)
        with engine.connect() as conn:
            for n, row in enumerate(admin_store.audit_rows(conn, f), start=1):
                writer.writerow(
                    (
                        row.id,
                        row.at.astimezone(clock.LOCAL_TZ).isoformat(timespec="seconds"),
                        row.username or "",
                        row.action,
                        row.object_type or "",
                        row.object_id or "",
                        row.detail,
                    )
                )
                if n % 1000 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return pieces()
