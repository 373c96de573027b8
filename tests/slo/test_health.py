"""Per-service availability, latency percentiles, failing streaks and budget status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.config import SloBudget
from opsledger.model.health import ProbeHistory, ProbeResult
from opsledger.slo.health import (
    BudgetStatus,
    CheckAvailability,
    FailingStreak,
    HealthResult,
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


# --- the columns against a computation probe by probe -----------------------------------------


def streak_by_probe(check: str, probes: list[ProbeResult]) -> FailingStreak | None:
    """Return the longest failing streak walking the probes one by one."""
    best: FailingStreak | None = None
    run_start: datetime | None = None
    run_length = 0
    last_failed: datetime | None = None
    for p in probes:
        if not p.ok:
            if run_start is None:
                run_start, run_length = p.time, 0
            run_length += 1
            last_failed = p.time
            continue
        if run_start is not None:
            best = longer(best, FailingStreak(check, run_start, p.time, run_length, False))
            run_start = None
    if run_start is not None and last_failed is not None:
        best = longer(best, FailingStreak(check, run_start, last_failed, run_length, True))
    return best


def longer(best: FailingStreak | None, candidate: FailingStreak) -> FailingStreak:
    if best is None or (candidate.minutes, candidate.probes) > (best.minutes, best.probes):
        return candidate
    return best


def health_by_probe(probes: list[ProbeResult], start: datetime, end: datetime,
                    budget: SloBudget, services: tuple[str, ...] = ()) -> list[HealthResult]:
    """Return each service's health computed probe by probe, with sorted lists and dicts."""
    results: list[HealthResult] = []
    for name in sorted({*services, *(p.service for p in probes)}):
        window = sorted((p for p in probes if p.service == name and start <= p.time < end),
                        key=lambda p: (p.time, p.check))
        if len(window) < 10:
            results.append(SkippedServiceHealth(
                name, start, end, len(window),
                f"{len(window)} probe(s) in the window; at least 10 are needed"))
            continue
        by_check: dict[str, list[ProbeResult]] = {}
        for p in window:
            by_check.setdefault(p.check, []).append(p)
        checks = tuple(CheckAvailability(c, len(items), sum(p.ok for p in items))
                       for c, items in sorted(by_check.items()))
        streak = None
        for c, items in sorted(by_check.items()):
            found = streak_by_probe(c, items)
            if found is not None:
                streak = longer(streak, found)
        latency = latency_summary(np.array(
            [p.latency_ms for p in window if p.ok and p.latency_ms is not None], dtype=float))
        ok_probes = sum(c.ok_probes for c in checks)
        availability = ok_probes / len(window)
        objective = budget.latency_p95_ms
        results.append(ServiceHealth(
            name, start, end, len(window), ok_probes, checks, latency, streak,
            budget.availability, objective,
            BudgetStatus.MET if availability >= budget.availability else BudgetStatus.BREACHED,
            BudgetStatus.NOT_SET if objective is None
            else BudgetStatus.BREACHED if latency is None or latency.p95_ms > objective
            else BudgetStatus.MET,
        ))
    return results


def random_probes(seed: int, count: int) -> list[ProbeResult]:
    """Return probes of a few services and checks at few instants (many equal times, runs of
    failures, missing latencies, a few times written at +02:00), in no particular order."""
    rng = np.random.default_rng(seed)
    plus_two = timezone(timedelta(hours=2))
    found = []
    for _ in range(count):
        when = T0 + timedelta(minutes=5 * int(rng.integers(-20, 300)))
        found.append(ProbeResult(
            when.astimezone(plus_two) if rng.random() < 0.05 else when,
            f"service-{int(rng.integers(0, 12))}",
            ("http", "login", "tcp")[int(rng.integers(0, 3))],
            bool(rng.random() < 0.8),
            None if rng.random() < 0.1 else float(rng.integers(0, 500)) / 4,
        ))
    return found


@pytest.mark.parametrize("seed", range(6))
def test_the_columns_give_the_health_computed_probe_by_probe(seed: int):
    probes = random_probes(seed, 3_000)
    start, end = T0, T0 + timedelta(hours=20)
    budget = SloBudget(availability=0.8, latency_p95_ms=100)
    expected = health_by_probe(probes, start, end, budget, services=("idle",))
    history = ProbeHistory.from_records(probes)
    assert service_health(history, start, end, lambda _: budget, ["idle"]) == expected
    assert service_health(probes, start, end, lambda _: budget, ["idle"]) == expected
    for result in expected:
        assert assess_service(result.service, history, start, end, budget) == result


ok_flags = st.lists(st.tuples(st.integers(0, 6), st.booleans()), max_size=40)


@settings(max_examples=150, deadline=None)
@given(flags=ok_flags)
def test_the_longest_streak_is_the_one_found_probe_by_probe(flags: list[tuple[int, bool]]):
    # Few distinct minutes: streaks of equal length and equal times come up, and decide ties.
    series = sorted((probe(minute, ok) for minute, ok in flags), key=lambda p: p.time)
    expected = streak_by_probe("http", series)
    assert longest_failing_streak("http", series) == expected
    assert longest_failing_streak("http", ProbeHistory.from_records(series)) == expected


@settings(max_examples=100, deadline=None)
@given(flags=st.lists(st.tuples(st.integers(0, 8), st.booleans(), st.sampled_from("ab"),
                                st.sampled_from(["http", "tcp"])), min_size=10, max_size=60))
def test_any_small_history_gives_the_health_computed_probe_by_probe(
    flags: list[tuple[int, bool, str, str]]
):
    probes = [probe(minute, ok, latency=float(minute), check=check, service=service)
              for minute, ok, service, check in flags]
    budget = SloBudget(availability=0.5, latency_p95_ms=4)
    expected = health_by_probe(probes, T0, END, budget)
    assert service_health(ProbeHistory.from_records(probes), T0, END,
                          lambda _: budget) == expected
