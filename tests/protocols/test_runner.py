"""The runner on a toy procedure: halts, resumes, reuses, approvals bound to a draft."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from opsledger.approvals.decisions import Decision, record_waiver, stakeholder_for, waiver_ledger
from opsledger.core.config import Role
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey, open_workspace
from opsledger.protocols.approval_log import approval_ledger
from opsledger.protocols.model import (
    Gate,
    GateResult,
    Halt,
    HaltKind,
    Procedure,
    Step,
    StepKind,
)
from opsledger.protocols.runner import (
    StepContext,
    approvable_digest,
    run_procedure,
    step_result,
)
from opsledger.protocols.standing import procedure_standing
from opsledger.render.junit import gates_junit
from opsledger.render.sections import Status

NOW = datetime(2026, 11, 1, tzinfo=UTC)
CONFIG = """
stakeholders:
  - {name: Olu Ops, email: olu@example.com, role: operations-director}
  - {name: Sue Support, email: sue@example.com, role: support-lead}
"""
calls: list[str] = []


def intake(sctx: StepContext) -> object:
    calls.append("intake")
    source = sctx.ctx.workspace.path(InputKey.TICKETS)
    out = sctx.evidence_path("intake.json")
    atomic_write_text(out, source.read_text() if source.exists() else "none")
    halts = [] if source.exists() else [Halt(HaltKind.MISSING_ARTIFACT, "tickets missing")]
    return step_result("read tickets", [out], halts)


def plan(sctx: StepContext) -> object:
    calls.append("plan")
    out = sctx.evidence_path("plan.md")
    atomic_write_text(out, "plan from " + sctx.evidence_path("intake.json").read_text())
    return step_result("drafted plan", [out])


def gate_check(sctx: StepContext) -> GateResult:
    flag = sctx.ctx.workspace.root / "gate-fails"
    failing = flag.exists()
    return GateResult(
        "g1",
        "Plan present",
        "plan written",
        "plan.md exists",
        "plan.md",
        "missing owner on 1 item" if failing else "ok",
        Status.FAIL if failing else Status.PASS,
        ("item X has no owner",) if failing else (),
    )


PROCEDURE = Procedure(
    "toy",
    "Toy procedure",
    lambda ws: ws.root / ".artifacts" / "toy",
    (
        Step(
            "intake",
            1,
            "Intake",
            "Reading tickets.",
            StepKind.MUST,
            ("read",),
            ("intake.json",),
            intake,
            inputs=(InputKey.TICKETS,),
        ),
        Step(
            "plan",
            2,
            "Plan",
            "Drafting plan.",
            StepKind.MUST,
            ("draft",),
            ("plan.md",),
            plan,
            reads_evidence=("intake.json",),
            approvals=(Role.OPERATIONS_DIRECTOR, Role.SUPPORT_LEAD),
        ),
    ),
    (Gate("g1", "Plan present", gate_check),),
)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    (tmp_path / "opsledger.yaml").write_text(CONFIG)
    calls.clear()
    return tmp_path


def ctx_of(root: Path, now: datetime = NOW) -> Context:
    return Context.open(open_workspace(root), now)


def approve(root: Path, role: Role, decision: Decision, conditions: str = "") -> None:
    ctx = ctx_of(root)
    step = PROCEDURE.steps[1]
    digest = approvable_digest(PROCEDURE, ctx, step)
    person = stakeholder_for(ctx.workspace.config, role)
    approval_ledger(PROCEDURE.evidence_dir(ctx.workspace), PROCEDURE).append(
        {
            "time": NOW.isoformat(),
            "procedure": "toy",
            "step": "plan",
            "stakeholder": person.name,
            "email": person.email,
            "role": role.value,
            "decision": decision.value,
            "conditions": conditions,
            "plan_digest": digest,
        }
    )


def test_halts_on_missing_artifact_then_resumes(ws: Path) -> None:
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert outcome.halted_at == "intake"
    assert outcome.halts[0].kind is HaltKind.MISSING_ARTIFACT
    assert outcome.exit_code == 1
    (ws / "handover").mkdir()
    (ws / "handover/ticket-history.csv").write_text("id\n1\n")
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert outcome.halted_at == "plan"
    assert outcome.halts[0].kind is HaltKind.APPROVAL_AWAITED
    assert "operations-director, support-lead" in outcome.halts[0].reason
    standing = procedure_standing(PROCEDURE, ctx_of(ws))
    status = {s.step.id: s.standing.value for s in standing.steps}
    assert status == {"intake": "completed", "plan": "awaiting-approval"}
    assert standing.exit_code == 1
    log = (ws / ".artifacts/toy/communication-log.md").read_text()
    assert "Reading tickets." in log and "awaiting approval" in log


def test_approvals_complete_the_step_and_unchanged_steps_are_reused(ws: Path) -> None:
    (ws / "handover").mkdir()
    (ws / "handover/ticket-history.csv").write_text("id\n1\n")
    run_procedure(PROCEDURE, ctx_of(ws))
    approve(ws, Role.OPERATIONS_DIRECTOR, Decision.APPROVED)
    approve(ws, Role.SUPPORT_LEAD, Decision.APPROVED)
    calls.clear()
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert outcome.complete and outcome.exit_code == 0
    assert outcome.reused == ["intake", "plan"] and calls == []
    # A changed input re-runs the step and, because its evidence changed, the next one too;
    # the approvals were for the old plan, so the new plan waits for approval again.
    (ws / "handover/ticket-history.csv").write_text("id\n1\n2\n")
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert calls == ["intake", "plan"]
    assert outcome.halted_at == "plan"
    assert outcome.halts[0].kind is HaltKind.APPROVAL_AWAITED


def test_rejection_halts_with_conditions(ws: Path) -> None:
    (ws / "handover").mkdir()
    (ws / "handover/ticket-history.csv").write_text("id\n1\n")
    run_procedure(PROCEDURE, ctx_of(ws))
    approve(ws, Role.OPERATIONS_DIRECTOR, Decision.REJECTED, "add weekend cover")
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    kinds = [h.kind for h in outcome.halts]
    assert HaltKind.APPROVAL_REFUSED in kinds
    refused = next(h for h in outcome.halts if h.kind is HaltKind.APPROVAL_REFUSED)
    assert "Olu Ops" in refused.reason and "add weekend cover" in refused.details[0]


def test_tampered_approval_log_is_detected(ws: Path) -> None:
    (ws / "handover").mkdir()
    (ws / "handover/ticket-history.csv").write_text("id\n1\n")
    run_procedure(PROCEDURE, ctx_of(ws))
    approve(ws, Role.OPERATIONS_DIRECTOR, Decision.REJECTED)
    approve(ws, Role.SUPPORT_LEAD, Decision.APPROVED)
    log = ws / ".artifacts/toy/approval-log.csv"
    text = log.read_text().replace(",rejected,", ",approved,")
    log.write_text(text)
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert outcome.halts[0].kind is HaltKind.FAILED_CHECK
    assert "tampered" in outcome.halts[0].reason
    assert any("edited" in d for d in outcome.halts[0].details)


def test_ledger_detects_deletion_and_reordering(tmp_path: Path) -> None:
    ledger = approval_ledger(tmp_path, PROCEDURE)
    for i in range(4):
        ledger.append({"time": f"t{i}", "decision": "approved", "conditions": f"=cmd{i}"})
    assert ledger.verify() == []
    assert ledger.rows()[0]["conditions"] == "'=cmd0"  # stored spreadsheet-safe
    lines = ledger.path.read_text().splitlines(keepends=True)
    ledger.path.write_text("".join(lines[:2] + lines[3:]))  # delete row 2
    assert any("chain broken" in b.problem for b in ledger.verify())
    ledger.path.write_text("".join([lines[0], lines[2], lines[1], *lines[3:]]))  # swap 1 and 2
    problems = [b.problem for b in ledger.verify()]
    assert any("chain broken" in p for p in problems)
    assert any("sequence" in p for p in problems)
    rows = list(csv.reader(lines))
    assert [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_gate_failure_then_waiver_passes_and_is_shown(ws: Path) -> None:
    (ws / "handover").mkdir()
    (ws / "handover/ticket-history.csv").write_text("id\n1\n")
    run_procedure(PROCEDURE, ctx_of(ws))
    approve(ws, Role.OPERATIONS_DIRECTOR, Decision.APPROVED)
    approve(ws, Role.SUPPORT_LEAD, Decision.APPROVED)
    (ws / "gate-fails").write_text("")
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert outcome.complete and not outcome.gates_passed and outcome.exit_code == 1
    junit = ET.fromstring(gates_junit("toy", outcome.gates, NOW))
    assert junit.find(".//failure") is not None
    ctx = ctx_of(ws)
    record_waiver(
        waiver_ledger(PROCEDURE.evidence_dir(ctx.workspace)),
        ctx.workspace.config,
        "toy",
        "g1",
        "owner joins next week",
        Role.OPERATIONS_DIRECTOR,
        date(2026, 11, 30),
        NOW,
    )
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert outcome.exit_code == 0
    assert outcome.gates[0].waiver is not None
    assert outcome.gates[0].waiver["approver"] == "Olu Ops"
    junit = ET.fromstring(gates_junit("toy", outcome.gates, NOW))
    assert junit.find(".//failure") is None
    assert "waived by Olu Ops" in (junit.find(".//system-out").text or "")
    # After expiry the gate fails again.
    outcome = run_procedure(PROCEDURE, ctx_of(ws, datetime(2026, 12, 2, tzinfo=UTC)))
    assert outcome.exit_code == 1


def test_waiver_needs_a_roster_role_and_a_future_expiry(ws: Path) -> None:
    ctx = ctx_of(ws)
    ledger = waiver_ledger(ws)
    with pytest.raises(InputError, match="security-lead"):
        record_waiver(
            ledger,
            ctx.workspace.config,
            "toy",
            "g1",
            "why",
            Role.SECURITY_LEAD,
            date(2026, 12, 1),
            NOW,
        )
    with pytest.raises(InputError, match="past"):
        record_waiver(
            ledger,
            ctx.workspace.config,
            "toy",
            "g1",
            "the owner joins the team next week",
            Role.OPERATIONS_DIRECTOR,
            date(2026, 10, 1),
            NOW,
        )
    assert not ledger.path.exists()


def test_from_step_reruns_that_step_and_the_rest(ws: Path) -> None:
    (ws / "handover").mkdir()
    (ws / "handover/ticket-history.csv").write_text("id\n1\n")
    run_procedure(PROCEDURE, ctx_of(ws))
    calls.clear()
    run_procedure(PROCEDURE, ctx_of(ws), from_step="plan")
    assert calls == ["plan"]
    with pytest.raises(InputError, match="no step"):
        run_procedure(PROCEDURE, ctx_of(ws), from_step="nope")
