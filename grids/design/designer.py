"""The designer: a community's grids from its roads and buildings, the five steps in order.

Method
------
5. **Grids.**  The union of each part's faces, in EPSG:4326, in reading order (north to
   south, west to east, :func:`grids.codes.reading_order`), so that codes generated later
   (:func:`grids.codes.generate_codes`) follow the rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from gis.coords import local_metric_crs_for
from grids.codes import reading_order
from grids.design.blocks import DEFAULT_MINOR_CLASSES, _Bricks, _bricks, _community_geometry
from grids.design.cuts import _gap_cuts, _piece_households
from grids.design.grouping import DesignWeights, _canonical, _graph, _partition
from grids.design.metrics import (
    DEFAULT_MAX_HOUSEHOLDS,
    DEFAULT_MIN_HOUSEHOLDS,
    Design,
    DesignError,
    measure,
    polsby_popper,
)


def design_grids(
    community: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame,
    roads: gpd.GeoDataFrame | None,
    buildings: gpd.GeoDataFrame,
    *,
    min_households: int = DEFAULT_MIN_HOUSEHOLDS,
    max_households: int = DEFAULT_MAX_HOUSEHOLDS,
    target_count: int | None = None,
    extend_dangles_m: float = 40.0,
    sliver_area_m2: float = 200.0,
    sliver_width_m: float = 6.0,
    minor_classes: Sequence[str] = DEFAULT_MINOR_CLASSES,
    split_blocks: bool = True,
    min_gap_m: float = 2.0,
    weights: DesignWeights | None = None,
    starts: int = 8,
    rounds: int = 80,
) -> Design:
    """Split a community into contiguous, compact grids of balanced households along roads.

    Parameters
    ----------
    community
        The community's Polygon or MultiPolygon, EPSG:4326 (or a GeoSeries/GeoDataFrame
        whose shapes are unioned).
    roads
        Road centrelines (LineString/MultiLineString) meeting the community, EPSG:4326
        or any CRS that has it; an optional ``road_class`` column marks the minor ones.
        None: the community is one street block.
    buildings
        Buildings (footprints, or points) with a ``households`` column.  Footprints are
        placed by their point on surface and are never crossed by a cut along a gap.
    min_households, max_households
        The band every grid should fall in (户).
    target_count
        Number of grids wanted; default: the best count between
        ``ceil(total / max_households)`` and ``floor(total / min_households)``.
    extend_dangles_m
        Dangling road ends inside the community are extended up to this far (metres)
        to the line they point at; 0 to switch off.
    sliver_area_m2, sliver_width_m
        Faces smaller (m²) or thinner (mean width ``2A/P``, m) are merged into a
        neighbour.
    minor_classes
        ``road_class`` values of lanes: they may cut a street block, at a cost.
    split_blocks
        When street blocks alone leave grids outside the band, cut blocks along gaps
        between buildings (step 2 of the method); False: grid boundaries on roads only.
    min_gap_m
        Narrowest gap between two buildings a cut may run through (metres).
    weights
        Objective weights, see :class:`DesignWeights`.
    starts
        Number of region-growing starts per grid count.
    rounds
        Rounds of iterated local search per grid count.

    Returns
    -------
    Design
        Grids in reading order with their metrics.

    Raises
    ------
    DesignError
        If the community has no households, or ``target_count`` cannot be met (fewer
        bricks than grids, or fewer grids than bricks heavier than the band).
    """
    if not 0 < min_households <= max_households:
        raise DesignError(
            f"the band {min_households}–{max_households} is empty: "
            "give 0 < --min <= --max households"
        )
    weights = weights or DesignWeights()
    geom = _community_geometry(community)
    crs = local_metric_crs_for(geom)

    def bricks_cut_by(cuts: np.ndarray | None) -> _Bricks:
        return _bricks(
            geom,
            roads,
            buildings,
            crs=crs,
            extend_dangles_m=extend_dangles_m,
            sliver_area_m2=sliver_area_m2,
            sliver_width_m=sliver_width_m,
            minor_classes=minor_classes,
            cuts=cuts,
        )

    def designed(bricks: _Bricks, notes: list[str]) -> Design:
        return _design_bricks(
            bricks,
            crs,
            min_households,
            max_households,
            target_count,
            weights,
            starts,
            rounds,
            notes,
        )

    blocks = bricks_cut_by(None)
    if float(blocks.weight.sum()) <= 0:
        raise DesignError("the community has no households in its buildings: load households first")
    design = designed(blocks, [])
    if not split_blocks:
        return design
    piece = _piece_households(min_households, max_households)
    # first the blocks above the band, then every block heavier than a piece
    for above in (max_households, piece):
        if design.metrics.share_in_band >= 1.0:
            break
        targets = np.flatnonzero(blocks.weight > above)
        cuts = _gap_cuts(blocks, targets, piece, crs, min_gap_m)
        if len(cuts) == 0:
            continue
        cut = bricks_cut_by(cuts)
        note = (
            f"{len(targets)} street block(s) above {above:.0f} households were cut between "
            f"their buildings ({len(cut.weight) - len(blocks.weight)} more blocks)"
        )
        candidate = designed(cut, [note])
        if candidate.metrics.quality() < design.metrics.quality():
            design = candidate
    return design


def _design_bricks(
    bricks: _Bricks,
    crs: CRS,
    min_households: int,
    max_households: int,
    target_count: int | None,
    weights: DesignWeights,
    starts: int,
    rounds: int,
    notes: list[str],
) -> Design:
    """Partition the bricks into grids (step 4 of the method) and assemble them (step 5)."""
    nb = len(bricks.weight)
    notes = list(notes)
    if bricks.unplaced_buildings:
        notes.append(
            f"{bricks.unplaced_buildings} building(s) with {bricks.unplaced_households} "
            "households lie outside the community and were left out"
        )
    heavy = np.flatnonzero(bricks.weight > max_households)
    for b in heavy:
        notes.append(
            f"block {int(b)} alone holds {int(bricks.weight[b])} households (> {max_households}):"
            " it is a grid of its own"
        )

    # connected components of the bricks that are not heavy
    rest = np.setdiff1d(np.arange(nb), heavy)
    ei, ej, _, _ = bricks.edges
    keep = np.isin(ei, rest) & np.isin(ej, rest)
    adj = csr_matrix((np.ones(int(keep.sum())), (ei[keep], ej[keep])), shape=(nb, nb))
    _, comp = connected_components(adj, directed=False)
    comps = [rest[comp[rest] == c] for c in np.unique(comp[rest])]
    comps.sort(key=lambda nodes: int(nodes.min()))
    comp_w = np.array([bricks.weight[c].sum() for c in comps])
    # a part lighter than the band that touches a heavy block joins it (below), unless
    # a count of grids is asked for: then every part with households has its own
    touches = np.zeros(nb, dtype=bool)
    if target_count is None:
        touches[ei[np.isin(ej, heavy)]] = True
        touches[ej[np.isin(ei, heavy)]] = True
    live = [
        i
        for i, w in enumerate(comp_w)
        if w >= min_households or (w > 0 and not touches[comps[i]].any())
    ]

    counts = _allocate(
        comps, comp_w, live, len(heavy), target_count, min_households, max_households
    )

    grid_of = np.full(nb, -1)
    next_grid = 0
    for b in heavy:
        grid_of[b] = next_grid
        next_grid += 1
    for ci in live:
        nodes = comps[ci]
        g = _graph(bricks, nodes)
        ks = counts[ci]
        best: tuple[tuple[float, float, float], np.ndarray] | None = None
        for k in ks:
            labels, score = _partition(
                g, k, min_households, max_households, weights, starts, rounds
            )
            h = np.bincount(labels, weights=g.w, minlength=k)
            out = ((h < min_households) | (h > max_households)).sum()
            band = (
                (np.maximum(min_households - h, 0) + np.maximum(h - max_households, 0)) ** 2
            ).sum()
            key = (float(out), float(band), score / k)
            if best is None or key < best[0]:
                best = (key, _canonical(labels))
        assert best is not None
        grid_of[nodes] = best[1] + next_grid
        next_grid += int(best[1].max()) + 1

    # parts without households, or too light to be a grid and cut off by heavy blocks,
    # join the grid they share the longest edge with
    for ci, nodes in enumerate(comps):
        if ci in live:
            continue
        target = _longest_neighbour(bricks, nodes, grid_of)
        if target < 0:
            grid_of[nodes] = next_grid
            next_grid += 1
            notes.append(f"{len(nodes)} block(s) without households form a grid of their own")
        else:
            grid_of[nodes] = target
            notes.append(
                f"{len(nodes)} block(s) with {int(comp_w[ci])} households, cut off by heavy "
                "blocks, joined a neighbouring grid"
            )

    return _assemble(bricks, grid_of, heavy, min_households, max_households, crs, notes)


def _allocate(
    comps: list[np.ndarray],
    comp_w: np.ndarray,
    live: list[int],
    n_heavy: int,
    target: int | None,
    lo: int,
    hi: int,
) -> dict[int, list[int]]:
    """Grid counts to try for each component with households."""
    out: dict[int, list[int]] = {}
    if target is None:
        for ci in live:
            w, n = float(comp_w[ci]), len(comps[ci])
            k_lo, k_hi = max(1, math.ceil(w / hi)), max(1, math.floor(w / lo))
            ks = list(range(k_lo, k_hi + 1)) if k_lo <= k_hi else sorted({k_hi, k_lo})
            ks = [k for k in ks if k <= n][:4] or [min(k_lo, n)]
            out[ci] = ks
        return out
    left = target - n_heavy
    if left < len(live):
        raise DesignError(
            f"{target} grid(s) asked, but {n_heavy} block(s) above {hi} households must be "
            f"grids of their own and {len(live)} separate part(s) need one each: "
            f"ask for at least {n_heavy + len(live)}"
        )
    sizes = np.array([len(comps[ci]) for ci in live])
    if left > sizes.sum():
        raise DesignError(
            f"{target} grid(s) asked, but the community has only {int(sizes.sum()) + n_heavy} "
            "street blocks: ask for fewer grids"
        )
    # largest remainder by households, at least one each, at most one per brick
    share = comp_w[live] / comp_w[live].sum() * left
    k = np.maximum(1, np.floor(share).astype(np.int64))
    k = np.minimum(k, sizes)
    while k.sum() < left:
        room = np.where(k < sizes, share - k, -np.inf)
        k[int(np.argmax(room))] += 1
    while k.sum() > left:
        room = np.where(k > 1, k - share, -np.inf)
        k[int(np.argmax(room))] -= 1
    for ci, kk in zip(live, k, strict=True):
        out[ci] = [int(kk)]
    return out


def _longest_neighbour(bricks: _Bricks, nodes: np.ndarray, grid_of: np.ndarray) -> int:
    """The grid sharing the longest edge with ``nodes``, or -1."""
    ei, ej, elen, _ = bricks.edges
    inside = np.isin(ei, nodes) ^ np.isin(ej, nodes)
    other = np.where(np.isin(ei, nodes), ej, ei)[inside]
    lens = elen[inside]
    grids = grid_of[other]
    ok = grids >= 0
    if not ok.any():
        return -1
    total = np.bincount(grids[ok], weights=lens[ok])
    return int(np.argmax(total))


def _assemble(
    bricks: _Bricks,
    grid_of: np.ndarray,
    heavy: np.ndarray,
    lo: int,
    hi: int,
    crs: CRS,
    notes: list[str],
) -> Design:
    """Union the faces of each grid, order the grids for reading, measure them."""
    n = int(grid_of.max()) + 1
    face_grid = np.empty(len(bricks.faces), dtype=np.int64)
    for b, members in enumerate(bricks.members):
        face_grid[members] = grid_of[b]
    geoms = np.empty(n, dtype=object)
    for gi in range(n):
        parts = bricks.faces[face_grid == gi]
        merged = shapely.coverage_union_all(parts) if len(parts) > 1 else parts[0]
        if not merged.is_valid:
            merged = shapely.union_all(parts)
        geoms[gi] = merged
    order = reading_order(geoms)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    hh = np.bincount(grid_of, weights=bricks.weight, minlength=n)
    n_bld = np.bincount(grid_of, weights=bricks.frame["buildings"].to_numpy(), minlength=n)
    n_blocks = np.bincount(grid_of, minlength=n)
    is_heavy = np.zeros(n, dtype=bool)
    is_heavy[grid_of[heavy]] = True
    pp = polsby_popper(geoms, crs)
    area = np.asarray(gpd.GeoSeries(geoms, crs=4326).to_crs(crs).area)
    grids = gpd.GeoDataFrame(
        {
            "households": hh.round().astype(np.int64),
            "buildings": n_bld.astype(np.int64),
            "blocks": n_blocks,
            "area_m2": area,
            "polsby_popper": pp,
            "in_band": (hh >= lo) & (hh <= hi),
            "heavy": is_heavy,
        },
        geometry=geoms,
        crs=4326,
    ).iloc[order]
    grids = grids.reset_index(drop=True)
    blocks = bricks.frame.copy()
    blocks["grid"] = rank[grid_of]
    metrics = measure(
        np.asarray(grids.geometry.array, dtype=object),
        grids["households"].to_numpy(),
        min_households=lo,
        max_households=hi,
        crs=crs,
    )
    return Design(grids, blocks, metrics, [int(b) for b in heavy], notes)
