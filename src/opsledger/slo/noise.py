"""Alert noise: which alerts interrupt people without needing them, and what to change.

Per alert (name and service) over an alert history:

- **firings** and **flapping episodes**: a flap is a re-fire within ``flap_window`` of the
  previous firing's resolution; a chain of such re-fires is one episode;
- **auto-resolve rate**: the share of firings closed by the monitoring system, not a person;
- **actionable rate**: the share acknowledged by a person *and* either linked to an incident
  or resolved by a person (someone acted on it);
- **alert-to-incident ratio**: firings per distinct linked incident;
- **off-hours** and **sleep-hours** interruptions: firings outside business hours / inside
  sleep hours, in the on-call team's time zone (defaults: business hours 08:00-18:00
  Monday-Friday, sleep hours 22:00-08:00).

Then ranked tuning recommendations with the numbers that justify them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from statistics import median
from zoneinfo import ZoneInfo

from opsledger.model.incidents import AlertEvent


@dataclass(frozen=True)
class WorkingHours:
    """When interruptions are expected, in one time zone."""

    timezone: str = "UTC"
    business_start: time = time(8, 0)
    business_end: time = time(18, 0)
    business_days: frozenset[int] = frozenset(range(5))  # Monday=0 .. Friday=4
    sleep_start: time = time(22, 0)
    sleep_end: time = time(8, 0)

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone
        if self.business_end <= self.business_start:
            raise ValueError("business hours must end after they start")

    def local(self, when: datetime) -> datetime:
        return when.astimezone(ZoneInfo(self.timezone))

    def in_business_hours(self, when: datetime) -> bool:
        moment = self.local(when)
        return (
            moment.weekday() in self.business_days
            and self.business_start <= moment.time() < self.business_end
        )

    def in_sleep_hours(self, when: datetime) -> bool:
        clock = self.local(when).time()
        if self.sleep_start <= self.sleep_end:
            return self.sleep_start <= clock < self.sleep_end
        return clock >= self.sleep_start or clock < self.sleep_end  # spans midnight


@dataclass(frozen=True)
class NoiseThresholds:
    """When an alert deserves a tuning recommendation."""

    flap_window: timedelta = timedelta(minutes=30)
    min_firings: int = 3  # fewer firings say too little to judge
    low_actionable_rate: float = 0.5
    high_auto_resolve_rate: float = 0.5
    max_alerts_per_incident: float = 3.0
    short_firing: timedelta = timedelta(minutes=5)


class Tuning(StrEnum):
    """What to change about an alert."""

    DELETE_OR_DEMOTE = "delete-or-demote"  # nobody acts on it
    ADD_HYSTERESIS = "add-hysteresis"  # it flaps
    LENGTHEN_FOR = "lengthen-for"  # fires briefly and fixes itself
    GROUP = "group-or-deduplicate"  # many alerts per incident
    ROUTE_TO_BUSINESS_HOURS = "route-to-business-hours"  # wakes people, rarely actionable


# Equal scores: removing an alert beats merging it, which beats tuning its thresholds.
ACTION_ORDER = (
    Tuning.DELETE_OR_DEMOTE,
    Tuning.GROUP,
    Tuning.ADD_HYSTERESIS,
    Tuning.LENGTHEN_FOR,
    Tuning.ROUTE_TO_BUSINESS_HOURS,
)


@dataclass(frozen=True)
class AlertNoise:
    """Noise figures for one alert."""

    alert: str
    service: str | None
    firings: int
    occurrences: int  # firings plus repeats folded in by deduplication
    flapping_episodes: int
    refires: int  # firings that were flaps
    auto_resolve_rate: float | None  # None: no firing says how it was closed
    actionable_rate: float
    acknowledged: int
    linked_incidents: int
    alerts_per_incident: float | None  # None: no firing is linked to an incident
    off_hours: int
    sleep_hours: int
    median_duration_minutes: float | None
    median_ack_minutes: float | None
    priorities: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.service or '-'}/{self.alert}"


@dataclass(frozen=True)
class TuningRecommendation:
    alert: str
    service: str | None
    action: Tuning
    reason: str
    score: float  # interruptions this change would save or fix, for ranking


@dataclass(frozen=True)
class NoiseReport:
    alerts: tuple[AlertNoise, ...]
    recommendations: tuple[TuningRecommendation, ...]
    firings: int
    start: datetime | None
    end: datetime | None
    working_hours: WorkingHours = field(default_factory=WorkingHours)

    @property
    def weeks(self) -> float | None:
        if self.start is None or self.end is None or self.end <= self.start:
            return None
        return max((self.end - self.start) / timedelta(weeks=1), 1 / 7)


def noise_report(
    events: Iterable[AlertEvent],
    known_incidents: Collection[str] | None = None,
    hours: WorkingHours | None = None,
    thresholds: NoiseThresholds | None = None,
) -> NoiseReport:
    """Return per-alert noise figures and ranked tuning recommendations.

    ``known_incidents``: ids of real incidents; when given, a firing counts as linked only
    if its incident is among them (a PagerDuty alert always has a PagerDuty incident, which
    alone says nothing). None: any incident id counts.
    """
    hours = hours or WorkingHours()
    thresholds = thresholds or NoiseThresholds()
    groups: dict[tuple[str | None, str], list[AlertEvent]] = defaultdict(list)
    everything = sorted(events, key=lambda e: (e.created_at, e.id))
    for event in everything:
        groups[(event.service, event.alert)].append(event)
    alerts = tuple(
        _alert_noise(alert, service, firings, known_incidents, hours, thresholds)
        for (service, alert), firings in sorted(
            groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
        )
    )
    recommendations = sorted(
        (r for a in alerts for r in _recommend(a, thresholds)),
        key=lambda r: (-r.score, ACTION_ORDER.index(r.action), r.service or "", r.alert),
    )
    return NoiseReport(
        alerts,
        tuple(recommendations),
        len(everything),
        everything[0].created_at if everything else None,
        max((e.resolved_at or e.created_at for e in everything), default=None),
        hours,
    )


def _linked(event: AlertEvent, known: Collection[str] | None) -> bool:
    if event.incident_id is None:
        return False
    return known is None or event.incident_id in known


def flapping(firings: Sequence[AlertEvent], window: timedelta) -> tuple[int, int]:
    """Return (episodes, re-fires): re-fires within ``window`` of the previous resolution."""
    episodes = refires = 0
    in_episode = False
    for previous, current in pairwise(firings):
        flap = (
            previous.resolved_at is not None
            and timedelta(0) <= current.created_at - previous.resolved_at <= window
        )
        if flap:
            refires += 1
            if not in_episode:
                episodes += 1
        in_episode = flap
    return episodes, refires


def _alert_noise(
    alert: str,
    service: str | None,
    firings: list[AlertEvent],
    known: Collection[str] | None,
    hours: WorkingHours,
    thresholds: NoiseThresholds,
) -> AlertNoise:
    episodes, refires = flapping(firings, thresholds.flap_window)
    closed_known = [e for e in firings if e.auto_resolved is not None]
    auto = sum(1 for e in closed_known if e.auto_resolved)
    actionable = sum(
        1
        for e in firings
        if e.acknowledged_at is not None and (_linked(e, known) or e.auto_resolved is False)
    )
    incidents = {e.incident_id for e in firings if _linked(e, known)}
    durations = [
        (e.resolved_at - e.created_at) / timedelta(minutes=1)
        for e in firings
        if e.resolved_at is not None
    ]
    acks = [
        (e.acknowledged_at - e.created_at) / timedelta(minutes=1)
        for e in firings
        if e.acknowledged_at is not None
    ]
    return AlertNoise(
        alert=alert,
        service=service,
        firings=len(firings),
        occurrences=sum(e.occurrences for e in firings),
        flapping_episodes=episodes,
        refires=refires,
        auto_resolve_rate=auto / len(closed_known) if closed_known else None,
        actionable_rate=actionable / len(firings),
        acknowledged=sum(1 for e in firings if e.acknowledged_at is not None),
        linked_incidents=len(incidents),
        alerts_per_incident=len(firings) / len(incidents) if incidents else None,
        off_hours=sum(1 for e in firings if not hours.in_business_hours(e.created_at)),
        sleep_hours=sum(1 for e in firings if hours.in_sleep_hours(e.created_at)),
        median_duration_minutes=median(durations) if durations else None,
        median_ack_minutes=median(acks) if acks else None,
        priorities=tuple(sorted({e.priority for e in firings if e.priority})),
    )


def _recommend(a: AlertNoise, t: NoiseThresholds) -> list[TuningRecommendation]:
    if a.firings < t.min_firings:
        return []
    out = []
    wasted = round(a.firings * (1 - a.actionable_rate))

    def add(action: Tuning, reason: str, score: float) -> None:
        out.append(TuningRecommendation(a.alert, a.service, action, reason, score))

    if a.actionable_rate < t.low_actionable_rate:
        if a.actionable_rate == 0:
            reason = f"none of {a.firings} firings was acted on"
        else:
            reason = (
                f"only {a.actionable_rate:.0%} of {a.firings} firings were acted on "
                f"({wasted} were not)"
            )
        if a.sleep_hours:
            reason += f"; {a.sleep_hours} woke someone"
        add(Tuning.DELETE_OR_DEMOTE, reason, wasted + a.sleep_hours)
    if a.flapping_episodes:
        add(
            Tuning.ADD_HYSTERESIS,
            f"{a.refires} re-fires within {t.flap_window / timedelta(minutes=1):.0f} min of "
            f"resolving, in {a.flapping_episodes} flapping episode(s): add a 'for' duration "
            "or a resolve threshold below the firing one",
            float(a.refires),
        )
    short = t.short_firing / timedelta(minutes=1)
    if (
        a.auto_resolve_rate is not None
        and a.auto_resolve_rate >= t.high_auto_resolve_rate
        and a.median_duration_minutes is not None
        and a.median_duration_minutes <= short
    ):
        add(
            Tuning.LENGTHEN_FOR,
            f"{a.auto_resolve_rate:.0%} resolve by themselves, median "
            f"{a.median_duration_minutes:.0f} min: require the condition for longer than "
            f"{short:.0f} min before notifying",
            a.firings * a.auto_resolve_rate,
        )
    if a.alerts_per_incident is not None and a.alerts_per_incident > t.max_alerts_per_incident:
        add(
            Tuning.GROUP,
            f"{a.alerts_per_incident:.1f} firings per incident ({a.firings} for "
            f"{a.linked_incidents}): group or deduplicate them",
            a.firings - a.linked_incidents,
        )
    if a.sleep_hours and a.actionable_rate < 1 and a.actionable_rate >= t.low_actionable_rate:
        add(
            Tuning.ROUTE_TO_BUSINESS_HOURS,
            f"{a.sleep_hours} sleep-hours and {a.off_hours} off-hours interruptions while "
            f"{a.actionable_rate:.0%} were actionable: page only on burn-rate conditions, "
            "send the rest as tickets",
            a.sleep_hours * (1 - a.actionable_rate),
        )
    return out
