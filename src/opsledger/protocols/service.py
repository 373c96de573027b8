"""The procedures' interface: run them, say where they stand, evaluate their gates, record
approvals, waivers and prerequisites declared not applicable."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from opsledger.approvals.changes import keep_version
from opsledger.approvals.decisions import (
    Decision,
    RecordedApproval,
    record_approval,
    record_waiver,
    waiver_ledger,
)
from opsledger.approvals.not_applicable import (
    Declarations,
    declarations,
    not_applicable_ledger,
    record_declaration,
)
from opsledger.approvals.people import acting_stakeholder
from opsledger.approvals.review import decision_key
from opsledger.core.config import Role
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.core.workspace import HANDOVER_FILES, InputKey, Workspace
from opsledger.model.gates import GateResult
from opsledger.protocols.approval_log import approval_ledger as approval_ledger
from opsledger.protocols.model import Conflict, Procedure, Step, StepContext
from opsledger.protocols.registry import ProcedureId as ProcedureId
from opsledger.protocols.registry import procedure as procedure
from opsledger.protocols.registry import procedure_of_gate as procedure_of_gate
from opsledger.protocols.runner import approvable_digest as approvable_digest
from opsledger.protocols.runner import conflicts_to_decide
from opsledger.protocols.runner import evaluate_gates as evaluate_gates
from opsledger.protocols.runner import require_step as require_step
from opsledger.protocols.runner import run_procedure as run_procedure
from opsledger.protocols.runner import write_gate_report as write_gate_report
from opsledger.protocols.scaffold import init_workspace as init_workspace
from opsledger.protocols.signoff import StepSignoff, step_signoff
from opsledger.protocols.standing import ProcedureStanding as ProcedureStanding
from opsledger.protocols.standing import procedure_standing as procedure_standing
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


def _step_context(ctx: Context, definition: Procedure, step: Step) -> StepContext:
    return StepContext(ctx, definition, step, definition.evidence_dir(ctx.workspace))


def current_signoff(ctx: Context, pid: ProcedureId, step: str) -> StepSignoff | None:
    """Return where ``step``'s sign-off stands now (None when it needs no decision)."""
    definition = procedure(pid)
    return step_signoff(_step_context(ctx, definition, require_step(definition, step)))


def _decided_conflicts(
    definition: Procedure, ctx: Context, target: Step, conflict: str | None
) -> tuple[Conflict, ...]:
    """Return the conflicts a decision settles: the one named, or every one not yet approved
    as it stands."""
    found = conflicts_to_decide(definition, ctx, target)
    if not found:
        raise InputError(f"step '{target.id}' has no open conflicts to decide; run "
                         f"'opsledger run {definition.id} {ctx.workspace.shell_root}' first")
    if conflict is None:
        signoff = step_signoff(_step_context(ctx, definition, target))
        settled = {c.conflict.id for c in signoff.conflicts if c.review.approved} \
            if signoff else set()
        undecided = tuple(c for c in found if c.id not in settled)
        if not undecided:
            raise InputError(f"every conflict of step '{target.id}' is decided; name one with "
                             "--conflict ID to change its decision")
        return undecided
    chosen = [c for c in found if c.id.lower() == conflict.lower()]
    if not chosen:
        raise InputError(f"--conflict: no open conflict '{conflict}' in step '{target.id}' "
                         f"(open: {', '.join(c.id for c in found)})")
    return tuple(chosen)


def approve_step(
    ctx: Context,
    pid: ProcedureId,
    step: str,
    role: Role | None,
    decision: Decision,
    conditions: str = "",
    email: str | None = None,
    conflict: str | None = None,
) -> RecordedApproval:
    """Record a stakeholder's decision on the current version of ``step``'s output (see
    :func:`record_decision`). The caller holds the lock."""
    return record_decision(ctx, procedure(pid), step, role, decision, conditions, email,
                           conflict)


def record_decision(
    ctx: Context,
    definition: Procedure,
    step: str,
    role: Role | None,
    decision: Decision,
    conditions: str = "",
    email: str | None = None,
    conflict: str | None = None,
) -> RecordedApproval:
    """Record a stakeholder's decision on the current version of ``step``'s output.

    The step must ask for that role's decision; the decision refers to the digest of what
    the step presents, so a later draft needs a new decision. A copy of that version is
    kept beside the log so that, once it changes, a halt can say what changed. A decision
    by a role that settles the step's conflicts applies to the conflict named, or to every
    one not yet approved (one row each).
    """
    pid = definition.id
    target = require_step(definition, step)
    config = ctx.workspace.config
    approvers = target.approvers(config)
    if not approvers:
        raise InputError(f"step '{step}' of {pid} needs no approval")
    person = acting_stakeholder(config, role, email, approvers, f"decide on step '{step}'")
    evidence_dir = definition.evidence_dir(ctx.workspace)
    ledger = approval_ledger(evidence_dir, definition)
    required = target.required_approvals(config)
    if conflict is not None or (target.conflicts is not None and person.role not in required):
        rows = []
        for item in _decided_conflicts(definition, ctx, target, conflict):
            keep_version(evidence_dir, item.digest, {item.file_name: item.content})
            rows.append(record_approval(
                ledger, config, pid, decision_key(step, item.id), person.role, decision,
                conditions, item.digest, ctx.now, person.email))
        return replace(rows[-1], rows=tuple(r.row for r in rows))
    digest = approvable_digest(definition, ctx, target)
    sctx = _step_context(ctx, definition, target)
    documents = [sctx.evidence_path(n) for n in target.approves or target.evidence]
    keep_version(evidence_dir, digest, {p.name: p.read_bytes() for p in documents if p.exists()})
    recorded = record_approval(ledger, config, pid, step, person.role, decision,
                               conditions, digest, ctx.now, person.email)
    return replace(recorded, subject=", ".join(p.name for p in documents))


def waive_gate(
    ctx: Context,
    gate: str,
    justification: str,
    role: Role | None,
    until: date,
    email: str | None = None,
) -> dict[str, str]:
    """Waive a failed gate until ``until`` with a justification; return the row recorded.

    ``policies.waivers`` in opsledger.yaml says who may waive the gate and for how long;
    ``policies.justification`` how much the justification must say. The caller holds the
    lock.
    """
    found = procedure_of_gate(gate)
    if found is None:
        raise InputError(f"no gate '{gate}'")
    pid, definition = found
    return record_waiver(
        waiver_ledger(definition.evidence_dir(ctx.workspace)), ctx.workspace.config, pid.value,
        gate, justification, role, until, ctx.now, email,
    )


def prerequisite(definition: Procedure, name: str) -> InputKey:
    """Return the prerequisite ``name`` names: its key (``closure-package``) or its file name
    (``CLOSURE-PACKAGE.zip``), in any case."""
    wanted = name.strip().lower()
    for key in definition.prerequisites:
        if wanted in (key.value, HANDOVER_FILES.get(key, "").lower()):
            return key
    known = ", ".join(f"{k.value} ({HANDOVER_FILES.get(k, '')})" for k in
                      definition.prerequisites) or "none"
    raise InputError(f"'{name}' is not a prerequisite of {definition.id}; prerequisites: {known}")


def not_applicable_declarations(ws: Workspace, pid: ProcedureId) -> Declarations:
    """Return the prerequisites of ``pid`` declared not applicable in the workspace."""
    return declarations(not_applicable_ledger(procedure(pid).evidence_dir(ws)), pid.value)


def declare_not_applicable(
    ctx: Context,
    pid: ProcedureId,
    artifact: str,
    reason: str,
    email: str | None,
    role: Role | None = None,
    withdraw: bool = False,
) -> dict[str, str]:
    """Record that a prerequisite does not apply to this team (or withdraw that); return the
    row written. The next run takes it into account. The caller holds the lock."""
    definition = procedure(pid)
    key = prerequisite(definition, artifact)
    ledger = not_applicable_ledger(definition.evidence_dir(ctx.workspace))
    return record_declaration(ledger, ctx.workspace.config, pid.value, key.value, reason,
                              ctx.now, email, role, withdraw)
