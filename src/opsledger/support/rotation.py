"""Shifts that cover each team's open hours, and a weekly roster that works them.

Within each stretch of open hours (cut at midnight when it runs longer than a day) shifts
last the policy's shift length, or the whole stretch when it is shorter. They are placed
greedily, interval by interval from the opening: where the heads on duty fall short of the
heads the interval needs, the shortfall starts a shift there, or as late as still ends by the
closing. Shifts of one length placed this way are the fewest that cover the stretch (each is
the one that reaches furthest ahead). The roster then gives each agent at most five working
days: a team needs max(busiest day's shifts, ⌈shifts of the week / 5⌉) agents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from opsledger.support.hours import MINUTES_PER_DAY, WEEKDAYS, clock
from opsledger.support.intervals import IntervalStaffing

WORKING_DAYS = 5


@dataclass(frozen=True)
class Shift:
    """Heads starting one shift of one team on one weekday (times local to the team)."""

    group: str
    weekday: int  # the day the shift starts
    start: int  # minute of the week the shift starts
    minutes: int
    heads: int
    agents_needed: int  # the most agents any interval of the shift needs
    work_hours: float  # work of the shift's intervals, shared with overlapping shifts
    staffed_hours: float  # agent-hours the shift's intervals need (shared likewise)
    service_level: float | None  # ticket-weighted over the shift's intervals

    @property
    def hours(self) -> float:
        return self.minutes / 60

    def label(self) -> str:
        begin = self.start % MINUTES_PER_DAY
        return f"{clock(begin)}-{clock((begin + self.minutes - 1) % MINUTES_PER_DAY + 1)}"

    @property
    def occupancy(self) -> float | None:
        return self.work_hours / self.staffed_hours if self.staffed_hours else None

    def to_json(self) -> dict[str, object]:
        return {
            "group": self.group,
            "weekday": WEEKDAYS[self.weekday],
            "hours": self.label(),
            "heads": self.heads,
            "agents_needed": self.agents_needed,
            "occupancy": None if self.occupancy is None else round(self.occupancy, 6),
            "service_level": None if self.service_level is None else round(self.service_level, 6),
        }


def open_stretches(is_open: Sequence[bool], per_day: int) -> list[tuple[int, int]]:
    """Return runs of open intervals as (first, length), round the week, longer ones cut
    at midnight so that no run exceeds a day."""
    count = len(is_open)
    if not any(is_open):
        return []
    if all(is_open):
        return [(day * per_day, per_day) for day in range(count // per_day)]
    first = next(i for i in range(count) if is_open[i] and not is_open[i - 1])
    stretches: list[tuple[int, int]] = []
    step = 0
    while step < count:
        index = first + step
        if not is_open[index % count]:
            step += 1
            continue
        length = 0
        while length < count and is_open[(index + length) % count]:
            length += 1
        cut = index
        while cut < index + length:  # cut at midnights only when longer than a day
            end = index + length if length <= per_day else \
                min((cut // per_day + 1) * per_day, index + length)
            stretches.append((cut % count, end - cut))
            cut = end
        step += length
    return sorted(stretches)


def place_shifts(needed: Sequence[int], shift_length: int) -> list[tuple[int, int]]:
    """Return (offset, heads) of the shifts that cover ``needed`` heads per interval.

    Shifts last ``shift_length`` intervals (the whole stretch when it is shorter); a
    shortfall at an interval starts shifts there, or as late as still ends in the stretch.
    """
    length = min(shift_length, len(needed))
    latest = len(needed) - length
    starts: dict[int, int] = {}
    for index, need in enumerate(needed):
        on_duty = sum(h for s, h in starts.items() if s <= index < s + length)
        if on_duty < need:
            start = min(index, latest)
            starts[start] = starts.get(start, 0) + need - on_duty
    return sorted(starts.items())


def plan_shifts(
    group: str, intervals: Sequence[IntervalStaffing], shift_hours: int
) -> tuple[Shift, ...]:
    """Return the shifts that cover a team's week of intervals, with their heads."""
    if not intervals:
        return ()
    minutes = intervals[0].interval_minutes
    per_day = MINUTES_PER_DAY // minutes
    shift_length = max(1, shift_hours * 60 // minutes)
    count = len(intervals)
    shifts: list[Shift] = []
    for first, length in open_stretches([i.is_open for i in intervals], per_day):
        members = [intervals[(first + k) % count] for k in range(length)]
        size = min(shift_length, length)
        for offset, heads in place_shifts([i.heads for i in members], shift_length):
            part = members[offset:offset + size]
            tickets = sum(i.tickets for i in part)
            answered = sum(i.tickets * i.figures.service_level for i in part
                           if i.figures is not None)
            begin = (first + offset) % count
            shifts.append(Shift(
                group, begin // per_day, begin * minutes, size * minutes, heads,
                max(i.agents for i in part), sum(i.work_hours for i in part),
                sum(i.agents * i.hours for i in part),
                answered / tickets if tickets else None,
            ))
    return tuple(sorted(shifts, key=lambda s: s.start))


@dataclass(frozen=True)
class RosterLine:
    """One agent's week: the shift worked on each working day (None: a spare day)."""

    agent: str
    group: str
    days: tuple[tuple[int, Shift | None], ...]  # (weekday, shift) for each working day
    day_hours: float  # hours a spare working day is paid

    @property
    def working_days(self) -> tuple[int, ...]:
        return tuple(day for day, _ in self.days)

    @property
    def hours(self) -> float:
        return sum(self.day_hours if shift is None else shift.hours for _, shift in self.days)

    def to_json(self) -> dict[str, object]:
        return {
            "agent": self.agent,
            "group": self.group,
            "shifts": [f"{WEEKDAYS[day]} " + ("spare" if shift is None else shift.label())
                       for day, shift in self.days],
            "hours": round(self.hours, 2),
            "days_off": [WEEKDAYS[d] for d in range(7) if d not in self.working_days],
        }


@dataclass(frozen=True)
class CoverageCheck:
    """Rostered heads against required heads on one shift."""

    shift: Shift
    rostered: int

    @property
    def gap(self) -> int:
        return max(0, self.shift.heads - self.rostered)

    def to_json(self) -> dict[str, object]:
        return {
            "group": self.shift.group,
            "weekday": WEEKDAYS[self.shift.weekday],
            "hours": self.shift.label(),
            "required": self.shift.heads,
            "rostered": self.rostered,
            "gap": self.gap,
        }


@dataclass(frozen=True)
class Rotation:
    """A weekly roster and its check against the shifts."""

    lines: tuple[RosterLine, ...]
    coverage: tuple[CoverageCheck, ...]

    @property
    def covered(self) -> bool:
        return all(c.gap == 0 for c in self.coverage)

    @property
    def headcount(self) -> int:
        return len(self.lines)

    @property
    def rostered_hours(self) -> float:
        return sum(line.hours for line in self.lines)

    @property
    def spare_days(self) -> int:
        return sum(1 for line in self.lines for _, shift in line.days if shift is None)

    def headcount_of(self, group: str) -> int:
        return sum(1 for line in self.lines if line.group == group)

    def to_json(self) -> dict[str, object]:
        return {
            "headcount": self.headcount,
            "rostered_hours": round(self.rostered_hours, 2),
            "spare_days": self.spare_days,
            "covered": self.covered,
            "working_days_per_agent": WORKING_DAYS,
            "roster": [line.to_json() for line in self.lines],
            "coverage": [c.to_json() for c in self.coverage],
            "gaps": [c.to_json() for c in self.coverage if c.gap],
        }


def _days_off(demand: Sequence[int], heads: int) -> list[tuple[int, int]]:
    """Return two distinct days off for each of ``heads`` agents, keeping ``demand`` covered.

    Day d can spare ``heads - demand[d]`` agents. The 2·heads off-slots are taken from days
    without shifts first (a working day there would be idle), then from the days with most
    slack; they are listed by day, and agent i gets slots i and i + heads: as no day holds more
    than ``heads`` slots, the two are always different days.
    """
    spare = [heads - need for need in demand]
    slots: list[int] = []
    off_per_day = [0] * 7
    for _ in range(2 * heads):
        day = max(range(7), key=lambda d: (spare[d] > off_per_day[d], demand[d] == 0,
                                           spare[d] - off_per_day[d], -d))
        off_per_day[day] += 1
    for day in range(7):
        slots.extend([day] * off_per_day[day])
    return [(slots[i], slots[i + heads]) for i in range(heads)]


def propose_rotation(shifts: Sequence[Shift], day_hours: float) -> Rotation:
    """Return the smallest roster of five-day weeks that works every shift.

    Per team the agents are max(busiest day's shifts, ⌈shifts of the week / 5⌉), the least
    that five working days each allow; :func:`_days_off` shows that is always enough. On each
    day the agents at work take that day's shifts in order of start; one left over has a
    spare day (paid ``day_hours``).
    """
    by_group: dict[str, list[Shift]] = {}
    for shift in shifts:
        by_group.setdefault(shift.group, []).append(shift)
    lines: list[RosterLine] = []
    taken: dict[Shift, int] = {}
    for group, members in by_group.items():
        per_day: list[list[Shift]] = [[] for _ in range(7)]
        for shift in sorted(members, key=lambda s: s.start):
            per_day[shift.weekday] += [shift] * shift.heads
        demand = [len(day) for day in per_day]
        if not any(demand):
            continue
        heads = max(max(demand), math.ceil(sum(demand) / WORKING_DAYS))
        off = _days_off(demand, heads)
        days: list[list[tuple[int, Shift | None]]] = [[] for _ in range(heads)]
        for weekday in range(7):
            at_work = [agent for agent in range(heads) if weekday not in off[agent]]
            for position, agent in enumerate(at_work):
                worked = per_day[weekday][position] if position < demand[weekday] else None
                days[agent].append((weekday, worked))
                if worked is not None:
                    taken[worked] = taken.get(worked, 0) + 1
        lines += [RosterLine(f"{group} #{number:02d}", group, tuple(days[number - 1]),
                             day_hours) for number in range(1, heads + 1)]
    coverage = tuple(CoverageCheck(shift, taken.get(shift, 0)) for shift in shifts if shift.heads)
    return Rotation(tuple(lines), coverage)
