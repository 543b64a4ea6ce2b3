"""Choosing the worker (派遣): one case by the grid's rules, or a whole backlog at once.

The rules and the optimisation are :mod:`analysis.dispatch`; this module gathers what
they need (assignments, load, positions from :mod:`gis.dispatch_store`, walking times on
the cached network) and records the outcome through :mod:`api.casework`, so a
recommended dispatch is guarded and stored like any other step, its reason in the note.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import Request
from sqlalchemy import Engine

from analysis import dispatch
from analysis.network import RoadNetwork
from api import casework
from api.walking import walking_state
from gis import clock, dispatch_store, incident_store
from gis.settings import Settings
from grids.access import Principal, require_staff
from grids.incidents import InvalidInput


def _network(request: Request, engine: Engine, settings: Settings) -> RoadNetwork:
    network = walking_state(request, engine, settings).network
    if network is None:
        raise InvalidInput("there is no road network loaded; load a district or OSM roads")
    return network


def _scope(user: Principal) -> tuple[int, ...] | None:
    return None if user.grid_ids is None else tuple(sorted(user.grid_ids))


def recommendation(
    request: Request, engine: Engine, settings: Settings, user: Principal, incident_id: int
) -> dict[str, Any]:
    """Who should take a case, and why: primary, backup, or the best by walking time and load."""
    require_staff(user, "ask for a dispatch recommendation")
    with engine.connect() as conn:
        row = casework.visible_incident(conn, user, incident_id)
        assignments = dispatch_store.assignments(conn)
        workers = dispatch_store.worker_statuses(conn, _scope(user))
    network = _network(request, engine, settings)
    rec = dispatch.recommend(
        row.grid_id,
        row.lon,
        row.lat,
        assignments=assignments,
        workers=workers,
        travel_s=dispatch.network_travel(network),
        load_penalty_s=settings.dispatch_load_penalty_s,
    )
    names = dict(zip(workers["worker_id"], workers["name"], strict=True))
    return {
        "incident_id": incident_id,
        "worker_id": rec.worker_id,
        "worker_name": names.get(rec.worker_id) if rec.worker_id is not None else None,
        "rule": rec.rule,
        "travel_s": None if rec.travel_s is None else round(rec.travel_s, 1),
        "open_tasks": rec.open_tasks,
        "reason": rec.reason,
        "alternatives": [
            {
                "worker_id": a.worker_id,
                "worker_name": names.get(a.worker_id),
                "rule": a.rule,
                "travel_s": None if a.travel_s is None else round(a.travel_s, 1),
                "open_tasks": a.open_tasks,
                "reason": a.reason,
            }
            for a in rec.alternatives
        ],
        "not_chosen": [{"worker_id": w, "why": why} for w, why in rec.considered],
    }


def dispatch_recommended(
    request: Request,
    engine: Engine,
    settings: Settings,
    user: Principal,
    incident_id: int,
    note: str | None,
) -> dict[str, Any]:
    """Dispatch a registered case to the recommended worker, the reason in the note."""
    rec = recommendation(request, engine, settings, user, incident_id)
    if rec["worker_id"] is None:
        raise InvalidInput(f"no worker can take incident {incident_id}: {rec['reason']}")
    text = f"推荐派遣: {rec['reason']}" + (f"; {note}" if note else "")
    detail = casework.act(
        engine, user, incident_id, casework.Step("dispatch", text, int(rec["worker_id"]))
    )
    detail["recommendation"] = rec
    return detail


def redispatch_backlog(
    request: Request,
    engine: Engine,
    settings: Settings,
    user: Principal,
    *,
    include_dispatched: bool = False,
    limit: int = 2000,
) -> dict[str, Any]:
    """Dispatch the backlog of the user's area at once, as an optimal assignment.

    The registered cases (and, with ``include_dispatched``, dispatched ones not yet
    started) go to the workers of the area: least walking time plus load penalty within
    each worker's free slots (:func:`analysis.dispatch.assign_batch`); the greedy
    nearest-available cost is reported beside it.  Each case is moved by its own
    guarded step; a case someone moved meanwhile is skipped and listed.
    """
    require_staff(user, "re-dispatch a backlog")
    states = ("registered", "dispatched") if include_dispatched else ("registered",)
    with engine.connect() as conn:
        cases = dispatch_store.backlog(conn, grid_ids=_scope(user), states=states).head(limit)
        workers = dispatch_store.worker_statuses(conn, _scope(user))
    if cases.empty:
        return {"cases": 0, "assigned": [], "skipped": [], "unassigned": []}
    if workers.empty:
        raise InvalidInput("no grid worker covers your area")
    network = _network(request, engine, settings)
    travel = dispatch.travel_times(
        network,
        workers["lon"].to_numpy(),
        workers["lat"].to_numpy(),
        cases["lon"].to_numpy(),
        cases["lat"].to_numpy(),
    )
    on_duty = workers["on_duty"].to_numpy(dtype=bool)
    open_tasks = workers["open_tasks"].to_numpy(dtype=np.int64).copy()
    # a case moving between workers frees a slot of its current worker
    current = cases["assignee_id"].to_numpy()
    for pos, worker in enumerate(workers["worker_id"]):
        open_tasks[pos] -= int(np.sum(current == worker))
    capacity = np.where(
        on_duty, np.maximum(workers["max_open_tasks"].to_numpy() - open_tasks, 0), 0
    )
    kwargs = dict(
        capacity=capacity,
        open_tasks=open_tasks,
        load_penalty_s=settings.dispatch_load_penalty_s,
        priority=cases["priority"].to_numpy(),
        worker_ids=workers["worker_id"].to_numpy(),
    )
    best = dispatch.assign_batch(travel, **kwargs)  # type: ignore[arg-type]
    greedy = dispatch.assign_greedy(travel, **kwargs)  # type: ignore[arg-type]
    assigned, skipped, unchanged = [], [], []
    now = clock.now()
    for i, case in enumerate(cases.itertuples(index=False)):
        worker = int(best.worker_of[i])
        if worker == dispatch.NO_WORKER:
            continue
        if case.state == "dispatched" and case.assignee_id == worker:
            unchanged.append(int(case.id))
            continue
        action = "dispatch" if case.state == "registered" else "reassign"
        step = casework.Step(action, f"批量派遣: {best.reasons[i]}", worker)
        try:
            with engine.begin() as conn:
                row = incident_store.read_incident(conn, int(case.id))
                if row is None:
                    continue
                casework.apply_step(conn, user, row, step, at=now)
            assigned.append(
                {"incident_id": int(case.id), "worker_id": worker, "reason": best.reasons[i]}
            )
        except (incident_store.StaleIncident, casework.lifecycle.IllegalTransition) as exc:
            skipped.append({"incident_id": int(case.id), "reason": str(exc)})
    return {
        "cases": len(cases),
        "workers": len(workers),
        "cost": round(best.cost, 1),
        "greedy_cost": round(greedy.cost, 1),
        "travel_s": round(best.travel_s, 1),
        "solve_s": round(best.solve_s, 4),
        "assigned": assigned,
        "unchanged": unchanged,
        "skipped": skipped,
        "unassigned": [
            {"incident_id": int(cases["id"].iloc[i]), "reason": why}
            for i, why in zip(best.unassigned, best.unassigned_reason, strict=True)
        ],
    }
