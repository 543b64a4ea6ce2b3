"""Convert lon/lat between China's WGS84, GCJ-02 and BD-09 systems; pick metric CRSs.

Coordinate systems
------------------
``wgs84``
    The GPS datum, EPSG:4326; the system everything is stored in.  ``cgcs2000``
    (EPSG:4490, China's national datum) differs from WGS84 by a few centimetres,
    below the precision of community-grid data, so it is accepted as an alias and
    treated as WGS84.
``gcj02``
    The "Mars" system mandated by the national surveying bureau, used by AMap
    (Gaode), Tencent Maps and Google's China maps: WGS84 plus a
    deliberate, smoothly varying offset of a few hundred metres.
``bd09``
    Baidu's system: GCJ-02 with a further rotation and shift.

All functions take and return longitude first, in degrees.  Scalars (Python or
numpy numbers) in give Python floats out; arrays or other array-likes in give new
``float64`` numpy arrays of the broadcast shape out.  Arrays are processed with
vectorised numpy, never a Python loop over points.

The offsets are only applied inside the coarse rectangle of :func:`out_of_china`;
points outside it are returned unchanged.  Inverses that have no closed form
(GCJ-02 → WGS84, and BD-09 → GCJ-02, whose textbook inverse is only good to about
0.2 m) are solved by fixed-point iteration of the forward transform to about
1e-12 degrees, far below 0.01 m.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

import shapely
from pyproj import CRS, Transformer

from gis.errors import GisError, InvalidInput

if TYPE_CHECKING:
    from geopandas import GeoDataFrame, GeoSeries
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "CHINA_LAT_MAX",
    "CHINA_LAT_MIN",
    "CHINA_LON_MAX",
    "CHINA_LON_MIN",
    "COORD_TYPES",
    "KRASOVSKY_A",
    "KRASOVSKY_EE",
    "X_PI",
    "CoordTypeError",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "geometries_to_wgs84",
    "local_metric_crs",
    "local_metric_crs_for",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

FloatArray = NDArray[np.float64]
_Transform = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]
"""A raw transform on float64 arrays of longitudes and latitudes, degrees."""

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
KRASOVSKY_A: Final = 6378245.0
"""Semi-major axis of the Krasovsky 1940 ellipsoid, metres."""
KRASOVSKY_EE: Final = 0.00669342162296594323
"""First eccentricity squared of the Krasovsky 1940 ellipsoid."""
X_PI: Final = math.pi * 3000.0 / 180.0
"""Frequency factor of the BD-09 perturbation, radians per degree."""

# The rectangle every GCJ-02 converter uses for "inside China", degrees.
CHINA_LON_MIN: Final = 72.004
CHINA_LON_MAX: Final = 137.8347
CHINA_LAT_MIN: Final = 0.8293
CHINA_LAT_MAX: Final = 55.8271

_INVERSE_TOL: Final = 1e-12
"""Stop iterating an inverse once the forward residual is below this, degrees."""
_INVERSE_MAX_ITER: Final = 30
"""Iteration cap of the inverses; convergence normally takes 3 to 6 steps."""

_CANONICAL: Final[dict[str, str]] = {
    "wgs84": "wgs84",
    "gcj02": "gcj02",
    "bd09": "bd09",
    "cgcs2000": "wgs84",
    "epsg:4326": "wgs84",
    "epsg:4490": "wgs84",
}

COORD_TYPES: Final[tuple[str, ...]] = tuple(_CANONICAL)
"""Accepted ``coord_type`` names: ``wgs84``, ``gcj02``, ``bd09`` and WGS84 aliases.

Matching ignores case and the separators ``-``, ``_`` and spaces, so ``"GCJ-02"``
and ``"BD_09"`` are accepted too.
"""


class CoordTypeError(GisError, InvalidInput):
    """An unknown coordinate-system name was given."""


# --------------------------------------------------------------------------------------
# Input / output handling


def _as_arrays(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[FloatArray, FloatArray, tuple[int, ...] | None]:
    """Return ``lon`` and ``lat`` broadcast together as flat float64 copies, and their shape.

    Parameters
    ----------
    lon, lat : ArrayLike
        Longitudes and latitudes, degrees.

    Returns
    -------
    lon, lat : numpy.ndarray
        One-dimensional float64 arrays, fresh copies (safe to modify).
    shape : tuple of int or None
        The broadcast shape to give the results, or None when both inputs were
        scalars (Python or numpy numbers, not arrays), which means floats out.
    """
    scalar = not isinstance(lon, np.ndarray) and not isinstance(lat, np.ndarray)
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
    shape = None if scalar and x.ndim == 0 else x.shape
    return np.array(x).reshape(-1), np.array(y).reshape(-1), shape


def _shape_result(
    x: FloatArray, y: FloatArray, shape: tuple[int, ...] | None
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Return floats for scalar input, otherwise the arrays in the input's shape."""
    if shape is None:
        return float(x[0]), float(y[0])
    return x.reshape(shape), y.reshape(shape)


# --------------------------------------------------------------------------------------
# The raw formulas (no China test), on float64 arrays


def _gcj02_delta(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS84 ``lon``, ``lat``."""
    x = lon - 105.0
    y = lat - 35.0
    x_pi = x * math.pi
    y_pi = y * math.pi
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x_pi) + 20.0 * np.sin(2.0 * x_pi)) * 2.0 / 3.0

    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
    dlat += common
    dlat += (20.0 * np.sin(y_pi) + 40.0 * np.sin(y_pi / 3.0)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y_pi / 12.0) + 320.0 * np.sin(y_pi / 30.0)) * 2.0 / 3.0

    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
    dlon += common
    dlon += (20.0 * np.sin(x_pi) + 40.0 * np.sin(x_pi / 3.0)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x_pi / 12.0) + 300.0 * np.sin(x_pi / 30.0)) * 2.0 / 3.0

    rad_lat = lat / 180.0 * math.pi
    magic = 1.0 - KRASOVSKY_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((KRASOVSKY_A * (1.0 - KRASOVSKY_EE)) / (magic * sqrt_magic) * math.pi)
    dlon = (dlon * 180.0) / (KRASOVSKY_A / sqrt_magic * np.cos(rad_lat) * math.pi)
    return dlon, dlat


def _wgs_to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj02_delta(lon, lat)
    return lon + dlon, lat + dlat


def _gcj_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_to_gcj_closed_form(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the textbook BD-09 → GCJ-02 inverse, good to about 2e-6 degrees."""
    x = lon - 0.0065
    y = lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _refine_inverse(
    forward: _Transform,
    target_lon: FloatArray,
    target_lat: FloatArray,
    lon: FloatArray,
    lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(lon, lat) == target`` by fixed-point iteration from a first guess.

    Each step moves the estimate by minus the forward residual.  The forward
    transforms here are the identity plus an offset whose derivatives are of
    order 1e-2 or smaller, so every step gains about two decimal digits.  Only
    points that have not yet converged are updated, so a point's result does not
    depend on the other points in the array.

    Parameters
    ----------
    forward : callable
        Vectorised forward transform on float64 arrays, degrees.
    target_lon, target_lat : numpy.ndarray
        The forward images whose pre-images are wanted, degrees.
    lon, lat : numpy.ndarray
        First guesses, degrees; modified in place and returned.

    Returns
    -------
    lon, lat : numpy.ndarray
        Pre-images, with forward residual below 1e-12 degrees (or the best reached
        after 30 iterations).
    """
    active = np.arange(lon.size)
    for _ in range(_INVERSE_MAX_ITER):
        fx, fy = forward(lon[active], lat[active])
        rx = fx - target_lon[active]
        ry = fy - target_lat[active]
        moving = (np.abs(rx) > _INVERSE_TOL) | (np.abs(ry) > _INVERSE_TOL)
        active, rx, ry = active[moving], rx[moving], ry[moving]
        if active.size == 0:
            break
        lon[active] -= rx
        lat[active] -= ry
    return lon, lat


def _gcj_to_wgs(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj02_delta(lon, lat)
    return _refine_inverse(_wgs_to_gcj, lon, lat, lon - dlon, lat - dlat)


def _bd_to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    gx, gy = _bd_to_gcj_closed_form(lon, lat)
    return _refine_inverse(_gcj_to_bd, lon, lat, gx, gy)


def _wgs_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj_to_bd(*_wgs_to_gcj(lon, lat))


def _bd_to_wgs(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj_to_wgs(*_bd_to_gcj(lon, lat))


def _out_of_china_array(lon: FloatArray, lat: FloatArray) -> NDArray[np.bool_]:
    return (
        (lon < CHINA_LON_MIN)
        | (lon > CHINA_LON_MAX)
        | (lat < CHINA_LAT_MIN)
        | (lat > CHINA_LAT_MAX)
    )


def _apply_in_china(
    raw: _Transform, lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Apply ``raw`` to the points inside the China rectangle; copy the rest unchanged."""
    x, y, shape = _as_arrays(lon, lat)
    inside = ~_out_of_china_array(x, y)
    if inside.any():
        x[inside], y[inside] = raw(x[inside], y[inside])
    return _shape_result(x, y, shape)


# --------------------------------------------------------------------------------------
# Public API


@overload
def out_of_china(lon: float, lat: float) -> bool: ...
@overload
def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]: ...
def out_of_china(lon: ArrayLike, lat: ArrayLike) -> bool | NDArray[np.bool_]:
    """Test whether points lie outside the rectangle in which the offsets apply.

    This is the coarse box every public GCJ-02 converter uses: longitude
    72.004..137.8347 and latitude 0.8293..55.8271 (bounds inclusive) count as
    China.  It is a rectangle, not the border: parts of neighbouring countries
    and seas inside it are offset too.  That is what every converter does, and
    it matches the data; all of China's territory lies well inside the box.

    Parameters
    ----------
    lon, lat : float or ArrayLike
        Longitude and latitude, degrees, in any of the three systems (the offsets
        are far too small to matter for this test).

    Returns
    -------
    bool or numpy.ndarray of bool
        True where the point is outside the box; a ``bool`` for scalar input.
        NaN coordinates count as inside (and convert to NaN).
    """
    x, y, shape = _as_arrays(lon, lat)
    result = _out_of_china_array(x, y)
    if shape is None:
        return bool(result[0])
    return result.reshape(shape)


@overload
def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_gcj02(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert WGS84 coordinates to GCJ-02 (AMap, Tencent).

    Parameters
    ----------
    lon, lat : float or ArrayLike
        WGS84 longitude and latitude, degrees (EPSG:4326).  Broadcast together.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude, degrees; floats for scalar input.  Points
        outside :func:`out_of_china`'s box are returned unchanged.
    """
    return _apply_in_china(_wgs_to_gcj, lon, lat)


@overload
def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 coordinates (AMap, Tencent) to WGS84.

    The exact inverse of :func:`wgs84_to_gcj02`, found by iterating the forward
    transform until it reproduces the input to 1e-12 degrees (round-trip error
    about 1e-7 m), rather than the one-step approximation (error up to metres)
    found in many converters.

    Parameters
    ----------
    lon, lat : float or ArrayLike
        GCJ-02 longitude and latitude, degrees.  Broadcast together.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude, degrees (EPSG:4326); floats for scalar
        input.  Points outside :func:`out_of_china`'s box are returned unchanged.
    """
    return _apply_in_china(_gcj_to_wgs, lon, lat)


@overload
def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_bd09(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 coordinates (AMap, Tencent) to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat : float or ArrayLike
        GCJ-02 longitude and latitude, degrees.  Broadcast together.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 longitude and latitude, degrees; floats for scalar input.  Points
        outside :func:`out_of_china`'s box are returned unchanged.
    """
    return _apply_in_china(_gcj_to_bd, lon, lat)


@overload
def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert BD-09 coordinates (Baidu) to GCJ-02 (AMap, Tencent).

    Starts from the usual closed-form inverse (accurate to only about 2e-6
    degrees, 0.2 m) and refines it by iterating :func:`gcj02_to_bd09` to 1e-12
    degrees.

    Parameters
    ----------
    lon, lat : float or ArrayLike
        BD-09 longitude and latitude, degrees.  Broadcast together.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        GCJ-02 longitude and latitude, degrees; floats for scalar input.  Points
        outside :func:`out_of_china`'s box are returned unchanged.
    """
    return _apply_in_china(_bd_to_gcj, lon, lat)


@overload
def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_bd09(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert WGS84 coordinates to BD-09 (Baidu), via GCJ-02.

    Parameters
    ----------
    lon, lat : float or ArrayLike
        WGS84 longitude and latitude, degrees (EPSG:4326).  Broadcast together.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        BD-09 longitude and latitude, degrees; floats for scalar input.  Points
        whose WGS84 position is outside :func:`out_of_china`'s box are returned
        unchanged.
    """
    return _apply_in_china(_wgs_to_bd, lon, lat)


@overload
def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_wgs84(
    lon: ArrayLike, lat: ArrayLike
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert BD-09 coordinates (Baidu) to WGS84, via GCJ-02; both inverses are iterative.

    Parameters
    ----------
    lon, lat : float or ArrayLike
        BD-09 longitude and latitude, degrees.  Broadcast together.

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude, degrees (EPSG:4326); floats for scalar
        input.  Points whose BD-09 position is outside :func:`out_of_china`'s box
        are returned unchanged.
    """
    return _apply_in_china(_bd_to_wgs, lon, lat)


def _canonical_coord_type(coord_type: str) -> str:
    """Return ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` for an accepted name.

    Raises
    ------
    CoordTypeError
        If ``coord_type`` is not one of :data:`COORD_TYPES`.
    """
    key = str(coord_type).strip().lower()
    for sep in ("-", "_", " "):
        key = key.replace(sep, "")
    try:
        return _CANONICAL[key]
    except KeyError:
        accepted = ", ".join(repr(name) for name in COORD_TYPES)
        raise CoordTypeError(
            f"unknown coordinate system {coord_type!r}; accepted values are {accepted} "
            "(case-insensitive; '-', '_' and spaces are ignored)"
        ) from None


_TO_WGS84: Final[dict[str, _Transform]] = {"gcj02": _gcj_to_wgs, "bd09": _bd_to_wgs}
_FROM_WGS84: Final[dict[str, _Transform]] = {"gcj02": _wgs_to_gcj, "bd09": _wgs_to_bd}


@overload
def to_wgs84(lon: float, lat: float, coord_type: str) -> tuple[float, float]: ...
@overload
def to_wgs84(lon: ArrayLike, lat: ArrayLike, coord_type: str) -> tuple[FloatArray, FloatArray]: ...
def to_wgs84(
    lon: ArrayLike, lat: ArrayLike, coord_type: str
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert coordinates in the named system to WGS84.

    Parameters
    ----------
    lon, lat : float or ArrayLike
        Longitude and latitude in ``coord_type``, degrees.  Broadcast together.
    coord_type : str
        One of :data:`COORD_TYPES`: ``"wgs84"``, ``"gcj02"``, ``"bd09"``, or the
        WGS84 aliases ``"cgcs2000"``, ``"epsg:4326"``, ``"epsg:4490"`` (CGCS2000
        differs from WGS84 by centimetres, below the precision of this data).

    Returns
    -------
    lon, lat : float or numpy.ndarray
        WGS84 longitude and latitude, degrees (EPSG:4326); floats for scalar
        input, new arrays otherwise.

    Raises
    ------
    CoordTypeError
        If ``coord_type`` is not recognised.
    """
    kind = _canonical_coord_type(coord_type)
    if kind == "wgs84":
        return _shape_result(*_as_arrays(lon, lat))
    return _apply_in_china(_TO_WGS84[kind], lon, lat)


@overload
def from_wgs84(lon: float, lat: float, coord_type: str) -> tuple[float, float]: ...
@overload
def from_wgs84(
    lon: ArrayLike, lat: ArrayLike, coord_type: str
) -> tuple[FloatArray, FloatArray]: ...
def from_wgs84(
    lon: ArrayLike, lat: ArrayLike, coord_type: str
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """Convert WGS84 coordinates to the named system.

    Parameters
    ----------
    lon, lat : float or ArrayLike
        WGS84 longitude and latitude, degrees (EPSG:4326).  Broadcast together.
    coord_type : str
        Target system, one of :data:`COORD_TYPES` (see :func:`to_wgs84`).

    Returns
    -------
    lon, lat : float or numpy.ndarray
        Longitude and latitude in ``coord_type``, degrees; floats for scalar
        input, new arrays otherwise.

    Raises
    ------
    CoordTypeError
        If ``coord_type`` is not recognised.
    """
    kind = _canonical_coord_type(coord_type)
    if kind == "wgs84":
        return _shape_result(*_as_arrays(lon, lat))
    return _apply_in_china(_FROM_WGS84[kind], lon, lat)


def geometries_to_wgs84(geoms: ArrayLike, coord_type: str) -> NDArray[np.object_]:
    """Convert an array of shapely geometries from ``coord_type`` to WGS84, vertex by vertex.

    Parameters
    ----------
    geoms : ArrayLike
        Shapely geometries with lon/lat coordinates in ``coord_type`` (degrees).
    coord_type : str
        One of :data:`COORD_TYPES`.

    Returns
    -------
    numpy.ndarray
        New geometries in WGS84 (EPSG:4326); missing geometries stay missing.
    """
    kind = _canonical_coord_type(coord_type)
    arr = np.asarray(geoms, dtype=object)
    if kind == "wgs84":
        return arr.copy()

    def convert(xy: FloatArray) -> FloatArray:
        lon, lat = to_wgs84(xy[:, 0], xy[:, 1], kind)
        return np.column_stack([lon, lat])

    return np.asarray(shapely.transform(arr, convert), dtype=object)


def local_metric_crs(lon: float, lat: float) -> CRS:
    """Return the WGS84 / UTM zone CRS containing a point, for metric distances and areas.

    Parameters
    ----------
    lon, lat : float
        Longitude and latitude of the area's centroid, degrees (EPSG:4326).

    Returns
    -------
    pyproj.CRS
        EPSG:326zz (northern hemisphere, including the equator) or EPSG:327zz
        (southern), where zz is the 6-degree UTM zone, 1 to 60.  Units are metres.
        The Norway/Svalbard zone exceptions are not applied.

    Raises
    ------
    ValueError
        If the coordinates are not finite or the latitude is outside -90..90.
    """
    lon = float(lon)
    lat = float(lat)
    if not (math.isfinite(lon) and math.isfinite(lat)) or not -90.0 <= lat <= 90.0:
        raise ValueError(f"not a valid longitude/latitude in degrees: ({lon}, {lat})")
    lon = (lon + 180.0) % 360.0 - 180.0  # normalise to [-180, 180)
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return CRS.from_epsg((32600 if lat >= 0.0 else 32700) + zone)


def local_metric_crs_for(data: GeoDataFrame | GeoSeries | BaseGeometry) -> CRS:
    """Return the UTM CRS for the centre of the total bounds of some geometries.

    Parameters
    ----------
    data : geopandas.GeoDataFrame, geopandas.GeoSeries or shapely geometry
        The geometries.  GeoPandas objects are expected in EPSG:4326; one with
        another CRS has its bounds reprojected to EPSG:4326 first, one without a
        CRS is assumed to be EPSG:4326.  A bare shapely geometry must be in
        degrees, EPSG:4326.

    Returns
    -------
    pyproj.CRS
        The WGS84 / UTM CRS from :func:`local_metric_crs` at the centre of the
        bounding box.

    Raises
    ------
    ValueError
        If the input is empty (no finite bounds).
    """
    if hasattr(data, "total_bounds"):
        minx, miny, maxx, maxy = (float(v) for v in data.total_bounds)
        crs = data.crs
        if crs is not None and not CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
            transformer = Transformer.from_crs(crs, 4326, always_xy=True)
            minx, miny, maxx, maxy = transformer.transform_bounds(minx, miny, maxx, maxy)
    else:
        minx, miny, maxx, maxy = (float(v) for v in data.bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise ValueError("cannot choose a metric CRS for empty geometries")
    return local_metric_crs((minx + maxx) / 2.0, (miny + maxy) / 2.0)
