"""Shapes several families share: GeoJSON answers (RFC 7946) and JSON-safe values.

GeoJSON answers are declared with ``geojson-pydantic`` models (a
``FeatureCollection[Feature[geometry, properties]]`` with the properties typed), so that
``/docs`` shows each answer's shape, and sent as ``application/geo+json`` through
:class:`GeoJSONResponse`.  Coordinates are lon/lat, WGS84 (EPSG:4326).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

import geopandas as gpd
import h3
import shapely
from geojson_pydantic import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from api.inputs import Text
from gis.coords import COORD_TYPES
from gis.errors import InvalidInput
from grids.beidou.place import centre_of

GEOJSON = "application/geo+json"

#: Query parameters of a point: longitude and latitude in degrees, in ``coord_type``.
LonQuery = Annotated[float, Query(ge=-180, le=180, description="longitude, degrees")]
LatQuery = Annotated[float, Query(ge=-90, le=90, description="latitude, degrees")]
CoordTypeQuery = Annotated[
    str, Query(description=f"coordinates of lon/lat: one of {', '.join(COORD_TYPES)}")
]

BeidouQuery = Annotated[
    str | None,
    Query(
        max_length=40,
        description="a 北斗 grid code (GB/T 39409-2020, any 2-D level, e.g. N50J47539B82) "
        "instead of lon/lat: the centre of its cell (CGCS2000, i.e. wgs84)",
    ),
]
OptionalLon = Annotated[
    float | None, Query(ge=-180, le=180, description="longitude, degrees (in coord_type)")
]
OptionalLat = Annotated[float | None, Query(ge=-90, le=90, description="latitude, degrees")]


@dataclass(frozen=True)
class QueryPoint:
    """A point sent as ``lon``/``lat`` (in ``coord_type``) or as a 北斗 code (``beidou``)."""

    lon: float
    lat: float
    coord_type: str


def _query_point(
    lon: float | None, lat: float | None, beidou: str | None, coord_type: str, required: bool
) -> QueryPoint | None:
    if beidou is not None:
        if lon is not None or lat is not None:
            raise InvalidInput(
                f"beidou={beidou!r} and lon/lat were both given: send one location, "
                "either lon and lat or beidou"
            )
        x, y = centre_of(beidou, "beidou")
        return QueryPoint(x, y, "wgs84")
    if lon is None and lat is None and not required:
        return None
    if lon is None or lat is None:
        missing = "lon" if lon is None else "lat"
        raise InvalidInput(
            f"{missing} is missing: send both lon and lat (degrees, in coord_type), "
            "or a 北斗 grid code as beidou"
        )
    return QueryPoint(lon, lat, coord_type)


def point_query(
    lon: OptionalLon = None,
    lat: OptionalLat = None,
    beidou: BeidouQuery = None,
    coord_type: CoordTypeQuery = "wgs84",
) -> QueryPoint:
    """A required point: ``lon`` and ``lat``, or ``beidou`` (422 naming what is wrong)."""
    point = _query_point(lon, lat, beidou, coord_type, required=True)
    assert point is not None
    return point


def optional_point_query(
    lon: OptionalLon = None,
    lat: OptionalLat = None,
    beidou: BeidouQuery = None,
    coord_type: CoordTypeQuery = "wgs84",
) -> QueryPoint | None:
    """An optional point: ``lon`` and ``lat``, ``beidou``, or nothing (None)."""
    return _query_point(lon, lat, beidou, coord_type, required=False)


#: A point of the query: ``lon``/``lat`` in ``coord_type``, or ``beidou``.
PointQuery = Annotated[QueryPoint, Depends(point_query)]
#: The same, optional.
OptionalPointQuery = Annotated[QueryPoint | None, Depends(optional_point_query)]


class BeidouLocated(BaseModel):
    """A body located by ``lon``/``lat`` or by a 北斗 grid code (``beidou``).

    A code stands for its cell's centre (CGCS2000, i.e. ``coord_type`` wgs84); sending it
    with ``lon``/``lat`` too, or a malformed code, is refused (422, naming ``beidou``).
    """

    beidou: Text | None = Field(
        None,
        max_length=40,
        description="a 北斗 grid code (GB/T 39409-2020, e.g. N50J47539B82) instead of "
        "lon/lat: the centre of its cell",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_beidou(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("beidou") is None:
            return data
        if data.get("lon") is not None or data.get("lat") is not None:
            raise ValueError(
                "beidou and lon/lat were both given: send one location, either lon and lat "
                "or beidou"
            )
        code = data["beidou"]
        if not isinstance(code, str):
            raise ValueError(f"beidou must be a 北斗 grid code (text), not {code!r}")
        lon, lat = centre_of(code, "beidou")
        return {**data, "lon": lon, "lat": lat, "coord_type": "wgs84"}


#: An area: a Polygon or a MultiPolygon.
Area = Annotated[Polygon | MultiPolygon, Field(discriminator="type")]

#: How a time is written in the answers and accepted in the queries.
ISO = "ISO 8601 date-time with offset, e.g. 2026-10-01T08:00:00+08:00"
#: Coordinates sent to a browser are rounded to this (degrees, about 1 cm).
PRECISION_DEG = 1e-7


class GeoJSONResponse(JSONResponse):
    """A JSON answer sent as ``application/geo+json`` (Chinese text as UTF-8)."""

    media_type = GEOJSON


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-safe dicts (see :func:`json_value`)."""
    return [{k: json_value(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def feature_collection(
    frame: gpd.GeoDataFrame, *, drop: tuple[str, ...] = (), precision: float | None = None
) -> dict[str, Any]:
    """A GeoDataFrame as a GeoJSON FeatureCollection (its index not written as ids).

    Parameters
    ----------
    frame
        Features in EPSG:4326; properties must be JSON values already (no times).
    drop
        Columns left out.
    precision
        Grid size the coordinates are rounded to, degrees (1e-7 is about 1 cm).
    """
    out = frame.drop(columns=[c for c in drop if c in frame.columns])
    if precision is not None:
        out = out.set_geometry(shapely.set_precision(np.asarray(out.geometry.array), precision))
    return out.to_geo_dict(drop_id=True)


def geometry(geom: BaseGeometry, precision: float = PRECISION_DEG) -> dict[str, Any]:
    """A shapely geometry as a GeoJSON geometry, coordinates rounded to ``precision`` degrees."""
    return shapely.geometry.mapping(shapely.set_precision(geom, precision))


def json_value(value: Any) -> Any:
    """A value as JSON can carry it: numpy as Python, NA/NaN/infinity as null, times ISO."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    return value


def h3_text(cell: Any) -> str | None:
    """An H3 cell (64-bit integer) as its hex index, None for NA."""
    return None if cell is None or pd.isna(cell) else h3.int_to_str(int(cell))
