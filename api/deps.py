"""Typed dependencies, so route signatures read as domain code."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from gis.settings import Settings


def get_engine(request: Request) -> Engine:
    """The engine created in the app's lifespan."""
    return request.app.state.engine


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
