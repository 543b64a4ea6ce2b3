"""The re-division simulator (网格调整模拟): a candidate grid layout replayed beside today's.

Modules: :mod:`~analysis.redivision.model` (the office's on-time model and its check),
:mod:`~analysis.redivision.replay` (open loads and walks of cases under a layout) and
:mod:`~analysis.redivision.simulate` (the two layouts side by side, per grid and worker).
"""

from analysis.redivision.model import FEATURES, HeldOut, NotEnoughHistory, OnTimeModel, fit_on_time
from analysis.redivision.simulate import (
    LAYOUTS,
    History,
    LayoutError,
    Simulation,
    assign_workers,
    simulate,
)

__all__ = [
    "FEATURES",
    "LAYOUTS",
    "HeldOut",
    "History",
    "LayoutError",
    "NotEnoughHistory",
    "OnTimeModel",
    "Simulation",
    "assign_workers",
    "fit_on_time",
    "simulate",
]
