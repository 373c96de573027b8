"""SLI, error budget, burn rates, exhaustion and budget-policy decisions for one SLO.

Pure functions over a :class:`SliSeries` (minute-bucketed good/total counts): no I/O.

Formulas (Beyer et al., *The Site Reliability Workbook*, O'Reilly 2018):

- ch. 2 "Implementing SLOs": SLI = good events / valid events; the error budget is
  ``1 - SLO`` of the events in the window (99.9% over 1,000,000 requests allows 1,000 bad);
  for time-based SLOs the budget is ``(1 - SLO) x window`` minutes (99.9% over 30 days:
  43.2 minutes).
- ch. 5 "Alerting on SLOs": burn rate = error rate over a lookback window / ``(1 - SLO)``; a
  burn rate of 1 consumes exactly the whole budget over the SLO window, so at burn rate ``b``
  a remaining fraction ``R`` of the budget lasts ``R x window / b``.
- Appendix B "Example error budget policy": when the budget is exhausted, releases stop
  except P0 issues and security fixes; an incident that consumes more than 20% of the error
  budget over four weeks requires a postmortem with at least one P0 action item.

Every status also carries the start of the newest minute holding events and, for each burn
window without events, why: "no events in the last 1h: newest event 17 h old".

Budgeting methods follow OpenSLO: *Occurrences* counts events; *Timeslices* counts slices
(``timeslice_size`` long) as good when their SLI meets ``timeslice_target``; *RatioTimeslices*
averages the per-slice ratios. Slices without events count neither way. Every comparison
with a threshold uses the unrounded value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from opsledger.core.config import ErrorBudgetPolicy
from opsledger.core.options import DEFAULT_MIN_EVENTS
from opsledger.model.incidents import Incident
from opsledger.model.slo import (
    MINUTE,
    BudgetingMethod,
    FloatArray,
    SliSeries,
    Slo,
)
from opsledger.slo.exclusions import (
    ExcludedTime,
    Exclusion,
    excluded_time,
    touching,
    without_excluded,
)

BURN_WINDOWS: dict[str, timedelta] = {
    "5m": timedelta(minutes=5),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
}
DEFAULT_CURRENT_BURN = "1h"
# An SLO still meeting its objective is at risk with less than this share of its budget left,
# or when the current burn rate exhausts the budget within AT_RISK_HORIZON.
AT_RISK_BUDGET_LEFT = 0.25
AT_RISK_HORIZON = timedelta(days=7)


@dataclass(frozen=True)
class Units:
    """Per-slice bad and total units: events (Occurrences) or slices (the timeslice methods)."""

    start: datetime
    step: timedelta
    bad: FloatArray
    total: FloatArray


def budget_units(slo: Slo, series: SliSeries) -> Units:
    """Return the series as the units the SLO's budgeting method counts.

    Occurrences: each minute's bad and total events. Timeslices: per slice, total 1 if the
    slice has events and bad 1 if its good/total is below ``timeslice_target``.
    RatioTimeslices: per slice with events, total 1 and bad ``1 - good/total``.
    """
    if slo.budgeting is BudgetingMethod.OCCURRENCES:
        return Units(series.start, MINUTE, series.total - series.good, series.total)
    width = max(1, int(slo.timeslice_size // MINUTE))
    slices = series.minutes // width
    good = series.good[: slices * width].reshape(slices, width).sum(axis=1)
    total = series.total[: slices * width].reshape(slices, width).sum(axis=1)
    has_data = total > 0
    ratio = np.divide(good, total, out=np.ones_like(good), where=has_data)
    if slo.budgeting is BudgetingMethod.TIMESLICES:
        target = slo.timeslice_target if slo.timeslice_target is not None else slo.objective
        bad = (has_data & (ratio < target)).astype(np.float64)
    else:
        bad = np.where(has_data, 1.0 - ratio, 0.0)
    return Units(series.start, width * MINUTE, bad, has_data.astype(np.float64))


@dataclass(frozen=True)
class ErrorBudget:
    """The window's error budget: allowed, consumed and remaining.

    ``remaining`` is 1.0 when untouched, 0 when exhausted, negative when overspent. Event
    figures are always in events; ``*_minutes`` are set for the timeslice methods.
    """

    allowed_fraction: float  # 1 - objective
    consumed: float
    remaining: float
    allowed_events: float
    bad_events: float
    remaining_events: float
    allowed_minutes: float | None = None
    bad_minutes: float | None = None
    remaining_minutes: float | None = None


class Standing(StrEnum):
    """Where an SLO stands against its objective, as the report groups them."""

    OFF_TARGET = "off-target"
    AT_RISK = "at-risk"
    ON_TARGET = "on-target"
    NOT_COMPUTED = "not-computed"


@dataclass(frozen=True)
class SloStatus:
    """One SLO evaluated at ``now``; numbers are None when ``valid`` is False (see ``reasons``).

    ``newest_event_at`` is the start of the newest minute with events at or before ``now``
    (None when the data read holds none); ``burn_rate_notes`` says, for each burn rate that
    is None, why. ``needs_prometheus``: the SLI is a PromQL query and no Prometheus server
    was given, so it was not computed here (Prometheus computes it from the rules that
    ``opsledger slo rules`` writes). ``exclusions``: the time left out of the counts
    (:mod:`opsledger.slo.exclusions`), and ``without_exclusions`` the status of the counts
    with it; both None when no exclusion applied.
    """

    slo: Slo
    now: datetime
    window_start: datetime
    valid: bool
    reasons: tuple[str, ...] = ()
    sli: float | None = None
    good: float | None = None
    total: float | None = None
    met: bool | None = None
    budget: ErrorBudget | None = None
    burn_rates: Mapping[str, float | None] = field(default_factory=dict)
    exhaustion_at: datetime | None = None
    newest_event_at: datetime | None = None
    burn_rate_notes: Mapping[str, str] = field(default_factory=dict)
    needs_prometheus: bool = False
    exclusions: ExcludedTime | None = None
    without_exclusions: SloStatus | None = None

    @property
    def data_age(self) -> timedelta | None:
        """Return how long before ``now`` the newest event's minute began (None: no events)."""
        return None if self.newest_event_at is None else self.now - self.newest_event_at

    def to_json(self) -> dict[str, Any]:
        """Return the ``slo status --json`` object for this SLO."""
        age = self.data_age
        standing_now, why = standing(self)
        return {
            "service": self.slo.service,
            "slo": self.slo.name,
            "objective": self.slo.objective,
            "window": self.slo.window.label,
            "sli": self.sli,
            "good": self.good,
            "total": self.total,
            "error_budget_remaining": self.budget.remaining if self.budget else None,
            "burn_rates": dict(self.burn_rates),
            "burn_rate_notes": dict(self.burn_rate_notes),
            "exhaustion_at": self.exhaustion_at.isoformat() if self.exhaustion_at else None,
            "newest_event_at": self.newest_event_at.isoformat() if self.newest_event_at else None,
            "data_age_seconds": None if age is None else int(age.total_seconds()),
            "standing": standing_now.value,
            "standing_reason": why,
            "valid": self.valid,
            "needs_prometheus": self.needs_prometheus,
            "reasons": list(self.reasons),
            "exclusions": self._exclusions_json(),
        }

    def _exclusions_json(self) -> dict[str, Any] | None:
        raw = self.without_exclusions
        if self.exclusions is None or raw is None:
            return None
        return {
            **self.exclusions.to_json(),
            "without_exclusions": {
                "sli": raw.sli,
                "good": raw.good,
                "total": raw.total,
                "met": raw.met,
                "error_budget_remaining": raw.budget.remaining if raw.budget else None,
                "burn_rates": dict(raw.burn_rates),
                "exhaustion_at": raw.exhaustion_at.isoformat() if raw.exhaustion_at else None,
                "standing": standing(raw)[0].value,
                "valid": raw.valid,
            },
        }


def standing(status: SloStatus) -> tuple[Standing, str]:
    """Return where the SLO stands and why.

    Off target: SLI below the objective, or the error budget exhausted. At risk: still met,
    but less than :data:`AT_RISK_BUDGET_LEFT` of the budget left, or the current burn rate
    exhausts it within :data:`AT_RISK_HORIZON`. On target otherwise.
    """
    if not status.valid or status.budget is None or status.sli is None:
        return Standing.NOT_COMPUTED, "; ".join(status.reasons)
    objective = status.slo.objective
    if not status.met:
        return Standing.OFF_TARGET, (
            f"SLI {status.sli:.4%} below the objective {objective:.3%}; "
            f"{status.budget.consumed:.1%} of the error budget spent"
        )
    remaining = status.budget.remaining
    if remaining <= 0:
        return Standing.OFF_TARGET, f"error budget exhausted ({status.budget.consumed:.1%} spent)"
    if remaining < AT_RISK_BUDGET_LEFT:
        return Standing.AT_RISK, (
            f"{remaining:.1%} of the error budget left (under {AT_RISK_BUDGET_LEFT:.0%})"
        )
    when = status.exhaustion_at
    if when is not None and when - floor_minute(status.now) <= AT_RISK_HORIZON:
        return Standing.AT_RISK, (
            f"the {DEFAULT_CURRENT_BURN} burn rate exhausts the budget by "
            f"{when:%Y-%m-%d %H:%M} (within {AT_RISK_HORIZON.days} days)"
        )
    return Standing.ON_TARGET, f"SLI {status.sli:.4%} meets the objective {objective:.3%}"


def newest_event_at(series: SliSeries) -> datetime | None:
    """Return the start of the newest minute in ``series`` with events (None: no events)."""
    counted = np.flatnonzero(series.total > 0)
    return series.start + int(counted[-1]) * MINUTE if counted.size else None


def format_age(age: timedelta) -> str:
    """Return ``age`` for people, to the minute: ``45 min``, ``17 h 5 min``, ``3 d 4 h``."""
    minutes = max(int(age // MINUTE), 0)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def burn_rate_notes(
    slo: Slo,
    rates: Mapping[str, float | None],
    newest: datetime | None,
    now: datetime,
    window_start: datetime,
) -> dict[str, str]:
    """Return why each burn rate in ``rates`` that is None could not be computed."""
    end = floor_minute(now)
    notes = {}
    for name, rate in rates.items():
        if rate is not None:
            continue
        span = end - window_start if name == "window" else BURN_WINDOWS[name]
        where = f"the {slo.window.label} window" if name == "window" else f"the last {name}"
        if newest is None:
            notes[name] = f"no events in {where}: none in the data read"
        elif newest < end - span:
            notes[name] = f"no events in {where}: newest event {format_age(now - newest)} old"
        else:
            size = format_age(slo.timeslice_size)
            notes[name] = f"no complete {size} time slice with events in {where}"
    return notes


def evaluation_span(slo: Slo, now: datetime) -> tuple[datetime, datetime]:
    """Return the minute-aligned span of data needed: the window and the longest burn window."""
    end = floor_minute(now)
    start = min(slo.window.start_at(end), end - max(BURN_WINDOWS.values()))
    return floor_minute(start), end


def floor_minute(when: datetime) -> datetime:
    return when.replace(second=0, microsecond=0)


def evaluate(
    slo: Slo,
    series: SliSeries,
    now: datetime,
    min_events: int = DEFAULT_MIN_EVENTS,
    current_burn: str = DEFAULT_CURRENT_BURN,
    excluded_time: timedelta = timedelta(0),
) -> SloStatus:
    """Return the SLO's status at ``now`` from ``series`` (which should cover the window).

    An SLO whose window holds fewer than ``min_events`` events is invalid: it has reasons and
    no numbers. ``excluded_time``: the part of the window left out of the counts, which a
    time-slice budget does not allow minutes for.
    """
    end = floor_minute(now)
    start = slo.window.start_at(end)
    newest = newest_event_at(series.between(series.start, end))
    window = series.between(start, end)
    good, total = float(window.good.sum()), float(window.total.sum())
    reasons = []
    if total < min_events:
        reasons.append(
            f"{total:g} events in the window since {start.isoformat()}; at least {min_events} "
            "are needed"
        )
    if (window.good > window.total + 1e-9).any():
        reasons.append("more good than total events in some minutes: check the SLI definition")
    covered = window.minutes * MINUTE
    if covered < (end - start) / 2:
        reasons.append(f"data covers only {covered} of the {end - start} window")
    if reasons:
        return SloStatus(
            slo, now, start, valid=False, reasons=tuple(reasons), newest_event_at=newest
        )
    units = budget_units(slo, window)
    bad_units, total_units = float(units.bad.sum()), float(units.total.sum())
    sli = 1.0 - bad_units / total_units if total_units else None
    if sli is None:
        return SloStatus(
            slo, now, start, False, ("no time slice in the window has events",),
            newest_event_at=newest,
        )
    budget = error_budget(slo, units, good, total, end - start - excluded_time)
    rates = burn_rates(slo, budget_units(slo, series), end, start)
    exhaustion = exhaustion_time(slo, units, budget, rates.get(current_burn), end)
    return SloStatus(
        slo,
        now,
        start,
        valid=True,
        sli=sli,
        good=good,
        total=total,
        met=sli >= slo.objective,
        budget=budget,
        burn_rates=rates,
        exhaustion_at=exhaustion,
        newest_event_at=newest,
        burn_rate_notes=burn_rate_notes(slo, rates, newest, now, start),
    )


def evaluate_excluding(
    slo: Slo,
    series: SliSeries,
    now: datetime,
    exclusions: Sequence[Exclusion],
    min_events: int = DEFAULT_MIN_EVENTS,
) -> tuple[SloStatus, SliSeries]:
    """Return the SLO's status with the minutes of the exclusions that apply left out, and
    the counts it was computed from (those minutes with good and total zero).

    Without such an exclusion this is :func:`evaluate` on ``series``. With one, the status
    carries what was excluded and ``without_exclusions``, the status of ``series`` as
    counted; its newest event is the newest read, and a burn rate with every minute of its
    lookback excluded says so.
    """
    found = touching(slo, series, exclusions)
    if not found:
        return evaluate(slo, series, now, min_events=min_events), series
    end = floor_minute(now)
    window_start = slo.window.start_at(end)
    excluded = excluded_time(series, (window_start, end), found)
    kept = without_excluded(series, excluded.mask)
    status = evaluate(slo, kept, now, min_events=min_events,
                      excluded_time=excluded.minutes * MINUTE)
    raw = evaluate(slo, series, now, min_events=min_events)
    notes = burn_rate_notes(slo, status.burn_rates, raw.newest_event_at, now, window_start)
    for name in list(notes):
        if raw.burn_rates.get(name) is not None:
            where = f"the {slo.window.label} window" if name == "window" else f"the last {name}"
            notes[name] = f"every minute with events in {where} is excluded from the budget"
    status = replace(status, exclusions=excluded, without_exclusions=raw,
                     newest_event_at=raw.newest_event_at, burn_rate_notes=notes)
    return status, kept


def error_budget(
    slo: Slo, units: Units, good: float, total: float, window_length: timedelta
) -> ErrorBudget:
    """Return the budget: consumed = bad units / ((1 - SLO) x total units) (Workbook ch. 2)."""
    allowed_fraction = slo.error_budget
    bad_events = total - good
    allowed_events = allowed_fraction * total
    if slo.budgeting is BudgetingMethod.OCCURRENCES:
        consumed = bad_events / allowed_events if allowed_events else 0.0
        return ErrorBudget(
            allowed_fraction,
            consumed,
            1.0 - consumed,
            allowed_events,
            bad_events,
            allowed_events - bad_events,
        )
    slice_minutes = units.step / MINUTE
    allowed_minutes = allowed_fraction * (window_length / MINUTE)
    bad_minutes = float(units.bad.sum()) * slice_minutes
    # Budget as a share of the time slices that had traffic, so SLI and budget agree.
    allowed_units = allowed_fraction * float(units.total.sum())
    consumed = float(units.bad.sum()) / allowed_units if allowed_units else 0.0
    return ErrorBudget(
        allowed_fraction,
        consumed,
        1.0 - consumed,
        allowed_events,
        bad_events,
        allowed_events - bad_events,
        allowed_minutes,
        bad_minutes,
        allowed_minutes * (1.0 - consumed),
    )


def burn_rate(
    units: Units, begin: datetime, end: datetime, allowed_fraction: float
) -> float | None:
    """Return bad/total over ``[begin, end)`` divided by ``1 - SLO``; None without events."""
    i = _index(units, begin)
    j = _index(units, end)
    total = float(units.total[i:j].sum())
    if total <= 0:
        return None
    return float(units.bad[i:j].sum()) / total / allowed_fraction


def _index(units: Units, when: datetime) -> int:
    offset = (when - units.start) // units.step
    return int(min(max(offset, 0), units.total.shape[0]))


def burn_rates(
    slo: Slo, units: Units, end: datetime, window_start: datetime
) -> dict[str, float | None]:
    """Return event-weighted burn rates for each lookback in :data:`BURN_WINDOWS` and the window."""
    rates = {
        name: burn_rate(units, end - span, end, slo.error_budget)
        for name, span in BURN_WINDOWS.items()
    }
    rates["window"] = burn_rate(units, window_start, end, slo.error_budget)
    return rates


def exhaustion_time(
    slo: Slo, units: Units, budget: ErrorBudget, current: float | None, end: datetime
) -> datetime | None:
    """Return when the budget runs out at the current burn rate, or when it already did.

    Remaining fraction ``R`` at burn rate ``b`` lasts ``R x window / b`` (Workbook ch. 5). For
    an exhausted budget, the minute the cumulative consumption crossed 100%. None when the
    burn is zero or unknown, or a calendar window closes first.
    """
    if budget.remaining <= 0:
        allowed = slo.error_budget * float(units.total.sum())
        crossed = np.flatnonzero(np.cumsum(units.bad) >= allowed)
        return units.start + int(crossed[0]) * units.step + units.step if crossed.size else end
    if current is None or current <= 0:
        return None
    when = end + budget.remaining * slo.window.duration / current
    if not slo.window.rolling and when > slo.window.end_of_period(end):
        return None
    return when.replace(microsecond=0)


# --- error budget policy ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyDecision:
    """A decision the error budget policy takes for one SLO."""

    slo: str  # service/name
    kind: str  # release_freeze | postmortem_required | policy_step
    reason: str
    action: str
    incident_id: str | None = None
    budget_consumed: float | None = None


def incident_budget_share(
    slo: Slo, series: SliSeries, incident: Incident, window_start: datetime, end: datetime
) -> float | None:
    """Return the share of the window's error budget consumed during the incident's impact.

    Impact runs from ``started_at`` (else ``created_at``) to ``resolved_at`` (else ``end``).
    """
    begin = max(incident.started_at or incident.created_at, window_start)
    finish = min(incident.resolved_at or end, end)
    if finish <= begin:
        return None
    window = series.between(window_start, end)
    units = budget_units(slo, window)
    allowed = slo.error_budget * float(units.total.sum())
    if allowed <= 0:
        return None
    i, j = _index(units, floor_minute(begin)), _index(units, finish)
    j = max(j, i + 1) if units.step == MINUTE else j
    return float(units.bad[i:j].sum()) / allowed


def policy_decisions(
    status: SloStatus,
    series: SliSeries,
    incidents: Iterable[Incident],
    policy: ErrorBudgetPolicy | None = None,
) -> list[PolicyDecision]:
    """Return the error budget policy's decisions for one evaluated SLO (Workbook app. B)."""
    policy = policy or ErrorBudgetPolicy()
    slo = status.slo
    if not status.valid or status.budget is None:
        return []
    decisions = []
    end = floor_minute(status.now)
    if policy.freeze_when_exhausted and status.budget.remaining <= 0:
        allows = " and ".join(policy.freeze_allows) or "nothing"
        decisions.append(
            PolicyDecision(
                slo.key,
                "release_freeze",
                f"error budget exhausted ({status.budget.consumed:.1%} consumed)",
                f"freeze releases except {allows} until the budget recovers",
                budget_consumed=status.budget.consumed,
            )
        )
    for incident in incidents:
        if incident.service != slo.service:
            continue
        share = incident_budget_share(slo, series, incident, status.window_start, end)
        if share is not None and share > policy.single_incident_postmortem_fraction:
            decisions.append(
                PolicyDecision(
                    slo.key,
                    "postmortem_required",
                    f"incident {incident.id} consumed {share:.1%} of the error budget "
                    f"(more than {policy.single_incident_postmortem_fraction:.0%})",
                    "write a postmortem with at least one P0 action item",
                    incident_id=incident.id,
                    budget_consumed=share,
                )
            )
    units = budget_units(slo, series)
    for step in slo.error_budget_policy:
        rate = burn_rate(units, end - step.window, end, slo.error_budget)
        if rate is not None and rate >= step.burn_rate_threshold:
            decisions.append(
                PolicyDecision(
                    slo.key,
                    "policy_step",
                    f"{step.name}: burn rate {rate:.2f} >= {step.burn_rate_threshold:g}",
                    step.message_alert or ("page" if step.alert else "review"),
                )
            )
    return decisions


def budget_burndown(
    status: SloStatus, series: SliSeries, points: int = 200
) -> dict[str, list[Any]]:
    """Return the remaining budget over the window, sampled at up to ``points`` times."""
    if not status.valid or status.budget is None:
        return {"time": [], "remaining": []}
    end = floor_minute(status.now)
    units = budget_units(status.slo, series.between(status.window_start, end))
    allowed = status.slo.error_budget * float(units.total.sum())
    remaining = 1.0 - np.cumsum(units.bad) / allowed if allowed else np.ones_like(units.bad)
    count = remaining.shape[0]
    picks: list[int] = (
        sorted({int(i) for i in np.linspace(0, count - 1, num=min(points, count))}) if count else []
    )
    return {
        "time": [(units.start + (i + 1) * units.step).isoformat() for i in picks],
        "remaining": [round(float(remaining[i]), 6) for i in picks],
    }
