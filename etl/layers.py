"""The layers a district is loaded from, and the checks each must pass before loading.

A *layer set* is a mapping of layer name to (Geo)DataFrame, as produced by
:func:`etl.sample.generate_district` or read from a GeoPackage by
:func:`etl.gpkg.read_layers`.  The names and columns are those of the tables in
:mod:`gis.db.models`, with references written as codes and ids of the file (a grid
names its community by ``community_code``) rather than database keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Integer,
    SmallInteger,
    String,
)

import geopandas as gpd

from gis.coords import geometries_to_wgs84
from gis.db import models
from gis.errors import Problem, ValidationError
from gis.store.event_bound import EVENT_LEAD
from gis.times import check_time_column
from gis.validate import (
    ColumnKind,
    check_allowed,
    check_crs,
    check_geometries,
    check_range,
    check_references,
    check_required,
    check_unique,
    coerce_columns,
)
from grids.categories import DEFAULT_CATEGORIES

POLYGONAL = ("Polygon", "MultiPolygon")


@dataclass(frozen=True)
class Reference:
    """A column that must name a record of another layer."""

    column: str
    layer: str
    target: str
    #: whether a record may name none (else the column is among the layer's required)
    nullable: bool = False


@dataclass(frozen=True)
class LayerSpec:
    """What one layer must hold."""

    name: str
    key: str | None
    required: tuple[str, ...]
    geometry: tuple[str, ...] | None = None
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    references: tuple[Reference, ...] = ()
    extra_geometry: str | None = None
    #: columns of the file stored in another table (their types are declared there)
    also_in: tuple[str, ...] = ()
    #: time columns checked by :func:`gis.times.check_time_column`; True: a planned time
    times: Mapping[str, bool] = field(default_factory=dict)


CATEGORY_CODES = tuple(c.code for c in DEFAULT_CATEGORIES)

#: Every layer, in the order they are loaded (references point backwards).
LAYER_SPECS: tuple[LayerSpec, ...] = (
    LayerSpec(
        "admin_area",
        "code",
        ("code", "name", "level"),
        POLYGONAL,
        {"level": models.ADMIN_LEVELS},
        (Reference("parent_code", "admin_area", "code", nullable=True),),
    ),
    LayerSpec(
        "grid",
        "code",
        ("code", "name", "community_code"),
        POLYGONAL,
        {"kind": models.GRID_KINDS},
        (Reference("community_code", "admin_area", "code"),),
    ),
    LayerSpec(
        "building",
        "id",
        ("id", "floors"),
        POLYGONAL,
        {"use": models.BUILDING_USES},
        (Reference("estate_code", "admin_area", "code", nullable=True),),
    ),
    LayerSpec(
        "household",
        "id",
        ("id", "building_id", "unit", "room", "size"),
        None,
        {},
        (Reference("building_id", "building", "id"),),
    ),
    LayerSpec(
        "resident",
        "id",
        ("id", "household_id", "birth_year", "sex", "name"),
        None,
        {"sex": ("M", "F")},
        (Reference("household_id", "household", "id"),),
        also_in=("resident_identity",),
    ),
    LayerSpec(
        "facility", "id", ("id", "kind", "name"), ("Point",), {"kind": models.FACILITY_KINDS}
    ),
    LayerSpec(
        "shelter",
        "facility_id",
        ("facility_id", "shelter_class"),
        None,
        {"shelter_class": models.SHELTER_CLASSES},
        (Reference("facility_id", "facility", "id"),),
        extra_geometry="geometry",
    ),
    LayerSpec("road_node", "id", ("id",), ("Point",)),
    LayerSpec(
        "road_edge",
        "id",
        ("id", "source", "target", "road_class", "length_m"),
        ("LineString",),
        {"road_class": models.ROAD_CLASSES},
        (Reference("source", "road_node", "id"), Reference("target", "road_node", "id")),
    ),
    LayerSpec(
        "app_user",
        "username",
        ("username", "display_name", "role"),
        None,
        {"role": models.ROLES},
        (Reference("area_code", "admin_area", "code", nullable=True),),
    ),
    LayerSpec(
        "grid_worker",
        "id",
        ("id", "name"),
        None,
        {},
        (Reference("username", "app_user", "username", nullable=True),),
    ),
    LayerSpec(
        "grid_assignment",
        None,
        ("worker_id", "grid_code", "role"),
        None,
        {"role": models.ASSIGNMENT_ROLES},
        (Reference("worker_id", "grid_worker", "id"), Reference("grid_code", "grid", "code")),
    ),
    LayerSpec(
        "incident",
        "id",
        ("id", "category_code", "source", "state", "reported_at"),
        ("Point",),
        {
            "category_code": CATEGORY_CODES,
            "source": models.INCIDENT_SOURCES,
            "state": models.INCIDENT_STATES,
        },
        (
            Reference("assignee_id", "grid_worker", "id", nullable=True),
            Reference("reporter_username", "app_user", "username", nullable=True),
        ),
        times={"reported_at": False, "closed_at": False, "deadline": True},
    ),
    LayerSpec(
        "incident_event",
        None,
        ("incident_id", "to_state", "at"),
        None,
        {"to_state": models.INCIDENT_STATES},
        (Reference("incident_id", "incident", "id"),),
        times={"at": False},
    ),
    LayerSpec(
        "map_area",
        None,
        ("kind",),
        POLYGONAL,
        {"kind": models.MAP_AREA_KINDS},
    ),
)

SPEC_BY_NAME: dict[str, LayerSpec] = {s.name: s for s in LAYER_SPECS}

_NUMBER = r"(-?\d+(?:\.\d+)?)"
#: A table's CHECK rule bounding one number: ``size BETWEEN 0 AND 30``, ``capacity IS
#: NULL OR capacity >= 0``, ``time_limit_hours > 0``.
_BOUND = re.compile(
    rf"^(?:\w+ IS NULL OR )?(\w+) (?:BETWEEN {_NUMBER} AND {_NUMBER}|(>=|>) {_NUMBER})$"
)


@dataclass(frozen=True)
class Bound:
    """The numbers a column may hold, as its table's CHECK rule says."""

    low: float | None
    high: float | None
    above: bool = False  # low itself is refused


def numeric_bounds(table: str) -> dict[str, Bound]:
    """Each column's bounds, read from the model (the one declaration).

    Its CHECK rules, else what its integer type holds (a unit of 40000 does not fit a
    SMALLINT). What the database would refuse with an error naming no row is checked with the
    other values (:func:`gis.validate.check_range`).
    """
    out: dict[str, Bound] = {}
    for column in models.metadata.tables[table].columns:  # what the column's type holds
        for kind, bits in ((BigInteger, 0), (SmallInteger, 16), (Integer, 32)):
            if isinstance(column.type, kind):
                if bits:
                    out[column.name] = Bound(-(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1)
                break
    for constraint in models.metadata.tables[table].constraints:
        if not isinstance(constraint, CheckConstraint):
            continue
        m = _BOUND.match(str(constraint.sqltext).strip())
        if m is None:
            continue
        column, low, high, op, limit = m.groups()
        if low is not None:
            out[column] = Bound(float(low), float(high))
        else:  # a lower bound only: the type still bounds it above (capacity ≥ 0, an int4)
            held = out.get(column)
            out[column] = Bound(float(limit), held.high if held else None, above=op == ">")
    return out


#: Layer → column → bounds, for every layer whose table has any.
BOUNDS: dict[str, dict[str, Bound]] = {
    s.name: b for s in LAYER_SPECS for b in [numeric_bounds(s.name)] if b
}


def _kind(column: Column) -> ColumnKind | None:
    """The kind of value a table column holds; None for geometry and binary columns."""
    kinds: tuple[tuple[type, ColumnKind], ...] = (
        (Boolean, "boolean"),
        (Integer, "integer"),
        (Float, "float"),
        (DateTime, "timestamp"),
        (String, "text"),
    )
    return next((kind for sql, kind in kinds if isinstance(column.type, sql)), None)


def column_kinds(spec: LayerSpec) -> dict[str, ColumnKind]:
    """The declared type of every column a layer's file may hold.

    The types are those of the tables in :mod:`gis.db.models` (the one declaration of
    the data model): the layer's own table, the tables in ``also_in``, and for a
    reference written as a code (``community_code``) the type of the column it names.
    """
    tables = [models.metadata.tables[name] for name in (spec.name, *spec.also_in)]
    kinds = {c.name: k for t in tables for c in t.columns if (k := _kind(c)) is not None}
    for ref in spec.references:
        target = _kind(models.metadata.tables[ref.layer].columns[ref.target])
        if target is not None:
            kinds[ref.column] = target
    return kinds


#: Layer name → column → declared type, read by :func:`validate_layers`.
COLUMN_KINDS: dict[str, dict[str, ColumnKind]] = {s.name: column_kinds(s) for s in LAYER_SPECS}


def layers_to_wgs84(layers: Mapping[str, pd.DataFrame], coord_type: str) -> dict[str, pd.DataFrame]:
    """Convert every spatial layer from ``coord_type`` (wgs84, gcj02, bd09) to WGS84.

    Data from AMap, Tencent or WeChat is GCJ-02 and Baidu's is BD-09, whatever CRS
    the file declares; a layer without a CRS is taken to be lon/lat in ``coord_type``.
    A layer declaring a projected CRS is left alone, for validation to reject.
    """
    out: dict[str, pd.DataFrame] = {}
    for name, frame in layers.items():
        if not isinstance(frame, gpd.GeoDataFrame) or (
            frame.crs is not None and not frame.crs.is_geographic
        ):
            out[name] = frame
            continue
        converted = geometries_to_wgs84(frame.geometry.to_numpy(), coord_type)
        frame = frame.copy()
        frame[frame.geometry.name] = gpd.GeoSeries(converted, index=frame.index, crs=4326)
        out[name] = frame.set_crs(4326, allow_override=True)
    return out


def referenced_keys(layers: Mapping[str, pd.DataFrame]) -> set[tuple[str, str]]:
    """The (layer, key column) pairs the given layers refer to."""
    return {
        (ref.layer, ref.target)
        for spec in LAYER_SPECS
        if spec.name in layers
        for ref in spec.references
    }


def _reference_targets(
    layers: Mapping[str, pd.DataFrame],
    ref: Reference,
    known: Mapping[tuple[str, str], pd.Index] | None,
) -> pd.Index | None:
    """Keys a reference may point at: in the layer set and already stored; None: unknown."""
    parts = []
    if ref.layer in layers and ref.target in layers[ref.layer].columns:
        parts.append(pd.Index(layers[ref.layer][ref.target]))
    if known is not None and (ref.layer, ref.target) in known:
        parts.append(known[(ref.layer, ref.target)])
    if not parts:
        return None
    return parts[0].append(parts[1:]) if len(parts) > 1 else parts[0]


def validate_layers(
    layers: Mapping[str, pd.DataFrame],
    service_area: tuple[float, float, float, float],
    known: Mapping[tuple[str, str], pd.Index] | None = None,
) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Check a layer set; return it with harmless geometry repairs applied, and warnings.

    ``known`` holds keys already stored, per (layer, key column), so that a file may
    refer to records loaded before (a grid file naming existing communities).

    Raises
    ------
    ValidationError
        With every problem found, when anything must be rejected.  Nothing is
        loaded in that case: the caller loads all layers or none.
    """
    unknown = [name for name in layers if name not in SPEC_BY_NAME]
    problems: list[Problem] = [
        Problem(
            name,
            None,
            None,
            "layer",
            "unknown layer",
            f"rename it to one of: {', '.join(SPEC_BY_NAME)}",
        )
        for name in unknown
    ]
    # every reader (GeoPackage, GeoJSON, Shapefile, CSV) gets the declared types here
    typed: dict[str, pd.DataFrame] = {}
    type_problems: dict[str, list[Problem]] = {}
    for spec in LAYER_SPECS:
        if spec.name in layers:
            typed[spec.name], type_problems[spec.name] = coerce_columns(
                layers[spec.name], spec.name, COLUMN_KINDS[spec.name], spec.key
            )
    cleaned: dict[str, pd.DataFrame] = {}
    for spec in LAYER_SPECS:
        if spec.name not in typed:
            continue
        frame = typed[spec.name]
        id_col = spec.key
        layer_problems = check_required(frame, spec.name, spec.required, id_col)
        if spec.key and spec.key in frame.columns:
            layer_problems += check_unique(frame, spec.name, spec.key)
        for column, allowed in spec.allowed.items():
            layer_problems += check_allowed(frame, spec.name, column, allowed, id_col)
        for column, b in BOUNDS.get(spec.name, {}).items():
            layer_problems += check_range(
                frame, spec.name, column, b.low, b.high, above=b.above, id_column=id_col
            )
        for column, planned in spec.times.items():
            layer_problems += check_time_column(
                frame, spec.name, column, planned=planned, id_column=id_col
            )
        for ref in spec.references:
            targets = _reference_targets(typed, ref, known)
            if targets is not None:
                layer_problems += check_references(
                    frame, spec.name, ref.column, targets, ref.layer, id_col
                )
        geometry_column = spec.extra_geometry if spec.geometry is None else None
        if spec.geometry is not None or (geometry_column and isinstance(frame, gpd.GeoDataFrame)):
            if not isinstance(frame, gpd.GeoDataFrame):
                layer_problems.append(
                    Problem(
                        spec.name,
                        None,
                        None,
                        "geometry",
                        "the layer has no geometry",
                        "export it as a spatial layer",
                    )
                )
            else:
                crs_problems = check_crs(frame, spec.name)
                layer_problems += crs_problems
                if not crs_problems:
                    geoms, geom_problems = check_geometries(
                        frame,
                        spec.name,
                        spec.geometry or POLYGONAL,
                        service_area=service_area,
                        id_column=id_col,
                        required=spec.geometry is not None,
                    )
                    layer_problems += geom_problems
                    if any(p.severity == "warning" for p in geom_problems):
                        frame = frame.copy()
                        frame[frame.geometry.name] = gpd.GeoSeries(
                            geoms, index=frame.index, crs=frame.crs
                        )
        # a value that could not be read is reported once, not again as missing or unknown
        unreadable = {(p.row, p.field) for p in type_problems[spec.name]}
        problems += type_problems[spec.name]
        problems += [p for p in layer_problems if (p.row, p.field) not in unreadable]
        cleaned[spec.name] = frame
    cases = ("incident", "incident_event")
    if set(cases) <= set(cleaned) and not any(
        p.layer in cases and p.severity == "error" for p in problems
    ):  # a time refused already (9999-12-31) is not compared again
        problems += check_events_after_report(cleaned["incident_event"], cleaned["incident"])
    if any(p.severity == "error" for p in problems):
        raise ValidationError(problems)
    return cleaned, [p for p in problems if p.severity == "warning"]


def check_events_after_report(events: pd.DataFrame, incidents: pd.DataFrame) -> list[Problem]:
    """The steps dated more than a day before their case's report, by row (步骤早于上报).

    The database refuses them too (migration 0040: every read of a case's history is
    bounded by its report), but only the first, and without its row.
    """
    if not {"incident_id", "at"} <= set(events.columns) or not {"id", "reported_at"} <= set(
        incidents.columns
    ):
        return []
    reported = pd.Series(
        pd.to_datetime(incidents["reported_at"], utc=True, errors="coerce").array,
        index=pd.to_numeric(incidents["id"], errors="coerce"),
    )
    reported = reported[reported.index.notna() & ~reported.index.duplicated()]
    keys = pd.to_numeric(events["incident_id"], errors="coerce")
    # compared as Series of times: as NumPy objects, 443,770 steps took 3.5 s
    when = pd.to_datetime(events["at"], utc=True, errors="coerce").reset_index(drop=True)
    report = reported.reindex(keys.to_numpy()).reset_index(drop=True)
    early = (when < report - EVENT_LEAD).to_numpy(dtype=bool, na_value=False)
    return [
        Problem(
            "incident_event",
            int(pos) + 1,
            None,
            "at",
            f"{when.iloc[pos].isoformat()} lies more than a day before the report of "
            f"incident {keys.iloc[pos]:.0f} ({report.iloc[pos].isoformat()})",
            "correct the step's time or the incident's reported_at",
        )
        for pos in np.flatnonzero(early)
    ]
