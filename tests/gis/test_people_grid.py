"""Residents and identities carry their household's grid (row security reads it), always in step.

Migration 0027 copies ``household.grid_id`` onto ``resident`` and ``resident_identity`` so
that their policies test their own row; triggers keep the copy true whoever writes.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from etl.load import load_layers
from etl.sample import generate_district

OUT_OF_STEP = """
SELECT
  (SELECT count(*) FROM resident r JOIN household h ON h.id = r.household_id
   WHERE r.grid_id IS DISTINCT FROM h.grid_id),
  (SELECT count(*) FROM resident_identity i JOIN resident r ON r.id = i.resident_id
   WHERE i.grid_id IS DISTINCT FROM r.grid_id)
"""


@pytest.fixture(scope="module")
def district(engine: Engine) -> Engine:
    load_layers(engine, generate_district(300, 37, progress=False), replace=True, progress=False)
    return engine


def _out_of_step(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(OUT_OF_STEP)).one())  # type: ignore[return-value]


def test_people_follow_their_household_wherever_it_goes(district: Engine) -> None:
    engine = district
    assert _out_of_step(engine) == (0, 0)
    with engine.connect() as conn:
        assert conn.execute(
            text("SELECT count(*) FROM resident WHERE grid_id IS NULL")
        ).scalar() < (conn.execute(text("SELECT count(*) FROM resident")).scalar())
        household, grid = conn.execute(
            text(
                "SELECT h.id, (SELECT g.id FROM grid g WHERE g.id IS DISTINCT FROM h.grid_id "
                "ORDER BY g.id LIMIT 1) FROM household h "
                "WHERE EXISTS (SELECT 1 FROM resident r WHERE r.household_id = h.id) "
                "ORDER BY h.id LIMIT 1"
            )
        ).one()
        other = conn.execute(
            text("SELECT max(id) FROM household WHERE id <> :h"), {"h": household}
        ).scalar_one()
    with engine.begin() as conn:  # a household placed in another grid (re-division)
        conn.execute(
            text("UPDATE household SET grid_id = :g WHERE id = :h"), {"g": grid, "h": household}
        )
    assert _out_of_step(engine) == (0, 0)
    with engine.begin() as conn:  # a resident moved to another household
        conn.execute(
            text(
                "UPDATE resident SET household_id = :o WHERE id = "
                "(SELECT min(id) FROM resident WHERE household_id = :h)"
            ),
            {"o": other, "h": household},
        )
    assert _out_of_step(engine) == (0, 0)
    with engine.begin() as conn:  # a new person, given no grid, takes the household's
        rid = conn.execute(
            text(
                "INSERT INTO resident (household_id, birth_year, sex) "
                "VALUES (:h, 1960, 'F') RETURNING id"
            ),
            {"h": household},
        ).scalar_one()
        conn.execute(
            text("INSERT INTO resident_identity (resident_id, name) VALUES (:r, '新居民')"),
            {"r": rid},
        )
        got = conn.execute(
            text("SELECT grid_id FROM resident_identity WHERE resident_id = :r"), {"r": rid}
        ).scalar_one()
    assert got == grid
    assert _out_of_step(engine) == (0, 0)
    with engine.begin() as conn:  # a household in no grid: its people in none either
        conn.execute(text("UPDATE household SET grid_id = NULL WHERE id = :h"), {"h": household})
    assert _out_of_step(engine) == (0, 0)
