"""The households per building the database keeps (migration 0038) stay equal to a count of
the households, whatever changes them: a load, a move, an edit, a removal, a building
pulled down, the table emptied."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text

from etl.load import load_layers
from etl.sample import generate_district

MISMATCHES = """
SELECT count(*) FROM building b
LEFT JOIN building_households c ON c.building_id = b.id
LEFT JOIN (SELECT building_id, count(*) AS n FROM household GROUP BY building_id) h
       ON h.building_id = b.id
WHERE coalesce(c.households, 0) <> coalesce(h.n, 0)
"""


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> Engine:
    load_layers(engine, generate_district(300, 41, progress=False), replace=True, progress=False)
    return engine


def _kept(conn: Connection, building_id: int) -> int:
    return conn.execute(
        text("SELECT coalesce(max(households), 0) FROM building_households WHERE building_id = :b"),
        {"b": building_id},
    ).scalar_one()


def _two_buildings(conn: Connection) -> tuple[int, int]:
    rows = conn.execute(
        text(
            "SELECT building_id FROM household GROUP BY building_id "
            "HAVING count(*) >= 4 ORDER BY building_id LIMIT 2"
        )
    ).scalars()
    a, b = rows
    return a, b


def test_the_kept_counts_follow_every_change_to_households(loaded: Engine) -> None:
    with loaded.connect() as conn:
        conn.begin()
        try:
            assert conn.execute(text(MISMATCHES)).scalar_one() == 0  # after the COPY load
            total = conn.execute(text("SELECT sum(households) FROM building_households"))
            assert total.scalar_one() == 300

            a, b = _two_buildings(conn)
            before_a, before_b = _kept(conn, a), _kept(conn, b)
            moved = conn.execute(
                text(
                    "UPDATE household SET building_id = :b, room = room || 'm' "
                    "WHERE id IN (SELECT id FROM household WHERE building_id = :a "
                    "ORDER BY id LIMIT 2)"
                ),
                {"a": a, "b": b},
            ).rowcount
            assert moved == 2
            assert (_kept(conn, a), _kept(conn, b)) == (before_a - 2, before_b + 2)

            conn.execute(text("UPDATE household SET size = size"))  # nobody moves
            assert conn.execute(text(MISMATCHES)).scalar_one() == 0

            # removed and written again (the register's delete and re-insert)
            conn.execute(
                text("CREATE TEMP TABLE again AS SELECT * FROM household WHERE building_id = :b"),
                {"b": b},
            )
            conn.execute(text("DELETE FROM household WHERE building_id = :b"), {"b": b})
            assert _kept(conn, b) == 0
            conn.execute(text("INSERT INTO household SELECT * FROM again"))
            assert _kept(conn, b) == before_b + 2
            assert conn.execute(text(MISMATCHES)).scalar_one() == 0

            conn.execute(text("DELETE FROM building WHERE id = :a"), {"a": a})  # cascades
            assert _kept(conn, a) == 0
            assert conn.execute(text(MISMATCHES)).scalar_one() == 0

            conn.execute(text("TRUNCATE household CASCADE"))
            assert conn.execute(text("SELECT count(*) FROM building_households")).scalar_one() == 0
        finally:
            conn.rollback()


def test_the_published_buildings_read_the_kept_counts(loaded: Engine) -> None:
    """``pub_building`` shows each building's households (below k left out), as counted."""
    with loaded.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.households, (SELECT count(*) FROM household h "
                "WHERE h.building_id = p.id) FROM pub_building p"
            )
        ).all()
    assert rows
    for shown, counted in rows:
        assert shown == (counted if counted == 0 or counted >= 5 else None)
