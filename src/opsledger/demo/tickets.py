"""The demo support history: ``handover/ticket-history.csv``.

Tickets arrive as a support desk's do: mostly in business hours of the support time zone,
few at weekends and on public holidays, more each month as the product grows, and in a burst
whenever a SEV1/SEV2 incident is under way (the world's incidents, so the spikes line up
with the incident export). Most tickets fall into recurring categories with a handful of
ways of wording the same request ("Password reset not working", "Can't reset my
password"...), which is what similar-ticket clustering turns into automation candidates.
Handle times are lognormal per category.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from zoneinfo import ZoneInfo

from opsledger.core.config import Paths
from opsledger.core.fileio import atomic_write_csv
from opsledger.core.workspace import HANDOVER_FILES, InputKey
from opsledger.demo.ticket_categories import BROWSERS, CATEGORIES, SURGE_TITLES, Category
from opsledger.demo.world import DemoIncident, World

# Matches the support policy's time zone in the demo configuration.
SUPPORT_TIMEZONE = "Europe/Berlin"
HEADER = (
    "id",
    "created_at",
    "resolved_at",
    "queue",
    "category",
    "priority",
    "title",
    "handle_minutes",
    "service",
    "channel",
)
# Monday..Sunday, relative; normalised so that an ordinary week averages 1.
WEEKDAY_SHAPE = (1.15, 1.1, 1.05, 1.05, 0.95, 0.4, 0.3)
WEEKDAY_FACTOR = tuple(w * 7 / sum(WEEKDAY_SHAPE) for w in WEEKDAY_SHAPE)
# Local hour of arrival, 0..23: a morning peak, a lunch dip, a softer afternoon peak.
HOUR_SHAPE = (
    0.3,
    0.2,
    0.15,
    0.15,
    0.2,
    0.4,
    0.9,
    2.0,
    4.5,
    6.5,
    7.0,
    6.8,
    5.5,
    6.2,
    6.6,
    6.0,
    5.2,
    4.0,
    2.6,
    1.8,
    1.3,
    1.0,
    0.7,
    0.5,
)
# At weekends people write at any waking hour, so the day is flatter.
WEEKEND_HOUR_SHAPE = tuple(math.sqrt(w) for w in HOUR_SHAPE)
_HOUR_CUMULATIVE = tuple(accumulate(HOUR_SHAPE))
_WEEKEND_HOUR_CUMULATIVE = tuple(accumulate(WEEKEND_HOUR_SHAPE))
YEARLY_GROWTH = 0.30  # volume grows by this share over a year
HOLIDAY_FACTOR = 0.25
HALF_HOLIDAY_FACTOR = 0.55
DAY_NOISE_SIGMA = 0.08
# Extra tickets on the day of a major incident, as a share of the day's ordinary volume.
INCIDENT_SURGE = {"SEV1": 0.45, "SEV2": 0.2}
# Customers notice an outage of a tier-0 service far more than of a back-office one.
TIER_SURGE = (1.0, 0.6, 0.3, 0.15)
# Median hours from creation to resolution by priority (lognormal).
RESOLUTION_MEDIAN_HOURS = {"P1": 2.0, "P2": 7.0, "P3": 22.0, "P4": 60.0}


CHANNELS = ("email", "web", "chat", "phone")
CHANNEL_WEIGHTS = (0.45, 0.3, 0.2, 0.05)
PRIORITIES = ("P1", "P2", "P3", "P4")
_PRIORITY_CUMULATIVE = {c.name: tuple(accumulate(c.priorities)) for c in CATEGORIES}
_CHANNEL_CUMULATIVE = tuple(accumulate(CHANNEL_WEIGHTS))


def write_tickets(world: World, root: Path) -> list[Path]:
    """Write ``handover/ticket-history.csv`` and return its path."""
    path = root / Paths().handover / HANDOVER_FILES[InputKey.TICKETS]
    atomic_write_csv(path, HEADER, ticket_rows(world))
    return [path]


def ticket_rows(world: World) -> list[list[object]]:
    """Return the ticket history as CSV rows (without header), oldest first."""
    rng = world.rng("tickets")
    zone = ZoneInfo(SUPPORT_TIMEZONE)
    end = world.now.astimezone(zone).date()
    days = round(world.scale.ticket_months * 365 / 12)
    start = end - timedelta(days=days)
    holidays = support_holidays(range(start.year, end.year + 1))
    names = {s.name for s in world.services}
    tiers = {s.name: s.tier for s in world.services}
    majors = _major_incidents_by_day(world.incidents, zone)
    category_weights = list(accumulate(c.weight for c in CATEGORIES))
    tickets: list[tuple[datetime, list[object]]] = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        ordinary = daily_expected(world.scale.tickets_per_day, offset, days, day, holidays)
        ordinary *= rng.lognormvariate(0.0, DAY_NOISE_SIGMA)
        for _ in range(_poisson(rng, ordinary)):
            category = rng.choices(CATEGORIES, cum_weights=category_weights)[0]
            created = _arrival(rng, day, zone)
            service = _pick_service(rng, category.services, names)
            tickets.append((created, _row(rng, category, created, service, world.now)))
        for incident in majors.get(day, ()):
            tier = tiers.get(incident.service, len(TIER_SURGE) - 1)
            surge = ordinary * INCIDENT_SURGE[incident.severity] * TIER_SURGE[min(tier, 3)]
            for _ in range(_poisson(rng, surge)):
                created = _during(rng, incident)
                tickets.append((created, _surge_row(rng, incident, created, world.now)))
    tickets.sort(key=lambda pair: pair[0])
    rows = []
    for number, (created, row) in enumerate(tickets):
        if created >= world.now:
            continue
        rows.append([f"T-{100001 + number}", *row])
    return rows


def daily_expected(
    base: float, offset: int, days: int, day: date, holidays: dict[date, float]
) -> float:
    """Return the expected ordinary ticket count of ``day`` (before noise and incidents)."""
    growth = 1.0 + YEARLY_GROWTH * (offset / 365.0)
    return base * growth * WEEKDAY_FACTOR[day.weekday()] * holidays.get(day, 1.0)


def support_holidays(years: Iterable[int]) -> dict[date, float]:
    """Return the support desk's holidays (German public holidays observed nationwide, and
    the half days of Christmas Eve and New Year's Eve) mapped to their volume factor."""
    found: dict[date, float] = {}
    for year in years:
        easter = easter_sunday(year)
        full = [
            date(year, 1, 1),  # New Year's Day
            easter - timedelta(days=2),  # Good Friday
            easter + timedelta(days=1),  # Easter Monday
            date(year, 5, 1),  # Labour Day
            easter + timedelta(days=39),  # Ascension Day
            easter + timedelta(days=50),  # Whit Monday
            date(year, 10, 3),  # Day of German Unity
            date(year, 12, 25),
            date(year, 12, 26),
        ]
        found.update({day: HOLIDAY_FACTOR for day in full})
        found.update(
            {date(year, 12, 24): HALF_HOLIDAY_FACTOR, date(year, 12, 31): HALF_HOLIDAY_FACTOR}
        )
    return found


def easter_sunday(year: int) -> date:
    """Return Western Easter Sunday (the anonymous Gregorian computus, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _poisson(rng: random.Random, mean: float) -> int:
    """Return a Poisson draw (Knuth's method for small means, normal approximation above)."""
    if mean <= 0:
        return 0
    if mean >= 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _arrival(rng: random.Random, day: date, zone: ZoneInfo) -> datetime:
    cumulative = _WEEKEND_HOUR_CUMULATIVE if day.weekday() >= 5 else _HOUR_CUMULATIVE
    hour = rng.choices(range(24), cum_weights=cumulative)[0]
    local = datetime(
        day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=zone
    )
    return local.astimezone(UTC)


def _during(rng: random.Random, incident: DemoIncident) -> datetime:
    """Return a time while customers notice the incident (impact until an hour after)."""
    span = (incident.resolved_at - incident.started_at).total_seconds() + 3600
    moment = incident.started_at + timedelta(seconds=rng.uniform(0, span))
    return moment.replace(microsecond=0)


def _pick_service(rng: random.Random, candidates: tuple[str, ...], names: set[str]) -> str:
    present = [name for name in candidates if name in names]
    return rng.choice(present) if present else ""


def _row(
    rng: random.Random, category: Category, created: datetime, service: str, now: datetime
) -> list[object]:
    priority = rng.choices(PRIORITIES, cum_weights=_PRIORITY_CUMULATIVE[category.name])[0]
    title = rng.choice(category.titles)
    if "{" in title:
        title = title.format_map(_Placeholders(rng, created))
    channel = rng.choices(CHANNELS, cum_weights=_CHANNEL_CUMULATIVE)[0]
    if category.queue == "incidents" and channel == "email" and rng.random() < 0.5:
        channel = "phone"
    handle = rng.lognormvariate(math.log(category.handle_median_minutes), category.handle_sigma)
    return _finish(
        rng, category.queue, category.name, priority, title, created, handle, service, channel, now
    )


class _Placeholders(dict[str, str]):
    """Values for a title template's placeholders, drawn only when the template uses them."""

    def __init__(self, rng: random.Random, created: datetime) -> None:
        super().__init__()
        self.rng = rng
        self.created = created

    def __missing__(self, key: str) -> str:
        rng = self.rng
        value = {
            "user": lambda: f"user{rng.randrange(1000, 9999)}@customer.example",
            "org": lambda: f"org-{rng.randrange(100, 999)}",
            "order": lambda: str(rng.randrange(100000, 999999)),
            "invoice": lambda: f"INV-{rng.randrange(10000, 99999)}",
            "month": lambda: self.created.strftime("%B"),
            "browser": lambda: rng.choice(BROWSERS),
        }[key]()
        self[key] = value
        return value


def _surge_row(
    rng: random.Random, incident: DemoIncident, created: datetime, now: datetime
) -> list[object]:
    title = rng.choice(SURGE_TITLES).format(service=incident.service)
    priority = "P1" if incident.severity == "SEV1" and rng.random() < 0.6 else "P2"
    channel = rng.choices(("email", "web", "chat", "phone"), weights=(0.3, 0.25, 0.3, 0.15))[0]
    handle = rng.lognormvariate(math.log(14.0), 0.5)
    return _finish(
        rng,
        "incidents",
        "outage report",
        priority,
        title,
        created,
        handle,
        incident.service,
        channel,
        now,
    )


def _finish(
    rng: random.Random,
    queue: str,
    category: str,
    priority: str,
    title: str,
    created: datetime,
    handle: float,
    service: str,
    channel: str,
    now: datetime,
) -> list[object]:
    wait = timedelta(hours=rng.lognormvariate(math.log(RESOLUTION_MEDIAN_HOURS[priority]), 0.8))
    resolved = created + wait + timedelta(minutes=handle)
    resolved_text = _stamp(resolved.replace(microsecond=0)) if resolved < now else ""
    return [
        _stamp(created),
        resolved_text,
        queue,
        category,
        priority,
        title,
        f"{handle:.1f}",
        service,
        channel,
    ]


def _stamp(moment: datetime) -> str:
    """Return ``YYYY-MM-DDTHH:MM:SSZ`` (``moment`` is UTC with whole seconds)."""
    return moment.isoformat()[:19] + "Z"


def _major_incidents_by_day(
    incidents: list[DemoIncident], zone: ZoneInfo
) -> dict[date, list[DemoIncident]]:
    days: dict[date, list[DemoIncident]] = {}
    for incident in incidents:
        if incident.severity in INCIDENT_SURGE:
            days.setdefault(incident.started_at.astimezone(zone).date(), []).append(incident)
    return days
