"""The service-health section of the monthly report: probes against each service's budget.

It leads with the services below their objective; those that met it are one line in the
body ("38 of 40 services met their objective") and a table under the section's details.
The availability chart's value axis is cut to the range the availabilities span, so that
99.77 % and 99.95 % look different.
"""

from __future__ import annotations

from collections.abc import Sequence

from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.render.sections import Chart, Section, Status, md_table, percent
from opsledger.slo.health import (
    BudgetStatus,
    ServiceHealth,
    SkippedServiceHealth,
    availability_domain,
)
from opsledger.slo.scoping import left_out_json, left_out_line, left_out_note
from opsledger.slo.service import HEALTH_WINDOW, workspace_health

KEY = "health"
TITLE = "Service health (probes)"
WINDOW_DAYS = HEALTH_WINDOW.days
CHARTED = 20  # services in the availability chart, worst first
HEADER = ["Service", "Availability", "Objective", "Probes", "p50 ms", "p95 ms", "p99 ms",
          "p95 objective", "Longest failure", "Status"]


def health_section(ctx: Context) -> Section:
    """Return the section over the last :data:`WINDOW_DAYS` days of the probe history."""
    result = ctx.inputs.read(InputKey.HEALTH)
    folder = str(ctx.workspace.path(InputKey.HEALTH).relative_to(ctx.workspace.root))
    left_out = left_out_line(ctx, InputKey.HEALTH, "probes")
    if not result.record_count and left_out:
        return Section.skipped(KEY, TITLE, f"no probes of {ctx.scope.label} in {folder} "
                               f"({left_out_note(ctx, InputKey.HEALTH, 'probes')} are not "
                               "in this view)")
    if not result.record_count:
        return Section.skipped(KEY, TITLE, "no readable health history in " + folder)
    end = ctx.now
    start = end - HEALTH_WINDOW
    results = workspace_health(ctx)
    assessed = [r for r in results if isinstance(r, ServiceHealth)]
    skipped = [r for r in results if isinstance(r, SkippedServiceHealth)]
    assessed.sort(key=lambda r: (r.status is not BudgetStatus.BREACHED, r.availability, r.service))
    breached = [r for r in assessed if r.status is BudgetStatus.BREACHED]
    met = [r for r in assessed if r.status is not BudgetStatus.BREACHED]
    body = (
        f"Window: {start.date().isoformat()} to {end.date().isoformat()} ({WINDOW_DAYS} days). "
        "Availability = passing probes / probes; latency percentiles over passing probes.\n\n"
    )
    if breached:
        body += "**Below their objective**\n\n" + _table(breached) + "\n"
    body += f"**{len(met)} of {len(assessed)} services met their objective.**\n"
    if skipped:
        body += "\nNot assessed:\n\n" + "\n".join(
            f"- {s.service}: {s.reason}" for s in sorted(skipped, key=lambda s: s.service)
        ) + "\n"
    if left_out:
        body += f"\n{left_out}.\n"
    headline = (
        f"{len(breached)} of {len(assessed)} services below their objective"
        if breached
        else f"{len(met)} of {len(assessed)} services met their objective"
    )
    owners = {s.name: s.owner for s in ctx.workspace.config.services}
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
        KEY,
        TITLE,
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
            **({} if ctx.scope.whole else {"scope": left_out_json(ctx, InputKey.HEALTH,
                                                                  "probes")}),
        },
        (availability_chart(assessed[:CHARTED]),) if assessed else (),
        actions,
        headline=headline,
        details=(f"**Services that met their objective** ({len(met)})\n\n" + _table(met))
        if met else "",
    )


def _table(rows: Sequence[ServiceHealth]) -> str:
    return md_table(
        HEADER,
        [
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
            for r in rows
        ],
        "lrrrrrrrll",
    )


def availability_chart(worst: Sequence[ServiceHealth]) -> Chart:
    """Return the availability bars of ``worst`` (in percent), objectives marked.

    ``x_domain`` is the value axis's range (the bars run along x): from just below the
    lowest availability or objective up to 100.
    """
    values = [round(r.availability * 100, 4) for r in worst]
    limits = [round(r.availability_objective * 100, 4) for r in worst]
    low, high = availability_domain(values, limits, top=100.0)
    return Chart(
        "health-availability",
        f"Availability, last {WINDOW_DAYS} days (worst {len(worst)}; | = objective)",
        "barh",
        {
            "categories": [r.service for r in worst],
            "values": values,
            "limits": limits,
            "flags": [r.status is BudgetStatus.BREACHED for r in worst],
            "limit_label": "objective",
            "x_label": "availability %",
            "x_domain": [round(low, 4), high],
        },
    )


def _streak(r: ServiceHealth) -> str:
    streak = r.longest_failing_streak
    if streak is None:
        return ""
    return f"{streak.minutes:.0f} min ({streak.check}, {streak.start:%m-%d %H:%M})"
