"""The re-division simulator's request and answer: a candidate layout beside today's."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from api.schemas.common import feature_collection, json_value
from api.services.redivision import SimulationReport


class SimulateBody(BaseModel):
    """A candidate: a GeoJSON layout, or the designer's proposal for a community."""

    layout: dict[str, Any] | None = Field(
        None,
        description="GeoJSON FeatureCollection, one (Multi)Polygon a grid (lon/lat, WGS84); "
        "properties key/code/name and worker_id are read when present",
    )
    design: bool = Field(False, description="simulate the designer's proposal instead")
    community: str | None = Field(None, pattern=r"^\d{12}$", description="with design")
    months: int = Field(6, ge=1, le=36, description="months of history replayed")


class CoefficientOut(BaseModel):
    """One coefficient of the on-time model."""

    name: str
    estimate: float
    std_error: float | None
    z: float | None
    p_value: float | None


class HeldOutOut(BaseModel):
    """The model fitted on one period and checked on the next."""

    split_at: str
    n_train: int
    n_test: int
    brier: float
    log_loss: float
    auc: float | None
    observed_rate: float
    predicted_rate: float


class ModelOut(BaseModel):
    """logit P(on time) = intercept + b·open_load + c·walk_min, fitted on the office's cases."""

    coefficients: list[CoefficientOut]
    n: int
    on_time: int
    log_likelihood: float
    pseudo_r2: float = Field(description="McFadden")
    held_out: HeldOutOut | None


class GridRow(BaseModel):
    """One grid under one layout."""

    layout: str = Field(description="today or candidate")
    key: str
    name: str
    worker_id: int | None
    households: float
    vulnerable: float
    incidents: int
    due: int
    open_load_mean: float | None
    walk_mean_min: float | None
    walk_p90_min: float | None
    on_time_expected: float | None = Field(description="the model's 按期结案率")
    on_time_observed: float | None = Field(description="today's real 按期结案率")
    categories: dict[str, int] = Field(description="cases per category code")


class WorkerRow(BaseModel):
    """One worker, today and under the candidate, and what would change."""

    worker_id: int
    today: dict[str, Any]
    candidate: dict[str, Any]
    change: str


class SimulationAnswer(BaseModel):
    """The candidate beside today's layout: the model, per grid, per worker, and the map."""

    source: str
    start: str
    end: str
    walk_basis: str
    cases: int
    due: int
    model: ModelOut
    grids: list[GridRow]
    workers: list[WorkerRow]
    candidate: dict[str, Any] = Field(description="GeoJSON of the candidate's grids")
    today: dict[str, Any] = Field(description="GeoJSON of today's grids in the same area")

    @classmethod
    def of(cls, report: SimulationReport) -> SimulationAnswer:
        """From :func:`api.services.redivision.simulate_layout`."""
        m = report.model
        held = m.held_out
        model = ModelOut(
            coefficients=[
                CoefficientOut(**{k: json_value(v) for k, v in vars(c).items()})
                for c in m.coefficients
            ],
            n=m.n,
            on_time=m.on_time,
            log_likelihood=m.log_likelihood,
            pseudo_r2=m.pseudo_r2,
            held_out=None
            if held is None
            else HeldOutOut(**{**vars(held), "split_at": held.split_at.isoformat()}),
        )
        cats = [c for c in report.grids.columns if c.startswith("cat_")]
        grids = []
        for row in report.grids.to_dict(orient="records"):
            plain = {k: json_value(v) for k, v in row.items() if k not in cats}
            plain["categories"] = {c[4:]: int(row[c]) for c in cats if row[c]}
            grids.append(GridRow(**plain))
        workers = []
        measures = ("grids", "households", "vulnerable", "incidents", "due", "walk_mean_min")
        measures += ("on_time_expected", "open_load_mean")
        for row in report.workers.to_dict(orient="records"):
            workers.append(
                WorkerRow(
                    worker_id=int(row["worker_id"]),
                    today={k: json_value(row.get(f"{k}_today")) for k in measures},
                    candidate={k: json_value(row.get(f"{k}_candidate")) for k in measures},
                    change=row["change"],
                )
            )
        return cls(
            source=report.source,
            start=report.start.isoformat(),
            end=report.end.isoformat(),
            walk_basis=report.walk_basis,
            cases=report.cases,
            due=report.due,
            model=model,
            grids=grids,
            workers=workers,
            candidate=feature_collection(_plain(report.candidate), precision=1e-7),
            today=feature_collection(_plain(report.today), precision=1e-7),
        )


def _plain(frame: Any) -> Any:
    out = frame.copy()
    out["worker_id"] = [None if pd.isna(w) else int(w) for w in out["worker_id"]]
    return out
