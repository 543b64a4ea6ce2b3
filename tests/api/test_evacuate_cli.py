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
from gis.coords import local_metric_crs_for
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


def test_a_typhoon_in_force_empties_the_shelters_inside_it(
    district: dict, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    before = tmp_path / "before.geojson"
    assert wangge(database_url, "evacuate", "--out", str(before)).returncode == 0
    used = gpd.read_file(before)
    busiest = int(used.loc[used["shelter_id"] >= 0, "shelter_id"].value_counts().index[0])
    shelters = gpd.read_postgis(
        "SELECT f.id, f.geom FROM facility f JOIN shelter s ON s.facility_id = f.id",
        engine,
        geom_col="geom",
    )
    # a typhoon drawn over the shelter most households walk to, from a bureau's file
    point = shelters.loc[shelters["id"] == busiest, "geom"].iloc[0]
    crs = local_metric_crs_for(point)
    there = gpd.GeoSeries([point], crs=4326).to_crs(crs).iloc[0]
    area = gpd.GeoSeries([shapely.box(*there.buffer(60).bounds)], crs=crs).to_crs(4326)
    path = tmp_path / "typhoon.geojson"
    gpd.GeoDataFrame({"name": ["台风测试"]}, geometry=area).to_file(path, driver="GeoJSON")
    stored = wangge(
        database_url, "hazard", "import", str(path), "--kind", "typhoon", "--severity", "3"
    )
    assert stored.returncode == 0, stored.stderr[-2000:]
    hazard_id = int(stored.stdout.strip().splitlines()[-1])
    try:
        band = area.iloc[0]
        inside = set(shelters.loc[shelters.intersects(band), "id"])
        assert inside == {busiest}
        after = tmp_path / "after.geojson"
        run = wangge(database_url, "evacuate", "--out", str(after))
        assert run.returncode == 0, run.stderr[-2000:]
        plan = gpd.read_file(after)
        assert len(plan) == len(used)
        assert not plan["shelter_id"].isin(inside).any()
        assert f"hazard {hazard_id} in force: 台风测试" in run.stderr
        assert f"1 shelter(s) inside the hazard area left out [{busiest}]" in run.stderr
        routed = plan[plan["status"] == "assigned"]
        assert len(routed) > 0
        core = band.buffer(-1e-6)
        for row in routed.itertuples():
            coords = row.geometry.coords
            # outside the typhoon a route never enters it; inside, only the walk out does
            start_inside = band.covers(shapely.Point(coords[0]))
            rest = shapely.LineString(coords[1:] if start_inside else coords)
            assert not rest.intersects(core), row.household_id
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM hazard_area WHERE id = :id"), {"id": hazard_id})


def test_shelters_without_a_responsibility_zone_are_planned_for(
    district: dict, database_url: str, engine: Engine, tmp_path: Path
) -> None:
    """The trial: a shelter imported from a list has no zone, the others do; evacuate crashed."""
    with engine.begin() as conn:
        zones = conn.execute(
            text("SELECT facility_id, zone FROM shelter ORDER BY facility_id LIMIT 1")
        ).all()
        conn.execute(
            text("UPDATE shelter SET zone = NULL WHERE facility_id = :f"), {"f": zones[0][0]}
        )
    try:
        out = tmp_path / "list.geojson"
        run = wangge(database_url, "evacuate", "--out", str(out))
        assert run.returncode == 0, run.stderr[-2000:]
        assert (gpd.read_file(out)["status"] == "assigned").any()
    finally:
        with engine.begin() as conn:
            for facility_id, zone in zones:
                conn.execute(
                    text("UPDATE shelter SET zone = :z WHERE facility_id = :f"),
                    {"z": zone, "f": facility_id},
                )
