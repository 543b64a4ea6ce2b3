"""Read a hazard polygon (typhoon, flood, fire, gas leak) from GeoJSON or a file, and check it.

A hazard area arrives as a GeoJSON body drawn on a map (often in GCJ-02 when it
comes from an AMap or WeChat front end), or as a file (GeoJSON, GeoPackage,
Shapefile) from the weather or emergency bureau.  Before it is stored it must be
something the impact analysis can trust:

* **polygonal and not empty** — one or more polygons with an area; several features
  are merged into one area (a multi-part flood is one hazard);
* **valid** — a self-touching ring is repaired with ``make_valid`` when the repair keeps
  the shape (area within 1 %, the rule of :mod:`gis.validate`) and reported as a
  warning; a bow-tie or a collapsed ring is rejected;
* **in the right place** — inside the lon/lat box of the service area (swapped
  coordinates are named as such) and meeting the area Wangge serves (its grids):
  a polygon kilometres away is almost always a wrong ``coord_type`` or a file of
  another city, and would silently affect nobody.

Errors are :class:`gis.validate.ValidationError` (layer ``hazard``, the row of the
feature, what is wrong and the fix), or :class:`etl.gpkg.LayerFileError` for a file
that cannot be read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import geopandas as gpd
import shapely
from shapely.errors import ShapelyError
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from etl.gpkg import LayerFileError
from gis.coords import geometries_to_wgs84, local_metric_crs_for
from gis.errors import Problem, ValidationError
from gis.settings import Settings, get_settings
from gis.validate import (
    check_geometries,
)

LAYER = "hazard"
#: A hazard smaller than this (m², a 10 m square) has no real area: a stray click.
MIN_AREA_M2 = 100.0
#: A hazard whose area / perimeter is below this (m, a quarter of its mean width) is a
#: ring collapsed onto a line, whatever rounding leaves of its area.
MIN_AREA_PER_PERIMETER_M = 0.5
#: Properties read from the features when present (the first feature that has them).
KNOWN_PROPERTIES = ("name", "kind", "severity", "valid_from", "valid_to")


@dataclass(frozen=True)
class HazardPolygon:
    """A checked hazard area, ready to store.

    Attributes
    ----------
    geometry
        The area as a WGS84 MultiPolygon.
    area_m2
        Its area in a local metric CRS, m².
    properties
        ``name``, ``kind``, ``severity``, ``valid_from``, ``valid_to`` when the input
        carried them (the caller's arguments win).
    warnings
        Repairs made (invalid rings fixed without changing the shape).
    """

    geometry: MultiPolygon
    area_m2: float
    properties: dict[str, Any] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)


def _problem(message: str, fix: str, row: int | None = None, name: str = "geometry") -> Problem:
    return Problem(LAYER, row, None, name, message, fix)


def _features(obj: Any) -> list[dict[str, Any]]:
    """The features of a GeoJSON object (FeatureCollection, Feature or bare geometry)."""
    if not isinstance(obj, dict) or "type" not in obj:
        raise ValidationError(
            [
                _problem(
                    "the body is not a GeoJSON object (no 'type')",
                    "send a GeoJSON Feature, FeatureCollection or Polygon, lon/lat order",
                    name="type",
                )
            ]
        )
    kind = obj["type"]
    if kind == "FeatureCollection":
        features = obj.get("features")
        if not isinstance(features, list) or not features:
            raise ValidationError(
                [
                    _problem(
                        "the FeatureCollection has no features",
                        "draw the hazard area as at least one polygon",
                        name="features",
                    )
                ]
            )
        return features
    if kind == "Feature":
        return [obj]
    return [{"type": "Feature", "properties": {}, "geometry": obj}]


def _nonfinite(coordinates: Any) -> bool:
    """Whether GeoJSON coordinates (nested lists) hold a NaN or an infinite number."""
    if isinstance(coordinates, list | tuple):
        return any(_nonfinite(c) for c in coordinates)
    return isinstance(coordinates, float) and not math.isfinite(coordinates)


def _geometry(feature: Any, row: int) -> BaseGeometry | None:
    if not isinstance(feature, dict):
        raise ValidationError([_problem("not a GeoJSON Feature", "send Feature objects", row)])
    geometry = feature.get("geometry")
    if geometry is None:
        return None
    if isinstance(geometry, dict) and _nonfinite(geometry.get("coordinates")):
        raise ValidationError(
            [
                _problem(
                    "a coordinate is not a finite number (NaN or infinity)",
                    "give every vertex as [lon, lat] in degrees",
                    row,
                )
            ]
        )
    try:
        return shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, IndexError, ShapelyError) as exc:
        raise ValidationError(
            [
                _problem(
                    f"the geometry cannot be read ({exc})",
                    "give a GeoJSON Polygon or MultiPolygon: coordinates are rings of "
                    "[lon, lat] pairs, the first pair repeated at the end",
                    row,
                )
            ]
        ) from exc


def hazard_from_geojson(
    obj: dict[str, Any] | str,
    *,
    coord_type: str = "wgs84",
    served: BaseGeometry | None = None,
    settings: Settings | None = None,
    service_area: Sequence[float] | None = None,
) -> HazardPolygon:
    """Check a hazard area given as GeoJSON (a request body, a drawn polygon).

    Parameters
    ----------
    obj
        A GeoJSON FeatureCollection, Feature or (Multi)Polygon, as a dict or text.
    coord_type
        ``wgs84``, ``gcj02`` (AMap, Tencent, WeChat) or ``bd09`` (Baidu): the
        coordinates are converted to WGS84 first.
    served
        The area Wangge serves (WGS84; e.g. the union of the grids).  A hazard that
        does not meet it is rejected; None skips the check.
    settings
        Supplies ``service_area_bounds``; default :func:`gis.settings.get_settings`.
    service_area
        Where records may lie (:func:`gis.store.register_store.service_area`: the
        imported boundaries' box); default the settings' box.  Without ``served``,
        the hazard must meet it; with ``served`` the grids decide (and say how far),
        and the settings' box stretched over them catches swapped coordinates.

    Raises
    ------
    gis.validate.ValidationError
        What is wrong (empty, not a polygon, invalid, outside), where and how to fix it.
    gis.coords.CoordTypeError
        If ``coord_type`` is not known.
    """
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except ValueError as exc:
            raise ValidationError(
                [_problem(f"not JSON ({exc})", "send a GeoJSON object", name="body")]
            ) from exc
    features = _features(obj)
    geoms = [_geometry(f, i + 1) for i, f in enumerate(features)]
    properties: dict[str, Any] = {}
    for feature in features:
        props = feature.get("properties") or {} if isinstance(feature, dict) else {}
        for key in KNOWN_PROPERTIES:
            if key in props and props[key] is not None and key not in properties:
                properties[key] = props[key]
    frame = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms), crs=4326)
    return _check(
        frame,
        coord_type=coord_type,
        served=served,
        settings=settings,
        properties=properties,
        service_area=service_area,
    )


def read_hazard_file(
    path: str | Path,
    *,
    coord_type: str = "wgs84",
    served: BaseGeometry | None = None,
    layer: str | None = None,
    settings: Settings | None = None,
    service_area: Sequence[float] | None = None,
) -> HazardPolygon:
    """Read and check a hazard area from a GeoJSON, GeoPackage or Shapefile.

    Every polygon feature of the layer is part of the one hazard area.  See
    :func:`hazard_from_geojson` for the parameters and the checks.

    Raises
    ------
    etl.gpkg.LayerFileError
        When the file is missing or unreadable.
    gis.validate.ValidationError
        When the area is rejected.
    """
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise LayerFileError(f"{path}: no such file")
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # pyogrio raises several DataSource errors
        raise LayerFileError(
            f"{path}: not a readable GeoJSON, GeoPackage or Shapefile ({exc})"
        ) from exc
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame:
        raise LayerFileError(f"{path}: the layer has no geometry")
    if frame.empty:
        raise ValidationError(
            [_problem(f"{path.name} holds no feature", "draw the hazard area as a polygon")]
        )
    properties: dict[str, Any] = {}
    for key in KNOWN_PROPERTIES:
        if key in frame.columns:
            values = frame[key].dropna()
            if len(values):
                value = values.iloc[0]
                properties[key] = value.item() if isinstance(value, np.generic) else value
    if frame.crs is None:
        frame = frame.set_crs(4326)
    elif frame.crs.to_epsg() not in (4326, 4490):
        frame = frame.to_crs(4326)  # a projected file: its CRS says what it is
    return _check(
        frame,
        coord_type=coord_type,
        served=served,
        settings=settings,
        properties=properties,
        service_area=service_area,
    )


def _check(
    frame: gpd.GeoDataFrame,
    *,
    coord_type: str,
    served: BaseGeometry | None,
    settings: Settings | None,
    properties: dict[str, Any],
    service_area: Sequence[float] | None = None,
) -> HazardPolygon:
    settings = settings or get_settings()
    box: Sequence[float] = settings.service_area_bounds if service_area is None else service_area
    if served is not None and not served.is_empty:
        # the grids decide below, and say how far off the area is; the box only catches
        # coordinates swapped or far off: the settings' box, stretched over the grids
        w, s, e, n = settings.service_area_bounds
        gw, gs, ge, gn = served.bounds
        box = (min(w, gw), min(s, gs), max(e, ge), max(n, gn))
    geoms = np.asarray(frame.geometry.array, dtype=object)
    if (shapely.is_missing(geoms) | shapely.is_empty(geoms)).all():
        raise ValidationError(
            [
                _problem(
                    "the hazard area is empty (no coordinates)",
                    "draw the hazard area as a polygon of at least three points",
                )
            ]
        )
    frame = frame.set_geometry(
        gpd.GeoSeries(geometries_to_wgs84(geoms, coord_type), index=frame.index, crs=4326)
    )
    checked, problems = check_geometries(
        frame,
        LAYER,
        ("Polygon", "MultiPolygon"),
        service_area=box,
        id_column=None,
        required=False,
        contained=False,  # a flood may reach beyond the district: meeting it is enough
    )
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ValidationError(problems)
    parts = [g for g in checked if g is not None and not g.is_empty]
    area = shapely.union_all(parts) if len(parts) > 1 else parts[0]
    polygons = [g for g in getattr(area, "geoms", [area]) if isinstance(g, Polygon)]
    merged = MultiPolygon(polygons)
    crs = local_metric_crs_for(merged)
    metric_area = gpd.GeoSeries([merged], crs=4326).to_crs(crs)
    area_m2 = float(metric_area.area.iloc[0])
    perimeter_m = float(metric_area.length.iloc[0])
    if area_m2 < MIN_AREA_M2 or area_m2 < MIN_AREA_PER_PERIMETER_M * perimeter_m:
        raise ValidationError(
            [
                _problem(
                    f"the hazard area has no real area ({area_m2:,.0f} m² for a "
                    f"{perimeter_m:,.0f} m outline): its ring collapses onto a line or a point",
                    "draw the hazard area as a polygon of at least three distinct points",
                )
            ]
        )
    if served is not None and not served.is_empty and not merged.intersects(served):
        metric = gpd.GeoSeries([merged, served], crs=4326).to_crs(crs)
        km = float(metric.iloc[0].distance(metric.iloc[1])) / 1000
        w, s, e, n = served.bounds
        raise ValidationError(
            [
                _problem(
                    f"the hazard area lies outside the area served, {km:,.1f} km from the "
                    f"nearest grid (grids span lon {w:.4f}–{e:.4f}, lat {s:.4f}–{n:.4f})",
                    "check the coordinates and coord_type (AMap, Tencent and WeChat "
                    "send gcj02, Baidu bd09) and that lon comes before lat",
                )
            ]
        )
    return HazardPolygon(
        geometry=merged,
        area_m2=area_m2,
        properties=properties,
        warnings=[p for p in problems if p.severity == "warning"],
    )
