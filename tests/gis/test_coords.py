"""Tests for gis.coords: WGS84 / GCJ-02 / BD-09 conversions and metric CRS choice."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geopandas as gpd
from pyproj import Geod
from shapely.geometry import Point, box

from gis.coords import (
    CHINA_LAT_MAX,
    CHINA_LAT_MIN,
    CHINA_LON_MAX,
    CHINA_LON_MIN,
    COORD_TYPES,
    CoordTypeError,
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    local_metric_crs,
    local_metric_crs_for,
    out_of_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")

ALL_CONVERSIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


def metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on the WGS84 ellipsoid, metres."""
    return abs(GEOD.inv(lon1, lat1, lon2, lat2)[2])


# --------------------------------------------------------------------------------------
# Published reference values.  Tuples are (lon, lat), longitude first, whatever the
# order in the source.

# Forward conversions (closed formulas): published values agree to ~1e-12 degrees;
# asserted to 1e-9, or to the number of decimals published.
WGS84_TO_GCJ02 = [
    # googollee/eviltransform go/transform_test.go (also python/test.py,
    # javascript/test.js, c/test.c, csharp/EvilTransformUnitTest.cs): shanghai
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597), 1e-9),
    # googollee/eviltransform go/transform_test.go: shenzhen
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766), 1e-9),
    # googollee/eviltransform go/transform_test.go: beijing
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069), 1e-9),
    # wandergis/coordtransform test/app.js ("wgs84togcj02" result)
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-9),
    # hujiulong/gcoord test/unit/crs/WGS84.spec.ts ("WGS84 to GCJ02", 8 decimals)
    ((123.0, 45.0), (123.00607541, 45.00197815), 1e-8),
]

GCJ02_TO_BD09 = [
    # wandergis/coordtransform test/app.js ("gcj02tobd09" result)
    ((116.404, 39.915), (116.41036949371029, 39.92133699351021), 1e-9),
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts ("GCJ02 to BD09", 8 decimals)
    ((123.0, 45.0), (123.00636499, 45.00636899), 1e-8),
    # hujiulong/gcoord test/fixtures/china-cities.json (7 decimals): 驻马店市
    ((114.022306, 33.0115324), (114.0287781, 33.0176697), 2e-7),
    # hujiulong/gcoord test/fixtures/china-cities.json: 邵阳市
    ((111.4677938, 27.2388981), (111.4742271, 27.2451662), 2e-7),
    # hujiulong/gcoord test/fixtures/china-cities.json: 邢台市
    ((114.5048503, 37.0705911), (114.5113116, 37.0766797), 2e-7),
    # hujiulong/gcoord test/fixtures/china-cities.json: 那曲地区
    ((92.0512438, 31.4762063), (92.0576832, 31.4824421), 2e-7),
    # hujiulong/gcoord test/fixtures/china-cities.json: 沈阳市
    ((123.4314787, 41.8057023), (123.438095, 41.8114013), 2e-7),
    # hujiulong/gcoord test/fixtures/china-cities.json: 酒泉市
    ((98.4943595, 39.7328234), (98.5008441, 39.7388949), 2e-7),
]

WGS84_TO_BD09 = [
    # hujiulong/gcoord test/unit/crs/WGS84.spec.ts ("WGS84 to BD09", 7 decimals)
    ((123.0, 45.0), (123.0124491, 45.0083293), 1e-7),
]

# Inverse conversions as published by converters that use approximate inverses:
# the closed-form BD-09 inverse (error up to ~2e-6 degrees) and a GCJ-02 iteration
# stopped at a 1e-6 degree residual.  Asserted to the error of those methods; the
# exactness of our inverses is asserted below by inverting the forward pairs.
PUBLISHED_INVERSES = [
    # wandergis/coordtransform test/app.js ("bd09togcj02", closed-form inverse)
    (bd09_to_gcj02, (116.404, 39.915), (116.39762729119315, 39.90865673957631), 2e-6),
    # hujiulong/gcoord test/unit/crs/BD09.spec.ts ("BD09 to GCJ02", closed form)
    (bd09_to_gcj02, (123.0, 45.0), (122.99363304, 44.99365430), 2e-6),
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts ("GCJ02 to WGS84", 1e-6 iteration)
    (gcj02_to_wgs84, (123.0, 45.0), (122.99395597, 44.99804071), 1e-6),
    # hujiulong/gcoord test/unit/crs/BD09.spec.ts ("BD09 to WGS84", both of the above)
    (bd09_to_wgs84, (123.0, 45.0), (122.98762210, 44.99171540), 3e-6),
]
# Not used: the bd2wgs pairs of googollee/eviltransform python/test.py and the
# gcj02towgs84 result of wandergis/coordtransform test/app.js come from the one-step
# approximate inverse, which is off by metres (~5e-5 degrees).


@pytest.mark.parametrize(("wgs", "gcj", "tol"), WGS84_TO_GCJ02)
def test_wgs84_to_gcj02_published(
    wgs: tuple[float, float], gcj: tuple[float, float], tol: float
) -> None:
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=tol, rel=0)
    assert from_wgs84(*wgs, "gcj02") == pytest.approx(gcj, abs=tol, rel=0)


@pytest.mark.parametrize(("wgs", "gcj", "tol"), WGS84_TO_GCJ02)
def test_gcj02_to_wgs84_inverts_published_pairs(
    wgs: tuple[float, float], gcj: tuple[float, float], tol: float
) -> None:
    assert gcj02_to_wgs84(*gcj) == pytest.approx(wgs, abs=tol, rel=0)
    assert to_wgs84(*gcj, "gcj02") == pytest.approx(wgs, abs=tol, rel=0)


@pytest.mark.parametrize(("gcj", "bd", "tol"), GCJ02_TO_BD09)
def test_gcj02_to_bd09_published(
    gcj: tuple[float, float], bd: tuple[float, float], tol: float
) -> None:
    assert gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=tol, rel=0)


@pytest.mark.parametrize(("gcj", "bd", "tol"), GCJ02_TO_BD09)
def test_bd09_to_gcj02_inverts_published_pairs(
    gcj: tuple[float, float], bd: tuple[float, float], tol: float
) -> None:
    assert bd09_to_gcj02(*bd) == pytest.approx(gcj, abs=tol, rel=0)


@pytest.mark.parametrize(("wgs", "bd", "tol"), WGS84_TO_BD09)
def test_wgs84_bd09_published(
    wgs: tuple[float, float], bd: tuple[float, float], tol: float
) -> None:
    assert wgs84_to_bd09(*wgs) == pytest.approx(bd, abs=tol, rel=0)
    assert from_wgs84(*wgs, "bd09") == pytest.approx(bd, abs=tol, rel=0)
    assert bd09_to_wgs84(*bd) == pytest.approx(wgs, abs=tol, rel=0)


@pytest.mark.parametrize(("func", "src", "expected", "tol"), PUBLISHED_INVERSES)
def test_published_approximate_inverses(
    func, src: tuple[float, float], expected: tuple[float, float], tol: float
) -> None:
    assert func(*src) == pytest.approx(expected, abs=tol, rel=0)


def test_published_out_of_china_identity() -> None:
    # hujiulong/gcoord test/unit/crs/GCJ02.spec.ts and WGS84.spec.ts: [183, 45] unchanged
    assert gcj02_to_wgs84(183.0, 45.0) == (183.0, 45.0)
    assert wgs84_to_gcj02(183.0, 45.0) == (183.0, 45.0)


# --------------------------------------------------------------------------------------
# Property tests

# Points inside the China box, kept 0.05 degrees from its edges: the offsets (at most
# ~0.02 degrees for BD-09) must not carry a converted point across an edge, where
# the inverse would (by design, as in every converter) leave it unchanged.
MARGIN = 0.05
china_lon = st.floats(CHINA_LON_MIN + MARGIN, CHINA_LON_MAX - MARGIN)
china_lat = st.floats(CHINA_LAT_MIN + MARGIN, CHINA_LAT_MAX - MARGIN)
china_points = st.tuples(china_lon, china_lat)

any_lon = st.floats(-180.0, 180.0)
any_lat = st.floats(-90.0, 90.0)
outside_points = st.one_of(
    st.tuples(
        st.one_of(
            st.floats(-180.0, CHINA_LON_MIN, exclude_max=True),
            st.floats(CHINA_LON_MAX, 180.0, exclude_min=True),
        ),
        any_lat,
    ),
    st.tuples(
        any_lon,
        st.one_of(
            st.floats(-90.0, CHINA_LAT_MIN, exclude_max=True),
            st.floats(CHINA_LAT_MAX, 90.0, exclude_min=True),
        ),
    ),
)

ROUND_TRIP_METRES = 0.01
ROUND_TRIP_DEGREES = 1e-9


def assert_round_trip(start: tuple[float, float], back: tuple[float, float]) -> None:
    assert metres(*start, *back) < ROUND_TRIP_METRES
    assert back == pytest.approx(start, abs=ROUND_TRIP_DEGREES, rel=0)


@given(china_points)
def test_round_trip_wgs84_gcj02(point: tuple[float, float]) -> None:
    gcj = wgs84_to_gcj02(*point)
    assert 0 < metres(*point, *gcj) < 2000  # the offset is really applied
    assert_round_trip(point, gcj02_to_wgs84(*gcj))
    # ...and the other way round: the inverse really inverts the forward transform.
    assert_round_trip(point, wgs84_to_gcj02(*gcj02_to_wgs84(*point)))


@given(china_points)
def test_round_trip_gcj02_bd09(point: tuple[float, float]) -> None:
    bd = gcj02_to_bd09(*point)
    assert 0 < metres(*point, *bd) < 2000
    assert_round_trip(point, bd09_to_gcj02(*bd))
    assert_round_trip(point, gcj02_to_bd09(*bd09_to_gcj02(*point)))


@given(china_points)
def test_round_trip_wgs84_bd09(point: tuple[float, float]) -> None:
    assert_round_trip(point, bd09_to_wgs84(*wgs84_to_bd09(*point)))
    assert_round_trip(point, wgs84_to_bd09(*bd09_to_wgs84(*point)))
    assert_round_trip(point, to_wgs84(*from_wgs84(*point, "bd09"), "bd09"))


@given(china_points)
def test_composite_conversions_match_chained(point: tuple[float, float]) -> None:
    assert wgs84_to_bd09(*point) == pytest.approx(
        gcj02_to_bd09(*wgs84_to_gcj02(*point)), abs=1e-12, rel=0
    )
    assert bd09_to_wgs84(*point) == pytest.approx(
        gcj02_to_wgs84(*bd09_to_gcj02(*point)), abs=1e-12, rel=0
    )


@given(outside_points)
def test_no_offset_outside_china(point: tuple[float, float]) -> None:
    assert out_of_china(*point) is True
    for func in ALL_CONVERSIONS:
        assert func(*point) == point
    for kind in ("gcj02", "bd09"):
        assert to_wgs84(*point, kind) == point
        assert from_wgs84(*point, kind) == point


@given(st.lists(st.one_of(china_points, outside_points), min_size=1, max_size=50))
def test_arrays_match_scalars(points: list[tuple[float, float]]) -> None:
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    outside = out_of_china(lon, lat)
    assert isinstance(outside, np.ndarray)
    assert outside.tolist() == [out_of_china(*p) for p in points]
    for func in ALL_CONVERSIONS:
        x, y = func(lon, lat)
        assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
        assert x.shape == y.shape == lon.shape
        scalar = np.array([func(*p) for p in points])
        # Equal in practice; the tolerance (~1 micrometre) only allows for ulp-level
        # differences between numpy's scalar-sized and long-array kernels.
        np.testing.assert_allclose(x, scalar[:, 0], rtol=0, atol=1e-11)
        np.testing.assert_allclose(y, scalar[:, 1], rtol=0, atol=1e-11)


def test_scalars_in_floats_out() -> None:
    x, y = wgs84_to_gcj02(120, 30)  # ints are accepted
    assert type(x) is float and type(y) is float
    x, y = gcj02_to_wgs84(np.float64(120.0), np.float64(30.0))
    assert type(x) is float and type(y) is float
    assert type(out_of_china(120.0, 30.0)) is bool


def test_arrays_in_arrays_out_and_broadcasting() -> None:
    x, y = bd09_to_wgs84([120.0, 121.0], [30.0, 31.0])  # lists in, arrays out
    assert isinstance(x, np.ndarray) and x.dtype == np.float64 and x.shape == (2,)

    x, y = wgs84_to_bd09(np.array([120.0, 121.0, 122.0]), 30.0)  # scalar broadcast
    assert x.shape == y.shape == (3,)
    assert (x[0], y[0]) == wgs84_to_bd09(120.0, 30.0)

    x, y = to_wgs84(np.array(120.0), np.array(30.0), "bd09")  # 0-d arrays stay arrays
    assert isinstance(x, np.ndarray) and x.shape == y.shape == ()
    assert (float(x), float(y)) == bd09_to_wgs84(120.0, 30.0)
    outside = out_of_china(np.array(120.0), 30.0)
    assert isinstance(outside, np.ndarray) and outside.shape == ()

    grid_lon, grid_lat = np.meshgrid(np.linspace(110, 120, 4), np.linspace(20, 40, 3))
    x, y = gcj02_to_wgs84(grid_lon, grid_lat)  # shape preserved
    assert x.shape == y.shape == (3, 4)


def test_inputs_are_not_modified() -> None:
    lon = np.array([120.0, 121.0])
    lat = np.array([30.0, 31.0])
    for func in ALL_CONVERSIONS:
        x, _ = func(lon, lat)
        assert x is not lon
    assert lon.tolist() == [120.0, 121.0] and lat.tolist() == [30.0, 31.0]
    x, _ = to_wgs84(lon, lat, "wgs84")
    assert x is not lon


def test_nan_propagates() -> None:
    x, y = gcj02_to_wgs84(np.array([np.nan, 120.0]), np.array([30.0, 30.0]))
    assert math.isnan(x[0]) and math.isnan(y[0])
    assert not math.isnan(x[1])


def test_100k_points_vectorised() -> None:
    rng = np.random.default_rng(20240601)
    n = 100_000
    lon = rng.uniform(CHINA_LON_MIN + MARGIN, CHINA_LON_MAX - MARGIN, n)
    lat = rng.uniform(CHINA_LAT_MIN + MARGIN, CHINA_LAT_MAX - MARGIN, n)
    lon[:1000] = 105.0 + rng.normal(0.0, 1e-9, 1000)  # the sqrt(|lon - 105|) cusp
    lon[-1000:] = rng.uniform(-180.0, 60.0, 1000)  # some points outside China

    start = time.perf_counter()
    gx, gy = wgs84_to_gcj02(lon, lat)
    wx, wy = gcj02_to_wgs84(gx, gy)
    bx, by = wgs84_to_bd09(lon, lat)
    vx, vy = bd09_to_wgs84(bx, by)
    elapsed = time.perf_counter() - start
    assert elapsed < 10.0  # typically ~0.3 s; a Python loop over points takes minutes

    for x, y in ((wx, wy), (vx, vy)):
        assert np.abs(x - lon).max() < ROUND_TRIP_DEGREES
        assert np.abs(y - lat).max() < ROUND_TRIP_DEGREES
        _, _, dist = GEOD.inv(lon, lat, x, y)
        assert np.abs(dist).max() < ROUND_TRIP_METRES
    outside = out_of_china(lon, lat)
    assert outside.sum() == 1000
    assert np.array_equal(gx[outside], lon[outside]) and np.array_equal(by[outside], lat[outside])


# --------------------------------------------------------------------------------------
# out_of_china


def test_out_of_china_box() -> None:
    assert out_of_china(120.09, 30.32) is False  # Hangzhou
    assert out_of_china(2.35, 48.86) is True  # Paris
    assert out_of_china(72.0, 30.0) is True
    assert out_of_china(137.9, 30.0) is True
    assert out_of_china(100.0, 0.8) is True
    assert out_of_china(100.0, 55.9) is True
    # The box is inclusive: its bounds count as China.
    assert out_of_china(CHINA_LON_MIN, CHINA_LAT_MIN) is False
    assert out_of_china(CHINA_LON_MAX, CHINA_LAT_MAX) is False
    np.testing.assert_array_equal(
        out_of_china([120.09, 2.35], [30.32, 48.86]), np.array([False, True])
    )


# --------------------------------------------------------------------------------------
# coord_type names


@pytest.mark.parametrize(
    "name",
    ["wgs84", "WGS84", "WGS-84", "cgcs2000", "CGCS2000", "epsg:4490", "EPSG:4490", "epsg:4326"],
)
def test_wgs84_aliases_are_identity(name: str) -> None:
    assert to_wgs84(120.1, 30.2, name) == (120.1, 30.2)
    assert from_wgs84(120.1, 30.2, name) == (120.1, 30.2)
    x, _ = to_wgs84([120.1], [30.2], name)
    assert isinstance(x, np.ndarray) and x.tolist() == [120.1]


@pytest.mark.parametrize(
    ("name", "forward", "inverse"),
    [
        ("gcj02", wgs84_to_gcj02, gcj02_to_wgs84),
        ("GCJ-02", wgs84_to_gcj02, gcj02_to_wgs84),
        ("gcj_02", wgs84_to_gcj02, gcj02_to_wgs84),
        ("bd09", wgs84_to_bd09, bd09_to_wgs84),
        ("BD-09", wgs84_to_bd09, bd09_to_wgs84),
    ],
)
def test_coord_type_dispatch(name: str, forward, inverse) -> None:
    assert from_wgs84(120.1, 30.2, name) == forward(120.1, 30.2)
    assert to_wgs84(120.1, 30.2, name) == inverse(120.1, 30.2)


def test_coord_types_constant() -> None:
    assert isinstance(COORD_TYPES, tuple)
    assert {"wgs84", "gcj02", "bd09", "cgcs2000", "epsg:4490"} <= set(COORD_TYPES)


@pytest.mark.parametrize("name", ["bd11", "mercator", "", "epsg:3857", "gcj"])
def test_unknown_coord_type(name: str) -> None:
    for func in (to_wgs84, from_wgs84):
        with pytest.raises(CoordTypeError) as info:
            func(120.0, 30.0, name)
        assert isinstance(info.value, ValueError)
        message = str(info.value)
        assert repr(name) in message
        for accepted in COORD_TYPES:
            assert accepted in message


# --------------------------------------------------------------------------------------
# Metric CRS


def test_local_metric_crs_hangzhou() -> None:
    crs = local_metric_crs(120.09, 30.32)
    assert crs.to_epsg() == 32651
    assert crs.axis_info[0].unit_name == "metre"


@pytest.mark.parametrize(
    ("lon", "lat", "epsg"),
    [
        (151.21, -33.87, 32756),  # Sydney
        (-43.2, -22.9, 32723),  # Rio de Janeiro
        (116.40, 39.90, 32650),  # Beijing
        (87.6, 43.8, 32645),  # Ürümqi
        (-180.0, 10.0, 32601),
        (180.0, 10.0, 32601),  # normalised to -180
        (179.99, -10.0, 32760),
        (0.0, 0.0, 32631),  # the equator counts as north
    ],
)
def test_local_metric_crs_zones(lon: float, lat: float, epsg: int) -> None:
    assert local_metric_crs(lon, lat).to_epsg() == epsg


@pytest.mark.parametrize(("lon", "lat"), [(120.0, 91.0), (math.nan, 30.0), (120.0, math.inf)])
def test_local_metric_crs_rejects_bad_input(lon: float, lat: float) -> None:
    with pytest.raises(ValueError):
        local_metric_crs(lon, lat)


def test_local_metric_crs_for_geodataframe() -> None:
    gdf = gpd.GeoDataFrame(
        {"name": ["a", "b"]},
        geometry=[Point(120.0, 30.2), Point(120.2, 30.4)],
        crs="EPSG:4326",
    )
    assert local_metric_crs_for(gdf).to_epsg() == 32651
    assert local_metric_crs_for(gdf.geometry).to_epsg() == 32651
    # Another CRS is reprojected to degrees first.
    assert local_metric_crs_for(gdf.to_crs(3857)).to_epsg() == 32651
    # A bare shapely geometry in degrees; southern hemisphere.
    assert local_metric_crs_for(box(150.0, -34.0, 151.0, -33.0)).to_epsg() == 32756


def test_local_metric_crs_for_empty() -> None:
    with pytest.raises(ValueError):
        local_metric_crs_for(gpd.GeoDataFrame(geometry=[], crs="EPSG:4326"))
    with pytest.raises(ValueError):
        local_metric_crs_for(Point())


@settings(max_examples=50)
@given(any_lon, any_lat)
def test_local_metric_crs_contains_point(lon: float, lat: float) -> None:
    epsg = local_metric_crs(lon, lat).to_epsg()
    assert epsg is not None
    zone = epsg % 100
    central_meridian = -183.0 + 6.0 * zone
    offset = (lon - central_meridian + 180.0) % 360.0 - 180.0
    assert -3.0 - 1e-9 <= offset <= 3.0 + 1e-9
    assert epsg // 100 == (326 if lat >= 0 else 327)
