"""The counts the database keeps (households per building, migration 0038; people per grid,
0039) stay equal to a count of the rows, whatever changes them: a load, a move, an edit, a
removal, a building pulled down, a table emptied."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text

from etl.load import load_layers
from etl.sample import generate_district

GRID_MISMATCHES = """
SELECT count(*) FROM grid g
LEFT JOIN grid_people c ON c.grid_id = g.id
LEFT JOIN (SELECT grid_id, count(*) AS n FROM household GROUP BY grid_id) h ON h.grid_id = g.id
LEFT JOIN (
    SELECT hh.grid_id, count(*) AS n, count(*) FILTER (WHERE p.living_alone_elderly) AS e,
           count(*) FILTER (WHERE p.disabled) AS d,
           count(*) FILTER (WHERE p.mobility_impaired) AS m
    FROM resident p JOIN household hh ON hh.id = p.household_id GROUP BY hh.grid_id
) r ON r.grid_id = g.id
WHERE (coalesce(c.households, 0), coalesce(c.residents, 0), coalesce(c.elderly_alone, 0),
       coalesce(c.disabled, 0), coalesce(c.mobility_impaired, 0))
   <> (coalesce(h.n, 0), coalesce(r.n, 0), coalesce(r.e, 0), coalesce(r.d, 0), coalesce(r.m, 0))
"""
MISMATCHES = """
SELECT count(*) FROM building b
LEFT JOIN building_households c ON c.building_id = b.id
LEFT JOIN (SELECT building_id, count(*) AS n FROM household GROUP BY building_id) h
       ON h.building_id = b.id
WHERE coalesce(c.households, 0) <> coalesce(h.n, 0)
"""


@pytest.fixture(scope="module")
def loaded(engine: Engine) -> Engine:
    load_layers(engine, generate_district(1000, 41, progress=False), replace=True, progress=False)
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
            assert total.scalar_one() == 1000

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


def _shown(counted: int) -> int | None:
    """A count as the published views show it: left out from 1 to k - 1 (k = 5)."""
    return counted if counted == 0 or counted >= 5 else None


def _mismatches(conn: Connection) -> tuple[int, int]:
    return (
        conn.execute(text(MISMATCHES)).scalar_one(),
        conn.execute(text(GRID_MISMATCHES)).scalar_one(),
    )


def test_the_people_per_grid_follow_households_and_residents(loaded: Engine) -> None:
    with loaded.connect() as conn:
        conn.begin()
        try:
            assert _mismatches(conn) == (0, 0)  # after the COPY load
            kept = conn.execute(
                text("SELECT sum(households), sum(residents) FROM grid_people")
            ).one()
            counted = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM household WHERE grid_id IS NOT NULL), "
                    "(SELECT count(*) FROM resident WHERE grid_id IS NOT NULL)"
                )
            ).one()
            assert tuple(kept) == tuple(counted) and counted[1] > 0

            # a household moved to another grid takes its residents along
            grids = conn.execute(
                text("SELECT id FROM grid WHERE valid_to IS NULL ORDER BY id LIMIT 2")
            ).scalars()
            first, second = grids
            conn.execute(
                text(
                    "UPDATE household SET grid_id = :g WHERE id IN (SELECT household_id "
                    "FROM resident WHERE grid_id = :f ORDER BY household_id LIMIT 3)"
                ),
                {"f": first, "g": second},
            )
            conn.execute(
                text(
                    "UPDATE resident SET disabled = NOT disabled, "
                    "living_alone_elderly = NOT living_alone_elderly WHERE id % 7 = 0"
                )
            )
            conn.execute(text("DELETE FROM resident WHERE id % 11 = 0"))
            assert _mismatches(conn) == (0, 0)

            conn.execute(text("TRUNCATE resident CASCADE"))  # households stay
            assert _mismatches(conn) == (0, 0)
            assert conn.execute(text("SELECT sum(residents) FROM grid_people")).scalar() == 0
        finally:
            conn.rollback()


def test_the_published_grids_read_the_kept_counts(loaded: Engine) -> None:
    """``pub_grid`` shows each grid's people (below k left out), as counted."""
    with loaded.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT p.households, p.residents, (SELECT count(*) FROM household h "
                "WHERE h.grid_id = p.id), (SELECT count(*) FROM resident r "
                "JOIN household h ON h.id = r.household_id WHERE h.grid_id = p.id) "
                "FROM pub_grid p"
            )
        ).all()
    assert rows
    for households, residents, n_households, n_residents in rows:
        assert households == _shown(n_households)
        assert residents == _shown(n_residents)


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
        assert shown == _shown(counted)
