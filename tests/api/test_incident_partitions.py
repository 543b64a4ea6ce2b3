"""Incidents by month (migration 0042): a case's number says its month, its month's
partition holds it, reads plan only the months they need, old months go whole with
everything of their cases, and no number ever changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import IntegrityError

from api.services import partitions
from etl.load import load_layers
from gis import clock
from gis.db.migrate import downgrade, upgrade
from gis.settings import get_settings
from gis.store import desk_store, incident_ids, incident_store
from gis.store import partition_store as parts
from gis.store.incident_store import EventRow, IncidentRow
from tests.conftest import throwaway_database
from tests.factories import tiny_case, tiny_district
from tests.plans import partitions_read

THIS = parts.month_of(clock.now())


def _local(month: date, day: int = 15, hour: int = 12) -> datetime:
    return datetime(month.year, month.month, day, hour, tzinfo=parts.LOCAL_TZ)


@pytest.fixture(scope="module")
def db() -> Iterator[Engine]:
    """A database of this module's own, holding the tiny district (categories, a grid)."""
    with throwaway_database("wangge_case_months") as url:
        engine = create_engine(url)
        upgrade(engine)
        load_layers(engine, tiny_district(), replace=True, progress=False)
        yield engine
        engine.dispose()


def _file(conn: Connection, at: datetime, source_ref: str | None = None) -> int:
    """A case reported at ``at`` (by the 12345 import's store function), with its report."""
    return incident_store.insert_incident(
        conn,
        IncidentRow(
            id=None,
            category_code="20101",
            source="hotline_12345" if source_ref else "patrol",
            description="井盖破损",
            state="reported",
            reported_at=at,
            lon=120.085,
            lat=30.315,
            source_ref=source_ref,
            events=(EventRow(None, "reported", at, "worker1", None),),
        ),
    )


def _partition_of(conn: Connection, case: int) -> str:
    return str(
        conn.execute(
            text("SELECT tableoid::regclass::text FROM incident WHERE id = :i"), {"i": case}
        ).scalar_one()
    )


def _months_read(conn: Connection, read: Callable[[Connection], object]) -> set[str]:
    return partitions_read(conn, "incident", read)


def test_a_case_filed_now_carries_its_month_and_is_read_from_it_alone(db: Engine) -> None:
    now = clock.now()
    with db.begin() as conn:
        case = _file(conn, now)
        other = _file(conn, now)
        assert str(case).startswith(f"{THIS:%Y%m}") and len(str(case)) == 15
        assert incident_ids.month_of_id(case) == THIS and other == case + 1
        assert _partition_of(conn, case) == f"{parts.SCHEMA}.incident_{THIS:%Y_%m}"
        row = incident_store.read_incident(conn, case)
        assert row is not None and row.reported_at == now and len(row.events) == 1
        read = _months_read(conn, lambda c: incident_store.read_incidents(c, [case]))
        assert read == {f"{THIS:%Y_%m}"}, read
        conn.rollback()


def test_a_case_cannot_lie_in_another_month_than_its_number_says(db: Engine) -> None:
    refused = pytest.raises(IntegrityError, match=f"ck_incident_{THIS:%Y_%m}_month")
    with refused, db.begin() as conn:
        case = _file(conn, clock.now())
        conn.execute(
            text("UPDATE incident SET reported_at = :at WHERE id = :i"),
            {"at": _local(parts.add_months(THIS, -3)), "i": case},
        )


def test_a_read_by_time_plans_only_the_months_it_spans(db: Engine) -> None:
    months = [parts.add_months(THIS, -n) for n in range(4)]
    target = months[2]
    count = text("SELECT count(*) FROM incident WHERE reported_at >= :a AND reported_at < :b")
    bounds = {"a": _local(target, 1, 0), "b": _local(parts.add_months(target, 1), 1, 0)}
    with db.begin() as conn:
        parts.create_months(conn, "incident", months)
        before = conn.execute(count, bounds).scalar_one()
        for month in months:
            _file(conn, _local(month))
        assert conn.execute(count, bounds).scalar_one() == before + 1
        read = _months_read(conn, lambda c: c.execute(count, bounds))
        # its month, and DEFAULT (plain numbers carry no month: it is always read)
        assert read == {f"{target:%Y_%m}", "default"}, read
        conn.rollback()


def test_a_case_of_a_month_without_partition_keeps_a_plain_number(db: Engine) -> None:
    """Filed for a month no partition holds (the server cannot make one): a plain number in
    DEFAULT, read like any other; a partition made for its month later leaves it there."""
    old = parts.add_months(THIS, -40)
    with db.begin() as conn:
        case = _file(conn, _local(old))
        assert not incident_ids.is_coded(case)
        assert _partition_of(conn, case) == f"{parts.SCHEMA}.incident_default"
        row = incident_store.read_incident(conn, case)
        assert row is not None and row.reported_at == _local(old)
        created, moved = parts.create_months(conn, "incident", [old])
        assert created == [old] and moved == 0
        assert _partition_of(conn, case) == f"{parts.SCHEMA}.incident_default"
        assert incident_ids.month_of_id(_file(conn, _local(old))) == old
        conn.rollback()


def test_a_bulk_load_numbers_cases_by_their_month_and_their_steps_follow(db: Engine) -> None:
    load_layers(db, tiny_district(), replace=True, progress=False)
    with db.connect() as conn:
        cases = conn.execute(
            text("SELECT id, tableoid::regclass::text FROM incident ORDER BY id")
        ).all()
        events = conn.execute(
            text("SELECT DISTINCT incident_id FROM incident_event ORDER BY 1")
        ).scalars()
        first = conn.execute(text("SELECT min(id) FROM incident")).scalar_one()
    loaded = [c for c in cases if c[0] in (tiny_case(1), tiny_case(2))]
    # the file's cases 1 and 2 of October 2026: the load made the month, whatever today is
    assert [c[0] for c in loaded] == [202610_000_000_001, 202610_000_000_002]
    assert {c[1] for c in loaded} == {f"{parts.SCHEMA}.incident_2026_10"}
    assert set(events) == {tiny_case(1), tiny_case(2)}
    assert first == tiny_case(1)


def test_a_report_is_filed_once_from_its_source_whatever_its_month(db: Engine) -> None:
    earlier = parts.add_months(THIS, -1)
    with db.begin() as conn:
        parts.create_months(conn, "incident", [earlier])
    with db.begin() as conn:
        case = _file(conn, _local(earlier), source_ref="12345-2026-000777")
    with pytest.raises(IntegrityError, match="pk_incident_source_ref"), db.begin() as conn:
        _file(conn, clock.now(), source_ref="12345-2026-000777")
    with db.begin() as conn:
        found = incident_store.filed_by_source_ref(conn, "hotline_12345", ["12345-2026-000777"])
        assert found == {"12345-2026-000777": case}
        conn.execute(text("DELETE FROM incident WHERE id = :i"), {"i": case})
        # the key goes with its case: the report may be filed again
        again = _file(conn, clock.now(), source_ref="12345-2026-000777")
        assert incident_ids.month_of_id(again) == THIS
        conn.rollback()


def test_retention_drops_old_months_of_cases_with_everything_of_them(db: Engine) -> None:
    settings = get_settings().model_copy(update={"retain_incident_months": 6})
    old, kept = parts.add_months(THIS, -8), parts.add_months(THIS, -6)
    with db.begin() as conn:
        parts.create_months(conn, "incident", [old, kept])
        gone = _file(conn, _local(old))
        stays = _file(conn, _local(kept, day=1, hour=0))
        conn.execute(
            text("INSERT INTO incident_contact (incident_id, name) VALUES (:i, '张三')"),
            {"i": gone},
        )
        # plain numbers carry no month: the old one goes by its time, the new one stays
        plain_gone = _file(conn, _local(parts.add_months(THIS, -50)))
        plain_stays = conn.execute(
            text(
                "INSERT INTO incident (category_code, source, description, state, "
                "reported_at, geom) VALUES ('20101', 'patrol', '新', 'reported', :at, "
                "ST_SetSRID(ST_MakePoint(120.085, 30.315), 4326)) RETURNING id"
            ),
            {"at": clock.now()},
        ).scalar_one()
        assert not incident_ids.is_coded(plain_gone) and not incident_ids.is_coded(plain_stays)
    listed = partitions.expire(db, settings, dry_run=True, by="test")
    cases = [m for m in listed if m.table == "incident"]
    assert (old, 1) in [(m.month, m.rows) for m in cases if not m.plain]
    assert kept not in [m.month for m in cases if not m.plain]
    assert [(m.month, m.rows >= 1) for m in cases if m.plain] == [(kept, True)]
    partitions.expire(db, settings, by="test")
    with db.connect() as conn:
        assert old not in parts.months(conn, "incident")
        held = conn.execute(
            text("SELECT id FROM incident WHERE id = ANY(:i) ORDER BY id"),
            {"i": [gone, stays, plain_gone, plain_stays]},
        )
        assert list(held.scalars()) == sorted([stays, plain_stays])
        for table in ("incident_event", "incident_contact", "incident_source_ref"):
            left = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE incident_id = :i"), {"i": gone}
            ).scalar_one()
            assert left == 0, table
        audited = conn.execute(
            text(
                "SELECT object_id FROM audit_log WHERE action = 'partition_drop' "
                "AND object_type = 'incident'"
            )
        ).scalars()
        assert f"{old:%Y-%m}" in list(audited)


def test_stored_cases_keep_their_numbers_through_the_migration() -> None:
    """Numbers given to residents, 12345 and the audit log stay true: a database with cases
    before 0042 keeps them as they are (in DEFAULT), and new ones come after them."""
    with throwaway_database("wangge_case_numbers") as url:
        engine = create_engine(url)
        try:
            upgrade(engine)
            load_layers(engine, tiny_district(), replace=True, progress=False)
            downgrade(engine, "0041")
            with engine.begin() as conn:
                before = dict(conn.execute(text("SELECT id, reported_at FROM incident")).all())
                plain = conn.execute(
                    text(
                        "INSERT INTO incident (category_code, source, description, state, "
                        "reported_at, geom) VALUES ('20101', 'patrol', '旧', 'reported', :at, "
                        "ST_SetSRID(ST_MakePoint(120.085, 30.315), 4326)) RETURNING id"
                    ),
                    {"at": clock.now()},
                ).scalar_one()
            upgrade(engine)
            with engine.begin() as conn:
                after = dict(conn.execute(text("SELECT id, reported_at FROM incident")).all())
                assert after == {**before, plain: after[plain]}
                assert _partition_of(conn, plain) == f"{parts.SCHEMA}.incident_default"
                new = _file(conn, clock.now())
                assert incident_ids.month_of_id(new) == THIS
                assert new % incident_ids.FACTOR > plain
        finally:
            engine.dispose()


def test_a_desk_page_is_the_newest_cases_whichever_months_they_lie_in(db: Engine) -> None:
    """The desk reads the last months first (:data:`desk_store.WINDOWS`): its pages are
    still exactly the newest cases, across the window's edge, plain numbers among them."""
    ages = [0, 0, 1, 5, 5, 13, 20, 20]  # months back; and one plain number, older still
    with db.begin() as conn:
        grid = conn.execute(text("SELECT min(id) FROM grid")).scalar_one()
        parts.create_months(conn, "incident", [parts.add_months(THIS, -a) for a in ages])
        mine = [
            _file(conn, _local(parts.add_months(THIS, -a), day=3 + n)) for n, a in enumerate(ages)
        ]
        mine.append(_file(conn, _local(parts.add_months(THIS, -60))))
        assert not incident_ids.is_coded(mine[-1])
        conn.execute(
            text("UPDATE incident SET grid_id = :g WHERE id = ANY(:i)"), {"g": grid, "i": mine}
        )
        for grids in (None, (grid,)):
            scope = "" if grids is None else "AND grid_id = :g"
            truth = list(
                conn.execute(
                    text(
                        "SELECT id FROM incident WHERE merged_into IS NULL "
                        f"{scope} ORDER BY reported_at DESC, id DESC"
                    ),
                    {"g": grid},
                ).scalars()
            )
            for limit in (1, 2, 4, 7, len(truth) + 1):
                got = desk_store.page(conn, desk_store.PageQuery(grid_ids=grids, limit=limit))
                assert [r["id"] for r in got] == truth[:limit], (grids, limit)
            # the next page, after the fourth case
            fourth = desk_store.page(conn, desk_store.PageQuery(grid_ids=grids, limit=4))[-1]
            after = (fourth["reported_at"], fourth["id"])
            rest = desk_store.page(conn, desk_store.PageQuery(grid_ids=grids, after=after))
            assert [r["id"] for r in rest] == truth[4:54]
        # the API's list pages by offset: the same from the last months first
        every = list(
            conn.execute(text("SELECT id FROM incident ORDER BY reported_at DESC, id DESC"))
            .scalars()
            .all()
        )
        for limit, offset in ((1, 0), (2, 1), (3, 2), (2, 5), (4, 6), (len(every) + 1, 0)):
            listed = incident_store.list_incidents(
                conn, everything=True, limit=limit, offset=offset
            )
            assert [r["id"] for r in listed] == every[offset : offset + limit], (limit, offset)
        conn.rollback()
