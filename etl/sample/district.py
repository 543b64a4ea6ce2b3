"""The sample district's builder: its stages share arrays in one working state."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

import geopandas as gpd
import shapely
from pyproj import Geod, Transformer

from etl.sample.constants import (
    ARTERIAL_SETBACK_M,
    BRANCH_REAL,
    BRANCH_SETBACK_M,
    CATEGORY_MIX,
    CENTRE_LAT,
    CENTRE_LON,
    CENTRE_SLOT,
    CHILD1,
    CHILD2,
    CHILD3,
    COMMUNITIES_PER_SHELTER_ZONE,
    COMMUNITIES_PER_STREET,
    COMMUNITY_SIDE_M,
    DAY,
    DAY_W,
    DESCRIPTIONS,
    DISTRICT_CODE,
    DISTRICT_NAME,
    ELDER,
    ELDER1,
    ELDER2,
    ELDER_BINS,
    ESTATE_BRANDS,
    ESTATE_MARGIN_M,
    ESTATE_MID_SUFFIX,
    ESTATE_NEW_NAMES,
    ESTATE_OLD_SUFFIX,
    ESTATE_PHASES,
    EW_ARTERIALS,
    GRID_MAX,
    GRID_MIN,
    GRID_TARGET,
    HOLIDAYS,
    HOTSPOT_LABEL,
    HOTSPOT_MIX,
    HOTSPOT_SHARE,
    HOUR,
    HOUR_W,
    HOUSEHOLD_TYPE_P,
    HOUSEHOLD_TYPES,
    HOUSEHOLDS_PER_COMMUNITY,
    HOUSING,
    LANE_CLEAR_M,
    LANE_END_M,
    LAYERS,
    LOW_INCOME_HH_P,
    MARKET,
    METRIC_CRS,
    MID,
    MINUTE,
    NEW,
    NS_ARTERIALS,
    OLD,
    PARK,
    PATH,
    PLACE_A,
    PLACE_B,
    POINTS_LAYOUT,
    RATING_P,
    RATING_P_BAD,
    REAL_STREETS,
    REJECT_NOTES,
    RESOLVE_NOTES,
    RETURN_NOTES,
    ROAD_A,
    ROAD_B,
    ROWS_LAYOUT,
    SCHOOL,
    SELF,
    SERPENTINE,
    SERVICE,
    SOURCE_P,
    SOURCES,
    SPORTS,
    SPOUSE,
    STEPS,
    STYLE_P,
    SURNAME_WEIGHTS,
    SURNAMES,
    TZ,
    WGS84,
)
from etl.sample.helpers import (
    apportion,
    ascii_str,
    bilinear,
    group_rank,
    group_start,
    int_str,
    join_str,
    local_times,
    lonlat,
    multi,
    name_pool,
    person_names,
    phones,
    pick_names,
    rects,
    str_array,
    str_column,
    take_str,
)
from gis import clock
from grids.categories import DEFAULT_CATEGORIES


def id_check_char(first17: np.ndarray) -> np.ndarray:
    """ISO 7064 MOD 11-2 check characters (as ASCII codes) of ``(n, 17)`` digit arrays.

    Parameters
    ----------
    first17
        Integer array ``(n, 17)`` of the first 17 digits of PRC resident ID numbers.

    Returns
    -------
    numpy.ndarray
        uint8 ASCII codes of the 18th character (``0``–``9`` or ``X``).
    """
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = np.zeros(len(first17), dtype=np.int64)
    for k, w in enumerate(weights):  # column by column: no (n, 17) int64 temporary
        total += first17[:, k].astype(np.int64) * w
    check = (12 - total % 11) % 11
    return np.where(check == 10, ord("X"), ord("0") + check).astype(np.uint8)


def end_timestamp(end: datetime | None) -> pd.Timestamp:
    """The end of the incident window, tz-aware in Asia/Shanghai."""
    if end is None:
        return pd.Timestamp(clock.now()).tz_convert(TZ).floor("h")
    ts = pd.Timestamp(end)
    return ts.tz_localize(TZ) if ts.tzinfo is None else ts.tz_convert(TZ)


@dataclass
class _District:
    """Working state of the generator: arrays shared between the stages."""

    households: int
    rng: np.random.Generator
    end: pd.Timestamp
    months: int
    incidents_per_household: float
    layers: dict[str, pd.DataFrame] = field(default_factory=dict)
    a: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------- layout
    def layout(self) -> None:
        """Communities on a jittered lattice, streets and shelter zones as runs of a path."""
        rng, a = self.rng, self.a
        n = max(1, round(self.households / HOUSEHOLDS_PER_COMMUNITY))
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
        ci, cj = np.meshgrid(np.arange(nx), np.arange(ny))
        ci, cj = ci.ravel(), cj.ravel()
        band = ci // 3
        width = np.minimum(3, nx - 3 * band)
        r = np.where(band % 2 == 0, cj, ny - 1 - cj)
        c = ci - 3 * band
        serp = np.where(r % 2 == 0, c, width - 1 - c)
        order = np.lexsort((serp, r, band))[:n]
        a["nx"], a["ny"], a["n_comm"] = nx, ny, n
        a["comm_ci"], a["comm_cj"] = ci[order], cj[order]

        # community household counts and the streets / shelter zones along the path
        if n == 1:
            a["comm_hh"] = np.array([self.households], dtype=np.int64)
        else:
            a["comm_hh"] = apportion(self.households, rng.uniform(0.65, 1.35, n))
        n_streets = max(1, round(n / COMMUNITIES_PER_STREET))
        street = np.arange(n) * n_streets // n
        zone = np.empty(n, dtype=np.int64)
        zones = 0
        for s in range(n_streets):
            members = np.flatnonzero(street == s)
            k = max(1, round(len(members) / COMMUNITIES_PER_SHELTER_ZONE))
            zone[members] = zones + np.arange(len(members)) * k // len(members)
            zones += k
        a["comm_street"], a["comm_zone"], a["n_streets"], a["n_zones"] = (
            street,
            zone,
            n_streets,
            zones,
        )

        # jittered community corners (UTM), then the fine lattice of estate blocks
        centre = np.array(
            Transformer.from_crs(WGS84, METRIC_CRS, always_xy=True).transform(
                CENTRE_LON, CENTRE_LAT
            )
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
        a["fine"] = fine

        # blocks: 9 per community in serpentine order, block b = 9 * community + slot
        serp_rc = np.array(SERPENTINE)
        comm = np.repeat(np.arange(n), 9)
        slot = np.tile(np.arange(9), n)
        lr, lc = serp_rc[slot, 0], serp_rc[slot, 1]
        bj = 3 * a["comm_cj"][comm] + lr
        bi = 3 * a["comm_ci"][comm] + lc
        a["blk_comm"], a["blk_slot"], a["blk_lr"], a["blk_lc"] = comm, slot, lr, lc
        a["blk_i"], a["blk_j"] = bi, bj
        a["blk_quad"] = np.stack(
            [fine[bj, bi], fine[bj, bi + 1], fine[bj + 1, bi + 1], fine[bj + 1, bi]], axis=1
        )
        exists = np.zeros((3 * ny, 3 * nx), dtype=bool)
        exists[bj, bi] = True
        a["blk_exists"] = exists

        # programmes: a service block in the centre, a school per shelter zone, some
        # elder-care homes and markets; region 0 = north, 1 = south-west, 2 = south-east
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
        a["prog"] = prog
        a["is_estate"] = prog[:, 0] != SCHOOL
        a["school_b"] = np.full(n, -1)
        a["school_b"][school_comm] = school_b

    # -------------------------------------------------------------------- grids
    def grids(self) -> None:
        """Cut each community's serpentine of blocks into grids of 300–500 households."""
        rng, a = self.rng, self.a
        n = a["n_comm"]
        blk_grid = np.full(9 * n, -1, dtype=np.int64)
        blk_hh = np.zeros(9 * n, dtype=np.int64)
        grid_comm, grid_hh, grid_first = [], [], []
        housing_w = 2.0 * (a["prog"][:, 0] == HOUSING) + (a["prog"][:, 1:] == HOUSING).sum(1)
        for k in range(n):
            size = int(a["comm_hh"][k])
            lo, hi = math.ceil(size / GRID_MAX), max(1, size // GRID_MIN)
            g = int(np.clip(round(size / GRID_TARGET), lo, hi)) if lo <= hi else hi
            school = a["school_b"][k] - 9 * k if a["school_b"][k] >= 0 else -1
            res = [s for s in range(9) if s != school]
            g = max(1, min(g, len(res)))
            totals = apportion(size, rng.uniform(0.85, 1.15, g))
            if totals.min() < min(GRID_MIN, size) or totals.max() > GRID_MAX:
                totals = apportion(size, np.ones(g))
            lengths = rng.permutation(apportion(len(res), np.ones(g)))
            run = np.repeat(np.arange(g), lengths)
            gid0 = len(grid_comm)
            for s, r in zip(res, run, strict=True):
                blk_grid[9 * k + s] = gid0 + r
            if school >= 0:  # the school block joins the grid of a serpentine neighbour
                blk_grid[9 * k + school] = blk_grid[9 * k + (school - 1 if school else 1)]
            for r in range(g):
                blocks = 9 * k + np.array([s for s, rr in zip(res, run, strict=True) if rr == r])
                w = housing_w[blocks] * rng.uniform(0.7, 1.3, len(blocks))
                blk_hh[blocks] = apportion(int(totals[r]), w)
                grid_comm.append(k)
                grid_hh.append(int(totals[r]))
                grid_first.append(int(blocks.min() - 9 * k))
        a["blk_grid"], a["blk_hh"] = blk_grid, blk_hh
        a["grid_comm"] = np.array(grid_comm)
        a["grid_hh"] = np.array(grid_hh)

        # sequence numbers: by centroid row (north first), then column (west first)
        ng = len(grid_comm)
        cnt = np.bincount(blk_grid, minlength=ng)
        row_n = np.bincount(blk_grid, weights=2 - a["blk_lr"], minlength=ng) / cnt
        col = np.bincount(blk_grid, weights=a["blk_lc"], minlength=ng) / cnt
        order = np.lexsort((np.array(grid_first), col, np.floor(row_n + 0.5), a["grid_comm"]))
        seq = np.empty(ng, dtype=np.int64)
        seq[order] = group_rank(a["grid_comm"][order]) + 1
        a["grid_seq"] = seq
        # the run order (serpentine) of grids in a community, for backups
        a["grid_first"] = np.array(grid_first)

    # ------------------------------------------------------------------ estates
    def estates(self) -> None:
        """Estates inset from road centrelines, their lanes and building regions."""
        rng, a = self.rng, self.a
        q = a["blk_quad"]
        lr, lc = a["blk_lr"], a["blk_lc"]
        len_s = np.linalg.norm(q[:, 1] - q[:, 0], axis=1)
        len_n = np.linalg.norm(q[:, 2] - q[:, 3], axis=1)
        len_w = np.linalg.norm(q[:, 3] - q[:, 0], axis=1)
        len_e = np.linalg.norm(q[:, 2] - q[:, 1], axis=1)
        lu, lv = (len_s + len_n) / 2, (len_w + len_e) / 2

        def setback(on_arterial: np.ndarray) -> np.ndarray:
            return np.where(on_arterial, ARTERIAL_SETBACK_M, BRANCH_SETBACK_M)

        uw = setback(lc == 0) / lu
        ue = setback(lc == 2) / lu
        vs = setback(lr == 0) / lv
        vn = setback(lr == 2) / lv
        a["inset"] = np.stack([uw, ue, vs, vn], axis=1)
        a["estate_ring"] = rects(q, uw, 1 - ue, vs, 1 - vn)
        width = lu * (1 - uw - ue)  # estate width and depth in metres
        depth = lv * (1 - vs - vn)
        a["est_w"], a["est_d"] = width, depth

        # lanes: a gate on the south road, up to the centre, a spine west–east
        ug = uw + 0.5 * (1 - uw - ue)
        vm = vs + 0.5 * (1 - vs - vn)
        ua = uw + LANE_END_M / lu
        ub = 1 - ue - LANE_END_M / lu
        a["lane_uv"] = np.stack([ug, vm, ua, ub], axis=1)

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
        a["region"] = reg  # (blocks, 3, [s0, s1, t0, t1])

        # estate style and names
        n_blk = len(q)
        style = rng.choice(3, n_blk, p=STYLE_P)
        a["style"] = style

    def _uv(self, b: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Estate metres (s, t) of blocks ``b`` to block uv coordinates."""
        uw, ue, vs, vn = self.a["inset"][b].T
        u = uw + s / self.a["est_w"][b] * (1 - uw - ue)
        v = vs + t / self.a["est_d"][b] * (1 - vs - vn)
        return u, v

    # ---------------------------------------------------------------- buildings
    def buildings(self) -> None:
        """Residential buildings in slot rows sized to hold each estate's households."""
        rng, a = self.rng, self.a
        prog, reg = a["prog"], a["region"]
        n_blk = len(prog)
        hh = a["blk_hh"]
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
        style = a["style"].copy()
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
        a["style"] = style

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
        u0, v0 = self._uv(blk, sc - w / 2, tc - d / 2)
        u1, v1 = self._uv(blk, sc + w / 2, tc + d / 2)
        a["bld"] = {
            "blk": blk,
            "uv": np.stack([u0, u1, v0, v1], axis=1),
            "use": use,
            "floors": floors.astype(np.int64),
            "units": units.astype(np.int64),
            "per_floor": per_floor.astype(np.int64),
            "mixed": mixed,
            "number": group_rank(blk) + 1,
        }
        a["bld_ring"] = rects(a["blk_quad"][blk], u0, u1, v0, v1)

    # --------------------------------------------------------------- households
    def households_(self) -> None:
        """Dwellings (unit, floor, door) of residential buildings, occupied at random."""
        rng, a = self.rng, self.a
        bld = a["bld"]
        dwell = np.isin(bld["use"], ["residential", "mixed"])
        bidx = np.flatnonzero(dwell)
        per_unit = (bld["floors"][bidx] - bld["mixed"][bidx]) * bld["per_floor"][bidx]
        capacity = per_unit * bld["units"][bidx]
        b = np.repeat(bidx, capacity)
        k = np.arange(len(b)) - np.repeat(np.cumsum(capacity) - capacity, capacity)
        pu = np.repeat(per_unit, capacity)
        pf = bld["per_floor"][b]
        unit = k // pu + 1
        floor = (k % pu) // pf + 1 + bld["mixed"][b]
        door = (k % pu) % pf + 1
        blk = bld["blk"][b]
        order = np.lexsort((rng.random(len(b)), blk))
        rank = np.empty(len(b), dtype=np.int64)
        rank[order] = group_rank(blk[order])
        take = rank < a["blk_hh"][blk]
        if take.sum() != self.households:
            raise RuntimeError("dwellings do not match the household count")
        a["hh_bld"] = b[take]
        a["hh_unit"] = unit[take]
        a["hh_room"] = floor[take] * 100 + door[take]
        a["hh_blk"] = blk[take]

    # ---------------------------------------------------------------- residents
    def residents(self) -> None:
        """Household types, members, ages, sexes and vulnerability flags."""
        rng, a = self.rng, self.a
        nh = self.households
        style = a["style"][a["hh_blk"]]
        cum = np.cumsum(HOUSEHOLD_TYPE_P, axis=1)
        htype = (rng.random(nh)[:, None] > cum[style]).sum(axis=1)
        htype = np.minimum(htype, len(HOUSEHOLD_TYPES) - 1)
        size = np.ones(nh, dtype=np.int64)
        for t, (_, _, sizes, probs) in enumerate(HOUSEHOLD_TYPES):
            m = htype == t
            size[m] = rng.choice(sizes, m.sum(), p=probs)

        # per-household ages of each role, then members pick theirs
        u = rng.random((nh, 8))

        def elder_age(p: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
            """Ages 60+ from five-year bins with probabilities ``p``."""
            k = np.minimum(np.searchsorted(np.cumsum(p), x * p.sum()), len(p) - 1)
            lo, hi = ELDER_BINS[k], ELDER_BINS[k + 1]
            span = np.where(k == len(p) - 1, (hi - lo) * y**2, (hi - lo) * y)  # 85+ thins out
            return lo + span

        def unif(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
            return lo + (hi - lo) * x

        age = np.zeros((nh, 7))
        male_self = u[:, 0] < 0.5
        names = [t[0] for t in HOUSEHOLD_TYPES]
        is_type = {name: htype == i for i, name in enumerate(names)}
        c1 = np.zeros(nh)
        # children first, then parents from the eldest child, grandparents from parents
        m = is_type["single_parent"]
        c1[m] = unif(0, 18, u[m, 1])
        m = is_type["couple_child"]
        c1[m] = np.where(u[m, 2] < 0.7, unif(0, 18, u[m, 1]), unif(18, 28, u[m, 1]))
        m = is_type["couple_children"]
        c1[m] = unif(5, 24, u[m, 1])
        m = is_type["three_generations"]
        c1[m] = unif(0, 16, u[m, 1])
        gap2 = unif(1, 8, u[:, 3])
        c2 = np.where(c1 - gap2 >= 0, c1 - gap2, c1 * u[:, 3])
        gap3 = unif(1, 5, u[:, 4])
        c3 = np.where(c2 - gap3 >= 0, c2 - gap3, c2 * u[:, 4])
        parent = c1 + unif(24, 36, u[:, 5])
        age[:, CHILD1], age[:, CHILD2], age[:, CHILD3] = c1, c2, c3
        with_kids = is_type["single_parent"] | is_type["couple_child"] | is_type["couple_children"]
        with_kids |= is_type["three_generations"]
        age[with_kids, SELF] = parent[with_kids]
        m = is_type["single_young"]
        age[m, SELF] = np.where(u[m, 1] < 0.7, unif(18, 35, u[m, 2]), unif(35, 60, u[m, 2]))
        male_self[m] = u[m, 0] < 0.68
        m = is_type["elder_alone"]
        age[m, SELF] = elder_age(np.array([0.14, 0.2, 0.2, 0.18, 0.15, 0.13]), u[m, 1], u[m, 2])
        male_self[m] = u[m, 0] < 0.38
        m = is_type["couple"]
        age[m, SELF] = np.where(u[m, 1] < 0.45, unif(22, 36, u[m, 2]), unif(46, 60, u[m, 2]))
        m = is_type["elder_couple"]
        age[m, SELF] = elder_age(np.array([0.3, 0.3, 0.2, 0.11, 0.06, 0.03]), u[m, 1], u[m, 2])
        m = is_type["elder_with_child"]
        age[m, ELDER1] = elder_age(np.array([0.03, 0.12, 0.25, 0.25, 0.2, 0.15]), u[m, 1], u[m, 2])
        age[m, SELF] = age[m, ELDER1] - unif(24, 36, u[m, 5])
        m = is_type["couple_elder"]
        age[m, SELF] = unif(28, 50, u[m, 1])
        m = is_type["single_parent"]
        male_self[m] = u[m, 0] < 0.25
        # spouses: husbands about two years older than wives
        dsp = np.clip(rng.normal(2, 2.5, nh), -3, 8)
        age[:, SPOUSE] = np.maximum(age[:, SELF] + np.where(male_self, -dsp, dsp), 20)
        older = np.maximum(age[:, SELF], age[:, SPOUSE])
        ep = older + unif(24, 33, u[:, 6])
        needs_ep = is_type["couple_elder"] | is_type["three_generations"]
        age[needs_ep, ELDER1] = ep[needs_ep]
        male_e1 = u[:, 7] < 0.45
        age[:, ELDER2] = age[:, ELDER1] + np.where(male_e1, -dsp, dsp)
        age = np.clip(age, 0, 100).astype(np.int64)

        # members
        hh = np.repeat(np.arange(nh), size)
        start = np.cumsum(size) - size
        k = np.arange(len(hh)) - start[hh]
        roles = np.full((len(HOUSEHOLD_TYPES), 6), SELF)
        for t, (_, r, _, _) in enumerate(HOUSEHOLD_TYPES):
            roles[t, : len(r)] = r
        role = roles[htype[hh], k]
        r_age = age[hh, role]
        child_male = rng.random(len(hh)) < 0.53
        male = np.select(
            [role == SELF, role == SPOUSE, role == ELDER1, role == ELDER2],
            [male_self[hh], ~male_self[hh], male_e1[hh], ~male_e1[hh]],
            child_male,
        )

        # vulnerability
        n = len(hh)
        x = rng.random((n, 2))
        p_dis = np.select([r_age < 15, r_age < 60, r_age < 75], [0.015, 0.035, 0.14], 0.27)
        p_mob = np.select([r_age < 60, r_age < 75], [0.002, 0.025], 0.26)
        mobility = x[:, 1] < p_mob
        disabled = (x[:, 0] < p_dis) | (mobility & (x[:, 0] < 0.5))
        hh_t = htype
        p_low = LOW_INCOME_HH_P * np.select(
            [hh_t == names.index("elder_alone"), hh_t == names.index("single_parent")],
            [2.2, 3.0],
            1.0,
        )
        low = (rng.random(nh) < p_low)[hh]
        alone = (size[hh] == 1) & (r_age >= 60)

        # birth dates: age in completed years on the reference (end) date
        ref = np.datetime64(self.end.tz_localize(None).date(), "D")
        birth = ref - np.round((r_age + rng.uniform(0.003, 0.997, n)) * 365.2425).astype(
            "timedelta64[D]"
        )
        a["hh_size"], a["hh_type"] = size, htype
        a["res"] = {
            "hh": hh,
            "role": role,
            "age": r_age,
            "male": male,
            "birth": birth,
            "alone": alone,
            "disabled": disabled,
            "mobility": mobility,
            "low": low,
        }

    def identities(self) -> None:
        """Names, ID numbers (with MOD 11-2 check character) and phones of residents."""
        rng, a = self.rng, self.a
        res = a["res"]
        n = len(res["hh"])
        birth = res["birth"]
        year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
        month = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
        day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
        # sequence numbers: unique within (birth date, sex), odd for men
        key = birth.astype(np.int64) * 2 + res["male"]
        order = np.lexsort((rng.random(n), key))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = group_rank(key[order])
        if rank.max(initial=0) >= 500:
            raise RuntimeError("too many residents share a birth date for unique ID numbers")
        offset = rng.integers(0, 500, n)[order][group_start(key[order])]
        off = np.empty(n, dtype=np.int64)
        off[order] = offset
        seq = 2 * ((rank * 173 + off) % 500) + res["male"]
        digits = np.empty((n, 18), dtype=np.uint8)
        digits[:, :6] = np.frombuffer(DISTRICT_CODE.encode(), dtype=np.uint8) - ord("0")
        for i, (value, width) in enumerate([(year, 4), (month, 2), (day, 2), (seq, 3)]):
            pos = [6, 10, 12, 14][i]
            for p in range(width):
                digits[:, pos + p] = (value // 10 ** (width - 1 - p)) % 10
        check = id_check_char(digits[:, :17])
        digits[:, :17] += ord("0")
        digits[:, 17] = check
        res["id_number"] = ascii_str(digits)

        # names: children take the father's surname
        nh = self.households
        hh, role = res["hh"], res["role"]
        sw = SURNAME_WEIGHTS / SURNAME_WEIGHTS.sum()
        fam = rng.choice(len(SURNAMES), (nh, 2), p=sw)  # self, spouse
        own = rng.choice(len(SURNAMES), n, p=sw)
        self_male = res["male"][np.cumsum(a["hh_size"]) - a["hh_size"]]
        father = np.where(self_male, fam[:, 0], fam[:, 1])
        surname = np.select(
            [role == SELF, role == SPOUSE, (role >= CHILD1) & (role <= CHILD3)],
            [fam[hh, 0], fam[hh, 1], father[hh]],
            own,
        )
        res["name"] = person_names(rng, res["male"], res["age"] >= 45, surname)

        # phones: children under 16 are registered with a parent's number
        phone = phones(rng, n)
        first = np.cumsum(a["hh_size"]) - a["hh_size"]
        kid = (role >= CHILD1) & (role <= CHILD3) & (res["age"] < 16)
        phone[kid] = phone[first[hh[kid]]]
        res["phone"] = int_str(phone)

    # --------------------------------------------------------------- facilities
    def facilities(self) -> None:
        """Community centres, clinics, parks, elder care, schools and shelters."""
        rng, a = self.rng, self.a
        prog, reg = a["prog"], a["region"]
        n = a["n_comm"]
        comm_res = np.bincount(a["hh_blk"] // 9, weights=a["hh_size"], minlength=n)
        rows: list[dict[str, Any]] = []

        def add(kind: str, b: np.ndarray, s: np.ndarray, t: np.ndarray, **cols: Any) -> None:
            rows.append({"kind": np.full(len(b), kind), "blk": b, "s": s, "t": t} | cols)

        def region(p: int) -> tuple[np.ndarray, ...]:
            b, r = np.nonzero(prog == p)
            return (b, *reg[b, r].T)

        b, s0, s1, t0, t1 = region(SERVICE)
        mid = (s0 + s1) / 2
        k = b // 9
        add("community_centre", b, mid - 10, t0 + 5, capacity=rng.integers(100, 301, len(b)))
        clinic_cap = np.clip(np.round(comm_res[k] / 40), 60, 250)
        add("clinic", b, mid + 10, t0 + 5, capacity=clinic_cap)
        b, s0, s1, t0, t1 = region(ELDER)
        beds = rng.choice([30, 40, 50, 60, 80, 100, 120], len(b))
        add("elder_care", b, (s0 + s1) / 2, t0 + 5, capacity=beds)
        b, s0, s1, t0, t1 = region(PARK)
        park_area = (s1 - s0) * (t1 - t0)
        add("park", b, (s0 + s1) / 2, (t0 + t1) / 2, capacity=np.round(park_area * 0.2))
        eff = np.clip(park_area * rng.uniform(0.4, 0.65, len(b)), 1_000, 3_000)
        add(
            "shelter",
            b,
            (s0 + s1) / 2 + 8,
            (t0 + t1) / 2,
            capacity=np.floor(eff),
            shelter_class=np.full(len(b), "emergency"),
            area_m2=np.round(eff, 1),
            zone=b // 9,
        )
        b, s0, s1, t0, t1 = region(SCHOOL)
        pupils = rng.choice([18, 24, 30, 36], len(b)) * 45
        add("school", b, (s0 + s1) / 2, (t0 + t1) / 2, capacity=pupils)
        sb = np.flatnonzero(prog[:, 1] == SPORTS)
        s0, s1, t0, t1 = reg[sb, 1].T
        ground = a["est_w"][sb] * a["est_d"][sb] * rng.uniform(0.35, 0.5, len(sb))
        add(
            "shelter",
            sb,
            (s0 + s1) / 2,
            (t0 + t1) / 2,
            capacity=np.floor(ground / 2),
            shelter_class=np.full(len(sb), "fixed"),
            area_m2=np.round(ground, 1),
            zone=-1 - a["comm_zone"][sb // 9],
        )
        fac = {
            key: np.concatenate([r.get(key, np.full(len(r["blk"]), None)) for r in rows])
            for key in ("kind", "blk", "s", "t", "capacity", "shelter_class", "area_m2", "zone")
        }
        order = np.lexsort((np.argsort(np.argsort(fac["kind"])), fac["blk"] // 9))
        fac = {key: v[order] for key, v in fac.items()}
        fac["blk"] = fac["blk"].astype(np.int64)
        fac["s"] = fac["s"].astype(float)
        fac["t"] = fac["t"].astype(float)
        u, v = self._uv(fac["blk"], fac["s"], fac["t"])
        fac["xy"] = bilinear(a["blk_quad"][fac["blk"]], u, v)
        a["fac"] = fac

    # -------------------------------------------------------------------- roads
    def roads(self) -> None:
        """Arterials on community boundaries, branch roads between estates, estate lanes."""
        rng, a = self.rng, self.a
        nx, ny, fine, exists = a["nx"], a["ny"], a["fine"], a["blk_exists"]
        pad = np.zeros((3 * ny + 2, 3 * nx + 2), dtype=bool)
        pad[1:-1, 1:-1] = exists
        # horizontal edges (J, I): between lattice (J, I) and (J, I + 1)
        hj, hi = np.nonzero(pad[1:, 1:-1] | pad[:-1, 1:-1])
        # vertical edges (J, I): between lattice (J, I) and (J + 1, I)
        vj, vi = np.nonzero(pad[1:-1, 1:] | pad[1:-1, :-1])
        used = np.zeros(fine.shape[:2], dtype=bool)
        used[hj, hi] = used[hj, hi + 1] = used[vj, vi] = used[vj + 1, vi] = True
        lattice_id = np.full(used.shape, -1, dtype=np.int64)
        lattice_id[used] = np.arange(used.sum())
        node_xy = [fine[used]]
        nid = int(used.sum())

        # gates on the south road of every block, lane nodes inside
        nb = len(a["blk_quad"])
        q = a["blk_quad"]
        ug, vm, ua, ub = a["lane_uv"].T
        gate = bilinear(q, ug, np.zeros(nb))
        centre = bilinear(q, ug, vm)
        west = bilinear(q, ua, vm)
        east = bilinear(q, ub, vm)
        gate_id = nid + np.arange(nb)
        centre_id, west_id, east_id = gate_id + nb, gate_id + 2 * nb, gate_id + 3 * nb
        node_xy += [gate, centre, west, east]
        nodes = np.concatenate(node_xy)

        # which horizontal edge carries a gate: the south edge of block (bj, bi)
        gate_at = np.full((3 * ny + 1, 3 * nx), -1, dtype=np.int64)
        gate_at[a["blk_j"], a["blk_i"]] = gate_id
        hg = gate_at[hj, hi]

        # names: arterials per lattice line, branch roads per line and community
        n_ew, n_ns = ny + 1, nx + 1
        taken = set(EW_ARTERIALS + NS_ARTERIALS + BRANCH_REAL)
        gen = [x for x in name_pool(rng, ROAD_A, ROAD_B, ["路", "大道"]) if x not in taken]
        ew, ns = list(EW_ARTERIALS[:n_ew]), list(NS_ARTERIALS[:n_ns])
        k_ew, k_ns = n_ew - len(ew), n_ns - len(ns)
        extra = pick_names(gen, k_ew + k_ns, number=False)
        ew += extra[:k_ew]
        ns += extra[k_ew:]
        taken |= set(ew) | set(ns)
        br_pool = list(BRANCH_REAL) + [
            x for x in name_pool(rng, ROAD_A, ROAD_B, ["路", "街", "巷"]) if x not in taken
        ]
        # a branch road runs along a lattice line for up to three communities:
        # keys (line J, community column // 3) horizontally, (line I, row // 3) vertically
        sx, sy = (nx + 2) // 3, (ny + 2) // 3
        h_key = hj * sx + np.minimum(hi // 9, sx - 1)
        v_key = (3 * ny + 1) * sx + vi * sy + np.minimum(vj // 9, sy - 1)
        n_keys = (3 * ny + 1) * sx + (3 * nx + 1) * sy
        names_table = str_array([*pick_names(br_pool, n_keys, number=False), *ew, *ns])
        flip_key = rng.random(n_keys) < 0.5
        h_art, v_art = hj % 3 == 0, vi % 3 == 0
        h_name = np.where(h_art, n_keys + hj // 3, h_key)
        v_name = np.where(v_art, n_keys + n_ew + vi // 3, v_key)
        a["road_names"] = names_table

        # edges: lattice edges (horizontal ones split at gates), then the lanes
        h_src, h_dst = lattice_id[hj, hi], lattice_id[hj, hi + 1]
        split = hg >= 0
        src = np.concatenate(
            [
                h_src[~split],
                h_src[split],
                hg[split],
                lattice_id[vj, vi],
                gate_id,
                centre_id,
                centre_id,
            ]
        )
        dst = np.concatenate(
            [
                h_dst[~split],
                hg[split],
                h_dst[split],
                lattice_id[vj + 1, vi],
                centre_id,
                west_id,
                east_id,
            ]
        )
        lane = np.r_[np.zeros(len(hj) + split.sum() + len(vj), dtype=bool), np.ones(3 * nb, bool)]
        art = np.r_[h_art[~split], h_art[split], h_art[split], v_art, np.zeros(3 * nb, bool)]
        name = np.r_[h_name[~split], h_name[split], h_name[split], v_name, np.full(3 * nb, -1)]
        key = np.r_[h_key[~split], h_key[split], h_key[split], v_key, np.full(3 * nb, -1)]
        road_class = np.where(lane, "lane", np.where(art, "arterial", "branch"))
        branch_keys = np.unique(key[road_class == "branch"])
        oneway_key = np.zeros(n_keys, dtype=bool)  # ~8 % of branch roads, at least one
        if len(branch_keys):
            k = max(1, round(0.08 * len(branch_keys)))
            oneway_key[rng.choice(branch_keys, k, replace=False)] = True
        oneway = (road_class == "branch") & oneway_key[np.maximum(key, 0)]
        flip = oneway & flip_key[np.maximum(key, 0)]
        src, dst = np.where(flip, dst, src), np.where(flip, src, dst)
        a["road"] = {
            "nodes": nodes,
            "src": src,
            "dst": dst,
            "class": road_class,
            "name_idx": name,
            "oneway": oneway,
        }
        # the name of the road on each side of each block, for incident descriptions
        hname = np.zeros((3 * ny + 1, 3 * nx), dtype=np.int64)
        hname[hj, hi] = h_name
        vname = np.zeros((3 * ny, 3 * nx + 1), dtype=np.int64)
        vname[vj, vi] = v_name
        bj, bi = a["blk_j"], a["blk_i"]
        a["blk_side_name"] = np.stack(
            [hname[bj, bi], hname[bj + 1, bi], vname[bj, bi], vname[bj, bi + 1]], axis=1
        )

    # ----------------------------------------------------------- people at work
    def people(self) -> None:
        """Users, grid workers (one per grid) and their primary / backup assignments."""
        rng, a = self.rng, self.a
        ng = len(a["grid_comm"])
        nw = ng + (1 if ng == 1 else 0)  # a standby worker when there is a single grid
        male = rng.random(nw) < 0.45
        a["worker_name"] = person_names(rng, male, rng.random(nw) < 0.3)
        a["worker_phone"] = int_str(phones(rng, nw))
        a["worker_on_duty"] = rng.random(nw) < 0.95
        # backups: the next grid of the same community along the serpentine (or the
        # previous one); a community's only grid takes the first grid of the next
        # community, and a district's only grid the standby worker (index ng)
        order = np.lexsort((a["grid_first"], a["grid_comm"]))
        comm_sorted = a["grid_comm"][order]
        rank = group_rank(comm_sorted)
        count = np.bincount(comm_sorted)[comm_sorted]
        pos = np.arange(ng)
        nxt = np.where(rank + 1 < count, pos + 1, pos - 1)
        backup = np.empty(ng, dtype=np.int64)
        backup[order] = np.where(count > 1, order[np.clip(nxt, 0, ng - 1)], -1)
        first_of = dict(
            zip(comm_sorted[rank == 0].tolist(), order[rank == 0].tolist(), strict=True)
        )
        for g in np.flatnonzero(backup < 0):
            nxt_comm = (int(a["grid_comm"][g]) + 1) % a["n_comm"]
            backup[g] = first_of[nxt_comm] if a["n_comm"] > 1 else ng
        a["grid_backup"] = backup
        a["n_res_users"] = int(np.clip(self.households // 500, 24, 5000))

    # ---------------------------------------------------------------- incidents
    def incidents(self) -> None:
        """Incidents with times, categories, places, hotspots and full histories."""
        rng, a = self.rng, self.a
        n = round(self.households * self.incidents_per_household)
        end_s = int(self.end.timestamp())
        start = self.end - pd.DateOffset(months=self.months)
        day0 = start.normalize()
        n_days = math.ceil((self.end - day0) / pd.Timedelta(days=1))
        days = pd.date_range(day0, periods=n_days, freq="D")
        dow = days.day_of_week.to_numpy()
        holiday = np.isin(days.strftime("%m-%d"), HOLIDAYS)
        weekend = (dow >= 5) | holiday
        day0_s = int(day0.timestamp())
        start_s = int(start.timestamp())

        source = rng.choice(3, n, p=SOURCE_P)
        t = np.zeros(n, dtype=np.int64)
        for si, sname in enumerate(SOURCES):
            idx = np.flatnonzero(source == si)
            got = np.zeros(0, dtype=np.int64)
            dw = np.array(DAY_W[sname])[np.where(holiday, 6, dow)]
            while len(got) < len(idx):
                m = 2 * (len(idx) - len(got)) + 16
                d = rng.choice(n_days, m, p=dw / dw.sum())
                hour = np.empty(m, dtype=np.int64)
                we = weekend[d]
                for flag, label in ((False, "weekday"), (True, "weekend")):
                    hw = np.array(HOUR_W[f"{sname}_{label}"])
                    hour[we == flag] = rng.choice(24, (we == flag).sum(), p=hw / hw.sum())
                ts = day0_s + d * DAY + hour * HOUR + rng.integers(0, HOUR, m)
                got = np.r_[got, ts[(ts >= start_s) & (ts < end_s)]]
            t[idx] = got[: len(idx)]

        # categories by source, with a quarter of incidents at hotspots
        codes = [c[0] for c in CATEGORY_MIX]
        place_bld = np.array([c[1] == "building" for c in CATEGORY_MIX])
        mix = np.array([c[2:] for c in CATEGORY_MIX])
        cat = np.empty(n, dtype=np.int64)
        for si in range(3):
            idx = np.flatnonzero(source == si)
            cat[idx] = rng.choice(len(codes), len(idx), p=mix[:, si] / mix[:, si].sum())

        nb = len(a["blk_quad"])
        prog, style = a["prog"], a["style"]
        spots: list[tuple[str, int, float, float]] = []  # kind, block, u, v
        k_spots = max(3, round(a["n_comm"] / 2))
        ug, vm = a["lane_uv"][:, 0], a["lane_uv"][:, 1]
        for b in rng.permutation(np.flatnonzero((prog == MARKET).any(1)))[: max(1, k_spots // 3)]:
            u, v = self._uv(np.array([b]), a["region"][b, 1, :2].mean(keepdims=True), np.zeros(1))
            spots.append(("market", int(b), float(u[0]), float(v[0]) * 0.5))
        old = np.flatnonzero((style == OLD) & a["is_estate"] & (a["blk_hh"] > 0))
        for b in rng.permutation(old)[: max(1, k_spots // 3)]:
            spots.append(("old_estate", int(b), float(ug[b]), float(vm[b])))
        for b in rng.permutation(np.flatnonzero(a["school_b"] >= 0))[: max(1, k_spots // 6)]:
            sb = int(a["school_b"][b])
            spots.append(("school_gate", sb, float(ug[sb]), float(a["inset"][sb, 2]) * 0.5))
        for b in rng.choice(nb, max(1, k_spots - len(spots)), replace=False):
            spots.append(("construction", int(b), float(rng.uniform(0.2, 0.8)), 0.5))
        spot_w = rng.lognormal(0, 0.5, len(spots))
        hot = rng.random(n) < HOTSPOT_SHARE
        spot = np.where(hot, rng.choice(len(spots), n, p=spot_w / spot_w.sum()), -1)
        for si, (kind, *_rest) in enumerate(spots):
            idx = np.flatnonzero(spot == si)
            mixk = HOTSPOT_MIX[kind]
            keys = [codes.index(c) for c in mixk]
            p = np.array(list(mixk.values()))
            cat[idx] = np.array(keys)[rng.choice(len(keys), len(idx), p=p / p.sum())]

        # places: buildings (via a household), road verges, or around the hotspot
        blk = np.empty(n, dtype=np.int64)
        u = np.empty(n)
        v = np.empty(n)
        bld = a["bld"]
        on_bld = place_bld[cat] & ~hot
        idx = np.flatnonzero(on_bld)
        hh_pick = rng.integers(0, self.households, len(idx))
        lift = codes.index("30402")
        care = codes.index("30301")
        tall = np.flatnonzero(bld["floors"][a["hh_bld"]] >= 8)
        lonely = np.unique(a["res"]["hh"][a["res"]["alone"]])
        for code_i, pool in ((lift, tall), (care, lonely)):
            m = cat[idx] == code_i
            if len(pool) and m.any():
                hh_pick[m] = pool[rng.integers(0, len(pool), m.sum())]
        bi = a["hh_bld"][hh_pick]
        fu, fv = rng.uniform(0.1, 0.9, (2, len(idx)))
        u0, u1, v0, v1 = bld["uv"][bi].T
        blk[idx], u[idx], v[idx] = bld["blk"][bi], u0 + fu * (u1 - u0), v0 + fv * (v1 - v0)
        inc_bld = np.full(n, -1)
        inc_bld[idx] = bi
        # road verge: a side of a block, inside the setback from the road centreline
        idx = np.flatnonzero(~on_bld & ~hot)
        bw = 1.0 + a["blk_hh"] / 100.0
        rb = rng.choice(nb, len(idx), p=bw / bw.sum())
        side = rng.integers(0, 4, len(idx))
        along = rng.uniform(0.05, 0.95, len(idx))
        depth = rng.uniform(0.05, 0.9, len(idx)) * a["inset"][rb, np.array([2, 3, 0, 1])[side]]
        uu = np.select([side == 2, side == 3], [depth, 1 - depth], along)
        vv = np.select([side == 0, side == 1], [depth, 1 - depth], along)
        blk[idx], u[idx], v[idx] = rb, uu, vv
        side_all = np.full(n, -1)
        side_all[idx] = side
        # hotspots: scattered around their centre within their block
        idx = np.flatnonzero(hot)
        sp = spot[idx]
        s_blk = np.array([s[1] for s in spots])[sp]
        su = np.array([s[2] for s in spots])[sp]
        sv = np.array([s[3] for s in spots])[sp]
        sigma = 30.0 / (COMMUNITY_SIDE_M / 3)
        blk[idx] = s_blk
        u[idx] = np.clip(su + rng.normal(0, sigma, len(idx)), 0.01, 0.99)
        v[idx] = np.clip(sv + rng.normal(0, sigma, len(idx)), 0.01, 0.99)
        xy = bilinear(a["blk_quad"][blk], u, v)

        # order by time; ids follow
        order = np.argsort(t, kind="stable")
        t, source, cat, blk, xy = t[order], source[order], cat[order], blk[order], xy[order]
        inc_bld, side_all, spot = inc_bld[order], side_all[order], spot[order]
        limit_h = {c.code: c.time_limit_hours for c in DEFAULT_CATEGORIES}
        limit = np.array([limit_h[c] for c in codes])[cat] * HOUR
        grid = a["blk_grid"][blk]
        a["inc"] = {
            "t": t,
            "source": source,
            "cat": cat,
            "codes": codes,
            "blk": blk,
            "xy": xy,
            "bld": inc_bld,
            "side": side_all,
            "spot": spot,
            "spot_kind": [s[0] for s in spots],
            "grid": grid,
            "limit": limit,
        }
        self._histories(end_s)

    def _histories(self, end_s: int) -> None:
        """Event times along the incident path, cut at ``end``, and the final states."""
        rng, inc = self.rng, self.a["inc"]
        n = len(inc["t"])
        src, limit = inc["source"], inc["limit"]
        t0 = inc["t"].astype(float)
        n_steps = len(PATH)
        times = np.full((n, n_steps), np.nan)
        times[:, 0] = t0

        def logn(median: Any, sigma: float) -> np.ndarray:
            return np.asarray(median) * np.exp(rng.normal(0, sigma, n))

        # registration: patrol minutes; app / hotline next working hours when off hours
        local_h = ((inc["t"] + 8 * HOUR) // HOUR) % 24
        reg = np.where(src == 0, rng.uniform(2, 30, n) * MINUTE, logn(40 * MINUTE, 0.6))
        off = (src > 0) & ((local_h < 8) | (local_h >= 20))
        day_start = (inc["t"] + 8 * HOUR) // DAY * DAY - 8 * HOUR
        next8 = day_start + 8 * HOUR + np.where(local_h >= 20, DAY, 0)
        reg = np.where(off, next8 - t0 + rng.uniform(0, 90, n) * MINUTE, reg)
        times[:, 1] = t0 + reg
        rejected = rng.random(n) < np.array([0.01, 0.06, 0.04])[src]
        times[:, 2] = times[:, 1] + rng.uniform(5, 60, n) * MINUTE
        times[:, 3] = times[:, 2] + np.minimum(logn(30 * MINUTE, 0.7), 0.3 * limit)
        work = logn(0.35 * limit, 0.6)
        stuck = rng.random(n) < 0.03  # hard cases: several times the time limit
        work = np.where(stuck, limit * rng.uniform(2, 12, n), work)
        resolved1 = times[:, 3] + work
        deadline = times[:, 2] + limit
        returned = rng.random(n) < 0.05
        escalated = resolved1 > deadline
        esc_at = deadline + np.minimum(rng.uniform(1, 30, n) * MINUTE, (resolved1 - deadline) / 2)
        times[:, 4] = np.where(escalated, esc_at, np.nan)
        times[:, 5] = resolved1
        times[:, 6] = resolved1 + logn(2 * HOUR, 0.8)
        times[:, 7] = times[:, 6] + rng.uniform(10, 120, n) * MINUTE
        times[:, 8] = times[:, 7] + logn(0.2 * limit, 0.6)
        last_resolved = np.where(returned, times[:, 8], times[:, 5])
        times[:, 6:9] = np.where(returned[:, None], times[:, 6:9], np.nan)
        times[:, 9] = last_resolved + np.minimum(logn(2 * HOUR, 0.8), 48 * HOUR)
        times[:, 10] = times[:, 9] + rng.uniform(5, 240, n) * MINUTE
        rated = (src > 0) & (rng.random(n) < 0.75)
        times[:, 11] = np.where(rated, times[:, 10] + logn(10 * HOUR, 0.8), np.nan)
        # rejected incidents stop at registration, which becomes the rejection
        times[rejected, 2:] = np.nan
        times = np.round(times)
        running = times[:, 0].copy()
        for k in range(1, n_steps):  # strictly increasing whole seconds
            col = times[:, k]
            ok = ~np.isnan(col)
            times[:, k] = np.where(ok, np.maximum(col, running + 1), np.nan)
            running = np.where(ok, times[:, k], running)
        active = ~np.isnan(times) & (times <= end_s)
        last = n_steps - 1 - np.argmax(active[:, ::-1], axis=1)
        path = np.array(PATH)
        state = path[last]
        state = np.where(rejected & (last == 1), "rejected", state)
        dispatched = active[:, 2]
        bad = escalated | returned
        rating = np.where(
            active[:, 11],
            np.where(
                bad,
                rng.choice(5, n, p=RATING_P_BAD) + 1,
                rng.choice(5, n, p=RATING_P) + 1,
            ),
            0,
        )
        inc.update(
            times=times,
            active=active,
            state=state,
            rejected=rejected,
            deadline=np.where(dispatched, times[:, 2] + limit, np.nan),
            closed=np.where(active[:, 10], times[:, 10], np.nan),
            rating=rating,
            dispatched=dispatched,
        )

    # ------------------------------------------------------------------- frames
    def frames(self) -> None:
        """Assemble the layers as (Geo)DataFrames in EPSG:4326."""
        a, rng = self.a, self.rng
        out = self.layers
        n = a["n_comm"]
        fine_ll = lonlat(a["fine"])

        # ---- admin areas
        pool_a, pool_b = list(PLACE_A), list(dict.fromkeys(PLACE_B))
        places = pick_names(name_pool(rng, pool_a, pool_b), n + a["n_streets"])
        comm_place = places[:n]
        real = REAL_STREETS[: a["n_streets"]]
        used_codes = {c for c, _ in REAL_STREETS}
        spare_codes = [f"{i:03d}" for i in range(1, 1000) if f"{i:03d}" not in used_codes]
        real_names = {nm[:2] for _, nm in REAL_STREETS}
        gen = [p for p in places[n:] if p not in real_names]
        streets = list(real) + [
            (spare_codes[i], f"{gen[i % len(gen)]}街道") for i in range(a["n_streets"] - len(real))
        ]
        street_code = [DISTRICT_CODE + c for c, _ in streets]
        seq_in_street = group_rank(a["comm_street"]) + 1
        comm_code = [
            f"{street_code[s]}{q:03d}" for s, q in zip(a["comm_street"], seq_in_street, strict=True)
        ]
        comm_name = [f"{p}社区" for p in comm_place]

        # community rings: the 12 lattice points around the 3 × 3 blocks
        dj = np.array([0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 2, 1, 0])
        di = np.array([0, 1, 2, 3, 3, 3, 3, 2, 1, 0, 0, 0, 0])
        rj = 3 * a["comm_cj"][:, None] + dj
        ri = 3 * a["comm_ci"][:, None] + di
        comm_poly = shapely.polygons(fine_ll[rj, ri])
        street_poly = np.array(
            [
                shapely.coverage_union_all(comm_poly[a["comm_street"] == s])
                for s in range(len(streets))
            ],
            dtype=object,
        )
        district_poly = shapely.coverage_union_all(comm_poly)

        # estates
        est_b = np.flatnonzero(a["is_estate"])
        est_seq = np.empty(len(a["prog"]), dtype=np.int64)
        est_seq[est_b] = group_rank(est_b // 9) + 1
        style = a["style"]
        new_pool = name_pool(rng, ESTATE_BRANDS, ESTATE_NEW_NAMES, ESTATE_PHASES)
        mid_pool = name_pool(rng, pool_a, pool_b, ESTATE_MID_SUFFIX)
        old_pool = name_pool(rng, pool_a, pool_b, ESTATE_OLD_SUFFIX)
        est_name = np.empty(len(a["prog"]), dtype=object)
        for st, pool in ((OLD, old_pool), (MID, mid_pool), (NEW, new_pool)):
            m = a["is_estate"] & (style == st)
            est_name[m] = pick_names(pool, int(m.sum()))
        school_name = {}
        for b in np.flatnonzero(~a["is_estate"]):
            p = comm_place[b // 9]
            school_name[b] = rng.choice([f"杭州市{p}小学", f"{p}实验学校", f"{p}第二小学"])
            est_name[b] = school_name[b]
        est_code = np.array(
            [
                f"{comm_code[b // 9]}E{est_seq[b]:02d}" if a["is_estate"][b] else ""
                for b in range(len(est_seq))
            ],
            dtype=object,
        )
        est_ring = lonlat(a["estate_ring"][est_b])
        est_poly = shapely.polygons(est_ring)

        admin = pd.DataFrame(
            {
                "code": str_column([DISTRICT_CODE, *street_code, *comm_code, *est_code[est_b]]),
                "name": str_column(
                    [DISTRICT_NAME, *(nm for _, nm in streets), *comm_name, *est_name[est_b]]
                ),
                "level": str_column(
                    ["district"]
                    + ["street"] * len(streets)
                    + ["community"] * n
                    + ["estate"] * len(est_b)
                ),
                "parent_code": str_column(
                    [None]
                    + [DISTRICT_CODE] * len(streets)
                    + [street_code[s] for s in a["comm_street"]]
                    + [comm_code[b // 9] for b in est_b]
                ),
            }
        )
        admin_geom = multi(
            np.concatenate([[district_poly], street_poly, comm_poly, est_poly]).astype(object)
        )
        out["admin_area"] = gpd.GeoDataFrame(admin, geometry=admin_geom, crs=WGS84)

        # ---- grids
        ng = len(a["grid_comm"])
        blk_poly = shapely.polygons(
            fine_ll[
                np.stack([a["blk_j"], a["blk_j"], a["blk_j"] + 1, a["blk_j"] + 1], 1),
                np.stack([a["blk_i"], a["blk_i"] + 1, a["blk_i"] + 1, a["blk_i"]], 1),
            ]
        )
        order = np.argsort(a["blk_grid"], kind="stable")
        bounds = np.searchsorted(a["blk_grid"][order], np.arange(ng + 1))
        grid_poly = np.array(
            [
                shapely.coverage_union_all(blk_poly[order[bounds[g] : bounds[g + 1]]])
                for g in range(ng)
            ],
            dtype=object,
        )
        grid_code = np.array(
            [f"{comm_code[c]}{s:03d}" for c, s in zip(a["grid_comm"], a["grid_seq"], strict=True)],
            dtype=object,
        )
        grid_order = np.argsort(grid_code, kind="stable")
        a["grid_code"] = grid_code
        grid_df = pd.DataFrame(
            {
                "code": str_column(grid_code[grid_order]),
                "name": str_column(
                    [f"{comm_name[a['grid_comm'][g]]}第{a['grid_seq'][g]}网格" for g in grid_order]
                ),
                "community_code": str_column([comm_code[a["grid_comm"][g]] for g in grid_order]),
                "kind": str_column(["base"] * ng),
            }
        )
        out["grid"] = gpd.GeoDataFrame(grid_df, geometry=multi(grid_poly[grid_order]), crs=WGS84)

        # ---- buildings
        bld = a["bld"]
        nbld = len(bld["blk"])
        b_est = take_str(list(est_name), bld["blk"])
        bld_df = pd.DataFrame(
            {
                "id": np.arange(1, nbld + 1, dtype=np.int64),
                "name": str_column(join_str(b_est, int_str(bld["number"]), "幢")),
                "estate_code": str_column(take_str(list(est_code), bld["blk"])),
                "use": str_column(bld["use"]),
                "floors": bld["floors"],
                "units": bld["units"],
            }
        )
        out["building"] = gpd.GeoDataFrame(
            bld_df, geometry=shapely.polygons(lonlat(a["bld_ring"])), crs=WGS84
        )

        # ---- households
        nh = self.households
        hh_order = np.lexsort((a["hh_room"], a["hh_unit"], a["hh_bld"]))
        if not np.array_equal(hh_order, np.arange(nh)):
            raise RuntimeError("households are expected in building order")
        out["household"] = pd.DataFrame(
            {
                "id": np.arange(1, nh + 1, dtype=np.int64),
                "building_id": a["hh_bld"].astype(np.int64) + 1,
                "unit": a["hh_unit"].astype(np.int64),
                "room": str_column(int_str(a["hh_room"])),
                "size": a["hh_size"].astype(np.int64),
            }
        )

        # ---- residents
        res = a["res"]
        nr = len(res["hh"])
        out["resident"] = pd.DataFrame(
            {
                "id": np.arange(1, nr + 1, dtype=np.int64),
                "household_id": res["hh"].astype(np.int64) + 1,
                "birth_year": res["birth"].astype("datetime64[Y]").astype(np.int64) + 1970,
                "sex": str_column(pc.if_else(pa.array(res["male"]), "M", "F")),
                "living_alone_elderly": res["alone"],
                "disabled": res["disabled"],
                "mobility_impaired": res["mobility"],
                "low_income": res["low"],
                "name": str_column(res["name"]),
                "id_number": str_column(res["id_number"]),
                "phone": str_column(res["phone"]),
            }
        )

        # ---- facilities and shelters
        fac = a["fac"]
        nf = len(fac["blk"])
        fcomm = fac["blk"] // 9
        kinds = fac["kind"]
        fname = []
        for i in range(nf):
            place = comm_place[fcomm[i]]
            kind = kinds[i]
            if kind == "community_centre":
                fname.append(f"{comm_name[fcomm[i]]}党群服务中心")
            elif kind == "clinic":
                fname.append(f"{comm_name[fcomm[i]]}卫生服务站")
            elif kind == "elder_care":
                fname.append(f"{comm_name[fcomm[i]]}居家养老服务照料中心")
            elif kind == "park":
                fname.append(f"{place}公园")
            elif kind == "school":
                fname.append(school_name[fac["blk"][i]])
            elif fac["shelter_class"][i] == "emergency":
                fname.append(f"{place}公园紧急避难场所")
            else:
                fname.append(f"{school_name[fac['blk'][i]]}固定避难场所")
        fac_df = pd.DataFrame(
            {
                "id": np.arange(1, nf + 1, dtype=np.int64),
                "kind": str_column(kinds),
                "name": str_column(fname),
                "capacity": fac["capacity"].astype(np.int64),
            }
        )
        fac_xy = lonlat(fac["xy"])
        out["facility"] = gpd.GeoDataFrame(fac_df, geometry=shapely.points(fac_xy), crs=WGS84)
        sh = np.flatnonzero(kinds == "shelter")
        zone_poly = np.empty(len(sh), dtype=object)
        zones = fac["zone"][sh].astype(np.int64)
        for i, z in enumerate(zones):
            if z >= 0:
                zone_poly[i] = comm_poly[z]
            else:
                zone_poly[i] = shapely.coverage_union_all(comm_poly[a["comm_zone"] == -1 - z])
        out["shelter"] = gpd.GeoDataFrame(
            {
                "facility_id": (sh + 1).astype(np.int64),
                "shelter_class": str_column(fac["shelter_class"][sh]),
                "area_m2": fac["area_m2"][sh].astype(float),
                "occupancy": np.zeros(len(sh), dtype=np.int64),
            },
            geometry=multi(zone_poly),
            crs=WGS84,
        )

        # ---- roads
        road = a["road"]
        node_ll = lonlat(road["nodes"])
        src, dst = road["src"], road["dst"]
        out["road_node"] = gpd.GeoDataFrame(
            {"id": np.arange(1, len(node_ll) + 1, dtype=np.int64)},
            geometry=shapely.points(node_ll),
            crs=WGS84,
        )
        seg = np.stack([node_ll[src], node_ll[dst]], axis=1)
        _, _, length = Geod(ellps="WGS84").inv(
            seg[:, 0, 0], seg[:, 0, 1], seg[:, 1, 0], seg[:, 1, 1]
        )
        cls = road["class"]
        named = road["name_idx"] >= 0
        names = pc.if_else(
            pa.array(named),
            take_str(a["road_names"], np.maximum(road["name_idx"], 0)),
            pa.scalar(None, pa.string()),
        )
        out["road_edge"] = gpd.GeoDataFrame(
            {
                "id": np.arange(1, len(src) + 1, dtype=np.int64),
                "source": src.astype(np.int64) + 1,
                "target": dst.astype(np.int64) + 1,
                "name": str_column(names),
                "road_class": str_column(cls),
                "length_m": np.asarray(length, dtype=float),
                "walkable": np.ones(len(src), dtype=bool),
                "drivable": np.ones(len(src), dtype=bool),
                "oneway": road["oneway"],
                "walk_speed_mps": np.full(len(src), 1.2),
                "drive_speed_kmh": np.select(
                    [cls == "arterial", cls == "branch"], [50.0, 30.0], 15.0
                ),
            },
            geometry=shapely.linestrings(seg),
            crs=WGS84,
        )

        # ---- users, workers, assignments
        nw = len(a["worker_on_duty"])
        worker_user = [f"gw{c}" for c in grid_code] + (["gw_standby01"] if nw > ng else [])
        worker_name = a["worker_name"].to_pylist()
        staff_n = rng.integers(1, 3, n)
        staff_user, staff_area = [], []
        for c in range(n):
            for j in range(staff_n[c]):
                staff_user.append(f"cs{comm_code[c]}{'ab'[j]}")
                staff_area.append(comm_code[c])
        ns_ = len(street_code)
        nru = a["n_res_users"]
        res_user = [f"resident{i:05d}" for i in range(1, nru + 1)]
        other_names = person_names(
            rng,
            rng.random(1 + ns_ + len(staff_user) + nru) < 0.5,
            np.zeros(1 + ns_ + len(staff_user) + nru, bool),
        ).to_pylist()
        out["app_user"] = pd.DataFrame(
            {
                "username": str_column(
                    [
                        "admin",
                        *(f"ss{c}" for c in street_code),
                        *staff_user,
                        *worker_user,
                        *res_user,
                    ]
                ),
                "display_name": str_column(
                    [
                        "系统管理员",
                        *other_names[1 : 1 + ns_ + len(staff_user)],
                        *worker_name,
                        *other_names[1 + ns_ + len(staff_user) :],
                    ]
                ),
                "role": str_column(
                    ["admin"]
                    + ["street_staff"] * ns_
                    + ["community_staff"] * len(staff_user)
                    + ["grid_worker"] * nw
                    + ["resident"] * nru
                ),
                "area_code": str_column([None, *street_code, *staff_area] + [None] * (nw + nru)),
            }
        )
        # workers in grid-code order
        worker_of_grid = np.empty(ng, dtype=np.int64)
        worker_of_grid[grid_order] = np.arange(ng)
        w_order = np.r_[grid_order, np.arange(ng, nw)]
        out["grid_worker"] = pd.DataFrame(
            {
                "id": np.arange(1, nw + 1, dtype=np.int64),
                "username": str_column([worker_user[i] for i in w_order]),
                "name": str_column([worker_name[i] for i in w_order]),
                "phone": str_column(a["worker_phone"].take(pa.array(w_order))),
                "max_open_tasks": np.full(nw, 20, dtype=np.int64),
                "on_duty": a["worker_on_duty"][w_order],
            }
        )[["id", "username", "name", "phone", "on_duty", "max_open_tasks"]]
        backup = a["grid_backup"]
        backup_worker = np.where(backup >= ng, ng, worker_of_grid[np.minimum(backup, ng - 1)])
        out["grid_assignment"] = pd.DataFrame(
            {
                "worker_id": np.c_[worker_of_grid, backup_worker][grid_order].ravel() + 1,
                "grid_code": str_column(np.repeat(grid_code[grid_order], 2)),
                "role": str_column(np.tile(["primary", "backup"], ng)),
            }
        )

        # ---- incidents
        self._incident_frames(
            worker_of_grid, worker_user, staff_user, res_user, comm_code, est_name, school_name
        )

    def _incident_frames(
        self,
        worker_of_grid: np.ndarray,
        worker_user: list[str],
        staff_user: list[str],
        res_user: list[str],
        comm_code: list[str],
        est_name: np.ndarray,
        school_name: dict[int, str],
    ) -> None:
        """The incident and incident_event layers."""
        rng, a, inc = self.rng, self.a, self.a["inc"]
        n = len(inc["t"])
        codes = inc["codes"]
        # reporters and assignees
        primary = worker_of_grid[inc["grid"]]  # worker row (grid-code order) of the grid
        assignee = pd.array(np.where(inc["dispatched"], primary + 1, 0), dtype="Int64")
        assignee[~inc["dispatched"]] = pd.NA
        worker_names = np.array(worker_user, dtype=object)
        grid_worker_user = worker_names[inc["grid"]]
        res_pick = np.array(res_user, dtype=object)[rng.integers(0, len(res_user), n)]
        reporter = np.where(
            inc["source"] == 0, grid_worker_user, np.where(inc["source"] == 1, res_pick, None)
        )
        comm = inc["blk"] // 9
        staff_of = {}
        for u in staff_user:
            staff_of.setdefault(u[2:14], u)
        staff = np.array([staff_of[comm_code[c]] for c in range(len(comm_code))], dtype=object)[
            comm
        ]

        # descriptions: a place, then a per-category phrase
        place = np.array(list(est_name), dtype=object)
        suffixes = [DESCRIPTIONS[c] for c in codes]
        tmpl = np.array([len(s) for s in suffixes])[inc["cat"]]
        pick = (rng.random(n) * tmpl).astype(np.int64)
        flat = [s for ss in suffixes for s in ss]
        offs = np.cumsum([0] + [len(s) for s in suffixes])[:-1]
        phrase = take_str(flat, offs[inc["cat"]] + pick)
        bld = a["bld"]
        bld_names = join_str(take_str(list(place), bld["blk"]), int_str(bld["number"]), "幢")
        on_bld = inc["bld"] >= 0
        on_road = inc["side"] >= 0
        road_name = take_str(
            a["road_names"],
            a["blk_side_name"][inc["blk"], np.maximum(inc["side"], 0)],
        )
        blk_place = take_str(list(place), inc["blk"])
        spot_label = take_str(
            [HOTSPOT_LABEL[k] for k in inc["spot_kind"]] + [""],
            np.where(inc["spot"] >= 0, inc["spot"], len(inc["spot_kind"])),
        )
        loc = pc.if_else(
            pa.array(on_bld),
            bld_names.take(pa.array(np.maximum(inc["bld"], 0))),
            pc.if_else(
                pa.array(on_road),
                join_str(road_name, "（", blk_place, "旁）"),
                join_str(blk_place, spot_label),
            ),
        )
        description = join_str(loc, phrase)

        times, active = inc["times"], inc["active"]
        inc_df = pd.DataFrame(
            {
                "id": np.arange(1, n + 1, dtype=np.int64),
                "category_code": str_column(np.array(codes, dtype=object)[inc["cat"]]),
                "source": str_column(np.array(SOURCES, dtype=object)[inc["source"]]),
                "description": str_column(description),
                "state": str_column(inc["state"]),
                "reported_at": local_times(times[:, 0]),
                "deadline": local_times(inc["deadline"]),
                "closed_at": local_times(inc["closed"]),
                "assignee_id": assignee,
                "reporter_username": str_column(reporter),
                "rating": pd.array(np.where(inc["rating"] > 0, inc["rating"], None), dtype="Int64"),
            }
        )
        self.layers["incident"] = gpd.GeoDataFrame(
            inc_df, geometry=shapely.points(lonlat(inc["xy"])), crs=WGS84
        )

        # events: every active step in order; the rejection replaces registration
        rows, steps = np.nonzero(active)
        to_state = np.array(PATH, dtype=object)[steps]
        rej = inc["rejected"][rows] & (steps == 1)
        to_state[rej] = "rejected"
        first = np.r_[True, rows[1:] != rows[:-1]][: len(rows)]
        from_state = np.empty(len(rows), dtype=object)
        from_state[1:] = to_state[:-1]
        from_state[first] = None
        src = inc["source"][rows]
        worker_u = grid_worker_user[rows]
        staff_u = staff[rows]
        reporter_u = reporter[rows].astype(object)
        actor = np.full(len(rows), "system", dtype=object)
        first_actor = np.where(src == 2, "system", reporter_u)
        actor[steps == 0] = first_actor[steps == 0]
        staff_step = np.isin(steps, [1, 2, 6, 9, 10])
        actor[staff_step] = staff_u[staff_step]
        work_step = np.isin(steps, [3, 5, 7, 8])
        actor[work_step] = worker_u[work_step]
        rate_app = (steps == 11) & (src == 1)
        actor[rate_app] = reporter_u[rate_app]
        m = len(rows)
        note = np.full(m, None, dtype=object)
        note[(steps == 0) & (src == 2)] = "12345热线转办"
        note[rej] = np.array(REJECT_NOTES, dtype=object)[rng.integers(0, 3, rej.sum())]
        ret = steps == 6
        note[ret] = np.array(RETURN_NOTES, dtype=object)[rng.integers(0, 2, ret.sum())]
        note[steps == 4] = "超期督办"
        res_step = np.isin(steps, [5, 8])
        note[res_step] = np.array(RESOLVE_NOTES, dtype=object)[rng.integers(0, 3, res_step.sum())]
        note[(steps == 11) & (src == 2)] = "12345回访评价"
        self.layers["incident_event"] = pd.DataFrame(
            {
                "incident_id": (rows + 1).astype(np.int64),
                "from_state": str_column(from_state),
                "to_state": str_column(to_state),
                "at": local_times(times[rows, steps]),
                "actor": str_column(actor),
                "note": str_column(note),
            }
        )


def generate_district(
    households: int = 20_000,
    seed: int = 42,
    *,
    progress: bool = True,
    incidents_per_household: float = 0.3,
    months: int = 6,
    end: datetime | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate a sample district with exactly ``households`` households.

    Parameters
    ----------
    households
        Number of households (户); communities, grids, buildings and everything else
        scale with it (about 1,900 households per community).
    seed
        Seed of ``numpy.random.default_rng``; the output is deterministic for
        ``(households, seed, end)`` and the other arguments.
    progress
        Show a tqdm progress bar.
    incidents_per_household
        Incidents over the whole window per household.
    months
        Length of the incident window, in calendar months ending at ``end``.
    end
        End of the incident window (naive times are Asia/Shanghai); defaults to the start
        of the current hour by :mod:`gis.clock`, so that the district's cases are of today.
        Pass a fixed end (e.g. :data:`DEFAULT_END`) for output that does not depend on the
        day it is made.

    Returns
    -------
    dict of str to pandas.DataFrame
        The layers in :data:`LAYERS` order: GeoDataFrames in EPSG:4326 (geometry column
        ``geometry``) for admin_area, grid, building, facility, shelter, road_node,
        road_edge and incident; plain DataFrames for the others.
    """
    if households < 1:
        raise ValueError("households must be at least 1")
    if months < 1:
        raise ValueError("months must be at least 1")
    district = _District(
        households=int(households),
        rng=np.random.default_rng(seed),
        end=end_timestamp(end),
        months=int(months),
        incidents_per_household=float(incidents_per_household),
    )
    stages = (
        district.layout,
        district.grids,
        district.estates,
        district.buildings,
        district.households_,
        district.residents,
        district.identities,
        district.facilities,
        district.roads,
        district.people,
        district.incidents,
        district.frames,
    )
    with tqdm(total=len(stages), desc="sample district", disable=not progress) as bar:
        for name, stage in zip(STEPS, stages, strict=True):
            bar.set_postfix_str(name)
            stage()
            bar.update()
    return {name: district.layers[name] for name in LAYERS}
