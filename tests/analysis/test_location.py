"""Facility location-allocation: hand-checkable optima, fixed/excluded sites, honesty, spopt.

Most tests use one street: five demand points at x = 0, 100, 200, 300, 400 m and three
candidate sites at x = 0, 200, 400 m, walked at 1 m/s, so the time between demand i and
site j is ``|x_i − s_j|`` seconds:

    demand   d0    d1    d2    d3    d4
    x (m)     0   100   200   300   400
    sites    s0          s1          s2
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pulp
import pytest
from scipy import sparse

from analysis.location import (
    LocationError,
    LocationResult,
    capacitated_p_median,
    cover_matrix,
    lscp,
    mclp,
    p_median,
)

DEMAND_X = np.array([0.0, 100.0, 200.0, 300.0, 400.0])
SITE_X = np.array([0.0, 200.0, 400.0])
STREET = np.abs(DEMAND_X[:, None] - SITE_X[None, :])  # seconds


def walk_of(result: LocationResult, times: np.ndarray, weights: np.ndarray) -> float:
    """Total weighted walk of a p-median answer, recomputed from its assignment."""
    served = result.assignment >= 0
    rows = np.flatnonzero(served)
    return float((weights[rows] * times[rows, result.assignment[rows]]).sum())


# ---------------------------------------------------------------------- p-median
def test_p_median_on_the_street_opens_the_middle_site() -> None:
    weights = np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    # s0: 0+100+200+300+2·400 = 1400; s1: 200+100+0+100+2·200 = 800; s2: 400+300+200+100+0 = 1000
    result = p_median(STREET, weights, 1)
    assert result.status == "optimal"
    assert result.sites.tolist() == [1]
    assert result.objective == pytest.approx(800.0)
    assert result.assignment.tolist() == [1, 1, 1, 1, 1]
    assert result.covered.all()
    assert walk_of(result, STREET, weights) == pytest.approx(result.objective)
    assert result.bound == pytest.approx(800.0, rel=1e-4)


def test_p_median_heavy_end_pulls_the_site_there() -> None:
    weights = np.array([1.0, 1.0, 1.0, 1.0, 10.0])
    # s1: 200+100+0+100+10·200 = 2400; s2: 400+300+200+100+0 = 1000
    result = p_median(STREET, weights, 1)
    assert result.sites.tolist() == [2]
    assert result.objective == pytest.approx(1000.0)


def test_p_median_fixed_site_changes_the_best_new_one() -> None:
    weights = np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    # with s0 open already: adding s1 gives 0+100+0+100+2·200 = 600, adding s2 gives
    # 0+100+200+100+0 = 400
    result = p_median(STREET, weights, 1, fixed=[0])
    assert result.sites.tolist() == [2]
    assert result.open_sites.tolist() == [0, 2]
    assert result.fixed.tolist() == [0]
    assert result.objective == pytest.approx(400.0)
    assert result.assignment.tolist() == [0, 0, 2, 2, 2] or result.assignment.tolist() == [
        0,
        0,
        0,
        2,
        2,
    ]


def test_p_median_excluded_site_is_never_opened() -> None:
    weights = np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    result = p_median(STREET, weights, 1, excluded=[1])
    assert result.sites.tolist() == [2]  # 1000 s beats s0's 1400 s
    assert result.objective == pytest.approx(1000.0)


def test_p_median_with_p_zero_serves_from_the_fixed_sites() -> None:
    result = p_median(STREET, np.ones(5), 0, fixed=[2])
    assert result.status == "optimal"
    assert result.sites.tolist() == []
    assert result.objective == pytest.approx(400 + 300 + 200 + 100 + 0)


def test_sparse_times_keep_explicit_zeros_and_missing_means_unreachable() -> None:
    # d0 reaches s0 in 0 s (stored zero); d1 reaches only s1, in 50 s
    times = sparse.csr_matrix((np.array([0.0, 50.0]), (np.array([0, 1]), np.array([0, 1]))), (2, 2))
    assert times.nnz == 2
    both = p_median(times, np.ones(2), 2)
    assert both.status == "optimal"
    assert both.sites.tolist() == [0, 1]
    assert both.objective == pytest.approx(50.0)
    assert both.uncoverable.tolist() == []
    # one site cannot reach both: every reachable demand must be served → infeasible
    one = p_median(times, np.ones(2), 1)
    assert one.status == "infeasible"
    assert np.isnan(one.objective)
    assert "raise p" in one.explain()
    # … unless unserved demand may be left at a cost: s0 leaves d1 (1000 s), s1 leaves d0
    as_array = p_median(sparse.csr_array(times), np.ones(2), 2)  # the newer sparse type
    assert as_array.objective == pytest.approx(50.0)
    priced = p_median(times, np.ones(2), 1, unserved_s=1000.0)
    assert priced.status == "optimal"
    assert priced.sites.tolist() == [0]
    assert priced.objective == pytest.approx(1000.0)
    assert priced.covered.tolist() == [True, False]
    assert "1 more demand point (1) can reach an allowed site but none" in priced.explain()


def test_unreachable_demand_is_reported_and_left_out() -> None:
    times = np.vstack([STREET, np.full((1, 3), np.inf)])  # d5 reaches no site
    weights = np.array([1.0, 1.0, 1.0, 1.0, 2.0, 100.0])
    result = p_median(times, weights, 1)
    assert result.status == "optimal"
    assert result.uncoverable.tolist() == [5]
    assert result.objective == pytest.approx(800.0)
    assert result.assignment[5] == -1
    assert not result.covered[5]
    assert "1 demand point (5) can reach no allowed site and stays unserved" in result.explain()


def test_excluding_the_only_reachable_site_makes_demand_uncoverable() -> None:
    times = STREET.copy()
    times[4, :2] = np.inf  # d4 only reaches s2
    result = p_median(times, np.ones(5), 1, excluded=[2])
    assert result.uncoverable.tolist() == [4]
    assert result.sites.tolist() == [1]


def test_identical_demand_rows_are_merged_without_changing_the_answer() -> None:
    rng = np.random.default_rng(7)
    times = rng.integers(0, 30, size=(40, 12)).astype(float) * 60
    weights = rng.integers(1, 5, size=40).astype(float)
    doubled = np.vstack([times, times[:20]])
    doubled_w = np.concatenate([weights, weights[:20]])
    summed_w = weights.copy()
    summed_w[:20] *= 2
    a = p_median(doubled, doubled_w, 3)
    b = p_median(times, summed_w, 3)
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    assert a.status == b.status == "optimal"
    cover = cover_matrix(times, 600)
    c = mclp(cover_matrix(doubled, 600), doubled_w, 2)
    d = mclp(cover, summed_w, 2)
    assert c.objective == pytest.approx(d.objective)
    # every copy of a demand point gets its own assignment
    assert np.array_equal(a.assignment[40:], a.assignment[:20])


# ---------------------------------------------------------------------- coverage
def test_cover_matrix_holds_exactly_the_pairs_within_the_standard() -> None:
    cover = cover_matrix(STREET, 100.0)
    assert isinstance(cover, sparse.csr_matrix)
    assert cover.dtype == bool
    expected = STREET <= 100.0
    assert np.array_equal(cover.toarray(), expected)
    zero = sparse.csr_matrix((np.array([0.0]), (np.array([0]), np.array([1]))), (2, 2))
    assert cover_matrix(zero, 0.0).toarray().tolist() == [[False, True], [False, False]]


def test_mclp_on_the_street() -> None:
    cover = cover_matrix(STREET, 100.0)  # s0: d0 d1 · s1: d1 d2 d3 · s2: d3 d4
    weights = np.array([2.0, 1.0, 1.0, 1.0, 3.0])
    one = mclp(cover, weights, 1)
    assert one.status == "optimal"
    assert one.sites.tolist() == [2]  # covers 1 + 3 = 4 (s0: 3, s1: 3)
    assert one.objective == pytest.approx(4.0)
    assert one.covered.tolist() == [False, False, False, True, True]
    two = mclp(cover, weights, 2)
    assert two.sites.tolist() == [0, 2]  # 2+1+1+3 = 7 ({1,2}: 6, {0,1}: 5)
    assert two.objective == pytest.approx(7.0)
    assert two.bound == pytest.approx(7.0)
    assert two.gap == 0.0


def test_mclp_fixed_and_excluded_sites() -> None:
    cover = cover_matrix(STREET, 100.0)
    weights = np.array([2.0, 1.0, 1.0, 1.0, 3.0])
    fixed = mclp(cover, weights, 1, fixed=[1])
    assert fixed.sites.tolist() == [2]  # s1 holds d1-d3 (3); s2 adds d4 (3), s0 adds d0 (2)
    assert fixed.open_sites.tolist() == [1, 2]
    assert fixed.objective == pytest.approx(6.0)
    excluded = mclp(cover, weights, 2, excluded=[2])
    assert excluded.sites.tolist() == [0, 1]
    assert excluded.objective == pytest.approx(5.0)
    assert excluded.uncoverable.tolist() == [4]


def test_mclp_returns_only_the_sites_that_matter() -> None:
    cover = cover_matrix(STREET, 200.0)  # s1 alone covers everyone
    result = mclp(cover, np.ones(5), 3)
    assert result.sites.tolist() == [1]
    assert result.objective == pytest.approx(5.0)
    assert "1 of the 3 allowed" in result.explain()


def test_mclp_assigns_to_the_nearest_covering_site_when_times_are_given() -> None:
    cover = cover_matrix(STREET, 200.0)
    nearest = mclp(cover, np.ones(5), 0, fixed=[0, 1], times=STREET)
    assert nearest.assignment.tolist() == [0, 0, 1, 1, 1]  # d1 ties: lowest index
    first = mclp(cover, np.ones(5), 0, fixed=[0, 1])
    assert first.assignment.tolist() == [0, 0, 0, 1, 1]  # s0 covers d2 within 200 s too


def test_lscp_on_the_street() -> None:
    assert lscp(cover_matrix(STREET, 100.0)).sites.tolist() == [0, 1, 2]
    wide = lscp(cover_matrix(STREET, 200.0))
    assert wide.status == "optimal"
    assert wide.sites.tolist() == [1]
    assert wide.objective == 1.0
    no_middle = lscp(cover_matrix(STREET, 200.0), excluded=[1])
    assert no_middle.sites.tolist() == [0, 2]
    with_fixed = lscp(cover_matrix(STREET, 100.0), fixed=[1])
    assert with_fixed.sites.tolist() == [0, 2]
    assert with_fixed.objective == 2.0
    assert with_fixed.open_sites.tolist() == [0, 1, 2]
    assert with_fixed.covered.all()


def test_lscp_names_exactly_the_uncoverable_demand() -> None:
    result = lscp(cover_matrix(STREET, 100.0), excluded=[2])  # only s2 covers d4
    assert result.status == "optimal"
    assert result.uncoverable.tolist() == [4]
    assert result.sites.tolist() == [0, 1]
    assert result.covered.tolist() == [True, True, True, True, False]
    text = result.explain()
    assert "1 demand point (4) is within the standard of no allowed site" in text


def test_lscp_ignores_demand_of_weight_zero() -> None:
    result = lscp(cover_matrix(STREET, 100.0), weights=[1.0, 1.0, 1.0, 1.0, 0.0])
    assert result.sites.tolist() == [0, 1]  # d4 need not be covered
    assert result.uncoverable.tolist() == []


# ---------------------------------------------------------------------- capacitated
def test_capacitated_p_median_splits_demand_over_full_sites() -> None:
    weights = np.array([1.0, 1.0, 1.0, 1.0, 10.0])
    # uncapacitated: s1 + s2 serve everyone within 100 s (walk 0+100+0+100+0 … = 200 s)
    result = capacitated_p_median(STREET, weights, [8.0, 8.0, 8.0], 2)
    # s2 takes 8 of d4's 10; the other 2 walk 200 s to s1: d0..d3 to s1 = 400, +2·200
    assert result.status == "optimal"
    assert result.sites.tolist() == [1, 2]
    assert result.objective == pytest.approx(800.0)
    assert result.load.tolist() == pytest.approx([0.0, 6.0, 8.0])
    assert result.assignment.tolist() == [1, 1, 1, 1, 2]


def test_capacitated_p_median_reports_too_little_capacity() -> None:
    result = capacitated_p_median(STREET, np.ones(5), 3.0, 1)
    assert result.status == "infeasible"
    assert result.sites.tolist() == []
    text = result.explain()
    assert "exceeds the most capacity that can be open" in text
    assert "raise p" in text
    # with a price on unserved demand it opens the best site and leaves two unserved
    priced = capacitated_p_median(STREET, np.ones(5), 3.0, 1, unserved_s=1000.0)
    assert priced.status == "optimal"
    assert priced.served_weight == pytest.approx(3.0)
    assert priced.objective == pytest.approx(200.0 + 2000.0)  # d1,d2,d3 to s1 + 2 unserved


def test_capacitated_p_median_with_ample_capacity_is_the_p_median() -> None:
    rng = np.random.default_rng(3)
    times = rng.random((30, 8)) * 900
    weights = rng.integers(1, 9, 30).astype(float)
    free = p_median(times, weights, 3, mip_gap=1e-9)
    ample = capacitated_p_median(times, weights, np.inf, 3, mip_gap=1e-9)
    assert ample.objective == pytest.approx(free.objective, rel=1e-6)


# ---------------------------------------------------------------------- honesty
def test_time_limit_status_agrees_with_the_gap() -> None:
    rng = np.random.default_rng(11)
    xy_d, xy_s = rng.random((1500, 2)) * 5000, rng.random((200, 2)) * 5000
    times = np.hypot(*(xy_d[:, None, :] - xy_s[None, :, :]).transpose(2, 0, 1))
    weights = rng.integers(1, 20, 1500).astype(float)
    for result in (
        p_median(times, weights, 15, time_limit=0.3),
        mclp(cover_matrix(times, 500.0), weights, 15, time_limit=0.3),
    ):
        assert result.status in ("optimal", "time_limit")
        text = result.explain()
        if result.status == "optimal":
            assert result.gap <= 1e-4
            assert "Proven optimal" in text
        else:
            assert result.gap > 0
            assert "not proven optimal" in text
        if result.model == "p_median":
            assert result.bound <= result.objective + 1e-6
            assert walk_of(result, times, weights) == pytest.approx(result.objective)
        else:
            assert result.bound >= result.objective - 1e-6
            covered = cover_matrix(times, 500.0)[:, result.open_sites].toarray().any(axis=1)
            assert weights[covered].sum() == pytest.approx(result.objective)
        assert len(result.sites) <= 15


def test_no_banner_on_stdout() -> None:
    code = (
        "import numpy as np; from analysis.location import p_median; "
        "p_median(np.array([[1.0, 2.0]]), np.ones(1), 1); print('only this')"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert done.stdout == "only this\n"


# ---------------------------------------------------------------------- vs brute force
@pytest.mark.parametrize("seed", range(12))
def test_optimum_matches_enumeration_of_every_choice(seed: int) -> None:
    """Small random instances with holes, ties, fixed/excluded sites, both unserved rules."""
    rng = np.random.default_rng(seed)
    n, m, p = 25, 7, 2
    times = np.round(rng.random((n, m)) * 10) * 100  # many ties
    times[rng.random((n, m)) < 0.4] = np.inf
    weights = rng.integers(0, 4, n).astype(float)
    fixed, excluded = [int(seed % m)], [int((seed + 3) % m)]
    free = [j for j in range(m) if j not in fixed + excluded]
    unserved = None if seed % 2 else 800.0
    limit = 400.0

    def walk(open_sites: list[int]) -> float:
        best = times[:, open_sites].min(axis=1)
        reach = np.isfinite(np.delete(times, excluded, axis=1)).any(axis=1)
        if unserved is not None:
            best = np.minimum(best, unserved)
            reach = (np.delete(times, excluded, axis=1) <= unserved).any(axis=1)
        needed = reach & (weights > 0)
        return float((weights[needed] * best[needed]).sum())

    choices = [fixed + list(s) for s in itertools.combinations(free, p)]
    best_walk = min(walk(c) for c in choices)
    got = p_median(times, weights, p, fixed=fixed, excluded=excluded, unserved_s=unserved)
    if np.isfinite(best_walk):
        assert got.status == "optimal"
        assert got.objective == pytest.approx(best_walk, rel=1e-4)
        assert walk(got.open_sites.tolist()) == pytest.approx(got.objective)
    else:
        assert got.status == "infeasible"

    cover = np.isfinite(times) & (times <= limit)
    best_cover = max(weights[cover[:, c].any(axis=1)].sum() for c in choices)
    got_cover = mclp(cover_matrix(times, limit), weights, p, fixed=fixed, excluded=excluded)
    assert got_cover.objective == pytest.approx(best_cover)
    assert weights[cover[:, got_cover.open_sites].any(axis=1)].sum() == got_cover.objective


# ---------------------------------------------------------------------- vs spopt
def _random_instance(seed: int, n: int = 40, m: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    demand, sites = rng.random((n, 2)) * 1000, rng.random((m, 2)) * 1000
    times = np.round(np.hypot(*(demand[:, None, :] - sites[None, :, :]).transpose(2, 0, 1)))
    return times, rng.integers(1, 10, n).astype(float)


def _solver() -> pulp.LpSolver:
    return pulp.HiGHS(msg=False, gapRel=1e-9)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP 3 about its own API
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_optimum_as_spopt(seed: int) -> None:
    from spopt.locate import LSCP, MCLP, PMedian

    times, weights = _random_instance(seed)
    fixed = np.zeros(times.shape[1], dtype=int)
    fixed[5] = 1

    theirs = MCLP.from_cost_matrix(times, weights, service_radius=250, p_facilities=3)
    theirs.solve(_solver())
    ours = mclp(cover_matrix(times, 250), weights, 3)
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-9)

    theirs = MCLP.from_cost_matrix(
        times, weights, service_radius=250, p_facilities=3, predefined_facilities_arr=fixed
    )
    theirs.solve(_solver())
    ours = mclp(cover_matrix(times, 250), weights, 2, fixed=[5])
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-9)

    theirs = PMedian.from_cost_matrix(times, weights, p_facilities=3)
    theirs.solve(_solver())
    ours = p_median(times, weights, 3, mip_gap=1e-9)
    assert ours.status == "optimal"
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-9)

    theirs = PMedian.from_cost_matrix(
        times, weights, p_facilities=3, predefined_facilities_arr=fixed
    )
    theirs.solve(_solver())
    ours = p_median(times, weights, 2, fixed=[5], mip_gap=1e-9)
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective), rel=1e-9)

    theirs = LSCP.from_cost_matrix(times, service_radius=600)
    theirs.solve(_solver())
    ours = lscp(cover_matrix(times, 600))
    assert ours.objective == pytest.approx(pulp.value(theirs.problem.objective))


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: p_median(STREET, np.ones(5), -1), "p must be ≥ 0"),
        (lambda: p_median(STREET, np.ones(5), 4), "only 3 candidate sites"),
        (lambda: p_median(STREET, np.ones(5), 2, excluded=[0, 1]), "only 1 candidate sites"),
        (lambda: p_median(STREET, np.ones(5), 1.5), "whole number"),
        (lambda: p_median(STREET, np.ones(4), 1), "one value per demand point"),
        (lambda: p_median(STREET, -np.ones(5), 1), "finite and ≥ 0"),
        (lambda: p_median(STREET, [1, 1, np.nan, 1, 1], 1), "demand 2"),
        (lambda: p_median(np.where(STREET == 0, np.nan, STREET), np.ones(5), 1), "NaN"),
        (lambda: p_median(-STREET - 1, np.ones(5), 1), "negative time"),
        (lambda: p_median(STREET[0], np.ones(5), 1), "2-D"),
        (lambda: p_median(STREET, np.ones(5), 1, fixed=[3]), "out of range"),
        (lambda: p_median(STREET, np.ones(5), 1, fixed=[1], excluded=[1]), "both fixed"),
        (lambda: p_median(STREET, np.ones(5), 1, time_limit=0), "time_limit"),
        (lambda: p_median(STREET, np.ones(5), 1, unserved_s=-5), "unserved_s"),
        (lambda: mclp(STREET <= 100, np.ones(6), 1), "match the rows of cover"),
        (lambda: capacitated_p_median(STREET, np.ones(5), [1.0, -1.0, 1.0], 1), "capacity"),
        (lambda: capacitated_p_median(STREET, np.ones(5), [1.0, 1.0], 1), "one value per site"),
        (lambda: cover_matrix(STREET, -1), "limit_s"),
        (lambda: lscp(STREET <= 100, times=STREET[:4]), "same demand points"),
    ],
)
def test_bad_input_is_refused_with_a_useful_message(call: Callable[[], object], words: str) -> None:
    with pytest.raises(LocationError) as err:
        call()
    assert words in str(err.value)
