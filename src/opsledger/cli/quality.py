"""``opsledger quality``: numeric quality gates on the metrics opsledger measures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from opsledger.cli.common import (
    EXIT_FAILED,
    JsonOpt,
    NowOpt,
    StrictOpt,
    WorkspaceArg,
    console,
    err_console,
    escape,
    handle_errors,
    print_json,
    resolve_now,
    rich_table,
)
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.render.sections import Status

if TYPE_CHECKING:
    from opsledger.quality.service import Scorecard

app = typer.Typer(help="Quality gates from gates_config.yaml.", no_args_is_help=True)

COLOURS = {Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red",
           Status.ERROR: "red", Status.SKIPPED: "dim"}


@app.command()
@handle_errors
def check(
    workspace: WorkspaceArg,
    junit: Annotated[Path | None, typer.Option("--junit", help="Also write JUnit XML here.")]
    = None,
    min_score: Annotated[float | None, typer.Option(
        "--min-score", min=0, max=1, help="Also fail when the weighted score is below this.")]
    = None,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Evaluate every gate; write the result as JSON (and JUnit); exit 1 when a gate that
    is not advisory fails."""
    from opsledger.quality.service import check_quality

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    result = check_quality(ctx, min_score, junit, strict)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning: {escape(str(warning))}[/]")
    if json:
        print_json(result.document)
    else:
        _print(result.scorecard, result.path, result.junit)
    if not result.scorecard.passed:
        raise typer.Exit(EXIT_FAILED)


def _print(scorecard: Scorecard, out: Path, junit: Path | None) -> None:
    table = rich_table()
    for header in ("Gate", "Metric", "Value", "Op", "Threshold", "Warn", "Weight", "Kind",
                   "Result"):
        table.add_column(header, overflow="fold")
    for e in scorecard.evaluations:
        gate = e.gate
        colour = COLOURS[e.status]
        table.add_row(
            escape(gate.name), escape(gate.metric),
            "n/a" if e.value is None else f"{e.value:.6g}", gate.operator.value,
            f"{gate.threshold:g}",
            "" if gate.warn_threshold is None else f"{gate.warn_threshold:g}",
            f"{gate.weight:g}", "advisory" if gate.advisory else "blocking",
            f"[{colour}]{e.status.value}[/]",
        )
    console.print(table)
    for e in scorecard.evaluations:
        if e.status is not Status.PASS:
            console.print(f"  {escape(e.gate.name)}: {escape(e.reason)}")
    score = "n/a" if scorecard.score is None else f"{scorecard.score:.3f}"
    console.print(f"Weighted score {score}")
    colour = "green" if scorecard.passed else "red"
    console.print(f"[{colour}]{escape(scorecard.verdict)}[/]")
    if scorecard.advisory_warning:
        console.print(f"[yellow]warning: {escape(scorecard.advisory_warning)}[/]")
    console.print(f"Wrote {escape(str(out))}" + (f", {escape(str(junit))}" if junit else ""))


def register(root: typer.Typer) -> None:
    """Add the ``quality`` commands to the root command."""
    root.add_typer(app, name="quality")
