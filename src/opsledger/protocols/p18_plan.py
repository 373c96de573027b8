"""p18 phase 3: maintenance plan, stakeholder approvals, governance cadence; the gates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from opsledger.approvals.decisions import APPROVAL_COLUMNS, APPROVAL_LOG
from opsledger.approvals.digest import documents_digest
from opsledger.approvals.ledger import Ledger
from opsledger.approvals.review import ApprovalReview, review_approvals
from opsledger.core.config import Role
from opsledger.core.fileio import atomic_write_bytes, atomic_write_json, atomic_write_text
from opsledger.core.workspace import InputKey
from opsledger.incidents.service import escalation_markdown, escalation_matrix
from opsledger.model.gates import GateResult
from opsledger.model.handover import (
    ObservabilityBaseline,
    OwnershipAssignment,
    Postmortem,
    WorkItem,
)
from opsledger.patching.service import window_slots
from opsledger.protocols.approval_log import run_state_witness
from opsledger.protocols.model import Halt, HaltKind, Procedure, StepResult
from opsledger.protocols.p18_backlog import BACKLOG_FILE, parse_day, read_backlog_csv
from opsledger.protocols.p18_intake import catalog, critical_services, evidence_header
from opsledger.protocols.runner import StepContext, step_result
from opsledger.protocols.signoff import step_signoff
from opsledger.render.sections import Status, md_escape, md_table
from opsledger.review.service import (
    COMPLETE,
    governance_calendar,
    governance_checklist,
    scheduled_reviews,
)
from opsledger.support.service import PLAN_FILE, maintenance_plan_markdown

PLAN_FILE_MD = "maintenance-plan.md"
CHECKLIST_FILE = "governance-cadence-checklist.json"
CALENDAR_FILE = "governance-cadence.ics"
APPROVERS = (Role.OPERATIONS_DIRECTOR, Role.SUPPORT_LEAD, Role.PRODUCT_OWNER, Role.SECURITY_LEAD)
APPROVAL_STEP = "3.2-approvals"
WINDOW_OCCURRENCES = 4


def _assignments(sctx: StepContext) -> dict[str, OwnershipAssignment]:
    return {a.service: a for a in sctx.ctx.inputs.records(InputKey.HANDOVER_RECORD)
            if isinstance(a, OwnershipAssignment)}


def _commitment_gaps(sctx: StepContext) -> list[str]:
    """Return what the plan cannot commit to: critical follow-ups and optimisation items
    without an owner and a due date, critical services without an owner, rotation or SLA."""
    gaps = []
    assignments = _assignments(sctx)
    config = sctx.ctx.workspace.config
    rotations = {s.name: s.oncall for s in config.services}
    rotations.update({c.name: c.oncall for c in catalog(sctx) if c.oncall
                      and not rotations.get(c.name)})
    team_owners = {s.name: s.owner for s in config.services if s.owner}
    ws = sctx.ctx.workspace
    record = ws.path(InputKey.HANDOVER_RECORD).relative_to(ws.root)
    for service in critical_services(sctx):
        assignment = assignments.get(service)
        if (assignment is None or not assignment.owner) and not team_owners.get(service):
            gaps.append(f"critical service {service}: no owner in the handover record or "
                        "opsledger.yaml")
        if not rotations.get(service):
            gaps.append(f"critical service {service}: no on-call rotation")
        if assignment is None or (assignment.availability_sla is None
                                  and assignment.response_sla_minutes is None):
            gaps.append(f"critical service {service}: no SLA in the handover record (its "
                        f"'sla' in {record})")
    for pm in sctx.ctx.inputs.records(InputKey.POSTMORTEMS):
        if not isinstance(pm, Postmortem) or (pm.severity or "").upper() not in ("SEV1", "SEV2"):
            continue
        for item in pm.action_items:
            if item.status.is_open and (not item.owner or not item.due_date):
                gaps.append(f"follow-up {item.id} of {pm.incident_id}: "
                            + ("no owner" if not item.owner else "no due date"))
    for item in sctx.ctx.inputs.records(InputKey.PERF_BACKLOG):
        if isinstance(item, WorkItem) and item.status.is_open and (not item.owner
                                                                    or not item.due_date):
            gaps.append(f"optimisation item {item.id}: "
                        + ("no owner" if not item.owner else "no due date"))
    return gaps


def _windows_section(sctx: StepContext) -> list[str]:
    """Return the change windows; their next occurrences follow on a line of their own,
    which the approval digest leaves out (it changes with the clock, not with the plan)."""
    config = sctx.ctx.workspace.config
    lines = ["## Release and change windows\n\n"]
    if not config.change_windows:
        return [*lines, "_No change windows in opsledger.yaml._\n\n"]
    rows = []
    upcoming = []
    until = sctx.now + timedelta(days=120)
    for window in config.change_windows:
        slots = []
        for slot in window_slots(window, sctx.now, until):
            slots.append(slot.start.strftime("%Y-%m-%d %H:%M %Z"))
            if len(slots) == WINDOW_OCCURRENCES:
                break
        rows.append([window.name, window.cron, window.timezone,
                     f"{window.duration_minutes} min", ", ".join(window.services) or "all"])
        upcoming.append(f"{md_escape(window.name)} {', '.join(slots) or 'none in 120 days'}")
    lines.append(md_table(["Window", "Cron", "Time zone", "Length", "Services"], rows))
    lines.append(f"\nNext occurrences as of {sctx.now.date().isoformat()}: "
                 + "; ".join(upcoming) + "\n")
    if config.freezes:
        lines.append("\nFreezes: " + "; ".join(
            f"{md_escape(f.name)} {f.start} to {f.end} (allowed: {', '.join(f.allow)})"
            for f in config.freezes) + "\n")
    lines.append("\n")
    return lines


def _coverage_section(sctx: StepContext) -> list[str]:
    path = sctx.evidence_path(PLAN_FILE)
    lines = ["## Support coverage\n\n"]
    if not path.exists():
        return [*lines, "_No support coverage plan: ticket history was not available._\n\n"]
    # The support capability renders its own plan file, so the columns match its keys.
    return [*lines, maintenance_plan_markdown(json.loads(path.read_text())), "\n"]


def draft_plan(sctx: StepContext) -> StepResult:
    """Step 3.1: cadence, windows, escalation, KPI reporting, responsibilities, coverage."""
    ws = sctx.ctx.workspace
    config = ws.config
    assignments = _assignments(sctx)
    matrix = escalation_matrix(config, catalog(sctx), config.incidents)
    backlog_path = sctx.evidence_path(BACKLOG_FILE)
    backlog = read_backlog_csv(backlog_path) if backlog_path.exists() else []
    sla = config.policies.vulnerability_sla_days
    lines = [
        f"# Maintenance and support plan — {md_escape(config.organisation)}\n\n",
        f"Generated {sctx.now.isoformat()}.\n\nScope: {len(config.services)} services, "
        f"{len(critical_services(sctx))} of them critical (tier 0–1).\n\n",
        "## Maintenance cadence\n\n",
        f"- Security fixes: within the vulnerability SLA (critical {sla.critical} days, high "
        f"{sla.high}, medium {sla.medium}, low {sla.low}); known-exploited sooner.\n",
        "- Dependency patch and minor updates: monthly, in a change window.\n",
        "- Major upgrades: quarterly, planned as backlog items.\n",
        "- Backlog review: weekly, in WSJF order (see backlog-prioritization-matrix.json).\n",
        "- Postmortem action items: due 15 days after a SEV1 and 30 after a SEV2 unless "
        "agreed otherwise.\n\n",
    ]
    lines += _windows_section(sctx)
    lines.append("## Escalation matrix\n\n")
    lines.append(escalation_markdown(matrix, config.organisation).split("\n", 2)[-1] + "\n")
    lines.append("## KPI reporting\n\n")
    lines.append(md_table(
        ["Metric", "Cadence", "Owner", "Day", "Time"],
        [[r.metric, r.cadence, r.owner, r.day or "", f"{r.time} {r.timezone}"]
         for r in config.kpi_reviews],
    ) if config.kpi_reviews else "_No KPI reviews configured._\n")
    lines.append("\n## Responsibilities\n\n")
    lines.append(md_table(
        ["Service", "Tier", "Owner", "Team", "On call", "Response SLA (min)",
         "Availability SLA"],
        [[s.name, s.tier, (assignments[s.name].owner if s.name in assignments else None)
          or "unassigned", s.owner or "", s.oncall or "",
          _num(assignments[s.name].response_sla_minutes) if s.name in assignments else "",
          _pct(assignments[s.name].availability_sla) if s.name in assignments else ""]
         for s in sorted(config.services, key=lambda s: (s.tier, s.name))],
        "lrlllrr",
    ))
    lines.append("\nApprovers: " + ", ".join(
        f"{s.name} ({s.role.value})" for s in config.stakeholders if s.role in APPROVERS) + "\n\n")
    lines += _coverage_section(sctx)
    lines.append("## Commitments\n\n")
    committed = [r for r in backlog if r.get("status") not in ("done", "wont_do")
                 and r.get("severity") in ("critical", "high")]
    lines.append(md_table(
        ["Item", "Title", "Source", "Owner", "Due", "Priority"],
        [[r["id"], r["title"], r["source"], r["owner"] or "unassigned",
          r["due_date"] or "no date", r["priority"]] for r in committed],
    ) if committed else "_No open high or critical backlog items._\n")
    gaps = _commitment_gaps(sctx)
    if gaps:
        lines.append("\nNot yet committed (the plan cannot be final until these are):\n\n")
        lines += [f"- {md_escape(g)}\n" for g in gaps]
    path = sctx.evidence_path(PLAN_FILE_MD)
    atomic_write_text(path, "".join(lines))
    halts = []
    if gaps:
        halts.append(Halt(HaltKind.COVERAGE,
                          f"the plan lacks commitments or coverage: {len(gaps)} gap(s)",
                          tuple(gaps)))
    return step_result(f"plan drafted: {len(committed)} committed items, {len(gaps)} gaps",
                       [path], halts)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}%"


def secure_approvals(sctx: StepContext) -> StepResult:
    """Step 3.2: the plan presented to the operations, support, product and security leads.

    Their decisions are read from the approval log whenever the procedure's state is asked
    for (see :mod:`opsledger.protocols.signoff`), so this step's summary holds no count.
    """
    roles = sctx.step.required_approvals(sctx.ctx.workspace.config)
    return step_result(f"plan presented to {len(roles)} approvers: "
                       + ", ".join(r.value for r in roles), [])


def configure_governance(sctx: StepContext) -> StepResult:
    """Step 3.3: KPI review calendar and the governance checklist."""
    config = sctx.ctx.workspace.config
    baseline = next((r for r in sctx.ctx.inputs.records(InputKey.OBSERVABILITY_BASELINE)
                     if isinstance(r, ObservabilityBaseline)), None)
    metrics = baseline.metrics if baseline else ()
    dashboards = {m.service for m in metrics if m.dashboard} | {
        c.name for c in catalog(sctx) if c.dashboard}
    alerts = {m.service for m in metrics if m.alert}
    fields = governance_checklist(config, critical_services(sctx), dashboards, alerts)
    reviews = scheduled_reviews(config, sctx.now)
    calendar = sctx.evidence_path(CALENDAR_FILE)
    atomic_write_bytes(calendar, governance_calendar(reviews, sctx.now))
    checklist = {
        **evidence_header(sctx, (InputKey.OBSERVABILITY_BASELINE, InputKey.SERVICE_CATALOG)),
        "fields": {f.name: f.to_json() for f in fields},
        "reviews": [
            {"metric": r.review.metric, "cadence": r.review.cadence, "owner": r.owner,
             "next": r.first.isoformat()} for r in reviews
        ],
    }
    path = sctx.evidence_path(CHECKLIST_FILE)
    atomic_write_json(path, checklist)
    incomplete = [f.name for f in fields if f.status != COMPLETE]
    halts = [Halt(HaltKind.FAILED_CHECK, f"governance checklist incomplete: "
                  f"{', '.join(incomplete)}",
                  tuple(m for f in fields for m in f.missing))] if incomplete else []
    return step_result(f"{len(reviews)} KPI reviews scheduled; checklist "
                       f"{len(fields) - len(incomplete)}/{len(fields)} complete",
                       [path, calendar], halts)


# --- gates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateMeta:
    id: str
    title: str
    criteria: str
    threshold: str
    evidence: str
    remedy: str

    def result(self, actual: str, status: Status, failures: tuple[str, ...] = ()) -> GateResult:
        return GateResult(self.id, self.title, self.criteria, self.threshold, self.evidence,
                          actual, status, failures, remedy=self.remedy)


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def check_backlog_integrity(path: Path, root: Path) -> GateResult:
    """Gate 1 on a maintenance-backlog.csv: every open High/Critical item complete."""
    base = GateMeta(id="p18-backlog-integrity", title="Maintenance backlog integrity",
                    criteria="100% of critical backlog items captured with owner, priority and "
                             "due date",
                    threshold="every High/Critical item has an owner and a due date",
                    evidence=_shown(path, root),
                    remedy="assign owners and due dates, update the backlog, run the gate again")
    if not path.exists():
        return base.result(f"{path.name} not written yet", Status.FAIL,
                           ("run 'opsledger run p18' first",))
    rows = read_backlog_csv(path)
    critical = [r for r in rows if r.get("severity") in ("high", "critical")
                and r.get("status") not in ("done", "wont_do")]
    failures = []
    for row in critical:
        missing = [word for word, absent in (
            ("no owner", not row.get("owner")),
            ("no due date", not parse_day(row.get("due_date", ""))),
            ("no priority", not row.get("priority"))) if absent]
        if missing:
            failures.append(f"{row['id']}: {', '.join(missing)} — {row['title']}")
    return base.result(
        f"{len(critical) - len(failures)} of {len(critical)} High/Critical items complete",
        Status.FAIL if failures else Status.PASS, tuple(failures))


def approvals_result(review: ApprovalReview | None, log: Path, root: Path,
                     breaks: list[str] | None = None) -> GateResult:
    """Gate 2 from the approvers' decisions on the plan as it is (None: no plan yet)."""
    base = GateMeta(id="p18-stakeholder-approval", title="Stakeholder approval confirmation",
                    criteria="Operations, Support, Product and Security leads approve the plan",
                    threshold="every required stakeholder's status is Approved",
                    evidence=_shown(log, root),
                    remedy="address feedback, revise the plan, obtain the approvals again")
    if breaks:
        return base.result("approval log tampered with", Status.FAIL, tuple(breaks))
    if review is None:
        return base.result("no maintenance plan yet", Status.FAIL)
    lapsed = {row.role: row for row in review.lapsed}
    unanswered = {row.role: row for row in review.unanswered}
    failures = []
    for role in review.awaited:
        if role in lapsed:
            failures.append(f"{role.value}: awaited ({lapsed[role].describe('an earlier version')}"
                            "; it lapsed when the plan changed)")
        elif role in unanswered:
            row = unanswered[role]
            failures.append(f"{role.value}: awaited ({row.describe('an earlier version')}; "
                            f"conditions: {row.conditions or '(none)'})")
        else:
            failures.append(f"{role.value}: awaited")
    failures += [f"{row.role.value}: {row.decision.value} by {row.stakeholder}; conditions: "
                 f"{row.conditions or '(none)'}" for row in review.refused]
    return base.result(f"{review.count()} the current plan",
                       Status.PASS if review.approved else Status.FAIL, tuple(failures))


def check_approvals(
    log: Path, plan: Path, root: Path, definition: Procedure
) -> GateResult:
    """Gate 2: the four leads approved this version of the plan, in an intact log."""
    ledger = Ledger(log, APPROVAL_COLUMNS, run_state_witness(definition))
    breaks = [str(b) for b in ledger.verify()]
    if breaks or not plan.exists():
        return approvals_result(None, log, root, breaks)
    digest = documents_digest({plan.name: plan})
    return approvals_result(
        review_approvals(ledger, "p18", APPROVAL_STEP, APPROVERS, digest), log, root)


def check_governance(path: Path, root: Path) -> GateResult:
    """Gate 3 on a governance-cadence-checklist.json: every field Complete."""
    base = GateMeta(id="p18-governance-cadence", title="Governance cadence activation",
                    criteria="reporting cadence scheduled, dashboards configured, monitoring "
                             "alerts active",
                    threshold="every checklist field is Complete",
                    evidence=_shown(path, root),
                    remedy="configure the missing dashboards, alerts or schedules; run again")
    if not path.exists():
        return base.result("checklist not written yet", Status.FAIL)
    try:
        fields: dict[str, Any] = json.loads(path.read_text()).get("fields", {})
    except (ValueError, AttributeError):
        return base.result("checklist is not valid JSON", Status.FAIL)
    incomplete = {k: v for k, v in fields.items() if v.get("status") != COMPLETE}
    return base.result(
        f"{len(fields) - len(incomplete)} of {len(fields)} fields Complete",
        Status.FAIL if incomplete else Status.PASS,
        tuple(f"{k}: {m}" for k, v in incomplete.items() for m in v.get("missing", [])),
    )


def gate_backlog_integrity(sctx: StepContext) -> GateResult:
    return check_backlog_integrity(sctx.evidence_path(BACKLOG_FILE), sctx.ctx.workspace.root)


def gate_approvals(sctx: StepContext) -> GateResult:
    step = sctx.procedure.step(APPROVAL_STEP)
    log = sctx.evidence_path(APPROVAL_LOG)
    if step is None or not sctx.evidence_path(PLAN_FILE_MD).exists():
        return approvals_result(None, log, sctx.ctx.workspace.root)
    signoff = step_signoff(StepContext(sctx.ctx, sctx.procedure, step, sctx.evidence_dir))
    breaks = [str(b) for b in signoff.breaks] if signoff else []
    return approvals_result(signoff.document if signoff else None, log,
                            sctx.ctx.workspace.root, breaks)


def gate_governance(sctx: StepContext) -> GateResult:
    return check_governance(sctx.evidence_path(CHECKLIST_FILE), sctx.ctx.workspace.root)
