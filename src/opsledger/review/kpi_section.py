"""KPIs against their targets and against last month: what is off target leads."""

from __future__ import annotations

from typing import Any

from opsledger.core.inputs import Context
from opsledger.render.sections import Chart, Section, Status, md_table
from opsledger.review.changes import (
    RATIO_THRESHOLD,
    RELATIVE_THRESHOLD,
    KpiChange,
    Verdict,
    value_domain,
)
from opsledger.review.history import KpiTrend, month_title
from opsledger.review.kpi_results import (
    kpi_trends,
    month_changes,
    policy_targets,
    previous_month,
    workspace_kpis,
)
from opsledger.review.kpis import Kpi, KpiGap, format_value, kpi_gaps

KEY = "kpis"
TITLE = "KPIs against budgets"
HEADER = ["KPI", "This month", "Target", "Status", "Last month", "Change", "Trend"]
ALIGN = "lrrlrrl"
# One chart per unit, so that no axis mixes percentages, minutes and counts.
CHARTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("kpi-trends-availability", "Availability by month", "ratio", ("availability",)),
    ("kpi-trends-response", "Response times by month", "minutes",
     ("mtta_minutes", "mttr_minutes")),
    ("kpi-trends-overdue", "Incidents and overdue work by month", "count",
     ("incidents_per_month", "action_items_overdue", "vulnerabilities_overdue")),
)
CHART_UNITS = {"ratio": "%", "minutes": "minutes", "count": "count"}


def threshold_note() -> str:
    return (f"Changes smaller than {RATIO_THRESHOLD * 100:.2f} pts for percentages, or than "
            f"{RELATIVE_THRESHOLD:.0%} of last month's value (and at least one unit) for counts, "
            "minutes and money, count as the same.")


def _row(kpi: Kpi, gap: KpiGap | None, change: KpiChange | None) -> list[object]:
    return [
        kpi.label, format_value(kpi.value, kpi.unit),
        "" if gap is None else format_value(gap.target, kpi.unit),
        "" if gap is None else ("met" if gap.met else "missed"),
        "" if change is None else format_value(change.previous, kpi.unit),
        "" if change is None else change.change_text,
        "" if change is None else change.verdict.value,
    ]


def trend_charts(history: dict[str, KpiTrend], labels: dict[str, str]) -> list[Chart]:
    """Return one line chart per unit, for the KPIs with at least two months of values.

    Percentages are drawn in percent on an axis spanning the values (``y_domain``), so that
    99.76 % and 99.95 % do not look alike.
    """
    charts = []
    for key, title, unit, names in CHARTS:
        shown = [history[n] for n in names if n in history and len(history[n].points) >= 2]
        if not shown:
            continue
        scale = 100.0 if unit == "ratio" else 1.0
        axis = CHART_UNITS[unit]
        # The months from the first with a value: an empty year would squeeze the rest.
        first = min(next(i for i, v in enumerate(t.values()) if v is not None) for t in shown)
        values = [[None if v is None else v * scale for v in t.values()[first:]] for t in shown]
        series = [{"name": labels.get(t.kpi, t.kpi), "unit": axis, "y": y}
                  for t, y in zip(shown, values, strict=True)]
        domain = value_domain([v for y in values for v in y], axis)
        data: dict[str, Any] = {"x": list(shown[0].window[first:]), "series": series,
                                "y_label": axis}
        if domain is not None:
            data["y_domain"] = list(domain)
        charts.append(Chart(key, title, "line", data))
    return charts


def kpi_section(ctx: Context) -> Section:
    kpis = workspace_kpis(ctx)
    gaps = {g.name: g for g in kpi_gaps(kpis, policy_targets(ctx))}
    changes = {c.name: c for c in month_changes(ctx)}
    before = previous_month(ctx)
    off_target: list[list[object]] = []
    on_target: list[list[object]] = []
    for name, kpi in kpis.computed.items():
        if ":" in name:  # per-service detail lives in its own section
            continue
        gap, change = gaps.get(name), changes.get(name)
        row = _row(kpi, gap, change)
        short = gap is not None and gap.met is False
        slipped = change is not None and change.verdict is Verdict.WORSE
        (off_target if short or slipped else on_target).append(row)
    # Per-service availability is the service health section's to judge.
    targeted = [g for g in gaps.values() if g.met is not None and ":" not in g.name]
    missed = [g for g in targeted if g.met is False]
    worse = [c for c in changes.values() if c.verdict is Verdict.WORSE]
    better = [c for c in changes.values() if c.verdict is Verdict.BETTER]
    if changes:
        compared = f"Compared with {month_title(before)}. {threshold_note()}"
    elif not ctx.scope.whole:
        compared = (f"The KPIs of {ctx.scope.label} are not kept in the KPI history (it holds "
                    "the whole workspace's): there is no month before to compare with.")
    else:
        compared = (f"No KPIs recorded for {month_title(before)}: nothing to compare with "
                    "(trends start once the month before is in the history).")
    lines = [compared, ""]
    if off_target:
        lines += ["Off target or worse than last month:", "", md_table(HEADER, off_target, ALIGN)]
    if on_target:
        lines.append(f"{len(on_target)} other KPI(s) met their target or did not get worse "
                     "(listed under “On target”).\n" if off_target else
                     f"All {len(on_target)} KPIs met their targets and none got worse.\n")
    skipped = kpis.skipped
    if skipped:
        lines.append("\nNot computed: " + "; ".join(
            f"{s.label}: {s.reason}" for s in skipped.values()) + "\n")
    details = md_table(HEADER, on_target, ALIGN) if on_target else ""
    labels = {name: result.label for name, result in kpis.results.items()}
    headline = f"{len(missed)} of {len(targeted)} KPI targets missed"
    if changes:
        headline += f"; {len(worse)} worse and {len(better)} better than {before}"
    elif not ctx.scope.whole:
        headline += f"; a view of {ctx.scope.label} has no history to compare with"
    else:
        headline += f"; no record of {before} to compare with"
    return Section(
        KEY, TITLE, "\n".join(lines), Status.WARN if missed else Status.PASS,
        {"headline": headline, "kpis": kpis.to_json(), "compared_with": before,
         "missed": [g.name for g in missed], "worse": [c.name for c in worse],
         "better": [c.name for c in better],
         "changes": [c.to_json() for c in changes.values()]},
        tuple(trend_charts(kpi_trends(ctx), labels)),
        headline=headline, details=details,
    )
