"""The designer on sparse street networks: superblocks cut between buildings, never worse
than the square lattice it is compared with, and a save refused when it would be."""

from __future__ import annotations

import subprocess

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

import geopandas as gpd
import shapely
from shapely.geometry import LineString, box

from etl.load import load_layers
from gis.store import grid_store
from grids.design import Design, design_grids, measure, naive_square_grid
from tests.conftest import SHARED_DATA, run_wangge
from tests.grids.test_design import (
    UTM,
    X0,
    Y0,
    assert_contiguous,
    assert_tiles,
    square_community,
    wgs,
)

NANJING = SHARED_DATA / "nanjing-xinjiekou" / "nanjing_xinjiekou.osm"
UTM50 = 32650  # Nanjing, 118.8° E
M2_PER_HOUSEHOLD = 150.0
"""Floor area per household when households are synthesised from footprints (m²)."""


# ---------------------------------------------------------------- a superblock


def superblock(
    width: float = 800.0, height: float = 500.0, strip_blocks: int = 0, seed: int = 0
) -> tuple[shapely.Geometry, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A community with roads on its boundary only, and estates of slab buildings inside.

    Estates of 200 × 250 m hold rows of 40 × 12 m slabs 30 m apart; every other row is
    shifted by 20 m, so that a straight line finds no gap across a whole estate.  Each
    slab holds 12–39 households.  With ``strip_blocks``, a branch road 100 m inside the
    north edge and short roads across the strip cut it into that many small blocks, each
    with one building of 30 households.  EPSG:4326, from UTM 51N.
    """
    rng = np.random.default_rng(seed)
    community = wgs(box(X0, Y0, X0 + width, Y0 + height))
    lines = [
        LineString([(X0 - 100, Y0), (X0 + width + 100, Y0)]),
        LineString([(X0 - 100, Y0 + height), (X0 + width + 100, Y0 + height)]),
        LineString([(X0, Y0 - 100), (X0, Y0 + height + 100)]),
        LineString([(X0 + width, Y0 - 100), (X0 + width, Y0 + height + 100)]),
    ]
    classes = ["arterial"] * 4
    top = Y0 + height
    slabs: list[shapely.Geometry] = []
    households: list[int] = []
    if strip_blocks:
        top -= 100.0
        # roads run on past the lines they meet, as road data does
        lines.append(LineString([(X0 - 100, top), (X0 + width + 100, top)]))
        classes.append("branch")
        step = width / strip_blocks
        for i in range(strip_blocks):
            if i:
                x = X0 + i * step
                lines.append(LineString([(x, top - 1), (x, Y0 + height + 100)]))
                classes.append("branch")
            x = X0 + (i + 0.5) * step
            slabs.append(box(x - 10, top + 40, x + 10, top + 60))
            households.append(30)
    for ex in np.arange(X0, X0 + width, 200.0):
        for ey in np.arange(Y0, top - 1.0, 250.0):
            for r, y in enumerate(np.arange(ey + 20.0, min(ey + 250.0, top) - 20.0, 30.0)):
                for x in np.arange(ex + 15.0 + 20.0 * (r % 2), ex + 185.0 - 40.0, 55.0):
                    jx, jy = rng.uniform(-3, 3, 2)
                    slabs.append(box(x + jx, y + jy, x + jx + 40.0, y + jy + 12.0))
                    households.append(int(rng.integers(12, 40)))
    roads = gpd.GeoDataFrame({"road_class": classes}, geometry=[wgs(g) for g in lines], crs=4326)
    buildings = gpd.GeoDataFrame(
        {"households": households}, geometry=[wgs(g) for g in slabs], crs=4326
    )
    return community, roads, buildings


def footprint_shares(design: Design, buildings: gpd.GeoDataFrame, crs: int = UTM) -> np.ndarray:
    """For each footprint, the share of its area in the grid that holds most of it."""
    grids = design.grids.to_crs(crs).geometry.to_numpy()
    shapes = buildings.to_crs(crs).geometry.to_numpy()
    tree = shapely.STRtree(grids)
    fp, gi = tree.query(shapes, predicate="intersects")
    area = shapely.area(shapely.intersection(shapes[fp], grids[gi]))
    best = np.zeros(len(shapes))
    np.maximum.at(best, fp, area)
    return best / shapely.area(shapes)


def test_a_superblock_is_cut_between_its_buildings() -> None:
    community, roads, buildings = superblock()
    total = int(buildings["households"].sum())
    design = design_grids(community, roads, buildings)
    naive = naive_square_grid(community, buildings, design.metrics.n_grids)
    m = design.metrics
    assert m.households == naive.metrics.households == total
    assert m.share_in_band == 1.0 and m.worst_deviation == 0
    assert m.quality() <= naive.metrics.quality()
    assert m.worse_than(naive.metrics) is None
    assert design.heavy_blocks == []
    assert any("cut between their buildings" in note for note in design.notes)
    assert_contiguous(design)
    assert_tiles(design, community)
    # no grid boundary crosses a building: each footprint lies in one grid
    assert footprint_shares(design, buildings).min() > 1 - 1e-6

    # street blocks alone: the whole community is one grid far above the band
    whole = design_grids(community, roads, buildings, split_blocks=False)
    assert whole.metrics.n_grids == 1
    assert whole.metrics.worst_deviation == total - 500


def test_a_block_too_light_beside_a_tower_joins_it() -> None:
    # a 3 × 3 block community: towers (one building each) in two blocks around the
    # south-west corner cut that corner block (4 households) off from the rest
    households = np.full((3, 3), 400)
    households[0, 0] = 4
    households[0, 1] = households[1, 0] = 900
    community, roads, buildings = square_community(3, households=households)
    for r, c in ((0, 1), (1, 0)):
        first = (r * 3 + c) * 2
        buildings.loc[first, "households"] = 900
        buildings = buildings.drop(index=first + 1)
    design = design_grids(community, roads, buildings)
    grids = design.grids
    assert sorted(grids["households"]) == [400] * 6 + [900, 904]
    assert grids["heavy"].sum() == 2
    assert any("4 households, cut off by heavy blocks, joined" in n for n in design.notes)
    assert_contiguous(design)
    assert_tiles(design, community)


def test_worse_than_compares_share_then_worst_miss() -> None:
    square = wgs(box(X0, Y0, X0 + 100, Y0 + 100))
    m = measure([square] * 4, [400, 400, 900, 4])
    lattice = measure([square] * 4, [400, 400, 400, 600])
    assert (m.share_in_band, m.worst_deviation) == (0.5, 400)
    assert m.worse_than(lattice) == "50% of grids in the band 300–500 against 75%"
    assert lattice.worse_than(m) is None
    same_share = measure([square] * 4, [400, 400, 400, 520])
    assert "misses it by 100 households against 20" in (lattice.worse_than(same_share) or "")
    assert m.worse_than(m) is None


# ---------------------------------------------------------------- central Nanjing


def nanjing() -> tuple[list[shapely.Geometry], gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Communities (faces of the arterial roads with at least 1,000 households), roads
    and buildings of the Nanjing extract.

    Households are synthesised per building: footprint area × floors
    (``building:levels``, 6 when absent) / :data:`M2_PER_HOUSEHOLD`, rounded.
    """
    import osmium

    from etl.network_import import road_class
    from etl.osm import read_osm_roads

    _, edges = read_osm_roads(NANJING)
    roads = edges.assign(road_class=road_class(edges["road_class"]))
    shapes, levels = [], []
    wkb = osmium.geom.WKBFactory()
    source = osmium.FileProcessor(str(NANJING)).with_areas()
    for obj in source.with_filter(osmium.filter.KeyFilter("building")):
        if isinstance(obj, osmium.osm.Area):
            shapes.append(shapely.from_wkb(wkb.create_multipolygon(obj)))
            levels.append(obj.tags.get("building:levels"))
    floors = pd.to_numeric(pd.Series(levels), errors="coerce").fillna(6).clip(1, 60)
    buildings = gpd.GeoDataFrame(geometry=shapes, crs=4326)
    area = buildings.to_crs(UTM50).area.to_numpy()
    buildings["households"] = np.round(area * floors.to_numpy() / M2_PER_HOUSEHOLD).astype(int)
    arterial = roads[roads["road_class"] == "arterial"].geometry.to_numpy()
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.union_all(arterial))))
    points = shapely.point_on_surface(buildings.geometry.to_numpy())
    communities = [
        f for f in faces if buildings["households"][shapely.contains(f, points)].sum() >= 1000
    ]
    return communities, roads, buildings


@pytest.mark.realdata
@pytest.mark.skipif(not NANJING.exists(), reason=f"Nanjing extract absent: {NANJING}")
def test_nanjing_designs_are_no_worse_than_the_lattice() -> None:
    communities, roads, buildings = nanjing()
    assert len(communities) >= 4
    points = shapely.point_on_surface(buildings.geometry.to_numpy())
    better = 0
    for community in communities:
        mine = buildings[shapely.contains(community, points)]
        near = roads[shapely.intersects(roads.geometry.to_numpy(), community)]
        design = design_grids(community, near, mine)
        naive = naive_square_grid(community, mine, design.metrics.n_grids)
        assert design.metrics.households == int(mine["households"].sum())
        assert design.metrics.worse_than(naive.metrics) is None, design.metrics
        better += design.metrics.share_in_band > naive.metrics.share_in_band
        assert_contiguous(design)
        assert_tiles(design, community)
        # a footprint is split only where a road runs through it, never by a cut
        crossed = mine[footprint_shares(design, mine, UTM50) < 1 - 1e-9].to_crs(UTM50)
        edges = shapely.union_all(shapely.boundary(design.grids.to_crs(UTM50).geometry))
        along = shapely.buffer(shapely.union_all(near.to_crs(UTM50).geometry), 0.01)
        for shape in crossed.geometry:
            assert shapely.covered_by(shapely.intersection(edges, shape.buffer(-0.001)), along)
    assert better >= len(communities) - 1


# ---------------------------------------------------------------- the command


COMMUNITY = "330106109001"


@pytest.fixture(scope="module")
def sparse_district(engine: Engine) -> Engine:
    """One community: a superblock with a strip of eight small blocks along its north."""
    community, roads, buildings = superblock(strip_blocks=8, seed=1)
    outline = shapely.MultiPolygon([community])
    admin = gpd.GeoDataFrame(
        {
            "code": ["330106", "330106109", COMMUNITY],
            "name": ["西湖区", "三墩镇", "超大街区社区"],
            "level": ["district", "street", "community"],
            "parent_code": [None, "330106", "330106109"],
        },
        geometry=[outline] * 3,
        crs=4326,
    )
    building = gpd.GeoDataFrame(
        {"id": np.arange(1, len(buildings) + 1), "floors": 6},
        geometry=[shapely.MultiPolygon([g]) for g in buildings.geometry],
        crs=4326,
    )
    n = buildings["households"].to_numpy()
    household = pd.DataFrame(
        {
            "id": np.arange(1, n.sum() + 1),
            "building_id": np.repeat(building["id"].to_numpy(), n),
            "unit": 1,
            "room": [str(i) for i in range(n.sum())],
            "size": 2,
        }
    )
    ends = shapely.get_coordinates(shapely.boundary(roads.geometry.to_numpy()))
    xy, node_of = np.unique(ends, axis=0, return_inverse=True)
    road_node = gpd.GeoDataFrame(
        {"id": np.arange(1, len(xy) + 1)}, geometry=shapely.points(xy), crs=4326
    )
    road_edge = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(roads) + 1),
            "source": node_of.reshape(-1, 2)[:, 0] + 1,
            "target": node_of.reshape(-1, 2)[:, 1] + 1,
            "road_class": roads["road_class"],
            "length_m": roads.to_crs(UTM).length,
        },
        geometry=roads.geometry,
        crs=4326,
    )
    layers = {
        "admin_area": admin,
        "building": building,
        "household": household,
        "road_node": road_node,
        "road_edge": road_edge,
    }
    load_layers(engine, layers, replace=True, progress=False)
    return engine


def wangge_design(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_wangge(database_url, "grids", "design", "--community", COMMUNITY, *args)


def test_a_design_worse_than_the_lattice_is_saved_only_with_force(
    database_url: str, sparse_district: Engine
) -> None:
    before = grid_store.current_grids(sparse_district, COMMUNITY)
    # street blocks only, and one grid per block: the superblock is one grid of
    # thousands of households and the strip eight grids of 30, where a lattice of nine
    # squares cuts the superblock into grids in the band
    bad = ("--whole-blocks", "--count", "9")
    refused = wangge_design(database_url, *bad, "--save")
    assert refused.returncode == 1, refused.stdout[-2000:]
    assert "naive square 方格" in refused.stdout  # the lattice is printed beside it
    message = " ".join(refused.stderr.split())
    assert "warning: the design is worse than the naive square lattice" in message
    assert "not saving a design worse than the naive square lattice" in message
    assert "0% of grids in the band 300–500 against" in message
    assert "Nothing was stored" in message and "add --force to store this design anyway" in message
    after = grid_store.current_grids(sparse_district, COMMUNITY)
    assert after["id"].tolist() == before["id"].tolist()

    forced = wangge_design(database_url, *bad, "--save", "--force")
    assert forced.returncode == 0, forced.stderr[-2000:]
    stored = grid_store.current_grids(sparse_district, COMMUNITY)
    assert sorted(stored["households"])[:8] == [30] * 8  # the strip's blocks
    assert stored["households"].max() > 5 * 500  # the superblock

    # the designer's own design (blocks cut between buildings) needs no --force
    saved = wangge_design(database_url, "--save")
    assert saved.returncode == 0, saved.stderr[-2000:]
    assert "worse than" not in saved.stderr
    stored = grid_store.current_grids(sparse_district, COMMUNITY)
    assert stored["households"].between(300, 500).all()
    assert set(stored["id"]).isdisjoint(set(before["id"]))
