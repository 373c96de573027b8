"""Governance cadence: next review dates, recurrence rules and the checklist, by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar

from opsledger.core.config import Config, KpiReview
from opsledger.review.governance import (
    COMPLETE,
    INCOMPLETE,
    governance_checklist,
    schedule,
    scheduled_reviews,
)
from opsledger.review.governance_calendar import governance_calendar

# Sunday 1 November 2026, noon UTC (13:00 in Berlin, after the switch to CET).
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def review(cadence: str, day: str | None, tz: str = "Europe/Berlin") -> KpiReview:
    return KpiReview(metric="m", cadence=cadence, owner="sre-manager", day=day,  # type: ignore[arg-type]
                     time="10:00", timezone=tz)


def test_next_occurrences() -> None:
    first, rule = schedule(review("weekly", "monday"), NOW)
    assert first.isoformat() == "2026-11-02T10:00:00+01:00" and rule == {
        "freq": "WEEKLY", "byday": ["MO"]}
    # Sunday 10:00 Berlin has passed at 13:00: next Sunday.
    first, _ = schedule(review("weekly", "sunday"), NOW)
    assert first.isoformat() == "2026-11-08T10:00:00+01:00"
    first, rule = schedule(review("biweekly", "tue"), NOW)
    assert first.day == 3 and rule["interval"] == 2
    # The 1st at 10:00 Berlin has passed: the next month's 1st.
    first, rule = schedule(review("monthly", "1"), NOW)
    assert first.isoformat() == "2026-12-01T10:00:00+01:00" and rule["bymonthday"] == [1]
    # Quarterly reviews fall in January, April, July and October.
    first, rule = schedule(review("quarterly", "5"), NOW)
    assert first.date().isoformat() == "2027-01-05" and rule["interval"] == 3
    first, _ = schedule(review("daily", None, "UTC"), NOW)
    assert first.isoformat() == "2026-11-02T10:00:00+00:00"


def test_calendar_recurs_and_is_stable() -> None:
    config = Config(
        stakeholders=[{"name": "Sam", "email": "s@example.com", "role": "sre-manager"}],
        kpi_reviews=[review("weekly", "monday").model_dump()],
    )
    reviews = scheduled_reviews(config, NOW)
    assert reviews[0].owner == "Sam"
    data = governance_calendar(reviews, NOW)
    assert data == governance_calendar(reviews, NOW)
    event = next(c for c in Calendar.from_ical(data).walk() if c.name == "VEVENT")
    assert event.get("rrule").to_ical() == b"FREQ=WEEKLY;BYDAY=MO"


def test_checklist_names_what_is_missing() -> None:
    config = Config(kpi_reviews=[review("weekly", "monday").model_dump()])
    fields = {f.name: f for f in governance_checklist(
        config, ["checkout", "auth"], dashboards=["checkout", "auth"], alerts=["checkout"])}
    assert fields["dashboards_configured"].status == COMPLETE
    assert fields["monitoring_alerts_active"].status == INCOMPLETE
    assert fields["monitoring_alerts_active"].missing == ("auth: no alert",)
    cadence = fields["reporting_cadence_scheduled"]
    assert cadence.status == INCOMPLETE
    assert "no owner in the roster for 'm'" in cadence.missing
    assert "no review of time to resolution" in cadence.missing
