"""Models of the incident trends: counts by place and window, Gi* hotspots (GeoJSON), warnings.

Times are ISO 8601 text as the routes have always sent them; H3 cells as text (a
browser's numbers lose the digits of a 64-bit cell).
"""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from geojson_pydantic import Feature, FeatureCollection, Polygon

from analysis.aggregates import WINDOWS
from api.inputs import one_of
from api.schemas.common import h3_text, json_value, records
from api.services import trends
from api.state import CUBE_PLACES, CUBE_SPLITS
from grids.beidou.place import beidou_codes

#: Places incidents are counted by; windows; further columns to split the counts by.
Place = one_of("by", CUBE_PLACES)
Window = one_of("window", WINDOWS)
SplitColumn = one_of("split_by", CUBE_SPLITS)


class AggregateRow(BaseModel):
    """Incidents counted in one place (and window, and split value)."""

    model_config = ConfigDict(extra="allow")

    h3_cell: str | None = Field(None, description="H3 cell as a decimal string (by=h3_cell)")
    h3_index: str | None = Field(None, description="H3 cell as its hex index (by=h3_cell)")
    beidou_cell: str | None = Field(
        None, description="北斗 cell, packed, as a decimal string (by=beidou_cell)"
    )
    beidou: str | None = Field(
        None, description="北斗 grid code (GB/T 39409-2020) of the cell (by=beidou_cell)"
    )
    grid_id: int | None = None
    community_id: int | None = None
    window_start: str | None = Field(None, description="start of the window (local time)")
    category_code: str | None = None
    state: str | None = None
    source: str | None = None
    count: int


class Aggregates(BaseModel):
    """Incident counts by place (sent without the columns not asked for)."""

    by: str
    window: str | None
    rows: list[AggregateRow]
    total: int

    @classmethod
    def of(cls, by: str, window: str | None, table: pd.DataFrame) -> Aggregates:
        """From :func:`api.services.trends.aggregates`; H3 cells as text (JS loses digits)."""
        if by == "h3_cell":
            table = table.copy()
            table.insert(1, "h3_index", [h3_text(c) for c in table["h3_cell"]])
            table["h3_cell"] = table["h3_cell"].astype(str)
        elif by == "beidou_cell":
            table = table.copy()
            table.insert(1, "beidou", beidou_codes(table["beidou_cell"]))
            table["beidou_cell"] = table["beidou_cell"].astype(str)
        rows = [AggregateRow(**r) for r in records(table)]
        total = int(table["count"].sum()) if len(table) else 0
        return cls(by=by, window=window, rows=rows, total=total)


class HotspotProperties(BaseModel):
    """Gi* of one H3 cell."""

    model_config = ConfigDict(extra="allow")

    h3_cell: str = Field(description="H3 cell as a decimal string")
    h3_index: str = Field(description="H3 cell as its hex index")
    count: float
    neighbours: int = Field(description="cells of its k-ring in the study area, itself included")
    gi_z: float | None
    p_value: float | None = Field(description="two-sided")
    q_value: float | None = Field(description="Benjamini-Hochberg (p_value when fdr is off)")
    significant: str = Field(description="hot, cold or none")


class Hotspots(FeatureCollection[Feature[Polygon, HotspotProperties]]):
    """Hotspot cells as GeoJSON polygons, with the test that found them."""

    method: str
    k: int
    alpha: float
    start: str
    end: str
    cells_tested: int
    hot: int
    cold: int

    @classmethod
    def of(cls, found: trends.HotspotCells) -> Hotspots:
        """From :func:`api.services.trends.hotspots`."""
        frame = pd.DataFrame(found.cells.drop(columns="geometry"))
        features = []
        for row, poly in zip(records(frame), found.cells.geometry, strict=True):
            cell = int(row["h3_cell"])
            props = {**row, "h3_cell": str(cell), "h3_index": h3_text(cell)}
            features.append(
                {"type": "Feature", "properties": props, "geometry": poly.__geo_interface__}
            )
        return cls.model_validate(
            {
                "type": "FeatureCollection",
                "features": features,
                "method": found.method,
                "k": found.k,
                "alpha": found.alpha,
                "start": found.start.isoformat(),
                "end": found.end.isoformat(),
                "cells_tested": found.cells_tested,
                "hot": found.hot,
                "cold": found.cold,
            }
        )


class EarlyWarningOut(BaseModel):
    """A category's count in a place far above its own baseline, with the evidence."""

    place_kind: str = Field(description="grid, community, h3_cell or beidou_cell")
    place_id: int | str | None = Field(
        description="grid or community id; an H3 or 北斗 cell as decimal text"
    )
    place_code: str | None = Field(
        description="the grid's code (by=grid_id), the 北斗 code (by=beidou_cell)"
    )
    category_code: str
    category_name: str | None
    window_start: str
    observed: int
    expected: float
    p_value: float
    evidence: str
    method: str


def _place_code(by: str, place: object, grid_codes: dict[object, str]) -> str | None:
    if by == "grid_id":
        return grid_codes.get(place)
    if by == "beidou_cell":
        return beidou_codes([place])[0]
    return None


class Warnings(BaseModel):
    """The early warnings of one window."""

    window: str
    current: str
    baseline_windows: int
    warnings: list[EarlyWarningOut]

    @classmethod
    def of(cls, by: str, got: trends.Warnings) -> Warnings:
        """From :func:`api.services.trends.warnings`."""
        return cls(
            window=got.window,
            current=got.current.isoformat(),
            baseline_windows=got.baseline_windows,
            warnings=[
                EarlyWarningOut(
                    place_kind=w.place_kind,
                    place_id=(
                        str(w.place_id)
                        if by in ("h3_cell", "beidou_cell")
                        else json_value(w.place_id)
                    ),
                    place_code=_place_code(by, w.place_id, got.grid_codes),
                    category_code=w.category,
                    category_name=got.category_names.get(w.category),
                    window_start=w.window_start.isoformat(),
                    observed=w.observed,
                    expected=round(w.expected, 3),
                    p_value=w.p_value,
                    evidence=w.evidence,
                    method=w.method,
                )
                for w in got.found
            ],
        )
