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

Every series that can be forecast is fitted, also those far below the threshold: the capacity
needed per month is reported for each of them, and it comes from the fitted upper bound, which
no cheap bound on the history gives. All series go to statsforecast in one call
(:func:`forecast_series`), which takes and returns plain arrays so that a run may hand the
fitting to a worker process and build the runways when it returns.
"""

from __future__ import annotations

from array import array
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
    # Daily forecasts, as packed doubles: a thousand services' runways hold a million values.
    forecast_mean: array[float]
    forecast_high: array[float]

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


PEAK_COLUMNS = ["service", "resource", "day", "utilisation", "capacity"]
NS_PER_DAY = 86_400 * 10**9


def daily_peaks(samples: pd.DataFrame) -> pd.DataFrame:
    """Return ``service, resource, day, utilisation, capacity``: one row per service,
    resource and UTC day, in that order, with the day's peak utilisation and the capacity at
    the day's last sample that gives one. Samples without a service, resource or time are
    left out.

    Computed on codes (a sort of the rows and one reduction per column): a thousand
    services' samples would otherwise be copied whole to be sorted and grouped.
    """
    if samples.empty:
        return pd.DataFrame(columns=PEAK_COLUMNS)
    service, services = pd.factorize(samples["service"], sort=True)
    resource, resources = pd.factorize(samples["resource"], sort=True)
    stamps = samples["time"].dt.tz_convert("UTC").dt.tz_localize(None)
    instant = stamps.to_numpy(dtype="datetime64[ns]").view(np.int64)
    day = instant // NS_PER_DAY
    rows = np.flatnonzero((service >= 0) & (resource >= 0) & stamps.notna().to_numpy())
    if not rows.size:
        return pd.DataFrame(columns=PEAK_COLUMNS)
    # By series and day; within a day by time, samples of the same time as given.
    order = rows[np.lexsort((instant[rows], day[rows], resource[rows], service[rows]))]
    service, resource, day = service[order], resource[order], day[order]
    starts = np.flatnonzero(np.r_[True, (service[1:] != service[:-1])
                                  | (resource[1:] != resource[:-1]) | (day[1:] != day[:-1])])
    utilisation = samples["utilisation"].to_numpy(dtype=float)[order]
    capacity = samples["capacity"].to_numpy(dtype=float)[order]
    # The last position in each day that gives a capacity (-1: none does).
    given = np.where(np.isnan(capacity), -1, np.arange(len(order)))
    last = np.maximum.reduceat(given, starts)
    return pd.DataFrame({
        "service": services.take(service[starts]),
        "resource": resources.take(resource[starts]),
        "day": (day[starts] * NS_PER_DAY).view("datetime64[ns]"),
        "utilisation": np.fmax.reduceat(utilisation, starts),  # NaN only where all are
        "capacity": np.where(last >= 0, capacity[np.maximum(last, 0)], np.nan),
    })


def horizon_days(settings: CapacitySettings) -> int:
    """Return how many days ahead the series are forecast: 31 a month."""
    return max(settings.months, 1) * 31


def capacity_runway(
    samples: pd.DataFrame, today: date, settings: CapacitySettings = CapacitySettings()
) -> list[Runway | SkippedRunway]:
    """Return the runway of every (service, resource) series in ``samples``."""
    series = daily_series(samples, today)
    fitted = [item for item in series if isinstance(item, DailySeries)]
    return runways(series, forecast_series(fitted, horizon_days(settings)), settings)


@dataclass(frozen=True, eq=False)  # an array field has no single truth value
class DailySeries:
    """One (service, resource) series of daily peaks on every day from its first to its
    last, ready to forecast."""

    service: str
    resource: str
    first_day: date
    present: int  # days with a daily peak; the others are gaps
    utilisation: np.ndarray  # one value a day, gaps interpolated
    capacity: float | None  # the latest known capacity

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=len(self.utilisation) - 1)


@dataclass(frozen=True, eq=False)
class SeriesForecast:
    """Forecasts of several series: row ``i`` of each array is series ``i``, column ``j``
    the ``j + 1``-th day after its last day."""

    mean: np.ndarray
    high: np.ndarray  # upper bound of the 95 % interval

    @classmethod
    def joined(cls, parts: Sequence[SeriesForecast], horizon: int) -> SeriesForecast:
        """Return the forecasts of consecutive batches of series as one, in their order."""
        if not parts:
            return cls(np.empty((0, horizon)), np.empty((0, horizon)))
        return cls(np.concatenate([p.mean for p in parts]),
                   np.concatenate([p.high for p in parts]))


def daily_series(samples: pd.DataFrame, today: date) -> list[DailySeries | SkippedRunway]:
    """Return each (service, resource) series of ``samples`` before ``today``, by service
    and resource: its last ``MAX_HISTORY_DAYS`` daily peaks, or why it is not forecast."""
    peaks = daily_peaks(samples)
    peaks = peaks[peaks["day"] < pd.Timestamp(today)]
    peaks = peaks.dropna(subset=["service", "resource"])  # as grouping by them does
    if peaks.empty:
        return []
    codes = peaks.groupby(["service", "resource"], sort=True).ngroup().to_numpy()
    rows = np.argsort(codes, kind="stable")  # by series; within one, by day as given
    codes = codes[rows]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)]
    service = peaks["service"].to_numpy()[rows]
    resource = peaks["resource"].to_numpy()[rows]
    day = peaks["day"].to_numpy().astype("datetime64[D]")[rows]
    utilisation = peaks["utilisation"].to_numpy(dtype=float)[rows]
    capacity = peaks["capacity"].to_numpy(dtype=float)[rows]
    result: list[DailySeries | SkippedRunway] = []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        known = capacity[start:end][~np.isnan(capacity[start:end])]
        first = max(start, end - MAX_HISTORY_DAYS)
        offset = (day[first:end] - day[first]).astype(np.int64)
        values = np.full(int(offset[-1]) + 1, np.nan)
        values[offset] = utilisation[first:end]
        if np.isnan(values).any():
            # A gap is not a day of zero utilisation: interpolate between its neighbours.
            values = pd.Series(values).interpolate().to_numpy()
        series = DailySeries(str(service[first]), str(resource[first]), day[first].item(),
                             end - first, values, float(known[-1]) if known.size else None)
        result.append(_skipped(series, today) or series)
    return result


def _skipped(series: DailySeries, today: date) -> SkippedRunway | None:
    """Return why ``series`` cannot be forecast, or None when it can."""
    days = len(series.utilisation)
    if (today - series.last_day).days > STALE_DAYS:
        return SkippedRunway(series.service, series.resource, series.present,
                             f"last sample on {series.last_day}, more than {STALE_DAYS} days "
                             "ago")
    if days < MIN_DAYS:
        return SkippedRunway(series.service, series.resource, days,
                             f"{days} days of samples; at least {MIN_DAYS} are needed")
    if series.present < 0.8 * days:
        return SkippedRunway(series.service, series.resource, series.present,
                             f"samples on {series.present} of {days} days; too many gaps to "
                             "forecast")
    return None


def forecast_series(series: Sequence[DailySeries], horizon: int) -> SeriesForecast:
    """Return the forecasts of ``series`` (see :func:`forecast_utilisation`), fitted by one
    statsforecast call."""
    if not series:
        return SeriesForecast(np.empty((0, horizon)), np.empty((0, horizon)))
    keys = [str(n) for n in range(len(series))]
    frame = pd.DataFrame({
        "unique_id": np.repeat(np.array(keys, dtype=object),
                               [len(s.utilisation) for s in series]),
        "ds": np.concatenate([np.datetime64(s.first_day, "ns")
                              + np.arange(len(s.utilisation)).astype("timedelta64[D]")
                              for s in series]),
        "y": np.concatenate([s.utilisation for s in series]),
    })
    future = _forecast(frame, horizon)
    ids = future["unique_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])  # each series' rows in a block
    first_row = {str(ids[start]): start for start in starts.tolist()}
    rows = np.array([first_row[key] for key in keys])[:, None] + np.arange(horizon)
    return SeriesForecast(future["mean"].to_numpy(dtype=float)[rows],
                          future["hi"].to_numpy(dtype=float)[rows])


def forecast_utilisation(series: Sequence[pd.DataFrame], horizon: int) -> pd.DataFrame:
    """Return additive Holt-Winters forecasts (AutoETS ``AAA``, season 7, undamped) with
    95 % upper bounds for ``series``."""
    if not series:
        return pd.DataFrame(columns=["unique_id", "ds", "mean", "hi"])
    return _forecast(pd.concat(series, ignore_index=True), horizon)


def _forecast(frame: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Return ``unique_id, ds, mean, hi`` for the series of a ``unique_id, ds, y`` frame."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    model = AutoETS(season_length=SEASON, model="AAA", damped=False)
    engine = StatsForecast(models=[model], freq="D", n_jobs=1,
                           fallback_model=SeasonalNaive(season_length=SEASON))
    future = engine.forecast(df=frame, h=horizon, level=[95])
    if "unique_id" not in future.columns:
        future = future.reset_index()
    return pd.DataFrame({"unique_id": future["unique_id"], "ds": future["ds"],
                         "mean": future["AutoETS"], "hi": future["AutoETS-hi-95"]})


def first_crossing(values: np.ndarray, threshold: float) -> int | None:
    """Return the 1-based day on which ``values`` first reach ``threshold``."""
    hits = np.flatnonzero(values >= threshold)
    return int(hits[0]) + 1 if hits.size else None


def runways(series: Sequence[DailySeries | SkippedRunway], forecast: SeriesForecast,
            settings: CapacitySettings) -> list[Runway | SkippedRunway]:
    """Return the runway of each series, or why it has none; ``forecast`` holds a row for
    every :class:`DailySeries` among ``series``, in their order."""
    fitted = sum(isinstance(item, DailySeries) for item in series)
    if fitted != len(forecast.mean):
        raise ValueError(f"{len(forecast.mean)} forecasts for {fitted} series")
    horizon = horizon_days(settings)
    calendars: dict[date, _Calendar] = {}  # series mostly end on the same day
    results: list[Runway | SkippedRunway] = []
    row = 0
    for item in series:
        if isinstance(item, SkippedRunway):
            results.append(item)
            continue
        calendar = calendars.get(item.last_day)
        if calendar is None:
            calendar = calendars[item.last_day] = _Calendar.after(item.last_day, horizon)
        results.append(_runway(item, forecast.mean[row], forecast.high[row], calendar,
                               settings))
        row += 1
    return results


@dataclass(frozen=True)
class _Calendar:
    """The forecast days after one last day, and where each calendar month starts."""

    days: tuple[date, ...]
    months: tuple[str, ...]  # "YYYY-MM", in order
    month_starts: np.ndarray  # index in ``days`` of each month's first day

    @classmethod
    def after(cls, last_day: date, horizon: int) -> _Calendar:
        days = tuple(last_day + timedelta(days=n) for n in range(1, horizon + 1))
        starts = [n for n, day in enumerate(days) if n == 0 or day.day == 1]
        return cls(days, tuple(days[n].strftime("%Y-%m") for n in starts), np.array(starts))


def _runway(series: DailySeries, mean: np.ndarray, high: np.ndarray, calendar: _Calendar,
            settings: CapacitySettings) -> Runway:
    current = float(series.utilisation[-1])
    capacity = series.capacity
    already = current >= settings.threshold
    monthly_high = np.maximum.reduceat(high, calendar.month_starts).tolist()
    needs = []
    for month, month_high in list(zip(calendar.months, monthly_high, strict=True))[
            : settings.months]:
        peak = max(month_high, current)
        factor = peak / settings.target
        needs.append(MonthNeed(month, peak, factor, None if capacity is None
                               else factor * capacity))
    return Runway(
        service=series.service,
        resource=series.resource,
        last_day=series.last_day,
        days=len(series.utilisation),
        current=current,
        current_capacity=capacity,
        threshold=settings.threshold,
        days_to_threshold=0 if already else first_crossing(mean, settings.threshold),
        days_to_threshold_upper=0 if already else first_crossing(high, settings.threshold),
        horizon_days=len(calendar.days),
        needs=tuple(needs),
        forecast_days=calendar.days,
        forecast_mean=_packed(mean),
        forecast_high=_packed(high),
    )


def _packed(values: np.ndarray) -> array[float]:
    return array("d", np.ascontiguousarray(values, dtype=np.float64).tobytes())


def by_urgency(results: Sequence[Runway | SkippedRunway]) -> list[Runway]:
    """Return the runways soonest to cross first (upper bound, then point forecast)."""
    found = [r for r in results if isinstance(r, Runway)]
    never = 10**6
    return sorted(found, key=lambda r: (
        r.days_to_threshold if r.days_to_threshold is not None else never,
        r.days_to_threshold_upper if r.days_to_threshold_upper is not None else never,
        -r.current, r.service, r.resource))
