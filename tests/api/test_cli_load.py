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
