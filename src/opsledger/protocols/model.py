"""A procedure as data: steps with actions, evidence, halt conditions, approvals; gates."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsledger.approvals.not_applicable import Declarations, declarations, not_applicable_ledger
from opsledger.core.config import Config, Role
from opsledger.core.workspace import InputKey, Workspace
from opsledger.model.gates import GateResult

if TYPE_CHECKING:
    from datetime import datetime

    from opsledger.core.inputs import Context


class StepKind(StrEnum):
    MUST = "must"  # the procedure requires it; a halt stops the run
    GUIDELINE = "guideline"  # recommended; a problem is reported, the run goes on


class HaltKind(StrEnum):
    MISSING_ARTIFACT = "missing-artifact"
    INVALID_ARTIFACT = "invalid-artifact"
    OWNERSHIP = "ownership-unclear"
    UNRATED = "unrated-items"
    CONFLICT = "prioritisation-conflict"
    BASELINE = "baseline-unavailable"
    COVERAGE = "coverage-gap"
    APPROVAL_AWAITED = "approval-awaited"
    APPROVAL_REFUSED = "approval-refused"
    FAILED_CHECK = "failed-check"


@dataclass(frozen=True)
class Halt:
    kind: HaltKind
    reason: str
    details: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "reason": self.reason, "details": list(self.details)}


@dataclass(frozen=True)
class StepResult:
    """What a step produced: the evidence it wrote, why it halts (if it does), a summary."""

    summary: str
    evidence: tuple[Path, ...] = ()
    halts: tuple[Halt, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


StepAction = Callable[["StepContext"], StepResult]


@dataclass(frozen=True)
class Conflict:
    """A part of a step's output that its deciders settle on its own (a prioritisation
    conflict): each decision holds for the conflict as it stands, whatever else changes."""

    id: str  # what the decider types: ``--conflict ID``
    summary: str
    document: Mapping[str, Any]  # what is decided; its digest is what a decision refers to

    @property
    def content(self) -> bytes:
        return json.dumps(self.document, sort_keys=True, indent=1).encode()

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.document, sort_keys=True).encode()).hexdigest()

    @property
    def file_name(self) -> str:
        return f"{self.id}.json"


ConflictFinder = Callable[["StepContext"], tuple[Conflict, ...]]


@dataclass(frozen=True)
class Step:
    id: str
    phase: int
    title: str
    announcement: str
    kind: StepKind
    actions: tuple[str, ...]
    evidence: tuple[str, ...]  # file names in the procedure's evidence folder
    run: StepAction
    inputs: tuple[InputKey, ...] = ()  # what it reads, for change detection
    reads_evidence: tuple[str, ...] = ()  # evidence of earlier steps it reads
    approvals: tuple[Role, ...] = ()  # roles whose approval completes the step
    approves: tuple[str, ...] = ()  # evidence an approval refers to (default: the step's own)
    # Roles the step may ask to decide (e.g. a prioritisation conflict), not always required.
    conditional_approvals: tuple[Role, ...] = ()
    # The conflicts in the step's output, each decided on its own by ``conditional_approvals``.
    conflicts: ConflictFinder | None = None
    # Name of the field of ``config.approvals`` that lists the approvers, when configurable.
    approvals_setting: str | None = None

    def required_approvals(self, config: Config) -> tuple[Role, ...]:
        """Return the roles whose approval completes the step (configured or built in)."""
        if self.approvals_setting is not None:
            return tuple(getattr(config.approvals, self.approvals_setting))
        return self.approvals

    def approvers(self, config: Config) -> tuple[Role, ...]:
        return self.required_approvals(config) + self.conditional_approvals
    version: int = 1  # bump when the step's logic changes, so earlier results are redone


GateCheck = Callable[["StepContext"], GateResult]


@dataclass(frozen=True)
class Gate:
    id: str
    title: str
    check: GateCheck


@dataclass(frozen=True)
class Procedure:
    id: str
    title: str
    evidence_dir: Callable[[Workspace], Path]
    steps: tuple[Step, ...]
    gates: tuple[Gate, ...] = ()
    completion: str = ""  # what to say when every step is done
    # Inputs that must be present unless declared not applicable (the prerequisites).
    prerequisites: tuple[InputKey, ...] = ()
    # Writes the handoff artifacts once the steps are done and the gates evaluated.
    finish: Callable[[Context, list[GateResult]], list[Path]] | None = None

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)


@dataclass
class StepContext:
    """What a step sees: the run's context and where its evidence goes."""

    ctx: Context
    procedure: Procedure
    step: Step
    evidence_dir: Path

    @property
    def now(self) -> datetime:
        return self.ctx.now

    @property
    def not_applicable(self) -> Declarations:
        """Return the procedure's prerequisites declared not applicable (read once a run)."""
        return self.ctx.once(declarations_of, self.evidence_dir, self.procedure.id)

    def evidence_path(self, name: str) -> Path:
        """Return where evidence ``name`` lives: the evidence folder, or for a name starting
        with ``@`` one of the workspace's own documents (``@roadmap``, ``@optimization-plan``)."""
        if name.startswith("@"):
            return workspace_document(self.ctx.workspace, name)
        return self.evidence_dir / name


def declarations_of(ctx: Context, evidence_dir: Path, procedure: str) -> Declarations:
    """Return the declarations of ``procedure`` whose log lives in ``evidence_dir``."""
    return declarations(not_applicable_ledger(evidence_dir), procedure)


def workspace_document(ws: Workspace, name: str) -> Path:
    """Return the path of a document the procedures write outside their evidence folder."""
    documents = {
        "@roadmap": ws.root / ws.config.paths.roadmap,
        "@optimization-plan": ws.root / ws.config.paths.optimization,
        "@monthly-report": ws.reports_dir / "MONTHLY_OPS_REPORT.md",
    }
    if name not in documents:
        raise KeyError(f"unknown workspace document {name}")
    return documents[name]
