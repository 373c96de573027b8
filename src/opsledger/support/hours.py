"""Support hours: which intervals of the week a team is open, and the work that waits for it.

Hours come from the configuration (``Mon-Fri 08:00-18:00`` in an IANA time zone) or, when
none are configured, from when tickets arrive: Monday to Friday open for the shortest run of
intervals that holds 90 % of their forecast tickets, and so does the weekend, unless it holds
at most 10 % of the week's tickets (both shares set by one setting).
Tickets that arrive while the team is closed wait for it: they are spread over the first day
of the next opening (the opening backlog), so every forecast ticket is worked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class HoursSource(StrEnum):
    CONFIGURED = "configured"  # from the support policy
    OBSERVED = "observed"  # from when tickets arrive


@dataclass(frozen=True)
class OpenHours:
    """The intervals of the week (Monday 00:00 first, local to ``timezone``) a team is open."""

    timezone: str
    interval_minutes: int
    open: tuple[bool, ...]
    source: HoursSource
    observed_share: float | None = None  # the share each weekday's hours must hold (observed)

    @property
    def per_day(self) -> int:
        return MINUTES_PER_DAY // self.interval_minutes

    @property
    def open_hours(self) -> float:
        return sum(self.open) * self.interval_minutes / 60

    def describe(self) -> str:
        """Return the hours as text, e.g. ``Mon-Fri 08:00-20:00, Sat 09:00-17:00``."""
        days = []
        for weekday in range(7):
            row = self.open[weekday * self.per_day:(weekday + 1) * self.per_day]
            runs = []
            slot = 0
            while slot < len(row):
                if not row[slot]:
                    slot += 1
                    continue
                end = slot
                while end < len(row) and row[end]:
                    end += 1
                runs.append(f"{clock(slot * self.interval_minutes)}-"
                            f"{clock(end * self.interval_minutes)}")
                slot = end
            days.append(", ".join(runs))
        parts = []
        first = 0
        for weekday in range(1, 8):
            if weekday == 7 or days[weekday] != days[first]:
                if days[first]:
                    label = WEEKDAYS[first] if weekday - 1 == first \
                        else f"{WEEKDAYS[first]}-{WEEKDAYS[weekday - 1]}"
                    parts.append(f"{label} {days[first]}")
                first = weekday
        return "; ".join(parts) or "closed"


def clock(minute_of_day: int) -> str:
    """Return ``HH:MM`` for a minute of the day (1440 is ``24:00``)."""
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def interval_label(index: int, interval_minutes: int) -> tuple[str, str]:
    """Return (weekday, ``HH:MM``) of the start of interval ``index`` of the week."""
    per_day = MINUTES_PER_DAY // interval_minutes
    return WEEKDAYS[index // per_day], clock(index % per_day * interval_minutes)


def configured_hours(
    spans: Sequence[tuple[int, int]], timezone: str, interval_minutes: int
) -> OpenHours:
    """Return the open intervals of minute-of-week ``spans`` (on the interval grid)."""
    per_week = 7 * MINUTES_PER_DAY // interval_minutes
    is_open = [False] * per_week
    for start, end in spans:
        for index in range(start // interval_minutes, end // interval_minutes):
            is_open[index] = True
    return OpenHours(timezone, interval_minutes, tuple(is_open), HoursSource.CONFIGURED)


DAY_TYPES = ((0, 1, 2, 3, 4), (5, 6))  # working week and weekend


def observed_hours(
    contacts: Sequence[float], timezone: str, interval_minutes: int, share: float
) -> OpenHours:
    """Return the hours that hold ``share`` of the tickets: one run for Monday to Friday,
    one for the weekend.

    The tickets of the days of each kind are added up interval by interval. A kind whose
    tickets are at most ``1 - share`` of the week's stays closed; the other is open, on each of
    its days, for the shortest run of intervals that holds ``share`` of its tickets (of runs
    that short, the one with most tickets, then the earliest).
    """
    per_day = MINUTES_PER_DAY // interval_minutes
    if len(contacts) != 7 * per_day:
        raise ValueError(f"expected {7 * per_day} intervals, got {len(contacts)}")
    profiles = [[sum(contacts[d * per_day + slot] for d in days) for slot in range(per_day)]
                for days in DAY_TYPES]
    week = sum(contacts)
    is_open = [False] * len(contacts)
    for days, profile in zip(DAY_TYPES, profiles, strict=True):
        total = sum(profile)
        if total <= 0 or total <= (1.0 - share) * week + 1e-12:
            continue
        start, length = _shortest_run(profile, share)
        for day in days:
            for slot in range(start, start + length):
                is_open[day * per_day + slot] = True
    return OpenHours(timezone, interval_minutes, tuple(is_open), HoursSource.OBSERVED, share)


def _shortest_run(day: Sequence[float], share: float) -> tuple[int, int]:
    """Return (start, length) of the shortest run holding ``share`` of the day's tickets."""
    total = sum(day)
    best: tuple[int, float, int] | None = None  # (length, -tickets, start)
    for start in range(len(day)):
        held = 0.0
        for end in range(start, len(day)):
            held += day[end]
            if held >= share * total * (1 - 1e-12):
                candidate = (end - start + 1, -held, start)
                if best is None or candidate < best:
                    best = candidate
                break
    if best is None:  # nothing to hold: the whole day
        return 0, len(day)
    return best[2], best[0]


def carried_backlog(
    contacts: Sequence[float], is_open: Sequence[bool], per_day: int
) -> tuple[float, ...]:
    """Return, per interval, the tickets that arrived while closed and are worked in it.

    The tickets of each closed stretch are spread evenly over the first day (at most
    ``per_day`` intervals) of the opening after it, round the end of the week to its start:
    they have waited already, so they are worked through the day rather than all at once.
    Never open, or always open: nothing is carried.
    """
    count = len(contacts)
    carried = [0.0] * count
    if all(is_open) or not any(is_open):
        return tuple(carried)
    # Start where a closed stretch begins, so each one meets its opening in a single pass.
    first = next(i for i in range(count) if is_open[i - 1] and not is_open[i])
    waiting = 0.0
    step = 0
    while step < count:
        index = (first + step) % count
        if not is_open[index]:
            waiting += contacts[index]
            step += 1
            continue
        length = 0
        while length < min(count, per_day) and is_open[(index + length) % count]:
            length += 1
        for k in range(length):
            carried[(index + k) % count] += waiting / length
        waiting = 0.0
        while step < count and is_open[(first + step) % count]:
            step += 1
    return tuple(carried)
