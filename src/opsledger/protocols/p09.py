"""The maintenance and growth procedure (p09) as data.

Four steps, each presenting an artifact for approval by the roles in ``config.approvals``;
three gates: SLOs met, incidents resolved with postmortems, next-phase charter approved.
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.fileio import atomic_write_text
from opsledger.core.workspace import InputKey, Workspace
from opsledger.model.gates import GateResult
from opsledger.protocols.model import Gate, Procedure, Step, StepKind, StepResult
from opsledger.protocols.runner import StepContext, step_result
from opsledger.protocols.signoff import step_signoff
from opsledger.render.sections import Section, Status

SCHEDULE_FILE = "maintenance-schedule.md"
PATCH_PLAN_FILE = "patch-plan.md"
MONITORING_FILE = "monitoring-plan.md"
RULES_FILE = "prometheus/slo-rules.yaml"
ROADMAP = "@roadmap"
OPTIMISATION = "@optimization-plan"


def _evidence_dir(ws: Workspace) -> Path:
    return ws.p09_evidence


def patch_cadence(sctx: StepContext) -> StepResult:
    """Step 1: update cadence in change windows, test gates, rollback procedures."""
    from opsledger.patching.section import slo_freeze, write_patch_plan
    from opsledger.protocols.maintenance_schedule import write_maintenance_schedule

    freeze = slo_freeze(sctx.ctx)
    plan = write_patch_plan(sctx.ctx, freeze)
    schedule = write_maintenance_schedule(sctx.ctx, freeze)
    frozen = "all services" if freeze == "all" else ", ".join(freeze or []) or "none"
    return step_result(
        f"maintenance schedule and update plan written; error-budget freeze: {frozen}",
        [*schedule, *plan],
    )


def _section_text(section: Section) -> str:
    return f"## {section.title}\n\n{section.body}\n"


def monitoring_plan(sctx: StepContext) -> StepResult:
    """Step 2: error budget policy and SLO targets, alert tuning, postmortems, escalation."""
    from opsledger.incidents.section import incidents_section
    from opsledger.incidents.service import write_escalation
    from opsledger.slo.section import alerting_section, slo_section
    from opsledger.slo.service import workspace_rules

    ctx = sctx.ctx
    config = ctx.workspace.config
    rules, _ = workspace_rules(ctx)
    rules_path = sctx.evidence_path(RULES_FILE)
    atomic_write_text(rules_path, rules)
    escalation = write_escalation(ctx)
    policy = config.policies.error_budget
    postmortems = config.policies.postmortems
    lines = [
        "# SLO monitoring and incident response plan\n\n",
        f"Generated {ctx.now.isoformat()}.\n\n",
        "## Error budget policy\n\n",
        ("- When an SLO's budget is exhausted over its window, releases to that service "
         f"freeze except {', '.join(policy.freeze_allows)} changes, until the SLI is back "
         "within objective.\n" if policy.freeze_when_exhausted
         else "- Exhausted budgets are reported but do not freeze releases.\n"),
        f"- An incident consuming more than {policy.single_incident_postmortem_fraction:.0%} "
        "of a budget requires a postmortem with at least one P0 action item.\n\n",
        "## Postmortem process\n\n",
        f"- Required for {', '.join(postmortems.required_severities)}, data loss, and "
        f"incidents over {postmortems.budget_fraction:.0%} of an SLO's budget.\n",
        f"- Reviewed within {postmortems.review_calendar_days_sev1} calendar days (SEV1) and "
        f"{postmortems.review_business_days_sev2} business days (SEV2); blameless; action "
        "items carry an owner and a due date.\n",
        "- Drafts for incidents missing one: `opsledger incidents postmortem-drafts`.\n\n",
        "## Alerting\n\n",
        f"Multi-window, multi-burn-rate rules for every Prometheus SLO: `{RULES_FILE}` "
        f"(check with `promtool check rules`). Routing: `{escalation.alertmanager.name}`; "
        f"escalation matrix: `{escalation.markdown.name}`.\n\n",
    ]
    for builder in (slo_section, alerting_section, incidents_section):
        lines.append(_section_text(builder(ctx)))
    path = sctx.evidence_path(MONITORING_FILE)
    atomic_write_text(path, "".join(lines))
    return step_result("monitoring and incident response plan written",
                       [path, rules_path, escalation.markdown, escalation.alertmanager])


def optimisation_plan(sctx: StepContext) -> StepResult:
    """Step 3: cost tracking against budgets, hotspots, capacity, review cycles."""
    from opsledger.review.service import write_optimization_plan

    path = write_optimization_plan(sctx.ctx)
    return step_result(f"optimisation plan written to {path.name}", [path])


def roadmap(sctx: StepContext) -> StepResult:
    """Step 4: next-phase charter, experiments, UX debt, success metrics."""
    from opsledger.review.service import write_roadmap

    path = write_roadmap(sctx.ctx)
    return step_result(f"next-phase charter written to {path.name}", [path])


STEPS = (
    Step(
        "1-patch-cadence", 1, "Patch and upgrade cadence",
        "Setting a regular cadence for dependency and security updates, with change windows, "
        "test gates and rollback procedures.",
        StepKind.MUST,
        ("schedule dependency and security updates", "change windows", "test gates",
         "rollback procedures"),
        (SCHEDULE_FILE, PATCH_PLAN_FILE), patch_cadence,
        inputs=(InputKey.SECURITY, InputKey.GATES, InputKey.SLOS, InputKey.TELEMETRY),
        approvals_setting="p09_patch",
    ),
    Step(
        "2-monitoring", 2, "SLO monitoring and incident response",
        "Setting SLO targets and the error budget policy, tuning alerts, and writing down "
        "postmortem and escalation procedures.",
        StepKind.MUST,
        ("error budget policy and SLO targets", "alert thresholds and routing",
         "postmortem process", "escalation and response"),
        (MONITORING_FILE,), monitoring_plan,
        inputs=(InputKey.SLOS, InputKey.TELEMETRY, InputKey.INCIDENTS, InputKey.ALERTS,
                InputKey.POSTMORTEMS, InputKey.SERVICE_CATALOG),
        approvals_setting="p09_monitoring",
    ),
    Step(
        "3-optimisation", 3, "Cost and performance optimisation",
        "Tracking cost against budgets, finding performance hotspots and planning capacity.",
        StepKind.MUST,
        ("cost tracking and budgets", "performance hotspots", "capacity planning",
         "cost review cycle"),
        (OPTIMISATION,), optimisation_plan,
        inputs=(InputKey.COSTS, InputKey.PERF, InputKey.TELEMETRY),
        approvals_setting="p09_optimisation",
    ),
    Step(
        "4-roadmap", 4, "Roadmap and experiments",
        "Drafting the next-phase charter: themes, success metrics, experiments and UX debt.",
        StepKind.MUST,
        ("phase 2+ roadmap", "A/B testing plan", "UX debt clean-up", "success metrics"),
        (ROADMAP,), roadmap,
        inputs=(InputKey.TECH_DEBT, InputKey.PERF_BACKLOG, InputKey.EXPERIMENTS,
                InputKey.SECURITY_RISKS),
        approvals_setting="p09_roadmap",
    ),
)


def _step_context(sctx: StepContext, step_id: str) -> StepContext:
    step = next(s for s in STEPS if s.id == step_id)
    return StepContext(sctx.ctx, sctx.procedure, step, sctx.evidence_dir)


def gate_slos_met(sctx: StepContext) -> GateResult:
    from opsledger.slo.service import evaluate_workspace

    report = evaluate_workspace(sctx.ctx)
    valid = [e.status for e in report.evaluations if e.status.valid]
    missed = [s for s in valid if not s.met]
    # SLOs written in PromQL wait for a Prometheus server: not computed, and not a problem.
    invalid = [e.status for e in report.evaluations
               if not e.status.valid and not e.status.needs_prometheus]
    failures = tuple(
        f"{s.slo.key}: SLI {s.sli:.5f} below objective {s.slo.objective}" for s in missed
        if s.sli is not None
    ) + tuple(f"{s.slo.key}: not computed ({'; '.join(s.reasons)})" for s in invalid)
    status = Status.FAIL if missed or not valid else Status.WARN if invalid else Status.PASS
    return GateResult(
        "p09-slos-met", "SLOs met", "every SLO meets its objective over its window",
        "SLI ≥ objective for every valid SLO; at least one SLO evaluated", "slo status",
        f"{len(valid) - len(missed)} of {len(valid)} SLOs met"
        + (f"; {len(invalid)} not computed" if invalid else ""),
        status, failures,
        remedy="restore the SLIs (the error budget policy freezes releases meanwhile)",
    )


def gate_incidents(sctx: StepContext) -> GateResult:
    from opsledger.incidents.service import default_period, review_incidents

    review = review_incidents(sctx.ctx, default_period(sctx.now, None, None))
    gate = review.postmortems.gate
    return GateResult(
        "p09-incidents-postmortems", "Incidents resolved with postmortems",
        "incidents resolved; postmortems where policy requires them, on time, with actions",
        "no breach", "incidents and INCIDENT-POSTMORTEMS/",
        f"{gate.checked - len({b.incident for b in gate.breaches})} of {gate.checked} incidents "
        "in order",
        Status.PASS if gate.passed else Status.FAIL,
        tuple(f"{b.incident}: {b.reason} ({b.detail})" for b in gate.breaches),
        remedy="resolve, write or review the postmortems: opsledger incidents postmortem-drafts",
    )


def gate_charter(sctx: StepContext) -> GateResult:
    step_ctx = _step_context(sctx, "4-roadmap")
    roles = step_ctx.step.required_approvals(sctx.ctx.workspace.config)
    path = step_ctx.evidence_path(ROADMAP)
    base = ("p09-charter-approved", "Next-phase charter approved",
            "the next-phase charter is approved by " + ", ".join(r.value for r in roles),
            "every approver approved the current charter",
            str(path.relative_to(sctx.ctx.workspace.root)))
    if not path.exists():
        return GateResult(*base, "no charter yet", Status.FAIL,
                          ("run 'opsledger run p09' to draft it",))
    signoff = step_signoff(step_ctx)
    if signoff is None or signoff.document is None:
        return GateResult(*base, "no approvers configured", Status.FAIL)
    if signoff.breaks:
        return GateResult(*base, "approval log tampered with", Status.FAIL,
                          tuple(str(b) for b in signoff.breaks))
    review = signoff.document
    lapsed = {row.role: row for row in review.lapsed}
    failures = tuple(
        f"{r.value}: awaited" + (f" ({lapsed[r].describe('an earlier charter')}; it lapsed "
                                 "when the charter changed)" if r in lapsed else "")
        for r in review.awaited
    ) + tuple(f"{row.role.value}: {row.decision.value}; conditions: {row.conditions or '(none)'}"
              for row in review.refused)
    return GateResult(*base, review.count(),
                      Status.PASS if review.approved else Status.FAIL, failures,
                      remedy="present the charter; opsledger approve p09 WS --step 4-roadmap")


PROCEDURE = Procedure(
    "p09",
    "Maintenance and growth",
    _evidence_dir,
    STEPS,
    (
        Gate("p09-slos-met", "SLOs met", gate_slos_met),
        Gate("p09-incidents-postmortems", "Incidents resolved with postmortems", gate_incidents),
        Gate("p09-charter-approved", "Next-phase charter approved", gate_charter),
    ),
    completion="Maintenance and growth plan approved; next phase chartered.",
)
