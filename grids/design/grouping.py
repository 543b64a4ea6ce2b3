r"""Grouping bricks into grids: connected, compact parts of balanced households, by local search.

Method
------
3. **The brick graph.**  Two bricks are neighbours when they share an edge of positive
   length (touching at a corner is not enough: a grid must be walkable inside).  Shared
   lengths are measured in a local metric CRS (UTM, :func:`gis.coords.local_metric_crs_for`).
   Because the bricks tile the community, the perimeter of any union of bricks is
   ``sum(perimeters) - 2 * sum(shared lengths inside)``: the Polsby-Popper compactness
   ``4πA/P²`` of a candidate grid is known exactly without building its polygon.

4. **Partition.**  Bricks heavier than ``max_households`` (after step 2: buildings that
   cannot be separated) become single-brick grids (reported in
   :attr:`Design.heavy_blocks`).  A connected component of the remaining bricks lighter
   than ``min_households`` that touches such a brick joins it (a grid of 4 households
   beside a tower is worse than a tower a little heavier), unless a number of grids is
   asked for.  Each other component is
   split into ``k`` connected parts for each ``k`` from
   ``ceil(H / max_households)`` to ``floor(H / min_households)`` (at most four values;
   or into the requested number), minimising

   .. math::

       F = \sum_g \Big[ w_b\, b_g^2 + w_h \big(\tfrac{H_g - \bar H}{M - m}\big)^2
           + w_c (1 - PP_g) \Big] + w_s \frac{C}{\sqrt{A}}

   (:math:`b_g`: distance of the grid's households :math:`H_g` from the band
   :math:`[m, M]` over its width; :math:`\bar H`: the mean; :math:`PP_g`: its
   Polsby-Popper score; :math:`C`: the length of grid boundaries that follow lanes
   rather than streets; :math:`A`: the area of the component, both in metres).  The band
   term dominates (:math:`w_b = 100`), then balance (4), compactness (2) and road
   following (1); see :class:`DesignWeights`.

   * *Starts.*  Region growing from ``k`` seeds picked by farthest-point sampling from
     each of the outermost bricks (the lightest part takes the unassigned neighbouring
     brick nearest its centre), and the same on the graph of whole street blocks, whose
     best partition is then refined brick by brick.
   * *Local search.*  A brick on the edge of a part moves to a neighbouring part when
     that lowers :math:`F` and leaves its old part connected (breadth-first search).  The
     change of :math:`F` for every possible move is computed at once with numpy (areas,
     perimeters and households of the two parts are updated from the brick's shared
     edge lengths); the best connected improving move is applied until none is left.
   * *Iterated local search.*  The best partition is perturbed by one to three random
     connected moves and searched again, ``rounds`` times, keeping any improvement.  The
     generator is seeded with the number of bricks and ``k``, so the same input always
     gives the same grids.

   Among the ``k`` values, the one with the fewest grids outside the band wins, then the
   smallest excess, then the lowest objective per grid.

   Why a heuristic rather than an exact model: contiguity needs flow or cut constraints
   whose number grows with the bricks, and the compactness term is not linear.  A
   community has tens to a few hundred bricks; this search reaches the band whenever the
   bricks allow it, in under a second (0.8 s for 400 bricks on one core).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components

from grids.design.blocks import _EPS, _Bricks
from grids.design.metrics import DesignError

_TOUCH_M = 1e-6
"""Bricks sharing less than this (metres) do not touch (guards against rounding residues)."""


@dataclass(frozen=True)
class DesignWeights:
    """Weights of the objective minimised by the local search (see the module docstring).

    Attributes
    ----------
    band
        Squared distance of a grid's households from the band, per band width.
    balance
        Squared distance of a grid's households from the mean, per band width.
    compactness
        ``1 - Polsby-Popper`` of each grid.
    split
        Length of grid boundaries along lanes inside a street block, per square root of
        the area (both in metres).
    """

    band: float = 100.0
    balance: float = 4.0
    compactness: float = 2.0
    split: float = 1.0


@dataclass
class _Graph:
    """A connected set of bricks, renumbered 0..n-1."""

    w: np.ndarray
    area: np.ndarray
    perim: np.ndarray
    xy: np.ndarray
    indptr: np.ndarray
    nbr: np.ndarray
    length: np.ndarray
    minor: np.ndarray
    src: np.ndarray  # directed edge sources (for vectorised deltas)
    group: np.ndarray  # connected street block (major block) of each brick, 0..m-1

    @property
    def n(self) -> int:
        return len(self.w)


def _graph(bricks: _Bricks, nodes: np.ndarray) -> _Graph:
    """The subgraph of ``nodes`` (positions into the bricks)."""
    ei, ej, elen, eminor = bricks.edges
    local = np.full(len(bricks.weight), -1)
    local[nodes] = np.arange(len(nodes))
    keep = (local[ei] >= 0) & (local[ej] >= 0)
    a, b = local[ei[keep]], local[ej[keep]]
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    ln = np.concatenate([elen[keep], elen[keep]])
    mn = np.concatenate([eminor[keep], eminor[keep]])
    order = np.lexsort((dst, src))
    src, dst, ln, mn = src[order], dst[order], ln[order], mn[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=len(nodes)))])
    # street blocks: connected bricks of one major block (connected, so that a partition
    # of the street blocks is a partition into connected sets of bricks)
    major = bricks.frame["major_block"].to_numpy()[nodes]
    inside = major[src] == major[dst]
    same = csr_matrix(
        (np.ones(int(inside.sum())), (src[inside], dst[inside])), shape=(len(nodes),) * 2
    )
    _, group = connected_components(same, directed=False)
    return _Graph(
        w=bricks.weight[nodes],
        area=bricks.area[nodes],
        perim=bricks.perimeter[nodes],
        xy=bricks.xy[nodes],
        indptr=indptr,
        nbr=dst,
        length=ln,
        minor=mn,
        src=src,
        group=_canonical(group),
    )


def _coarsen(g: _Graph) -> _Graph:
    """The graph of the street blocks: bricks of one major block merged into one node."""
    grp = g.group
    n = int(grp.max()) + 1
    area = np.bincount(grp, weights=g.area, minlength=n)
    inner = grp[g.src] == grp[g.nbr]
    perim = np.bincount(grp, weights=g.perim, minlength=n) - np.bincount(
        grp[g.src][inner], weights=g.length[inner], minlength=n
    )
    xy = (
        np.stack(
            [np.bincount(grp, weights=g.area * g.xy[:, d], minlength=n) for d in (0, 1)], axis=1
        )
        / np.maximum(area, _EPS)[:, None]
    )
    m = coo_matrix((g.length[~inner], (grp[g.src][~inner], grp[g.nbr][~inner])), shape=(n, n))
    m = m.tocsr()
    m.sum_duplicates()
    src, dst = m.nonzero()
    length = np.asarray(m[src, dst]).reshape(-1)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
    return _Graph(
        w=np.bincount(grp, weights=g.w, minlength=n),
        area=area,
        perim=perim,
        xy=xy,
        indptr=indptr,
        nbr=dst,
        length=length,
        minor=np.zeros(len(src)),
        src=src,
        group=np.arange(n),
    )


@dataclass
class _Problem:
    lo: float
    hi: float
    mean: float
    scale: float  # sqrt of the area, metres
    weights: DesignWeights

    def part_cost(self, h: np.ndarray, a: np.ndarray, p: np.ndarray) -> np.ndarray:
        width = max(self.hi - self.lo, 1.0)
        out = (np.maximum(self.lo - h, 0.0) + np.maximum(h - self.hi, 0.0)) / width
        bal = (h - self.mean) / width
        with np.errstate(divide="ignore", invalid="ignore"):
            pp = np.where(p > 0, 4.0 * math.pi * a / p**2, 0.0)
        w = self.weights
        return w.band * out**2 + w.balance * bal**2 + w.compactness * (1.0 - pp)


def _connected_without(g: _Graph, labels: np.ndarray, part: int, drop: int) -> bool:
    """Whether the bricks of ``part`` other than ``drop`` form one connected set."""
    members = np.flatnonzero(labels == part)
    members = members[members != drop]
    if len(members) <= 1:
        return len(members) == 1
    seen = {int(members[0])}
    queue = deque([int(members[0])])
    while queue:
        v = queue.popleft()
        for u in g.nbr[g.indptr[v] : g.indptr[v + 1]]:
            u = int(u)
            if u != drop and u not in seen and labels[u] == part:
                seen.add(u)
                queue.append(u)
    return len(seen) == len(members)


def _seeds(g: _Graph, k: int, start: int) -> list[int]:
    """``k`` bricks spread out by farthest-point sampling from ``start`` (heavy ones first)."""
    seeds = [start]
    d = np.hypot(*(g.xy - g.xy[start]).T)
    preferred = g.w > 0 if (g.w > 0).sum() >= k else np.ones(g.n, dtype=bool)
    while len(seeds) < k:
        cand = np.where(preferred, d, -1.0)
        cand[seeds] = -2.0
        nxt = int(np.argmax(cand))
        seeds.append(nxt)
        d = np.minimum(d, np.hypot(*(g.xy - g.xy[nxt]).T))
    return seeds


def _grow(g: _Graph, seeds: list[int]) -> np.ndarray:
    """Region growing: the lightest part takes the unassigned neighbour nearest its centre."""
    k = len(seeds)
    labels = np.full(g.n, -1)
    h = np.zeros(k)
    a = np.zeros(k)
    c = np.zeros((k, 2))
    for p, s in enumerate(seeds):
        labels[s] = p
        h[p], a[p] = g.w[s], g.area[s]
        c[p] = g.xy[s] * g.area[s]
    left = g.n - k
    while left:
        progressed = False
        for p in np.lexsort((np.arange(k), h)):
            members = np.flatnonzero(labels == p)
            cand = np.unique(
                np.concatenate([g.nbr[g.indptr[m] : g.indptr[m + 1]] for m in members])
            )
            cand = cand[labels[cand] < 0]
            if len(cand) == 0:
                continue
            centre = c[p] / max(a[p], _EPS)
            dist = np.hypot(*(g.xy[cand] - centre).T)
            b = int(cand[np.lexsort((cand, dist))[0]])
            labels[b] = p
            h[p] += g.w[b]
            a[p] += g.area[b]
            c[p] += g.xy[b] * g.area[b]
            left -= 1
            progressed = True
            break
        if not progressed:  # cannot happen on a connected graph
            raise DesignError("the bricks are not connected")
    return labels


def _improve(g: _Graph, labels: np.ndarray, k: int, prob: _Problem) -> tuple[np.ndarray, float]:
    """Local search: move edge bricks between parts while the objective falls."""
    labels = labels.copy()
    h = np.bincount(labels, weights=g.w, minlength=k)
    a = np.bincount(labels, weights=g.area, minlength=k)
    same = labels[g.src] == labels[g.nbr]
    p = np.bincount(labels, weights=g.perim, minlength=k) - np.bincount(
        labels[g.src][same], weights=g.length[same], minlength=k
    )  # each internal edge counted from both sides: -2 * length once
    count = np.bincount(labels, minlength=k)
    cost = prob.part_cost(h, a, p)
    # LB[b, t], MB[b, t]: shared and lane-shared length between brick b and part t
    lb = np.zeros((g.n, k))
    mb = np.zeros((g.n, k))
    np.add.at(lb, (g.src, labels[g.nbr]), g.length)
    np.add.at(mb, (g.src, labels[g.nbr]), g.minor)
    split_w = prob.weights.split / max(prob.scale, _EPS)
    rows = np.arange(g.n)
    for _ in range(50 * g.n + 100):
        s = labels
        ls, ms = lb[rows, s], mb[rows, s]
        # every (brick, neighbouring part) pair as a candidate move
        bb, tt = np.nonzero(lb > _TOUCH_M)
        move = (tt != s[bb]) & (count[s[bb]] > 1)
        bb, tt = bb[move], tt[move]
        if len(bb) == 0:
            break
        ss = s[bb]
        wb, ab, pb = g.w[bb], g.area[bb], g.perim[bb]
        hs, as_, ps = h[ss] - wb, a[ss] - ab, p[ss] - pb + 2 * ls[bb]
        ht, at, pt = h[tt] + wb, a[tt] + ab, p[tt] + pb - 2 * lb[bb, tt]
        delta = (
            prob.part_cost(hs, as_, ps)
            + prob.part_cost(ht, at, pt)
            - cost[ss]
            - cost[tt]
            + split_w * (ms[bb] - mb[bb, tt])
        )
        better = np.flatnonzero(delta < -1e-9)
        if len(better) == 0:
            break
        moved = False
        for i in better[np.lexsort((tt[better], bb[better], delta[better]))]:
            b, src_part, dst_part = int(bb[i]), int(ss[i]), int(tt[i])
            if not _connected_without(g, labels, src_part, b):
                continue
            h[src_part], a[src_part], p[src_part] = hs[i], as_[i], ps[i]
            h[dst_part], a[dst_part], p[dst_part] = ht[i], at[i], pt[i]
            count[src_part] -= 1
            count[dst_part] += 1
            cost[[src_part, dst_part]] = prob.part_cost(
                h[[src_part, dst_part]], a[[src_part, dst_part]], p[[src_part, dst_part]]
            )
            labels[b] = dst_part
            lo_, hi_ = g.indptr[b], g.indptr[b + 1]
            nb_ = g.nbr[lo_:hi_]
            # a brick's neighbours are distinct, so plain fancy indexing adds correctly
            lb[nb_, src_part] -= g.length[lo_:hi_]
            lb[nb_, dst_part] += g.length[lo_:hi_]
            mb[nb_, src_part] -= g.minor[lo_:hi_]
            mb[nb_, dst_part] += g.minor[lo_:hi_]
            moved = True
            break
        if not moved:
            break
    cut = g.minor[labels[g.src] != labels[g.nbr]].sum() / 2.0
    return labels, float(cost.sum() + split_w * cut)


def _start_bricks(g: _Graph, starts: int) -> list[int]:
    """The outermost bricks, farthest from the centre first: where region growing starts."""
    centre = (g.xy * g.area[:, None]).sum(0) / max(g.area.sum(), _EPS)
    outer = np.lexsort((np.arange(g.n), -np.hypot(*(g.xy - centre).T)))
    return [int(b) for b in outer[:starts]]


def _grown(g: _Graph, k: int, prob: _Problem, starts: int) -> list[np.ndarray]:
    """Local optima from region growing at several starts, best first."""
    found: list[tuple[float, np.ndarray]] = []
    seen: set[bytes] = set()
    for start in _start_bricks(g, starts):
        seeds = _seeds(g, k, start)
        key = np.sort(seeds).tobytes()
        if key in seen:
            continue
        seen.add(key)
        labels, score = _improve(g, _grow(g, seeds), k, prob)
        found.append((score, labels))
    found.sort(key=lambda item: item[0])
    return [labels for _, labels in found]


def _perturb(
    g: _Graph, labels: np.ndarray, k: int, rng: np.random.Generator, moves: int
) -> np.ndarray:
    """Apply ``moves`` random edge-brick moves that keep every part connected and non-empty."""
    labels = labels.copy()
    for _ in range(moves):
        count = np.bincount(labels, minlength=k)
        edges = np.flatnonzero(labels[g.src] != labels[g.nbr])
        for e in rng.permutation(edges)[:32]:
            b, t = int(g.src[e]), int(labels[g.nbr[e]])
            s = int(labels[b])
            if count[s] > 1 and _connected_without(g, labels, s, b):
                labels[b] = t
                break
    return labels


def _search(
    g: _Graph, candidates: list[np.ndarray], k: int, prob: _Problem, rounds: int
) -> tuple[np.ndarray, float]:
    """Local search from every candidate, then iterated local search from the best.

    Each round perturbs the best partition by one to three random moves and searches
    again; the perturbations come from a generator seeded with the graph's size and
    ``k``, so the result is deterministic.
    """
    best: tuple[float, np.ndarray] | None = None
    for labels in candidates:
        labels, score = _improve(g, labels, k, prob)
        if best is None or score < best[0] - 1e-12:
            best = (score, labels)
    assert best is not None
    if k > 1:
        rng = np.random.default_rng([g.n, k])
        for r in range(rounds):
            labels, score = _improve(g, _perturb(g, best[1], k, rng, 1 + r % 3), k, prob)
            if score < best[0] - 1e-12:
                best = (score, labels)
    return best[1], best[0]


def _partition(
    g: _Graph,
    k: int,
    lo: float,
    hi: float,
    weights: DesignWeights,
    starts: int,
    rounds: int,
) -> tuple[np.ndarray, float]:
    """Best partition of a connected graph into ``k`` connected parts, and its objective.

    Two families of starts: region growing on the bricks, and the best partition of
    the street blocks (whole blocks, when there are at least ``k``) refined on the
    bricks.
    """
    prob = _Problem(lo, hi, float(g.w.sum()) / k, math.sqrt(g.area.sum()), weights)
    if k <= 1:
        return _improve(g, np.zeros(g.n, dtype=np.int64), 1, prob)
    candidates = _grown(g, k, prob, starts)
    coarse = _coarsen(g)
    if k <= coarse.n < g.n:
        labels, _ = _search(coarse, _grown(coarse, k, prob, starts), k, prob, rounds)
        candidates.append(labels[g.group])
    return _search(g, candidates, k, prob, rounds)


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0..m-1 in order of their first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.reshape(-1)]
