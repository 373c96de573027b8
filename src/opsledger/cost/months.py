"""Which months of spend are complete and which are month-to-date.

A month is *complete* when the cost data reaches its last day; otherwise it is *partial*:
its spend is month-to-date, counted over the days from the 1st through the last day with
data (the last day before the review clock that has Usage lines; without Usage lines, the
day before the clock). A partial month carries the forecast of its whole month beside its
actual spend, never in place of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from opsledger.cost.spend import MonthForecast, SkippedCostForecast, month_bounds

MonthTotal = MonthForecast | SkippedCostForecast


@dataclass(frozen=True)
class MonthSpend:
    """One month's EffectiveCost: all of it when complete, month-to-date when partial."""

    month: str
    spend: float  # EffectiveCost charged in the month (to date when partial)
    days: int  # days of the month the data reaches, from the 1st
    days_in_month: int
    forecast: MonthTotal | None = None  # the whole month's forecast; partial months only

    @property
    def complete(self) -> bool:
        return self.days >= self.days_in_month

    @property
    def coverage(self) -> str:
        """Return "complete month" or "month-to-date (N of M days)"."""
        if self.complete:
            return "complete month"
        return f"month-to-date ({self.days} of {self.days_in_month} days)"

    @property
    def forecast_point(self) -> float | None:
        return self.forecast.point if isinstance(self.forecast, MonthForecast) else None


def days_reached(month: str, data_through: date) -> tuple[int, int]:
    """Return (days of ``month`` up to and including ``data_through``, days in ``month``)."""
    first, last = month_bounds(month)
    reached = (min(data_through, last) - first).days + 1
    return max(reached, 0), last.day


def month_spends(by_month: Mapping[str, float], data_through: date,
                 forecasts: Mapping[str, MonthTotal]) -> tuple[MonthSpend, ...]:
    """Return each month of ``by_month`` with how much of it the data covers.

    ``forecasts`` holds the whole-month forecast of the partial months (by month); a
    complete month never carries one: its spend is all actual.
    """
    out = []
    for month, spend in by_month.items():
        days, days_in_month = days_reached(month, data_through)
        partial = days < days_in_month
        out.append(MonthSpend(month, spend, days, days_in_month,
                              forecasts.get(month) if partial else None))
    return tuple(out)


def spend_through(frame: pd.DataFrame, month: str, through: date) -> float:
    """Return the EffectiveCost of the lines charged in ``month`` up to ``through``."""
    first, last = month_bounds(month)
    day = frame["day"]
    kept = (day >= pd.Timestamp(first)) & (day <= pd.Timestamp(min(through, last)))
    return float(frame.loc[kept, "effective_cost"].sum())
