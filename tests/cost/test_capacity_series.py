"""Capacity runway series: daily series, one fit for all of them, runways assembled from it.

Expected values come from hand calculation on straight lines, and from a reference that fits
each series on its own with statsforecast and reads the runway from that fit.
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsledger.cost.capacity import (
    CapacitySettings,
    DailySeries,
    Runway,
    SeriesForecast,
    SkippedRunway,
    capacity_runway,
    daily_series,
    forecast_series,
    horizon_days,
    runways,
)
from opsledger.demo.world import World
from opsledger.readers import utilisation

TODAY = date(2026, 11, 17)
YESTERDAY = TODAY - timedelta(days=1)


def daily(values: np.ndarray | list[float], service: str = "api", resource: str = "cpu",
          last_day: date = YESTERDAY, capacity: float | None = 8.0,
          missing: tuple[int, ...] = ()) -> pd.DataFrame:
    """Return samples whose daily peaks are ``values``, the last on ``last_day``: a peak at
    14:00 and a quieter sample at 03:00 each day; days at the indexes ``missing`` left out."""
    start = last_day - timedelta(days=len(values) - 1)
    times, shares, peaks = [], [], []
    for index, peak in enumerate(values):
        if index in missing:
            continue
        day = start + timedelta(days=index)
        for hour, share in ((3, 0.6), (14, 1.0)):
            times.append(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))
            shares.append(share)
            peaks.append(peak)
    used = np.array(peaks) * np.array(shares)
    return pd.DataFrame({"time": pd.to_datetime(times), "service": service,
                         "resource": resource, "utilisation": used,
                         "used": used * capacity if capacity else np.nan,
                         "capacity": capacity if capacity else np.nan})


def line(now: float, slope: float, days: int = 45) -> np.ndarray:
    """Return ``days`` daily peaks rising ``slope`` a day and ending at ``now``."""
    return now - slope * np.arange(days - 1, -1, -1)


def test_utilisation_rising_a_point_a_day_reaches_the_threshold_in_thirty_days() -> None:
    # 50.5 % yesterday, +1 point a day: 0.505 + 0.01 k >= 0.80 first at k = 30 (0.805;
    # day 29 is 0.795). A straight line is fitted exactly, so the 95 % band is empty.
    (runway,) = capacity_runway(daily(line(0.505, 0.01)), TODAY)
    assert isinstance(runway, Runway)
    assert runway.current == pytest.approx(0.505)
    assert runway.days == 45 and runway.last_day == YESTERDAY
    assert runway.days_to_threshold == 30
    assert runway.days_to_threshold_upper == 30
    assert runway.crossing_date == date(2026, 12, 16)
    assert runway.forecast_days[0] == TODAY
    assert runway.forecast_days[-1] == YESTERDAY + timedelta(days=186)
    assert runway.forecast_mean[:3] == pytest.approx([0.515, 0.525, 0.535])
    # Months from the day after the last sample: 17-30 November (k = 1..14), December
    # (k = 15..45), ... six in all; a month's need is its last day's peak over the target.
    assert [n.month for n in runway.needs] == ["2026-11", "2026-12", "2027-01", "2027-02",
                                               "2027-03", "2027-04"]
    november, december = runway.needs[:2]
    assert november.peak_utilisation == pytest.approx(0.505 + 0.01 * 14)
    assert december.peak_utilisation == pytest.approx(0.505 + 0.01 * 45)
    assert november.factor == pytest.approx(0.645 / 0.7)
    assert december.capacity == pytest.approx(0.955 / 0.7 * 8.0)


def test_series_ending_on_different_days_have_their_own_calendar() -> None:
    # "db" stopped reporting three days ago, within the seven days still forecast. Its
    # forecast starts the day after its last sample; from 0.60 at +0.01/day it reaches
    # 0.80 on day 20 after 2026-11-13 (0.61 ... 0.80; 0.60 + 0.195 on day 19.5).
    samples = pd.concat([daily(line(0.505, 0.01)),
                         daily(line(0.6, 0.01), service="db", last_day=date(2026, 11, 13))])
    results = {r.service: r for r in capacity_runway(samples, TODAY)}
    api, db = results["api"], results["db"]
    assert isinstance(api, Runway) and isinstance(db, Runway)
    assert api.forecast_days[0] == TODAY and db.forecast_days[0] == date(2026, 11, 14)
    assert db.days_to_threshold in (20, 21)  # 0.80 exactly on day 20: either side of it
    assert db.crossing_date == date(2026, 11, 13) + timedelta(days=db.days_to_threshold)
    # db's November runs 14-30 (k = 1..17): peak 0.60 + 0.17.
    assert db.needs[0].month == "2026-11"
    assert db.needs[0].peak_utilisation == pytest.approx(0.77)
    assert api.days_to_threshold == 30


def test_a_missing_day_is_interpolated_between_its_neighbours() -> None:
    values = line(0.505, 0.01)
    (series,) = daily_series(daily(values, missing=(30,)), TODAY)
    assert isinstance(series, DailySeries)
    assert series.present == 44 and len(series.utilisation) == 45
    assert series.utilisation[30] == pytest.approx((values[29] + values[31]) / 2)
    (runway,) = capacity_runway(daily(values, missing=(30,)), TODAY)
    assert isinstance(runway, Runway)
    assert runway.days == 45 and runway.days_to_threshold == 30


def test_skipped_series_count_the_days_their_reason_speaks_of() -> None:
    samples = pd.concat([
        # 15 calendar days, one of them without samples: too short, counted in days.
        daily(line(0.4, 0.0, 15), service="short", missing=(5,)),
        # 60 days, the second of every three (1, 4, ..., 58) without samples: 40 of 60.
        daily(line(0.4, 0.0, 60), service="gappy", missing=tuple(range(1, 60, 3))),
        # last sample 20 days ago.
        daily(line(0.4, 0.0, 60), service="stale", last_day=TODAY - timedelta(days=20)),
    ])
    results = {r.service: r for r in capacity_runway(samples, TODAY)}
    short, gappy, stale = results["short"], results["gappy"], results["stale"]
    assert isinstance(short, SkippedRunway) and short.days == 15
    assert short.reason == "15 days of samples; at least 21 are needed"
    assert isinstance(gappy, SkippedRunway) and gappy.days == 40
    assert gappy.reason == "samples on 40 of 60 days; too many gaps to forecast"
    assert isinstance(stale, SkippedRunway) and stale.days == 60
    assert stale.reason == "last sample on 2026-10-28, more than 7 days ago"


def test_history_is_cut_to_the_last_120_daily_peaks() -> None:
    (series,) = daily_series(daily(line(0.5, 0.001, 200)), TODAY)
    assert isinstance(series, DailySeries)
    assert len(series.utilisation) == 120
    assert series.first_day == YESTERDAY - timedelta(days=119)
    assert series.utilisation[0] == pytest.approx(0.5 - 0.001 * 119)


def reference(samples: pd.DataFrame, settings: CapacitySettings
              ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray, list[tuple[str, float]]]]:
    """Fit every series on its own: daily peaks before today, gaps interpolated, one
    statsforecast call per series; return its point forecast, upper bound and monthly
    peaks of the upper bound (at least today's peak)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    horizon = settings.months * 31
    days = samples["time"].dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D")
    result = {}
    for (service, resource), rows in samples.assign(day=days).groupby(["service", "resource"]):
        peaks = rows.groupby("day")["utilisation"].max()
        peaks = peaks[peaks.index < pd.Timestamp(TODAY)]
        full = pd.date_range(peaks.index[0], peaks.index[-1], freq="D")
        history = pd.DataFrame({"unique_id": "one", "ds": full,
                                "y": peaks.reindex(full).interpolate().to_numpy()})
        future = StatsForecast(models=[AutoETS(season_length=7, model="AAA", damped=False)],
                               freq="D").forecast(df=history, h=horizon, level=[95])
        mean = future["AutoETS"].to_numpy()
        high = future["AutoETS-hi-95"].to_numpy()
        monthly = pd.Series(high, index=future["ds"]).groupby(
            pd.DatetimeIndex(future["ds"]).strftime("%Y-%m")).max()
        now = float(history["y"].iloc[-1])
        needs = [(str(m), max(float(v), now)) for m, v in monthly.items()][: settings.months]
        result[(str(service), str(resource))] = (mean, high, needs)
    return result


def crossing(values: np.ndarray, threshold: float) -> int | None:
    above = [day for day, value in enumerate(values, start=1) if value >= threshold]
    return above[0] if above else None


def assert_as_reference(samples: pd.DataFrame, settings: CapacitySettings) -> int:
    expected = reference(samples, settings)
    found = [r for r in capacity_runway(samples, TODAY, settings) if isinstance(r, Runway)]
    assert sorted((r.service, r.resource) for r in found) == sorted(expected)
    for runway in found:
        mean, high, needs = expected[(runway.service, runway.resource)]
        np.testing.assert_array_equal(runway.forecast_mean, mean)
        np.testing.assert_array_equal(runway.forecast_high, high)
        # Kept as packed doubles, not a Python float object per day.
        assert memoryview(runway.forecast_mean).itemsize == 8 == memoryview(
            runway.forecast_high).itemsize
        already = runway.current >= settings.threshold
        assert runway.days_to_threshold == (0 if already else crossing(mean, settings.threshold))
        assert runway.days_to_threshold_upper == (
            0 if already else crossing(high, settings.threshold))
        assert [(n.month, n.peak_utilisation) for n in runway.needs] == needs
        assert [n.factor for n in runway.needs] == [peak / settings.target for _, peak in needs]
    return len(found)


def test_one_fit_for_all_series_gives_each_series_its_own_fit() -> None:
    rng = np.random.default_rng(3)
    weekly = np.where(pd.date_range(end=YESTERDAY, periods=90).weekday < 5, 0.04, 0.0)
    samples = pd.concat([
        daily(line(0.55, 0.004, 90) + weekly + rng.normal(0, 0.01, 90), service="api"),
        daily(line(0.35, 0.0, 90) + weekly + rng.normal(0, 0.02, 90), service="web",
              capacity=None),
        daily(line(0.82, 0.001, 90) + rng.normal(0, 0.01, 90), service="db",
              resource="memory", missing=(30, 31, 70)),
        daily(line(0.6, 0.006, 45) + weekly[-45:], service="queue",
              last_day=date(2026, 11, 12)),
    ])
    assert assert_as_reference(samples, CapacitySettings(threshold=0.8, target=0.7,
                                                         months=3)) == 4


def test_demo_runways_are_those_of_each_series_fitted_alone(
        cost_workspace: Path, cost_world: World) -> None:
    log = utilisation.read(cost_workspace / "telemetry").log
    settings = CapacitySettings()
    assert cost_world.now.date() == TODAY
    assert assert_as_reference(log.frame, settings) == len(
        log.frame.groupby(["service", "resource"]))


def test_fitting_can_be_handed_to_another_process_and_back() -> None:
    samples = pd.concat([daily(line(0.505, 0.01)),
                         daily(line(0.4, 0.0, 10), service="new")])
    settings = CapacitySettings(months=2)
    series = daily_series(samples, TODAY)
    fitted = [s for s in series if isinstance(s, DailySeries)]
    assert [s.service for s in fitted] == ["api"]
    sent = pickle.loads(pickle.dumps(fitted))
    forecast = pickle.loads(pickle.dumps(forecast_series(sent, horizon_days(settings))))
    assert forecast.mean.shape == forecast.high.shape == (1, 62)
    assert runways(series, forecast, settings) == capacity_runway(samples, TODAY, settings)


def test_a_forecast_row_for_every_series_or_an_error() -> None:
    series = daily_series(daily(line(0.505, 0.01)), TODAY)
    empty = SeriesForecast(np.empty((0, 186)), np.empty((0, 186)))
    with pytest.raises(ValueError, match="0 forecasts for 1 series"):
        runways(series, empty, CapacitySettings())


def test_no_samples_no_series() -> None:
    assert daily_series(daily([]), TODAY) == []
    assert capacity_runway(daily([]), TODAY) == []


def test_series_fitted_in_batches_are_those_fitted_together() -> None:
    samples = pd.concat([daily(line(0.3 + 0.02 * n, 0.002 * n), service=f"svc-{n}")
                         for n in range(7)])
    fitted = [s for s in daily_series(samples, TODAY) if isinstance(s, DailySeries)]
    horizon = horizon_days(CapacitySettings(months=2))
    together = forecast_series(fitted, horizon)
    parts = [fitted[:3], fitted[3:4], fitted[4:]]
    joined = SeriesForecast.joined([forecast_series(p, horizon) for p in parts], horizon)
    np.testing.assert_array_equal(joined.mean, together.mean)
    np.testing.assert_array_equal(joined.high, together.high)
    assert SeriesForecast.joined([], horizon).mean.shape == (0, horizon)
