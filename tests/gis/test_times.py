"""The one time check (its range moves with the settings and the clock), the reading of
stored times that Python or pandas cannot hold, and the database's own range."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from gis import clock
from gis.db.engine import READ_FROM, READ_UNTIL, get_engine
from gis.errors import ValidationError
from gis.settings import Settings
from gis.times import check_time, check_time_column, readable_times, time_problem

NOW = datetime(2031, 7, 9, 14, 25, tzinfo=UTC)


def test_the_range_runs_from_the_setting_to_a_little_past_the_clock() -> None:
    settings = Settings(earliest_time="2015-06-01T00:00:00+08:00", clock_skew_s=60)
    with clock.frozen(NOW):
        assert check_time(NOW + timedelta(seconds=59), "at", settings=settings)
        late = time_problem(NOW + timedelta(seconds=61), "reported_at", settings=settings)
        early = time_problem(datetime(2015, 5, 31, tzinfo=UTC), "reported_at", settings=settings)
    assert late is not None and "in the future" in late.message
    assert early is not None and "before the system's records begin" in early.message
    for problem in (late, early):
        assert problem.field == "reported_at"
        assert "from 2015-06-01T00:00:00+08:00" in problem.fix
        assert "to 2031-07-09T22:26:00+08:00" in problem.fix


def test_planned_times_may_lie_up_to_the_horizon_ahead() -> None:
    settings = Settings(horizon_days=30)
    with clock.frozen(NOW):
        assert check_time(NOW + timedelta(days=29), "valid_to", planned=True, settings=settings)
        with pytest.raises(ValidationError) as info:
            check_time(NOW + timedelta(days=31), "valid_to", planned=True, settings=settings)
    [problem] = info.value.problems
    assert problem.field == "valid_to" and "too far ahead" in problem.message


@pytest.mark.parametrize(
    "at",
    [
        datetime.fromisoformat("9999-12-31T23:59:59+14:00"),
        datetime.fromisoformat("0001-01-01T00:00:00+14:00"),  # cannot even be shown in UTC
        datetime(1999, 12, 31, 23, 59),  # naive: China time, a minute before the default start
    ],
)
def test_the_extremes_are_refused_without_overflow(at: datetime) -> None:
    with pytest.raises(ValidationError, match="out of range"):
        check_time(at, "reported_at")


def test_a_column_check_names_each_row() -> None:
    frame = pd.DataFrame(
        {
            "id": [7, 8, 9, 10],
            "reported_at": [
                clock.now() - timedelta(days=1),
                datetime(9999, 12, 31, tzinfo=UTC),
                "not a time",
                None,
            ],
        }
    )
    problems = check_time_column(frame, "incident", "reported_at")
    assert [(p.row, p.record_id, p.field) for p in problems] == [
        (2, "8", "reported_at"),
        (3, "9", "reported_at"),
    ]
    assert "out of range" in problems[0].message and "not a date" in problems[1].message


def test_rows_with_unreadable_times_are_left_out_and_named(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "reported_at": [
                datetime(2026, 11, 1, tzinfo=UTC),
                datetime(9999, 12, 31, tzinfo=UTC),
                datetime(2026, 11, 2, tzinfo=UTC),
                None,
            ],
            "closed_at": [None, None, READ_FROM, None],
        }
    )
    with caplog.at_level(logging.WARNING, logger="gis.times"):
        out = readable_times(
            frame, ("reported_at", "closed_at"), table="incident", required=("reported_at",)
        )
    assert out["id"].tolist() == [1]
    assert str(out["reported_at"].dtype) == "datetime64[ns, UTC]"
    assert "incident: 3 row(s) left out" in caplog.text and "ids 2, 3, 4" in caplog.text


def test_stored_times_python_cannot_hold_are_read_as_the_nearest_it_can(
    database_url: str,
) -> None:
    engine = get_engine(url=database_url)
    with engine.connect() as conn:
        got = conn.execute(
            text(
                "SELECT 'infinity'::timestamptz, '-infinity'::timestamptz, "
                "'0001-01-01T00:00:00+14:00'::timestamptz, '20000-01-01'::timestamptz, "
                "'2026-11-01T08:00:00+08:00'::timestamptz"
            )
        ).one()
    assert tuple(got)[:4] == (READ_UNTIL, READ_FROM, READ_FROM, READ_UNTIL)
    assert got[4] == datetime(2026, 11, 1, tzinfo=UTC)  # the ordinary ones as they are


def test_the_database_refuses_incident_times_outside_its_range(engine: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    insert = (
        "INSERT INTO incident (category_code, source, description, state, reported_at, geom) "
        "VALUES ('10101', 'patrol', 'x', 'reported', CAST(:at AS timestamptz), "
        "ST_SetSRID(ST_MakePoint(120.08, 30.31), 4326))"
    )
    for at in ("9999-12-31T23:59:59+14:00", "infinity", "1899-12-31T00:00:00+00:00"):
        with (
            pytest.raises(IntegrityError, match="ck_incident_reported_at_range"),
            engine.begin() as conn,
        ):
            conn.execute(text(insert), {"at": at})


def test_the_migration_keeps_old_rows_and_checks_new_ones(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Migration 0009 on a database that already holds a report dated 9999: the row stays,
    its constraint checks new rows only (NOT VALID) and the log says which row to correct;
    the constraints no row breaks are validated."""
    from sqlalchemy import create_engine

    from gis.db import cluster
    from gis.db.migrate import upgrade

    name = f"wangge_test_0009_{os.getpid()}"
    admin = create_engine(
        cluster.server_url(database_url, "postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    url = cluster.server_url(database_url, name)
    cluster.ensure_database(url)
    engine = create_engine(url)
    try:
        upgrade(engine, "0008")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO incident_category "
                    "VALUES ('10101', '井盖', 'component', '公用设施', 72, 2)"
                )
            )
            old = conn.execute(
                text(
                    "INSERT INTO incident (category_code, source, description, state, "
                    "reported_at, geom) VALUES ('10101', 'patrol', '旧', 'reported', "
                    "'9999-12-31T23:59:59+14:00', ST_SetSRID(ST_MakePoint(120.08, 30.31), 4326)) "
                    "RETURNING id"
                )
            ).scalar_one()
        with caplog.at_level(logging.WARNING):
            upgrade(engine)
        with engine.connect() as conn:
            valid = dict(
                conn.execute(
                    text(
                        "SELECT conname, convalidated FROM pg_constraint "
                        "WHERE conname LIKE 'ck_incident%_range' AND conname NOT LIKE '%geom%'"
                    )
                ).all()
            )
            assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == 1
        assert valid == {
            "ck_incident_reported_at_range": False,
            "ck_incident_deadline_range": True,
            "ck_incident_closed_at_range": True,
            "ck_incident_event_at_range": True,
        }
        assert f"rows {old} lie outside 1900–2200" in caplog.text
        assert "VALIDATE CONSTRAINT ck_incident_reported_at_range" in caplog.text
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
