"""The awareness store against a real PostGIS: incident frames, the change trigger,
hazards, impact inputs, alerts with confirmations, the outbox and worker positions."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine, text

import h3
from shapely import box

from etl.load import load_layers
from gis.store import awareness_store as store
from tests.cases import out_of_the_escalation_jobs_way
from tests.conftest import advance_ids
from tests.factories import MID, E, N, S, W, tiny_case, tiny_district

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=TZ)
#: Covers building 1 (south-west of the west grid) and nothing of the east grid.
WEST_HAZARD = box(W + 0.001, S + 0.001, W + 0.004, S + 0.004)


@pytest.fixture
def district(engine: Engine) -> Engine:
    load_layers(engine, tiny_district(), replace=True, progress=False)
    with engine.begin() as conn:  # the dispatched case stays dispatched
        out_of_the_escalation_jobs_way(conn, tiny_case(2))
    return engine


def _listen(engine: Engine) -> psycopg.Connection:
    conn = psycopg.connect(store.conninfo(engine), autocommit=True)
    conn.execute(f"LISTEN {store.INCIDENT_CHANNEL}")
    return conn


def test_every_incident_insert_and_update_is_announced(district: Engine) -> None:
    listener = _listen(district)
    try:
        with district.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO incident (id, category_code, source, description, state, "
                    "reported_at, geom) VALUES (50, '20402', 'patrol', '火情', 'reported', "
                    "now(), ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
                ),
                {"x": W + 0.002, "y": S + 0.002},
            )
            advance_ids(conn, "incident")
        with district.begin() as conn:
            conn.execute(text("UPDATE incident SET state = 'registered' WHERE id = 50"))
        got = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=2)]
    finally:
        listener.close()
    assert [(m["op"], m["id"], m["state"]) for m in got] == [
        ("insert", 50, "reported"),
        ("update", 50, "registered"),
    ]
    assert got[0]["category_code"] == "20402"
    assert got[0]["lon"] == pytest.approx(W + 0.002)


def test_a_bulk_change_is_one_message_not_thousands(district: Engine) -> None:
    listener = _listen(district)
    try:
        with district.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO incident (id, category_code, source, description, state, "
                    "reported_at, geom) SELECT 1000 + g, '20101', 'patrol', '垃圾', "
                    "'reported', now(), ST_SetSRID(ST_MakePoint(:x, :y), 4326) "
                    "FROM generate_series(1, 500) g"
                ),
                {"x": W + 0.002, "y": S + 0.002},
            )
        got = [json.loads(n.payload) for n in listener.notifies(timeout=3)]
    finally:
        listener.close()
    assert got == [{"op": "bulk", "count": 500}]


def test_cells_stay_exact_beside_an_incident_without_one(district: Engine) -> None:
    # pandas reads a bigint column holding a NULL as float64, which has no room for the
    # 64 bits of an H3 cell: the cells came back as ids of no cell at all
    with district.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO incident (id, category_code, source, description, state, "
                "reported_at, geom) VALUES (60, '20402', 'patrol', '火情', 'reported', "
                "now(), ST_SetSRID(ST_MakePoint(:x, :y), 4326))"
            ),
            {"x": W + 0.002, "y": S + 0.002},
        )
        stored = dict(conn.execute(text("SELECT id, h3_cell FROM incident")).all())
    for frame in (store.incidents_frame(district), store.open_incidents(district)):
        got = dict(zip(frame["id"], frame["h3_cell"], strict=True))
        assert got[60] is pd.NA
        assert {k: int(v) for k, v in got.items() if k != 60} == {
            k: v for k, v in stored.items() if k != 60
        }
        assert all(h3.is_valid_cell(h3.int_to_str(int(v))) for v in frame["h3_cell"].dropna())


def test_incident_frames_filter_by_time_state_and_area(district: Engine) -> None:
    first, second = tiny_case(1), tiny_case(2)
    every = store.incidents_frame(district)
    assert sorted(every["id"]) == [first, second]
    assert set(every["community_code"]) == {"330106109001"}
    assert every["h3_cell"].notna().all()
    assert store.incidents_frame(district, states=["dispatched"])["id"].tolist() == [second]
    later = pd.Timestamp("2026-10-01 09:30", tz=TZ).to_pydatetime()
    assert store.incidents_frame(district, start=later).empty
    assert store.incidents_frame(district, area="330106109").shape[0] == 2  # the street
    assert store.incidents_frame(district, area="330106109999").empty
    with district.begin() as conn:
        conn.execute(text("UPDATE incident SET state = 'closed' WHERE id = :i"), {"i": first})
    assert store.open_incidents(district)["id"].tolist() == [second]


def test_hazards_are_stored_listed_by_time_and_read_back(district: Engine) -> None:
    with district.begin() as conn:
        first = store.insert_hazard(
            conn,
            kind="flood",
            name="西片内涝",
            severity=2,
            valid_from=T0,
            valid_to=T0 + timedelta(hours=6),
            geom=WEST_HAZARD,
        )
        second = store.insert_hazard(
            conn,
            kind="typhoon",
            name="台风",
            severity=3,
            valid_from=T0 + timedelta(hours=3),
            valid_to=None,
            geom=box(W, S, E, N),
        )
    row = store.read_hazard(district, first)
    assert row is not None and row.kind == "flood" and row.geom.geom_type == "MultiPolygon"
    assert row.geom.equals_exact(WEST_HAZARD, 1e-9) or row.geom.geoms[0].equals(WEST_HAZARD)
    assert store.read_hazard(district, 999) is None
    at = {
        h: store.hazards(district, active_at=T0 + timedelta(hours=h))["id"].tolist()
        for h in (1, 4, 8)
    }
    assert at == {1: [first], 4: [second, first], 8: [second]}


def test_impact_inputs_are_read_around_the_hazard_only(district: Engine) -> None:
    inputs = store.impact_inputs(district, WEST_HAZARD)
    assert inputs.grids["code"].tolist() == ["330106109001001"]
    assert inputs.buildings["id"].tolist() == [1]
    assert sorted(inputs.households["id"]) == [11, 12]
    assert sorted(inputs.residents["id"]) == [111, 112, 121]
    assert "name" not in inputs.residents.columns  # no personal data
    assert inputs.shelters["facility_id"].tolist() == [2]
    assert inputs.workers[["worker_id", "role"]].values.tolist() == [[1, "primary"]]


def test_alert_recipients_outbox_and_confirmation_per_grid(district: Engine) -> None:
    with district.begin() as conn:
        hazard = store.insert_hazard(
            conn,
            kind="typhoon",
            name="台风",
            severity=3,
            valid_from=T0,
            valid_to=None,
            geom=box(W, S, E, N),
        )
        alert = store.insert_alert(
            conn, hazard_id=hazard, message="台风来了", target_group="all", created_by="admin"
        )
        recipients = pd.DataFrame(
            {
                "household_id": [11, 12, 21],
                "resident_id": pd.array([None, 121, None], dtype="Int64"),
                "grid_id": [1, 1, 2],
                "shelter_id": pd.array([2, 2, None], dtype="Int64"),
                "walk_s": [300.0, 320.0, float("nan")],
            }
        )
        ids = store.insert_recipients(conn, alert, recipients)
        outbox = store.OutboxChannel(conn).deliver(
            [
                store.OutboxMessage(f"household:{h}", "台风来了", i)
                for h, i in zip(recipients["household_id"], ids, strict=True)
            ]
        )
        assert store.mark_sent(conn, ids, T0) == 3
    assert len(ids) == len(outbox) == 3
    sent = store.outbox(district, alert_id=alert)
    assert sent["status"].tolist() == ["pending"] * 3
    assert sent["recipient"].tolist() == ["household:11", "household:12", "household:21"]

    status = store.alert_status(district, alert).set_index("grid_code")
    assert status.loc["330106109001001", ["recipients", "sent", "confirmed"]].tolist() == [2, 2, 0]
    assert status.loc["330106109001001", "vulnerable"] == 1  # 王芳, living alone
    assert status.loc["330106109001001", "pending_resident_ids"] == [121]

    with district.begin() as conn:
        done = store.confirm_recipients(conn, alert, by="worker1", at=T0, resident_ids=[121])
    assert done["newly"].tolist() == [True]
    with district.begin() as conn:
        again = store.confirm_recipients(
            conn, alert, by="someone", at=T0 + timedelta(hours=1), resident_ids=[121]
        )
    assert again["newly"].tolist() == [False]
    assert again["confirmed_by"].tolist() == ["worker1"]  # the first confirmation stays
    status = store.alert_status(district, alert).set_index("grid_code")
    assert status.loc["330106109001001", "vulnerable_confirmed"] == 1
    assert status.loc["330106109001001", "pending_resident_ids"] == []
    listed = store.alert_recipients(district, alert)
    assert listed.loc[listed["resident_id"] == 121, "room"].tolist() == ["302"]
    assert store.read_alert(district, alert).target_group == "all"
    assert store.read_alert(district, 999) is None


def test_the_latest_position_of_each_worker(district: Engine) -> None:
    with district.begin() as conn:
        store.record_position(conn, 1, W + 0.001, S + 0.001, T0)
        store.record_position(conn, 1, MID + 0.001, S + 0.002, T0 + timedelta(minutes=5))
    latest = store.latest_positions(district)
    assert latest["worker_id"].tolist() == [1]
    assert latest.geometry.iloc[0].x == pytest.approx(MID + 0.001)
    assert latest["grids"].tolist() == ["330106109001001"]
    assert store.latest_positions(district, since=T0 + timedelta(hours=1)).empty
    assert store.worker_exists(district, 1) and not store.worker_exists(district, 99)


def test_the_served_area_is_the_grids(district: Engine) -> None:
    served = store.served_area(district)
    assert served is not None
    assert served.bounds == pytest.approx((W, S, E, N))
