"""p18 phase 1: handover intake, operational baseline, support coverage."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from opsledger.core.catalog import catalog as workspace_catalog
from opsledger.core.catalog import known_services as workspace_services
from opsledger.core.fileio import atomic_write_json, atomic_write_text, sha256_tree
from opsledger.core.inputs import P18_CRITICAL, InputStatus
from opsledger.core.problems import Level
from opsledger.core.workspace import InputKey
from opsledger.model import schema
from opsledger.model.handover import (
    CatalogService,
    KnowledgeGap,
    ObservabilityBaseline,
    OwnershipAssignment,
    Postmortem,
)
from opsledger.model.incidents import Incident
from opsledger.protocols.model import Halt, HaltKind, StepResult
from opsledger.protocols.runner import StepContext, step_result
from opsledger.render.sections import md_escape, md_table
from opsledger.support.service import PLAN_FILE, build_coverage_plan

HANDOVER_REPORT = "handover-validation-report.json"
BASELINE_ANALYSIS = "operational-baseline-analysis.md"
# Weight of an incident in a service's risk score, by severity.
SEVERITY_WEIGHT = {"SEV1": 10.0, "SEV2": 5.0, "SEV3": 2.0, "SEV4": 1.0, "SEV5": 0.5}
RISK_HISTORY_DAYS = 90
MISSING_DASHBOARD_RISK = 3.0
MISSING_ALERT_RISK = 3.0
OVERDUE_ACTION_RISK = 1.5


def evidence_header(sctx: StepContext, keys: tuple[InputKey, ...]) -> dict[str, Any]:
    """Return the fields every JSON evidence file starts with."""
    ws = sctx.ctx.workspace
    digests = {}
    for key in keys:
        path = ws.path(key)
        digests[key.value] = sha256_tree(path) if path.exists() else None
    return {
        "schema_version": schema.PROCEDURE_EVIDENCE,
        "generated_at": sctx.now.isoformat(),
        "procedure": sctx.procedure.id,
        "step": sctx.step.id,
        "inputs": digests,
    }


def known_services(sctx: StepContext) -> dict[str, int | None]:
    """Return every service the workspace knows, with its tier (see :mod:`core.catalog`)."""
    return workspace_services(sctx.ctx)


def catalog(sctx: StepContext) -> list[CatalogService]:
    return workspace_catalog(sctx.ctx)


def critical_services(sctx: StepContext) -> list[str]:
    return sorted(name for name, tier in known_services(sctx).items() if tier is not None
                  and tier <= 1)


def _artifact(status: InputStatus, root_len: int) -> dict[str, Any]:
    return {
        "artifact": status.key.value,
        "path": str(status.path)[root_len:].lstrip("/"),
        "present": status.present,
        "parsed": status.present and not status.malformed,
        "valid": status.present and not status.malformed and status.quarantined == 0,
        "records": status.records,
        "problems": [
            {**p.to_json(), "path": p.path[root_len:].lstrip("/") if p.path.startswith(
                "/") else p.path}
            for p in status.problems if p.level is not Level.WARNING
        ],
    }


def _ownership_row(
    service: str, tier: int | None, assignment: OwnershipAssignment | None
) -> dict[str, Any]:
    """Return who owns a service after handover, and why ownership is unclear if it is."""
    owner = assignment.owner if assignment else None
    return {
        "service": service,
        "tier": tier,
        "owner": owner,
        "team": assignment.team if assignment else None,
        "escalation_contact": assignment.escalation_contact if assignment else None,
        "clear": bool(owner),
        "reason": "" if owner else (
            "no assignment in the handover record" if assignment is None
            else "assignment has no owner"),
    }


def _ownership(sctx: StepContext) -> list[dict[str, Any]]:
    """Return the ownership of every known service, by service name."""
    assignments = {
        a.service: a for a in sctx.ctx.inputs.records(InputKey.HANDOVER_RECORD)
        if isinstance(a, OwnershipAssignment)
    }
    return [_ownership_row(service, tier, assignments.get(service))
            for service, tier in sorted(known_services(sctx).items())]


def _knowledge_gaps(sctx: StepContext) -> dict[str, Any]:
    """Return the open knowledge-transfer gaps in full and the number of closed ones."""
    gaps = [g for g in sctx.ctx.inputs.records(InputKey.KT_FEEDBACK)
            if isinstance(g, KnowledgeGap)]
    open_gaps = [g for g in gaps if g.status.is_open]
    return {
        "open": [
            {"id": g.id, "topic": g.topic, "service": g.service, "owner": g.owner,
             "severity": g.severity.value, "due_date": g.due_date.isoformat()
             if g.due_date else None}
            for g in open_gaps
        ],
        "closed": len(gaps) - len(open_gaps),
    }


def _artifact_halts(
    sctx: StepContext, artifacts: list[dict[str, Any]], missing: list[str], malformed: list[str]
) -> list[Halt]:
    """Return the halts for critical handover artifacts that are missing or unreadable."""
    halts = []
    if missing:
        halts.append(Halt(HaltKind.MISSING_ARTIFACT,
                          f"critical handover artifacts missing: {', '.join(missing)}",
                          tuple(str(sctx.ctx.workspace.path(InputKey(k))) for k in missing)))
    if malformed:
        details = tuple(
            f"{p['path']}: {p['location']}: {p['message']}"
            for a in artifacts if a["artifact"] in malformed for p in a["problems"]
        )
        halts.append(Halt(HaltKind.INVALID_ARTIFACT,
                          f"handover artifacts unreadable: {', '.join(malformed)}", details))
    return halts


def _ownership_halts(unclear: list[str]) -> list[Halt]:
    """Return the halt for services without a clear owner, if there are any."""
    if not unclear:
        return []
    return [Halt(
        HaltKind.OWNERSHIP,
        f"ownership unclear for {len(unclear)} service(s): {', '.join(unclear)}",
        ("give each an owner in handover/operational-handover-record.json",),
    )]


def validate_handover(sctx: StepContext) -> StepResult:
    """Step 1.1: every prerequisite present and readable; every service owned."""
    root_len = len(str(sctx.ctx.workspace.root))
    statuses = [sctx.ctx.inputs.status(key) for key in P18_CRITICAL]
    artifacts = [_artifact(s, root_len) for s in statuses]
    missing = [s.key.value for s in statuses if not s.present]
    malformed = [s.key.value for s in statuses if s.present and s.malformed]
    ownership = _ownership(sctx)
    unclear = [row["service"] for row in ownership if not row["clear"]]
    knowledge_gaps = _knowledge_gaps(sctx)
    report = {
        **evidence_header(sctx, P18_CRITICAL),
        "artifacts": artifacts,
        "complete": not missing and not malformed,
        "ownership": ownership,
        "ownership_complete": not unclear,
        "knowledge_gaps": knowledge_gaps,
    }
    path = sctx.evidence_path(HANDOVER_REPORT)
    atomic_write_json(path, report)
    halts = _artifact_halts(sctx, artifacts, missing, malformed) + _ownership_halts(unclear)
    summary = (
        f"{len(P18_CRITICAL) - len(missing) - len(malformed)} of {len(P18_CRITICAL)} artifacts "
        f"usable; {len(ownership) - len(unclear)} of {len(ownership)} services owned; "
        f"{len(knowledge_gaps['open'])} open knowledge gaps"
    )
    return step_result(summary, [path], halts)


def _recent_incidents_by_service(sctx: StepContext) -> dict[str, list[Incident]]:
    """Return the incidents of the last ``RISK_HISTORY_DAYS`` days, by service."""
    since = sctx.now - timedelta(days=RISK_HISTORY_DAYS)
    by_service: dict[str, list[Incident]] = defaultdict(list)
    for incident in sctx.ctx.inputs.records(InputKey.INCIDENTS):
        if isinstance(incident, Incident) and incident.created_at >= since:
            by_service[incident.service].append(incident)
    return by_service


def _overdue_actions_by_service(sctx: StepContext) -> dict[str, int]:
    """Return the number of open postmortem action items past their due date, by service
    (the item's service, else its postmortem's)."""
    today = sctx.now.date()
    overdue: dict[str, int] = defaultdict(int)
    for pm in sctx.ctx.inputs.records(InputKey.POSTMORTEMS):
        if not isinstance(pm, Postmortem):
            continue
        for item in pm.action_items:
            if item.status.is_open and item.due_date and item.due_date < today:
                overdue[item.service or pm.service or ""] += 1
    return overdue


def _risk_factors(
    service: str,
    incidents: list[Incident],
    overdue_actions: int,
    dashboards: set[str],
    alerts: set[str],
) -> list[tuple[float, str]]:
    """Return what adds to a service's risk score, each with its evidence, in order."""
    factors: list[tuple[float, str]] = []
    if incidents:
        weight = sum(SEVERITY_WEIGHT.get(i.severity, 1.0) for i in incidents)
        majors = sum(1 for i in incidents if i.major)
        factors.append((weight, f"{len(incidents)} incidents in {RISK_HISTORY_DAYS} days "
                                f"({majors} SEV1/SEV2), weight {weight:g}"))
    if service not in dashboards:
        factors.append((MISSING_DASHBOARD_RISK, "no dashboard in the observability baseline"))
    if service not in alerts:
        factors.append((MISSING_ALERT_RISK, "no alert in the observability baseline"))
    if overdue_actions:
        factors.append((OVERDUE_ACTION_RISK * overdue_actions,
                        f"{overdue_actions} overdue postmortem action items"))
    return factors


def _risk_area(
    service: str, tier: int | None, factors: list[tuple[float, str]]
) -> dict[str, Any] | None:
    """Return a service's risk score with its evidence, weighted ×1.5 for tier 0–1;
    ``None`` when nothing adds to it."""
    score = 0.0
    evidence = []
    for points, reason in factors:
        score += points
        evidence.append(reason)
    if tier is not None and tier <= 1 and score:
        score *= 1.5
        evidence.append(f"tier {tier}: risk weighted ×1.5")
    if not score:
        return None
    return {"service": service, "tier": tier, "score": round(score, 2), "evidence": evidence}


def _risk_areas(sctx: StepContext, baseline: ObservabilityBaseline | None) -> list[dict[str, Any]]:
    """Return services ranked by operational risk, with the evidence for each score."""
    incidents = _recent_incidents_by_service(sctx)
    overdue = _overdue_actions_by_service(sctx)
    metrics = baseline.metrics if baseline else ()
    dashboards = {m.service for m in metrics if m.dashboard}
    alerts = {m.service for m in metrics if m.alert}
    areas: list[dict[str, Any]] = []
    for service, tier in known_services(sctx).items():
        factors = _risk_factors(service, incidents.get(service, []), overdue.get(service, 0),
                                dashboards, alerts)
        area = _risk_area(service, tier, factors)
        if area is not None:
            areas.append(area)
    areas.sort(key=lambda a: (-a["score"], a["service"]))
    return areas


def _baseline_age(
    sctx: StepContext, baseline: ObservabilityBaseline | None
) -> tuple[int | None, list[Halt]]:
    """Return the baseline's age in days (``None`` when undated or absent) and the halts
    for a baseline that is absent, undated or older than the policy allows."""
    if baseline is None:
        return None, [Halt(HaltKind.BASELINE, "observability baseline unavailable",
                           (str(sctx.ctx.workspace.path(InputKey.OBSERVABILITY_BASELINE)),))]
    if baseline.measured_at is None:
        return None, [Halt(HaltKind.BASELINE, "observability baseline has no measurement date")]
    age = (sctx.now.date() - baseline.measured_at).days
    limit = sctx.ctx.workspace.config.policies.baseline_max_age_days
    if age <= limit:
        return age, []
    return age, [Halt(
        HaltKind.BASELINE,
        f"observability baseline is {age} days old (limit {limit}); measure it again",
    )]


def _analysis_heading(
    sctx: StepContext, baseline: ObservabilityBaseline | None, age: int | None
) -> str:
    """Return the analysis' title with when it was generated and the baseline measured."""
    measured = baseline.measured_at if baseline else None
    return (
        "# Operational baseline analysis\n\n"
        f"Generated {sctx.now.isoformat()}. Baseline measured "
        f"{measured.isoformat() if measured else 'never'}"
        f"{f' ({age} days ago)' if age is not None else ''}.\n\n"
    )


def _coverage_markdown(services: int, no_dashboard: list[str], no_alert: list[str]) -> str:
    """Return how many services have a dashboard and an alert, naming those without."""
    text = (
        "## Observability coverage\n\n"
        f"{services - len(no_dashboard)} of {services} services have a dashboard; "
        f"{services - len(no_alert)} have an alert.\n\n"
    )
    if no_dashboard:
        text += "Without a dashboard: " + ", ".join(md_escape(s) for s in no_dashboard) + "\n\n"
    if no_alert:
        text += "Without an alert: " + ", ".join(md_escape(s) for s in no_alert) + "\n\n"
    return text


def _sla_markdown(assignments: list[OwnershipAssignment]) -> str:
    """Return each service's owner and response, resolution and availability SLAs."""
    return "## Service-level agreements\n\n" + md_table(
        ["Service", "Owner", "Response SLA (min)", "Resolution SLA (h)", "Availability SLA"],
        [[a.service, a.owner or "unassigned", _num(a.response_sla_minutes),
          _num(a.resolution_sla_hours),
          f"{a.availability_sla * 100:.2f}%" if a.availability_sla else ""]
         for a in sorted(assignments, key=lambda a: a.service)],
        "llrrr",
    )


def _risk_areas_markdown(areas: list[dict[str, Any]]) -> str:
    """Return how the risk score adds up and the 20 highest risk areas."""
    return (
        f"\n## Risk areas (last {RISK_HISTORY_DAYS} days)\n\n"
        "Score = incident weight (SEV1 10, SEV2 5, SEV3 2, SEV4 1, SEV5 0.5) + 3 without a "
        "dashboard + 3 without an alert + 1.5 per overdue action item, ×1.5 for tier 0–1.\n\n"
    ) + md_table(
        ["Rank", "Service", "Tier", "Score", "Evidence"],
        [[i + 1, a["service"], "" if a["tier"] is None else a["tier"], a["score"],
          "; ".join(a["evidence"])] for i, a in enumerate(areas[:20])],
        "rlrrl",
    )


def _uncovered(services: dict[str, int | None], covered: set[str]) -> list[str]:
    return sorted(s for s in services if s not in covered)


def assess_baseline(sctx: StepContext) -> StepResult:
    """Step 1.2: observability baseline against the catalog; SLAs; risk areas."""
    inputs = sctx.ctx.inputs
    records = inputs.records(InputKey.OBSERVABILITY_BASELINE)
    baseline = next((r for r in records if isinstance(r, ObservabilityBaseline)), None)
    age, halts = _baseline_age(sctx, baseline)
    services = known_services(sctx)
    metrics = baseline.metrics if baseline else ()
    no_dashboard = _uncovered(services, {m.service for m in metrics if m.dashboard})
    no_alert = _uncovered(services, {m.service for m in metrics if m.alert})
    assignments = [a for a in inputs.records(InputKey.HANDOVER_RECORD)
                   if isinstance(a, OwnershipAssignment)]
    areas = _risk_areas(sctx, baseline)
    path = sctx.evidence_path(BASELINE_ANALYSIS)
    atomic_write_text(path, "".join((
        _analysis_heading(sctx, baseline, age),
        _coverage_markdown(len(services), no_dashboard, no_alert),
        _sla_markdown(assignments),
        _risk_areas_markdown(areas),
    )))
    top = areas[0]["service"] if areas else "none"
    summary = (f"{len(no_dashboard)} services without dashboards, {len(no_alert)} without "
               f"alerts; top risk area: {top}")
    return step_result(summary, [path], halts, risk_areas=areas[:10])


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def plan_support_coverage(sctx: StepContext) -> StepResult:
    """Step 1.3: ticket forecast, Erlang staffing and a rotation."""
    result = sctx.ctx.inputs.read(InputKey.TICKETS)
    if not result.records:
        return step_result("no ticket history: support coverage not forecast", [], [
            Halt(HaltKind.MISSING_ARTIFACT, "ticket-history.csv missing or empty")])
    path = sctx.ctx.workspace.path(InputKey.TICKETS)
    plan = build_coverage_plan(
        result.records,
        policy=sctx.ctx.workspace.config.policies.support,
        now=sctx.now,
        input_file=str(path.relative_to(sctx.ctx.workspace.root)),
        input_digest=sha256_tree(path),
        problems=result.problems,
    )
    out = sctx.evidence_path(PLAN_FILE)
    atomic_write_json(out, plan.to_json())
    data: dict[str, Any] = plan.to_json()
    queues = data.get("queues", [])
    return step_result(f"forecast {len(queues)} queues; staffing and rotation proposed", [out])

