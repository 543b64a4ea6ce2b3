"""The frames handed to the check, as arrays: labels, communities, geometry safe to overlay."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from grids.topology.report import TopologyInputError


def _wgs84(gdf: gpd.GeoDataFrame, what: str, required: Sequence[str]) -> gpd.GeoDataFrame:
    """Check columns; return the frame in EPSG:4326 with a fresh 0..n-1 index."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise TopologyInputError(f"{what}: a GeoDataFrame is needed, not {type(gdf).__name__}")
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        raise TopologyInputError(
            f"{what}: missing column(s) {', '.join(missing)} "
            f"(columns: {', '.join(map(str, gdf.columns))})"
        )
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    elif not CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)):
        gdf = gdf.to_crs(4326)
    return gdf.reset_index(drop=True)


def _text(value: object) -> str | None:
    """A code as text; None for missing values (None, NaN, pd.NA, blank)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


@dataclass
class _Grids:
    """The grids as arrays: labels, communities and the geometry the overlays use."""

    frame: gpd.GeoDataFrame
    labels: np.ndarray
    community: np.ndarray
    geoms: np.ndarray
    """The geometry as given (None for missing)."""
    usable: np.ndarray
    """Polygonal geometry for the overlays: invalid ones made valid, missing/empty None."""
    reasons: list[str | None]
    """Why each geometry is invalid, None when valid."""
    ids: np.ndarray | None
    households: np.ndarray | None
    base: np.ndarray

    @classmethod
    def of(cls, grids: gpd.GeoDataFrame) -> _Grids:
        n = len(grids)
        codes = [_text(v) for v in grids["code"]] if "code" in grids else [None] * n
        labels = np.array([code or f"#{i + 1}" for i, code in enumerate(codes)], dtype=object)
        community = np.array([_text(v) for v in grids["community_code"]], dtype=object)
        geoms = np.asarray(grids.geometry.array, dtype=object)
        usable, reasons = _usable(geoms)
        ids = None
        if "id" in grids and n and grids["id"].notna().all():
            ids = grids["id"].to_numpy()
        households = None
        if "households" in grids:
            households = pd.to_numeric(grids["households"], errors="coerce").to_numpy(float)
        base = np.ones(n, dtype=bool)
        if "kind" in grids:
            base = ~grids["kind"].astype(object).isin(["dedicated"]).to_numpy()
        return cls(grids, labels, community, geoms, usable, reasons, ids, households, base)


@dataclass
class _Communities:
    """The communities as arrays, with a lookup from code to position."""

    codes: np.ndarray
    names: np.ndarray
    geoms: np.ndarray
    usable: np.ndarray
    reasons: list[str | None]
    position: dict[str, int]

    @classmethod
    def of(cls, communities: gpd.GeoDataFrame) -> _Communities:
        codes = np.array([_text(v) or "" for v in communities["code"]], dtype=object)
        if "name" in communities:
            names = np.array([_text(v) or "" for v in communities["name"]], dtype=object)
        else:
            names = np.full(len(codes), "", dtype=object)
        geoms = np.asarray(communities.geometry.array, dtype=object)
        usable, reasons = _usable(geoms)
        position = {code: i for i, code in enumerate(codes) if code}
        return cls(codes, names, geoms, usable, reasons, position)

    def title(self, code: str | None) -> str:
        """``名称(编码)`` of a community, or the bare code when it is unknown."""
        if code is None:
            return "?"
        i = self.position.get(code)
        name = self.names[i] if i is not None else ""
        return f"{name}({code})" if name else code


def _usable(geoms: np.ndarray) -> tuple[np.ndarray, list[str | None]]:
    """Return polygonal geometries safe to overlay, and why each input is invalid."""
    missing = shapely.is_missing(geoms)
    empty = np.zeros(len(geoms), dtype=bool)
    empty[~missing] = shapely.is_empty(geoms[~missing])
    valid_reason = shapely.is_valid_reason(geoms)
    polygonal = np.isin(shapely.get_type_id(geoms), (3, 6))  # Polygon, MultiPolygon
    reasons: list[str | None] = []
    usable = geoms.copy()
    for i, reason in enumerate(valid_reason):
        if missing[i]:
            reasons.append("missing geometry 缺少几何")
            usable[i] = None
        elif empty[i]:
            reasons.append("empty geometry 空几何")
            usable[i] = None
        elif reason != "Valid Geometry":
            reasons.append(str(reason))
            usable[i] = _polygonal(shapely.make_valid(geoms[i]))
        elif not polygonal[i]:
            reasons.append(f"not a polygon 不是面: {geoms[i].geom_type}")
            usable[i] = _polygonal(geoms[i])
        else:
            reasons.append(None)
    return usable, reasons


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal parts of a geometry as one (Multi)Polygon, None if there are none."""
    parts = shapely.get_parts(geom)
    parts = parts[np.isin(shapely.get_type_id(parts), (3, 6))]
    if len(parts) == 0:
        return None
    return shapely.union_all(parts)
