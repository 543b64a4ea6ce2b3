"""Six months of incidents (事件) in the sample district, with their full histories."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from etl.sample.buildings import Buildings
from etl.sample.constants import (
    CATEGORY_MIX,
    COMMUNITY_SIDE_M,
    DAY,
    DAY_W,
    HOLIDAYS,
    HOTSPOT_MIX,
    HOTSPOT_SHARE,
    HOUR,
    HOUR_W,
    MARKET,
    MINUTE,
    OLD,
    PATH,
    RATING_P,
    RATING_P_BAD,
    SOURCE_P,
    SOURCES,
)
from etl.sample.helpers import BoolArray, FloatArray, IntArray, StrArray, bilinear
from etl.sample.layout import Blocks, Estates, Grids, Layout
from etl.sample.population import Population
from grids.categories import DEFAULT_CATEGORIES


@dataclass(frozen=True)
class History:
    """Times of every step of :data:`PATH` per incident, cut at the end of the window."""

    times: FloatArray  # (incidents, steps): epoch seconds, NaN where a step is skipped
    active: BoolArray  # (incidents, steps): the step happened before the end
    state: StrArray  # state at the end
    rejected: BoolArray  # rejected at registration
    deadline: FloatArray  # dispatch plus the time limit (epoch seconds), NaN until dispatch
    closed: FloatArray  # closing time (epoch seconds), NaN while open
    rating: IntArray  # 1–5, 0 when not rated
    dispatched: BoolArray


@dataclass(frozen=True)
class Incidents:
    """Incidents in time order: when, from which source, what, where, and their histories."""

    t: IntArray  # report time, epoch seconds
    source: IntArray  # index in SOURCES
    cat: IntArray  # index in ``codes``
    codes: list[str]  # category codes of CATEGORY_MIX
    blk: IntArray  # block of each incident
    xy: FloatArray  # (incidents, 2): location, metres
    bld: IntArray  # building of incidents at a building, -1 otherwise
    side: IntArray  # side of the block of incidents on a road verge, -1 otherwise
    spot: IntArray  # hotspot of each incident, -1 otherwise
    spot_kind: list[str]  # kind of each hotspot (market, old_estate, school_gate, construction)
    grid: IntArray  # grid of each incident
    limit: IntArray  # time limit of the category, seconds
    history: History


def draw_incidents(
    layout: Layout,
    blocks: Blocks,
    grids: Grids,
    estates: Estates,
    buildings: Buildings,
    population: Population,
    *,
    end: pd.Timestamp,
    months: int,
    incidents_per_household: float,
    rng: np.random.Generator,
) -> Incidents:
    """Incidents with times, categories, places, hotspots and full histories."""
    n_households = len(population.households.blk)
    n = round(n_households * incidents_per_household)
    end_s = int(end.timestamp())
    start = end - pd.DateOffset(months=months)
    day0 = start.normalize()
    n_days = math.ceil((end - day0) / pd.Timedelta(days=1))
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

    nb = len(blocks.quad)
    prog, style = blocks.prog, buildings.estate_style
    spots: list[tuple[str, int, float, float]] = []  # kind, block, u, v
    k_spots = max(3, round(layout.n_comm / 2))
    ug, vm = estates.lane_uv[:, 0], estates.lane_uv[:, 1]
    for b in rng.permutation(np.flatnonzero((prog == MARKET).any(1)))[: max(1, k_spots // 3)]:
        u, v = estates.uv(np.array([b]), estates.region[b, 1, :2].mean(keepdims=True), np.zeros(1))
        spots.append(("market", int(b), float(u[0]), float(v[0]) * 0.5))
    old = np.flatnonzero((style == OLD) & blocks.is_estate & (grids.block_hh > 0))
    for b in rng.permutation(old)[: max(1, k_spots // 3)]:
        spots.append(("old_estate", int(b), float(ug[b]), float(vm[b])))
    for b in rng.permutation(np.flatnonzero(blocks.comm_school >= 0))[: max(1, k_spots // 6)]:
        sb = int(blocks.comm_school[b])
        spots.append(("school_gate", sb, float(ug[sb]), float(estates.inset[sb, 2]) * 0.5))
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
    bld = buildings
    households, residents = population.households, population.residents
    on_bld = place_bld[cat] & ~hot
    idx = np.flatnonzero(on_bld)
    hh_pick = rng.integers(0, n_households, len(idx))
    lift = codes.index("30402")
    care = codes.index("30301")
    tall = np.flatnonzero(bld.floors[households.bld] >= 8)
    lonely = np.unique(residents.hh[residents.alone])
    for code_i, pool in ((lift, tall), (care, lonely)):
        m = cat[idx] == code_i
        if len(pool) and m.any():
            hh_pick[m] = pool[rng.integers(0, len(pool), m.sum())]
    bi = households.bld[hh_pick]
    fu, fv = rng.uniform(0.1, 0.9, (2, len(idx)))
    u0, u1, v0, v1 = bld.uv[bi].T
    blk[idx], u[idx], v[idx] = bld.blk[bi], u0 + fu * (u1 - u0), v0 + fv * (v1 - v0)
    inc_bld = np.full(n, -1)
    inc_bld[idx] = bi
    # road verge: a side of a block, inside the setback from the road centreline
    idx = np.flatnonzero(~on_bld & ~hot)
    bw = 1.0 + grids.block_hh / 100.0
    rb = rng.choice(nb, len(idx), p=bw / bw.sum())
    side = rng.integers(0, 4, len(idx))
    along = rng.uniform(0.05, 0.95, len(idx))
    depth = rng.uniform(0.05, 0.9, len(idx)) * estates.inset[rb, np.array([2, 3, 0, 1])[side]]
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
    xy = bilinear(blocks.quad[blk], u, v)

    # order by time; ids follow
    order = np.argsort(t, kind="stable")
    t, source, cat, blk, xy = t[order], source[order], cat[order], blk[order], xy[order]
    inc_bld, side_all, spot = inc_bld[order], side_all[order], spot[order]
    limit_h = {c.code: c.time_limit_hours for c in DEFAULT_CATEGORIES}
    limit = np.array([limit_h[c] for c in codes])[cat] * HOUR
    grid = grids.block_grid[blk]
    return Incidents(
        t=t,
        source=source,
        cat=cat,
        codes=codes,
        blk=blk,
        xy=xy,
        bld=inc_bld,
        side=side_all,
        spot=spot,
        spot_kind=[s[0] for s in spots],
        grid=grid,
        limit=limit,
        history=draw_histories(t, source, limit, end_s, rng),
    )


def draw_histories(
    t: IntArray, source: IntArray, limit: IntArray, end_s: int, rng: np.random.Generator
) -> History:
    """Event times along the incident path, cut at ``end``, and the final states."""
    n = len(t)
    src = source
    t0 = t.astype(float)
    n_steps = len(PATH)
    times = np.full((n, n_steps), np.nan)
    times[:, 0] = t0

    def logn(median: Any, sigma: float) -> np.ndarray:
        return np.asarray(median) * np.exp(rng.normal(0, sigma, n))

    # registration: patrol minutes; app / hotline next working hours when off hours
    local_h = ((t + 8 * HOUR) // HOUR) % 24
    reg = np.where(src == 0, rng.uniform(2, 30, n) * MINUTE, logn(40 * MINUTE, 0.6))
    off = (src > 0) & ((local_h < 8) | (local_h >= 20))
    day_start = (t + 8 * HOUR) // DAY * DAY - 8 * HOUR
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
    return History(
        times=times,
        active=active,
        state=state,
        rejected=rejected,
        deadline=np.where(dispatched, times[:, 2] + limit, np.nan),
        closed=np.where(active[:, 10], times[:, 10], np.nan),
        rating=rating,
        dispatched=dispatched,
    )
