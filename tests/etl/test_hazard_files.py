"""Hazard polygons from GeoJSON and files: converted from GCJ-02, repaired when harmless,
and refused with a clear reason when empty, invalid, or far from the area served."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import geopandas as gpd
import shapely
from shapely import box
from shapely.geometry import mapping

from etl.gpkg import LayerFileError
from etl.hazard_files import HazardPolygon, hazard_from_geojson, read_hazard_file
from gis.coords import wgs84_to_gcj02
from gis.errors import ValidationError
from tests.factories import MID, E, N, S, W, bowtie

SERVED = box(W, S, E, N)
FLOOD = box(W + 0.001, S + 0.001, MID, S + 0.004)


def _feature(geom: object, **props: object) -> dict:
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def _refused(obj: object, **kw: object) -> str:
    with pytest.raises(ValidationError) as info:
        hazard_from_geojson(obj, served=SERVED, **kw)  # type: ignore[arg-type]
    return str(info.value)


def test_a_drawn_polygon_is_accepted_with_its_area_and_properties() -> None:
    got = hazard_from_geojson(_feature(FLOOD, name="西片内涝", kind="flood"), served=SERVED)
    assert isinstance(got, HazardPolygon)
    assert got.geometry.geom_type == "MultiPolygon"
    assert got.geometry.equals(shapely.MultiPolygon([FLOOD]))
    # 0.004° x 0.003° at 30.3° N: about 385 m x 333 m
    assert got.area_m2 == pytest.approx(385 * 333, rel=0.02)
    assert got.properties == {"name": "西片内涝", "kind": "flood"}
    assert got.warnings == []


def test_gcj02_coordinates_from_amap_are_converted_to_wgs84() -> None:
    xy = shapely.get_coordinates(FLOOD)
    glon, glat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    drawn = shapely.Polygon(np.column_stack([glon, glat]))
    assert shapely.hausdorff_distance(drawn, FLOOD) > 0.003  # about 500 m off as drawn
    got = hazard_from_geojson(json.dumps(mapping(drawn)), coord_type="gcj02", served=SERVED)
    assert np.abs(shapely.get_coordinates(got.geometry) - xy).max() < 1e-6


def test_several_features_are_one_hazard_area() -> None:
    other = box(MID + 0.001, N - 0.003, E - 0.001, N - 0.001)
    collection = {"type": "FeatureCollection", "features": [_feature(FLOOD), _feature(other)]}
    got = hazard_from_geojson(collection, served=SERVED)
    assert len(got.geometry.geoms) == 2


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"type": "FeatureCollection", "features": []}, "has no features"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        (mapping(bowtie()), "cannot be repaired without changing its shape"),
        (mapping(shapely.Point(W + 0.002, S + 0.002)), "expected Polygon or MultiPolygon"),
        (
            {"type": "Polygon", "coordinates": [[[W, S], [E, N], [W + 0.02, S + 0.02], [W, S]]]},
            "collapses onto a line",
        ),
        ({"features": []}, "not a GeoJSON object"),
        ({"type": "Polygon", "coordinates": [[[120.1]]]}, "cannot be read"),
    ],
    ids=["no-features", "empty", "bow-tie", "a-point", "collapsed", "not-geojson", "garbage"],
)
def test_bad_polygons_are_refused_with_the_fix(body: dict, expected: str) -> None:
    message = _refused(body)
    assert expected in message
    assert "hazard" in message


def test_a_polygon_far_from_the_area_served_is_refused_with_the_distance() -> None:
    beijing = box(116.39, 39.90, 116.40, 39.91)
    message = _refused(_feature(beijing))
    assert "outside the area served" in message
    assert "km from the nearest grid" in message
    assert "coord_type" in message


def test_swapped_coordinates_and_places_outside_china_are_named() -> None:
    swapped = shapely.transform(FLOOD, lambda xy: xy[:, ::-1])
    assert "swapped" in _refused(_feature(swapped))
    assert "outside the service area" in _refused(_feature(box(2.33, 48.85, 2.36, 48.87)))


def test_a_self_touching_ring_is_repaired_and_reported() -> None:
    # a square whose ring touches itself at one point (a "figure 8" bowtie would be
    # rejected; this repair keeps the area)
    ring = [
        (W + 0.001, S + 0.001),
        (MID, S + 0.001),
        (MID, S + 0.004),
        (W + 0.003, S + 0.004),
        (W + 0.003, S + 0.002),
        (W + 0.003, S + 0.004),
        (W + 0.001, S + 0.004),
        (W + 0.001, S + 0.001),
    ]
    got = hazard_from_geojson(_feature(shapely.Polygon(ring)), served=SERVED)
    assert got.geometry.is_valid
    assert got.warnings and "repaired" in str(got.warnings[0])


def test_files_are_read_with_their_properties(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"name": ["台风海葵"], "kind": ["typhoon"], "severity": [3]}, geometry=[FLOOD], crs=4326
    )
    for suffix in (".geojson", ".gpkg"):
        path = tmp_path / f"hazard{suffix}"
        frame.to_file(path)
        got = read_hazard_file(path, served=SERVED)
        assert got.properties == {"name": "台风海葵", "kind": "typhoon", "severity": 3}
        assert got.geometry.geoms[0].normalize().equals_exact(FLOOD.normalize(), 1e-7)


def test_a_projected_file_is_reprojected_by_its_own_crs(tmp_path: Path) -> None:
    path = tmp_path / "utm.gpkg"
    gpd.GeoDataFrame(geometry=[FLOOD], crs=4326).to_crs(32651).to_file(path)
    got = read_hazard_file(path, served=SERVED)
    assert got.geometry.symmetric_difference(FLOOD).area < 1e-10


def test_missing_and_unreadable_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(LayerFileError, match="no such file"):
        read_hazard_file(tmp_path / "nope.geojson")
    junk = tmp_path / "junk.geojson"
    junk.write_text("this is not geojson", encoding="utf-8")
    with pytest.raises(LayerFileError, match="not a readable"):
        read_hazard_file(junk)
