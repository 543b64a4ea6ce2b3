"""A new grid version: history kept, codes in reading order, records moved, all at once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
from shapely import box

from etl.grid_versions import GridVersionError, save_grid_version
from etl.load import load_layers
from tests.conftest import empty_database
from tests.factories import E, N, S, W, tiny_district

COMMUNITY = "330106109001"


@pytest.fixture()
def district(engine: Engine) -> Engine:
    empty_database(engine)
    load_layers(engine, tiny_district(), progress=False)
    return engine


def three_strips() -> gpd.GeoDataFrame:
    """The community cut into three north-south strips (west, middle, east)."""
    third = (E - W) / 3
    strips = [box(W + i * third, S, W + (i + 1) * third, N) for i in (2, 0, 1)]
    return gpd.GeoDataFrame(geometry=strips, crs=4326)


def test_new_version_keeps_history_and_moves_records(district: Engine) -> None:
    report = save_grid_version(district, COMMUNITY, three_strips(), progress=False)
    # codes run west to east whatever order the shapes came in
    assert report.codes == [f"{COMMUNITY}003", f"{COMMUNITY}001", f"{COMMUNITY}002"]
    with district.connect() as conn:
        current = dict(
            conn.execute(
                text("SELECT code, id FROM grid WHERE valid_to IS NULL ORDER BY code")
            ).all()
        )
        assert list(current) == [f"{COMMUNITY}00{i}" for i in (1, 2, 3)]
        assert (
            conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NOT NULL")).scalar_one()
            == 2
        )
        changes = conn.execute(
            text("SELECT change, count(*) FROM grid_lineage GROUP BY change ORDER BY change")
        ).all()
        # old west half → new west + middle strip (split); old east half → middle + east
        assert sum(n for _, n in changes) == 4
        # building 1 (south-west) is in the west strip, building 2 (north-east) in the east
        placed = dict(
            conn.execute(
                text("SELECT b.id, g.code FROM building b JOIN grid g ON g.id = b.grid_id")
            ).all()
        )
        assert placed == {1: f"{COMMUNITY}001", 2: f"{COMMUNITY}003"}
        # households follow their building; nothing points at a retired grid
        stale = conn.execute(
            text("""
            SELECT count(*) FROM (
              SELECT grid_id FROM building UNION ALL SELECT grid_id FROM household
              UNION ALL SELECT grid_id FROM incident UNION ALL SELECT grid_id FROM facility
            ) t JOIN grid g ON g.id = t.grid_id WHERE g.valid_to IS NOT NULL""")
        ).scalar_one()
        assert stale == 0
        # the worker of the old west grid now covers the new grids that took most of it
        covered = conn.execute(
            text("""
            SELECT count(*) FROM grid_assignment a JOIN grid g ON g.id = a.grid_id
            WHERE g.valid_to IS NULL AND a.role = 'primary'""")
        ).scalar_one()
        assert covered >= 1
    assert report.relocated.changed["building"] == 2


def test_unknown_community_changes_nothing(district: Engine) -> None:
    with pytest.raises(GridVersionError, match="no community"):
        save_grid_version(district, "330106109999", three_strips(), progress=False)


def test_a_refused_grid_rolls_the_whole_version_back(district: Engine) -> None:
    strips = three_strips()
    strips["code"] = [f"{COMMUNITY}003", f"{COMMUNITY}001", "12345"]  # bad code
    with pytest.raises(Exception, match="code_digits"):
        save_grid_version(district, COMMUNITY, strips, progress=False)
    with district.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar_one() == 2
        )
        assert conn.execute(text("SELECT count(*) FROM grid_lineage")).scalar_one() == 0
