"""The 考核 KPIs: a hand-checkable table, every grouping, and the sample district's totals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from grids.kpi import KPI_COLUMNS, KPI_LABELS, kpis, with_chinese_labels

TZ = "Asia/Shanghai"
NOW = pd.Timestamp("2026-06-10 12:00", tz=TZ)  # a Wednesday; 2026-06-01 is a Monday

# id, grid, worker, category, source (P patrol, R resident_app, H hotline_12345), then times
# in June 2026 (reported, dispatched, deadline, closed), state, rating
#  1  on time, closed early                       due (closed)      rating 5
#  2  closed late                                 due (deadline)    rating 3
#  3  open past its deadline                      due, 超期未结
#  4  open within its deadline                    not yet due
#  5  rejected                                    never due
#  6  closed early, deadline still in the future  due (closed)      not rated
#  7  reported, not dispatched (its dispatch comes after NOW)    not due
#  8  closed after NOW: as of NOW open past its deadline -> 超期未结; rating ignored
ROWS = [
    (1, "G1", 1, "A", "P", "01 08:00", "01 09:00", "02 09:00", "01 20:00", "rated", 5),
    (2, "G1", 1, "A", "R", "02 08:00", "02 10:00", "03 10:00", "04 08:00", "rated", 3),
    (3, "G1", 1, "B", "H", "03 08:00", "03 12:00", "05 12:00", None, "escalated", None),
    (4, "G1", 1, "B", "P", "10 08:00", "10 09:00", "11 09:00", None, "in_progress", None),
    (5, "G2", 2, "A", "R", "04 08:00", None, None, None, "rejected", None),
    (6, "G2", 2, "A", "H", "08 08:00", "08 08:30", "12 08:30", "09 08:00", "closed", None),
    (7, "G2", None, "B", "P", "10 11:00", "10 13:00", None, None, "reported", None),
    (8, "G2", 2, "B", "P", "05 08:00", "05 09:00", "06 09:00", "11 08:00", "closed", 4),
]  # fmt: skip


SOURCES = {"P": "patrol", "R": "resident_app", "H": "hotline_12345"}


def _t(values: list[str | None], tz: str | None = TZ) -> pd.Series:
    times = pd.to_datetime(pd.Series([f"2026-06-{v}" if v else None for v in values], dtype=object))
    return times.dt.tz_localize(tz) if tz else times


def hand_made(tz: str | None = TZ) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = list(zip(*ROWS, strict=True))
    incidents = pd.DataFrame(
        {
            "id": np.array(cols[0], dtype=np.int64),
            "grid_code": pd.array(cols[1], dtype="str"),
            "assignee_id": pd.array(cols[2], dtype="Int64"),
            "category_code": pd.array(cols[3], dtype="str"),
            "source": pd.array([SOURCES[c] for c in cols[4]], dtype="str"),
            "reported_at": _t(list(cols[5]), tz),
            "deadline": _t(list(cols[7]), tz),
            "closed_at": _t(list(cols[8]), tz),
            "state": pd.array(cols[9], dtype="str"),
            "rating": pd.array(cols[10], dtype="Int64"),
        }
    )
    reported = pd.DataFrame(
        {"incident_id": cols[0], "to_state": "reported", "at": _t(list(cols[5]))}
    )
    dispatched = pd.DataFrame(
        {"incident_id": cols[0], "to_state": "dispatched", "at": _t(list(cols[6]))}
    ).dropna()
    extra = pd.DataFrame(
        {
            "incident_id": [2, 5],
            "to_state": ["dispatched", "rejected"],  # a re-dispatch: the first one counts
            "at": _t(["03 11:00", "04 09:00"]),
        }
    )
    events = pd.concat([reported, dispatched, extra], ignore_index=True)
    return incidents, events


def row(table: pd.DataFrame, **keys: object) -> pd.Series:
    mask = np.ones(len(table), dtype=bool)
    for key, value in keys.items():
        mask &= table[key].isna().to_numpy() if value is None else (table[key] == value).to_numpy()
    assert mask.sum() == 1, (keys, table)
    return table[mask].iloc[0]


def check(r: pd.Series, **expected: float) -> None:
    for name, want in expected.items():
        got = r[name]
        if isinstance(want, float) and math.isnan(want):
            assert pd.isna(got), (name, got)
        else:
            assert got == pytest.approx(want), (name, got, want)


NAN = float("nan")


def test_total_by_hand() -> None:
    incidents, events = hand_made()
    t = kpis(incidents, events, by=(), now=NOW)
    assert list(t.columns) == list(KPI_COLUMNS)
    assert len(t) == 1
    check(
        t.iloc[0],
        cases=8,
        rejected=1,
        open=4,  # 3, 4, 7, 8
        due=5,  # 1, 2, 3, 6, 8
        closed=3,  # 1, 2, 6
        closed_on_time=2,  # 1, 6
        closed_late=1,  # 2
        overdue_open=2,  # 3, 8
        close_rate=3 / 5,
        on_time_rate=2 / 5,
        dispatched=6,  # 1, 2, 3, 4, 6, 8: hours 1, 2, 4, 1, 0.5, 1
        dispatch_hours_mean=9.5 / 6,
        dispatch_hours_median=1.0,
        close_hours_mean=(12 + 48 + 24) / 3,
        close_hours_median=24.0,
        rated=2,  # 5 and 3; incident 8 is not closed as of NOW
        rating_mean=4.0,
        satisfied_share=0.5,
    )
    counts = ["cases", "rejected", "open", "due", "closed", "closed_on_time", "closed_late"]
    counts += ["overdue_open", "dispatched", "rated"]
    assert (t[counts].dtypes == np.int64).all()
    assert (t[[c for c in KPI_COLUMNS if c not in counts]].dtypes == np.float64).all()


def test_later_now_closes_the_late_case_and_makes_the_open_one_overdue() -> None:
    incidents, events = hand_made()
    t = kpis(incidents, events, by=(), now=pd.Timestamp("2026-06-20", tz=TZ)).iloc[0]
    check(
        t,
        due=6,
        closed=4,
        closed_on_time=2,
        closed_late=2,
        overdue_open=2,  # 3, 4
        open=3,  # 3, 4, 7
        dispatched=7,
        rated=3,
        rating_mean=4.0,
        satisfied_share=2 / 3,
        close_hours_median=36.0,  # 12, 24, 48, 144
    )


def test_by_grid() -> None:
    incidents, events = hand_made()
    t = kpis(incidents, events, by=("grid",), now=NOW)
    assert list(t["grid"]) == ["G1", "G2"]
    check(
        row(t, grid="G1"),
        cases=4,
        rejected=0,
        open=2,
        due=3,
        closed=2,
        closed_on_time=1,
        closed_late=1,
        overdue_open=1,
        close_rate=2 / 3,
        on_time_rate=1 / 3,
        dispatch_hours_mean=2.0,
        dispatch_hours_median=1.5,
        close_hours_mean=30.0,
        rated=2,
        rating_mean=4.0,
        satisfied_share=0.5,
    )
    check(
        row(t, grid="G2"),
        cases=4,
        rejected=1,
        open=2,
        due=2,
        closed=1,
        closed_on_time=1,
        closed_late=0,
        overdue_open=1,
        close_rate=0.5,
        on_time_rate=0.5,
        dispatched=2,
        dispatch_hours_mean=0.75,
        close_hours_median=24.0,
        rated=0,
        rating_mean=NAN,
        satisfied_share=NAN,
    )


def test_by_worker_keeps_the_unassigned_case() -> None:
    incidents, events = hand_made()
    t = kpis(incidents, events, by=("worker",), now=NOW)
    assert len(t) == 3
    check(row(t, worker=1), cases=4, due=3, closed=2, close_rate=2 / 3)
    check(row(t, worker=2), cases=3, rejected=1, due=2, closed=1, on_time_rate=0.5)
    check(row(t, worker=None), cases=1, open=1, due=0, close_rate=NAN, on_time_rate=NAN)


def test_by_category_and_source() -> None:
    incidents, events = hand_made()
    t = kpis(incidents, events, by=("category", "source"), now=NOW)
    assert list(t.columns[:2]) == ["category", "source"]
    check(row(t, category="A", source="patrol"), due=1, closed=1, closed_on_time=1)
    check(row(t, category="A", source="resident_app"), cases=2, rejected=1, due=1, closed_late=1)
    check(row(t, category="B", source="patrol"), cases=3, due=1, overdue_open=1, open=3)
    by_source = kpis(incidents, events, by=("source",), now=NOW)
    check(row(by_source, source="hotline_12345"), due=2, closed=1, overdue_open=1)
    check(row(by_source, source="patrol"), cases=4, due=2, closed=1, close_rate=0.5)


def test_by_week_of_due_date() -> None:
    incidents, events = hand_made()
    t = kpis(incidents, events, by=(), period="week", now=NOW)
    assert list(t.columns[:1]) == ["period"]
    w1, w2 = pd.Timestamp("2026-06-01", tz=TZ), pd.Timestamp("2026-06-08", tz=TZ)
    # week 1: 1 (closed 06-01), 2 and 3 and 8 (deadlines); week 2: 4 (deadline 06-11),
    # 6 (closed 06-09 before its deadline 06-12); no period: 5 (rejected), 7 (no deadline)
    check(row(t, period=w1), cases=4, due=4, closed=2, on_time_rate=0.25, overdue_open=2)
    check(row(t, period=w2), cases=2, due=1, closed=1, open=1, close_rate=1.0)
    check(row(t, period=None), cases=2, rejected=1, open=1, due=0)


def test_by_week_of_report_and_grid() -> None:
    incidents, events = hand_made()
    t = kpis(incidents, events, by=("grid", "period"), period="week", period_by="reported", now=NOW)
    w1, w2 = pd.Timestamp("2026-06-01", tz=TZ), pd.Timestamp("2026-06-08", tz=TZ)
    check(row(t, grid="G1", period=w1), cases=3, due=3, closed=2)
    check(row(t, grid="G1", period=w2), cases=1, due=0, open=1)
    check(row(t, grid="G2", period=w1), cases=2, rejected=1, due=1, overdue_open=1)
    check(row(t, grid="G2", period=w2), cases=2, due=1, closed=1, open=1)


def test_day_and_month_periods() -> None:
    incidents, events = hand_made()
    days = kpis(incidents, events, by=(), period="day", now=NOW)
    check(row(days, period=pd.Timestamp("2026-06-03", tz=TZ)), due=1, closed_late=1)
    months = kpis(incidents, events, by=(), period="month", now=NOW)
    check(row(months, period=pd.Timestamp("2026-06-01", tz=TZ)), due=5, closed=3)


def test_naive_times_are_local_and_events_optional() -> None:
    incidents, events = hand_made()
    naive, _ = hand_made(tz=None)
    a = kpis(incidents, events, by=("grid",), now=NOW)
    b = kpis(naive, events, by=("grid",), now="2026-06-10 12:00")
    pd.testing.assert_frame_equal(a, b)
    c = kpis(incidents, by=("grid",), now=NOW)
    assert (c["dispatched"] == 0).all()
    assert c["dispatch_hours_mean"].isna().all()
    pd.testing.assert_frame_equal(c[["due", "closed"]], a[["due", "closed"]])


def test_row_order_and_index_do_not_matter() -> None:
    incidents, events = hand_made()
    a = kpis(incidents, events, by=("grid", "source"), period="week", now=NOW)
    shuffled = incidents.sample(frac=1, random_state=3).set_axis(list("abcdefgh"))
    b = kpis(
        shuffled,
        events.sample(frac=1, random_state=4),
        by=("grid", "source"),
        period="week",
        now=NOW,
    )
    pd.testing.assert_frame_equal(a, b)
    empty = kpis(incidents, events.iloc[:0], by=(), now=NOW)
    assert empty["dispatched"].iloc[0] == 0


def test_chinese_labels() -> None:
    incidents, events = hand_made()
    t = with_chinese_labels(kpis(incidents, events, by=("grid",), period="week", now=NOW))
    assert {"网格", "时段", "应结案数", "结案数", "结案率", "按期结案率", "超期未结数"} <= set(
        t.columns
    )
    assert set(KPI_COLUMNS) <= set(KPI_LABELS)


def test_bad_arguments() -> None:
    incidents, events = hand_made()
    with pytest.raises(ValueError, match="period"):
        kpis(incidents, by=("period",), now=NOW)
    with pytest.raises(ValueError, match="period must be"):
        kpis(incidents, period="year", now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lack columns"):
        kpis(incidents.drop(columns="deadline"), now=NOW)
    with pytest.raises(ValueError, match="cannot group"):
        kpis(incidents.drop(columns="grid_code"), now=NOW)
    with pytest.raises(ValueError, match="events lack"):
        kpis(incidents, events.drop(columns="at"), now=NOW)


# ------------------------------------------------------------------ the sample district


@pytest.fixture(scope="module")
def district() -> tuple[pd.DataFrame, pd.DataFrame]:
    from etl.sample import generate_district
    from grids.locate import locate_points

    layers = generate_district(20_000, progress=False, end=SAMPLE_NOW)
    incidents = pd.DataFrame(layers["incident"].drop(columns="geometry"))
    grid = layers["grid"]
    pos = locate_points(layers["incident"].geometry.x, layers["incident"].geometry.y, grid.geometry)
    codes = grid["code"].to_numpy(dtype=object)
    incidents["grid_code"] = np.where(pos >= 0, codes[np.maximum(pos, 0)], None)
    return incidents, layers["incident_event"]


SAMPLE_NOW = pd.Timestamp("2026-11-01", tz=TZ)  # the end of the sample's incident window


@pytest.mark.parametrize(
    ("by", "period"),
    [
        ((), None),
        (("grid",), None),
        (("worker",), None),
        (("category",), None),
        (("source",), None),
        (("grid",), "week"),
        (("source",), "month"),
        (("category", "source"), "day"),
    ],
)
def test_sample_district_totals_are_consistent(
    district: tuple[pd.DataFrame, pd.DataFrame], by: tuple[str, ...], period: str | None
) -> None:
    incidents, events = district
    total = kpis(incidents, events, by=(), now=SAMPLE_NOW).iloc[0]
    t = kpis(incidents, events, by=by, period=period, now=SAMPLE_NOW)  # type: ignore[arg-type]
    assert (t["closed_on_time"] <= t["closed"]).all()
    assert (t["closed"] <= t["due"]).all()
    assert (t["due"] == t["closed"] + t["overdue_open"]).all()
    assert (t["cases"] == t["rejected"] + t["open"] + t["closed"]).all()
    for rate in ("close_rate", "on_time_rate", "satisfied_share"):
        values = t[rate].dropna()
        assert ((values >= 0) & (values <= 1)).all()
    assert t["rating_mean"].dropna().between(1, 5).all()
    assert (t["dispatch_hours_median"].dropna() >= 0).all()
    assert (t["close_hours_mean"].dropna() > 0).all()
    counts = ["cases", "rejected", "open", "due", "closed", "closed_on_time", "overdue_open"]
    for column in [*counts, "dispatched", "rated"]:
        assert t[column].sum() == total[column], column
    # the means of the groups, weighted by their counts, give the total's mean
    rated = t["rated"] > 0
    weighted = (t.loc[rated, "rating_mean"] * t.loc[rated, "rated"]).sum() / total["rated"]
    assert weighted == pytest.approx(total["rating_mean"])


def test_sample_district_is_plausible(district: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    incidents, events = district
    t = kpis(incidents, events, by=(), now=SAMPLE_NOW).iloc[0]
    assert t["cases"] == len(incidents)
    assert t["rejected"] == (incidents["state"] == "rejected").sum()
    assert t["due"] > 0.9 * t["cases"]
    assert 0.95 < t["close_rate"] <= 1
    assert 0.6 < t["on_time_rate"] < t["close_rate"]
    assert 0 < t["dispatch_hours_median"] < t["close_hours_median"]
    # incidents are all located; grid workers are the assignees
    by_grid = kpis(incidents, events, by=("grid",), now=SAMPLE_NOW)
    assert by_grid["grid"].notna().all()
    assert by_grid["due"].sum() == t["due"]
