"""``run``, ``approve``, ``waive``, ``not-applicable`` and ``gates``: stepping through a
procedure.

Exit codes: ``run`` and ``run --status`` exit 1 while a step halts or waits for a decision
or a gate fails, 0 when every step is done and every gate passes (or is waived); ``gates``
exits 1 when a gate fails. Bad input or usage is 2 everywhere.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
    rich_table,
)
from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.core.options import ProcedureId, Role
from opsledger.core.workspace import open_workspace

if TYPE_CHECKING:
    from opsledger.model.gates import GateResult
    from opsledger.protocols.service import ProcedureStanding

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
        bool,
        typer.Option("--status", help="Show where the procedure stands and its gates; run "
                                      "nothing (exit 1 unless every step is done and every "
                                      "gate passes)."),
    ] = False,
    now: NowOpt = None,
    strict: StrictOpt = False,
    prometheus: PrometheusOpt = None,
    json: JsonOpt = False,
) -> None:
    """Step through a procedure; stop at a halt (exit 1); the next run resumes."""
    from opsledger.protocols.service import (
        procedure,
        procedure_standing,
        require_clean_inputs,
        run_procedure,
    )

    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    ctx.prometheus_url = prometheus
    require_clean_inputs(ctx, strict)
    definition = procedure(proc)
    if status:
        standing = procedure_standing(definition, ctx)
        if json:
            print_json(standing.to_json())
        else:
            print_standing(standing)
        if standing.exit_code:
            raise typer.Exit(EXIT_FAILED)
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
    True: "Waiting for the decisions above; run again once they are recorded.",
    False: "Fix the cause and run again.",
}


def print_standing(standing: ProcedureStanding) -> None:
    table = rich_table("step", "title", "status", "note",
                       title=f"{standing.procedure}: where it stands")
    for s in standing.steps:
        table.add_row(s.step.id, escape(s.step.title), s.standing.value, escape(s.note))
    console.print(table)
    for s in standing.steps:
        for halt in s.halts:
            err_console.print(f"  {escape(s.step.id)}: {escape(halt.reason)}")
            for detail in halt.details:
                err_console.print(f"    {escape(detail)}")
    print_gates(list(standing.gates))
    err_console.print(f"{escape(_verdict(standing))} (exit {standing.exit_code})")


def _verdict(standing: ProcedureStanding) -> str:
    """Return where the procedure stands in one sentence, as its exit code says."""
    first = next((s for s in standing.steps if s.step.id == standing.halted_at), None)
    if first is None:
        failed = [g.id for g in standing.gates if not g.passed]
        return f"every step done; gates failing: {', '.join(failed)}" if failed else \
            "every step done; every gate passes"
    if first.halts:
        return f"halted at step '{first.step.id}': {first.halts[0].reason}"
    return f"the next run goes on from step '{first.step.id}' ({first.standing.value})"


ByOpt = Annotated[
    str | None,
    typer.Option("--by", help="The person's email in the stakeholder roster (needed when "
                              "several hold the role)."),
]
AsOpt = Annotated[
    Role | None,
    typer.Option("--as", help="The person's role in the roster (found from --by when they "
                              "hold one).", show_default=False),
]


def approve(
    proc: ProcedureArg,
    workspace: WorkspaceArg,
    step: Annotated[str, typer.Option("--step", help="The step whose output is approved.")],
    decision: Annotated[Decision, typer.Option("--decision", help="Your decision.")],
    role: AsOpt = None,
    by: ByOpt = None,
    conflict: Annotated[
        str | None,
        typer.Option("--conflict", help="Decide this one conflict of the step (default: "
                                        "every one not yet approved)."),
    ] = None,
    conditions: Annotated[
        str, typer.Option("--conditions", help="Conditions or adjustments asked for "
                                               "(required to reject or defer).")
    ] = "",
    now: NowOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record a stakeholder's decision on a step (appended to the approval log)."""
    from opsledger.protocols.service import approve_step, current_signoff

    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    with writing(ws, f"approve {proc.value}"):
        recorded = approve_step(ctx, proc, step, role, decision, conditions, by, conflict)
    if json:
        print_json(list(recorded.rows) or recorded.row)
        return
    person = recorded.stakeholder
    rows = recorded.rows or (recorded.row,)
    for row in rows:
        _, _, conflict_id = row["step"].partition("/")
        subject = f"conflict {conflict_id} of step '{step}'" if conflict_id else recorded.subject
        console.print(
            f"Recorded: {escape(person.name)} ({person.role.value}) {decision.value} "
            f"{escape(subject)} — row {row['seq']} of {escape(str(recorded.log))}"
        )
    signoff = current_signoff(ctx, proc, step)
    if signoff is not None:
        console.print(f"Step '{escape(step)}' now: {escape(signoff.summary())}.")


def _deprecated(message: str) -> None:
    err_console.print(f"[yellow]deprecated:[/] {escape(message)}")


def waive(
    gate: Annotated[str, typer.Argument(help="The gate id, e.g. p18-backlog-integrity.")],
    workspace: WorkspaceArg,
    justification: Annotated[str, typer.Option("--justification", help="Why it is waived.")],
    expires: Annotated[str, typer.Option("--expires", help="Last day the waiver holds.")],
    role: AsOpt = None,
    by: ByOpt = None,
    email: Annotated[
        str | None, typer.Option("--email", hidden=True, help="Deprecated: use --by EMAIL.")
    ] = None,
    now: NowOpt = None,
    json: JsonOpt = False,
) -> None:
    """Waive a failed gate until a date, with a justification (shown in every report).

    opsledger.yaml's policies.waivers says which roles may waive which gate, and for how
    many days at most.
    """
    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    from opsledger.protocols.service import procedure_of_gate, waive_gate

    if procedure_of_gate(gate) is None:
        raise InputError(f"no gate '{gate}'")
    try:
        until = date.fromisoformat(expires)
    except ValueError:
        raise InputError(f"--expires: '{expires}' is not a date (YYYY-MM-DD)") from None
    role, by = _old_waiver_form(role, by, email)
    with writing(ws, f"waive {gate}"):
        row = waive_gate(ctx, gate, justification, role, until, by)
    if json:
        print_json(row)
        return
    console.print(f"Waived {escape(gate)} until {until.isoformat()} by {escape(row['approver'])} "
                  f"({escape(row['role'])}).")


def _old_waiver_form(
    role: Role | None, by: str | None, email: str | None
) -> tuple[Role | None, str | None]:
    """Return (role, email) from the options, accepting the earlier ``--by ROLE`` and
    ``--email EMAIL`` with a deprecation notice."""
    if email is not None:
        _deprecated("--email is now --by EMAIL")
        if by is not None and "@" in by:
            raise InputError("give the email once: --by EMAIL")
    if by is not None and "@" not in by:
        try:
            old_role = Role(by)
        except ValueError:
            raise InputError(f"--by: '{by}' is not an email; the role goes in --as ROLE") from None
        if role is not None:
            raise InputError("--by takes the person's email and --as the role")
        _deprecated(f"--by {by} names a role: write --as {by} (and --by EMAIL for the person)")
        return old_role, email
    return role, by if by is not None else email


def not_applicable(
    proc: ProcedureArg,
    workspace: WorkspaceArg,
    artifact: Annotated[
        str, typer.Argument(help="The prerequisite, e.g. closure-package or CLOSURE-PACKAGE.zip.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why it does not apply to this team.")],
    by: ByOpt = None,
    role: AsOpt = None,
    withdraw: Annotated[
        bool, typer.Option("--withdraw", help="Withdraw an earlier declaration.")
    ] = False,
    now: NowOpt = None,
    json: JsonOpt = False,
) -> None:
    """Declare a prerequisite not applicable, with a reason (kept in a hash-chained log)."""
    from opsledger.protocols.service import declare_not_applicable

    ws = open_workspace(workspace)
    ctx = Context.open(ws, resolve_now(now))
    with writing(ws, f"not-applicable {proc.value}"):
        row = declare_not_applicable(ctx, proc, artifact, reason, by, role, withdraw)
    if json:
        print_json(row)
        return
    what = "withdrawn: it is required again" if withdraw else "declared not applicable"
    console.print(f"{escape(row['artifact'])} {what} by {escape(row['stakeholder'])} "
                  f"({escape(row['role'])}) — row {row['seq']} of the not-applicable log. "
                  f"Run 'opsledger run {proc.value} {escape(str(workspace))}' to go on.")


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
    table = rich_table(title="Quality gates")
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
    for command in (run, approve, waive, not_applicable, gates):
        app.command(name=command.__name__.replace("_", "-"))(handle_errors(command))
