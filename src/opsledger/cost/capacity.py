"""Capacity runway: when each service's resources reach a utilisation threshold, and how much
capacity keeps them at a target utilisation over the coming months.

Samples are reduced to one value per day, the day's *peak* utilisation, because capacity
must cover the busiest hour, not the average one. Each daily series is forecast with
statsforecast's additive Holt-Winters model (AutoETS ``AAA``: level, trend and a 7-day
season for the weekday/weekend shape) with no damping of the trend: growth is extrapolated
as observed, which is the usual planning assumption and the cautious one. The time to
threshold is read twice, from the point forecast and from the upper bound of the 95 %
interval (the earliest plausible date). Capacity needed for a month
is the month's highest forecast utilisation (upper bound) divided by the target utilisation,
as a multiple of today's capacity, and in units when the samples give ``capacity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from opsledger.model.status import SkippedResult

SEASON = 7
MIN_DAYS = 21  # three weekly cycles for a seasonal fit
MAX_HISTORY_DAYS = 120  # long enough for trend and season; fit time grows with length
STALE_DAYS = 7  # a series whose last sample is older than this is not forecast


@dataclass(frozen=True)
class CapacitySettings:
    threshold: float = 0.8
    target: float = 0.7
    months: int = 6


@dataclass(frozen=True)
class MonthNeed:
    """Capacity needed in one coming month to stay at the target utilisation."""

    month: str
    peak_utilisation: float  # forecast upper bound, highest day of the month
    factor: float  # needed capacity as a multiple of current capacity
    capacity: float | None  # in the samples' units, when known


@dataclass(frozen=True)
class Runway:
    """One resource of one service: where it is, and when it crosses the threshold."""

    service: str
    resource: str
    last_day: date
    days: int
    current: float  # latest daily peak
    current_capacity: float | None
    threshold: float
    days_to_threshold: int | None  # point forecast; None = not within the horizon
    days_to_threshold_upper: int | None  # 95 % upper bound
    horizon_days: int
    needs: tuple[MonthNeed, ...]
    forecast_days: tuple[date, ...]
    forecast_mean: tuple[float, ...]
    forecast_high: tuple[float, ...]

    @property
    def crossing_date(self) -> date | None:
        if self.days_to_threshold is None:
            return None
        return self.last_day + timedelta(days=self.days_to_threshold)

    @property
    def crossing_date_upper(self) -> date | None:
        if self.days_to_threshold_upper is None:
            return None
        return self.last_day + timedelta(days=self.days_to_threshold_upper)


@dataclass(frozen=True)
class SkippedRunway(SkippedResult):
    service: str
    resource: str
    days: int
    reason: str


def daily_peaks(samples: pd.DataFrame) -> pd.DataFrame:
    """Return ``service, resource, day, utilisation, capacity`` with the day's peak
    utilisation and the capacity at that day's last sample."""
    if samples.empty:
        return pd.DataFrame(columns=["service", "resource", "day", "utilisation", "capacity"])
    frame = samples.assign(day=samples["time"].dt.tz_convert("UTC").dt.tz_localize(None)
                           .dt.floor("D"))
    grouped = frame.sort_values("time").groupby(["service", "resource", "day"], sort=True)
    return pd.DataFrame({
        "utilisation": grouped["utilisation"].max(),
        "capacity": grouped["capacity"].last(),
    }).reset_index()


def capacity_runway(
    samples: pd.DataFrame, today: date, settings: CapacitySettings = CapacitySettings()
) -> list[Runway | SkippedRunway]:
    """Return the runway of every (service, resource) series in ``samples``."""
    peaks = daily_peaks(samples)
    peaks = peaks[peaks["day"] < pd.Timestamp(today)]
    horizon = max(settings.months, 1) * 31
    order: list[SkippedRunway | tuple[str, str, str]] = []  # skipped, or a series to fit
    fit: dict[str, pd.DataFrame] = {}
    for (service, resource), rows in peaks.groupby(["service", "resource"], sort=True):
        rows = rows.iloc[-MAX_HISTORY_DAYS:]
        key = f"{service}\x1f{resource}"
        last = rows["day"].iloc[-1].date()
        full = pd.date_range(rows["day"].iloc[0], rows["day"].iloc[-1], freq="D")
        if (today - last).days > STALE_DAYS:
            order.append(SkippedRunway(str(service), str(resource), len(rows),
                                       f"last sample on {last}, more than {STALE_DAYS} days "
                                       "ago"))
        elif len(full) < MIN_DAYS:
            order.append(SkippedRunway(str(service), str(resource), len(full),
                                       f"{len(full)} days of samples; at least {MIN_DAYS} "
                                       "are needed"))
        elif len(rows) < 0.8 * len(full):
            order.append(SkippedRunway(str(service), str(resource), len(rows),
                                       f"samples on {len(rows)} of {len(full)} days; too "
                                       "many gaps to forecast"))
        else:
            # Interpolate the few missing days: a gap is not a day of zero utilisation.
            series = rows.set_index("day")["utilisation"].reindex(full).interpolate()
            fit[key] = pd.DataFrame({"unique_id": key, "ds": full, "y": series.to_numpy()})
            order.append((str(service), str(resource), key))
    forecasts = forecast_utilisation(list(fit.values()), horizon)
    # Split once and look up by key: filtering the whole frame per series is quadratic.
    future_of = {str(k): frame for k, frame in forecasts.groupby("unique_id", sort=False)}
    known = peaks.dropna(subset=["capacity"])
    capacity_of = known.groupby(["service", "resource"], sort=False)["capacity"].last()
    results: list[Runway | SkippedRunway] = []
    for item in order:
        if isinstance(item, SkippedRunway):
            results.append(item)
            continue
        service, resource, key = item
        capacity = capacity_of.get((service, resource))
        results.append(_runway(service, resource, fit[key], future_of[key],
                               None if capacity is None else float(capacity), settings, horizon))
    return results


def forecast_utilisation(series: Sequence[pd.DataFrame], horizon: int) -> pd.DataFrame:
    """Return additive Holt-Winters forecasts (AutoETS ``AAA``, season 7, undamped) with
    95 % upper bounds for ``series``."""
    if not series:
        return pd.DataFrame(columns=["unique_id", "ds", "mean", "hi"])
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    model = AutoETS(season_length=SEASON, model="AAA", damped=False)
    engine = StatsForecast(models=[model], freq="D", n_jobs=1,
                           fallback_model=SeasonalNaive(season_length=SEASON))
    future = engine.forecast(df=pd.concat(series, ignore_index=True), h=horizon, level=[95])
    if "unique_id" not in future.columns:
        future = future.reset_index()
    return pd.DataFrame({"unique_id": future["unique_id"], "ds": future["ds"],
                         "mean": future["AutoETS"], "hi": future["AutoETS-hi-95"]})


def first_crossing(values: np.ndarray, threshold: float) -> int | None:
    """Return the 1-based day on which ``values`` first reach ``threshold``."""
    hits = np.flatnonzero(values >= threshold)
    return int(hits[0]) + 1 if hits.size else None


def _runway(
    service: str, resource: str, history: pd.DataFrame, future: pd.DataFrame,
    capacity: float | None, settings: CapacitySettings, horizon: int,
) -> Runway:
    current = float(history["y"].iloc[-1])
    last_day = pd.Timestamp(history["ds"].iloc[-1]).date()
    mean = future["mean"].to_numpy(dtype=float)
    high = future["hi"].to_numpy(dtype=float)
    already = current >= settings.threshold
    needs = []
    days = [pd.Timestamp(d).date() for d in future["ds"]]
    month_of = np.array([d.strftime("%Y-%m") for d in days])
    for month in sorted(set(month_of))[: settings.months]:
        peak = float(max(np.max(high[month_of == month]), current))
        factor = peak / settings.target
        needs.append(MonthNeed(str(month), peak, factor, None if capacity is None
                               else factor * capacity))
    return Runway(
        service=service,
        resource=resource,
        last_day=last_day,
        days=len(history),
        current=current,
        current_capacity=capacity,
        threshold=settings.threshold,
        days_to_threshold=0 if already else first_crossing(mean, settings.threshold),
        days_to_threshold_upper=0 if already else first_crossing(high, settings.threshold),
        horizon_days=horizon,
        needs=tuple(needs),
        forecast_days=tuple(days),
        forecast_mean=tuple(float(v) for v in mean),
        forecast_high=tuple(float(v) for v in high),
    )


def by_urgency(results: Sequence[Runway | SkippedRunway]) -> list[Runway]:
    """Return the runways soonest to cross first (upper bound, then point forecast)."""
    runways = [r for r in results if isinstance(r, Runway)]
    never = 10**6
    return sorted(runways, key=lambda r: (
        r.days_to_threshold if r.days_to_threshold is not None else never,
        r.days_to_threshold_upper if r.days_to_threshold_upper is not None else never,
        -r.current, r.service, r.resource))
