"""Skill groups: the queues one pool of agents answers, their pooled tickets and staffing.

A skill group configured in the support policy pools its queues: its agents take tickets of
any of them, so the group is staffed on the sum of the queues' forecasts with one handle
time, the ticket-weighted mean of theirs (which keeps the week's work unchanged). Every
queue in no configured group is a group of its own. A group's hours are its own, else the
policy's, else those its tickets arrive in; its intervals are local to its time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opsledger.core.config import SupportHours, SupportPolicy, weekly_open_spans
from opsledger.forecasting.models import QueueForecast
from opsledger.support.hours import (
    OpenHours,
    carried_backlog,
    configured_hours,
    observed_hours,
)
from opsledger.support.intervals import (
    IntervalStaffing,
    ServiceTarget,
    StaffingTotals,
    staff_intervals,
    staffing_totals,
)
from opsledger.support.rotation import Shift, plan_shifts

POLICY_KEY = "policies.support"


@dataclass(frozen=True)
class SkillGroupDefinition:
    """Which queues a group answers, when, and the least it is staffed with."""

    name: str
    queues: tuple[str, ...]
    pooled: bool  # configured as a skill group (else a queue on its own)
    hours: SupportHours | None
    hours_key: str | None  # the configuration key the hours come from
    timezone: str
    min_agents: int
    min_agents_key: str

    def minimum_rule(self) -> str:
        """Return the rule that sets the least an open interval is staffed with."""
        if self.min_agents == 0:
            return (f"one agent wherever tickets are expected while open, as Erlang C needs "
                    f"more agents than erlangs; {self.min_agents_key} = 0")
        return (f"at least {self.min_agents} agent(s) in every open interval, "
                f"{self.min_agents_key} = {self.min_agents}")


def skill_group_definitions(
    policy: SupportPolicy, queues: Sequence[str]
) -> tuple[tuple[SkillGroupDefinition, ...], tuple[str, ...]]:
    """Return the groups that answer ``queues``, and configured queues with no tickets.

    Configured groups come first, in the order of the configuration; then one group per
    remaining queue, by name.
    """
    present = set(queues)
    groups: list[SkillGroupDefinition] = []
    grouped: set[str] = set()
    absent: list[str] = []
    for position, group in enumerate(policy.skill_groups):
        key = f"{POLICY_KEY}.skill_groups[{position}]"
        members = tuple(q for q in group.queues if q in present)
        absent += [q for q in group.queues if q not in present]
        grouped.update(group.queues)
        if not members:
            continue
        hours, hours_key = (group.hours, f"{key}.hours") if group.hours is not None \
            else (policy.hours, f"{POLICY_KEY}.hours" if policy.hours else None)
        minimum, minimum_key = (group.min_agents, f"{key}.min_agents") \
            if group.min_agents is not None else (policy.min_agents, f"{POLICY_KEY}.min_agents")
        groups.append(SkillGroupDefinition(
            group.name, members, True, hours, hours_key,
            (hours.timezone if hours is not None else None) or policy.timezone,
            minimum, minimum_key,
        ))
    for queue in sorted(present - grouped):
        hours = policy.hours
        groups.append(SkillGroupDefinition(
            queue, (queue,), False, hours, f"{POLICY_KEY}.hours" if hours else None,
            (hours.timezone if hours is not None else None) or policy.timezone,
            policy.min_agents, f"{POLICY_KEY}.min_agents",
        ))
    return tuple(groups), tuple(absent)


@dataclass(frozen=True)
class QueueLoad:
    """One forecast queue, the handle time its tickets take, and the group answering it."""

    forecast: QueueForecast
    group: str
    handle_minutes: float
    handle_source: str  # "ticket history" or "support policy"

    @property
    def queue(self) -> str:
        return self.forecast.queue

    def to_json(self) -> dict[str, object]:
        return {
            **self.forecast.to_json(),
            "skill_group": self.group,
            "handle_minutes": round(self.handle_minutes, 6),
            "handle_minutes_source": self.handle_source,
        }


@dataclass(frozen=True)
class SkillGroupCoverage:
    """A group's typical week: tickets and staffing per interval, totals and shifts."""

    definition: SkillGroupDefinition
    queues: tuple[QueueLoad, ...]
    hours: OpenHours
    handle_minutes: float
    intervals: tuple[IntervalStaffing, ...]
    totals: StaffingTotals
    shifts: tuple[Shift, ...]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def peak_agents(self) -> int:
        return max((i.agents for i in self.intervals), default=0)

    @property
    def peak_heads(self) -> int:
        return max((i.heads for i in self.intervals), default=0)

    def to_json(self) -> dict[str, object]:
        definition = self.definition
        return {
            "skill_group": definition.name,
            "queues": list(definition.queues),
            "pooled": definition.pooled,
            "timezone": self.hours.timezone,
            "hours": {
                "source": self.hours.source.value,
                "from_key": definition.hours_key,
                "weekly": self.hours.describe(),
                "observed_share": self.hours.observed_share,
                "open_hours_per_week": self.hours.open_hours,
            },
            "handle_minutes": round(self.handle_minutes, 6),
            "handle_minutes_by_queue": {q.queue: round(q.handle_minutes, 4)
                                        for q in self.queues},
            "min_agents": definition.min_agents,
            "min_agents_key": definition.min_agents_key,
            "totals": self.totals.to_json(),
            "intervals": [i.to_json() for i in self.intervals],
            "shifts": [s.to_json() for s in self.shifts],
        }


def pooled_handle_minutes(loads: Sequence[tuple[float, float]], fallback: float) -> float:
    """Return the ticket-weighted mean handle time of (tickets, minutes) pairs."""
    tickets = sum(count for count, _ in loads)
    if tickets <= 0:
        return sum(minutes for _, minutes in loads) / len(loads) if loads else fallback
    return sum(count * minutes for count, minutes in loads) / tickets


def cover_skill_group(
    definition: SkillGroupDefinition, queues: Sequence[QueueLoad], policy: SupportPolicy
) -> SkillGroupCoverage:
    """Return the group's staffing from the forecasts of its queues."""
    interval = policy.interval_minutes
    per_queue = [q.forecast.contacts_per_interval_of_week(definition.timezone) for q in queues]
    arrivals = [sum(column) for column in zip(*per_queue, strict=True)]
    handle = pooled_handle_minutes(
        [(sum(counts), q.handle_minutes) for counts, q in zip(per_queue, queues, strict=True)],
        policy.handle_minutes,
    )
    if definition.hours is not None:
        hours = configured_hours(weekly_open_spans(definition.hours.weekly),
                                 definition.timezone, interval)
    else:
        hours = observed_hours(arrivals, definition.timezone, interval,
                               policy.observed_hours_share)
    target = ServiceTarget(policy.service_level, policy.answer_seconds, policy.occupancy_cap,
                           policy.shrinkage, policy.patience_seconds)
    carried = carried_backlog(arrivals, hours.open, hours.per_day)
    intervals = staff_intervals(arrivals, carried, hours, handle * 60.0, target,
                                definition.min_agents)
    return SkillGroupCoverage(
        definition, tuple(queues), hours, handle, intervals,
        staffing_totals(intervals, definition.min_agents),
        plan_shifts(definition.name, intervals, policy.shift_hours),
    )
