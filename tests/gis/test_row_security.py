"""Row-level security (migration 0022): a query without any of the app's filters still
returns only what the asking role may see.

The test connects as the app's role (``SET ROLE wangge_app`` by :func:`gis.db.principal.install`)
with each principal's settings and counts whole tables; the expected counts are computed
as the owner with the rules of :mod:`grids.access` written out in SQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import ProgrammingError

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.db import principal
from gis.settings import get_settings
from gis.store.access_store import user_by_name
from grids.access import Principal, incident_filter

ROLE = get_settings().db_app_role or "wangge_app"
TABLES = ("household", "resident", "resident_identity", "incident", "incident_contact")


@pytest.fixture(scope="module")
def world(engine: Engine) -> dict:
    """A small district, its users, and incidents spread over its grids."""
    layers = generate_district(3000, 21, progress=False, incidents_per_household=0.05)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        grid = conn.execute(
            text(
                "SELECT g.id, g.community_id, w.id AS worker, u.username FROM grid g "
                "JOIN grid_assignment a ON a.grid_id = g.id AND a.role = 'primary' "
                "JOIN grid_worker w ON w.id = a.worker_id JOIN app_user u ON u.id = w.user_id "
                "WHERE g.valid_to IS NULL ORDER BY g.code LIMIT 1"
            )
        ).one()
        community = conn.execute(
            text("SELECT code FROM admin_area WHERE id = :c"), {"c": grid.community_id}
        ).scalar_one()
    issue_token(engine, "rls_staff", "community_staff", community)
    issue_token(engine, "rls_resident", "resident")
    issue_token(engine, "rls_admin", "admin")
    with engine.begin() as conn:
        users = {
            name: Principal.of(user_by_name(conn, name))
            for name in ("rls_staff", "rls_resident", "rls_admin", grid.username)
        }
        resident_id = users["rls_resident"].user_id
        category = conn.execute(text("SELECT code FROM incident_category LIMIT 1")).scalar_one()
        grids = conn.execute(text("SELECT id FROM grid ORDER BY id")).scalars().all()
        # one incident in each grid; every third assigned to the worker; every fourth
        # reported by the resident; one in no grid
        for n, g in enumerate([*grids, None]):
            new_id = conn.execute(
                text(
                    "INSERT INTO incident (id, category_code, source, description, state, "
                    "reported_at, grid_id, assignee_id, reporter_id, geom) VALUES ("
                    "nextval(pg_get_serial_sequence('incident', 'id')), :c, 'patrol', 'rls', "
                    "'reported', :at, :g, :w, :r, ST_SetSRID(ST_MakePoint(120.1, 30.2), 4326)) "
                    "RETURNING id"
                ),
                {
                    "c": category,
                    "at": datetime(2026, 1, 1, tzinfo=UTC),
                    "g": g,
                    "w": grid.worker if n % 3 == 0 else None,
                    "r": resident_id if n % 4 == 0 else None,
                },
            ).scalar_one()
            conn.execute(
                text("INSERT INTO incident_contact (incident_id, name) VALUES (:i, 'x')"),
                {"i": new_id},
            )
        conn.execute(
            text("INSERT INTO audit_log (username, action) VALUES ('rls', 'test_row_security')")
        )
    return {"users": users, "worker": grid.username}


@pytest.fixture(scope="module")
def app_engine(database_url: str) -> Iterator[Engine]:
    """An engine acting as the app's role, as the server's does."""
    eng = principal.install(create_engine(database_url), ROLE)
    yield eng
    eng.dispose()


def _counts(app_engine: Engine, who: principal.DbPrincipal | None) -> dict[str, int]:
    principal.set_principal(who)
    try:
        with app_engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == ROLE
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        principal.set_principal(None)


def _expected(engine: Engine, user: Principal | None) -> dict[str, int]:
    """The counts by the rules of grids.access, as the owner (no policies)."""
    if user is None:  # anonymous: nothing personal
        return dict.fromkeys(TABLES, 0)
    rule = incident_filter(user)
    params = {
        "all": rule.everything,
        "grids": list(rule.grid_ids),
        "worker": rule.worker_id,
        "reporter": rule.reporter_id,
        "hgrids": [] if user.grid_ids is None else sorted(user.grid_ids),
        "resident": user.role == "resident",
        "staff": user.is_staff,
        "uid": user.user_id,
    }
    households = (
        "FROM household WHERE NOT :resident AND (:all OR grid_id = ANY(CAST(:hgrids AS int[])))"
    )
    # incident_filter, plus a user's own reports (what they filed they may read back)
    incidents = (
        "FROM incident WHERE :all OR grid_id = ANY(CAST(:grids AS int[])) "
        "OR assignee_id = CAST(:worker AS int) OR reporter_id = CAST(:reporter AS int) "
        "OR reporter_id = :uid"
    )
    sql = {
        "household": f"SELECT count(*) {households}",
        "resident": f"SELECT count(*) FROM resident WHERE household_id IN (SELECT id {households})",
        "resident_identity": (
            "SELECT count(*) FROM resident_identity WHERE resident_id IN (SELECT id FROM "
            f"resident WHERE household_id IN (SELECT id {households}))"
        ),
        "incident": f"SELECT count(*) {incidents}",
        "incident_contact": (
            "SELECT count(*) FROM incident_contact c WHERE c.incident_id IN (SELECT id "
            f"{incidents}) AND (:staff OR EXISTS (SELECT 1 FROM incident i "
            "WHERE i.id = c.incident_id AND i.reporter_id = :uid))"
        ),
    }
    with engine.connect() as conn:
        return {t: conn.execute(text(q), params).scalar_one() for t, q in sql.items()}


@pytest.mark.parametrize("who", ["rls_staff", "worker", "rls_resident", "rls_admin", None])
def test_a_query_without_filters_sees_only_the_roles_rows(
    engine: Engine, app_engine: Engine, world: dict, who: str | None
) -> None:
    name = world["worker"] if who == "worker" else who
    user = None if name is None else world["users"][name]
    db = principal.ANONYMOUS_PRINCIPAL if user is None else principal.DbPrincipal.of(user)
    got = _counts(app_engine, db)
    want = _expected(engine, user)
    assert got == want
    with engine.connect() as conn:
        every = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    if name in ("rls_staff", "worker"):
        # an area's user sees some of the district, never all of it
        assert 0 < got["household"] < every["household"]
        assert 0 < got["resident_identity"] < every["resident_identity"]
        assert 0 < got["incident"] < every["incident"]
    if name == "rls_admin":
        assert got == every
    if name == "rls_resident":
        assert got["household"] == got["resident"] == got["resident_identity"] == 0
        assert 0 < got["incident"] < every["incident"]
    if name == "worker":
        assert got["incident_contact"] == 0  # reporters' contacts are for staff


def test_the_system_sees_everything_and_nothing_set_sees_nothing(
    engine: Engine, app_engine: Engine, world: dict
) -> None:
    with engine.connect() as conn:
        every = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    assert _counts(app_engine, None) == every  # no principal: the system (the server's jobs)
    with app_engine.connect() as conn:
        # settings cleared by hand inside the transaction: no rows at all
        conn.execute(text("SELECT set_config('wangge.role', '', true)"))
        assert conn.execute(text("SELECT count(*) FROM household")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == 0


def test_the_settings_are_local_to_a_transaction(app_engine: Engine, world: dict) -> None:
    staff = principal.DbPrincipal.of(world["users"]["rls_staff"])
    principal.set_principal(staff)
    try:
        with app_engine.connect() as conn:
            first = conn.execute(text("SELECT current_setting('wangge.role', true)")).scalar()
            conn.commit()
            principal.set_principal(principal.ANONYMOUS_PRINCIPAL)
            second = conn.execute(text("SELECT current_setting('wangge.role', true)")).scalar()
    finally:
        principal.set_principal(None)
    assert (first, second) == ("community_staff", "anonymous")


@pytest.mark.parametrize("who", ["rls_admin", "rls_staff"])
def test_the_audit_log_is_append_only_for_the_app(
    engine: Engine, app_engine: Engine, world: dict, who: str
) -> None:
    principal.set_principal(principal.DbPrincipal.of(world["users"][who]))
    try:
        with app_engine.begin() as conn:
            conn.execute(
                text("INSERT INTO audit_log (username, action) VALUES (:u, 'append')"), {"u": who}
            )
        for statement in ("UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log"):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                app_engine.begin() as c,
            ):
                c.execute(text(statement))
        with app_engine.connect() as conn:
            seen = conn.execute(
                text("SELECT count(*) FROM audit_log WHERE action = 'test_row_security'")
            ).scalar_one()
    finally:
        principal.set_principal(None)
    assert seen == (1 if who == "rls_admin" else 0)  # staff read no general audit rows
    with engine.connect() as conn:
        kept = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'forged'")
        ).scalar_one()
    assert kept == 0


def test_the_servers_engine_acts_as_the_app_role(live_server, world: dict) -> None:
    """The API's engine (made in the lifespan) is the app role's; the CLI's stays the owner's."""
    state = live_server.server.config.app.state.wangge
    principal.set_principal(principal.ANONYMOUS_PRINCIPAL)
    try:
        with state.engine.connect() as conn:
            who = conn.execute(text("SELECT current_user")).scalar_one()
            seen = conn.execute(text("SELECT count(*) FROM household")).scalar_one()
    finally:
        principal.set_principal(None)
    assert (who, seen) == (ROLE, 0)
