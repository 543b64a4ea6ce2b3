"""``wangge evacuate``: the evacuation plan and each grid's list for its worker (ids, no names)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.commands.common import console, fail, ready_engine, say


def evacuate(
    out: Annotated[Path, typer.Option(help="the lists: .geojson (with routes) or .csv")],
    grid: Annotated[str | None, typer.Option(help="only this grid (15-digit code)")] = None,
    close: Annotated[
        list[int] | None, typer.Option(help="road_edge id closed (flooded, blocked); repeatable")
    ] = None,
    candidates: Annotated[int, typer.Option(min=1, help="nearest shelters per household")] = 10,
) -> None:
    """Plan where every household walks to (capacity, zones, special needs first).

    Hazard areas in force now are avoided: their roads are closed and the shelters
    inside them are not used.
    """
    import pandas as pd
    from rich.table import Table

    from analysis.hazard import KIND_NAMES
    from analysis.network import NetworkError
    from api.services.evacuation import plan_evacuation

    engine = ready_engine()
    routes = out.suffix.lower() != ".csv"
    try:
        plan = plan_evacuation(
            engine, grid=grid, closed_edges=close or (), candidates=candidates, routes=routes
        )
    except NetworkError as exc:
        fail(str(exc))
    if close:
        say(f"[evacuate] {len(close)} road segment(s) closed")
    for h in plan.hazards.itertuples():
        say(
            f"[evacuate] hazard {h.id} in force: {h.name} "
            f"({KIND_NAMES.get(h.kind, h.kind)}, severity {h.severity})"
        )
    lists = plan.lists
    if len(plan.hazards):
        say(
            f"[evacuate] {len(lists.shelters_inside)} shelter(s) inside the hazard area left "
            f"out {lists.shelters_inside.tolist()}, {len(lists.closed_edges)} road "
            "segment(s) meeting it closed"
        )
    table = plan.table
    if "help_resident_ids" in table:
        table["help_resident_ids"] = table["help_resident_ids"].map(
            lambda ids: ";".join(str(i) for i in ids)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    if not routes:
        pd.DataFrame(table.drop(columns="geometry", errors="ignore")).to_csv(out, index=False)
    else:
        table.to_file(out, driver="GeoJSON", RFC7946="YES")
    summary = Table(title="evacuation plan")
    summary.add_column("households", justify="right")
    summary.add_column("need help", justify="right")
    summary.add_column("unassigned people", justify="right")
    summary.add_column("fixed shelters < 15 % of zone", justify="right")
    summary.add_row(
        f"{len(table):,}",
        f"{int(table['needs_help'].sum()):,}",
        f"{lists.unassigned_population:,}",
        str(len(lists.gb51143_short)),
    )
    console.print(summary)
    say(f"[evacuate] {len(plan.grids)} grid list(s) written to {out}")
