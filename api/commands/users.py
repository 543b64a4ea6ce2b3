"""``wangge users …``: accounts, their passwords (for the sign-in page) and API tokens.

A password is never a command-line argument (it would stay in the shell's history and
in the process list): ``--password-stdin`` and ``passwd`` read it from standard input,
its first line, or ask twice without echo on a terminal.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api.commands.common import fail, ready_engine, say

users_app = typer.Typer(
    help="Users: passwords to sign in at /login, API tokens, roles, disabling, revoking.",
    no_args_is_help=True,
)


def _read_password() -> str:
    """The new password: asked twice without echo on a terminal, else stdin's first line."""
    if sys.stdin.isatty():
        return str(typer.prompt("new password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail("no password on standard input (e.g. 'printf %s \"$PW\" | wangge users …')", 2)
    return line


#: What ``--area`` is, for staff (the level their role needs).
AREA_HELP = (
    "the staff's area: a community (community_staff), street (street_staff), district "
    "(district_staff) or city (city_staff) code"
)


@users_app.command("add")
def add_user(
    username: str,
    role: Annotated[str, typer.Option(help="resident, grid_worker, community_staff, …")],
    area: Annotated[str | None, typer.Option(help=AREA_HELP)] = None,
    worker: Annotated[int | None, typer.Option(help="grid_worker.id (grid workers)")] = None,
    name: Annotated[
        str | None, typer.Option(help="the name the pages show (e.g. 张三); default NAME")
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="create the user with the password read from standard input (they sign in "
            "at /login); without it, print a bearer token for the API instead",
        ),
    ] = False,
    days: Annotated[int | None, typer.Option(help="days valid (WANGGE_TOKEN_DAYS)")] = None,
) -> None:
    """Create a user: with a password to sign in, or (if missing) with a new bearer token."""
    from gis.settings import get_settings

    settings = get_settings()
    if password_stdin:
        from api.services.accounts import add_user as add

        password = _read_password()
        engine = ready_engine()
        add(engine, settings, username, role, password, area, worker_id=worker, display_name=name)
        say(f"user {username} ({role}) created: they sign in at /login with that password")
        return
    from api.services.accounts import issue_token

    engine = ready_engine()
    typer.echo(issue_token(engine, username, role, area, worker_id=worker, days=days))


@users_app.command("link")
def link_resident(
    username: str,
    resident: Annotated[str, typer.Option(help="the resident's 人员编号 (ref) or id")],
) -> None:
    """Link a resident's account to their person in the register (notices, wishes, alerts)."""
    from api.services.neighbourhood import link_account

    resident_id = link_account(ready_engine(), username, resident)
    say(f"user {username} is resident {resident_id}: their estate's notices and wishes follow")


@users_app.command("passwd")
def change_password(username: str) -> None:
    """Set a user's password (read from standard input); their browser sessions end."""
    from api.services.accounts import set_password
    from gis.settings import get_settings

    password = _read_password()
    set_password(ready_engine(), get_settings(), username, password)
    say(f"password of {username} changed; their sessions were ended")


@users_app.command("token")
def user_token(
    username: str,
    days: Annotated[
        int | None, typer.Option(help="days valid, 1 to 89 (default WANGGE_TOKEN_DAYS, 30)")
    ] = None,
    rotate: Annotated[
        bool,
        typer.Option("--rotate", help="revoke the user's other tokens: this one replaces them"),
    ] = False,
) -> None:
    """Print a new bearer token for an existing user (send it as 'Authorization: Bearer …').

    Never put it in a URL: a request with ?api_key= or ?token= is refused (Open311 aside).
    """
    from api.services.accounts import token_for

    engine = ready_engine()
    typer.echo(token_for(engine, username, days=days, label="cli", rotate=rotate))


@users_app.command("revoke-tokens")
def revoke_tokens(username: str) -> None:
    """Revoke every bearer token of a user at once (their sessions stay; 'revoke': both)."""
    from api.services.accounts import revoke_tokens as revoke

    count = revoke(ready_engine(), username, audit_as="cli")
    say(f"{count} token(s) of {username} revoked; 'wangge users token {username}' gives a new one")


@users_app.command("disable")
def disable_user(username: str) -> None:
    """Disable an account: its sessions and tokens stop working at once."""
    from api.services.accounts import set_disabled

    ended = set_disabled(ready_engine(), username, True)
    say(f"{username} disabled; {ended} session(s) and token(s) ended")


@users_app.command("enable")
def enable_user(username: str) -> None:
    """Enable a disabled account again (they sign in anew; their old tokens stay revoked)."""
    from api.services.accounts import set_disabled

    set_disabled(ready_engine(), username, False)
    say(f"{username} enabled")


@users_app.command("role")
def change_role(
    username: str,
    role: Annotated[str, typer.Option(help="resident, grid_worker, community_staff, …")],
    area: Annotated[str | None, typer.Option(help=AREA_HELP)] = None,
) -> None:
    """Give a user another role or area; what they may see follows at their next request."""
    from api.services.accounts import change_role as change

    change(ready_engine(), username, role, area, audit_as="cli")
    say(f"{username} is now {role}" + (f" of {area}" if area else ""))


@users_app.command("revoke")
def revoke_user(username: str) -> None:
    """End every session and token of a user (they sign in again; tokens are reissued)."""
    from api.services.accounts import revoke_access

    done = revoke_access(ready_engine(), username, audit_as="cli")
    say(f"{username}: {done.sessions} session(s) and {done.tokens} token(s) ended")
