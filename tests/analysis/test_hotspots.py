"""Gi* hotspots agree with PySAL; early warning flags a planted spike and not a steady series."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from libpysal.weights import W

import h3.api.basic_int as h3int

from analysis.hotspots import (
    EarlyWarning,
    HotspotError,
    early_warning,
    gi_star,
    k_ring_weights,
)

TZ = "Asia/Shanghai"
CENTRE = h3int.latlng_to_cell(30.31, 120.09, 10)


def _area(radius: int = 8) -> np.ndarray:
    """A hexagonal study area of resolution-10 cells around 三墩 (217 cells for radius 8)."""
    return np.array(sorted(h3int.grid_disk(CENTRE, radius)), dtype=np.int64)


def test_k_ring_weights_are_the_h3_disks_within_the_area() -> None:
    area = _area(3)
    w = k_ring_weights(area, 1).toarray()
    for i, c in enumerate(area.tolist()):
        expected = {x for x in h3int.grid_disk(c, 1) if x in set(area.tolist())}
        assert set(area[np.flatnonzero(w[i])].tolist()) == expected
    # an inner cell has itself and 6 neighbours; a corner of the disk fewer
    assert w[area.tolist().index(CENTRE)].sum() == 7
    assert w.sum(axis=1).min() < 7


@pytest.mark.parametrize("k", [1, 2])
def test_gi_star_agrees_with_pysal(k: int) -> None:
    from esda.getisord import G_Local

    area = _area()
    rng = np.random.default_rng(11)
    counts = rng.poisson(3.0, len(area)).astype(float)
    # half the cells have a value; the others are zeros of the study area
    has = rng.random(len(area)) < 0.5
    ours = gi_star(area[has], counts[has], k=k, study_area=area)
    x = np.where(has, counts, 0.0)

    index = {c: i for i, c in enumerate(area.tolist())}
    neighbours = {
        i: [index[n] for n in h3int.grid_disk(c, k) if n in index and n != c]
        for c, i in index.items()
    }
    weights = W(neighbours, silence_warnings=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = G_Local(x, weights, transform="B", star=True, permutations=0)
    assert ours.frame["h3_cell"].tolist() == area.tolist()
    np.testing.assert_allclose(ours.frame["count"], x)
    np.testing.assert_allclose(ours.frame["gi_z"], peer.Zs, rtol=1e-9, atol=1e-9)
    # pysal's p_norm is one-sided; ours is two-sided
    np.testing.assert_allclose(ours.frame["p_value"], 2 * peer.p_norm, rtol=1e-9, atol=1e-12)


def test_planted_cluster_is_hot_and_flat_field_finds_nothing() -> None:
    area = _area(10)
    rng = np.random.default_rng(5)
    background = rng.poisson(2.0, len(area)).astype(float)
    hot_centre = h3int.grid_disk(CENTRE, 6)[-1]  # a cell away from the centre
    cluster = np.isin(area, list(h3int.grid_disk(hot_centre, 1)))
    planted = background + np.where(cluster, 12.0, 0.0)

    found = gi_star(area, planted, k=1)
    hot = set(found.hot["h3_cell"].tolist())
    assert hot_centre in hot
    assert hot <= set(h3int.grid_disk(hot_centre, 2))  # nothing hot far from the cluster
    assert (found.frame["q_value"] >= found.frame["p_value"] - 1e-15).all()
    assert "Benjamini-Hochberg" in found.method

    flat = gi_star(area, background, k=1)
    assert (flat.frame["significant"] == "none").all()
    # without the correction a few cells of a flat field pass by chance: FDR is what stops them
    uncorrected = gi_star(area, background, k=1, fdr=False, alpha=0.2)
    assert (uncorrected.frame["significant"] != "none").any()


def test_gi_star_constant_field_and_bad_input() -> None:
    area = _area(2)
    flat = gi_star(area, np.ones(len(area)))
    assert (flat.frame["gi_z"] == 0).all() and (flat.frame["significant"] == "none").all()
    with pytest.raises(HotspotError, match="differ in length"):
        gi_star(area, np.ones(3))
    with pytest.raises(HotspotError, match="finite"):
        gi_star(area, np.full(len(area), np.nan))
    with pytest.raises(HotspotError, match="at least 3 cells"):
        gi_star(area[:2], np.ones(2))


def _history(days: int, rate: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    starts = pd.date_range("2026-10-01", periods=days, freq="D", tz=TZ)
    rows = []
    for grid in (101, 102, 103):
        for code in ("30201", "20101"):
            n = rng.poisson(rate, days)
            rows += [
                {"place": grid, "category_code": code, "window_start": s, "count": int(c)}
                for s, c in zip(starts, n, strict=True)
                if c > 0  # zero days are absent, as an aggregate gives them
            ]
    return pd.DataFrame(rows)


def test_planted_spike_is_flagged_with_its_evidence() -> None:
    counts = _history(29, 1.2, seed=2)
    last = pd.Timestamp("2026-10-29", tz=TZ)
    counts = counts[~((counts["place"] == 102) & (counts["window_start"] == last))]
    spike = pd.DataFrame(
        [{"place": 102, "category_code": "30201", "window_start": last, "count": 11}]
    )
    counts = pd.concat([counts, spike], ignore_index=True)

    found = early_warning(counts, category_names={"30201": "火灾隐患"})
    assert [(w.place_id, w.category) for w in found] == [(102, "30201")]
    w = found[0]
    assert isinstance(w, EarlyWarning)
    assert w.observed == 11 and w.window_start == last
    baseline = counts[
        (counts["place"] == 102)
        & (counts["category_code"] == "30201")
        & (counts["window_start"] < last)
    ]["count"].sum()
    assert w.expected == pytest.approx((baseline + 0.5) / 28)
    assert w.p_value < 0.001 / 6
    assert w.evidence.startswith("grid 102, 火灾隐患: 11 on 2026-10-29 vs ")
    assert "/day over the previous 28 days, p = " in w.evidence
    assert "Bonferroni" in w.method


def test_steady_series_and_small_counts_are_not_flagged() -> None:
    assert early_warning(_history(60, 1.5, seed=4)) == []
    # 2 after an empty month is unusual but below min_count
    one = pd.DataFrame(
        [
            {
                "place": 7,
                "category_code": "30201",
                "window_start": pd.Timestamp("2026-10-29", tz=TZ),
                "count": 2,
            },
            {
                "place": 7,
                "category_code": "30201",
                "window_start": pd.Timestamp("2026-10-01", tz=TZ),
                "count": 0,
            },
        ]
    )
    assert early_warning(one, min_count=3) == []
    assert len(early_warning(one, min_count=2, alpha=0.05)) == 1


def test_weekly_windows_and_bad_input() -> None:
    weeks = pd.date_range("2026-06-01", periods=13, freq="7D", tz=TZ)  # Mondays
    counts = pd.DataFrame(
        {"place": 5, "category_code": "20101", "window_start": weeks, "count": [2] * 12 + [20]}
    )
    found = early_warning(counts, window="week", baseline_windows=12)
    assert len(found) == 1 and "in the week of 2026-08-24" in found[0].evidence
    with pytest.raises(HotspotError, match="lack columns"):
        early_warning(counts.rename(columns={"place": "grid_id"}))
    with pytest.raises(HotspotError, match="not starts of a local day"):
        bad = counts.assign(window_start=weeks + pd.Timedelta(hours=3))
        early_warning(bad, window="day")


def test_aggregate_feeds_early_warning_and_gi_star() -> None:
    from analysis.aggregates import IncidentCube

    rng = np.random.default_rng(8)
    n = 4_000
    start = pd.Timestamp("2026-10-01", tz=TZ)
    area = _area(4)
    incidents = pd.DataFrame(
        {
            "category_code": rng.choice(["20101", "30201"], n),
            "state": "reported",
            "reported_at": start + pd.to_timedelta(rng.integers(0, 29 * 86_400, n), unit="s"),
            "grid_id": rng.integers(1, 6, n),
            "h3_cell": rng.choice(area, n),
        }
    )
    # 70 fire-hazard reports in grid 3 on the last day, in one cell and its ring
    ring = np.array(sorted(h3int.grid_disk(CENTRE, 1)), dtype=np.int64)
    spike = pd.DataFrame(
        {
            "category_code": "30201",
            "state": "reported",
            "reported_at": pd.Timestamp("2026-10-29 10:00", tz=TZ)
            + pd.to_timedelta(np.arange(70), unit="min"),
            "grid_id": 3,
            "h3_cell": np.resize(ring, 70),
        }
    )
    cube = IncidentCube.build(pd.concat([incidents, spike], ignore_index=True))
    daily = cube.aggregate(by="grid_id", window="day", split_by=("category_code",))
    found = early_warning(daily, place_column="grid_id")
    usual = (
        (incidents["grid_id"] == 3)
        & (incidents["category_code"] == "30201")
        & (incidents["reported_at"] >= pd.Timestamp("2026-10-29", tz=TZ))
    )
    assert [(w.place_id, w.category, w.observed) for w in found] == [
        (3, "30201", 70 + int(usual.sum()))
    ]
    last_day = cube.aggregate(
        by="h3_cell", start=pd.Timestamp("2026-10-29"), end=pd.Timestamp("2026-10-30")
    )
    hot = gi_star(last_day["h3_cell"], last_day["count"], study_area=area)
    assert CENTRE in set(hot.hot["h3_cell"].tolist())


def test_hourly_windows_compare_with_the_same_hour_of_earlier_days() -> None:
    # four weeks of a street that is busy 9:00-18:00 (8 an hour) and quiet at night (0)
    hours = pd.date_range("2026-10-01 00:00", periods=28 * 24, freq="h", tz="Asia/Shanghai")
    busy = (hours.hour >= 9) & (hours.hour < 18)
    base = pd.DataFrame(
        {"place": 1, "category_code": "20502", "window_start": hours, "count": np.where(busy, 8, 0)}
    )

    def now(at: str, n: int) -> list:
        start = pd.Timestamp(at, tz="Asia/Shanghai")
        last = pd.DataFrame(
            {"place": [1], "category_code": ["20502"], "window_start": [start], "count": [n]}
        )
        return early_warning(pd.concat([base, last]), window="hour", alpha=0.01)

    # 10 at 14:00 is an ordinary afternoon (8 expected), not a spike against a mixed
    # day-and-night mean of 3 an hour
    assert now("2026-10-29 14:00", 10) == []
    # 5 at 03:00 is far above the nights' nothing
    found = now("2026-10-29 03:00", 5)
    assert len(found) == 1 and found[0].expected < 0.1
    assert "same hour of day" in found[0].evidence
