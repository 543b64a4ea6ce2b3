"""`wangge sample` and `wangge load` from the command line, with good and bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

import shapely

from etl.gpkg import write_layers
from tests.conftest import empty_database, run_wangge
from tests.factories import tiny_district

wangge = run_wangge


def households(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM household")).scalar_one()


@pytest.fixture()
def empty(engine: Engine) -> Engine:
    empty_database(engine)
    return engine


def test_sample_file_loads_and_reloads(database_url: str, empty: Engine, tmp_path: Path) -> None:
    out = tmp_path / "district.gpkg"
    made = wangge(database_url, "sample", "--households", "2500", "--seed", "9", "--out", str(out))
    assert made.returncode == 0, made.stderr[-2000:]
    for _ in range(2):  # running it twice is harmless with --replace
        loaded = wangge(database_url, "load", str(out), "--replace")
        assert loaded.returncode == 0, loaded.stderr[-2000:]
        assert households(empty) == 2500


def test_a_file_that_is_not_a_geopackage_is_named(database_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "notes.gpkg"
    bad.write_text("this is not a geopackage", encoding="utf-8")
    run = wangge(database_url, "load", str(bad))
    assert run.returncode == 1
    assert "not a readable GeoPackage" in run.stderr


def test_swapped_coordinates_in_a_file_reject_the_load_and_keep_the_database(
    database_url: str, empty: Engine, tmp_path: Path
) -> None:
    layers = tiny_district()
    layers["facility"].loc[1, "geometry"] = shapely.Point(30.315, 120.085)
    path = write_layers(layers, tmp_path / "swapped.gpkg", progress=False)
    run = wangge(database_url, "load", str(path))
    assert run.returncode == 1
    message = " ".join(run.stderr.split())
    assert "facility row 2 (id 2), field 'geometry': longitude and latitude look swapped" in message
    assert "Nothing was loaded" in message
    assert households(empty) == 0


def _load_buildings(database_url: str, tmp_path: Path) -> None:
    """The tiny district without its households and residents, from a GeoPackage."""
    layers = {k: v for k, v in tiny_district().items() if k not in ("household", "resident")}
    path = write_layers(layers, tmp_path / "buildings.gpkg", progress=False)
    run = wangge(database_url, "load", str(path))
    assert run.returncode == 0, run.stderr[-2000:]


def test_a_households_csv_refers_to_buildings_loaded_before(
    database_url: str, empty: Engine, tmp_path: Path
) -> None:
    _load_buildings(database_url, tmp_path)
    csv = tmp_path / "household.csv"
    csv.write_text(
        "id,building_id,unit,room,size\n11,1,1,101,2\n12,1,2,302,1\n21,2,1,1201,3\n",
        encoding="utf-8",
    )
    run = wangge(database_url, "load", str(csv))
    assert run.returncode == 0, run.stderr[-2000:]
    with empty.connect() as conn:
        placed = conn.execute(
            text(
                "SELECT h.id, b.id, h.room, h.grid_id = b.grid_id FROM household h "
                "JOIN building b ON b.id = h.building_id ORDER BY h.id"
            )
        ).all()
    assert [tuple(r) for r in placed] == [
        (11, 1, "101", True),
        (12, 1, "302", True),
        (21, 2, "1201", True),
    ]


def test_a_bad_id_in_a_csv_names_row_and_field(
    database_url: str, empty: Engine, tmp_path: Path
) -> None:
    _load_buildings(database_url, tmp_path)
    csv = tmp_path / "household.csv"
    csv.write_text("id,building_id,unit,room,size\n11,1,1,101,2\n12,x5,2,302,1\n", encoding="utf-8")
    run = wangge(database_url, "load", str(csv))
    assert run.returncode == 1
    message = " ".join(run.stderr.split())
    assert (
        "household row 2 (id 12), field 'building_id': 'x5' is not a whole number — "
        "write building_id as a whole number" in message
    ), message
    assert "names no record" not in message and "value is missing" not in message
    assert "Nothing was loaded" in message
    assert households(empty) == 0
