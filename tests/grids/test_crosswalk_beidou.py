"""The grid ↔ 北斗 crosswalk: the same shares and conservation as with H3, on 北斗 cells."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shapely
from pyproj import Transformer
from shapely.geometry import box

from etl.synthetic_grids import district_grids
from grids import beidou
from grids.beidou.cover import cover
from grids.crosswalk import (
    CROSSWALK_COLUMNS,
    CrosswalkError,
    build_crosswalk,
    cells_to_grids,
    grids_to_cells,
)
from grids.locate import locate_points

UTM51 = Transformer.from_crs(4326, 32651, always_xy=True)


def area_m2(geom) -> float:
    return shapely.transform(geom, lambda xy: np.column_stack(UTM51.transform(*xy.T))).area


@pytest.fixture(scope="module")
def district():
    grids, _ = district_grids(40, size_m=2_500.0, seed=3)
    x0, y0, x1, y1 = grids.total_bounds
    rng = np.random.default_rng(2)
    households = pd.DataFrame(
        {"lon": rng.uniform(x0, x1, 4_000), "lat": rng.uniform(y0, y1, 4_000)}
    )
    return grids, households


def test_shares_sum_to_one_and_areas_add_up(district) -> None:
    grids, households = district
    cw = build_crosswalk(grids, 5, households, system="beidou")
    assert tuple(cw.columns) == CROSSWALK_COLUMNS
    assert cw.attrs["system"] == "beidou" and cw.attrs["resolution"] == 5
    assert (beidou.levels_of(cw["cell"].to_numpy()) == 5).all()
    by_cell = cw.groupby("cell")[["area_share", "household_share"]].sum()
    by_grid = cw.groupby("grid_id")[["grid_area_share", "grid_household_share"]].sum()
    assert np.allclose(by_cell, 1.0) and np.allclose(by_grid, 1.0)
    own = grids.to_crs(32651).set_index("grid_id").area
    assert np.allclose(cw.groupby("grid_id")["area_m2"].sum().reindex(own.index), own, rtol=1e-3)
    located = locate_points(households["lon"], households["lat"], grids.geometry.to_numpy())
    assert cw["households"].sum() == (located != -1).sum()
    # every cell of a grid is a cell the 北斗 cover finds for it, and no other
    first = grids.iloc[0]
    assert set(cw.loc[cw["grid_id"] == first["grid_id"], "cell"]) <= set(
        cover(first.geometry, 5).tolist()
    )
    # a household's cell is the 北斗 cell of its point
    cells = beidou.encode(households["lon"], households["lat"], 5)
    inside = located != -1
    per_cell = pd.Series(1.0, index=cells[inside]).groupby(level=0).sum()
    assert cw.groupby("cell")["households"].sum().loc[per_cell.index].tolist() == (
        per_cell.tolist()
    )


def test_totals_are_conserved_both_ways(district) -> None:
    grids, households = district
    cw = build_crosswalk(grids, 5, households, system="beidou")
    cells = cw["cell"].unique()
    rng = np.random.default_rng(3)
    values = pd.Series(rng.integers(0, 40, cells.size).astype(float), index=cells)
    for weight in ("area", "households"):
        per_grid = cells_to_grids(values, cw, weight)
        assert per_grid.sum() == pytest.approx(values.sum())
        back = grids_to_cells(per_grid, cw, weight)
        assert back.sum() == pytest.approx(values.sum())


def test_a_cell_cut_by_a_grid_edge_splits_by_area() -> None:
    cell = int(beidou.encode([120.1], [30.3], 5)[0])
    b = beidou.decode([cell])
    w, s, e, n = float(b.west[0]), float(b.south[0]), float(b.east[0]), float(b.north[0])
    cut = w + 0.3 * (e - w)
    import geopandas as gpd

    grids = gpd.GeoDataFrame(
        {"grid_id": ["W", "E"]},
        geometry=[box(w - 0.01, s - 0.01, cut, n + 0.01), box(cut, s - 0.01, e + 0.01, n + 0.01)],
        crs=4326,
    )
    cw = build_crosswalk(grids, 5, system="beidou")
    row = cw[cw["cell"] == cell].set_index("grid_id")
    west = area_m2(box(w, s, cut, n))
    east = area_m2(box(cut, s, e, n))
    assert row.loc["W", "area_share"] == pytest.approx(west / (west + east), rel=1e-6)
    given = pd.DataFrame({"cell": [cell, cell, cell], "grid_id": ["W", "E", "E"]})
    cw2 = build_crosswalk(grids, 5, given, system="beidou")
    assert cw2[cw2["cell"] == cell].set_index("grid_id").loc["E", "household_share"] == (
        pytest.approx(2 / 3)
    )
    with pytest.raises(CrosswalkError, match="level 5"):
        build_crosswalk(
            grids, 5, given.assign(cell=beidou.parent(given["cell"], 4)), system="beidou"
        )
    with pytest.raises(CrosswalkError, match="system"):
        build_crosswalk(grids, 5, system="s2")  # type: ignore[arg-type]
