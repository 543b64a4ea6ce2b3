"""The ``wangge`` command line: the commands (each in ``api/commands/``) and ``main``."""

from __future__ import annotations

import typer
from rich.markup import escape

from api.commands.common import console
from gis.errors import InvalidInput

app = typer.Typer(
    help="Wangge 网格化管理: grid management for urban communities.",
    no_args_is_help=True,
    add_completion=False,
    # a crash's traceback must not print local variables: reports, names, phones, tokens
    pretty_exceptions_show_locals=False,
)
grids_app = typer.Typer(help="Grids (网格): import, export, check, design.", no_args_is_help=True)
areas_app = typer.Typer(
    help="Admin areas: districts, streets, communities, estates.", no_args_is_help=True
)
network_app = typer.Typer(help="The road network.", no_args_is_help=True)


def _register() -> None:
    """Commands that live in their own modules (api/commands/)."""
    from api.commands import (
        categories,
        db,
        district,
        evacuate,
        grids_check,
        grids_crosswalk,
        grids_design,
        grids_io,
        grids_simulate,
        hazard,
        incidents,
        keys,
        network,
        plan,
        relay,
        retention,
        serve,
        users,
    )

    app.add_typer(db.db_app, name="db")
    app.add_typer(grids_app, name="grids")
    app.add_typer(areas_app, name="areas")
    app.add_typer(network_app, name="network")
    app.command()(district.sample)
    app.command()(district.load)
    app.command()(district.demo)
    app.command("serve")(serve.serve_command)
    app.add_typer(relay.relay_app, name="relay")
    app.add_typer(retention.retention_app, name="retention")
    app.add_typer(retention.partitions_app, name="partitions")
    app.add_typer(users.users_app, name="users")
    app.add_typer(incidents.incidents_app, name="incidents")
    app.add_typer(categories.categories_app, name="categories")
    app.add_typer(keys.keys_app, name="keys")

    grids_app.command("import")(grids_io.import_command)
    grids_app.command("export")(grids_io.export_command)
    grids_app.command("check")(grids_check.check)
    grids_app.command("design")(grids_design.design)
    grids_app.command("crosswalk")(grids_crosswalk.crosswalk)
    grids_app.command("simulate")(grids_simulate.simulate)
    areas_app.command("import")(grids_io.import_areas_command)
    app.command("locate")(district.locate_command)
    network_app.command("import")(network.import_command)
    app.command("evacuate")(evacuate.evacuate)
    app.add_typer(plan.plan_app, name="plan")
    app.add_typer(hazard.hazard_app, name="hazard")
    app.add_typer(hazard.alert_app, name="alert")
    app.add_typer(hazard.report_app, name="report")
    from api.commands import registry

    app.command("import")(registry.import_command)
    app.command("template")(registry.template_command)
    app.command("export")(registry.export_command)


_register()


def main() -> None:
    """The ``wangge`` command: an error of ours ends as its message and a non-zero status.

    Every kind of error (:mod:`gis.errors`) already says what, where and how to fix it,
    so the operator sees that line, not a traceback; other failures keep theirs.
    """
    from pydantic import ValidationError

    from gis.errors import WanggeError

    try:
        app()
    except WanggeError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise SystemExit(2 if isinstance(exc, InvalidInput) else 1) from None
    except OSError as exc:  # a path that cannot be read or written, a service not answering
        console.print(f"[bold red]error:[/] {escape(_os_message(exc))}")
        raise SystemExit(2) from None
    except ValidationError as exc:  # the settings of the environment (WANGGE_…)
        console.print(
            f"[bold red]error:[/] a setting of the environment (WANGGE_…) is wrong: "
            f"{escape(str(exc))}"
        )
        raise SystemExit(2) from None


def _os_message(exc: OSError) -> str:
    """What the operating system refused, with the path, and where to look."""
    if exc.filename is None:
        return str(exc)
    path = exc.filename if exc.filename2 is None else f"{exc.filename} → {exc.filename2}"
    return (
        f"cannot use {path}: {exc.strerror or exc}. Check the path: its folder must exist "
        "and be a folder, a file must not be a folder, and you must be allowed to write there"
    )


if __name__ == "__main__":
    main()
