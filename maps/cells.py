"""H3 cells as map shapes: counts rolled up to the resolution a zoom can show, with polygons.

A vector tile of an aggregate (people per cell, open incidents per cell) shows hexagons a
few dozen pixels wide: at street zoom the stored resolution (10 by default, about 15,000 m²
a cell), coarser parents further out (:func:`resolution_for_zoom`).  :class:`CellShapes`
holds the counts of the stored cells, adds them up per parent once per resolution asked
for, keeps each cell's polygon (EPSG:4326) and its box, and hands a tile the cells that
meet it.

Counts of people are suppressed below k where they are made public (``k`` of
:meth:`CellShapes.properties`): a value from 1 to ``k - 1`` is left out of the feature,
so the map shows the cell without a number.  Rolling up first and suppressing after
means a coarser cell often shows a count its children could not (the merge the privacy
rule allows).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import shapely

from grids.locate import cell_polygons, parent_cells

#: Zoom → the coarsest resolution worth drawing there (hexagons some 15-60 px wide).
ZOOM_RESOLUTIONS = ((15, 10), (13, 9), (11, 8), (9, 7), (0, 6))


def resolution_for_zoom(zoom: int, finest: int) -> int:
    """The H3 resolution drawn at a zoom level, never finer than the stored ``finest``."""
    for from_zoom, resolution in ZOOM_RESOLUTIONS:
        if zoom >= from_zoom:
            return min(resolution, finest)
    return min(ZOOM_RESOLUTIONS[-1][1], finest)


@dataclass(frozen=True)
class CellLevel:
    """The cells of one resolution: ids, counts, polygons as WKB, boxes (W, S, E, N)."""

    cells: np.ndarray
    counts: pd.DataFrame
    wkb: np.ndarray
    boxes: np.ndarray

    def in_box(self, west: float, south: float, east: float, north: float) -> np.ndarray:
        """Positions of the cells whose box meets the given one (degrees)."""
        b = self.boxes
        return np.flatnonzero(
            (b[:, 0] <= east) & (b[:, 2] >= west) & (b[:, 1] <= north) & (b[:, 3] >= south)
        )


@dataclass
class CellShapes:
    """Counts per H3 cell at the stored resolution, drawable at any coarser one.

    Parameters
    ----------
    cells
        ``int64`` cells at ``resolution``.
    counts
        One row per cell, one column per count (households, residents …).
    resolution
        The cells' resolution.
    """

    cells: np.ndarray
    counts: pd.DataFrame
    resolution: int
    _levels: dict[int, CellLevel] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, resolution: int) -> CellShapes:
        """From a frame with ``h3_cell`` and count columns (cells at ``resolution``)."""
        cells = frame["h3_cell"].to_numpy(dtype=np.int64)
        counts = frame.drop(columns="h3_cell").reset_index(drop=True).astype("int64")
        return cls(cells, counts, resolution)

    def level(self, resolution: int) -> CellLevel:
        """The counts added up per parent at ``resolution`` (at most the stored one)."""
        resolution = min(resolution, self.resolution)
        with self._lock:
            got = self._levels.get(resolution)
        if got is not None:
            return got
        parents = parent_cells(self.cells, resolution) if len(self.cells) else self.cells
        summed = self.counts.groupby(parents, sort=True).sum()
        cells = summed.index.to_numpy(dtype=np.int64)
        polygons = cell_polygons(cells)
        level = CellLevel(
            cells=cells,
            counts=summed.reset_index(drop=True),
            wkb=np.asarray(shapely.to_wkb(polygons), dtype=object),
            boxes=shapely.bounds(polygons).reshape(-1, 4),
        )
        with self._lock:
            self._levels[resolution] = level
        return level

    @staticmethod
    def properties(
        level: CellLevel,
        positions: np.ndarray,
        *,
        k: int | None = None,
        suppressed: Sequence[str] = (),
    ) -> list[str]:
        """Each chosen cell's properties as JSON text: ``cell`` (hex) and its counts.

        ``suppressed`` columns are left out where they are from 1 to ``k - 1``.
        """
        rows = level.counts.iloc[positions]
        out = []
        for cell, values in zip(level.cells[positions], rows.to_dict("records"), strict=True):
            props: dict[str, object] = {"cell": format(int(cell), "x")}
            for name, value in values.items():
                v = int(value)
                if k is not None and name in suppressed and 0 < v < k:
                    continue
                props[name] = v
            out.append(json.dumps(props))
        return out
