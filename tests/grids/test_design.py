"""The grid designer: contiguous grids in the band that tile the community, and the command."""

from __future__ import annotations

import math
import subprocess
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text

import geopandas as gpd
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, box

from etl.grid_versions import save_grid_version
from etl.load import load_layers
from etl.sample import generate_district
from gis.store import grid_store
from grids.codes import generate_codes
from grids.design import (
    Design,
    DesignError,
    design_grids,
    measure,
    naive_square_grid,
    polsby_popper,
    street_blocks,
)
from tests.browser import chromium_available, open_page
from tests.conftest import empty_database, run_wangge

UTM = 32651  # UTM 51N, the sample district's zone
X0, Y0 = 219_600.0, 3_357_300.0  # south-west corner of the hand-made communities
TO_WGS = Transformer.from_crs(UTM, 4326, always_xy=True)
TO_UTM = Transformer.from_crs(4326, UTM, always_xy=True)


# ---------------------------------------------------------------- hand-made communities


def wgs(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(TO_WGS.transform(*xy.T)))


def metres(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda xy: np.column_stack(TO_UTM.transform(*xy.T)))


def square_community(
    n: int = 6, step: float = 200.0, households: np.ndarray | None = None, lanes: bool = False
) -> tuple[shapely.Geometry, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A square community of n × n street blocks of ``step`` metres, in EPSG:4326.

    Arterials on the boundary, branch roads between the blocks (each running 100 m past
    the community, as road data does), one building per block at its centre with
    ``households[row, col]`` households (row 0 is the south row), and optionally in
    every block a west–east lane that stops 10 m short of both branch roads.
    """
    side = n * step
    community = wgs(box(X0, Y0, X0 + side, Y0 + side))
    roads = []
    for i in range(n + 1):
        cls = "arterial" if i in (0, n) else "branch"
        x = X0 + i * step
        y = Y0 + i * step
        roads.append((cls, LineString([(x, Y0 - 100), (x, Y0 + side + 100)])))
        roads.append((cls, LineString([(X0 - 100, y), (X0 + side + 100, y)])))
    if lanes:
        for r in range(n):
            for c in range(n):
                y = Y0 + (r + 0.5) * step
                roads.append(
                    ("lane", LineString([(X0 + c * step + 10, y), (X0 + (c + 1) * step - 10, y)]))
                )
    road_gdf = gpd.GeoDataFrame(
        {"road_class": [c for c, _ in roads]},
        geometry=[wgs(g) for _, g in roads],
        crs=4326,
    )
    if households is None:
        households = np.full((n, n), 100)
    pts, hh = [], []
    for r in range(n):
        for c in range(n):
            # two buildings per block, north and south of a lane at mid-height
            for dy, share in ((0.3, 0.5), (0.7, 0.5)):
                pts.append(wgs(Point(X0 + (c + 0.5) * step, Y0 + (r + dy) * step)))
                hh.append(int(households[r, c] * share) + (households[r, c] % 2 if dy > 0.5 else 0))
    buildings = gpd.GeoDataFrame({"households": hh}, geometry=pts, crs=4326)
    return community, road_gdf, buildings


def uneven(n: int = 6, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(40, 160, size=(n, n))


def metric_geoms(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return np.asarray(gdf.to_crs(UTM).geometry.array, dtype=object)


def assert_tiles(design: Design, community: shapely.Geometry) -> None:
    """The grids cover the community exactly: same area (0.01 %), no overlaps (1 m²).

    In EPSG:4326, where both are stored, the union is the community to rounding error.
    """
    union = shapely.union_all(np.asarray(design.grids.geometry.array))
    assert shapely.symmetric_difference(union, community).area / community.area < 1e-9
    grids = metric_geoms(design.grids)
    area = metres(community).area
    union = shapely.union_all(grids)
    assert abs(union.area - area) / area < 1e-4
    assert shapely.symmetric_difference(union, metres(community)).area / area < 1e-4
    for a, b in combinations(range(len(grids)), 2):
        assert shapely.intersection(grids[a], grids[b]).area < 1.0, (a, b)


def assert_contiguous(design: Design) -> None:
    """Every grid is one polygon, and its blocks form one connected set."""
    for geom in design.grids.geometry:
        assert geom.geom_type == "Polygon", geom.geom_type
    blocks = design.blocks
    for g in range(len(design.grids)):
        mine = shapely.union_all(np.asarray(blocks[blocks["grid"] == g].geometry.array))
        assert mine.geom_type == "Polygon"


# ---------------------------------------------------------------- bricks


def test_street_blocks_follow_the_roads() -> None:
    community, roads, buildings = square_community(4)
    blocks = street_blocks(community, roads, buildings)
    assert len(blocks) == 16
    assert blocks["households"].sum() == buildings["households"].sum() == 1600
    np.testing.assert_allclose(blocks["area_m2"], 200.0 * 200.0, rtol=1e-3)
    np.testing.assert_allclose(blocks["perimeter_m"], 800.0, rtol=1e-3)
    assert blocks["major_block"].nunique() == 16


def test_lanes_that_stop_short_cut_blocks_unless_switched_off() -> None:
    community, roads, buildings = square_community(3, lanes=True)
    cut = street_blocks(community, roads, buildings)
    assert len(cut) == 18  # each block in a north and a south half
    assert cut["major_block"].nunique() == 9
    whole = street_blocks(community, roads, buildings, extend_dangles_m=0)
    assert len(whole) == 9


def test_a_road_along_the_boundary_leaves_no_sliver() -> None:
    community, roads, buildings = square_community(3)
    side = 600.0
    # a footpath 1.5 m inside the west edge, and a road drawn just off the south edge
    extra = gpd.GeoDataFrame(
        {"road_class": ["branch", "arterial"]},
        geometry=[
            wgs(LineString([(X0 + 1.5, Y0 - 50), (X0 + 1.5, Y0 + side + 50)])),
            wgs(LineString([(X0 - 50, Y0 + 0.3), (X0 + side + 50, Y0 - 0.2)])),
        ],
        crs=4326,
    )
    roads = gpd.GeoDataFrame(
        {"road_class": [*roads["road_class"], *extra["road_class"]]},
        geometry=[*roads.geometry, *extra.geometry],
        crs=4326,
    )
    blocks = street_blocks(community, roads, buildings)
    assert len(blocks) == 9
    assert (2 * blocks["area_m2"] / blocks["perimeter_m"]).min() > 6.0
    area = metres(community).area
    assert abs(blocks.to_crs(UTM).area.sum() - area) / area < 1e-4


# ---------------------------------------------------------------- the design


def test_grids_are_contiguous_in_band_and_tile_the_community() -> None:
    households = uneven()
    community, roads, buildings = square_community(6, households=households)
    design = design_grids(community, roads, buildings)
    total = int(households.sum())
    m = design.metrics
    assert math.ceil(total / 500) <= m.n_grids <= total // 300
    assert m.households == total == design.grids["households"].sum()
    assert m.share_in_band == 1.0
    assert design.grids["households"].between(300, 500).all()
    assert design.heavy_blocks == []
    assert_contiguous(design)
    assert_tiles(design, community)
    assert design.blocks["grid"].between(0, m.n_grids - 1).all()
    assert (design.grids["blocks"] == design.blocks["grid"].value_counts().sort_index()).all()


def test_grids_come_in_reading_order() -> None:
    community, roads, buildings = square_community(6, households=uneven())
    grids = design_grids(community, roads, buildings).grids
    codes = generate_codes("330106109001", grids.geometry.array)
    assert codes == [f"330106109001{i:03d}" for i in range(1, len(grids) + 1)]


def test_design_beats_the_naive_square_grid() -> None:
    community, roads, buildings = square_community(6, households=uneven(seed=3))
    design = design_grids(community, roads, buildings)
    naive = naive_square_grid(community, buildings, design.metrics.n_grids)
    assert naive.metrics.n_grids == design.metrics.n_grids
    assert naive.metrics.households == design.metrics.households
    assert design.metrics.households_std < naive.metrics.households_std
    assert design.metrics.share_in_band >= naive.metrics.share_in_band
    assert_tiles(naive, community)


def test_same_input_same_design() -> None:
    community, roads, buildings = square_community(6, households=uneven(seed=5), lanes=True)
    first = design_grids(community, roads, buildings)
    second = design_grids(community, roads, buildings)
    assert first.grids["households"].tolist() == second.grids["households"].tolist()
    assert first.blocks["grid"].tolist() == second.blocks["grid"].tolist()
    for a, b in zip(first.grids.geometry, second.grids.geometry, strict=True):
        assert a.equals_exact(b, tolerance=0)


def test_lanes_give_balance_where_whole_blocks_cannot() -> None:
    # 9 blocks of 210 households: no partition into whole blocks is in the band
    # (2 blocks: 420, 3 blocks: 630); halves of blocks (105 each) allow 4 × 420 + 1 × 210 …
    # and better: 5 grids of 378 on average
    households = np.full((3, 3), 210)
    community, roads, buildings = square_community(3, households=households, lanes=True)
    design = design_grids(community, roads, buildings)
    assert design.metrics.share_in_band == 1.0
    assert_contiguous(design)
    assert_tiles(design, community)
    whole = design_grids(community, roads, buildings, extend_dangles_m=0, split_blocks=False)
    assert whole.metrics.share_in_band < 1.0
    # without the lanes, cuts along the gap between each block's two buildings do the same
    gaps = design_grids(community, roads, buildings, extend_dangles_m=0)
    assert gaps.metrics.share_in_band == 1.0
    assert_tiles(gaps, community)


def test_a_block_heavier_than_the_band_is_a_grid_of_its_own() -> None:
    households = uneven(5, seed=7)
    households[2, 2] = 820  # a tower block in the middle: one building, it cannot be cut
    community, roads, buildings = square_community(5, households=households)
    tower = buildings["households"] == 410
    assert tower.sum() == 2
    buildings.loc[tower.idxmax(), "households"] = 820
    buildings = buildings.drop(index=tower[tower].index[1])
    design = design_grids(community, roads, buildings)
    assert len(design.heavy_blocks) == 1
    heavy = design.grids[design.grids["heavy"]]
    assert len(heavy) == 1 and heavy["households"].iloc[0] == 820 and heavy["blocks"].iloc[0] == 1
    assert any("820" in note for note in design.notes)
    others = design.grids[~design.grids["heavy"]]
    assert others["households"].between(300, 500).all()
    assert_contiguous(design)
    assert_tiles(design, community)


def test_target_count() -> None:
    community, roads, buildings = square_community(6, households=uneven())
    design = design_grids(community, roads, buildings, target_count=12)
    assert design.metrics.n_grids == 12
    assert_contiguous(design)
    assert_tiles(design, community)
    with pytest.raises(DesignError, match="only 36 street blocks"):
        design_grids(community, roads, buildings, target_count=40)


def test_bad_input_is_refused() -> None:
    community, roads, buildings = square_community(3)
    empty = buildings.assign(households=0)
    with pytest.raises(DesignError, match="no households"):
        design_grids(community, roads, empty)
    with pytest.raises(DesignError, match="band"):
        design_grids(community, roads, buildings, min_households=600, max_households=500)
    with pytest.raises(DesignError, match="households"):
        design_grids(community, roads, buildings.drop(columns="households"))


def test_no_roads_and_a_community_with_a_hole() -> None:
    outer = box(X0, Y0, X0 + 600, Y0 + 600)
    hole = box(X0 + 250, Y0 + 250, X0 + 350, Y0 + 350)  # an enclave of another community
    community = wgs(outer.difference(hole))
    _, roads, buildings = square_community(3)
    keep = shapely.covers(community, np.asarray(buildings.geometry.array))
    design = design_grids(community, roads, buildings[keep])
    assert_tiles(design, community)
    assert_contiguous(design)
    alone = design_grids(community, None, buildings[keep], split_blocks=False)
    assert alone.metrics.n_grids == 1 and len(alone.blocks) == 1
    # one street block of 800 households: cut between its buildings into two in the band
    cut = design_grids(community, None, buildings[keep])
    assert cut.grids["households"].tolist() == [400, 400]
    assert_tiles(cut, community)
    assert_contiguous(cut)


# ---------------------------------------------------------------- metrics and the baseline


def test_polsby_popper_and_measure() -> None:
    square = wgs(box(X0, Y0, X0 + 300, Y0 + 300))
    strip = wgs(box(X0, Y0, X0 + 900, Y0 + 100))
    pp = polsby_popper([square, strip])
    np.testing.assert_allclose(pp, [math.pi / 4, 4 * math.pi * 90_000 / 2000**2], rtol=1e-3)
    m = measure([square, strip, square], [300, 500, 700])
    assert (m.n_grids, m.households, m.households_min, m.households_max) == (3, 1500, 300, 700)
    assert m.households_std == pytest.approx(np.std([300, 500, 700]))
    assert m.share_in_band == pytest.approx(2 / 3)


def test_naive_square_grid_has_the_asked_count_and_tiles() -> None:
    community, _, buildings = square_community(6, households=uneven())
    for n in (1, 5, 9, 13):
        naive = naive_square_grid(community, buildings, n)
        assert naive.metrics.n_grids == n == len(naive.grids)
        assert naive.grids["households"].sum() == buildings["households"].sum()
        assert_tiles(naive, community)


# ---------------------------------------------------------------- against PostGIS

COMMUNITY = "330106109001"


@pytest.fixture(scope="module")
def sample_district(engine: Engine) -> Engine:
    empty_database(engine)
    load_layers(engine, generate_district(4000, 42, progress=False), progress=False)
    return engine


def test_design_a_sample_community_and_store_it(sample_district: Engine) -> None:
    engine = sample_district
    [community] = grid_store.communities(engine, COMMUNITY).itertuples()
    roads = grid_store.road_lines(engine, COMMUNITY)
    buildings = grid_store.building_points(engine, COMMUNITY)
    before = grid_store.current_grids(engine, COMMUNITY)
    total = int(buildings["households"].sum())

    design = design_grids(community.geom, roads, buildings)
    naive = naive_square_grid(community.geom, buildings, design.metrics.n_grids)
    current = measure(before.geometry.array, before["households"])
    assert design.metrics.households == naive.metrics.households == total
    assert design.metrics.households_std < naive.metrics.households_std
    assert design.metrics.share_in_band > naive.metrics.share_in_band
    assert design.metrics.share_in_band == 1.0
    # at least as good as the sample's own grids (whole estates, cut to the band)
    assert design.metrics.share_in_band >= current.share_in_band
    assert_contiguous(design)
    assert_tiles(design, community.geom)

    report = save_grid_version(engine, COMMUNITY, design.grids[["geometry"]], progress=False)
    after = grid_store.current_grids(engine, COMMUNITY)
    assert set(after["id"]).isdisjoint(before["id"])
    assert sorted(after["code"]) == sorted(report.codes)
    assert after["households"].tolist() == design.grids["households"].tolist()
    with engine.connect() as conn:
        retired = conn.execute(
            text("SELECT count(*) FROM grid WHERE id = ANY(:ids) AND valid_to IS NOT NULL"),
            {"ids": [int(i) for i in before["id"]]},
        ).scalar_one()
        lineage = conn.execute(
            text("SELECT count(*) FROM grid_lineage WHERE new_grid_id = ANY(:ids)"),
            {"ids": [int(i) for i in after["id"]]},
        ).scalar_one()
    assert retired == len(before)
    assert lineage >= len(after)
    placed = grid_store.building_points(engine, COMMUNITY)
    assert placed["grid_id"].notna().all()
    assert set(placed["grid_id"].astype(int)) <= set(after["id"])


# ---------------------------------------------------------------- the command


def wangge_design(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_wangge(database_url, "grids", "design", *args)


def test_command_compares_writes_the_map_and_saves(
    database_url: str, sample_district: Engine, tmp_path: Path
) -> None:
    community = "330106109002"
    before = grid_store.current_grids(sample_district, community)
    out = tmp_path / "design.html"
    dry = wangge_design(database_url, "--community", community, "--map-out", str(out))
    assert dry.returncode == 0, dry.stderr[-2000:]
    for word in ("current", "designed", "naive square", "Polsby-Popper", "in band"):
        assert word in dry.stdout, dry.stdout
    assert "dry run" in dry.stderr
    assert out.exists() and "wangge-design-after" in out.read_text(encoding="utf-8")
    if chromium_available():  # the file works opened from disk, with no server
        with open_page(out.as_uri()) as (page, log):
            page.wait_for_function(
                "() => (document.querySelectorAll('path.wangge-design-after').length > 0)"
            )
            assert page.locator("path.wangge-design-before-outline").count() == len(before)
            assert log.page_errors == [] and log.local_failures() == []
    assert grid_store.current_grids(sample_district, community)["id"].tolist() == (
        before["id"].tolist()
    )

    saved = wangge_design(database_url, "--community", community, "--save", "--count", "5")
    assert saved.returncode == 0, saved.stderr[-2000:]
    after = grid_store.current_grids(sample_district, community)
    assert len(after) == 5 and set(after["id"]).isdisjoint(before["id"])
    assert ", ".join(sorted(after["code"])) in saved.stdout


def test_command_refuses_unknown_and_empty_communities(
    database_url: str, sample_district: Engine
) -> None:
    unknown = wangge_design(database_url, "--community", "330106109099")
    assert unknown.returncode == 1
    assert "no community with code 330106109099" in unknown.stderr
    with sample_district.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO admin_area (code, name, level, parent_id, geom)
            SELECT '330106109098', '空社区', 'community', parent_id,
                   ST_Multi(ST_Translate(geom, 0.05, 0))
            FROM admin_area WHERE code = :c"""),
            {"c": COMMUNITY},
        )
    empty = wangge_design(database_url, "--community", "330106109098")
    assert empty.returncode == 1
    assert "no households" in empty.stderr
