"""``opsledger rollback``: rollback runbooks per service, and the canary verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from opsledger.cli.common import (
    EXIT_FAILED,
    JsonOpt,
    NowOpt,
    StrictOpt,
    WorkspaceArg,
    console,
    escape,
    handle_errors,
    print_json,
    resolve_now,
    rich_table,
)
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.core.workspace import open_workspace

app = typer.Typer(help="Rollback runbooks and canary comparison.", no_args_is_help=True)


@app.command()
@handle_errors
def runbooks(
    workspace: WorkspaceArg, json: JsonOpt = False, now: NowOpt = None, strict: StrictOpt = False
) -> None:
    """Write a rollback runbook per service under the p09 evidence folder."""
    from opsledger.quality.service import write_runbooks

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    if strict:  # every input is checked before a runbook is written, as review does
        ctx.inputs.require_clean(read_all=True)
    with writing(ctx.workspace, "rollback runbooks"):
        written = write_runbooks(ctx)
    if json:
        print_json({
            "written": [str(p) for p in written.paths],
            "services": [{"service": r.service.name, "kind": r.service.kind.value,
                          "kind_from": r.service.kind_source, "checks": len(r.checks)}
                         for r in written.runbooks],
        })
        return
    table = rich_table("Service", "Kind", "Kind from", "Checks")
    for runbook in written.runbooks:
        s = runbook.service
        table.add_row(escape(s.name), s.kind.value, escape(s.kind_source), str(len(runbook.checks)))
    console.print(table)
    console.print(f"Wrote {len(written.runbooks)} runbook(s) and {escape(str(written.index))}")


@app.command()
@handle_errors
def canary(
    workspace: WorkspaceArg,
    baseline: Annotated[Path, typer.Option("--baseline", help="Baseline run (perf JSON).")],
    canary_file: Annotated[Path, typer.Option("--canary", help="Canary run (perf JSON).")],
    service: Annotated[str | None, typer.Option(
        "--service", help="Also hold the canary to this service's SLO budget.")] = None,
    alpha: Annotated[float, typer.Option(min=0.0001, max=0.5,
                                         help="Significance level of the error test.")] = 0.05,
    min_requests: Annotated[int, typer.Option(min=1, help="Canary requests needed.")] = 1000,
    json: JsonOpt = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
) -> None:
    """Compare a canary with its baseline; exit 1 unless the verdict is to proceed.

    Each file is a perf report (native JSON or k6 summary). From the baseline file the
    baseline run is used when it has one, from the canary file the current run; so one
    native file with both runs can be passed as both.
    """
    from opsledger.quality.service import CanaryPolicy, Decision, canary_check

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    policy = CanaryPolicy(alpha=alpha, min_requests=min_requests)
    check = canary_check(ctx, baseline, canary_file, service, policy, strict)
    report = check.report
    if json:
        print_json(check.document)
    else:
        colour = {Decision.PROCEED: "green", Decision.ROLL_BACK: "red",
                  Decision.INCONCLUSIVE: "yellow"}[report.decision]
        console.print(f"[{colour}]{report.decision.value}[/]")
        for reason in report.reasons:
            console.print(f"- {escape(reason)}")
    if report.decision is not Decision.PROCEED:
        raise typer.Exit(EXIT_FAILED)


def register(root: typer.Typer) -> None:
    """Add the ``rollback`` commands to the root command."""
    root.add_typer(app, name="rollback")
