"""Coordinates declared WGS84 that are really GCJ-02 (or BD-09), found against what is loaded.

Data copied from AMap or Tencent is GCJ-02 and from Baidu BD-09, about 500 m (BD-09:
about 1 km) off WGS84 in Chinese cities, whatever the file says.  An office's records
fit what is already loaded from OpenStreetMap (WGS84): a building footprint is not
crossed by a road, a clinic or a school lies in a building footprint.  Records that fit
far better *once converted from GCJ-02* than as declared were almost certainly copied
from such a map.

Method: the share of records that conflict with the loaded data — a footprint crossed
by a road line; a point outside every building footprint (or, with no footprints
loaded, on a road: within :data:`ON_ROAD_M` of one) — is measured as declared, as if
converted from GCJ-02 and from BD-09, and, as the control, shifted by the same vector
rotated in seven other directions (a dense street grid makes *any* shift fit a little;
the controls measure how much).  The records are reported when a conversion lowers the
conflicts by at least :data:`MIN_DROP` and to at most :data:`IMPROVEMENT` of the
declared share, and fits better than every control.  Fewer than :data:`MIN_RECORDS`
records, or nothing loaded near them, decide nothing.

Measured on the Nanjing Xinjiekou extract (1,277 footprints, 224 points of interest):
footprints crossed by a road 0–13 % as they are, 20–70 % shifted by 500 m; points of
interest inside a footprint 67–80 % as they are, 10–30 % shifted.  Over 20 random draws
each, no false alarm on WGS84 data; GCJ-02 data found in 20/20 draws of 100 footprints,
17/20 of 30 and 8/20 of 10; points with footprints loaded in 20/20 draws of 30 and 15/20
of 10; points with roads alone hardly ever (the test is too weak there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import shapely
from pyproj import Transformer

from gis.coords import geometries_to_wgs84, local_metric_crs

MIN_RECORDS = 5
#: at most this many records are measured (a random, reproducible draw): enough to tell
SAMPLE = 2000
#: the conflicts once converted must be at most this share of those as declared …
IMPROVEMENT = 0.6
#: … fewer by at least this share of the records …
MIN_DROP = 0.15
#: … and fewer than under every control shift.
ON_ROAD_M = 6.0
CONTROL_ANGLES_DEG = (45, 90, 135, 180, 225, 270, 315)


@dataclass(frozen=True)
class OffsetFinding:
    """Records that fit the loaded data only once converted.

    Attributes
    ----------
    coord_type
        The system they look like: ``gcj02`` or ``bd09``.
    declared, converted, control
        Share of records in conflict with the loaded data: as declared, once converted,
        and under the best control shift.
    records
        How many records were measured.
    offset_m
        How far the conversion moves them, metres (median).
    """

    coord_type: str
    declared: float
    converted: float
    control: float
    records: int
    offset_m: float

    def hint(self, what: str = "records") -> str:
        """One line saying what was found (:meth:`fix` says what to do)."""
        source = {"gcj02": "AMap/Tencent (GCJ-02)", "bd09": "Baidu (BD-09)"}[self.coord_type]
        return (
            f"the {self.records:,} {what} look copied from {source}, not WGS84: "
            f"{self.declared:.0%} of them conflict with the roads and buildings loaded as "
            f"they are, {self.converted:.0%} once moved the {self.offset_m:,.0f} m of the "
            f"{self.coord_type} offset"
        )

    def fix(self) -> str:
        """The option that fixes it."""
        return (
            f"import again with --coord-type {self.coord_type} (or --no-offset-check if "
            "they really are WGS84)"
        )


class _Reference:
    """The loaded roads and footprints in a local metric CRS, indexed."""

    def __init__(self, roads: np.ndarray, buildings: np.ndarray, lon: float, lat: float):
        self.to_metric = Transformer.from_crs(4326, local_metric_crs(lon, lat), always_xy=True)
        self.roads = shapely.STRtree(self.metric(roads))
        self.buildings = shapely.STRtree(self.metric(buildings)) if len(buildings) else None

    def metric(self, geoms: np.ndarray) -> np.ndarray:
        def project(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(self.to_metric.transform(xy[:, 0], xy[:, 1]))

        return shapely.transform(np.asarray(geoms, dtype=object), project)

    def conflicts(self, geoms: np.ndarray) -> float:
        """Share of the records in conflict with the loaded data."""
        metric = self.metric(geoms)
        bad = np.zeros(len(metric), dtype=bool)
        polygonal = np.isin(shapely.get_type_id(metric), (3, 6))
        if polygonal.any():
            i, _ = self.roads.query(metric[polygonal], predicate="intersects")
            hit = np.zeros(int(polygonal.sum()), dtype=bool)
            hit[np.unique(i)] = True
            bad[polygonal] = hit
        points = ~polygonal
        if points.any():
            pts = metric[points]
            if self.buildings is not None:
                i, _ = self.buildings.query(pts, predicate="within")
                inside = np.zeros(len(pts), dtype=bool)
                inside[np.unique(i)] = True
                bad[points] = ~inside
            else:
                i, _ = self.roads.query(pts, predicate="dwithin", distance=ON_ROAD_M)
                near = np.zeros(len(pts), dtype=bool)
                near[np.unique(i)] = True
                bad[points] = near
        return float(bad.mean())


def _shift(geoms: np.ndarray, dlon: float, dlat: float) -> np.ndarray:
    return shapely.transform(geoms, lambda xy: xy + np.array([dlon, dlat]))


def detect_offset(
    geoms: np.ndarray, roads: np.ndarray, buildings: np.ndarray | None = None
) -> OffsetFinding | None:
    """Whether records declared WGS84 fit the loaded data only once converted from GCJ-02 / BD-09.

    Parameters
    ----------
    geoms
        The records as declared: points or polygons, lon/lat degrees.
    roads
        Road lines loaded near them (shapely, EPSG:4326).
    buildings
        Building footprints loaded near them (EPSG:4326); the test for points uses them
        when there are some.

    Returns
    -------
    OffsetFinding or None
        None when nothing points to a conversion (or there is too little to tell).
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if len(geoms) < MIN_RECORDS or len(roads) == 0:
        return None
    if len(geoms) > SAMPLE:
        geoms = geoms[np.random.default_rng(0).choice(len(geoms), SAMPLE, replace=False)]
    centre = shapely.centroid(geoms)
    lon, lat = shapely.get_x(centre), shapely.get_y(centre)
    ref = _Reference(
        roads,
        np.asarray(buildings if buildings is not None else [], dtype=object),
        float(np.median(lon)),
        float(np.median(lat)),
    )
    declared = ref.conflicts(geoms)
    best: tuple[str, float, float, float] | None = None
    for coord_type in ("gcj02", "bd09"):
        converted = geometries_to_wgs84(geoms, coord_type)
        c = shapely.centroid(converted)
        dlon = float(np.median(shapely.get_x(c) - lon))
        dlat = float(np.median(shapely.get_y(c) - lat))
        if dlon == 0 and dlat == 0:  # outside China the conversions are the identity
            return None
        score = ref.conflicts(converted)
        if best is None or score < best[1]:
            best = (coord_type, score, dlon, dlat)
    assert best is not None
    coord_type, converted_share, dlon, dlat = best
    controls = []
    for angle in np.radians(CONTROL_ANGLES_DEG):
        ca, sa = np.cos(angle), np.sin(angle)
        controls.append(ref.conflicts(_shift(geoms, ca * dlon - sa * dlat, sa * dlon + ca * dlat)))
    control = min(controls)
    if (
        converted_share <= IMPROVEMENT * declared
        and declared - converted_share >= MIN_DROP
        and converted_share < control
    ):
        offset_m = float(np.hypot(dlon * np.cos(np.radians(np.median(lat))), dlat) * 111_320)
        return OffsetFinding(coord_type, declared, converted_share, control, len(geoms), offset_m)
    return None
