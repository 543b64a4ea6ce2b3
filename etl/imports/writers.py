"""Frames to the files staff open: Excel, CSV that Excel reads (UTF-8 with BOM), GeoPackage."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Literal

import pandas as pd

import geopandas as gpd
import pyogrio

FileFormat = Literal["xlsx", "csv", "gpkg"]
MEDIA_TYPES: dict[str, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "gpkg": "application/geopackage+sqlite3",
}


def to_bytes(frame: pd.DataFrame, fmt: FileFormat, layer: str) -> bytes:
    """The frame as the bytes of a ``.xlsx``, ``.csv`` or ``.gpkg`` file.

    Spreadsheets and CSV get no geometry (the caller gives 经度/纬度 columns); a
    GeoPackage gets it when the frame has one, else an attribute table.
    """
    if fmt == "gpkg":
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{layer}.gpkg"
            pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG")
            return path.read_bytes()
    plain = (
        pd.DataFrame(frame.drop(columns=frame.geometry.name))
        if isinstance(frame, gpd.GeoDataFrame)
        else frame
    )
    for column in plain.columns:
        if isinstance(plain[column].dtype, pd.DatetimeTZDtype):
            plain[column] = plain[column].dt.strftime("%Y-%m-%d %H:%M")
    if fmt == "csv":
        return plain.to_csv(index=False).encode("utf-8-sig")
    buffer = io.BytesIO()
    plain.to_excel(buffer, index=False, sheet_name=layer[:31], engine="openpyxl")
    return buffer.getvalue()
