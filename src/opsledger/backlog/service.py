"""The maintenance backlog of a workspace: its inputs read, consolidated and scored."""

from __future__ import annotations

from typing import Any

from opsledger.backlog.automation import automation_candidates as automation_candidates
from opsledger.backlog.roadmap import UNASSIGNED as UNASSIGNED
from opsledger.backlog.roadmap import CapacityCheck as CapacityCheck
from opsledger.backlog.roadmap import Theme as Theme
from opsledger.backlog.roadmap import capacity_check as capacity_check
from opsledger.backlog.roadmap import effort_of as effort_of
from opsledger.backlog.roadmap import people_per_team as people_per_team
from opsledger.backlog.roadmap import team_of_items as team_of_items
from opsledger.backlog.roadmap import themes as themes
from opsledger.backlog.roadmap import ux_items as ux_items
from opsledger.backlog.roadmap import ux_wave as ux_wave
from opsledger.backlog.scoring import BACKLOG_COLUMNS as BACKLOG_COLUMNS
from opsledger.backlog.scoring import Backlog, Sources, consolidate
from opsledger.backlog.scoring import BacklogItem as BacklogItem
from opsledger.core.catalog import known_services
from opsledger.core.config import Config, Role
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.common import ItemStatus
from opsledger.model.handover import KnowledgeGap, Postmortem, WorkItem
from opsledger.model.security import Finding
from opsledger.patching.service import assess_posture


def work_items(ctx: Context, key: InputKey) -> list[WorkItem]:
    """Return the work items of one input (tech debt, performance backlog, risks)."""
    return [r for r in ctx.inputs.records(key) if isinstance(r, WorkItem)]


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


def consolidated_backlog(ctx: Context) -> Backlog:
    """Return the consolidated, scored maintenance backlog of the workspace's inputs."""
    config = ctx.workspace.config
    inputs = ctx.inputs
    findings = [f for f in inputs.records(InputKey.SECURITY) if isinstance(f, Finding)]
    days = config.policies.action_item_sla_days
    return consolidate(
        Sources(
            tech_debt=work_items(ctx, InputKey.TECH_DEBT),
            performance=work_items(ctx, InputKey.PERF_BACKLOG),
            security=work_items(ctx, InputKey.SECURITY_RISKS),
            postmortems=[p for p in inputs.records(InputKey.POSTMORTEMS)
                         if isinstance(p, Postmortem)],
            knowledge_gaps=[g for g in inputs.records(InputKey.KT_FEEDBACK)
                            if isinstance(g, KnowledgeGap)],
            findings=findings_as_work(findings, config, ctx.now),
            service_tiers={k: v for k, v in known_services(ctx).items() if v is not None},
            action_item_days={"SEV1": days.sev1, "SEV2": days.sev2, "SEV3": days.sev3,
                              "SEV4": days.sev4, "SEV5": days.sev5},
        ),
        ctx.now.date(),
        config.policies.backlog_sla_days,
    )


def workspace_backlog(ctx: Context) -> Backlog:
    """Return the consolidated, scored maintenance backlog (the p18 one), once per run."""
    return ctx.once(consolidated_backlog)
