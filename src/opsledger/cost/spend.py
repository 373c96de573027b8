"""Spend against targets: totals by month, service and team, month-end forecasts, anomalies
and unit cost, from FOCUS charge lines.

How the FOCUS columns and charge kinds are used (FOCUS 1.0, columns ``EffectiveCost``,
``BilledCost``, ``ChargeCategory``, ``ChargeClass``):

- **Trends, targets and forecasts use EffectiveCost**, the amortised cost: a commitment
  purchased up front has ``EffectiveCost`` 0 on its Purchase row and is spread over the
  usage it covers, so spend is not lumpy in the month a commitment was bought.
- **Invoice totals use BilledCost**, summed by ``BillingPeriodStart``: what the invoice of
  that period says, Purchase rows included at their full price.
- **Tax and Credit** rows count in both (their EffectiveCost follows the charges they relate
  to, or equals BilledCost). When no ``cost_mapping`` rule names their service they show as
  unmapped, like every other such line; the summary says how much that is and which rules
  named the rest.
- **Corrections** (``ChargeClass = Correction``) fix an already invoiced period: on the
  invoice they land in the billing period that carries them; in trends they are moved back to
  the month they correct (by ``ChargePeriodStart``), so history reads as it should have been.
- **Anomalies and forecasts of daily spend use Usage rows only** (without corrections):
  purchases, taxes and credits post on their own calendar and are not daily behaviour.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from opsledger.core.config import CostTarget
from opsledger.forecasting import background
from opsledger.model.cost import ChargeCategory, CostLedger
from opsledger.model.status import SkippedResult

UNMAPPED = "(unmapped)"  # the service of lines no cost_mapping rule names
TOTAL = "(total)"
SEASONAL_METHOD = "weekly-seasonal (additive Holt-Winters, statsforecast AutoETS AAA)"
Z95 = 1.959963984540054  # two-sided 95 % normal quantile
WEEK = 7  # the season of daily spend, in days
TargetStatus = Literal["under", "at-risk", "over", "no-forecast"]
RequestCounts = Mapping[tuple[str, date], int]
RequestCountSource = Callable[[], RequestCounts]


@dataclass(frozen=True)
class CostSettings:
    """Thresholds for anomalies and forecasts (defaults suit daily cloud bills)."""

    anomaly_weeks: int = 6  # same weekdays in the baseline
    anomaly_min_weeks: int = 3  # fewer baseline days than this: no verdict
    anomaly_z: float = 3.0
    anomaly_min_amount: float = 50.0  # in the billing currency, per day
    anomaly_recent_days: int = 21  # days checked, ending at the last day with data
    anomaly_std_floor: float = 0.05  # share of the baseline mean (see daily_anomalies)
    seasonal_min_days: int = 28  # history for the weekly-seasonal forecast
    seasonal_history_days: int = 56  # eight weekly cycles: enough for a month-end forecast
    run_rate_days: int = 7
    at_risk_share: float = 0.9  # forecast above this share of target: at risk


@dataclass(frozen=True)
class SpendSummary:
    """Spend in one currency; lines in other currencies are counted apart, never mixed in."""

    currency: str
    other_currencies: dict[str, int]  # currency -> lines left out
    by_month: dict[str, float]  # EffectiveCost by charge month
    by_service: dict[str, dict[str, float]]  # service -> month -> EffectiveCost
    by_team: dict[str, dict[str, float]]
    invoices: dict[str, dict[str, float]]  # billing month -> category -> BilledCost
    corrections: dict[str, float]  # charge month corrected -> EffectiveCost of corrections
    unmapped: float  # EffectiveCost of lines no cost_mapping rule names a service for
    unmapped_share: float  # of all EffectiveCost in the currency (0 when that is 0)
    by_rule: dict[str, float]  # naming rule (or UNMAPPED) -> EffectiveCost it named


@dataclass(frozen=True)
class MonthForecast:
    """Month-end spend for one scope (a service or the total) with a 95 % interval."""

    scope: str
    month: str
    through: date  # last day counted as actual
    days_left: int
    actual: float  # month to date
    point: float
    low: float
    high: float
    method: str
    run_rate: tuple[float, float, float]  # point, low, high by the run-rate method


@dataclass(frozen=True)
class SkippedCostForecast(SkippedResult):
    scope: str
    month: str
    reason: str


@dataclass(frozen=True)
class TargetStatusRow:
    service: str
    target: float
    currency: str
    actual: float
    forecast: float | None
    forecast_low: float | None
    forecast_high: float | None
    status: TargetStatus
    reason: str


@dataclass(frozen=True)
class ResourceMove:
    resource: str
    name: str | None
    cost: float
    baseline: float

    @property
    def change(self) -> float:
        return self.cost - self.baseline


@dataclass(frozen=True)
class CostAnomaly:
    """A service's day whose cost stands out against the same weekday in recent weeks."""

    service: str
    day: date
    cost: float
    baseline: float  # mean of the same weekday over the baseline weeks
    spread: float  # standard deviation used (after the floor)
    z: float
    weeks: int
    resources: tuple[ResourceMove, ...] = field(default_factory=tuple)

    @property
    def excess(self) -> float:
        return self.cost - self.baseline


@dataclass(frozen=True)
class UnitCost:
    service: str
    days: int
    cost: float
    requests: int

    @property
    def per_thousand(self) -> float:
        return self.cost / self.requests * 1000 if self.requests else float("nan")


def named(column: pd.Series, fill: str = UNMAPPED) -> pd.Series:
    """Return a text column with ``fill`` for missing values (a categorical stays one)."""
    if isinstance(column.dtype, pd.CategoricalDtype) and fill not in column.cat.categories:
        column = column.cat.add_categories([fill])
    return column.fillna(fill)


def main_currency(ledger: CostLedger) -> str:
    """Return the currency holding the most lines (ties: alphabetical)."""
    if not len(ledger):
        return ""
    counts = ledger.frame["currency"].value_counts()
    best = counts.max()
    return min(str(c) for c, n in counts.items() if n == best)


def in_currency(ledger: CostLedger, currency: str) -> pd.DataFrame:
    frame = ledger.frame
    kept = frame["currency"].isin([currency, ""])
    return frame if kept.all() else frame[kept]


def _month(column: pd.Series) -> pd.Series:
    """Return each day's month as ``YYYY-MM`` (formatted once per distinct month)."""
    months = column.to_numpy(dtype="datetime64[ns]").astype("datetime64[M]")
    codes, uniques = pd.factorize(months)
    labels = np.array([str(u) for u in uniques] + [""], dtype=object)
    return pd.Series(labels[codes], index=column.index)


def charge_months(frame: pd.DataFrame) -> tuple[str, ...]:
    """Return the months (``YYYY-MM``) the lines are charged in, in order."""
    if frame.empty:
        return ()
    return tuple(sorted(str(m) for m in _month(frame["day"]).unique()))


def summarise_spend(ledger: CostLedger, currency: str | None = None) -> SpendSummary:
    """Return spend by month, service, team and invoice (see the module notes)."""
    currency = currency if currency is not None else main_currency(ledger)
    frame = in_currency(ledger, currency)
    others = ledger.frame.loc[~ledger.frame.index.isin(frame.index), "currency"].astype(object)
    month = _month(frame["day"])
    effective = frame["effective_cost"]
    by_month = effective.groupby(month).sum()
    by_service = effective.groupby([named(frame["service"]), month], observed=True).sum()
    by_team = effective.groupby([named(frame["team"]), month], observed=True).sum()
    invoices = frame["billed_cost"].groupby(
        [_month(frame["billing_period"]), frame["category"]], observed=True).sum()
    corrections = effective[frame["correction"]].groupby(month[frame["correction"]]).sum()
    total = float(effective.sum())
    unmapped = float(effective[frame["service"].isna()].sum())
    rule = named(frame["service_source"]).where(frame["service"].notna(), UNMAPPED)
    by_rule = effective.groupby(rule, observed=True).sum().sort_values(ascending=False)
    invoice_map: dict[str, dict[str, float]] = {}
    for key, value in invoices.items():
        period, category = _pair(key)
        invoice_map.setdefault(str(period), {})[str(category)] = float(value)
    for period, parts in invoice_map.items():
        invoice_map[period] = dict(sorted(parts.items())) | {"total": sum(parts.values())}
    return SpendSummary(
        currency=currency,
        other_currencies={str(k): int(v) for k, v in others.value_counts().sort_index().items()},
        by_month={str(k): float(v) for k, v in by_month.sort_index().items()},
        by_service=_nest(by_service),
        by_team=_nest(by_team),
        invoices=dict(sorted(invoice_map.items())),
        corrections={str(k): float(v) for k, v in corrections.sort_index().items()},
        unmapped=unmapped,
        unmapped_share=unmapped / total if total else 0.0,
        by_rule={str(k): float(v) for k, v in by_rule.items()},
    )


def _pair(key: object) -> tuple[str, str]:
    """Return a two-level group key as text (pandas types group keys loosely)."""
    parts = tuple(key) if isinstance(key, tuple) else (key, "")
    return str(parts[0]), str(parts[1])


def _nest(series: pd.Series) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key, value in series.items():
        outer, inner = _pair(key)
        out.setdefault(str(outer), {})[str(inner)] = float(value)
    return {outer: dict(sorted(inner.items())) for outer, inner in sorted(out.items())}


def daily_usage(frame: pd.DataFrame, by: str = "service") -> pd.DataFrame:
    """Return Usage EffectiveCost per day (rows) and ``by`` value (columns), zero-filled.

    Corrections are left out: they restate an old period, not what was used that day.
    """
    usage = frame[(frame["category"] == ChargeCategory.USAGE.value) & ~frame["correction"]]
    if usage.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([]), dtype=float)
    keys = named(usage[by]).astype(object)
    table = usage["effective_cost"].groupby([usage["day"], keys]).sum().unstack().fillna(0.0)
    index = pd.date_range(table.index.min(), table.index.max(), freq="D")
    return table.reindex(index, fill_value=0.0).sort_index(axis=1)


def usage_through(frame: pd.DataFrame, through: date) -> pd.DataFrame:
    """Return :func:`daily_usage` of the lines charged up to ``through``."""
    return daily_usage(frame[frame["day"] <= pd.Timestamp(through)])


def last_complete_day(frame: pd.DataFrame, now: date) -> date | None:
    """Return the last day before ``now`` with any Usage line (bills arrive late)."""
    usage = frame[(frame["category"] == ChargeCategory.USAGE.value) & (frame["day"]
                                                                      < pd.Timestamp(now))]
    return None if usage.empty else usage["day"].max().date()


def last_charge_day(frame: pd.DataFrame, now: date) -> date | None:
    """Return the last day before ``now`` with a line of any kind (a bill of purchases only
    has no Usage line to go by)."""
    before = frame[frame["day"] < pd.Timestamp(now)]
    return None if before.empty else before["day"].max().date()


def month_bounds(month: str) -> tuple[date, date]:
    year, number = (int(p) for p in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def forecast_month_end(
    frame: pd.DataFrame,
    month: str,
    through: date,
    scopes: Mapping[str, str | None],
    settings: CostSettings = CostSettings(),
    daily: pd.DataFrame | None = None,
) -> dict[str, MonthForecast | SkippedCostForecast]:
    """Return the month-end EffectiveCost forecast of each scope (``daily``: the
    :func:`usage_through` ``through`` of ``frame``, when the caller has it).

    ``scopes`` maps a scope name to a service (``None`` for the total). Actual spend is every
    line charged in the month up to ``through``; the rest of the month is forecast from daily
    Usage spend by two methods, and the seasonal one is used when there is enough history:

    - *run rate*: the mean of the last ``run_rate_days`` days times the days left; 95 %
      interval ± 1.96 · s · √days_left, with s the standard deviation of the last 28 days
      (days taken as independent);
    - *weekly-seasonal*: additive Holt-Winters (statsforecast AutoETS ``AAA``, 7-day season)
      on the last ``seasonal_history_days`` days; the interval sums the daily 95 % bounds,
      which treats the daily errors as fully correlated and so errs wide rather than narrow.
      One fixed model rather than AutoETS's model search: about 15 times fewer fits.
    """
    first, last = month_bounds(month)
    through = min(through, last)
    days_left = max((last - through).days, 0)
    in_month = frame[(frame["day"] >= pd.Timestamp(first))
                     & (frame["day"] <= pd.Timestamp(through))]
    if daily is None:
        daily = usage_through(frame, through)
    # Each service's actual from one pass over the month, not one pass per scope.
    by_service = in_month["effective_cost"].groupby(named(in_month["service"]),
                                                    observed=True).sum()
    series: dict[str, pd.Series] = {}
    out: dict[str, MonthForecast | SkippedCostForecast] = {}
    actuals: dict[str, float] = {}
    for scope, service in scopes.items():
        actuals[scope] = float(in_month["effective_cost"].sum() if service is None
                               else by_service.get(service, 0.0))
        if daily.empty:
            values = pd.Series(dtype=float, index=pd.DatetimeIndex([]))
        else:
            values = daily.sum(axis=1) if service is None else daily.get(
                service, pd.Series(0.0, index=daily.index))
        values = values[values.index <= pd.Timestamp(through)]
        series[scope] = values
        if through < first:
            out[scope] = SkippedCostForecast(scope, month, "no data in the month yet")
        elif days_left == 0:
            total = actuals[scope]
            out[scope] = MonthForecast(scope, month, through, 0, total, total, total, total,
                                       "complete month (actual)", (total, total, total))
        elif len(values) < settings.run_rate_days:
            out[scope] = SkippedCostForecast(
                scope, month, f"{len(values)} day(s) of usage; at least "
                f"{settings.run_rate_days} are needed")
    pending = [s for s in scopes if s not in out]
    seasonal = _seasonal_sums(
        {s: series[s] for s in pending if len(series[s]) >= settings.seasonal_min_days},
        days_left, settings)
    for scope in pending:
        values = series[scope]
        recent = values.iloc[-settings.run_rate_days:].to_numpy()
        spread = float(np.std(values.iloc[-28:].to_numpy(), ddof=1)) if len(values) > 1 else 0.0
        rate_point = float(recent.mean()) * days_left
        margin = Z95 * spread * math.sqrt(days_left)
        actual = actuals[scope]
        run_rate = (actual + rate_point, actual + max(rate_point - margin, 0.0),
                    actual + rate_point + margin)
        if scope in seasonal:
            point, low, high = seasonal[scope]
            out[scope] = MonthForecast(
                scope, month, through, days_left, actual, actual + point, actual + max(low, 0.0),
                actual + high, SEASONAL_METHOD, run_rate)
        else:
            out[scope] = MonthForecast(
                scope, month, through, days_left, actual, *run_rate,
                f"run rate (fewer than {settings.seasonal_min_days} days for the seasonal "
                "method)", run_rate)
    return out


def seasonal_daily_forecast(
    series: Mapping[str, pd.Series], horizon: int, settings: CostSettings = CostSettings()
) -> pd.DataFrame:
    """Return the additive Holt-Winters forecast (AutoETS ``AAA``, season 7) with 95 % bounds
    for each series.

    Columns ``unique_id, ds, AutoETS, AutoETS-lo-95, AutoETS-hi-95``.
    """
    frames = []
    for scope, values in series.items():
        tail = values.iloc[-settings.seasonal_history_days:]
        frames.append(pd.DataFrame({"unique_id": scope, "ds": tail.index,
                                    "y": tail.to_numpy(dtype=float)}))
    if not frames or horizon < 1:
        return pd.DataFrame(columns=["unique_id", "ds", "AutoETS", "AutoETS-lo-95",
                                     "AutoETS-hi-95"])
    # Imported here, only when a series is forecast: statsforecast and the statsmodels it
    # loads take longer to import than the rest of a cost run takes to compute.
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    engine = StatsForecast(models=[AutoETS(season_length=WEEK, model="AAA")], freq="D",
                           n_jobs=1, fallback_model=SeasonalNaive(season_length=WEEK))
    future = engine.forecast(df=pd.concat(frames, ignore_index=True), h=horizon, level=[95])
    return future.reset_index() if "unique_id" not in future.columns else future


def _seasonal_sums(
    series: Mapping[str, pd.Series], horizon: int, settings: CostSettings
) -> dict[str, tuple[float, float, float]]:
    if not series or horizon < 1:
        return {}  # nothing to fit: no series, or no day of the month left
    if background.prestarted():  # statsforecast is loaded there, and not here
        future = background.result(background.submit(seasonal_daily_forecast, series, horizon,
                                                      settings),
                                   seasonal_daily_forecast, series, horizon, settings)
    else:
        future = seasonal_daily_forecast(series, horizon, settings)
    sums: dict[str, tuple[float, float, float]] = {}
    for scope, rows in future.groupby("unique_id"):
        # Spend cannot be negative on a day; clip each day before summing.
        sums[str(scope)] = tuple(float(rows[c].clip(lower=0).sum()) for c in (  # type: ignore[assignment]
            "AutoETS", "AutoETS-lo-95", "AutoETS-hi-95"))
    return sums


def target_status(
    targets: Mapping[str, CostTarget],
    forecasts: Mapping[str, MonthForecast | SkippedCostForecast],
    actuals: Mapping[str, float],
    currency: str,
    settings: CostSettings = CostSettings(),
) -> list[TargetStatusRow]:
    """Return each target's status: ``over`` when the month's spend already exceeds the target
    or the whole forecast interval does; ``at-risk`` when the point forecast is above
    ``at_risk_share`` of the target or the interval reaches it; else ``under``."""
    rows = []
    for service, target in sorted(targets.items()):
        actual = actuals.get(service, 0.0)
        forecast = forecasts.get(service)
        note = "" if target.currency == currency or not currency else (
            f"target in {target.currency}, spend in {currency}")
        if actual > target.monthly:
            rows.append(_row(service, target, currency, actual, forecast, "over",
                             "spend to date already exceeds the target"))
        elif not isinstance(forecast, MonthForecast):
            reason = forecast.reason if forecast else "no cost lines for the service"
            rows.append(_row(service, target, currency, actual, None, "no-forecast", reason))
        elif forecast.low > target.monthly:
            rows.append(_row(service, target, currency, actual, forecast, "over",
                             "the whole forecast interval is above the target"))
        elif forecast.point > settings.at_risk_share * target.monthly or (
                forecast.high > target.monthly):
            rows.append(_row(service, target, currency, actual, forecast, "at-risk",
                             f"forecast {forecast.point:,.0f} (95 % up to {forecast.high:,.0f}) "
                             f"against {target.monthly:,.0f}"))
        else:
            rows.append(_row(service, target, currency, actual, forecast, "under", note))
    return rows


def _row(service: str, target: CostTarget, currency: str, actual: float,
         forecast: MonthForecast | SkippedCostForecast | None, status: TargetStatus,
         reason: str) -> TargetStatusRow:
    known = forecast if isinstance(forecast, MonthForecast) else None
    return TargetStatusRow(service, target.monthly, target.currency or currency, actual,
                           known.point if known else None, known.low if known else None,
                           known.high if known else None, status, reason)


def daily_anomalies(
    frame: pd.DataFrame, through: date, settings: CostSettings = CostSettings(),
    daily: pd.DataFrame | None = None,
) -> list[CostAnomaly]:
    """Return service-days whose Usage cost is far above the same weekday in recent weeks
    (``daily``: the :func:`usage_through` ``through`` of ``frame``, when the caller has it).

    For each of the last ``anomaly_recent_days`` days, the baseline is the same weekday in
    the ``anomaly_weeks`` weeks before (at least ``anomaly_min_weeks`` of them):
    z = (cost − mean) / s, with s the sample standard deviation floored at
    ``anomaly_std_floor`` × mean, because a service whose cost never moves would otherwise
    turn a cent's change into a huge z. A day is anomalous when z ≥ ``anomaly_z`` *and* the
    excess is at least ``anomaly_min_amount``. Each anomaly lists the resources of the service
    whose cost moved most against their own baseline.
    """
    if daily is None:
        daily = usage_through(frame, through)
    if daily.empty:
        return []
    values = daily.to_numpy()
    days = pd.DatetimeIndex(daily.index)
    found: list[CostAnomaly] = []
    start = max(len(days) - settings.anomaly_recent_days, 0)
    for row in range(start, len(days)):
        lags = [row - 7 * k for k in range(1, settings.anomaly_weeks + 1) if row - 7 * k >= 0]
        if len(lags) < settings.anomaly_min_weeks:
            continue
        base = values[lags]
        mean = base.mean(axis=0)
        spread = np.maximum(base.std(axis=0, ddof=1), settings.anomaly_std_floor * np.abs(mean))
        spread = np.where(spread > 0, spread, np.nan)
        excess = values[row] - mean
        z = excess / spread
        hits = np.flatnonzero((z >= settings.anomaly_z) & (excess >= settings.anomaly_min_amount))
        for column in (int(c) for c in hits):
            service = str(daily.columns[column])
            found.append(CostAnomaly(
                service, days[row].date(), float(values[row, column]), float(mean[column]),
                float(spread[column]), float(z[column]), len(lags),
                _moved_resources(frame, service, days[row], pd.DatetimeIndex(days[lags]))))
    found.sort(key=lambda a: (-a.excess, a.day, a.service))
    return found


def _moved_resources(
    frame: pd.DataFrame, service: str, day: pd.Timestamp, baseline_days: pd.DatetimeIndex,
    limit: int = 3,
) -> tuple[ResourceMove, ...]:
    rows = frame[(named(frame["service"]) == service)
                 & (frame["category"] == ChargeCategory.USAGE.value) & ~frame["correction"]
                 & frame["day"].isin(baseline_days.append(pd.DatetimeIndex([day])))]
    resource = (rows["resource_id"].astype(object).fillna(rows["resource_name"].astype(object))
                .fillna("(no resource id)"))
    table = rows["effective_cost"].groupby([resource, rows["day"]]).sum().unstack().fillna(0.0)
    table = table.reindex(columns=baseline_days.append(pd.DatetimeIndex([day])), fill_value=0.0)
    names = rows.groupby(resource)["resource_name"].first()
    today = table[day].to_numpy(dtype=float)
    usual = table[baseline_days].to_numpy(dtype=float).mean(axis=1)
    moves = [ResourceMove(str(r), _name(names.get(r)), float(today[i]), float(usual[i]))
             for i, r in enumerate(table.index)]
    moves.sort(key=lambda m: (-m.change, m.resource))
    return tuple(m for m in moves[:limit] if m.change > 0)


def _name(value: object) -> str | None:
    return None if value is None or value != value else str(value)


def unit_costs(frame: pd.DataFrame, counts: RequestCounts, since: date, through: date
               ) -> list[UnitCost]:
    """Return cost per 1,000 requests per service over the days in [since, through] that have
    both Usage cost and request counts (a day without telemetry says nothing about traffic)."""
    daily = daily_usage(frame)
    out = []
    for service in sorted({s for s, _ in counts}):
        if daily.empty or service not in daily.columns:
            continue
        days = [d for d in pd.date_range(since, through, freq="D")
                if (service, d.date()) in counts and d in daily.index]
        requests = sum(counts[(service, d.date())] for d in days)
        if not days or requests <= 0:
            continue
        cost = float(daily.loc[days, service].sum())
        out.append(UnitCost(service, len(days), cost, requests))
    return out


def previous_days(through: date, days: int) -> tuple[date, date]:
    """Return the first and last day of the ``days`` days ending at ``through``."""
    return through - timedelta(days=days - 1), through
