"""The re-division simulator: loads, walks, the on-time model and the two layouts side by side."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from analysis.network import RoadNetwork
from analysis.redivision import History, LayoutError, NotEnoughHistory, fit_on_time, simulate
from analysis.redivision.replay import nearest_nodes, open_load, walk_minutes
from etl.synthetic_grids import district_grids
from etl.synthetic_office import candidate_layout, synthetic_office


@pytest.fixture(scope="module")
def office():
    grids, district = district_grids(40, size_m=2_500.0, seed=3)
    grids["key"] = [f"G{i:03d}" for i in range(len(grids))]
    grids["worker_id"] = np.arange(1, len(grids) + 1)
    made = synthetic_office(grids, district, n_cases=20_000, n_households=8_000)
    network = RoadNetwork.from_frames(made.nodes, made.edges, walk_speed_mps=1.2)
    return {
        "today": grids[["key", "worker_id", "geometry"]],
        "district": district,
        "office": made,
        "history": History(made.cases, made.households, made.end),
        "network": network,
    }


def test_open_load_counts_the_worker_s_other_open_cases() -> None:
    rng = np.random.default_rng(0)
    n = 3_000
    worker = rng.integers(0, 7, n)
    start = rng.uniform(0, 1e6, n)
    end = start + rng.exponential(5e4, n)
    got = open_load(worker, start, end)
    # brute force: cases of the same worker started before (ties by order) and not yet ended
    idx = np.arange(n)
    for i in rng.choice(n, 300, replace=False):
        same = worker == worker[i]
        before = (start < start[i]) | ((start == start[i]) & (idx < i))
        assert got[i] == int((same & before & (end > start[i])).sum())


def test_walks_follow_the_roads(office) -> None:
    network: RoadNetwork = office["network"]
    rng = np.random.default_rng(1)
    cases = office["office"].cases.sample(200, random_state=2)
    bases = office["office"].households.sample(5, random_state=3)
    which = rng.integers(0, 5, len(cases))
    got = walk_minutes(
        network,
        bases["lon"].to_numpy(),
        bases["lat"].to_numpy(),
        which,
        cases["lon"].to_numpy(),
        cases["lat"].to_numpy(),
        walk_speed_mps=1.2,
    )
    graph = nx.Graph()
    coo = network.walk_graph.tocoo()
    graph.add_weighted_edges_from(
        zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist(), strict=True)
    )
    b_node, b_off = nearest_nodes(network, bases["lon"].to_numpy(), bases["lat"].to_numpy())
    c_node, c_off = nearest_nodes(network, cases["lon"].to_numpy(), cases["lat"].to_numpy())
    for k in range(0, len(cases), 20):
        seconds = nx.shortest_path_length(
            graph, int(b_node[which[k]]), int(c_node[k]), weight="weight"
        )
        expected = (seconds + (b_off[which[k]] + c_off[k]) / 1.2) / 60
        assert got[k] == pytest.approx(expected, rel=1e-9)
    straight = walk_minutes(
        None,
        bases["lon"].to_numpy(),
        bases["lat"].to_numpy(),
        which,
        cases["lon"].to_numpy(),
        cases["lat"].to_numpy(),
        walk_speed_mps=1.2,
    )
    assert np.all(straight <= got * 1.3 + 1)  # the lattice is never shorter than the line


def test_the_model_finds_known_coefficients() -> None:
    rng = np.random.default_rng(4)
    n = 40_000
    load = rng.poisson(6, n).astype(float)
    walk = rng.gamma(2.0, 3.0, n)
    p = 1 / (1 + np.exp(-(2.0 - 0.15 * load - 0.08 * walk)))
    cases = pd.DataFrame(
        {
            "open_load": load,
            "walk_min": walk,
            "on_time": rng.random(n) < p,
            "start": pd.date_range("2026-01-01", periods=n, freq="5min", tz="UTC"),
        }
    )
    model = fit_on_time(cases)
    b = {c.name: c for c in model.coefficients}
    for name, truth in (("intercept", 2.0), ("open_load", -0.15), ("walk_min", -0.08)):
        assert abs(b[name].estimate - truth) < 3.5 * b[name].std_error
    held = model.held_out
    assert held is not None and held.n_train + held.n_test == n
    assert held.predicted_rate == pytest.approx(held.observed_rate, abs=0.02)
    assert held.auc is not None and held.auc > 0.6
    with pytest.raises(NotEnoughHistory, match="at least 30"):
        fit_on_time(cases.head(10))


def test_a_layout_against_itself_changes_nothing(office) -> None:
    today = office["today"]
    sim = simulate(office["history"], today, today.copy(), network=office["network"])
    a = sim.grids[sim.grids["layout"] == "today"].drop(columns=["layout", "on_time_observed"])
    b = sim.grids[sim.grids["layout"] == "candidate"].drop(columns=["layout", "on_time_observed"])
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    assert (sim.workers["change"] == "no change").all()


def test_a_candidate_layout_side_by_side(office) -> None:
    history: History = office["history"]
    candidate = candidate_layout(office["district"], 30)
    sim = simulate(history, office["today"], candidate, network=office["network"])
    today = sim.grids[sim.grids["layout"] == "today"]
    cand = sim.grids[sim.grids["layout"] == "candidate"]
    # the same cases and households on both sides
    assert today["incidents"].sum() == cand["incidents"].sum() == sim.cases
    assert today["households"].sum() == cand["households"].sum()
    assert today["due"].sum() == cand["due"].sum() == sim.due
    cats = [c for c in sim.grids.columns if c.startswith("cat_")]
    assert (sim.grids[cats].sum(axis=1) == sim.grids["incidents"]).all()
    # every candidate grid got a worker (each meets some grid of today)
    assert cand["worker_id"].notna().all()
    assert ((cand["on_time_expected"] > 0) & (cand["on_time_expected"] < 1)).all()
    assert (cand["walk_p90_min"] >= cand["walk_mean_min"] * 0.5).all()
    # today's expected rate follows the observed one (the model fits its own history)
    total = (today["on_time_expected"] * today["due"]).sum() / today["due"].sum()
    observed = (today["on_time_observed"] * today["due"]).sum() / today["due"].sum()
    assert total == pytest.approx(observed, abs=0.03)
    workers = sim.workers
    assert set(workers["worker_id"]) == set(office["today"]["worker_id"])
    moved = workers[workers["grids_candidate"].notna()]
    assert moved["change"].str.contains("→").all()
    assert (
        workers.loc[workers["grids_candidate"].isna(), "change"]
        .eq("no grid in the candidate layout")
        .all()
    )


def test_a_layout_must_be_polygons_in_wgs84(office) -> None:
    bad = office["today"].to_crs(3857)
    with pytest.raises(LayoutError, match="EPSG:4326"):
        simulate(office["history"], office["today"], bad, network=None)
    twice = pd.concat([office["today"].head(2)] * 2, ignore_index=True)
    with pytest.raises(LayoutError, match="repeats the grid"):
        simulate(office["history"], office["today"], twice, network=None)


def test_the_per_grid_p90_is_pandas_quantile() -> None:
    from analysis.redivision.simulate import _quantile_by

    rng = np.random.default_rng(5)
    group = rng.integers(0, 9, 5_000)
    values = rng.gamma(2.0, 3.0, 5_000)
    got = _quantile_by(group, values, 11, 0.9)
    expected = pd.Series(values).groupby(group).quantile(0.9).reindex(range(11)).to_numpy()
    np.testing.assert_allclose(got, expected, equal_nan=True)
