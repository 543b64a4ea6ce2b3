"""Models of hazard areas (GeoJSON), their impact and their check-on lists (GeoJSON).

Per-resident rows carry ids, rooms and flags, never names or phones.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from geojson_pydantic import Feature, FeatureCollection, LineString, MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from api.schemas.common import geometry, json_value, records
from api.services import awareness as aw
from api.services import impact
from gis.store.awareness_store import HazardRow


class HazardProperties(BaseModel):
    """A hazard area; ``area_m2`` and ``warnings`` (repairs made) when just stored."""

    id: int
    kind: str = Field(description="typhoon, flood, fire or gas_leak")
    name: str
    severity: int = Field(description="1 (low) to 4 (extreme)")
    valid_from: str
    valid_to: str | None
    area_m2: float | None = None
    warnings: list[str] | None = None


class HazardFeature(Feature[MultiPolygon | Polygon, HazardProperties]):
    """A hazard area as a GeoJSON Feature (WGS84)."""

    @classmethod
    def of(cls, row: HazardRow | Any, **extra: Any) -> HazardFeature:
        """From a stored hazard (a :class:`HazardRow` or a row of the hazards frame)."""
        get = row.get if isinstance(row, pd.Series) else lambda k: getattr(row, k)
        geom = row.geometry if isinstance(row, pd.Series) else row.geom
        hazard_id = int(get("id"))
        props = {
            "id": hazard_id,
            "kind": get("kind"),
            "name": get("name"),
            "severity": int(get("severity")),
            "valid_from": json_value(get("valid_from")),
            "valid_to": json_value(get("valid_to")),
            **extra,
        }
        feature = {"type": "Feature", "id": hazard_id, "properties": props}
        return cls.model_validate({**feature, "geometry": geometry(geom)})

    @classmethod
    def stored(cls, got: aw.StoredHazard) -> HazardFeature:
        """A hazard just stored, with its area and the repairs made."""
        return cls.of(got.hazard, area_m2=round(got.area_m2, 1), warnings=got.warnings)


class HazardCollection(FeatureCollection[HazardFeature]):
    """Hazard areas, newest first."""


class HazardRef(BaseModel):
    """Which hazard."""

    id: int
    kind: str
    name: str
    severity: int


class ImpactGrid(BaseModel):
    """A grid the hazard touches: share of its area, people by group, whom to check on."""

    model_config = ConfigDict(extra="allow")

    grid_id: int
    code: str
    area_share: float = Field(description="share of the grid's area inside the hazard, 0-1")
    buildings: int
    households: int
    residents: int
    elderly_alone: int
    disabled: int
    mobility_impaired: int
    children: int
    check_on: int = Field(description="residents its worker must check on")
    worker_id: int | None = Field(description="the grid's primary worker")


class ShelterRef(BaseModel):
    """A shelter and whether it can be used."""

    id: int
    name: str | None
    usable: bool


class ImpactOut(BaseModel):
    """What a hazard touches: the user's grids; the whole hazard's totals (counts only)."""

    hazard: HazardRef
    area_m2: float
    grids: list[ImpactGrid]
    buildings: int
    households: int
    residents_by_group: dict[str, int]
    check_on: int
    check_on_without_safe_shelter: int
    shelters_inside: list[ShelterRef] = Field(description="inside the hazard: unusable")
    shelters_outside: list[ShelterRef]
    closed_road_edges: int
    notes: list[str]

    @classmethod
    def of(cls, view: impact.ImpactView) -> ImpactOut:
        """From :func:`api.services.impact.impact_view`."""
        h = view.hazard
        return cls(
            hazard=HazardRef(id=h.id, kind=h.kind, name=h.name, severity=h.severity),
            area_m2=round(view.area_m2, 1),
            grids=[ImpactGrid(**r) for r in records(view.grids)],
            buildings=view.buildings,
            households=view.households,
            residents_by_group=view.residents_by_group,
            check_on=view.check_on,
            check_on_without_safe_shelter=view.check_on_without_safe_shelter,
            shelters_inside=[ShelterRef(**vars(s)) for s in view.shelters_inside],
            shelters_outside=[ShelterRef(**vars(s)) for s in view.shelters_outside],
            closed_road_edges=view.closed_road_edges,
            notes=view.notes,
        )


class CheckOnProperties(BaseModel):
    """A resident to check on, their safe shelter and walk (ids and flags, no names)."""

    model_config = ConfigDict(extra="allow")

    grid_id: int
    grid_code: str
    worker_id: int | None
    resident_id: int
    household_id: int
    building_id: int
    lon: float
    lat: float
    groups: str = Field(description="why: elderly_alone, disabled, mobility_impaired …")
    shelter_id: int | None
    shelter_name: str | None
    walk_m: float | None
    walk_s: float | None
    reason: str = Field(description="ok, cut_off or no_safe_shelter")
    room: str | None
    walk_min: float | None


class CheckOnList(FeatureCollection[Feature[LineString | Point, CheckOnProperties]]):
    """Per resident, the walking route to safety (a line), or their home (a point)."""

    hazard_id: int
    grid: str | None
    count: int

    @classmethod
    def of(cls, got: impact.CheckOnList) -> CheckOnList:
        """From :func:`api.services.impact.check_on_list`."""
        features = []
        for row in got.rows.to_dict(orient="records"):
            route = row.pop("route", None)
            shape = geometry(route) if isinstance(route, BaseGeometry) else None
            if shape is None or not shape["coordinates"]:  # no route, or one of no length
                shape = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
            props = {k: json_value(v) for k, v in row.items()}
            features.append({"type": "Feature", "properties": props, "geometry": shape})
        return cls.model_validate(
            {
                "type": "FeatureCollection",
                "hazard_id": got.hazard_id,
                "grid": got.grid,
                "count": len(features),
                "features": features,
            }
        )
