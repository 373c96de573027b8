"""p18 end to end on the demo workspace, through the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from xml.etree import ElementTree as ET

from opsledger.protocols.model import HaltKind
from tests.conftest import DEMO_NOW, cli
from tests.protocols.p18_flow import fix_backlog_item, run, walk_to_approvals

NOW = DEMO_NOW.isoformat()
APPROVERS = ("operations-director", "support-lead", "product-owner", "security-lead")


def approve_plan(root: Path) -> None:
    for role in APPROVERS:
        code, out = cli("approve", "p18", str(root), "--step", "3.2-approvals", "--as", role,
                        "--decision", "approved", "--now", NOW)
        assert code == 0, out


def test_planted_defects_halt_with_their_reasons_then_approvals_then_gates(ws: Path) -> None:
    code, out = cli("run", "p18", str(ws), "--now", NOW)
    assert code == 1
    # The handover record names nobody for 'orders'; opsledger.yaml names its team, which
    # counts: intake passes and the first halt is the backlog's unowned High item.
    assert "ownership unclear" not in out and "Halted at step '2.1-backlog'" in out
    outcomes = walk_to_approvals(ws, DEMO_NOW)
    kinds = [o.halts[0].kind for o in outcomes]
    assert kinds[0] is HaltKind.UNRATED  # the High tech-debt item without an owner
    assert outcomes[-1].halted_at == "3.2-approvals"
    awaited = outcomes[-1].halts[0]
    assert "maintenance-plan.md" in awaited.reason
    for role in APPROVERS:
        assert role in awaited.reason
    # Earlier steps are reused, not redone, once their inputs stop changing.
    assert "1.1-handover" in outcomes[-1].reused
    evidence = ws / ".artifacts/protocol-21"
    for name in ("handover-validation-report.json", "operational-baseline-analysis.md",
                 "support-coverage-plan.json", "maintenance-backlog.csv",
                 "backlog-prioritization-matrix.json", "automation-candidates.json",
                 "maintenance-plan.md"):
        assert (evidence / name).exists(), name
    report = json.loads((evidence / "handover-validation-report.json").read_text())
    assert report["schema_version"] == 1 and report["generated_at"] == NOW
    assert report["ownership_complete"] is True
    orders = next(o for o in report["ownership"] if o["service"] == "orders")
    assert (orders["owner"], orders["source"]) == ("fulfilment", "opsledger.yaml")
    assert "handover record names no owner" in orders["note"]

    approve_plan(ws)
    code, out = cli("run", "p18", str(ws), "--now", NOW)
    # Steps complete; the planted critical items without due dates fail the backlog gate.
    assert code == 1
    assert (evidence / "governance-cadence-checklist.json").exists()
    assert (evidence / "governance-cadence.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")
    code, out = cli("gates", "p18", str(ws), "--now", NOW, "--json")
    gates = {g["id"]: g for g in json.loads(out)}
    assert code == 1
    assert gates["p18-stakeholder-approval"]["passed"] is True
    backlog = gates["p18-backlog-integrity"]
    assert backlog["passed"] is False
    assert any("no due date" in f for f in backlog["failures"])

    # Fix the backlog; waive the governance gate; every gate passes, the waiver is shown.
    for failure in backlog["failures"]:
        fix_backlog_item(ws, failure)
    # The backlog changed, so the plan changed: its earlier approvals no longer apply.
    outcomes = walk_to_approvals(ws, DEMO_NOW)
    assert outcomes[-1].halted_at == "3.2-approvals"
    approve_plan(ws)
    code, out = cli("run", "p18", str(ws), "--now", NOW)
    if not gates["p18-governance-cadence"]["passed"]:
        code, out = cli("waive", "p18-governance-cadence", str(ws), "--justification",
                        "alerts for auth land next sprint", "--expires", "2026-11-30", "--by",
                        "operations-director", "--now", NOW)
        assert code == 0, out
    junit = ws / "gates.xml"
    code, out = cli("gates", "p18", str(ws), "--now", NOW, "--junit", str(junit))
    assert code == 0, out
    if not gates["p18-governance-cadence"]["passed"]:
        assert "waived" in out and "alerts for auth land next sprint" in out
        assert "waived by" in ET.parse(junit).getroot().find(".//system-out").text  # type: ignore[union-attr]
    assert ET.parse(junit).getroot().find(".//failure") is None
    code, out = cli("run", "p18", str(ws), "--now", NOW)
    assert code == 0, out
    summary = (evidence / "evidence-summary.md").read_text()
    assert "Quality metrics" in summary and "Gate 1 pass rate" in summary
    assert "- [x] All quality gates passed" in summary
    assert (evidence / "maintenance-lessons-input.md").exists()
    code, out = cli("run", "p18", str(ws), "--status", "--json", "--now", NOW)
    standing = json.loads(out)
    assert code == 0 and standing["exit_code"] == 0 and standing["complete"] is True
    assert {s["status"] for s in standing["steps"]} == {"completed"}


def test_an_edited_approval_log_is_detected(ws: Path) -> None:
    walk_to_approvals(ws, DEMO_NOW)
    code, out = cli("approve", "p18", str(ws), "--step", "3.2-approvals", "--as",
                    "security-lead", "--decision", "rejected", "--conditions", "patch first",
                    "--now", NOW)
    assert code == 0, out
    outcome = run(ws, DEMO_NOW)
    assert any(h.kind is HaltKind.APPROVAL_REFUSED and "patch first" in " ".join(h.details)
               for h in outcome.halts)
    log = ws / ".artifacts/protocol-21/approval-log.csv"
    rows = list(csv.reader(log.open()))
    rows[-1][rows[0].index("decision")] = "approved"
    with log.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    outcome = run(ws, DEMO_NOW)
    assert outcome.halts[0].kind is HaltKind.FAILED_CHECK
    assert "tampered" in outcome.halts[0].reason
    code, out = cli("approve", "p18", str(ws), "--step", "3.2-approvals", "--as",
                    "support-lead", "--decision", "approved", "--now", NOW)
    assert code == 2 and "tampered" in out
    code, out = cli("gates", "p18", str(ws), "--now", NOW, "--json")
    approval = next(g for g in json.loads(out) if g["id"] == "p18-stakeholder-approval")
    assert approval["passed"] is False and approval["actual"] == "approval log tampered with"


def test_approvals_need_a_roster_role_and_a_draft(ws: Path) -> None:
    code, out = cli("approve", "p18", str(ws), "--step", "3.2-approvals", "--as",
                    "support-lead", "--decision", "approved", "--now", NOW)
    assert code == 2 and "nothing to approve yet" in out
    code, out = cli("approve", "p18", str(ws), "--step", "1.1-handover", "--as",
                    "support-lead", "--decision", "approved", "--now", NOW)
    assert code == 2 and "needs no approval" in out
    assert not (ws / ".artifacts/protocol-21/approval-log.csv").exists()


def test_the_procedure_scripts_agree_with_the_gates(ws: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    import yaml

    from opsledger.protocols.scaffold import write_automation_hooks

    written = write_automation_hooks(ws)
    workflow = yaml.safe_load((ws / ".github/workflows/opsledger-gates.yml").read_text())
    steps = [s.get("run", "") for s in workflow["jobs"]["gates"]["steps"]]
    assert "opsledger gates p18 . --junit gates-p18.xml" in steps
    assert len([p for p in written if p.parent.name == "scripts"]) == 6
    walk_to_approvals(ws, DEMO_NOW)
    approve_plan(ws)
    cli("run", "p18", str(ws), "--now", NOW)
    _, out = cli("gates", "p18", str(ws), "--now", NOW, "--json")
    expected = {g["id"]: g["passed"] for g in json.loads(out)}
    evidence = ".artifacts/protocol-21"
    hooks = {
        "p18-backlog-integrity": ["validate_gate_18_backlog.py", "--input",
                                  f"{evidence}/maintenance-backlog.csv"],
        "p18-stakeholder-approval": ["validate_gate_18_approvals.py", "--log",
                                     f"{evidence}/approval-log.csv"],
        "p18-governance-cadence": ["validate_gate_18_governance.py", "--checklist",
                                   f"{evidence}/governance-cadence-checklist.json"],
    }
    for gate, (script, *args) in hooks.items():
        done = subprocess.run([sys.executable, f"scripts/{script}", *args], cwd=ws,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == (0 if expected[gate] else 1), done.stdout + done.stderr
        assert ("[PASS]" in done.stdout) == expected[gate]
    done = subprocess.run([sys.executable, "scripts/validate_prerequisites_18.py"], cwd=ws,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "[ok] closure-package" in done.stdout
    done = subprocess.run([sys.executable, "scripts/aggregate_evidence_18.py", "--output",
                           evidence], cwd=ws, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "evidence-summary.md" in done.stdout
