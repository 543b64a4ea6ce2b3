"""The people at work in the sample district: grid workers (网格员) and their backups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from etl.sample.helpers import BoolArray, IntArray, group_rank, int_str, person_names, phones
from etl.sample.layout import Grids, Layout


@dataclass(frozen=True)
class Workers:
    """One grid worker per grid (plus a standby one for a single-grid district), in grid order."""

    name: pa.Array
    phone: pa.Array
    on_duty: BoolArray
    grid_backup: IntArray  # backup worker of each grid (a grid index, or the standby worker)
    n_res_users: int  # resident accounts of the app


def staff_grids(
    layout: Layout, grids: Grids, n_households: int, rng: np.random.Generator
) -> Workers:
    """Grid workers (one per grid) with names, phones and duty, and the backup of each grid."""
    ng = len(grids.comm)
    nw = ng + (1 if ng == 1 else 0)  # a standby worker when there is a single grid
    male = rng.random(nw) < 0.45
    name = person_names(rng, male, rng.random(nw) < 0.3)
    phone = int_str(phones(rng, nw))
    on_duty = rng.random(nw) < 0.95
    # backups: the next grid of the same community along the serpentine (or the
    # previous one); a community's only grid takes the first grid of the next
    # community, and a district's only grid the standby worker (index ng)
    order = np.lexsort((grids.first, grids.comm))
    comm_sorted = grids.comm[order]
    rank = group_rank(comm_sorted)
    count = np.bincount(comm_sorted)[comm_sorted]
    pos = np.arange(ng)
    nxt = np.where(rank + 1 < count, pos + 1, pos - 1)
    backup = np.empty(ng, dtype=np.int64)
    backup[order] = np.where(count > 1, order[np.clip(nxt, 0, ng - 1)], -1)
    first_of = dict(zip(comm_sorted[rank == 0].tolist(), order[rank == 0].tolist(), strict=True))
    for g in np.flatnonzero(backup < 0):
        nxt_comm = (int(grids.comm[g]) + 1) % layout.n_comm
        backup[g] = first_of[nxt_comm] if layout.n_comm > 1 else ng
    return Workers(
        name=name,
        phone=phone,
        on_duty=on_duty,
        grid_backup=backup,
        n_res_users=int(np.clip(n_households // 500, 24, 5000)),
    )
