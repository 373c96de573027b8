"""``run``, ``approve``, ``waive`` and ``gates``: stepping through a procedure."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from opsledger.approvals.decisions import Decision
from opsledger.cli.common import (
    EXIT_FAILED,
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
    resolve_now,
)
from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.core.options import ProcedureId, Role
from opsledger.core.workspace import open_workspace

if TYPE_CHECKING:
    from opsledger.model.gates import GateResult

ProcedureArg = Annotated[ProcedureId, typer.Argument(help="Which procedure: p18 or p09.")]

STYLES = {"announce": "bold cyan", "info": "", "reuse": "dim", "halt": "bold yellow",
          "done": "bold green"}


def _print_event(kind: str, message: str) -> None:
    style = STYLES.get(kind, "")
    prefix = {"announce": "▶ ", "halt": "⏸ ", "done": "✔ ", "reuse": "↺ "}.get(kind, "  ")
    text = escape(prefix + message)
    err_console.print(f"[{style}]{text}[/]" if style else text)


def run(
    proc: ProcedureArg,
    workspace: WorkspaceArg,
    from_step: Annotated[
        str | None, typer.Option("--from", help="Re-run from this step on.")
    ] = None,
    status: Annotated[
        bool, typer.Option("--status", help="Show where the procedure stands; run nothing.")
    ] = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
    prometheus: PrometheusOpt = None,
    json: JsonOpt = False,
) -> None:
    """Step through a procedure; stop at a halt (exit 1); the next run resumes."""
    from opsledger.protocols.service import (
        procedure,
        procedure_status,
        require_clean_inputs,
        run_procedure,
    )

    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    ctx.prometheus_url = prometheus
    require_clean_inputs(ctx, strict)
    definition = procedure(proc)
    if status:
        rows = procedure_status(definition, ctx)
        if json:
            print_json([{"step": s.id, "title": s.title, "status": st, "note": note}
                        for s, st, note in rows])
            return
        table = Table("step", "title", "status", "note", title=f"{definition.title}")
        for step, state, note in rows:
            table.add_row(step.id, escape(step.title), state, escape(note))
        console.print(table)
        return
    with writing(ws, f"run {proc.value}"):
        outcome = run_procedure(
            definition, ctx, from_step, listener=(lambda k, m: None) if json else _print_event
        )
    if json:
        print_json(outcome.to_json())
    elif outcome.halted_at:
        for halt in outcome.halts:
            for detail in halt.details:
                err_console.print(f"    {escape(detail)}")
        next_move = _NEXT[outcome.waits_for_approval]
        err_console.print(f"Halted at step '{outcome.halted_at}'. {next_move}")
    if outcome.exit_code:
        raise typer.Exit(EXIT_FAILED)


_NEXT = {
    True: "Waiting for the approvals above; run again once they are recorded.",
    False: "Fix the cause and run again.",
}


def approve(
    proc: ProcedureArg,
    workspace: WorkspaceArg,
    step: Annotated[str, typer.Option("--step", help="The step whose output is approved.")],
    role: Annotated[Role, typer.Option("--as", help="The approver's role in the roster.")],
    decision: Annotated[Decision, typer.Option("--decision", help="Your decision.")],
    conditions: Annotated[
        str, typer.Option("--conditions", help="Conditions or adjustments asked for.")
    ] = "",
    by: Annotated[
        str | None, typer.Option("--by", help="Approver's email when several hold the role.")
    ] = None,
    now: NowOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a stakeholder's decision on a step (appended to the approval log)."""
    from opsledger.protocols.service import approve_step, procedure, require_step

    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    target = require_step(procedure(proc), step)
    with writing(ws, f"approve {proc.value}"):
        recorded = approve_step(ctx, proc, step, role, decision, conditions, by)
    if json:
        print_json(recorded.row)
        return
    person = recorded.stakeholder
    subject = ", ".join(target.approves) if target.approves else f"'{target.title}'"
    console.print(
        f"Recorded: {escape(person.name)} ({role.value}) {decision.value} {escape(subject)}"
        f" — row {recorded.row['seq']} of {escape(str(recorded.log))}"
    )


def waive(
    gate: Annotated[str, typer.Argument(help="The gate id, e.g. p18-backlog-integrity.")],
    workspace: WorkspaceArg,
    justification: Annotated[str, typer.Option("--justification", help="Why it is waived.")],
    expires: Annotated[str, typer.Option("--expires", help="Last day the waiver holds.")],
    by: Annotated[Role, typer.Option("--by", help="Role of the person granting it.")],
    email: Annotated[
        str | None, typer.Option("--email", help="Their email when several hold the role.")
    ] = None,
    now: NowOpt = None,
    json: JsonOpt = False,
) -> None:
    """Waive a failed gate until a date, with a justification (shown in every report)."""
    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    from opsledger.protocols.service import procedure_of_gate, waive_gate

    if procedure_of_gate(gate) is None:
        raise InputError(f"no gate '{gate}'")
    try:
        until = date.fromisoformat(expires)
    except ValueError:
        raise InputError(f"--expires: '{expires}' is not a date (YYYY-MM-DD)") from None
    with writing(ws, f"waive {gate}"):
        row = waive_gate(ctx, gate, justification, by, until, email)
    if json:
        print_json(row)
        return
    console.print(f"Waived {escape(gate)} until {until.isoformat()} by {escape(row['approver'])}.")


def gates(
    proc: ProcedureArg,
    workspace: WorkspaceArg,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML to this file.")
    ] = None,
    now: NowOpt = None,
    strict: StrictOpt = False,
    prometheus: PrometheusOpt = None,
    json: JsonOpt = False,
) -> None:
    """Evaluate the procedure's quality gates (exit 1 if one fails): for CI."""
    from opsledger.protocols.service import check_gates

    ctx = Context.open(open_workspace(workspace), resolve_now(now))
    ctx.prometheus_url = prometheus
    results = check_gates(ctx, proc, junit, strict)
    if json:
        print_json([g.to_json() for g in results])
    else:
        print_gates(results)
    if not all(g.passed for g in results):
        raise typer.Exit(EXIT_FAILED)


def print_gates(results: list[GateResult]) -> None:
    table = Table(title="Quality gates")
    table.add_column("gate", no_wrap=True)
    table.add_column("actual")
    table.add_column("result", no_wrap=True)
    for g in results:
        verdict = "waived" if g.waiver and g.status.value == "fail" else g.status.value
        colour = {"pass": "green", "waived": "yellow", "warn": "yellow"}.get(verdict, "red")
        table.add_row(escape(g.id), escape(g.actual), f"[{colour}]{verdict}[/]")
    console.print(table)
    for g in results:
        console.print(f"  {escape(g.id)}: {escape(g.criteria)} (evidence: {escape(g.evidence)})")
    for g in results:
        for failure in g.failures:
            err_console.print(f"  {escape(g.id)}: {escape(failure)}")
        if g.waiver:
            err_console.print(
                f"  {escape(g.id)} waived by {escape(g.waiver['approver'])} until "
                f"{escape(g.waiver['expires'])}: {escape(g.waiver['justification'])}"
            )


def register(app: typer.Typer) -> None:
    for command in (run, approve, waive, gates):
        app.command(name=command.__name__)(handle_errors(command))
