"""Who may take a case: each worker's relation to it and the eligible pairs of a batch."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from analysis.dispatch.base import DispatchInputError
from grids.access import home_grids

Widen = Literal["grid", "community", "area"]
"""How far a re-dispatch may look for a worker: the case's grid's own workers (``grid``),
also the workers of its community (``community``), or anyone given (``area``)."""

#: :func:`relations` codes, nearest first; a case may go to codes up to ``REACH[widen]``.
RELATIONS = {1: "primary", 2: "backup", 3: "community", 4: "area"}
REACH: dict[str, int] = {"grid": 2, "community": 3, "area": 4}


def relations(
    case_grid_ids: ArrayLike,
    case_community_ids: ArrayLike,
    worker_ids: ArrayLike,
    assignments: pd.DataFrame,
) -> NDArray[np.int8]:
    """How each worker stands to each case, nearest first (codes of :data:`RELATIONS`).

    1 the primary worker of the case's grid, 2 a backup of it (``grid_assignment``),
    3 a worker who belongs to the case's community (their home grids are there, see
    :func:`grids.access.home_grids`), 4 anyone else.

    Parameters
    ----------
    case_grid_ids, case_community_ids : array_like, shape (n_cases,)
        The grid and community of each case (nullable: a case in no grid).
    worker_ids : array_like of int, shape (n_workers,)
        The workers, as the columns of the answer.
    assignments : pandas.DataFrame
        Who covers which current grid: ``grid_id``, ``worker_id``, ``role``,
        ``community_id``.

    Returns
    -------
    numpy.ndarray of int8, shape (n_cases, n_workers)
    """
    need = {"grid_id", "worker_id", "role", "community_id"}
    if not need <= set(assignments.columns):
        raise DispatchInputError(
            f"assignments need columns {', '.join(sorted(need))}; got {list(assignments.columns)}"
        )
    cases = pd.DataFrame(
        {
            "case": np.arange(len(np.atleast_1d(case_grid_ids))),
            "grid_id": pd.array(np.atleast_1d(case_grid_ids), dtype="Int64"),
            "community_id": pd.array(np.atleast_1d(case_community_ids), dtype="Int64"),
        }
    ).dropna()
    column = pd.Series(np.arange(np.size(worker_ids)), index=np.ravel(worker_ids).astype(np.int64))
    mine = assignments[assignments["worker_id"].isin(column.index)].astype(
        {"grid_id": "Int64", "community_id": "Int64", "worker_id": np.int64}
    )
    out = np.full((len(np.atleast_1d(case_grid_ids)), column.size), 4, dtype=np.int8)
    home = home_grids(mine)[["community_id", "worker_id"]].drop_duplicates()
    # nearest last: a worker who is both keeps the smaller code
    for key, pairs, code in (
        ("community_id", home, 3),
        ("grid_id", mine[mine["role"] == "backup"], 2),
        ("grid_id", mine[mine["role"] == "primary"], 1),
    ):
        hit = cases.merge(pairs[[key, "worker_id"]], on=key)
        out[hit["case"].to_numpy(), column.loc[hit["worker_id"].to_numpy()].to_numpy()] = code
    return out


def eligible_pairs(relation: ArrayLike, widen: Widen = "grid") -> NDArray[np.bool_]:
    """The ``allowed`` pairs of :func:`assign_batch` for a re-dispatch widened this far.

    ``grid``: the case's grid's own workers (primary and backups); ``community``: also
    those who belong to its community; ``area``: every worker given.  Restrict the
    workers themselves (e.g. to the caller's area) by the columns passed.

    Parameters
    ----------
    relation : array_like of int, shape (n_cases, n_workers)
        From :func:`relations`.
    widen : {"grid", "community", "area"}
    """
    if widen not in REACH:
        raise DispatchInputError(f"unknown widen {widen!r}: use {', '.join(REACH)}")
    return np.asarray(relation) <= REACH[widen]
