"""What the health route answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Health(BaseModel):
    """The answer of a healthy service."""

    model_config = ConfigDict(from_attributes=True)

    status: str
    postgresql: str
    postgis: str
    schema_revision: str | None
