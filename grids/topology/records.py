"""What the grids hold: records in no grid, households outside the band, unusual incident loads.

Incident outliers.  With ``x = log(1 + incidents)`` per grid, the modified z-score of
Iglewicz and Hoaglin is ``z = 0.6745 (x - median(x)) / MAD``, ``MAD = median(|x -
median(x)|)``; a grid with ``|z| > outlier_z`` (3.5) is an outlier, high or low.  When
more than half the grids have the same load (``MAD = 0``) the mean absolute deviation
is used instead (``z = (x - median) / (1.2533 · mean|x - median|)``).  The test runs
only with at least ``outlier_min_grids`` (10) grids with a count: the median and MAD
of fewer say little.  The logarithm tames the right skew of counts; the median and
MAD are not pulled by the outliers they look for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

import geopandas as gpd
import shapely

from grids.topology.inputs import _Communities, _Grids
from grids.topology.report import CheckTolerances, _rows

_MAD_SCALE: Final = 0.6745
"""Φ⁻¹(0.75): makes the MAD of a normal sample estimate its standard deviation."""
_MEAN_AD_SCALE: Final = 1.2533
"""√(π/2): the same for the mean absolute deviation."""


_RECORD_NAMES: Final[dict[str, tuple[str, str, str]]] = {
    "building": ("楼栋", "栋", "building(s)"),
    "facility": ("设施", "处", "facility(ies)"),
    "incident": ("事件", "件", "incident(s)"),
}


def _record_points(records: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each record's point (its point on surface; None when missing) and which have one."""
    geoms = np.asarray(records.geometry.array, dtype=object)
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    points = np.full(len(geoms), None, dtype=object)
    points[present] = shapely.point_on_surface(geoms[present])
    return points, present


def _no_grid(buildings: gpd.GeoDataFrame, g: _Grids, c: _Communities) -> pd.DataFrame:
    points, present = _record_points(buildings)
    grid_tree = shapely.STRtree(g.usable)
    if "kind" in buildings and "grid_id" not in buildings:
        lost = present.copy()  # records_in_no_grid: the database says so
    elif "grid_id" in buildings and g.ids is not None:
        lost = present & buildings["grid_id"].isna().to_numpy()
    else:
        lost = present.copy()
        pi, _ = grid_tree.query(points, predicate="intersects")
        lost[pi] = False
    idx = np.flatnonzero(lost)
    if len(idx) == 0:
        return _rows("no_grid")
    kinds = (
        buildings["kind"].astype(object).to_numpy()[idx]
        if "kind" in buildings
        else np.full(len(idx), "building", dtype=object)
    )
    households = (
        pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy()[idx]
        if "households" in buildings
        else np.zeros(len(idx))
    )
    ids = buildings["id"].to_numpy()[idx] if "id" in buildings else idx + 1
    pts = points[idx]
    # the community each record lies in, and the grid nearest to it
    comm = np.full(len(idx), None, dtype=object)
    pi, ci = shapely.STRtree(c.usable).query(pts, predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    comm[pi[first]] = c.codes[ci[first]]
    nearest = np.full(len(idx), None, dtype=object)
    if len(g.usable) and (~shapely.is_missing(g.usable)).any():
        pi, gi = grid_tree.query_nearest(pts, all_matches=False)
        nearest[pi] = g.labels[gi]
    frame = pd.DataFrame(
        {"community": comm, "kind": kinds, "households": households, "id": ids, "near": nearest}
    )
    rows: list[dict[str, Any]] = []
    for (community, kind), part in frame.groupby(
        [frame["community"].fillna(""), frame["kind"]], sort=True
    ):
        where_idx = part.index.to_numpy()
        cn, unit, en = _RECORD_NAMES.get(str(kind), (str(kind), "个", f"{kind}(s)"))
        n = len(part)
        hh = int(part["households"].sum())
        shown = ", ".join(str(v) for v in part["id"].head(10)) + (", …" if n > 10 else "")
        near = sorted({str(v) for v in part["near"] if v is not None})
        place_cn = f"社区 {c.title(community)} 内" if community else "所有社区之外"
        place_en = f"in community {c.title(community)}" if community else "outside every community"
        hh_cn = f"（{hh} 户）" if hh else ""
        hh_en = f" ({hh} households)" if hh else ""
        near_text = ", ".join(near) or "-"
        rows.append(
            {
                "community_code": community or None,
                "grid_codes": ", ".join(near),
                "value": float(n),
                "message": f"{place_cn}有 {n} {unit}{cn}{hh_cn}不在任何网格内（编号 {shown}），"
                f"最近的网格 {near_text}；请扩展网格覆盖它们，或运行 wangge locate 重新定位。"
                f"{n} {en}{hh_en} {place_en} lie in no grid (ids {shown}); nearest grid(s) "
                f"{near_text}: extend a grid over them, or run `wangge locate` if the grids "
                "already cover them.",
                "geometry": shapely.multipoints(list(pts[where_idx])),
            }
        )
    out = pd.DataFrame(rows)
    out.insert(0, "kind", "no_grid")
    out["area_m2"] = np.nan
    out["sliver"] = False
    return out


def _households_from_points(buildings: gpd.GeoDataFrame, g: _Grids) -> np.ndarray:
    """Households per grid from building points; a point in several grids counts for the first."""
    points, _ = _record_points(buildings)
    weights = pd.to_numeric(buildings["households"], errors="coerce").fillna(0).to_numpy(float)
    pi, gi = shapely.STRtree(g.usable).query(points, predicate="intersects")
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.unique(pi, return_index=True)[1]
    return np.bincount(gi[first], weights[pi[first]], minlength=len(g.labels))


def _band(g: _Grids, c: _Communities, households: np.ndarray, tol: CheckTolerances) -> pd.DataFrame:
    hh = np.asarray(households, dtype=float)
    out = g.base & ~np.isnan(hh) & ((hh < tol.band_min) | (hh > tol.band_max))
    idx = np.flatnonzero(out)
    messages = []
    for i in idx:
        n = int(hh[i])
        low = n < tol.band_min
        band = f"{tol.band_min}–{tol.band_max}"
        messages.append(
            f"网格 {g.labels[i]} 有 {n} 户，{'低于' if low else '高于'} {band} 户的范围；"
            f"请{'与相邻网格合并' if low else '拆分'}或重新划分（wangge grids design）。Grid "
            f"{g.labels[i]} of community {c.title(g.community[i])} holds {n} households, "
            f"{'below' if low else 'above'} the {band} band: "
            f"{'merge it with a neighbour' if low else 'split it'} or redraw the "
            "community's grids (wangge grids design)."
        )
    return _rows(
        "band",
        community_code=g.community[idx],
        grid_codes=g.labels[idx],
        area_m2=np.nan,
        value=hh[idx],
        sliver=False,
        message=messages,
        geometry=g.geoms[idx],
    )


def robust_z(values: npt.ArrayLike) -> np.ndarray:
    """Modified z-scores (Iglewicz and Hoaglin): ``0.6745 (x - median) / MAD``.

    When the MAD is 0 (more than half the values equal) the mean absolute deviation
    scaled by 1.2533 stands in; when that is 0 too, every score is 0.

    Parameters
    ----------
    values
        The sample (e.g. ``log(1 + incidents)``), without NaN.

    Returns
    -------
    numpy.ndarray
        One score per value.
    """
    x = np.asarray(values, dtype=float)
    if len(x) == 0:
        return np.empty(0)
    deviation = x - np.median(x)
    mad = float(np.median(np.abs(deviation)))
    if mad > 0:
        return _MAD_SCALE * deviation / mad
    mean_ad = float(np.mean(np.abs(deviation)))
    if mean_ad > 0:
        return deviation / (_MEAN_AD_SCALE * mean_ad)
    return np.zeros_like(x)


def _outliers(
    g: _Grids, c: _Communities, incidents: pd.Series, tol: CheckTolerances
) -> pd.DataFrame:
    counts = pd.to_numeric(incidents, errors="coerce")
    keys: Iterable[Any]
    if g.ids is not None and counts.index.isin(g.ids).any():
        keys = g.ids
    else:
        keys = [str(v) for v in g.labels]
        counts.index = counts.index.map(str)
    per_grid = counts.groupby(level=0).sum().reindex(list(keys)).to_numpy(float)
    have = np.flatnonzero(~np.isnan(per_grid))
    if len(have) < tol.outlier_min_grids:
        return _rows("outlier")
    x = np.log1p(np.clip(per_grid[have], 0, None))
    z = robust_z(x)
    flagged = np.abs(z) > tol.outlier_z
    idx, z = have[flagged], z[flagged]
    median = float(np.expm1(np.median(x)))
    messages = []
    for i, score in zip(idx, z, strict=True):
        n = int(per_grid[i])
        high = score > 0
        messages.append(
            f"网格 {g.labels[i]} 事件量 {n} 件，{'远高于' if high else '远低于'}各网格中位数 "
            f"{median:.0f} 件（稳健 z = {score:.1f}）；"
            f"{'请核查负荷，考虑拆分网格或增派网格员' if high else '请核查巡查与上报是否正常'}。"
            f"Grid {g.labels[i]} of community {c.title(g.community[i])} had {n} incidents, "
            f"far {'above' if high else 'below'} the median of {median:.0f} (robust z = "
            f"{score:.1f}): "
            + (
                "check the workload; split the grid or add a worker."
                if high
                else "check that it is patrolled and that reports reach the system."
            )
        )
    return _rows(
        "outlier",
        community_code=g.community[idx],
        grid_codes=g.labels[idx],
        area_m2=np.nan,
        value=z,
        sliver=False,
        message=messages,
        geometry=g.geoms[idx],
    )
