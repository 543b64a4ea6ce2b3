"""Whether the grids tile their community: validity, gaps, overlaps, crossings and slivers."""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd

import shapely
from shapely.geometry.base import BaseGeometry

from grids.topology.inputs import _Communities, _Grids
from grids.topology.measuring import _mean_width, _Metric, _Parts, _sliver, polsby_popper
from grids.topology.report import CheckTolerances, _rows

_WHERE: Final = re.compile(r"\[\s*([-+0-9.eE]+)\s+([-+0-9.eE]+)")
"""The location in a GEOS validity reason, ``Self-intersection[120.1 30.3]``."""
_PRECISION_DEG: Final = 1e-8
"""Overlays snap to this grid (degrees, about 1 mm): robust results, and no sub-millimetre
spikes where two boundaries meant to coincide carry different vertices."""
_TOUCH_DEG: Final = 1e-7
"""Distance (degrees, about 1 cm) within which a grid counts as a gap's neighbour."""


def _invalid(g: _Grids, c: _Communities) -> pd.DataFrame:
    blocks = []
    for owner, reasons, geoms in (("grid", g.reasons, g.geoms), ("community", c.reasons, c.geoms)):
        rows = [i for i, r in enumerate(reasons) if r is not None]
        if not rows:
            continue
        where = [_where(reasons[i], geoms[i]) for i in rows]
        if owner == "grid":
            community = [g.community[i] for i in rows]
            labels = [g.labels[i] for i in rows]
            messages = [
                f"网格 {g.labels[i]} 几何无效（{reasons[i]}），请在 GIS 中重绘"
                "（QGIS：检查有效性）；"
                f"系统不会自动修复，因为修复会改变面积。Grid {g.labels[i]} of community "
                f"{c.title(g.community[i])} has invalid geometry ({reasons[i]}): redraw it "
                "in a GIS (QGIS: Vector > Geometry Tools > Check Validity); it is not "
                "repaired automatically because a repair can change its area."
                for i in rows
            ]
        else:
            community = [c.codes[i] for i in rows]
            labels = [""] * len(rows)
            messages = [
                f"社区 {c.title(c.codes[i])} 边界几何无效（{reasons[i]}），请重新导入边界。"
                f"The boundary of community {c.title(c.codes[i])} is invalid ({reasons[i]}): "
                "fix it and import it again (wangge areas import)."
                for i in rows
            ]
        blocks.append(
            _rows(
                "invalid",
                community_code=community,
                grid_codes=labels,
                area_m2=np.nan,
                value=np.nan,
                sliver=False,
                message=messages,
                geometry=where,
            )
        )
    return pd.concat(blocks, ignore_index=True) if blocks else _rows("invalid")


def _where(reason: str | None, geom: BaseGeometry | None) -> BaseGeometry | None:
    """The point a validity reason names, else the geometry itself."""
    match = _WHERE.search(reason or "")
    if match:
        return shapely.Point(float(match.group(1)), float(match.group(2)))
    return None if geom is None or shapely.is_empty(geom) else geom


def _unknown_community(g: _Grids, c: _Communities) -> pd.DataFrame:
    rows = [i for i, code in enumerate(g.community) if code not in c.position]
    messages = []
    for i in rows:
        code = g.community[i]
        if code is None:
            messages.append(
                f"网格 {g.labels[i]} 没有社区编码，请补充 community_code。Grid {g.labels[i]} "
                "has no community code: fill in community_code (12 digits) or import it "
                "with --community."
            )
        else:
            messages.append(
                f"网格 {g.labels[i]} 的社区编码 {code} 不存在。Grid {g.labels[i]} names "
                f"community {code}, which is not among the communities checked: correct "
                "its community_code, or load that community's boundary first "
                "(wangge areas import)."
            )
    return _rows(
        "unknown_community",
        community_code=[g.community[i] for i in rows],
        grid_codes=[g.labels[i] for i in rows],
        area_m2=np.nan,
        value=np.nan,
        sliver=False,
        message=messages,
        geometry=[g.geoms[i] for i in rows],
    )


def _members(g: _Grids, c: _Communities) -> list[np.ndarray]:
    """Positions of the usable grids of each community."""
    pos = np.array([c.position.get(code, -1) if code else -1 for code in g.community], dtype=int)
    ok = pos >= 0
    ok &= ~shapely.is_missing(g.usable)
    order = np.argsort(pos, kind="stable")
    order = order[ok[order]]
    bounds = np.searchsorted(pos[order], np.arange(len(c.codes) + 1))
    return [order[bounds[k] : bounds[k + 1]] for k in range(len(c.codes))]


def _gaps(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    members = _members(g, c)
    covered = np.array(
        [
            shapely.union_all(g.usable[m], grid_size=_PRECISION_DEG) if len(m) else None
            for m in members
        ],
        dtype=object,
    )
    has = ~shapely.is_missing(c.usable)
    gaps = np.full(len(c.codes), None, dtype=object)
    with_grids = has & ~shapely.is_missing(covered)
    gaps[with_grids] = shapely.difference(
        c.usable[with_grids], covered[with_grids], grid_size=_PRECISION_DEG
    )
    gaps[has & ~with_grids] = c.usable[has & ~with_grids]
    parts = _Parts.of(gaps, metric, tol)
    if len(parts.geoms) == 0:
        return _rows("gap")
    # the grids around each gap: within about a centimetre of it, in its community
    tree = shapely.STRtree(g.usable)
    gi, ni = tree.query(parts.geoms, predicate="dwithin", distance=_TOUCH_DEG)
    same = g.community[ni] == c.codes[parts.owner[gi]]
    neighbours: list[list[str]] = [[] for _ in parts.geoms]
    for k, n in zip(gi[same], ni[same], strict=True):
        neighbours[k].append(str(g.labels[n]))
    sliver = _sliver(parts.area, parts.perimeter, tol)
    width = _mean_width(parts.area, parts.perimeter)
    points = shapely.point_on_surface(parts.geoms)
    messages = []
    for k, owner in enumerate(parts.owner):
        title = c.title(c.codes[owner])
        at = _lonlat(points[k])
        around = ", ".join(sorted(set(neighbours[k])))
        if not len(members[owner]):
            messages.append(
                f"社区 {title} 没有任何网格（{_area(parts.area[k])}）。Community {title} has "
                "no grids: draw them (wangge grids design) or import them (wangge grids import)."
            )
            continue
        fix_cn = (
            f"请把相邻网格 {around} 延伸覆盖此处，或新增网格" if around else "请新增网格覆盖此处"
        )
        fix_en = (
            f"extend the neighbouring grid(s) {around} over it, or add a grid"
            if around
            else "add a grid over it"
        )
        thin_cn = thin_en = ""
        if sliver[k]:
            thin_cn = f"（细长缝隙，平均宽 {width[k]:.2f} m，多为相邻边界未对齐：请捕捉对齐）"
            thin_en = (
                f" It is a sliver ({width[k]:.2f} m wide on average): neighbouring "
                "boundaries that do not meet; snap them together."
            )
        messages.append(
            f"社区 {title} 有 {_area(parts.area[k])} 未被任何网格覆盖，位于 {at}；{fix_cn}。"
            f"{thin_cn} Gap: {_area(parts.area[k])} of community {title} near {at} lies in "
            f"no grid: {fix_en}.{thin_en}"
        )
    return _rows(
        "gap",
        community_code=c.codes[parts.owner],
        grid_codes=[", ".join(sorted(set(n))) for n in neighbours],
        area_m2=parts.area,
        value=width,
        sliver=sliver,
        message=messages,
        geometry=parts.geoms,
    )


def _overlaps(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    known = np.array([code in c.position for code in g.community], dtype=bool)
    geoms = g.usable.copy()
    geoms[~known] = None
    tree = shapely.STRtree(geoms)
    a, b = tree.query(geoms, predicate="intersects")
    keep = (a < b) & (g.community[a] == g.community[b])
    a, b = a[keep], b[keep]
    # pairs whose interiors share an area (not just an edge or a corner)
    inner = shapely.relate_pattern(geoms[a], geoms[b], "2********")
    a, b = a[inner], b[inner]
    if len(a) == 0:
        return _rows("overlap")
    parts = _Parts.of(
        shapely.intersection(geoms[a], geoms[b], grid_size=_PRECISION_DEG), metric, tol
    )
    if len(parts.geoms) == 0:
        return _rows("overlap")
    pair, shapes, area, perimeter = parts.grouped()
    a, b = a[pair], b[pair]
    sliver = _sliver(area, perimeter, tol)
    width = _mean_width(area, perimeter)
    points = shapely.point_on_surface(shapes)
    messages = []
    for k in range(len(pair)):
        ga, gb = g.labels[a[k]], g.labels[b[k]]
        at = _lonlat(points[k])
        thin_cn = (
            f"（细长重叠，平均宽 {width[k]:.2f} m：请把共用边界捕捉对齐）" if sliver[k] else ""
        )
        thin_en = (
            f" It is a sliver ({width[k]:.2f} m wide on average): snap the shared boundary."
            if sliver[k]
            else ""
        )
        messages.append(
            f"网格 {ga} 与 {gb} 重叠 {_area(area[k])}，位于 {at}；请确定该区域归属，"
            f"从另一网格中裁去。{thin_cn} Grids {ga} and {gb} of community "
            f"{c.title(g.community[a[k]])} overlap by {_area(area[k])} near {at}: decide "
            f"which grid the area belongs to and cut it from the other.{thin_en}"
        )
    return _rows(
        "overlap",
        community_code=g.community[a],
        grid_codes=[f"{x}, {y}" for x, y in zip(g.labels[a], g.labels[b], strict=True)],
        area_m2=area,
        value=width,
        sliver=sliver,
        message=messages,
        geometry=shapes,
    )


def _crossings(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    pos = np.array([c.position.get(code, -1) if code else -1 for code in g.community], dtype=int)
    ok = (pos >= 0) & ~shapely.is_missing(g.usable)
    ok[ok] &= ~shapely.is_missing(c.usable[pos[ok]])
    idx = np.flatnonzero(ok)
    if len(idx) == 0:
        return _rows("crossing")
    outside = shapely.difference(g.usable[idx], c.usable[pos[idx]], grid_size=_PRECISION_DEG)
    parts = _Parts.of(outside, metric, tol, owner=idx)
    if len(parts.geoms) == 0:
        return _rows("crossing")
    grid, shapes, area, perimeter = parts.grouped()
    sliver = _sliver(area, perimeter, tol)
    width = _mean_width(area, perimeter)
    points = shapely.point_on_surface(shapes)
    messages = []
    for k, i in enumerate(grid):
        title = c.title(g.community[i])
        at = _lonlat(points[k])
        messages.append(
            f"网格 {g.labels[i]} 有 {_area(area[k])} 越出所属社区 {title} 的边界，位于 {at}；"
            f"请沿社区边界裁剪，或改正其社区。Grid {g.labels[i]} reaches {_area(area[k])} "
            f"outside its community {title} near {at}: clip it to the community boundary, "
            "or give it the right community."
        )
    return _rows(
        "crossing",
        community_code=g.community[grid],
        grid_codes=g.labels[grid],
        area_m2=area,
        value=width,
        sliver=sliver,
        message=messages,
        geometry=shapes,
    )


def _slivers(g: _Grids, c: _Communities, metric: _Metric, tol: CheckTolerances) -> pd.DataFrame:
    ok = np.flatnonzero(~shapely.is_missing(g.usable))
    if len(ok) == 0:
        return _rows("sliver")
    parts, index = shapely.get_parts(g.usable[ok], return_index=True)
    owner = ok[index]
    area, perimeter = metric.measure(parts)
    thin = _sliver(area, perimeter, tol)
    if not thin.any():
        return _rows("sliver")
    parts, owner, area, perimeter = parts[thin], owner[thin], area[thin], perimeter[thin]
    score = polsby_popper(area, perimeter)
    width = _mean_width(area, perimeter)
    points = shapely.point_on_surface(parts)
    messages = []
    for k, i in enumerate(owner):
        at = _lonlat(points[k])
        what_cn = "细碎" if area[k] < tol.sliver_area_m2 else "细长"
        what_en = "tiny" if area[k] < tol.sliver_area_m2 else "thin"
        messages.append(
            f"网格 {g.labels[i]} 有{what_cn}图斑 {_area(area[k])}（紧凑度 {score[k]:.3f}，"
            f"平均宽 {width[k]:.1f} m），位于 {at}；请并入相邻网格或删除。Grid {g.labels[i]} "
            f"of community {c.title(g.community[i])} has a {what_en} part of "
            f"{_area(area[k])} (Polsby-Popper {score[k]:.3f}, {width[k]:.1f} m wide on "
            f"average) near {at}: merge it into a neighbouring grid or remove it."
        )
    return _rows(
        "sliver",
        community_code=g.community[owner],
        grid_codes=g.labels[owner],
        area_m2=area,
        value=score,
        sliver=True,
        message=messages,
        geometry=parts,
    )


def _area(area_m2: float) -> str:
    """An area for a message: ``1,234 m²``, one decimal below 100 m²."""
    return f"{area_m2:,.1f} m²" if area_m2 < 100 else f"{area_m2:,.0f} m²"


def _lonlat(point: BaseGeometry | None) -> str:
    """``lon,lat`` of a point to 6 decimals (about 0.1 m), or ``?``."""
    if point is None or shapely.is_empty(point):
        return "?"
    return f"{point.x:.6f},{point.y:.6f}"
