"""Typed dependencies, so route signatures read as domain code."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from api.services.impact import Impact, ImpactOf, compute_impact
from api.services.planning import PlanningData
from api.state import AppState
from gis.settings import Settings


def get_state(request: Request) -> AppState:
    """The application's state, made in its lifespan (:mod:`api.state`)."""
    return request.app.state.wangge


def get_engine(request: Request) -> Engine:
    """The engine created in the app's lifespan."""
    return get_state(request).engine


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return get_state(request).settings


StateDep = Annotated[AppState, Depends(get_state)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def planning_data(state: StateDep) -> PlanningData:
    """What a planning answer reads: the engine, the walking network now, the H3 resolution."""
    return PlanningData(state.engine, state.walking_now().network, state.settings.h3_resolution)


PlanningDataDep = Annotated[PlanningData, Depends(planning_data)]


def get_impacts(request: Request) -> ImpactOf:
    """The impact of a hazard by id, kept in the state while the data stand still."""
    state = get_state(request)

    def impact(hazard_id: int) -> Impact:
        return state.impacts.get(
            state.engine,
            hazard_id,
            lambda: compute_impact(state.engine, hazard_id, state.walking_now().network),
        )

    return impact


ImpactsDep = Annotated[ImpactOf, Depends(get_impacts)]
