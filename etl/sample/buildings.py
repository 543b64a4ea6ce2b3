"""Residential, public and commercial buildings of the sample district's estates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from etl.sample.constants import (
    ELDER,
    HOUSING,
    MARKET,
    NEW,
    OLD,
    POINTS_LAYOUT,
    ROWS_LAYOUT,
    SERVICE,
)
from etl.sample.helpers import BoolArray, FloatArray, IntArray, StrArray, group_rank, rects
from etl.sample.layout import Blocks, Estates, Grids


@dataclass(frozen=True)
class Buildings:
    """Buildings (楼栋) in block uv coordinates, ordered by block and from the north-west."""

    blk: IntArray  # block of each building
    uv: FloatArray  # (buildings, 4): footprint [u0, u1, v0, v1] in its block's uv
    ring: FloatArray  # (buildings, 5, 2): footprint ring, metres
    use: StrArray  # residential, mixed, public or commercial
    floors: IntArray
    units: IntArray  # 单元 (staircases)
    per_floor: IntArray  # dwellings per floor per unit (0 for non-residential buildings)
    mixed: BoolArray  # shops on the ground floor, dwellings above
    number: IntArray  # number of the building in its estate (幢), from 1
    estate_style: IntArray  # style of each block (OLD, MID, NEW) after upgrades


def place_buildings(
    blocks: Blocks, grids: Grids, estates: Estates, rng: np.random.Generator
) -> Buildings:
    """Residential buildings in slot rows sized to hold each estate's households."""
    prog, reg = blocks.prog, estates.region
    n_blk = len(prog)
    hh = grids.block_hh
    occ = rng.uniform(0.75, 0.95, n_blk)
    need = np.ceil(hh / occ).astype(np.int64)

    def slots(layout: tuple[float, float, float, float]) -> dict[str, np.ndarray]:
        sw, sd, gx, gy = layout
        blk, rg = np.nonzero(prog == HOUSING)
        s0, s1, t0, t1 = reg[blk, rg].T
        nc = np.maximum(0, np.floor((s1 - s0 + gx) / (sw + gx))).astype(np.int64)
        nr = np.maximum(0, np.floor((t1 - t0 + gy) / (sd + gy))).astype(np.int64)
        count = nc * nr
        idx = np.repeat(np.arange(len(blk)), count)
        k = np.arange(len(idx)) - np.repeat(np.cumsum(count) - count, count)
        col, row = k % nc[idx], k // nc[idx]
        off_s = (s1 - s0 - (nc * sw + (nc - 1) * gx)) / 2
        off_t = (t1 - t0 - (nr * sd + (nr - 1) * gy)) / 2
        sc = s0[idx] + off_s[idx] + col * (sw + gx) + sw / 2
        tc = t0[idx] + off_t[idx] + row * (sd + gy) + sd / 2
        return {"blk": blk[idx], "sc": sc, "tc": tc}

    rows, points = slots(ROWS_LAYOUT), slots(POINTS_LAYOUT)
    nr_, np_ = len(rows["blk"]), len(points["blk"])
    # parameters per slot for each style: slab (old), mid-rise (mid), tower (new)
    slab = {
        "floors": rng.integers(5, 8, nr_),
        "units": rng.integers(2, 4, nr_),
        "per_floor": np.full(nr_, 2),
    }
    midrise = {
        "floors": rng.integers(11, 19, nr_),
        "units": np.full(nr_, 2),
        "per_floor": np.full(nr_, 2),
    }
    tower = {
        "floors": rng.integers(18, 34, np_),
        "units": rng.integers(1, 3, np_),
        "per_floor": rng.integers(2, 5, np_),
    }
    mixed_rows = rng.random(nr_) < 0.08
    mixed_points = rng.random(np_) < 0.05

    def cap(p: dict[str, np.ndarray], mixed: np.ndarray) -> np.ndarray:
        return (p["floors"] - mixed) * p["units"] * p["per_floor"]

    caps = np.stack(
        [
            np.bincount(rows["blk"], cap(slab, mixed_rows), minlength=n_blk),
            np.bincount(rows["blk"], cap(midrise, mixed_rows), minlength=n_blk),
            np.bincount(points["blk"], cap(tower, mixed_points), minlength=n_blk),
        ],
        axis=1,
    )
    style = estates.style.copy()
    for _ in range(2):  # upgrade estates that cannot hold their households
        short = caps[np.arange(n_blk), style] < need
        style[short & (style < NEW)] += 1
    short = caps[np.arange(n_blk), style] < need
    if short.any():  # the densest towers the estate's slots allow
        force = short[points["blk"]]
        tower["floors"][force], tower["units"][force], tower["per_floor"][force] = 33, 2, 4
        mixed_points[force] = False
        caps[:, NEW] = np.bincount(points["blk"], cap(tower, mixed_points), minlength=n_blk)
        if (caps[short, NEW] < need[short]).any():
            raise RuntimeError("an estate is too small for its households")

    # candidate buildings of each estate's style, in random order, until full
    use_rows = style[rows["blk"]] != NEW
    use_points = style[points["blk"]] == NEW
    row_params = {k: np.where(style[rows["blk"]] == OLD, slab[k], midrise[k]) for k in slab}
    kind_rows = np.where(style[rows["blk"]] == OLD, 0, 1)
    cand = {
        "blk": np.r_[rows["blk"][use_rows], points["blk"][use_points]],
        "sc": np.r_[rows["sc"][use_rows], points["sc"][use_points]],
        "tc": np.r_[rows["tc"][use_rows], points["tc"][use_points]],
        "floors": np.r_[row_params["floors"][use_rows], tower["floors"][use_points]],
        "units": np.r_[row_params["units"][use_rows], tower["units"][use_points]],
        "per_floor": np.r_[row_params["per_floor"][use_rows], tower["per_floor"][use_points]],
        "mixed": np.r_[mixed_rows[use_rows], mixed_points[use_points]],
        "kind": np.r_[kind_rows[use_rows], np.full(use_points.sum(), 2)],
    }
    order = np.lexsort((rng.random(len(cand["blk"])), cand["blk"]))
    cand = {k: v[order] for k, v in cand.items()}
    capacity = (cand["floors"] - cand["mixed"]) * cand["units"] * cand["per_floor"]
    cum = np.cumsum(capacity)
    start = np.r_[True, cand["blk"][1:] != cand["blk"][:-1]]
    base = np.maximum.accumulate(np.where(start, cum - capacity, 0))
    before = cum - capacity - base
    used = before < need[cand["blk"]]
    spare = ~used & (rng.random(len(used)) < 0.12)
    res = {k: v[used] for k, v in cand.items()}

    # footprints (metres): slab units × 18 + 6 by 12, mid-rise 40 × 15,
    # towers 25 × 25 (one unit) or 36 × 22 (two units)
    bw = np.select(
        [res["kind"] == 0, res["kind"] == 1, res["units"] == 1],
        [res["units"] * 18.0 + 6, 40.0, 25.0],
        36.0,
    )
    bd = np.select([res["kind"] == 0, res["kind"] == 1, res["units"] == 1], [12.0, 15, 25], 22)
    use = np.where(res["mixed"], "mixed", "residential")

    # spare slots: the odd kindergarten / property office (public) or shop row
    sp = {k: v[spare] for k, v in cand.items()}
    sp_public = rng.random(len(sp["blk"])) < 0.5
    sp_w = np.where(sp_public, 30.0, 24.0)
    sp_d = np.where(sp_public, 14.0, 10.0)

    # buildings of the other programmes (public and commercial)
    blk_o, rg_o = np.nonzero((prog == SERVICE) | (prog == ELDER) | (prog == MARKET))
    p_o = prog[blk_o, rg_o]
    s0, s1, _, t1 = reg[blk_o, rg_o].T
    ow = np.select([p_o == SERVICE, p_o == ELDER], [40.0, 45.0], 40.0)
    od = np.select([p_o == SERVICE, p_o == ELDER], [15.0, 15.0], 20.0)
    osc = (s0 + s1) / 2
    otc = t1 - 2 - od / 2

    blk = np.r_[res["blk"], sp["blk"], blk_o]
    sc = np.r_[res["sc"], sp["sc"], osc]
    tc = np.r_[res["tc"], sp["tc"], otc]
    w = np.r_[bw, sp_w, ow]
    d = np.r_[bd, sp_d, od]
    use = np.r_[
        use,
        np.where(sp_public, "public", "commercial"),
        np.where(p_o == MARKET, "commercial", "public"),
    ]
    floors = np.r_[
        res["floors"],
        np.where(sp_public, rng.integers(2, 4, len(sp_w)), rng.integers(1, 3, len(sp_w))),
        np.where(p_o == ELDER, rng.integers(3, 5, len(p_o)), rng.integers(2, 4, len(p_o))),
    ]
    units = np.r_[res["units"], np.ones(len(sp_w) + len(p_o), dtype=np.int64)]
    per_floor = np.r_[res["per_floor"], np.zeros(len(sp_w) + len(p_o), dtype=np.int64)]
    mixed = np.r_[res["mixed"], np.zeros(len(sp_w) + len(p_o), dtype=bool)]

    # number buildings within each estate from the north-west, and give ids
    order = np.lexsort((sc, -np.round(tc, 3), blk))
    cols = [blk, sc, tc, w, d, use, floors, units, per_floor, mixed]
    blk, sc, tc, w, d, use, floors, units, per_floor, mixed = (x[order] for x in cols)
    u0, v0 = estates.uv(blk, sc - w / 2, tc - d / 2)
    u1, v1 = estates.uv(blk, sc + w / 2, tc + d / 2)
    return Buildings(
        blk=blk,
        uv=np.stack([u0, u1, v0, v1], axis=1),
        ring=rects(blocks.quad[blk], u0, u1, v0, v1),
        use=use,
        floors=floors.astype(np.int64),
        units=units.astype(np.int64),
        per_floor=per_floor.astype(np.int64),
        mixed=mixed,
        number=group_rank(blk) + 1,
        estate_style=style,
    )
