"""Staffing interval by interval over a typical week, and the totals a lead checks it by.

In each open interval the tickets to answer are the forecast arrivals plus the opening
backlog; their workload in erlangs is ``A = tickets × handle time / interval length``. The
agents are the fewest that meet the service-level target and the occupancy cap (Erlang C, or
Erlang A when a patience is set), raised to the minimum staffing; the heads to schedule are
``ceil(agents / (1 - shrinkage))``. Closed intervals have no agents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from opsledger.support.hours import OpenHours, interval_label
from opsledger.support.staffing import QueueFigures, agents_needed, queue_figures, with_shrinkage

# Staffed agent-hours above this multiple of the work (average occupancy below 40 %) are
# flagged: the plan then says which rule or target puts the extra agents there.
SANITY_RATIO = 2.5


@dataclass(frozen=True)
class ServiceTarget:
    """What each interval is staffed to: the answer target, occupancy cap and shrinkage."""

    service_level: float
    answer_seconds: float
    occupancy_cap: float
    shrinkage: float
    patience_seconds: float | None = None


@dataclass(frozen=True)
class IntervalStaffing:
    """One interval of the week: tickets, the agents they need and how those agents fare."""

    index: int  # interval of the week, Monday 00:00 = 0, local to the team's time zone
    interval_minutes: int
    is_open: bool
    arrivals: float  # forecast tickets arriving in the interval
    carried: float  # tickets that arrived while closed, worked from this interval
    required: int  # agents the service level and occupancy cap need
    figures: QueueFigures | None  # at the staffed agents; None while closed
    heads: int  # heads to schedule after shrinkage

    @property
    def tickets(self) -> float:
        return self.arrivals + self.carried if self.is_open else 0.0

    @property
    def agents(self) -> int:
        return 0 if self.figures is None else self.figures.agents

    @property
    def hours(self) -> float:
        return self.interval_minutes / 60

    @property
    def work_hours(self) -> float:
        """Agent-hours of handling the interval's tickets need (erlangs × interval hours)."""
        return 0.0 if self.figures is None else self.figures.traffic_erlangs * self.hours

    def to_json(self) -> dict[str, object]:
        weekday, start = interval_label(self.index, self.interval_minutes)
        row: dict[str, object] = {
            "interval": self.index,
            "weekday": weekday,
            "start": start,
            "open": self.is_open,
            "arrivals": round(self.arrivals, 6),
            "carried": round(self.carried, 6),
            "tickets": round(self.tickets, 6),
            "required_agents": self.required,
            "agents": self.agents,
            "heads": self.heads,
        }
        if self.figures is not None:
            row.update({k: v for k, v in self.figures.to_json().items() if k != "agents"})
        return row


def staff_intervals(
    arrivals: Sequence[float],
    carried: Sequence[float],
    hours: OpenHours,
    handle_seconds: float,
    target: ServiceTarget,
    min_agents: int,
) -> tuple[IntervalStaffing, ...]:
    """Return the staffing of every interval of the week (closed ones with no agents)."""
    if not len(arrivals) == len(carried) == len(hours.open):
        raise ValueError("arrivals, carried tickets and open hours must cover the same week")
    seconds = hours.interval_minutes * 60.0
    rows = []
    for index, is_open in enumerate(hours.open):
        if not is_open:
            rows.append(IntervalStaffing(index, hours.interval_minutes, False, arrivals[index],
                                         carried[index], 0, None, 0))
            continue
        tickets = arrivals[index] + carried[index]
        need = agents_needed(tickets, seconds, handle_seconds, target.service_level,
                             target.answer_seconds, target.occupancy_cap,
                             target.patience_seconds)
        agents = max(need.agents, min_agents)
        figures = need if agents == need.agents else queue_figures(
            agents, tickets, seconds, handle_seconds, target.answer_seconds,
            target.patience_seconds)
        rows.append(IntervalStaffing(index, hours.interval_minutes, True, arrivals[index],
                                     carried[index], need.agents, figures,
                                     with_shrinkage(agents, target.shrinkage)))
    return tuple(rows)


@dataclass(frozen=True)
class StaffingTotals:
    """A week's staffing added up: the work, the agents, and what the minimum staffing adds."""

    open_hours: float
    tickets: float
    work_hours: float  # Σ erlangs × interval hours
    staffed_hours: float  # Σ agents × interval hours (agents available to take tickets)
    scheduled_hours: float  # Σ heads × interval hours (before rostering into shifts)
    answered_in_time: float  # Σ tickets × service level
    minimum_agents: int  # least an open interval is staffed with, max(minimum, 1); summed: smallest
    floor_intervals: int  # open intervals staffed at that least
    floor_staffed_hours: float
    floor_work_hours: float
    minimum_added_hours: float  # Σ (agents − required) × hours: raised by the minimum only

    @property
    def occupancy(self) -> float | None:
        return self.work_hours / self.staffed_hours if self.staffed_hours else None

    @property
    def ratio(self) -> float | None:
        """Staffed agent-hours per hour of work."""
        return self.staffed_hours / self.work_hours if self.work_hours else None

    @property
    def service_level(self) -> float | None:
        return self.answered_in_time / self.tickets if self.tickets else None

    @property
    def floor_idle_hours(self) -> float:
        return self.floor_staffed_hours - self.floor_work_hours

    @property
    def above_floor_ratio(self) -> float | None:
        """Staffed hours per hour of work outside the intervals held at the minimum."""
        work = self.work_hours - self.floor_work_hours
        return (self.staffed_hours - self.floor_staffed_hours) / work if work > 0 else None

    def __add__(self, other: StaffingTotals) -> StaffingTotals:
        return StaffingTotals(
            self.open_hours + other.open_hours,
            self.tickets + other.tickets,
            self.work_hours + other.work_hours,
            self.staffed_hours + other.staffed_hours,
            self.scheduled_hours + other.scheduled_hours,
            self.answered_in_time + other.answered_in_time,
            min(self.minimum_agents, other.minimum_agents),
            self.floor_intervals + other.floor_intervals,
            self.floor_staffed_hours + other.floor_staffed_hours,
            self.floor_work_hours + other.floor_work_hours,
            self.minimum_added_hours + other.minimum_added_hours,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "open_hours": round(self.open_hours, 4),
            "tickets": round(self.tickets, 4),
            "work_hours": round(self.work_hours, 4),
            "staffed_agent_hours": round(self.staffed_hours, 4),
            "scheduled_head_hours": round(self.scheduled_hours, 4),
            "occupancy": _round(self.occupancy),
            "staffed_to_work_ratio": _round(self.ratio),
            "service_level": _round(self.service_level),
            "minimum_agents": self.minimum_agents,
            "intervals_at_minimum": self.floor_intervals,
            "agent_hours_at_minimum": round(self.floor_staffed_hours, 4),
            "work_hours_at_minimum": round(self.floor_work_hours, 4),
            "agent_hours_added_by_minimum": round(self.minimum_added_hours, 4),
        }


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def staffing_totals(intervals: Sequence[IntervalStaffing], min_agents: int) -> StaffingTotals:
    """Return the totals of a week of intervals staffed with at least ``min_agents``."""
    least = max(min_agents, 1)
    staffed = [i for i in intervals if i.is_open]
    floor = [i for i in staffed if i.agents == least]
    return StaffingTotals(
        open_hours=sum(i.hours for i in staffed),
        tickets=sum(i.tickets for i in staffed),
        work_hours=sum(i.work_hours for i in staffed),
        staffed_hours=sum(i.agents * i.hours for i in staffed),
        scheduled_hours=sum(i.heads * i.hours for i in staffed),
        answered_in_time=sum(i.tickets * i.figures.service_level for i in staffed
                             if i.figures is not None),
        minimum_agents=least,
        floor_intervals=len(floor),
        floor_staffed_hours=sum(i.agents * i.hours for i in floor),
        floor_work_hours=sum(i.work_hours for i in floor),
        minimum_added_hours=sum((i.agents - i.required) * i.hours for i in staffed),
    )
