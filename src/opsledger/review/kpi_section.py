"""KPIs and SLIs against their budgets, with the change since the last recorded month."""

from __future__ import annotations

from opsledger.core.inputs import Context
from opsledger.render.sections import Chart, Section, Status, md_table
from opsledger.review.history import KpiTrend, trends
from opsledger.review.kpi_results import policy_targets, workspace_kpis
from opsledger.review.kpis import KpiGap, format_value, kpi_gaps

TITLE = "KPIs against budgets"
# KPIs drawn over the months, when the history holds at least two of them.
MAX_CHANGES = 8  # in the report's summary
CHARTED = ("availability", "mttr_minutes", "incidents_per_month", "action_items_overdue")


def _change(trend: KpiTrend | None, unit: str) -> tuple[str, str]:
    if trend is None or trend.change is None:
        return "", ""
    verdict = {True: "better", False: "worse", None: "same"}[trend.improved]
    sign = "+" if trend.change > 0 else ""
    shown = (f"{sign}{trend.change * 100:.2f} pts" if unit == "ratio"
             else f"{sign}{format_value(trend.change, unit)}")
    return shown, verdict


def kpi_section(ctx: Context) -> Section:
    kpis = workspace_kpis(ctx)
    targets = policy_targets(ctx)
    gaps = {g.name: g for g in kpi_gaps(kpis, targets)}
    history = trends(ctx)
    rows = []
    worse: list[str] = []
    changes: list[str] = []
    for name, kpi in kpis.computed.items():
        if ":" in name:  # per-service detail lives in its own section
            continue
        gap: KpiGap | None = gaps.get(name)
        trend = history.get(name)
        change, verdict = _change(trend, kpi.unit)
        if verdict == "worse":
            worse.append(kpi.label)
        if change and verdict != "same":
            changes.append(f"{kpi.label} {change} ({verdict})")
        status = "" if gap is None else ("met" if gap.met else "missed")
        rows.append([
            kpi.label, format_value(kpi.value, kpi.unit),
            "" if gap is None else format_value(gap.target, kpi.unit), status,
            format_value(trend.previous.value, kpi.unit) if trend and trend.previous else "",
            change, verdict,
        ])
    missed = [g for g in gaps.values() if g.met is False]
    body = md_table(["KPI", "This month", "Target", "Status", "Last month", "Change", "Trend"],
                    rows, "lrrlrrl")
    skipped = kpis.skipped
    if skipped:
        body += "\nNot computed: " + "; ".join(
            f"{s.label}: {s.reason}" for s in skipped.values()) + "\n"
    charts = []
    series = []
    window: tuple[str, ...] = ()
    for name in CHARTED:
        trend = history.get(name)
        if trend is not None and len(trend.points) >= 2:
            window = trend.window
            series.append({"name": kpis.results[name].label if name in kpis.results else name,
                           "y": trend.values()})
    if series:
        charts.append(Chart("kpi-trends", "KPIs by month", "line",
                            {"x": list(window), "series": series}))
    headline = (f"{len(missed)} KPI target(s) missed"
                + (f"; worse than last month: {', '.join(worse[:4])}" if worse else ""))
    return Section(
        "kpis", TITLE, body, Status.WARN if missed else Status.PASS,
        {"headline": headline, "kpis": kpis.to_json(),
         "missed": [g.name for g in missed], "worse": worse,
         "changes": changes[:MAX_CHANGES]},
        tuple(charts),
    )
