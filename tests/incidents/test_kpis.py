"""Incident KPIs against a hand calculation on tests/incidents/fixtures.py."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from opsledger.core.incident_policy import IncidentPolicy, hour_band
from opsledger.incidents.kpis import (
    DurationStats,
    IncidentKpis,
    LastMajor,
    MonthChange,
    Period,
    Skipped,
    duration_stats,
    incident_kpis,
    rotation_resolver,
)

from .fixtures import ALL, NOW, PERIOD, A, t

# February (28 days) + March (31 days) = 59 days = 1416 hours.
PERIOD_HOURS = 59 * 24


@pytest.fixture(scope="module")
def kpis() -> IncidentKpis:
    rotation_of = rotation_resolver({"api": "core-primary"})
    return incident_kpis(ALL, PERIOD, NOW, IncidentPolicy(), rotation_of, services=["web"])


def test_counts(kpis: IncidentKpis) -> None:
    # A, B, C, D, E are created in the period; F before it, G after it.
    assert kpis.count == 5
    assert dict(kpis.by_severity) == {"SEV1": 1, "SEV2": 2, "SEV3": 1, "SEV4": 1, "SEV5": 0}
    assert dict(kpis.by_service) == {"api": 3, "db": 2}
    assert dict(kpis.by_team) == {"core": 3, "data": 2}
    assert kpis.unresolved == ("E",)


def test_mtta(kpis: IncidentKpis) -> None:
    # Acknowledged after 5 (A), 10 (B), 20 (C) and 15 (E) minutes; D never was.
    assert isinstance(kpis.mtta, DurationStats)
    assert kpis.mtta.count == 4
    assert kpis.mtta.mean == pytest.approx((5 + 10 + 20 + 15) / 4)  # 12.5
    # Sorted 5, 10, 15, 20: median (10 + 15) / 2 = 12.5.
    assert kpis.mtta.median == pytest.approx(12.5)
    # p90 at h = (4 - 1) * 0.9 + 1 = 3.7: 15 + 0.7 * (20 - 15) = 18.5.
    assert kpis.mtta.p90 == pytest.approx(18.5)


def test_mttr(kpis: IncidentKpis) -> None:
    # Resolved after 60 (A), 30 (B), 90 (C) and 120 (D) minutes; E is open.
    assert isinstance(kpis.mttr, DurationStats)
    assert kpis.mttr.mean == pytest.approx((60 + 30 + 90 + 120) / 4)  # 75
    assert kpis.mttr.median == pytest.approx((60 + 90) / 2)  # 75
    # p90 at h = 3.7 over 30, 60, 90, 120: 90 + 0.7 * (120 - 90) = 111.
    assert kpis.mttr.p90 == pytest.approx(111.0)


def test_mttd_only_where_impact_start_is_known(kpis: IncidentKpis) -> None:
    # A: 09:50 -> 09:56 = 6 min; C: 01:40 -> 01:52 = 12 min.
    assert isinstance(kpis.mttd, DurationStats)
    assert kpis.mttd.count == 2
    assert kpis.mttd.mean == pytest.approx(9.0)


def test_percentiles_match_numpy_type_7() -> None:
    values = [30.0, 60.0, 90.0, 120.0, 300.0]
    stats = duration_stats(values, "x")
    assert isinstance(stats, DurationStats)
    # Worked example of docs/incident-kpis.md: h = 4 * 0.9 + 1 = 4.6 -> 120 + 0.6 * 180.
    assert stats.p90 == pytest.approx(228.0)
    assert stats.p90 == pytest.approx(float(np.percentile(values, 90, method="linear")))
    assert isinstance(duration_stats([], "a resolution time"), Skipped)


def test_mtbf(kpis: IncidentKpis) -> None:
    api = kpis.mtbf["api"]
    # Downtime of api: F's last hour (00:00-01:00 on Feb 1) + A 70 min + B 30 min + D 120 min.
    downtime = 1 + 70 / 60 + 30 / 60 + 120 / 60  # 4.6667 h
    assert api.failures == 3
    assert api.downtime_hours == pytest.approx(downtime)
    assert api.hours == pytest.approx((PERIOD_HOURS - downtime) / 3)  # 470.444 h
    db = kpis.mtbf["db"]
    # C: 01:40-03:30 = 110 min; E is open: Mar 20 23:30 -> Apr 1 00:00 = 264.5 h.
    downtime_db = 110 / 60 + 264.5
    assert db.failures == 2
    assert db.downtime_hours == pytest.approx(downtime_db)
    assert db.hours == pytest.approx((PERIOD_HOURS - downtime_db) / 2)  # 574.833 h
    web = kpis.mtbf["web"]
    assert web.failures == 0 and web.hours is None and "no failure" in web.reason


def test_overlapping_impact_counts_once() -> None:
    from .fixtures import incident

    one = incident("x1", "s", "SEV3", "2026-02-10 10:00", resolved_at="2026-02-10 11:00")
    two = incident("x2", "s", "SEV3", "2026-02-10 10:30", resolved_at="2026-02-10 12:00")
    result = incident_kpis([one, two], PERIOD, PERIOD.end).mtbf["s"]
    # Union 10:00-12:00 = 2 h, not 1 h + 1.5 h.
    assert result.downtime_hours == pytest.approx(2.0)


def test_time_since_last_major(kpis: IncidentKpis) -> None:
    # Majors at or before now: F, A, C, E; the latest is E (Mar 20 23:30) -> 264.5 h.
    assert isinstance(kpis.last_major, LastMajor)
    assert kpis.last_major.incident_id == "E"
    assert kpis.last_major.hours_since == pytest.approx(264.5)


def test_interruptions(kpis: IncidentKpis) -> None:
    # A business (Mon 10:00); B off (Sat 14:00); C sleep (02:00); D off (20:00); E sleep (23:30).
    bands = kpis.interruptions
    assert (bands.business, bands.off, bands.sleep) == (1, 2, 2)


def test_hour_band_follows_the_time_zone() -> None:
    new_york = IncidentPolicy(timezone="America/New_York")
    # 2026-03-03 02:00 UTC is Monday 21:00 in New York (EST): off hours, not sleep.
    assert hour_band(t("2026-03-03 02:00"), new_york) == "off"
    assert hour_band(t("2026-03-03 02:00"), IncidentPolicy()) == "sleep"
    # 14:00 UTC on Tuesday is 09:00 in New York: the first business hour.
    assert hour_band(t("2026-03-03 14:00"), new_york) == "business"


def test_rotation_load(kpis: IncidentKpis) -> None:
    loads = {r.rotation: r for r in kpis.rotations}
    weeks = PERIOD_HOURS / 168  # 8.4286
    core = loads["core-primary"]  # the configured rotation of api
    assert core.pages == 3
    assert core.pages_per_week == pytest.approx(3 / weeks)  # 0.3559
    # Off-hours pages: B (bob) and D (no assignee).
    assert dict(core.off_hours_pages_by_person) == {"bob": 1}
    assert core.unattributed_off_hours_pages == 1
    data = loads["data-ep"]  # db has no configured rotation: the escalation policy
    assert data.pages == 2
    assert dict(data.off_hours_pages_by_person) == {"ann": 1, "cat": 1}
    assert data.off_hours_pages_per_person == pytest.approx(1.0)


def test_month_over_month(kpis: IncidentKpis) -> None:
    february, march = kpis.months
    # February: A and B; 28 days; MTTA (5 + 10) / 2; MTTR (60 + 30) / 2.
    assert (february.month, february.count, february.major) == ("2026-02", 2, 1)
    assert february.days == pytest.approx(28)
    assert february.mtta_minutes == pytest.approx(7.5)
    assert february.mttr_minutes == pytest.approx(45.0)
    # March: C, D, E; 31 days; MTTA (20 + 15) / 2; MTTR (90 + 120) / 2.
    assert (march.month, march.count, march.major) == ("2026-03", 3, 2)
    assert march.mtta_minutes == pytest.approx(17.5)
    assert march.mttr_minutes == pytest.approx(105.0)
    change = kpis.month_over_month
    assert isinstance(change, MonthChange)
    # (3 / 31) / (2 / 28) - 1 = 84 / 62 - 1 = 0.3548.
    assert change.per_day_change == pytest.approx(84 / 62 - 1)
    assert change.mtta_change_minutes == pytest.approx(10.0)
    assert change.mttr_change_minutes == pytest.approx(60.0)


def test_single_month_has_no_month_over_month() -> None:
    march = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    result = incident_kpis(ALL, march, NOW)
    assert isinstance(result.month_over_month, Skipped)
    assert result.count == 3


def test_empty_period_is_skipped_not_zero() -> None:
    january = Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
    result = incident_kpis([A], january, NOW)
    assert result.count == 0
    assert isinstance(result.mtta, Skipped) and isinstance(result.mttr, Skipped)
    assert result.to_json()["mttr"] == {
        "skipped": "no incident in the period has a resolution time"
    }


def test_period_must_not_be_reversed() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Period(NOW, PERIOD.start)
