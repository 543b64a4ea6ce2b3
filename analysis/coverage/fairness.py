"""Equity (公平性): each group's unserved share against everyone's; Gini of walk time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from analysis.coverage.standards import GROUP_NAMES, GROUPS
from analysis.coverage.walking_access import Access, served_shares
from analysis.network import FloatArray


def weighted_gini(values: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Gini coefficient of ``values`` (e.g. walking times) over people ``weights``.

    ``G = Σᵢ Σⱼ wᵢ wⱼ |xᵢ − xⱼ| / (2 W Σ wᵢ xᵢ)``: 0 when everyone walks as long, towards
    1 when a few walk all of it.  Non-finite values are left out.  NaN when nothing is
    left or every value is 0.
    """
    x = np.asarray(values, np.float64).ravel()
    w = np.ones_like(x) if weights is None else np.asarray(weights, np.float64).ravel()
    keep = np.isfinite(x) & (w > 0)
    x, w = x[keep], w[keep]
    total_w, total_wx = w.sum(), (w * x).sum()
    if len(x) == 0 or total_wx <= 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    w_before = np.cumsum(w) - w
    wx_before = np.cumsum(w * x) - w * x
    return float((w * (x * w_before - wx_before)).sum() / (total_w * total_wx))


def _weighted_quantile(values: FloatArray, weights: FloatArray, q: float) -> float:
    keep = weights > 0
    x, w = values[keep], weights[keep]
    if len(x) == 0:
        return float("nan")
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    cum = np.cumsum(w)
    return float(x[min(int(np.searchsorted(cum, q * cum[-1], side="left")), len(x) - 1)])


def equity(result: Access) -> pd.DataFrame:
    """Who is left out: each group's unserved share against everyone's, and time Gini.

    Returns
    -------
    pandas.DataFrame
        Indexed by group: ``share_unserved``, ``ratio_to_everyone`` (the group's
        unserved share over everyone's; above 1 the group is worse off), ``mean_min``
        and ``p90_min`` (people-weighted walking minutes; ``inf`` when more than the
        share is unreachable), ``gini`` (of walking time among those who can reach a
        facility) and ``unreachable`` (people who cannot reach any).
    """
    shares = served_shares(result)
    minutes = result.minutes
    base = 1 - shares.loc["everyone", "share_served"]
    rows = []
    for g in GROUPS:
        w = result.demand[g].to_numpy(np.float64)
        unserved = 1 - shares.loc[g, "share_served"]
        finite = np.isfinite(minutes)
        reach_w = w[finite]
        rows.append(
            {
                "group": g,
                "name": GROUP_NAMES[g],
                "share_unserved": unserved,
                "ratio_to_everyone": unserved / base if base > 0 else float("nan"),
                "mean_min": float((minutes[finite] * reach_w).sum() / reach_w.sum())
                if reach_w.sum() > 0
                else float("nan"),
                "p90_min": _weighted_quantile(minutes, w, 0.9),
                "gini": weighted_gini(minutes, w),
                "unreachable": float(w[~finite].sum()),
            }
        )
    return pd.DataFrame(rows).set_index("group")
