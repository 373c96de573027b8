"""The ``opsledger`` command."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from opsledger.cli.common import (
    EXIT_BAD_INPUT,
    JsonOpt,
    NowOpt,
    PrometheusOpt,
    StrictOpt,
    WorkspaceArg,
    console,
    err_console,
    escape,
    handle_errors,
    print_json,
    progress,
    resolve_now,
)
from opsledger.cli.slo import EngineOpt
from opsledger.core.errors import InputError
from opsledger.core.inputs import Inputs
from opsledger.core.lock import writing
from opsledger.core.problems import Level
from opsledger.core.workspace import open_workspace
from opsledger.demo.world import Size
from opsledger.version import __version__

app = typer.Typer(
    name="opsledger",
    help="Operational records in; SLO, incident, support and maintenance decisions out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        console.print(f"opsledger {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Operational records in; SLO, incident, support and maintenance decisions out."""


@app.command()
@handle_errors
def init(
    workspace: WorkspaceArg,
    force: Annotated[bool, typer.Option("--force", help="Overwrite opsledger.yaml.")] = False,
    json: JsonOpt = False,
) -> None:
    """Scaffold an empty workspace: commented config and the input folders."""
    from opsledger.protocols.service import init_workspace

    created = init_workspace(workspace, force=force)
    if json:
        print_json({"workspace": str(workspace), "created": [str(p) for p in created]})
        return
    console.print(f"Created workspace {escape(str(workspace))} ({len(created)} paths).")
    console.print(f"Next: edit {escape(str(workspace / 'opsledger.yaml'))}, add exports, then "
                  f"run 'opsledger validate {escape(str(workspace))}'.")


@app.command()
@handle_errors
def demo(
    workspace: WorkspaceArg,
    size: Annotated[Size, typer.Option("--size", help="How big a workspace.")] = Size.MEDIUM,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes).")] = 7,
    now: NowOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty folder.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Generate a realistic example workspace."""
    from opsledger.demo.generate import generate_demo
    from opsledger.demo.world import demo_now

    anchor = demo_now(resolve_now(now).date()) if now else None
    with progress("generating demo workspace", quiet=json) as stage:
        result = generate_demo(
            workspace, size, seed, anchor, force, progress=stage
        )
    if json:
        print_json(
            {
                "workspace": str(workspace),
                "size": size.value,
                "seed": seed,
                "now": result.world.now.isoformat(),
                "files": [str(p.relative_to(workspace)) for p in result.files],
            }
        )
        return
    console.print(
        f"Demo workspace {escape(str(workspace))}: {len(result.files)} files, "
        f"{len(result.world.services)} services, {len(result.world.incidents)} incidents."
    )


@app.command()
@handle_errors
def validate(workspace: WorkspaceArg, strict: StrictOpt = False, json: JsonOpt = False) -> None:
    """List what the workspace holds: found, missing, malformed. Exit 2 if malformed."""
    ws = open_workspace(workspace, tolerant=True)
    inputs = Inputs(ws)
    inventory = inputs.inventory()
    malformed = any(s.malformed for s in inventory)
    quarantined = any(s.quarantined for s in inventory)
    if json:
        print_json(
            [
                {
                    "input": s.key.value,
                    "path": str(s.path),
                    "state": s.state,
                    "records": s.records,
                    "format": s.detected_format,
                    "problems": [p.to_json() for p in s.problems],
                }
                for s in inventory
            ]
        )
    else:
        table = Table(title="Workspace inputs")
        table.add_column("input", no_wrap=True)
        table.add_column("state", no_wrap=True)
        for name in ("records", "format", "problems"):
            table.add_column(name, justify="right" if name != "format" else "left")
        for s in inventory:
            style = {"ok": "green", "missing": "yellow", "malformed": "red"}.get(s.state, "yellow")
            table.add_row(
                s.key.value,
                f"[{style}]{s.state}[/]",
                str(s.records) if s.present else "",
                s.detected_format,
                str(len(s.problems)) if s.problems else "",
            )
        console.print(table)
        for s in inventory:
            for problem in s.problems:
                colour = "red" if problem.level is Level.FATAL else "yellow"
                err_console.print(f"[{colour}]{problem.level.value}:[/] {escape(str(problem))}")
    if malformed or (strict and quarantined):
        raise typer.Exit(EXIT_BAD_INPUT)


@app.command()
@handle_errors
def review(
    workspace: WorkspaceArg,
    now: NowOpt = None,
    month: Annotated[
        str | None,
        typer.Option("--month", help="Review a past month (YYYY-MM); replaces its history."),
    ] = None,
    strict: StrictOpt = False,
    engine: EngineOpt = None,
    prometheus: PrometheusOpt = None,
    json: JsonOpt = False,
) -> None:
    """The main job: read everything, analyse, write the monthly report."""
    from opsledger.engines.choice import with_engine
    from opsledger.review.service import review_instant, run_review

    ws = open_workspace(workspace)
    if engine is not None:
        ws = with_engine(ws, engine)
    if month and now:
        raise InputError("--month and --now both set the review time; give one")
    when = review_instant(month, resolve_now(None)) if month else resolve_now(now)
    with writing(ws, "review"), progress("reviewing", quiet=json) as stage:
        result = run_review(ws, when, strict, progress=stage,
                            prometheus_url=prometheus)
    if json:
        print_json(
            {
                "outputs": [str(p) for p in result.outputs],
                "sections": [
                    {"key": s.key, "status": s.status.value, "data": s.data}
                    for s in result.sections
                ],
            }
        )
        return
    table = Table("section", "status", "summary", title="Review")
    for s in result.sections:
        table.add_row(escape(s.title), s.status.value, escape(str(s.data.get("headline", ""))))
    console.print(table)
    console.print("Reports:")
    for path in result.outputs:
        console.print(f"  {escape(str(path))}")


def _register_subcommands() -> None:
    from opsledger.cli import (
        capacity,
        cost,
        experiment,
        forecast,
        incidents,
        patch,
        protocols,
        quality,
        rollback,
        slo,
    )

    protocols.register(app)
    app.command(name="capacity")(capacity.capacity)
    app.command(name="cost")(cost.cost)
    app.add_typer(experiment.app, name="experiment")
    app.add_typer(forecast.app, name="forecast")
    app.add_typer(incidents.app, name="incidents")
    app.add_typer(patch.app, name="patch")
    app.add_typer(quality.app, name="quality")
    app.add_typer(rollback.app, name="rollback")
    app.add_typer(slo.app, name="slo")


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
