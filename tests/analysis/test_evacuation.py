"""The evacuation plan: optimal on small instances, capacities, priority, zones, shortage."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest

from analysis.evacuation import (
    ASSIGNED,
    NO_CANDIDATE,
    NO_CAPACITY,
    NO_SHELTER,
    CandidateCosts,
    EvacuationInputError,
    EvacuationPlan,
)

INF = np.inf


def brute_force(costs: np.ndarray, sizes: np.ndarray, caps: np.ndarray) -> tuple[int, float]:
    """Whole households: (most persons placed, least person-seconds at that)."""
    n, m = costs.shape
    best = (-1, INF)
    for choice in itertools.product(range(-1, m), repeat=n):
        load = np.zeros(m, dtype=np.int64)
        cost = 0.0
        ok = True
        for i, j in enumerate(choice):
            if j < 0:
                continue
            if not np.isfinite(costs[i, j]):
                ok = False
                break
            load[j] += sizes[i]
            cost += sizes[i] * costs[i, j]
        if not ok or np.any(load > caps):
            continue
        placed = int(sizes[[j >= 0 for j in choice]].sum())
        if placed > best[0] or (placed == best[0] and cost < best[1]):
            best = (placed, cost)
    return best


def networkx_flow(costs: np.ndarray, sizes: np.ndarray, caps: np.ndarray) -> tuple[int, float]:
    """Divisible persons: (persons placed, person-seconds), networkx network simplex."""
    n, m = costs.shape
    big = 10**9
    g = nx.DiGraph()
    total = int(sizes.sum())
    for i in range(n):
        g.add_node(("h", i), demand=-int(sizes[i]))
        g.add_edge(("h", i), "out", weight=big)
        for j in range(m):
            if np.isfinite(costs[i, j]):
                g.add_edge(("h", i), ("s", j), weight=int(costs[i, j]))
    for j in range(m):
        g.add_edge(("s", j), "sink", capacity=int(caps[j]), weight=0)
    g.add_edge("out", "sink", weight=0)
    g.add_node("sink", demand=total)
    flow = nx.min_cost_flow(g)
    cost = sum(
        f * costs[i, j]
        for i in range(n)
        for (_, j), f in ((v, f) for v, f in flow[("h", i)].items() if v != "out")
    )
    return total - flow["out"]["sink"], float(cost)


def check_feasible(plan: EvacuationPlan, costs: np.ndarray) -> None:
    placed = plan.shelter != NO_SHELTER
    assert np.all(plan.load <= plan.capacity)
    expected = np.bincount(
        plan.shelter[placed], weights=plan.sizes[placed], minlength=plan.capacity.size
    )
    np.testing.assert_array_equal(plan.load, expected)
    np.testing.assert_allclose(
        plan.walk_seconds[placed], costs[np.flatnonzero(placed), plan.shelter[placed]]
    )
    assert np.all(np.isnan(plan.walk_seconds[~placed]))


def test_hand_checked_optimum() -> None:
    # two households of 2 and one of 1; shelter 0 holds 3, shelter 1 holds 2
    costs = np.array([[10.0, 50.0], [20.0, 30.0], [5.0, 100.0]])
    plan = EvacuationPlan.solve(costs, [2, 2, 1], [3, 2])
    # {0,2} -> shelter 0 (2*10 + 1*5 = 25), 1 -> shelter 1 (2*30 = 60): 85
    np.testing.assert_array_equal(plan.shelter, [0, 1, 0])
    assert plan.total_person_seconds == pytest.approx(85.0)
    assert plan.unassigned_population == 0
    np.testing.assert_array_equal(plan.load, [3, 2])
    assert plan.mean_walk_seconds == pytest.approx(85.0 / 5)
    assert plan.max_walk_seconds == pytest.approx(30.0)


@pytest.mark.parametrize("seed", range(40))
def test_random_small_against_oracles(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 7)), int(rng.integers(1, 4))
    costs = rng.integers(1, 100, size=(n, m)).astype(float)
    costs[rng.random((n, m)) < 0.25] = INF
    sizes = rng.integers(1, 5, size=n)
    caps = rng.integers(0, int(sizes.sum()) + 1, size=m)
    plan = EvacuationPlan.solve(costs, sizes, caps)
    check_feasible(plan, costs)

    flow_placed, flow_cost = networkx_flow(costs, sizes, caps)
    assert plan.flow_unassigned_population == sizes.sum() - flow_placed
    assert plan.flow_person_seconds == pytest.approx(flow_cost)

    best_placed, best_cost = brute_force(costs, sizes, caps)
    placed = sizes.sum() - plan.unassigned_population
    assert placed <= best_placed
    # rounding loses at most the residents of the households the flow split
    lost = plan.unassigned_population - plan.flow_unassigned_population
    assert 0 <= lost <= sizes.max() * plan.split_households
    if plan.split_households == 0:
        # the divisible optimum came out whole, so it is the whole-household optimum
        assert placed == best_placed
        assert plan.total_person_seconds == pytest.approx(best_cost)


def test_split_household_is_repaired_whole() -> None:
    # shelter 0 holds 3 of two 2-person households: the divisible optimum must split one
    costs = np.array([[1.0, 100.0], [1.0, 100.0]])
    plan = EvacuationPlan.solve(costs, [2, 2], [3, 10])
    check_feasible(plan, costs)
    assert plan.split_households == 1
    assert plan.flow_person_seconds == pytest.approx(3 * 1.0 + 1 * 100.0)
    assert plan.unassigned_population == 0
    assert sorted(plan.shelter.tolist()) == [0, 1]
    assert plan.total_person_seconds == pytest.approx(2 * 1.0 + 2 * 100.0)


def test_capacity_respected_at_scale() -> None:
    rng = np.random.default_rng(7)
    n, m, k = 3000, 20, 5
    costs = np.full((n, m), INF)
    for i in range(n):
        cols = rng.choice(m, size=k, replace=False)
        costs[i, cols] = rng.uniform(60, 1200, size=k)
    sizes = rng.integers(1, 6, size=n)
    caps = rng.integers(200, 700, size=m)
    plan = EvacuationPlan.solve(CandidateCosts.from_dense(costs), sizes, caps)
    check_feasible(plan, costs)
    assert plan.population == sizes.sum()
    # whole households the flow placed stay placed: the rounding loses at most the split ones
    lost = plan.unassigned_population - plan.flow_unassigned_population
    assert 0 <= lost <= 5 * plan.split_households
    assert plan.split_households <= m
    assert plan.total_person_seconds <= 1.01 * plan.flow_person_seconds


def test_special_needs_first_and_nearest() -> None:
    # near shelter 0 holds 3; a general household of 3 and a special-needs one of 1
    costs = np.array([[10.0, 1000.0], [10.0, 20.0]])
    sizes = [3, 1]
    # without priority the optimum sends the 3 near and the 1 far (30 + 20 = 50)
    plain = EvacuationPlan.solve(costs, sizes, [3, 10])
    np.testing.assert_array_equal(plain.shelter, [0, 1])
    # with priority the special-needs household takes the near shelter first
    plan = EvacuationPlan.solve(costs, sizes, [3, 10], special_needs=[False, True])
    np.testing.assert_array_equal(plan.shelter, [1, 0])
    assert plan.walk_seconds[1] == pytest.approx(10.0)
    check_feasible(plan, costs)


def test_special_needs_placed_as_if_alone() -> None:
    # pass 1 ignores everybody else: the same shelters as a plan of the special needs alone
    rng = np.random.default_rng(11)
    n, m = 400, 6
    costs = rng.uniform(30, 900, size=(n, m))
    sizes = rng.integers(1, 4, size=n)
    special = rng.random(n) < 0.3
    caps = np.full(m, 60)
    plan = EvacuationPlan.solve(costs, sizes, caps, special_needs=special)
    alone = EvacuationPlan.solve(costs[special], sizes[special], caps)
    np.testing.assert_array_equal(plan.shelter[special], alone.shelter)
    check_feasible(plan, costs)


def test_special_needs_served_when_capacity_short() -> None:
    costs = np.array([[5.0], [50.0], [60.0]])
    plan = EvacuationPlan.solve(costs, [2, 1, 1], [2], special_needs=[False, True, True])
    np.testing.assert_array_equal(plan.shelter, [NO_SHELTER, 0, 0])
    assert plan.special_needs_unassigned_population == 0
    assert plan.unassigned_population == 2
    assert plan.unassigned_reason[0] == NO_CAPACITY


def test_zones_mask_and_lists_agree_and_are_respected() -> None:
    # shelters 0 and 1 are fixed with zones; shelter 2 is an emergency shelter, far
    costs = np.array(
        [
            [10.0, 1.0, 500.0],  # in zone 0: may not use the nearer shelter 1
            [1.0, 10.0, 500.0],  # in zone 1
            [1.0, 1.0, 500.0],  # in no zone: only the emergency shelter
        ]
    )
    mask = np.array([[True, False, False], [False, True, False], [False, False, False]])
    by_mask = EvacuationPlan.solve(costs, [1, 1, 1], [5, 5, 5], zones=mask)
    by_list = EvacuationPlan.solve(costs, [1, 1, 1], [5, 5, 5], zones=[[0], [1], []])
    for plan in (by_mask, by_list):
        np.testing.assert_array_equal(plan.shelter, [0, 1, 2])
        np.testing.assert_array_equal(plan.fixed, [True, True, False])
        np.testing.assert_array_equal(plan.zone_population, [1, 1, 0])
        check_feasible(plan, costs)


def test_zone_without_reachable_shelter_is_no_candidate() -> None:
    costs = np.array([[10.0, INF], [10.0, 20.0]])
    plan = EvacuationPlan.solve(costs, [2, 2], [10, 10], zones=[[1], [0]], fixed=[True, True])
    np.testing.assert_array_equal(plan.shelter, [NO_SHELTER, 0])
    np.testing.assert_array_equal(plan.unassigned_reason, [NO_CANDIDATE, ASSIGNED])


def test_shortage_reported_as_unassigned_population() -> None:
    rng = np.random.default_rng(3)
    n, m = 200, 4
    costs = rng.uniform(10, 600, size=(n, m))
    costs[0] = INF  # no shelter in reach
    sizes = np.ones(n, dtype=np.int64)
    plan = EvacuationPlan.solve(costs, sizes, [30, 30, 30, 30])
    check_feasible(plan, costs)
    assert plan.unassigned_population == n - 120
    assert plan.unassigned_households == n - 120
    np.testing.assert_array_equal(plan.load, [30, 30, 30, 30])
    assert plan.unassigned_reason[0] == NO_CANDIDATE
    out = plan.shelter == NO_SHELTER
    assert set(plan.unassigned_reason[out][1:].tolist()) == {NO_CAPACITY}
    assert np.all(plan.unassigned_reason[~out] == ASSIGNED)


def test_gb51143_flags_fixed_shelters_below_15_percent() -> None:
    n = 100
    costs = np.full((n, 3), 100.0)
    mask = np.zeros((n, 3), dtype=bool)
    mask[:, 0] = True  # zone of 100 residents, capacity 14 < 15
    mask[:, 1] = True  # same zone, capacity 15: exactly 15 %, compliant
    plan = EvacuationPlan.solve(costs, np.ones(n), [14, 15, 1], zones=mask)
    np.testing.assert_array_equal(plan.gb51143_short, [0])
    np.testing.assert_array_equal(plan.fixed, [True, True, False])
    np.testing.assert_array_equal(plan.zone_population, [100, 100, 0])
    assert plan.unassigned_population == n - 30


def test_empty_households_get_nearest_without_taking_places() -> None:
    costs = np.array([[30.0, 20.0], [5.0, 50.0]])
    plan = EvacuationPlan.solve(costs, [0, 1], [1, 0])
    np.testing.assert_array_equal(plan.shelter, [1, 0])
    np.testing.assert_array_equal(plan.load, [1, 0])


def test_from_triples_keeps_smallest_and_drops_unreachable() -> None:
    c = CandidateCosts.from_triples(
        [2, 0, 0, 2, 0], [1, 3, 3, 0, 1], [7.0, 9.0, 4.0, INF, 2.0], n_households=3
    )
    np.testing.assert_array_equal(c.indptr, [0, 2, 2, 3])
    np.testing.assert_array_equal(c.shelter, [1, 3, 1])
    np.testing.assert_array_equal(c.walk_seconds, [2.0, 4.0, 7.0])
    np.testing.assert_array_equal(c.household, [0, 0, 2])


@pytest.mark.parametrize(
    ("sizes", "caps", "kwargs"),
    [
        ([1, 1], [1], {}),  # sizes of the wrong length
        ([1, -1, 1], [1], {}),  # negative size
        ([1, 1, 1], [-1], {}),  # negative capacity
        ([1.5, 1, 1], [1], {}),  # part of a person
        ([1, 1, 1], [1], {"special_needs": [True]}),
        ([1, 1, 1], [1], {"zones": np.ones((3, 2), dtype=bool)}),
        ([1, 1, 1], [1], {"zones": [[0], [1]]}),
    ],
)
def test_bad_input_raises(sizes: list[float], caps: list[int], kwargs: dict[str, object]) -> None:
    with pytest.raises(EvacuationInputError):
        EvacuationPlan.solve(np.ones((3, 1)), sizes, caps, **kwargs)  # type: ignore[arg-type]


def test_shelter_index_out_of_range_raises() -> None:
    costs = CandidateCosts.from_triples([0], [5], [10.0], n_households=1)
    with pytest.raises(EvacuationInputError, match="capacities"):
        EvacuationPlan.solve(costs, [1], [10, 10])
