"""Small vectorised helpers of the sample district: strings, ranks, patches, names, times."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

import shapely
from pyproj import Transformer

from etl.sample.constants import (
    GIVEN_F_OLD,
    GIVEN_F_YOUNG,
    GIVEN_M_OLD,
    GIVEN_M_YOUNG,
    METRIC_CRS,
    PHONE_PREFIXES,
    SURNAME_WEIGHTS,
    SURNAMES,
    TZ,
    WGS84,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
StrArray = NDArray[np.str_]
ObjectArray = NDArray[np.object_]


def str_array(values: Any) -> pa.Array:
    """A pyarrow string array from a Python sequence (``None`` stays null)."""
    return pa.array(list(values), type=pa.string())


def take_str(values: Any, index: np.ndarray) -> pa.Array:
    """Vectorised lookup: ``values[index]`` as a pyarrow string array."""
    table = values if isinstance(values, pa.Array) else str_array(values)
    return table.take(pa.array(np.asarray(index, dtype=np.int64)))


def join_str(*parts: Any) -> pa.Array:
    """Concatenate string arrays and scalars element-wise."""
    return pc.binary_join_element_wise(*parts, "")


def int_str(values: np.ndarray, width: int = 0) -> pa.Array:
    """Integers as decimal strings, zero-padded to ``width``."""
    out = pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())
    return pc.utf8_lpad(out, width=width, padding="0") if width else out


def ascii_str(chars: np.ndarray) -> pa.Array:
    """Rows of an ``(n, k)`` uint8 array of ASCII codes as a string array."""
    chars = np.ascontiguousarray(chars, dtype=np.uint8)
    n, k = chars.shape
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(k), n, [None, pa.py_buffer(chars)])
    return fixed.cast(pa.binary()).cast(pa.string())


def str_column(values: Any) -> pd.Series:
    """A pandas ``str`` column (pyarrow-backed; missing values are NaN)."""
    if isinstance(values, pa.ChunkedArray | pa.Array):
        return pd.Series(values, dtype="str")
    return pd.Series(list(values), dtype="str")


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    weights = np.asarray(weights, dtype=float)
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    rest = int(total - out.sum())
    if rest:
        out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def group_rank(groups: np.ndarray) -> np.ndarray:
    """Position of each element within its run of equal (sorted) ``groups``."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, groups[1:] != groups[:-1]]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first


def group_start(groups: np.ndarray) -> np.ndarray:
    """Index of the first element of each element's run of equal (sorted) ``groups``."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, groups[1:] != groups[:-1]]
    return np.maximum.accumulate(np.where(start, np.arange(n), 0))


def bilinear(quads: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points of bilinear patches: corners SW, SE, NE, NW ``(..., 4, 2)`` at ``(u, v)``."""
    u = np.asarray(u, dtype=float)[..., None]
    v = np.asarray(v, dtype=float)[..., None]
    return (
        (1 - u) * (1 - v) * quads[..., 0, :]
        + u * (1 - v) * quads[..., 1, :]
        + u * v * quads[..., 2, :]
        + (1 - u) * v * quads[..., 3, :]
    )


def rects(quads: np.ndarray, u0: Any, u1: Any, v0: Any, v1: Any) -> np.ndarray:
    """Closed rings ``(n, 5, 2)`` of the images of uv rectangles in bilinear patches.

    A bilinear map sends lines of constant u or v to straight lines, so the image of an
    axis-aligned uv rectangle is exactly the quad through its four mapped corners.
    """
    us = np.stack([u0, u1, u1, u0, u0], axis=-1)
    vs = np.stack([v0, v0, v1, v1, v0], axis=-1)
    return bilinear(quads[:, None], us, vs)


def lonlat(xy: np.ndarray) -> np.ndarray:
    """UTM 51N coordinates ``(..., 2)`` to lon/lat (vectorised)."""
    lon, lat = to_wgs84().transform(xy[..., 0], xy[..., 1])
    return np.stack([np.asarray(lon), np.asarray(lat)], axis=-1)


def to_wgs84() -> Transformer:
    """The transformer from UTM 51N (EPSG:32651) to WGS84 lon/lat (EPSG:4326)."""
    return Transformer.from_crs(METRIC_CRS, WGS84, always_xy=True)


def multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons (or MultiPolygons) as MultiPolygons."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.empty(len(geoms), dtype=object)
    single = shapely.get_type_id(geoms) == 3
    if single.any():
        out[single] = shapely.multipolygons(geoms[single][:, None])
    out[~single] = geoms[~single]
    return out


def name_pool(rng: np.random.Generator, *parts: Any) -> list[str]:
    """Every combination of the given word lists, shuffled."""
    names = [""]
    for part in parts:
        names = [a + b for a in names for b in part]
    return [names[i] for i in rng.permutation(len(names))]


def pick_names(pool: list[str], n: int, *, number: bool = True) -> list[str]:
    """``n`` names from a pool, cycling when it runs out (numbering repeats if ``number``)."""
    out = []
    for i in range(n):
        name = pool[i % len(pool)]
        out.append(name if i < len(pool) or not number else f"{name}{i // len(pool) + 1}")
    return out


def person_names(
    rng: np.random.Generator, male: np.ndarray, old: np.ndarray, surname: np.ndarray | None = None
) -> pa.Array:
    """Chinese names: a common surname and one or two given characters (vectorised)."""
    n = len(male)
    if surname is None:
        surname = rng.choice(len(SURNAMES), n, p=SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum())
    pools = [GIVEN_F_YOUNG, GIVEN_F_OLD, GIVEN_M_YOUNG, GIVEN_M_OLD]
    offsets = np.cumsum([0] + [len(p) for p in pools])
    table = str_array(list("".join(pools)))
    pool = 2 * male.astype(np.int64) + old.astype(np.int64)
    size = np.diff(offsets)[pool]
    first = offsets[pool] + (rng.random(n) * size).astype(np.int64)
    second = first + 1 + (rng.random(n) * (size - 1)).astype(np.int64)
    second = np.where(second >= offsets[pool] + size, second - size, second)  # ≠ first
    two = rng.random(n) < np.where(old, 0.55, 0.8)
    given2 = pc.if_else(pa.array(two), take_str(table, second), pa.scalar(""))
    return join_str(take_str(list(SURNAMES), surname), take_str(table, first), given2)


def phones(rng: np.random.Generator, n: int) -> np.ndarray:
    """Plausible 11-digit mainland mobile numbers as int64."""
    prefix = PHONE_PREFIXES[rng.integers(0, len(PHONE_PREFIXES), n)]
    return prefix * 100_000_000 + rng.integers(0, 100_000_000, n)


def local_times(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds (float, NaN = missing) as a tz-aware Asia/Shanghai series."""
    seconds = np.asarray(seconds, dtype=float)
    ns = np.where(np.isnan(seconds), 0, np.round(seconds * 1e9)).astype(np.int64)
    values = ns.view("datetime64[ns]").copy()
    values[np.isnan(seconds)] = np.datetime64("NaT")
    return pd.Series(values).dt.tz_localize("UTC").dt.tz_convert(TZ)
