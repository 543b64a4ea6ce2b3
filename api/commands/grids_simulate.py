"""``wangge grids simulate``: a candidate layout replayed beside today's grids (网格调整模拟)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.commands.common import fail, ready_engine, say

if TYPE_CHECKING:
    from api.services.redivision import SimulationReport

out = Console()


def simulate(
    layout: Annotated[
        Path | None, typer.Option("--layout", help="candidate layout: a GeoJSON file of grids")
    ] = None,
    design: Annotated[
        bool, typer.Option("--design", help="simulate the designer's proposal for --community")
    ] = False,
    community: Annotated[
        str | None, typer.Option("--community", help="12-digit community code (with --design)")
    ] = None,
    months: Annotated[int, typer.Option("--months", help="months of history replayed")] = 6,
    as_user: Annotated[str, typer.Option("--as", help="street staff or admin")] = "admin",
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="write the per-grid and per-worker tables (two CSV files)"),
    ] = None,
) -> None:
    """Replay the last months onto a candidate layout beside today's: per grid and worker.

    Households, vulnerable residents, cases, open load, walks and the expected 按期结案率
    from the office's own on-time model, whose fit and check on the next period are shown.
    """
    from api.services.accounts import principal_named
    from api.services.redivision import SimulateQuery, simulate_layout
    from api.services.walking import load_walking
    from gis.settings import get_settings

    if (layout is None) == (not design):
        fail("give one candidate: --layout FILE.geojson or --design --community CODE")
    data = None
    if layout is not None:
        try:
            data = json.loads(layout.read_text(encoding="utf-8"))
        except FileNotFoundError:
            fail(f"{layout} does not exist")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            fail(f"{layout} is not GeoJSON: {exc}")
    engine = ready_engine()
    settings = get_settings()
    user = principal_named(engine, as_user)
    network = load_walking(engine, settings).network
    report = simulate_layout(
        engine, settings, network, user, SimulateQuery(data, design, community, months)
    )
    _print_model(report)
    _print_grids(report)
    _print_workers(report)
    if out_file is not None:
        grids = out_file.with_name(f"{out_file.stem}.grids.csv")
        workers = out_file.with_name(f"{out_file.stem}.workers.csv")
        report.grids.to_csv(grids, index=False)
        report.workers.to_csv(workers, index=False)
        say(f"wrote {grids} and {workers}")


def _print_model(report: SimulationReport) -> None:
    m = report.model
    table = Table(
        title=f"on-time model: {m.n:,} due cases {report.start:%Y-%m-%d} – {report.end:%Y-%m-%d}"
        f" (pseudo-R² {m.pseudo_r2:.3f}; walks on the {report.walk_basis})"
    )
    for column in ("term", "estimate", "std. error", "z", "p"):
        table.add_column(column, justify="right")
    for c in m.coefficients:
        table.add_row(
            c.name, f"{c.estimate:+.4f}", f"{c.std_error:.4f}", f"{c.z:.1f}", f"{c.p_value:.2g}"
        )
    out.print(table)
    h = m.held_out
    if h is None:
        say("held-out check: too few due cases in one of the two periods")
    else:
        auc = "n/a" if h.auc is None else f"{h.auc:.3f}"
        say(
            f"held-out check: fitted before {h.split_at:%Y-%m-%d} ({h.n_train:,} cases), "
            f"predicting the {h.n_test:,} after: Brier {h.brier:.4f}, log loss {h.log_loss:.4f}, "
            f"AUC {auc}, on time observed {h.observed_rate:.1%} vs predicted {h.predicted_rate:.1%}"
        )


def _print_grids(report: SimulationReport) -> None:
    table = Table(title=f"per grid ({report.source}; {report.cases:,} cases, {report.due:,} due)")
    columns = (
        "layout",
        "grid",
        "worker",
        "households",
        "vulnerable",
        "cases",
        "walk min",
        "p90 min",
        "on time (model)",
        "on time (real)",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("layout", "grid") else "right")

    def pct(v: float) -> str:
        return "" if v != v else f"{v:.0%}"

    def num(v: float, fmt: str) -> str:
        return "" if v != v else format(v, fmt)

    for r in report.grids.itertuples(index=False):
        table.add_row(
            r.layout,
            r.key,
            "" if r.worker_id is None or r.worker_id != r.worker_id else str(r.worker_id),
            f"{r.households:.0f}",
            f"{r.vulnerable:.0f}",
            str(r.incidents),
            num(r.walk_mean_min, ".1f"),
            num(r.walk_p90_min, ".1f"),
            pct(r.on_time_expected),
            pct(r.on_time_observed),
        )
    out.print(table)


def _print_workers(report: SimulationReport) -> None:
    table = Table(title="what would change for each worker")
    table.add_column("worker", justify="right")
    table.add_column("change")
    for r in report.workers.itertuples(index=False):
        table.add_row(str(r.worker_id), r.change)
    out.print(table)
