"""The cost and capacity sections of the monthly report, and the one place that turns a run's
inputs into a cost view and a capacity view (shared with ``opsledger cost``/``capacity`` and
the optimisation plan)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.cost.capacity import (
    CapacitySettings,
    Runway,
    SkippedRunway,
    by_urgency,
    capacity_runway,
    daily_peaks,
)
from opsledger.cost.savings import SavingsCandidate, savings_candidates
from opsledger.cost.spend import (
    TOTAL,
    UNMAPPED,
    CostAnomaly,
    CostSettings,
    MonthForecast,
    RequestCounts,
    RequestCountSource,
    SkippedCostForecast,
    SpendSummary,
    TargetStatusRow,
    UnitCost,
    daily_anomalies,
    forecast_month_end,
    in_currency,
    last_charge_day,
    last_complete_day,
    month_bounds,
    summarise_spend,
    target_status,
    unit_costs,
)
from opsledger.readers import costs, utilisation
from opsledger.readers.costs import CostReadResult
from opsledger.readers.utilisation import UtilisationReadResult
from opsledger.render.sections import Chart, Section, Status, md_escape, md_table

COST_KEY, COST_TITLE = "cost", "Cost against targets"
CAPACITY_KEY, CAPACITY_TITLE = "capacity", "Capacity runway"
REQUESTS_FOLDER = "requests"
URGENT_DAYS = 30
LISTED = 10


@dataclass(frozen=True)
class CostView:
    result: CostReadResult
    summary: SpendSummary
    month: str
    through: date | None
    forecasts: Mapping[str, MonthForecast | SkippedCostForecast]
    targets: list[TargetStatusRow]
    anomalies: list[CostAnomaly]
    unit_costs: list[UnitCost]
    unit_cost_note: str
    savings: list[SavingsCandidate]


@dataclass(frozen=True)
class CapacityView:
    result: UtilisationReadResult
    settings: CapacitySettings
    runways: list[Runway]  # most urgent first
    skipped: list[SkippedRunway]


def cost_result(ctx: Context) -> CostReadResult:
    """Return the run's read of ``costs/`` (read once and cached like every input)."""
    cached = ctx.inputs.cache.get(InputKey.COSTS)
    if isinstance(cached, CostReadResult):
        return cached
    path = ctx.workspace.path(InputKey.COSTS)
    mapping = ctx.workspace.config.cost_mapping
    result = costs.read(path, mapping) if path.exists() else CostReadResult(path)
    ctx.inputs.cache[InputKey.COSTS] = result
    return result


def utilisation_result(ctx: Context) -> UtilisationReadResult:
    """Return the utilisation samples, read once per run."""
    return ctx.once(_read_utilisation)


def _read_utilisation(ctx: Context) -> UtilisationReadResult:
    path = utilisation.utilisation_folder(ctx.workspace.path(InputKey.TELEMETRY))
    return utilisation.read(path) if path.exists() else UtilisationReadResult(path)


def telemetry_request_counts(telemetry: Path) -> RequestCounts:
    """Return requests per (service, UTC day) from ``telemetry/requests/`` Parquet files."""
    folder = telemetry / REQUESTS_FOLDER
    files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if not files:
        return {}
    import duckdb

    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        rows = connection.execute(
            "SELECT CAST(service AS VARCHAR), CAST(ts AS DATE), count(*) "
            "FROM read_parquet(?, union_by_name = true) GROUP BY 1, 2",
            [[str(f) for f in files]],
        ).fetchall()
    finally:
        connection.close()
    return {(str(service), day): int(count) for service, day, count in rows}


def cost_view(ctx: Context, month: str | None = None,
              settings: CostSettings = CostSettings(),
              request_counts: RequestCountSource | None = None) -> CostView:
    """Return spend, forecasts, target status, anomalies, unit cost and savings for a month
    (default: the month of the last complete day of cost data).

    ``request_counts`` gives requests per (service, day); by default they are counted from
    the request events under ``telemetry/requests/``; computed once per run and arguments."""
    return ctx.once(_cost_view, month, settings, request_counts)


def _cost_view(ctx: Context, month: str | None, settings: CostSettings,
               request_counts: RequestCountSource | None) -> CostView:
    result = cost_result(ctx)
    ledger = result.ledger
    summary = summarise_spend(ledger)
    frame = in_currency(ledger, summary.currency)
    through = last_complete_day(frame, ctx.now.date())
    if month is None:
        latest = through or last_charge_day(frame, ctx.now.date()) or ctx.now.date()
        month = latest.strftime("%Y-%m")
    first, last = month_bounds(month)
    # Without Usage lines (a bill of purchases) nothing says the month is over: it runs to
    # the day before now, and the forecast says there is no usage to go by.
    until = min(through, last) if through else min(last, ctx.now.date() - timedelta(days=1))
    targets = ctx.workspace.config.cost_targets
    scopes: dict[str, str | None] = {TOTAL: None} | {name: name for name in sorted(targets)}
    forecasts = forecast_month_end(frame, month, until, scopes, settings) if len(frame) else {}
    actuals = {k: v.actual for k, v in forecasts.items() if isinstance(v, MonthForecast)}
    counts = (request_counts() if request_counts is not None
              else telemetry_request_counts(ctx.workspace.path(InputKey.TELEMETRY)))
    note = "" if counts else "no request telemetry under telemetry/requests/"
    units = unit_costs(frame, counts, first, until) if counts and through else []
    if counts and not units:
        note = "request telemetry does not overlap the month's cost data"
    util = utilisation_result(ctx)
    return CostView(
        result=result,
        summary=summary,
        month=month,
        through=through,
        forecasts=forecasts,
        targets=target_status(targets, forecasts, actuals, summary.currency, settings),
        anomalies=daily_anomalies(frame, until, settings) if through else [],
        unit_costs=units,
        unit_cost_note=note,
        savings=savings_candidates(frame, until, daily_peaks(util.log.frame),
                                   result.allocations, counts) if through else [],
    )


def capacity_view(ctx: Context, settings: CapacitySettings = CapacitySettings()
                  ) -> CapacityView:
    """Return the capacity runway of every utilisation series (computed once per run)."""
    return ctx.once(_capacity_view, settings)


def _capacity_view(ctx: Context, settings: CapacitySettings) -> CapacityView:
    result = utilisation_result(ctx)
    runs = capacity_runway(result.log.frame, ctx.now.date(), settings)
    return CapacityView(result, settings, by_urgency(runs),
                        [r for r in runs if isinstance(r, SkippedRunway)])


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


def cost_json(view: CostView) -> dict[str, object]:
    """Return the ``opsledger cost --json`` document."""
    summary = view.summary
    return {
        "currency": summary.currency,
        "month": view.month,
        "through": view.through.isoformat() if view.through else None,
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
            "target": row.target, "actual": round(row.actual, 2),
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
                 "by billing period for invoices; corrections moved to the month they correct",
    }


def savings_json(item: SavingsCandidate) -> dict[str, object]:
    return {"kind": item.kind, "subject": item.subject,
            "monthly_cost": round(item.monthly_cost, 2),
            "estimated_saving": None if item.estimated_saving is None
            else round(item.estimated_saving, 2),
            "evidence": item.evidence, "action": item.action}


def runway_json(item: Runway) -> dict[str, object]:
    return {
        "service": item.service, "resource": item.resource,
        "last_day": item.last_day.isoformat(), "days": item.days,
        "current": round(item.current, 4), "capacity": item.current_capacity,
        "threshold": item.threshold,
        "days_to_threshold": item.days_to_threshold,
        "days_to_threshold_upper": item.days_to_threshold_upper,
        "crossing_date": item.crossing_date.isoformat() if item.crossing_date else None,
        "crossing_date_upper": (item.crossing_date_upper.isoformat()
                                if item.crossing_date_upper else None),
        "horizon_days": item.horizon_days,
        "needs": [{"month": n.month, "peak_utilisation": round(n.peak_utilisation, 4),
                   "factor": round(n.factor, 3),
                   "capacity": None if n.capacity is None else round(n.capacity, 3)}
                  for n in item.needs],
    }


def capacity_json(view: CapacityView) -> dict[str, object]:
    return {
        "threshold": view.settings.threshold,
        "target_utilisation": view.settings.target,
        "months": view.settings.months,
        "method": "daily peak utilisation; additive Holt-Winters (statsforecast AutoETS AAA, "
                  "season 7, undamped); 95 % upper bound",
        "runways": [runway_json(r) for r in view.runways],
        "skipped": [{"service": s.service, "resource": s.resource, "days": s.days,
                     "reason": s.reason} for s in view.skipped],
    }


def _days(value: int | None) -> str:
    return "beyond horizon" if value is None else ("now" if value == 0 else f"{value} d")


def cost_section(ctx: Context) -> Section:
    """Return the section: spend by month, targets, month-end forecast, anomalies, savings."""
    result = cost_result(ctx)
    if not result.files:
        return Section.skipped(COST_KEY, COST_TITLE, f"no cost exports in {result.path.name}/")
    if not result.records or not len(result.ledger):
        return Section.skipped(COST_KEY, COST_TITLE, "no FOCUS charge lines or OpenCost "
                               "allocations could be read")
    view = cost_view(ctx)
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
    total = view.forecasts.get(TOTAL)
    over = sum(1 for r in view.targets if r.status == "over")
    risk = sum(1 for r in view.targets if r.status == "at-risk")
    text = f"{over} over target, {risk} at risk, {len(_episodes(view.anomalies))} anomalous"
    if isinstance(total, MonthForecast):
        text = f"{view.month} forecast {total.point:,.0f} {view.summary.currency}; " + text
    return text


def cost_markdown(view: CostView) -> str:
    summary = view.summary
    lines = [f"Spend in {currency_label(view)}, EffectiveCost "
             "(amortised) by charge month; invoices use BilledCost by billing period. Data "
             f"through {view.through.isoformat() if view.through else 'n/a'}. "
             f"Read: {md_escape(inputs_text(view.result))}.", ""]
    if view.result.spend_basis == "opencost":
        lines += ["_No FOCUS export: spend is the OpenCost allocations, Kubernetes workloads "
                  "only._", ""]
    lines += [f"**Unmapped spend:** {md_escape(mapping_text(view))}", ""]
    months = list(summary.by_month)[-6:]
    lines.append(md_table(["Month", "EffectiveCost", "Invoiced (BilledCost)", "Corrections"],
                          [[m, _money(summary.by_month[m]),
                            _money(summary.invoices.get(m, {}).get("total")),
                            _money(summary.corrections.get(m))] for m in months], "lrrr"))
    total = view.forecasts.get(TOTAL)
    if isinstance(total, MonthForecast) and total.days_left == 0:
        lines += [f"**Spend {view.month} (complete month):** {total.actual:,.0f}.", ""]
    elif isinstance(total, MonthForecast):
        lines += [f"**Month-end forecast {view.month}:** {total.point:,.0f} (95 % interval "
                  f"{total.low:,.0f}–{total.high:,.0f}); {total.actual:,.0f} to date, "
                  f"{total.days_left} day(s) left; method: {total.method}. Run rate gives "
                  f"{total.run_rate[0]:,.0f}.", ""]
    elif isinstance(total, SkippedCostForecast):
        lines += [f"**Month-end forecast {view.month}:** not computed: {total.reason}", ""]
    if view.targets:
        lines += ["**Targets**", "", md_table(
            ["Service", "Target", "To date", "Forecast", "95 % interval", "Status"],
            [[r.service, _money(r.target), _money(r.actual), _money(r.forecast),
              "—" if r.forecast_low is None else f"{r.forecast_low:,.0f}–{r.forecast_high:,.0f}",
              r.status] for r in sorted(view.targets, key=_status_order)], "lrrrrl")]
    else:
        lines += ["_No cost targets in opsledger.yaml (cost_targets)._", ""]
    lines += [f"**Anomalies** (daily Usage cost against the same weekday in recent weeks): "
              f"{len(view.anomalies)} day(s)", ""]
    if view.anomalies:
        lines.append(md_table(["Service", "Day", "Cost", "Usual", "z", "Resources that moved"],
                              [[a.service, a.day, _money(a.cost), _money(a.baseline),
                                f"{a.z:.1f}", "; ".join(f"{r.name or r.resource} "
                                                         f"+{r.change:,.0f}" for r in a.resources)]
                               for a in view.anomalies[:LISTED]], "llrrrl"))
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


def cost_charts(view: CostView) -> tuple[Chart, ...]:
    charts = []
    rows = sorted(view.targets, key=_status_order)[:15]
    if rows:
        charts.append(Chart("cost-targets", f"Spend against target, {view.month}", "bar", {
            "categories": [r.service for r in rows],
            "series": [{"name": "to date", "values": [r.actual for r in rows]},
                       {"name": "month-end forecast", "values": [r.forecast or 0 for r in rows]},
                       {"name": "target", "values": [r.target for r in rows]}],
            "y_label": view.summary.currency,
            # Service names are long; tilted they no longer run into each other.
            "rotation": 30 if len(rows) > 4 else 0}))
    total = view.forecasts.get(TOTAL)
    months = list(view.summary.by_month)
    if isinstance(total, MonthForecast) and months:
        history = [m for m in months if m < view.month][-6:]
        xs = [*history, view.month]
        ys = [view.summary.by_month[m] for m in history] + [total.actual]
        # The forecast line starts at the last complete month so that it joins the history.
        start = ys[-2:-1]
        charts.append(Chart("cost-forecast", "Monthly spend and month-end forecast", "line", {
            "x": xs,
            "series": [{"name": "EffectiveCost", "y": ys},
                       {"name": "forecast (95 % band)", "x": xs[-1 - len(start):],
                        "y": [*start, total.point], "low": [*start, total.low],
                        "high": [*start, total.high]}],
            "y_label": view.summary.currency}))
    return tuple(charts)


def capacity_section(ctx: Context) -> Section:
    """Return the section: time to threshold per resource and the capacity needed."""
    view = capacity_view(ctx)
    if not view.result.files:
        return Section.skipped(CAPACITY_KEY, CAPACITY_TITLE,
                               "no utilisation series under telemetry/utilisation/")
    if not view.runways:
        reason = "no series could be forecast" + (
            f" ({view.skipped[0].reason})" if view.skipped else "")
        return Section.skipped(CAPACITY_KEY, CAPACITY_TITLE, reason)
    urgent = [r for r in view.runways if r.days_to_threshold is not None
              and r.days_to_threshold <= URGENT_DAYS]
    soon = [r for r in view.runways if r.days_to_threshold is not None
            or (r.days_to_threshold_upper is not None
                and r.days_to_threshold_upper <= URGENT_DAYS)]
    status = Status.FAIL if urgent else (Status.WARN if soon else Status.PASS)
    actions = tuple(
        {"action": f"Add {r.resource} capacity to {r.service} (reaches "
                   f"{r.threshold:.0%} {_days(r.days_to_threshold)})",
         "owner": "", "due": (r.crossing_date or r.last_day).isoformat(), "source": "capacity"}
        for r in view.runways if r.days_to_threshold is not None
        and r.days_to_threshold <= 2 * URGENT_DAYS)
    headline = (f"{len(urgent)} resource(s) reach {view.settings.threshold:.0%} within "
                f"{URGENT_DAYS} days; {len(soon)} within the horizon")
    return Section(CAPACITY_KEY, CAPACITY_TITLE, capacity_markdown(view), status,
                   data=capacity_json(view) | {"headline": headline},
                   charts=capacity_charts(view), actions=actions)


def capacity_markdown(view: CapacityView) -> str:
    settings = view.settings
    shown = [r for r in view.runways if r.days_to_threshold is not None
             or r.days_to_threshold_upper is not None][:LISTED * 2]
    lines = [f"Daily peak utilisation forecast {settings.months} month(s) ahead (additive "
             f"Holt-Winters, weekly season). Threshold {settings.threshold:.0%}; capacity "
             f"needed keeps the forecast peak (95 % upper bound) at {settings.target:.0%}.", ""]
    if shown:
        lines.append(md_table(
            ["Service", "Resource", "Now", "Reaches threshold", "Upper bound reaches",
             f"Needed by {shown[0].needs[-1].month if shown[0].needs else ''}"],
            [[r.service, r.resource, f"{r.current:.0%}",
              _when(r.days_to_threshold, r.crossing_date),
              _when(r.days_to_threshold_upper, r.crossing_date_upper), _need(r)] for r in shown],
            "llrlll"))
    else:
        lines += [f"No resource reaches {settings.threshold:.0%} within {settings.months} "
                  "month(s), even at the upper bound.", ""]
    if view.skipped:
        lines += [f"**Not forecast:** {len(view.skipped)} series", ""]
        lines += [f"- {md_escape(s.service)} {s.resource}: {md_escape(s.reason)}"
                  for s in view.skipped[:LISTED]]
        lines.append("")
    return "\n".join(lines) + "\n"


def _when(days: int | None, day: date | None) -> str:
    if days is None:
        return "beyond horizon"
    return "already above" if days == 0 else f"{days} d ({day})"


def _need(runway: Runway) -> str:
    if not runway.needs:
        return "—"
    last = runway.needs[-1]
    text = f"×{last.factor:.2f}"
    if last.capacity is not None and runway.current_capacity is not None:
        text += f" ({runway.current_capacity:g} → {last.capacity:,.1f})"
    return text


def capacity_charts(view: CapacityView) -> tuple[Chart, ...]:
    rows = [r for r in view.runways if r.days_to_threshold_upper is not None][:15]
    if not rows:
        return ()
    horizon = rows[0].horizon_days
    return (Chart("capacity-runway", f"Days until {view.settings.threshold:.0%} utilisation",
                  "barh", {
                      "categories": [f"{r.service} {r.resource}" for r in rows],
                      "values": [r.days_to_threshold if r.days_to_threshold is not None
                                 else horizon for r in rows],
                      "flags": [r.days_to_threshold is not None
                                and r.days_to_threshold <= URGENT_DAYS for r in rows],
                      "limits": [r.days_to_threshold_upper for r in rows],
                      "limit_label": "95 % upper bound",
                      "x_label": "days (point forecast; bar at horizon = not reached)",
                  }),)
