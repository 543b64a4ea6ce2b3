"""The locator answers exactly what shapely's ``covers`` answers, ties to the first grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geopandas as gpd
import h3
import shapely
import shapely.affinity
from shapely.geometry import MultiPolygon, Polygon, box

from etl.synthetic_grids import district_grids
from grids.locate import (
    CELL_MARGIN_DEG,
    NO_GRID,
    BatchLocator,
    GridLocator,
    cover_cells,
    h3_cells,
    locate_points,
    representative_points,
)

LON0, LAT0 = 120.1, 30.3
M_LAT = 1 / 111_320.0  # degrees of latitude per metre
M_LON = M_LAT / math.cos(math.radians(LAT0))


def covers_oracle(grids, lon, lat) -> np.ndarray:
    """Smallest i with shapely.covers(grids[i], point), else -1: the definition."""
    points = shapely.points(np.asarray(lon, float), np.asarray(lat, float))
    out = np.full(len(points), NO_GRID, dtype=np.int64)
    for i, grid in enumerate(grids):
        if grid is None:
            continue
        hit = (out == NO_GRID) & shapely.covers(grid, points)
        out[hit] = i
    return out


def rect(x0_m: float, y0_m: float, x1_m: float, y1_m: float) -> Polygon:
    """A rectangle given in metres east/north of (LON0, LAT0)."""
    return box(LON0 + x0_m * M_LON, LAT0 + y0_m * M_LAT, LON0 + x1_m * M_LON, LAT0 + y1_m * M_LAT)


def h3py_cells(lon, lat, res: int) -> np.ndarray:
    ints = [h3.str_to_int(h3.latlng_to_cell(y, x, res)) for x, y in zip(lon, lat, strict=True)]
    return np.array(ints, dtype=np.uint64).view(np.int64)


def near_points(xy: np.ndarray, offsets=(1e-12, 1e-9, 1e-7)) -> np.ndarray:
    """Each point plus copies nudged by each offset in 8 directions, degrees."""
    dirs = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [-1, 1], [1, -1], [-1, -1]])
    nudged = [xy] + [xy + d * o for o in offsets for d in dirs]
    return np.concatenate(nudged)


def assert_exact(grids, lon, lat, **build) -> np.ndarray:
    locator = GridLocator.build(grids, **build)
    got = locator.locate(lon, lat)
    want = covers_oracle(grids, lon, lat)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} differ, e.g. {lon[bad[:3]]}, {lat[bad[:3]]}"
    return got


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def district():
    grids, boundary = district_grids(60, size_m=3_000.0, step_m=5.0, seed=7)
    return grids.geometry.to_numpy(), boundary


def test_the_test_district_tiles_exactly_with_hundreds_of_vertices(district):
    grids, boundary = district
    assert shapely.is_valid(grids).all()
    union = shapely.union_all(grids)
    assert shapely.area(union) == pytest.approx(boundary.area, rel=1e-9)
    assert shapely.area(grids).sum() == pytest.approx(union.area, rel=1e-9)  # no overlaps
    assert np.median(shapely.get_num_coordinates(grids)) >= 200


# --------------------------------------------------------------------------- exactness


def test_random_points_match_covers(district):
    grids, boundary = district
    x0, y0, x1, y1 = boundary.bounds
    rng = np.random.default_rng(1)
    lon = rng.uniform(x0 - 0.002, x1 + 0.002, 50_000)
    lat = rng.uniform(y0 - 0.002, y1 + 0.002, 50_000)
    got = assert_exact(grids, lon, lat)
    assert (got == NO_GRID).any() and (got != NO_GRID).mean() > 0.5
    positions, cells = GridLocator.build(grids).locate_with_cells(lon, lat)
    assert np.array_equal(positions, got)
    assert np.array_equal(cells, h3_cells(lon, lat, 10))


def test_most_points_are_answered_by_the_table(district):
    locator = GridLocator.build(district[0])
    cover = locator.cover
    assert 0 < cover.boundary_cells < cover.cells.size
    assert (cover.interior >= 0).sum() > 0.3 * cover.cells.size


def test_vertices_edges_and_points_beside_them(district):
    grids, _ = district
    xy = shapely.get_coordinates(grids)
    rings = shapely.get_coordinates(grids, return_index=False)
    mids = (rings[1:] + rings[:-1]) / 2
    pts = np.concatenate([near_points(xy[::3]), mids])
    assert_exact(grids, pts[:, 0], pts[:, 1])


def test_vertices_shared_by_several_grids_go_to_the_first(district):
    grids, _ = district
    xy = shapely.get_coordinates(grids)
    unique, counts = np.unique(xy, axis=0, return_counts=True)
    shared = unique[counts >= 3]  # meeting points of three grids (closing vertices aside)
    got = GridLocator.build(grids).locate(shared[:, 0], shared[:, 1])
    points = shapely.points(shared)
    for point, position in zip(points, got, strict=True):
        owners = np.flatnonzero(shapely.covers(grids, point))
        assert owners.size >= 2 and position == owners.min()


def test_shared_edge_goes_to_the_smaller_position():
    left, right = rect(0, 0, 600, 600), rect(600, 0, 1200, 600)
    edge_lon = np.full(50, LON0 + 600 * M_LON)
    edge_lat = LAT0 + np.linspace(0, 600, 50) * M_LAT
    for order in ([left, right], [right, left]):
        got = assert_exact(order, edge_lon, edge_lat)
        assert (got == 0).all()
    four = [rect(0, 0, 500, 500), rect(500, 0, 1000, 500), rect(0, 500, 500, 1000)]
    four.append(rect(500, 500, 1000, 1000))
    corner = ([LON0 + 500 * M_LON], [LAT0 + 500 * M_LAT])
    for k in range(4):
        order = four[k:] + four[:k]
        assert GridLocator.build(order).locate(*corner).tolist() == [0]


def test_holes_islands_and_lakes():
    outer = rect(0, 0, 2000, 2000)
    island = rect(300, 300, 900, 900)
    lake = rect(1100, 1100, 1700, 1700)
    donut = outer.difference(island).difference(lake)
    grids = [island, donut]  # the island (grid 0) fills one hole; the lake is in no grid
    assert len(donut.interiors) == 2
    edges = np.concatenate([shapely.get_coordinates(g.segmentize(5 * M_LAT)) for g in grids])
    rng = np.random.default_rng(3)
    inside_lake = np.column_stack(
        [
            LON0 + rng.uniform(1100, 1700, 2000) * M_LON,
            LAT0 + rng.uniform(1100, 1700, 2000) * M_LAT,
        ]
    )
    pts = np.concatenate([near_points(edges), inside_lake])
    got = assert_exact(grids, pts[:, 0], pts[:, 1])
    assert (got[-2000:] == NO_GRID).any()  # the lake's inside is in no grid
    lake_edge = shapely.get_coordinates(lake.exterior.segmentize(5 * M_LAT))
    assert (GridLocator.build(grids).locate(lake_edge[:, 0], lake_edge[:, 1]) == 1).all()
    island_edge = shapely.get_coordinates(island.exterior.segmentize(5 * M_LAT))
    assert (GridLocator.build(grids).locate(island_edge[:, 0], island_edge[:, 1]) == 0).all()
    assert GridLocator.build(grids).cover.interior.max() == 1  # the donut has interior cells


def test_multipolygon_grids():
    parts = MultiPolygon([rect(0, 0, 800, 800), rect(1600, 0, 2400, 800)])
    grids = [rect(800, 0, 1600, 800), parts]
    rng = np.random.default_rng(4)
    lon = LON0 + rng.uniform(-100, 2500, 20_000) * M_LON
    lat = LAT0 + rng.uniform(-100, 900, 20_000) * M_LAT
    got = assert_exact(grids, lon, lat)
    east = lon > LON0 + 1600 * M_LON
    assert (got[east & (got != NO_GRID)] == 1).all() and (got == 1).sum() > 8_000


def test_overlapping_grids_follow_the_order():
    big, small = rect(0, 0, 1500, 1500), rect(500, 500, 1000, 1000)
    rng = np.random.default_rng(5)
    lon = LON0 + rng.uniform(-50, 1550, 20_000) * M_LON
    lat = LAT0 + rng.uniform(-50, 1550, 20_000) * M_LAT
    in_small = shapely.covers(small, shapely.points(lon, lat))
    assert (assert_exact([small, big], lon, lat)[in_small] == 0).all()
    assert (assert_exact([big, small], lon, lat)[in_small] == 0).all()


def test_points_on_h3_cell_boundaries(district):
    grids, _ = district
    cover = GridLocator.build(grids).cover
    ring = shapely.get_coordinates(cover.polygons[cover.interior >= 0][:300])
    mids = (ring[1:] + ring[:-1]) / 2
    pts = np.concatenate([ring, mids])
    assert_exact(grids, pts[:, 0], pts[:, 1])
    # Between two cells h3ronpy and h3-py agree; on a cell's exact corner (three cells
    # meet, a floating-point tie) they may pick different neighbours: ours is one of them.
    assert np.array_equal(h3_cells(mids[:, 0], mids[:, 1], 10), h3py_cells(*mids.T, 10))
    ours = h3_cells(ring[:200, 0], ring[:200, 1], 10)
    theirs = h3py_cells(*ring[:200].T, 10)
    for mine, ref in zip(ours, theirs, strict=True):
        assert h3.int_to_str(int(mine)) in h3.grid_disk(h3.int_to_str(int(ref)), 1)


def test_outside_wrapped_and_non_finite_points_are_in_no_grid(district):
    grids, boundary = district
    locator = GridLocator.build(grids)
    x, y = boundary.centroid.x, boundary.centroid.y
    lon = np.array([x, x + 360, x - 360, x, x + 1, np.nan, x, np.inf])
    lat = np.array([y, y, y, y + 180, y, y, np.nan, y])
    got = locator.locate(lon, lat)
    assert got[0] != NO_GRID and (got[1:] == NO_GRID).all()
    with pytest.raises(ValueError, match="non-finite"):
        locator.locate_with_cells(lon, lat)
    with pytest.raises(ValueError, match="non-finite"):
        h3_cells(lon, lat, 10)


# --------------------------------------------------------------------------- property


def _partition(seed: int, n: int, hole: bool) -> list:
    """A random Voronoi partition of a 1.5 km square, bent edges, maybe a hole."""
    rng = np.random.default_rng(seed)
    square = rect(0, 0, 1500, 1500)
    seeds = shapely.multipoints(
        np.column_stack(
            [LON0 + rng.uniform(0, 1500, n) * M_LON, LAT0 + rng.uniform(0, 1500, n) * M_LAT]
        )
    )
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=square))
    grids = [c for c in shapely.intersection(cells, square) if not c.is_empty]
    grids = [shapely.segmentize(g, 20 * M_LAT) for g in grids]
    if hole and grids:
        victim = int(rng.integers(len(grids)))
        c = grids[victim].representative_point()
        hole_shape = shapely.buffer(c, 40 * M_LAT, quad_segs=16)
        grids[victim] = grids[victim].difference(hole_shape)
        if rng.random() < 0.5:
            grids.append(hole_shape.intersection(square))
    order = rng.permutation(len(grids))
    return [grids[i] for i in order]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    n=st.integers(1, 15),
    hole=st.booleans(),
    res=st.sampled_from([9, 10, 11]),
)
def test_property_random_partitions(seed: int, n: int, hole: bool, res: int):
    grids = _partition(seed, n, hole)
    rng = np.random.default_rng(seed + 1)
    random_pts = np.column_stack(
        [
            LON0 + rng.uniform(-100, 1600, 3000) * M_LON,
            LAT0 + rng.uniform(-100, 1600, 3000) * M_LAT,
        ]
    )
    xy = shapely.get_coordinates(np.array(grids, dtype=object))
    pts = np.concatenate([random_pts, near_points(xy[::2], (1e-12, 1e-9)), (xy[1:] + xy[:-1]) / 2])
    assert_exact(grids, pts[:, 0], pts[:, 1], interior_resolution=res)


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize("res", [7, 10, 12])
def test_cells_equal_h3py(res: int):
    rng = np.random.default_rng(res)
    lon = rng.uniform(73, 135, 3000)
    lat = rng.uniform(18, 53, 3000)
    assert np.array_equal(h3_cells(lon, lat, res), h3py_cells(lon, lat, res))


def test_interior_resolution_differs_from_cell_resolution(district):
    grids, boundary = district
    x0, y0, x1, y1 = boundary.bounds
    rng = np.random.default_rng(6)
    lon, lat = rng.uniform(x0, x1, 20_000), rng.uniform(y0, y1, 20_000)
    locator = GridLocator.build(grids, 10, interior_resolution=12)
    assert locator.interior_resolution == 12
    positions, cells = locator.locate_with_cells(lon, lat)
    assert np.array_equal(positions, covers_oracle(grids, lon, lat))
    assert np.array_equal(cells, h3_cells(lon, lat, 10))
    _, cells8 = locator.locate_with_cells(lon, lat, 8)
    assert np.array_equal(cells8, h3_cells(lon, lat, 8))


def test_margin_covers_the_bow_of_geodesic_cell_edges():
    # sample the true (great-circle) edges of cells and check they stay inside the
    # widened straight polygons, at the default and at a coarse resolution
    for res, grid in ((10, rect(0, 0, 1500, 1500)), (5, rect(-40_000, -40_000, 40_000, 40_000))):
        cover = cover_cells([grid], res)
        assert cover.margin_deg >= CELL_MARGIN_DEG
        rings = shapely.get_coordinates(cover.polygons[:50], return_index=True)
        xy, owner = rings
        same = owner[1:] == owner[:-1]
        a, b, who = xy[:-1][same], xy[1:][same], owner[1:][same]
        t = np.linspace(0.05, 0.95, 19)
        on_arc = np.concatenate([_slerp(a, b, s) for s in t])
        widened = shapely.buffer(cover.polygons[:50], cover.margin_deg, join_style="mitre")
        inside = shapely.covers(widened[np.tile(who, t.size)], shapely.points(on_arc))
        assert inside.all()
    assert cover_cells([rect(0, 0, 1500, 1500)], 10).margin_deg < 1.05 * CELL_MARGIN_DEG
    assert cover_cells([rect(-40_000, -40_000, 40_000, 40_000)], 5).margin_deg > CELL_MARGIN_DEG


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    def unit(p):
        lo, la = np.radians(p[:, 0]), np.radians(p[:, 1])
        return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])

    u, v = unit(a), unit(b)
    omega = np.arccos(np.clip((u * v).sum(axis=1), -1, 1))[:, None]
    w = (np.sin((1 - t) * omega) * u + np.sin(t * omega) * v) / np.sin(omega)
    return np.column_stack(
        [np.degrees(np.arctan2(w[:, 1], w[:, 0])), np.degrees(np.arcsin(w[:, 2]))]
    )


# --------------------------------------------------------------------------- mechanics


def test_chunks_and_threads_do_not_change_results(district):
    grids, boundary = district
    x0, y0, x1, y1 = boundary.bounds
    rng = np.random.default_rng(8)
    lon, lat = rng.uniform(x0, x1, 30_000), rng.uniform(y0, y1, 30_000)
    locator = GridLocator.build(grids)
    one = locator.locate_with_cells(lon, lat, workers=1, chunk_size=10**7)
    many = locator.locate_with_cells(lon, lat, workers=3, chunk_size=997)
    assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1])
    assert np.array_equal(locator.locate(lon, lat, chunk_size=1), one[0])


def test_empty_inputs(district):
    grids, _ = district
    locator = GridLocator.build(grids)
    empty = np.array([], dtype=float)
    assert locator.locate(empty, empty).dtype == np.int64 and locator.locate([], []).size == 0
    positions, cells = locator.locate_with_cells(empty, empty)
    assert positions.size == cells.size == 0 and cells.dtype == np.int64
    assert h3_cells([], [], 10).size == 0
    assert locate_points([], [], grids).size == 0
    nothing = GridLocator.build([])
    assert nothing.locate([LON0], [LAT0]).tolist() == [NO_GRID]
    assert (
        nothing.locate_with_cells([LON0], [LAT0])[1].tolist()
        == h3_cells([LON0], [LAT0], 10).tolist()
    )


def test_missing_and_empty_grids_keep_positions():
    square = rect(0, 0, 500, 500)
    grids = [None, Polygon(), square]
    lon, lat = [LON0 + 250 * M_LON, LON0 - 1], [LAT0 + 250 * M_LAT, LAT0]
    assert GridLocator.build(grids).locate(lon, lat).tolist() == [2, NO_GRID]
    assert locate_points(lon, lat, grids).tolist() == [2, NO_GRID]


def test_locate_points_both_ways_match_covers(district):
    grids, boundary = district
    x0, y0, x1, y1 = boundary.bounds
    rng = np.random.default_rng(9)
    for n in (7, 20_000):  # a spatial-index query, then a locator
        lon, lat = rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)
        assert np.array_equal(locate_points(lon, lat, grids), covers_oracle(grids, lon, lat))
    xy = shapely.get_coordinates(grids)[:40]
    assert np.array_equal(locate_points(*xy.T, grids), covers_oracle(grids, *xy.T))


def test_grids_in_another_crs_are_refused():
    grids = gpd.GeoSeries([rect(0, 0, 100, 100)], crs=4326).to_crs(3857)
    with pytest.raises(ValueError, match="EPSG:4326"):
        GridLocator.build(grids)


def test_representative_points_lie_inside_the_shape():
    ell = Polygon([(0, 0), (10, 0), (10, 1), (1, 1), (1, 10), (0, 10)])
    ell = shapely.affinity.scale(ell, M_LON * 10, M_LAT * 10, origin=(0, 0))
    ell = shapely.affinity.translate(ell, LON0, LAT0)
    assert not ell.contains(ell.centroid)
    lon, lat = representative_points([ell, None])
    assert ell.contains(shapely.Point(lon[0], lat[0]))
    assert math.isnan(lon[1]) and math.isnan(lat[1])


def test_prepared_grids_are_safe_to_share_between_threads():
    # GEOS builds a prepared polygon's point index on its second point query, not
    # thread-safely; without the warm-up in build this aborts the process.
    from concurrent.futures import ThreadPoolExecutor

    from grids.locate import _prepare_for_threads

    t = np.linspace(0, 2 * np.pi, 20_000, endpoint=False)
    radius = 1000 * M_LAT * (1 + 0.1 * np.sin(37 * t))
    rng = np.random.default_rng(10)
    for _ in range(30):
        grid = np.array(
            [Polygon(np.column_stack([LON0 + radius * np.cos(t), LAT0 + radius * np.sin(t)]))]
        )
        _prepare_for_threads(grid)
        x = LON0 + rng.uniform(-1100, 1100, 16_000) * M_LAT
        y = LAT0 + rng.uniform(-1100, 1100, 16_000) * M_LAT
        parts = [slice(i, i + 2_000) for i in range(0, 16_000, 2_000)]
        many = np.repeat(grid, 2_000)
        with ThreadPoolExecutor(8) as pool:
            got = list(
                pool.map(
                    shapely.intersects_xy, [many] * 8, [x[s] for s in parts], [y[s] for s in parts]
                )
            )
        assert np.array_equal(np.concatenate(got), shapely.intersects_xy(grid[0], x, y))


def test_batches_answer_as_locate_points_with_one_locator_built(district):
    """Small batches use the index query, the first big one builds the locator, kept after."""
    grids, boundary = district
    x0, y0, x1, y1 = boundary.bounds
    rng = np.random.default_rng(5)
    batches = BatchLocator(grids)
    built = []
    for n in (100, 20_000, 20_000):
        lon = rng.uniform(x0 - 0.002, x1 + 0.002, n)
        lat = rng.uniform(y0 - 0.002, y1 + 0.002, n)
        assert np.array_equal(batches.locate(lon, lat), covers_oracle(grids, lon, lat))
        built.append(batches.locator)
    assert built[0] is None and built[1] is not None and built[2] is built[1]
