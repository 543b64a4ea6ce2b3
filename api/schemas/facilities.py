"""What the facility routes answer: walking service areas (生活圈) as GeoJSON."""

from __future__ import annotations

from pydantic import BaseModel, Field

from geojson_pydantic import Feature, FeatureCollection

from api.schemas.common import Area


class ServiceAreaProperties(BaseModel):
    """The area reached on foot from a facility within some minutes."""

    minutes: float = Field(description="walking time, minutes")
    area_m2: float = Field(description="area, m²")
    facility_id: int
    kind: str
    name: str


class ServiceArea(Feature[Area | None, ServiceAreaProperties]):
    """The area reached within some minutes (lon/lat, WGS84; null when nothing is reached)."""


class ServiceAreas(FeatureCollection[ServiceArea]):
    """One area per walking time, ascending."""
