"""Savings candidates: where spend could fall without hurting service.

Three kinds, each with its evidence and an estimate (in the billing currency per month):

- **Low utilisation** — a service whose cpu and memory daily peaks stayed under
  ``low_utilisation`` for the last ``window_days`` days (from the utilisation series), or a
  Kubernetes workload whose requests are mostly unused (OpenCost efficiency). Estimate: the
  compute cost times (1 − peak / target utilisation), the share that could be released if
  the resource were sized for the target; an upper bound, since not every cost scales with
  size.
- **Growing spend without traffic** — Usage spend up by more than ``growth_threshold`` over
  the previous window while requests grew by less than ``traffic_tolerance`` (only where
  request counts exist). Estimate: the increase, scaled to a month.
- **Unmapped spend** — Usage that no ``cost_mapping`` rule names a service for cannot be
  owned or budgeted. No saving is claimed; the amount is what needs an owner (a tag on the
  resource, or a rule that reads a column it already has).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import pandas as pd

from opsledger.cost.spend import UNMAPPED, RequestCounts, usage_through
from opsledger.model.cost import Allocation, ChargeCategory

SavingsKind = Literal["low-utilisation", "growth-without-traffic", "unmapped"]
MONTH_DAYS = 30.4375  # mean Gregorian month


@dataclass(frozen=True)
class SavingsSettings:
    window_days: int = 28
    low_utilisation: float = 0.2
    target_utilisation: float = 0.7
    low_efficiency: float = 0.3
    growth_threshold: float = 0.2
    traffic_tolerance: float = 0.05
    limit: int = 10


@dataclass(frozen=True)
class SavingsCandidate:
    kind: SavingsKind
    subject: str  # a service, a workload or a resource
    monthly_cost: float
    estimated_saving: float | None  # None: not a saving, an ownership gap
    evidence: str
    action: str


def savings_candidates(
    frame: pd.DataFrame,
    through: date,
    peaks: pd.DataFrame | None = None,
    allocations: Sequence[Allocation] = (),
    counts: RequestCounts | None = None,
    settings: SavingsSettings = SavingsSettings(),
    daily: pd.DataFrame | None = None,
) -> list[SavingsCandidate]:
    """Return the candidates, largest estimated saving first, then unmapped spend
    (``daily``: the :func:`~opsledger.cost.spend.usage_through` ``through`` of ``frame``,
    when the caller has it)."""
    window = settings.window_days
    start = pd.Timestamp(through - timedelta(days=window - 1))
    if daily is None:
        daily = usage_through(frame, through)
    recent = daily[daily.index >= start] if not daily.empty else daily
    monthly = (recent.sum() / max(len(recent), 1) * MONTH_DAYS) if not recent.empty else (
        pd.Series(dtype=float))
    found = _low_utilisation(monthly, peaks, start, settings)
    found += _low_efficiency(allocations, settings)
    if counts:
        found += _growth_without_traffic(daily, counts, through, settings)
    saving = sorted((c for c in found if c.estimated_saving), key=lambda c: (
        -(c.estimated_saving or 0.0), c.subject))
    return saving[: settings.limit] + _unmapped(frame, start, through, settings)


def _low_utilisation(monthly: pd.Series, peaks: pd.DataFrame | None, start: pd.Timestamp,
                     settings: SavingsSettings) -> list[SavingsCandidate]:
    if peaks is None or peaks.empty or monthly.empty:
        return []
    recent = peaks[(peaks["day"] >= start) & peaks["resource"].isin(["cpu", "memory"])]
    out = []
    for service, rows in recent.groupby("service", sort=True):
        peak = float(rows["utilisation"].max())
        kinds = set(rows["resource"])
        cost = float(monthly.get(service, 0.0))
        if peak >= settings.low_utilisation or cost <= 0 or not {"cpu", "memory"} & kinds:
            continue
        share = max(1.0 - peak / settings.target_utilisation, 0.0)
        out.append(SavingsCandidate(
            "low-utilisation", str(service), cost, cost * share,
            f"peak {'/'.join(sorted(kinds))} utilisation {peak:.0%} over the last "
            f"{settings.window_days} days (target {settings.target_utilisation:.0%})",
            "rightsize or consolidate: fewer or smaller instances"))
    return out


def _low_efficiency(allocations: Sequence[Allocation], settings: SavingsSettings
                    ) -> list[SavingsCandidate]:
    totals: dict[str, list[float]] = {}
    for item in allocations:
        if item.idle or item.service is None or item.days <= 0:
            continue
        efficiency = item.total_efficiency
        if efficiency is None and item.cpu_efficiency is not None:
            efficiency = item.cpu_efficiency
        if efficiency is None:
            continue
        bucket = totals.setdefault(item.service, [0.0, 0.0, 0.0])
        bucket[0] += item.total_cost
        bucket[1] += item.total_cost * efficiency
        bucket[2] += item.days
    out = []
    for service, (cost, used, days) in sorted(totals.items()):
        efficiency = used / cost if cost else 1.0
        if efficiency >= settings.low_efficiency or cost <= 0:
            continue
        monthly = cost / days * MONTH_DAYS
        share = max(1.0 - efficiency / settings.target_utilisation, 0.0)
        out.append(SavingsCandidate(
            "low-utilisation", service, monthly, monthly * share,
            f"Kubernetes requests {efficiency:.0%} used (OpenCost efficiency, {days:.0f} days)",
            "lower the pod requests to what is used, then let the cluster scale down"))
    return out


def _growth_without_traffic(daily: pd.DataFrame, counts: RequestCounts, through: date,
                            settings: SavingsSettings) -> list[SavingsCandidate]:
    if daily.empty:
        return []
    window = settings.window_days
    now_days = [through - timedelta(days=i) for i in range(window)]
    before_days = [through - timedelta(days=window + i) for i in range(window)]
    out = []
    for service in sorted({s for s, _ in counts}):
        if service not in daily.columns:
            continue
        if not all((service, d) in counts for d in now_days + before_days):
            continue  # growth needs both windows fully covered by telemetry
        cost_now = _sum(daily[service], now_days)
        cost_before = _sum(daily[service], before_days)
        requests_now = sum(counts[(service, d)] for d in now_days)
        requests_before = sum(counts[(service, d)] for d in before_days)
        if cost_before <= 0 or requests_before <= 0:
            continue
        cost_growth = cost_now / cost_before - 1
        traffic_growth = requests_now / requests_before - 1
        if cost_growth > settings.growth_threshold and traffic_growth < settings.traffic_tolerance:
            increase = (cost_now - cost_before) / window * MONTH_DAYS
            out.append(SavingsCandidate(
                "growth-without-traffic", service, cost_now / window * MONTH_DAYS, increase,
                f"spend {cost_growth:+.0%} against requests {traffic_growth:+.0%}, last "
                f"{window} days against the {window} before",
                "find what grew (new resources, larger instances, data) and whether it is "
                "still needed"))
    return out


def _sum(series: pd.Series, days: list[date]) -> float:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    return float(series.reindex(index, fill_value=0.0).sum())


def _unmapped(frame: pd.DataFrame, start: pd.Timestamp, through: date,
              settings: SavingsSettings) -> list[SavingsCandidate]:
    rows = frame[frame["service"].isna() & (frame["category"] == ChargeCategory.USAGE.value)
                 & ~frame["correction"] & (frame["day"] >= start)
                 & (frame["day"] <= pd.Timestamp(through))]
    if rows.empty:
        return []
    resource = (rows["resource_id"].astype(object).fillna(rows["provider_service"].astype(object))
                .fillna(UNMAPPED))
    by_resource = rows["effective_cost"].groupby(resource).sum().sort_values(ascending=False)
    days = settings.window_days
    out = []
    for name, cost in by_resource.head(settings.limit).items():
        if cost <= 0:
            continue
        out.append(SavingsCandidate(
            "unmapped", str(name), float(cost) / days * MONTH_DAYS, None,
            f"{float(cost):,.2f} of Usage in the last {days} days that no cost_mapping rule "
            "names a service for",
            "tag it with its service and team, or add a cost_mapping rule that names it "
            "(or remove it if nobody owns it)"))
    return out
