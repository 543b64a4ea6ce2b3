"""The 北斗 grid location code (GB/T 39409-2020) codec against the standard and shapely.

The standard's own examples are the oracle where it gives them.  They were read from the
text of GB/T 39409-2020 (《北斗网格位置码》, issued 2020-11-19), a copy of which is
published at github.com/ywx001/BeidouGridCodec, ``doc/北斗网格位置码.pdf``:

* Annex B.2: the office building at 39°59′35.38″N 116°18′45.37″E, its codes at levels
  1 to 8 and the 定位角点 (origin-side corner) of its cells at levels 1 to 7;
* §8.1: three points of a university and their level-5 codes;
* §9 table 1: a 20-character 2-D code and the 32-character 3-D code of the same cell
  at height layer 0;
* Annex C.2 (C.13): the faces of the lowest and highest height layers of 1°.

Elsewhere the oracles are arithmetic on exact fractions (cell edges), shapely (boxes,
polygon covers) and the definitions (parents, children, neighbours).  An open
implementation in another language is compared in ``test_beidou_reference.py``.
"""

from __future__ import annotations

import math
import unicodedata
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from gis.errors import InvalidInput, TooLarge
from grids import beidou as bd
from grids.beidou import height as h3d
from grids.beidou.cover import cover, cover_exact
from grids.beidou.lattice import CELL_LAT, CELL_LON, CODE_LENGTH, UNITS_PER_DEGREE, exact_units

LEVELS = range(1, 11)


def dms(d: int, m: int, s: float) -> float:
    return d + m / 60 + s / 3600


# --------------------------------------------------------------------------- the standard


ANNEX_B_POINT = (dms(116, 18, 45.37), dms(39, 59, 35.38))
ANNEX_B_CODES = {
    1: "N50J",
    2: "N50J47",
    3: "N50J475",
    4: "N50J47539",
    5: "N50J47539B8",
    6: "N50J47539B82",
    7: "N50J47539B8255",
    8: "N50J47539B825534",
}
#: λ_L, φ_L of annex B.2: the corner of the level-L cell nearest the origin
ANNEX_B_CORNERS = {
    1: (dms(114, 0, 0), dms(36, 0, 0)),
    2: (dms(116, 0, 0), dms(39, 30, 0)),
    3: (dms(116, 15, 0), dms(39, 50, 0)),
    4: (dms(116, 18, 0), dms(39, 59, 0)),
    5: (dms(116, 18, 44), dms(39, 59, 32)),
    6: (dms(116, 18, 44), dms(39, 59, 34)),
    7: (dms(116, 18, 45.25), dms(39, 59, 35.25)),
}


@pytest.mark.parametrize("level", sorted(ANNEX_B_CODES))
def test_annex_b_codes_at_levels_1_to_8(level):
    lon, lat = ANNEX_B_POINT
    cells = bd.encode([lon], [lat], level)
    assert bd.to_strings(cells).tolist() == [ANNEX_B_CODES[level]]
    assert bd.from_strings([ANNEX_B_CODES[level]]).tolist() == cells.tolist()


@pytest.mark.parametrize("level", sorted(ANNEX_B_CORNERS))
def test_annex_b_cell_corners(level):
    boxes = bd.decode([ANNEX_B_CODES[level]])
    lon, lat = ANNEX_B_CORNERS[level]
    assert boxes.west[0] == pytest.approx(lon, abs=1e-12)
    assert boxes.south[0] == pytest.approx(lat, abs=1e-12)


def test_section_8_short_code_examples():
    points = [
        (dms(116, 19, 14.3184), dms(39, 59, 56.1444), "N50J475493E"),  # 东一门
        (dms(116, 19, 5.9808), dms(39, 59, 59.7012), "N50J475491E"),  # 求是塔
        (dms(116, 19, 9.3540), dms(39, 59, 56.5260), "N50J475492E"),  # 办公楼
    ]
    lon, lat, codes = zip(*points, strict=True)
    assert bd.to_strings(bd.encode(lon, lat, 5)).tolist() == list(codes)


def test_table_1_two_and_three_dimensional_examples():
    code_2d = "N36J93078B3101524314"
    code_3d = unicodedata.normalize(
        "NFKC", "Ｎ０３６Ｊ００９３０００７８０Ｂ３０１００１０５２０４３０１４０"
    )
    cells = bd.from_strings([code_2d])
    assert bd.to_strings(cells).tolist() == [code_2d]
    assert bd.levels_of(cells).tolist() == [10]
    cells_3d, layers = h3d.from_strings_3d([code_3d])
    assert cells_3d.tolist() == cells.tolist()
    assert layers.tolist() == [0]
    assert h3d.to_strings_3d(cells, layers).tolist() == [code_3d]


def test_annex_c_faces_of_the_whole_height_range():
    """C.13, with θ = 1° (7,372,800 finest layers a layer) and r0 = 6378.137 km.

    ``H_n`` is the lower face of layer ``n``, ``h_n = H_n - H_(n-1)`` (C.9) and
    ``L_n = r_n·θ = H_(n+1) - H_n`` (C.10).
    """

    def face_km(n: int) -> float:
        return float(h3d.layer_bounds([n * UNITS_PER_DEGREE])[0][0]) / 1000

    assert face_km(-256) == pytest.approx(-6302.10672260218, rel=1e-12)
    assert face_km(-256) - face_km(-257) == pytest.approx(1.30421581172535, rel=1e-9)
    assert face_km(-255) - face_km(-256) == pytest.approx(1.32697867179654, rel=1e-9)
    assert face_km(255) == pytest.approx(519501.834158240, rel=1e-12)
    assert face_km(255) - face_km(254) == pytest.approx(9020.89268812718, rel=1e-9)
    assert face_km(256) - face_km(255) == pytest.approx(9178.33696700410, rel=1e-9)
    _, top = h3d.layer_bounds([256 * UNITS_PER_DEGREE - 1])
    assert top[0] / 1000 == pytest.approx(528680.171125244, rel=1e-12)


def test_a_level_10_layer_is_about_1_5_cm_at_the_surface():
    low, high = h3d.layer_bounds([0, -1])
    assert low.tolist()[0] == 0.0 and high[1] == 0.0
    assert high[0] == pytest.approx(0.015, abs=0.0005)
    assert -low[1] == pytest.approx(0.015, abs=0.0005)


# --------------------------------------------------------------------------- strategies

lons = st.floats(-180.0, 180.0, exclude_min=True, exclude_max=True, allow_nan=False)
lats = st.floats(-88.0, 88.0, exclude_max=True, exclude_min=True, allow_nan=False)
levels = st.integers(1, 10)


@st.composite
def point_sets(draw):
    n = draw(st.integers(1, 40))
    lon = draw(st.lists(lons, min_size=n, max_size=n))
    lat = draw(st.lists(lats, min_size=n, max_size=n))
    return np.array(lon), np.array(lat)


def random_points(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(-180, 180, n), rng.uniform(-88, 88, n)


# --------------------------------------------------------------------------- round trips


@settings(max_examples=200, deadline=None)
@given(point_sets(), levels)
def test_a_cell_holds_its_points(points, level):
    lon, lat = points
    cells = bd.encode(lon, lat, level)
    box_ = bd.decode(cells)
    assert (box_.level == level).all()
    assert ((box_.west <= lon) & (lon <= box_.east)).all()
    assert ((box_.south <= lat) & (lat <= box_.north)).all()
    assert (bd.from_strings(bd.to_strings(cells)) == cells).all()


@settings(max_examples=200, deadline=None)
@given(point_sets(), levels)
def test_the_half_open_rule_in_exact_arithmetic(points, level):
    """A point lies in its cell by the standard's rule, |lon| and |lat| in [inner, outer)."""
    lon, lat = points
    box_ = bd.decode(bd.encode(lon, lat, level))
    for i in range(lon.size):
        for value, low, high in (
            (lon[i], box_.west[i], box_.east[i]),
            (lat[i], box_.south[i], box_.north[i]),
        ):
            # the lattice edges, exactly: the nearest multiples of 1/7372800 to the floats
            inner = Fraction(
                round(Fraction(min(abs(low), abs(high))) * UNITS_PER_DEGREE), UNITS_PER_DEGREE
            )
            outer = Fraction(
                round(Fraction(max(abs(low), abs(high))) * UNITS_PER_DEGREE), UNITS_PER_DEGREE
            )
            assert inner <= abs(Fraction(value)) < outer


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 180.0, allow_nan=False))
def test_lattice_units_are_exact(value):
    assert exact_units(np.array([value]))[0] == math.floor(Fraction(value) * UNITS_PER_DEGREE)


def test_lattice_units_at_edges_that_floats_cannot_hold():
    """Edges k/7372800 mostly are not floats: the float below an edge is in the cell below."""
    rng = np.random.default_rng(3)
    k = rng.integers(1, 180 * UNITS_PER_DEGREE, 20_000)
    near = k / float(UNITS_PER_DEGREE)
    values = np.concatenate([near, np.nextafter(near, 0), np.nextafter(near, 200)])
    expected = [math.floor(Fraction(v) * UNITS_PER_DEGREE) for v in values.tolist()]
    assert exact_units(values).tolist() == expected


@settings(max_examples=100, deadline=None)
@given(point_sets())
def test_codes_of_coarser_levels_are_prefixes(points):
    lon, lat = points
    finest = bd.to_strings(bd.encode(lon, lat, 10))
    for level in LEVELS:
        codes = bd.to_strings(bd.encode(lon, lat, level))
        assert [c[: CODE_LENGTH[level]] for c in finest.tolist()] == codes.tolist()


def test_cells_of_one_level_sort_as_their_codes():
    lon, lat = random_points(5000, seed=1)
    for level in LEVELS:
        cells = np.unique(bd.encode(lon, lat, level))
        codes = bd.to_strings(cells)
        assert codes.tolist() == sorted(codes.tolist())


# --------------------------------------------------------------------------- family


@settings(max_examples=100, deadline=None)
@given(point_sets(), levels, levels)
def test_parent_is_the_coarser_cell_of_the_same_point(points, a, b):
    lon, lat = points
    fine, coarse = max(a, b), min(a, b)
    cells = bd.encode(lon, lat, fine)
    assert (bd.parent(cells, coarse) == bd.encode(lon, lat, coarse)).all()
    low, high = bd.descendant_range(bd.encode(lon, lat, coarse))
    assert ((low <= cells) & (cells < high)).all()
    if fine > 1:
        assert (bd.parent(cells) == bd.encode(lon, lat, fine - 1)).all()


@pytest.mark.parametrize("level", range(1, 10))
def test_children_tile_their_parent(level):
    lon, lat = random_points(3, seed=level)
    parents = bd.encode(lon, lat, level)
    kids = bd.children(parents)
    assert kids.shape[1] == len(np.unique(kids[0]))
    for row, cell in zip(kids, parents, strict=True):
        assert (bd.parent(row) == cell).all()
        assert (bd.levels_of(row) == level + 1).all()
        boxes = bd.cell_polygons(row)
        whole = bd.cell_polygons([cell])[0]
        union = shapely.union_all(boxes)
        assert union.equals(whole)
        assert math.isclose(shapely.area(boxes).sum(), whole.area, rel_tol=1e-9)
        low, high = bd.descendant_range([cell])
        assert ((low <= row) & (row < high)).all()
    assert (
        bd.to_strings(kids[:, 0])
        == np.char.add(bd.to_strings(parents), "0" if level in (2, 5) else "00")
    ).all()


def test_children_several_levels_down_and_uncompact_compact():
    cell = bd.encode([121.47], [31.23], 6)
    grandchildren = bd.children(cell, 8).reshape(-1)
    assert grandchildren.size == 64 * 64
    assert (bd.parent(grandchildren, 6) == cell[0]).all()
    assert bd.compact(grandchildren).tolist() == cell.tolist()
    assert bd.uncompact(cell, 8).tolist() == np.sort(grandchildren).tolist()
    partial = np.delete(grandchildren, 5)
    packed = bd.compact(partial)
    assert packed.size == 63 + 63  # 63 complete level-7 parents, 63 loose level-8 cells
    assert np.array_equal(np.sort(bd.uncompact(packed, 8)), np.sort(partial))


def test_levels_and_ranges_of_packed_cells():
    lon, lat = random_points(1000, seed=2)
    for level in LEVELS:
        cells = bd.encode(lon, lat, level)
        assert (bd.levels_of(cells) == level).all()
        assert (cells > 0).all()
    count_10 = int(np.prod([2, 1320, 96, 6, 150, 225, 4, 64, 64, 64, 64], dtype=object))
    garbage = np.array(
        [
            0,  # NO_CELL
            -1,
            128,  # even, level tag 0
            2 * (64 + 10),  # level tag 10
            2 * (64 + 5),  # level 5, but not on a level-5 cell's start
            2 * count_10 + 1,  # one past the last level-10 cell
            np.iinfo(np.int64).max,
        ],
        dtype=np.int64,
    )
    assert bd.valid([2, 4, 2 * count_10 - 1]).all()  # the first cells of 9 and 8, the last
    assert not bd.valid(garbage).any()
    with pytest.raises(bd.BeidouError, match="not 北斗 cells"):
        bd.decode(garbage[:2])


# --------------------------------------------------------------------------- neighbours


@pytest.mark.parametrize("level", LEVELS)
def test_neighbours_are_the_cells_of_points_one_step_away(level):
    lon, lat = random_points(400, seed=10 + level)
    cells = bd.encode(lon, lat, level)
    box_ = bd.decode(cells)
    width, height = box_.east - box_.west, box_.north - box_.south
    found = bd.neighbours(cells)
    for k, (dx, dy) in enumerate(bd.NEIGHBOUR_OFFSETS):
        x = box_.lon + dx * width
        y = box_.lat + dy * height
        x = np.where(x >= 180, x - 360, np.where(x < -180, x + 360, x))
        inside = np.abs(y) < 88
        expected = bd.encode(x[inside], y[inside], level)
        assert (found[inside, k] == expected).all()
        assert (found[~inside, k] == bd.NO_CELL).all()


def test_neighbours_are_mutual_and_touch():
    cells = bd.encode(*random_points(200, seed=4), 7)
    found = bd.neighbours(cells)
    opposite = [4, 5, 6, 7, 0, 1, 2, 3]
    for k in range(8):
        back = bd.neighbours(found[:, k])[:, opposite[k]]
        assert (back == cells).all()
    own = bd.cell_polygons(cells)
    for k in range(8):
        assert shapely.touches(own, bd.cell_polygons(found[:, k])).all()


@pytest.mark.parametrize(
    ("code", "direction", "expected"),
    [
        ("N31A00", "W", "N30A00"),  # prime meridian, north
        ("N31A00", "S", "S31A00"),  # equator, east
        ("S30A00", "NE", "N31A00"),  # both at once
        ("N01VB7", "W", "N60VB7"),  # antimeridian, westward
        ("N60VB6", "E", "N01VB6"),  # antimeridian, eastward
        ("S60A00", "N", "N60A00"),
    ],
)
def test_neighbours_across_the_hemisphere_lines(code, direction, expected):
    k = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"].index(direction)
    assert bd.to_strings(bd.neighbours(bd.from_strings([code]))[:, k]).tolist() == [expected]


def test_no_neighbour_beyond_88_degrees():
    cell = bd.encode([10.0], [87.99], 4)
    found = bd.to_strings(bd.neighbours(cell)[0])
    assert [found[k] == "" for k in range(8)] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]


# --------------------------------------------------------------------------- edge cases


def test_poles_have_no_cells():
    lat = np.array([88.0, 89.5, 90.0, -88.0, -90.0, np.nextafter(88.0, 0), -np.nextafter(88.0, 0)])
    cells = bd.encode(np.zeros(lat.size), lat, 10)
    assert (cells[:5] == bd.NO_CELL).all()
    assert (cells[5:] != bd.NO_CELL).all()
    assert bd.to_strings(cells).tolist()[:5] == [""] * 5
    assert [c[:4] for c in bd.to_strings(cells[5:]).tolist()] == ["N31V", "S31V"]
    assert bd.from_strings(["", "N31V"])[0] == bd.NO_CELL


def test_the_antimeridian_and_wrapping():
    lon = np.array([180.0, -180.0, 540.0, -540.0, np.nextafter(180.0, 0), -179.999, 190.0])
    codes = bd.to_strings(bd.encode(lon, np.full(lon.size, 10.0), 10)).tolist()
    assert codes[0] == codes[1] == codes[2] == codes[3]
    assert codes[0].startswith("N01C") and codes[4].startswith("N60C")
    box_ = bd.decode(bd.encode(lon[:1], [10.0], 10))
    assert box_.west[0] == -180.0
    assert (
        bd.to_strings(bd.encode([190.0], [10.0], 10))[0]
        == bd.to_strings(bd.encode([-170.0], [10.0], 10))[0]
    )


def test_the_equator_and_the_prime_meridian():
    codes = bd.to_strings(
        bd.encode([0.0, -0.0, np.nextafter(0.0, -1), 1e-300], [0.0, -0.0, -1e-300, 0.0], 2)
    )
    assert codes.tolist() == ["N31A00", "N31A00", "S30A00", "N31A00"]


@pytest.mark.parametrize("level", LEVELS)
def test_points_on_cell_edges_belong_to_the_outer_cell(level):
    """|x| on an edge is in the cell farther from the origin, in all four hemispheres.

    Checked on the edges that floats hold exactly: a multiple of 225 lattice units is a
    dyadic number of degrees (7,372,800 = 2**15 × 225).
    """
    rng = np.random.default_rng(level)
    axes = ((CELL_LON[level], 180 * UNITS_PER_DEGREE), (CELL_LAT[level], 88 * UNITS_PER_DEGREE))
    for axis, (size, limit) in enumerate(axes):
        step = math.lcm(size, 225)
        units = rng.integers(1, limit // step, 40) * step
        edge = units / float(UNITS_PER_DEGREE)
        assert exact_units(edge).tolist() == units.tolist()
        for sign in (1.0, -1.0):
            on, below = sign * edge, sign * np.nextafter(edge, 0)
            other = np.full(edge.size, sign * 10.123456)
            for value, outer in ((on, False), (below, True)):
                lon, lat = (value, other) if axis == 0 else (other, value)
                box_ = bd.decode(bd.encode(lon, lat, level))
                low, high = (box_.west, box_.east) if axis == 0 else (box_.south, box_.north)
                near_origin, far = (low, high) if sign > 0 else (high, low)
                assert ((far if outer else near_origin) == on).all()


def test_bad_points_are_refused():
    with pytest.raises(bd.BeidouError, match="index 1"):
        bd.encode([1.0, np.nan], [1.0, 1.0])
    with pytest.raises(InvalidInput, match="latitude outside"):
        bd.encode([1.0], [90.5])
    with pytest.raises(bd.BeidouError, match="level 11 does not exist"):
        bd.encode([1.0], [1.0], 11)
    with pytest.raises(bd.BeidouError, match="differ in length"):
        bd.encode([1.0, 2.0], [1.0])


def test_bad_codes_are_refused_row_by_row():
    codes = ["N50J47", "N50J4", "X50J", "N61A", "N50W", "N50JC0", "N000", "n50j47", "N50J47539B8G"]
    with pytest.raises(bd.BeidouError) as caught:
        bd.from_strings(codes)
    problems = {p.row: p for p in caught.value.problems}
    assert sorted(problems) == [2, 3, 4, 5, 6, 7, 9]
    assert "5 characters" in problems[2].message and "4, 6, 7, 9" in problems[2].fix
    assert "N or S" in problems[3].fix
    assert "01 to 60" in problems[4].fix
    assert "A to V" in problems[5].fix
    assert "level-2 column is 0 to B" in problems[6].fix
    assert "polar" in problems[7].message
    assert "level-6 Z-order digit is 0 to 3" in problems[9].fix
    assert bd.from_strings(["n50j47"]).tolist() == bd.from_strings(["N50J47"]).tolist()


def test_empty_inputs():
    empty = np.zeros(0)
    assert bd.encode(empty, empty).size == 0
    assert bd.to_strings(np.zeros(0, dtype=np.int64)).size == 0
    assert bd.from_strings([]).size == 0
    assert bd.neighbours(np.zeros(0, dtype=np.int64)).shape == (0, 8)


def test_encoding_in_threads_gives_the_same_cells():
    lon, lat = random_points(50_000, seed=9)
    assert (bd.encode(lon, lat, 10, workers=2, chunk_size=7000) == bd.encode(lon, lat, 10)).all()


# --------------------------------------------------------------------------- polygon cover


def brute_force(polygon, level):
    """Every cell of the level in the bounding box, tested with shapely: the definition."""
    cells = bd.cells_in_box(*polygon.bounds, level=level)
    boxes = bd.cell_polygons(cells)
    inside = cells[shapely.covers(polygon, boxes)]
    meeting = cells[shapely.relate_pattern(polygon, boxes, "T********")]
    return set(inside.tolist()), set(meeting.tolist())


POLYGONS = {
    "district": Point(121.47, 31.23).buffer(0.03, quad_segs=16),
    "both hemispheres": Polygon([(-0.07, -0.04), (0.09, -0.06), (0.05, 0.08), (-0.02, 0.03)]),
    "with hole": Polygon(
        box(116.2, 39.8, 116.5, 40.1).exterior.coords,
        [Point(116.35, 39.95).buffer(0.05).exterior.coords],
    ),
    "two parts": MultiPolygon([box(-70.7, -33.5, -70.5, -33.3), box(-70.45, -33.5, -70.4, -33.45)]),
    "on cell edges": box(116.0, 39.5, 116.5, 40.0),
}


@pytest.mark.parametrize("name", sorted(POLYGONS))
@pytest.mark.parametrize("level", [2, 3, 4, 5])
def test_cover_equals_shapely_on_every_cell(name, level):
    polygon = POLYGONS[name]
    split = cover_exact(polygon, level)
    inside, meeting = brute_force(polygon, level)
    assert set(bd.uncompact(split.inside, level).tolist()) == inside
    assert set(split.cells().tolist()) == meeting
    assert set(split.boundary.tolist()) == meeting - inside
    assert set(cover(polygon, level).tolist()) == meeting
    union = shapely.union_all(bd.cell_polygons(split.cells()))
    assert union.covers(polygon)
    if split.inside.size:
        assert polygon.covers(shapely.union_all(bd.cell_polygons(split.inside)))


def test_cover_of_a_box_on_cell_edges_is_that_cell():
    assert bd.to_strings(cover(POLYGONS["on cell edges"], 2)).tolist() == ["N50J47"]
    split = cover_exact(POLYGONS["on cell edges"], 6)
    assert bd.to_strings(split.inside).tolist() == ["N50J47"]
    assert split.boundary.size == 0


def test_cover_at_a_fine_level_stays_compact():
    polygon = POLYGONS["district"]
    split = cover_exact(polygon, 8)
    assert split.boundary.size < 60_000
    assert (bd.levels_of(split.boundary) == 8).all()
    assert bd.levels_of(split.inside).min() <= 5
    sample = split.boundary[:: max(1, split.boundary.size // 300)]
    boxes = bd.cell_polygons(sample)
    assert shapely.intersects(polygon.boundary, boxes).all()
    with pytest.raises(TooLarge, match="coarser level"):
        cover(polygon, 10, max_cells=1_000_000)
    with pytest.raises(bd.BeidouTooLarge, match="outline crosses about"):
        cover_exact(polygon, 10, max_outline_cells=100_000)


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (LineString([(0, 0), (1, 1)]), "only polygons"),
        (Polygon(), "empty"),
        (Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), "invalid"),
        (box(10, 87, 11, 89), "±88°"),
    ],
)
def test_cover_refuses_what_it_cannot_cover(geometry, message):
    with pytest.raises(bd.BeidouError, match=message):
        cover_exact(geometry, 3)


# --------------------------------------------------------------------------- 3-D


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-6_000_000.0, 500_000_000.0, allow_nan=False), min_size=1, max_size=20),
    levels,
)
def test_a_height_layer_holds_its_heights(heights, level):
    h = np.array(heights)
    layers = h3d.height_layers(h, level)
    low, high = h3d.layer_bounds(layers, level)
    assert ((low <= h) & (h < high)).all()
    assert (layers == h3d.height_layers(h, 10) >> (32 - sum(h3d.HEIGHT_BITS[: level + 1]))).all()
    assert ((layers < 0) == (h < 0)).all()


@pytest.mark.parametrize("level", LEVELS)
def test_height_layers_nest_and_count_the_same_below_and_above(level):
    """§6.1: 2**(m-1) layers below the ellipsoid and 2**(m-1) above, at every level."""
    kept = sum(h3d.HEIGHT_BITS[: level + 1])
    low, _ = h3d.layer_bounds([-(2 ** (kept - 1))], level)
    _, high = h3d.layer_bounds([2 ** (kept - 1) - 1], level)
    low10, _ = h3d.layer_bounds([-(2**31)])
    _, high10 = h3d.layer_bounds([2**31 - 1])
    assert low[0] == pytest.approx(low10[0]) and high[0] == pytest.approx(high10[0])
    with pytest.raises(bd.BeidouError, match="does not exist"):
        h3d.layer_bounds([2 ** (kept - 1)], level)


@settings(max_examples=100, deadline=None)
@given(point_sets(), levels, st.floats(-10_000.0, 40_000_000.0, allow_nan=False))
def test_3d_codes_round_trip(points, level, height):
    lon, lat = points
    cells, layers = h3d.encode_3d(lon, lat, np.full(lon.size, height), level)
    codes = h3d.to_strings_3d(cells, layers)
    assert all(len(c) == h3d.CODE_LENGTH_3D[level] for c in codes.tolist())
    back_cells, back_layers = h3d.from_strings_3d(codes)
    assert (back_cells == cells).all() and (back_layers == layers).all()
    two_d = bd.to_strings(cells).tolist()
    assert ["".join(c[i] for i in h3d._COLS_2D if i < len(c)) for c in codes.tolist()] == two_d


def test_3d_code_layout_follows_figure_12():
    cells, layers = h3d.encode_3d([116.3125], [39.99], [50.0], 10)
    code = h3d.to_strings_3d(cells, layers)[0]
    two_d = bd.to_strings(cells)[0]
    height = h3d.layer_strings(layers)[0]
    assert height == "000000006414"
    # hemisphere, a0, sheet, a1a2, L2, a3, L3, a4, L4, a5, L5, a6, L6, a7, then L + a per level
    expected = (
        two_d[0]
        + height[0]
        + two_d[1:4]
        + height[1:3]
        + two_d[4:6]
        + height[3]
        + two_d[6]
        + height[4]
        + two_d[7:9]
        + height[5]
        + two_d[9:11]
        + height[6]
        + two_d[11]
        + height[7]
        + "".join(two_d[12 + 2 * i : 14 + 2 * i] + height[8 + i] for i in range(4))
    )
    assert code == expected


def test_heights_below_the_ellipsoid_use_twos_complement():
    layers = h3d.height_layers([-0.001, -50.0], 10)
    assert layers.tolist() == [-1, -3341]
    assert h3d.layer_strings(layers).tolist() == ["16371FF17777", "16371FF11363"]
    assert h3d.layer_strings(h3d.height_layers([-0.001], 4), 4).tolist() == ["16371F"]


def test_bad_heights_and_3d_codes_are_refused():
    with pytest.raises(bd.BeidouError, match="index 1"):
        h3d.height_layers([0.0, np.inf])
    with pytest.raises(bd.BeidouError, match="index 0"):
        h3d.height_layers([-6_400_000.0])
    with pytest.raises(bd.BeidouError, match="wrong length"):
        h3d.from_strings_3d(["N036J00"[:-1]])
    with pytest.raises(bd.BeidouError, match="height characters"):
        h3d.from_strings_3d(["N036J70"])  # a1a2 = 70 > 63
    with pytest.raises(bd.BeidouError, match="malformed"):
        h3d.from_strings_3d(["N061J00"])  # sheet 61
