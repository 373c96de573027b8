"""The support coverage section of the monthly report: forecast, staffing, roster, sanity.

Per queue: the tickets expected over the forecast horizon and the chosen model's accuracy
against the seasonal naive baseline (MASE in rolling-origin cross-validation). Per skill
group: its hours, the week's work, the staffed agent-hours with their occupancy and service
level, the peak agents and heads and the roster's agents; then the sanity check of work
against staffed hours. Every open interval's figures follow in the details, so each number
can be checked by hand. Charts: the daily forecast with its 80 % and 95 % intervals after
the recent history, for the busiest queues, and agents and heads interval by interval over
one week of the horizon.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.handover import Ticket
from opsledger.render.sections import Chart, Section, Status, md_escape
from opsledger.support.intervals import SANITY_RATIO
from opsledger.support.service import CoveragePlan, QueueLoad, workspace_coverage_plan
from opsledger.support.summary import (
    forecast_table,
    interval_table,
    sanity_text,
    staffing_table,
)

KEY = "support"
TITLE = "Support coverage: ticket forecast and staffing"
CHARTED_QUEUES = 2  # the busiest queues get a forecast chart each
HISTORY_SHOWN_DAYS = 56  # eight weeks of actuals before the forecast: enough to see the week


def support_section(ctx: Context) -> Section:
    """Return the support section (skipped when there is no readable ticket history); in a
    team's or a service's run, the plan of the tickets of its services."""
    plan = workspace_coverage_plan(ctx)
    if plan is None:
        problems = ctx.inputs.read(InputKey.TICKETS).problems
        reason = "no readable ticket history"
        left = ctx.inputs.left_out.get(InputKey.TICKETS)
        if not ctx.scope.whole and left is not None:
            reason = (f"no ticket of {ctx.scope.label} in the ticket history ({left.unplaced} "
                      f"naming no service and {left.other} of other services left out)")
        if problems:
            reason += f" ({len(problems)} input problem(s))"
        return Section.skipped(KEY, TITLE, reason)
    tickets = [t for t in ctx.inputs.read(InputKey.TICKETS).records if isinstance(t, Ticket)]
    return build_support_section(plan, tickets)


def forecast_total(queue: QueueLoad) -> float:
    """Return the expected tickets over the whole horizon (sum of the daily means)."""
    return sum(point.mean for point in queue.forecast.daily)


def build_support_section(plan: CoveragePlan, tickets: list[Ticket]) -> Section:
    """Return the section for a computed plan and the tickets it was built from."""
    document = plan.to_json()
    policy = plan.policy
    queues = sorted(plan.forecast_queues, key=lambda q: (-forecast_total(q), q.queue))
    lines = [
        f"{plan.tickets_read} ticket(s) read; history to {plan.history_end.isoformat()}; "
        f"forecast {plan.horizon_days} days ahead in {md_escape(policy.timezone)}; "
        f"target {policy.service_level:.0%} answered within {policy.answer_seconds:g} s, "
        f"occupancy at most {policy.occupancy_cap:.0%}, shrinkage {policy.shrinkage:.0%}, "
        f"intervals of {policy.interval_minutes} min.",
        "",
        forecast_table(document),
    ]
    for skipped in plan.skipped_queues:
        lines.append(f"- {md_escape(skipped.queue)}: not forecast — {md_escape(skipped.reason)}")
    if plan.configured_queues_without_tickets:
        lines.append("- configured in a skill group but without tickets: "
                     + ", ".join(md_escape(q) for q in plan.configured_queues_without_tickets))
    if plan.groups:
        lines += ["", staffing_table(document), sanity_text(document)]
    if plan.rotation is not None:
        gaps = [c for c in plan.rotation.coverage if c.gap]
        lines += [f"Proposed roster: **{plan.rotation.headcount}** agent(s), "
                  f"{plan.rotation.rostered_hours:.0f} hours a week; "
                  + ("every shift covered." if not gaps else f"{len(gaps)} shift(s) short.")]
    elif plan.rotation_skipped:
        lines += ["", f"No roster proposed: {md_escape(plan.rotation_skipped)}."]
    if plan.problems:
        lines += ["", f"{len(plan.problems)} ticket row(s) left out as unreadable."]
    if not plan.scope.whole:
        lines += ["", md_escape(plan.left_out_line())]
    worse = [q for q in queues if q.forecast.beats_seasonal_naive is False]
    short = plan.rotation is not None and not plan.rotation.covered
    totals = plan.totals
    flagged = totals is not None and totals.ratio is not None and totals.ratio > SANITY_RATIO
    status = Status.WARN if plan.skipped_queues or worse or short or plan.problems or flagged \
        else Status.PASS
    charts = [forecast_chart(q, tickets, policy.timezone) for q in queues[:CHARTED_QUEUES]]
    if plan.groups:
        charts.append(staffing_chart(plan))
    groups = cast(list[dict[str, Any]], document["skill_groups"])
    policy_json = cast(dict[str, Any], document["policy"])
    details = "\n".join(interval_table(group, policy_json) for group in groups)
    return Section(
        KEY, TITLE, "\n".join(lines) + "\n", status,
        data={
            "headline": f"{sum(forecast_total(q) for q in queues):.0f} tickets expected in "
                        f"{len(queues)} queue(s) over {plan.horizon_days} days"
                        + (f"; roster of {plan.rotation.headcount} agent(s)"
                           if plan.rotation else ""),
            "history_end": plan.history_end.isoformat(),
            "horizon_days": plan.horizon_days,
            "queues": [{"queue": q.queue, "skill_group": q.group,
                        "forecast_tickets": round(forecast_total(q), 3),
                        "model": q.forecast.model, "mase": q.forecast.mase,
                        "seasonal_naive_mase": q.forecast.baseline_mase} for q in queues],
            "skill_groups": [{
                "skill_group": g.name, "queues": list(g.definition.queues),
                **g.totals.to_json(),
                "peak_agents": g.peak_agents, "peak_heads": g.peak_heads,
                "rotation_headcount": plan.rotation.headcount_of(g.name)
                if plan.rotation else 0,
            } for g in plan.groups],
            "sanity": document["sanity"],
            "skipped_queues": [s.to_json() for s in plan.skipped_queues],
            "rotation_headcount": plan.rotation.headcount if plan.rotation else None,
            **({} if plan.scope.whole else {"scope": plan.scope_json()}),
        },
        charts=tuple(charts),
        details=details,
        details_title="Staffing by interval",
    )


def daily_actuals(tickets: list[Ticket], queue: str, zone: str, first: date, last: date
                  ) -> list[int]:
    """Return the tickets created in ``queue`` on each local day from ``first`` to ``last``."""
    tz = ZoneInfo(zone)
    counts = Counter(t.created_at.astimezone(tz).date() for t in tickets if t.queue == queue)
    return [counts.get(first + timedelta(days=i), 0) for i in range((last - first).days + 1)]


def forecast_chart(queue: QueueLoad, tickets: list[Ticket], zone: str) -> Chart:
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


def staffing_chart(plan: CoveragePlan) -> Chart:
    """Return agents and heads to schedule, interval by interval over one week (all groups).

    The plan staffs each interval of the week the same way across the horizon, so one week
    shows it all; the week drawn is the first full Monday-to-Sunday week of the horizon, in
    the policy's time zone (a group in another zone is moved by the offset of that Monday).
    """
    zone = ZoneInfo(plan.policy.timezone)
    minutes = plan.policy.interval_minutes
    count = 7 * 24 * 60 // minutes
    first = plan.history_end + timedelta(days=1)
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    start = datetime(monday.year, monday.month, monday.day)
    agents = [0] * count
    heads = [0] * count
    for group in plan.groups:
        local = start.replace(tzinfo=zone)
        there = local.astimezone(ZoneInfo(group.hours.timezone)).replace(tzinfo=None)
        shift = round((there - start).total_seconds() / 60 / minutes)
        for row in group.intervals:
            index = (row.index - shift) % count
            agents[index] += row.agents
            heads[index] += row.heads
    return Chart(
        key="support-staffing",
        title=f"Agents needed per interval, all skill groups (week of {monday.isoformat()})",
        kind="line",
        data={
            "x": [(start + timedelta(minutes=k * minutes)).isoformat() for k in range(count)],
            "series": [
                {"name": "agents taking tickets", "y": agents, "drawstyle": "steps-post"},
                {"name": "heads to schedule (after shrinkage)", "y": heads,
                 "drawstyle": "steps-post"},
            ],
            "y_label": "agents",
            "legend": "upper right",
        },
    )
