"""Support coverage plan: ticket volume forecast, staffing per hour and shift, and a rotation.

``forecast_ticket_volume(input_path, output_path)`` is the call the p18 procedure names: it
reads a ticket-history CSV, forecasts each queue, staffs every hour of the week with Erlang C
(Erlang A when the support policy sets a patience), rolls hours up into shifts in the support
timezone, proposes a weekly roster that covers them, and writes ``support-coverage-plan.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from opsledger.core.config import SupportPolicy
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_json, sha256_file, sha256_tree
from opsledger.core.inputs import Context
from opsledger.core.problems import Problem
from opsledger.core.workspace import InputKey
from opsledger.forecasting.backend import BackendName, ForecastBackend
from opsledger.forecasting.models import QueueForecast, SkippedForecast, forecast_tickets
from opsledger.model import schema
from opsledger.model.handover import Ticket
from opsledger.readers import tickets as ticket_reader
from opsledger.support.rotation import (
    WEEKDAYS,
    Rotation,
    ShiftRequirement,
    daily_shifts,
    propose_rotation,
    shift_requirements,
)
from opsledger.support.staffing import HourStaffing, staffing_by_hour

__all__ = [
    "PLAN_FILE",
    "CoveragePlan",
    "QueueCoverage",
    "build_coverage_plan",
    "forecast_ticket_volume",
]

PLAN_FILE = "support-coverage-plan.json"
# Fewer timed tickets than this and the queue's own mean handle time is too noisy to staff by.
MIN_TIMED_TICKETS = 20


@dataclass(frozen=True)
class QueueCoverage:
    """One queue's forecast and the staffing it needs."""

    forecast: QueueForecast
    handle_minutes: float
    handle_source: str  # "ticket history" or "support policy"
    hours: tuple[HourStaffing, ...]
    shifts: tuple[ShiftRequirement, ...]

    @property
    def queue(self) -> str:
        return self.forecast.queue

    @property
    def peak_agents(self) -> int:
        return max((h.figures.agents for h in self.hours), default=0)

    def to_json(self) -> dict[str, object]:
        return {
            **self.forecast.to_json(),
            "handle_minutes": round(self.handle_minutes, 3),
            "handle_minutes_source": self.handle_source,
            "staffing_per_hour_of_week": [h.to_json() for h in self.hours],
            "staffing_per_shift": [s.to_json() for s in self.shifts],
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
    queues: tuple[QueueCoverage | SkippedForecast, ...]
    rotation: Rotation | None
    rotation_skipped: str | None
    problems: tuple[Problem, ...]
    tickets_read: int
    tickets_after_history: int

    @property
    def forecast_queues(self) -> tuple[QueueCoverage, ...]:
        return tuple(q for q in self.queues if isinstance(q, QueueCoverage))

    @property
    def skipped_queues(self) -> tuple[SkippedForecast, ...]:
        return tuple(q for q in self.queues if isinstance(q, SkippedForecast))

    def shift_totals(self) -> list[dict[str, object]]:
        """Return heads per weekday and shift summed over queues (separate agent pools)."""
        totals: dict[tuple[int, int, str, str], list[int]] = {}
        for queue in self.forecast_queues:
            for need in queue.shifts:
                key = (need.weekday, need.shift.start, need.shift.name, need.shift.label())
                pair = totals.setdefault(key, [0, 0])
                pair[0] += need.agents
                pair[1] += need.scheduled
        return [
            {"weekday": WEEKDAYS[day], "shift": name, "hours": label, "agents": agents,
             "scheduled": scheduled}
            for (day, _, name, label), (agents, scheduled) in sorted(totals.items())
        ]

    def to_json(self) -> dict[str, object]:
        policy = self.policy
        return {
            "schema_version": schema.COVERAGE_PLAN,
            "generated_at": self.generated_at.isoformat(),
            "inputs": {self.input_file: {"sha256": self.input_digest}},
            "input_digest": self.input_digest,
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
                "service_level": policy.service_level,
                "answer_seconds": policy.answer_seconds,
                "handle_minutes": policy.handle_minutes,
                "shrinkage": policy.shrinkage,
                "occupancy_cap": policy.occupancy_cap,
                "patience_seconds": policy.patience_seconds,
                "shift_hours": policy.shift_hours,
                "staffing_model": "erlang-a" if policy.patience_seconds else "erlang-c",
            },
            "method": {
                "forecast": "statsforecast daily models (season 7) chosen per queue by MASE in "
                            "rolling-origin cross-validation; intervals 80/95 from the chosen "
                            "model; days spread over hours by each weekday's historic hourly "
                            "shares",
                "staffing": "agents per hour from the mean forecast of that hour of the week; "
                            "scheduled heads = agents / (1 - shrinkage), rounded up; a shift "
                            "is staffed to its peak hour",
            },
            "queues": [q.to_json() for q in self.queues],
            "staffing_per_shift_total": self.shift_totals(),
            "rotation": None if self.rotation is None else self.rotation.to_json(),
            "rotation_skipped": self.rotation_skipped,
        }


def _history_end(tickets: Sequence[Ticket], now: datetime, zone: ZoneInfo) -> date:
    """Return the last complete local day of history: yesterday, or the last ticket's day."""
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    past = [t.created_at for t in tickets if t.created_at <= now]
    if not past:
        return yesterday
    return min(yesterday, max(past).astimezone(zone).date())


def _handle_minutes(tickets: Sequence[Ticket], queue: str, policy: SupportPolicy
                    ) -> tuple[float, str]:
    timed = [t.handle_minutes for t in tickets if t.queue == queue and t.handle_minutes]
    if len(timed) >= MIN_TIMED_TICKETS:
        return sum(timed) / len(timed), "ticket history"
    return policy.handle_minutes, "support policy"


def build_coverage_plan(
    tickets: Sequence[Ticket],
    *,
    policy: SupportPolicy,
    now: datetime,
    horizon_days: int = 28,
    input_file: str = "",
    input_digest: str = "",
    problems: Sequence[Problem] = (),
    backend: BackendName | ForecastBackend | None = None,
) -> CoveragePlan:
    """Return the coverage plan for ``tickets`` (no file I/O).

    ``backend`` says where the queue forecasts are fitted (``"local"`` or ``"spark"``).
    """
    zone = ZoneInfo(policy.timezone)
    last_day = _history_end(tickets, now, zone)
    used = [t for t in tickets if t.created_at.astimezone(zone).date() <= last_day]
    forecasts = forecast_tickets(used, policy.timezone, horizon_days, last_day, backend)
    shifts = daily_shifts(policy.shift_hours)
    queues: list[QueueCoverage | SkippedForecast] = []
    for result in forecasts:
        if isinstance(result, SkippedForecast):
            queues.append(result)
            continue
        minutes, source = _handle_minutes(used, result.queue, policy)
        hours = staffing_by_hour(
            result.contacts_per_hour_of_week(),
            handle_seconds=minutes * 60.0,
            service_level=policy.service_level,
            answer_seconds=policy.answer_seconds,
            occupancy_cap=policy.occupancy_cap,
            shrinkage=policy.shrinkage,
            patience_seconds=policy.patience_seconds,
        )
        queues.append(QueueCoverage(result, minutes, source, hours,
                                    shift_requirements(result.queue, hours, shifts)))
    requirements = [need for q in queues if isinstance(q, QueueCoverage) for need in q.shifts]
    rotation: Rotation | None = None
    rotation_skipped: str | None = None
    if requirements:
        rotation = propose_rotation(requirements)
    else:
        if queues:
            rotation_skipped = "no queue could be forecast"
        elif tickets:
            rotation_skipped = f"no ticket was created on or before {last_day.isoformat()}"
        else:
            rotation_skipped = "the ticket history holds no tickets"
    return CoveragePlan(
        generated_at=now,
        input_file=input_file,
        input_digest=input_digest,
        horizon_days=horizon_days,
        history_end=last_day,
        policy=policy,
        queues=tuple(queues),
        rotation=rotation,
        rotation_skipped=rotation_skipped,
        problems=tuple(problems),
        tickets_read=len(tickets),
        tickets_after_history=len(tickets) - len(used),
    )


def forecast_ticket_volume(
    input_path: str | Path,
    output_path: str | Path,
    *,
    horizon_days: int = 28,
    now: datetime | None = None,
    policy: SupportPolicy | None = None,
    backend: BackendName | ForecastBackend | None = None,
) -> CoveragePlan:
    """Return the coverage plan for a ticket-history CSV and write it to ``output_path``.

    Rows that cannot be read are left out and listed in the plan; a file that cannot be read
    at all raises :class:`InputError` naming the file and what was wrong. ``backend="spark"``
    fits the queue forecasts on Spark (same plan).
    """
    source = Path(input_path)
    if horizon_days < 1:
        raise InputError(f"horizon must be at least 1 day (found {horizon_days})")
    if not source.is_file():
        raise InputError(f"{source}: ticket history not found")
    result = ticket_reader.read(source)
    if result.fatal:
        raise InputError(f"{source}: ticket history could not be read", result.problems)
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a naive time is taken as UTC, as in the readers
    moment = moment.astimezone(UTC).replace(microsecond=0)
    plan = build_coverage_plan(
        result.records,
        policy=policy or SupportPolicy(),
        now=moment,
        horizon_days=horizon_days,
        input_file=source.name,
        input_digest=sha256_file(source),
        problems=result.problems,
        backend=backend,
    )
    atomic_write_json(Path(output_path), plan.to_json())
    return plan


def workspace_coverage_plan(ctx: Context) -> CoveragePlan | None:
    """Return the run's support coverage plan (None without readable tickets), once per run."""
    return ctx.once(_coverage_plan)


def _coverage_plan(ctx: Context) -> CoveragePlan | None:
    result = ctx.inputs.read(InputKey.TICKETS)
    tickets = [t for t in result.records if isinstance(t, Ticket)]
    if not tickets:
        return None
    path = ctx.workspace.path(InputKey.TICKETS)
    return build_coverage_plan(
        tickets,
        policy=ctx.workspace.config.policies.support,
        now=ctx.now,
        input_file=path.relative_to(ctx.workspace.root).as_posix(),
        input_digest=sha256_tree(path),
        problems=result.problems,
    )
