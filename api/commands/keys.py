"""``wangge keys``: the data keys that seal ID numbers, phones and reporters' contacts."""

from __future__ import annotations

from typing import Annotated

import typer

from api.commands.common import console, ready_engine, say

keys_app = typer.Typer(
    help="Data keys: make one, see what is under an old key, re-seal (rotate).",
    no_args_is_help=True,
)


@keys_app.command("new")
def new_command() -> None:
    """Print a new random key (base64), for WANGGE_DATA_KEY."""
    from gis import crypt

    print(crypt.new_key())


@keys_app.command("status")
def status_command() -> None:
    """The current key's id and the rows still sealed under another key."""
    from api.services import keys
    from gis import crypt

    engine = ready_engine()
    say(f"current data key {crypt.keyring().kid.hex()}")
    for table, n in keys.stale(engine).items():
        say(f"{table}: {n:,} rows under an old key")


@keys_app.command("rotate")
def rotate_command(
    batch: Annotated[
        int, typer.Option(min=1, max=100_000, help="Rows re-sealed per transaction.")
    ] = 5000,
) -> None:
    """Re-seal every value under an old key (WANGGE_DATA_KEYS_OLD) with WANGGE_DATA_KEY."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from api.services import keys

    engine = ready_engine()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
    ) as bar:
        tasks: dict[str, int] = {}

        def step(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done, total=total)

        result = keys.rotate(engine, batch=batch, progress=step)
    for table, n in result.resealed.items():
        say(f"{table}: {n:,} rows re-sealed")
    say(f"every value is under data key {result.key_id}: the old keys may be dropped")
