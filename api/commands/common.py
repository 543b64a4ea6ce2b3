"""What every command needs: a ready database, and errors printed the same way."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine

from gis.db import cluster
from gis.settings import get_settings

console = Console(stderr=True)


def say(message: str) -> None:
    """Print a progress line to stderr, as it is (no rich markup)."""
    console.print(message, markup=False, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error to stderr and leave with a non-zero status."""
    console.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


def ready_engine(migrate_to: str | None = "head") -> Engine:
    """Ensure a server, the database and PostGIS; migrate to ``migrate_to``; the engine."""
    from gis.db.engine import get_engine
    from gis.db.migrate import upgrade

    try:
        url = cluster.ensure(get_settings())
    except cluster.DatabaseUnavailable as exc:
        fail(str(exc))
    engine = get_engine(url=url)
    if migrate_to is not None:
        upgrade(engine, migrate_to)
    return engine
