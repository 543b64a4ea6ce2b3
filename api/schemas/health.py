"""What the health route answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ReplicaHealth(BaseModel):
    """The streaming replica's lag and where the reads that tolerate lag went."""

    model_config = ConfigDict(from_attributes=True)

    lag_bytes: int | None
    replica_reads: int
    database_reads: int
    failures: int


class Health(BaseModel):
    """The answer of a healthy service."""

    model_config = ConfigDict(from_attributes=True)

    status: str
    postgresql: str
    postgis: str
    schema_revision: str | None
    #: only with ``WANGGE_DATABASE_REPLICA_URL`` set
    replica: ReplicaHealth | None = None
