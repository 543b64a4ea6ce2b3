"""The road network: load one from OpenStreetMap, and build the stored one for routing.

Loading a network is this one use case, whatever the door (``wangge network import``,
an office's OSM import): the stored network is replaced in one transaction, and the
answer says how much of it routing will use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from analysis.network import Dropped, RoadNetwork
from analysis.walking import require_network
from etl.load import LoadReport
from etl.network_import import import_osm_network
from etl.osm import read_osm_roads
from gis.store import queries
from gis.store.network_store import Box
from gis.store.register_store import OFFICE_MARGIN_M

#: Roads taken around an office's area when its extract is imported into it, metres: as
#: far as its records may lie outside it; beyond, the next office's extract has the roads.
AREA_ROAD_MARGIN_M = OFFICE_MARGIN_M


@dataclass(frozen=True)
class NetworkLoaded:
    """What a network load stored, and what routing uses of it.

    Attributes
    ----------
    nodes, edges : int
        Rows stored in ``road_node`` and ``road_edge``.
    routing_nodes : int
        Nodes of the largest connected component, the part routes run on.
    dropped : Dropped
        Nodes and edges outside it (islands, private ways cut off), kept but not routed on.
    """

    nodes: int
    edges: int
    routing_nodes: int
    dropped: Dropped


def stored_network(engine: Engine, *, walk_speed_mps: float | None = None) -> RoadNetwork | None:
    """The stored road network built for routing, or None when none is loaded.

    Pass the result to :func:`analysis.walking.require_network` where a network is
    needed: it answers "no road network" the one way.

    Parameters
    ----------
    engine
        The database.
    walk_speed_mps
        Walking speed, m/s; default each edge's stored speed (see
        :meth:`analysis.network.RoadNetwork.from_frames`).
    """
    nodes, edges = queries.road_network_frames(engine)
    if edges.empty:
        return None
    return RoadNetwork.from_frames(nodes, edges, walk_speed_mps=walk_speed_mps)


def load_osm_network(
    engine: Engine,
    path: Path,
    *,
    region: Box | None = None,
    dry_run: bool = False,
    progress: bool = True,
) -> NetworkLoaded:
    """Replace the stored road network by the highways of an ``.osm`` / ``.osm.pbf`` file.

    All or nothing: on an error the stored network is left as it was.  With ``region``
    (an office's area, :data:`AREA_ROAD_MARGIN_M` around it) only the roads there are
    replaced (:func:`etl.network_import.import_osm_network`).  ``dry_run`` changes
    nothing, and its routing figures are those of the file's own roads.

    Raises
    ------
    etl.osm.OsmError
        When the file holds no usable highway.
    gis.errors.ValidationError, etl.load.LoadError
        When the roads are refused (every problem listed); nothing is stored.
    """
    report = import_osm_network(engine, path, region=region, dry_run=dry_run, progress=progress)
    return network_loaded(engine, report, path, dry_run=dry_run)


def network_loaded(
    engine: Engine, report: LoadReport, path: Path, *, dry_run: bool
) -> NetworkLoaded:
    """What a committed (or dry) road load of ``path`` stored and what routing uses of it.

    After a dry run the routing figures are those of the file's own roads.
    """
    if dry_run:
        nodes, edges = read_osm_roads(path)
        network = RoadNetwork.from_frames(nodes, edges)
    else:
        network = require_network(stored_network(engine))
    return NetworkLoaded(
        nodes=report.rows.get("road_node", 0),
        edges=report.rows.get("road_edge", 0),
        routing_nodes=network.n_nodes,
        dropped=network.dropped,
    )
