"""Dispatch: the primary / backup / best rule, the optimal batch, network travel times."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from scipy.sparse.csgraph import maximum_bipartite_matching

import geopandas as gpd
import shapely
from shapely import LineString, Point

from analysis.dispatch import (
    NO_WORKER,
    BatchAssignment,
    DispatchInputError,
    WorkerStatus,
    assign_batch,
    assign_greedy,
    eligible_pairs,
    evaluate,
    network_travel,
    recommend,
    relations,
    travel_times,
)
from analysis.network import RoadNetwork, Snap
from etl.sample import generate_district
from tests.factories import MID, S, W, tiny_district

GRID = "330106109001001"
ASSIGNMENTS = pd.DataFrame(
    {
        "grid_code": [GRID, GRID, GRID, "330106109001002"],
        "worker_id": [12, 7, 8, 31],
        "role": ["primary", "backup", "backup", "primary"],
    }
)


def _workers(**changes: dict[str, object]) -> list[WorkerStatus]:
    base = {
        12: {"on_duty": True, "open_tasks": 3, "max_open_tasks": 20},
        7: {"on_duty": True, "open_tasks": 5, "max_open_tasks": 20},
        8: {"on_duty": True, "open_tasks": 2, "max_open_tasks": 20},
        31: {"on_duty": True, "open_tasks": 0, "max_open_tasks": 20},
        40: {"on_duty": True, "open_tasks": 4, "max_open_tasks": 20},
    }
    for key, change in changes.items():
        base[int(key.removeprefix("w"))].update(change)
    return [
        WorkerStatus(wid, lon=120.0 + wid / 1000, lat=30.3, **v)  # type: ignore[arg-type]
        for wid, v in base.items()
    ]


# travel seconds, in the order of _workers(): 12, 7, 8, 31, 40
TRAVEL = np.array([900.0, 600.0, 1200.0, 300.0, 60.0])


# ---------------------------------------------------------------------- recommend
def test_primary_when_on_duty_and_under_the_limit() -> None:
    rec = recommend(
        GRID, 120.08, 30.31, assignments=ASSIGNMENTS, workers=_workers(), travel_s=TRAVEL
    )
    assert (rec.worker_id, rec.rule) == (12, "primary")
    assert rec.reason.startswith("主责网格员 worker 12 (on duty, 3/20 open tasks")
    assert rec.travel_s == 900.0 and rec.open_tasks == 3
    # the next choices: the backups by load (8 has 2 open, 7 has 5), then the best other
    assert [a.worker_id for a in rec.alternatives] == [8, 7, 31]
    assert [a.rule for a in rec.alternatives] == ["backup", "backup", "best"]


def test_backup_when_the_primary_is_off_duty() -> None:
    workers = _workers(w12={"on_duty": False})
    rec = recommend(GRID, 120.08, 30.31, assignments=ASSIGNMENTS, workers=workers, travel_s=TRAVEL)
    # the backup with the fewest open tasks, although 7 is nearer
    assert (rec.worker_id, rec.rule) == (8, "backup")
    assert "primary worker 12 is off duty" in rec.reason
    assert "备用网格员" in rec.reason
    assert (12, "primary of grid 330106109001001: off duty (不在岗)") in rec.considered
    assert rec.alternatives[0].worker_id == 7


def test_backup_when_the_primary_is_full() -> None:
    workers = _workers(w12={"open_tasks": 20}, w8={"on_duty": False})
    rec = recommend(GRID, 120.08, 30.31, assignments=ASSIGNMENTS, workers=workers, travel_s=TRAVEL)
    assert (rec.worker_id, rec.rule) == (7, "backup")
    assert "primary worker 12 is at the workload limit, 20/20 open tasks" in rec.reason
    assert dict(rec.considered)[8].endswith("off duty (不在岗)")


def test_best_by_travel_and_load_when_the_grid_has_nobody() -> None:
    workers = _workers(w12={"on_duty": False}, w7={"open_tasks": 20}, w8={"on_duty": False})
    rec = recommend(
        GRID,
        120.08,
        30.31,
        assignments=ASSIGNMENTS,
        workers=workers,
        travel_s=TRAVEL,
        load_penalty_s=600.0,
    )
    # 31: 300 s + 0 × 600 = 300; 40: 60 s + 4 × 600 = 2460 → 31, although 40 is nearer
    assert (rec.worker_id, rec.rule) == (31, "best")
    assert rec.travel_s == 300.0
    assert "5.0 min" in rec.reason and "no backup of grid" in rec.reason
    assert [a.worker_id for a in rec.alternatives] == [40]
    # with no load penalty the nearest wins
    rec = recommend(
        GRID,
        120.08,
        30.31,
        assignments=ASSIGNMENTS,
        workers=workers,
        travel_s=TRAVEL,
        load_penalty_s=0.0,
    )
    assert rec.worker_id == 40


def test_best_looks_in_the_community_before_anyone_else() -> None:
    workers = _workers(w12={"on_duty": False}, w7={"open_tasks": 20}, w8={"on_duty": False})
    # 31 scores 300 s but stands outside the community; 40 (2460 s) is of it
    relation = [1, 2, 2, 4, 3]
    rec = recommend(
        GRID,
        120.08,
        30.31,
        assignments=ASSIGNMENTS,
        workers=workers,
        travel_s=TRAVEL,
        relation=relation,
    )
    assert (rec.worker_id, rec.rule) == (40, "best")
    assert "the lowest of 1 available workers of its community (同社区)" in rec.reason
    assert [a.worker_id for a in rec.alternatives] == [31]
    # nobody of the community available: beyond it, and the reason says so
    workers = _workers(w12={"on_duty": False}, w7={"on_duty": False}, w8={"on_duty": False})
    rec = recommend(
        GRID,
        120.08,
        30.31,
        assignments=ASSIGNMENTS,
        workers=workers,
        travel_s=TRAVEL,
        relation=[1, 2, 2, 4, 4],
    )
    assert rec.worker_id == 31 and "跨社区" in rec.reason
    with pytest.raises(DispatchInputError, match="relation has 2 values for 5 workers"):
        recommend(
            GRID,
            1.0,
            2.0,
            assignments=ASSIGNMENTS,
            workers=_workers(),
            travel_s=TRAVEL,
            relation=[1, 2],
        )


def test_nobody_available_gives_none_with_the_reason() -> None:
    workers = _workers(
        w12={"on_duty": False},
        w7={"on_duty": False},
        w8={"open_tasks": 20},
        w31={"on_duty": False},
    )
    travel = TRAVEL.copy()
    travel[4] = np.inf  # 40 is available but cannot reach it
    rec = recommend(GRID, 120.08, 30.31, assignments=ASSIGNMENTS, workers=workers, travel_s=travel)
    assert rec.worker_id is None and rec.rule == "none"
    assert rec.reason == (
        "无可派网格员 no worker available: 3 off duty, 1 at their workload limit, "
        "1 cannot reach the incident (of 5 workers)"
    )
    assert dict(rec.considered)[40] == "cannot reach the incident by road (不可达)"
    assert rec.alternatives == ()


def test_recommend_reads_frames_and_a_network_travel_function() -> None:
    layers = tiny_district()
    net = RoadNetwork.from_frames(layers["road_node"], layers["road_edge"])
    workers = pd.DataFrame(
        {
            "id": [1, 2],
            "on_duty": [False, True],
            "open_tasks": [0, 1],
            "max_open_tasks": [20, 20],
            "lon": [W + 0.001, MID + 0.002],
            "lat": [S, S],
        }
    )
    rec = recommend(
        "330106109001002",
        MID + 0.001,
        S,
        assignments=layers["grid_assignment"],
        workers=workers,
        travel_s=network_travel(net),
    )
    # worker 1 is the backup of grid 2 but off duty; 2 is not assigned: the best
    assert (rec.worker_id, rec.rule) == (2, "best")
    expected = travel_times(net, [MID + 0.002], [S], [MID + 0.001], [S])[0, 0]
    assert rec.travel_s == pytest.approx(expected)
    assert 80 < expected < 85  # 0.001° of longitude is about 96 m, at 1.2 m/s


def test_recommend_rejects_inconsistent_input() -> None:
    with pytest.raises(DispatchInputError, match="travel_s has 2 values for 5 workers"):
        recommend(GRID, 1.0, 2.0, assignments=ASSIGNMENTS, workers=_workers(), travel_s=[1, 2])
    with pytest.raises(DispatchInputError, match="grid_id"):
        recommend(
            GRID,
            1.0,
            2.0,
            assignments=ASSIGNMENTS.rename(columns={"grid_code": "g"}),
            workers=_workers(),
            travel_s=TRAVEL,
        )


# ---------------------------------------------------------------------- the batch
def _objective(travel: np.ndarray, worker_of: np.ndarray, open_tasks: np.ndarray, pen: float):
    load = np.bincount(worker_of[worker_of >= 0], minlength=travel.shape[1])
    cost = travel[np.flatnonzero(worker_of >= 0), worker_of[worker_of >= 0]].sum()
    return float(cost + pen * (load * open_tasks + load * (load - 1) / 2).sum())


def _brute_force(travel, capacity, open_tasks, pen, level):
    """Every way to give each incident a worker or none: the lexicographic best."""
    n, m = travel.shape
    best_key, best = None, None
    for choice in itertools.product(range(-1, m), repeat=n):
        w = np.array(choice)
        if np.any(np.bincount(w[w >= 0], minlength=m) > capacity):
            continue
        if np.any(~np.isfinite(travel[np.flatnonzero(w >= 0), w[w >= 0]])):
            continue
        per_level = [-int(((w >= 0) & (level == k)).sum()) for k in range(int(level.max()) + 1)]
        key = (-int((w >= 0).sum()), *per_level, _objective(travel, w, open_tasks, pen))
        if best_key is None or key < best_key:
            best_key, best = key, w
    assert best_key is not None
    return best_key, best


@pytest.mark.parametrize("seed", range(12))
def test_batch_equals_the_brute_force_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(3, 7)), int(rng.integers(2, 4))
    travel = rng.integers(30, 1500, size=(n, m)).astype(float)
    travel[rng.random((n, m)) < 0.2] = np.inf
    capacity = rng.integers(0, 3, size=m)
    open_tasks = rng.integers(0, 5, size=m)
    level = rng.integers(0, 3, size=n) if seed % 2 else np.zeros(n, dtype=int)
    pen = float(rng.choice([0.0, 300.0, 600.0]))
    key, _ = _brute_force(travel, capacity, open_tasks, pen, level)
    for method in ("min_cost_flow", "slots"):
        got = assign_batch(
            travel,
            capacity=capacity,
            open_tasks=open_tasks,
            load_penalty_s=pen,
            priority=level + 1,
            method=method,
        )
        w = got.worker_of
        per_level = [-int(((w >= 0) & (level == k)).sum()) for k in range(int(level.max()) + 1)]
        assert (-got.n_assigned, *per_level) == key[:-1], method
        assert got.cost == pytest.approx(key[-1]), method
        assert got.cost == pytest.approx(_objective(travel, w, open_tasks, pen))


def _random_instance(seed: int, n: int = 120, m: int = 25):
    rng = np.random.default_rng(seed)
    travel = rng.uniform(30, 2400, size=(n, m))
    travel[rng.random((n, m)) < 0.1] = np.inf
    capacity = rng.integers(0, 8, size=m)
    open_tasks = rng.integers(0, 12, size=m)
    return travel, capacity, open_tasks


@pytest.mark.parametrize("seed", range(8))
def test_batch_never_costlier_than_greedy_and_respects_capacity(seed: int) -> None:
    travel, capacity, open_tasks = _random_instance(seed)
    ids = np.arange(100, 100 + travel.shape[1])
    best = assign_batch(travel, capacity=capacity, open_tasks=open_tasks, worker_ids=ids)
    for by in ("cost", "travel"):
        greedy = assign_greedy(
            travel, capacity=capacity, open_tasks=open_tasks, worker_ids=ids, by=by
        )
        assert best.n_assigned >= greedy.n_assigned
        if best.n_assigned == greedy.n_assigned:
            # integer centiseconds in the solver: at most 0.005 s per incident off
            assert best.cost <= greedy.cost + 0.005 * travel.shape[0]
        assert np.all(greedy.load <= capacity)
    assert np.all(best.load <= capacity)
    # as many as can be: the maximum matching of incidents to free worker slots
    slot_of = np.repeat(np.arange(travel.shape[1]), capacity)
    reach = sparse.csr_array(np.isfinite(travel[:, slot_of]).astype(np.int8))
    matching = maximum_bipartite_matching(reach, perm_type="column")
    assert best.n_assigned == int((matching >= 0).sum()) > 0
    # worker ids come back as given, and no unreachable pair is ever used
    assigned = np.flatnonzero(best.worker_of != NO_WORKER)
    col = best.worker_of[assigned] - 100
    assert np.all(np.isfinite(travel[assigned, col]))
    assert len(best.unassigned) == travel.shape[0] - best.n_assigned
    assert len(best.reasons) == travel.shape[0]


def test_unreachable_pairs_are_never_assigned_even_when_capacity_is_plenty() -> None:
    travel = np.array([[np.inf, 100.0], [np.inf, np.inf], [50.0, np.inf]])
    got = assign_batch(travel, capacity=[5, 5], open_tasks=[0, 0])
    assert got.worker_of.tolist() == [1, NO_WORKER, 0]
    assert got.unassigned.tolist() == [1]
    assert got.unassigned_reason == ("no worker can reach it by road (不可达)",)
    assert got.reasons[1].startswith("未派遣 unassigned")


def test_urgent_incidents_get_the_last_slot() -> None:
    travel = np.array([[60.0], [900.0]])
    got = assign_batch(travel, capacity=[1], open_tasks=[0], priority=[4, 1])
    assert got.worker_of.tolist() == [NO_WORKER, 0]
    assert "more urgent" in got.unassigned_reason[0]
    greedy = assign_greedy(travel, capacity=[1], open_tasks=[0], priority=[4, 1])
    assert greedy.worker_of.tolist() == [NO_WORKER, 0]


def test_the_load_penalty_spreads_the_work() -> None:
    # one worker is nearest to all three; with a penalty the second worker takes one
    travel = np.array([[100.0, 400.0], [100.0, 400.0], [100.0, 400.0]])
    alone = assign_batch(travel, capacity=[3, 3], open_tasks=[0, 0], load_penalty_s=0.0)
    assert alone.load.tolist() == [3, 0] and alone.cost == 300.0
    spread = assign_batch(travel, capacity=[3, 3], open_tasks=[0, 0], load_penalty_s=600.0)
    # worker 0: 100 × 2 + 600 × (0 + 1); worker 1: 400 + 600 × 0
    assert spread.load.tolist() == [2, 1] and spread.cost == 1200.0
    assert spread.travel_s == 600.0


def _networkx_cost(travel, capacity, open_tasks, pen) -> tuple[int, float]:
    g = nx.DiGraph()
    n, m = travel.shape
    for i in range(n):
        g.add_edge("s", ("i", i), capacity=1, weight=0)
        for w in range(m):
            if np.isfinite(travel[i, w]):
                g.add_edge(("i", i), ("w", w), capacity=1, weight=int(travel[i, w]))
    for w in range(m):
        for k in range(int(capacity[w])):
            g.add_edge(("w", w), ("slot", w, k), capacity=1, weight=int(pen * (open_tasks[w] + k)))
            g.add_edge(("slot", w, k), "t", capacity=1, weight=0)
    flow = nx.max_flow_min_cost(g, "s", "t")
    assigned = sum(flow["s"][("i", i)] for i in range(n))
    return assigned, float(nx.cost_of_flow(g, flow))


@pytest.mark.parametrize("seed", range(4))
def test_batch_cost_agrees_with_networkx_min_cost_flow(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    n, m = 60, 12
    travel = rng.integers(30, 2400, size=(n, m)).astype(float)
    travel[rng.random((n, m)) < 0.15] = np.inf
    capacity = rng.integers(0, 7, size=m)
    open_tasks = rng.integers(0, 10, size=m)
    got = assign_batch(travel, capacity=capacity, open_tasks=open_tasks, load_penalty_s=600.0)
    assert (got.n_assigned, got.cost) == _networkx_cost(travel, capacity, open_tasks, 600.0)


def test_reasons_name_the_worker_and_why_not_the_nearest() -> None:
    travel = np.array([[60.0, 300.0], [90.0, 600.0]])
    got: BatchAssignment = assign_batch(
        travel, capacity=[1, 1], open_tasks=[2, 0], worker_ids=[12, 7], load_penalty_s=0.0
    )
    # worker 12's only slot goes to incident 1, which would lose more without it
    assert got.worker_of.tolist() == [7, 12]
    assert got.cost == 390.0
    assert got.reasons[0] == (
        "worker 7: 5.0 min away, new task 1 (load 0 open before it); the nearest, "
        "worker 12 (1.0 min), has its free slots taken by incidents it serves better"
    )
    assert got.reasons[1] == "nearest worker 12: 1.5 min away, new task 1 (load 2 open before it)"


def test_no_workers_or_no_incidents_is_an_answer_not_an_error() -> None:
    for solve in (assign_batch, assign_greedy):
        none = solve(np.zeros((2, 0)), capacity=[], open_tasks=[])
        assert none.worker_of.tolist() == [NO_WORKER, NO_WORKER]
        assert none.unassigned_reason == ("no worker can reach it by road (不可达)",) * 2
        empty = solve(np.zeros((0, 2)), capacity=[1, 1], open_tasks=[0, 0])
        assert empty.n_assigned == 0 and empty.cost == 0.0


def test_batch_rejects_bad_shapes() -> None:
    with pytest.raises(DispatchInputError, match="one value per worker"):
        assign_batch(np.ones((2, 3)), capacity=[1, 1], open_tasks=[0, 0, 0])
    with pytest.raises(DispatchInputError, match="negative"):
        assign_batch(-np.ones((2, 2)), capacity=[1, 1], open_tasks=[0, 0])
    with pytest.raises(DispatchInputError, match="matrix"):
        assign_greedy(np.ones(3), capacity=[1], open_tasks=[0])


@pytest.mark.parametrize("seed", range(10))
def test_allowed_pairs_give_the_optimum_among_them(seed: int) -> None:
    rng = np.random.default_rng(500 + seed)
    n, m = int(rng.integers(3, 7)), int(rng.integers(2, 4))
    travel = rng.integers(30, 1500, size=(n, m)).astype(float)
    capacity = rng.integers(1, 3, size=m)
    open_tasks = rng.integers(0, 5, size=m)
    allowed = rng.random((n, m)) < 0.5
    # the oracle: the brute-force optimum when a pair not allowed is as if unreachable
    key, _ = _brute_force(
        np.where(allowed, travel, np.inf), capacity, open_tasks, 600.0, np.zeros(n, int)
    )
    for method in ("min_cost_flow", "slots"):
        got = assign_batch(
            travel, capacity=capacity, open_tasks=open_tasks, allowed=allowed, method=method
        )
        used = np.flatnonzero(got.worker_of >= 0)
        assert allowed[used, got.worker_of[used]].all(), method
        assert (-got.n_assigned, got.cost) == (key[0], pytest.approx(key[-1])), method
    greedy = assign_greedy(travel, capacity=capacity, open_tasks=open_tasks, allowed=allowed)
    used = np.flatnonzero(greedy.worker_of >= 0)
    assert allowed[used, greedy.worker_of[used]].all()


def test_a_case_with_no_eligible_worker_stays_unassigned_and_says_why() -> None:
    # worker 1 is nearer to both, but may take only the first
    travel = np.array([[60.0, 600.0], [60.0, 600.0]])
    allowed = np.array([[True, True], [False, False]])
    free = assign_batch(travel, capacity=[2, 2], open_tasks=[0, 0], load_penalty_s=0.0)
    assert free.worker_of.tolist() == [0, 0]
    got = assign_batch(
        travel, capacity=[2, 2], open_tasks=[0, 0], load_penalty_s=0.0, allowed=allowed
    )
    assert got.worker_of.tolist() == [0, NO_WORKER]
    assert got.unassigned_reason == ("no worker is eligible for it (不在可派范围)",)
    assert got.reasons[0].startswith("nearest eligible worker 0")
    with pytest.raises(DispatchInputError, match="boolean matrix"):
        assign_batch(travel, capacity=[1, 1], open_tasks=[0, 0], allowed=np.ones((2, 3), bool))


def test_evaluate_costs_a_given_assignment_like_the_solver() -> None:
    travel = np.array([[100.0, 400.0], [100.0, 400.0], [100.0, 400.0]])
    best = assign_batch(travel, capacity=[3, 3], open_tasks=[1, 0], load_penalty_s=600.0)
    assert evaluate(travel, best.worker_of, open_tasks=[1, 0]).cost == best.cost == 2100.0
    given = evaluate(travel, [0, 0, 1], open_tasks=[1, 0], load_penalty_s=600.0)
    # worker 0: 2 × 100 + 600 × (1 + 2); worker 1: 400 + 600 × 0
    assert given.cost == 2400.0 and given.method == "given"
    assert evaluate(travel, [-1, -1, 1], open_tasks=[1, 0]).cost == 400.0
    with pytest.raises(DispatchInputError, match="worker_of"):
        evaluate(travel, [0, 2, 1], open_tasks=[0, 0])


def test_relations_rank_own_grid_then_community_then_area() -> None:
    assignments = pd.DataFrame(
        {
            "grid_id": [1, 1, 2, 3, 3],
            "worker_id": [12, 7, 7, 31, 8],
            "role": ["primary", "backup", "primary", "primary", "backup"],
            "community_id": [10, 10, 10, 20, 20],
        }
    )
    # cases in grid 1 (community 10), grid 3 (community 20), and in no grid
    rel = relations([1, 3, None], [10, 20, None], [12, 7, 8, 31], assignments)
    assert rel.tolist() == [[1, 2, 4, 4], [4, 4, 2, 1], [4, 4, 4, 4]]
    # a case in grid 2: 7 is its primary, 12 belongs to the same community (10); 8 is
    # primary nowhere and so belongs where they back up (grid 3, community 20)
    rel = relations([2], [10], [12, 7, 8, 31], assignments)
    assert rel.tolist() == [[3, 1, 4, 4]]
    assert eligible_pairs(rel, "grid").tolist() == [[False, True, False, False]]
    assert eligible_pairs(rel, "community").tolist() == [[True, True, False, False]]
    assert eligible_pairs(rel, "area").all()
    with pytest.raises(DispatchInputError, match="widen"):
        eligible_pairs(rel, "city")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- travel times
def _reference_seconds(
    edges: gpd.GeoDataFrame,
    network: RoadNetwork,
    workers: Snap,
    incidents: Snap,
    speed_of: Callable[[pd.Series], float],
) -> np.ndarray:
    """networkx: split edges at every snapped point, then Dijkstra from each worker."""
    inserts: dict[int, list[tuple[float, tuple[str, int]]]] = {}
    for tag, snap in (("w", workers), ("i", incidents)):
        for j, (e, f) in enumerate(zip(snap.edge, snap.fraction, strict=True)):
            inserts.setdefault(int(network.edge_id[e]), []).append((float(f), (tag, j)))
    graph = nx.Graph()

    def link(a: object, b: object, s: float) -> None:
        if a != b and (not graph.has_edge(a, b) or graph[a][b]["weight"] > s):
            graph.add_edge(a, b, weight=s)

    kept = set(network.edge_id.tolist())
    for _, row in edges.iterrows():
        if row["id"] not in kept or not row["walkable"]:
            continue
        chain = [(0.0, ("n", row["source"]))]
        chain += sorted(inserts.get(int(row["id"]), []))
        chain.append((1.0, ("n", row["target"])))
        for (f1, a), (f2, b) in itertools.pairwise(chain):
            link(a, b, (f2 - f1) * row["length_m"] / speed_of(row))
    walk = network.walk_speed_mps
    for j, off in enumerate(workers.offset_m):
        link(("W", j), ("w", j), float(off) / walk)
    for i, off in enumerate(incidents.offset_m):
        link(("I", i), ("i", i), float(off) / walk)
    out = np.full((len(incidents.edge), len(workers.edge)), np.inf)
    for j in range(len(workers.edge)):
        dist = nx.single_source_dijkstra_path_length(graph, ("W", j))
        for i in range(len(incidents.edge)):
            out[i, j] = dist.get(("I", i), np.inf)
    return out


def test_travel_times_agree_with_networkx_on_the_tiny_network() -> None:
    layers = tiny_district()
    net = RoadNetwork.from_frames(layers["road_node"], layers["road_edge"])
    w_lon, w_lat = [W + 0.0005, MID + 0.003, W + 0.009], [S + 0.001, S - 0.0005, S + 0.004]
    i_lon, i_lat = [W + 0.001, MID - 0.001, W + 0.0095, MID], [S + 0.002, S, S, S + 0.003]
    got = travel_times(net, w_lon, w_lat, i_lon, i_lat)
    ref = _reference_seconds(
        layers["road_edge"],
        net,
        net.snap(w_lon, w_lat),
        net.snap(i_lon, i_lat),
        lambda row: net.walk_speed_mps,
    )
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    assert got.shape == (4, 3)
    # by car at 30 km/h along the road, walking to and from it
    drive = travel_times(net, w_lon, w_lat, i_lon, i_lat, mode="drive")
    ref_drive = _reference_seconds(
        layers["road_edge"],
        net,
        net.snap(w_lon, w_lat),
        net.snap(i_lon, i_lat),
        lambda row: 30 / 3.6,
    )
    np.testing.assert_allclose(drive, ref_drive, rtol=1e-9)
    assert np.all(drive < got)


def test_travel_times_agree_with_networkx_on_a_sample_district() -> None:
    layers = generate_district(3000, 7, progress=False)
    net = RoadNetwork.from_frames(layers["road_node"], layers["road_edge"])
    rng = np.random.default_rng(3)
    lo, hi = net.node_xy.min(axis=0), net.node_xy.max(axis=0)
    ll = shapely.get_coordinates(net.to_wgs84(shapely.points(rng.uniform(lo, hi, (26, 2)))))
    # two workers on the same edge as an incident, to check the way straight along it
    ll[1] = ll[0] + 1e-5
    w_lon, w_lat, i_lon, i_lat = ll[:6, 0], ll[:6, 1], ll[6:, 0], ll[6:, 1]
    i_lon[0], i_lat[0] = ll[0] + [2e-5, 0]
    got = travel_times(net, w_lon, w_lat, i_lon, i_lat)
    ref = _reference_seconds(
        layers["road_edge"],
        net,
        net.snap(w_lon, w_lat),
        net.snap(i_lon, i_lat),
        lambda row: net.walk_speed_mps,
    )
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    assert np.isfinite(got).all()


def test_driving_respects_one_way_streets() -> None:
    # a block 0.002° square: the south side one-way eastward
    x0, y0, d = 120.08, 30.31, 0.002
    corners = [(x0, y0), (x0 + d, y0), (x0 + d, y0 + d), (x0, y0 + d)]
    nodes = gpd.GeoDataFrame({"id": [1, 2, 3, 4]}, geometry=[Point(c) for c in corners], crs=4326)
    pairs = [(1, 2), (2, 3), (3, 4), (4, 1)]
    edges = gpd.GeoDataFrame(
        {
            "id": [1, 2, 3, 4],
            "source": [a for a, _ in pairs],
            "target": [b for _, b in pairs],
            "length_m": [200.0] * 4,
            "road_class": ["branch"] * 4,
            "oneway": [True, False, False, False],
            "drive_speed_kmh": [36.0] * 4,  # 10 m/s: 20 s per side
        },
        geometry=[LineString([corners[a - 1], corners[b - 1]]) for a, b in pairs],
        crs=4326,
    )
    net = RoadNetwork.from_frames(nodes, edges)
    worker = (x0 + d * 0.25, y0)  # a quarter along the one-way side
    ahead, behind = (x0 + d * 0.75, y0), (x0 + d * 0.10, y0)
    got = travel_times(
        net, [worker[0]], [worker[1]], [ahead[0], behind[0]], [ahead[1], behind[1]], mode="drive"
    )[:, 0]
    # ahead: half a side with the traffic; behind: on to the corner, round the block
    # (3 sides) and back in from its start: 0.75 + 3 + 0.10 sides
    assert got[0] == pytest.approx(0.5 * 20, abs=0.01)
    assert got[1] == pytest.approx((0.75 + 3 + 0.10) * 20, abs=0.01)
    walk = travel_times(net, [worker[0]], [worker[1]], [behind[0]], [behind[1]])[0, 0]
    assert walk == pytest.approx(0.15 * 200 / net.walk_speed_mps, abs=0.01)
