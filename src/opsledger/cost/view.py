"""The cost view: the one place that turns a run's cost exports into spend, forecasts, target
status, anomalies, unit cost and savings for a month (shared by the report section,
``opsledger cost``, the KPIs and the optimisation plan)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.cost.capacity import daily_peaks
from opsledger.cost.capacity_report import utilisation_result
from opsledger.cost.months import MonthSpend, MonthTotal, days_reached, month_spends, spend_through
from opsledger.cost.savings import SavingsCandidate, savings_candidates
from opsledger.cost.spend import (
    TOTAL,
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
from opsledger.readers import costs
from opsledger.readers.costs import CostReadResult

REQUESTS_FOLDER = "requests"


@dataclass(frozen=True)
class CostView:
    result: CostReadResult
    summary: SpendSummary
    month: str
    through: date | None  # the last day before now with Usage lines
    forecasts: Mapping[str, MonthForecast | SkippedCostForecast]
    targets: list[TargetStatusRow]
    anomalies: list[CostAnomaly]
    unit_costs: list[UnitCost]
    unit_cost_note: str
    savings: list[SavingsCandidate]
    # The last day counted: ``through``, or the day before now when no line is Usage.
    data_through: date
    # Each month with cost lines up to the month assessed or that of ``data_through``
    # (whichever is later): complete, or month-to-date with its whole-month forecast.
    months: tuple[MonthSpend, ...]
    reviewed: MonthSpend | None  # the month assessed; None when it has no cost lines
    data_range: tuple[date, date] | None  # first and last charge day in the exports


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

    A month given that has no cost lines up to the last day counted raises
    :class:`InputError` naming the days the cost data covers. ``request_counts`` gives
    requests per (service, day); by default they are counted from the request events under
    ``telemetry/requests/``; computed once per run and arguments."""
    return ctx.once(_cost_view, month, settings, request_counts)


def _cost_view(ctx: Context, month: str | None, settings: CostSettings,
               request_counts: RequestCountSource | None) -> CostView:
    result = cost_result(ctx)
    ledger = result.ledger
    summary = summarise_spend(ledger)
    frame = in_currency(ledger, summary.currency)
    today = ctx.now.date()
    through = last_complete_day(frame, today)
    # Without Usage lines (a bill of purchases) nothing says the month is over: it runs to
    # the day before now, and the forecast says there is no usage to go by.
    data_through = through or today - timedelta(days=1)
    data_range = charge_days(frame)
    if month is None:
        latest = through or last_charge_day(frame, today) or data_through
        month = latest.strftime("%Y-%m")
    else:
        missing = no_cost_data(month, summary.by_month, data_through, data_range)
        if missing:
            raise InputError(missing)
    first, last = month_bounds(month)
    until = min(data_through, last)
    targets = ctx.workspace.config.cost_targets
    scopes: dict[str, str | None] = {TOTAL: None} | {name: name for name in sorted(targets)}
    has_lines = month in summary.by_month and first <= data_through
    forecasts = (forecast_month_end(frame, month, until, scopes, settings)
                 if has_lines else {})
    actuals = {k: v.actual for k, v in forecasts.items() if isinstance(v, MonthForecast)}
    counts = (request_counts() if request_counts is not None
              else telemetry_request_counts(ctx.workspace.path(InputKey.TELEMETRY)))
    note = "" if counts else "no request telemetry under telemetry/requests/"
    units = unit_costs(frame, counts, first, until) if counts and through else []
    if counts and not units:
        note = "request telemetry does not overlap the month's cost data"
    util = utilisation_result(ctx)
    months = _month_spends(frame, summary, month, data_through, forecasts, settings)
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
        data_through=data_through,
        months=months,
        reviewed=next((m for m in months if m.month == month), None) if has_lines else None,
        data_range=data_range,
    )


def charge_days(frame: pd.DataFrame) -> tuple[date, date] | None:
    """Return the first and last charge day of the lines (None without lines)."""
    if frame.empty:
        return None
    days = frame["day"]
    return days.min().date(), days.max().date()


def no_cost_data(month: str, by_month: Mapping[str, float], data_through: date,
                 data_range: tuple[date, date] | None) -> str:
    """Return why ``month`` has no cost data to assess, naming the days the data covers, or
    "" when it has some."""
    first, _ = month_bounds(month)
    if month in by_month and first <= data_through:
        return ""
    if data_range is None:
        return f"no cost data for {month}: the cost exports have no charge lines"
    start, end = data_range
    covered = (f"the cost data covers {start.isoformat()} to {end.isoformat()} "
               f"({start:%Y-%m} to {end:%Y-%m})")
    if month in by_month:
        return (f"no cost data for {month} before the review time: the last day counted is "
                f"{data_through.isoformat()}; {covered}")
    return f"no cost data for {month}: {covered}"


def _month_spends(frame: pd.DataFrame, summary: SpendSummary, month: str,
                  data_through: date, forecasts: Mapping[str, MonthTotal],
                  settings: CostSettings) -> tuple[MonthSpend, ...]:
    """Return the months up to the month assessed or that of the last day counted, each
    complete or month-to-date; a partial month gets its whole-month forecast of all spend."""
    last_month = max(month, data_through.strftime("%Y-%m"))
    spends: dict[str, float] = {}
    predicted: dict[str, MonthTotal] = {}
    for name, spend in summary.by_month.items():
        if name > last_month:
            continue
        days, days_in_month = days_reached(name, data_through)
        if days >= days_in_month:
            spends[name] = spend
            continue
        # Lines charged after the last day counted are not part of the month to date.
        spends[name] = spend_through(frame, name, data_through)
        if name == month:
            if TOTAL in forecasts:
                predicted[name] = forecasts[TOTAL]
        else:
            until = min(data_through, month_bounds(name)[1])
            predicted[name] = forecast_month_end(frame, name, until, {TOTAL: None},
                                                 settings)[TOTAL]
    return month_spends(spends, data_through, predicted)
