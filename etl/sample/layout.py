"""The plan of the sample district: communities on a lattice, their blocks, grids and estates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pyproj import Transformer

from etl.sample.constants import (
    ARTERIAL_SETBACK_M,
    BRANCH_SETBACK_M,
    CENTRE_LAT,
    CENTRE_LON,
    CENTRE_SLOT,
    COMMUNITIES_PER_SHELTER_ZONE,
    COMMUNITIES_PER_STREET,
    COMMUNITY_SIDE_M,
    ELDER,
    ESTATE_MARGIN_M,
    GRID_MAX,
    GRID_MIN,
    GRID_TARGET,
    HOUSEHOLDS_PER_COMMUNITY,
    HOUSING,
    LANE_CLEAR_M,
    LANE_END_M,
    MARKET,
    METRIC_CRS,
    PARK,
    SCHOOL,
    SERPENTINE,
    SERVICE,
    SPORTS,
    STYLE_P,
    WGS84,
)
from etl.sample.helpers import (
    BoolArray,
    FloatArray,
    IntArray,
    apportion,
    bilinear,
    group_rank,
    rects,
)


@dataclass(frozen=True)
class Layout:
    """Communities (社区) on a jittered lattice, with their streets and shelter zones.

    Community ``k`` sits in lattice cell ``(comm_cj[k], comm_ci[k])``; coordinates are UTM
    51N (EPSG:32651) metres.
    """

    nx: int  # lattice columns of communities, west to east
    ny: int  # lattice rows of communities, south to north (odd)
    n_comm: int  # communities
    n_streets: int  # streets (街道)
    n_zones: int  # shelter responsibility zones (责任区)
    comm_ci: IntArray  # lattice column of each community
    comm_cj: IntArray  # lattice row of each community
    comm_hh: IntArray  # households of each community
    comm_street: IntArray  # street of each community
    comm_zone: IntArray  # shelter zone of each community
    fine: FloatArray  # (3 ny + 1, 3 nx + 1, 2): corners of the estate blocks, metres


@dataclass(frozen=True)
class Blocks:
    """The 3 × 3 blocks of each community (block ``b = 9 * community + slot``) and their use.

    Every block has three regions (0 north, 1 south-west, 2 south-east), each with a
    programme (``HOUSING``, ``SERVICE``, ``PARK`` …); a block is an estate (小区) unless it
    is a school campus.
    """

    row: IntArray  # row of the block in its community, 0 = south
    col: IntArray  # column of the block in its community, 0 = west
    i: IntArray  # fine-lattice column of the block's south-west corner
    j: IntArray  # fine-lattice row of the block's south-west corner
    quad: FloatArray  # (blocks, 4, 2): corners SW, SE, NE, NW, metres
    exists: BoolArray  # (3 ny, 3 nx): the fine-lattice cells that are blocks
    prog: IntArray  # (blocks, 3): programme of each region
    is_estate: BoolArray  # the block is an estate (not a school campus)
    comm_school: IntArray  # per community: its school block, or -1


@dataclass(frozen=True)
class Grids:
    """Grids (网格) as runs of blocks along each community's serpentine."""

    block_grid: IntArray  # grid of each block
    block_hh: IntArray  # households of each block
    comm: IntArray  # community of each grid
    seq: IntArray  # sequence number of each grid in its community (from 1)
    first: IntArray  # first slot of each grid in its community (serpentine order)


@dataclass(frozen=True)
class Estates:
    """Estates (小区) inset from the road centrelines: rings, lanes, building regions, styles."""

    inset: FloatArray  # (blocks, 4): setbacks [west, east, south, north] as uv fractions
    ring: FloatArray  # (blocks, 5, 2): the estate fence, metres
    width: FloatArray  # estate width (west–east), metres
    depth: FloatArray  # estate depth (south–north), metres
    lane_uv: FloatArray  # (blocks, 4): [gate u, spine v, spine west u, spine east u]
    region: FloatArray  # (blocks, 3, 4): building regions [s0, s1, t0, t1], estate metres
    style: IntArray  # style drawn for each block (OLD, MID, NEW), before buildings upgrade it

    def uv(self, b: IntArray, s: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Estate metres (s, t) of blocks ``b`` to block uv coordinates."""
        uw, ue, vs, vn = self.inset[b].T
        u = uw + s / self.width[b] * (1 - uw - ue)
        v = vs + t / self.depth[b] * (1 - vs - vn)
        return u, v


def lay_out_communities(households: int, rng: np.random.Generator) -> Layout:
    """Communities on a jittered lattice, streets and shelter zones as runs of a path."""
    n = max(1, round(households / HOUSEHOLDS_PER_COMMUNITY))
    # lattice nx × ny with ny odd (so the band path below is continuous), near square
    best: tuple[float, int, int] | None = None
    for ny in range(1, 2 * math.isqrt(n) + 4, 2):
        nx = math.ceil(n / ny)
        cost = abs(math.log(nx / ny)) + 0.5 * (nx * ny - n) / n
        if best is None or cost < best[0]:
            best = (cost, nx, ny)
    assert best is not None
    _, nx, ny = best
    # a Hamiltonian path through the cells: bands of 3 columns, rows serpentine
    ci, cj = (m.ravel() for m in np.meshgrid(np.arange(nx), np.arange(ny)))
    band = ci // 3
    width = np.minimum(3, nx - 3 * band)
    r = np.where(band % 2 == 0, cj, ny - 1 - cj)
    c = ci - 3 * band
    serp = np.where(r % 2 == 0, c, width - 1 - c)
    order = np.lexsort((serp, r, band))[:n]

    # community household counts and the streets / shelter zones along the path
    if n == 1:
        comm_hh = np.array([households], dtype=np.int64)
    else:
        comm_hh = apportion(households, rng.uniform(0.65, 1.35, n))
    n_streets = max(1, round(n / COMMUNITIES_PER_STREET))
    street = np.arange(n) * n_streets // n
    zone = np.empty(n, dtype=np.int64)
    zones = 0
    for s in range(n_streets):
        members = np.flatnonzero(street == s)
        k = max(1, round(len(members) / COMMUNITIES_PER_SHELTER_ZONE))
        zone[members] = zones + np.arange(len(members)) * k // len(members)
        zones += k

    # jittered community corners (UTM), then the fine lattice of estate blocks
    centre = np.array(
        Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True).transform(CENTRE_LON, CENTRE_LAT)
    )
    jitter = np.clip(rng.normal(0, 15, (ny + 1, nx + 1, 2)), -30, 30)
    gi, gj = np.meshgrid(np.arange(nx + 1), np.arange(ny + 1))
    corners = np.stack([gi, gj], axis=-1) * COMMUNITY_SIDE_M + jitter
    corners += centre - np.array([nx, ny]) * COMMUNITY_SIDE_M / 2
    fi = np.arange(3 * nx + 1)
    fj = np.arange(3 * ny + 1)
    i = np.minimum(fi // 3, nx - 1)
    j = np.minimum(fj // 3, ny - 1)
    fu = (fi - 3 * i) / 3
    fv = (fj - 3 * j) / 3
    quads = np.stack(
        [
            corners[j][:, i],
            corners[j][:, i + 1],
            corners[j + 1][:, i + 1],
            corners[j + 1][:, i],
        ],
        axis=-2,
    )
    fine = bilinear(quads, fu[None, :], fv[:, None])
    inner = ((fj % 3 != 0)[:, None] & (fi % 3 != 0)[None, :])[..., None]
    fine = fine + inner * np.clip(rng.normal(0, 5, fine.shape), -8, 8)
    return Layout(
        nx=nx,
        ny=ny,
        n_comm=n,
        n_streets=n_streets,
        n_zones=zones,
        comm_ci=ci[order],
        comm_cj=cj[order],
        comm_hh=comm_hh,
        comm_street=street,
        comm_zone=zone,
        fine=fine,
    )


def lay_out_blocks(layout: Layout, rng: np.random.Generator) -> Blocks:
    """The 3 × 3 blocks of each community and their programmes (housing, school, park …)."""
    n, nx, ny, fine = layout.n_comm, layout.nx, layout.ny, layout.fine
    # blocks: 9 per community in serpentine order, block b = 9 * community + slot
    serp_rc = np.array(SERPENTINE)
    comm = np.repeat(np.arange(n), 9)
    slot = np.tile(np.arange(9), n)
    lr, lc = serp_rc[slot, 0], serp_rc[slot, 1]
    bj = 3 * layout.comm_cj[comm] + lr
    bi = 3 * layout.comm_ci[comm] + lc
    quad = np.stack(
        [fine[bj, bi], fine[bj, bi + 1], fine[bj + 1, bi + 1], fine[bj + 1, bi]], axis=1
    )
    exists = np.zeros((3 * ny, 3 * nx), dtype=bool)
    exists[bj, bi] = True

    # programmes: a service block in the centre, a school per shelter zone, some
    # elder-care homes and markets; region 0 = north, 1 = south-west, 2 = south-east
    zone, zones = layout.comm_zone, layout.n_zones
    prog = np.zeros((9 * n, 3), dtype=np.int64)
    centre_b = np.arange(n) * 9 + CENTRE_SLOT
    prog[centre_b, 1], prog[centre_b, 2] = SERVICE, PARK
    others = np.array([s for s in range(9) if s != CENTRE_SLOT])
    pick = rng.permuted(np.tile(others, (n, 1)), axis=1)
    school_comm = np.array([rng.choice(np.flatnonzero(zone == z)) for z in range(zones)])
    school_b = school_comm * 9 + pick[school_comm, 0]
    prog[school_b] = (SCHOOL, SPORTS, SPORTS)
    elder = rng.random(n) < 0.42
    elder_b = np.arange(n)[elder] * 9 + pick[elder, 1]
    prog[elder_b, 2] = ELDER
    market = rng.random(n) < 0.35
    market_b = np.arange(n)[market] * 9 + pick[market, 2]
    prog[market_b, 1] = MARKET
    comm_school = np.full(n, -1)
    comm_school[school_comm] = school_b
    return Blocks(
        row=lr,
        col=lc,
        i=bi,
        j=bj,
        quad=quad,
        exists=exists,
        prog=prog,
        is_estate=prog[:, 0] != SCHOOL,
        comm_school=comm_school,
    )


def cut_grids(layout: Layout, blocks: Blocks, rng: np.random.Generator) -> Grids:
    """Cut each community's serpentine of blocks into grids of 300–500 households."""
    n = layout.n_comm
    blk_grid = np.full(9 * n, -1, dtype=np.int64)
    blk_hh = np.zeros(9 * n, dtype=np.int64)
    grid_comm: list[int] = []
    grid_first: list[int] = []
    housing_w = 2.0 * (blocks.prog[:, 0] == HOUSING) + (blocks.prog[:, 1:] == HOUSING).sum(1)
    for k in range(n):
        size = int(layout.comm_hh[k])
        lo, hi = math.ceil(size / GRID_MAX), max(1, size // GRID_MIN)
        g = int(np.clip(round(size / GRID_TARGET), lo, hi)) if lo <= hi else hi
        school = blocks.comm_school[k] - 9 * k if blocks.comm_school[k] >= 0 else -1
        res = [s for s in range(9) if s != school]
        g = max(1, min(g, len(res)))
        totals = apportion(size, rng.uniform(0.85, 1.15, g))
        if totals.min() < min(GRID_MIN, size) or totals.max() > GRID_MAX:
            totals = apportion(size, np.ones(g))
        lengths = rng.permutation(apportion(len(res), np.ones(g)))
        run = np.repeat(np.arange(g), lengths)
        gid0 = len(grid_comm)
        for s, run_s in zip(res, run, strict=True):
            blk_grid[9 * k + s] = gid0 + run_s
        if school >= 0:  # the school block joins the grid of a serpentine neighbour
            blk_grid[9 * k + school] = blk_grid[9 * k + (school - 1 if school else 1)]
        for r in range(g):
            members = 9 * k + np.array([s for s, rr in zip(res, run, strict=True) if rr == r])
            w = housing_w[members] * rng.uniform(0.7, 1.3, len(members))
            blk_hh[members] = apportion(int(totals[r]), w)
            grid_comm.append(k)
            grid_first.append(int(members.min() - 9 * k))
    comm = np.array(grid_comm)

    # sequence numbers: by centroid row (north first), then column (west first)
    ng = len(grid_comm)
    cnt = np.bincount(blk_grid, minlength=ng)
    row_n = np.bincount(blk_grid, weights=2 - blocks.row, minlength=ng) / cnt
    col = np.bincount(blk_grid, weights=blocks.col, minlength=ng) / cnt
    order = np.lexsort((np.array(grid_first), col, np.floor(row_n + 0.5), comm))
    seq = np.empty(ng, dtype=np.int64)
    seq[order] = group_rank(comm[order]) + 1
    return Grids(
        block_grid=blk_grid,
        block_hh=blk_hh,
        comm=comm,
        seq=seq,
        first=np.array(grid_first),  # the run order (serpentine) of grids, for backups
    )


def inset_estates(blocks: Blocks, rng: np.random.Generator) -> Estates:
    """Estates inset from road centrelines, their lanes and building regions."""
    q = blocks.quad
    lr, lc = blocks.row, blocks.col
    len_s = np.linalg.norm(q[:, 1] - q[:, 0], axis=1)
    len_n = np.linalg.norm(q[:, 2] - q[:, 3], axis=1)
    len_w = np.linalg.norm(q[:, 3] - q[:, 0], axis=1)
    len_e = np.linalg.norm(q[:, 2] - q[:, 1], axis=1)
    lu, lv = (len_s + len_n) / 2, (len_w + len_e) / 2

    def setback(on_arterial: BoolArray) -> FloatArray:
        return np.where(on_arterial, ARTERIAL_SETBACK_M, BRANCH_SETBACK_M)

    uw = setback(lc == 0) / lu
    ue = setback(lc == 2) / lu
    vs = setback(lr == 0) / lv
    vn = setback(lr == 2) / lv
    width = lu * (1 - uw - ue)  # estate width and depth in metres
    depth = lv * (1 - vs - vn)

    # lanes: a gate on the south road, up to the centre, a spine west–east
    ug = uw + 0.5 * (1 - uw - ue)
    vm = vs + 0.5 * (1 - vs - vn)
    ua = uw + LANE_END_M / lu
    ub = 1 - ue - LANE_END_M / lu

    # building regions in estate metres (s from west, t from south)
    m, c = ESTATE_MARGIN_M, LANE_CLEAR_M
    zero = np.zeros_like(width)
    reg = np.stack(
        [
            np.stack([zero + m, width - m, depth / 2 + c, depth - m], axis=1),
            np.stack([zero + m, width / 2 - c, zero + m, depth / 2 - c], axis=1),
            np.stack([width / 2 + c, width - m, zero + m, depth / 2 - c], axis=1),
        ],
        axis=1,
    )

    # estate style
    n_blk = len(q)
    style = rng.choice(3, n_blk, p=STYLE_P)
    return Estates(
        inset=np.stack([uw, ue, vs, vn], axis=1),
        ring=rects(q, uw, 1 - ue, vs, 1 - vn),
        width=width,
        depth=depth,
        lane_uv=np.stack([ug, vm, ua, ub], axis=1),
        region=reg,
        style=style,
    )
