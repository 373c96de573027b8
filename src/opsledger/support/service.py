"""Support coverage plan: ticket forecast, skill groups, interval staffing and a roster.

``forecast_ticket_volume(input_path, output_path)`` is the call the p18 procedure names: it
reads a ticket-history CSV, forecasts each queue, pools queues into the configured skill
groups, staffs every open interval of a typical week with Erlang C (Erlang A when the
support policy sets a patience), covers the intervals with shifts, proposes a weekly roster
and writes ``support-coverage-plan.json`` with a sanity check of work against staffed hours.

A team's or a service's plan (:func:`write_scope_coverage_plan`) is built from the tickets
of its services only; tickets that name no service cannot be placed and are left out and
counted. It is written beside the workspace's plan, never over it:
``support-coverage-plan.team-payments.json``, ``support-coverage-plan.service-checkout.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from opsledger.core.config import SupportPolicy
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_json, sha256_file, sha256_tree
from opsledger.core.inputs import Context
from opsledger.core.problems import Problem, ReadResult
from opsledger.core.scope import EVERYTHING, LeftOut, Scope
from opsledger.core.workspace import InputKey
from opsledger.forecasting import background
from opsledger.forecasting.backend import BackendName, ForecastBackend
from opsledger.forecasting.models import (
    QueueForecast,
    SkippedForecast,
    arrivals_by_queue,
    forecast_arrivals,
    forecast_tickets,
    ticket_arrivals,
)
from opsledger.model.handover import Ticket
from opsledger.readers import tickets as ticket_reader
from opsledger.support.plan import NOTHING_LEFT_OUT, CoveragePlan
from opsledger.support.rotation import Rotation, propose_rotation
from opsledger.support.skill_groups import (
    QueueLoad,
    SkillGroupCoverage,
    cover_skill_group,
    skill_group_definitions,
)
from opsledger.support.summary import maintenance_plan_markdown

__all__ = [
    "PLAN_FILE",
    "CoveragePlan",
    "QueueLoad",
    "SkillGroupCoverage",
    "build_coverage_plan",
    "forecast_ticket_volume",
    "maintenance_plan_markdown",
    "start_coverage_plan",
    "workspace_coverage_plan",
    "write_scope_coverage_plan",
]

PLAN_FILE = "support-coverage-plan.json"
# Fewer timed tickets than this and the queue's own mean handle time is too noisy to staff by.
MIN_TIMED_TICKETS = 20


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


def _history(tickets: Sequence[Ticket], now: datetime, policy: SupportPolicy
             ) -> tuple[date, list[Ticket]]:
    """Return the last complete day of history and the tickets created on or before it."""
    zone = ZoneInfo(policy.timezone)
    last_day = _history_end(tickets, now, zone)
    return last_day, [t for t in tickets if t.created_at.astimezone(zone).date() <= last_day]


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
    scope: Scope = EVERYTHING,
    left_out: LeftOut = NOTHING_LEFT_OUT,
    forecasts: Sequence[QueueForecast | SkippedForecast] | None = None,
) -> CoveragePlan:
    """Return the coverage plan for ``tickets`` (no file I/O).

    ``backend`` says where the queue forecasts are fitted (``"local"`` or ``"spark"``).
    A team's or a service's plan gets its ``scope`` and the tickets it ``left_out``.
    ``forecasts`` are the queues' forecasts when they were fitted already (over the same
    tickets, policy and clock, sorted by queue; see :func:`start_coverage_plan`).
    """
    last_day, used = _history(tickets, now, policy)
    if forecasts is None:
        forecasts = forecast_tickets(used, policy.timezone, horizon_days, last_day, backend,
                                     interval_minutes=policy.interval_minutes)
    definitions, absent = skill_group_definitions(policy, [f.queue for f in forecasts])
    group_of = {queue: d.name for d in definitions for queue in d.queues}
    queues: list[QueueLoad | SkippedForecast] = []
    for result in forecasts:
        if isinstance(result, SkippedForecast):
            queues.append(result)
            continue
        minutes, source = _handle_minutes(used, result.queue, policy)
        queues.append(QueueLoad(result, group_of[result.queue], minutes, source))
    groups: list[SkillGroupCoverage] = []
    for definition in definitions:
        members = [q for q in queues if isinstance(q, QueueLoad) and q.group == definition.name]
        if members:
            groups.append(cover_skill_group(definition, members, policy))
    shifts = [shift for group in groups for shift in group.shifts]
    rotation: Rotation | None = None
    rotation_skipped: str | None = None
    if any(shift.heads for shift in shifts):
        rotation = propose_rotation(shifts, float(policy.shift_hours))
    elif groups:
        rotation_skipped = "no open interval needs an agent"
    elif queues:
        rotation_skipped = "no queue could be forecast"
    elif tickets:
        rotation_skipped = f"no ticket was created on or before {last_day.isoformat()}"
    elif scope.whole:
        rotation_skipped = "the ticket history holds no tickets"
    else:
        rotation_skipped = f"the ticket history holds no tickets of {scope.label}"
    return CoveragePlan(
        generated_at=now,
        input_file=input_file,
        input_digest=input_digest,
        horizon_days=horizon_days,
        history_end=last_day,
        policy=policy,
        queues=tuple(queues),
        groups=tuple(groups),
        configured_queues_without_tickets=absent,
        rotation=rotation,
        rotation_skipped=rotation_skipped,
        problems=tuple(problems),
        tickets_read=len(tickets),
        tickets_after_history=len(tickets) - len(used),
        scope=scope,
        tickets_left_out=left_out,
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
    """Return the run's support coverage plan (None without readable tickets), once per run.

    In a team's or a service's run, the plan of the tickets of its services."""
    return ctx.once(_coverage_plan)


def start_coverage_plan(ctx: Context) -> None:
    """Start fitting the queue forecasts of the run's coverage plan in the background workers
    (:mod:`opsledger.forecasting.background`), one queue a task, the busiest first, so that
    :func:`workspace_coverage_plan` finds them fitted while the run computed everything else.
    Same plan either way: each queue is fitted on its own history alone.

    In a team's or a service's run, the queues of the tickets its view kept."""
    if (_coverage_plan,) in ctx.results or (start_coverage_plan,) in ctx.results:
        return
    tickets = _tickets(ctx.inputs.read(InputKey.TICKETS))
    if tickets:
        settings = _forecast_settings(ctx.workspace.config.policies.support, tickets, ctx.now)
        arrivals = ticket_arrivals(tickets, settings["timezone"], settings["last_day"])
        ctx.results[(start_coverage_plan,)] = [
            (background.submit(forecast_arrivals, queue, **settings), queue)
            for queue in arrivals_by_queue(arrivals)]


def _tickets(result: ReadResult[Any]) -> list[Ticket]:
    return [t for t in result.records if isinstance(t, Ticket)]


def _forecast_settings(policy: SupportPolicy, tickets: Sequence[Ticket], now: datetime,
                       horizon_days: int = 28) -> dict[str, Any]:
    """Return the arguments of :func:`forecast_arrivals` other than the arrivals, for the
    forecasts of ``tickets`` at ``now``."""
    last_day = _history_end(tickets, now, ZoneInfo(policy.timezone))
    return {"timezone": policy.timezone, "horizon_days": horizon_days, "last_day": last_day,
            "interval_minutes": policy.interval_minutes}


def _coverage_plan(ctx: Context) -> CoveragePlan | None:
    started = ctx.results.pop((start_coverage_plan,), None)
    arguments = _plan_arguments(ctx)
    if arguments is None:
        return None
    if started is None:
        return build_coverage_plan(**arguments)
    settings = _forecast_settings(arguments["policy"], arguments["tickets"], ctx.now,
                                  arguments["horizon_days"])
    found = [forecast for future, queue in started for forecast in background.result(
        future, forecast_arrivals, queue, **settings)]
    return build_coverage_plan(**arguments, forecasts=sorted(found, key=lambda f: f.queue))


def _plan_arguments(ctx: Context) -> dict[str, Any] | None:
    """Return the arguments of the run's :func:`build_coverage_plan` (None without tickets)."""
    result = ctx.inputs.read(InputKey.TICKETS)
    tickets = _tickets(result)
    if not tickets:
        return None
    return _plan_inputs(ctx, tickets, result.problems, ctx.now)


def _plan_inputs(ctx: Context, tickets: Sequence[Ticket], problems: Sequence[Problem],
                 now: datetime, horizon_days: int = 28,
                 backend: BackendName | ForecastBackend | None = None) -> dict[str, Any]:
    path = ctx.workspace.path(InputKey.TICKETS)
    return {
        "tickets": tickets,
        "input_file": path.relative_to(ctx.workspace.root).as_posix(),
        "input_digest": sha256_tree(path),
        "problems": problems,
        "scope": ctx.scope,
        "left_out": ctx.inputs.left_out.get(InputKey.TICKETS, NOTHING_LEFT_OUT),
        "policy": ctx.workspace.config.policies.support,
        "now": now,
        "horizon_days": horizon_days,
        "backend": backend,
    }


def write_scope_coverage_plan(
    ctx: Context,
    *,
    horizon_days: int = 28,
    backend: BackendName | ForecastBackend | None = None,
) -> tuple[CoveragePlan, Path]:
    """Return the coverage plan of the run's tickets (a team's or a service's only, in a
    scoped run) and the file it was written to, in the p18 evidence folder under
    ``Scope.file_name``.

    A ticket history that is missing or cannot be read at all raises :class:`InputError`.
    """
    if horizon_days < 1:
        raise InputError(f"horizon must be at least 1 day (found {horizon_days})")
    path = ctx.workspace.path(InputKey.TICKETS)
    if not path.is_file():
        raise InputError(f"{path}: ticket history not found")
    result = ctx.inputs.read(InputKey.TICKETS)
    if result.fatal:
        raise InputError(f"{path}: ticket history could not be read", result.problems)
    tickets = [t for t in result.records if isinstance(t, Ticket)]
    moment = ctx.now.astimezone(UTC).replace(microsecond=0)
    plan = build_coverage_plan(**_plan_inputs(ctx, tickets, result.problems, moment,
                                              horizon_days, backend))
    output = ctx.workspace.p18_evidence / ctx.scope.file_name(PLAN_FILE)
    atomic_write_json(output, plan.to_json())
    return plan, output
