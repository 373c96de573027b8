"""SLI, budget, burn rates, exhaustion and policy decisions against hand calculations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from opsledger.core.config import ErrorBudgetPolicy
from opsledger.model.incidents import Incident
from opsledger.model.slo import (
    BudgetingMethod,
    CalendarUnit,
    ErrorBudgetPolicyStep,
    HealthSource,
    SliSeries,
    Slo,
    SloWindow,
)
from opsledger.slo.objectives import (
    BURN_WINDOWS,
    budget_burndown,
    evaluate,
    evaluation_span,
    incident_budget_share,
    policy_decisions,
)

NOW = datetime(2026, 1, 2, tzinfo=UTC)
MIN = timedelta(minutes=1)


def make_slo(objective: float = 0.99, days: int = 1, **kwargs: object) -> Slo:
    return Slo("svc", "availability", objective, SloWindow(days), HealthSource("svc"), **kwargs)  # type: ignore[arg-type]


def steady(slo: Slo, per_minute: float = 100.0) -> SliSeries:
    start, end = evaluation_span(slo, NOW)
    minutes = int((end - start) / MIN)
    total = np.full(minutes, per_minute)
    return SliSeries(start, total.copy(), total)


def test_occurrences_by_hand() -> None:
    slo = make_slo()
    series = steady(slo)
    series.good[-10:] = 50.0  # the last 10 minutes: 50 of 100 requests fail
    status = evaluate(slo, series, NOW)
    assert status.valid and status.budget is not None
    # Window: 1,440 min x 100 = 144,000 events, 500 bad.
    assert status.total == 144_000 and status.good == 143_500
    assert status.sli == pytest.approx(1 - 500 / 144_000)
    assert status.budget.allowed_events == pytest.approx(1_440)
    assert status.budget.consumed == pytest.approx(500 / 1_440)
    assert status.budget.remaining == pytest.approx(1 - 500 / 1_440)
    assert status.budget.remaining_events == pytest.approx(940)
    expected = {
        "5m": 250 / 500 / 0.01,
        "30m": 500 / 3_000 / 0.01,
        "1h": 500 / 6_000 / 0.01,
        "2h": 500 / 12_000 / 0.01,
        "6h": 500 / 36_000 / 0.01,
        "1d": 500 / 144_000 / 0.01,
        "3d": 500 / 432_000 / 0.01,
        "window": 500 / 144_000 / 0.01,
    }
    assert set(status.burn_rates) == set(BURN_WINDOWS) | {"window"}
    for key, value in expected.items():
        assert status.burn_rates[key] == pytest.approx(value), key
    # Remaining 0.652778 of the budget at the 1h burn (8.3333) lasts 0.078333 d = 112.8 min.
    assert status.exhaustion_at == NOW + timedelta(minutes=112, seconds=48)
    assert status.met is True  # 0.99653 >= 0.99


def test_json_contract_keys_and_scale() -> None:
    slo = make_slo(objective=0.999, days=30)
    status = evaluate(slo, steady(slo), NOW)
    body = status.to_json()
    assert list(body) == [
        "service",
        "slo",
        "objective",
        "window",
        "sli",
        "good",
        "total",
        "error_budget_remaining",
        "burn_rates",
        "burn_rate_notes",
        "exhaustion_at",
        "newest_event_at",
        "data_age_seconds",
        "standing",
        "standing_reason",
        "valid",
        "needs_prometheus",
        "reasons",
        "exclusions",
    ]
    assert body["objective"] == 0.999 and body["window"] == "30d"
    # Events every minute up to NOW: the newest minute began one minute before it.
    assert body["newest_event_at"] == (NOW - MIN).isoformat()
    assert body["data_age_seconds"] == 60 and body["burn_rate_notes"] == {}
    assert body["error_budget_remaining"] == 1.0  # untouched
    assert body["exhaustion_at"] is None  # no burn, no exhaustion
    assert body["burn_rates"]["5m"] == 0.0


def test_too_few_events_is_invalid_with_reason_and_no_numbers() -> None:
    slo = make_slo()
    series = steady(slo, per_minute=0.0)
    series.total[-3:] = 1.0
    series.good[-3:] = 1.0
    status = evaluate(slo, series, NOW, min_events=100)
    assert not status.valid
    assert "3 events" in status.reasons[0] and "at least 100" in status.reasons[0]
    body = status.to_json()
    assert body["sli"] is None and body["error_budget_remaining"] is None
    assert body["burn_rates"] == {}


def test_burn_rate_without_events_is_unknown_not_zero() -> None:
    slo = make_slo()
    series = steady(slo)
    series.total[-5:] = 0.0
    series.good[-5:] = 0.0
    status = evaluate(slo, series, NOW)
    assert status.burn_rates["5m"] is None
    assert status.burn_rates["30m"] == 0.0


def test_timeslices_by_hand() -> None:
    slo = make_slo(
        objective=0.9,
        budgeting=BudgetingMethod.TIMESLICES,
        timeslice_target=0.95,
        timeslice_size=timedelta(minutes=5),
    )
    series = steady(slo)
    start = NOW - timedelta(days=1)
    first = series.index_of(start)
    # 30 bad slices (ratio 0.90) at the start of the window, 10 slices at exactly 0.95 (good).
    series.good[first : first + 150] = 90.0
    series.good[first + 150 : first + 200] = 95.0
    status = evaluate(slo, series, NOW)
    assert status.budget is not None
    assert status.sli == pytest.approx(258 / 288)
    assert status.met is False
    assert status.budget.allowed_minutes == pytest.approx(144.0)  # 10% of 1,440 min
    assert status.budget.bad_minutes == pytest.approx(150.0)
    assert status.budget.consumed == pytest.approx(30 / 28.8)
    assert status.budget.remaining < 0
    # Exhausted when the 29th bad slice closed (28.8 slices allowed).
    assert status.exhaustion_at == start + 29 * timedelta(minutes=5)


def test_ratio_timeslices_average_the_slices_not_the_events() -> None:
    slo = make_slo(objective=0.98, budgeting=BudgetingMethod.RATIO_TIMESLICES)
    series = steady(slo, per_minute=1_000.0)
    first = series.index_of(NOW - timedelta(days=1))
    odd = np.arange(first + 1, series.minutes, 2)
    series.total[odd] = 10.0
    series.good[odd] = 9.8  # 98% in half the slices, 100% in the others
    status = evaluate(slo, series, NOW)
    assert status.sli == pytest.approx(0.99)
    assert status.budget is not None and status.budget.consumed == pytest.approx(0.5)


def test_calendar_window_projection_stops_at_period_end() -> None:
    window = SloWindow(days=30, rolling=False, calendar_unit=CalendarUnit.MONTH)
    slo = Slo("svc", "a", 0.99, window, HealthSource("svc"))
    now = datetime(2026, 1, 20, tzinfo=UTC)
    start, end = evaluation_span(slo, now)
    assert start == datetime(2026, 1, 1, tzinfo=UTC)
    minutes = int((end - start) / MIN)
    series = SliSeries(start, np.full(minutes, 100.0), np.full(minutes, 100.0))
    series.good[-60:] = 99.9  # burn 0.1 over the last hour: far slower than the month lasts
    status = evaluate(slo, series, now)
    assert status.burn_rates["1h"] == pytest.approx(0.1)
    assert status.exhaustion_at is None  # the month closes before the budget runs out


def test_incident_budget_share_and_policy_decisions() -> None:
    slo = make_slo()
    series = steady(slo)
    begin = NOW - timedelta(hours=5)
    i = series.index_of(begin)
    series.good[i : i + 3] = 4.0  # 288 bad events: exactly 20% of the 1,440 allowed
    j = series.index_of(NOW - timedelta(hours=2))
    series.good[j : j + 3] = 3.0  # 291 bad events: 20.2%
    exact = Incident(
        "INC-1", "exact", "svc", "SEV3", "resolved", begin, resolved_at=begin + 3 * MIN
    )
    over = Incident(
        "INC-2",
        "over",
        "svc",
        "SEV2",
        "resolved",
        NOW - timedelta(hours=2),
        resolved_at=NOW - timedelta(hours=2) + 3 * MIN,
    )
    other = Incident("INC-3", "elsewhere", "other", "SEV1", "resolved", begin)
    status = evaluate(slo, series, NOW)
    window_start = NOW - timedelta(days=1)
    assert incident_budget_share(slo, series, exact, window_start, NOW) == pytest.approx(0.2)
    decisions = policy_decisions(status, series, [exact, over, other])
    assert [(d.kind, d.incident_id) for d in decisions] == [("postmortem_required", "INC-2")]
    assert decisions[0].budget_consumed == pytest.approx(291 / 1_440)
    assert "P0 action item" in decisions[0].action


def test_exhausted_budget_freezes_releases_with_configured_exceptions() -> None:
    slo = make_slo()
    series = steady(slo)
    series.good[-30:] = 0.0  # 3,000 bad events > 1,440 allowed
    status = evaluate(slo, series, NOW)
    assert status.budget is not None and status.budget.remaining < 0
    decisions = policy_decisions(status, series, [])
    assert decisions[0].kind == "release_freeze"
    assert "except p0 and security" in decisions[0].action
    relaxed = policy_decisions(status, series, [], ErrorBudgetPolicy(freeze_when_exhausted=False))
    assert [d.kind for d in relaxed] == []


def test_policy_steps_compare_the_unrounded_burn_rate() -> None:
    step = ErrorBudgetPolicyStep("1 hour", timedelta(hours=1), 9.0, True, "Page")
    slo = make_slo(error_budget_policy=(step,))
    series = steady(slo, per_minute=100_000.0)
    # 8.9996x burn over the last hour: shown as 9.00, but below the threshold.
    series.good[-60:] = 100_000.0 - 100_000.0 * 0.089996
    status = evaluate(slo, series, NOW)
    rate = status.burn_rates["1h"]
    assert rate is not None and f"{rate:.2f}" == "9.00" and rate < 9.0
    assert [d for d in policy_decisions(status, series, []) if d.kind == "policy_step"] == []
    series.good[-60:] = 100_000.0 - 100_000.0 * 0.090004
    status = evaluate(slo, series, NOW)
    steps = [d for d in policy_decisions(status, series, []) if d.kind == "policy_step"]
    assert len(steps) == 1 and steps[0].action == "Page"


def test_burndown_falls_with_bad_events_and_ends_at_remaining() -> None:
    slo = make_slo()
    series = steady(slo)
    series.good[-100:-90] = 90.0  # 100 bad events
    status = evaluate(slo, series, NOW)
    chart = budget_burndown(status, series, points=50)
    assert len(chart["time"]) == 50 and len(chart["remaining"]) == 50
    assert chart["remaining"][0] == 1.0
    assert chart["remaining"] == sorted(chart["remaining"], reverse=True)
    assert status.budget is not None
    assert chart["remaining"][-1] == pytest.approx(status.budget.remaining, abs=1e-6)
    assert chart["time"][-1] == NOW.isoformat()
