"""Every household's walking access to one facility kind, computed and stored (issue #20).

:mod:`api.services.planning` answers with aggregates (people per H3 cell and grid); this
use case keeps the answer per household, for the city: each household at its building's
point is a demand row of its own, its walking minutes to the nearest facility of the
kind computed in one process (:func:`analysis.coverage.access`) or partition by
partition on Dask (:func:`analysis.coverage.access_partitioned`, the same answer), and
the rows replace the kind's previous ones in ``household_access``
(:mod:`gis.store.household_access_store`: checked, COPY, one transaction).

Household ids only.  Storing covers every household, so it is the admins' (and the
command line's); reading goes through the households' row-level security, and the
summary per grid (:func:`access_by_grid`) is the planners' (aggregates of the
households their role lets them see).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from analysis import coverage as cv
from analysis.walking import require_network
from api.services.planning import (
    Kind,
    NoDemand,
    OnDask,
    PlanningData,
    Step,
    dask_cluster,
    kind_and_group,
    quiet,
    standards_in_force,
)
from gis import clock
from gis.store import household_access_store, plan_store
from grids.access import Principal, require_admin, require_planner


@dataclass(frozen=True)
class StoredAccess:
    """What a run stored: the kind, rows written, those served, the standard, and when."""

    kind: Kind
    households: int
    served: int
    standard_minutes: float
    computed_at: datetime


def household_demand(households: pd.DataFrame) -> pd.DataFrame:
    """One demand row per household (``id, lon, lat, h3_cell, grid_id, community_id``).

    Its people do not matter to the walking times: each household counts as one, so
    that the demand is not empty.
    """
    frame = pd.DataFrame(
        {
            "cell": households["h3_cell"].fillna(0).astype(np.int64).to_numpy(),
            "grid_id": pd.array(households["grid_id"], dtype="Int64"),
            "community_id": pd.array(households["community_id"], dtype="Int64"),
            "lon": households["lon"].to_numpy(np.float64),
            "lat": households["lat"].to_numpy(np.float64),
        }
    )
    for group in cv.GROUPS:
        frame[group] = 1.0 if group == "everyone" else 0.0
    return frame[list(cv.DEMAND_COLUMNS)]


def access_rows(
    access: cv.Access, household_ids: np.ndarray, computed_at: datetime
) -> pd.DataFrame:
    """The rows of ``household_access`` of one run (``household_ids`` in demand order)."""
    reachable = np.isfinite(access.time_s)
    facility = pd.array(access.facility_id, dtype="Int64")
    facility[access.facility_id < 0] = pd.NA
    return pd.DataFrame(
        {
            "household_id": np.asarray(household_ids, np.int64),
            "kind": access.kind,
            "minutes": np.where(reachable, access.minutes, np.nan),
            "facility_id": facility,
            "served": access.served,
            "standard_minutes": float(access.standard.minutes),
            "computed_at": pd.Timestamp(computed_at),
        }
    )


def household_access(
    data: PlanningData, kind: Kind, *, on_dask: OnDask = False, step: Step = quiet
) -> pd.DataFrame:
    """Every stored household's walking access to ``kind``: the rows a run stores."""
    network = require_network(data.network)
    households = plan_store.demand_households(data.engine)
    if households.empty:
        raise NoDemand(
            "no households are loaded yet, so there is no access to store: load a district "
            "first ('wangge load FILE.gpkg' or 'wangge demo')"
        )
    demand = household_demand(households)
    facilities = plan_store.facilities(data.engine)
    standards = standards_in_force(data.standards)
    computed_at = clock.now()
    if on_dask is not False:
        step(f"walking times of {len(demand):,} households to the nearest {kind}, on Dask")
        with dask_cluster(on_dask) as client:
            result = cv.access_partitioned(
                network, demand, facilities, kind, client=client, standards=standards
            )
    else:
        step(f"walking times of {len(demand):,} households to the nearest {kind}")
        result = cv.access(network, demand, facilities, kind, standards=standards)
    return access_rows(result, households["id"].to_numpy(np.int64), computed_at)


def store_household_access(
    user: Principal,
    data: PlanningData,
    kind: str,
    *,
    on_dask: OnDask = False,
    step: Step = quiet,
) -> StoredAccess:
    """Compute every household's access to ``kind`` and replace the kind's stored rows.

    Raises
    ------
    grids.access.Forbidden
        Unless an admin (the rows cover every household).
    """
    require_admin(user, "store every household's walking access")
    checked, _ = kind_and_group(kind, None, data.standards)
    rows = household_access(data, checked, on_dask=on_dask, step=step)
    step(f"storing {len(rows):,} rows of household_access")
    written = household_access_store.replace_access(data.engine, checked, rows)
    return StoredAccess(
        kind=checked,
        households=written,
        served=int(rows["served"].sum()),
        standard_minutes=float(rows["standard_minutes"].iloc[0]) if written else 0.0,
        computed_at=rows["computed_at"].iloc[0].to_pydatetime() if written else clock.now(),
    )


def access_by_grid(user: Principal, engine: Engine, kind: str) -> pd.DataFrame:
    """Per grid, the stored access of the households the user may see (row security).

    ``engine`` is the server's (acting as the user's principal): the rows are those the
    households' policy lets through, so a community's staff sum their community's; the
    user's grids (:class:`~grids.access.Principal`) filter them again without it.
    """
    require_planner(user, "see the stored walking access")
    checked, _ = kind_and_group(kind)
    with engine.connect() as conn:
        return household_access_store.access_by_grid(conn, checked, user.grid_ids)
