"""The support coverage plan: forecasts, skill groups, staffing, roster, and a sanity check.

The sanity check sets the week's work (forecast tickets × handle time) against the agent
hours the plan staffs, schedules and rosters, so a lead can see at once whether the numbers
are plausible, and names the rule behind staffing that is far above the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from opsledger.core.config import SupportPolicy
from opsledger.core.problems import Problem
from opsledger.core.scope import EVERYTHING, LeftOut, Scope
from opsledger.forecasting.models import SkippedForecast
from opsledger.model import schema
from opsledger.support.intervals import SANITY_RATIO, StaffingTotals
from opsledger.support.rotation import Rotation
from opsledger.support.skill_groups import QueueLoad, SkillGroupCoverage

NOTHING_LEFT_OUT = LeftOut()

METHOD = {
    "forecast": "statsforecast daily models (season 7) chosen per queue by MASE in "
                "rolling-origin cross-validation; intervals 80/95 from the chosen model; "
                "each weekday spread over intervals by its historic arrival shares; the "
                "typical week is the mean of each interval of the week over the horizon",
    "pooling": "a skill group is staffed on the sum of its queues' forecasts, with the "
               "ticket-weighted mean handle time; a queue in no group is a group of its own",
    "hours": "configured support hours, else the shortest run of intervals holding "
             "observed_hours_share of the Monday-to-Friday tickets, and of the weekend's "
             "unless it holds no more than the rest; tickets arriving while closed are "
             "spread over the first day of the next opening",
    "staffing": "per open interval: erlangs A = tickets × handle time / interval; agents = "
                "the fewest N > A with 1 - C(N, A)·exp(-(N - A)·T / handle time) >= target "
                "and A / N <= occupancy cap (Erlang C, C from the Erlang B recursion; "
                "Erlang A when a patience is set), at least the minimum staffing; heads = "
                "ceil(agents / (1 - shrinkage))",
    "roster": "shifts of shift_hours (a shorter stretch of open hours is one shift): where "
              "the heads on duty fall short, shifts start there, or as late as still ends by "
              "the closing; agents = max(busiest day's shifts, ceil(week's shifts / 5)), each "
              "working five days, a day without a shift left being a spare day",
}


@dataclass(frozen=True)
class CoveragePlan:
    """The support coverage plan: forecasts, staffing and a rotation, with their provenance."""

    generated_at: datetime
    input_file: str
    input_digest: str
    horizon_days: int
    history_end: date
    policy: SupportPolicy
    queues: tuple[QueueLoad | SkippedForecast, ...]
    groups: tuple[SkillGroupCoverage, ...]
    configured_queues_without_tickets: tuple[str, ...]
    rotation: Rotation | None
    rotation_skipped: str | None
    problems: tuple[Problem, ...]
    tickets_read: int
    tickets_after_history: int
    # A team's or a service's plan: the tickets of its services only, and those left out.
    scope: Scope = EVERYTHING
    tickets_left_out: LeftOut = NOTHING_LEFT_OUT

    def left_out_line(self) -> str:
        """Return one sentence saying which tickets a scoped plan left out ("" for the whole
        workspace's plan)."""
        if self.scope.whole:
            return ""
        left = self.tickets_left_out
        return (f"Not in the plan of {self.scope.label}: {left.unplaced} ticket(s) naming no "
                f"service and {left.other} of other services.")

    def scope_json(self) -> dict[str, object]:
        """Return the ``scope`` object of a scoped plan: its services and what it left out."""
        left = self.tickets_left_out
        return {**self.scope.to_json(),
                "left_out": {"tickets": {"other": left.other, "unplaced": left.unplaced}}}

    @property
    def forecast_queues(self) -> tuple[QueueLoad, ...]:
        return tuple(q for q in self.queues if isinstance(q, QueueLoad))

    @property
    def skipped_queues(self) -> tuple[SkippedForecast, ...]:
        return tuple(q for q in self.queues if isinstance(q, SkippedForecast))

    @property
    def totals(self) -> StaffingTotals | None:
        if not self.groups:
            return None
        total = self.groups[0].totals
        for group in self.groups[1:]:
            total = total + group.totals
        return total

    def sanity_lines(self) -> list[str]:
        """Return the sanity check in plain sentences (no Markdown)."""
        totals = self.totals
        if totals is None:
            return []
        rotation = self.rotation
        lines = [
            f"Sanity check (typical week): {totals.work_hours:.1f} work hours "
            f"({totals.tickets:.1f} tickets × their handle times) against "
            f"{totals.staffed_hours:.1f} staffed agent-hours in {totals.open_hours:g} open "
            f"hours: occupancy {_pct(totals.occupancy)}, {_times(totals.ratio)} the work. "
            f"After {self.policy.shrinkage:.0%} shrinkage {totals.scheduled_hours:.1f} "
            f"head-hours are scheduled"
            + (f"; the roster pays {rotation.rostered_hours:.1f} hours "
               f"({rotation.headcount} agents)." if rotation else ".")
        ]
        added: dict[str, list[SkillGroupCoverage]] = {}
        for group in self.groups:
            if group.totals.minimum_added_hours > 0:
                added.setdefault(group.definition.minimum_rule(), []).append(group)
        for rule, groups in added.items():
            lines.append(
                f"Minimum staffing ({rule}) adds "
                f"{sum(g.totals.minimum_added_hours for g in groups):.1f} agent-hours ("
                + ", ".join(f"{g.name} {g.totals.minimum_added_hours:.1f}" for g in groups)
                + ") over what the service level needs.")
        if totals.ratio is not None and totals.ratio > SANITY_RATIO:
            lines += self._above_ratio(totals)
        return lines

    def _above_ratio(self, totals: StaffingTotals) -> list[str]:
        lines = [f"Staffed hours are above {SANITY_RATIO:g}× the work."]
        rules: dict[str, list[SkillGroupCoverage]] = {}
        for group in self.groups:
            if group.totals.floor_intervals:
                rules.setdefault(group.definition.minimum_rule(), []).append(group)
        for rule, groups in rules.items():
            lines.append(
                f"The minimum-staffing rule ({rule}) holds "
                f"{sum(g.totals.floor_intervals for g in groups)} open interval(s) at that "
                "minimum (" + ", ".join(f"{g.name} {g.totals.floor_intervals}" for g in groups)
                + f"): {sum(g.totals.floor_staffed_hours for g in groups):.1f} agent-hours for "
                f"{sum(g.totals.floor_work_hours for g in groups):.1f} work hours, adding "
                f"{sum(g.totals.floor_idle_hours for g in groups):.1f} idle agent-hours."
            )
        rest = totals.above_floor_ratio
        if rules and rest is None:
            lines.append("Every open interval is held at the minimum: the support hours, not "
                         "the tickets, set the staffing; shorter hours or pooling queues into "
                         "skill groups lower it.")
        elif rules:
            lines.append(f"Without the intervals held at the minimum, staffed hours are "
                         f"{_times(rest)} the work.")
        if rest is not None and rest > SANITY_RATIO:
            lines.append(
                f"Meeting {self.policy.service_level:.0%} within "
                f"{self.policy.answer_seconds:g} s on this little traffic needs idle agents; "
                "pooling queues into skill groups, a longer answer time or shorter hours "
                "lower it.")
        return lines

    def to_json(self) -> dict[str, object]:
        policy = self.policy
        totals = self.totals
        return {
            "schema_version": schema.COVERAGE_PLAN,
            "generated_at": self.generated_at.isoformat(),
            "inputs": {self.input_file: {"sha256": self.input_digest}},
            "input_digest": self.input_digest,
            **({} if self.scope.whole else {"scope": self.scope_json()}),
            "tickets": {
                "read": self.tickets_read,
                "after_history_end": self.tickets_after_history,
                "quarantined_rows": len(self.problems),
                "problems": [p.to_json() for p in self.problems],
            },
            "horizon_days": self.horizon_days,
            "history_end": self.history_end.isoformat(),
            "timezone": policy.timezone,
            "policy": {
                **policy.model_dump(mode="json"),
                "staffing_model": "erlang-a" if policy.patience_seconds else "erlang-c",
            },
            "method": METHOD,
            "queues": [q.to_json() for q in self.queues],
            "configured_queues_without_tickets": list(self.configured_queues_without_tickets),
            "skill_groups": [g.to_json() for g in self.groups],
            "sanity": {
                **(totals.to_json() if totals else {}),
                "ratio_flagged_above": SANITY_RATIO,
                "rostered_hours": round(self.rotation.rostered_hours, 2)
                if self.rotation else None,
                "rostered_headcount": self.rotation.headcount if self.rotation else None,
                "text": self.sanity_lines(),
            },
            "rotation": None if self.rotation is None else self.rotation.to_json(),
            "rotation_skipped": self.rotation_skipped,
        }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}×"
