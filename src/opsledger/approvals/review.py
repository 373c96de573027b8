"""Where the approvers of one document stand: who approved this version, whose approval
lapsed when the document changed, whose rejection is still unanswered.

A decision applies to one version (digest) of what it decides. For each required role the
review keeps the role's latest decision on the current version and its latest decision on
any version, which is enough to say:

- approved, awaited or refused now (the decision on the current version, if any);
- *lapsed*: the role's latest decision approved an earlier version;
- *unanswered*: the role's latest decision rejected or deferred a version (with its
  conditions) and the role has approved nothing since; it stays on show until it has.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opsledger.approvals.decisions import Decision
from opsledger.approvals.ledger import Ledger
from opsledger.core.options import Role

# How the step cell of the approval log names one of several subjects a step asks to be
# decided one by one (a prioritisation conflict): ``<step>/<subject id>``.
SUBJECT_SEPARATOR = "/"


def decision_key(step: str, subject: str = "") -> str:
    """Return the approval log's step cell for ``step`` (and one of its subjects)."""
    return f"{step}{SUBJECT_SEPARATOR}{subject}" if subject else step


@dataclass(frozen=True)
class DecisionRow:
    """One decision of the approval log, typed."""

    seq: int
    time: str
    stakeholder: str
    email: str
    role: Role
    decision: Decision
    conditions: str
    digest: str
    hash: str

    @property
    def approves(self) -> bool:
        return self.decision is Decision.APPROVED

    @property
    def who(self) -> str:
        return f"{self.stakeholder} ({self.role.value})"

    @property
    def day(self) -> str:
        return self.time[:10]

    def describe(self, what: str = "") -> str:
        """Return e.g. ``Chen Haddad (operations-director) rejected it on 2026-11-01``."""
        return f"{self.who} {self.decision.value}{' ' + what if what else ''} on {self.day}"

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "time": self.time, "stakeholder": self.stakeholder,
            "email": self.email, "role": self.role.value, "decision": self.decision.value,
            "conditions": self.conditions, "digest": self.digest,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, str]) -> DecisionRow | None:
        """Return the typed row, or None for a row that names no known role or decision."""
        try:
            role = Role(row.get("role", ""))
            decision = Decision(row.get("decision", ""))
            seq = int(row.get("seq", ""))
        except ValueError:
            return None
        return cls(seq, row.get("time", ""), row.get("stakeholder", ""), row.get("email", ""),
                   role, decision, row.get("conditions", ""), row.get("plan_digest", ""),
                   row.get("hash", ""))


def decision_rows(rows: Iterable[Mapping[str, str]], procedure: str, key: str) -> list[DecisionRow]:
    """Return the decisions recorded for ``key`` (a step cell) of ``procedure``, in order."""
    found = []
    for row in rows:
        if row.get("procedure") != procedure or row.get("step") != key:
            continue
        typed = DecisionRow.from_row(row)
        if typed is not None:
            found.append(typed)
    return found


@dataclass(frozen=True)
class ApprovalReview:
    """The required roles' decisions on the current version (digest) of one document."""

    key: str  # the step cell of the approval log
    digest: str
    roles: tuple[Role, ...]
    on_current: Mapping[Role, DecisionRow | None]
    latest: Mapping[Role, DecisionRow | None]

    @property
    def approved_by(self) -> list[DecisionRow]:
        return [row for row in self.on_current.values() if row is not None and row.approves]

    @property
    def awaited(self) -> list[Role]:
        return [role for role in self.roles if self.on_current[role] is None]

    @property
    def refused(self) -> list[DecisionRow]:
        """Return the rejections and deferrals of the current version."""
        return [row for row in self.on_current.values() if row is not None and not row.approves]

    @property
    def lapsed(self) -> list[DecisionRow]:
        """Return approvals of an earlier version by roles that have not decided on this one."""
        return [
            row for role in self.roles
            if self.on_current[role] is None
            and (row := self.latest[role]) is not None and row.approves
        ]

    @property
    def unanswered(self) -> list[DecisionRow]:
        """Return rejections and deferrals of an earlier version that no approval answered."""
        return [
            row for role in self.roles
            if self.on_current[role] is None
            and (row := self.latest[role]) is not None and not row.approves
        ]

    @property
    def approved(self) -> bool:
        return len(self.approved_by) == len(self.roles)

    @property
    def disagreement(self) -> bool:
        """True when some approvers approved and others refused (now or unanswered)."""
        return bool(self.approved_by or self.lapsed) and bool(self.refused or self.unanswered)

    def count(self) -> str:
        """Return e.g. ``3 of 4 approved``."""
        return f"{len(self.approved_by)} of {len(self.roles)} approved"

    def fingerprint(self) -> list[str]:
        """Return the hashes of every row this review rests on (to tell what is new)."""
        rows = {row.hash for row in (*self.on_current.values(), *self.latest.values()) if row}
        return sorted(rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "roles": [r.value for r in self.roles],
            "approved": self.approved,
            "approved_by": [r.to_json() for r in self.approved_by],
            "awaited": [r.value for r in self.awaited],
            "refused": [r.to_json() for r in self.refused],
            "lapsed": [r.to_json() for r in self.lapsed],
            "unanswered": [r.to_json() for r in self.unanswered],
        }


def review_decisions(
    rows: Iterable[DecisionRow], key: str, roles: tuple[Role, ...], digest: str
) -> ApprovalReview:
    """Return where ``roles`` stand on version ``digest``, from the decisions for ``key``."""
    on_current: dict[Role, DecisionRow | None] = {role: None for role in roles}
    latest: dict[Role, DecisionRow | None] = {role: None for role in roles}
    for row in rows:
        if row.role not in latest:
            continue
        latest[row.role] = row
        if row.digest == digest:
            on_current[row.role] = row
    return ApprovalReview(key, digest, roles, on_current, latest)


def review_approvals(
    ledger: Ledger, procedure: str, key: str, roles: tuple[Role, ...], digest: str
) -> ApprovalReview:
    """Return the review of ``key``'s approvals from the log (not verified here)."""
    return review_decisions(decision_rows(ledger.rows(), procedure, key), key, roles, digest)
