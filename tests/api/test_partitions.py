"""The audit log and incidents' events by month: rows find their month, old months go whole,
nothing else changes, a case's events are read from its months only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from api import jobs
from api.services import partitions, retention
from gis import clock
from gis.db import principal
from gis.db.bulk import deferred_indexes
from gis.db.migrate import downgrade, upgrade
from gis.settings import Settings, get_settings
from gis.store import dispatch_store, incident_store
from gis.store import partition_store as parts
from tests.conftest import run_wangge, throwaway_database
from tests.plans import partitions_read

ROLE = get_settings().db_app_role or "wangge_app"
THIS = parts.month_of(clock.now())


def _local(month: date, day: int = 15, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(month.year, month.month, day, hour, minute, tzinfo=parts.LOCAL_TZ)


@pytest.fixture(scope="module")
def db() -> Iterator[Engine]:
    """A database of this module's own: its months are dropped and its schema migrated down."""
    with throwaway_database("wangge_parts") as url:
        engine = create_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture
def audit(db: Engine) -> Iterator[str]:
    """A fresh action name for this test's audit rows."""
    name = f"t{clock.now().timestamp():.0f}"[-12:]
    yield name


def _add(conn: Connection, action: str, at: datetime, n: int = 1) -> None:
    for _ in range(n):
        conn.execute(
            text("INSERT INTO audit_log (username, action, at) VALUES ('test', :a, :at)"),
            {"a": action, "at": at},
        )


def _where(conn: Connection, action: str) -> list[str]:
    return list(
        conn.execute(
            text("SELECT tableoid::regclass::text FROM audit_log WHERE action = :a ORDER BY at"),
            {"a": action},
        ).scalars()
    )


def test_rows_land_in_the_partition_of_their_local_month(db: Engine) -> None:
    nxt = parts.add_months(THIS, 1)
    last_day = (nxt - timedelta(days=1)).day
    with db.begin() as conn:
        _add(conn, "boundary", _local(THIS, last_day, 23, 59))  # 15:59 UTC, still this month
        _add(conn, "boundary", _local(nxt, 1, 0, 0))  # local midnight: the next month
        where = _where(conn, "boundary")
    assert where == [
        f"{parts.SCHEMA}.{parts.partition_name('audit_log', THIS)}",
        f"{parts.SCHEMA}.{parts.partition_name('audit_log', nxt)}",
    ]


def test_the_migration_made_the_coming_months(db: Engine) -> None:
    ahead = get_settings().partition_months_ahead
    with db.connect() as conn:
        for table in parts.TABLES:
            made = parts.months(conn, table)
            assert {parts.add_months(THIS, n) for n in range(ahead + 1)} <= set(made)


def test_a_month_without_partition_is_taken_and_the_job_moves_it(db: Engine) -> None:
    old = parts.add_months(THIS, -5)
    with db.begin() as conn:
        _add(conn, "waiting", _local(old), 3)
        before = conn.execute(
            text("SELECT id, at FROM audit_log WHERE action = 'waiting' ORDER BY id")
        ).all()
        assert _where(conn, "waiting") == [f"{parts.SCHEMA}.audit_log_default"] * 3
    app = principal.install(create_engine(db.url), ROLE)  # as the server's engine
    try:
        ran = jobs.run_claimed(
            app, jobs.PARTITIONS, 86400, jobs.partitions(app, get_settings()), clock.now()
        )
    finally:
        app.dispose()
    assert ran
    with db.connect() as conn:
        assert _where(conn, "waiting") == [f"{parts.SCHEMA}.audit_log_{old:%Y_%m}"] * 3
        after = conn.execute(
            text("SELECT id, at FROM audit_log WHERE action = 'waiting' ORDER BY id")
        ).all()
        assert parts.rows_in_default(conn, "audit_log") == 0
    assert after == before  # the same rows, ids and times


def test_retention_drops_only_whole_months_older_than_kept(db: Engine, audit: str) -> None:
    settings = Settings(retain_audit_months=6)
    counts = {-7: 2, -6: 3, -1: 1, 0: 1}  # months before this one: rows
    with db.begin() as conn:
        for back, n in counts.items():
            month = parts.add_months(THIS, back)
            # the first minutes of the month kept, the last ones of the month dropped
            at = _local(month, 1, 0, 5) if back == -6 else _local(month, 28, 23, 55)
            _add(conn, audit, at, n)
    dry = retention.run(db, settings, dry_run=True)
    dropped = [(m.table, m.month) for m in dry.months]
    assert ("audit_log", parts.add_months(THIS, -7)) in dropped
    with db.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM audit_log WHERE action = :a"), {"a": audit}
            ).scalar_one()
            == 7
        )  # a dry run changes nothing
    done = retention.run(db, settings)
    assert next(m for m in done.months if m.month == parts.add_months(THIS, -7)).rows == 2
    assert all(m.month < parts.add_months(THIS, -6) for m in done.months)
    with db.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = :a"), {"a": audit}
        ).scalar_one()
        recorded = conn.execute(
            text(
                "SELECT (detail->>'rows')::int FROM audit_log WHERE action = :a "
                "AND object_type = 'audit_log' AND object_id = :m"
            ),
            {"a": partitions.AUDIT_ACTION, "m": f"{parts.add_months(THIS, -7):%Y-%m}"},
        ).scalar_one()
        kept = parts.months(conn, "audit_log")
    assert left == 3 + 1 + 1  # the 6th month back and younger stay, to the minute
    assert recorded == 2
    assert kept[0] == parts.add_months(THIS, -6) and THIS in kept


def test_the_audit_log_is_kept_three_years_by_default(db: Engine) -> None:
    assert partitions.keep_from(Settings(), clock.now()) == {
        "audit_log": parts.add_months(THIS, -36)
    }


def test_the_audit_log_cannot_be_kept_less_than_six_months() -> None:
    with pytest.raises(ValidationError, match="at least 6 months"):
        Settings(retain_audit_months=3)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
        f"DELETE FROM {parts.SCHEMA}.audit_log_{THIS:%Y_%m}",
        f"UPDATE {parts.SCHEMA}.audit_log_default SET action = 'forged'",
    ],
)
def test_audit_rows_refuse_update_and_delete_even_for_the_owner(db: Engine, statement: str) -> None:
    with db.begin() as conn:
        _add(conn, "kept", clock.now())
        have = set(parts.months(conn, "audit_log"))
        later = next(m for n in range(24, 240) if (m := parts.add_months(THIS, n)) not in have)
        _add(conn, "kept", _local(later))  # a month without partition: the default one
        assert parts.rows_in_default(conn, "audit_log") > 0
    with pytest.raises(ProgrammingError, match="append-only"), db.begin() as conn:
        conn.execute(text(statement))


def _as_app(db: Engine, who: principal.DbPrincipal, sql: str) -> int:
    app = principal.install(create_engine(db.url), ROLE)
    principal.set_principal(who)
    try:
        with app.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        principal.set_principal(None)
        app.dispose()


def test_row_security_still_hides_the_audit_log(db: Engine) -> None:
    with db.begin() as conn:
        _add(conn, "hidden", clock.now(), 2)
    sql = "SELECT count(*) FROM audit_log WHERE action = 'hidden'"
    assert _as_app(db, principal.SYSTEM_PRINCIPAL, sql) == 2
    assert _as_app(db, principal.DbPrincipal("resident", user_id=1), sql) == 0
    assert _as_app(db, principal.ANONYMOUS_PRINCIPAL, sql) == 0


def test_the_app_role_cannot_name_a_partition(db: Engine) -> None:
    for name in ("audit_log_default", f"audit_log_{THIS:%Y_%m}"):
        with pytest.raises(ProgrammingError, match="permission denied for schema"):
            _as_app(db, principal.SYSTEM_PRINCIPAL, f"SELECT count(*) FROM {parts.SCHEMA}.{name}")


def _snapshot(conn: Connection) -> dict[str, list[tuple]]:
    return {
        "audit_log": [
            tuple(r) for r in conn.execute(text("SELECT * FROM audit_log ORDER BY id")).all()
        ]
    }


def test_downgrade_and_upgrade_keep_every_row_and_rule(db: Engine) -> None:
    with db.begin() as conn:
        for back in (-14, -2, 0, 9):  # the 9th month ahead has no partition yet
            _add(conn, "round trip", _local(parts.add_months(THIS, back)))
        before = _snapshot(conn)
    downgrade(db, "0030")
    with db.connect() as conn:
        kinds = conn.execute(
            text("SELECT relkind FROM pg_class WHERE relname = 'audit_log'")
        ).scalars()
        assert list(kinds) == ["r"]
        assert _snapshot(conn) == before
        assert not conn.execute(
            text("SELECT has_table_privilege(:r, 'audit_log', 'UPDATE')"), {"r": ROLE}
        ).scalar_one()
    with pytest.raises(ProgrammingError, match="append-only"), db.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    upgrade(db)
    with db.begin() as conn:
        assert _snapshot(conn) == before
        # the held months got their partitions again; nothing waits in DEFAULT
        assert parts.rows_in_default(conn, "audit_log") == 0
        assert parts.add_months(THIS, 9) in parts.months(conn, "audit_log")
        new = conn.execute(
            text("INSERT INTO audit_log (action) VALUES ('after') RETURNING id")
        ).scalar_one()
    assert new > max(r[0] for r in before["audit_log"])


def test_a_bulk_load_keeps_the_partitions_indexes(db: Engine) -> None:
    """The loaders drop and re-create indexes and keys (``deferred_indexes``): every
    partition has its indexes again afterwards, not only the parent."""
    listed = (
        "SELECT c.relname, array_agg(a.attname::text ORDER BY a.attname) "
        "FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
        "JOIN pg_index i ON i.indrelid = c.oid AND NOT i.indisprimary "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] "
        "WHERE h.inhparent = 'audit_log'::regclass GROUP BY 1 ORDER BY 1"
    )
    with db.connect() as conn:
        before = conn.execute(text(listed)).all()
    raw = db.raw_connection()
    try:
        with raw.cursor() as cur, deferred_indexes(cur, ["audit_log"]):
            pass
        raw.commit()
    finally:
        raw.close()
    with db.connect() as conn:
        after = conn.execute(text(listed)).all()
    assert after == before
    assert len(after) >= 5 and all(columns == ["at", "username"] for _, columns in after)


def test_the_commands_make_months_and_tell_what_retention_would_drop(db: Engine) -> None:
    url = db.url.render_as_string(hide_password=False)
    with db.begin() as conn:
        have = set(parts.months(conn, "audit_log"))
        far = next(m for n in range(-100, -20) if (m := parts.add_months(THIS, n)) not in have)
        _add(conn, "cli", _local(far), 2)
    made = run_wangge(url, "partitions", "run")
    assert made.returncode == 0, made.stderr
    told = made.stdout + made.stderr  # other tests' rows may wait in DEFAULT too
    assert "[partitions] audit_log: created" in told and f"{far:%Y-%m}" in told
    with db.connect() as conn:
        assert _where(conn, "cli") == [f"{parts.SCHEMA}.audit_log_{far:%Y_%m}"] * 2
    dry = run_wangge(url, "retention", "run", "--dry-run", env={"WANGGE_RETAIN_AUDIT_MONTHS": "6"})
    assert dry.returncode == 0, dry.stderr
    told = dry.stdout + dry.stderr
    assert f"would delete the month {far:%Y-%m} of audit_log (2 row(s))" in told
    with db.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'cli'"))
        assert left.scalar_one() == 2


def test_a_busy_audit_log_makes_the_job_give_up_not_the_requests_wait(db: Engine) -> None:
    """A long reader of the audit log holds the job's lock off: the job gives up after its
    lock timeout (and tries again next run) instead of queueing every audit insert behind
    its wait; the row of the missing month meanwhile goes to DEFAULT."""
    with db.connect() as conn:
        have = set(parts.months(conn, "audit_log"))
    later = next(m for n in range(24, 240) if (m := parts.add_months(THIS, n)) not in have)
    with db.connect() as reader:
        reader.execute(text("SELECT count(*) FROM audit_log"))  # holds its lock till the end
        with pytest.raises(OperationalError, match="lock timeout"), db.begin() as conn:
            parts.create_months(conn, "audit_log", [later], lock_timeout_s=0.2)
        with db.begin() as conn:
            _add(conn, "busy", _local(later))
        reader.rollback()
    with db.connect() as conn:
        assert later not in parts.months(conn, "audit_log")
        assert _where(conn, "busy") == [f"{parts.SCHEMA}.audit_log_default"]


# ---------------------------------------------------------------- the incidents' events


def _case(conn: Connection, reported: datetime, steps: list[timedelta]) -> int:
    """An incident reported at ``reported`` with an event at each of ``steps`` after it."""
    conn.execute(
        text(
            "INSERT INTO incident_category (code, name, family, group_name, time_limit_hours, "
            "priority) VALUES ('99998', 'parts', 'event', 'parts', 24, 3) "
            "ON CONFLICT DO NOTHING"
        )
    )
    case = conn.execute(
        text(
            "INSERT INTO incident (category_code, source, description, state, reported_at, "
            "geom) VALUES ('99998', 'patrol', 'parts', 'registered', :at, "
            "ST_SetSRID(ST_MakePoint(120.1, 30.2), 4326)) RETURNING id"
        ),
        {"at": reported},
    ).scalar_one()
    for n, step in enumerate(steps):
        conn.execute(
            text(
                "INSERT INTO incident_event (incident_id, from_state, to_state, at) "
                "VALUES (:i, :f, :t, :at)"
            ),
            {
                "i": case,
                "f": None if n == 0 else "reported",
                "t": "registered",
                "at": reported + step,
            },
        )
    return int(case)


def _months_read(conn: Connection, read: Callable[[Connection], object]) -> set[date]:
    """The months of ``incident_event`` that ``read``'s statements scanned (EXPLAIN ANALYZE)."""
    read_ = partitions_read(conn, "incident_event", read)
    return {date(int(m[:4]), int(m[5:]), 1) for m in read_ if m != "default"}


def test_a_cases_events_are_read_from_its_months_only(db: Engine) -> None:
    """Every read of a case's events is bounded by its report and its last step: the months
    before and after are pruned (by the planner, with the values read before)."""
    reported = _local(parts.add_months(THIS, -10), day=20)
    with db.begin() as conn:
        parts.create_months(conn, "incident_event", [parts.add_months(THIS, -n) for n in range(15)])
        case = _case(conn, reported, [timedelta(0), timedelta(hours=5), timedelta(days=30)])
        _case(conn, _local(parts.add_months(THIS, -13)), [timedelta(0)])  # an older one
        history = incident_store.read_incidents(conn, [case])[case].events
        assert [e.at for e in history] == [
            reported,
            reported + timedelta(hours=5),
            reported + timedelta(days=30),
        ]
        months = _months_read(conn, lambda c: incident_store.read_incidents(c, [case]))
        earliest = parts.month_of(reported - timedelta(days=1))
        latest = parts.month_of(reported + timedelta(days=30))
        assert months and min(months) >= earliest and max(months) <= latest, months
        desk = _months_read(
            conn,
            lambda c: dispatch_store.backlog(c, grid_ids=None, states=("registered",), ids=(case,)),
        )
        assert desk and min(desk) >= earliest and max(desk) <= latest, desk
        conn.rollback()


def test_a_cases_last_step_is_kept_on_it(db: Engine) -> None:
    """``incident.last_event_at``, the reads' upper bound, follows every statement adding or
    moving steps, several cases at once, and never moves back."""
    reported = _local(THIS, day=10)
    last = "SELECT last_event_at FROM incident WHERE id = :i"
    with db.begin() as conn:
        one = _case(conn, reported, [timedelta(0), timedelta(hours=2)])
        two = _case(conn, reported, [])
        assert conn.execute(text(last), {"i": two}).scalar() is None
        conn.execute(
            text(
                "INSERT INTO incident_event (incident_id, to_state, at) VALUES "
                "(:a, 'registered', :early), (:b, 'registered', :late), (:b, 'registered', :at)"
            ),
            {
                "a": one,
                "b": two,
                "at": reported,
                "early": reported + timedelta(hours=1),
                "late": reported + timedelta(hours=3),
            },
        )
        assert conn.execute(text(last), {"i": one}).scalar() == reported + timedelta(hours=2)
        assert conn.execute(text(last), {"i": two}).scalar() == reported + timedelta(hours=3)
        conn.execute(
            text("UPDATE incident_event SET at = at + interval '1 day' WHERE incident_id = :b"),
            {"b": two},
        )
        assert conn.execute(text(last), {"i": two}).scalar() == reported + timedelta(
            days=1, hours=3
        )
        conn.rollback()


def test_an_event_before_its_cases_report_is_refused(db: Engine) -> None:
    """The bound the reads carry is a rule of the table: no event can hide before it."""
    with pytest.raises(IntegrityError, match="before its report"), db.begin() as conn:
        _case(conn, _local(THIS, day=10), [timedelta(days=-2)])
    with db.begin() as conn:  # minutes before (a report dated within the clock skew): kept
        _case(conn, _local(THIS, day=10), [timedelta(0), timedelta(minutes=-5)])
        conn.rollback()
