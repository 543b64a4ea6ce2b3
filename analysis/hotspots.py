"""Where incidents cluster (hotspots, Getis-Ord Gi*) and when a place is far above its usual.

Hotspots
--------
:func:`gi_star` computes the Getis-Ord Gi* statistic (Getis & Ord 1995, "Local spatial
autocorrelation statistics: distributional issues and an application", *Geographical
Analysis* 27(4)) on H3 cells.  The neighbourhood of a cell is its k-ring (the cell and
every cell within ``k`` steps, ``h3 grid_disk``), with binary weights including the cell
itself.  With ``x`` the counts over the ``n`` cells of the study area, ``x̄`` their mean,
``S`` their (population) standard deviation and ``W_i`` the number of cells of the
neighbourhood of ``i`` inside the study area::

    z_i = (Σ_j w_ij x_j − x̄ W_i) / (S · sqrt((n W_i − W_i²) / (n − 1)))

which is already a z-score (Getis & Ord's eq. 8 for binary weights; PySAL
``esda.G_Local(star=True, transform="B")`` computes the same).  p-values are two-sided
under the normal approximation; because one test is run per cell, they are corrected
for multiple testing with the Benjamini–Hochberg false discovery rate (``q``).  A cell
is *hot* when ``q < alpha`` and ``z > 0``, *cold* when ``q < alpha`` and ``z < 0``.

The study area matters: a cell of the served area where nothing was reported is a zero,
not a missing value, so callers pass every cell of the area (``study_area``), e.g. the
H3 cells covering the district's grids (:func:`grids.locate.cover_cells`).

Early warning
-------------
:func:`early_warning` flags a (place, category) whose count in the current window (this
day, this week) is far above its own baseline: the count is compared with a Poisson
distribution whose mean is the place's average over the previous ``baseline_windows``
windows (zeros included), with half an event added to the baseline total so that a
place with an empty history still has a small positive mean.  A window is flagged when
``P(X ≥ observed) < alpha / m`` (Bonferroni over the ``m`` series tested, unless turned
off) and ``observed ≥ min_count``.  Each warning carries its evidence in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import ArrayLike
from scipy import sparse, stats

import h3ronpy

from analysis.aggregates import DEFAULT_TZ, WINDOWS, window_starts
from gis.errors import AnalysisError, InvalidInput

__all__ = [
    "EarlyWarning",
    "HotspotError",
    "Hotspots",
    "Warning",
    "early_warning",
    "gi_star",
    "k_ring_weights",
]

GI_STAR_METHOD: Final = (
    "Getis-Ord Gi* (1995), binary k-ring weights including self, two-sided normal p"
)
POISSON_METHOD: Final = "Poisson upper tail vs own baseline mean"
#: Events added to a baseline total so that an empty history has a positive mean.
BASELINE_PRIOR_EVENTS: Final = 0.5

_WINDOW_WORDS: Final = {"hour": "hour", "day": "day", "week": "week"}


class HotspotError(AnalysisError, InvalidInput):
    """Hotspot or early-warning input that cannot be analysed (what is wrong, how to fix)."""


# ---------------------------------------------------------------------- Gi*
@dataclass(frozen=True)
class Hotspots:
    """Gi* z-scores of every cell of a study area, with BH-corrected significance.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per study-area cell: ``h3_cell`` (int64), ``count`` (the value),
        ``neighbours`` (cells in its k-ring within the area, itself included),
        ``gi_z``, ``p_value`` (two-sided), ``q_value`` (Benjamini–Hochberg; equal to
        ``p_value`` when ``fdr`` is off) and ``significant`` (``hot``, ``cold`` or
        ``none``).
    k : int
        Ring size of the neighbourhoods.
    alpha : float
        Significance level applied to ``q_value``.
    method : str
        What was computed, in words.
    fdr : bool
        Whether the Benjamini–Hochberg correction was applied.
    """

    frame: pd.DataFrame
    k: int
    alpha: float
    method: str
    fdr: bool = True

    @property
    def hot(self) -> pd.DataFrame:
        """The hot cells, strongest first."""
        f = self.frame
        return f[f["significant"] == "hot"].sort_values("gi_z", ascending=False)

    @property
    def cold(self) -> pd.DataFrame:
        """The cold cells, strongest first."""
        f = self.frame
        return f[f["significant"] == "cold"].sort_values("gi_z")


def k_ring_weights(cells: ArrayLike, k: int = 1) -> sparse.csr_array:
    """Binary k-ring weights among ``cells`` (self included), as a sparse matrix.

    Parameters
    ----------
    cells : array_like of int64
        Distinct H3 cells (the study area), all of one resolution.
    k : int
        Ring size: 1 is a cell and its 6 neighbours.

    Returns
    -------
    scipy.sparse.csr_array
        ``(n, n)`` with ``w[i, j] = 1`` when cell ``j`` is within ``k`` steps of cell
        ``i`` (rows and columns in the order of ``cells``).
    """
    area = np.asarray(cells, dtype=np.int64)
    n = len(area)
    disks = pa.array(h3ronpy.grid_disk(area.view(np.uint64), int(k)))
    offsets = np.asarray(disks.offsets.to_numpy(), dtype=np.int64)
    around = np.asarray(disks.values.to_numpy(), dtype=np.uint64).view(np.int64)
    row = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
    order = np.argsort(area, kind="stable")
    pos = np.minimum(np.searchsorted(area[order], around), n - 1)
    inside = area[order][pos] == around
    col = order[pos[inside]]
    return sparse.csr_array(
        (np.ones(int(inside.sum()), dtype=np.float64), (row[inside], col)), shape=(n, n)
    )


def gi_star(
    cells: ArrayLike,
    values: ArrayLike,
    *,
    k: int = 1,
    alpha: float = 0.05,
    fdr: bool = True,
    study_area: ArrayLike | None = None,
) -> Hotspots:
    """Getis-Ord Gi* hotspots on H3 cells (see the module notes for the formula).

    Parameters
    ----------
    cells : array_like of int64
        H3 cells with a value (e.g. incident counts from
        :func:`analysis.aggregates.aggregate` ``by="h3_cell"``); repeated cells add up.
    values : array_like of float
        The value of each cell.
    k : int
        Ring size of the neighbourhoods (1: the cell and its 6 neighbours).
    alpha : float
        Significance level (of the BH q-value when ``fdr``, else of the p-value).
    fdr : bool
        Apply the Benjamini–Hochberg correction over the cells tested.
    study_area : array_like of int64, optional
        Every cell of the served area; cells without a value count as zeros.  Cells
        with a value outside it are added to it.  Default: ``cells`` alone (then
        empty cells are not zeros: pass the study area whenever you have it).

    Returns
    -------
    Hotspots

    Raises
    ------
    HotspotError
        If lengths differ, a value is not finite or negative, k < 1, or the area has
        fewer than 3 cells.
    """
    c = np.atleast_1d(np.asarray(cells, dtype=np.int64))
    v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if c.shape != v.shape:
        raise HotspotError(f"cells and values differ in length: {len(c)} and {len(v)}")
    if not np.all(np.isfinite(v)):
        raise HotspotError("values must be finite numbers (counts); drop or fill the NaNs")
    if k < 1:
        raise HotspotError(f"k must be at least 1 (the ring around each cell), got {k}")
    if not 0 < alpha < 1:
        raise HotspotError(f"alpha must lie between 0 and 1, got {alpha}")
    area = c if study_area is None else np.concatenate([np.asarray(study_area, np.int64), c])
    area = np.unique(area)
    n = len(area)
    if n < 3:
        raise HotspotError(f"Gi* needs a study area of at least 3 cells, got {n}")
    x = np.zeros(n, dtype=np.float64)
    np.add.at(x, np.searchsorted(area, c), v)

    w = k_ring_weights(area, k)
    lag = w @ x
    w_i = np.asarray(w.sum(axis=1)).ravel()
    mean = x.mean()
    s = np.sqrt(max((x**2).mean() - mean**2, 0.0))
    denom = s * np.sqrt(np.maximum(n * w_i - w_i**2, 0.0) / (n - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(denom > 0, (lag - mean * w_i) / denom, 0.0)
    p = 2.0 * stats.norm.sf(np.abs(z))
    q = stats.false_discovery_control(p, method="bh") if fdr else p
    significant = np.where(q < alpha, np.where(z > 0, "hot", "cold"), "none")
    frame = pd.DataFrame(
        {
            "h3_cell": area,
            "count": x,
            "neighbours": w_i.astype(np.int64),
            "gi_z": z,
            "p_value": p,
            "q_value": q,
            "significant": significant,
        }
    )
    method = GI_STAR_METHOD + (", Benjamini-Hochberg FDR" if fdr else ", no correction")
    return Hotspots(frame=frame, k=int(k), alpha=float(alpha), method=method, fdr=fdr)


# ---------------------------------------------------------------------- early warning
@dataclass(frozen=True)
class EarlyWarning:
    """A category's count in a place and window far above the place's own baseline.

    Attributes
    ----------
    place_kind : str
        What the place is: ``grid``, ``h3_cell``, ``community``.
    place_id : Any
        Its id (grid id, H3 cell, community id).
    category : str
        The incident category code.
    window_start : pandas.Timestamp
        Start of the window flagged (local time).
    observed : int
        Incidents in that window.
    expected : float
        Baseline mean per window (the previous windows, zeros included, plus the prior).
    p_value : float
        ``P(X ≥ observed)`` for ``X ~ Poisson(expected)``.
    method : str
        The test, in words, including the threshold used.
    evidence : str
        One line a duty officer reads: place, category, observed vs usual, p.
    window : str
        ``hour``, ``day`` or ``week``.
    baseline_windows : int
        How many previous windows the baseline spans.
    """

    place_kind: str
    place_id: Any
    category: str
    window_start: pd.Timestamp
    observed: int
    expected: float
    p_value: float
    method: str
    evidence: str
    window: str = "day"
    baseline_windows: int = 28
    extra: dict[str, Any] = field(default_factory=dict)


#: The name the design uses; ``EarlyWarning`` avoids shadowing Python's ``Warning``.
Warning = EarlyWarning


def early_warning(
    counts: pd.DataFrame,
    *,
    window: str = "day",
    baseline_windows: int = 28,
    alpha: float = 0.001,
    min_count: int = 3,
    bonferroni: bool = True,
    current: pd.Timestamp | None = None,
    place_column: str = "place",
    place_kind: str = "grid",
    category_names: Mapping[str, str] | None = None,
    tz: str = DEFAULT_TZ,
) -> list[EarlyWarning]:
    """Flag (place, category) series whose current window is far above their baseline.

    Parameters
    ----------
    counts : pandas.DataFrame
        Columns ``place`` (or ``place_column``), ``category_code``, ``window_start``
        (local window starts, as :func:`analysis.aggregates.aggregate` gives) and
        ``count``.  Windows without a row are zeros (the history is zero-filled here).
    window : {"hour", "day", "week"}
        Window length of ``counts``.
    baseline_windows : int
        Previous windows forming the baseline (28 days, or e.g. 12 weeks).  For hourly
        windows they are the same hour of the previous days (28 = four weeks of 14:00s),
        so the daily rhythm does not read as a spike at the morning peak or hide one at
        night.
    alpha : float
        Family-wise error level (divided by the number of series tested when
        ``bonferroni``).
    min_count : int
        Fewest incidents in the current window worth a warning.
    bonferroni : bool
        Divide ``alpha`` by the number of (place, category) series tested.
    current : pandas.Timestamp, optional
        Start of the window to test; default the latest ``window_start`` in ``counts``.
    place_column : str
        Name of the place column.
    place_kind : str
        What places are, for the evidence text (``grid``, ``h3_cell``, ``community``).
    category_names : mapping of str to str, optional
        Category code → name (e.g. ``{"30201": "火灾隐患"}``) for the evidence text.
    tz : str
        Time zone of the windows.

    Returns
    -------
    list of EarlyWarning
        Strongest first (smallest p-value).

    Raises
    ------
    HotspotError
        If columns are missing, the window is unknown or ``baseline_windows < 1``.
    """
    needed = [place_column, "category_code", "window_start", "count"]
    missing = [c for c in needed if c not in counts.columns]
    if missing:
        raise HotspotError(
            f"counts lack columns {missing}; expected {needed} (rename the place column "
            "or pass place_column=)"
        )
    if window not in WINDOWS:
        raise HotspotError(f"window must be one of {WINDOWS}, got {window!r}")
    if baseline_windows < 1:
        raise HotspotError(f"baseline_windows must be at least 1, got {baseline_windows}")
    if len(counts) == 0:
        return []
    starts = pd.DatetimeIndex(counts["window_start"])
    starts = starts.tz_localize(tz) if starts.tz is None else starts.tz_convert(tz)
    now = starts.max() if current is None else pd.Timestamp(current)
    if now.tzinfo is None:
        now = now.tz_localize(tz)
    now = now.tz_convert(tz)
    upto = np.asarray(starts <= now)
    counts, starts = counts[upto], starts[upto]
    if len(counts) == 0:
        return []
    history = window_starts(min(starts.min(), now), now, window, tz)
    grid = history.append(pd.DatetimeIndex([now]))
    pos = grid.get_indexer(starts)
    own_start = window_starts(now, now + pd.Timedelta(1, "ns"), window, tz)[0]
    if np.any(pos < 0) or own_start != now:
        raise HotspotError(
            "some window_start values (or current) are not starts of a local "
            f"{window} window: aggregate with window={window!r}"
        )
    n_w = len(grid)
    series, series_index = pd.MultiIndex.from_arrays(
        [counts[place_column].to_numpy(), counts["category_code"].to_numpy()]
    ).factorize()
    table = np.zeros((len(series_index), n_w), dtype=np.float64)
    np.add.at(table, (series, pos), counts["count"].to_numpy(np.float64))

    observed = table[:, -1]
    # hours compare with the same hour of earlier days: a night is not measured against
    # the afternoon's rush (nor an afternoon against the quiet night)
    stride = HOURS_PER_DAY if window == "hour" else 1
    earlier = np.arange(n_w - 1 - stride, -1, -stride)[:baseline_windows]
    base = table[:, earlier[::-1]]
    span = max(base.shape[1], 1)
    expected = (base.sum(axis=1) + BASELINE_PRIOR_EVENTS) / span
    p = stats.poisson.sf(observed - 1, expected)
    m = len(series_index) if bonferroni else 1
    threshold = alpha / m
    flagged = np.flatnonzero((p < threshold) & (observed >= min_count))
    flagged = flagged[np.argsort(p[flagged], kind="stable")]

    names = dict(category_names or {})
    unit = _WINDOW_WORDS[window]
    same = f"{unit}s (same hour of day)" if window == "hour" else f"{unit}s"
    method = (
        f"{POISSON_METHOD}: mean of the previous {base.shape[1]} {same} "
        f"(+{BASELINE_PRIOR_EVENTS} event prior), flagged when P(X >= observed) < "
        f"{threshold:.2g}"
        + (f" (alpha {alpha:g} / {m} series, Bonferroni)" if m > 1 else "")
        + f" and observed >= {min_count}"
    )
    out = []
    for i in flagged.tolist():
        place, category = series_index[i]
        when = _when(now, window)
        name = names.get(str(category), str(category))
        evidence = (
            f"{place_kind} {place}, {name}: {int(observed[i])} {when} vs "
            f"{expected[i]:.1f}/{unit} over the previous {base.shape[1]} {same}, "
            f"p = {p[i]:.1g}"
        )
        out.append(
            EarlyWarning(
                place_kind=place_kind,
                place_id=place.item() if hasattr(place, "item") else place,
                category=str(category),
                window_start=now,
                observed=int(observed[i]),
                expected=float(expected[i]),
                p_value=float(p[i]),
                method=method,
                evidence=evidence,
                window=window,
                baseline_windows=int(base.shape[1]),
            )
        )
    return out


#: The stride of an hourly baseline: the same hour of the previous days.
HOURS_PER_DAY = 24


def _when(start: pd.Timestamp, window: str) -> str:
    """The window in words, e.g. ``on 2026-10-31`` or ``in the week of 2026-10-26``."""
    if window == "day":
        return f"on {start:%Y-%m-%d}"
    if window == "week":
        return f"in the week of {start:%Y-%m-%d}"
    return f"at {start:%Y-%m-%d %H}:00"
