"""The continuous maintenance and support planning procedure (p18) as data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opsledger.approvals.decisions import APPROVAL_LOG
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import P18_CRITICAL, Context
from opsledger.core.workspace import InputKey, Workspace
from opsledger.model.gates import GateResult
from opsledger.protocols.approval_log import approval_ledger
from opsledger.protocols.model import Gate, Procedure, Step, StepKind
from opsledger.protocols.p18_backlog import (
    AUTOMATION_FILE,
    BACKLOG_FILE,
    BACKLOG_INPUTS,
    CONFLICT_DECIDERS,
    MATRIX_FILE,
    consolidate_backlog,
    find_automation,
    matrix_conflicts,
    prioritise,
)
from opsledger.protocols.p18_intake import (
    BASELINE_ANALYSIS,
    HANDOVER_REPORT,
    assess_baseline,
    plan_support_coverage,
    validate_handover,
)
from opsledger.protocols.p18_plan import (
    APPROVERS,
    CALENDAR_FILE,
    CHECKLIST_FILE,
    PLAN_FILE_MD,
    configure_governance,
    draft_plan,
    gate_approvals,
    gate_backlog_integrity,
    gate_governance,
    secure_approvals,
)
from opsledger.protocols.runner import COMMUNICATION_LOG, GATE_REPORT
from opsledger.render.sections import Status, md_escape

COVERAGE_FILE = "support-coverage-plan.json"
LESSONS_FILE = "maintenance-lessons-input.md"
SUMMARY_FILE = "evidence-summary.md"


def _evidence_dir(ws: Workspace) -> Path:
    return ws.p18_evidence


STEPS = (
    Step(
        "1.1-handover", 1, "Validate handover completeness",
        "Checking the handover package, ownership records and knowledge gaps for "
        "operational readiness.",
        StepKind.MUST,
        ("inspect every handover artifact", "confirm an owner for every service",
         "list open knowledge gaps"),
        (HANDOVER_REPORT,), validate_handover,
        inputs=(*P18_CRITICAL, InputKey.BACKSTAGE),
    ),
    Step(
        "1.2-baseline", 1, "Assess operational baselines",
        "Comparing the observability baseline, SLAs and incident history to find risk areas.",
        StepKind.MUST,
        ("baseline against the catalog", "SLA metrics", "risk areas from incident history"),
        (BASELINE_ANALYSIS,), assess_baseline,
        inputs=(InputKey.OBSERVABILITY_BASELINE, InputKey.HANDOVER_RECORD, InputKey.INCIDENTS,
                InputKey.POSTMORTEMS, InputKey.SERVICE_CATALOG, InputKey.BACKSTAGE),
    ),
    Step(
        "1.3-coverage", 1, "Align the support model with forecast demand",
        "Forecasting ticket volume and sizing support coverage and rotation.",
        StepKind.GUIDELINE,
        ("forecast ticket volume per queue", "staff each hour with Erlang C",
         "propose a rotation"),
        (COVERAGE_FILE,), plan_support_coverage,
        inputs=(InputKey.TICKETS,),
    ),
    Step(
        "2.1-backlog", 2, "Consolidate the maintenance backlog",
        "Merging technical debt, incident follow-ups, security risks and performance work "
        "into one backlog.",
        StepKind.MUST,
        ("merge all sources", "fold duplicates", "check owners and severity ratings"),
        (BACKLOG_FILE,), consolidate_backlog,
        inputs=(*BACKLOG_INPUTS, InputKey.SERVICE_CATALOG),
    ),
    Step(
        "2.2-prioritise", 2, "Prioritise remediation and enhancement streams",
        "Scoring every backlog item by risk, reach and cost of delay, aligned with SLAs and "
        "compliance.",
        StepKind.MUST,
        ("risk = likelihood × impact", "RICE", "WSJF", "SLA and compliance alignment",
         "surface conflicts"),
        (MATRIX_FILE,), prioritise,
        inputs=(*BACKLOG_INPUTS, InputKey.SERVICE_CATALOG),
        reads_evidence=(BACKLOG_FILE,),
        conditional_approvals=CONFLICT_DECIDERS,
        conflicts=matrix_conflicts,
    ),
    Step(
        "2.3-automation", 2, "Find automation opportunities",
        "Looking for recurring toil that runbook automation or self-healing could remove.",
        StepKind.GUIDELINE,
        ("cluster similar tickets", "estimate hours saved", "flag manual backlog work"),
        (AUTOMATION_FILE,), find_automation,
        inputs=(InputKey.TICKETS, InputKey.TECH_DEBT, InputKey.PERF_BACKLOG),
    ),
    Step(
        "3.1-plan", 3, "Draft the maintenance and support plan",
        "Drafting the plan: cadence, change windows, escalation, KPI reporting, "
        "responsibilities and coverage.",
        StepKind.MUST,
        ("cadence", "release and change windows", "escalation matrix", "KPI reporting",
         "responsibilities", "support coverage", "commitments"),
        (PLAN_FILE_MD,), draft_plan,
        inputs=(InputKey.HANDOVER_RECORD, InputKey.POSTMORTEMS, InputKey.PERF_BACKLOG,
                InputKey.SERVICE_CATALOG, InputKey.BACKSTAGE),
        reads_evidence=(BACKLOG_FILE, COVERAGE_FILE),
    ),
    Step(
        "3.2-approvals", 3, "Secure stakeholder approvals",
        "Presenting the maintenance plan to the operations, support, product and security "
        "leads for approval.",
        StepKind.MUST,
        ("review the plan with each lead", "record decisions and conditions"),
        (), secure_approvals,
        reads_evidence=(PLAN_FILE_MD,),
        approvals=APPROVERS,
        approves=(PLAN_FILE_MD,),
    ),
    Step(
        "3.3-governance", 3, "Configure monitoring and reporting cadence",
        "Scheduling KPI reviews and checking dashboards and alerts for the critical services.",
        StepKind.GUIDELINE,
        ("schedule KPI reviews", "check dashboards", "check alerts"),
        (CHECKLIST_FILE, CALENDAR_FILE), configure_governance,
        inputs=(InputKey.OBSERVABILITY_BASELINE, InputKey.SERVICE_CATALOG, InputKey.BACKSTAGE),
    ),
)

EVIDENCE = tuple(name for step in STEPS for name in step.evidence)


def quality_metrics(ws: Workspace, gates: list[GateResult]) -> list[tuple[str, str, str, str]]:
    """Return (metric, target, actual, how computed) for the evidence summary."""
    folder = _evidence_dir(ws)
    backlog_gate = next((g for g in gates if g.id == "p18-backlog-integrity"), None)
    rate = "n/a"
    if backlog_gate is not None:
        done, _, total = backlog_gate.actual.partition(" of ")
        total = total.split()[0] if total else ""
        if done.isdigit() and total.isdigit():
            rate = f"{int(done) / int(total) * 100:.0f}%" if int(total) else "100%"
    present = [name for name in EVIDENCE if (folder / name).exists()]
    json_files = [folder / n for n in EVIDENCE if n.endswith(".json") and (folder / n).exists()]
    intact = [p for p in json_files if _stamped(p)]
    ledger_ok = not approval_ledger(folder, PROCEDURE).verify()
    integrity = (len(intact) + int(ledger_ok)) / (len(json_files) + 1)
    return [
        ("Gate 1 pass rate", "≥ 95%", rate,
         "High/Critical backlog items with owner and due date ÷ all High/Critical items"),
        ("Evidence completeness", "100%", f"{len(present) / len(EVIDENCE) * 100:.0f}%",
         f"evidence files present ÷ {len(EVIDENCE)} the procedure names"),
        ("Integration integrity", "100%", f"{integrity * 100:.0f}%",
         "JSON evidence that parses and carries schema_version and generated_at, plus an "
         "intact approval log, ÷ all of them"),
    ]


def _stamped(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return False
    return isinstance(data, dict) and "schema_version" in data and "generated_at" in data


def finish(ctx: Context, gates: list[GateResult]) -> list[Path]:
    """Write the evidence summary (metrics, handoff checklist) and the lessons input."""
    ws = ctx.workspace
    folder = _evidence_dir(ws)
    metrics = quality_metrics(ws, gates)
    all_gates = all(g.passed for g in gates)
    handover = _load(folder / HANDOVER_REPORT) or {}
    declared = [a["not_applicable"] for a in handover.get("artifacts", [])
                if not a.get("present") and a.get("not_applicable")]
    prerequisites = "All prerequisites were met" + (
        f" ({len(declared)} declared not applicable)" if declared else "")
    checklist = [
        (prerequisites, bool(handover.get("complete"))),
        ("All workflow steps completed", True),
        ("All quality gates passed (or waivers documented)", all_gates),
        ("All evidence artifacts captured", all((folder / n).exists() for n in EVIDENCE)),
        ("Approval log intact", not approval_ledger(folder, PROCEDURE).verify()),
        ("Communication log complete", (folder / COMMUNICATION_LOG).exists()),
    ]
    lines = [
        "# p18 evidence summary\n\n",
        f"Generated {ctx.now.isoformat()}.\n\n",
        "## Evidence\n\n| Artifact | Present |\n| --- | --- |\n",
        *[f"| {n} | {'yes' if (folder / n).exists() else 'no'} |\n"
          for n in (*EVIDENCE, APPROVAL_LOG, COMMUNICATION_LOG, GATE_REPORT)],
        *(["\n## Prerequisites declared not applicable\n\n"
           "| Artifact | Declared by | Role | On | Reason |\n| --- | --- | --- | --- | --- |\n"]
          + [f"| {md_escape(d['artifact'])} | {md_escape(d['stakeholder'])} | "
             f"{md_escape(d['role'])} | {md_escape(d['time'][:10])} | "
             f"{md_escape(d['reason'])} |\n" for d in declared] if declared else []),
        "\n## Quality gates\n\n| Gate | Result | Actual |\n| --- | --- | --- |\n",
        *[f"| {md_escape(g.title)} | "
          f"{_verdict(g)} | "
          f"{md_escape(g.actual)} |\n" for g in gates],
        "\n## Quality metrics\n\n| Metric | Target | Actual | How it is computed |\n"
        "| --- | --- | --- | --- |\n",
        *[f"| {m} | {t} | {a} | {h} |\n" for m, t, a, h in metrics],
        "\n## Handoff checklist\n\n",
        *[f"- [{'x' if ok else ' '}] {text}\n" for text, ok in checklist],
        "\n",
        "Ready for the implementation retrospective.\n" if all(ok for _, ok in checklist)
        else "Not ready to hand off: see the unchecked items.\n",
    ]
    summary = folder / SUMMARY_FILE
    atomic_write_text(summary, "".join(lines))
    lessons = folder / LESSONS_FILE
    atomic_write_text(lessons, lessons_input(ctx, gates))
    return [summary, lessons]


def _verdict(gate: GateResult) -> str:
    if gate.waiver and gate.status is Status.FAIL:
        return (f"waived by {md_escape(gate.waiver.get('approver', ''))} until "
                f"{md_escape(gate.waiver.get('expires', ''))}: "
                f"{md_escape(gate.waiver.get('justification', ''))}")
    return gate.status.value


def lessons_input(ctx: Context, gates: list[GateResult]) -> str:
    """Return maintenance insights for the retrospective, from this run's evidence."""
    folder = _evidence_dir(ctx.workspace)
    lines = ["# Maintenance insights for the retrospective\n\n",
             f"Generated {ctx.now.isoformat()}.\n\n"]
    handover = _load(folder / HANDOVER_REPORT)
    if handover:
        gaps = handover.get("knowledge_gaps", {}).get("open", [])
        unclear = [o["service"] for o in handover.get("ownership", []) if not o.get("clear")]
        lines.append("## Handover\n\n")
        lines.append(f"- {len(gaps)} knowledge gaps still open.\n")
        lines.append(f"- Ownership unclear at intake: {', '.join(unclear) or 'none'}.\n\n")
    matrix = _load(folder / MATRIX_FILE)
    if matrix:
        items = matrix.get("items", [])
        lines.append("## Backlog\n\n")
        lines.append(f"- {len(items)} open items; conflicts: {len(matrix.get('conflicts', []))}."
                     "\n")
        for item in items[:5]:
            lines.append(f"- Top: {md_escape(item['id'])} {md_escape(item['title'])} "
                         f"(WSJF {item['scores']['wsjf']:.1f}, {item['priority']})\n")
        lines.append("\n")
    automation = _load(folder / AUTOMATION_FILE)
    if automation:
        candidates = automation.get("ticket_candidates", [])[:3]
        lines.append("## Toil worth automating\n\n")
        for c in candidates:
            lines.append(f"- {md_escape(c.get('label') or c.get('category', ''))}: "
                         f"{c.get('hours_saved_per_month', '?')} hours a month\n")
        lines.append("\n")
    lines.append("## Gates\n\n")
    for g in gates:
        verdict = "waived" if g.waiver else ("passed" if g.passed else "failed")
        lines.append(f"- {md_escape(g.title)}: {verdict} ({md_escape(g.actual)})\n")
    return "".join(lines)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


PROCEDURE = Procedure(
    "p18",
    "Continuous maintenance and support planning",
    _evidence_dir,
    STEPS,
    (
        Gate("p18-backlog-integrity", "Maintenance backlog integrity", gate_backlog_integrity),
        Gate("p18-stakeholder-approval", "Stakeholder approval confirmation", gate_approvals),
        Gate("p18-governance-cadence", "Governance cadence activation", gate_governance),
    ),
    completion="Maintenance and support plan approved; evidence ready for the retrospective.",
    finish=finish,
    prerequisites=P18_CRITICAL,
)
