"""Time kept out of SLIs and error budgets: planned maintenance, approved change windows and
corrected incidents, applied once to the minute counts every engine returns.

Pure functions: the declarations of ``error_budget_exclusions`` in ``opsledger.yaml`` (see
:mod:`opsledger.core.budget_exclusions`) are resolved into spans of time
(:func:`declared_exclusions`), and good and total are set to zero in every minute an
applying span touches (:func:`without_excluded`) before the SLO is evaluated. Whichever
engine counted the series (DuckDB, Spark, Prometheus, the health history), the SLI, the
error budget, the burn rates, the policy decisions and the alert backtest all read the same
masked counts, so an excluded minute counts neither as good nor as bad anywhere: it is as if
it had no traffic. For time-slice budgets the allowed minutes shrink by the excluded minutes.

A minute ``[m, m + 1)`` is excluded when a span covers any part of it, the convention the
incidents' budget shares and the backtest use for impact. Change windows are read as the
patch plan reads them: the 5-field cron runs on the wall clock of the window's time zone,
and a start that a daylight-saving change skips moves forward by the gap.

The evaluation itself is :func:`opsledger.slo.objectives.evaluate_excluding`; the status
keeps what the counts said before (SLI, budget and burn rates without exclusions) and, per
exclusion, the minutes, events and bad events it took out of the SLO window. Overlapping
exclusions each count the minutes they share; the totals count them once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from opsledger.core.budget_exclusions import BudgetExclusions
from opsledger.core.config import ChangeWindow, Stakeholder
from opsledger.model.incidents import Incident
from opsledger.model.slo import MINUTE, SliSeries, Slo

BoolArray = npt.NDArray[np.bool_]
Span = tuple[datetime, datetime]
Loc = tuple[str | int, ...]


class ExclusionKind(StrEnum):
    MAINTENANCE = "maintenance"
    CHANGE_WINDOW = "change-window"
    CORRECTION = "correction"


@dataclass(frozen=True)
class Exclusion:
    """One declaration resolved into spans of time (UTC), and the SLOs it applies to."""

    kind: ExclusionKind
    name: str  # the maintenance's name, the change window's, or the incident id
    reason: str
    approved_by: str  # the approver's email, as the roster writes it
    approver: str  # their name
    approver_role: str
    spans: tuple[Span, ...]
    services: frozenset[str] = frozenset()  # empty: every service
    slos: frozenset[str] = frozenset()  # 'service/name' or a name; empty: every SLO
    where: Loc = ()  # the declaration's key in opsledger.yaml

    def applies_to(self, slo: Slo) -> bool:
        if self.services and slo.service not in self.services:
            return False
        return not self.slos or slo.key in self.slos or slo.name in self.slos

    @property
    def label(self) -> str:
        """Return the exclusion as a report names it: ``maintenance 'db-migration'``."""
        noun = {ExclusionKind.MAINTENANCE: "maintenance",
                ExclusionKind.CHANGE_WINDOW: "change window",
                ExclusionKind.CORRECTION: "correction of incident"}[self.kind]
        return f"{noun} '{self.name}'"


@dataclass(frozen=True)
class Unresolved:
    """A declaration that excludes nothing, and why (located at its key)."""

    where: Loc
    message: str


# --- resolving declarations ------------------------------------------------------------------


def window_occurrences(window: ChangeWindow, start: datetime, end: datetime) -> list[Span]:
    """Return the change window's occurrences that overlap ``[start, end)``, in UTC."""
    from croniter import croniter  # only where a change window is declared

    zone = ZoneInfo(window.timezone)
    length = timedelta(minutes=window.duration_minutes)
    after = start - length
    schedule = croniter(window.cron, after.astimezone(zone).replace(tzinfo=None))
    found: list[Span] = []
    while True:
        wall: datetime = schedule.get_next(datetime)
        begin = wall.replace(tzinfo=zone).astimezone(UTC)
        if begin >= end:
            return found
        if begin > after:
            found.append((begin, begin + length))


def declared_exclusions(
    declared: BudgetExclusions,
    windows: Sequence[ChangeWindow],
    stakeholders: Sequence[Stakeholder],
    incidents: Sequence[Incident],
    start: datetime,
    end: datetime,
) -> tuple[list[Exclusion], list[Unresolved]]:
    """Return the declarations as exclusions with their spans within ``[start, end)``, and
    the corrections that name no known incident."""
    people = {s.email.casefold(): s for s in stakeholders}
    by_window = {w.name: w for w in windows}
    by_incident = {i.id: i for i in incidents}
    found: list[Exclusion] = []
    unresolved: list[Unresolved] = []

    def person(email: str) -> tuple[str, str]:
        who = people.get(email.casefold())
        return (who.name, who.role.value) if who else ("", "")

    for index, item in enumerate(declared.maintenance):
        begin, finish = item.span()
        name, role = person(item.approved_by)
        spans = ((max(begin, start), min(finish, end)),) if begin < end and finish > start else ()
        found.append(Exclusion(ExclusionKind.MAINTENANCE, item.name, item.reason,
                               item.approved_by, name, role, spans, frozenset(item.services),
                               frozenset(item.slos), ("maintenance", index)))
    for index, entry in enumerate(declared.change_windows):
        window = by_window.get(entry.change_window)
        if window is None:  # the configuration's schema refuses this; nothing to exclude
            continue
        zone = ZoneInfo(window.timezone)
        occurrences = tuple(
            (max(b, start), min(f, end)) for b, f in window_occurrences(window, start, end)
            if (entry.valid_from is None or b.astimezone(zone).date() >= entry.valid_from)
            and (entry.valid_until is None or b.astimezone(zone).date() <= entry.valid_until)
        )
        name, role = person(entry.approved_by)
        services = entry.services or window.services
        found.append(Exclusion(ExclusionKind.CHANGE_WINDOW, window.name, entry.reason,
                               entry.approved_by, name, role, occurrences, frozenset(services),
                               frozenset(entry.slos), ("change_windows", index)))
    for index, correction in enumerate(declared.corrections):
        incident = by_incident.get(correction.incident)
        if incident is None:
            unresolved.append(Unresolved(
                ("corrections", index, "incident"),
                f"correction of incident '{correction.incident}' excludes nothing: no incident "
                "with that id was read from the incidents folder"))
            continue
        begin = incident.started_at or incident.created_at
        finish = incident.resolved_at or end
        name, role = person(correction.approved_by)
        spans = ((max(begin, start), min(finish, end)),) if begin < end and finish > start else ()
        found.append(Exclusion(ExclusionKind.CORRECTION, incident.id, correction.reason,
                               correction.approved_by, name, role, spans,
                               frozenset(correction.services or [incident.service]),
                               frozenset(correction.slos), ("corrections", index)))
    return found, unresolved


def unmatched_selectors(exclusions: Iterable[Exclusion], slos: Sequence[Slo]) -> list[Unresolved]:
    """Return one note per SLO an exclusion lists that no SLO definition matches."""
    known = {s.key for s in slos} | {s.name for s in slos}
    notes = []
    for exclusion in exclusions:
        for selector in sorted(exclusion.slos - known):
            notes.append(Unresolved(
                (*exclusion.where, "slos"),
                f"{exclusion.label} lists SLO '{selector}', which no SLO definition has "
                "(write 'service/name' or a name)"))
    return notes


# --- masking ---------------------------------------------------------------------------------


def excluded_minutes(start: datetime, minutes: int, spans: Iterable[Span]) -> BoolArray:
    """Return, for each minute from ``start``, whether any span covers part of it."""
    mask = np.zeros(minutes, dtype=np.bool_)
    for begin, finish in spans:
        first = max(int((begin - start) // MINUTE), 0)
        last = min(-int(-(finish - start) // MINUTE), minutes)
        if first < last:
            mask[first:last] = True
    return mask


def without_excluded(series: SliSeries, mask: BoolArray) -> SliSeries:
    """Return ``series`` with good and total zero in the minutes ``mask`` marks."""
    return SliSeries(series.start, np.where(mask, 0.0, series.good),
                     np.where(mask, 0.0, series.total), series.source, series.notes)


@dataclass(frozen=True)
class AppliedExclusion:
    """What one exclusion took out of one SLO's window."""

    exclusion: Exclusion
    spans: tuple[Span, ...]  # its spans within the SLO window
    minutes: int
    events: float
    bad_events: float

    def to_json(self) -> dict[str, Any]:
        item = self.exclusion
        return {
            "kind": item.kind.value,
            "name": item.name,
            "reason": item.reason,
            "approved_by": item.approved_by,
            "approver": item.approver,
            "approver_role": item.approver_role,
            "spans": [{"start": b.isoformat(), "end": f.isoformat()} for b, f in self.spans],
            "minutes": self.minutes,
            "events": self.events,
            "bad_events": self.bad_events,
        }


@dataclass(frozen=True)
class ExcludedTime:
    """The exclusions applied to one SLO and their totals in its window (each minute once).

    ``mask`` marks the excluded minutes of the series the SLO was evaluated on.
    """

    applied: tuple[AppliedExclusion, ...]
    minutes: int
    events: float
    bad_events: float
    mask: BoolArray = field(compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "minutes": self.minutes,
            "events": self.events,
            "bad_events": self.bad_events,
            "applied": [a.to_json() for a in self.applied],
        }


def touching(
    slo: Slo, series: SliSeries, exclusions: Iterable[Exclusion]
) -> list[tuple[Exclusion, BoolArray]]:
    """Return the exclusions that apply to the SLO and cover a minute of ``series``, each
    with its minutes."""
    found = []
    for exclusion in exclusions:
        if exclusion.applies_to(slo):
            mask = excluded_minutes(series.start, series.minutes, exclusion.spans)
            if mask.any():
                found.append((exclusion, mask))
    return found


def excluded_time(
    series: SliSeries, window: Span, found: Sequence[tuple[Exclusion, BoolArray]]
) -> ExcludedTime:
    """Return what the exclusions (each with its minutes of ``series``) take out of the
    SLO ``window``: minutes, events and bad events, per exclusion and in all."""
    window_start, end = window
    union = np.logical_or.reduce([mask for _, mask in found])
    in_window = np.zeros(series.minutes, dtype=np.bool_)
    in_window[series.index_of(window_start):series.index_of(end)] = True
    bad = np.clip(series.total - series.good, 0.0, None)
    applied = tuple(
        AppliedExclusion(
            exclusion,
            tuple((max(b, window_start), min(f, end)) for b, f in exclusion.spans
                  if b < end and f > window_start),
            int((mask & in_window).sum()),
            float(series.total[mask & in_window].sum()),
            float(bad[mask & in_window].sum()),
        )
        for exclusion, mask in found
    )
    return ExcludedTime(applied, int((union & in_window).sum()),
                        float(series.total[union & in_window].sum()),
                        float(bad[union & in_window].sum()), union)


def ignored_incidents(
    incidents: Iterable[Incident], slo: Slo, series_start: datetime, mask: BoolArray
) -> frozenset[str]:
    """Return the ids of the SLO's service's incidents whose whole impact is excluded: an
    alert policy cannot be asked to detect what the counts no longer show."""
    ignored = set()
    for incident in incidents:
        if incident.service != slo.service:
            continue
        begin = incident.started_at or incident.detected_at or incident.created_at
        finish = incident.resolved_at or series_start + mask.shape[0] * MINUTE
        impact = excluded_minutes(series_start, mask.shape[0], [(begin, finish)])
        if impact.any() and bool(mask[impact].all()):
            ignored.add(incident.id)
    return frozenset(ignored)

