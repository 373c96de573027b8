"""What a ticket forecast is: daily figures with intervals, backtest accuracy, weekday shares.

These are the typed results of :mod:`opsledger.forecasting.models`; they hold plain numbers
only, so reading or rendering a forecast loads no forecasting library.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from opsledger.model.status import SkippedResult

SEASON = 7
BASELINE = "SeasonalNaive"
CV_STEP = SEASON


@dataclass(frozen=True)
class DailyForecast:
    """Expected tickets on one day with 80 % and 95 % prediction intervals."""

    day: date
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float

    def to_json(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "mean": round(self.mean, 3),
            "lo80": round(self.lo80, 3),
            "hi80": round(self.hi80, 3),
            "lo95": round(self.lo95, 3),
            "hi95": round(self.hi95, 3),
        }


@dataclass(frozen=True)
class ModelAccuracy:
    """Backtest of one model: MASE and MAE over the rolling-origin windows."""

    model: str
    mase: float
    mae: float
    windows: int

    def to_json(self) -> dict[str, object]:
        return {"model": self.model, "mase": round(self.mase, 4), "mae": round(self.mae, 4),
                "windows": self.windows}


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin cross-validation of every candidate model on one queue."""

    horizon_days: int
    windows: int
    models: tuple[ModelAccuracy, ...]

    def of(self, model: str) -> ModelAccuracy:
        return next(m for m in self.models if m.model == model)

    @property
    def best(self) -> ModelAccuracy:
        return min(self.models, key=lambda m: (m.mase, m.model != BASELINE, m.model))

    def to_json(self) -> dict[str, object]:
        return {
            "method": "rolling-origin cross-validation",
            "horizon_days": self.horizon_days,
            "windows": self.windows,
            "step_days": CV_STEP,
            "metric": "MASE (scale: in-sample seasonal naive, season 7)",
            "models": [m.to_json() for m in self.models],
        }


@dataclass(frozen=True)
class QueueForecast:
    """The forecast of one queue: the chosen model, its daily forecast and its backtest."""

    queue: str
    model: str
    history_start: date
    history_end: date
    history_tickets: int
    daily: tuple[DailyForecast, ...]
    backtest: Backtest | None
    backtest_skipped: str | None  # why there is no backtest
    # 7 rows (Monday first) of one share per interval of the day, each row summing to 1.
    weekday_interval_shares: tuple[tuple[float, ...], ...]
    timezone: str  # where the days, weekdays and intervals are local
    interval_minutes: int = 60

    @property
    def mase(self) -> float | None:
        return None if self.backtest is None else self.backtest.of(self.model).mase

    @property
    def baseline_mase(self) -> float | None:
        return None if self.backtest is None else self.backtest.of(BASELINE).mase

    @property
    def beats_seasonal_naive(self) -> bool | None:
        if self.mase is None or self.baseline_mase is None:
            return None
        return self.mase < self.baseline_mase

    def intervals(self) -> list[tuple[datetime, float, float]]:
        """Return (local interval start, expected tickets, upper 80 % bound) per interval.

        The upper bound spreads the day's 80 % upper bound in the same proportions; it is a
        planning figure, not a per-interval prediction interval.
        """
        rows = []
        step = timedelta(minutes=self.interval_minutes)
        for point in self.daily:
            shares = self.weekday_interval_shares[point.day.weekday()]
            start = datetime(point.day.year, point.day.month, point.day.day)
            for slot, share in enumerate(shares):
                rows.append((start + slot * step, point.mean * share, point.hi80 * share))
        return rows

    def contacts_per_interval_of_week(self, timezone: str | None = None) -> list[float]:
        """Return the mean expected tickets in each interval of the week, Monday 00:00 first.

        Intervals are local to ``timezone`` (default: the forecast's own). Each forecast
        interval is moved to that zone on its own date, so daylight saving time is honoured;
        when the zones' offsets differ by part of an interval, its tickets are split between
        the two intervals it overlaps in proportion to the overlap.
        """
        per_week = 7 * 24 * 60 // self.interval_minutes
        sums = np.zeros(per_week)
        weights = np.zeros(per_week)
        source = ZoneInfo(self.timezone)
        target = ZoneInfo(timezone or self.timezone)
        for start, mean, _ in self.intervals():
            local = start.replace(tzinfo=source).astimezone(target)
            minute = local.weekday() * 24 * 60 + local.hour * 60 + local.minute
            slot, offset = divmod(minute, self.interval_minutes)
            later = offset / self.interval_minutes
            for index, weight in ((slot, 1.0 - later), ((slot + 1) % per_week, later)):
                if weight > 0:
                    sums[index] += weight * mean
                    weights[index] += weight
        return [float(s / w) if w else 0.0 for s, w in zip(sums, weights, strict=True)]

    def to_json(self) -> dict[str, object]:
        return {
            "queue": self.queue,
            "status": "forecast",
            "model": self.model,
            "history": {
                "start": self.history_start.isoformat(),
                "end": self.history_end.isoformat(),
                "days": (self.history_end - self.history_start).days + 1,
                "tickets": self.history_tickets,
            },
            "accuracy": {
                "model_mase": _round(self.mase),
                "seasonal_naive_mase": _round(self.baseline_mase),
                "beats_seasonal_naive": self.beats_seasonal_naive,
                "backtest": None if self.backtest is None else self.backtest.to_json(),
                "skipped": self.backtest_skipped,
            },
            "daily": [p.to_json() for p in self.daily],
            "timezone": self.timezone,
            "interval_minutes": self.interval_minutes,
            "weekday_interval_shares": [[round(s, 6) for s in row]
                                        for row in self.weekday_interval_shares],
        }


@dataclass(frozen=True)
class SkippedForecast(SkippedResult):
    """A queue that could not be forecast, and why."""

    queue: str
    reason: str
    history_tickets: int

    def to_json(self) -> dict[str, object]:
        return {"queue": self.queue, "status": "skipped", "reason": self.reason,
                "history_tickets": self.history_tickets}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)

