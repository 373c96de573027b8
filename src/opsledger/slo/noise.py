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
  Monday-Friday, sleep hours 22:00-08:00);
- **pages**: firings at a paging priority (PagerDuty severity critical or error, which its
  default urgency rule makes high-urgency; urgency high; priority P1 or P2);
- **precision**: the share of firings linked to an incident;
- **time firing**: from each firing to its resolution (to the history's end when open);
- **noise**: firings that needed no one: every firing except the useful ones, a useful
  firing being one acted on and, when linked to an incident, the first acted on for it.

Then one decision per alert: the change that matters most (removing an alert beats merging
its firings, which beats tuning its thresholds or routing) or "keep", with the other
findings as supporting evidence and a confidence from the share the decision turns on
(:mod:`opsledger.slo.confidence`). Alerts are ranked by noise.
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
from opsledger.slo.confidence import (
    Confidence,
    ShareEvidence,
    share_confidence,
    share_evidence,
)

# Priorities that page a person: PagerDuty severities its default urgency rule makes
# high-urgency, PagerDuty urgency, and the top two Opsgenie/PagerDuty priorities.
PAGING_PRIORITIES = frozenset({"critical", "error", "high", "p1", "p2"})


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
    flapping_share: float = 0.25  # re-fires at least this share of the firings


class Tuning(StrEnum):
    """What to do about an alert."""

    DELETE_OR_DEMOTE = "delete-or-demote"  # nobody acts on it
    ADD_HYSTERESIS = "add-hysteresis"  # it flaps
    LENGTHEN_FOR = "lengthen-for"  # fires briefly and fixes itself
    GROUP = "group-or-deduplicate"  # many alerts per incident
    ROUTE_TO_BUSINESS_HOURS = "route-to-business-hours"  # wakes people for nothing at night
    KEEP = "keep"  # nothing to change, or too few firings to judge


# The decision for an alert is the first change that applies: removing an alert beats
# merging its firings, which beats tuning its thresholds.
ACTION_ORDER = (
    Tuning.DELETE_OR_DEMOTE,
    Tuning.GROUP,
    Tuning.ADD_HYSTERESIS,
    Tuning.LENGTHEN_FOR,
    Tuning.ROUTE_TO_BUSINESS_HOURS,
    Tuning.KEEP,
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
    pages: int = 0
    acted_on: int = 0
    useful: int = 0  # acted on, counting the firings of one incident once
    linked_firings: int = 0
    auto_resolved: int = 0
    closed_known: int = 0  # firings that say whether a person or the monitor closed them
    sleep_acted_on: int = 0
    minutes_firing: float = 0.0

    @property
    def key(self) -> str:
        return f"{self.service or '-'}/{self.alert}"

    @property
    def noise(self) -> int:
        """Return the firings that needed no one."""
        return self.firings - self.useful

    @property
    def precision(self) -> float:
        """Return the share of firings linked to an incident."""
        return self.linked_firings / self.firings


@dataclass(frozen=True)
class TuningRecommendation:
    """The one decision about an alert: what to do, why, and how surely."""

    alert: str
    service: str | None
    action: Tuning
    reason: str
    confidence: Confidence
    evidence: str  # the share the decision turns on, with its counts and interval
    noise: int
    also: tuple[str, ...] = ()  # the other findings about the same alert

    @property
    def key(self) -> str:
        return f"{self.service or '-'}/{self.alert}"


@dataclass(frozen=True)
class NoiseReport:
    """Per-alert figures and one decision per alert, both ranked by noise (most first)."""

    alerts: tuple[AlertNoise, ...]
    decisions: tuple[TuningRecommendation, ...]
    firings: int
    start: datetime | None
    end: datetime | None
    working_hours: WorkingHours = field(default_factory=WorkingHours)

    @property
    def recommendations(self) -> tuple[TuningRecommendation, ...]:
        """Return the decisions that change an alert, ranked by noise."""
        return tuple(d for d in self.decisions if d.action is not Tuning.KEEP)

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
    """Return per-alert noise figures and one decision per alert, ranked by noise.

    An alert is its name and service. ``known_incidents``: ids of real incidents; when
    given, a firing counts as linked only if its incident is among them (a PagerDuty alert
    always has a PagerDuty incident, which alone says nothing). None: any incident id counts.
    """
    hours = hours or WorkingHours()
    thresholds = thresholds or NoiseThresholds()
    groups: dict[tuple[str | None, str], list[AlertEvent]] = defaultdict(list)
    everything = sorted(events, key=lambda e: (e.created_at, e.id))
    for event in everything:
        groups[(event.service, event.alert)].append(event)
    end = max((e.resolved_at or e.created_at for e in everything), default=None)
    figures = [
        _alert_noise(alert, service, firings, known_incidents, hours, thresholds, end)
        for (service, alert), firings in groups.items()
    ]
    decided = sorted(
        ((a, decide(a, thresholds)) for a in figures),
        key=lambda pair: (
            -pair[0].noise,
            ACTION_ORDER.index(pair[1].action),
            pair[0].service or "",
            pair[0].alert,
        ),
    )
    return NoiseReport(
        tuple(a for a, _ in decided),
        tuple(d for _, d in decided),
        len(everything),
        everything[0].created_at if everything else None,
        end,
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
    end: datetime | None,
) -> AlertNoise:
    episodes, refires = flapping(firings, thresholds.flap_window)
    closed_known = [e for e in firings if e.auto_resolved is not None]
    auto = sum(1 for e in closed_known if e.auto_resolved)
    acted = [
        e
        for e in firings
        if e.acknowledged_at is not None and (_linked(e, known) or e.auto_resolved is False)
    ]
    acted_incidents = {e.incident_id for e in acted if _linked(e, known)}
    useful = len(acted_incidents) + sum(1 for e in acted if not _linked(e, known))
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
    firing_minutes = sum(
        max(((e.resolved_at or end or e.created_at) - e.created_at) / timedelta(minutes=1), 0.0)
        for e in firings
    )
    asleep = [e for e in firings if hours.in_sleep_hours(e.created_at)]
    return AlertNoise(
        alert=alert,
        service=service,
        firings=len(firings),
        occurrences=sum(e.occurrences for e in firings),
        flapping_episodes=episodes,
        refires=refires,
        auto_resolve_rate=auto / len(closed_known) if closed_known else None,
        actionable_rate=len(acted) / len(firings),
        acknowledged=sum(1 for e in firings if e.acknowledged_at is not None),
        linked_incidents=len(incidents),
        alerts_per_incident=len(firings) / len(incidents) if incidents else None,
        off_hours=sum(1 for e in firings if not hours.in_business_hours(e.created_at)),
        sleep_hours=len(asleep),
        median_duration_minutes=median(durations) if durations else None,
        median_ack_minutes=median(acks) if acks else None,
        priorities=tuple(sorted({e.priority for e in firings if e.priority})),
        pages=sum(1 for e in firings if (e.priority or "").lower() in PAGING_PRIORITIES),
        acted_on=len(acted),
        useful=useful,
        linked_firings=sum(1 for e in firings if _linked(e, known)),
        auto_resolved=auto,
        closed_known=len(closed_known),
        sleep_acted_on=sum(1 for e in acted if hours.in_sleep_hours(e.created_at)),
        minutes_firing=firing_minutes,
    )


@dataclass(frozen=True)
class Finding:
    action: Tuning
    reason: str
    evidence: ShareEvidence
    threshold: float
    below: bool  # the finding holds when the share is below the threshold


def findings(a: AlertNoise, t: NoiseThresholds) -> list[Finding]:
    """Return every change the alert's figures call for, in :data:`ACTION_ORDER`."""
    out = []
    if a.actionable_rate < t.low_actionable_rate:
        wasted = a.firings - a.acted_on
        if a.acted_on == 0:
            reason = f"none of {a.firings} firings was acted on"
        else:
            reason = (
                f"only {a.actionable_rate:.0%} of {a.firings} firings were acted on "
                f"({wasted} were not)"
            )
        if a.sleep_hours:
            reason += f"; {a.sleep_hours} woke someone"
        evidence = share_evidence("acted on", a.acted_on, a.firings)
        out.append(Finding(Tuning.DELETE_OR_DEMOTE, reason, evidence,
                            t.low_actionable_rate, True))
    if a.alerts_per_incident is not None and a.alerts_per_incident > t.max_alerts_per_incident:
        evidence = share_evidence("opened an incident", a.linked_incidents, a.firings)
        out.append(Finding(
            Tuning.GROUP,
            f"{a.alerts_per_incident:.1f} firings per incident ({a.firings} for "
            f"{a.linked_incidents}): group or deduplicate them",
            evidence, 1 / t.max_alerts_per_incident, True,
        ))
    if a.flapping_episodes and a.refires / a.firings >= t.flapping_share:
        window = t.flap_window / timedelta(minutes=1)
        evidence = share_evidence(f"re-fired within {window:.0f} min", a.refires, a.firings)
        out.append(Finding(
            Tuning.ADD_HYSTERESIS,
            f"{a.refires} re-fires within {window:.0f} min of resolving, in "
            f"{a.flapping_episodes} flapping episode(s): add a 'for' duration or a resolve "
            "threshold below the firing one",
            evidence, t.flapping_share, False,
        ))
    short = t.short_firing / timedelta(minutes=1)
    if (
        a.auto_resolve_rate is not None
        and a.auto_resolve_rate >= t.high_auto_resolve_rate
        and a.median_duration_minutes is not None
        and a.median_duration_minutes <= short
    ):
        evidence = share_evidence("closed by themselves", a.auto_resolved, a.closed_known)
        out.append(Finding(
            Tuning.LENGTHEN_FOR,
            f"{a.auto_resolve_rate:.0%} resolve by themselves, median "
            f"{a.median_duration_minutes:.0f} min: require the condition for longer than "
            f"{short:.0f} min before notifying",
            evidence, t.high_auto_resolve_rate, False,
        ))
    night_share = a.sleep_acted_on / a.sleep_hours if a.sleep_hours else 1.0
    if a.actionable_rate >= t.low_actionable_rate and night_share < t.low_actionable_rate:
        evidence = share_evidence("in sleep hours acted on", a.sleep_acted_on, a.sleep_hours)
        out.append(Finding(
            Tuning.ROUTE_TO_BUSINESS_HOURS,
            f"{a.sleep_hours - a.sleep_acted_on} of {a.sleep_hours} sleep-hours interruptions "
            f"were not acted on, while {a.actionable_rate:.0%} of all firings were: page at "
            "night only on burn-rate conditions, send the rest as tickets",
            evidence, t.low_actionable_rate, True,
        ))
    return out


def decide(a: AlertNoise, t: NoiseThresholds | None = None) -> TuningRecommendation:
    """Return the one decision about the alert, its evidence and confidence."""
    t = t or NoiseThresholds()
    if a.firings < t.min_firings:
        return TuningRecommendation(
            a.alert, a.service, Tuning.KEEP,
            f"{a.firings} firing(s): too few to judge (at least {t.min_firings} are needed)",
            Confidence.LOW, f"{a.firings} firing(s)", a.noise,
        )
    found = findings(a, t)
    if not found:
        evidence = share_evidence("acted on", a.acted_on, a.firings)
        return TuningRecommendation(
            a.alert, a.service, Tuning.KEEP,
            f"{a.actionable_rate:.0%} of {a.firings} firings were acted on; nothing to change",
            share_confidence(evidence, t.low_actionable_rate, below=False),
            evidence.describe(), a.noise,
        )
    first, *others = found
    return TuningRecommendation(
        a.alert, a.service, first.action, first.reason,
        share_confidence(first.evidence, first.threshold, first.below),
        first.evidence.describe(), a.noise,
        tuple(f"{o.action.value}: {o.reason}" for o in others),
    )
