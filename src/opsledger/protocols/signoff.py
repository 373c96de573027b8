"""Where a step's sign-off stands, and the halts that say so.

One function, :func:`step_signoff`, reads the approval log for a step: the decisions of its
required approvers on the document it presents, and the decisions on each conflict it asks
to be settled one by one. The runner, ``run --status`` and the gates all use it, so they
cannot disagree. :func:`signoff_halts` turns it into what the user reads: who approved,
whose approval lapsed and what changed in the document since, which rejections (with their
conditions) are still unanswered, and what settles each disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opsledger.approvals.changes import VERSIONS_DIR, kept_version, version_changes
from opsledger.approvals.digest import documents_digest
from opsledger.approvals.ledger import ChainBreak
from opsledger.approvals.review import (
    ApprovalReview,
    DecisionRow,
    decision_key,
    decision_rows,
    review_decisions,
)
from opsledger.protocols.approval_log import approval_ledger
from opsledger.protocols.model import Conflict, Halt, HaltKind, StepContext

# Changes listed under a lapsed approval before the rest are counted.
CHANGES_SHOWN = 12


@dataclass(frozen=True)
class ConflictReview:
    conflict: Conflict
    review: ApprovalReview


@dataclass(frozen=True)
class StepSignoff:
    """The decisions a step waits for, as the approval log holds them now."""

    subject: str  # what the approvers approve, as the user knows it (file names)
    document: ApprovalReview | None  # the step's document, by its required approvers
    conflicts: tuple[ConflictReview, ...]
    breaks: tuple[ChainBreak, ...]
    # For each earlier version a lapsed or unanswered decision refers to: what changed since
    # (None when that version's copy was not kept).
    changes: Mapping[str, list[str] | None]

    @property
    def complete(self) -> bool:
        return (not self.breaks
                and (self.document is None or self.document.approved)
                and all(c.review.approved for c in self.conflicts))

    def rows(self) -> list[DecisionRow]:
        reviews = ([self.document] if self.document else []) + [c.review for c in self.conflicts]
        rows = {row.hash: row for r in reviews for row in (*r.on_current.values(),
                                                            *r.latest.values()) if row}
        return sorted(rows.values(), key=lambda row: row.seq)

    def fingerprint(self) -> list[str]:
        """Return the hashes of the decisions this sign-off rests on (to tell what is new)."""
        return [row.hash for row in self.rows()]

    def summary(self) -> str:
        """Return e.g. ``3 of 4 approved maintenance-plan.md; 9 of 11 conflicts decided``."""
        if self.breaks:
            return "approval log fails verification"
        parts = []
        if self.document is not None:
            review = self.document
            text = f"{review.count()} the current {self.subject}"
            refused = [f"{row.role.value} {row.decision.value}" for row in review.refused]
            refused += [f"{row.role.value} {row.decision.value} an earlier version"
                        for row in review.unanswered]
            if refused:
                text += " (" + ", ".join(refused) + ")"
            if review.lapsed:
                text += f"; {len(review.lapsed)} approval(s) of an earlier version lapsed"
            parts.append(text)
        if self.conflicts:
            decided = sum(1 for c in self.conflicts if c.review.approved)
            parts.append(f"{decided} of {len(self.conflicts)} conflicts decided")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "summary": self.summary(),
            "document": self.document.to_json() if self.document else None,
            "conflicts": [{"id": c.conflict.id, "summary": c.conflict.summary,
                           **c.review.to_json()} for c in self.conflicts],
            "changes_since": dict(self.changes),
            "log_breaks": [str(b) for b in self.breaks],
        }


def _documents(sctx: StepContext) -> dict[str, bytes]:
    """Return the documents an approval of the step refers to, by file name, as on disk."""
    names = sctx.step.approves or sctx.step.evidence
    paths = [sctx.evidence_path(name) for name in names]
    return {path.name: path.read_bytes() for path in paths if path.exists()}


def document_digest(sctx: StepContext) -> str:
    """Return the digest of what an approval of the step refers to (its evidence by default)."""
    names = sctx.step.approves or sctx.step.evidence
    return documents_digest({name: sctx.evidence_path(name) for name in names})


def open_conflicts(sctx: StepContext) -> tuple[Conflict, ...]:
    return sctx.step.conflicts(sctx) if sctx.step.conflicts is not None else ()


def step_signoff(sctx: StepContext) -> StepSignoff | None:
    """Return where the step's sign-off stands (None when the step needs no decision)."""
    step = sctx.step
    roles = step.required_approvals(sctx.ctx.workspace.config)
    conflicts = open_conflicts(sctx)
    if not roles and not (conflicts and step.conditional_approvals):
        return None
    names = step.approves or step.evidence
    subject = ", ".join(sctx.evidence_path(n).name for n in names) if names else step.title
    ledger = approval_ledger(sctx.evidence_dir, sctx.procedure)
    breaks = tuple(ledger.verify())
    rows = ledger.rows()
    pid = sctx.procedure.id
    document = None
    changes: dict[str, list[str] | None] = {}
    if roles:
        key = decision_key(step.id)
        document = review_decisions(decision_rows(rows, pid, key), key, roles,
                                    document_digest(sctx))
        current = _documents(sctx)
        for row in (*document.lapsed, *document.unanswered):
            if row.digest not in changes:
                kept = kept_version(sctx.evidence_dir, row.digest, current)
                changes[row.digest] = None if kept is None else version_changes(kept, current)
    reviews = []
    for conflict in conflicts if step.conditional_approvals else ():
        key = decision_key(step.id, conflict.id)
        review = review_decisions(decision_rows(rows, pid, key), key, step.conditional_approvals,
                                  conflict.digest)
        reviews.append(ConflictReview(conflict, review))
        current = {conflict.file_name: conflict.content}
        for row in (*review.lapsed, *review.unanswered):
            if row.digest not in changes:
                kept = kept_version(sctx.evidence_dir, row.digest, current)
                changes[row.digest] = None if kept is None else version_changes(kept, current)
    return StepSignoff(subject, document, tuple(reviews), breaks, changes)


# --- halts --------------------------------------------------------------------------------


def _approve_command(sctx: StepContext, role: str, conflict: str = "") -> str:
    ws = sctx.ctx.workspace
    target = f" --conflict {conflict}" if conflict else ""
    return (f"opsledger approve {sctx.procedure.id} {ws.shell_root} --step {sctx.step.id}"
            f"{target} --as {role} --decision approved")


def _changes_lines(signoff: StepSignoff, digest: str, sctx: StepContext) -> list[str]:
    """Return what changed since version ``digest``, at most :data:`CHANGES_SHOWN` lines."""
    found = signoff.changes.get(digest)
    if found is None:
        return ["  (that version was not kept: compare with the document's history in "
                "version control)"]
    if not found:
        return ["  (no difference in content: only the way it is written changed)"]
    shown = [f"  {line}" for line in found[:CHANGES_SHOWN]]
    if len(found) > CHANGES_SHOWN:
        folder = sctx.evidence_dir / VERSIONS_DIR / digest
        shown.append(f"  … and {len(found) - CHANGES_SHOWN} more changes (the approved "
                     f"version is kept in {folder})")
    return shown


def _lapsed_lines(signoff: StepSignoff, review: ApprovalReview, sctx: StepContext) -> list[str]:
    """Return who approved an earlier version, grouped by version, and what changed since."""
    lines: list[str] = []
    by_version: dict[str, list[DecisionRow]] = {}
    for row in review.lapsed:
        by_version.setdefault(row.digest, []).append(row)
    for digest, rows in by_version.items():
        lines += [f"lapsed: {row.describe('it')}; it has changed since" for row in rows]
        lines.append("changed since then:")
        lines += _changes_lines(signoff, digest, sctx)
    return lines


def _unanswered_lines(signoff: StepSignoff, review: ApprovalReview,
                      sctx: StepContext) -> list[str]:
    """Return the rejections of earlier versions that no approval has answered yet."""
    lines: list[str] = []
    for row in review.unanswered:
        lines.append(
            f"unanswered: {row.describe('an earlier version')}; conditions: "
            f"{row.conditions or '(none given)'}; it stands until {row.role.value} approves "
            "a later version"
        )
        lines.append("changed since then:")
        lines += _changes_lines(signoff, row.digest, sctx)
    return lines


def _refusal_halts(review: ApprovalReview, subject: str, sctx: StepContext) -> list[Halt]:
    """Return one halt per rejection of the current version, with what settles it."""
    approvers = [row.who for row in review.approved_by]
    halts = []
    for row in review.refused:
        details = [f"conditions: {row.conditions or '(none given)'}"]
        if approvers:
            details.append(f"disagreement: approved by {', '.join(approvers)}; "
                           f"{row.who} {row.decision.value}")
        details.append(
            f"decided by {row.role.value}: revise {subject} to meet the conditions, run "
            f"again, then {row.role.value} approves the revised version"
        )
        halts.append(Halt(HaltKind.APPROVAL_REFUSED, row.describe(subject),
                          tuple(details)))
    return halts


def _document_halts(signoff: StepSignoff, review: ApprovalReview, sctx: StepContext) -> list[Halt]:
    halts = _refusal_halts(review, signoff.subject, sctx)
    if not review.awaited:
        return halts
    awaited = ", ".join(r.value for r in review.awaited)
    reason = f"awaiting approval of {signoff.subject} from: {awaited}"
    if review.lapsed:
        reason += (f" ({len(review.lapsed)} earlier approval(s) lapsed: the document changed "
                   "after they were given)")
    details = [*_unanswered_lines(signoff, review, sctx), *_lapsed_lines(signoff, review, sctx)]
    if review.approved_by:
        details.append("approved this version: " + ", ".join(r.who for r in review.approved_by))
    details += [_approve_command(sctx, r.value) for r in review.awaited]
    halts.append(Halt(HaltKind.APPROVAL_AWAITED, reason, tuple(details)))
    return halts


def _conflict_halt(signoff: StepSignoff, sctx: StepContext) -> list[Halt]:
    """Return one halt listing each undecided conflict, how it stands and what decides it."""
    undecided = [c for c in signoff.conflicts if not c.review.approved]
    if not undecided:
        return []
    deciders = ", ".join(r.value for r in sctx.step.conditional_approvals)
    details: list[str] = []
    for item in undecided:
        review, conflict = item.review, item.conflict
        details.append(f"{conflict.id}: {conflict.summary}")
        for row in review.refused:
            details.append(f"  {row.describe('it')}; conditions: {row.conditions or '(none)'}: "
                           "change the items to meet them, then decide again")
        for row in review.unanswered:
            details.append(f"  unanswered: {row.describe('an earlier form of it')}; conditions: "
                           f"{row.conditions or '(none)'}")
        for row in review.lapsed:
            details.append(f"  lapsed: {row.describe('it')}; it has changed since:")
            details += [f"  {line}" for line in _changes_lines(signoff, row.digest, sctx)]
    first = sctx.step.conditional_approvals[0].value
    one = undecided[0].conflict.id if len(undecided) == 1 else "ID"
    details.append(f"decide one: {_approve_command(sctx, first, one)} --conditions ...")
    details.append(f"decide every one listed: {_approve_command(sctx, first)} --conditions ...")
    return [Halt(
        HaltKind.CONFLICT,
        f"{len(undecided)} of {len(signoff.conflicts)} prioritisation conflict(s) need a "
        f"decision from {deciders}",
        tuple(details),
    )]


def signoff_halts(sctx: StepContext, signoff: StepSignoff | None) -> list[Halt]:
    """Return why the step still waits for decisions (empty when it does not)."""
    if signoff is None or signoff.complete:
        return []
    if signoff.breaks:
        ledger = approval_ledger(sctx.evidence_dir, sctx.procedure)
        return [Halt(HaltKind.FAILED_CHECK,
                     f"{ledger.path.name} has been tampered with; approvals cannot be trusted",
                     tuple(str(b) for b in signoff.breaks))]
    halts = _conflict_halt(signoff, sctx)
    if signoff.document is not None and not signoff.document.approved:
        halts += _document_halts(signoff, signoff.document, sctx)
    return halts


def new_decisions(signoff: StepSignoff | None, seen: list[str]) -> list[DecisionRow]:
    """Return the decisions recorded since the hashes ``seen`` were (at the last run)."""
    if signoff is None:
        return []
    known = set(seen)
    return [row for row in signoff.rows() if row.hash not in known]
