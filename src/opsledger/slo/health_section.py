"""The service health section: availability and latency from the probe history."""

from __future__ import annotations

from datetime import timedelta

from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.render.sections import Chart, Section, Status, md_table, percent
from opsledger.slo.health import (
    BudgetStatus,
    ServiceHealth,
    SkippedServiceHealth,
    service_health,
)

WINDOW_DAYS = 30
CHARTED = 20  # services in the availability chart, worst first


def health_section(ctx: Context) -> Section:
    title = "Service health (probes)"
    result = ctx.inputs.read(InputKey.HEALTH)
    if not result.records:
        reason = "no readable health history in " + str(
            ctx.workspace.path(InputKey.HEALTH).relative_to(ctx.workspace.root)
        )
        return Section.skipped("health", title, reason)
    end = ctx.now
    start = end - timedelta(days=WINDOW_DAYS)
    config = ctx.workspace.config
    results = service_health(
        result.records, start, end, config.budget_for, [s.name for s in config.services]
    )
    assessed = [r for r in results if isinstance(r, ServiceHealth)]
    skipped = [r for r in results if isinstance(r, SkippedServiceHealth)]
    assessed.sort(key=lambda r: (r.status is not BudgetStatus.BREACHED, r.availability, r.service))
    breached = [r for r in assessed if r.status is BudgetStatus.BREACHED]
    rows = [
        [
            r.service,
            percent(r.availability),
            percent(r.availability_objective, 2),
            r.probes,
            f"{r.latency.p50_ms:.0f}" if r.latency else "n/a",
            f"{r.latency.p95_ms:.0f}" if r.latency else "n/a",
            f"{r.latency.p99_ms:.0f}" if r.latency else "n/a",
            f"{r.latency_objective_ms:.0f}" if r.latency_objective_ms else "",
            _streak(r),
            "breached" if r.status is BudgetStatus.BREACHED else "met",
        ]
        for r in assessed
    ]
    body = (
        f"Window: {start.date().isoformat()} to {end.date().isoformat()} ({WINDOW_DAYS} days). "
        "Availability = passing probes / probes; latency percentiles over passing probes.\n\n"
    )
    body += md_table(
        ["Service", "Availability", "Objective", "Probes", "p50 ms", "p95 ms", "p99 ms",
         "p95 objective", "Longest failure", "Status"],
        rows,
        "lrrrrrrrll",
    )
    if skipped:
        body += "\nNot assessed:\n\n" + "\n".join(
            f"- {s.service}: {s.reason}" for s in sorted(skipped, key=lambda s: s.service)
        ) + "\n"
    worst = assessed[:CHARTED]
    chart = Chart(
        "health-availability",
        f"Availability, last {WINDOW_DAYS} days (worst {len(worst)}; | = objective)",
        "barh",
        {
            "categories": [r.service for r in worst],
            "values": [round(r.availability * 100, 4) for r in worst],
            "limits": [round(r.availability_objective * 100, 4) for r in worst],
            "flags": [r.status is BudgetStatus.BREACHED for r in worst],
            "limit_label": "objective",
            "x_label": "availability %",
        },
    )
    headline = f"{len(breached)} of {len(assessed)} services below their objective"
    owners = {s.name: s.owner for s in config.services}
    actions = tuple(
        {
            "action": f"Restore {r.service} to its objective ({percent(r.availability)} against "
            f"{percent(r.availability_objective, 2)})",
            "owner": owners.get(r.service),
            "due": "",
            "source": "service health",
        }
        for r in breached
    )
    return Section(
        "health",
        title,
        body,
        Status.WARN if breached else Status.PASS,
        {
            "headline": headline,
            "window": {"start": start.isoformat(), "end": end.isoformat()},
            "services": [
                {
                    "service": r.service,
                    "availability": r.availability,
                    "objective": r.availability_objective,
                    "probes": r.probes,
                    "p95_ms": r.latency.p95_ms if r.latency else None,
                    "status": r.status.value,
                }
                for r in assessed
            ],
            "skipped": [{"service": s.service, "reason": s.reason} for s in skipped],
        },
        (chart,),
        actions,
    )


def _streak(r: ServiceHealth) -> str:
    streak = r.longest_failing_streak
    if streak is None:
        return ""
    return f"{streak.minutes:.0f} min ({streak.check}, {streak.start:%m-%d %H:%M})"
