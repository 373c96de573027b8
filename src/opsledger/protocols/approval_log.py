"""The approval log of a procedure, witnessed by the procedure's run state.

A log deleted together with its head leaves no trace in the evidence folder; the run state
(committed with the workspace) still shows steps that were approved or refused, which only
rows of the log can have caused.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from opsledger.approvals.decisions import APPROVAL_LOG
from opsledger.approvals.decisions import approval_ledger as _ledger
from opsledger.approvals.ledger import Ledger, Witness
from opsledger.core.config import CONFIG_FILE
from opsledger.core.errors import InputError
from opsledger.protocols.model import HaltKind, Procedure
from opsledger.protocols.state import StepState, StepStatus, load_state, state_path


def run_state_witness(definition: Procedure) -> Witness:
    """Return the witness of ``definition``'s approval log: its run state."""
    return partial(approvals_in_run_state, definition)


def approval_ledger(evidence_dir: Path, definition: Procedure) -> Ledger:
    """Return the approval log of a procedure's evidence folder, with its witness."""
    return _ledger(evidence_dir, run_state_witness(definition))


def approvals_in_run_state(definition: Procedure, log: Path) -> str | None:
    """Return where the run state records approvals that ``log`` should hold, if it does.

    Deleting the approval log together with its head leaves no trace in the evidence
    folder; the procedure's run state (committed with the workspace) still shows a step
    that was approved, or refused, which only rows of this log can have caused.
    """
    from opsledger.core.workspace import open_workspace

    root = next((p for p in log.parents if (p / CONFIG_FILE).is_file()), None)
    if root is None:
        return None
    try:
        ws = open_workspace(root)
    except InputError:
        return None  # an unusable configuration is reported by whoever opened it
    if definition.evidence_dir(ws).resolve() != log.parent.resolve():
        return None
    path = state_path(ws.state_dir, definition.id)
    try:
        state = load_state(path, definition.id)
    except InputError:
        return None  # the state's own error is reported when the procedure runs
    for step in definition.steps:
        saved = state.steps.get(step.id)
        recorded = _recorded_decisions(saved, len(step.required_approvals(ws.config)))
        if recorded:
            return f"{path} records step '{step.id}' as {recorded}"
    for step in definition.steps:
        saved = state.steps.get(step.id)
        if saved is not None and saved.decisions:  # conflict decisions, lapsed approvals
            return (f"{path} records step '{step.id}' as resting on "
                    f"{len(saved.decisions)} decision(s) of the log")
    return None


def _recorded_decisions(saved: StepState | None, required: int) -> str | None:
    """Return what the saved step says about decisions in the log, or None if nothing.

    A completed step with approvers was approved; a refusal, or an awaited list shorter
    than the approvers, names decisions; a halt on a broken approval log keeps saying so,
    so one run over a deleted log does not erase the evidence that it existed.
    """
    if saved is None:
        return None
    if saved.status is StepStatus.COMPLETED and required:
        return "approved by its stakeholders"
    for halt in saved.halts:
        kind = halt.get("kind")
        if kind == HaltKind.APPROVAL_REFUSED.value:
            return "refused by a stakeholder"
        if kind == HaltKind.APPROVAL_AWAITED.value and len(halt.get("details", ())) < required:
            return "approved by some of its stakeholders"
        if kind == HaltKind.FAILED_CHECK.value and APPROVAL_LOG in str(halt.get("reason")):
            return "halted on a broken approval log"
    return None
