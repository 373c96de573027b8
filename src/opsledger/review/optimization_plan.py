"""``docs/optimization/PLAN.md``: cost targets and status, performance hotspots, capacity
runway, savings candidates and the cost review cycle, in one document for the p09 step on
cost and performance optimisation."""

from __future__ import annotations

from pathlib import Path

from opsledger.core.config import KpiReview
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.cost.section import (
    CapacityView,
    CostView,
    capacity_markdown,
    capacity_view,
    cost_result,
    cost_view,
    savings_markdown,
)
from opsledger.cost.service import TOTAL, MonthForecast, SkippedCostForecast
from opsledger.render.sections import md_escape, md_table

PROPOSED_REVIEW = KpiReview(metric="Cloud cost against target", cadence="monthly",
                            owner="finance", day="3")
HOTSPOTS_LISTED = 10


def write_optimization_plan(ctx: Context) -> Path:
    """Write the optimisation plan atomically and return its path."""
    path = ctx.workspace.root / ctx.workspace.config.paths.optimization
    atomic_write_text(path, optimization_plan_markdown(ctx))
    return path


def optimization_plan_markdown(ctx: Context) -> str:
    """Return the plan's Markdown for this run."""
    ctx.progress("cost and capacity for the optimisation plan")
    costs = cost_view(ctx) if cost_result(ctx).records else None
    capacity = capacity_view(ctx)
    config = ctx.workspace.config
    lines = [
        f"# Optimisation plan — {md_escape(config.organisation)}",
        "",
        f"Generated {ctx.now:%Y-%m-%d %H:%M} UTC by opsledger from the workspace's cost exports,"
        " performance runs and utilisation series.",
        "",
        "## 1. Cost targets and status",
        "",
        *_cost_part(costs),
        "## 2. Performance hotspots",
        "",
        *_hotspots(ctx),
        "## 3. Capacity runway",
        "",
        *_capacity_part(capacity),
        "## 4. Savings candidates",
        "",
        *(savings_markdown(costs.savings, heading=False) if costs
          else ["_Not computed: no cost data._", ""]),
        "## 5. Review cycle",
        "",
        *_review_cycle(ctx),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _cost_part(view: CostView | None) -> list[str]:
    if view is None:
        return ["_Not computed: no FOCUS cost export in the costs folder._", ""]
    total = view.forecasts.get(TOTAL)
    currency = view.summary.currency
    lines = [f"Spend is tracked as FOCUS EffectiveCost (amortised) in {currency}; invoices as "
             "BilledCost. Corrections to invoiced months are shown in the month they correct.",
             ""]
    if isinstance(total, MonthForecast) and total.days_left == 0:
        lines += [f"- **{view.month} spend (complete month):** {total.actual:,.0f} {currency}.",
                  ""]
    elif isinstance(total, MonthForecast):
        lines += [f"- **{view.month} month-end forecast:** {total.point:,.0f} {currency} "
                  f"(95 % interval {total.low:,.0f}–{total.high:,.0f}; {total.method}).", ""]
    elif isinstance(total, SkippedCostForecast):
        lines += [f"- **{view.month} month-end forecast:** not computed: {total.reason}.", ""]
    if not view.targets:
        return [*lines, "_No cost targets configured (cost_targets in opsledger.yaml)._", ""]
    rows = [[r.service, f"{r.target:,.0f}", f"{r.actual:,.0f}",
             "—" if r.forecast is None else f"{r.forecast:,.0f}", r.status,
             r.reason or ""] for r in view.targets]
    lines.append(md_table(["Service", "Target", "To date", "Forecast", "Status", "Why"], rows,
                          "lrrrll"))
    over = [r for r in view.targets if r.status in ("over", "at-risk")]
    if over:
        lines += ["**Actions**", ""] + [
            f"- {md_escape(r.service)}: {r.status} — review the top resources and the savings "
            "candidates below with the owning team." for r in over] + [""]
    if view.anomalies:
        seen: dict[str, str] = {}
        for anomaly in view.anomalies:
            moved = anomaly.resources[0].name or anomaly.resources[0].resource if (
                anomaly.resources) else "no single resource"
            seen.setdefault(anomaly.service, f"{anomaly.day}, +{anomaly.excess:,.0f} "
                                             f"(z {anomaly.z:.1f}), mostly {moved}")
        lines += ["**Cost anomalies**", ""] + [
            f"- {md_escape(s)}: {md_escape(text)}" for s, text in sorted(seen.items())] + [""]
    return lines


def _hotspots(ctx: Context) -> list[str]:
    try:
        from opsledger.quality.service import PerfComparison, compare_runs, perf_report
    except ImportError:
        return ["_Not computed: performance comparison is not available in this build._", ""]
    report, reason = perf_report(ctx)
    if report is None:
        return [f"_Not computed: {md_escape(reason)}._", ""]
    comparison = compare_runs(report)
    if not isinstance(comparison, PerfComparison):
        return [f"_Not computed: {md_escape(comparison.reason)}._", ""]
    hotspots = comparison.hotspots[:HOTSPOTS_LISTED]
    if not hotspots:
        return [f"No p95/p99 regression among {len(comparison.endpoints)} endpoint(s).", ""]
    rows = []
    for rank, item in enumerate(hotspots, 1):
        p95, p99 = item.change("p95"), item.change("p99")
        rows.append([rank, item.endpoint, "" if item.rps is None else f"{item.rps:g}",
                     "" if p95 is None else f"{p95.baseline_ms:g} → {p95.current_ms:g}",
                     "" if p99 is None else f"{p99.baseline_ms:g} → {p99.current_ms:g}",
                     f"{item.impact:,.0f}"])
    return ["Ranked by traffic × latency increase.", "",
            md_table(["#", "Endpoint", "rps", "p95 ms", "p99 ms", "Impact"], rows, "rlrllr")]


def _capacity_part(view: CapacityView) -> list[str]:
    if not view.result.files:
        return ["_Not computed: no utilisation series under telemetry/utilisation/._", ""]
    return [*capacity_markdown(view).splitlines(), ""]


def cost_reviews(reviews: list[KpiReview]) -> list[KpiReview]:
    """Return the configured KPI reviews whose metric is about cost."""
    words = ("cost", "spend", "budget", "finops")
    return [r for r in reviews if any(w in r.metric.lower() for w in words)
            and "error budget" not in r.metric.lower()]


def _review_cycle(ctx: Context) -> list[str]:
    reviews = cost_reviews(list(ctx.workspace.config.kpi_reviews))
    proposed = not reviews
    rows = [[r.metric, r.cadence, r.day or "", f"{r.time} {r.timezone}", r.owner,
             r.dashboard or ""] for r in (reviews or [PROPOSED_REVIEW])]
    lines = ["Proposed (no cost review in kpi_reviews yet; add it to opsledger.yaml):" if
             proposed else "From kpi_reviews in opsledger.yaml:", "",
             md_table(["Metric", "Cadence", "Day", "Time", "Owner", "Dashboard"], rows)]
    lines += ["Each review: spend and forecast against target per service, anomalies since "
              "the last review and their explanation, savings candidates taken or declined "
              "(with reason), capacity runway under 60 days, and hotspots.", ""]
    return lines
