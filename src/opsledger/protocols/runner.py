"""Step through a procedure: announce, produce evidence, halt, resume where it stopped.

A step is reused, not re-run, when what it read (inputs, configuration, earlier evidence,
the step's own version) has the same digest as when it completed and its evidence is still
on disk unchanged. A halted step always runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.approvals.decisions import active_waiver, waiver_ledger
from opsledger.approvals.digest import evidence_fingerprint
from opsledger.core.config import CONFIG_FILE
from opsledger.core.errors import InputError
from opsledger.core.fileio import (
    atomic_write_json,
    remove_stale_temp_files,
    sha256_file,
    sha256_tree,
)
from opsledger.core.inputs import Context
from opsledger.model import schema
from opsledger.protocols.model import (
    Conflict,
    GateResult,
    Halt,
    HaltKind,
    Procedure,
    Step,
    StepContext,
    StepKind,
    StepResult,
)
from opsledger.protocols.signoff import (
    StepSignoff,
    document_digest,
    new_decisions,
    open_conflicts,
    signoff_halts,
    step_signoff,
)
from opsledger.protocols.state import (
    StepState,
    StepStatus,
    load_state,
    save_state,
    state_path,
)

COMMUNICATION_LOG = "communication-log.md"
GATE_REPORT = "gate-report.json"


Listener = Callable[[str, str], None]  # (kind, message): announce | info | reuse | halt | done

# Halts that only wait for someone's decision (an approval, a conflict settled).
DECISION_HALTS = (HaltKind.APPROVAL_AWAITED, HaltKind.CONFLICT)


def outcome_exit_code(complete: bool, gates: list[GateResult]) -> int:
    """Return the exit code of a procedure's state: 0 when every step is done and every gate
    passes (or is waived), 1 otherwise. ``run``, ``run --status`` and ``gates`` share it."""
    return 0 if complete and all(g.passed for g in gates) else 1


@dataclass
class RunOutcome:
    procedure: str
    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    halted_at: str | None = None
    halts: list[Halt] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.halted_at is None

    @property
    def gates_passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def waits_for_approval(self) -> bool:
        """True when every halt waits for a decision: nothing to fix, decisions to record."""
        return bool(self.halts) and all(h.kind in DECISION_HALTS for h in self.halts)

    @property
    def exit_code(self) -> int:
        """0 when every step is done and every gate passes (or is waived), else 1."""
        return outcome_exit_code(self.complete, self.gates)

    def to_json(self) -> dict[str, Any]:
        return {
            "procedure": self.procedure,
            "complete": self.complete,
            "exit_code": self.exit_code,
            "ran": self.ran,
            "reused": self.reused,
            "halted_at": self.halted_at,
            "halts": [h.to_json() for h in self.halts],
            "gates": [g.to_json() for g in self.gates],
        }


def communicate(evidence_dir: Path, now: datetime, label: str, message: str) -> None:
    """Append one line to the procedure's communication log (whole line or nothing)."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    path = evidence_dir / COMMUNICATION_LOG
    line = f"- {now.isoformat()} [{label}] {message}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        if os.fstat(fd).st_size == 0:
            line = "# Communication log\n\n" + line
        os.write(fd, line.encode("utf-8"))
    finally:
        os.close(fd)


def step_digest(sctx: StepContext) -> str:
    """Return the digest of everything the step reads (an absent input declared not
    applicable counts as its declaration)."""
    ws = sctx.ctx.workspace
    parts: dict[str, Any] = {"step": sctx.step.id, "version": sctx.step.version}
    config = ws.root / CONFIG_FILE
    parts["config"] = sha256_file(config) if config.exists() else "absent"
    for key in sctx.step.inputs:
        path = ws.path(key)
        if path.exists():
            parts[f"input:{key.value}"] = sha256_tree(path)
            continue
        declared = sctx.not_applicable.get(key.value)
        parts[f"input:{key.value}"] = f"not-applicable:{declared.hash}" if declared else "absent"
    for name in sctx.step.reads_evidence:
        path = sctx.evidence_path(name)
        parts[f"evidence:{name}"] = evidence_fingerprint(path) if path.exists() else "absent"
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def evidence_digests(sctx: StepContext) -> dict[str, str]:
    return {
        name: evidence_fingerprint(sctx.evidence_path(name))
        for name in sctx.step.evidence
        if sctx.evidence_path(name).exists()
    }


def plan_digest(sctx: StepContext) -> str:
    """Return the digest of what an approval of the step refers to (its evidence by default)."""
    return document_digest(sctx)


def reusable(sctx: StepContext, saved: StepState | None, digest: str) -> bool:
    """Return whether the step's last result still holds: it finished its work, nothing it
    reads changed and its evidence is on disk as it wrote it."""
    if saved is None or saved.status not in (StepStatus.COMPLETED, StepStatus.AWAITING_APPROVAL):
        return False
    return saved.input_digest == digest and saved.evidence == evidence_digests(sctx) and all(
        sctx.evidence_path(name).exists() for name in sctx.step.evidence
    )


def reuse_message(sctx: StepContext, signoff: StepSignoff | None, seen: list[str]) -> str:
    """Return what the reuse of a step says: unchanged (inputs and decisions alike), or
    which decisions were recorded since the last run."""
    fresh = new_decisions(signoff, seen)
    if not fresh:
        return f"{sctx.step.title}: unchanged since the last run"
    listed = "; ".join(f"{row.describe()}" for row in fresh)
    state = f" ({signoff.summary()})" if signoff is not None else ""
    return (f"{sctx.step.title}: inputs unchanged; decisions since the last run: "
            f"{listed}{state}")


def run_procedure(
    procedure: Procedure,
    ctx: Context,
    from_step: str | None = None,
    listener: Listener = lambda kind, message: None,
) -> RunOutcome:
    """Run the procedure until it completes or halts; persist where it stands.

    The caller holds the workspace lock (the CLI does), so temporary files found in the
    evidence and state folders are leftovers of a killed run and are removed first.
    """
    ws = ctx.workspace
    evidence_dir = procedure.evidence_dir(ws)
    path = state_path(ws.state_dir, procedure.id)
    for folder in (evidence_dir, path.parent):
        for leftover in remove_stale_temp_files(folder):
            listener("info", f"removed {leftover.name}, left by an interrupted run")
    state = load_state(path, procedure.id)
    if from_step is not None and procedure.step(from_step) is None:
        known = ", ".join(s.id for s in procedure.steps)
        raise InputError(f"--from: no step '{from_step}' in {procedure.id} (steps: {known})")
    outcome = RunOutcome(procedure.id)
    forced = from_step is not None
    for step in procedure.steps:
        forced_here = forced and (step.id == from_step or outcome.ran)
        sctx = StepContext(ctx, procedure, step, evidence_dir)
        digest = step_digest(sctx)
        saved = state.step(step.id)
        work_halted = False
        if not forced_here and reusable(sctx, state.steps.get(step.id), digest):
            signoff = step_signoff(sctx)
            halts = signoff_halts(sctx, signoff)
            message = reuse_message(sctx, signoff, saved.decisions)
            if not halts:
                outcome.reused.append(step.id)
                listener("reuse", message)
                saved.status = StepStatus.COMPLETED
                saved.halts = []
                saved.decisions = signoff.fingerprint() if signoff else []
                save_state(path, state, ctx.now)
                continue
            if not message.endswith("unchanged since the last run"):
                listener("reuse", message)
        else:
            listener("announce", step.announcement)
            communicate(evidence_dir, ctx.now, f"phase {step.phase}", step.announcement)
            result = step.run(sctx)
            outcome.ran.append(step.id)
            listener("info", result.summary)
            halts = list(result.halts) if step.kind is StepKind.MUST else []
            work_halted = bool(halts)
            if step.kind is StepKind.GUIDELINE and result.halts:
                for halt in result.halts:
                    listener("info", f"note: {halt.reason}")
            signoff = None if halts else step_signoff(sctx)
            if not halts:
                halts = signoff_halts(sctx, signoff)
            saved.input_digest = digest
            saved.evidence = evidence_digests(sctx)
            saved.finished_at = ctx.now.isoformat()
            saved.summary = result.summary
        saved.decisions = signoff.fingerprint() if signoff else saved.decisions
        if halts:
            saved.status = StepStatus.HALTED if work_halted else StepStatus.AWAITING_APPROVAL
            saved.halts = [h.to_json() for h in halts]
            outcome.halted_at = step.id
            outcome.halts = halts
            for halt in halts:
                listener("halt", halt.reason)
                communicate(evidence_dir, ctx.now, "halt", f"{step.title}: {halt.reason}")
            save_state(path, state, ctx.now)
            return outcome
        saved.status = StepStatus.COMPLETED
        saved.halts = []
        save_state(path, state, ctx.now)
    outcome.gates = evaluate_gates(procedure, ctx)
    write_gate_report(evidence_dir, procedure, ctx.now, outcome.gates)
    if procedure.finish is not None:
        procedure.finish(ctx, outcome.gates)
    failed = [g for g in outcome.gates if not g.passed]
    if failed:
        for gate in failed:
            communicate(evidence_dir, ctx.now, "gate failed", f"{gate.title}: {gate.actual}")
            listener("halt", f"gate '{gate.title}' failed: {gate.actual}")
    else:
        communicate(evidence_dir, ctx.now, "complete", procedure.completion or "all steps done")
        listener("done", procedure.completion or f"{procedure.id} complete")
    return outcome


def evaluate_gates(procedure: Procedure, ctx: Context) -> list[GateResult]:
    """Return every gate's result, with a waiver applied where one is in force."""
    evidence_dir = procedure.evidence_dir(ctx.workspace)
    waivers = waiver_ledger(evidence_dir)
    # A waiver log that fails verification waives nothing.
    trusted = not waivers.verify()
    results = []
    for gate in procedure.gates:
        result = gate.check(StepContext(ctx, procedure, procedure.steps[-1], evidence_dir))
        waiver = (
            active_waiver(waivers, procedure.id, gate.id, ctx.now.date())
            if trusted and not result.passed
            else None
        )
        if waiver is not None:
            shown = {k: waiver[k] for k in ("justification", "approver", "role", "expires", "time")}
            result = replace(result, waiver=shown)
        results.append(result)
    return results


def write_gate_report(
    evidence_dir: Path, procedure: Procedure, now: datetime, gates: list[GateResult]
) -> Path:
    path = evidence_dir / GATE_REPORT
    atomic_write_json(
        path,
        {
            "schema_version": schema.PROCEDURE_EVIDENCE,
            "generated_at": now.isoformat(),
            "procedure": procedure.id,
            "passed": all(g.passed for g in gates),
            "gates": [g.to_json() for g in gates],
        },
    )
    return path


def require_step(procedure: Procedure, step_id: str) -> Step:
    step = procedure.step(step_id)
    if step is None:
        known = ", ".join(s.id for s in procedure.steps)
        raise InputError(f"--step: no step '{step_id}' in {procedure.id} (steps: {known})")
    return step


def approvable_digest(procedure: Procedure, ctx: Context, step: Step) -> str:
    """Return the digest an approval of ``step`` refers to; fail if there is nothing yet."""
    sctx = StepContext(ctx, procedure, step, procedure.evidence_dir(ctx.workspace))
    if not step.approvers(ctx.workspace.config):
        raise InputError(f"step '{step.id}' of {procedure.id} needs no approval")
    missing = [n for n in step.approves or step.evidence if not sctx.evidence_path(n).exists()]
    if missing:
        raise InputError(
            f"nothing to approve yet for step '{step.id}': {', '.join(missing)} not written; "
            f"run 'opsledger run {procedure.id} {ctx.workspace.shell_root}' first"
        )
    return plan_digest(sctx)


def conflicts_to_decide(procedure: Procedure, ctx: Context, step: Step) -> tuple[Conflict, ...]:
    """Return the conflicts of ``step``'s current output that its deciders settle."""
    return open_conflicts(StepContext(ctx, procedure, step, procedure.evidence_dir(ctx.workspace)))


def step_result(summary: str, evidence: list[Path], halts: list[Halt] | None = None,
                **data: Any) -> StepResult:
    return StepResult(summary, tuple(evidence), tuple(halts or ()), data)
