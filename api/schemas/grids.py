"""What the grid routes answer: where a point is, and the current grids as GeoJSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from geojson_pydantic import Feature, FeatureCollection

from api.schemas.common import Area


class GridRef(BaseModel):
    """A grid, as a resident or worker needs to know it (no personal data)."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    community: str


class Located(BaseModel):
    """Where a point is: its grid (null when it lies in none) and its H3 cell."""

    model_config = ConfigDict(from_attributes=True)

    lon: float
    lat: float
    in_grid: bool
    grid: GridRef | None
    h3_cell: str
    h3_resolution: int


class GridProperties(BaseModel):
    """A current grid on the public map, with its counts."""

    code: str = Field(description="15-digit grid code")
    name: str
    kind: str
    community_code: str
    community_name: str
    buildings: int
    households: int


class GridFeature(Feature[Area, GridProperties]):
    """A current grid (lon/lat, WGS84)."""


class GridMap(FeatureCollection[GridFeature]):
    """The current grids, in code order."""
