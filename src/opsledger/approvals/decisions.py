"""Stakeholder approvals and gate waivers, kept in hash-chained append-only logs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path

from opsledger.approvals.ledger import Ledger
from opsledger.core.config import CONFIG_FILE, Config, Role, Stakeholder
from opsledger.core.errors import InputError
from opsledger.protocols.model import HaltKind
from opsledger.protocols.state import StepState, StepStatus, load_state, state_path

APPROVAL_LOG = "approval-log.csv"
WAIVER_LOG = "waivers.csv"
APPROVAL_COLUMNS = (
    "time", "procedure", "step", "stakeholder", "email", "role", "decision", "conditions",
    "plan_digest",
)
WAIVER_COLUMNS = (
    "time", "procedure", "gate", "justification", "approver", "role", "expires",
)


class Decision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    DEFERRED = "deferred"


def approval_ledger(evidence_dir: Path) -> Ledger:
    return Ledger(evidence_dir / APPROVAL_LOG, APPROVAL_COLUMNS, approvals_in_run_state)


def approvals_in_run_state(log: Path) -> str | None:
    """Return where the run state records approvals that ``log`` should hold, if it does.

    Deleting the approval log together with its head leaves no trace in the evidence
    folder; the procedure's run state (committed with the workspace) still shows a step
    that was approved, or refused, which only rows of this log can have caused.
    """
    from opsledger.core.workspace import open_workspace
    from opsledger.protocols.registry import ProcedureId, procedure

    root = next((p for p in log.parents if (p / CONFIG_FILE).is_file()), None)
    if root is None:
        return None
    try:
        ws = open_workspace(root)
    except InputError:
        return None  # an unusable configuration is reported by whoever opened it
    folder = log.parent.resolve()
    for pid in ProcedureId:
        definition = procedure(pid)
        if definition.evidence_dir(ws).resolve() != folder:
            continue
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


def waiver_ledger(evidence_dir: Path) -> Ledger:
    return Ledger(evidence_dir / WAIVER_LOG, WAIVER_COLUMNS)


def stakeholder_for(config: Config, role: Role, email: str | None = None) -> Stakeholder:
    """Return the person in the roster who holds ``role`` (and ``email``, if given)."""
    holders = config.stakeholders_with(role)
    if email:
        holders = [s for s in holders if s.email.lower() == email.lower()]
    if not holders:
        who = f" with email {email}" if email else ""
        raise InputError(
            f"no stakeholder{who} holds the role '{role.value}' in opsledger.yaml; "
            "add them under 'stakeholders:'"
        )
    if len(holders) > 1:
        emails = ", ".join(s.email for s in holders)
        raise InputError(f"several stakeholders hold '{role.value}' ({emails}); pass --by EMAIL")
    return holders[0]


@dataclass(frozen=True)
class ApprovalState:
    """The latest decision of each required role on the current version of a step's output."""

    step: str
    decisions: dict[Role, dict[str, str] | None]

    @property
    def awaited(self) -> list[Role]:
        return [role for role, row in self.decisions.items() if row is None]

    @property
    def refused(self) -> list[tuple[Role, dict[str, str]]]:
        return [
            (role, row)
            for role, row in self.decisions.items()
            if row is not None and row["decision"] != Decision.APPROVED.value
        ]

    @property
    def approved(self) -> bool:
        return not self.awaited and not self.refused


def approval_state(
    ledger: Ledger, procedure: str, step: str, roles: tuple[Role, ...], plan_digest: str
) -> ApprovalState:
    """Return each role's latest decision on this version (digest) of the step's output."""
    decisions: dict[Role, dict[str, str] | None] = {role: None for role in roles}
    for row in ledger.rows():
        if row.get("procedure") != procedure or row.get("step") != step:
            continue
        if row.get("plan_digest") != plan_digest:
            continue  # a decision about an earlier draft does not carry over
        try:
            role = Role(row.get("role", ""))
        except ValueError:
            continue
        if role in decisions:
            decisions[role] = row
    return ApprovalState(step, decisions)


def active_waiver(
    ledger: Ledger, procedure: str, gate: str, today: date
) -> dict[str, str] | None:
    """Return the latest waiver of ``gate`` that has not expired, if any."""
    found = None
    for row in ledger.rows():
        if row.get("procedure") != procedure or row.get("gate") != gate:
            continue
        try:
            expires = date.fromisoformat(row.get("expires", ""))
        except ValueError:
            continue
        if expires >= today:
            found = row
    return found


def record_waiver(
    ledger: Ledger,
    config: Config,
    procedure: str,
    gate: str,
    justification: str,
    role: Role,
    expires: date,
    now: datetime,
    email: str | None = None,
) -> dict[str, str]:
    if not justification.strip():
        raise InputError("a waiver needs a justification")
    if expires < now.date():
        raise InputError(f"--expires {expires.isoformat()} is in the past")
    approver = stakeholder_for(config, role, email)
    return ledger.append(
        {
            "time": now.isoformat(),
            "procedure": procedure,
            "gate": gate,
            "justification": justification.strip(),
            "approver": approver.name,
            "role": role.value,
            "expires": expires.isoformat(),
        }
    )
