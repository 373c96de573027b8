"""p18 phase 1: handover intake, operational baseline, support coverage."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from opsledger.approvals.not_applicable import NOT_APPLICABLE_LOG
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
    service: str, tier: int | None, assignment: OwnershipAssignment | None,
    configured: str | None,
) -> dict[str, Any]:
    """Return who owns a service after handover and where that is written: the handover
    record's owner, else the owning team in opsledger.yaml; why it is unclear if neither."""
    recorded = assignment.owner if assignment else None
    owner = recorded or configured
    if recorded:
        source = "handover-record"
    elif configured:
        source = "opsledger.yaml"
    else:
        source = None
    note = ""
    if not recorded and configured:
        note = ("the handover record names no owner; opsledger.yaml names the owning team"
                if assignment is not None else
                "not in the handover record; opsledger.yaml names the owning team")
    return {
        "service": service,
        "tier": tier,
        "owner": owner,
        "source": source,
        "team": assignment.team if assignment else configured,
        "escalation_contact": assignment.escalation_contact if assignment else None,
        "clear": bool(owner),
        "note": note,
        "reason": "" if owner else (
            "no assignment in the handover record and no owner in opsledger.yaml"
            if assignment is None
            else "the handover record's assignment has no owner, nor has opsledger.yaml"),
    }


def _ownership(sctx: StepContext) -> list[dict[str, Any]]:
    """Return the ownership of every known service, by service name."""
    assignments = {
        a.service: a for a in sctx.ctx.inputs.records(InputKey.HANDOVER_RECORD)
        if isinstance(a, OwnershipAssignment)
    }
    configured = {s.name: s.owner for s in sctx.ctx.workspace.config.services}
    return [_ownership_row(service, tier, assignments.get(service), configured.get(service))
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
    ws = sctx.ctx.workspace
    if missing:
        halts.append(Halt(
            HaltKind.MISSING_ARTIFACT,
            f"critical handover artifacts missing: {', '.join(missing)}",
            (*(f"expected at {ws.path(InputKey(k))}" for k in missing),
             "if one does not apply to this team, declare it: opsledger not-applicable "
             f"{sctx.procedure.id} {ws.shell_root} ARTIFACT --reason \"...\" --by EMAIL"),
        ))
    if malformed:
        details = tuple(
            f"{p['path']}: {p['location']}: {p['message']}"
            for a in artifacts if a["artifact"] in malformed for p in a["problems"]
        )
        halts.append(Halt(HaltKind.INVALID_ARTIFACT,
                          f"handover artifacts unreadable: {', '.join(malformed)}", details))
    declarations = sctx.not_applicable
    if declarations.breaks:
        halts.append(Halt(
            HaltKind.FAILED_CHECK,
            f"{NOT_APPLICABLE_LOG} has been tampered with; its declarations cannot be trusted",
            tuple(str(b) for b in declarations.breaks),
        ))
    return halts


def _ownership_halts(sctx: StepContext, unclear: list[str]) -> list[Halt]:
    """Return the halt for services without a clear owner, if there are any."""
    if not unclear:
        return []
    ws = sctx.ctx.workspace
    record = ws.path(InputKey.HANDOVER_RECORD).relative_to(ws.root)
    return [Halt(
        HaltKind.OWNERSHIP,
        f"ownership unclear for {len(unclear)} service(s): {', '.join(unclear)}",
        (f"give each an owner in {record}, or its owning team as 'owner:' under services "
         "in opsledger.yaml",),
    )]


def _standing_in(
    sctx: StepContext, status: InputStatus, ownership: list[dict[str, Any]], root_len: int
) -> dict[str, Any]:
    """Return one artifact's entry: present and read, declared not applicable, or (for the
    ownership record) stood in for by the owners named in opsledger.yaml."""
    entry = _artifact(status, root_len)
    declared = sctx.not_applicable.get(status.key.value)
    entry["not_applicable"] = declared.to_json() if declared else None
    entry["satisfied_by"] = None
    if status.present:
        if declared:
            entry["note"] = "declared not applicable, but present: the file is used"
        return entry
    if declared:
        entry["satisfied_by"] = "not-applicable declaration"
    elif status.key is InputKey.HANDOVER_RECORD and ownership and all(
        row["source"] == "opsledger.yaml" for row in ownership
    ):
        entry["satisfied_by"] = "opsledger.yaml (services[].owner)"
    return entry


def handover_artifacts(sctx: StepContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return each prerequisite's entry (read, missing, declared not applicable or stood in
    for) and each service's ownership, as step 1.1 and the prerequisites hook see them."""
    root_len = len(str(sctx.ctx.workspace.root))
    ownership = _ownership(sctx)
    artifacts = [_standing_in(sctx, sctx.ctx.inputs.status(key), ownership, root_len)
                 for key in P18_CRITICAL]
    return artifacts, ownership


def validate_handover(sctx: StepContext) -> StepResult:
    """Step 1.1: every prerequisite present and readable, or declared not applicable; every
    service owned (in the handover record or in opsledger.yaml)."""
    statuses = [sctx.ctx.inputs.status(key) for key in P18_CRITICAL]
    artifacts, ownership = handover_artifacts(sctx)
    missing = [a["artifact"] for a in artifacts if not a["present"] and not a["satisfied_by"]]
    malformed = [s.key.value for s in statuses if s.present and s.malformed]
    not_applicable = [a["artifact"] for a in artifacts if not a["present"]
                      and a["not_applicable"]]
    unclear = [row["service"] for row in ownership if not row["clear"]]
    knowledge_gaps = _knowledge_gaps(sctx)
    report = {
        **evidence_header(sctx, P18_CRITICAL),
        "artifacts": artifacts,
        "complete": not missing and not malformed,
        "not_applicable": not_applicable,
        "ownership": ownership,
        "ownership_complete": not unclear,
        "knowledge_gaps": knowledge_gaps,
    }
    path = sctx.evidence_path(HANDOVER_REPORT)
    atomic_write_json(path, report)
    halts = _artifact_halts(sctx, artifacts, missing, malformed) + _ownership_halts(sctx, unclear)
    usable = sum(1 for s in statuses if s.present and not s.malformed)
    stood_in = [f"{a['artifact']} ({a['satisfied_by']})" for a in artifacts
                if not a["present"] and a["satisfied_by"]]
    summary = (
        f"{usable} of {len(P18_CRITICAL)} artifacts usable"
        + (f", {len(stood_in)} not needed: {', '.join(stood_in)}" if stood_in else "")
        + f"; {len(ownership) - len(unclear)} of {len(ownership)} services owned; "
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
        if sctx.not_applicable.get(InputKey.OBSERVABILITY_BASELINE.value):
            return None, []
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
    declared = sctx.not_applicable.get(InputKey.OBSERVABILITY_BASELINE.value)
    absent = (f"No observability baseline: {md_escape(declared.describe())}. Services count as "
              "without dashboards and alerts.\n\n") if baseline is None and declared else ""
    return (
        "# Operational baseline analysis\n\n"
        f"Generated {sctx.now.isoformat()}. Baseline measured "
        f"{measured.isoformat() if measured else 'never'}"
        f"{f' ({age} days ago)' if age is not None else ''}.\n\n{absent}"
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

