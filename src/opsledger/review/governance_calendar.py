"""The KPI review cadence as an iCalendar file of recurring events."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event, vRecur

from opsledger.review.governance import ScheduledReview

PRODID = "-//opsledger//governance cadence//EN"
REVIEW_MINUTES = 30


def governance_calendar(reviews: Sequence[ScheduledReview], now: datetime) -> bytes:
    """Return one recurring event per KPI review (stable UIDs: same inputs, same bytes)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "KPI reviews")
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for item in reviews:
        review = item.review
        key = f"{review.metric}|{review.cadence}|{review.owner}"
        event = Event()
        event.add("uid", hashlib.sha256(key.encode()).hexdigest()[:24] + "@opsledger")
        event.add("dtstamp", stamp)
        event.add("dtstart", item.first)
        event.add("dtend", item.first + timedelta(minutes=REVIEW_MINUTES))
        event.add("rrule", vRecur(item.rrule))
        event.add("summary", f"KPI review: {review.metric}")
        description = f"Owner: {item.owner}. Cadence: {review.cadence}."
        if review.dashboard:
            description += f" Dashboard: {review.dashboard}"
        event.add("description", description)
        event.add("categories", ["governance"])
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
