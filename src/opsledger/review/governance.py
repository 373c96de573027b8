"""Governance cadence: KPI reviews scheduled, dashboards configured, alerts active.

The checklist is what the p18 governance gate reads: each field is ``Complete`` or
``Incomplete`` with what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsledger.core.config import Config, KpiReview, Role

COMPLETE = "Complete"
INCOMPLETE = "Incomplete"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# The reviews the procedure's own example names; a cadence without them is incomplete.
EXPECTED_METRICS = ("time to resolution", "error budget")


@dataclass(frozen=True)
class ChecklistField:
    name: str
    status: str
    evidence: str
    missing: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"status": self.status, "evidence": self.evidence, "missing": list(self.missing)}


@dataclass(frozen=True)
class ScheduledReview:
    review: KpiReview
    owner: str  # the person, when the owner names a role in the roster
    first: datetime  # next occurrence, aware in the review's time zone
    rrule: dict[str, object]


def _weekday(review: KpiReview) -> int:
    day = (review.day or "monday").strip().lower()
    if day in WEEKDAYS:
        return WEEKDAYS.index(day)
    if day[:3] in [w[:3] for w in WEEKDAYS]:
        return [w[:3] for w in WEEKDAYS].index(day[:3])
    raise ValueError(f"'{review.day}' is not a weekday")


def _month_day(review: KpiReview) -> int:
    text = (review.day or "1").strip()
    if not text.isdigit() or not 1 <= int(text) <= 28:
        raise ValueError(f"'{review.day}' is not a day of the month (1-28)")
    return int(text)


def schedule(review: KpiReview, after: datetime) -> tuple[datetime, dict[str, object]]:
    """Return the review's next occurrence after ``after`` and its iCalendar RRULE."""
    zone = ZoneInfo(review.timezone)
    hour, minute = (int(p) for p in review.time.split(":"))
    local = after.astimezone(zone)
    at = time(hour, minute)
    if review.cadence == "daily":
        first = datetime.combine(local.date(), at, zone)
        if first <= local:
            first += timedelta(days=1)
        return first, {"freq": "DAILY", "byday": ["MO", "TU", "WE", "TH", "FR"]}
    if review.cadence in ("weekly", "biweekly"):
        weekday = _weekday(review)
        day = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
        first = datetime.combine(day, at, zone)
        if first <= local:
            first += timedelta(days=7)
        rule: dict[str, object] = {"freq": "WEEKLY", "byday": [RRULE_DAYS[weekday]]}
        if review.cadence == "biweekly":
            rule["interval"] = 2
        return first, rule
    month_day = _month_day(review)
    step = 3 if review.cadence == "quarterly" else 1
    candidate = date(local.year, local.month, month_day)
    first = datetime.combine(candidate, at, zone)
    while first <= local or (step == 3 and (first.month - 1) % 3):
        month = first.month + 1
        first = datetime.combine(
            date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, month_day), at, zone
        )
    rule = {"freq": "MONTHLY", "bymonthday": [month_day]}
    if step == 3:
        rule["interval"] = 3
    return first, rule


def owner_name(config: Config, owner: str) -> str | None:
    """Return the person behind an owner given as a role or a name (None if unknown)."""
    try:
        holders = config.stakeholders_with(Role(owner))
    except ValueError:
        holders = [s for s in config.stakeholders if s.name == owner or s.email == owner]
    return holders[0].name if holders else None


def scheduled_reviews(config: Config, after: datetime) -> list[ScheduledReview]:
    reviews = []
    for review in config.kpi_reviews:
        first, rule = schedule(review, after)
        reviews.append(
            ScheduledReview(review, owner_name(config, review.owner) or review.owner, first, rule)
        )
    return reviews


def governance_checklist(
    config: Config,
    critical_services: Sequence[str],
    dashboards: Iterable[str],
    alerts: Iterable[str],
) -> list[ChecklistField]:
    """Return the checklist: cadence scheduled, dashboards configured, alerts active."""
    reviews = config.kpi_reviews
    unowned = [r.metric for r in reviews if owner_name(config, r.owner) is None]
    metrics = " ".join(r.metric.lower() for r in reviews)
    absent = [m for m in EXPECTED_METRICS if m not in metrics]
    cadence_missing = tuple(
        [f"no owner in the roster for '{m}'" for m in unowned]
        + [f"no review of {m}" for m in absent]
        + ([] if reviews else ["no kpi_reviews in opsledger.yaml"])
    )
    with_dashboard = set(dashboards)
    with_alert = set(alerts)
    no_dashboard = tuple(s for s in critical_services if s not in with_dashboard)
    no_alert = tuple(s for s in critical_services if s not in with_alert)
    return [
        ChecklistField(
            "reporting_cadence_scheduled",
            INCOMPLETE if cadence_missing else COMPLETE,
            f"{len(reviews)} KPI reviews in opsledger.yaml, calendar governance-cadence.ics",
            cadence_missing,
        ),
        ChecklistField(
            "dashboards_configured",
            INCOMPLETE if no_dashboard else COMPLETE,
            f"{len(critical_services) - len(no_dashboard)} of {len(critical_services)} critical "
            "services have a dashboard (observability baseline, service catalog)",
            tuple(f"{s}: no dashboard" for s in no_dashboard),
        ),
        ChecklistField(
            "monitoring_alerts_active",
            INCOMPLETE if no_alert else COMPLETE,
            f"{len(critical_services) - len(no_alert)} of {len(critical_services)} critical "
            "services have an alert (observability baseline)",
            tuple(f"{s}: no alert" for s in no_alert),
        ),
    ]
