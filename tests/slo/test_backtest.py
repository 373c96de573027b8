from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.model.incidents import Incident
from opsledger.model.slo import ErrorBudgetPolicyStep, PrometheusSource, SliSeries, Slo, SloWindow
from opsledger.slo.alerting import AlertSeverity, detection_minutes, workbook_policy
from opsledger.slo.backtest import (
    BacktestInput,
    IncidentWindow,
    PolicyScore,
    SkippedBacktest,
    SloBacktest,
    backtest_many,
    backtest_series,
    backtest_slos,
    recommend,
)
from opsledger.slo.confidence import Confidence
from opsledger.slo.service import backtest_json

T0 = datetime(2026, 3, 1, tzinfo=UTC)
DAY = 1440


def minute(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def flat(days: int, rate: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    total = np.full(days * DAY, rate)
    return total.copy(), total


def run(good: np.ndarray, total: np.ndarray, incidents=(), **kw) -> SloBacktest:
    result = backtest_series("svc/availability", 0.999, 30, T0, good, total, incidents, **kw)
    assert isinstance(result, SloBacktest)
    return result


def test_total_outage_pages_within_a_minute_and_resets_as_computed() -> None:
    good, total = flat(6)
    start, length = 4 * DAY, 30
    good[start : start + length] = 0
    result = run(good, total, [IncidentWindow("INC-1", minute(start), minute(start + length))])
    page_only = result.score("workbook-page-only")
    (outcome,) = page_only.outcomes
    assert outcome.detected
    # 14.4x over 1h needs 0.864 outage minutes: the page fires after the first minute.
    assert (
        outcome.detection_minutes
        == 1
        == detection_minutes(workbook_policy(30), 0.999, 1.0, AlertSeverity.PAGE)
    )
    # The 6x/30m condition holds until the outage leaves the 30-minute window.
    assert outcome.reset_minutes == 30
    # One failing minute of 1000 requests against a 30-day budget of 0.001 * 1000 * 43200.
    assert outcome.budget_before_detection == pytest.approx(1000 / 43200)
    assert outcome.budget_spent == pytest.approx(30 * 1000 / 43200)
    full = result.score("workbook-mwmbr")
    # The 1x/3d ticket's 6h short window keeps it firing six hours after recovery.
    assert full.outcomes[0].reset_minutes == 360
    assert (full.pages, full.tickets) == (1, 1)
    assert full.precision == 1.0 and full.recall == 1.0
    # 1d/2h at 3x needs k/1440 > 0.003: the ticket follows after five minutes.
    ticket = next(e for e in full.episodes if e.severity is AlertSeverity.TICKET)
    assert ticket.fired_at - start == 5


def test_partial_outage_detection_time() -> None:
    good, total = flat(6)
    start = 4 * DAY
    good[start : start + 120] = 900.0  # 10% errors for two hours
    result = run(good, total, [IncidentWindow("INC-1", minute(start), minute(start + 120))])
    assert result.score("workbook-page-only").mean_detection_minutes == 9  # k > 8.64


def test_steady_budgeted_burn_never_pages() -> None:
    good, total = flat(10)
    good -= 1.0  # exactly 1 failure per 1000 requests: a 1x burn
    result = run(good, total)
    for score in result.scores:
        assert score.pages == 0, score.policy
    assert result.score("workbook-mwmbr").alerts_per_week == 0.0
    # Nothing to detect: recall undefined, precision undefined (no alerts), not zero.
    assert result.score("workbook-mwmbr").recall is None
    assert result.score("workbook-mwmbr").precision is None
    # No incidents to learn from: no policy is chosen, and the reason says so with counts.
    choice = result.recommendation
    assert choice.policy is None and choice.confidence is Confidence.LOW
    assert choice.incidents == 0
    assert choice.reason == (
        "not enough incidents to choose a policy: no incidents in 10 days of SLI history; "
        "the default rules stay"
    )
    (entry,) = backtest_json([result])
    assert (entry["recommended"], entry["confidence"], entry["incidents"]) == (None, "low", 0)


def test_false_alarm_lowers_precision_and_missed_incident_lowers_recall() -> None:
    good, total = flat(7)
    good[2 * DAY : 2 * DAY + 20] = 0  # an outage nobody filed
    good[5 * DAY : 5 * DAY + 60] = 999.5  # a filed incident too small to alert on
    incidents = [IncidentWindow("INC-2", minute(5 * DAY), minute(5 * DAY + 60))]
    score = run(good, total, incidents).score("workbook-page-only")
    assert score.alerts == 1 and score.true_alerts == 0
    assert score.precision == 0.0
    assert score.recall == 0.0 and score.detected == 0
    assert score.mean_detection_minutes is None
    assert score.outcomes[0].budget_spent == pytest.approx(60 * 0.5 / 43200)
    assert score.alerts_per_week == pytest.approx(1.0)


def test_alert_firing_before_incident_counts_as_immediate_detection() -> None:
    good, total = flat(5)
    good[3 * DAY : 3 * DAY + 40] = 0
    # The incident was opened ten minutes into the outage.
    incidents = [IncidentWindow("INC-3", minute(3 * DAY + 10), minute(3 * DAY + 40))]
    score = run(good, total, incidents).score("workbook-page-only")
    assert score.outcomes[0].detection_minutes == 0
    assert score.outcomes[0].budget_before_detection == 0


def test_zero_traffic_minutes_never_fire() -> None:
    good, total = flat(4)
    total[DAY : 2 * DAY] = 0
    good[DAY : 2 * DAY] = 0
    result = run(good, total)
    assert all(s.alerts == 0 for s in result.scores)


def test_recommendation_prefers_recall_within_alert_budget() -> None:
    def score(name: str, recall: float, per_week: float, detect: float) -> PolicyScore:
        return PolicyScore(
            name,
            0,
            0,
            0,
            per_week,
            per_week,
            0,
            1.0,
            recall,
            4,
            int(recall * 4),
            detect,
            0.0,
            0.0,
            (),
            (),
        )

    scores = [
        score("noisy", 1.0, 9.0, 1.0),
        score("slow", 0.75, 1.0, 30.0),
        score("fast", 0.75, 1.5, 5.0),
        score("quiet", 0.25, 0.1, 2.0),
    ]
    chosen = recommend(scores, max_alerts_per_week=2)
    assert chosen.policy == "fast"
    assert "broken by detection time" in chosen.reason
    assert recommend(scores[:1], max_alerts_per_week=2).policy == "noisy"
    assert "every policy exceeds" in recommend(scores[:1], max_alerts_per_week=2).reason
    # Four incidents: enough to choose, not enough to be sure.
    assert (chosen.confidence, chosen.incidents) == (Confidence.MEDIUM, 4)
    assert chosen.describe_confidence() == "medium (4 incidents)"


@pytest.mark.parametrize(
    ("incidents", "confidence"),
    [(1, Confidence.LOW), (2, Confidence.LOW), (3, Confidence.MEDIUM), (9, Confidence.MEDIUM),
     (10, Confidence.HIGH), (40, Confidence.HIGH)],
)
def test_policy_confidence_grows_with_the_incidents_scored(
    incidents: int, confidence: Confidence
) -> None:
    good, total = flat(14)
    windows = []
    for n in range(incidents):
        start = DAY + n * 400  # spread over the second day onwards, 400 minutes apart
        good[start : start + 30] = 0
        windows.append(IncidentWindow(f"INC-{n}", minute(start), minute(start + 30)))
    choice = run(good, total, windows).recommendation
    assert choice.policy is not None
    assert (choice.confidence, choice.incidents) == (confidence, incidents)


def test_no_policy_is_chosen_when_none_detects_an_incident() -> None:
    good, total = flat(7)
    # A filed incident with no SLI impact: every policy misses it.
    incidents = [IncidentWindow("INC-9", minute(3 * DAY), minute(3 * DAY + 60))]
    choice = run(good, total, incidents).recommendation
    assert choice.policy is None and choice.confidence is Confidence.LOW
    assert choice.incidents == 1
    assert "no policy detected any of the 1 incident(s) in 7 days" in choice.reason


def test_many_slos_in_one_batch_match_single_runs() -> None:
    rng = np.random.default_rng(3)
    inputs = []
    for i in range(5):
        total = rng.poisson(200, size=3 * DAY).astype(float)
        good = total - rng.binomial(total.astype(int), 0.0005).astype(float)
        good[DAY + 100 * i : DAY + 100 * i + 15] = 0
        inputs.append(BacktestInput(f"s{i}", 0.999, 30, T0, good, total))
    batched = backtest_many(inputs, chunk=2)
    for item, result in zip(inputs, batched, strict=True):
        single = backtest_series(item.slo, 0.999, 30, T0, item.good, item.total)
        assert isinstance(result, SloBacktest) and isinstance(single, SloBacktest)
        assert [s.episodes for s in result.scores] == [s.episodes for s in single.scores]


def test_rolling_windows_match_a_direct_sum() -> None:
    from opsledger.slo.backtest import RollingSums

    rng = np.random.default_rng(1)
    values = rng.integers(0, 50, size=(2, 500)).astype(float)
    sums = RollingSums(values, values)
    bad, _ = sums.window(60)
    for i in (0, 10, 59, 60, 61, 499):
        assert bad[1, i] == values[1, max(0, i - 59) : i + 1].sum()


def test_bad_input_is_skipped_with_a_reason() -> None:
    good, total = flat(1)
    result = backtest_series("x", 0.999, 30, T0, good, np.zeros_like(total))
    assert isinstance(result, SkippedBacktest) and "no events" in result.reason
    result = backtest_series("x", 1.5, 30, T0, good, total)
    assert isinstance(result, SkippedBacktest) and "objective" in result.reason


def test_backtest_slos_uses_service_incidents_and_slo_generator_steps() -> None:
    good, total = flat(5)
    good[3 * DAY : 3 * DAY + 30] = 0
    series = SliSeries(T0, good, total)
    slo = Slo(
        "checkout",
        "availability",
        0.999,
        SloWindow(28),
        PrometheusSource(),
        error_budget_policy=(ErrorBudgetPolicyStep("1 hour", timedelta(hours=1), 9.0, True),),
    )
    incidents = [
        Incident(
            "INC-1",
            "outage",
            "checkout",
            "SEV1",
            "resolved",
            minute(3 * DAY + 2),
            resolved_at=minute(3 * DAY + 30),
            started_at=minute(3 * DAY),
        ),
        Incident(
            "INC-2",
            "other",
            "search",
            "SEV2",
            "resolved",
            minute(DAY),
            resolved_at=minute(DAY + 30),
        ),
    ]
    (result,) = backtest_slos([(slo, series)], incidents)
    assert isinstance(result, SloBacktest)
    assert result.window_days == 28
    assert [s.policy for s in result.scores][-1] == "slo-definition"
    assert all(s.incidents == 1 for s in result.scores)
    assert result.score("slo-definition").recall == 1.0


def naive_firing(good: np.ndarray, total: np.ndarray, objective: float, policy) -> np.ndarray:
    """A per-minute loop over the definition, as an independent reference."""
    fired = np.zeros(len(total), dtype=bool)
    for t in range(len(total)):
        for condition in policy.conditions:
            holds = True
            for window in condition.windows:
                lo = max(0, t - window + 1)
                events = total[lo : t + 1].sum()
                bad = events - good[lo : t + 1].sum()
                ratio = bad / events if events else float("nan")
                holds = holds and ratio > condition.burn_rate * (1 - objective)
            fired[t] |= holds
    return fired


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=120),
    objective=st.sampled_from([0.9, 0.99, 0.999]),
)
def test_vectorised_firing_matches_a_per_minute_loop(counts, objective) -> None:
    from opsledger.slo.alerting import custom_policy
    from opsledger.slo.backtest import RollingSums, firing

    total = np.array([float(t) for t, _ in counts])
    good = np.array([float(max(t - b, 0)) for t, b in counts])
    policy = custom_policy(
        {
            "name": "small",
            "conditions": [
                {"severity": "page", "long": "20m", "short": "3m", "burn_rate": 5},
                {"severity": "page", "long": "45m", "burn_rate": 2},
            ],
        }
    )
    sums = RollingSums((total - good)[None, :], total[None, :])
    fast = firing(sums, np.array([objective]), policy)[AlertSeverity.PAGE][0]
    assert fast.tolist() == naive_firing(good, total, objective, policy).tolist()
