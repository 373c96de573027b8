"""Replay burn-rate alert policies over minute-resolution SLI history and score them.

The incident history is the ground truth. For every SLO and policy this module finds when
the policy would have fired (vectorised: rolling sums are differences of cumulative sums,
computed once per window and shared by every condition and policy), then scores the
firings against the incidents: precision, recall, mean detection time, reset time (how
long an alert keeps firing after the incident ends), alerts per week and the share of the
period's error budget spent before detection. It recommends one policy per SLO, says why and
how surely (:mod:`opsledger.slo.policy_choice`), and chooses none without incidents.

Time convention: minute ``i`` of a series covers ``[start + i, start + i + 1)``. A
condition evaluated with data up to the end of minute ``i`` is known at ``i + 1``, so an
alert that first holds at minute ``i`` fires at ``i + 1`` — as a rule evaluated every minute
would. Windows at the start of a history use the minutes available (as a Prometheus range
does), and a window with no events never fires (the ratio is undefined).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from opsledger.model.incidents import Incident
from opsledger.model.slo import SliSeries, Slo
from opsledger.model.status import SkippedResult
from opsledger.slo.alerting import (
    AlertPolicy,
    AlertSeverity,
    default_policies,
    policy_from_steps,
)
from opsledger.slo.policy_choice import (
    DEFAULT_MAX_ALERTS_PER_WEEK as DEFAULT_MAX_ALERTS_PER_WEEK,
)
from opsledger.slo.policy_choice import Recommendation as Recommendation
from opsledger.slo.policy_choice import recommend as recommend

FloatMatrix = npt.NDArray[np.float64]
BoolMatrix = npt.NDArray[np.bool_]
MINUTES_PER_WEEK = 7 * 24 * 60
DEFAULT_ATTRIBUTION_MINUTES = 60  # an alert starting this soon after an incident still counts


@dataclass(frozen=True)
class IncidentWindow:
    """An incident as ground truth: impact from ``start`` until ``end`` (resolution)."""

    id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class AlertEpisode:
    """One firing of a policy: in minutes from the series start, ``[fired_at, resolved_at)``."""

    severity: AlertSeverity
    fired_at: int
    resolved_at: int
    still_firing: bool = False  # still firing when the history ends


@dataclass(frozen=True)
class IncidentOutcome:
    incident_id: str
    detected: bool
    detection_minutes: float | None  # from impact start to the first firing
    reset_minutes: float | None  # from resolution to the last overlapping alert's end
    budget_before_detection: float | None  # share of the period's budget spent undetected
    budget_spent: float  # share of the period's budget spent during the incident


@dataclass(frozen=True)
class PolicyScore:
    """How one policy would have done on one SLO's history."""

    policy: str
    alerts: int
    pages: int
    tickets: int
    alerts_per_week: float
    pages_per_week: float
    true_alerts: int
    precision: float | None  # None: the policy never fired
    recall: float | None  # None: no incidents to detect
    incidents: int
    detected: int
    mean_detection_minutes: float | None
    mean_reset_minutes: float | None
    mean_budget_before_detection: float | None
    outcomes: tuple[IncidentOutcome, ...]
    episodes: tuple[AlertEpisode, ...]


@dataclass(frozen=True)
class SloBacktest:
    slo: str
    objective: float
    window_days: int
    minutes: int
    scores: tuple[PolicyScore, ...]
    recommendation: Recommendation

    def score(self, policy: str) -> PolicyScore:
        return next(s for s in self.scores if s.policy == policy)


@dataclass(frozen=True)
class SkippedBacktest(SkippedResult):
    """A backtest that could not be run, and why."""

    slo: str
    reason: str
    needs_prometheus: bool = False  # a PromQL SLI and no Prometheus server was given


BacktestResult = SloBacktest | SkippedBacktest
# Fixed policies, or a function of the SLO window in days (so budget fractions rescale).
PolicyChoice = Sequence[AlertPolicy] | Callable[[int], Sequence[AlertPolicy]]


def _policies_for(policies: PolicyChoice | None, window_days: int) -> tuple[AlertPolicy, ...]:
    if policies is None:
        return default_policies(window_days)
    return tuple(policies(window_days) if callable(policies) else policies)


# --- firing: vectorised over SLOs (rows) and minutes (columns) -----------------------------


class BufferPool:
    """Scratch arrays reused from batch to batch.

    A batch run needs the same large shapes again and again; faulting in fresh memory for
    each costs more than the arithmetic done in it.
    """

    def __init__(self) -> None:
        self._arrays: dict[object, npt.NDArray[Any]] = {}

    def get(self, key: object, rows: int, columns: int, dtype: type = np.float64) -> Any:
        have = self._arrays.get(key)
        if have is None or have.dtype != dtype or have.shape[1] != columns or len(have) < rows:
            have = np.empty((rows, columns), dtype=dtype)
            self._arrays[key] = have
        return have[:rows]


class RollingSums:
    """Trailing-window error ratios per minute, computed once per window and shared."""

    def __init__(
        self, bad: FloatMatrix, total: FloatMatrix, pool: BufferPool | None = None
    ) -> None:
        self.pool = pool or BufferPool()
        self.rows, self.minutes = total.shape
        self.bad_cumsum = _cumsum(bad, self.pool.get("bad_cumsum", self.rows, self.minutes + 1))
        self.total_cumsum = _cumsum(
            total, self.pool.get("total_cumsum", self.rows, self.minutes + 1)
        )
        self._ratios: dict[int, FloatMatrix] = {}

    def window(self, minutes: int) -> tuple[FloatMatrix, FloatMatrix]:
        """Return (bad, total) summed over the ``minutes`` ending at each minute."""
        return _trailing(self.bad_cumsum, minutes), _trailing(self.total_cumsum, minutes)

    def error_ratio(self, minutes: int) -> FloatMatrix:
        """Return bad/total over the ``minutes`` ending at each minute (NaN: no events)."""
        if minutes not in self._ratios:
            ratio = _trailing(
                self.bad_cumsum, minutes, self.pool.get(("ratio", minutes), self.rows, self.minutes)
            )
            total = _trailing(
                self.total_cumsum, minutes, self.pool.get("total", self.rows, self.minutes)
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(ratio, total, out=ratio)
            self._ratios[minutes] = ratio
        return self._ratios[minutes]


def _cumsum(values: FloatMatrix, out: FloatMatrix | None = None) -> FloatMatrix:
    """Return cumulative sums with a leading zero column: ``out[:, i]`` = sum of minutes < i."""
    if out is None:
        out = np.empty((values.shape[0], values.shape[1] + 1), dtype=np.float64)
    out[:, 0] = 0.0
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def _trailing(cumsum: FloatMatrix, minutes: int, out: FloatMatrix | None = None) -> FloatMatrix:
    """Return sums over the trailing ``minutes`` (fewer at the start of the history)."""
    length = cumsum.shape[1] - 1
    summed = np.empty((cumsum.shape[0], length), dtype=np.float64) if out is None else out
    head = min(minutes, length)
    summed[:, :head] = cumsum[:, 1 : head + 1]
    if minutes < length:
        np.subtract(
            cumsum[:, minutes + 1 :], cumsum[:, 1 : length - minutes + 1], out=summed[:, minutes:]
        )
    return summed


def firing(
    sums: RollingSums, objectives: npt.NDArray[np.float64], policy: AlertPolicy
) -> dict[AlertSeverity, BoolMatrix]:
    """Return, per severity, whether the policy holds at each minute of each row.

    The returned arrays are scratch space of ``sums.pool``: use them before the next call.
    """
    budgets = (1.0 - objectives)[:, None]
    result: dict[AlertSeverity, BoolMatrix] = {}
    above = sums.pool.get("above", sums.rows, sums.minutes, np.bool_)
    for number, condition in enumerate(policy.conditions):
        holds = sums.pool.get(("holds", number), sums.rows, sums.minutes, np.bool_)
        for i, minutes in enumerate(condition.windows):
            # Compared unrounded, as the alert rule does; NaN (no events) is never above.
            target = holds if i == 0 else above
            np.greater(sums.error_ratio(minutes), condition.burn_rate * budgets, out=target)
            if i:
                np.logical_and(holds, above, out=holds)
        previous = result.get(condition.severity)
        if previous is None:
            result[condition.severity] = holds
        else:
            np.logical_or(previous, holds, out=previous)
    return result


def episodes_by_row(
    fired: Mapping[AlertSeverity, BoolMatrix],
) -> list[list[AlertEpisode]]:
    """Return each row's alert episodes (all severities), ordered by firing time."""
    rows, minutes = next(iter(fired.values())).shape
    found: list[list[AlertEpisode]] = [[] for _ in range(rows)]
    padded = np.zeros((rows, minutes + 2), dtype=np.bool_)
    for severity, matrix in fired.items():
        # Each row is padded with False on both sides, so its changes pair up start/end
        # and never cross into the next row.
        padded[:, 1:-1] = matrix
        changes = np.flatnonzero(padded[:, 1:] != padded[:, :-1])
        starts, ends = changes[0::2], changes[1::2]
        width = minutes + 1
        for row, first, stop in zip(
            (starts // width).tolist(),
            (starts % width).tolist(),
            (ends % width).tolist(),
            strict=True,
        ):
            found[row].append(AlertEpisode(severity, first + 1, stop + 1, stop == minutes))
    for episodes in found:
        episodes.sort(key=lambda e: (e.fired_at, e.severity.value))
    return found


# --- scoring ---------------------------------------------------------------------------


def score_policy(
    policy: str,
    episodes: Sequence[AlertEpisode],
    incidents: Sequence[tuple[str, int, int]],
    bad_cumsum: npt.NDArray[np.float64],
    period_budget_events: float,
    minutes: int,
    attribution_minutes: int = DEFAULT_ATTRIBUTION_MINUTES,
) -> PolicyScore:
    """Return the score of ``episodes`` against incidents given as (id, start, end) minutes."""
    weeks = minutes / MINUTES_PER_WEEK
    true_alerts = sum(
        1
        for e in episodes
        if any(
            e.fired_at < end + attribution_minutes and e.resolved_at > start
            for _, start, end in incidents
        )
    )
    outcomes = [
        _outcome(iid, start, end, episodes, bad_cumsum, period_budget_events)
        for iid, start, end in incidents
    ]
    detected = [o for o in outcomes if o.detected]
    pages = sum(1 for e in episodes if e.severity is AlertSeverity.PAGE)
    return PolicyScore(
        policy=policy,
        alerts=len(episodes),
        pages=pages,
        tickets=len(episodes) - pages,
        alerts_per_week=len(episodes) / weeks if weeks else 0.0,
        pages_per_week=pages / weeks if weeks else 0.0,
        true_alerts=true_alerts,
        precision=true_alerts / len(episodes) if episodes else None,
        recall=len(detected) / len(outcomes) if outcomes else None,
        incidents=len(outcomes),
        detected=len(detected),
        mean_detection_minutes=_mean(o.detection_minutes for o in detected),
        mean_reset_minutes=_mean(o.reset_minutes for o in detected),
        mean_budget_before_detection=_mean(o.budget_before_detection for o in detected),
        outcomes=tuple(outcomes),
        episodes=tuple(episodes),
    )


def _outcome(
    incident_id: str,
    start: int,
    end: int,
    episodes: Sequence[AlertEpisode],
    bad_cumsum: npt.NDArray[np.float64],
    period_budget_events: float,
) -> IncidentOutcome:
    last = bad_cumsum.shape[0] - 1

    def spent(a: int, b: int) -> float:
        a, b = min(max(a, 0), last), min(max(b, 0), last)
        return float(bad_cumsum[b] - bad_cumsum[a]) / period_budget_events

    overlapping = [e for e in episodes if e.fired_at < end and e.resolved_at > start]
    if not overlapping:
        return IncidentOutcome(incident_id, False, None, None, None, spent(start, end))
    detection = max(overlapping[0].fired_at, start)
    resolved = max(e.resolved_at for e in overlapping)
    return IncidentOutcome(
        incident_id,
        True,
        float(detection - start),
        float(max(resolved - end, 0)),
        spent(start, detection),
        spent(start, end),
    )


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


# --- entry points ------------------------------------------------------------------------


@dataclass(frozen=True)
class BacktestInput:
    """One SLO's history: per-minute good and total counts from ``start``."""

    slo: str
    objective: float
    window_days: int
    start: datetime
    good: npt.NDArray[np.float64]
    total: npt.NDArray[np.float64]
    incidents: tuple[IncidentWindow, ...] = ()


def backtest_many(
    inputs: Sequence[BacktestInput],
    policies: PolicyChoice | None = None,
    max_alerts_per_week: float = DEFAULT_MAX_ALERTS_PER_WEEK,
    attribution_minutes: int = DEFAULT_ATTRIBUTION_MINUTES,
    chunk: int = 16,
) -> list[BacktestResult]:
    """Return one backtest per input, in order; SLOs of equal length are replayed together.

    ``policies`` None: the defaults for each SLO's window (factors rescaled per window); a
    function: called with each window length in days.
    """
    results: dict[int, BacktestResult] = {}
    groups: dict[tuple[int, int], list[int]] = {}
    pool = BufferPool()
    for i, item in enumerate(inputs):
        problem = _input_problem(item)
        if problem:
            results[i] = SkippedBacktest(item.slo, problem)
        else:
            groups.setdefault((item.good.shape[0], item.window_days), []).append(i)
    for (_, window_days), members in groups.items():
        chosen = _policies_for(policies, window_days)
        for offset in range(0, len(members), chunk):
            batch = [inputs[i] for i in members[offset : offset + chunk]]
            for i, result in zip(
                members[offset : offset + chunk],
                _backtest_batch(batch, chosen, max_alerts_per_week, attribution_minutes, pool),
                strict=True,
            ):
                results[i] = result
    return [results[i] for i in range(len(inputs))]


def _input_problem(item: BacktestInput) -> str:
    if item.good.shape != item.total.shape or item.total.ndim != 1:
        return "good and total series differ in shape"
    if item.total.shape[0] == 0:
        return "no SLI history"
    if not 0 < item.objective < 1:
        return f"objective {item.objective} is not between 0 and 1"
    if item.window_days <= 0:
        return "the SLO window must be at least one day"
    if not np.all(np.isfinite(item.total)) or not np.all(np.isfinite(item.good)):
        return "the SLI history holds missing or infinite counts"
    if float(item.total.sum()) <= 0:
        return "no events in the SLI history"
    return ""


def _backtest_batch(
    batch: Sequence[BacktestInput],
    policies: Sequence[AlertPolicy],
    max_alerts_per_week: float,
    attribution_minutes: int,
    pool: BufferPool | None = None,
) -> list[SloBacktest]:
    pool = pool or BufferPool()
    minutes = batch[0].total.shape[0]
    total = pool.get("input_total", len(batch), minutes)
    bad = pool.get("input_bad", len(batch), minutes)
    for row, item in enumerate(batch):
        total[row] = item.total
        np.subtract(item.total, item.good, out=bad[row])
    np.maximum(bad, 0.0, out=bad)
    sums = RollingSums(bad, total, pool)
    objectives = np.array([b.objective for b in batch], dtype=np.float64)
    per_policy = [episodes_by_row(firing(sums, objectives, p)) for p in policies]
    results = []
    for row, item in enumerate(batch):
        incidents = _incident_minutes(item.incidents, item.start, minutes)
        # The period's budget in events, at the history's mean traffic.
        per_minute = float(sums.total_cumsum[row, -1]) / minutes
        budget = (1.0 - item.objective) * per_minute * item.window_days * 24 * 60
        scores = tuple(
            score_policy(
                policy.name,
                found[row],
                incidents,
                sums.bad_cumsum[row],
                budget,
                minutes,
                attribution_minutes,
            )
            for policy, found in zip(policies, per_policy, strict=True)
        )
        results.append(
            SloBacktest(
                item.slo,
                item.objective,
                item.window_days,
                minutes,
                scores,
                recommend(scores, max_alerts_per_week, minutes),
            )
        )
    return results


def _incident_minutes(
    incidents: Iterable[IncidentWindow], start: datetime, minutes: int
) -> list[tuple[str, int, int]]:
    """Return incidents overlapping the history as (id, start, end) minute offsets."""
    out = []
    for incident in incidents:
        first = int((incident.start - start) // timedelta(minutes=1))
        # Resolution inside a minute still counts that minute as impacted.
        last = -int(-(incident.end - start) // timedelta(minutes=1))
        if last <= 0 or first >= minutes:
            continue
        out.append((incident.id, max(first, 0), min(max(last, first + 1), minutes)))
    return out


def backtest_series(
    slo: str,
    objective: float,
    window_days: int,
    start: datetime,
    good: npt.NDArray[np.float64],
    total: npt.NDArray[np.float64],
    incidents: Sequence[IncidentWindow] = (),
    policies: Sequence[AlertPolicy] | None = None,
    max_alerts_per_week: float = DEFAULT_MAX_ALERTS_PER_WEEK,
) -> BacktestResult:
    """Return the backtest of one SLO's history."""
    item = BacktestInput(slo, objective, window_days, start, good, total, tuple(incidents))
    return backtest_many([item], policies, max_alerts_per_week)[0]


def incident_windows(
    incidents: Iterable[Incident], service: str, history_end: datetime
) -> tuple[IncidentWindow, ...]:
    """Return the service's incidents as ground truth; an open incident lasts to the end."""
    windows = []
    for incident in incidents:
        if incident.service != service:
            continue
        start = incident.started_at or incident.detected_at or incident.created_at
        end = incident.resolved_at or history_end
        if end > start:
            windows.append(IncidentWindow(incident.id, start, end))
    return tuple(sorted(windows, key=lambda w: w.start))


def backtest_slos(
    histories: Sequence[tuple[Slo, SliSeries]],
    incidents: Sequence[Incident],
    policies: PolicyChoice | None = None,
    max_alerts_per_week: float = DEFAULT_MAX_ALERTS_PER_WEEK,
    ignored: Mapping[str, Collection[str]] | None = None,
) -> list[BacktestResult]:
    """Return a backtest per SLO, scored against that service's incidents.

    With ``policies`` None each SLO is replayed with the defaults for its window plus, when
    its definition carries slo-generator error budget steps, those steps as a policy.
    ``ignored``: per SLO key, the ids of incidents that are no ground truth for it (their
    impact is excluded from its counts).
    """
    inputs = []
    extra: dict[int, AlertPolicy] = {}
    for i, (slo, series) in enumerate(histories):
        skipped = (ignored or {}).get(slo.key, ())
        truth = [incident for incident in incidents if incident.id not in skipped]
        inputs.append(
            BacktestInput(
                slo.key,
                slo.objective,
                slo.window.days,
                series.start,
                series.good,
                series.total,
                incident_windows(truth, slo.service, series.end),
            )
        )
        if policies is None and slo.error_budget_policy:
            extra[i] = policy_from_steps(slo.error_budget_policy, slo.window.days)
    if policies is not None or not extra:
        return backtest_many(inputs, policies, max_alerts_per_week)
    # SLOs sharing a window and a step policy are replayed together.
    groups: dict[tuple[int, AlertPolicy | None], list[int]] = {}
    for i, item in enumerate(inputs):
        groups.setdefault((item.window_days, extra.get(i)), []).append(i)
    results: dict[int, BacktestResult] = {}
    for (window_days, steps), members in groups.items():
        chosen = default_policies(window_days) + ((steps,) if steps else ())
        batch = backtest_many([inputs[i] for i in members], chosen, max_alerts_per_week)
        results.update(zip(members, batch, strict=True))
    return [results[i] for i in range(len(inputs))]
