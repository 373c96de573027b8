"""p09 through the runner: four steps halting for approval, then the three gates."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import DEMO_NOW, cli

NOW = DEMO_NOW.isoformat()
STEPS = {
    "1-patch-cadence": ("sre-manager", "security-lead"),
    "2-monitoring": ("sre-manager", "operations-director"),
    "3-optimisation": ("engineering-manager", "finance"),
    "4-roadmap": ("product-owner", "operations-director"),
}


def gates(ws: Path) -> dict[str, dict[str, object]]:
    _, out = cli("gates", "p09", str(ws), "--now", NOW, "--json")
    return {g["id"]: g for g in json.loads(out)}


def test_each_step_halts_for_its_approvers_and_the_charter_gate_needs_approval(ws: Path) -> None:
    for step, roles in STEPS.items():
        code, out = cli("run", "p09", str(ws), "--now", NOW)
        assert code == 1
        assert f"Halted at step '{step}'" in out
        for role in roles:
            assert role in out
        if step == "4-roadmap":
            assert gates(ws)["p09-charter-approved"]["passed"] is False
        for role in roles:
            code, out = cli("approve", "p09", str(ws), "--step", step, "--as", role,
                            "--decision", "approved", "--now", NOW)
            assert code == 0, out
    code, out = cli("run", "p09", str(ws), "--now", NOW, "--json")
    outcome = json.loads(out)
    assert outcome["complete"] is True
    assert set(outcome["reused"]) == set(STEPS)
    results = {g["id"]: g for g in outcome["gates"]}
    assert results["p09-charter-approved"]["passed"] is True
    # The demo's planted incidents (a SEV2 without its postmortem) break the incident gate.
    incidents = results["p09-incidents-postmortems"]
    assert incidents["passed"] is False
    assert any("postmortem missing" in f for f in incidents["failures"])
    assert code == 1  # a gate failed
    evidence = ws / ".artifacts/protocol-09"
    for name in ("maintenance-schedule.md", "patch-plan.md", "monitoring-plan.md",
                 "prometheus/slo-rules.yaml", "alertmanager.yml"):
        assert (evidence / name).exists(), name
    assert (ws / "docs/roadmap/NEXT_PHASE.md").exists()
    assert (ws / "docs/optimization/PLAN.md").exists()


def test_a_changed_charter_needs_approving_again(ws: Path) -> None:
    for step, roles in STEPS.items():
        cli("run", "p09", str(ws), "--now", NOW)
        for role in roles:
            cli("approve", "p09", str(ws), "--step", step, "--as", role, "--decision",
                "approved", "--now", NOW)
    assert gates(ws)["p09-charter-approved"]["passed"] is True
    register = ws / "handover/TECH-DEBT-REGISTER.md"
    lines = register.read_text().splitlines(keepends=True)
    header = next(i for i, line in enumerate(lines) if line.startswith("| ID"))
    cells = ["TD-900", "Redesign the checkout error pages for accessibility", "checkout",
             "Dana Silva", "Medium", "Open", "2027-01-31", "5", "3", "3", "ux", "2026-10-01",
             "", ""]
    lines.insert(header + 2, "| " + " | ".join(cells) + " |\n")
    register.write_text("".join(lines))
    code, out = cli("run", "p09", str(ws), "--now", NOW)
    assert code == 1 and "Halted at step '4-roadmap'" in out
    assert gates(ws)["p09-charter-approved"]["passed"] is False
