"""The walking network and the shelters read from the database: the one way they are built."""

from __future__ import annotations

from sqlalchemy import Engine

from analysis.walking import Walking
from api.services.nearby import SERVICE_KINDS
from gis.settings import Settings
from gis.store import neighbourhood_store, queries


def load_walking(engine: Engine, settings: Settings, version: tuple = ()) -> Walking:
    """The stored road network (None when no road is loaded) and every shelter.

    The application's state keeps one per data version; a command reads one per run.
    """
    nodes, edges = queries.road_network_frames(engine)
    return Walking.build(
        nodes,
        edges,
        queries.shelters(engine),
        walk_speed_mps=settings.walk_speed_mps,
        version=version,
        # the nearby page's services, snapped once per data version (facility is one of
        # the tables the application's cache of this follows)
        facilities=neighbourhood_store.service_facilities(engine, tuple(SERVICE_KINDS)),
    )
