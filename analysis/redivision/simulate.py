"""The re-division simulator (网格调整模拟): a candidate layout beside today's, on the history.

Method
------
1. **Place** the replayed cases and the households (with their vulnerable residents) in
   today's grids and in the candidate's (the locator's rules: a point on a shared edge
   goes to the first grid in key order).  The simulation covers the candidate's area:
   cases and households outside every candidate grid are left out of both sides.
2. **Workers.**  A candidate grid keeps the ``worker_id`` it was given; otherwise it goes
   to the primary worker of the grid of today that holds most of its households (most
   of its area when it has none).  A grid without a worker is a queue of its own.  A
   worker's base is the point on the surface of their first grid (in key order) of the
   layout; a grid without a worker walks from its own point.
3. **Load and walks.**  Each case goes to the worker of its grid; that worker's open load
   when the case starts is replayed with the case durations of the history
   (:func:`~analysis.redivision.replay.open_load`), and the walk from the worker's base is
   measured on the road network (:func:`~analysis.redivision.replay.walk_minutes`).
4. **On time.**  The on-time model (:mod:`~analysis.redivision.model`) is fitted on the
   office's real due cases (their real assignees, loads and walks from today's bases)
   and predicts each due case's on-time probability under each layout; the expected
   按期结案率 of a grid or worker is the mean over its due cases.  Today's observed rate
   is shown beside the model's, so that the model can be judged where it is checkable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

import geopandas as gpd
import shapely

from analysis.network import RoadNetwork
from analysis.redivision.model import OnTimeModel, fit_on_time
from analysis.redivision.replay import nearest_nodes, open_load, walk_minutes
from gis.errors import AnalysisError, InvalidInput
from grids.locate import NO_GRID, locate_points

IntArray = npt.NDArray[np.int64]

LAYOUTS: Final = ("today", "candidate")
"""The two sides of a simulation."""
NO_WORKER: Final = -1
"""``worker_id`` of a grid nobody covers."""


class LayoutError(AnalysisError, InvalidInput):
    """A layout the simulator cannot use (no polygons, not EPSG:4326, repeated keys)."""


@dataclass(frozen=True)
class History:
    """What is replayed.

    Attributes
    ----------
    cases
        One row per case: ``id``, ``category_code``, ``start`` (dispatch, else report;
        UTC), ``deadline``, ``closed_at`` (UTC, NaT when open), ``assignee_id`` (nullable
        Int64), ``lon``, ``lat`` (degrees, EPSG:4326).
    households
        One row per building (or household): ``lon``, ``lat``, ``households``,
        ``vulnerable`` (residents flagged elderly alone, disabled or mobility-impaired).
    end
        The moment the replay ends (cases still open are open until then).
    """

    cases: pd.DataFrame
    households: pd.DataFrame
    end: pd.Timestamp


@dataclass(frozen=True)
class Simulation:
    """A candidate layout beside today's.

    Attributes
    ----------
    model
        The on-time model fitted on the history, with its check on the next period.
    grids
        Per layout and grid: ``layout``, ``key``, ``name``, ``worker_id``, ``households``,
        ``vulnerable``, ``incidents``, ``due``, ``open_load_mean``, ``walk_mean_min``,
        ``walk_p90_min``, ``on_time_expected``, ``on_time_observed`` (today only), and one
        ``cat_<code>`` column per category (cases of that category).
    workers
        Per worker: the same measures under both layouts (``_today``/``_candidate``),
        their grids under each, and ``change``: what would change, in words.
    cases
        Cases replayed (in the candidate's area), due cases among them.
    """

    model: OnTimeModel
    grids: pd.DataFrame
    workers: pd.DataFrame
    cases: int
    due: int


def _checked(layout: gpd.GeoDataFrame, what: str) -> gpd.GeoDataFrame:
    if layout.crs is None or layout.crs.to_epsg() != 4326:
        raise LayoutError(f"the {what} layout must be in EPSG:4326, not {layout.crs}")
    if layout.empty:
        raise LayoutError(f"the {what} layout has no grids")
    kinds = set(layout.geometry.geom_type)
    if not kinds <= {"Polygon", "MultiPolygon"}:
        raise LayoutError(f"the {what} layout holds {sorted(kinds)}: every grid is a polygon")
    if layout["key"].duplicated().any():
        dup = layout.loc[layout["key"].duplicated(), "key"].iloc[0]
        raise LayoutError(f"the {what} layout repeats the grid {dup!r}: give each grid its own key")
    out = layout.sort_values("key", kind="stable").reset_index(drop=True)
    if "worker_id" not in out:
        out["worker_id"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["worker_id"] = out["worker_id"].astype("Int64")
    if "name" not in out:
        out["name"] = out["key"]
    return out


def assign_workers(
    candidate: gpd.GeoDataFrame,
    today: gpd.GeoDataFrame,
    households: pd.DataFrame,
    *,
    placed: tuple[IntArray, IntArray] | None = None,
) -> gpd.GeoDataFrame:
    """Give each candidate grid without a worker the worker of today's grid it shares most with.

    Most households first, most area when the candidate grid holds none (step 2 of the
    method); ``worker_id`` stays NA when it meets no covered grid of today.  ``placed``:
    the households' grid positions in the candidate and in today's layout, when known.
    """
    out = candidate.copy()
    need = out["worker_id"].isna().to_numpy()
    if not need.any() or today.empty:
        return out
    if placed is None:
        lon, lat = households["lon"].to_numpy(float), households["lat"].to_numpy(float)
        placed = (
            locate_points(lon, lat, out.geometry.to_numpy()),
            locate_points(lon, lat, today.geometry.to_numpy()),
        )
    in_cand, in_today = placed
    ok = (in_cand != NO_GRID) & (in_today != NO_GRID)
    shared = (
        pd.DataFrame(
            {
                "cand": in_cand[ok],
                "worker": today["worker_id"].to_numpy()[in_today[ok]],
                "n": households["households"].to_numpy(float)[ok],
            }
        )
        .dropna(subset=["worker"])
        .groupby(["cand", "worker"], as_index=False)["n"]
        .sum()
        .sort_values(["cand", "n", "worker"], ascending=[True, False, True])
        .drop_duplicates("cand")
    )
    by_households = dict(zip(shared["cand"], shared["worker"], strict=True))
    covered = today[today["worker_id"].notna()]
    given = out["worker_id"].to_numpy(dtype=object, na_value=None).copy()
    for pos in np.flatnonzero(need):
        worker = by_households.get(pos)
        if worker is None and not covered.empty:
            overlap = shapely.area(
                shapely.intersection(covered.geometry.to_numpy(), out.geometry.iloc[pos])
            )
            if overlap.max() > 0:
                worker = covered["worker_id"].iloc[int(np.argmax(overlap))]
        given[pos] = None if worker is None else int(worker)
    out["worker_id"] = pd.array(given, dtype="Int64")
    return out


@dataclass(frozen=True)
class _Side:
    grid: IntArray  # grid position of each case (NO_GRID: none)
    load: IntArray
    walk: npt.NDArray[np.float64]
    house_grid: IntArray


def _bases(layout: gpd.GeoDataFrame) -> tuple[npt.NDArray[np.float64], ...]:
    """Lon, lat of each grid's base: its worker's first grid's point (its own without one)."""
    points = shapely.point_on_surface(layout.geometry.to_numpy())
    lon, lat = shapely.get_x(points), shapely.get_y(points)
    worker = layout["worker_id"].fillna(NO_WORKER).to_numpy(np.int64)
    base = np.arange(len(layout), dtype=np.int64)
    first: dict[int, int] = {}
    for pos, w in enumerate(worker.tolist()):
        if w != NO_WORKER:
            base[pos] = first.setdefault(w, pos)
    return lon[base], lat[base]


def _queues(layout: gpd.GeoDataFrame, pos: IntArray) -> IntArray:
    """The queue (worker) of each case: its grid's worker, or one per grid without one.

    A case in no grid of the layout (today's grids may not cover all the candidate's
    area) joins the queue of nobody.
    """
    worker_of_grid = layout["worker_id"].fillna(NO_WORKER).to_numpy(np.int64)
    queue = np.where(worker_of_grid == NO_WORKER, -(np.arange(len(layout)) + 2), worker_of_grid)
    known = pos != NO_GRID
    return np.where(known, queue[np.where(known, pos, 0)], np.iinfo(np.int64).min)


def _seconds(values: pd.Series, fill: pd.Timestamp) -> npt.NDArray[np.float64]:
    times = pd.to_datetime(values, utc=True).fillna(fill)
    return (times.astype("int64") // 10**6).to_numpy(np.float64) / 1000.0


def simulate(
    history: History,
    today: gpd.GeoDataFrame,
    candidate: gpd.GeoDataFrame,
    *,
    network: RoadNetwork | None,
    walk_speed_mps: float = 1.2,
    split_at: pd.Timestamp | None = None,
) -> Simulation:
    """Replay the history onto today's layout and a candidate, side by side.

    Parameters
    ----------
    history
        Cases, households and the end of the replay (:class:`History`).
    today, candidate
        Layouts: ``key``, ``name``, ``worker_id`` (nullable; the candidate's are filled
        by :func:`assign_workers`) and polygon ``geometry``, EPSG:4326.
    network
        The walking network (None: straight lines × 1.3).
    walk_speed_mps
        Walking speed off the network, m/s.
    split_at
        End of the first period of the model's check (default: the median start).

    Raises
    ------
    LayoutError
        For an unusable layout.
    NotEnoughHistory
        When the history is too thin to fit the on-time model.
    """
    today = _checked(today, "current")
    candidate = _checked(candidate, "candidate")
    cases = history.cases.reset_index(drop=True)
    homes = history.households.reset_index(drop=True)
    n = len(cases)
    end = pd.Timestamp(history.end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
    start_s = _seconds(cases["start"], end)
    end_s = np.maximum(_seconds(cases["closed_at"], end), start_s)
    lon = np.concatenate([cases["lon"].to_numpy(float), homes["lon"].to_numpy(float)])
    lat = np.concatenate([cases["lat"].to_numpy(float), homes["lat"].to_numpy(float)])
    # --- 1. placed once per layout: cases and households together
    in_today = locate_points(lon, lat, today.geometry.to_numpy())
    in_cand = locate_points(lon, lat, candidate.geometry.to_numpy())
    pos_today, h_today = in_today[:n], in_today[n:]
    pos_cand, h_cand = in_cand[:n], in_cand[n:]
    candidate = assign_workers(candidate, today, homes, placed=(h_cand, h_today))
    deadline = pd.to_datetime(cases["deadline"], utc=True)
    closed = pd.to_datetime(cases["closed_at"], utc=True)
    due = (deadline.notna() & (closed.notna() | (deadline <= end))).to_numpy()
    on_time = (closed.notna() & (closed <= deadline)).to_numpy()

    # --- 2. who holds each case: the real assignee (the fit), today's, the candidate's
    assignee = cases["assignee_id"].astype("Int64")
    has = assignee.notna().to_numpy()
    real = assignee.fillna(NO_WORKER).to_numpy(np.int64)
    # each worker's first grid of today (by key), looked up for a million cases at once
    tw = today["worker_id"].fillna(NO_WORKER).to_numpy(np.int64)
    covered = np.flatnonzero(tw != NO_WORKER)
    known, first = np.unique(tw[covered], return_index=True)
    real_grid = np.full(n, -1, dtype=np.int64)
    if known.size:
        at = np.clip(np.searchsorted(known, real), 0, known.size - 1)
        real_grid = np.where(known[at] == real, covered[first][at], -1)
    # an assignee with no grid today walks from the grid the case lies in
    real_grid = np.where((real_grid >= 0) & has, real_grid, np.where(has, pos_today, NO_GRID))
    scope = pos_cand != NO_GRID
    fit_rows = np.flatnonzero(real_grid != NO_GRID)
    scope_rows = np.flatnonzero(scope)
    today_rows = scope_rows[pos_today[scope_rows] != NO_GRID]

    # --- 3. walks: every (base, case) pair of the three asked in one search per base
    t_lon, t_lat = _bases(today)
    c_lon, c_lat = _bases(candidate)
    rows = np.concatenate([fit_rows, today_rows, scope_rows])
    base = np.concatenate(
        [real_grid[fit_rows], pos_today[today_rows], pos_cand[scope_rows] + len(today)]
    )
    node = None
    if network is not None:
        found, off = nearest_nodes(network, lon[:n], lat[:n])
        node = (found[rows], off[rows])
    walked = walk_minutes(
        network,
        np.concatenate([t_lon, c_lon]),
        np.concatenate([t_lat, c_lat]),
        base,
        lon[rows],
        lat[rows],
        walk_speed_mps=walk_speed_mps,
        case_node=node,
    )
    fit_walk, today_walk, cand_walk = np.split(
        walked, [fit_rows.size, fit_rows.size + today_rows.size]
    )

    # --- 4. the model, on the real assignees over the whole history
    fit_load = open_load(real[has], start_s[has], end_s[has])
    load_of = np.zeros(n, dtype=np.int64)
    load_of[has] = fit_load
    fit_due = due[fit_rows]
    model = fit_on_time(
        pd.DataFrame(
            {
                "open_load": load_of[fit_rows][fit_due],
                "walk_min": fit_walk[fit_due],
                "on_time": on_time[fit_rows][fit_due],
                "start": (start_s[fit_rows][fit_due] * 1e9).astype("datetime64[ns]"),
            }
        ),
        split_at=split_at,
    )

    # --- 5. both layouts over the cases and households in the candidate's area
    sub = cases.iloc[scope_rows].reset_index(drop=True)
    h_scope = h_cand != NO_GRID
    households = homes[h_scope].reset_index(drop=True)
    walk_today = np.full(n, np.nan)
    walk_today[today_rows] = today_walk
    sides = {}
    for name, layout, pos, walk, hpos in (
        ("today", today, pos_today[scope_rows], walk_today[scope_rows], h_today[h_scope]),
        ("candidate", candidate, pos_cand[scope_rows], cand_walk, h_cand[h_scope]),
    ):
        load = open_load(_queues(layout, pos), start_s[scope_rows], end_s[scope_rows])
        sides[name] = (layout, _Side(pos, load, walk, hpos))
    d, hit = due[scope_rows], on_time[scope_rows]
    grids = pd.concat(
        [
            _per_grid(
                name,
                layout,
                side,
                sub,
                households,
                d,
                hit,
                model.predict(side.load, np.nan_to_num(side.walk)),
            )
            for name, (layout, side) in sides.items()
        ],
        ignore_index=True,
    )
    workers = _per_worker(grids)
    grids = grids.drop(columns=["walk_sum", "p_sum", "load_sum"])
    return Simulation(model, grids, workers, int(scope_rows.size), int(d.sum()))


def _per_grid(
    name: str,
    layout: gpd.GeoDataFrame,
    side: _Side,
    cases: pd.DataFrame,
    households: pd.DataFrame,
    due: npt.NDArray[np.bool_],
    on_time: npt.NDArray[np.bool_],
    p: npt.NDArray[np.float64],
) -> pd.DataFrame:
    n = len(layout)
    inside = side.grid != NO_GRID
    g = side.grid[inside]
    hh = side.house_grid != NO_GRID
    frame = pd.DataFrame(
        {
            "layout": name,
            "key": layout["key"].astype(str).to_numpy(),
            "name": layout["name"].astype(str).to_numpy(),
            "worker_id": layout["worker_id"].astype("Int64").to_numpy(),
            "households": np.bincount(
                side.house_grid[hh], households["households"].to_numpy(float)[hh], minlength=n
            ),
            "vulnerable": np.bincount(
                side.house_grid[hh], households["vulnerable"].to_numpy(float)[hh], minlength=n
            ),
            "incidents": np.bincount(g, minlength=n),
            "due": np.bincount(g, due[inside].astype(float), minlength=n).astype(np.int64),
        }
    )
    d = due[inside]
    walk = side.walk[inside]
    cases_n = np.bincount(g, minlength=n).astype(float)
    due_n = np.bincount(g, d.astype(float), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["open_load_mean"] = np.bincount(g, side.load[inside], minlength=n) / cases_n
        frame["walk_mean_min"] = np.bincount(g, walk, minlength=n) / cases_n
        frame["walk_p90_min"] = _quantile_by(g, walk, n, 0.9)
        frame["on_time_expected"] = np.bincount(g, np.where(d, p[inside], 0.0), minlength=n) / due_n
        frame["on_time_observed"] = (
            np.bincount(g, (d & on_time[inside]).astype(float), minlength=n) / due_n
            if name == "today"
            else np.nan
        )
    codes, names = pd.factorize(cases["category_code"].astype(str), sort=True)
    counts = np.bincount(g * len(names) + codes[inside], minlength=n * len(names))
    counts = counts.reshape(n, len(names))
    for i, code in enumerate(names):
        frame[f"cat_{code}"] = counts[:, i]
    frame["walk_sum"] = np.bincount(g, np.nan_to_num(side.walk[inside]), minlength=n)
    frame["p_sum"] = np.bincount(g, np.where(due[inside], p[inside], 0.0), minlength=n)
    frame["load_sum"] = np.bincount(g, side.load[inside].astype(float), minlength=n)
    return frame


def _quantile_by(
    group: IntArray, values: npt.NDArray[np.float64], n: int, q: float
) -> npt.NDArray[np.float64]:
    """The ``q`` quantile of ``values`` in each of ``n`` groups (linear, as pandas; NaN: empty)."""
    order = np.lexsort((values, group))
    counts = np.bincount(group, minlength=n)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    at = q * np.maximum(counts - 1, 0)
    lo = np.floor(at).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(counts - 1, 0))
    ordered = values[order]
    out = np.full(n, np.nan)
    has = counts > 0
    a = ordered[(first + lo)[has]]
    b = ordered[(first + hi)[has]]
    out[has] = a + (b - a) * (at - lo)[has]
    return out


MEASURES: Final = (
    "households",
    "vulnerable",
    "incidents",
    "due",
    "walk_mean_min",
    "on_time_expected",
    "open_load_mean",
)


def _per_worker(grids: pd.DataFrame) -> pd.DataFrame:
    covered = grids[grids["worker_id"].notna()]
    rows = []
    for name, part in covered.groupby("layout"):
        agg = part.groupby("worker_id").agg(
            grids=("key", lambda k: ",".join(sorted(k))),
            households=("households", "sum"),
            vulnerable=("vulnerable", "sum"),
            incidents=("incidents", "sum"),
            due=("due", "sum"),
            walk_sum=("walk_sum", "sum"),
            p_sum=("p_sum", "sum"),
            load_sum=("load_sum", "sum"),
        )
        agg["walk_mean_min"] = agg["walk_sum"] / agg["incidents"].where(agg["incidents"] > 0)
        agg["on_time_expected"] = agg["p_sum"] / agg["due"].where(agg["due"] > 0)
        agg["open_load_mean"] = agg["load_sum"] / agg["incidents"].where(agg["incidents"] > 0)
        agg = agg.drop(columns=["walk_sum", "p_sum", "load_sum"])
        rows.append(agg.add_suffix(f"_{name}"))
    workers = pd.concat(rows, axis=1) if rows else pd.DataFrame()
    for name in LAYOUTS:
        for column in ("grids", *MEASURES):
            if f"{column}_{name}" not in workers:
                workers[f"{column}_{name}"] = np.nan
    workers = workers.reset_index().rename(columns={"index": "worker_id"})
    workers["change"] = [_change(r) for r in workers.to_dict(orient="records")]
    return workers.sort_values("worker_id").reset_index(drop=True)


def _change(row: dict) -> str:
    def num(value: object) -> float | None:
        return None if value is None or pd.isna(value) else float(value)  # type: ignore[arg-type]

    if not isinstance(row.get("grids_candidate"), str):
        return "no grid in the candidate layout"
    if not isinstance(row.get("grids_today"), str):
        return f"new: takes {row['grids_candidate']}"
    parts = []
    for column, label, fmt in (
        ("households", "households", "{:.0f}"),
        ("incidents", "incidents", "{:.0f}"),
        ("walk_mean_min", "walk min", "{:.1f}"),
        ("on_time_expected", "on time", "{:.0%}"),
    ):
        a, b = num(row.get(f"{column}_today")), num(row.get(f"{column}_candidate"))
        if a is None or b is None or fmt.format(a) == fmt.format(b):
            continue
        parts.append(f"{label} {fmt.format(a)} → {fmt.format(b)}")
    grids = (
        ""
        if row["grids_today"] == row["grids_candidate"]
        else f"grids {row['grids_today']} → {row['grids_candidate']}; "
    )
    return grids + ("; ".join(parts) if parts else "no change")
