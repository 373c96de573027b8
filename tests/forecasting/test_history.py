"""The ticket history as forecasts read it, checked ticket by ticket against datetime."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from opsledger.forecasting.history import (
    daily_series,
    flat_shares,
    interval_shares_by_queue,
    local_arrivals,
    weekday_interval_shares,
)
from opsledger.model.handover import Ticket


def ticket(number: int, created: datetime, queue: str) -> Ticket:
    return Ticket(str(number), created, None, queue, "c", None, "t", None, None)


@pytest.fixture(scope="module")
def tickets() -> list[Ticket]:
    """Tickets over both of Berlin's 2026 clock changes, stamped in UTC and in other zones."""
    rng = np.random.default_rng(3)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-4))]
    found = []
    for number in range(4000):
        moment = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(
            seconds=int(rng.integers(0, 250 * 86400)), microseconds=int(rng.integers(10**6)))
        queue = ["access", "billing", "bugs"][int(rng.integers(0, 3))]
        found.append(ticket(number, moment.astimezone(zones[number % 3]), queue))
    # Around the spring change (02:00 local does not exist) and the autumn one (02:30 twice).
    for number, stamp in enumerate(("2026-03-29T00:59:59+00:00", "2026-03-29T01:00:00+00:00",
                                    "2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00"),
                                   start=10_000):
        found.append(ticket(number, datetime.fromisoformat(stamp), "access"))
    return found


def test_local_times_are_those_datetime_gives_each_ticket(tickets: list[Ticket]) -> None:
    zone = ZoneInfo("Europe/Berlin")
    arrivals = local_arrivals(tickets, "Europe/Berlin")
    assert list(arrivals["queue"]) == [t.queue for t in tickets]
    expected = [t.created_at.astimezone(zone).replace(tzinfo=None) for t in tickets]
    assert [stamp.to_pydatetime() for stamp in arrivals["local"]] == expected
    assert arrivals["local"].dt.tz is None
    # The autumn change: two UTC instants an hour apart read 02:30 both.
    assert expected[-2] == expected[-1] == datetime(2026, 10, 25, 2, 30)
    assert expected[-4:-2] == [datetime(2026, 3, 29, 1, 59, 59), datetime(2026, 3, 29, 3, 0)]


def test_daily_counts_are_the_tickets_of_each_local_day(tickets: list[Ticket]) -> None:
    zone = ZoneInfo("Europe/Berlin")
    end = date(2026, 10, 31)
    series = daily_series(local_arrivals(tickets, "Europe/Berlin"), last_day=end)
    days = Counter((t.queue, t.created_at.astimezone(zone).date()) for t in tickets)
    for queue in ("access", "billing", "bugs"):
        mine = series[series["unique_id"] == queue]
        first = min(d for q, d in days if q == queue)
        assert list(mine["ds"].dt.date) == [first + timedelta(days=n)
                                            for n in range((end - first).days + 1)]
        assert list(mine["y"]) == [float(days[(queue, d)]) for d in mine["ds"].dt.date]
    assert list(series["unique_id"].drop_duplicates()) == ["access", "billing", "bugs"]
    assert series["y"].dtype == np.float64 and str(series["ds"].dtype) == "datetime64[ns]"


@pytest.mark.parametrize("interval", [15, 30, 60])
def test_weekday_shares_count_each_ticket_in_its_local_interval(
    tickets: list[Ticket], interval: int
) -> None:
    zone = ZoneInfo("America/New_York")
    arrivals = local_arrivals(tickets, "America/New_York")
    shares = interval_shares_by_queue(arrivals, interval)
    assert sorted(shares) == ["access", "billing", "bugs"]
    per_day = 24 * 60 // interval
    for queue, rows in shares.items():
        counts = np.zeros((7, per_day))
        for t in tickets:
            if t.queue == queue:
                local = t.created_at.astimezone(zone)
                counts[local.weekday(), (local.hour * 60 + local.minute) // interval] += 1
        expected = tuple(tuple((row / row.sum()).tolist()) for row in counts)
        assert rows == expected
        assert weekday_interval_shares(arrivals, queue, interval) == expected


def test_a_queue_or_weekday_without_tickets_gets_a_flat_profile() -> None:
    monday = datetime(2026, 3, 2, 10, tzinfo=UTC)
    arrivals = local_arrivals([ticket(1, monday, "l1")], "UTC")
    [shares] = interval_shares_by_queue(arrivals, 60).values()
    assert shares[0][10] == 1.0 and shares[1] == tuple([1 / 24] * 24)
    assert weekday_interval_shares(arrivals, "other", 30) == flat_shares(30)
    assert flat_shares(30)[6] == tuple([1 / 48] * 48)
    with pytest.raises(ValueError, match="must divide a day"):
        interval_shares_by_queue(arrivals, 7)
