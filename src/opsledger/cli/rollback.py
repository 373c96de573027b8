"""``opsledger rollback``: rollback runbooks per service, and the canary verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from opsledger.cli.common import (
    EXIT_FAILED,
    JsonOpt,
    NowOpt,
    StrictOpt,
    WorkspaceArg,
    console,
    escape,
    fail_if_strict,
    handle_errors,
    print_json,
    resolve_now,
)
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_json, atomic_write_text, sha256_file
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.core.problems import Level
from opsledger.core.workspace import open_workspace
from opsledger.model.health import PerfReport, PerfRun
from opsledger.readers import perf

app = typer.Typer(help="Rollback runbooks and canary comparison.", no_args_is_help=True)

CANARY_FILES = ("canary.md", "canary.json")


@app.command()
@handle_errors
def runbooks(
    workspace: WorkspaceArg, json: JsonOpt = False, now: NowOpt = None, strict: StrictOpt = False
) -> None:
    """Write a rollback runbook per service under the p09 evidence folder."""
    from opsledger.quality.service import write_runbooks

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    if strict:  # every input is checked before a runbook is written, as review does
        ctx.inputs.inventory()
        fail_if_strict(strict, ctx.inputs.problems())
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
    table = Table("Service", "Kind", "Kind from", "Checks")
    for runbook in written.runbooks:
        s = runbook.service
        table.add_row(escape(s.name), s.kind.value, escape(s.kind_source), str(len(runbook.checks)))
    console.print(table)
    console.print(f"Wrote {len(written.runbooks)} runbook(s) and {escape(str(written.index))}")


def _locate(path: Path, root: Path) -> Path:
    """Return ``path``; a relative path not found from the current folder is looked up in
    the workspace."""
    if not path.is_file() and not path.is_absolute() and (root / path).is_file():
        return root / path
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def _run(path: Path, prefer: str, strict: bool = False) -> PerfRun:
    """Return the run of ``path``: ``prefer`` ("baseline"/"current") if present, else the
    other one."""
    result = perf.read(path)
    fail_if_strict(strict, result.problems, str(path))
    problems = [p for p in result.problems if p.level is Level.FATAL]
    reports = [r for r in result.records if isinstance(r, PerfReport)]
    if problems or not reports:
        raise InputError(f"{path}: cannot read the performance run", problems)
    report = reports[0]
    first, second = ((report.baseline, report.current) if prefer == "baseline"
                     else (report.current, report.baseline))
    run = first or second
    if run is None:
        raise InputError(f"{path}: holds no performance run")
    return run


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
    from opsledger.quality.service import CanaryPolicy, Decision, canary_markdown, compare_canary

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    before_path = _locate(baseline, ctx.workspace.root)
    after_path = _locate(canary_file, ctx.workspace.root)
    before, after = _run(before_path, "baseline", strict), _run(after_path, "current", strict)
    objective = None
    if service is not None:
        if ctx.workspace.config.service(service) is None:
            raise InputError(f"--service: '{service}' is not in opsledger.yaml")
        objective = ctx.workspace.config.budget_for(service)
    policy = CanaryPolicy(alpha=alpha, min_requests=min_requests)
    report = compare_canary(before, after, policy, objective)
    document = {
        "schema_version": 1,
        "generated_at": ctx.now.isoformat(),
        "inputs": {"baseline": sha256_file(before_path), "canary": sha256_file(after_path)},
        "service": service,
        **report.to_json(),
    }
    out = ctx.workspace.p09_evidence
    with writing(ctx.workspace, "rollback canary"):
        atomic_write_text(out / CANARY_FILES[0], canary_markdown(report, str(before_path),
                                                                 str(after_path)))
        atomic_write_json(out / CANARY_FILES[1], document)
    if json:
        print_json(document)
    else:
        colour = {Decision.PROCEED: "green", Decision.ROLL_BACK: "red",
                  Decision.INCONCLUSIVE: "yellow"}[report.decision]
        console.print(f"[{colour}]{report.decision.value}[/]")
        for reason in report.reasons:
            console.print(f"- {escape(reason)}")
    if report.decision is not Decision.PROCEED:
        raise typer.Exit(EXIT_FAILED)
