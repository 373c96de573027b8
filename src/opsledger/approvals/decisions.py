"""Stakeholder approvals and gate waivers, kept in hash-chained append-only logs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from opsledger.approvals.ledger import Ledger, Witness
from opsledger.approvals.people import acting_stakeholder, check_justification
from opsledger.approvals.people import stakeholder_for as stakeholder_for
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


@dataclass(frozen=True)
class WaiverInForce:
    """A gate waiver that has not expired: who granted it, why, and until when."""

    procedure: str
    gate: str
    justification: str
    approver: str
    role: str
    granted: str  # ISO time the waiver was recorded
    expires: date

    def to_json(self) -> dict[str, str]:
        return {
            "procedure": self.procedure, "gate": self.gate,
            "justification": self.justification, "approver": self.approver,
            "role": self.role, "granted": self.granted, "expires": self.expires.isoformat(),
        }


def waivers_in_force(ledger: Ledger, today: date) -> tuple[WaiverInForce, ...]:
    """Return the waiver :func:`active_waiver` finds for every gate, soonest expiry first."""
    latest: dict[tuple[str, str], WaiverInForce] = {}
    for row in ledger.rows():
        try:
            expires = date.fromisoformat(row.get("expires", ""))
        except ValueError:
            continue
        if expires < today:
            continue
        waiver = WaiverInForce(row.get("procedure", ""), row.get("gate", ""),
                               row.get("justification", ""), row.get("approver", ""),
                               row.get("role", ""), row.get("time", ""), expires)
        latest[(waiver.procedure, waiver.gate)] = waiver
    return tuple(sorted(latest.values(), key=lambda w: (w.expires, w.procedure, w.gate)))


def record_waiver(
    ledger: Ledger,
    config: Config,
    procedure: str,
    gate: str,
    justification: str,
    role: Role | None,
    expires: date,
    now: datetime,
    email: str | None = None,
) -> dict[str, str]:
    """Append a waiver of ``gate`` until ``expires`` and return the row written.

    The waiver policy of ``opsledger.yaml`` (``policies.waivers``) says which roles may
    waive the gate and for how many days at most; the justification must say enough
    (``policies.justification``). Nothing is written when any of it is not met.
    """
    allowed, max_days = config.policies.waivers.rule(gate)
    approver = acting_stakeholder(config, role, email, allowed, f"waive {gate}")
    reason = check_justification(justification, config.policies.justification,
                                 "the justification")
    if expires < now.date():
        raise InputError(f"--expires {expires.isoformat()} is in the past")
    days = (expires - now.date()).days
    if days > max_days:
        raise InputError(
            f"--expires {expires.isoformat()} is {days} days away; {gate} may be waived for "
            f"at most {max_days} days (policies.waivers in opsledger.yaml), until "
            f"{(now.date() + timedelta(days=max_days)).isoformat()}"
        )
    return ledger.append(
        {
            "time": now.isoformat(),
            "procedure": procedure,
            "gate": gate,
            "justification": reason,
            "approver": approver.name,
            "role": approver.role.value,
            "expires": expires.isoformat(),
        }
    )


@dataclass(frozen=True)
class RecordedApproval:
    """A decision appended to the approval log: the row written and who made it."""

    row: dict[str, str]
    stakeholder: Stakeholder
    log: Path
    # Every row written when one decision covered several subjects (``row`` is the last).
    rows: tuple[dict[str, str], ...] = ()
    subject: str = ""  # what was decided on, as the user knows it (file names)


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
    if decision is not Decision.APPROVED and not conditions.strip():
        raise InputError(
            f"a decision '{decision.value}' needs --conditions: say what would make the "
            "document acceptable, so that the next draft can answer it"
        )
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
