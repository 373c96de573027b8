"""Incident KPIs over a period ``[since, until)``: pure functions over :class:`Incident` records.

Every formula is written out in ``docs/incident-kpis.md``. In short, over the incidents
*created* in the period:

- MTTA = mean(acknowledged - created); MTTD = mean(detected - impact start) where both are
  known; MTTR = resolved - created, as mean, median and 90th percentile (linear
  interpolation between order statistics, numpy's default and Hyndman & Fan type 7);
- per severity band: the count, and MTTA and MTTR (count, mean, median, p90) over the
  band's incidents that have the timestamp;
- MTBF per service = (period hours - that service's downtime hours in the period) / number
  of its incidents created in the period; downtime is the union of the incidents' impact
  intervals ``[started (else created), resolved (else until))`` clipped to the period;
- interruptions: each incident is one page at its creation time, counted as business, sleep
  or off hours in the on-call time zone;
- on-call load per rotation: pages per week = pages / (period days / 7); off-hours pages
  per person counts sleep and off-hours pages by the person paged;
- month-over-month: per calendar month (UTC) inside the period, incidents per day, MTTA and
  MTTR mean; the change compares the last two months.

A figure that cannot be computed is a :class:`Skipped` with the reason, never a zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from opsledger.core.incident_policy import IncidentPolicy, hour_band
from opsledger.model.incidents import Incident
from opsledger.model.status import Skipped as Skipped

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
WEEK_HOURS = 7 * 24


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    @property
    def days(self) -> float:
        return self.hours / 24

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def previous(self) -> Period:
        """Return the period of the same length just before this one."""
        return Period(self.start - (self.end - self.start), self.start)


@dataclass(frozen=True)
class DurationStats:
    """Minutes: how many incidents, mean, median and 90th percentile."""

    count: int
    mean: float
    median: float
    p90: float

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "mean": round(self.mean, 3),
                "median": round(self.median, 3), "p90": round(self.p90, 3)}


def duration_stats(minutes: Sequence[float], what: str) -> DurationStats | Skipped:
    """Return mean, median and p90 of ``minutes``; skipped when there are none."""
    if not minutes:
        return Skipped(f"no incident in the period has {what}")
    values = np.asarray(minutes, dtype=float)
    return DurationStats(
        len(values), float(values.mean()), float(np.median(values)),
        float(np.percentile(values, 90)),
    )


@dataclass(frozen=True)
class SeverityResponse:
    """One severity band of the period: its incidents, MTTA and MTTR."""

    severity: str
    count: int
    mtta: DurationStats | Skipped
    mttr: DurationStats | Skipped

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "mtta_minutes": self.mtta.to_json(),
                "mttr_minutes": self.mttr.to_json()}


def response_by_severity(incidents: Sequence[Incident]) -> dict[str, SeverityResponse]:
    """Return the count, MTTA and MTTR of every severity band (empty bands included)."""
    out = {}
    for severity in SEVERITIES:
        own = [i for i in incidents if i.severity == severity]
        out[severity] = SeverityResponse(
            severity,
            len(own),
            duration_stats(ack_minutes(own), f"severity {severity} and an acknowledgement time"),
            duration_stats(resolve_minutes(own), f"severity {severity} and a resolution time"),
        )
    return out


@dataclass(frozen=True)
class Mtbf:
    service: str
    failures: int
    period_hours: float
    downtime_hours: float
    hours: float | None  # None when there was no failure in the period
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "hours": None if self.hours is None else round(self.hours, 3),
            "failures": self.failures,
            "period_hours": round(self.period_hours, 3),
            "downtime_hours": round(self.downtime_hours, 3),
            **({"reason": self.reason} if self.reason else {}),
        }


@dataclass(frozen=True)
class Interruptions:
    business: int = 0
    off: int = 0
    sleep: int = 0

    @property
    def outside_business(self) -> int:
        return self.off + self.sleep

    def to_json(self) -> dict[str, int]:
        return {"business": self.business, "off": self.off, "sleep": self.sleep}


@dataclass(frozen=True)
class RotationLoad:
    rotation: str
    pages: int
    pages_per_week: float
    interruptions: Interruptions
    off_hours_pages_by_person: Mapping[str, int]  # sleep + off hours, by the person paged
    unattributed_off_hours_pages: int  # off-hours pages with no assignee in the export

    @property
    def off_hours_pages_per_person(self) -> float | None:
        """Return the mean off-hours pages per paged person, or None when nobody is known."""
        people = len(self.off_hours_pages_by_person)
        return sum(self.off_hours_pages_by_person.values()) / people if people else None

    def to_json(self) -> dict[str, Any]:
        per_person = self.off_hours_pages_per_person
        return {
            "rotation": self.rotation,
            "pages": self.pages,
            "pages_per_week": round(self.pages_per_week, 3),
            "interruptions": self.interruptions.to_json(),
            "off_hours_pages_by_person": dict(sorted(self.off_hours_pages_by_person.items())),
            "off_hours_pages_per_person": None if per_person is None else round(per_person, 3),
            "unattributed_off_hours_pages": self.unattributed_off_hours_pages,
        }


@dataclass(frozen=True)
class MonthStats:
    month: str  # YYYY-MM
    days: float  # days of the month inside the period
    count: int
    major: int
    mtta_minutes: float | None
    mttr_minutes: float | None

    @property
    def per_day(self) -> float:
        return self.count / self.days

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month, "days": round(self.days, 3), "count": self.count,
            "major": self.major, "per_day": round(self.per_day, 4),
            "mtta_minutes": _round(self.mtta_minutes), "mttr_minutes": _round(self.mttr_minutes),
        }


@dataclass(frozen=True)
class MonthChange:
    previous: str
    current: str
    per_day_change: float | None  # relative: +0.5 = 50% more incidents per day
    mtta_change_minutes: float | None  # absolute difference
    mttr_change_minutes: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "previous": self.previous, "current": self.current,
            "per_day_change": _round(self.per_day_change, 4),
            "mtta_change_minutes": _round(self.mtta_change_minutes),
            "mttr_change_minutes": _round(self.mttr_change_minutes),
        }


@dataclass(frozen=True)
class LastMajor:
    incident_id: str
    at: datetime
    hours_since: float

    def to_json(self) -> dict[str, Any]:
        return {"incident": self.incident_id, "at": self.at.isoformat(),
                "hours_since": round(self.hours_since, 3),
                "days_since": round(self.hours_since / 24, 3)}


@dataclass(frozen=True)
class IncidentKpis:
    period: Period
    now: datetime
    incidents: tuple[Incident, ...]  # created in the period
    by_severity: Mapping[str, int]
    by_service: Mapping[str, int]
    by_team: Mapping[str, int]
    mtta: DurationStats | Skipped
    mttd: DurationStats | Skipped
    mttr: DurationStats | Skipped
    mtbf: Mapping[str, Mtbf]
    last_major: LastMajor | Skipped
    interruptions: Interruptions
    rotations: tuple[RotationLoad, ...]
    months: tuple[MonthStats, ...]
    month_over_month: MonthChange | Skipped
    unresolved: tuple[str, ...] = field(default_factory=tuple)
    response_by_severity: Mapping[str, SeverityResponse] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.incidents)

    def response_by_severity_json(self) -> dict[str, Any]:
        return {name: band.to_json() for name, band in self.response_by_severity.items()}

    def to_json(self) -> dict[str, Any]:
        return {
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "count": self.count,
            "by_severity": dict(self.by_severity),
            "by_service": dict(self.by_service),
            "by_team": dict(self.by_team),
            "mtta": self.mtta.to_json(),
            "mttd": self.mttd.to_json(),
            "mttr": self.mttr.to_json(),
            "response_by_severity": self.response_by_severity_json(),
            "mtbf": {name: m.to_json() for name, m in self.mtbf.items()},
            "last_major": self.last_major.to_json(),
            "interruptions": self.interruptions.to_json(),
            "rotations": [r.to_json() for r in self.rotations],
            "months": [m.to_json() for m in self.months],
            "month_over_month": self.month_over_month.to_json(),
            "unresolved": list(self.unresolved),
        }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def minutes_between(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 60


def in_period(incidents: Iterable[Incident], period: Period) -> list[Incident]:
    """Return the incidents created in ``[start, end)``, oldest first."""
    return sorted((i for i in incidents if period.contains(i.created_at)),
                  key=lambda i: (i.created_at, i.id))


def ack_minutes(incidents: Iterable[Incident]) -> list[float]:
    return [minutes_between(i.created_at, i.acknowledged_at)
            for i in incidents if i.acknowledged_at is not None]


def resolve_minutes(incidents: Iterable[Incident]) -> list[float]:
    return [minutes_between(i.created_at, i.resolved_at)
            for i in incidents if i.resolved_at is not None]


def detect_minutes(incidents: Iterable[Incident]) -> list[float]:
    return [minutes_between(i.started_at, i.detected_at) for i in incidents
            if i.started_at is not None and i.detected_at is not None
            and i.detected_at >= i.started_at]


def downtime_hours(incidents: Iterable[Incident], period: Period) -> float:
    """Return the hours covered by the union of the incidents' impact, inside the period."""
    spans = []
    for incident in incidents:
        begin = max(incident.started_at or incident.created_at, period.start)
        end = min(incident.resolved_at or period.end, period.end)
        if end > begin:
            spans.append((begin, end))
    spans.sort()
    total = timedelta(0)
    current: tuple[datetime, datetime] | None = None
    for begin, end in spans:
        if current is None or begin > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (begin, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += current[1] - current[0]
    return total.total_seconds() / 3600


def mtbf_by_service(
    all_incidents: Sequence[Incident], period: Period, services: Iterable[str] = ()
) -> dict[str, Mtbf]:
    """Return MTBF per service (every service with an incident, plus ``services``)."""
    by_service: dict[str, list[Incident]] = defaultdict(list)
    for incident in all_incidents:
        by_service[incident.service].append(incident)
    names = sorted(set(services) | {i.service for i in all_incidents
                                      if period.contains(i.created_at)})
    out = {}
    for name in names:
        own = by_service.get(name, [])
        failures = sum(1 for i in own if period.contains(i.created_at))
        down = downtime_hours(own, period)
        if failures == 0:
            out[name] = Mtbf(name, 0, period.hours, down, None,
                             "no failure in the period: MTBF is at least the period")
        else:
            out[name] = Mtbf(name, failures, period.hours, down,
                             (period.hours - down) / failures)
    return out


def last_major(
    incidents: Iterable[Incident], now: datetime, policy: IncidentPolicy
) -> LastMajor | Skipped:
    majors = [i for i in incidents if policy.is_major(i) and i.created_at <= now]
    if not majors:
        return Skipped("no major incident on record")
    latest = max(majors, key=lambda i: (i.created_at, i.id))
    return LastMajor(latest.id, latest.created_at,
                     (now - latest.created_at).total_seconds() / 3600)


def interruptions(incidents: Iterable[Incident], policy: IncidentPolicy) -> Interruptions:
    bands = Counter(hour_band(i.created_at, policy) for i in incidents)
    return Interruptions(bands["business"], bands["off"], bands["sleep"])


RotationOf = Callable[[Incident], str]


def rotation_resolver(service_rotations: Mapping[str, str]) -> RotationOf:
    """Return a function naming the rotation paged for an incident.

    The service's configured rotation wins (that is who is on call for it); then the
    export's escalation policy; then the team; else ``unassigned``.
    """

    def rotation_of(incident: Incident) -> str:
        return (service_rotations.get(incident.service) or incident.escalation_policy
                or (f"{incident.team} (team)" if incident.team else None) or "unassigned")

    return rotation_of


def rotation_load(
    incidents: Sequence[Incident], period: Period, policy: IncidentPolicy, rotation_of: RotationOf
) -> tuple[RotationLoad, ...]:
    groups: dict[str, list[Incident]] = defaultdict(list)
    for incident in incidents:
        groups[rotation_of(incident)].append(incident)
    weeks = period.hours / WEEK_HOURS
    loads = []
    for name in sorted(groups):
        pages = groups[name]
        by_person: Counter[str] = Counter()
        unattributed = 0
        for incident in pages:
            if hour_band(incident.created_at, policy) == "business":
                continue
            if incident.assignee:
                by_person[incident.assignee] += 1
            else:
                unattributed += 1
        loads.append(RotationLoad(name, len(pages), len(pages) / weeks,
                                  interruptions(pages, policy), dict(by_person), unattributed))
    return tuple(loads)


def _month_starts(period: Period) -> list[datetime]:
    start = period.start.astimezone(UTC)
    current = datetime(start.year, start.month, 1, tzinfo=UTC)
    out = []
    while current < period.end:
        out.append(current)
        current = datetime(current.year + current.month // 12, current.month % 12 + 1, 1,
                           tzinfo=UTC)
    return out


def monthly(
    incidents: Sequence[Incident], period: Period, policy: IncidentPolicy
) -> tuple[MonthStats, ...]:
    months = []
    starts = _month_starts(period)
    for index, first in enumerate(starts):
        following = starts[index + 1] if index + 1 < len(starts) else period.end
        span = Period(max(first, period.start), min(following, period.end))
        inside = in_period(incidents, span)
        acks, fixes = ack_minutes(inside), resolve_minutes(inside)
        months.append(MonthStats(
            first.strftime("%Y-%m"), span.days, len(inside),
            sum(1 for i in inside if policy.is_major(i)),
            float(np.mean(acks)) if acks else None,
            float(np.mean(fixes)) if fixes else None,
        ))
    return tuple(months)


def month_change(months: Sequence[MonthStats]) -> MonthChange | Skipped:
    if len(months) < 2:
        return Skipped("the period covers fewer than two calendar months")
    before, after = months[-2], months[-1]
    rate = None if before.per_day == 0 else after.per_day / before.per_day - 1

    def delta(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else b - a

    return MonthChange(before.month, after.month, rate,
                       delta(before.mtta_minutes, after.mtta_minutes),
                       delta(before.mttr_minutes, after.mttr_minutes))


def incident_kpis(
    incidents: Sequence[Incident],
    period: Period,
    now: datetime,
    policy: IncidentPolicy | None = None,
    rotation_of: RotationOf | None = None,
    services: Iterable[str] = (),
) -> IncidentKpis:
    """Return every incident KPI for the period (see the module docstring for formulas)."""
    policy = policy or IncidentPolicy()
    rotation_of = rotation_of or rotation_resolver({})
    inside = in_period(incidents, period)
    by_severity = {s: 0 for s in SEVERITIES}
    by_severity.update(Counter(i.severity for i in inside))
    months = monthly(incidents, period, policy)
    return IncidentKpis(
        period=period,
        now=now,
        incidents=tuple(inside),
        by_severity=by_severity,
        by_service=dict(sorted(Counter(i.service for i in inside).items())),
        by_team=dict(sorted(Counter(i.team or "unknown" for i in inside).items())),
        mtta=duration_stats(ack_minutes(inside), "an acknowledgement time"),
        mttd=duration_stats(detect_minutes(inside), "both an impact start and a detection time"),
        mttr=duration_stats(resolve_minutes(inside), "a resolution time"),
        mtbf=mtbf_by_service(incidents, period, services),
        last_major=last_major(incidents, now, policy),
        interruptions=interruptions(inside, policy),
        rotations=rotation_load(inside, period, policy, rotation_of),
        months=months,
        month_over_month=month_change(months),
        unresolved=tuple(i.id for i in inside if i.resolved_at is None),
        response_by_severity=response_by_severity(inside),
    )
