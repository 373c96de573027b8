"""The headline KPIs of a workspace, gathered from the run's analyses.

The edge between the run and :mod:`opsledger.review.kpis`: every analysis is reached
through the function that computes it for the run (``ctx.once``), so a section that asks for
the same analysis shares the work, and each is computed at most once per run. An analysis
that fails or has no input yields skipped KPIs with the reason; it never stops the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import partial
from typing import Any

from opsledger.backlog.service import workspace_backlog
from opsledger.core.errors import OpsledgerError
from opsledger.core.incident_policy import policy_of
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.handover import Ticket
from opsledger.model.status import Skipped
from opsledger.review.changes import KpiChange
from opsledger.review.history import KpiTrend, month_of, months_back, trends
from opsledger.review.kpis import (
    ACTION_NAMES,
    AVAILABILITY,
    BACKLOG_NAMES,
    COST_NAMES,
    INCIDENT_NAMES,
    SLO_NAMES,
    TICKET_NAME,
    VULNERABILITY_NAMES,
    Better,
    CostFigures,
    KpiResult,
    KpiSet,
    Target,
    action_item_kpis,
    availability_kpis,
    backlog_kpis,
    cost_kpis,
    incident_kpis,
    kpi_set,
    skipped_group,
    slo_kpis,
    ticket_kpis,
    vulnerability_kpis,
)
from opsledger.slo.service import ServiceHealth, SloStatus, workspace_health

WINDOW_DAYS = 30  # the report's month: the 30 days to the evaluation instant


def _guarded(names: Iterable[tuple[str, str, str, Better]], source: str,
             compute: Callable[[], list[KpiResult]]) -> list[KpiResult]:
    """Return ``compute()``, or the group skipped with the failure as the reason."""
    try:
        return compute()
    except OpsledgerError as exc:
        return skipped_group(list(names), source, f"{source} analysis failed: {exc}")


def _health(ctx: Context) -> list[KpiResult]:
    if not ctx.inputs.read(InputKey.HEALTH).record_count:
        return skipped_group([AVAILABILITY], "service health", "no readable health history")
    return availability_kpis(workspace_health(ctx))


def slo_statuses(ctx: Context) -> list[SloStatus]:
    """Return the status of every SLO in the run's scope, as the SLO KPIs count them."""
    from opsledger.slo.service import evaluate_workspace

    return [e.status for e in evaluate_workspace(ctx).evaluations]


def _slos(ctx: Context) -> list[KpiResult]:
    return slo_kpis(slo_statuses(ctx))


def _incident_review(ctx: Context) -> Any:
    from opsledger.incidents.service import Period, review_incidents

    period = Period(ctx.now - timedelta(days=WINDOW_DAYS), ctx.now)
    return review_incidents(ctx, period)


def major_incidents(ctx: Context) -> int | Skipped:
    """Return how many of the incidents the incident KPI counts are major (the severities
    the incident policy calls major), or why there is no count."""
    review = _incident_review(ctx)
    if not review.records.incidents:
        return Skipped("no incident records")
    policy = policy_of(ctx.workspace.config)
    return sum(1 for incident in review.kpis.incidents if policy.is_major(incident))


def _incidents(ctx: Context) -> list[KpiResult]:
    review = _incident_review(ctx)
    if not review.records.incidents:
        return skipped_group(INCIDENT_NAMES, "incidents", "no incident records")
    return incident_kpis(review.kpis)


def _action_items(ctx: Context) -> list[KpiResult]:
    review = _incident_review(ctx)
    if not review.postmortems.action_items.items:
        return skipped_group(ACTION_NAMES, "postmortems", "no postmortem action items")
    return action_item_kpis(review.postmortems.action_items)


def _vulnerabilities(ctx: Context) -> list[KpiResult]:
    from opsledger.patching.section import patch_view, security_result

    if not security_result(ctx).files:
        return skipped_group(VULNERABILITY_NAMES, "security", "no scanner reports")
    view = patch_view(ctx)
    return vulnerability_kpis(view.posture)


def cost_figures(ctx: Context) -> CostFigures | Skipped:
    """Return the month's spend against the cost targets, as the cost KPIs count it, or why
    it cannot be given (computed once per run)."""
    return ctx.once(_cost_figures)


def _cost_figures(ctx: Context) -> CostFigures | Skipped:
    try:
        from opsledger.cost.service import cost_result, cost_view
    except ImportError:
        return Skipped("cost analysis is not available")
    result = cost_result(ctx)
    if not result.files or not result.records or not len(result.ledger):
        return Skipped("no cost exports")
    view = cost_view(ctx)
    spend = view.reviewed
    if spend is None:
        return Skipped(f"no cost data for {view.month}")
    return CostFigures(
        month=view.month,
        currency=view.summary.currency,
        total=spend.spend,
        targeted=[(row.service, row.target,
                   row.forecast if row.forecast is not None else row.actual)
                  for row in view.targets],
        days=spend.days,
        days_in_month=spend.days_in_month,
        forecast=spend.forecast_point,
    )


def _cost(ctx: Context) -> list[KpiResult]:
    figures = cost_figures(ctx)
    if isinstance(figures, Skipped):
        return skipped_group(COST_NAMES, "cost", figures.reason)
    return cost_kpis(figures)


def _tickets(ctx: Context) -> list[KpiResult]:
    result = ctx.inputs.read(InputKey.TICKETS)
    tickets = [t for t in result.records if isinstance(t, Ticket)]
    if not tickets:
        return skipped_group([TICKET_NAME], "tickets", "no readable ticket history")
    return ticket_kpis(tickets, ctx.now - timedelta(days=WINDOW_DAYS), ctx.now)


def _backlog(ctx: Context) -> list[KpiResult]:
    return backlog_kpis(workspace_backlog(ctx))


GROUPS: tuple[tuple[str, tuple[tuple[str, str, str, Better], ...],
                    Callable[[Context], list[KpiResult]]], ...] = (
    ("service health", (AVAILABILITY,), _health),
    ("SLOs", SLO_NAMES, _slos),
    ("incidents", INCIDENT_NAMES, _incidents),
    ("postmortems", ACTION_NAMES, _action_items),
    ("security", VULNERABILITY_NAMES, _vulnerabilities),
    ("cost", COST_NAMES, _cost),
    ("tickets", (TICKET_NAME,), _tickets),
    ("backlog", BACKLOG_NAMES, _backlog),
)


def workspace_kpis(ctx: Context) -> KpiSet:
    """Return every headline KPI as of ``ctx.now`` (computed once per run)."""
    return ctx.once(_workspace_kpis)


def _workspace_kpis(ctx: Context) -> KpiSet:
    groups = []
    for source, names, gather in GROUPS:
        ctx.progress(f"KPIs: {source}")
        groups.append(_guarded(names, source, partial(gather, ctx)))
    return kpi_set(ctx.now, groups)


def kpi_trends(ctx: Context) -> dict[str, KpiTrend]:
    """Return every KPI's trend: the months before from the history, this month from this
    run (computed once per run)."""
    return ctx.once(_kpi_trends)


def _kpi_trends(ctx: Context) -> dict[str, KpiTrend]:
    return trends(ctx, current=workspace_kpis(ctx))


def previous_month(ctx: Context) -> str:
    """Return the month before the one ``ctx.now`` evaluates: the one changes compare with."""
    return months_back(month_of(ctx.now), 2)[0]


def month_changes(ctx: Context) -> list[KpiChange]:
    """Return each headline KPI against the month before, where both months have a value.

    Per-service KPIs (``availability:<service>``) are left to their own section.
    """
    history = kpi_trends(ctx)
    changes = []
    for name, kpi in workspace_kpis(ctx).computed.items():
        found = history.get(name)
        if ":" in name or found is None or found.previous is None:
            continue
        changes.append(KpiChange(name, kpi.label, kpi.unit, kpi.better, kpi.value,
                                 found.previous.value, found.previous.month))
    return changes


def policy_targets(ctx: Context) -> dict[str, Target]:
    """Return the target of every KPI the configuration sets, growth targets last (they win).

    SLO objectives give each service's availability target and 'every SLO met'; the
    vulnerability and action-item SLAs say nothing should be overdue; cost targets say spend
    should stay within them.
    """
    config = ctx.workspace.config
    targets: dict[str, Target] = {
        "slos_met_share": Target(1.0, "SLO objectives"),
        "error_budget_remaining_min": Target(0.0, "error budget policy"),
        "vulnerabilities_overdue": Target(0.0, "vulnerability SLA"),
        "action_items_overdue": Target(0.0, "action-item SLA"),
    }
    if config.cost_targets:
        targets["cost_vs_target"] = Target(1.0, "cost targets")
    for result in workspace_health(ctx) if ctx.inputs.read(InputKey.HEALTH).record_count else []:
        if isinstance(result, ServiceHealth):
            targets[f"availability:{result.service}"] = Target(
                result.availability_objective, "SLO budget")
    for name, value in config.growth_targets.items():
        targets[name] = Target(float(value), "growth target")
    return targets
