"""The cost view: the one place that turns a run's cost exports into spend, forecasts, target
status, anomalies, unit cost and savings for a month (shared by the report section,
``opsledger cost``, the KPIs and the optimisation plan)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.scope import EVERYTHING, LeftOut, Scope
from opsledger.core.workspace import InputKey
from opsledger.cost.capacity import daily_peaks
from opsledger.cost.capacity_report import utilisation_samples
from opsledger.cost.months import MonthSpend, MonthTotal, days_reached, month_spends, spend_through
from opsledger.cost.savings import SavingsCandidate, savings_candidates
from opsledger.cost.scoping import (
    IN_VIEW,
    OTHER,
    UNPLACED,
    LeftOutSpend,
    SpendVsTarget,
    allocations_in,
    left_out_spend,
    line_placement,
    requests_in,
    spend_against_targets,
    targets_in,
)
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
    charge_months,
    daily_anomalies,
    forecast_month_end,
    in_currency,
    last_charge_day,
    last_complete_day,
    main_currency,
    month_bounds,
    summarise_spend,
    target_status,
    unit_costs,
    usage_through,
)
from opsledger.engines.time_sql import epoch_micros_sql
from opsledger.model.cost import CostLedger
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
    # A team's or a service's view: its lines only, and the month's spend it leaves out
    # (None over every service).
    scope: Scope = EVERYTHING
    left_out: LeftOutSpend | None = None


@dataclass(frozen=True)
class BillDays:
    """What the whole bill says about its currency and its days: the same for every view of
    a run, so that the views of several teams assess the same month over the same days."""

    currency: str  # the currency of most lines
    through: date | None  # the last day before now with Usage lines
    last_charge: date | None  # the last day before now with a line of any kind
    data_range: tuple[date, date] | None
    months: tuple[str, ...]  # the months with lines in ``currency``


def cost_result(ctx: Context) -> CostReadResult:
    """Return the run's read of ``costs/`` (read once and cached like every input; a team's
    or a service's view shares the read of the whole run)."""
    whole = ctx.inputs.source or ctx.inputs
    cached = whole.cache.get(InputKey.COSTS)
    if isinstance(cached, CostReadResult):
        return cached
    path = ctx.workspace.path(InputKey.COSTS)
    mapping = ctx.workspace.config.cost_mapping
    result = costs.read(path, mapping) if path.exists() else CostReadResult(path)
    whole.cache[InputKey.COSTS] = result
    return result


def whole_ledger(ctx: Context) -> CostLedger:
    """Return every charge line read, of every service (once for the run and its views)."""
    return ctx.shared(_whole_ledger)


def _whole_ledger(ctx: Context) -> CostLedger:
    return cost_result(ctx).ledger


def bill_days(ctx: Context) -> BillDays:
    """Return the whole bill's currency and days as of the run's clock."""
    return ctx.shared(_bill_days, ctx.now.date())


def _bill_days(ctx: Context, today: date) -> BillDays:
    ledger = whole_ledger(ctx)
    currency = main_currency(ledger)
    frame = in_currency(ledger, currency)
    return BillDays(currency, last_complete_day(frame, today), last_charge_day(frame, today),
                    charge_days(frame), charge_months(frame))


def request_counts_read(ctx: Context) -> RequestCounts:
    """Return requests per (service, UTC day) of every service (once for the run and its
    views)."""
    return ctx.shared(_request_counts)


def _request_counts(ctx: Context) -> RequestCounts:
    return telemetry_request_counts(ctx.workspace.path(InputKey.TELEMETRY))


def telemetry_request_counts(telemetry: Path) -> RequestCounts:
    """Return requests per (service, UTC day) from ``telemetry/requests/`` Parquet files."""
    folder = telemetry / REQUESTS_FOLDER
    files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if not files:
        return {}
    import duckdb

    paths = [[str(f) for f in files]]
    connection = duckdb.connect()
    try:
        connection.execute("SET TimeZone = 'UTC'")
        kind = connection.execute(
            "DESCRIBE SELECT ts FROM read_parquet(?, union_by_name = true)", paths
        ).fetchone()
        rows = connection.execute(
            f"SELECT CAST(service AS VARCHAR), {_utc_day(str(kind[1]) if kind else '')}, "
            "count(*) FROM read_parquet(?, union_by_name = true) GROUP BY 1, 2",
            paths,
        ).fetchall()
    finally:
        connection.close()
    return {(str(service), day): int(count) for service, day, count in rows}


def _utc_day(column_type: str) -> str:
    """Return the SQL for the UTC day of ``ts``, a column of type ``column_type``.

    A time's day is read from its microseconds since 1970 as a time without a zone, which is
    a third of the work of casting a zoned time in the session's zone (UTC) to a date. Text
    is read as a time first, so that its offset counts ('01:00+02:00' is the day before).
    """
    if column_type.startswith("TIMESTAMP"):  # of any precision, with a zone or without
        return f"CAST(make_timestamp({epoch_micros_sql('ts', column_type)}) AS DATE)"
    return "CAST(CAST(ts AS TIMESTAMPTZ) AS DATE)"


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
    scope = ctx.scope
    everything = whole_ledger(ctx)
    bill = bill_days(ctx)
    placement = line_placement(scope, everything.frame)
    ledger = everything if scope.whole else CostLedger(
        everything.frame[placement == IN_VIEW].reset_index(drop=True))
    summary = summarise_spend(ledger, bill.currency)
    if not scope.whole:
        # A month of the bill in which the view has no line is a month of no spend.
        summary = replace(summary, by_month={m: summary.by_month.get(m, 0.0)
                                             for m in bill.months})
    frame = in_currency(ledger, summary.currency)
    today = ctx.now.date()
    through = bill.through
    # Without Usage lines (a bill of purchases) nothing says the month is over: it runs to
    # the day before now, and the forecast says there is no usage to go by.
    data_through = through or today - timedelta(days=1)
    data_range = bill.data_range
    if month is None:
        latest = through or bill.last_charge or data_through
        month = latest.strftime("%Y-%m")
    else:
        missing = no_cost_data(month, summary.by_month, data_through, data_range)
        if missing:
            raise InputError(missing)
    first, last = month_bounds(month)
    until = min(data_through, last)
    targets = targets_in(scope, ctx.workspace.config.cost_targets)
    scopes: dict[str, str | None] = {TOTAL: None} | {name: name for name in sorted(targets)}
    has_lines = month in summary.by_month and first <= data_through
    # One table of daily usage for the forecasts, the anomalies and the savings.
    daily = usage_through(frame, until) if has_lines or through else None
    forecasts = (forecast_month_end(frame, month, until, scopes, settings, daily)
                 if has_lines else {})
    actuals = {k: v.actual for k, v in forecasts.items() if isinstance(v, MonthForecast)}
    every = request_counts() if request_counts is not None else request_counts_read(ctx)
    counts = requests_in(scope, every)
    note = "" if counts else (
        "no request telemetry under telemetry/requests/" if not every
        else f"no request telemetry for the services of {scope.label}")
    units = unit_costs(frame, counts, first, until) if counts and through else []
    if counts and not units:
        note = "request telemetry does not overlap the month's cost data"
    samples, _ = utilisation_samples(ctx)
    months = _month_spends(frame, summary, month, data_through, forecasts, settings)
    left_out = None
    if not scope.whole:
        left_out = left_out_spend(everything.frame, placement, summary.currency, month,
                                  data_through)
        rows = everything.frame["rows"].to_numpy()
        ctx.inputs.left_out[InputKey.COSTS] = LeftOut(int(rows[placement == OTHER].sum()),
                                                      int(rows[placement == UNPLACED].sum()))
    return CostView(
        result=result,
        summary=summary,
        month=month,
        through=through,
        forecasts=forecasts,
        targets=target_status(targets, forecasts, actuals, summary.currency, settings),
        anomalies=daily_anomalies(frame, until, settings, daily) if through else [],
        unit_costs=units,
        unit_cost_note=note,
        savings=savings_candidates(frame, until, daily_peaks(samples),
                                   allocations_in(scope, result.allocations), counts,
                                   daily=daily)
        if through else [],
        data_through=data_through,
        months=months,
        reviewed=next((m for m in months if m.month == month), None) if has_lines else None,
        data_range=data_range,
        scope=scope,
        left_out=left_out,
    )


def spend_vs_target(view: CostView) -> SpendVsTarget | None:
    """Return the view's spend and whole-month forecast in the month assessed beside the sum
    of its services' cost targets (None when the month has no cost data)."""
    spend = view.reviewed
    if spend is None:
        return None
    total = view.forecasts.get(TOTAL)
    forecast = total.point if isinstance(total, MonthForecast) else None
    return spend_against_targets(view.month, view.summary.currency, spend.coverage,
                                 spend.spend, forecast, view.targets)


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
