"""The incident store against a real PostGIS: rows, events and the optimistic state check."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, Engine, text

from etl.load import load_layers
from gis.store import partition_store
from gis.store.incident_ids import coded_id
from gis.store.incident_store import (
    EventRow,
    IncidentNotFound,
    IncidentRow,
    StaleIncident,
    insert_incident,
    read_incident,
    record_transition,
)
from tests.cases import out_of_the_escalation_jobs_way
from tests.conftest import advance_ids
from tests.factories import tiny_case, tiny_district

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
#: The tiny district's incident 2: dispatched to worker 1 (its number carries its month).
DISPATCHED = tiny_case(2)


@pytest.fixture
def district(engine: Engine) -> Engine:
    """The tiny district freshly loaded, with a second grid worker (id 2)."""
    load_layers(engine, tiny_district(), replace=True, progress=False)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO grid_worker (id, name) VALUES (2, '网格员二')"))
        advance_ids(conn, "grid_worker")
        # the month of T0 has its partition whatever today is: new cases' numbers carry it
        partition_store.create_months(conn, "incident", [partition_store.month_of(T0)])
        # the dispatched case stays as the tests find it (it was escalated once, between
        # the load and a test's step, by a server of another module)
        out_of_the_escalation_jobs_way(conn, DISPATCHED)
    return engine


def _events(conn: Connection, incident_id: int) -> int:
    return int(
        conn.execute(
            text("SELECT count(*) FROM incident_event WHERE incident_id = :id"),
            {"id": incident_id},
        ).scalar_one()
    )


def _new(lon: float, lat: float) -> IncidentRow:
    return IncidentRow(
        id=None,
        category_code="20101",
        source="patrol",
        description="井盖破损",
        state="reported",
        reported_at=T0,
        lon=lon,
        lat=lat,
        events=(EventRow(None, "reported", T0, "worker1", "巡查发现"),),
    )


def test_insert_and_read_back_with_events(district: Engine) -> None:
    with district.begin() as conn:
        first = insert_incident(conn, _new(120.1, 30.2))
        second = insert_incident(conn, _new(120.2, 30.3))
    # the tiny district holds incidents 1 and 2; a number carries its month (T0's)
    assert (first, second) == (coded_id(3, T0), coded_id(4, T0))
    with district.connect() as conn:
        row = read_incident(conn, first)
        assert read_incident(conn, 999) is None
    assert row is not None
    assert (row.id, row.state, row.category_code, row.source) == (
        first,
        "reported",
        "20101",
        "patrol",
    )
    assert (row.lon, row.lat) == pytest.approx((120.1, 30.2))
    assert row.reported_at == T0
    assert row.assignee_id is None and row.deadline is None
    assert [(e.from_state, e.to_state, e.actor, e.note) for e in row.events] == [
        (None, "reported", "worker1", "巡查发现")
    ]
    assert row.events[0].incident_id == first and row.last_event_id == row.events[0].id


def test_read_orders_events_by_time(district: Engine) -> None:
    with district.connect() as conn:
        row = read_incident(conn, DISPATCHED, for_update=True)
        conn.rollback()
    assert row is not None and row.state == "dispatched" and row.assignee_id == 1
    assert [e.to_state for e in row.events] == ["reported", "registered", "dispatched"]
    assert [e.at for e in row.events] == sorted(e.at for e in row.events)


def test_a_transition_is_recorded_with_its_event(district: Engine) -> None:
    at = T0 + timedelta(hours=1)
    deadline = at + timedelta(hours=72)
    with district.begin() as conn:
        event = record_transition(
            conn,
            DISPATCHED,
            expected_state="dispatched",
            to_state="in_progress",
            at=at,
            actor="worker1",
            note="已到现场",
            changes={"state": "in_progress", "assignee_id": 2, "deadline": deadline},
        )
    assert event.id is not None
    assert (event.incident_id, event.from_state, event.to_state) == (
        DISPATCHED,
        "dispatched",
        "in_progress",
    )
    assert (event.at, event.actor, event.note) == (at, "worker1", "已到现场")
    with district.connect() as conn:
        row = read_incident(conn, DISPATCHED)
    assert row is not None
    assert (row.state, row.assignee_id, row.deadline) == ("in_progress", 2, deadline)
    assert row.events[-1] == event and len(row.events) == 4


def test_a_stale_transition_is_refused_and_nothing_is_written(district: Engine) -> None:
    with district.begin() as conn, pytest.raises(StaleIncident) as refused:
        record_transition(
            conn,
            DISPATCHED,
            expected_state="registered",
            to_state="dispatched",
            at=T0 + timedelta(hours=1),
            actor="admin",
            note=None,
            changes={"assignee_id": 2},
        )
        # The caller goes on and commits: the refused step must still leave no trace.
    message = str(refused.value)
    assert f"incident {DISPATCHED}" in message
    assert "expected registered, now dispatched" in message
    assert "by system: registered → dispatched" in message
    with district.connect() as conn:
        row = read_incident(conn, DISPATCHED)
        assert _events(conn, DISPATCHED) == 3
    assert row is not None and (row.state, row.assignee_id) == ("dispatched", 1)


def test_a_self_loop_is_caught_by_the_event_version(district: Engine) -> None:
    with district.connect() as conn:
        seen = read_incident(conn, DISPATCHED)
    assert seen is not None

    def reassign(conn: Connection, actor: str, worker_id: int) -> None:
        record_transition(
            conn,
            DISPATCHED,
            expected_state="dispatched",
            to_state="dispatched",
            at=T0 + timedelta(hours=1),
            actor=actor,
            note="改派",
            changes={"assignee_id": worker_id},
            expected_event_id=seen.last_event_id,
        )

    with district.begin() as conn:
        reassign(conn, "staff_a", 2)
    with district.begin() as conn, pytest.raises(StaleIncident, match="by staff_a"):
        reassign(conn, "staff_b", 1)
    with district.connect() as conn:
        row = read_incident(conn, DISPATCHED)
    assert row is not None and row.assignee_id == 2 and len(row.events) == 4


def test_bad_arguments_are_refused(district: Engine) -> None:
    with district.begin() as conn:
        with pytest.raises(ValueError, match="cannot change geom"):
            record_transition(
                conn,
                DISPATCHED,
                expected_state="dispatched",
                to_state="in_progress",
                at=T0,
                actor="x",
                changes={"geom": None},
            )
        with pytest.raises(ValueError, match="no time zone"):
            record_transition(
                conn,
                DISPATCHED,
                expected_state="dispatched",
                to_state="in_progress",
                at=T0.replace(tzinfo=None),
                actor="x",
            )
        with pytest.raises(IncidentNotFound):
            record_transition(
                conn, 999, expected_state="dispatched", to_state="in_progress", at=T0, actor="x"
            )
        assert _events(conn, DISPATCHED) == 3


def test_concurrent_starts_one_wins_the_other_is_stale(district: Engine) -> None:
    """Issue 5 item 8: two workers both read a dispatched case and both start it."""
    barrier = threading.Barrier(2, timeout=10)
    outcome: dict[str, object] = {}

    def start(actor: str, worker_id: int) -> None:
        try:
            with district.connect() as conn, conn.begin():
                seen = read_incident(conn, DISPATCHED)
                assert seen is not None and seen.state == "dispatched"
                barrier.wait()  # both have read "dispatched"; now both write at once
                record_transition(
                    conn,
                    DISPATCHED,
                    expected_state=seen.state,
                    to_state="in_progress",
                    at=T0 + timedelta(hours=1),
                    actor=actor,
                    note="接单",
                    changes={"assignee_id": worker_id},
                )
                time.sleep(0.3)  # hold the row lock so the other writer really waits
            outcome[actor] = "won"
        except BaseException as exc:  # reported to the main thread
            outcome[actor] = exc

    threads = [
        threading.Thread(target=start, args=("worker1", 1)),
        threading.Thread(target=start, args=("worker2", 2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)

    winners = [actor for actor, result in outcome.items() if result == "won"]
    losers = {actor: r for actor, r in outcome.items() if isinstance(r, StaleIncident)}
    assert len(winners) == 1 and len(losers) == 1, outcome
    (winner,) = winners
    (loser_error,) = losers.values()
    assert f"by {winner}: dispatched → in_progress" in str(loser_error)

    with district.connect() as conn:
        row = read_incident(conn, DISPATCHED)
    assert row is not None
    assert len(row.events) == 4  # exactly one event added
    last = row.events[-1]
    assert (last.from_state, last.to_state, last.actor) == ("dispatched", "in_progress", winner)
    # No update lost: the row carries the winner's assignee, matching its event.
    assert row.state == "in_progress"
    assert row.assignee_id == {"worker1": 1, "worker2": 2}[winner]


def test_a_new_report_after_a_load_gets_a_fresh_id(engine) -> None:  # type: ignore[no-untyped-def]
    from etl.load import load_layers
    from tests.factories import tiny_district

    load_layers(engine, tiny_district(), replace=True, progress=False)  # ids 1 and 2 given
    with engine.begin() as conn:
        new_id = conn.execute(
            text(
                "INSERT INTO incident (category_code, source, description, state, reported_at, "
                "geom) VALUES ('20101', 'patrol', 'x', 'reported', now(), "
                "ST_SetSRID(ST_MakePoint(120.085, 30.315), 4326)) RETURNING id"
            )
        ).scalar_one()
    assert new_id == 3
