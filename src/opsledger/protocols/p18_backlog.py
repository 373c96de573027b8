"""p18 phase 2: consolidated backlog, prioritisation matrix, automation candidates."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import Any

from opsledger.approvals.decisions import approval_ledger, approval_state
from opsledger.backlog.automation import automation_candidates
from opsledger.backlog.scoring import (
    BACKLOG_COLUMNS,
    Backlog,
    BacklogItem,
    Sources,
    consolidate,
)
from opsledger.core.config import Config, Role
from opsledger.core.fileio import atomic_write_csv, atomic_write_json
from opsledger.core.workspace import InputKey
from opsledger.model.common import ItemStatus
from opsledger.model.handover import KnowledgeGap, Postmortem, WorkItem
from opsledger.model.security import Finding
from opsledger.patching.cadence import assess_posture
from opsledger.protocols.model import Halt, HaltKind, StepResult
from opsledger.protocols.p18_intake import evidence_header, known_services
from opsledger.protocols.runner import StepContext, plan_digest, step_result

BACKLOG_FILE = "maintenance-backlog.csv"
MATRIX_FILE = "backlog-prioritization-matrix.json"
AUTOMATION_FILE = "automation-candidates.json"
BACKLOG_INPUTS = (
    InputKey.TECH_DEBT, InputKey.PERF_BACKLOG, InputKey.SECURITY_RISKS, InputKey.POSTMORTEMS,
    InputKey.KT_FEEDBACK, InputKey.SECURITY,
)
# Who decides when the prioritisation conflicts: the procedure's product and security leads.
CONFLICT_DECIDERS = (Role.PRODUCT_OWNER,)


def _work(sctx: StepContext, key: InputKey) -> list[WorkItem]:
    return [r for r in sctx.ctx.inputs.records(key) if isinstance(r, WorkItem)]


def findings_as_work(findings: list[Finding], config: Config, now: Any) -> list[WorkItem]:
    """Return scanner findings as backlog items, owned by the security lead until assigned."""
    lead = next(iter(config.stakeholders_with(Role.SECURITY_LEAD)), None)
    posture = assess_posture(findings, config.policies.vulnerability_sla_days, now)
    work = []
    for due in posture.items:
        finding = due.finding
        fix = f" to {finding.fixed[0]}" if finding.fixed else " (no fixed version yet)"
        work.append(WorkItem(
            id=finding.id,
            title=f"Upgrade {finding.package} {finding.installed or ''}{fix}".replace("  ", " "),
            source="scanner",
            service=None,
            owner=lead.name if lead else None,
            severity=finding.severity,
            status=ItemStatus.OPEN,
            due_date=due.due_date,
            category="dependency",
            reference=finding.id,
            created=due.first_seen,
            description=finding.summary,
        ))
    return work


def build_backlog(sctx: StepContext) -> Backlog:
    config = sctx.ctx.workspace.config
    inputs = sctx.ctx.inputs
    findings = [f for f in inputs.records(InputKey.SECURITY) if isinstance(f, Finding)]
    days = config.policies.action_item_sla_days
    return consolidate(
        Sources(
            tech_debt=_work(sctx, InputKey.TECH_DEBT),
            performance=_work(sctx, InputKey.PERF_BACKLOG),
            security=_work(sctx, InputKey.SECURITY_RISKS),
            postmortems=[p for p in inputs.records(InputKey.POSTMORTEMS)
                         if isinstance(p, Postmortem)],
            knowledge_gaps=[g for g in inputs.records(InputKey.KT_FEEDBACK)
                            if isinstance(g, KnowledgeGap)],
            findings=findings_as_work(findings, config, sctx.now),
            service_tiers={k: v for k, v in known_services(sctx).items() if v is not None},
            action_item_days={"SEV1": days.sev1, "SEV2": days.sev2, "SEV3": days.sev3,
                              "SEV4": days.sev4, "SEV5": days.sev5},
        ),
        sctx.now.date(),
        config.policies.backlog_sla_days,
    )


def consolidate_backlog(sctx: StepContext) -> StepResult:
    """Step 2.1: one tracker from debt, postmortems, risks, performance and scanners."""
    backlog = build_backlog(sctx)
    path = sctx.evidence_path(BACKLOG_FILE)
    atomic_write_csv(path, BACKLOG_COLUMNS, [item.as_row() for item in backlog.items])
    lacking = backlog.lacking_owner_or_severity()
    halts = []
    if lacking:
        details = tuple(
            f"{i.id} ({i.source}): "
            + ", ".join(w for w, bad in (("no owner", not i.owner),
                                         ("no severity", i.severity is None)) if bad)
            + f" — {i.title}"
            for i in lacking
        )
        halts.append(Halt(
            HaltKind.UNRATED,
            f"{len(lacking)} open backlog item(s) lack an owner or a severity rating",
            details,
        ))
    sources = sorted({s for i in backlog.items for s in i.source.split("+")})
    summary = (f"{len(backlog.items)} items from {', '.join(sources)}; "
               f"{backlog.duplicates_folded} duplicates folded; "
               f"{len(backlog.open_items())} open")
    return step_result(summary, [path], halts)


def _matrix_entry(item: BacklogItem) -> dict[str, Any]:
    s = item.scores
    return {
        "id": item.id,
        "title": item.title,
        "source": item.source,
        "service": item.service,
        "owner": item.owner,
        "severity": item.severity.value if item.severity else None,
        "priority": item.priority,
        "due_date": item.due_date.isoformat() if item.due_date else None,
        "status": item.status.value,
        "scores": {
            "likelihood": s.likelihood, "impact": s.impact, "risk": s.risk,
            "rice": s.rice, "wsjf": s.wsjf, "cost_of_delay": s.cost_of_delay,
            "job_size": s.job_size, "time_criticality": s.time_criticality,
            "confidence": s.confidence,
        },
        "rationale": s.rationale,
        "sla": {"due": item.sla_due.isoformat() if item.sla_due else None,
                "aligned": item.sla_aligned},
        "compliance": list(item.compliance),
        "merged_ids": list(item.merged_ids),
    }


def prioritise(sctx: StepContext) -> StepResult:
    """Step 2.2: risk, RICE and WSJF per item, SLA and compliance alignment, conflicts."""
    backlog = build_backlog(sctx)
    matrix = {
        **evidence_header(sctx, BACKLOG_INPUTS),
        "methods": {
            "risk": "likelihood (1-5) × impact (1-5); P1 ≥ 15, P2 ≥ 10, P3 ≥ 5, else P4",
            "rice": "reach × impact (0.25-3) × confidence ÷ effort (days)",
            "wsjf": "(business value + time criticality + risk reduction) ÷ job size, "
                    "modified Fibonacci 1-20; time criticality from days left to the due date",
        },
        "order": "WSJF, then risk, then due date",
        "items": [_matrix_entry(i) for i in backlog.items if i.status.is_open],
        "conflicts": [
            {"kind": c.kind, "items": list(c.items), "owner": c.owner,
             "explanation": c.explanation}
            for c in backlog.conflicts
        ],
    }
    path = sctx.evidence_path(MATRIX_FILE)
    atomic_write_json(path, matrix)
    halts = []
    if backlog.conflicts:
        ledger = approval_ledger(sctx.evidence_dir)
        state = approval_state(ledger, sctx.procedure.id, sctx.step.id, CONFLICT_DECIDERS,
                               plan_digest(sctx))
        if not state.approved:
            halts.append(Halt(
                HaltKind.CONFLICT,
                f"{len(backlog.conflicts)} prioritisation conflict(s) need a decision from "
                + ", ".join(r.value for r in CONFLICT_DECIDERS),
                (
                    *(c.explanation for c in backlog.conflicts),
                    f"when agreed: opsledger approve p18 WORKSPACE --step {sctx.step.id} "
                    f"--as {CONFLICT_DECIDERS[0].value} --decision approved --conditions ...",
                ),
            ))
    top = backlog.open_items()[:3]
    summary = (f"{len(matrix['items'])} open items scored; top: "
               + ", ".join(f"{i.id} (WSJF {i.scores.wsjf:.1f})" for i in top)
               + f"; {len(backlog.conflicts)} conflicts")
    return step_result(summary, [path], halts)


def find_automation(sctx: StepContext) -> StepResult:
    """Step 2.3: recurring toil in tickets and manual work in the backlog."""
    tickets = sctx.ctx.inputs.read(InputKey.TICKETS).records
    items = [w for key in (InputKey.TECH_DEBT, InputKey.PERF_BACKLOG)
             for w in _work(sctx, key)]
    content = automation_candidates(
        tickets, items, now=sctx.now,
        inputs=evidence_header(sctx, (InputKey.TICKETS, InputKey.TECH_DEBT))["inputs"],
    )
    path = sctx.evidence_path(AUTOMATION_FILE)
    atomic_write_json(path, content)
    summary_data = content.get("summary", {})
    summary = "automation candidates: " + (
        ", ".join(f"{k} {v}" for k, v in summary_data.items()) if isinstance(summary_data, dict)
        else "written"
    )
    return step_result(summary, [path])


def read_backlog_csv(path: Path) -> list[dict[str, str]]:
    """Return the rows of maintenance-backlog.csv as written (the gate reads the evidence)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
