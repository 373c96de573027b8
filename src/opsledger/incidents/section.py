"""The incidents section of the monthly report.

KPIs for the last 30 days with the change against the 30 days before, major incidents with
their postmortem follow-up, overdue action items by owner, and noisy on-call rotations. A
rotation is noisy when it averages more than one off-hours page a week, or more than 14
pages a week (two a day: the SRE book's ceiling of two incidents per 12-hour shift, for
a rotation covering one shift a day).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from opsledger.core.incident_policy import IncidentPolicy, policy_of
from opsledger.core.inputs import Context
from opsledger.incidents.kpis import (
    DurationStats,
    IncidentKpis,
    Period,
    RotationLoad,
    monthly,
)
from opsledger.model.incidents import Incident
from opsledger.render.sections import Chart, Section, Status, md_escape, md_table

if TYPE_CHECKING:
    from opsledger.incidents.postmortems import (
        ActionItemSummary,
        PostmortemGate,
        PostmortemReview,
    )

KEY = "incidents"
TITLE = "Incidents and postmortems"
REPORT_DAYS = 30
TREND_DAYS = 183  # the monthly chart covers about six months
TREND_WEEKS = 26  # the weekly chart too: 26 ISO weeks
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
NOISY_OFF_HOURS_PER_WEEK = 1.0
NOISY_PAGES_PER_WEEK = 14.0


def _mean(stats: Any) -> float | None:
    return stats.mean if isinstance(stats, DurationStats) else None


def _trend(current: float | None, previous: float | None, unit: str, digits: int = 1) -> str:
    if current is None:
        return "n/a"
    text = f"{current:.{digits}f}{unit}"
    if previous is None:
        return text
    delta = current - previous
    arrow = "▲" if delta > 0 else "▼" if delta < 0 else "="
    return f"{text} ({arrow} {abs(delta):.{digits}f}{unit})"


def _majors(kpis: IncidentKpis, policy: IncidentPolicy) -> int:
    return sum(1 for incident in kpis.incidents if policy.is_major(incident))


def weekly_by_severity(
    incidents: Sequence[Incident], now: datetime, weeks: int = TREND_WEEKS
) -> tuple[list[date], dict[str, list[int]]]:
    """Return the Monday of each of the last ``weeks`` weeks to ``now`` and, per severity,
    the incidents created in each week (severities outside SEV1..SEV5 count as "other").

    The weeks start no earlier than the week of the first incident on record: before it the
    export holds no data, which is not the same as a quiet week.
    """
    this_monday = now.date() - timedelta(days=now.weekday())
    first = this_monday - timedelta(weeks=weeks - 1)
    created = [i.created_at.astimezone(now.tzinfo).date() for i in incidents
               if i.created_at <= now]
    if created:
        earliest = min(created)
        first = max(first, earliest - timedelta(days=earliest.weekday()))
    mondays = [first + timedelta(weeks=i) for i in range((this_monday - first).days // 7 + 1)]
    counts: Counter[tuple[date, str]] = Counter()
    for incident in incidents:
        day = incident.created_at.astimezone(now.tzinfo).date()
        monday = day - timedelta(days=day.weekday())
        if mondays[0] <= monday <= mondays[-1] and incident.created_at <= now:
            band = incident.severity if incident.severity in SEVERITIES else "other"
            counts[monday, band] += 1
    bands = [*SEVERITIES, *(["other"] if any(b == "other" for _, b in counts) else [])]
    return mondays, {band: [counts[m, band] for m in mondays] for band in bands}


def noisy_rotations(kpis: IncidentKpis) -> list[RotationLoad]:
    weeks = kpis.period.hours / (7 * 24)
    return [
        r for r in kpis.rotations
        if r.interruptions.outside_business / weeks > NOISY_OFF_HOURS_PER_WEEK
        or r.pages_per_week > NOISY_PAGES_PER_WEEK
    ]


def _kpi_rows(kpis: IncidentKpis, before: IncidentKpis, policy: IncidentPolicy) -> list[list[str]]:
    """Return the KPI table's rows: each KPI of the period, with its change where it has one."""
    last = kpis.last_major.to_json()
    return [
        ["Incidents", _trend(kpis.count, before.count, "", 0)],
        ["Major", _trend(_majors(kpis, policy), _majors(before, policy), "", 0)],
        ["MTTA (mean)", _trend(_mean(kpis.mtta), _mean(before.mtta), " min")],
        ["MTTR (mean)", _trend(_mean(kpis.mttr), _mean(before.mttr), " min")],
        ["MTTR (p90)", f"{kpis.mttr.p90:.1f} min"
         if isinstance(kpis.mttr, DurationStats) else "n/a"],
        ["Days since last major incident",
         f"{last['days_since']:.1f} ({last['incident']})" if "days_since" in last
         else "none on record"],
        ["Pages outside business hours",
         f"{kpis.interruptions.outside_business} of {kpis.count} "
         f"({kpis.interruptions.sleep} in sleep hours)"],
    ]


def incident_kpis_markdown(
    period: Period, kpis: IncidentKpis, before: IncidentKpis, policy: IncidentPolicy
) -> str:
    """Return the section's opening: the period compared and the KPI table."""
    return (
        f"Period {period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}, compared with the "
        f"{REPORT_DAYS} days before.\n\n"
        + md_table(["KPI", "Value (change)"], _kpi_rows(kpis, before, policy), "lr")
    )


def _open_actions_by_incident(actions: ActionItemSummary) -> dict[str, int]:
    """Return the number of open action items per incident id (``""`` for none named)."""
    open_by_incident: dict[str, int] = {}
    for tracked in actions.open:
        key = tracked.item.incident_id or ""
        open_by_incident[key] = open_by_incident.get(key, 0) + 1
    return open_by_incident


def _gate_breaches_markdown(gate: PostmortemGate) -> str:
    """Return one bullet per breach of the postmortem gate, after a blank line."""
    if not gate.breaches:
        return ""
    return "\n" + "".join(
        f"- {md_escape(breach.incident)}: {md_escape(breach.reason)} — "
        f"{md_escape(breach.detail)}\n"
        for breach in gate.breaches
    )


def postmortem_follow_up_markdown(follow: PostmortemReview) -> str:
    """Return the major incidents part: the postmortem gate, each incident's postmortem
    state and open actions, and the gate's breaches."""
    gate = follow.gate
    text = (f"\n### Major incidents and follow-up\n\nGate *incidents resolved with "
            f"postmortems*: **{'pass' if gate.passed else 'fail'}** "
            f"({gate.checked} incident(s) need a postmortem).\n\n")
    if follow.checks:
        open_by_incident = _open_actions_by_incident(follow.action_items)
        text += md_table(
            ["Incident", "Severity", "Service", "Postmortem", "Review due", "Open actions"],
            [[c.incident.id, c.incident.severity, c.incident.service, c.state.replace("_", " "),
              c.deadline.isoformat(), open_by_incident.get(c.incident.id, 0)]
             for c in follow.checks],
            "lllllr",
        )
    return text + _gate_breaches_markdown(gate)


def overdue_action_items_markdown(actions: ActionItemSummary) -> str:
    """Return the overdue action items by owner, then the closure rate and open items' age."""
    overdue = actions.overdue_by_owner()
    text = "\n### Overdue action items by owner\n\n"
    if overdue:
        text += md_table(
            ["Owner", "Overdue", "Items"],
            [[owner, len(items), ", ".join(f"{t.item.id} (due {t.due})" for t in items)]
             for owner, items in overdue.items()],
            "lrl",
        )
    else:
        text += "None.\n"
    rate = actions.closure_rate
    age = actions.median_open_age_days
    return text + (f"\nClosure rate {'n/a' if rate is None else f'{rate:.0%}'}; median age of "
                   f"open items {'n/a' if age is None else f'{age:.0f} days'}.\n")


def noisy_rotations_markdown(noisy: Sequence[RotationLoad]) -> str:
    """Return the on-call rotations above the noise thresholds, as a table."""
    text = "\n### Noisy on-call rotations\n\n"
    if not noisy:
        return text + "None above the thresholds.\n"
    return text + md_table(
        ["Rotation", "Pages/week", "Off-hours pages", "Per person"],
        [[r.rotation, f"{r.pages_per_week:.1f}", r.interruptions.outside_business,
          "n/a" if r.off_hours_pages_per_person is None
          else f"{r.off_hours_pages_per_person:.1f}"] for r in noisy],
        "lrrr",
    )


def follow_up_actions(follow: PostmortemReview) -> tuple[dict[str, Any], ...]:
    """Return the section's actions: postmortems to write, then overdue action items."""
    actions: list[dict[str, Any]] = [
        {"action": f"Write and review the postmortem of {c.incident.id} ({c.incident.title})",
         "owner": c.incident.assignee or c.incident.team or c.incident.service,
         "due": c.deadline.isoformat(), "source": "incidents"}
        for c in follow.missing
    ]
    actions.extend(
        {"action": t.item.title, "owner": t.item.owner or "unowned",
         "due": t.due.isoformat() if t.due else None,
         "source": f"postmortem {t.item.incident_id}"}
        for t in follow.action_items.overdue
    )
    return tuple(actions)


def section_status(follow: PostmortemReview, noisy: Sequence[RotationLoad]) -> Status:
    """Fail on a postmortem gate breach; warn on overdue action items or noisy rotations."""
    if not follow.gate.passed:
        return Status.FAIL
    return Status.WARN if follow.action_items.overdue or noisy else Status.PASS


def weekly_severity_chart(incidents: Sequence[Incident], now: datetime) -> Chart:
    """Return the stacked bar chart of incidents per week by severity."""
    mondays, per_severity = weekly_by_severity(incidents, now)
    return Chart(
        "incidents-per-week", "Incidents per week by severity", "bar",
        {
            "categories": [f"{m:%d %b}" for m in mondays],
            "series": [{"name": band, "values": values}
                       for band, values in per_severity.items()],
            "stacked": True,
            "x_label": "week starting (Monday)",
            "y_label": "incidents",
        },
    )


def response_trend_chart(
    incidents: Sequence[Incident], now: datetime, policy: IncidentPolicy
) -> Chart:
    """Return the line chart of monthly mean time to acknowledge and to resolve."""
    months = monthly(incidents, Period(now - timedelta(days=TREND_DAYS), now), policy)
    return Chart(
        "incidents-response-trend", "Mean time to acknowledge and to resolve", "line",
        {
            "x": [m.month for m in months],
            "series": [
                {"name": "MTTA (min)", "y": [m.mtta_minutes for m in months]},
                {"name": "MTTR (min)", "y": [m.mttr_minutes for m in months]},
            ],
            "y_label": "minutes",
        },
    )


def section_data(stats: dict[str, Any]) -> dict[str, Any]:
    """Return the section's data: the ``incidents stats`` object with a headline and
    without its input problems."""
    stats["headline"] = (
        f"{stats['count']} incident(s); {len(stats['postmortems']['missing'])} postmortem(s) "
        f"missing; {len(stats['action_items']['overdue'])} action item(s) overdue"
    )
    stats.pop("problems", None)
    return stats


def incidents_section(ctx: Context) -> Section:
    """Return the incidents section (skipped when the workspace has no incident export)."""
    from opsledger.incidents.service import review_incidents

    period = Period(ctx.now - timedelta(days=REPORT_DAYS), ctx.now)
    review = review_incidents(ctx, period)
    incidents = review.records.incidents
    if not incidents:
        reason = "no incident records in the workspace"
        if not ctx.scope.whole:
            left = review.records.left_out
            reason = (f"no incident records of {ctx.scope.label} ({left.other} of other "
                      f"services or teams and {left.unplaced} naming no known service and no "
                      "team left out)")
        if review.records.problems:
            reason += f" ({len(review.records.problems)} input problem(s))"
        return Section.skipped(KEY, TITLE, reason)
    follow = review.postmortems
    policy = policy_of(ctx.workspace.config)
    noisy = noisy_rotations(review.kpis)
    body = "".join((
        incident_kpis_markdown(period, review.kpis, review.previous, policy),
        postmortem_follow_up_markdown(follow),
        overdue_action_items_markdown(follow.action_items),
        noisy_rotations_markdown(noisy),
        f"\n{md_escape(review.left_out_text())}\n" if not ctx.scope.whole else "",
    ))
    charts = (weekly_severity_chart(incidents, ctx.now),
              response_trend_chart(incidents, ctx.now, policy))
    return Section(KEY, TITLE, body, section_status(follow, noisy),
                   section_data(review.stats_json()), charts, follow_up_actions(follow))
