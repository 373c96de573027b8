"""Prerequisites declared not applicable, kept in a hash-chained append-only log.

A team without a vendor handover has no closure package; one without a spreadsheet catalog
has no catalog workbook. A stakeholder may declare such an artifact not applicable, with a
reason; the declaration is one row of ``not-applicable-log.csv`` in the procedure's
evidence folder, and a later row may withdraw it. The newest row of each artifact decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from opsledger.approvals.ledger import ChainBreak, Ledger
from opsledger.approvals.people import acting_stakeholder, check_justification
from opsledger.core.errors import InputError
from opsledger.core.options import Role

if TYPE_CHECKING:
    from opsledger.core.config import Config

NOT_APPLICABLE_LOG = "not-applicable-log.csv"
NOT_APPLICABLE_COLUMNS = (
    "time", "procedure", "artifact", "status", "reason", "stakeholder", "email", "role",
)


class Declaration(StrEnum):
    NOT_APPLICABLE = "not-applicable"
    WITHDRAWN = "withdrawn"


def not_applicable_ledger(evidence_dir: Path) -> Ledger:
    return Ledger(evidence_dir / NOT_APPLICABLE_LOG, NOT_APPLICABLE_COLUMNS)


@dataclass(frozen=True)
class NotApplicable:
    """An artifact declared not applicable: by whom, when and why."""

    procedure: str
    artifact: str
    reason: str
    stakeholder: str
    email: str
    role: str
    time: str
    seq: str
    hash: str

    def describe(self) -> str:
        """Return e.g. ``not applicable (Chen Haddad, operations-director, 2026-11-01): …``."""
        return (f"declared not applicable by {self.stakeholder} ({self.role}) on "
                f"{self.time[:10]}: {self.reason}")

    def to_json(self) -> dict[str, str]:
        return {
            "artifact": self.artifact, "reason": self.reason, "stakeholder": self.stakeholder,
            "email": self.email, "role": self.role, "time": self.time, "log_row": self.seq,
        }


@dataclass(frozen=True)
class Declarations:
    """The declarations in force for a procedure, and whether their log can be trusted."""

    in_force: dict[str, NotApplicable]
    breaks: tuple[ChainBreak, ...] = ()
    log: Path | None = None

    def get(self, artifact: str) -> NotApplicable | None:
        return self.in_force.get(artifact) if not self.breaks else None


def declarations(ledger: Ledger, procedure: str) -> Declarations:
    """Return the artifacts of ``procedure`` declared not applicable and not withdrawn.

    A log that fails verification declares nothing (and says why in ``breaks``): a
    prerequisite is waived only by rows nobody has altered.
    """
    breaks = tuple(ledger.verify())
    if breaks:
        return Declarations({}, breaks, ledger.path)
    in_force: dict[str, NotApplicable] = {}
    for row in ledger.rows():
        if row.get("procedure") != procedure:
            continue
        artifact = row.get("artifact", "")
        if row.get("status") == Declaration.NOT_APPLICABLE.value:
            in_force[artifact] = NotApplicable(
                procedure, artifact, row.get("reason", ""), row.get("stakeholder", ""),
                row.get("email", ""), row.get("role", ""), row.get("time", ""),
                row.get("seq", ""), row.get("hash", ""),
            )
        else:
            in_force.pop(artifact, None)
    return Declarations(in_force, (), ledger.path)


def record_declaration(
    ledger: Ledger,
    config: Config,
    procedure: str,
    artifact: str,
    reason: str,
    now: datetime,
    email: str | None,
    role: Role | None = None,
    withdraw: bool = False,
) -> dict[str, str]:
    """Append a declaration that ``artifact`` is not applicable (or withdraw one).

    The person is a stakeholder of the roster, named by ``email`` and/or ``role``; the reason
    must say enough (``policies.justification``).
    """
    person = acting_stakeholder(config, role, email, None, "declare an artifact not applicable")
    current = declarations(ledger, procedure)
    if current.breaks:
        raise InputError(
            f"{ledger.path}: the log fails verification (tampered with or damaged); nothing "
            "was added:\n  " + "\n  ".join(str(b) for b in current.breaks)
        )
    if withdraw and artifact not in current.in_force:
        raise InputError(f"{artifact} is not declared not applicable; nothing to withdraw")
    text = check_justification(reason, config.policies.justification, "the reason")
    return ledger.append({
        "time": now.isoformat(), "procedure": procedure, "artifact": artifact,
        "status": (Declaration.WITHDRAWN if withdraw else Declaration.NOT_APPLICABLE).value,
        "reason": text, "stakeholder": person.name, "email": person.email,
        "role": person.role.value,
    })
