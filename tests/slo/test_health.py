"""Per-service availability, latency percentiles, failing streaks and budget status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.config import SloBudget
from opsledger.model.health import ProbeResult
from opsledger.slo.health import (
    BudgetStatus,
    ServiceHealth,
    SkippedServiceHealth,
    assess_service,
    latency_summary,
    longest_failing_streak,
    service_health,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)
END = T0 + timedelta(days=1)


def probe(
    minute: int,
    ok: bool,
    latency: float | None = 100.0,
    check: str = "http",
    service: str = "checkout",
) -> ProbeResult:
    return ProbeResult(T0 + timedelta(minutes=minute), service, check, ok, latency)


def hand_series() -> list[ProbeResult]:
    """12 http probes every 5 min (3 failing in a row at 20-30) and 4 login probes (1 failing).

    Passing latencies 10, 20, ..., 120 ms except the failed ones.
    """
    http = [probe(5 * i, ok=i not in (4, 5, 6), latency=10.0 * (i + 1)) for i in range(12)]
    login = [probe(15 * i, ok=i != 2, latency=50.0, check="login") for i in range(4)]
    return http + login


def test_availability_per_check_and_overall_by_hand():
    result = assess_service("checkout", hand_series(), T0, END, SloBudget(availability=0.8))
    assert isinstance(result, ServiceHealth)
    assert (result.probes, result.ok_probes) == (16, 12)
    assert result.availability == pytest.approx(12 / 16)  # 0.75
    checks = {c.check: (c.probes, c.ok_probes, c.availability) for c in result.checks}
    assert checks == {"http": (12, 9, 0.75), "login": (4, 3, 0.75)}
    assert result.availability_status is BudgetStatus.BREACHED  # 0.75 < 0.8
    assert result.latency_status is BudgetStatus.NOT_SET
    assert result.status is BudgetStatus.BREACHED


def test_latency_percentiles_match_numpy_and_a_hand_calculation():
    result = assess_service("checkout", hand_series(), T0, END, SloBudget(latency_p95_ms=115))
    assert isinstance(result, ServiceHealth) and result.latency is not None
    passing = [10, 20, 30, 40, 80, 90, 100, 110, 120, 50, 50, 50]  # http, then login
    assert result.latency.samples == 12
    expected = np.percentile(passing, [50, 95, 99], method="linear")
    assert (result.latency.p50_ms, result.latency.p95_ms, result.latency.p99_ms) == tuple(
        pytest.approx(float(v)) for v in expected
    )
    # By hand (linear, rank = p/100*(n-1)): sorted 10,20,30,40,50,50,50,80,90,100,110,120;
    # p50 at rank 5.5 -> (50+50)/2 = 50; p95 at rank 10.45 -> 110 + 0.45*10 = 114.5.
    assert result.latency.p50_ms == pytest.approx(50.0)
    assert result.latency.p95_ms == pytest.approx(114.5)
    assert result.latency.method == "linear"
    assert result.latency_status is BudgetStatus.MET  # 114.5 <= 115


def test_latency_objective_breached_on_unrounded_p95():
    result = assess_service(
        "checkout", hand_series(), T0, END, SloBudget(availability=0.5, latency_p95_ms=114.49)
    )
    assert isinstance(result, ServiceHealth)
    assert result.latency_status is BudgetStatus.BREACHED
    assert result.status is BudgetStatus.BREACHED


def test_longest_failing_streak_from_first_failure_to_recovery():
    result = assess_service("checkout", hand_series(), T0, END, SloBudget(availability=0.5))
    assert isinstance(result, ServiceHealth)
    streak = result.longest_failing_streak
    assert streak is not None
    # http failed at minutes 20, 25, 30 and recovered at 35: 15 minutes, 3 probes.
    # login failed at 30, recovered at 45: also 15 minutes but 1 probe, so http wins.
    assert (streak.check, streak.start, streak.end) == (
        "http",
        T0 + timedelta(minutes=20),
        T0 + timedelta(minutes=35),
    )
    assert streak.minutes == 15
    assert streak.probes == 3
    assert not streak.ongoing


def test_ongoing_streak_ends_at_last_failed_probe():
    series = [probe(0, True), probe(5, False), probe(10, False), probe(15, False)]
    streak = longest_failing_streak("http", series)
    assert streak is not None
    assert streak.ongoing and streak.minutes == 10 and streak.probes == 3


def test_no_failures_no_streak():
    assert longest_failing_streak("http", [probe(0, True), probe(5, True)]) is None


def test_window_is_half_open_and_few_probes_are_skipped_with_reason():
    series = [probe(5 * i, True) for i in range(12)]
    start = T0 + timedelta(minutes=5)
    end = T0 + timedelta(minutes=55)  # minutes 5..50 inside: 10 probes, 55 excluded
    inside = assess_service("checkout", series, start, end, SloBudget())
    assert isinstance(inside, ServiceHealth) and inside.probes == 10
    # Ending exactly at minute 50 leaves that probe out: 9 probes remain.
    fewer = assess_service("checkout", series, start, T0 + timedelta(minutes=50), SloBudget())
    assert isinstance(fewer, SkippedServiceHealth)
    assert fewer.probes == 9
    assert "9 probe(s)" in fewer.reason and "at least 10" in fewer.reason


def test_latency_objective_without_any_latency_is_breached_not_met():
    series = [probe(5 * i, True, latency=None) for i in range(10)]
    result = assess_service("checkout", series, T0, END, SloBudget(latency_p95_ms=100))
    assert isinstance(result, ServiceHealth)
    assert result.latency is None
    assert result.latency_status is BudgetStatus.BREACHED


def test_service_health_groups_services_and_lists_configured_ones_without_probes():
    series = hand_series() + [probe(5 * i, True, service="auth") for i in range(10)]
    budgets = {"auth": SloBudget(availability=0.99), "checkout": SloBudget(availability=0.7)}
    results = service_health(
        series, T0, END, lambda name: budgets.get(name, SloBudget()), services=["search"]
    )
    assert [r.service for r in results] == ["auth", "checkout", "search"]
    auth, checkout, search = results
    assert isinstance(auth, ServiceHealth) and auth.status is BudgetStatus.MET
    assert isinstance(checkout, ServiceHealth) and checkout.status is BudgetStatus.MET
    assert isinstance(search, SkippedServiceHealth) and search.probes == 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
def test_latency_summary_agrees_with_numpy(values: list[float]):
    summary = latency_summary(np.array([*values, float("nan")]))
    assert summary is not None
    assert summary.samples == len(values)
    assert summary.p95_ms == pytest.approx(float(np.percentile(values, 95)))
    assert summary.p50_ms <= summary.p95_ms <= summary.p99_ms


@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=10, max_size=120))
def test_availability_is_ok_share_and_streak_is_longest_run(flags: list[bool]):
    series = [probe(i, ok) for i, ok in enumerate(flags)]
    result = assess_service("checkout", series, T0, END, SloBudget())
    assert isinstance(result, ServiceHealth)
    assert result.availability == sum(flags) / len(flags)
    longest, run = 0, 0
    for ok in flags:
        run = 0 if ok else run + 1
        longest = max(longest, run)
    streak = result.longest_failing_streak
    assert (streak.probes if streak else 0) == longest
