"""Row-level security on the tables added after migration 0022 (migration 0026): workers'
positions, residents' sign-in links, notices, wishes and who read or supported them.

As in :mod:`tests.gis.test_row_security`: the test acts as the app's role with each
principal's settings and counts whole tables, without any filter of the app.  Two
communities A and B each get notices, wishes, reads, supports and a worker with
positions; the counts each role must see are written out by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, create_engine, text

from api.services.accounts import issue_token
from etl.load import load_layers
from etl.sample import generate_district
from gis.db import principal
from gis.settings import get_settings
from gis.store.access_store import user_by_name
from grids.access import Principal

ROLE = get_settings().db_app_role or "wangge_app"
TABLES = ("notice", "notice_read", "wish", "wish_support", "worker_position", "resident_account")
AT = datetime(2026, 1, 1, tzinfo=UTC)

#: rows made per community: A, B
NOTICES = (2, 3)
WISHES = (1, 2)
POSITIONS = (2, 3)


def _worker_of_one_community(conn, community_id: int) -> tuple[int, str]:
    """A grid worker all of whose grids are in the community (id, username)."""
    return conn.execute(
        text(
            "SELECT w.id, u.username FROM grid_worker w JOIN app_user u ON u.id = w.user_id "
            "WHERE EXISTS (SELECT 1 FROM grid_assignment a WHERE a.worker_id = w.id) "
            "AND NOT EXISTS (SELECT 1 FROM grid_assignment a JOIN grid g ON g.id = a.grid_id "
            "WHERE a.worker_id = w.id AND g.community_id <> :c) "
            "AND EXISTS (SELECT 1 FROM grid_assignment a JOIN grid g ON g.id = a.grid_id "
            "WHERE a.worker_id = w.id AND g.community_id = :c) ORDER BY w.id LIMIT 1"
        ),
        {"c": community_id},
    ).one()


@pytest.fixture(scope="module")
def world(engine: Engine) -> dict:
    layers = generate_district(3000, 27, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    with engine.connect() as conn:
        communities = conn.execute(
            text(
                "SELECT a.id, a.code FROM admin_area a WHERE a.level = 'community' AND EXISTS "
                "(SELECT 1 FROM grid g JOIN household h ON h.grid_id = g.id "
                "WHERE g.community_id = a.id) ORDER BY a.id"
            )
        ).all()
        # two communities each with a worker of their own
        pairs = []
        for c in communities:
            try:
                pairs.append((c, _worker_of_one_community(conn, c.id)))
            except Exception:
                continue
            if len(pairs) == 2:
                break
        (a, worker_a), (b, worker_b) = pairs
        resident_of_a = conn.execute(
            text(
                "SELECT r.id FROM resident r JOIN household h ON h.id = r.household_id "
                "JOIN grid g ON g.id = h.grid_id WHERE g.community_id = :c ORDER BY r.id LIMIT 1"
            ),
            {"c": a.id},
        ).scalar_one()
    issue_token(engine, "rls2_staff_a", "community_staff", a.code)
    issue_token(engine, "rls2_resident_a", "resident")
    issue_token(engine, "rls2_resident_b", "resident")
    issue_token(engine, "rls2_admin", "admin")
    with engine.begin() as conn:
        users = {
            name: Principal.of(user_by_name(conn, name))
            for name in (
                "rls2_staff_a",
                "rls2_resident_a",
                "rls2_resident_b",
                "rls2_admin",
                worker_a.username,
            )
        }
        res_a, res_b = users["rls2_resident_a"].user_id, users["rls2_resident_b"].user_id
        conn.execute(
            text("INSERT INTO resident_account (user_id, resident_id) VALUES (:u, :r)"),
            {"u": res_a, "r": resident_of_a},
        )
        for community, notices, wishes, reader, worker, positions in (
            (a, NOTICES[0], WISHES[0], res_a, worker_a, POSITIONS[0]),
            (b, NOTICES[1], WISHES[1], res_b, worker_b, POSITIONS[1]),
        ):
            estate = conn.execute(
                text("SELECT id FROM admin_area WHERE level = 'estate' AND parent_id = :c LIMIT 1"),
                {"c": community.id},
            ).scalar()
            notice_ids = [
                conn.execute(
                    text(
                        "INSERT INTO notice (community_id, scope, title, body, created_at, "
                        "created_by) VALUES (:c, 'community', 't', 'b', :at, 'x') RETURNING id"
                    ),
                    {"c": community.id, "at": AT},
                ).scalar_one()
                for _ in range(notices)
            ]
            conn.execute(
                text("INSERT INTO notice_read (notice_id, user_id, read_at) VALUES (:n, :u, :at)"),
                {"n": notice_ids[0], "u": reader, "at": AT},
            )
            wish_ids = [
                conn.execute(
                    text(
                        "INSERT INTO wish (estate_id, community_id, author_id, title, body, "
                        "created_at) VALUES (:e, :c, :u, 't', 'b', :at) RETURNING id"
                    ),
                    {"e": estate or community.id, "c": community.id, "u": reader, "at": AT},
                ).scalar_one()
                for _ in range(wishes)
            ]
            conn.execute(
                text("INSERT INTO wish_support (wish_id, user_id, at) VALUES (:w, :u, :at)"),
                {"w": wish_ids[0], "u": reader, "at": AT},
            )
            for _ in range(positions):
                conn.execute(
                    text(
                        "INSERT INTO worker_position (worker_id, at, geom) VALUES "
                        "(:w, :at, ST_SetSRID(ST_MakePoint(120.1, 30.2), 4326))"
                    ),
                    {"w": worker.id, "at": AT},
                )
    return {"users": users, "worker": worker_a.username}


@pytest.fixture(scope="module")
def app_engine(database_url: str) -> Iterator[Engine]:
    eng = principal.install(create_engine(database_url), ROLE)
    yield eng
    eng.dispose()


def _counts(app_engine: Engine, who: principal.DbPrincipal) -> dict[str, int]:
    principal.set_principal(who)
    try:
        with app_engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    finally:
        principal.set_principal(None)


#: What each role sees of community A's and B's rows (B: nothing but for the admin).
EXPECTED = {
    # staff of A: A's notices and wishes, who read or supported them, A's worker's track,
    # the sign-in link of A's resident
    "rls2_staff_a": {
        "notice": NOTICES[0],
        "notice_read": 1,
        "wish": WISHES[0],
        "wish_support": 1,
        "worker_position": POSITIONS[0],
        "resident_account": 1,
    },
    # A's worker: A's notices and wishes, their own track only, the residents of their grids
    "worker": {
        "notice": NOTICES[0],
        "notice_read": 0,
        "wish": WISHES[0],
        "wish_support": 0,
        "worker_position": POSITIONS[0],
    },
    # the resident living in A: A's notices and wishes, their own reads, supports and link
    "rls2_resident_a": {
        "notice": NOTICES[0],
        "notice_read": 1,
        "wish": WISHES[0],
        "wish_support": 1,
        "worker_position": 0,
        "resident_account": 1,
    },
    # a resident of no known place: their own wishes, reads and supports (made in B)
    "rls2_resident_b": {
        "notice": 0,
        "notice_read": 1,
        "wish": WISHES[1],
        "wish_support": 1,
        "worker_position": 0,
        "resident_account": 0,
    },
    "anonymous": dict.fromkeys(TABLES, 0),
}


@pytest.mark.parametrize("who", [*EXPECTED, "rls2_admin", "system"])
def test_a_query_without_filters_sees_only_the_roles_rows(
    engine: Engine, app_engine: Engine, world: dict, who: str
) -> None:
    if who == "anonymous":
        db = principal.ANONYMOUS_PRINCIPAL
    elif who == "system":
        db = principal.SYSTEM_PRINCIPAL
    else:
        user = world["users"][world["worker"] if who == "worker" else who]
        db = principal.DbPrincipal.of(user)
    got = _counts(app_engine, db)
    with engine.connect() as conn:
        every = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
    if who in ("rls2_admin", "system"):
        assert got == every
        return
    want = EXPECTED[who]
    assert {t: got[t] for t in want} == want
    if who == "worker":
        # the sign-in links of the residents of the worker's grids
        user = world["users"][world["worker"]]
        with engine.connect() as conn:
            links = conn.execute(
                text(
                    "SELECT count(*) FROM resident_account ra JOIN resident r "
                    "ON r.id = ra.resident_id JOIN household h ON h.id = r.household_id "
                    "WHERE h.grid_id = ANY(:g)"
                ),
                {"g": sorted(user.grid_ids or ())},
            ).scalar_one()
        assert got["resident_account"] == links


def test_a_worker_may_not_write_anothers_position(app_engine: Engine, world: dict) -> None:
    user = world["users"][world["worker"]]
    principal.set_principal(principal.DbPrincipal.of(user))
    try:
        with app_engine.connect() as conn:
            other = conn.execute(
                text("SELECT id FROM grid_worker WHERE id <> :w ORDER BY id LIMIT 1"),
                {"w": user.worker_id},
            ).scalar_one()
            with pytest.raises(Exception, match="row-level security"):
                conn.execute(
                    text(
                        "INSERT INTO worker_position (worker_id, at, geom) VALUES "
                        "(:w, :at, ST_SetSRID(ST_MakePoint(120.1, 30.2), 4326))"
                    ),
                    {"w": other, "at": AT},
                )
    finally:
        principal.set_principal(None)
