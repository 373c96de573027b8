"""The cost section of the monthly report, and the JSON and tables of a cost view (shared with
``opsledger cost`` and the optimisation plan).

A month's spend is shown with how much of the month it covers: a complete month is all
actual; a partial month is month-to-date (N of M days) with the whole month's forecast
beside it, labelled as a forecast. A table or chart that shows only some rows says how many
it shows and where all of them are.
"""

from __future__ import annotations

from opsledger.core.inputs import Context
from opsledger.cost.capacity_report import CapacityView as CapacityView
from opsledger.cost.capacity_report import capacity_json as capacity_json
from opsledger.cost.capacity_report import capacity_markdown as capacity_markdown
from opsledger.cost.capacity_report import capacity_section as capacity_section
from opsledger.cost.capacity_report import capacity_view as capacity_view
from opsledger.cost.listing import note_lines, shown_note, truncation
from opsledger.cost.months import MonthSpend, MonthTotal
from opsledger.cost.savings import SavingsCandidate
from opsledger.cost.spend import (
    UNMAPPED,
    CostAnomaly,
    MonthForecast,
    SkippedCostForecast,
    TargetStatusRow,
    month_bounds,
)
from opsledger.cost.view import CostView as CostView
from opsledger.cost.view import cost_result as cost_result
from opsledger.cost.view import cost_view as cost_view
from opsledger.cost.view import no_cost_data, spend_vs_target
from opsledger.cost.view import telemetry_request_counts as telemetry_request_counts
from opsledger.readers.costs import CostReadResult
from opsledger.render.sections import Chart, Section, Status, md_escape, md_table

COST_KEY, COST_TITLE = "cost", "Cost against targets"
LISTED = 10  # anomalies in the report
MONTHS_LISTED = 6  # months in the spend table, ending with the month assessed
MONTHS_CHARTED = 7
TARGETS_CHARTED = 15
WHERE = "review.json / `opsledger cost --json`"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def forecast_json(item: MonthForecast | SkippedCostForecast) -> dict[str, object]:
    if isinstance(item, SkippedCostForecast):
        return {"status": "skipped", "reason": item.reason}
    return {"status": "forecast", "month": item.month, "through": item.through.isoformat(),
            "days_left": item.days_left, "actual": round(item.actual, 2),
            "point": round(item.point, 2), "low": round(item.low, 2),
            "high": round(item.high, 2), "interval": 0.95, "method": item.method,
            "run_rate": [round(v, 2) for v in item.run_rate]}


def anomaly_json(item: CostAnomaly) -> dict[str, object]:
    return {"service": item.service, "day": item.day.isoformat(), "cost": round(item.cost, 2),
            "baseline": round(item.baseline, 2), "excess": round(item.excess, 2),
            "z": round(item.z, 2), "weeks": item.weeks,
            "resources": [{"resource": r.resource, "name": r.name, "cost": round(r.cost, 2),
                           "baseline": round(r.baseline, 2), "change": round(r.change, 2)}
                          for r in item.resources]}


def month_json(item: MonthSpend) -> dict[str, object]:
    return {"month": item.month, "spend": round(item.spend, 2), "complete": item.complete,
            "days": item.days, "days_in_month": item.days_in_month, "coverage": item.coverage,
            "forecast": None if item.forecast is None else forecast_json(item.forecast)}


def scope_json(view: CostView) -> dict[str, object]:
    """Return a team's or a service's view: its scope, the spend it leaves out and its spend
    against target (empty over every service)."""
    if view.left_out is None:
        return {}
    against = spend_vs_target(view)
    return {"scope": view.scope.to_json() | {"left_out": view.left_out.to_json()},
            "spend_vs_target": None if against is None else against.to_json()}


def left_out_text(view: CostView) -> str:
    """Return the spend a team's or a service's view leaves out, in one sentence ('' over
    every service, or when it leaves out nothing)."""
    return "" if view.left_out is None else view.left_out.line(view.scope)


def cost_json(view: CostView) -> dict[str, object]:
    """Return the ``opsledger cost --json`` document."""
    summary = view.summary
    coverage = view.reviewed.coverage if view.reviewed else None
    return scope_json(view) | {
        "currency": summary.currency,
        "month": view.month,
        "through": view.through.isoformat() if view.through else None,
        "data_through": view.data_through.isoformat(),
        "data_range": None if view.data_range is None else {
            "first": view.data_range[0].isoformat(), "last": view.data_range[1].isoformat()},
        "month_spend": None if view.reviewed is None else month_json(view.reviewed),
        "months": [month_json(m) for m in view.months],
        "by_month": {k: round(v, 2) for k, v in summary.by_month.items()},
        "by_service": {s: {m: round(v, 2) for m, v in months.items()}
                       for s, months in summary.by_service.items()},
        "by_team": {s: {m: round(v, 2) for m, v in months.items()}
                    for s, months in summary.by_team.items()},
        "invoices": {m: {c: round(v, 2) for c, v in parts.items()}
                     for m, parts in summary.invoices.items()},
        "corrections": {m: round(v, 2) for m, v in summary.corrections.items()},
        "other_currencies": summary.other_currencies,
        "spend_basis": view.result.spend_basis,
        "inputs": [{"file": f.name, "format": f.description, "records": f.records}
                   for f in view.result.files],
        "service_mapping": {
            "rules": view.result.mapping.describe(),
            "unmapped": round(summary.unmapped, 2),
            "unmapped_share": round(summary.unmapped_share, 4),
            "by_rule": {k: round(v, 2) for k, v in summary.by_rule.items()},
        },
        "forecast": {k: forecast_json(v) for k, v in view.forecasts.items()},
        "targets": {row.service: {
            "target": row.target, "actual": round(row.actual, 2), "actual_coverage": coverage,
            "forecast": None if row.forecast is None else round(row.forecast, 2),
            "forecast_low": None if row.forecast_low is None else round(row.forecast_low, 2),
            "forecast_high": None if row.forecast_high is None else round(row.forecast_high, 2),
            "status": row.status, "reason": row.reason} for row in view.targets},
        "anomalies": [anomaly_json(a) for a in view.anomalies],
        "unit_costs": {u.service: {"days": u.days, "cost": round(u.cost, 2),
                                   "requests": u.requests,
                                   "per_1000_requests": round(u.per_thousand, 4)}
                       for u in view.unit_costs},
        "unit_costs_note": view.unit_cost_note,
        "savings": [savings_json(c) for c in view.savings],
        "basis": "EffectiveCost by charge month for trends, targets and forecasts; BilledCost "
                 "by billing period for invoices; corrections moved to the month they correct; "
                 "by_month sums every line of the exports, months counts each month up to "
                 "data_through (month-to-date when partial, with the whole month's forecast)",
    }


def savings_json(item: SavingsCandidate) -> dict[str, object]:
    return {"kind": item.kind, "subject": item.subject,
            "monthly_cost": round(item.monthly_cost, 2),
            "estimated_saving": None if item.estimated_saving is None
            else round(item.estimated_saving, 2),
            "evidence": item.evidence, "action": item.action}


def cost_section(ctx: Context) -> Section:
    """Return the section: spend by month, targets, month-end forecast, anomalies, savings."""
    result = cost_result(ctx)
    if not result.files:
        return Section.skipped(COST_KEY, COST_TITLE, f"no cost exports in {result.path.name}/")
    if not result.records or not len(result.ledger):
        return Section.skipped(COST_KEY, COST_TITLE, "no FOCUS charge lines or OpenCost "
                               "allocations could be read")
    view = cost_view(ctx)
    if view.reviewed is None:
        return Section.skipped(COST_KEY, COST_TITLE, no_cost_data(
            view.month, view.summary.by_month, view.data_through, view.data_range))
    body = cost_markdown(view)
    statuses = {row.status for row in view.targets}
    status = Status.FAIL if "over" in statuses else (
        Status.WARN if "at-risk" in statuses or view.anomalies else Status.PASS)
    actions = tuple(
        {"action": f"Bring {row.service} spend back under {row.target:,.0f} {row.currency}",
         "owner": "", "due": _month_end(view.month), "source": "cost"}
        for row in view.targets if row.status == "over"
    ) + tuple(
        {"action": f"Explain the cost jump of {a.service} on {a.day} (+{a.excess:,.0f})",
         "owner": "", "due": "", "source": "cost"} for a in _episodes(view.anomalies)
    )
    return Section(COST_KEY, COST_TITLE, body, status, data=cost_json(view) | {
        "headline": _headline(view)}, charts=cost_charts(view), actions=actions)


def _month_end(month: str) -> str:
    return month_bounds(month)[1].isoformat()


def _episodes(anomalies: list[CostAnomaly]) -> list[CostAnomaly]:
    """Return one anomaly per service: its largest day."""
    seen: dict[str, CostAnomaly] = {}
    for item in anomalies:
        seen.setdefault(item.service, item)
    return list(seen.values())


def _headline(view: CostView) -> str:
    over = sum(1 for r in view.targets if r.status == "over")
    risk = sum(1 for r in view.targets if r.status == "at-risk")
    text = f"{over} over target, {risk} at risk, {len(_episodes(view.anomalies))} anomalous"
    spend = view.reviewed
    if spend is None:
        return text
    currency = view.summary.currency
    if spend.complete:
        return f"{view.month} spend {spend.spend:,.0f} {currency} (complete month); {text}"
    said = f"{view.month} spend {spend.spend:,.0f} {currency} {spend.coverage}"
    if spend.forecast_point is not None:
        said += f", forecast {spend.forecast_point:,.0f} for the whole month"
    return f"{said}; {text}"


def forecast_text(forecast: MonthTotal | None) -> str:
    """Return a whole-month forecast as a table cell: point and 95 % interval, or why none."""
    if isinstance(forecast, MonthForecast):
        return f"{forecast.point:,.2f} (95 % {forecast.low:,.0f}–{forecast.high:,.0f})"
    if isinstance(forecast, SkippedCostForecast):
        return f"not computed: {forecast.reason}"
    return "—"


def months_table(view: CostView, where: str = WHERE
                 ) -> tuple[list[str], list[list[str]], str]:
    """Return the spend-by-month table (the months up to the one assessed, the last
    ``MONTHS_LISTED``): header, rows, and the note saying how many of the months it shows
    and that all are in ``where``."""
    listed = [m for m in view.months if m.month <= view.month][-MONTHS_LISTED:]
    header = ["Month", "Coverage", "EffectiveCost", "Forecast, whole month",
              "Invoiced (BilledCost)", "Corrections"]
    rows = [[m.month, m.coverage, _money(m.spend),
             "—" if m.complete else forecast_text(m.forecast),
             _money(view.summary.invoices.get(m.month, {}).get("total")),
             _money(view.summary.corrections.get(m.month))] for m in listed]
    return header, rows, shown_note(len(listed), len(view.months), "months", where)


def month_spend_text(view: CostView) -> list[tuple[str, str]]:
    """Return the month assessed as (label, text) pairs: its spend, complete or to date, and
    for a partial month the whole month's forecast."""
    spend = view.reviewed
    if spend is None:
        return [(f"Spend {view.month}", no_cost_data(view.month, view.summary.by_month,
                                                     view.data_through, view.data_range))]
    currency = view.summary.currency
    amount = f"{spend.spend:,.0f}" + (f" {currency}" if currency else "")
    if spend.complete:
        return [(f"Spend {view.month} (complete month)", amount)]
    pairs = [(f"Spend {view.month}, {spend.coverage}", amount)]
    forecast = spend.forecast
    if isinstance(forecast, MonthForecast):
        pairs.append((f"Forecast for the whole month {view.month}",
                      f"{forecast.point:,.0f} (95 % interval {forecast.low:,.0f}–"
                      f"{forecast.high:,.0f}); {forecast.days_left} day(s) forecast; method: "
                      f"{forecast.method}. Run rate gives {forecast.run_rate[0]:,.0f}"))
    elif isinstance(forecast, SkippedCostForecast):
        pairs.append((f"Forecast for the whole month {view.month}",
                      f"not computed: {forecast.reason}"))
    return pairs


def targets_table(view: CostView) -> tuple[list[str], list[list[str]]]:
    """Return the targets table, most urgent first: a partial month shows spend to date and
    the whole month's forecast; a complete month its spend alone."""
    rows = sorted(view.targets, key=_status_order)
    spend = view.reviewed
    if spend is None or spend.complete:
        return (["Service", "Target", "Spend (complete month)", "Status"],
                [[r.service, _money(r.target), _money(r.actual), r.status] for r in rows])
    return (["Service", "Target", spend.coverage.capitalize(), "Forecast, whole month",
             "95 % interval", "Status"],
            [[r.service, _money(r.target), _money(r.actual), _money(r.forecast),
              "—" if r.forecast_low is None or r.forecast_high is None
              else f"{r.forecast_low:,.0f}–{r.forecast_high:,.0f}", r.status] for r in rows])


def cost_markdown(view: CostView) -> str:
    lines = [f"Spend in {currency_label(view)}, EffectiveCost "
             "(amortised) by charge month; invoices use BilledCost by billing period. Data "
             f"through {view.data_through.isoformat()}. "
             f"Read: {md_escape(inputs_text(view.result))}.", ""]
    if view.result.spend_basis == "opencost":
        lines += ["_No FOCUS export: spend is the OpenCost allocations, Kubernetes workloads "
                  "only._", ""]
    if view.left_out is not None:
        lines += [f"**{md_escape(view.scope.label[:1].upper() + view.scope.label[1:])}:** "
                  f"{md_escape(', '.join(sorted(view.scope.services or ())) or 'no services')}."
                  + (f" _{md_escape(left_out_text(view))}._" if left_out_text(view) else ""),
                  ""]
    lines += [f"**Unmapped spend:** {md_escape(mapping_text(view))}", ""]
    header, rows, note = months_table(view)
    lines.append(md_table(header, rows, "llrrrr"))
    lines += note_lines(note)
    lines += [" ".join(f"**{md_escape(label)}:** {md_escape(text)}."
                       for label, text in month_spend_text(view)), ""]
    if view.targets:
        header, rows = targets_table(view)
        lines += ["**Targets**", "", md_table(header, rows, "lr" + "r" * (len(header) - 3) + "l")]
    elif view.left_out is not None:
        lines += [f"_No cost target for the services of {md_escape(view.scope.label)} "
                  "(cost_targets in opsledger.yaml)._", ""]
    else:
        lines += ["_No cost targets in opsledger.yaml (cost_targets)._", ""]
    against = spend_vs_target(view) if view.left_out is not None else None
    if against is not None:
        lines += [f"**Spend against target:** {md_escape(against.line())}.", ""]
    lines += [f"**Anomalies** (daily Usage cost against the same weekday in recent weeks): "
              f"{len(view.anomalies)} day(s)", ""]
    if view.anomalies:
        listed = view.anomalies[:LISTED]
        lines.append(md_table(["Service", "Day", "Cost", "Usual", "z", "Resources that moved"],
                              [[a.service, a.day, _money(a.cost), _money(a.baseline),
                                f"{a.z:.1f}", "; ".join(f"{r.name or r.resource} "
                                                         f"+{r.change:,.0f}" for r in a.resources)]
                               for a in listed], "llrrrl"))
        lines += note_lines(shown_note(len(listed), len(view.anomalies), "anomalous days",
                                       WHERE), "largest excess first")
    if view.unit_costs:
        lines += ["**Unit cost** (per 1,000 requests)", "", md_table(
            ["Service", "Days", "Cost", "Requests", "Per 1,000"],
            [[u.service, u.days, _money(u.cost), f"{u.requests:,}", f"{u.per_thousand:.4f}"]
             for u in view.unit_costs], "lrrrr")]
    elif view.unit_cost_note:
        lines += [f"_Unit cost not computed: {md_escape(view.unit_cost_note)}._", ""]
    lines += savings_markdown(view.savings)
    return "\n".join(lines) + "\n"


def currency_label(view: CostView) -> str:
    """Return the spend's currency, or what stands for it when the input names none."""
    if view.summary.currency:
        return view.summary.currency
    if view.result.spend_basis == "opencost":
        return "the currency OpenCost is configured for"
    return "the billing currency (the export names none)"


def inputs_text(result: CostReadResult) -> str:
    """Return the files read, each with its format (FOCUS version) and records."""
    return "; ".join(f"{f.name} ({f.description}, {f.records:,} records)"
                     for f in result.files) or "no files"


def mapping_text(view: CostView) -> str:
    """Return how much spend no cost_mapping rule names, and which rules named the rest."""
    summary = view.summary
    named = ", ".join(f"{rule} {value:,.2f}" for rule, value in summary.by_rule.items()
                      if rule != UNMAPPED)
    return (f"{summary.unmapped:,.2f} ({summary.unmapped_share:.1%} of EffectiveCost) has no "
            f"service from the cost_mapping rules ({view.result.mapping.describe()})"
            + (f"; named by {named}" if named else "") + ".")


def savings_markdown(savings: list[SavingsCandidate], heading: bool = True) -> list[str]:
    if not savings:
        return ["_No savings candidates found._", ""]
    return (["**Savings candidates**", ""] if heading else []) + [md_table(
        ["Kind", "Subject", "Monthly cost", "Estimated saving", "Evidence", "Action"],
        [[c.kind, c.subject, _money(c.monthly_cost),
          "— (ownership)" if c.estimated_saving is None else _money(c.estimated_saving),
          c.evidence, c.action] for c in savings], "llrrll")]


def _status_order(row: TargetStatusRow) -> tuple[int, str]:
    order = {"over": 0, "at-risk": 1, "no-forecast": 2, "under": 3}
    return order[row.status], row.service


def partial_marker(spend: MonthSpend | None) -> dict[str, object] | None:
    """Return what a chart needs to mark a partial month (None for a complete month)."""
    if spend is None or spend.complete:
        return None
    forecast = spend.forecast if isinstance(spend.forecast, MonthForecast) else None
    return {"x": spend.month, "label": f"{spend.coverage} + forecast",
            "days": spend.days, "days_in_month": spend.days_in_month,
            "actual": spend.spend,
            "forecast": None if forecast is None else forecast.point,
            "forecast_low": None if forecast is None else forecast.low,
            "forecast_high": None if forecast is None else forecast.high,
            "forecast_reason": (spend.forecast.reason
                                if isinstance(spend.forecast, SkippedCostForecast) else None)}


def _description(*notes: str) -> str:
    return " ".join(n[:1].upper() + n[1:] + "." for n in notes if n)


def cost_charts(view: CostView) -> tuple[Chart, ...]:
    """Return the spend-against-target bars and the monthly spend bars.

    A partial month is never drawn as if it were whole: its bars are labelled
    month-to-date, the whole month's forecast is a series of its own in the ``forecast``
    style, and ``partial`` says which month it is (``x``), how many days it covers and the
    forecast with its 95 % interval. A chart that leaves rows out says so in
    ``description`` and ``truncated``.
    """
    charts = []
    ordered = sorted(view.targets, key=_status_order)
    rows = ordered[:TARGETS_CHARTED]
    spend = view.reviewed
    partial = spend is not None and not spend.complete
    if rows:
        cut = truncation(len(rows), len(ordered), "services", WHERE,
                         "over target first, then at risk, without a forecast, under; by name "
                         "within each")
        title = f"Spend against target, {view.month}"
        if cut:
            title += f": {len(rows)} of {len(ordered)} services"
        series: list[dict[str, object]]
        if spend is not None and partial:
            series = [{"name": spend.coverage, "values": [r.actual for r in rows]},
                      {"name": "forecast, whole month", "values": [r.forecast for r in rows],
                       "style": "forecast"}]
        else:
            series = [{"name": "spend (complete month)", "values": [r.actual for r in rows]}]
        charts.append(Chart("cost-targets", title, "bar", {
            "categories": [r.service for r in rows],
            "series": [*series, {"name": "target", "values": [r.target for r in rows]}],
            "y_label": view.summary.currency,
            # Service names are long; tilted they no longer run into each other.
            "rotation": 30 if len(rows) > 4 else 0,
            "description": _description(
                f"{spend.coverage} against the whole month's target and forecast"
                if spend is not None and partial else "", str(cut["note"]) if cut else ""),
            "partial": None if spend is None or not partial else {
                "month": view.month, "days": spend.days, "days_in_month": spend.days_in_month,
                "label": f"{spend.coverage}; the forecast is of the whole month"},
            "truncated": cut}))
    shown = [m for m in view.months if m.month <= view.month][-MONTHS_CHARTED:]
    if shown and spend is not None:
        marker = partial_marker(spend)
        rest = [m.forecast_point - m.spend if not m.complete and m.forecast_point is not None
                else None for m in shown]
        stack: list[dict[str, object]] = [
            {"name": "actual (EffectiveCost)", "values": [m.spend for m in shown]}]
        if any(r is not None for r in rest):
            stack.append({"name": "forecast, rest of the month", "values": rest,
                          "style": "forecast"})
        cut = truncation(len(shown), len(view.months), "months", WHERE,
                         "the months up to the month assessed, latest last")
        charts.append(Chart("cost-forecast", "Monthly spend" + (
            f"; {view.month} month-to-date + forecast" if marker else ""), "bar", {
            "categories": [m.month for m in shown],
            "series": stack,
            "stacked": True,
            "notes": {m.month: f"{m.days} of {m.days_in_month} days"
                      + (" + forecast" if m.forecast_point is not None else "")
                      for m in shown if not m.complete},
            "y_label": view.summary.currency,
            "description": _description(
                f"{spend.month} is {spend.coverage}: actual spend, with the forecast for the "
                "rest of the month stacked on it" if marker else "",
                str(cut["note"]) if cut else ""),
            "partial": marker,
            "truncated": cut}))
    return tuple(charts)
