"""``run --status``, ``gates`` and ``run`` read a step's and a gate's state the same way, and
exit with the same code; "unchanged since the last run" means inputs and decisions alike."""

from __future__ import annotations

import json
from pathlib import Path

from opsledger.approvals.decisions import Decision
from opsledger.core.config import Role
from opsledger.protocols.runner import evaluate_gates, run_procedure
from opsledger.protocols.standing import Standing, procedure_standing
from tests.conftest import DEMO_NOW, cli
from tests.protocols.test_p18 import approve_plan
from tests.protocols.toy import PROCEDURE, TICKETS, ctx_of, decide, toy_workspace

OPS, SUPPORT = Role.OPERATIONS_DIRECTOR, Role.SUPPORT_LEAD


def standings(root: Path) -> dict[str, str]:
    return {s.step.id: s.standing.value
            for s in procedure_standing(PROCEDURE, ctx_of(root)).steps}


def test_status_reads_approvals_recorded_since_the_last_run(tmp_path: Path) -> None:
    ws = toy_workspace(tmp_path)
    run_procedure(PROCEDURE, ctx_of(ws))
    standing = procedure_standing(PROCEDURE, ctx_of(ws))
    assert standings(ws) == {"intake": "completed", "plan": "awaiting-approval"}
    assert standing.exit_code == 1 and standing.halted_at == "plan"
    assert "0 of 2 approved the current plan.md" in standing.steps[1].note
    decide(ws, OPS, Decision.APPROVED)
    decide(ws, SUPPORT, Decision.APPROVED)
    # No run since: the status still reads the log as it is now, as the gates do.
    standing = procedure_standing(PROCEDURE, ctx_of(ws))
    assert standings(ws) == {"intake": "completed", "plan": "completed"}
    assert "2 of 2 approved the current plan.md" in standing.steps[1].note
    assert standing.exit_code == 0
    assert [g.to_json() for g in standing.gates] == [
        g.to_json() for g in evaluate_gates(PROCEDURE, ctx_of(ws))]
    events: list[tuple[str, str]] = []
    outcome = run_procedure(PROCEDURE, ctx_of(ws), listener=lambda k, m: events.append((k, m)))
    assert outcome.exit_code == standing.exit_code == 0
    reuse = [m for k, m in events if k == "reuse"]
    assert reuse[0] == "Intake: unchanged since the last run"
    assert reuse[1].startswith("Plan: inputs unchanged; decisions since the last run: "
                               "Olu Ops (operations-director) approved on 2026-11-01; "
                               "Sue Support (support-lead) approved on 2026-11-01")
    events.clear()
    run_procedure(PROCEDURE, ctx_of(ws), listener=lambda k, m: events.append((k, m)))
    assert [m for k, m in events if k == "reuse"] == [
        "Intake: unchanged since the last run", "Plan: unchanged since the last run"]


def test_status_says_what_the_next_run_redoes(tmp_path: Path) -> None:
    ws = toy_workspace(tmp_path)
    run_procedure(PROCEDURE, ctx_of(ws))
    decide(ws, OPS, Decision.APPROVED)
    decide(ws, SUPPORT, Decision.APPROVED)
    (ws / "handover/ticket-history.csv").write_text(TICKETS + "T-3,billing,Ana\n")
    standing = procedure_standing(PROCEDURE, ctx_of(ws))
    assert standings(ws) == {"intake": Standing.CHANGED.value, "plan": Standing.WAITING.value}
    assert standing.halted_at == "intake" and standing.exit_code == 1
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert outcome.exit_code == 1 and outcome.halted_at == "plan"
    assert procedure_standing(PROCEDURE, ctx_of(ws)).halted_at == "plan"


def test_status_gates_and_run_agree_on_the_demo(ws: Path) -> None:
    from tests.protocols.p18_flow import walk_to_approvals

    now = DEMO_NOW.isoformat()
    walk_to_approvals(ws, DEMO_NOW)
    approve_plan(ws)
    status_code, out = cli("run", "p18", str(ws), "--status", "--json", "--now", now)
    status = json.loads(out)
    step = next(s for s in status["steps"] if s["step"] == "3.2-approvals")
    assert step["status"] == "completed"
    assert "4 of 4 approved the current maintenance-plan.md" in step["note"]
    gates_code, out = cli("gates", "p18", str(ws), "--now", now, "--json")
    assert [g["actual"] for g in status["gates"]] == [g["actual"] for g in json.loads(out)]
    approval = next(g for g in status["gates"] if g["id"] == "p18-stakeholder-approval")
    assert approval["actual"] == "4 of 4 approved the current plan"
    run_code, out = cli("run", "p18", str(ws), "--now", now)
    assert "Secure stakeholder approvals: unchanged since the last run" not in out
    assert "Secure stakeholder approvals: inputs unchanged; decisions since the last run" in out
    # Step 3.3 had not run: status said the procedure was not done (exit 1); the run then
    # finished the steps and failed on the same gates that 'gates' reported.
    assert status_code == run_code == gates_code == status["exit_code"] == 1
    status_code, out = cli("run", "p18", str(ws), "--status", "--now", now)
    assert status_code == 1 and "gates failing: p18-backlog-integrity" in out
    run_code, out = cli("run", "p18", str(ws), "--now", now)
    assert run_code == 1 and "Secure stakeholder approvals: unchanged since the last run" in out
