"""`wangge evacuate`: a grid worker's list, before and after a road closure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely

from etl.load import load_layers
from etl.sample import generate_district
from tests.conftest import run_wangge

wangge = run_wangge


@pytest.fixture(scope="module")
def district(engine: Engine) -> dict:
    layers = generate_district(2000, 21, progress=False)
    load_layers(engine, layers, replace=True, progress=False)
    return layers


def test_grid_list_with_routes_and_no_personal_data(
    district: dict, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    code = district["grid"]["code"].iloc[0]
    out = tmp_path / "list.geojson"
    run = wangge(database_url, "evacuate", "--grid", code, "--out", str(out))
    assert run.returncode == 0, run.stderr[-2000:]
    rows = gpd.read_file(out)
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT count(*) FROM household h JOIN grid g ON g.id = h.grid_id WHERE g.code = :c"
            ),
            {"c": code},
        ).scalar_one()
    assert len(rows) == expected and set(rows["grid"]) == {code}
    assert not {"name", "id_number", "phone"} & set(rows.columns)
    # households that need help come first
    assert list(rows["needs_help"]) == sorted(rows["needs_help"], reverse=True)
    assigned = rows[rows["status"] == "assigned"]
    assert (assigned.geometry.geom_type == "LineString").all()


def test_routes_avoid_closed_roads(
    district: dict, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    before = tmp_path / "before.geojson"
    assert wangge(database_url, "evacuate", "--out", str(before)).returncode == 0
    used = gpd.read_file(before)
    used = used[used["status"] == "assigned"]
    # close the road segments the most routes run along
    edges = gpd.read_postgis("SELECT id, geom FROM road_edge", engine, geom_col="geom")

    # routes are written with 7 decimals (RFC 7946): compare within about 5 cm
    def along(routes: gpd.GeoDataFrame, segment: shapely.Geometry) -> np.ndarray:
        return shapely.length(shapely.intersection(routes.geometry.values, segment.buffer(5e-7)))

    counts = [int((along(used, g) > 1e-5).sum()) for g in edges.geometry]
    closed = edges.assign(n=counts).sort_values("n", ascending=False).head(5)
    assert closed["n"].iloc[0] > 0
    after = tmp_path / "after.geojson"
    args = [a for e in closed["id"] for a in ("--close", str(int(e)))]
    run = wangge(database_url, "evacuate", "--out", str(after), *args)
    assert run.returncode == 0, run.stderr[-2000:]
    routes = gpd.read_file(after)
    routes = routes[routes["status"] == "assigned"]
    for segment in closed.geometry:
        assert (along(routes, segment) < 1e-5).all()  # degrees: never ~1 m along it


def test_unknown_grid_or_edge_is_a_clear_error(
    district: dict, database_url: str, tmp_path: Path
) -> None:
    run = wangge(
        database_url, "evacuate", "--grid", "999999999999999", "--out", str(tmp_path / "x.csv")
    )
    assert run.returncode == 1 and "no current grid" in run.stderr
    run = wangge(database_url, "evacuate", "--close", "987654321", "--out", str(tmp_path / "x.csv"))
    assert run.returncode == 1
