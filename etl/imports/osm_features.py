"""Buildings, facilities and candidate shelters from OpenStreetMap, each with its deciding tag.

Read with pyosmium, which assembles closed ways and multipolygon relations into areas.

* **Buildings**: every area tagged ``building`` (not ``building=no``), with its
  ``building:levels`` as floors, its ``addr:street`` + ``addr:housenumber`` as address
  (``中山路`` + ``178`` → ``中山路178号``) and its use from the building value.  Footprints
  whose ways reach beyond the extract (nodes missing) cannot be assembled; they are
  counted, not guessed.
* **Facilities** (nodes or areas; an area by a point inside it), by the first rule of
  :data:`FACILITY_RULES` that matches: hospitals, clinics, doctors, dentists and
  pharmacies are ``clinic``; nursing homes and senior social facilities ``elder_care``;
  schools and kindergartens ``school``; community and social centres
  ``community_centre``; parks ``park``.
* **Candidate shelters**: ``emergency=assembly_point``, and parks, squares, stadiums
  and sports centres of at least :data:`SHELTER_MIN_AREA_M2`.  Open ground of
  :data:`FIXED_MIN_AREA_M2` or more is a fixed shelter (固定避难场所), smaller an
  emergency one (紧急避难场所).  The capacity is the tag ``capacity`` when given, else
  estimated as :data:`USABLE_SHARE` of the area at :data:`M2_PER_PERSON` per person (GB
  51143: 1 m² in an emergency shelter, 2 m² in a fixed one) — an estimate to be
  replaced by the office's own figure.

Each record keeps its OpenStreetMap id as ``ref`` (``osm:w123``, ``osm:n456``,
``osm:r789``; a shelter made from a park ``osm:w123:shelter``) so that a newer extract
updates it, and the tag that decided its kind as ``source_tag``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from etl.osm import read_objects
from gis.coords import local_metric_crs

SHELTER_MIN_AREA_M2 = 1_000.0
FIXED_MIN_AREA_M2 = 10_000.0
USABLE_SHARE = 0.6
M2_PER_PERSON = {"emergency": 1.0, "fixed": 2.0}

#: (key, values or None for any, our kind), the first that matches decides.
FACILITY_RULES: tuple[tuple[str, frozenset[str] | None, str], ...] = (
    ("amenity", frozenset({"pharmacy"}), "pharmacy"),
    ("amenity", frozenset({"hospital", "clinic", "doctors", "dentist"}), "clinic"),
    ("healthcare", None, "clinic"),
    ("amenity", frozenset({"nursing_home"}), "elder_care"),
    ("social_facility", frozenset({"nursing_home", "assisted_living", "day_care"}), "elder_care"),
    ("amenity", frozenset({"school", "kindergarten"}), "school"),
    ("amenity", frozenset({"community_centre", "social_centre"}), "community_centre"),
    ("leisure", frozenset({"park"}), "park"),
)
#: Open ground that may serve as a shelter when large enough: (key, values).
OPEN_GROUND: tuple[tuple[str, frozenset[str]], ...] = (
    ("leisure", frozenset({"park", "stadium", "sports_centre"})),
    ("place", frozenset({"square"})),
)
USES = {
    "residential": frozenset(
        {
            "residential",
            "apartments",
            "house",
            "detached",
            "dormitory",
            "terrace",
            "semidetached_house",
        }
    ),
    "commercial": frozenset({"commercial", "retail", "office", "hotel", "supermarket", "kiosk"}),
    "public": frozenset(
        {
            "public",
            "school",
            "hospital",
            "civic",
            "government",
            "university",
            "college",
            "kindergarten",
            "train_station",
            "transportation",
            "church",
            "temple",
            "stadium",
        }
    ),
}
KIND_ZH = {
    "clinic": "医疗卫生",
    "elder_care": "养老服务",
    "school": "学校",
    "community_centre": "社区服务中心",
    "park": "公园",
    "shelter": "避难场所",
    "pharmacy": "药店",
}


@dataclass
class OsmFeatures:
    """What an OpenStreetMap file holds for a district besides its roads."""

    buildings: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    shelters: gpd.GeoDataFrame
    #: building ways that could not be assembled (nodes beyond the extract)
    incomplete_buildings: int = 0
    #: how many of each kind each tag gave: {"clinic": {"amenity=hospital": 5, …}}
    decided_by: dict[str, dict[str, int]] = field(default_factory=dict)


def _address(tags: Mapping[str, str]) -> str | None:
    full = tags.get("addr:full")
    if full:
        return full
    street, number = tags.get("addr:street"), tags.get("addr:housenumber")
    if not street or not number:
        return None
    return f"{street}{number}号" if number.isdigit() else f"{street}{number}"


def _levels(tags: Mapping[str, str]) -> int | None:
    for key in ("building:levels", "levels"):
        try:
            value = int(float(tags.get(key, "")))
        except ValueError:
            continue
        if 1 <= value <= 200:
            return value
    return None


def _use(value: str) -> str:
    return next((use for use, values in USES.items() if value in values), "mixed")


def facility_kind(tags: Mapping[str, str]) -> tuple[str, str] | None:
    """Our kind of facility for a set of tags, and the tag that decided it."""
    for key, values, kind in FACILITY_RULES:
        value = tags.get(key)
        if value is not None and (values is None or value in values):
            if key == "social_facility" and tags.get("social_facility:for") not in (
                None,
                "senior",
                "elderly",
            ):
                continue
            return kind, f"{key}={value}"
    return None


def _open_ground(tags: Mapping[str, str]) -> str | None:
    for key, values in OPEN_GROUND:
        if tags.get(key) in values:
            return f"{key}={tags[key]}"
    return None


def _ref(obj: object, area: bool) -> str:
    import osmium

    if area:
        assert isinstance(obj, osmium.osm.Area)
        return f"osm:{'w' if obj.from_way() else 'r'}{obj.orig_id()}"
    return f"osm:n{obj.id}"  # type: ignore[attr-defined]


def read_osm_features(path: str | PathLike[str]) -> OsmFeatures:
    """Read the buildings, facilities and candidate shelters of an OSM file (EPSG:4326)."""
    import osmium

    wkb = osmium.geom.WKBFactory()
    buildings: list[dict[str, object]] = []
    points: list[dict[str, object]] = []  # facilities and open ground, any geometry
    incomplete = 0
    for obj in read_objects(path, osmium.FileProcessor(str(path)).with_areas().with_locations()):
        tags = obj.tags
        if isinstance(obj, osmium.osm.Way):
            broken = not obj.is_closed() or not all(n.location.valid() for n in obj.nodes)
            if broken and tags.get("building", "no") != "no":
                incomplete += 1
            continue
        area = isinstance(obj, osmium.osm.Area)
        if not area and not isinstance(obj, osmium.osm.Node):
            continue
        if area:
            try:
                geom = shapely.from_wkb(wkb.create_multipolygon(obj))
            except RuntimeError:  # a ring that does not close: left out
                continue
        else:
            geom = shapely.Point(obj.location.lon, obj.location.lat)
        plain = {t.k: t.v for t in tags}
        if area and plain.get("building", "no") != "no":
            buildings.append(
                {
                    "ref": _ref(obj, True),
                    "name": plain.get("name"),
                    "address": _address(plain),
                    "floors": _levels(plain),
                    "use": _use(plain["building"]),
                    "source_tag": f"building={plain['building']}",
                    "geometry": geom,
                }
            )
        kind = facility_kind(plain)
        ground = _open_ground(plain) if area else None
        assembly = plain.get("emergency") == "assembly_point"
        if kind or ground or assembly:
            points.append(
                {
                    "ref": _ref(obj, area),
                    "name": plain.get("name"),
                    "address": _address(plain),
                    "kind": kind[0] if kind else None,
                    "source_tag": kind[1] if kind else None,
                    "ground": ground,
                    "assembly": assembly,
                    "capacity": plain.get("capacity"),
                    "opening_hours": plain.get("opening_hours"),
                    "phone": plain.get("phone") or plain.get("contact:phone"),
                    "geometry": geom,
                }
            )
    building_frame = gpd.GeoDataFrame(
        buildings or None,
        columns=["ref", "name", "address", "floors", "use", "source_tag", "geometry"],
        geometry="geometry",
        crs=4326,
    )
    found = gpd.GeoDataFrame(
        points or None,
        columns=[
            "ref",
            "name",
            "address",
            "kind",
            "source_tag",
            "ground",
            "assembly",
            "capacity",
            "opening_hours",
            "phone",
            "geometry",
        ],
        geometry="geometry",
        crs=4326,
    )
    facilities, shelters = _split(found)
    decided: dict[str, dict[str, int]] = {}
    for kind_name, frame in (
        ("building", building_frame),
        ("facility", facilities),
        ("shelter", shelters),
    ):
        if kind_name == "facility":
            for k, part in frame.groupby("kind"):
                decided[str(k)] = part["source_tag"].value_counts().to_dict()
        elif len(frame):
            decided[kind_name] = frame["source_tag"].value_counts().to_dict()
    return OsmFeatures(building_frame, facilities, shelters, incomplete, decided)


def _split(found: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Facilities (a point each) and candidate shelters from the tagged objects."""
    columns = [
        "ref",
        "name",
        "kind",
        "address",
        "capacity",
        "opening_hours",
        "phone",
        "source_tag",
        "geometry",
    ]
    shelter_columns = [
        "ref",
        "name",
        "address",
        "shelter_class",
        "capacity",
        "area_m2",
        "source_tag",
        "geometry",
    ]
    if found.empty:
        empty = gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=4326)
        return empty, gpd.GeoDataFrame(columns=shelter_columns, geometry="geometry", crs=4326)
    geoms = found.geometry.to_numpy()
    inside = shapely.point_on_surface(geoms)
    centre = shapely.centroid(shapely.union_all(inside))
    metric = gpd.GeoSeries(geoms, crs=4326).to_crs(local_metric_crs(centre.x, centre.y))
    area_m2 = np.where(np.isin(shapely.get_type_id(geoms), (3, 6)), metric.area.to_numpy(), 0.0)
    has_kind = found["kind"].notna().to_numpy()
    facilities = gpd.GeoDataFrame(
        {
            "ref": found["ref"].to_numpy()[has_kind],
            "name": _names(found[has_kind]),
            "kind": found["kind"].to_numpy()[has_kind],
            "address": found["address"].to_numpy()[has_kind],
            "capacity": pd.to_numeric(found["capacity"], errors="coerce").to_numpy()[has_kind],
            "opening_hours": found["opening_hours"].to_numpy()[has_kind],
            "phone": found["phone"].to_numpy()[has_kind],
            "source_tag": found["source_tag"].to_numpy()[has_kind],
        },
        geometry=inside[has_kind],
        crs=4326,
    )
    big = (found["ground"].notna().to_numpy() & (area_m2 >= SHELTER_MIN_AREA_M2)) | found[
        "assembly"
    ].to_numpy(dtype=bool)
    shelter_class = np.where(area_m2 >= FIXED_MIN_AREA_M2, "fixed", "emergency")
    per_person = np.where(
        shelter_class == "fixed", M2_PER_PERSON["fixed"], M2_PER_PERSON["emergency"]
    )
    given = pd.to_numeric(found["capacity"], errors="coerce").to_numpy()
    estimate = np.floor(area_m2 * USABLE_SHARE / per_person)
    capacity = np.where(np.isfinite(given), given, estimate)
    tag = np.where(
        found["assembly"].to_numpy(dtype=bool),
        "emergency=assembly_point",
        found["ground"].fillna("").to_numpy(dtype=object),
    )
    named = _names(found, shelter=True)
    shelters = gpd.GeoDataFrame(
        {
            "ref": (found["ref"] + ":shelter").to_numpy()[big],
            "name": named[big],
            "address": found["address"].to_numpy()[big],
            "shelter_class": shelter_class[big],
            "capacity": capacity[big],
            "area_m2": np.where(area_m2 > 0, area_m2, np.nan)[big],
            "source_tag": [
                f"{t} ({a:,.0f} m²)" if a > 0 else t
                for t, a in zip(tag[big], area_m2[big], strict=True)
            ],
        },
        geometry=inside[big],
        crs=4326,
    )
    return facilities, shelters


def _names(frame: pd.DataFrame, *, shelter: bool = False) -> np.ndarray:
    """Names, or a made-up one naming the kind and the OSM id (a name is required)."""
    out = []
    for name, kind, ref in zip(frame["name"], frame["kind"], frame["ref"], strict=True):
        if isinstance(name, str) and name.strip():
            out.append(name.strip())
        else:
            label = "避难场所" if shelter else KIND_ZH.get(str(kind), "设施")
            out.append(f"未命名{label} {ref}")
    return np.asarray(out, dtype=object)
