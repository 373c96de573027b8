"""A two-step procedure for runner tests: intake reads the tickets, the plan lists them in a
Markdown table and waits for two approvers; one gate."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from opsledger.approvals.decisions import Decision, RecordedApproval
from opsledger.core.config import Role
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey, open_workspace
from opsledger.model.status import Status
from opsledger.protocols.model import (
    Gate,
    GateResult,
    Halt,
    HaltKind,
    Procedure,
    Step,
    StepContext,
    StepKind,
    StepResult,
)
from opsledger.protocols.runner import step_result
from opsledger.protocols.service import record_decision

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CONFIG = """
stakeholders:
  - {name: Olu Ops, email: olu@example.com, role: operations-director}
  - {name: Sue Support, email: sue@example.com, role: support-lead}
"""
TICKETS = "id,queue,owner\nT-1,billing,Ana\nT-2,access,Ben\n"


def intake(sctx: StepContext) -> StepResult:
    source = sctx.ctx.workspace.path(InputKey.TICKETS)
    out = sctx.evidence_path("intake.csv")
    atomic_write_text(out, source.read_text() if source.exists() else "")
    halts = [] if source.exists() else [Halt(HaltKind.MISSING_ARTIFACT, "tickets missing")]
    return step_result("read tickets", [out], halts)


def plan(sctx: StepContext) -> StepResult:
    rows = list(csv.DictReader(io.StringIO(sctx.evidence_path("intake.csv").read_text())))
    lines = [f"# Plan\n\nGenerated {sctx.now.isoformat()}.\n\n## Queues\n\n",
             "| Ticket | Queue | Owner |\n| --- | --- | --- |\n",
             *(f"| {r['id']} | {r['queue']} | {r['owner']} |\n" for r in rows)]
    out = sctx.evidence_path("plan.md")
    atomic_write_text(out, "".join(lines))
    return step_result(f"planned {len(rows)} tickets", [out])


def always_passes(sctx: StepContext) -> GateResult:
    return GateResult("g1", "Plan present", "plan written", "plan.md exists", "plan.md", "ok",
                      Status.PASS)


PROCEDURE = Procedure(
    "toy",
    "Toy procedure",
    lambda ws: ws.root / ".artifacts" / "toy",
    (
        Step("intake", 1, "Intake", "Reading tickets.", StepKind.MUST, ("read",),
             ("intake.csv",), intake, inputs=(InputKey.TICKETS,)),
        Step("plan", 2, "Plan", "Drafting plan.", StepKind.MUST, ("draft",), ("plan.md",), plan,
             reads_evidence=("intake.csv",),
             approvals=(Role.OPERATIONS_DIRECTOR, Role.SUPPORT_LEAD)),
    ),
    (Gate("g1", "Plan present", always_passes),),
)


def toy_workspace(root: Path, tickets: str = TICKETS) -> Path:
    (root / "opsledger.yaml").write_text(CONFIG)
    (root / "handover").mkdir(exist_ok=True)
    (root / "handover/ticket-history.csv").write_text(tickets)
    return root


def ctx_of(root: Path, now: datetime = NOW) -> Context:
    return Context.open(open_workspace(root), now)


def decide(root: Path, role: Role, decision: Decision, conditions: str = "",
           now: datetime = NOW) -> RecordedApproval:
    """Record ``role``'s decision on the plan as it is now, as ``opsledger approve`` does."""
    return record_decision(ctx_of(root, now), PROCEDURE, "plan", role, decision, conditions)
