"""The procedures' interface: run them, evaluate their gates, record approvals and waivers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from opsledger.approvals.decisions import (
    Decision,
    RecordedApproval,
    record_approval,
    record_waiver,
    waiver_ledger,
)
from opsledger.core.config import Role
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.model.gates import GateResult
from opsledger.protocols.approval_log import approval_ledger as approval_ledger
from opsledger.protocols.registry import ProcedureId as ProcedureId
from opsledger.protocols.registry import procedure as procedure
from opsledger.protocols.registry import procedure_of_gate as procedure_of_gate
from opsledger.protocols.runner import approvable_digest as approvable_digest
from opsledger.protocols.runner import evaluate_gates as evaluate_gates
from opsledger.protocols.runner import procedure_status as procedure_status
from opsledger.protocols.runner import require_step as require_step
from opsledger.protocols.runner import run_procedure as run_procedure
from opsledger.protocols.runner import write_gate_report as write_gate_report
from opsledger.protocols.scaffold import init_workspace as init_workspace
from opsledger.render.junit import gates_junit


def require_clean_inputs(ctx: Context, strict: bool) -> None:
    """With ``strict``, read every input first and fail on any problem, as review does."""
    if strict:
        ctx.inputs.require_clean(read_all=True)


def check_gates(
    ctx: Context, pid: ProcedureId, junit: Path | None = None, strict: bool = False
) -> list[GateResult]:
    """Evaluate the procedure's gates and write the gate report to its evidence folder.

    The report (and JUnit XML to ``junit`` when given) is written while the workspace lock
    is held. With ``strict``, every input is read first and any problem in them fails.
    """
    require_clean_inputs(ctx, strict)
    definition = procedure(pid)
    with writing(ctx.workspace, f"gates {pid.value}"):
        results = evaluate_gates(definition, ctx)
        write_gate_report(definition.evidence_dir(ctx.workspace), definition, ctx.now, results)
        if junit is not None:
            atomic_write_text(junit, gates_junit(pid.value, results, ctx.now))
    return results


def approve_step(
    ctx: Context,
    pid: ProcedureId,
    step: str,
    role: Role,
    decision: Decision,
    conditions: str = "",
    email: str | None = None,
) -> RecordedApproval:
    """Record ``role``'s decision on the current version of ``step``'s output.

    The step must ask for that role's approval; the decision refers to the digest of what
    the step presents, so a later draft needs a new decision. The caller holds the lock.
    """
    definition = procedure(pid)
    target = require_step(definition, step)
    approvers = target.approvers(ctx.workspace.config)
    if not approvers:
        raise InputError(f"step '{step}' of {pid.value} needs no approval")
    if role not in approvers:
        wanted = ", ".join(r.value for r in approvers)
        raise InputError(f"step '{step}' is approved by {wanted}, not by {role.value}")
    digest = approvable_digest(definition, ctx, target)
    ledger = approval_ledger(definition.evidence_dir(ctx.workspace), definition)
    return record_approval(ledger, ctx.workspace.config, pid.value, step, role, decision,
                           conditions, digest, ctx.now, email)


def waive_gate(
    ctx: Context,
    gate: str,
    justification: str,
    role: Role,
    until: date,
    email: str | None = None,
) -> dict[str, str]:
    """Waive a failed gate until ``until`` with a justification; return the row recorded.

    The caller holds the lock.
    """
    found = procedure_of_gate(gate)
    if found is None:
        raise InputError(f"no gate '{gate}'")
    pid, definition = found
    return record_waiver(
        waiver_ledger(definition.evidence_dir(ctx.workspace)), ctx.workspace.config, pid.value,
        gate, justification, role, until, ctx.now, email,
    )
