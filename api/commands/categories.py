"""``wangge categories …``: what a grid worker's 反馈 needs, per incident category."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.commands.common import console, fail, ready_engine

categories_app = typer.Typer(
    help="Incident categories (事件分类): the proof a worker's 反馈 needs.", no_args_is_help=True
)


@categories_app.command("proof")
def proof(
    code: Annotated[str, typer.Argument(help="category code, e.g. 30202")],
    photo: Annotated[
        bool | None, typer.Option("--photo/--no-photo", help="a photo of the case is needed")
    ] = None,
    checkin: Annotated[
        bool | None,
        typer.Option("--checkin/--no-checkin", help="an accepted check-in on site is needed"),
    ] = None,
) -> None:
    """Set (or, with no option, show) what a category's 反馈 needs besides the note."""
    from api.services.worker_field import set_proof_rule
    from gis.errors import WanggeError

    try:
        rule = set_proof_rule(ready_engine(), code, photo=photo, checkin=checkin)
    except WanggeError as exc:
        fail(str(exc))
    table = Table(title=f"{rule.code} {rule.name}: 反馈 needs")
    for name in ("note", "photo", "check-in"):
        table.add_column(name)
    table.add_row("yes", "yes" if rule.photo else "no", "yes" if rule.checkin else "no")
    console.print(table)
