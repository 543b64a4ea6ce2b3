"""The work layers of the sample district: users, grid workers, assignments and incidents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import geopandas as gpd
import shapely

from etl.sample.buildings import Buildings
from etl.sample.constants import (
    DESCRIPTIONS,
    HOTSPOT_LABEL,
    PATH,
    REJECT_NOTES,
    RESOLVE_NOTES,
    RETURN_NOTES,
    SOURCES,
    WGS84,
)
from etl.sample.frames import Areas, GridCodes
from etl.sample.helpers import (
    IntArray,
    int_str,
    join_str,
    local_times,
    lonlat,
    person_names,
    str_column,
    take_str,
)
from etl.sample.incidents import Incidents
from etl.sample.layout import Layout
from etl.sample.people import Workers
from etl.sample.roads import Roads


@dataclass(frozen=True)
class Accounts:
    """The usernames the incident layers refer to, and the worker row of each grid."""

    worker_of_grid: IntArray  # row of each grid's worker in the grid_worker layer
    worker_user: list[str]  # username of each worker, in grid order (then the standby one)
    staff_user: list[str]  # usernames of the community staff
    res_user: list[str]  # usernames of the residents with an app account


def work_frames(
    layout: Layout,
    buildings: Buildings,
    roads: Roads,
    workers: Workers,
    incidents: Incidents,
    areas: Areas,
    grid_codes: GridCodes,
    rng: np.random.Generator,
) -> dict[str, pd.DataFrame]:
    """Assemble the layers of people at work and their cases in EPSG:4326."""
    out: dict[str, pd.DataFrame] = {}
    users, worker, assignment, accounts = user_frames(layout, workers, areas, grid_codes, rng)
    out["app_user"], out["grid_worker"], out["grid_assignment"] = users, worker, assignment
    out["incident"], out["incident_event"] = incident_frames(
        incidents, buildings, roads, areas, accounts, rng
    )
    return out


def user_frames(
    layout: Layout,
    workers: Workers,
    areas: Areas,
    grid_codes: GridCodes,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Accounts]:
    """Users of every role, the grid workers and their primary / backup assignments."""
    n = layout.n_comm
    comm_code, street_code = areas.comm_code, areas.street_code
    grid_code, grid_order = grid_codes.code, grid_codes.order
    ng = len(grid_code)
    nw = len(workers.on_duty)
    worker_user = [f"gw{c}" for c in grid_code] + (["gw_standby01"] if nw > ng else [])
    worker_name = workers.name.to_pylist()
    staff_n = rng.integers(1, 3, n)
    staff_user, staff_area = [], []
    for c in range(n):
        for j in range(staff_n[c]):
            staff_user.append(f"cs{comm_code[c]}{'ab'[j]}")
            staff_area.append(comm_code[c])
    ns_ = len(street_code)
    nru = workers.n_res_users
    res_user = [f"resident{i:05d}" for i in range(1, nru + 1)]
    other_names = person_names(
        rng,
        rng.random(1 + ns_ + len(staff_user) + nru) < 0.5,
        np.zeros(1 + ns_ + len(staff_user) + nru, bool),
    ).to_pylist()
    app_user = pd.DataFrame(
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
    grid_worker = pd.DataFrame(
        {
            "id": np.arange(1, nw + 1, dtype=np.int64),
            "username": str_column([worker_user[i] for i in w_order]),
            "name": str_column([worker_name[i] for i in w_order]),
            "phone": str_column(workers.phone.take(pa.array(w_order))),
            "max_open_tasks": np.full(nw, 20, dtype=np.int64),
            "on_duty": workers.on_duty[w_order],
        }
    )[["id", "username", "name", "phone", "on_duty", "max_open_tasks"]]
    backup = workers.grid_backup
    backup_worker = np.where(backup >= ng, ng, worker_of_grid[np.minimum(backup, ng - 1)])
    grid_assignment = pd.DataFrame(
        {
            "worker_id": np.c_[worker_of_grid, backup_worker][grid_order].ravel() + 1,
            "grid_code": str_column(np.repeat(grid_code[grid_order], 2)),
            "role": str_column(np.tile(["primary", "backup"], ng)),
        }
    )
    accounts = Accounts(
        worker_of_grid=worker_of_grid,
        worker_user=worker_user,
        staff_user=staff_user,
        res_user=res_user,
    )
    return app_user, grid_worker, grid_assignment, accounts


def incident_frames(
    incidents: Incidents,
    buildings: Buildings,
    roads: Roads,
    areas: Areas,
    accounts: Accounts,
    rng: np.random.Generator,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """The incident and incident_event layers."""
    inc = incidents
    worker_of_grid, worker_user = accounts.worker_of_grid, accounts.worker_user
    staff_user, res_user = accounts.staff_user, accounts.res_user
    comm_code, est_name = areas.comm_code, areas.est_name
    n = len(inc.t)
    codes = inc.codes
    # reporters and assignees
    primary = worker_of_grid[inc.grid]  # worker row (grid-code order) of the grid
    assignee = pd.array(np.where(inc.history.dispatched, primary + 1, 0), dtype="Int64")
    assignee[~inc.history.dispatched] = pd.NA
    worker_names = np.array(worker_user, dtype=object)
    grid_worker_user = worker_names[inc.grid]
    res_pick = np.array(res_user, dtype=object)[rng.integers(0, len(res_user), n)]
    reporter = np.where(
        inc.source == 0,
        grid_worker_user,
        np.where(inc.source == 1, res_pick, None),  # type: ignore[call-overload]
    )
    comm = inc.blk // 9
    staff_of: dict[str, str] = {}
    for u in staff_user:
        staff_of.setdefault(u[2:14], u)
    staff = np.array([staff_of[comm_code[c]] for c in range(len(comm_code))], dtype=object)[comm]

    # descriptions: a place, then a per-category phrase
    place = np.array(list(est_name), dtype=object)
    suffixes = [DESCRIPTIONS[c] for c in codes]
    tmpl = np.array([len(s) for s in suffixes])[inc.cat]
    pick = (rng.random(n) * tmpl).astype(np.int64)
    flat = [s for ss in suffixes for s in ss]
    offs = np.cumsum([0] + [len(s) for s in suffixes])[:-1]
    phrase = take_str(flat, offs[inc.cat] + pick)
    bld = buildings
    bld_names = join_str(take_str(list(place), bld.blk), int_str(bld.number), "幢")
    on_bld = inc.bld >= 0
    on_road = inc.side >= 0
    road_name = take_str(
        roads.names,
        roads.side_name[inc.blk, np.maximum(inc.side, 0)],
    )
    blk_place = take_str(list(place), inc.blk)
    spot_label = take_str(
        [HOTSPOT_LABEL[k] for k in inc.spot_kind] + [""],
        np.where(inc.spot >= 0, inc.spot, len(inc.spot_kind)),
    )
    loc = pc.if_else(
        pa.array(on_bld),
        bld_names.take(pa.array(np.maximum(inc.bld, 0))),
        pc.if_else(
            pa.array(on_road),
            join_str(road_name, "（", blk_place, "旁）"),
            join_str(blk_place, spot_label),
        ),
    )
    description = join_str(loc, phrase)

    times, active = inc.history.times, inc.history.active
    inc_df = pd.DataFrame(
        {
            "id": np.arange(1, n + 1, dtype=np.int64),
            "category_code": str_column(np.array(codes, dtype=object)[inc.cat]),
            "source": str_column(np.array(SOURCES, dtype=object)[inc.source]),
            "description": str_column(description),
            "state": str_column(inc.history.state),
            "reported_at": local_times(times[:, 0]),
            "deadline": local_times(inc.history.deadline),
            "closed_at": local_times(inc.history.closed),
            "assignee_id": assignee,
            "reporter_username": str_column(reporter),
            "rating": pd.array(
                np.where(inc.history.rating > 0, inc.history.rating, None),  # type: ignore[call-overload]
                dtype="Int64",
            ),
        }
    )
    incident = gpd.GeoDataFrame(inc_df, geometry=shapely.points(lonlat(inc.xy)), crs=WGS84)

    # events: every active step in order; the rejection replaces registration
    rows, steps = np.nonzero(active)
    to_state = np.array(PATH, dtype=object)[steps]
    rej = inc.history.rejected[rows] & (steps == 1)
    to_state[rej] = "rejected"
    first = np.r_[True, rows[1:] != rows[:-1]][: len(rows)]
    from_state = np.empty(len(rows), dtype=object)
    from_state[1:] = to_state[:-1]
    from_state[first] = None
    src = inc.source[rows]
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
    incident_event = pd.DataFrame(
        {
            "incident_id": (rows + 1).astype(np.int64),
            "from_state": str_column(from_state),
            "to_state": str_column(to_state),
            "at": local_times(times[rows, steps]),
            "actor": str_column(actor),
            "note": str_column(note),
        }
    )
    return incident, incident_event
