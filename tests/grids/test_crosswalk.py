"""The grid ↔ H3 crosswalk splits counts by area or households and conserves totals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import h3
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

from etl.synthetic_grids import district_grids
from grids.crosswalk import (
    CROSSWALK_COLUMNS,
    CrosswalkError,
    build_crosswalk,
    cells_to_grids,
    grids_to_cells,
)
from grids.locate import h3_cells, locate_points

LON0, LAT0 = 120.1, 30.3
UTM51 = Transformer.from_crs(4326, 32651, always_xy=True)


def frame(geoms, ids=None) -> gpd.GeoDataFrame:
    ids = ids or [f"G{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"grid_id": ids}, geometry=list(geoms), crs=4326)


def cell_polygon(cell: int) -> Polygon:
    """The cell's polygon from h3-py (independent of the code under test), lon/lat."""
    return Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))])


def area_m2(geom) -> float:
    return shapely.transform(geom, lambda xy: np.column_stack(UTM51.transform(*xy.T))).area


@pytest.fixture(scope="module")
def split_cell():
    """A resolution-10 cell cut by a north-south line 30 % of the way across it."""
    cell = int(h3_cells([LON0], [LAT0], 10)[0])
    poly = cell_polygon(cell)
    x0, y0, x1, y1 = poly.bounds
    cut = x0 + 0.3 * (x1 - x0)
    west = box(x0 - 0.01, y0 - 0.01, cut, y1 + 0.01)
    east = box(cut, y0 - 0.01, x1 + 0.01, y1 + 0.01)
    return cell, poly, cut, frame([west, east], ["W", "E"])


def test_columns_and_shares_sum_to_one():
    grids, _ = district_grids(40, size_m=2_500.0, seed=3)
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(0)
    households = pd.DataFrame(
        {"lon": rng.uniform(x0, x1, 5_000), "lat": rng.uniform(y0, y1, 5_000)}
    )
    cw = build_crosswalk(grids, 10, households)
    assert tuple(cw.columns) == CROSSWALK_COLUMNS and cw["cell"].dtype == np.int64
    assert cw.attrs["resolution"] == 10
    by_cell = cw.groupby("cell")[["area_share", "household_share"]].sum()
    by_grid = cw.groupby("grid_id")[["grid_area_share", "grid_household_share"]].sum()
    assert np.allclose(by_cell, 1.0) and np.allclose(by_grid, 1.0)
    assert set(cw["grid_id"]) == set(grids["grid_id"])
    # grid areas add up to the grids' own areas (UTM), to well under 0.1 %
    own = grids.to_crs(32651).set_index("grid_id").area
    assert np.allclose(cw.groupby("grid_id")["area_m2"].sum().reindex(own.index), own, rtol=1e-3)
    located = locate_points(households["lon"], households["lat"], grids.geometry.to_numpy())
    assert cw["households"].sum() == (located != -1).sum()  # those in no grid are left out


def test_totals_are_conserved_both_ways():
    grids, _ = district_grids(40, size_m=2_500.0, seed=3)
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(1)
    households = pd.DataFrame(
        {"lon": rng.uniform(x0, x1, 3_000), "lat": rng.uniform(y0, y1, 3_000)}
    )
    cw = build_crosswalk(grids, 10, households)
    cells = cw["cell"].unique()
    values = pd.Series(rng.integers(0, 50, cells.size).astype(float), index=cells)
    for weight in ("area", "households"):
        per_grid = cells_to_grids(values, cw, weight)
        assert per_grid.sum() == pytest.approx(values.sum())
        assert set(per_grid.index) == set(grids["grid_id"])
        back = grids_to_cells(per_grid, cw, weight)
        assert back.sum() == pytest.approx(values.sum())
        assert set(back.index) == set(cells)
    both = pd.DataFrame({"a": values, "b": 2 * values})
    per_grid = cells_to_grids(both, cw)
    assert per_grid.sum().tolist() == pytest.approx([values.sum(), 2 * values.sum()])


def test_a_split_cell_splits_its_count_by_area(split_cell):
    cell, poly, _, grids = split_cell
    cw = build_crosswalk(grids, 10)
    row = cw[cw["cell"] == cell].set_index("grid_id")
    west_m2 = area_m2(poly.intersection(grids.geometry[0]))
    east_m2 = area_m2(poly.intersection(grids.geometry[1]))
    share_w = west_m2 / (west_m2 + east_m2)
    assert 0.1 < share_w < 0.4
    assert row.loc["W", "area_share"] == pytest.approx(share_w, rel=1e-6)
    assert row.loc["W", "area_m2"] == pytest.approx(west_m2, rel=1e-6)
    assert row.loc["W", "cell_coverage"] == pytest.approx(1.0)
    per_grid = cells_to_grids(pd.Series({cell: 100.0}), cw)
    assert per_grid["W"] == pytest.approx(100 * share_w, rel=1e-6)
    assert per_grid["E"] == pytest.approx(100 * (1 - share_w), rel=1e-6)


def test_a_split_cell_splits_by_households_when_asked(split_cell):
    cell, poly, cut, grids = split_cell
    c = poly.centroid
    # three households west of the cut, one east, all inside the cell
    lon = [cut - 1e-5, cut - 2e-5, cut - 3e-5, c.x + 1e-5]
    lat = [c.y, c.y + 1e-5, c.y - 1e-5, c.y]
    assert (h3_cells(lon, lat, 10) == cell).all()
    cw = build_crosswalk(grids, 10, pd.DataFrame({"lon": lon, "lat": lat}))
    row = cw[cw["cell"] == cell].set_index("grid_id")
    assert row.loc["W", "household_share"] == pytest.approx(0.75)
    assert row.loc["E", "household_share"] == pytest.approx(0.25)
    per_grid = cells_to_grids(pd.Series({cell: 100.0}), cw, "households")
    assert per_grid["W"] == pytest.approx(75.0) and per_grid["E"] == pytest.approx(25.0)
    # a household count column weighs rows; cells with no households use area shares
    counted = pd.DataFrame({"lon": lon, "lat": lat, "n": [1, 1, 1, 5]})
    cw2 = build_crosswalk(grids, 10, counted, count="n")
    row2 = cw2[cw2["cell"] == cell].set_index("grid_id")
    assert row2.loc["W", "household_share"] == pytest.approx(3 / 8)
    empty = cw2[cw2["households"].groupby(cw2["cell"]).transform("sum") == 0]
    assert len(empty) and np.allclose(empty["household_share"], empty["area_share"])


def test_placed_households_can_be_given_by_cell_and_grid(split_cell):
    cell, _, _, grids = split_cell
    given = pd.DataFrame({"cell": [cell, cell, cell], "grid_id": ["W", "E", "E"]})
    cw = build_crosswalk(grids, 10, given)
    row = cw[cw["cell"] == cell].set_index("grid_id")
    assert row.loc["E", "household_share"] == pytest.approx(2 / 3)
    wrong = pd.DataFrame({"cell": h3_cells([LON0], [LAT0], 9), "grid_id": ["W"]})
    with pytest.raises(CrosswalkError, match="resolution 10"):
        build_crosswalk(grids, 10, wrong)
    with pytest.raises(CrosswalkError, match="lon/lat"):
        build_crosswalk(grids, 10, pd.DataFrame({"x": [1.0]}))


def test_cells_at_the_district_edge_go_wholly_to_the_grids_they_meet():
    m_lat = 1 / 111_320.0
    m_lon = m_lat / math.cos(math.radians(LAT0))
    district = box(LON0, LAT0, LON0 + 1000 * m_lon, LAT0 + 1000 * m_lat)
    cw = build_crosswalk(frame([district]), 10)
    edge = cw[cw["cell_coverage"] < 0.999]
    assert len(edge) > 0 and (edge["cell_coverage"] > 0).all()
    assert np.allclose(edge["area_share"], 1.0)
    per_grid = cells_to_grids(pd.Series(1.0, index=cw["cell"].to_numpy()), cw)
    assert per_grid["G0"] == pytest.approx(len(cw))


def test_values_outside_the_crosswalk_are_refused_unless_dropped(split_cell):
    cell, _, _, grids = split_cell
    cw = build_crosswalk(grids, 10)
    far = int(h3_cells([LON0 + 1], [LAT0], 10)[0])
    values = pd.Series({cell: 10.0, far: 5.0})
    with pytest.raises(CrosswalkError, match="outside='drop'"):
        cells_to_grids(values, cw)
    assert cells_to_grids(values, cw, outside="drop").sum() == pytest.approx(10.0)
    assert cells_to_grids(pd.Series({cell: 10.0, far: 0.0}), cw).sum() == pytest.approx(10.0)
    with pytest.raises(CrosswalkError):
        grids_to_cells(pd.Series({"W": 1.0, "nowhere": 2.0}), cw)
    with pytest.raises(CrosswalkError, match="weight"):
        cells_to_grids(values, cw, "people")  # type: ignore[arg-type]


def test_bad_grid_frames_are_refused():
    square = box(LON0, LAT0, LON0 + 0.01, LAT0 + 0.01)
    with pytest.raises(CrosswalkError, match="EPSG:4326"):
        build_crosswalk(frame([square]).to_crs(3857), 10)
    with pytest.raises(CrosswalkError, match="repeat"):
        build_crosswalk(frame([square, square], ["A", "A"]), 10)
    with pytest.raises(CrosswalkError, match="code"):
        build_crosswalk(frame([square]), 10, grid_id="code")
