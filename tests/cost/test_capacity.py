"""Capacity runway: time to threshold, capacity needed, the demo's running-out service."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.cost.capacity import (
    CapacitySettings,
    Runway,
    SkippedRunway,
    by_urgency,
    capacity_runway,
    daily_peaks,
    first_crossing,
    forecast_utilisation,
)
from opsledger.cost.section import capacity_section
from opsledger.demo.costs import CROSSING_DAYS, cost_plan
from opsledger.demo.world import World
from opsledger.readers import utilisation
from opsledger.render.charts import chart_svg
from opsledger.render.sections import Status

from .conftest import COST_NOW

TODAY = date(2026, 11, 17)


def samples(days: int, level: float, slope: float, resource: str = "cpu",
            capacity: float | None = 8.0, service: str = "api") -> pd.DataFrame:
    times, values = [], []
    for back in range(days, 0, -1):
        day = TODAY - timedelta(days=back)
        peak = level + slope * (days - back) + (0.03 if day.weekday() < 5 else 0.0)
        for hour, share in ((4, 0.5), (14, 1.0)):
            times.append(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))
            values.append(peak * share)
    return pd.DataFrame({"time": pd.to_datetime(times), "service": service,
                         "resource": resource, "utilisation": values,
                         "used": [v * capacity if capacity else np.nan for v in values],
                         "capacity": capacity if capacity else np.nan})


def test_daily_peak_is_the_highest_sample() -> None:
    peaks = daily_peaks(samples(3, 0.5, 0.0))
    assert len(peaks) == 3
    assert peaks["utilisation"].tolist() == pytest.approx(
        [0.5 + (0.03 if (TODAY - timedelta(days=b)).weekday() < 5 else 0) for b in (3, 2, 1)])


SAMPLE = st.tuples(
    st.sampled_from(["api", "é", None]), st.sampled_from(["cpu", "memory", None]),
    st.one_of(st.none(), st.integers(0, 3 * 24)),  # hours after 2026-11-01 00:00 UTC
    st.sampled_from([0, 5, -8]),  # hours east of UTC the time is written in
    st.one_of(st.just(np.nan), st.floats(0, 1.5)), st.sampled_from([np.nan, 4.0, 8.0]))


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(SAMPLE, max_size=40))
def test_daily_peaks_are_a_group_by_of_the_samples(
    rows: list[tuple[str | None, str | None, int | None, int, float, float]],
) -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    times = [None if hour is None else (start + timedelta(hours=hour)).astimezone(
        timezone(timedelta(hours=east))) for _, _, hour, east, _, _ in rows]
    frame = pd.DataFrame({
        "time": pd.to_datetime(pd.Series(times, dtype=object), utc=True),
        "service": [r[0] for r in rows], "resource": [r[1] for r in rows],
        "utilisation": [r[4] for r in rows], "capacity": [r[5] for r in rows]})
    # Reference: pandas' group-by, samples of one time kept as given.
    expected = (frame.assign(day=frame["time"].dt.tz_localize(None).dt.floor("D"))
                .sort_values("time", kind="stable")
                .groupby(["service", "resource", "day"], sort=True)
                .agg(utilisation=("utilisation", "max"), capacity=("capacity", "last"))
                .reset_index())
    peaks = daily_peaks(frame)
    assert list(peaks.columns) == ["service", "resource", "day", "utilisation", "capacity"]
    if expected.empty:
        assert peaks.empty
        return
    pd.testing.assert_frame_equal(peaks, expected, check_dtype=False)


def test_linear_growth_reaches_the_threshold_when_it_should() -> None:
    # 0.3 + 0.005/day over 60 days: weekday peaks ≈ 0.63 now, 0.80 in about 34 days.
    (runway,) = capacity_runway(samples(60, 0.3, 0.005), TODAY)
    assert isinstance(runway, Runway)
    assert runway.current == pytest.approx(0.3 + 0.005 * 59 + 0.03 * (
        (TODAY - timedelta(days=1)).weekday() < 5))
    assert runway.days_to_threshold is not None and 28 <= runway.days_to_threshold <= 40
    assert runway.days_to_threshold_upper is not None
    assert runway.days_to_threshold_upper <= runway.days_to_threshold
    assert runway.crossing_date == runway.last_day + timedelta(days=runway.days_to_threshold)
    first = runway.needs[0]
    assert first.factor == pytest.approx(first.peak_utilisation / 0.7)
    assert first.capacity == pytest.approx(first.factor * 8.0)
    assert len(runway.needs) == 6
    assert [n.factor for n in runway.needs] == sorted(n.factor for n in runway.needs)


def test_flat_series_does_not_cross_and_full_one_already_has() -> None:
    flat = samples(60, 0.4, 0.0)
    full = samples(60, 0.85, 0.0, service="db")
    results = {r.service: r for r in capacity_runway(pd.concat([flat, full]), TODAY)}
    assert isinstance(results["api"], Runway) and results["api"].days_to_threshold is None
    assert isinstance(results["db"], Runway) and results["db"].days_to_threshold == 0
    assert [r.service for r in by_urgency(list(results.values()))] == ["db", "api"]


def test_short_gappy_and_stale_series_are_skipped_with_reasons() -> None:
    short = samples(10, 0.4, 0.0, service="short")
    gappy = samples(60, 0.4, 0.0, service="gappy")
    gappy = gappy[gappy["time"].dt.day % 3 != 0]
    stale = samples(60, 0.4, 0.0, service="stale")
    stale = stale[stale["time"] < pd.Timestamp(TODAY - timedelta(days=20), tz="UTC")]
    results = {r.service: r for r in capacity_runway(pd.concat([short, gappy, stale]), TODAY)}
    assert all(isinstance(r, SkippedRunway) for r in results.values())
    assert "at least 21 are needed" in results["short"].reason  # type: ignore[union-attr]
    assert "too many gaps" in results["gappy"].reason  # type: ignore[union-attr]
    assert "more than 7 days ago" in results["stale"].reason  # type: ignore[union-attr]


def test_forecast_and_interval_are_statsforecast_holt_winters() -> None:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS

    peaks = daily_peaks(samples(60, 0.3, 0.004))
    wobble = 0.01 * np.sin(np.arange(len(peaks)) * 1.7)  # a fit with residuals to spread
    series = pd.DataFrame({"unique_id": "api", "ds": peaks["day"],
                           "y": peaks["utilisation"].to_numpy() + wobble})
    ours = forecast_utilisation([series], 30)
    direct = StatsForecast(models=[AutoETS(season_length=7, model="AAA", damped=False)],
                           freq="D").forecast(df=series, h=30, level=[95])
    assert ours["mean"].to_numpy() == pytest.approx(direct["AutoETS"].to_numpy())
    assert ours["hi"].to_numpy() == pytest.approx(direct["AutoETS-hi-95"].to_numpy())
    assert (ours["hi"] > ours["mean"]).all()
    # The 95 % band widens with the horizon.
    width = (ours["hi"] - ours["mean"]).to_numpy()
    assert width[-1] > width[0]


def test_first_crossing() -> None:
    assert first_crossing(np.array([0.5, 0.79, 0.8, 0.9]), 0.8) == 3
    assert first_crossing(np.array([0.5, 0.6]), 0.8) is None


def test_demo_running_out_service_is_found(cost_workspace: Path, cost_world: World) -> None:
    plan = cost_plan(cost_world)
    log = utilisation.read(cost_workspace / "telemetry").log
    results = capacity_runway(log.frame, cost_world.now.date())
    assert not [r for r in results if isinstance(r, SkippedRunway)]
    crossing = [r for r in by_urgency(results)
                if r.days_to_threshold is not None and r.days_to_threshold <= 60]
    assert [(r.service, r.resource) for r in crossing] == [(plan.running_out_service, "cpu")]
    days = crossing[0].days_to_threshold
    assert days is not None and 21 <= days <= 42
    assert abs(days - CROSSING_DAYS) <= 7


def test_capacity_section_and_cli(cost_workspace: Path, cost_world: World) -> None:
    ctx = Context.open(open_workspace(cost_workspace), COST_NOW)
    section = capacity_section(ctx)
    assert section.status is Status.WARN  # crosses in about five weeks, not within 30 days
    assert cost_plan(cost_world).running_out_service in section.body
    (chart,) = section.charts
    assert chart.kind == "barh" and chart_svg(chart).startswith("<svg")
    result = CliRunner().invoke(app, ["capacity", str(cost_workspace), "--json", "--now",
                                      COST_NOW.isoformat(), "--months", "2"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["months"] == 2 and document["threshold"] == 0.8
    first = document["runways"][0]
    assert first["service"] == cost_plan(cost_world).running_out_service
    assert len(first["needs"]) == 2
    empty = CliRunner().invoke(app, ["capacity", str(cost_workspace / "costs")])
    assert empty.exit_code == 2


def test_settings_change_the_answer() -> None:
    data = samples(60, 0.3, 0.005)
    (low,) = capacity_runway(data, TODAY, CapacitySettings(threshold=0.7))
    (high,) = capacity_runway(data, TODAY, CapacitySettings(threshold=0.9))
    assert isinstance(low, Runway) and isinstance(high, Runway)
    assert low.days_to_threshold is not None and high.days_to_threshold is not None
    assert low.days_to_threshold < high.days_to_threshold
