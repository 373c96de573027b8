"""The support coverage section of the monthly report: ticket forecast, staffing, rotation.

Per queue: the tickets expected over the forecast horizon, the chosen model's accuracy
against the seasonal naive baseline (MASE in rolling-origin cross-validation), the agents
the busiest shift needs and the heads the proposed rotation puts on the queue. Charts: the
daily forecast with its 80 % and 95 % intervals after the recent history, for the busiest
queues, and the agents needed hour by hour over one week of the horizon.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.handover import Ticket
from opsledger.render.sections import Chart, Section, Status, md_escape, md_table
from opsledger.support.service import CoveragePlan, QueueCoverage, workspace_coverage_plan

KEY = "support"
TITLE = "Support coverage: ticket forecast and staffing"
CHARTED_QUEUES = 2  # the busiest queues get a forecast chart each
HISTORY_SHOWN_DAYS = 56  # eight weeks of actuals before the forecast: enough to see the week


def support_section(ctx: Context) -> Section:
    """Return the support section (skipped when there is no readable ticket history)."""
    plan = workspace_coverage_plan(ctx)
    if plan is None:
        problems = ctx.inputs.read(InputKey.TICKETS).problems
        reason = "no readable ticket history"
        if problems:
            reason += f" ({len(problems)} input problem(s))"
        return Section.skipped(KEY, TITLE, reason)
    tickets = [t for t in ctx.inputs.read(InputKey.TICKETS).records if isinstance(t, Ticket)]
    return build_support_section(plan, tickets)


def forecast_total(queue: QueueCoverage) -> float:
    """Return the expected tickets over the whole horizon (sum of the daily means)."""
    return sum(point.mean for point in queue.forecast.daily)


def headcount_by_queue(plan: CoveragePlan) -> Counter[str]:
    """Return the heads the proposed rotation puts on each queue."""
    return Counter(line.queue for line in plan.rotation.lines) if plan.rotation else Counter()


def _mase(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def build_support_section(plan: CoveragePlan, tickets: list[Ticket]) -> Section:
    """Return the section for a computed plan and the tickets it was built from."""
    queues = sorted(plan.forecast_queues, key=lambda q: (-forecast_total(q), q.queue))
    heads = headcount_by_queue(plan)
    lines = [
        f"{plan.tickets_read} ticket(s) read; history to {plan.history_end.isoformat()}; "
        f"forecast {plan.horizon_days} days ahead in {md_escape(plan.policy.timezone)}; "
        f"target {plan.policy.service_level:.0%} answered within "
        f"{plan.policy.answer_seconds:g} s, shrinkage {plan.policy.shrinkage:.0%}.",
        "",
    ]
    if queues:
        rows = []
        for q in queues:
            beats = q.forecast.beats_seasonal_naive
            rows.append([
                q.queue,
                f"{forecast_total(q):.0f}",
                q.forecast.model,
                _mase(q.forecast.mase),
                _mase(q.forecast.baseline_mase),
                "n/a" if beats is None else "yes" if beats else "**no**",
                max((s.agents for s in q.shifts), default=0),
                max((s.scheduled for s in q.shifts), default=0),
                heads.get(q.queue, 0),
            ])
        lines.append(md_table(
            ["queue", f"tickets next {plan.horizon_days} days", "model", "MASE",
             "seasonal naive MASE", "beats naive", "peak agents per shift",
             "peak heads per shift", "rotation headcount"],
            rows, "lrlrrlrrr"))
    for skipped in plan.skipped_queues:
        lines.append(f"- {md_escape(skipped.queue)}: not forecast — {md_escape(skipped.reason)}")
    if plan.rotation is not None:
        gaps = [c for c in plan.rotation.coverage if c.gap]
        lines += ["", f"Proposed rotation: **{plan.rotation.headcount}** agent(s); "
                  + ("every shift covered." if not gaps else f"{len(gaps)} shift(s) short.")]
    elif plan.rotation_skipped:
        lines += ["", f"No rotation proposed: {md_escape(plan.rotation_skipped)}."]
    if plan.problems:
        lines += ["", f"{len(plan.problems)} ticket row(s) left out as unreadable."]
    worse = [q for q in queues if q.forecast.beats_seasonal_naive is False]
    short = plan.rotation is not None and not plan.rotation.covered
    status = Status.WARN if plan.skipped_queues or worse or short or plan.problems \
        else Status.PASS
    charts = [forecast_chart(q, tickets, plan.policy.timezone)
              for q in queues[:CHARTED_QUEUES]]
    if queues:
        charts.append(staffing_chart(queues, plan.history_end))
    return Section(
        KEY, TITLE, "\n".join(lines) + "\n", status,
        data={
            "headline": f"{sum(forecast_total(q) for q in queues):.0f} tickets expected in "
                        f"{len(queues)} queue(s) over {plan.horizon_days} days"
                        + (f"; rotation of {plan.rotation.headcount} agent(s)"
                           if plan.rotation else ""),
            "history_end": plan.history_end.isoformat(),
            "horizon_days": plan.horizon_days,
            "queues": [{"queue": q.queue, "forecast_tickets": round(forecast_total(q), 3),
                        "model": q.forecast.model, "mase": q.forecast.mase,
                        "seasonal_naive_mase": q.forecast.baseline_mase,
                        "peak_agents_per_shift": max((s.agents for s in q.shifts), default=0),
                        "rotation_headcount": heads.get(q.queue, 0)} for q in queues],
            "skipped_queues": [s.to_json() for s in plan.skipped_queues],
            "rotation_headcount": plan.rotation.headcount if plan.rotation else None,
        },
        charts=tuple(charts),
    )


def daily_actuals(tickets: list[Ticket], queue: str, zone: str, first: date, last: date
                  ) -> list[int]:
    """Return the tickets created in ``queue`` on each local day from ``first`` to ``last``."""
    tz = ZoneInfo(zone)
    counts = Counter(t.created_at.astimezone(tz).date() for t in tickets if t.queue == queue)
    return [counts.get(first + timedelta(days=i), 0) for i in range((last - first).days + 1)]


def forecast_chart(queue: QueueCoverage, tickets: list[Ticket], zone: str) -> Chart:
    """Return the queue's recent daily tickets and its forecast with 80/95 % intervals."""
    daily = queue.forecast.daily
    end = queue.forecast.history_end
    start = max(queue.forecast.history_start, end - timedelta(days=HISTORY_SHOWN_DAYS - 1))
    actual = daily_actuals(tickets, queue.queue, zone, start, end)
    days = [p.day.isoformat() for p in daily]
    return Chart(
        key=f"support-forecast-{queue.queue}",
        title=f"Tickets per day: {queue.queue} ({queue.forecast.model})",
        kind="line",
        data={
            "x": [(start + timedelta(days=i)).isoformat() for i in range(len(actual))],
            "series": [
                {"name": "actual", "y": actual},
                {"name": "forecast (mean)", "x": days, "y": [p.mean for p in daily],
                 "bands": [
                     {"low": [p.lo95 for p in daily], "high": [p.hi95 for p in daily],
                      "label": "95 % interval"},
                     {"low": [p.lo80 for p in daily], "high": [p.hi80 for p in daily],
                      "label": "80 % interval"},
                 ]},
            ],
            "y_label": "tickets per day",
            "legend": "upper left",
        },
    )


def staffing_chart(queues: list[QueueCoverage], history_end: date) -> Chart:
    """Return agents needed and heads to schedule, hour by hour, over one week (all queues).

    The plan staffs each hour of the week the same way across the horizon, so one week
    shows it all; the week drawn is the first full Monday-to-Sunday week of the horizon.
    """
    first = history_end + timedelta(days=1)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    start = datetime(monday.year, monday.month, monday.day)
    agents = [0] * 168
    scheduled = [0] * 168
    for queue in queues:
        for hour in queue.hours:
            agents[hour.hour_of_week] += hour.figures.agents
            scheduled[hour.hour_of_week] += hour.scheduled
    return Chart(
        key="support-staffing",
        title=f"Agents needed per hour, all queues (week of {monday.isoformat()})",
        kind="line",
        data={
            "x": [(start + timedelta(hours=h)).isoformat() for h in range(168)],
            "series": [
                {"name": "agents on the phones", "y": agents, "drawstyle": "steps-post"},
                {"name": "heads to schedule (after shrinkage)", "y": scheduled,
                 "drawstyle": "steps-post"},
            ],
            "y_label": "agents",
            "legend": "upper right",
        },
    )
