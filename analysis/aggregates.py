"""Count incidents (or any located record) by place, time window, category and state.

The live map of the command centre redraws a city-wide picture whenever a user picks a
window (this day, this week, six months) or a category: "how many incidents of this kind,
in each H3 cell / grid (网格) / community (社区)".  :class:`IncidentCube` answers that from
a columnar index built once per data version, in time proportional to the rows in the
window (a binary search on the sorted times and one ``numpy.bincount``), not to the
table: a week out of a million incidents takes a few milliseconds.
:func:`aggregate` is the one-off form (it builds a cube and asks it once).

Rules
-----
Windows
    ``hour``, ``day`` and ``week`` windows are cut in local time (``Asia/Shanghai`` by
    default): a day starts at 00:00 +08:00 and a week on Monday 00:00, as a street
    office counts them.  ``window_start`` is that local start, tz-aware.  Windows are
    computed from the UTC offset of each record, so they are exact for a fixed-offset
    zone such as China's (no daylight saving since 1991).
Range
    ``start`` is inclusive, ``end`` exclusive; naive datetimes are taken as local time.
Places
    Records whose place is missing (an incident outside every grid has no ``grid_id``)
    are left out of the counts by that place, as a ``groupby`` leaves them out.
Output
    Only non-empty groups, sorted by place, window and split columns; ``count`` is
    ``int64``.  Zero-filling (for a baseline, or for Gi* over a study area) is the
    caller's choice: see :func:`analysis.hotspots.early_warning` and
    :func:`analysis.hotspots.gi_star`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gis.errors import AnalysisError, InvalidInput

__all__ = [
    "DEFAULT_TZ",
    "PLACES",
    "WINDOWS",
    "AggregateError",
    "IncidentCube",
    "aggregate",
    "window_starts",
]

#: Time windows an aggregate can be cut into.
WINDOWS: Final = ("hour", "day", "week")
#: Place columns an incident aggregate is usually keyed by.
PLACES: Final = ("h3_cell", "grid_id", "community_id")
#: Local time zone of the windows.
DEFAULT_TZ: Final = "Asia/Shanghai"

_NS_PER: Final = {"hour": 3_600 * 10**9, "day": 86_400 * 10**9}
_NS_PER_DAY: Final = 86_400 * 10**9
#: 1970-01-01 was a Thursday: add 3 days before dividing by 7 so weeks start on Monday.
_MONDAY_SHIFT_DAYS: Final = 3
#: Above this many (place x window x split) bins, counting uses np.unique, not bincount.
_MAX_DENSE_BINS: Final = 20_000_000


class AggregateError(AnalysisError, InvalidInput):
    """An aggregate was asked for with a column, window or range that does not exist."""


@dataclass(frozen=True)
class _Codes:
    """One column as integer codes (``-1`` for missing) and the values they stand for."""

    codes: NDArray[np.int64]
    values: pd.Index

    @classmethod
    def of(cls, column: pd.Series) -> _Codes:
        codes, uniques = pd.factorize(column, sort=True, use_na_sentinel=True)
        values = pd.Index(uniques)
        # an id column with missing values arrives as float: give back integer ids
        if values.dtype.kind == "f" and len(values) and np.all(np.mod(values, 1) == 0):
            values = values.astype(np.int64)
        return cls(codes=np.asarray(codes, dtype=np.int64), values=values)

    def select(self, wanted: Sequence[Any]) -> NDArray[np.bool_]:
        """Boolean table over the codes: True for the values asked for."""
        table = np.zeros(len(self.values), dtype=bool)
        found = self.values.get_indexer(pd.Index(list(wanted)))
        table[found[found >= 0]] = True
        return table


@dataclass(eq=False)
class IncidentCube:
    """A columnar index of located records for repeated aggregates (the live map).

    Build it once per data version with :meth:`build`; every :meth:`aggregate` then
    reads only the rows of its time range.  Rows are sorted by time; place and split
    columns are held as integer codes.

    Attributes
    ----------
    n : int
        Number of records indexed.
    time_column : str or None
        Name of the time column, ``None`` when the records have no time.
    tz : str
        Time zone of the windows.
    utc_ns : numpy.ndarray of int64 or None
        Record times, nanoseconds since the epoch (UTC), sorted ascending.
    local_ns : numpy.ndarray of int64 or None
        The same times shifted to local wall-clock time (for cutting windows).
    columns : dict of str to _Codes
        Place and split columns, coded, in the sorted row order.
    """

    n: int
    time_column: str | None
    tz: str
    utc_ns: NDArray[np.int64] | None
    local_ns: NDArray[np.int64] | None
    columns: dict[str, _Codes]

    @classmethod
    def build(
        cls,
        records: pd.DataFrame,
        *,
        columns: Sequence[str] | None = None,
        time_column: str | None = "reported_at",
        tz: str = DEFAULT_TZ,
    ) -> IncidentCube:
        """Index ``records`` for aggregates.

        Parameters
        ----------
        records : pandas.DataFrame
            One row per record (the ``incident`` table's columns, or any located table).
        columns : sequence of str, optional
            Columns to index for grouping and filtering; default every column present
            among :data:`PLACES` and ``category_code``, ``state``, ``source``.
        time_column : str or None
            The time column (tz-aware; naive values are taken as ``tz`` local time);
            ``None`` for records without a time (buildings, households).
        tz : str
            Time zone in which windows are cut (``Asia/Shanghai``).

        Returns
        -------
        IncidentCube

        Raises
        ------
        AggregateError
            If a named column is missing.
        """
        if columns is None:
            wanted = [*PLACES, "category_code", "state", "source"]
            columns = [c for c in wanted if c in records.columns]
        missing = [c for c in columns if c not in records.columns]
        if time_column is not None and time_column not in records.columns:
            missing.append(time_column)
        if missing:
            raise AggregateError(
                f"records lack columns {missing}; they have {list(records.columns)}"
            )
        utc_ns = local_ns = None
        order: NDArray[np.int64] | None = None
        if time_column is not None:
            times = pd.DatetimeIndex(records[time_column]).as_unit("ns")
            if times.tz is None:
                times = times.tz_localize(tz)
            if times.hasnans:
                raise AggregateError(
                    f"{int(times.isna().sum())} records have no {time_column}; "
                    "drop them or fill the time before aggregating"
                )
            utc = times.tz_convert("UTC").asi8
            local = times.tz_convert(tz).tz_localize(None).asi8
            order = np.argsort(utc, kind="stable")
            utc_ns, local_ns = utc[order], local[order]
        coded = {}
        for name in columns:
            col = records[name]
            coded[name] = _Codes.of(col if order is None else col.iloc[order])
        return cls(
            n=len(records),
            time_column=time_column,
            tz=tz,
            utc_ns=utc_ns,
            local_ns=local_ns,
            columns=coded,
        )

    # ------------------------------------------------------------------ queries
    def _bound(self, at: datetime | pd.Timestamp | None, *, none_is_end: bool = False) -> int:
        """Position of the first record at or after ``at``; None: the start (or the end)."""
        if at is None:
            return self.n if none_is_end else 0
        if self.utc_ns is None:
            raise AggregateError("these records have no time column: start/end do not apply")
        return int(np.searchsorted(self.utc_ns, _ns(at, self.tz), side="left"))

    def aggregate(
        self,
        *,
        by: str = "h3_cell",
        window: str | None = None,
        start: datetime | pd.Timestamp | None = None,
        end: datetime | pd.Timestamp | None = None,
        categories: Sequence[str] | None = None,
        states: Sequence[str] | None = None,
        split_by: Sequence[str] = (),
        where: Mapping[str, Sequence[Any]] | None = None,
    ) -> pd.DataFrame:
        """Count records by place, optional window and split columns, in a time range.

        Parameters
        ----------
        by : str
            Place column: ``h3_cell``, ``grid_id``, ``community_id`` or any indexed one.
        window : {"hour", "day", "week"} or None
            Cut the counts into local-time windows; ``None`` counts the whole range.
        start, end : datetime, optional
            Time range, ``start`` inclusive, ``end`` exclusive (naive = local time).
        categories : sequence of str, optional
            Keep only these ``category_code`` values.
        states : sequence of str, optional
            Keep only these ``state`` values.
        split_by : sequence of str
            Further columns to count by, e.g. ``("category_code",)`` or ``("state",)``.
        where : mapping of str to sequence, optional
            Other filters, column → values kept (e.g. ``{"source": ["hotline"]}``).

        Returns
        -------
        pandas.DataFrame
            Columns ``by``, ``window_start`` (when ``window``), the ``split_by`` columns
            and ``count``; one row per non-empty group.

        Raises
        ------
        AggregateError
            If a column was not indexed, the window is unknown, or ``end < start``.
        """
        if window is not None and window not in WINDOWS:
            raise AggregateError(f"window must be one of {WINDOWS} or None, got {window!r}")
        if window is not None and self.local_ns is None:
            raise AggregateError("these records have no time column: windows do not apply")
        filters: dict[str, Sequence[Any]] = dict(where or {})
        if categories is not None:
            filters["category_code"] = categories
        if states is not None:
            filters["state"] = states
        keys = [by, *split_by]
        unknown = [c for c in [*keys, *filters] if c not in self.columns]
        if unknown:
            raise AggregateError(
                f"columns {unknown} are not indexed; indexed: {sorted(self.columns)} "
                "(pass them to IncidentCube.build(columns=...))"
            )
        if start is not None and end is not None and _ns(end, self.tz) < _ns(start, self.tz):
            raise AggregateError(f"end {end} is before start {start}: swap them")
        lo, hi = self._bound(start), self._bound(end, none_is_end=True)
        hi = max(hi, lo)

        keep: NDArray[np.bool_] | None = None
        for name, values in filters.items():
            col = self.columns[name]
            m = col.select(values)[col.codes[lo:hi]] & (col.codes[lo:hi] >= 0)
            keep = m if keep is None else keep & m
        for name in keys:  # rows without a place (or split value) are not counted
            m = self.columns[name].codes[lo:hi] >= 0
            keep = m if keep is None else keep & m
        rows = np.flatnonzero(keep) + lo if keep is not None else np.arange(lo, hi)

        # one mixed-radix key per row: place, window, split columns
        parts: list[NDArray[np.int64]] = [self.columns[by].codes[rows]]
        sizes = [len(self.columns[by].values)]
        w0 = 0
        if window is not None:
            assert self.local_ns is not None
            w = _window_index(self.local_ns[rows], window)
            w0 = int(w.min()) if len(w) else 0
            parts.append(w - w0)
            sizes.append(int(w.max()) - w0 + 1 if len(w) else 1)
        for name in split_by:
            parts.append(self.columns[name].codes[rows])
            sizes.append(len(self.columns[name].values))
        if np.prod(np.asarray(sizes, dtype=np.float64)) >= 2.0**62:
            raise AggregateError(
                f"too many possible groups for {keys} and window {window!r}: narrow the "
                "range or split by fewer columns"
            )
        key = np.zeros(len(rows), dtype=np.int64)
        for part, size in zip(parts, sizes, strict=True):
            key = key * size + part
        total = int(np.prod(np.asarray(sizes, dtype=np.float64)))
        if total <= _MAX_DENSE_BINS and total <= 4 * len(rows) + 1_000_000:
            counts = np.bincount(key, minlength=total)
            uniq = np.flatnonzero(counts)
            count = counts[uniq]
        else:
            uniq, count = np.unique(key, return_counts=True)

        # decode the key back into columns (last part varies fastest)
        decoded: list[NDArray[np.int64]] = []
        rest = uniq.astype(np.int64)
        for size in reversed(sizes):
            decoded.append(rest % size)
            rest = rest // size
        decoded.reverse()
        out: dict[str, Any] = {by: self.columns[by].values.take(decoded[0])}
        i = 1
        if window is not None:
            out["window_start"] = _window_start(decoded[1] + w0, window, self.tz)
            i = 2
        for name in split_by:
            out[name] = self.columns[name].values.take(decoded[i])
            i += 1
        out["count"] = count.astype(np.int64)
        return pd.DataFrame(out)


def aggregate(
    incidents: pd.DataFrame,
    *,
    by: str = "h3_cell",
    window: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    categories: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
    split_by: Sequence[str] = (),
    time_column: str | None = "reported_at",
    tz: str = DEFAULT_TZ,
    where: Mapping[str, Sequence[Any]] | None = None,
) -> pd.DataFrame:
    """Count incidents (or any located records) by place, window, category and state.

    The one-off form of :meth:`IncidentCube.aggregate`: for repeated queries on the
    same data (the live map), build an :class:`IncidentCube` once and ask it.

    Parameters
    ----------
    incidents : pandas.DataFrame
        Records with the ``by`` column, the ``split_by`` and filter columns and, unless
        ``time_column`` is ``None``, a tz-aware time column.
    by, window, start, end, categories, states, split_by, where
        See :meth:`IncidentCube.aggregate`.
    time_column : str or None
        Time column (``reported_at``); ``None`` for records without a time.
    tz : str
        Time zone of the windows.

    Returns
    -------
    pandas.DataFrame
        Columns ``by``, [``window_start``], [``split_by`` ...], ``count``.
    """
    needed = [by, *split_by]
    if categories is not None:
        needed.append("category_code")
    if states is not None:
        needed.append("state")
    needed += list(where or {})
    timed = window is not None or start is not None or end is not None
    if time_column is not None and time_column not in incidents.columns and not timed:
        time_column = None  # e.g. buildings counted by grid: no time needed
    cube = IncidentCube.build(
        incidents, columns=list(dict.fromkeys(needed)), time_column=time_column, tz=tz
    )
    return cube.aggregate(
        by=by,
        window=window,
        start=start,
        end=end,
        categories=categories,
        states=states,
        split_by=split_by,
        where=where,
    )


def window_starts(
    start: datetime | pd.Timestamp, end: datetime | pd.Timestamp, window: str, tz: str = DEFAULT_TZ
) -> pd.DatetimeIndex:
    """Every local window start from the window holding ``start`` up to before ``end``.

    Used to zero-fill a history (a day or week with no incident is a zero, not a gap).

    Parameters
    ----------
    start, end : datetime
        The range (naive = local time); ``end`` exclusive.
    window : {"hour", "day", "week"}
        Window length.
    tz : str
        Time zone of the windows.

    Returns
    -------
    pandas.DatetimeIndex
        tz-aware window starts.
    """
    if window not in WINDOWS:
        raise AggregateError(f"window must be one of {WINDOWS}, got {window!r}")
    bounds = []
    for at in (start, end):
        ts = pd.Timestamp(at)
        ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
        bounds.append(ts.tz_localize(None).value)
    w = _window_index(np.asarray(bounds, dtype=np.int64), window)
    last = int(w[1]) if bounds[1] > _window_start_ns(w[1:], window)[0] else int(w[1]) - 1
    return _window_start(np.arange(int(w[0]), last + 1, dtype=np.int64), window, tz)


# ---------------------------------------------------------------------- windows
def _ns(at: datetime | pd.Timestamp, tz: str) -> int:
    """Nanoseconds since the epoch (UTC) of a time; naive times are local to ``tz``."""
    ts = pd.Timestamp(at)
    return int((ts.tz_localize(tz) if ts.tzinfo is None else ts).value)


def _window_index(local_ns: NDArray[np.int64], window: str) -> NDArray[np.int64]:
    """Window number of local wall-clock times (floor division, so before 1970 works)."""
    if window == "week":
        return (local_ns // _NS_PER_DAY + _MONDAY_SHIFT_DAYS) // 7
    return local_ns // _NS_PER[window]


def _window_start_ns(index: NDArray[np.int64], window: str) -> NDArray[np.int64]:
    if window == "week":
        return (index * 7 - _MONDAY_SHIFT_DAYS) * _NS_PER_DAY
    return index * _NS_PER[window]


def _window_start(index: NDArray[np.int64], window: str, tz: str) -> pd.DatetimeIndex:
    """Local window starts (tz-aware) of window numbers."""
    naive = pd.DatetimeIndex(_window_start_ns(np.asarray(index, np.int64), window), tz=None)
    return naive.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
