"""Incident aggregates: equal to a plain pandas groupby; local-time windows honoured."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.aggregates import (
    AggregateError,
    IncidentCube,
    aggregate,
    window_starts,
)

TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def incidents() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 5_000
    start = pd.Timestamp("2026-09-01", tz=TZ).value
    seconds = rng.integers(0, 60 * 86_400, n)
    grid = rng.integers(1, 12, n).astype(float)
    grid[rng.random(n) < 0.05] = np.nan  # outside every grid
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "category_code": rng.choice(["20101", "20502", "30301", "40101"], n),
            "state": rng.choice(["reported", "dispatched", "closed"], n),
            "source": rng.choice(["patrol", "hotline"], n),
            "reported_at": pd.to_datetime(start + seconds * 10**9, utc=True).tz_convert(TZ),
            "grid_id": grid,
            "h3_cell": 622351777918386175 + rng.integers(0, 40, n) * 4096,
            "community_id": rng.integers(1, 4, n),
        }
    ).sample(frac=1.0, random_state=1)  # not sorted by time


def _pandas(
    frame: pd.DataFrame, by: str, window: str | None, split: tuple[str, ...]
) -> pd.DataFrame:
    """The reference: pandas floor / normalize in local time and groupby."""
    f = frame.dropna(subset=[by]).copy()
    keys = [by]
    if window is not None:
        local = f["reported_at"].dt.tz_convert(TZ)
        if window == "hour":
            f["window_start"] = local.dt.floor("h")
        elif window == "day":
            f["window_start"] = local.dt.normalize()
        else:
            f["window_start"] = local.dt.normalize() - pd.to_timedelta(
                local.dt.day_of_week, unit="D"
            )
        keys.append("window_start")
    keys += list(split)
    out = f.groupby(keys).size().rename("count").reset_index()
    out[by] = out[by].astype(np.int64)
    return out.sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize(
    ("by", "window", "split"),
    list(
        itertools.product(
            ["h3_cell", "grid_id", "community_id"],
            [None, "hour", "day", "week"],
            [(), ("category_code",), ("state",), ("category_code", "state")],
        )
    ),
)
def test_aggregate_equals_pandas_groupby(
    incidents: pd.DataFrame, by: str, window: str | None, split: tuple[str, ...]
) -> None:
    ours = aggregate(incidents, by=by, window=window, split_by=split)
    ref = _pandas(incidents, by, window, split)
    assert list(ours.columns) == list(ref.columns)
    assert ours["count"].sum() == incidents[by].notna().sum()
    pd.testing.assert_frame_equal(ours, ref, check_dtype=False)


def test_cube_filters_and_range_equal_pandas(incidents: pd.DataFrame) -> None:
    cube = IncidentCube.build(incidents)
    start = pd.Timestamp("2026-09-14", tz=TZ)
    end = pd.Timestamp("2026-09-21", tz=TZ)
    ours = cube.aggregate(
        by="grid_id",
        window="day",
        start=start,
        end=end,
        categories=["20101", "30301"],
        states=["closed"],
        where={"source": ["hotline"]},
    )
    t = incidents["reported_at"]
    sel = incidents[
        (t >= start)
        & (t < end)
        & incidents["category_code"].isin(["20101", "30301"])
        & (incidents["state"] == "closed")
        & (incidents["source"] == "hotline")
    ]
    ref = _pandas(sel, "grid_id", "day", ())
    pd.testing.assert_frame_equal(ours, ref, check_dtype=False)
    assert len(ours["window_start"].unique()) == 7
    # a category nobody reported gives an empty frame with the same columns
    none = cube.aggregate(by="grid_id", categories=["99999"])
    assert list(none.columns) == ["grid_id", "count"] and len(none) == 0


def test_windows_are_cut_in_shanghai_time() -> None:
    # 2026-10-04 is a Sunday; 2026-10-05 a Monday
    at = pd.to_datetime(
        [
            "2026-10-04T15:59:59Z",  # Sunday 23:59:59 +08:00
            "2026-10-04T16:00:00Z",  # Monday 00:00:00 +08:00: a new day and a new week
            "2026-10-05T15:59:59Z",  # Monday 23:59:59 +08:00
        ],
        utc=True,
    )
    frame = pd.DataFrame({"grid_id": [1, 1, 1], "reported_at": at})
    days = aggregate(frame, by="grid_id", window="day")
    assert days["window_start"].tolist() == [
        pd.Timestamp("2026-10-04", tz=TZ),
        pd.Timestamp("2026-10-05", tz=TZ),
    ]
    assert days["count"].tolist() == [1, 2]
    weeks = aggregate(frame, by="grid_id", window="week")
    assert weeks["window_start"].tolist() == [
        pd.Timestamp("2026-09-28", tz=TZ),  # Monday
        pd.Timestamp("2026-10-05", tz=TZ),
    ]
    assert weeks["count"].tolist() == [1, 2]
    # cut in UTC instead, the first two fall on the same day
    utc_days = aggregate(frame, by="grid_id", window="day", tz="UTC")
    assert utc_days["count"].tolist() == [2, 1]
    # naive range bounds are local time: Monday 00:00 +08:00 onwards
    monday = aggregate(frame, by="grid_id", start=pd.Timestamp("2026-10-05"))
    assert monday["count"].tolist() == [2]


def test_window_starts_zero_fill_range() -> None:
    got = window_starts(pd.Timestamp("2026-10-01 13:00"), pd.Timestamp("2026-10-08"), "day")
    assert len(got) == 7 and got[0] == pd.Timestamp("2026-10-01", tz=TZ)
    weeks = window_starts(pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-13"), "week")
    assert weeks.tolist() == [
        pd.Timestamp("2026-09-28", tz=TZ),
        pd.Timestamp("2026-10-05", tz=TZ),
        pd.Timestamp("2026-10-12", tz=TZ),
    ]


def test_records_without_time_count_by_place() -> None:
    buildings = pd.DataFrame({"grid_id": [1, 1, 2, None], "use": ["r", "r", "c", "r"]})
    out = aggregate(buildings, by="grid_id", split_by=("use",))
    assert out.to_dict("list") == {"grid_id": [1, 2], "use": ["r", "c"], "count": [2, 1]}


def test_bad_requests_say_what_is_wrong(incidents: pd.DataFrame) -> None:
    with pytest.raises(AggregateError, match="window must be one of"):
        aggregate(incidents, window="month")
    with pytest.raises(AggregateError, match="lack columns"):
        aggregate(incidents, by="street_id")
    cube = IncidentCube.build(incidents)
    with pytest.raises(AggregateError, match="not indexed"):
        cube.aggregate(by="h3_cell", split_by=("description",))
    with pytest.raises(AggregateError, match="before start"):
        cube.aggregate(start=pd.Timestamp("2026-10-02", tz=TZ), end=pd.Timestamp("2026-10-01"))
