"""Daily forecasts per queue: accuracy against the seasonal naive forecast, hourly spreading."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from opsledger.forecasting.history import daily_series, local_arrivals, weekday_interval_shares
from opsledger.forecasting.models import (
    BASELINE,
    QueueForecast,
    SkippedForecast,
    arrivals_by_queue,
    backtest,
    forecast_arrivals,
    forecast_tickets,
    seasonal_naive_scale,
    ticket_arrivals,
)
from opsledger.model.handover import Ticket

WEEK = np.array([1.35, 1.25, 1.1, 1.0, 0.9, 0.3, 0.2])  # Monday first
HOURS = np.array([0.1] * 7 + [1, 2, 3, 3, 3, 2, 3, 3, 2, 2, 1] + [0.3] * 6)
START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday


def seasonal_tickets(
    days: int,
    queue: str = "l1",
    base: float = 12.0,
    trend: float = 0.15,
    seed: int = 5,
    first_day: int = 0,
) -> list[Ticket]:
    """Poisson tickets with a weekly pattern, a rising trend and a working-hours profile."""
    rng = np.random.default_rng(seed)
    shares = HOURS / HOURS.sum()
    tickets = []
    for d in range(first_day, first_day + days):
        day = START + timedelta(days=d)
        for n in range(rng.poisson((base + trend * d) * WEEK[day.weekday()])):
            hour = int(rng.choice(24, p=shares))
            created = day + timedelta(hours=hour, minutes=int(rng.integers(60)))
            tickets.append(
                Ticket(
                    f"{queue}-{d}-{n}",
                    created,
                    None,
                    queue,
                    "access",
                    "P3",
                    "Password reset",
                    6.0,
                    None,
                )
            )
    return tickets


@pytest.fixture(scope="module")
def forecasts() -> tuple[QueueForecast | SkippedForecast, ...]:
    tickets = seasonal_tickets(112) + seasonal_tickets(10, queue="new", seed=9, first_day=102)
    return forecast_tickets(tickets, "UTC", horizon_days=14)


def test_forecast_beats_the_seasonal_naive_forecast(
    forecasts: tuple[QueueForecast | SkippedForecast, ...],
) -> None:
    queue = next(f for f in forecasts if f.queue == "l1")
    assert isinstance(queue, QueueForecast)
    assert queue.backtest is not None and queue.backtest.windows == 3
    assert queue.model != BASELINE
    assert queue.mase is not None and queue.baseline_mase is not None
    assert queue.mase < queue.baseline_mase
    assert queue.beats_seasonal_naive is True
    assert len(queue.daily) == 14
    for point in queue.daily:
        assert 0 <= point.lo95 <= point.lo80 <= point.mean <= point.hi80 <= point.hi95
    # The weekly shape carries over: forecast Mondays are busier than forecast Sundays.
    mondays = [p.mean for p in queue.daily if p.day.weekday() == 0]
    sundays = [p.mean for p in queue.daily if p.day.weekday() == 6]
    assert min(mondays) > 2 * max(sundays)


def test_a_queue_with_too_little_history_is_skipped(
    forecasts: tuple[QueueForecast | SkippedForecast, ...],
) -> None:
    skipped = next(f for f in forecasts if f.queue == "new")
    assert isinstance(skipped, SkippedForecast)
    assert "10 days of history" in skipped.reason
    assert skipped.to_json()["status"] == "skipped"


def test_seasonal_naive_mase_matches_a_hand_computation() -> None:
    tickets = seasonal_tickets(70)
    series = daily_series(local_arrivals(tickets, "UTC"))
    result = backtest(series, horizon=7, windows=2)
    y = series["y"].to_numpy()
    expected = []
    for cutoff in (len(y) - 14, len(y) - 7):  # two windows of 7 days, 7 days apart
        train, test = y[:cutoff], y[cutoff : cutoff + 7]
        naive = train[-7:]  # next week repeats the last one
        scale = np.mean(np.abs(train[7:] - train[:-7]))
        expected.append(np.mean(np.abs(test - naive)) / scale)
    assert result.of(BASELINE).mase == pytest.approx(float(np.mean(expected)), rel=1e-9)
    assert math.isnan(seasonal_naive_scale(np.arange(5.0)))  # no full season to compare


def test_days_are_spread_over_intervals_by_the_weekday_profile(
    forecasts: tuple[QueueForecast | SkippedForecast, ...],
) -> None:
    queue = next(f for f in forecasts if f.queue == "l1")
    assert isinstance(queue, QueueForecast)
    assert (queue.timezone, queue.interval_minutes) == ("UTC", 60)
    hourly = queue.intervals()
    assert len(hourly) == 14 * 24
    first_day = queue.daily[0]
    day_hours = [mean for start, mean, _ in hourly if start.date() == first_day.day]
    assert sum(day_hours) == pytest.approx(first_day.mean)
    # Business hours carry the volume, the small hours almost none.
    assert day_hours[10] > 5 * day_hours[3]
    per_slot = queue.contacts_per_interval_of_week()
    assert len(per_slot) == 168
    assert sum(per_slot) == pytest.approx(sum(p.mean for p in queue.daily) / 2)
    # Each interval of the week is the mean of its two occurrences in the horizon.
    mondays = [p for p in queue.daily if p.day.weekday() == 0]
    share = queue.weekday_interval_shares[0][9]
    assert per_slot[9] == pytest.approx(sum(p.mean for p in mondays) / 2 * share)


def test_the_week_moves_to_another_time_zone_on_its_own_dates() -> None:
    tickets = seasonal_tickets(70)
    [queue] = forecast_tickets(tickets, "Europe/Berlin", horizon_days=14, interval_minutes=30)
    assert isinstance(queue, QueueForecast) and queue.interval_minutes == 30
    assert len(queue.weekday_interval_shares[0]) == 48
    berlin = queue.contacts_per_interval_of_week()
    # The horizon (mid May) is in summer time: Berlin UTC+2, New York UTC-4, six hours apart.
    new_york = queue.contacts_per_interval_of_week("America/New_York")
    assert len(new_york) == 7 * 48
    assert sum(new_york) == pytest.approx(sum(berlin))
    for slot in range(7 * 48):
        assert new_york[slot] == pytest.approx(berlin[(slot + 12) % (7 * 48)])
    # Half an hour apart (India, UTC+5:30, is 3.5 h ahead of Berlin): each 30-minute
    # interval lands whole in one; at 60 minutes it is split between two in proportion.
    [hourly] = forecast_tickets(tickets, "Europe/Berlin", horizon_days=14)
    assert isinstance(hourly, QueueForecast)
    here = hourly.contacts_per_interval_of_week()
    india = hourly.contacts_per_interval_of_week("Asia/Kolkata")
    assert sum(india) == pytest.approx(sum(here))
    # India's 13:00-14:00 holds the second half of Berlin's 09:00 and the first of 10:00.
    assert india[13] == pytest.approx((here[9] + here[10]) / 2)


def test_series_are_zero_filled_and_local_to_the_support_timezone() -> None:
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # Tuesday 00:30 in Berlin
    tickets = [
        Ticket("1", late, None, "l1", "c", None, "t", None, None),
        Ticket("2", late + timedelta(days=3), None, "l1", "c", None, "t", None, None),
    ]
    arrivals = local_arrivals(tickets, "Europe/Berlin")
    series = daily_series(arrivals, last_day=date(2026, 3, 7))
    assert list(series["ds"].dt.date) == [date(2026, 3, d) for d in range(3, 8)]
    assert list(series["y"]) == [1.0, 0.0, 0.0, 1.0, 0.0]
    shares = weekday_interval_shares(arrivals, "l1")
    assert shares[1][0] == 1.0  # Tuesday, hour 0 local
    assert shares[0] == tuple([1 / 24] * 24)  # no Monday history: flat
    quarters = weekday_interval_shares(arrivals, "l1", 15)
    assert quarters[1][2] == 1.0 and len(quarters[1]) == 96  # Tuesday 00:30 local
    assert pd.isna(series["y"]).sum() == 0


def test_queues_forecast_apart_are_the_queues_forecast_together(
        forecasts: tuple[QueueForecast | SkippedForecast, ...]) -> None:
    tickets = seasonal_tickets(112) + seasonal_tickets(10, queue="new", seed=9, first_day=102)
    last_day = max(t.created_at for t in tickets).date()
    arrivals = ticket_arrivals(tickets, "UTC", last_day)
    busiest, quietest = arrivals_by_queue(arrivals)
    assert set(busiest["queue"]) == {"l1"} and set(quietest["queue"]) == {"new"}
    assert len(busiest) + len(quietest) == len(arrivals) == len(tickets)
    apart = [forecast for part in (quietest, busiest)
             for forecast in forecast_arrivals(part, "UTC", 14, last_day)]
    assert tuple(sorted(apart, key=lambda f: f.queue)) == forecasts
    assert arrivals_by_queue(arrivals.iloc[:0]) == []
    with pytest.raises(ValueError, match="horizon_days"):
        forecast_arrivals(busiest, "UTC", 0, last_day)
