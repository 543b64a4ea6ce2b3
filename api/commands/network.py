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
    from api.services.network import load_osm_network
    from etl.load import LoadError
    from etl.osm import OsmError
    from gis.errors import ValidationError

    if not path.exists():
        fail(f"{path}: no such file")
    engine = ready_engine()
    try:
        loaded = load_osm_network(engine, path)
    except (OsmError, ValidationError, LoadError) as exc:
        fail(f"{exc}\nThe stored network was left as it was.")
    say(f"[network] {loaded.nodes:,} nodes, {loaded.edges:,} edges loaded from {path}")
    say(
        f"[network] walking network: {loaded.routing_nodes:,} nodes in the largest connected "
        f"component; {loaded.dropped.nodes:,} nodes and {loaded.dropped.edges:,} edges outside "
        "it are not used for routing (islands, private ways cut off)"
    )
