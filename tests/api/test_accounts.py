"""Accounts as the operator and the sign-in page use them: passwords set from standard input,
argon2 hashes, sessions that end (idle, absolute, sign-out, password change, disabled
account), failures that lock a name and an address without telling whether the name exists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from api.changes import ChangeHub
from api.services import accounts
from api.state import AppState
from etl.load import load_layers
from gis import clock
from gis.settings import get_settings
from tests.conftest import run_wangge
from tests.factories import tiny_district

COMMUNITY = "330106109001"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def town(engine: Engine, database_url: str) -> dict:
    """The tiny district, and a community staff member created by the CLI with a password."""
    load_layers(engine, tiny_district(), replace=True, progress=False)
    done = run_wangge(
        database_url,
        "users",
        "add",
        "zhang",
        "--role",
        "community_staff",
        "--area",
        COMMUNITY,
        "--password-stdin",
        input_text=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr
    settings = get_settings().model_copy(
        update={"signin_max_failures": 3, "signin_max_failures_per_address": 5}
    )
    return {"settings": settings, "state": AppState(engine, settings, ChangeHub(""))}


def _clear_failures(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM sign_in_failure"))


def test_the_cli_stores_an_argon2_hash_never_the_password(
    town: dict, engine: Engine, database_url: str
) -> None:
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT password_hash FROM app_user WHERE username = 'zhang'")
        ).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    signed = accounts.sign_in(engine, town["settings"], "zhang", PASSWORD, "10.0.0.1")
    assert isinstance(signed, accounts.SignedIn)
    assert town["state"].user_for_session(signed.session_id).role == "community_staff"
    with engine.connect() as conn:
        ids = conn.execute(text("SELECT id_sha256 FROM app_session")).scalars().all()
    assert signed.session_id not in ids  # only its digest is kept
    # a password is never an argument, a short one is refused, a taken name too
    again = run_wangge(
        database_url,
        "users",
        "add",
        "zhang",
        "--role",
        "admin",
        "--password-stdin",
        input_text="another long password\n",
    )
    assert again.returncode != 0 and "wangge users passwd zhang" in again.stderr
    short = run_wangge(database_url, "users", "passwd", "zhang", input_text="abc\n")
    assert short.returncode != 0 and "at least" in short.stderr
    nobody = run_wangge(database_url, "users", "passwd", "nobody", input_text=PASSWORD + "\n")
    assert nobody.returncode != 0 and "nobody" in nobody.stderr


def test_a_new_password_ends_the_old_sessions(town: dict, engine: Engine, database_url: str):
    state, settings = town["state"], town["settings"]
    signed = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.0.0.2")
    assert state.user_for_session(signed.session_id) is not None
    done = run_wangge(database_url, "users", "passwd", "zhang", input_text="a new long secret\n")
    assert done.returncode == 0, done.stderr
    assert state.user_for_session(signed.session_id) is None
    old = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.0.0.2")
    assert isinstance(old, accounts.SignInRefused)
    assert isinstance(
        accounts.sign_in(engine, settings, "zhang", "a new long secret", "10.0.0.2"),
        accounts.SignedIn,
    )
    accounts.set_password(engine, settings, "zhang", PASSWORD)
    _clear_failures(engine)


def test_sessions_end_when_idle_and_at_their_absolute_end(town: dict, engine: Engine) -> None:
    state, settings = town["state"], town["settings"]
    start = clock.now()
    idle = timedelta(minutes=settings.session_idle_minutes)
    with clock.frozen(start):
        signed = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.0.0.3")
        assert state.user_for_session(signed.session_id) is not None
    # used just before going idle, again and again: alive until its absolute end
    at = start + idle - timedelta(minutes=1)
    while at < signed.expires_at:
        with clock.frozen(at):
            assert state.user_for_session(signed.session_id) is not None, at
        at += idle - timedelta(minutes=1)
    with clock.frozen(signed.expires_at + timedelta(seconds=1)):
        assert state.user_for_session(signed.session_id) is None
    # a second session left alone ends once idle
    with clock.frozen(start):
        other = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.0.0.3")
    with clock.frozen(start + idle - timedelta(seconds=5)):
        assert state.user_for_session(other.session_id) is not None
    with clock.frozen(start + idle - timedelta(seconds=5) + idle + timedelta(seconds=1)):
        assert state.user_for_session(other.session_id) is None


def test_signing_out_and_disabling_end_a_session_at_once(town: dict, engine: Engine) -> None:
    state, settings = town["state"], town["settings"]
    one = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.0.0.4")
    two = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.0.0.4")
    assert state.user_for_session(one.session_id) is not None  # cached now
    accounts.sign_out(engine, one.session_id)
    assert state.user_for_session(one.session_id) is None
    assert state.user_for_session(two.session_id) is not None
    token = accounts.token_for(engine, "zhang")
    assert state.user_for_token(token) is not None
    assert accounts.set_disabled(engine, "zhang") >= 1  # two, and any left by other tests
    try:
        assert state.user_for_session(two.session_id) is None
        assert state.user_for_token(token) is None
        refused = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.0.0.4")
        assert isinstance(refused, accounts.SignInRefused) and "停用" in refused.message
    finally:
        accounts.set_disabled(engine, "zhang", False)
    # disabling ended the session and the token for good: enabling brings back neither
    assert state.user_for_token(token) is None
    assert state.user_for_session(two.session_id) is None


def test_failures_lock_a_name_known_or_not_alike(town: dict, engine: Engine) -> None:
    settings = town["settings"]  # 3 failures per name
    _clear_failures(engine)
    answers = {}
    for name in ("zhang", "no_such_user"):
        seen = [
            accounts.sign_in(engine, settings, name, "wrong password", f"10.1.0.{i}")
            for i in range(settings.signin_max_failures)
        ]
        assert all(isinstance(a, accounts.SignInRefused) for a in seen)
        assert [a.delay_s for a in seen] == sorted(a.delay_s for a in seen)  # slower and slower
        locked = accounts.sign_in(engine, settings, name, PASSWORD, "10.1.0.9")
        assert isinstance(locked, accounts.SignInRefused) and locked.retry_after_s
        answers[name] = [a.message for a in seen] + [locked.message]
    # the answers do not tell a known name from an unknown one
    assert answers["zhang"] == answers["no_such_user"]
    assert answers["zhang"][0] == accounts.WRONG_PASSWORD and "锁定" in answers["zhang"][-1]
    # the lock lasts while the failures are in the window, then the right password works
    later = clock.now() + timedelta(minutes=settings.signin_lockout_minutes, seconds=1)
    with clock.frozen(later):
        assert isinstance(
            accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.1.0.9"), accounts.SignedIn
        )
    _clear_failures(engine)


def test_failures_from_one_address_lock_that_address(town: dict, engine: Engine) -> None:
    settings = town["settings"]  # 5 failures per address
    _clear_failures(engine)
    for i in range(settings.signin_max_failures_per_address):
        accounts.sign_in(engine, settings, f"guess{i}", "wrong password", "10.2.0.1")
    blocked = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.2.0.1")
    assert isinstance(blocked, accounts.SignInRefused) and blocked.retry_after_s
    elsewhere = accounts.sign_in(engine, settings, "zhang", PASSWORD, "10.2.0.2")
    assert isinstance(elsewhere, accounts.SignedIn)
    _clear_failures(engine)


def _add(database_url: str, name: str, *options: str):
    return run_wangge(
        database_url, "users", "add", name, *options, "--password-stdin", input_text=PASSWORD + "\n"
    )


def test_the_cli_refuses_accounts_that_could_not_work(
    town: dict, database_url: str, engine: Engine
) -> None:
    """As the admin's form does: a grid worker needs their worker, one account per worker,
    and a name that links and logs as it is."""
    no_worker = _add(database_url, "gw_without", "--role", "grid_worker")
    assert no_worker.returncode != 0
    assert "must be linked to a grid worker" in " ".join(no_worker.stderr.split())
    # the tiny district's worker 1 signs in as worker1; taking it silently left worker1
    # a grid worker of no worker, refused by every page
    second = _add(database_url, "gw_second", "--role", "grid_worker", "--worker", "1")
    assert second.returncode != 0
    assert "grid worker 1 already signs in as 'worker1'" in " ".join(second.stderr.split())
    odd = _add(database_url, "<b>/x", "--role", "resident")
    assert odd.returncode != 0 and "'/'" in odd.stderr and "'<'" in odd.stderr
    for name in ("gw_without", "gw_second"):  # no account was made
        assert run_wangge(database_url, "users", "token", name).returncode != 0
    with engine.connect() as conn:
        owner = conn.execute(
            text(
                "SELECT u.username FROM grid_worker w JOIN app_user u ON u.id = w.user_id "
                "WHERE w.id = 1"
            )
        ).scalar_one()
    assert owner == "worker1"
