from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from statsmodels.stats.proportion import proportion_confint

from opsledger.model.incidents import AlertEvent
from opsledger.slo.confidence import Confidence
from opsledger.slo.noise import (
    NoiseThresholds,
    Tuning,
    WorkingHours,
    flapping,
    noise_report,
)

BERLIN = WorkingHours(timezone="Europe/Berlin")
_counter = iter(range(10_000))


def fire(
    alert: str,
    service: str,
    created: str,
    minutes: float | None,
    auto: bool | None = None,
    ack_after: float | None = None,
    incident: str | None = None,
) -> AlertEvent:
    start = datetime.fromisoformat(created).replace(tzinfo=UTC)
    return AlertEvent(
        id=f"A{next(_counter)}",
        alert=alert,
        service=service,
        created_at=start,
        acknowledged_at=None if ack_after is None else start + timedelta(minutes=ack_after),
        resolved_at=None if minutes is None else start + timedelta(minutes=minutes),
        auto_resolved=auto,
        incident_id=incident,
        priority="P3",
        source="test",
    )


# 2026-03-02 is a Monday; Berlin is UTC+1 until 29 March.
DISK = [
    fire("DiskFull", "search", "2026-03-02T01:00", 3, auto=True),  # 02:00 local: sleep
    fire("DiskFull", "search", "2026-03-02T01:20", 2, auto=True),  # 17 min after: flap
    fire("DiskFull", "search", "2026-03-02T01:40", 1, auto=True),  # 18 min after: same episode
    fire("DiskFull", "search", "2026-03-02T12:00", 2, auto=True),  # business hours, no flap
    fire("DiskFull", "search", "2026-03-07T12:00", 30, auto=False, ack_after=5),  # Saturday
]
ERRORS = [
    fire("HighErrorRate", "checkout", "2026-03-03T09:00", 40, False, 2, "INC-1"),
    fire("HighErrorRate", "checkout", "2026-03-03T09:50", 20, False, 1, "INC-1"),
    fire("HighErrorRate", "checkout", "2026-03-03T23:30", 60, False, 3, "INC-1"),  # 00:30 local
    fire("HighErrorRate", "checkout", "2026-03-04T10:00", 30, False, 4, "INC-2"),
]
STORM = [
    fire("PodRestart", "orders", f"2026-03-05T10:{m:02d}", 1, False, 1, "INC-3")
    for m in range(0, 56, 7)
]


def test_hand_checked_figures() -> None:
    report = noise_report(DISK + ERRORS + STORM, hours=BERLIN)
    disk = next(a for a in report.alerts if a.alert == "DiskFull")
    assert disk.firings == 5 and disk.occurrences == 5
    assert (disk.flapping_episodes, disk.refires) == (1, 2)
    assert disk.auto_resolve_rate == pytest.approx(4 / 5)
    # Only the Saturday firing was acknowledged and resolved by a person.
    assert disk.actionable_rate == pytest.approx(1 / 5)
    assert disk.alerts_per_incident is None
    assert disk.off_hours == 4  # three at night, one on Saturday
    assert disk.sleep_hours == 3
    assert disk.median_duration_minutes == 2
    assert disk.median_ack_minutes == 5

    errors = next(a for a in report.alerts if a.alert == "HighErrorRate")
    assert errors.actionable_rate == 1.0
    assert errors.linked_incidents == 2 and errors.alerts_per_incident == 2.0
    assert (errors.off_hours, errors.sleep_hours) == (1, 1)
    # 09:50 re-fire came 10 minutes after the 09:00 firing resolved at 09:40.
    assert errors.flapping_episodes == 1

    storm = next(a for a in report.alerts if a.alert == "PodRestart")
    assert storm.firings == 8 and storm.alerts_per_incident == 8.0


def wilson(count: int, total: int) -> tuple[float, float]:
    """Return the 95% Wilson interval, from statsmodels (an independent implementation)."""
    low, high = proportion_confint(count, total, alpha=0.05, method="wilson")
    return float(low), float(high)


def test_noise_pages_precision_and_time_firing_by_hand() -> None:
    report = noise_report(DISK + ERRORS + STORM, hours=BERLIN)
    by_name = {a.alert: a for a in report.alerts}
    disk, errors, storm = by_name["DiskFull"], by_name["HighErrorRate"], by_name["PodRestart"]
    # Only the Saturday firing was acted on: 4 of 5 needed no one.
    assert (disk.acted_on, disk.useful, disk.noise) == (1, 1, 4)
    # All four acted on, but three were for INC-1: two firings were repeats.
    assert (errors.acted_on, errors.useful, errors.noise) == (4, 2, 2)
    # Eight firings for one incident, each acted on: seven repeats.
    assert (storm.useful, storm.noise) == (1, 7)
    assert disk.minutes_firing == 3 + 2 + 1 + 2 + 30
    assert errors.minutes_firing == 40 + 20 + 60 + 30
    assert disk.precision == 0.0 and errors.precision == 1.0
    assert disk.pages == errors.pages == 0  # P3 does not page
    paged = [fire("Down", "api", "2026-03-02T10:00", 5, False, 1, "INC-7")]
    paged += [replace(paged[0], id="P2", priority="critical"), replace(paged[0], id="P3",
                                                                         priority="high")]
    (down,) = noise_report(paged).alerts
    assert down.pages == 2  # critical and high page; P3 does not


def test_one_decision_per_alert_ranked_by_noise() -> None:
    report = noise_report(DISK + ERRORS + STORM, hours=BERLIN)
    ranked = [(d.alert, d.action, d.noise) for d in report.decisions]
    assert ranked == [
        ("PodRestart", Tuning.GROUP, 7),  # 8 firings for one incident
        ("DiskFull", Tuning.DELETE_OR_DEMOTE, 4),  # 4 of 5 not acted on
        ("HighErrorRate", Tuning.ADD_HYSTERESIS, 2),  # 1 of 4 re-fired within 30 min
    ]
    assert [a.alert for a in report.alerts] == [d.alert for d in report.decisions]
    assert len({d.key for d in report.recommendations}) == len(report.recommendations) == 3
    disk = report.decisions[1]
    assert disk.reason == "only 20% of 5 firings were acted on (4 were not); 3 woke someone"
    # Flapping and self-resolving are evidence for the same decision, not rows of their own.
    assert [a.split(":")[0] for a in disk.also] == ["add-hysteresis", "lengthen-for"]
    low, high = wilson(1, 5)
    assert disk.evidence == f"1 of 5 firings acted on (95% interval {low:.0%}-{high:.0%})"
    assert high > 0.5 and disk.confidence is Confidence.MEDIUM  # the interval reaches 50%
    storm = report.decisions[0]
    assert storm.also[0].startswith("add-hysteresis: 7 re-fires")
    assert wilson(1, 8)[1] > 1 / 3 and storm.confidence is Confidence.MEDIUM
    # An always-actionable alert is not sent to business hours, however late it fires.
    assert not any(d.action is Tuning.ROUTE_TO_BUSINESS_HOURS for d in report.decisions)


def test_confidence_follows_the_interval_and_the_count() -> None:
    never = [fire("Batch", "data", f"2026-03-{d:02d}T02:00", 30, True) for d in range(1, 21)]
    (decision,) = noise_report(never, hours=BERLIN).decisions
    assert decision.action is Tuning.DELETE_OR_DEMOTE
    assert wilson(0, 20)[1] < 0.5 and decision.confidence is Confidence.HIGH
    assert decision.evidence.startswith("0 of 20 firings acted on (95% interval 0%-")
    few = noise_report(never[:2], hours=BERLIN).decisions[0]
    assert few.action is Tuning.KEEP and few.confidence is Confidence.LOW
    assert "too few to judge" in few.reason
    good = [fire("Err", "api", f"2026-03-{d:02d}T10:00", 30, False, 2, f"INC-{d}")
            for d in range(2, 12)]
    kept = noise_report(good, hours=BERLIN).decisions[0]
    assert kept.action is Tuning.KEEP and kept.noise == 0
    assert wilson(10, 10)[0] >= 0.5 and kept.confidence is Confidence.HIGH
    assert noise_report(good, hours=BERLIN).recommendations == ()


def test_alert_acted_on_by_day_but_not_at_night_goes_to_business_hours() -> None:
    # 2026-03-02..06 are Monday..Friday: 11:00 UTC is noon in Berlin, 02:00 UTC is 03:00.
    day = [fire("Lag", "etl", f"2026-03-0{d}T11:00", 30, False, 5) for d in range(2, 7)]
    night = [fire("Lag", "etl", f"2026-03-0{d}T02:00", 30, True) for d in range(2, 6)]
    (decision,) = noise_report(day + night, hours=BERLIN).decisions
    assert decision.action is Tuning.ROUTE_TO_BUSINESS_HOURS
    assert decision.reason.startswith("4 of 4 sleep-hours interruptions were not acted on")
    assert decision.noise == 4
    assert wilson(0, 4)[1] < 0.5 and decision.confidence is Confidence.HIGH


def test_known_incidents_decide_what_counts_as_linked() -> None:
    report = noise_report(ERRORS, known_incidents={"INC-2"}, hours=BERLIN)
    (errors,) = report.alerts
    assert errors.linked_incidents == 1 and errors.alerts_per_incident == 4.0
    # Still actionable: each was acknowledged and resolved by a person.
    assert errors.actionable_rate == 1.0


def test_unacknowledged_linked_alerts_are_not_actionable() -> None:
    events = [fire("X", "s", f"2026-03-02T1{i}:00", 5, True, None, "INC-9") for i in range(4)]
    (x,) = noise_report(events).alerts
    assert x.actionable_rate == 0.0
    assert noise_report(events).recommendations[0].reason.startswith("none of 4 firings")
    assert x.noise == 4 and x.precision == 1.0


def test_working_hours_follow_daylight_saving_time() -> None:
    # Monday 30 March 2026 06:30 UTC is 08:30 in Berlin (CEST, UTC+2): business hours.
    assert BERLIN.in_business_hours(datetime(2026, 3, 30, 6, 30, tzinfo=UTC))
    # A week earlier (CET, UTC+1) the same UTC time is 07:30: sleep hours.
    week_before = datetime(2026, 3, 23, 6, 30, tzinfo=UTC)
    assert not BERLIN.in_business_hours(week_before) and BERLIN.in_sleep_hours(week_before)
    custom = WorkingHours("America/New_York", time(9), time(17), frozenset({0, 1, 2, 3}))
    friday_noon = datetime(2026, 3, 6, 17, 0, tzinfo=UTC)  # 12:00 in New York
    assert not custom.in_business_hours(friday_noon)
    with pytest.raises(ValueError):
        WorkingHours(business_start=time(18), business_end=time(8))


def test_flapping_chains_and_gaps() -> None:
    chain = [
        fire("F", "s", "2026-03-02T10:00", 1),
        fire("F", "s", "2026-03-02T10:05", 1),
        fire("F", "s", "2026-03-02T11:00", 1),  # 54 min later: chain broken
        fire("F", "s", "2026-03-02T11:30", 1),  # 29 min: new episode
        fire("F", "s", "2026-03-02T11:40", None),
    ]
    assert flapping(chain, timedelta(minutes=30)) == (2, 3)
    assert flapping(chain, timedelta(minutes=60)) == (1, 4)
    few = noise_report(chain[:2], thresholds=NoiseThresholds(min_firings=3))
    assert few.recommendations == ()


def test_empty_history() -> None:
    report = noise_report([])
    assert report.alerts == () and report.firings == 0 and report.weeks is None
