"""How old each SLO's newest event is, why a burn rate is missing, and where an SLO stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from opsledger.model.slo import HealthSource, SliSeries, Slo, SloWindow
from opsledger.slo.objectives import (
    Standing,
    burn_rate_notes,
    evaluate,
    evaluation_span,
    format_age,
    newest_event_at,
    standing,
)

NOW = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def make_slo(objective: float = 0.99, days: int = 1) -> Slo:
    return Slo("svc", "availability", objective, SloWindow(days), HealthSource("svc"))


def steady(slo: Slo, per_minute: float = 100.0) -> SliSeries:
    start, end = evaluation_span(slo, NOW)
    minutes = int((end - start) / MIN)
    total = np.full(minutes, per_minute)
    return SliSeries(start, total.copy(), total)


def test_stale_telemetry_says_how_old_and_why_the_short_burns_are_missing() -> None:
    slo = make_slo()
    series = steady(slo)
    # Nothing in the last 17 hours less one minute: the newest minute began 17 h before NOW.
    quiet = 17 * 60 - 1
    series.total[-quiet:] = 0.0
    series.good[-quiet:] = 0.0
    status = evaluate(slo, series, NOW)
    assert status.valid
    assert status.newest_event_at == NOW - timedelta(hours=17)
    assert status.data_age == timedelta(hours=17)
    assert status.burn_rates["1h"] is None and status.burn_rates["6h"] is None
    assert status.burn_rates["1d"] == 0.0  # the day still holds seven hours of events
    assert status.burn_rate_notes == {
        name: f"no events in the last {name}: newest event 17 h old"
        for name in ("5m", "30m", "1h", "2h", "6h")
    }
    body = status.to_json()
    assert body["newest_event_at"] == "2026-12-06T00:00:00+00:00"
    assert body["data_age_seconds"] == 17 * 3600
    assert body["burn_rate_notes"]["1h"] == "no events in the last 1h: newest event 17 h old"


def test_fresh_telemetry_has_every_burn_rate() -> None:
    slo = make_slo()
    status = evaluate(slo, steady(slo), NOW)
    assert status.data_age == MIN
    assert all(rate is not None for rate in status.burn_rates.values())
    assert status.burn_rate_notes == {}


def test_invalid_status_still_says_how_old_its_data_is() -> None:
    slo = make_slo()
    series = steady(slo, per_minute=0.0)
    series.total[-200] = series.good[-200] = 3.0  # three events 200 minutes before NOW
    status = evaluate(slo, series, NOW, min_events=100)
    assert not status.valid
    assert status.newest_event_at == NOW - timedelta(minutes=200)
    assert status.to_json()["data_age_seconds"] == 200 * 60


def test_newest_event_of_an_empty_series_is_none() -> None:
    series = SliSeries(NOW, np.zeros(10), np.zeros(10))
    assert newest_event_at(series) is None
    slo = make_slo()
    notes = burn_rate_notes(slo, {"1h": None, "window": None}, None, NOW, NOW - timedelta(1))
    assert notes == {
        "1h": "no events in the last 1h: none in the data read",
        "window": "no events in the 1d window: none in the data read",
    }


def test_a_burn_missing_with_recent_events_blames_incomplete_time_slices() -> None:
    slo = Slo("svc", "latency", 0.99, SloWindow(1), HealthSource("svc"),
              timeslice_size=5 * MIN)
    notes = burn_rate_notes(slo, {"5m": None}, NOW - 2 * MIN, NOW, NOW - timedelta(1))
    assert notes == {"5m": "no complete 5 min time slice with events in the last 5m"}


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=45, seconds=30), "45 min"),
        (timedelta(hours=17), "17 h"),
        (timedelta(hours=17, minutes=5, seconds=59), "17 h 5 min"),
        (timedelta(hours=47, minutes=59), "47 h 59 min"),
        (timedelta(days=3, hours=4, minutes=30), "3 d 4 h"),
        (timedelta(days=3), "3 d"),
        (timedelta(seconds=-5), "0 min"),
    ],
)
def test_format_age(age: timedelta, text: str) -> None:
    assert format_age(age) == text


def test_standing_by_hand() -> None:
    slo = make_slo()  # 99% over one day: 100 events a minute allow 1,440 bad events
    on = evaluate(slo, steady(slo), NOW)
    assert standing(on) == (Standing.ON_TARGET, "SLI 100.0000% meets the objective 99.000%")

    series = steady(slo)
    series.good[-600:-574] = 50.0  # 26 minutes at 50%: 1,300 bad, 140 (9.7%) left
    risky = evaluate(slo, series, NOW)
    assert risky.met and risky.budget is not None
    assert risky.budget.remaining == pytest.approx(140 / 1440)
    assert standing(risky) == (Standing.AT_RISK,
                               "9.7% of the error budget left (under 25%)")

    series = steady(slo)
    series.good[-30:] = 90.0  # the last 30 minutes at 10%: 300 bad, 1h burn 5
    burning = evaluate(slo, series, NOW)
    assert burning.burn_rates["1h"] == pytest.approx(5.0)
    # 1,140/1,440 of the budget left lasts 1,140/1,440 x 1 day / 5 = 228 minutes.
    assert burning.exhaustion_at == NOW + timedelta(minutes=228)
    assert standing(burning) == (
        Standing.AT_RISK,
        "the 1h burn rate exhausts the budget by 2026-12-06 20:48 (within 7 days)",
    )

    series = steady(slo)
    series.good[-60:] = 70.0  # 1,800 bad: more than the budget
    off = evaluate(slo, series, NOW)
    assert not off.met
    # 1,800 bad of 144,000: SLI 98.75%, 1,800/1,440 = 125% of the budget spent.
    assert standing(off) == (
        Standing.OFF_TARGET,
        "SLI 98.7500% below the objective 99.000%; 125.0% of the error budget spent",
    )
    assert off.to_json()["standing"] == "off-target"
