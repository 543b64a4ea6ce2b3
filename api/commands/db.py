"""``wangge db …``: find or start the database server, migrate the schema, stop a private one."""

from __future__ import annotations

import typer

from api.commands.common import fail, ready_engine, say
from gis.db import cluster
from gis.settings import get_settings

db_app = typer.Typer(help="The database: find or start it, migrate it.", no_args_is_help=True)


@db_app.command("ensure")
def db_ensure() -> None:
    """Make sure a PostgreSQL server with PostGIS answers; print its URL."""
    try:
        url = cluster.ensure(get_settings())
    except cluster.DatabaseUnavailable as exc:
        fail(str(exc))
    say(f"[db] using {cluster.display_url(url)}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Create or migrate the schema (Alembic) up to a revision."""
    from gis.db.migrate import current

    engine = ready_engine(migrate_to=revision)
    say(f"[db] schema at revision {current(engine)}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target, e.g. 'base'")) -> None:
    """Take the schema back to a revision ('base' drops every table)."""
    from gis.db.migrate import current, downgrade

    engine = ready_engine(migrate_to=None)
    downgrade(engine, revision)
    say(f"[db] schema at revision {current(engine)}")


@db_app.command("stop")
def db_stop() -> None:
    """Stop the private cluster, if Wangge started one."""
    stopped = cluster.stop_private_cluster(get_settings())
    say("[db] private cluster stopped" if stopped else "[db] no private cluster ran")


@db_app.command("url")
def db_url() -> None:
    """Print the database URL in use (password masked)."""
    typer.echo(cluster.display_url(cluster.resolve_url(get_settings())))
