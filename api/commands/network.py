"""``wangge network import``: replace the road network by an OpenStreetMap file's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.commands.common import fail, ready_engine, say


def import_command(
    path: Annotated[Path, typer.Argument(help="OpenStreetMap .osm or .osm.pbf file")],
) -> None:
    """Replace the stored road network by the highways of an OpenStreetMap file."""
    from analysis.network import RoadNetwork
    from etl.load import LoadError
    from etl.network_import import import_osm_network
    from etl.osm import OsmError
    from gis.errors import ValidationError
    from gis.store import queries

    if not path.exists():
        fail(f"{path}: no such file")
    engine = ready_engine()
    try:
        report = import_osm_network(engine, path)
    except (OsmError, ValidationError, LoadError) as exc:
        fail(f"{exc}\nThe stored network was left as it was.")
    say(
        f"[network] {report.rows.get('road_node', 0):,} nodes, "
        f"{report.rows.get('road_edge', 0):,} edges loaded from {path}"
    )
    network = RoadNetwork.from_frames(*queries.road_network_frames(engine))
    dropped = network.dropped
    say(
        f"[network] walking network: {network.n_nodes:,} nodes in the largest connected "
        f"component; {dropped.nodes:,} nodes and {dropped.edges:,} edges outside it are not "
        "used for routing (islands, private ways cut off)"
    )
