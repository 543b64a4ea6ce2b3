"""The road network of the sample district: arterials, branch roads and estate lanes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from etl.sample.constants import BRANCH_REAL, EW_ARTERIALS, NS_ARTERIALS, ROAD_A, ROAD_B
from etl.sample.helpers import (
    BoolArray,
    FloatArray,
    IntArray,
    StrArray,
    bilinear,
    name_pool,
    pick_names,
    str_array,
)
from etl.sample.layout import Blocks, Estates, Layout


@dataclass(frozen=True)
class Roads:
    """Road nodes and directed edges (one-way roads point their way), metres."""

    names: pa.Array  # the road names, indexed by ``name_idx`` and ``side_name``
    nodes: FloatArray  # (nodes, 2): node coordinates, metres
    src: IntArray  # edge start node
    dst: IntArray  # edge end node
    road_class: StrArray  # arterial, branch or lane
    name_idx: IntArray  # name of each edge in ``names``, -1 for unnamed lanes
    oneway: BoolArray
    side_name: IntArray  # (blocks, 4): the road [south, north, west, east] of each block


def build_roads(
    layout: Layout, blocks: Blocks, estates: Estates, rng: np.random.Generator
) -> Roads:
    """Arterials on community boundaries, branch roads between estates, estate lanes."""
    nx, ny, fine, exists = layout.nx, layout.ny, layout.fine, blocks.exists
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
    nb = len(blocks.quad)
    q = blocks.quad
    ug, vm, ua, ub = estates.lane_uv.T
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
    gate_at[blocks.j, blocks.i] = gate_id
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
    # the name of the road on each side of each block, for incident descriptions
    hname = np.zeros((3 * ny + 1, 3 * nx), dtype=np.int64)
    hname[hj, hi] = h_name
    vname = np.zeros((3 * ny, 3 * nx + 1), dtype=np.int64)
    vname[vj, vi] = v_name
    bj, bi = blocks.j, blocks.i
    side_name = np.stack(
        [hname[bj, bi], hname[bj + 1, bi], vname[bj, bi], vname[bj, bi + 1]], axis=1
    )
    return Roads(
        names=names_table,
        nodes=nodes,
        src=src,
        dst=dst,
        road_class=road_class,
        name_idx=name,
        oneway=oneway,
        side_name=side_name,
    )
