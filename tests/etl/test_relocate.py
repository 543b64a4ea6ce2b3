"""`wangge locate`: every record placed again in its grid and cell, households with it."""

from __future__ import annotations

from sqlalchemy import Engine, text

from etl.load import load_layers
from etl.relocate import relocate
from tests.conftest import empty_database, run_wangge
from tests.factories import tiny_district


def placements(engine: Engine) -> dict:
    with engine.connect() as conn:
        return {
            t: sorted(conn.execute(text(f"SELECT id, grid_id, h3_cell FROM {t}")).all())
            for t in ("building", "household", "facility", "road_node", "incident")
        }


def test_relocate_repairs_what_was_changed_behind_its_back(engine: Engine) -> None:
    empty_database(engine)
    load_layers(engine, tiny_district(), progress=False)
    good = placements(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE building SET grid_id = NULL, h3_cell = 1"))
        conn.execute(text("UPDATE household SET grid_id = NULL"))
        conn.execute(text("UPDATE incident SET grid_id = NULL"))
    with engine.begin() as conn:
        report = relocate(conn, progress=False)
    assert report.changed["building"] == 2 and report.changed["incident"] == 2
    assert report.changed["household"] == 3
    assert placements(engine) == good
    with engine.begin() as conn:  # a second run finds nothing to change
        again = relocate(conn, progress=False)
    assert set(again.changed.values()) == {0}


def test_locate_command_shows_progress_and_succeeds(database_url: str) -> None:
    run = run_wangge(database_url, "locate", timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "locating" in run.stderr and "changed" in run.stderr
