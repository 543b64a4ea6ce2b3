"""What every location model shares: the answer, the input checks, demand merging, HiGHS."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import sparse

from gis.errors import AnalysisError, InvalidInput

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: Model names, as in :attr:`LocationResult.model`.
MODELS = ("lscp", "mclp", "p_median", "capacitated_p_median")


#: Human names of the models, for :meth:`LocationResult.explain`.
MODEL_NAMES = {
    "lscp": "Set covering (LSCP: fewest new sites that put all demand within the standard)",
    "mclp": "Maximal covering (MCLP: most demand within the standard with p new sites)",
    "p_median": "p-median (shortest total weighted walk with p new sites)",
    "capacitated_p_median": (
        "Capacitated p-median (shortest total weighted walk with p new sites, "
        "no site over its capacity)"
    ),
}
EMPTY = np.zeros(0, dtype=np.int64)


class LocationError(AnalysisError, InvalidInput):
    """The location model was given bad input; the message says what and how to fix it."""


@dataclass(frozen=True, eq=False)
class LocationResult:
    """The answer of a location model: which sites to open and whom they serve.

    Attributes
    ----------
    model : str
        ``"lscp"``, ``"mclp"``, ``"p_median"`` or ``"capacitated_p_median"``.
    status : str
        ``"optimal"`` (proven within the requested gap), ``"time_limit"`` (the best
        answer found when the time limit stopped the search; not proven) or
        ``"infeasible"`` (no answer satisfies the constraints; see :meth:`explain`).
    objective : float
        LSCP: number of new sites; MCLP: demand weight covered (including what the
        fixed sites cover); p-median: total weighted walking time, seconds (demand
        no allowed site reaches is left out).  ``nan`` when infeasible.
    bound : float
        Best proven bound on the objective (the dual bound): a lower bound for LSCP
        and the p-medians, an upper bound for MCLP.
    gap : float
        Relative gap ``|objective − bound| / max(|objective|, |bound|)``; 0.0 when the
        bound meets the objective, at most the requested ``mip_gap`` when optimal.
    sites : numpy.ndarray of int64
        Chosen *new* site indices (sorted); fixed sites are not included.
    open_sites : numpy.ndarray of int64
        Fixed and new sites, sorted.
    assignment : numpy.ndarray of int64
        Per demand point: the serving site, -1 when not served (uncovered or
        unreachable).  Coverage models without ``times`` take the lowest-index open
        site that covers the demand; capacitated p-median takes the site with the
        largest share of it.
    covered : numpy.ndarray of bool
        Per demand point: LSCP/MCLP — within the standard of an open site; p-median —
        reaches an open site.
    uncoverable : numpy.ndarray of int64
        Demand points no allowed (non-excluded) site can reach: whatever is opened,
        they stay unserved (the reason an LSCP cannot cover everyone).
    solve_s : float
        Wall time of the whole call, seconds.
    p : int
        The number of new sites allowed (LSCP: the number used).
    fixed : numpy.ndarray of int64
        The fixed (existing) sites, sorted.
    excluded : numpy.ndarray of int64
        The excluded sites, sorted.
    total_weight : float
        Sum of all demand weights.
    served_weight : float
        Demand weight covered (LSCP/MCLP) or served by an open site (p-medians).
    load : numpy.ndarray of float64
        Demand weight each site serves (all sites; 0 for closed ones).
    note : str
        Extra words of the solver (why the model is infeasible, what was assumed).
    """

    model: str
    status: str
    objective: float
    bound: float
    gap: float
    sites: IntArray
    open_sites: IntArray
    assignment: IntArray
    covered: BoolArray
    uncoverable: IntArray
    solve_s: float
    p: int = 0
    fixed: IntArray = field(default_factory=lambda: EMPTY.copy())
    excluded: IntArray = field(default_factory=lambda: EMPTY.copy())
    total_weight: float = 0.0
    served_weight: float = 0.0
    load: FloatArray = field(default_factory=lambda: np.zeros(0))
    note: str = ""

    def explain(self) -> str:
        """One paragraph in plain words: what was opened, whom it serves, how sure it is."""
        words = [MODEL_NAMES.get(self.model, self.model) + "."]
        if self.status == "infeasible":
            words.append("No answer meets the constraints.")
            if self.note:
                words.append(self.note)
            return " ".join(words)
        n_new = len(self.sites)
        opened = (
            f"{n_new} new site{'s' if n_new != 1 else ''} opened ({_list(self.sites)})"
            if n_new
            else "no new site opened"
        )
        if len(self.fixed):
            opened += (
                f" besides {len(self.fixed)} existing one{'s' if len(self.fixed) != 1 else ''}"
            )
        if self.model in ("mclp", "p_median", "capacitated_p_median") and n_new < self.p:
            opened += f" ({n_new} of the {self.p} allowed: more would not improve the answer)"
        words.append(opened[0].upper() + opened[1:] + ".")
        share = self.served_weight / self.total_weight if self.total_weight > 0 else 1.0
        if self.model in ("lscp", "mclp"):
            words.append(
                f"They put {format_number(self.served_weight)} of "
                f"{format_number(self.total_weight)} demand weight ({share:.1%}) within the "
                "standard."
            )
        else:
            mean = self.objective / self.served_weight if self.served_weight > 0 else 0.0
            words.append(
                f"They serve {format_number(self.served_weight)} of "
                f"{format_number(self.total_weight)} demand weight ({share:.1%}); total weighted "
                f"walk {format_number(self.objective)} s, "
                f"{mean / 60:.1f} min on average."
            )
        if self.status == "optimal":
            words.append(
                "Proven optimal."
                if self.gap <= 1e-9
                else f"Proven optimal within {self.gap:.2%} (the requested gap)."
            )
        else:
            words.append(
                f"The solver stopped at its time limit: this is the best answer found, not "
                f"proven optimal; the optimum is at most {self.gap:.2%} better "
                f"(bound {format_number(self.bound)})."
            )
        coverage = self.model in ("lscp", "mclp")
        if len(self.uncoverable):
            one = len(self.uncoverable) == 1
            where = (
                f"{'is' if one else 'are'} within the standard of no allowed site"
                if coverage
                else "can reach no allowed site"
            )
            words.append(
                f"{len(self.uncoverable)} demand point{'' if one else 's'} "
                f"({_list(self.uncoverable)}) {where} and {'stays' if one else 'stay'} "
                f"unserved whatever is opened: add or allow a candidate site near "
                f"{'it' if one else 'them'}."
            )
        unserved = np.flatnonzero(~self.covered)
        unserved = unserved[~np.isin(unserved, self.uncoverable)]
        if len(unserved) and self.model != "lscp":
            one = len(unserved) == 1
            where = (
                f"{'is' if one else 'are'} within the standard of an allowed site but not of "
                "the sites opened"
                if coverage
                else "can reach an allowed site but none of the sites opened"
            )
            words.append(
                f"{len(unserved)} more demand point{'' if one else 's'} "
                f"({_list(unserved)}) {where}."
            )
        if self.note:
            words.append(self.note)
        return " ".join(words)


# ---------------------------------------------------------------------- input handling
@dataclass(frozen=True, eq=False)
class Pairs:
    """The stored pairs of a demand × site matrix, as coordinate arrays."""

    row: IntArray
    col: IntArray
    value: FloatArray
    n_rows: int
    n_cols: int

    def subset(self, mask: BoolArray) -> Pairs:
        """The pairs where ``mask`` (one value per pair) is True."""
        return Pairs(self.row[mask], self.col[mask], self.value[mask], self.n_rows, self.n_cols)


def _as_pairs(matrix: Any, name: str, *, boolean: bool) -> Pairs:
    """Coordinate arrays of a sparse or dense matrix, sorted by (row, value, column).

    Sparse: the stored entries (explicit zeros kept; a stored ``inf`` or, for a cover,
    False is left out; duplicates keep the smallest).  Dense: the finite (or True)
    entries.
    """
    if sparse.issparse(matrix):
        if matrix.ndim != 2:
            raise LocationError(f"{name} must be 2-D (demand × sites), got {matrix.ndim}-D")
        n_rows, n_cols = matrix.shape
        canonical = matrix.format == "csr" and matrix.has_canonical_format
        m = matrix if canonical else sparse.coo_matrix(matrix)  # coo keeps duplicates, zeros
        try:
            value = np.asarray(m.data, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise LocationError(f"{name} must hold numbers, got {m.data.dtype}") from exc
        if canonical:
            row = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(m.indptr))
            col = np.asarray(m.indices, dtype=np.int64)
        else:
            row = np.asarray(m.row, dtype=np.int64)
            col = np.asarray(m.col, dtype=np.int64)
        if np.isnan(value).any():
            i = int(np.flatnonzero(np.isnan(value))[0])
            raise LocationError(
                f"{name} holds NaN (first at demand {row[i]}, site {col[i]}); "
                + (
                    "store True/False (or 1/0) only"
                    if boolean
                    else "leave unreachable pairs out of a sparse matrix"
                )
            )
        keep = value != 0 if boolean else np.isfinite(value)
        row, col, value = row[keep], col[keep], value[keep]
        if boolean:
            value = np.ones(len(row))
        if not canonical and len(row):  # one entry per pair, the smallest
            order = np.lexsort((value, col, row))
            row, col, value = row[order], col[order], value[order]
            first = np.ones(len(row), dtype=bool)
            first[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
            row, col, value = row[first], col[first], value[first]
        _check_times(row, col, value, name, boolean)
        if not boolean:  # (row, col) order → (row, value, col), by two stable sorts
            order = np.argsort(value, kind="stable")
            order = order[np.argsort(row[order], kind="stable")]
            row, col, value = row[order], col[order], value[order]
        return Pairs(row, col, value, int(n_rows), int(n_cols))
    dense = dense_times(matrix, name, boolean=boolean)
    n_rows, n_cols = dense.shape
    if boolean:
        row2, col2 = np.nonzero(dense != 0)
        row, col = row2.astype(np.int64), col2.astype(np.int64)
        return Pairs(row, col, np.ones(len(row)), int(n_rows), int(n_cols))
    order = np.argsort(dense, axis=1, kind="stable")  # inf last
    ordered = np.take_along_axis(dense, order, axis=1)
    finite = np.isfinite(ordered)
    row = np.broadcast_to(np.arange(n_rows, dtype=np.int64)[:, None], dense.shape)[finite]
    return Pairs(row, order[finite].astype(np.int64), ordered[finite], int(n_rows), int(n_cols))


def dense_times(matrix: Any, name: str, *, boolean: bool = False) -> FloatArray:
    """A dense matrix as float64, refused when not 2-D, NaN, or (times) negative."""
    try:
        dense = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LocationError(f"{name} must be a numeric matrix (demand × sites)") from exc
    if dense.ndim != 2:
        raise LocationError(f"{name} must be 2-D (demand × sites), got shape {dense.shape}")
    if np.isnan(dense).any():
        i, j = np.argwhere(np.isnan(dense))[0]
        raise LocationError(
            f"{name} holds NaN (first at demand {i}, site {j}); use inf (dense) or "
            "leave the pair out (sparse) for unreachable"
        )
    if not boolean and (dense < 0).any():
        i, j = np.argwhere(dense < 0)[0]
        _check_times(np.array([i]), np.array([j]), dense[i, j : j + 1], name, boolean)
    return dense


def _check_times(row: IntArray, col: IntArray, value: FloatArray, name: str, boolean: bool) -> None:
    if boolean or not (value < 0).any():
        return
    i = int(np.flatnonzero(value < 0)[0])
    raise LocationError(
        f"{name} holds a negative time ({value[i]} at demand {row[i]}, site {col[i]}); "
        "walking times are seconds ≥ 0"
    )


def time_pairs(times: Any, name: str) -> Pairs:
    """The reachable pairs of a walking-time matrix, sorted by (row, time, column)."""
    return _as_pairs(times, name, boolean=False)


def cover_pairs(cover: Any, name: str) -> Pairs:
    """The True pairs of a cover matrix, sorted by (row, column)."""
    return _as_pairs(cover, name, boolean=True)


def demand_weights(weights: ArrayLike, n: int, name: str, what: str) -> FloatArray:
    """Demand weights as float64, refused unless one finite value ≥ 0 per demand point."""
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise LocationError(f"{name} must be numbers, one per demand point") from exc
    if w.ndim != 1 or len(w) != n:
        raise LocationError(
            f"{name} must have one value per demand point: got shape {w.shape}, "
            f"expected ({n},) to match {what}"
        )
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise LocationError(
            f"{name} must be finite and ≥ 0: demand {int(bad[0])} has {w[bad[0]]} "
            f"({len(bad)} bad value{'s' if len(bad) != 1 else ''} in all)"
        )
    return w


@dataclass(frozen=True, eq=False)
class SiteSets:
    """Fixed, excluded and free candidate sites."""

    fixed: IntArray
    excluded: IntArray
    is_fixed: BoolArray
    allowed: BoolArray
    is_free: BoolArray

    @classmethod
    def of(cls, n_sites: int, fixed: Any, excluded: Any) -> SiteSets:
        """The site sets of ``fixed`` and ``excluded`` (indices or masks), checked."""
        f = _indices(fixed, n_sites, "fixed")
        e = _indices(excluded, n_sites, "excluded")
        both = np.intersect1d(f, e)
        if len(both):
            raise LocationError(
                f"sites {both[:10].tolist()} are both fixed and excluded; an existing "
                "facility cannot be excluded — remove them from one of the two"
            )
        is_fixed = np.zeros(n_sites, dtype=bool)
        is_fixed[f] = True
        allowed = np.ones(n_sites, dtype=bool)
        allowed[e] = False
        return cls(f, e, is_fixed, allowed, allowed & ~is_fixed)


def _indices(values: Any, n: int, name: str) -> IntArray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if arr.size == 0:
        return EMPTY.copy()
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise LocationError(f"{name} as a mask must have one value per site ({n})")
        return np.flatnonzero(arr).astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise LocationError(f"{name} must be site indices (integers), got {arr[:5].tolist()}")
    arr = arr.ravel().astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n)]
    if len(bad):
        raise LocationError(
            f"{name} holds site indices out of range {bad[:10].tolist()}: sites are the "
            f"columns 0..{n - 1}"
        )
    return np.unique(arr)


def check_p(p: Any, sites: SiteSets) -> int:
    """``p`` as an int, refused unless a whole number from 0 to the free sites."""
    if isinstance(p, bool) or not isinstance(p, int | np.integer):
        raise LocationError(f"p must be a whole number of new sites, got {p!r}")
    n_free = int(sites.is_free.sum())
    if p < 0:
        raise LocationError(f"p must be ≥ 0 new sites, got {p}")
    if p > n_free:
        raise LocationError(
            f"p = {p} new sites asked but only {n_free} candidate sites are allowed "
            f"({len(sites.is_free)} sites, {len(sites.fixed)} fixed, {len(sites.excluded)} "
            "excluded): lower p or add candidates"
        )
    return int(p)


def check_limits(time_limit: Any, mip_gap: Any) -> None:
    """Refuse a time limit that is not positive or a gap outside [0, 1)."""
    if not (isinstance(time_limit, int | float | np.number) and 0 < float(time_limit) < np.inf):
        raise LocationError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
    if not (isinstance(mip_gap, int | float | np.number) and 0 <= float(mip_gap) < 1):
        raise LocationError(f"mip_gap must be a relative gap in [0, 1), got {mip_gap!r}")


def check_unserved(unserved_s: Any) -> float | None:
    """``unserved_s`` as a float (None stays None), refused unless finite and ≥ 0."""
    if unserved_s is None:
        return None
    if not (isinstance(unserved_s, int | float | np.number) and 0 <= float(unserved_s) < np.inf):
        raise LocationError(
            f"unserved_s must be a nonnegative number of seconds, got {unserved_s!r}"
        )
    return float(unserved_s)


# ---------------------------------------------------------------------- model helpers
@dataclass(frozen=True, eq=False)
class Groups:
    """Demand points merged by identical rows: one representative per group."""

    group_of: IntArray  # per demand point, -1 for points not in the model
    is_representative: BoolArray
    n_groups: int


def merge_identical_rows(pairs: Pairs, rows: IntArray, extra: FloatArray | None = None) -> Groups:
    """Group ``rows`` whose stored pairs (sites and values), and ``extra[row]``, are identical.

    ``pairs`` must be sorted by (row, value, column), as :func:`_as_pairs` gives them (so
    identical rows list their pairs in the same order).  Rows are keyed by two random
    64-bit sums over their pairs, their length and ``extra``, then the grouping is
    verified pair by pair (a row whose key collided is split off), so the merge is exact.
    """
    n = pairs.n_rows
    group_of = np.full(n, -1, dtype=np.int64)
    is_rep = np.zeros(n, dtype=bool)
    if len(rows) == 0:
        return Groups(group_of, is_rep, 0)
    rng = np.random.default_rng(20100601)
    r1 = rng.integers(1, 2**63, size=pairs.n_cols, dtype=np.uint64) | np.uint64(1)
    r2 = rng.integers(1, 2**63, size=pairs.n_cols, dtype=np.uint64)
    bits = np.ascontiguousarray(pairs.value).view(np.uint64)
    with np.errstate(over="ignore"):
        k1 = r1[pairs.col] * (bits + np.uint64(0x9E3779B97F4A7C15))
        k2 = r2[pairs.col] ^ (bits * np.uint64(0xC2B2AE3D27D4EB4F))
    h1 = np.zeros(n, dtype=np.uint64)
    h2 = np.zeros(n, dtype=np.uint64)
    np.add.at(h1, pairs.row, k1)
    np.add.at(h2, pairs.row, k2)
    length = np.bincount(pairs.row, minlength=n)
    extra_bits = (
        np.zeros(n, dtype=np.uint64)
        if extra is None
        else np.ascontiguousarray(extra, dtype=np.float64).view(np.uint64)
    )
    keys = np.stack([h1[rows], h2[rows], length[rows].astype(np.uint64), extra_bits[rows]], 1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    rep_of = np.full(n, -1, dtype=np.int64)
    rep_of[rows] = rows[first[inverse.ravel()]]
    # verify pair by pair against the representative, at the same place in its row
    starts = np.searchsorted(pairs.row, np.arange(n))
    rep_of_pair = rep_of[pairs.row]
    in_model = rep_of_pair >= 0
    pos = np.arange(len(pairs.row)) - starts[pairs.row]
    other = np.minimum(starts[np.maximum(rep_of_pair, 0)] + pos, max(len(pairs.row) - 1, 0))
    bad_pair = in_model & ((pairs.col[other] != pairs.col) | (pairs.value[other] != pairs.value))
    bad = np.unique(pairs.row[bad_pair])
    bad = np.union1d(bad, rows[length[rows] != length[rep_of[rows]]])
    if extra is not None:
        bad = np.union1d(bad, rows[extra_bits[rows] != extra_bits[rep_of[rows]]])
    rep_of[bad] = bad  # a collision: split off as its own group
    reps, group = np.unique(rep_of[rows], return_inverse=True)
    group_of[rows] = group.ravel()
    is_rep[reps] = True
    return Groups(group_of, is_rep, len(reps))


def site_load(assignment: IntArray, w: FloatArray, n_sites: int) -> FloatArray:
    """Demand weight assigned to each site (0 for sites serving nobody)."""
    ok = assignment >= 0
    return np.bincount(assignment[ok], weights=w[ok], minlength=n_sites).astype(np.float64)


def relative_gap(objective: float, bound: float) -> float:
    """``|objective − bound| / max(|objective|, |bound|)``; inf or nan when either is not finite."""
    if not (np.isfinite(objective) and np.isfinite(bound)):
        return float("inf") if np.isfinite(objective) else float("nan")
    scale = max(abs(objective), abs(bound))
    return 0.0 if scale == 0 else abs(objective - bound) / scale


def _list(indices: ArrayLike, most: int = 10) -> str:
    arr = np.asarray(indices).ravel()
    shown = ", ".join(str(int(i)) for i in arr[:most])
    return shown + (f" and {len(arr) - most} more" if len(arr) > most else "")


def format_number(x: float) -> str:
    """A number for a sentence: whole from 100 up, else at most two decimals."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------- HiGHS
_BANNER_LOCK = threading.Lock()
_banner_done = False


def _highs() -> highspy.Highs:
    """A new HiGHS instance; the first one of the process prints a banner to fd 1, hidden.

    HiGHS writes its copyright banner with C ``printf`` when the first instance is made,
    whatever ``output_flag`` says; a CLI answering JSON on stdout must not get it.
    """
    global _banner_done
    with _BANNER_LOCK:
        if _banner_done:
            return highspy.Highs()
        _banner_done = True
        try:
            sys.stdout.flush()
            saved = os.dup(1)
        except (OSError, ValueError):
            return highspy.Highs()
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                h = highspy.Highs()
                with contextlib.suppress(OSError, AttributeError):
                    ctypes.CDLL(None).fflush(None)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        return h


@dataclass(frozen=True, eq=False)
class MipResult:
    """What HiGHS proved: status, objective, dual bound and the answer (None if none)."""

    status: str
    objective: float
    bound: float
    x: FloatArray | None


def solve_mip(
    *,
    cost: FloatArray,
    col_lower: FloatArray,
    col_upper: FloatArray,
    integral: BoolArray,
    a: sparse.csc_matrix,
    row_lower: FloatArray,
    row_upper: FloatArray,
    maximize: bool,
    offset: float,
    deadline: float,
    mip_gap: float,
    start: FloatArray | None,
    threads: int | None,
) -> MipResult:
    """Pass a MIP to HiGHS in one call (column-wise arrays), solve it, read what it proved."""
    a = sparse.csc_matrix(a)
    a.sum_duplicates()
    inf = highspy.kHighsInf
    h = _highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.01))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if threads is not None:
        h.setOptionValue("threads", int(threads))
    h.passModel(
        int(a.shape[1]),
        int(a.shape[0]),
        int(a.nnz),
        1,  # MatrixFormat.kColwise
        -1 if maximize else 1,  # ObjSense
        float(offset),
        np.ascontiguousarray(cost, dtype=np.float64),
        np.ascontiguousarray(col_lower, dtype=np.float64),
        np.ascontiguousarray(col_upper, dtype=np.float64),
        np.ascontiguousarray(np.clip(row_lower, -inf, inf), dtype=np.float64),
        np.ascontiguousarray(np.clip(row_upper, -inf, inf), dtype=np.float64),
        np.ascontiguousarray(a.indptr, dtype=np.int32),
        np.ascontiguousarray(a.indices, dtype=np.int32),
        np.ascontiguousarray(a.data, dtype=np.float64),
        np.ascontiguousarray(integral, dtype=np.int32),
    )
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, dtype=np.float64)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_x = info.primal_solution_status == highspy.kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value, dtype=np.float64) if has_x else None
    ms = highspy.HighsModelStatus
    if model_status == ms.kOptimal:
        status = "optimal"
    elif model_status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
        status = "infeasible"
    elif model_status in (
        ms.kTimeLimit,
        ms.kInterrupt,
        ms.kIterationLimit,
        ms.kSolutionLimit,
        ms.kObjectiveBound,
        ms.kObjectiveTarget,
        ms.kMemoryLimit,
        ms.kUnknown,
    ):
        status = "time_limit"
    else:
        raise RuntimeError(f"HiGHS failed: {h.modelStatusToString(model_status)}")
    objective = float(info.objective_function_value) if has_x else float("nan")
    bound = float(info.mip_dual_bound)
    if not np.isfinite(bound) or abs(bound) >= inf:
        bound = float("nan")
    if status == "optimal" and not np.isfinite(bound):
        bound = objective
    return MipResult(status, objective, bound, x)
