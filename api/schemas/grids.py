"""What the grid routes answer: where a point is, and the current grids as GeoJSON."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from geojson_pydantic import Feature, FeatureCollection

from api.inputs import Text
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
    beidou: str | None = Field(None, description="北斗 grid code (GB/T 39409-2020) of the point")
    beidou_level: int | None = None


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


# --------------------------------------------------------------------------- crosswalk


class CellShareOut(BaseModel):
    """One cell of a grid: the area and households they share, and the four shares."""

    model_config = ConfigDict(from_attributes=True)

    cell: str = Field(description="H3 index (hex) or 北斗 code")
    area_m2: float = Field(description="area of the cell inside the grid, m²")
    cell_area_m2: float
    cell_coverage: float = Field(description="share of the cell inside any grid")
    households: float = Field(description="households of the cell living in the grid")
    area_share: float = Field(description="share of the cell's area in this grid (cell → grids)")
    household_share: float = Field(description="share of the cell's households in this grid")
    grid_area_share: float = Field(
        description="share of the grid's area in this cell (grid → cells)"
    )
    grid_household_share: float = Field(description="share of the grid's households in this cell")


class GridCellsOut(BaseModel):
    """A grid and its cells (shares of the grid sum to 1 over them)."""

    model_config = ConfigDict(from_attributes=True)

    grid_id: int
    code: str
    name: str
    community: str
    area_m2: float
    households: float
    cells: list[CellShareOut]


class CrosswalkAnswer(BaseModel):
    """The grid↔cell crosswalk of the caller's grids."""

    model_config = ConfigDict(from_attributes=True)

    system: str = Field(description="h3 or beidou")
    level: int = Field(description="H3 resolution or 北斗 level")
    grids: list[GridCellsOut]


class ConvertBody(BaseModel):
    """Counts to convert through the crosswalk, keyed by cell or by grid code."""

    system: Literal["h3", "beidou"] = "h3"
    level: int | None = Field(None, ge=0, le=15, description="default: the stored level")
    community: str | None = Field(None, pattern=r"^\d{12}$")
    direction: Literal["cells_to_grids", "grids_to_cells"] = "cells_to_grids"
    weight: Literal["area", "households"] = "area"
    values: dict[Text, float] = Field(
        description="per H3 index / 北斗 code (cells_to_grids) or per 15-digit grid code"
    )


class ConversionAnswer(BaseModel):
    """Converted counts; ``total_in == total_out + outside_area + sum(unplaced)``."""

    model_config = ConfigDict(from_attributes=True)

    system: str
    level: int
    direction: str
    weight: str
    values: dict[str, float]
    total_in: float
    total_out: float
    outside_area: float = Field(description="what went to grids outside your area")
    unplaced: dict[str, float] = Field(description="values of cells that meet no grid")
