"""Stakeholder approvals and gate waivers, kept in hash-chained append-only logs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from opsledger.approvals.ledger import Ledger, Witness
from opsledger.core.errors import InputError
from opsledger.core.options import Role

if TYPE_CHECKING:
    from opsledger.core.config import Config, Stakeholder

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


def approval_ledger(evidence_dir: Path, witness: Witness | None = None) -> Ledger:
    """Return the approval log of an evidence folder.

    ``witness`` names where else the workspace records that approvals exist (the
    procedures' run state), so that deleting the log and its head is still detected.
    """
    return Ledger(evidence_dir / APPROVAL_LOG, APPROVAL_COLUMNS, witness)


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


@dataclass(frozen=True)
class RecordedApproval:
    """A decision appended to the approval log: the row written and who made it."""

    row: dict[str, str]
    stakeholder: Stakeholder
    log: Path


def record_approval(
    ledger: Ledger,
    config: Config,
    procedure: str,
    step: str,
    role: Role,
    decision: Decision,
    conditions: str,
    plan_digest: str,
    now: datetime,
    email: str | None = None,
) -> RecordedApproval:
    """Append a stakeholder's decision on one version (digest) of a step's output.

    Nothing is added to a log that fails verification: a decision recorded after a break
    would be chained to rows nobody can vouch for.
    """
    person = stakeholder_for(config, role, email)
    breaks = ledger.verify()
    if breaks:
        raise InputError(
            f"{ledger.path}: the approval log fails verification (tampered with or "
            "damaged); nothing was added:\n  " + "\n  ".join(str(b) for b in breaks)
        )
    row = ledger.append({
        "time": now.isoformat(), "procedure": procedure, "step": step,
        "stakeholder": person.name, "email": person.email, "role": role.value,
        "decision": decision.value, "conditions": conditions, "plan_digest": plan_digest,
    })
    return RecordedApproval(row, person, ledger.path)
