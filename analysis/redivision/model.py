"""The on-time model of a street office (按期结案): P(closed on time | open load, walking time).

Method
------
A logistic regression fitted on the office's own due cases (scikit-learn's
``LogisticRegression`` with ``C=inf``: no penalty, i.e. maximum likelihood)::

    logit P(on time) = b0 + b1 · open_load + b2 · walk_min

``open_load`` is the number of cases the assignee already had open when the case started
(dispatch, else report), ``walk_min`` the walking time, minutes, from the assignee's base
to the case.  The standard errors are those of the maximum-likelihood estimate, the
square roots of the diagonal of ``(Xᵀ W X)⁻¹`` with ``W = diag(p (1 − p))``; McFadden's
pseudo-R² is ``1 − ll / ll_null``.

The check out of sample fits on the first period (cases started before the split) and
predicts the next: Brier score, log loss, the area under the ROC curve, and the predicted
against the observed on-time rate of the second period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from gis.errors import AnalysisError, InvalidInput

FEATURES: Final = ("open_load", "walk_min")
"""The model's inputs, in order."""
MIN_CASES: Final = 30
"""Fewest due cases, and fewest of each outcome, a fit needs."""
MAX_FIT_CASES: Final = 250_000
"""Most cases a fit uses: more are sampled down to this (seeded), as three coefficients
are then known to a few thousandths and a million cases would take seconds more."""

FloatArray = npt.NDArray[np.float64]


class NotEnoughHistory(AnalysisError, InvalidInput):
    """The history holds too few due cases (or only one outcome) to fit the model."""


@dataclass(frozen=True)
class Coefficient:
    """One coefficient: estimate, standard error, z and two-sided p."""

    name: str
    estimate: float
    std_error: float
    z: float
    p_value: float


@dataclass(frozen=True)
class HeldOut:
    """Fit on one period, predict the next."""

    split_at: pd.Timestamp
    n_train: int
    n_test: int
    brier: float
    log_loss: float
    auc: float | None
    observed_rate: float
    predicted_rate: float


@dataclass(frozen=True)
class OnTimeModel:
    """A fitted on-time model and how well it fits.

    Attributes
    ----------
    coefficients
        Intercept, ``open_load`` and ``walk_min``, with standard errors.
    n, on_time
        Due cases fitted, and how many of them were closed on time.
    log_likelihood, null_log_likelihood, pseudo_r2
        The fit against an intercept-only model (McFadden's R²).
    held_out
        The check on the next period (None when either period is too small).
    """

    coefficients: tuple[Coefficient, ...]
    n: int
    on_time: int
    log_likelihood: float
    null_log_likelihood: float
    pseudo_r2: float
    held_out: HeldOut | None

    def predict(self, open_load: npt.ArrayLike, walk_min: npt.ArrayLike) -> FloatArray:
        """On-time probability of cases with these loads and walking times (minutes)."""
        b = np.array([c.estimate for c in self.coefficients])
        eta = b[0] + b[1] * np.asarray(open_load, np.float64) + b[2] * np.asarray(walk_min)
        return 1.0 / (1.0 + np.exp(-eta))


def _design(frame: pd.DataFrame) -> FloatArray:
    return frame[list(FEATURES)].to_numpy(dtype=np.float64)


def _check(y: npt.NDArray[np.bool_], what: str) -> None:
    hits = int(y.sum())
    if y.size < MIN_CASES or min(hits, y.size - hits) < 5:
        raise NotEnoughHistory(
            f"{what} holds {y.size} due cases ({hits} closed on time, {y.size - hits} not): "
            f"the on-time model needs at least {MIN_CASES}, with at least 5 of each outcome; "
            "replay a longer history (more months)"
        )


def _sample(x: FloatArray, y: npt.NDArray[np.bool_]) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """At most :data:`MAX_FIT_CASES` rows, drawn at random (seeded: the same every run)."""
    if y.size <= MAX_FIT_CASES:
        return x, y
    keep = np.sort(np.random.default_rng(0).choice(y.size, MAX_FIT_CASES, replace=False))
    return x[keep], y[keep]


def _fit(x: FloatArray, y: npt.NDArray[np.bool_]) -> tuple[LogisticRegression, FloatArray]:
    # no penalty (C=inf); Newton steps on three coefficients converge in a few passes
    model = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=100, tol=1e-6)
    model.fit(x, y)
    return model, model.predict_proba(x)[:, 1]


def fit_on_time(cases: pd.DataFrame, *, split_at: pd.Timestamp | None = None) -> OnTimeModel:
    """Fit the on-time model on due cases, and check it on the next period.

    Parameters
    ----------
    cases
        One row per due case: ``open_load``, ``walk_min`` (minutes), ``on_time`` (bool),
        ``start`` (UTC timestamp, for the split).  Above :data:`MAX_FIT_CASES` a seeded
        random sample is fitted (``n`` says how many); the check predicts every case of
        the next period.
    split_at
        The end of the first period of the check; default the median start.

    Raises
    ------
    NotEnoughHistory
        Too few due cases, or too few of one outcome.
    """
    y = cases["on_time"].to_numpy(dtype=bool)
    _check(y, "the history")
    every_x = _design(cases)
    x, y_fit = _sample(every_x, y)
    model, p = _fit(x, y_fit)
    beta = np.concatenate([model.intercept_, model.coef_[0]])
    design = np.column_stack([np.ones(len(x)), x])
    info = design.T @ (design * (p * (1 - p))[:, None])
    try:
        cov = np.linalg.inv(info)
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    except np.linalg.LinAlgError:  # a feature without variation
        se = np.full(beta.size, np.nan)
    z = beta / se
    pv = 2 * stats.norm.sf(np.abs(z))
    names = ("intercept", *FEATURES)
    coefficients = tuple(
        Coefficient(n, float(b), float(s), float(zz), float(pp))
        for n, b, s, zz, pp in zip(names, beta, se, z, pv, strict=True)
    )
    eps = 1e-12
    ll = float(np.sum(np.where(y_fit, np.log(p + eps), np.log(1 - p + eps))))
    rate = y_fit.mean()
    ll0 = float(y_fit.sum() * np.log(rate) + (~y_fit).sum() * np.log(1 - rate))
    return OnTimeModel(
        coefficients=coefficients,
        n=int(y_fit.size),
        on_time=int(y_fit.sum()),
        log_likelihood=ll,
        null_log_likelihood=ll0,
        pseudo_r2=1.0 - ll / ll0 if ll0 else 0.0,
        held_out=_held_out(cases, every_x, y, split_at),
    )


def _held_out(
    cases: pd.DataFrame, x: FloatArray, y: npt.NDArray[np.bool_], split_at: pd.Timestamp | None
) -> HeldOut | None:
    start = pd.to_datetime(cases["start"], utc=True)
    at = split_at if split_at is not None else start.quantile(0.5)
    first = (start < at).to_numpy()
    try:
        _check(y[first], "the first period")
        _check(y[~first], "the next period")
    except NotEnoughHistory:
        return None
    train_x, train_y = _sample(x[first], y[first])
    model, _ = _fit(train_x, train_y)
    p = model.predict_proba(x[~first])[:, 1]
    test = y[~first]
    return HeldOut(
        split_at=pd.Timestamp(at),
        n_train=int(train_y.size),
        n_test=int((~first).sum()),
        brier=float(brier_score_loss(test, p)),
        log_loss=float(log_loss(test, p, labels=[False, True])),
        auc=float(roc_auc_score(test, p)) if 0 < test.sum() < test.size else None,
        observed_rate=float(test.mean()),
        predicted_rate=float(p.mean()),
    )
