"""The p-median as arrays (demand merged, fixed sites settled) and its radius-formulation MIP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from analysis.location.base import (
    EMPTY,
    BoolArray,
    FloatArray,
    IntArray,
    MipResult,
    Pairs,
    SiteSets,
    merge_identical_rows,
    solve_mip,
)


@dataclass(frozen=True, eq=False)
class MedianProblem:
    """A p-median after settling fixed sites and merging identical demand.

    ``pairs`` hold the representatives' pairs with free sites that beat their cap, rows
    renumbered to groups and columns to model columns, sorted by (group, time).  The
    cap of a group is what it walks when no new site is nearer: the nearest fixed site,
    ``unserved_s``, or infinity (must be served).
    """

    group_of: IntArray
    group_w: FloatArray
    cap: FloatArray
    row: IntArray
    col: IntArray
    value: FloatArray
    rank: IntArray  # distinct-time rank of each pair within its group, from 1
    n_ranks: IntArray  # per group
    site_of_col: IntArray
    offset: float  # weighted walk of demand with no free site to gain from
    must_serve: bool
    penalty: float
    dense: FloatArray  # group × column times, cap where not reachable (big M when inf)
    big: float
    uncoverable: IntArray

    @property
    def n_groups(self) -> int:
        """Number of merged demand groups."""
        return len(self.group_w)

    @property
    def n_cols(self) -> int:
        """Number of model columns (free candidate sites that can shorten a walk)."""
        return len(self.site_of_col)

    @classmethod
    def build(
        cls, pairs: Pairs, w: FloatArray, sites: SiteSets, penalty: float | None
    ) -> MedianProblem:
        """The problem of a p-median's checked inputs (``penalty``: ``unserved_s``)."""
        n_demand = pairs.n_rows
        allowed = pairs.subset(sites.allowed[pairs.col])
        if penalty is not None:
            allowed = allowed.subset(allowed.value <= penalty)
        coverable = np.zeros(n_demand, dtype=bool)
        coverable[allowed.row] = True
        uncoverable = np.flatnonzero((w > 0) & ~coverable)
        need = (w > 0) & coverable
        fixed_t = np.full(n_demand, np.inf)
        fp = allowed.subset(sites.is_fixed[allowed.col])
        np.minimum.at(fixed_t, fp.row, fp.value)
        cap_demand = np.minimum(fixed_t, np.inf if penalty is None else penalty)
        # free pairs that beat the cap
        fr = allowed.subset(sites.is_free[allowed.col] & need[allowed.row])
        fr = fr.subset(fr.value < cap_demand[fr.row])
        has_free = np.zeros(n_demand, dtype=bool)
        has_free[fr.row] = True
        settled = need & ~has_free  # walks its cap whatever is opened
        offset = float((w[settled] * cap_demand[settled]).sum())
        model = need & has_free
        groups = merge_identical_rows(fr, np.flatnonzero(model), cap_demand)
        group_w = np.bincount(
            groups.group_of[model], weights=w[model], minlength=groups.n_groups
        ).astype(np.float64)
        rep = fr.subset(groups.is_representative[fr.row])
        g = groups.group_of[rep.row]
        site_of_col, col = np.unique(rep.col, return_inverse=True)
        col = col.ravel().astype(np.int64)
        value = rep.value  # (group, time, column) order: groups number rows in order
        new_level = np.ones(len(g), dtype=bool)
        new_level[1:] = (g[1:] != g[:-1]) | (value[1:] != value[:-1])
        level = np.cumsum(new_level)
        first_level_of_group = np.zeros(groups.n_groups, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]]) if len(g) else EMPTY
        first_level_of_group[g[starts]] = level[starts]
        rank = level - first_level_of_group[g] + 1
        n_ranks = np.zeros(groups.n_groups, dtype=np.int64)
        np.maximum.at(n_ranks, g, rank)
        cap_g = np.full(groups.n_groups, np.inf)
        reps = np.flatnonzero(groups.is_representative)
        cap_g[groups.group_of[reps]] = cap_demand[reps]
        finite_t = value[np.isfinite(value)]
        big = 1000.0 * (float(finite_t.max()) + 1.0) if len(finite_t) else 1000.0
        dense = np.broadcast_to(
            np.where(np.isfinite(cap_g), cap_g, big)[:, None], (groups.n_groups, len(site_of_col))
        ).copy()
        dense[g, col] = value
        return cls(
            group_of=groups.group_of,
            group_w=group_w,
            cap=cap_g,
            row=g,
            col=col,
            value=value,
            rank=rank,
            n_ranks=n_ranks,
            site_of_col=site_of_col.astype(np.int64),
            offset=offset,
            must_serve=penalty is None,
            penalty=np.inf if penalty is None else float(penalty),
            dense=dense,
            big=big,
            uncoverable=uncoverable,
        )

    def walk(self, open_cols: BoolArray) -> FloatArray:
        """Per group: the time to the nearest open new site or the cap (big M if none)."""
        capped = np.where(np.isfinite(self.cap), self.cap, self.big)
        if not open_cols.any():
            return capped
        return np.minimum(self.dense[:, open_cols].min(axis=1), capped)

    def cost(self, open_cols: BoolArray) -> float:
        """True weighted walk of the model demand (inf when some must-serve group is not)."""
        walk = self.walk(open_cols)
        if np.any(walk >= self.big):
            return float("inf")
        return float(self.group_w @ walk) + self.offset

    def ranks_served(self, open_cols: BoolArray) -> IntArray:
        """Per group: the rank of its walk among its distinct times (all ranks if unserved)."""
        walk = self.walk(open_cols)
        at_or_before = self.value <= walk[self.row]
        ranks = np.ones(self.n_groups, dtype=np.int64)
        np.maximum.at(ranks, self.row[at_or_before], self.rank[at_or_before])
        unserved = walk >= np.where(np.isfinite(self.cap), self.cap, self.big)
        ranks[unserved] = self.n_ranks[unserved]
        return np.maximum(ranks, 1)

    def reduced(self, closed: BoolArray, forced: BoolArray) -> tuple[MedianProblem, IntArray]:
        """The problem without the ``closed`` columns and with the ``forced`` ones open.

        Forced columns become part of each group's cap (a walk always available); groups
        left with no column to gain from keep their place with weight 0, their walk
        moved into the offset.  Returns the problem and the original index of each kept
        column.
        """
        keep_cols = np.flatnonzero(~closed & ~forced)
        cap = np.where(np.isfinite(self.cap), self.cap, np.inf)
        if forced.any():
            via = np.full(self.n_groups, np.inf)
            hit = forced[self.col]
            np.minimum.at(via, self.row[hit], self.value[hit])
            cap = np.minimum(cap, via)
        new_col = np.full(self.n_cols, -1, dtype=np.int64)
        new_col[keep_cols] = np.arange(len(keep_cols))
        keep = (new_col[self.col] >= 0) & (self.value < cap[self.row])
        row, col, value = self.row[keep], new_col[self.col[keep]], self.value[keep]
        has_pair = np.zeros(self.n_groups, dtype=bool)
        has_pair[row] = True
        settled = ~has_pair
        with np.errstate(invalid="ignore"):
            offset = self.offset + float((self.group_w[settled] * cap[settled]).sum())
        group_w = np.where(has_pair, self.group_w, 0.0)
        new_level = np.ones(len(row), dtype=bool)
        new_level[1:] = (row[1:] != row[:-1]) | (value[1:] != value[:-1])
        level = np.cumsum(new_level)
        first_level = np.zeros(self.n_groups, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]]) if len(row) else EMPTY
        first_level[row[starts]] = level[starts]
        rank = level - first_level[row] + 1
        n_ranks = np.zeros(self.n_groups, dtype=np.int64)
        np.maximum.at(n_ranks, row, rank)
        capped = np.where(np.isfinite(cap), cap, self.big)
        dense = np.minimum(self.dense[:, keep_cols], capped[:, None])
        problem = MedianProblem(
            group_of=self.group_of,
            group_w=group_w,
            cap=cap,
            row=row,
            col=col,
            value=value,
            rank=rank,
            n_ranks=n_ranks,
            site_of_col=self.site_of_col[keep_cols],
            offset=offset,
            must_serve=self.must_serve,
            penalty=self.penalty,
            dense=dense,
            big=self.big,
            uncoverable=self.uncoverable,
        )
        return problem, keep_cols

    def solve_radius(
        self,
        ranks: IntArray,
        p: int,
        start_cols: BoolArray,
        start_cost: float,
        deadline: float,
        mip_gap: float,
        threads: int | None,
    ) -> MipResult:
        """Solve the radius formulation truncated at ``ranks`` (a relaxation; exact when wide)."""
        keep = self.rank <= ranks[self.row]
        row, col, value, rank = self.row[keep], self.col[keep], self.value[keep], self.rank[keep]
        first_of_level = np.ones(len(row), dtype=bool)
        first_of_level[1:] = (row[1:] != row[:-1]) | (rank[1:] != rank[:-1])
        lv = np.flatnonzero(first_of_level)
        lv_row, lv_rank, lv_time = row[lv], rank[lv], value[lv]
        n_lv = len(lv)
        level_of_pair = np.cumsum(first_of_level) - 1
        # next distinct time of each kept level (from all levels of the group), or the cap
        all_first = np.ones(len(self.row), dtype=bool)
        all_first[1:] = (self.row[1:] != self.row[:-1]) | (self.rank[1:] != self.rank[:-1])
        all_lv = np.flatnonzero(all_first)
        next_time = np.full(len(all_lv), np.nan)
        same = self.row[all_lv[1:]] == self.row[all_lv[:-1]]
        next_time[:-1][same] = self.value[all_lv[1:]][same]
        last = np.isnan(next_time)
        next_time[last] = self.cap[self.row[all_lv[last]]]
        # map kept levels to all levels: both are ordered by (group, rank)
        group_first_all = np.searchsorted(self.row[all_lv], np.arange(self.n_groups))
        nxt = next_time[group_first_all[lv_row] + lv_rank - 1]
        at_end = ~np.isfinite(nxt)  # must-serve groups at their last rank: z = 0
        coef = np.where(at_end, 0.0, nxt - lv_time) * self.group_w[lv_row]
        n_y = self.n_cols
        z_col = n_y + np.arange(n_lv)
        prev = np.flatnonzero(lv_rank > 1)
        r = np.concatenate([level_of_pair, np.arange(n_lv), prev, np.full(n_y, n_lv)])
        c = np.concatenate([col, z_col, z_col[prev - 1], np.arange(n_y)])
        v = np.concatenate([np.ones(len(col)), np.ones(n_lv), -np.ones(len(prev)), np.ones(n_y)])
        a = sparse.csc_matrix((v, (r, c)), shape=(n_lv + 1, n_y + n_lv))
        first_time = np.zeros(self.n_groups)
        first_time[lv_row[lv_rank == 1]] = lv_time[lv_rank == 1]
        offset = float(self.group_w @ first_time) + self.offset
        col_upper = np.ones(n_y + n_lv)
        col_upper[n_y:][at_end] = 0.0
        start = None
        if np.isfinite(start_cost):
            walk = self.walk(start_cols)
            z0 = (walk[lv_row] > lv_time).astype(np.float64)
            start = np.concatenate([start_cols.astype(np.float64), z0])
        return solve_mip(
            cost=np.concatenate([np.zeros(n_y), coef]),
            col_lower=np.zeros(n_y + n_lv),
            col_upper=col_upper,
            integral=np.concatenate([np.ones(n_y, dtype=bool), np.zeros(n_lv, dtype=bool)]),
            a=a,
            row_lower=np.concatenate([(lv_rank == 1).astype(np.float64), [-np.inf]]),
            row_upper=np.concatenate([np.full(n_lv, np.inf), [float(p)]]),
            maximize=False,
            offset=offset,
            deadline=deadline,
            mip_gap=mip_gap,
            start=start,
            threads=threads,
        )
