"""Check geometries before they are stored, and say what is wrong, where and how to fix it.

Rules
-----
* The frame must be in WGS84 (EPSG:4326; CGCS2000, EPSG:4490, is accepted as WGS84 —
  they differ by centimetres).  A frame without a CRS or in another CRS is rejected:
  reprojecting silently would hide a wrong assumption.
* Missing or empty geometries, and geometries of the wrong type, are rejected.
* A vertex that is not a finite number (NaN, infinity) is rejected.
* Coordinates outside lon [-180, 180] / lat [-90, 90] are rejected; coordinates that
  fit the service area only once lon and lat are swapped are rejected as *swapped*;
  coordinates outside the service area are rejected.
* Invalid polygons are **repaired** with ``shapely.make_valid`` when the repair is
  harmless — the result is still polygonal and its area differs by less than 1 % —
  and the repair is reported as a warning with the row.  Everything else is
  rejected.  Why: OpenStreetMap and CAD exports are full of tiny self-touching rings
  whose repair changes nothing a user cares about, while a bow-tie or a collapsed
  polygon means the source is wrong and must be fixed there.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import CRS

from gis.clock import LOCAL_TZ
from gis.errors import Problem

WGS84_ALIASES = (4326, 4490)


class ServiceArea(tuple):
    """Where records may lie: (west, south, east, north) in degrees, and what drew that box.

    A plain 4-tuple to everything that unpacks it; ``source`` says where the box comes
    from, for messages: the imported boundaries with their margin, or the configured
    ``WANGGE_SERVICE_AREA_BOUNDS`` before any boundary was imported.
    """

    source: str

    def __new__(
        cls, bounds: Sequence[float], source: str = "WANGGE_SERVICE_AREA_BOUNDS"
    ) -> ServiceArea:
        """The box ``bounds`` (W, S, E, N) drawn from ``source``."""
        area = super().__new__(cls, tuple(float(v) for v in bounds))
        area.source = source
        return area

    def describe(self) -> str:
        """The box and its source, e.g. ``the boundaries of 西湖区 + 5 km: W 120.0, …``."""
        w, s, e, n = self
        return f"{self.source}: W {w:.4f}, S {s:.4f}, E {e:.4f}, N {n:.4f}"


def describe_area(area: Sequence[float]) -> str:
    """A service area for messages: its source when it is a :class:`ServiceArea`."""
    if isinstance(area, ServiceArea):
        return area.describe()
    w, s, e, n = area
    return f"W {w}, S {s}, E {e}, N {n}"


REPAIR_MAX_AREA_CHANGE = 0.01

#: The types a column may be declared with (see :func:`coerce_columns`).
ColumnKind = Literal["integer", "float", "boolean", "timestamp", "text"]
#: Spellings of true and false accepted in a boolean column (case-insensitive).
TRUE_SPELLINGS = frozenset({"true", "t", "yes", "y", "1", "是", "真", "对"})
FALSE_SPELLINGS = frozenset({"false", "f", "no", "n", "0", "否", "假", "错"})


def _ids(frame: pd.DataFrame, positions: np.ndarray, id_column: str | None) -> list[str | None]:
    if id_column is None or id_column not in frame.columns:
        return [None] * len(positions)
    return [str(v) for v in frame[id_column].to_numpy()[positions]]


def _problems(
    frame: pd.DataFrame,
    mask: np.ndarray,
    *,
    layer: str,
    field: str,
    message: str | Callable[[int], str],
    fix: str,
    id_column: str | None,
    severity: str = "error",
) -> list[Problem]:
    """One problem per row of ``mask``; ``message`` the same for all, or said per position."""
    positions = np.flatnonzero(mask)
    ids = _ids(frame, positions, id_column)
    said = message if callable(message) else (lambda _: message)
    return [
        Problem(layer, int(p) + 1, rid, field, said(int(p)), fix, severity)
        for p, rid in zip(positions, ids, strict=True)
    ]


def check_crs(gdf: gpd.GeoDataFrame, layer: str) -> list[Problem]:
    """The frame must be in WGS84 (EPSG:4326 or CGCS2000 EPSG:4490)."""
    if gdf.crs is None:
        return [
            Problem(
                layer,
                None,
                None,
                "crs",
                "the layer has no coordinate reference system",
                "declare it (EPSG:4326 for lon/lat), or pass coord_type for GCJ-02/BD-09",
            )
        ]
    epsg = CRS(gdf.crs).to_epsg()
    if epsg not in WGS84_ALIASES:
        return [
            Problem(
                layer,
                None,
                None,
                "crs",
                f"the layer is in {CRS(gdf.crs).name} (EPSG:{epsg}), not WGS84",
                "reproject it to EPSG:4326 (e.g. gdf.to_crs(4326)) before loading",
            )
        ]
    return []


def check_geometries(
    gdf: gpd.GeoDataFrame,
    layer: str,
    allowed_types: Sequence[str],
    *,
    service_area: Sequence[float],
    id_column: str | None = "id",
    column: str | None = None,
    required: bool = True,
    contained: bool = True,
) -> tuple[np.ndarray, list[Problem]]:
    """Check and, where harmless, repair the geometries of one layer.

    Parameters
    ----------
    gdf
        The layer, in EPSG:4326.
    layer
        Its name, for messages.
    allowed_types
        Geometry types accepted (``"Polygon"``, ``"MultiPolygon"``, ``"Point"`` …).
    service_area
        (west, south, east, north) in degrees: where records may lie (a
        :class:`ServiceArea` names its source in the message).
    id_column
        Column naming each record in messages.
    column
        Geometry column to check (default: the active one).
    required
        Whether a missing geometry is an error.
    contained
        Whether a geometry must lie within the service area (records), or only meet it
        (a hazard area, which may reach beyond the district).

    Returns
    -------
    (geometries, problems)
        The geometries with harmless repairs applied, and every problem found
        (repairs as warnings).
    """
    series = gdf[column] if column else gdf.geometry
    geoms = np.asarray(series.array, dtype=object).copy()
    problems: list[Problem] = []
    name = column or "geometry"

    def report(mask: np.ndarray, message: str, fix: str, severity: str = "error") -> None:
        problems.extend(
            _problems(
                gdf,
                mask,
                layer=layer,
                field=name,
                message=message,
                fix=fix,
                id_column=id_column,
                severity=severity,
            )
        )

    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if required:
        report(missing, message="geometry is missing or empty", fix="give every record a geometry")
    present = ~missing
    types = np.array(shapely.get_type_id(geoms))
    allowed_ids = {_TYPE_IDS[t] for t in allowed_types}
    wrong_type = present & ~np.isin(types, list(allowed_ids))
    for pos in np.flatnonzero(wrong_type):
        report(
            _only(len(geoms), int(pos)),
            message=f"geometry is a {geoms[pos].geom_type}, expected {' or '.join(allowed_types)}",
            fix="export this layer with the right geometry type",
        )
    check = present & ~wrong_type

    xmin, ymin, xmax, ymax = (np.full(len(geoms), np.nan) for _ in range(4))
    if check.any():
        b = shapely.bounds(geoms[check])
        xmin[check], ymin[check], xmax[check], ymax[check] = b.T
    w, s, e, n = service_area
    if contained:
        inside = (xmin >= w) & (xmax <= e) & (ymin >= s) & (ymax <= n)
        # a swapped Chinese lon/lat puts "lat" above 90, so test swapping before the range
        swapped = check & ~inside & (ymin >= w) & (ymax <= e) & (xmin >= s) & (xmax <= n)
    else:
        inside = (xmax >= w) & (xmin <= e) & (ymax >= s) & (ymin <= n)
        swapped = check & ~inside & (ymax >= w) & (ymin <= e) & (xmax >= s) & (xmin <= n)
    report(
        swapped,
        message="longitude and latitude look swapped",
        fix="swap the coordinate columns: GeoJSON and WKT are lon, lat",
    )
    # bounds skip a NaN vertex, so look at every vertex
    xy, owner = shapely.get_coordinates(geoms[check], return_index=True)
    nonfinite = np.zeros(len(geoms), dtype=bool)
    nonfinite[np.flatnonzero(check)[owner[~np.isfinite(xy).all(axis=1)]]] = True
    nonfinite |= check & ~np.isfinite(xmin + ymin + xmax + ymax)
    report(
        nonfinite & ~swapped,
        message="a coordinate is not a finite number (NaN or infinity)",
        fix="give every vertex as lon, lat in degrees",
    )
    out_of_range = (
        check & ~swapped & ~nonfinite & ((xmin < -180) | (xmax > 180) | (ymin < -90) | (ymax > 90))
    )
    report(
        out_of_range,
        message="coordinates out of range (lon must be within ±180, lat within ±90)",
        fix="check the coordinate columns and their order (lon, lat)",
    )
    rest = check & ~swapped & ~nonfinite & ~out_of_range
    report(
        rest & ~inside,
        message=f"outside the service area ({describe_area(service_area)})",
        fix="check the coordinates and their system (--coord-type); the area is the "
        "imported boundaries and WANGGE_SERVICE_AREA_MARGIN_M around them (before any: "
        "WANGGE_SERVICE_AREA_BOUNDS)",
    )

    invalid = rest & inside & ~shapely.is_valid(geoms)
    for pos in np.flatnonzero(invalid):
        original = geoms[pos]
        reason = shapely.is_valid_reason(original)
        repaired = shapely.make_valid(original)
        if repaired.geom_type == "GeometryCollection":
            repaired = shapely.union_all(
                [g for g in repaired.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
            )
        polygonal = repaired.geom_type in ("Polygon", "MultiPolygon")
        change = abs(repaired.area - abs(original.area)) / max(repaired.area, 1e-18)
        if (
            polygonal
            and _TYPE_IDS[repaired.geom_type] in allowed_ids | _promotable(allowed_ids)
            and change < REPAIR_MAX_AREA_CHANGE
        ):
            geoms[pos] = repaired
            report(
                _only(len(geoms), int(pos)),
                severity="warning",
                message=f"invalid geometry ({reason}) repaired with make_valid",
                fix="nothing to do; fix it at the source to silence this",
            )
        else:
            report(
                _only(len(geoms), int(pos)),
                message=f"invalid geometry ({reason}) that cannot be "
                "repaired without changing its shape",
                fix="fix the geometry at the source (e.g. in QGIS: "
                "Vector ▸ Geometry Tools ▸ Check Validity)",
            )
    return geoms, problems


def check_unique(frame: pd.DataFrame, layer: str, column: str) -> list[Problem]:
    """Every value of ``column`` must be unique; each duplicate names the first row."""
    values = frame[column]
    dup = values.duplicated(keep="first").to_numpy()
    if not dup.any():
        return []
    first_row = {v: i + 1 for i, v in reversed(list(enumerate(values)))}
    return [
        Problem(
            layer,
            int(p) + 1,
            str(values.iloc[p]),
            column,
            f"duplicate {column} {_show(values.iloc[p])} (first seen in row "
            f"{first_row[values.iloc[p]]})",
            f"give each record its own {column}",
        )
        for p in np.flatnonzero(dup)
    ]


def check_required(
    frame: pd.DataFrame, layer: str, columns: Sequence[str], id_column: str | None = "id"
) -> list[Problem]:
    """Columns must exist and hold a value in every row."""
    problems: list[Problem] = []
    for column in columns:
        if column not in frame.columns:
            problems.append(
                Problem(
                    layer, None, None, column, "column is missing", f"add a column named '{column}'"
                )
            )
            continue
        problems += _problems(
            frame,
            frame[column].isna().to_numpy(),
            layer=layer,
            field=column,
            message="value is missing",
            fix=f"fill in '{column}'",
            id_column=id_column,
        )
    return problems


def check_allowed(
    frame: pd.DataFrame,
    layer: str,
    column: str,
    allowed: Sequence[str],
    id_column: str | None = "id",
) -> list[Problem]:
    """Values of a categorical column must be among ``allowed`` (missing ones are skipped)."""
    if column not in frame.columns:
        return []
    values = frame[column]
    bad = (values.notna() & ~values.isin(list(allowed))).to_numpy()
    return _problems(
        frame,
        bad,
        layer=layer,
        field=column,
        message=lambda p: f"unknown {column} {_show(values.iloc[p])}",
        fix=f"use one of: {', '.join(allowed)}",
        id_column=id_column,
    )


def check_range(
    frame: pd.DataFrame,
    layer: str,
    column: str,
    low: float | None,
    high: float | None,
    *,
    above: bool = False,
    id_column: str | None = "id",
) -> list[Problem]:
    """Numbers of ``column`` must lie from ``low`` to ``high`` (above ``low`` with ``above``).

    The database refuses the same (its CHECK rules); found here, each value is named by
    row and column, and an import may skip its row instead of failing whole.
    """
    if column not in frame.columns:
        return []
    values = pd.to_numeric(frame[column], errors="coerce")
    x = values.to_numpy(dtype=float, na_value=np.nan)
    bad = np.zeros(len(x), dtype=bool)
    with np.errstate(invalid="ignore"):
        if low is not None:
            bad |= (x <= low) if above else (x < low)
        if high is not None:
            bad |= x > high
    if low is None:
        allowed = f"at most {high:g}"
    elif high is None:
        allowed = f"{'more than' if above else 'at least'} {low:g}"
    else:
        allowed = f"from {low:g} to {high:g}"
    return _problems(
        frame,
        bad,
        layer=layer,
        field=column,
        message=lambda p: f"{column} {x[p]:g} is out of range",
        fix=f"write a {column} {allowed}",
        id_column=id_column,
    )


def check_references(
    frame: pd.DataFrame,
    layer: str,
    column: str,
    targets: pd.Index | set,
    target_layer: str,
    id_column: str | None = "id",
) -> list[Problem]:
    """Values of ``column`` must name records of ``target_layer``.

    Missing ones are not looked at: :func:`check_required` names them where a value is
    needed.
    """
    if column not in frame.columns:
        return []
    values = frame[column]
    known = values.isin(list(targets) if isinstance(targets, set) else targets)
    bad = ~known & values.notna()  # a missing one is check_required's to name, or allowed
    return _problems(
        frame,
        np.asarray(bad, dtype=bool),
        layer=layer,
        field=column,
        message=lambda p: f"{column} {_show(values.iloc[p])} names no record of {target_layer}",
        fix=f"load the {target_layer} record first, or correct the reference",
        id_column=id_column,
    )


def coerce_columns(
    frame: pd.DataFrame,
    layer: str,
    kinds: Mapping[str, ColumnKind],
    id_column: str | None = "id",
) -> tuple[pd.DataFrame, list[Problem]]:
    """Give every column its declared type, whatever file format it was read from.

    A CSV holds only text and a Shapefile or spreadsheet may hold a code as a number:
    ``"5"`` becomes the integer 5, ``"是"`` or ``"yes"`` becomes True, ``"2024-05-01 08:30"``
    a timestamp in Asia/Shanghai (unless it carries an offset), 330106109001001 the text
    ``"330106109001001"``.  Blank text is a missing value.  Columns already of their
    type are kept as they are; columns not in ``kinds`` are left alone.

    Returns
    -------
    (frame, problems)
        The converted frame (a copy when anything changed) and one problem per value
        that cannot be converted, naming row and field; such a value becomes missing.
    """
    out = frame
    problems: list[Problem] = []
    for column, kind in kinds.items():
        if column not in frame.columns:
            continue
        converter, message, fix = _COERCIONS[kind]
        given = frame[column]
        values, bad = converter(given)
        if values is not given:
            if out is frame:
                out = frame.copy()
            out[column] = values
        positions = np.flatnonzero(bad)
        if not len(positions):
            continue
        raw = given.to_numpy()  # only then: a time column's is a slow Timestamp per row
        problems += [
            Problem(
                layer,
                int(p) + 1,
                rid,
                column,
                f"{_show(raw[p])} {message}",
                fix.format(column=column),
            )
            for p, rid in zip(positions, _ids(frame, positions, id_column), strict=True)
        ]
    return out, problems


def _blank(value: object) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or value is pd.NA or value is pd.NaT or _is_nan(value)


def _is_nan(value: object) -> bool:
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


_FAILED = object()


def _each(values: pd.Series, parse: Callable[[object], object]) -> tuple[list[object], np.ndarray]:
    """Parse value by value, once per distinct one; blanks become None, failures flagged."""
    out: list[object] = []
    bad = np.zeros(len(values), dtype=bool)
    seen: dict[tuple[type, object], object] = {}
    for i, value in enumerate(values.to_numpy(dtype=object)):
        key = (type(value), value)  # True and 1 are equal, but not the same value here
        try:
            parsed = seen[key]
        except (KeyError, TypeError):  # new, or unhashable
            if _blank(value):
                parsed = None
            else:
                try:
                    parsed = parse(value)
                except (ValueError, TypeError, OverflowError):
                    parsed = _FAILED
            with contextlib.suppress(TypeError):  # an unhashable value is parsed each time
                seen[key] = parsed
        if parsed is _FAILED:
            out.append(None)
            bad[i] = True
        else:
            out.append(parsed)
    return out, bad


_WHOLE = re.compile(r"[+-]?\d+(\.0*)?")


def _integer(value: object) -> int:
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        number = int(value.strip().split(".")[0])
    elif isinstance(value, bool | np.bool_):
        raise ValueError(value)
    elif isinstance(value, int | np.integer) or (
        isinstance(value, float | np.floating) and float(value).is_integer()
    ):
        number = int(value)
    else:
        raise ValueError(value)
    if not -(2**63) <= number < 2**63:
        raise OverflowError(value)
    return number


def _to_integers(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_integer_dtype(values):
        return values, np.zeros(len(values), dtype=bool)
    if pd.api.types.is_float_dtype(values) or (
        values.dtype == object
        and pd.api.types.infer_dtype(values, skipna=True) in ("integer", "floating")
    ):  # numbers as a spreadsheet gives them: checked whole, at once
        numbers = pd.to_numeric(values)
        if pd.api.types.is_integer_dtype(numbers):
            return numbers, np.zeros(len(values), dtype=bool)
        x = numbers.to_numpy(dtype=float, na_value=np.nan)
        present = ~np.isnan(x)
        whole = present & (x == np.floor(x)) & (np.abs(x) < 2.0**63)
        out = pd.array(np.where(whole, x, 0).astype(np.int64), dtype="Int64")
        out[~whole] = pd.NA
        if whole.all():
            return pd.Series(out.to_numpy(dtype=np.int64), index=values.index), ~whole
        return pd.Series(out, index=values.index), present & ~whole
    out, bad = _each(values, _integer)
    array = pd.array(out, dtype="Int64")
    if not array.isna().any():
        array = array.to_numpy(dtype=np.int64)
    return pd.Series(array, index=values.index), bad


def _float(value: object) -> float:
    if isinstance(value, bool | np.bool_):
        raise ValueError(value)
    number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    if not np.isfinite(number):
        raise ValueError(value)
    return number


def _to_floats(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values, np.zeros(len(values), dtype=bool)
    out, bad = _each(values, _float)
    return pd.Series(np.array(out, dtype=float), index=values.index), bad


def _boolean(value: object) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_SPELLINGS:
            return True
        if word in FALSE_SPELLINGS:
            return False
    raise ValueError(value)


def _to_booleans(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if pd.api.types.is_bool_dtype(values):
        return values, np.zeros(len(values), dtype=bool)
    out, bad = _each(values, _boolean)
    array = pd.array(out, dtype="boolean")
    if not array.isna().any():
        array = array.to_numpy(dtype=bool)
    return pd.Series(array, index=values.index), bad


def _timestamp(value: object) -> pd.Timestamp:
    if not isinstance(value, str | datetime | np.datetime64):
        raise ValueError(value)
    stamp = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    if stamp is pd.NaT:
        raise ValueError(value)
    return stamp.tz_localize(LOCAL_TZ) if stamp.tzinfo is None else stamp.tz_convert(LOCAL_TZ)


def _to_timestamps(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values, np.zeros(len(values), dtype=bool)
    if pd.api.types.is_datetime64_dtype(values):  # naive: local time
        return values.dt.tz_localize(LOCAL_TZ), np.zeros(len(values), dtype=bool)
    out, bad = _each(values, _timestamp)
    stamps = pd.to_datetime(pd.Series(out, index=values.index, dtype=object), utc=True)
    return stamps.dt.tz_convert(LOCAL_TZ), bad


def _text(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)  # a code a spreadsheet stored as a number: 3.30106e14
    return str(value)


def _to_texts(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    if isinstance(values.dtype, pd.StringDtype):
        blank = values.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        return (values.mask(blank) if blank.any() else values), np.zeros(len(values), dtype=bool)
    if (
        values.dtype == object
        and len(values)
        and pd.api.types.infer_dtype(values, skipna=True) == "string"
    ):  # text already (a register's columns): only blanks to find, at once
        present = values.notna().to_numpy(dtype=bool)
        blank = present & values.str.strip().eq("").fillna(False).to_numpy(dtype=bool)
        if present.all() and not blank.any():
            return values, np.zeros(len(values), dtype=bool)
        return values.where(present & ~blank, None), np.zeros(len(values), dtype=bool)
    out, bad = _each(values, _text)
    return pd.Series(out, index=values.index, dtype=object), bad


_COERCIONS: dict[str, tuple[Callable[[pd.Series], tuple[pd.Series, np.ndarray]], str, str]] = {
    "integer": (_to_integers, "is not a whole number", "write {column} as a whole number, e.g. 12"),
    "float": (_to_floats, "is not a number", "write {column} as a number, e.g. 12.5"),
    "boolean": (
        _to_booleans,
        "is not true or false",
        "write {column} as true or false (also yes/no, 1/0, 是/否)",
    ),
    "timestamp": (
        _to_timestamps,
        "is not a date and time",
        "write {column} as e.g. 2024-05-01 08:30 (Asia/Shanghai time unless an offset is given)",
    ),
    "text": (_to_texts, "is not text", "write {column} as text"),
}


def text_problem(value: str) -> str | None:
    r"""What makes a text unfit to store, or None: a NUL character or a lone UTF-16 surrogate.

    PostgreSQL's text cannot hold NUL (``\x00``), and a lone surrogate (what a JSON
    ``"\ud800"`` decodes to) is no character at all: UTF-8 cannot encode it.  The answer
    says what and where (1-based position) and how to fix it, never echoing the value.
    """
    nul = value.find("\x00")
    if nul >= 0:
        return f"contains a NUL character (\\x00) at position {nul + 1}; remove it"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"contains an unpaired UTF-16 surrogate (\\u{ord(value[exc.start]):04x}) at "
            f"position {exc.start + 1}; send valid Unicode text"
        )
    return None


_TYPE_IDS = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
}


def _promotable(allowed_ids: set[int]) -> set[int]:
    """A MultiPolygon column accepts a repaired Polygon (it is promoted when stored)."""
    return {3} if 6 in allowed_ids else set()


def _show(value: object) -> str:
    """A value as a user wrote it: numbers bare, text in quotes."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def _only(n: int, pos: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[pos] = True
    return mask
