"""Shifts, the heads each shift needs, and a weekly roster that covers them.

A shift needs, on each day, the most agents any of its hours needs (staffing to the peak hour
of the shift is what keeps every hour at the service level). Every rostered agent works one
shift, five days a week, with two days off.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opsledger.support.staffing import HourStaffing

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WORKING_DAYS = 5


@dataclass(frozen=True)
class Shift:
    """A daily shift in the support timezone, ``start`` inclusive to ``end`` exclusive (hours)."""

    name: str
    start: int
    end: int

    @property
    def hours(self) -> range:
        return range(self.start, self.end)

    def label(self) -> str:
        return f"{self.start:02d}:00-{self.end % 24:02d}:00"


def daily_shifts(shift_hours: int) -> tuple[Shift, ...]:
    """Return the shifts that tile a day from midnight; the last one is shorter if need be."""
    if not 1 <= shift_hours <= 24:
        raise ValueError("shift_hours must be between 1 and 24")
    count = math.ceil(24 / shift_hours)
    return tuple(
        Shift(f"shift-{i + 1}", i * shift_hours, min(24, (i + 1) * shift_hours))
        for i in range(count)
    )


@dataclass(frozen=True)
class ShiftRequirement:
    """Heads to schedule for one queue on one shift of one weekday."""

    queue: str
    weekday: int
    shift: Shift
    agents: int  # available agents needed (peak hour of the shift)
    scheduled: int  # heads to schedule, after shrinkage
    peak_hour: int
    contacts: float

    def to_json(self) -> dict[str, object]:
        return {
            "queue": self.queue,
            "weekday": WEEKDAYS[self.weekday],
            "shift": self.shift.name,
            "hours": self.shift.label(),
            "agents": self.agents,
            "scheduled": self.scheduled,
            "peak_hour": self.peak_hour,
            "contacts": round(self.contacts, 2),
        }


def shift_requirements(
    queue: str, hours: Sequence[HourStaffing], shifts: Sequence[Shift]
) -> tuple[ShiftRequirement, ...]:
    """Return each (weekday, shift)'s requirement from the hour-of-week staffing."""
    by_slot = {h.hour_of_week: h for h in hours}
    needs = []
    for weekday in range(7):
        for shift in shifts:
            slots = [by_slot[weekday * 24 + hour] for hour in shift.hours]
            peak = max(slots, key=lambda h: (h.scheduled, h.figures.agents, -h.hour))
            needs.append(
                ShiftRequirement(
                    queue, weekday, shift, peak.figures.agents, peak.scheduled, peak.hour,
                    sum(h.contacts for h in slots),
                )
            )
    return tuple(needs)


@dataclass(frozen=True)
class RosterLine:
    """One agent's week: the queue and shift they work and the weekdays they are on."""

    agent: str
    queue: str
    shift: Shift
    working_days: tuple[int, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "queue": self.queue,
            "shift": self.shift.name,
            "hours": self.shift.label(),
            "working_days": [WEEKDAYS[d] for d in self.working_days],
            "days_off": [WEEKDAYS[d] for d in range(7) if d not in self.working_days],
        }


@dataclass(frozen=True)
class CoverageCheck:
    """Rostered heads against required heads for one queue, weekday and shift."""

    queue: str
    weekday: int
    shift: str
    required: int
    rostered: int

    @property
    def gap(self) -> int:
        return max(0, self.required - self.rostered)

    def to_json(self) -> dict[str, object]:
        return {
            "queue": self.queue,
            "weekday": WEEKDAYS[self.weekday],
            "shift": self.shift,
            "required": self.required,
            "rostered": self.rostered,
            "gap": self.gap,
        }


@dataclass(frozen=True)
class Rotation:
    """A weekly roster and its check against the requirements."""

    lines: tuple[RosterLine, ...]
    coverage: tuple[CoverageCheck, ...]

    @property
    def covered(self) -> bool:
        return all(c.gap == 0 for c in self.coverage)

    @property
    def headcount(self) -> int:
        return len(self.lines)

    def to_json(self) -> dict[str, object]:
        return {
            "headcount": self.headcount,
            "covered": self.covered,
            "working_days_per_agent": WORKING_DAYS,
            "roster": [line.to_json() for line in self.lines],
            "coverage": [c.to_json() for c in self.coverage],
            "gaps": [c.to_json() for c in self.coverage if c.gap],
        }


def _days_off(demand: Sequence[int], heads: int) -> list[tuple[int, int]]:
    """Return two distinct days off for each of ``heads`` agents, keeping ``demand`` covered.

    Day d can spare ``heads - demand[d]`` agents. The 2·heads off-slots are taken from the days
    with most slack, listed by day, and agent i gets slots i and i + heads: as no day holds more
    than ``heads`` slots, the two are always different days.
    """
    spare = [heads - need for need in demand]
    slots: list[int] = []
    off_per_day = [0] * 7
    for _ in range(2 * heads):
        day = max(range(7), key=lambda d: (spare[d] - off_per_day[d], -d))
        off_per_day[day] += 1
    for day in range(7):
        slots.extend([day] * off_per_day[day])
    return [(slots[i], slots[i + heads]) for i in range(heads)]


def propose_rotation(requirements: Sequence[ShiftRequirement]) -> Rotation:
    """Return the smallest 5-days-a-week roster that covers every (queue, weekday, shift).

    For each queue and shift the heads are max(peak day, ⌈weekly heads / 5⌉), the lower bound
    for five working days each; :func:`_days_off` shows that bound is always enough.
    """
    grouped: dict[tuple[str, str], dict[int, ShiftRequirement]] = {}
    for need in requirements:
        grouped.setdefault((need.queue, need.shift.name), {})[need.weekday] = need
    lines: list[RosterLine] = []
    for (queue, _), by_day in sorted(grouped.items(), key=lambda kv: (kv[0][0], _start(kv[1]))):
        shift = next(iter(by_day.values())).shift
        demand = [by_day[d].scheduled if d in by_day else 0 for d in range(7)]
        heads = max(max(demand), math.ceil(sum(demand) / WORKING_DAYS))
        for number, off in enumerate(_days_off(demand, heads), start=1):
            working = tuple(d for d in range(7) if d not in off)
            lines.append(RosterLine(f"{queue} {shift.name} #{number:02d}", queue, shift, working))
    return Rotation(tuple(lines), check_coverage(requirements, lines))


def _start(by_day: Mapping[int, ShiftRequirement]) -> int:
    return next(iter(by_day.values())).shift.start


def check_coverage(
    requirements: Sequence[ShiftRequirement], lines: Sequence[RosterLine]
) -> tuple[CoverageCheck, ...]:
    """Return, for every requirement, how many rostered agents are on that day and shift."""
    checks = []
    for need in requirements:
        rostered = sum(
            1
            for line in lines
            if line.queue == need.queue
            and line.shift.name == need.shift.name
            and need.weekday in line.working_days
        )
        checks.append(CoverageCheck(need.queue, need.weekday, need.shift.name, need.scheduled,
                                    rostered))
    return tuple(checks)
