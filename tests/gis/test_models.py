"""The schema itself refuses what is wrong, whoever writes to it, and migrates both ways."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import DataError, IntegrityError, InternalError

from gis.db import cluster
from gis.db.migrate import current, declared_head, downgrade, head, upgrade

COMMUNITY = (
    "INSERT INTO admin_area (code, name, level, geom) VALUES "
    "('330199999001', '测试社区', 'community', "
    "ST_GeomFromText('MULTIPOLYGON(((120.08 30.31, 120.09 30.31, 120.09 30.32, "
    "120.08 30.32, 120.08 30.31)))', 4326)) RETURNING id"
)


def _refused(engine: Engine, sql: str) -> str:
    with engine.connect() as conn, conn.begin():
        cid = conn.execute(text(COMMUNITY)).scalar_one()
        with pytest.raises((IntegrityError, DataError, InternalError)) as info:
            conn.execute(text(sql.format(cid=cid)))
        conn.rollback()
    return str(info.value)


GRID = (
    "INSERT INTO grid (code, name, community_id, geom) VALUES ('{code}', '网格', {{cid}}, "
    "ST_GeomFromText('{wkt}', {srid}))"
)
SQUARE = "MULTIPOLYGON(((120.08 30.31, 120.085 30.31, 120.085 30.32, 120.08 30.32, 120.08 30.31)))"
BOWTIE = "MULTIPOLYGON(((120.08 30.31, 120.09 30.32, 120.09 30.31, 120.08 30.32, 120.08 30.31)))"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (GRID.format(code="330199999001001", wkt=SQUARE, srid=3857), "SRID"),
        (GRID.format(code="330199999001001", wkt=BOWTIE, srid=4326), "geom_valid"),
        (
            GRID.format(code="330199999001001", wkt=SQUARE.replace("30.32", "95.0"), srid=4326),
            "lonlat_range",
        ),
        (GRID.format(code="33019999900100", wkt=SQUARE, srid=4326), "code_digits"),
        (
            "INSERT INTO facility (id, kind, name, geom) VALUES (1, 'casino', 'x', "
            "ST_SetSRID(ST_MakePoint(120.08, 30.31), 4326))",
            "ck_facility_kind",
        ),
        (
            "INSERT INTO household (id, building_id, unit, room, size) "
            "VALUES (987654321987, 987654321987, 1, '101', 2)",
            "fk_household_building_id",
        ),
    ],
    ids=[
        "wrong-srid",
        "invalid-geometry",
        "latitude-out-of-range",
        "short-grid-code",
        "unknown-facility-kind",
        "household-without-building",
    ],
)
def test_the_database_refuses(engine: Engine, sql: str, reason: str) -> None:
    assert reason in _refused(engine, sql)


AREA = (
    "INSERT INTO admin_area (code, name, level, parent_id, geom) VALUES ('{code}', '{code}', "
    "'{level}', (SELECT id FROM admin_area WHERE code = '{parent}'), "
    "ST_GeomFromText('MULTIPOLYGON(((120 30, 121 30, 121 31, 120 31, 120 30)))', 4326))"
)


def test_areas_run_from_province_to_estate_and_staff_from_community_to_city(
    engine: Engine,
) -> None:
    with engine.connect() as conn, conn.begin():
        for code, level, parent in (("98", "province", ""), ("9801", "city", "98")):
            conn.execute(text(AREA.format(code=code, level=level, parent=parent)))
        for role in ("district_staff", "city_staff"):
            conn.execute(
                text(
                    "INSERT INTO app_user (username, display_name, role, area_id) VALUES "
                    "(:u, :d, :r, (SELECT id FROM admin_area WHERE code = '9801'))"
                ),
                {"u": f"models_{role}", "d": role, "r": role},
            )
        conn.rollback()
    assert "ck_admin_area_level" in _refused(
        engine, AREA.format(code="97", level="country", parent="")
    )
    assert "ck_app_user_role" in _refused(
        engine,
        "INSERT INTO app_user (username, display_name, role) VALUES ('m', 'm', 'mayor')",
    )


def test_going_down_below_the_area_levels_keeps_the_districts_and_disables_their_staff(
    database_url: str,
) -> None:
    base = cluster.server_url(database_url, "postgres")
    name = f"wangge_test_levels_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    url = cluster.server_url(database_url, name)
    cluster.ensure_database(url)
    engine = create_engine(url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            for code, level, parent in (
                ("98", "province", ""),
                ("9801", "city", "98"),
                ("980102", "district", "9801"),
            ):
                conn.execute(text(AREA.format(code=code, level=level, parent=parent)))
            conn.execute(
                text(
                    "INSERT INTO app_user (username, display_name, role, area_id) VALUES "
                    "('city', 'city', 'city_staff', "
                    "(SELECT id FROM admin_area WHERE code = '9801'))"
                )
            )
        downgrade(engine, "0031")  # below 0032, the area levels
        with engine.connect() as conn:
            areas = conn.execute(text("SELECT code, parent_id FROM admin_area")).all()
            user = conn.execute(
                text("SELECT role, area_id, disabled_at IS NOT NULL FROM app_user")
            ).one()
        assert [tuple(a) for a in areas] == [("980102", None)]
        assert tuple(user) == ("resident", None, True)
        upgrade(engine)
        assert current(engine) == head()
    finally:
        engine.dispose()
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_two_current_grids_cannot_share_a_code(engine: Engine) -> None:
    insert = GRID.format(code="330199999001001", wkt=SQUARE, srid=4326)
    message = _refused(engine, f"{insert}; {insert}")
    assert "uq_grid_current_code" in message


def test_h3_cells_are_bigint_and_located_tables_have_grid_and_cell(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in ("building", "household", "facility", "road_node", "incident"):
        columns = {c["name"]: str(c["type"]) for c in inspector.get_columns(table)}
        assert columns["h3_cell"] == "BIGINT", table
        assert "grid_id" in columns, table
        leading = {i["column_names"][0] for i in inspector.get_indexes(table)}
        assert {"h3_cell", "grid_id"} <= leading, table


def test_no_index_repeats_the_first_columns_of_another(engine: Engine) -> None:
    """A B-tree index on (a) beside one on (a, b) is a second copy every write keeps."""
    with engine.connect() as conn:
        repeats = conn.execute(
            text("""
            SELECT a.indexrelid::regclass::text, b.indexrelid::regclass::text
            FROM pg_index a
            JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
            JOIN pg_class ca ON ca.oid = a.indexrelid JOIN pg_am ma ON ma.oid = ca.relam
            JOIN pg_class cb ON cb.oid = b.indexrelid JOIN pg_am mb ON mb.oid = cb.relam
            JOIN pg_class t ON t.oid = a.indrelid
            WHERE ma.amname = 'btree' AND mb.amname = 'btree' AND NOT a.indisunique
              AND a.indpred IS NULL AND b.indpred IS NULL
              AND a.indexprs IS NULL AND b.indexprs IS NULL
              AND NOT t.relispartition
              AND a.indnatts < b.indnatts
              AND (b.indkey::text || ' ') LIKE (a.indkey::text || ' %')""")
        ).all()
    assert repeats == []


def test_migrations_go_down_to_nothing_and_up_again(database_url: str) -> None:
    base = cluster.server_url(database_url, "postgres")
    name = f"wangge_test_migrations_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    url = cluster.server_url(database_url, name)
    cluster.ensure_database(url)
    engine = create_engine(url)
    try:
        upgrade(engine)
        assert current(engine) == head()
        downgrade(engine, "base")
        assert current(engine) is None
        assert "grid" not in inspect(engine).get_table_names()
        upgrade(engine)
        assert "grid" in inspect(engine).get_table_names()
        # a database one step behind is brought up, not taken for one at the head
        downgrade(engine, "-1")
        assert current(engine) != head()
        upgrade(engine)
        assert current(engine) == head()
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def test_the_head_read_from_the_files_is_alembics() -> None:
    """What lets a command skip Alembic on a database at the head (gis.db.migrate.upgrade)."""
    assert declared_head() == head() is not None


def test_the_migrations_match_the_models(engine: Engine) -> None:
    from alembic import command

    from gis.db.migrate import alembic_config

    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises when autogenerate would find a difference


def test_every_change_to_a_cached_table_bumps_its_version(engine: Engine) -> None:
    from gis.store.queries import data_version

    before = data_version(engine, ("facility",))
    with engine.begin() as conn:
        conn.execute(text("UPDATE facility SET capacity = capacity WHERE false"))
    after = data_version(engine, ("facility",))
    assert after != before  # even a statement that touches no row: caches rebuild, never stale


def test_an_offices_writers_do_not_queue_behind_each_other_for_its_version(engine: Engine) -> None:
    from gis.store.office_versions import area_versions
    from gis.store.queries import WRITERS

    place = "ST_SetSRID(ST_MakePoint(120.5, 30.5), 4326)"
    add = text(
        f"INSERT INTO facility (kind, name, office_id, geom) VALUES ('school', 'v', :o, {place})"
    )
    with engine.begin() as conn:
        office = conn.execute(
            text(
                "INSERT INTO admin_area (code, name, level, geom) VALUES ('990000001', '版本街道', "
                "'street', ST_Multi(ST_Buffer(" + place + ", 0.01))) RETURNING id"
            )
        ).scalar_one()
        conn.execute(add, {"o": office})  # the office's first write makes its version
    before = area_versions(engine, ("facility",))
    holder = engine.connect()
    held = holder.begin()
    try:
        holder.execute(add, {"o": office})  # a bulk import of the office, not committed yet
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '2s'"))  # queued: refused, not waited
            conn.execute(add, {"o": office})
        after = area_versions(engine, ("facility",))
        assert after.offices[office] != before.offices[office]
        # the rows of no office did not move; the transaction still writing is named
        rows = dict(after.shared)
        assert rows.pop(WRITERS) != 0 and dict(before.shared).pop(WRITERS) == 0
        assert rows == {k: v for k, v in before.shared if k != WRITERS}
    finally:
        held.rollback()
        holder.close()
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM facility WHERE office_id = :o"), {"o": office})
            conn.execute(text("DELETE FROM admin_area WHERE id = :o"), {"o": office})
