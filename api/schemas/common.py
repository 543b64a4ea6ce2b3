"""Shaping every family shares: numbers JSON can carry, frames as records, GeoJSON answers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from fastapi.responses import JSONResponse

GEOJSON = "application/geo+json"


class GeoJSONResponse(JSONResponse):
    """A GeoJSON answer (RFC 7946): ``application/geo+json``."""

    media_type = GEOJSON


def json_number(value: Any) -> Any:
    """A JSON-safe value: numpy scalars as Python's, NaN and infinity as null."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as JSON-safe dicts (missing values as null)."""
    return [
        {k: json_number(v) if isinstance(v, str) or not pd.isna(v) else None for k, v in r.items()}
        for r in frame.to_dict("records")
    ]
