"""The ``opsledger`` command."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Annotated

import typer

from opsledger.cli.common import (
    EXIT_BAD_INPUT,
    EngineOpt,
    JsonOpt,
    NowOpt,
    PrometheusOpt,
    ServiceOpt,
    StrictOpt,
    TeamOpt,
    WorkspaceArg,
    console,
    err_console,
    escape,
    handle_errors,
    print_json,
    progress,
    resolve_now,
    rich_table,
)
from opsledger.cli.loading import SETTINGS, RootGroup
from opsledger.core.inputs import Inputs
from opsledger.core.lock import writing
from opsledger.core.problems import Level
from opsledger.core.workspace import InputKey, open_workspace, utilisation_folder
from opsledger.demo.sizes import Size
from opsledger.version import __version__

if TYPE_CHECKING:
    from opsledger.core.workspace import Workspace
    from opsledger.review.service import ReviewResult

app = typer.Typer(
    name="opsledger",
    help="Operational records in; SLO, incident, support and maintenance decisions out.",
    no_args_is_help=True,
    cls=RootGroup,
    **SETTINGS,
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
    anchor = resolve_now(now).replace(second=0, microsecond=0) if now else None
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
    from opsledger.protocols.service import ProcedureId, not_applicable_declarations

    ws = open_workspace(workspace, tolerant=True)
    inputs = Inputs(ws)
    inventory = inputs.inventory()
    malformed = any(s.malformed for s in inventory)
    quarantined = any(s.quarantined for s in inventory)
    # Prerequisites a stakeholder declared not applicable (opsledger not-applicable).
    declared = not_applicable_declarations(ws, ProcedureId.P18)
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
                    "not_applicable": (d.to_json() if (d := declared.get(s.key.value))
                                       and not s.present else None),
                }
                for s in inventory
            ]
        )
    else:
        table = rich_table(title="Workspace inputs")
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
        if declared.breaks:
            err_console.print(f"[red]tampered:[/] {escape(str(declared.log))} fails verification; "
                              "its not-applicable declarations are ignored")
        for s in inventory:
            if not s.present:
                where = s.path.relative_to(ws.root) if s.path.is_relative_to(ws.root) else s.path
                found = declared.get(s.key.value)
                note = f"; {found.describe()}" if found else ""
                err_console.print(f"[yellow]missing:[/] {escape(s.key.value)}: expected at "
                                  f"{escape(str(where))}{escape(note)}")
        for s in inventory:
            for problem in s.problems:
                colour = "red" if problem.level is Level.FATAL else "yellow"
                err_console.print(f"[{colour}]{problem.level.value}:[/] {escape(str(problem))}")
    if malformed or (strict and quarantined):
        raise typer.Exit(EXIT_BAD_INPUT)


def _background_work_ahead(ws: Workspace) -> bool:
    """Return whether a review of ``ws`` has work for the background workers: forecasts of
    tickets or of utilisation, or experiments to analyse."""
    return (ws.path(InputKey.TICKETS).is_file()
            or utilisation_folder(ws.path(InputKey.TELEMETRY)).is_dir()
            or ws.path(InputKey.EXPERIMENTS).is_dir())


@app.command()
@handle_errors
def review(
    workspace: WorkspaceArg,
    now: NowOpt = None,
    month: Annotated[
        str | None,
        typer.Option("--month", help="The month to review (YYYY-MM); default: the last "
                     "complete month."),
    ] = None,
    record_history: Annotated[
        bool | None,
        typer.Option("--record-history/--no-record-history",
                     help="Record the reviewed month's KPIs in the history (default: only "
                     "when the clock is not pinned by --now, --month or OPSLEDGER_NOW)."),
    ] = None,
    strict: StrictOpt = False,
    engine: EngineOpt = None,
    prometheus: PrometheusOpt = None,
    team: TeamOpt = None,
    service: ServiceOpt = None,
    by_team: Annotated[
        bool,
        typer.Option("--by-team", help="Also review each team's services on their own, and "
                     "write a scorecard of every team side by side (reports/ops/teams/)."),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """The main job: review the last complete month (or --month), write the reports."""
    import os

    from opsledger.forecasting import background

    ws = open_workspace(workspace)
    # The workers import their libraries while this process imports and reads.
    with background.ahead(_background_work_ahead(ws)):
        from opsledger.engines.choice import with_engine
        from opsledger.review.service import run_review

        if engine is not None:
            ws = with_engine(ws, engine)
        pinned = bool(now or os.environ.get("OPSLEDGER_NOW") or month)
        scoped = team is not None or service is not None  # a view is never recorded
        record = (not pinned and not scoped) if record_history is None else record_history
        with writing(ws, "review"), progress("reviewing", quiet=json) as stage:
            result = run_review(ws, resolve_now(now), strict, progress=stage,
                                prometheus_url=prometheus, month=month,
                                record_history=record, team=team, service=service,
                                by_team=by_team)
    if json:
        document = {
            "month": result.month,
            "history_recorded": result.history_recorded,
            "outputs": [str(p) for p in result.outputs],
            "sections": [
                {"key": s.key, "status": s.status.value, "data": s.data}
                for s in result.sections
            ],
        }
        if not result.scope.whole:
            document["scope"] = {**result.scope.to_json(), "label": result.scope.label}
        if result.scorecard is not None:
            document["scorecard"] = result.scorecard.to_json()
        print_json(document)
        return
    title = f"Review of {result.month}"
    if not result.scope.whole:
        title += f" — {result.scope.label}"
    table = rich_table("section", "status", "summary", title=escape(title))
    for s in result.sections:
        table.add_row(escape(s.title), s.status.value,
                      escape(s.headline or str(s.data.get("headline", ""))))
    console.print(table)
    _print_scorecard(result)
    if not result.scope.whole:
        console.print(f"KPIs of {escape(result.scope.label)} not recorded in the history (it "
                      "holds the whole workspace's).")
    else:
        console.print("KPIs recorded in the history." if result.history_recorded else
                      "KPIs not recorded in the history (pinned clock; --record-history "
                      "records them).")
    console.print("Reports:")
    for path in result.outputs:
        console.print(f"  {escape(str(path))}")


def _print_scorecard(result: ReviewResult) -> None:
    """Print every team side by side, the most in need of attention first."""
    from opsledger.render.sections import STATUS_ICONS, status_label

    if result.scorecard is None:
        return
    cards = result.scorecard.cards
    titles = [f.title for f in cards[0].figures] if cards else []
    table = rich_table("team", "status", *titles, title=f"Team scorecard of {result.month}")
    for card in cards:
        table.add_row(escape(card.team), status_label(card.status),
                      *(escape(f"{STATUS_ICONS[f.status]} {f.text}") for f in card.figures))
    console.print(table)


def main() -> None:
    try:
        app()
    finally:
        # What the command built is freed as the interpreter ends. Frozen, it is left out of
        # the collector's passes over every object then, which would take longer on a large
        # review than the review's last step.
        gc.freeze()


if __name__ == "__main__":
    main()
