"""Read and write a layer set as one GeoPackage (spatial and attribute-only layers)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from tqdm import tqdm

import geopandas as gpd
import pyogrio

from gis.errors import EtlError, InvalidInput


class LayerFileError(EtlError, InvalidInput):
    """A layer file cannot be read: missing, not a GeoPackage, or a layer is unreadable."""


def write_layers(
    layers: Mapping[str, pd.DataFrame], path: str | Path, *, progress: bool = True
) -> Path:
    """Write every layer to ``path`` (replaced if it exists); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    for name, frame in tqdm(layers.items(), desc="writing", unit="layer", disable=not progress):
        pyogrio.write_dataframe(frame, path, layer=name, driver="GPKG", use_arrow=True)
    return path


def read_layers(path: str | Path, names: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """Read the layers of a GeoPackage (all, or ``names``) into frames.

    Raises
    ------
    LayerFileError
        When the file is missing or is not a readable GeoPackage.
    """
    path = Path(path)
    if not path.exists():
        raise LayerFileError(f"{path}: no such file")
    try:
        available = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises several DataSource errors
        raise LayerFileError(f"{path}: not a readable GeoPackage ({exc})") from exc
    missing = [n for n in (names or []) if n not in available]
    if missing:
        raise LayerFileError(
            f"{path}: no layer named {', '.join(missing)} (it has: {', '.join(available)})"
        )
    out: dict[str, pd.DataFrame] = {}
    for name in names or available:
        try:
            frame = pyogrio.read_dataframe(path, layer=name, use_arrow=True)
        except Exception as exc:
            raise LayerFileError(f"{path}, layer {name}: unreadable ({exc})") from exc
        if (
            isinstance(frame, gpd.GeoDataFrame)
            and frame.geometry.isna().all()
            and frame.crs is None
        ):
            frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        out[name] = frame
    return out
