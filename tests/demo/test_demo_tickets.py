"""The demo ticket history: volume, seasonality, holidays, growth, incident surges,
recurring categories and lognormal handle times, checked on the medium world."""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy import stats

from opsledger.demo.config import config_document
from opsledger.demo.tickets import (
    CATEGORIES,
    SUPPORT_TIMEZONE,
    easter_sunday,
    support_holidays,
    write_tickets,
)
from opsledger.demo.world import Size, build_world
from opsledger.readers import tickets as ticket_reader

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ZONE = ZoneInfo(SUPPORT_TIMEZONE)


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    world = build_world(Size.MEDIUM, 7, NOW)
    [path] = write_tickets(world, tmp_path_factory.mktemp("tickets"))
    began = time.process_time()  # CPU time: a busy machine does not count against it
    result = ticket_reader.read(path)
    elapsed = time.process_time() - began
    assert result.problems == []
    return world, path, result.records, elapsed


def daily_counts(records, predicate=lambda t: True) -> dict[date, int]:
    counts: dict[date, int] = Counter()
    for ticket in records:
        if predicate(ticket):
            counts[ticket.created_at.astimezone(ZONE).date()] += 1
    return counts


def all_days(records) -> list[date]:
    first = min(t.created_at for t in records).astimezone(ZONE).date()
    last = max(t.created_at for t in records).astimezone(ZONE).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_medium_history_is_a_year_of_about_thirty_thousand_tickets(medium):
    world, path, records, elapsed = medium
    assert path.name == "ticket-history.csv" and path.parent.name == "handover"
    assert 27_000 <= len(records) <= 33_000
    span = max(t.created_at for t in records) - min(t.created_at for t in records)
    assert timedelta(days=360) <= span <= timedelta(days=366)
    assert max(t.created_at for t in records) < world.now
    assert elapsed < 2.0, f"reading {len(records)} tickets took {elapsed:.2f}s"
    assert len({t.id for t in records}) == len(records)
    assert {t.queue for t in records} == {"access", "billing", "how-to", "bugs", "incidents"}


def test_same_world_gives_the_same_bytes(tmp_path):
    world = build_world(Size.SMALL, 11, NOW)
    first = write_tickets(world, tmp_path / "a")[0].read_bytes()
    second = write_tickets(build_world(Size.SMALL, 11, NOW), tmp_path / "b")[0].read_bytes()
    assert first == second
    other = write_tickets(build_world(Size.SMALL, 12, NOW), tmp_path / "c")[0].read_bytes()
    assert other != first


def test_weekends_and_holidays_are_quiet(medium):
    _, _, records, _ = medium
    counts = daily_counts(records, lambda t: t.category != "outage report")
    days = all_days(records)[1:-1]  # whole days only
    holidays = support_holidays({d.year for d in days})
    weekdays = [counts[d] for d in days if d.weekday() < 5 and d not in holidays]
    weekends = [counts[d] for d in days if d.weekday() >= 5 and d not in holidays]
    closed = [counts[d] for d in days if d.weekday() < 5 and holidays.get(d) == 0.25]
    assert statistics.mean(weekdays) > 2.5 * statistics.mean(weekends)
    assert len(closed) >= 6
    assert statistics.mean(closed) < 0.4 * statistics.mean(weekdays)


def test_tickets_arrive_in_business_hours_of_the_support_time_zone(medium):
    _, _, records, _ = medium
    local = [t.created_at.astimezone(ZONE) for t in records if t.category != "outage report"]
    weekday = [m for m in local if m.weekday() < 5]
    business = sum(1 for m in weekday if 8 <= m.hour < 18)
    assert business / len(weekday) > 0.75
    by_hour = Counter(m.hour for m in weekday)
    assert by_hour[10] > 10 * by_hour[3]


def test_volume_grows_over_the_year(medium):
    _, _, records, _ = medium
    counts = daily_counts(records, lambda t: t.category != "outage report")
    days = all_days(records)[1:-1]
    ordinary = [d for d in days if d.weekday() < 5 and d not in support_holidays({d.year})]
    first = statistics.mean(counts[d] for d in ordinary[:60])
    last = statistics.mean(counts[d] for d in ordinary[-60:])
    assert last > 1.15 * first


def test_major_incidents_bring_a_surge_of_outage_reports(medium):
    world, _, records, _ = medium
    outage_days = daily_counts(records, lambda t: t.category == "outage report")
    days = all_days(records)[1:-1]
    majors = [
        i
        for i in world.incidents
        if i.severity in ("SEV1", "SEV2")
        and world.service(i.service).tier <= 1
        and i.started_at.astimezone(ZONE).date() in set(days)
    ]
    major_days = {i.started_at.astimezone(ZONE).date() for i in majors}
    assert len(major_days) >= 5
    quiet = [outage_days[d] for d in days if d not in major_days]
    loud = [outage_days[d] for d in major_days]
    assert statistics.mean(loud) > 4 * statistics.mean(quiet)
    # Surge tickets name the incident's service.
    services = {i.service for i in majors}
    named = {t.service for t in records if t.category == "outage report" and t.service}
    assert services <= named


def test_recurring_categories_repeat_their_wording(medium):
    _, _, records, _ = medium
    categories = Counter(t.category for t in records)
    assert categories.most_common(1)[0][0] == "password reset"
    assert sum(n for _, n in categories.most_common(5)) / len(records) > 0.4
    titles = Counter(t.title for t in records if t.category == "password reset")
    assert len(titles) <= 6 and min(titles.values()) > 300
    # Titles with an order number still share their wording.
    refunds = {t.title.split("#")[0] for t in records if t.category == "refund request"}
    assert len(refunds) <= 5


def test_handle_times_are_lognormal_per_category(medium):
    _, _, records, _ = medium
    minutes = defaultdict(list)
    for ticket in records:
        minutes[ticket.category].append(ticket.handle_minutes)
    for category in CATEGORIES:
        if category.name == "outage report":
            continue  # mixes ordinary reports and incident surges
        logs = np.log(np.array(minutes[category.name]))
        mu, sigma = math.log(category.handle_median_minutes), category.handle_sigma
        assert abs(float(np.median(logs)) - mu) < 0.1, category.name
        assert abs(float(np.std(logs)) - sigma) < 0.06, category.name
        assert stats.kstest(logs, "norm", args=(mu, sigma)).pvalue > 1e-3, category.name


def test_resolution_follows_creation_and_recent_tickets_may_be_open(medium):
    world, _, records, _ = medium
    resolved = [t for t in records if t.resolved_at is not None]
    assert all(t.resolved_at >= t.created_at for t in resolved)
    assert all(t.resolved_at < world.now for t in resolved)
    still_open = [t for t in records if t.resolved_at is None]
    assert still_open and all(t.created_at > world.now - timedelta(days=30) for t in still_open)


def test_easter_and_german_holidays_match_published_dates():
    # Easter Sunday dates as published (e.g. the US Naval Observatory's Easter table).
    assert [easter_sunday(y) for y in (2008, 2024, 2025, 2026, 2027, 2038)] == [
        date(2008, 3, 23),
        date(2024, 3, 31),
        date(2025, 4, 20),
        date(2026, 4, 5),
        date(2027, 3, 28),
        date(2038, 4, 25),
    ]
    holidays = support_holidays([2026])
    closed = sorted(d for d, factor in holidays.items() if factor < 0.5)
    assert closed == [
        date(2026, 1, 1),
        date(2026, 4, 3),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 14),
        date(2026, 5, 25),
        date(2026, 10, 3),
        date(2026, 12, 25),
        date(2026, 12, 26),
    ]
    assert holidays[date(2026, 12, 24)] > 0.5


def test_support_time_zone_is_the_demo_configuration_s(medium):
    world, _, _, _ = medium
    assert config_document(world)["policies"]["support"]["timezone"] == SUPPORT_TIMEZONE
