"""Per-service availability and latency from the probe history, compared with SLO budgets.

Definitions (all over the half-open window ``[start, end)``):

- *availability* = probes that passed / probes run, per check and for the service overall
  (every probe of every check counts once);
- *latency percentiles* are taken over the latencies of **passing** probes, because a
  failed probe's latency is a timeout or a fast refusal and says nothing about how fast
  the service answers; they use numpy's ``percentile`` with ``method="linear"`` (Hyndman &
  Fan definition 7, numpy's default);
- the *longest failing streak* is the longest run of consecutive failed probes of one
  check: from the first failed probe to the first passing probe after it (or to the last
  failed probe when the check is still failing at the window's end);
- the service *meets* its budget when availability >= the objective and, if a latency
  objective is set, p95 <= ``latency_p95_ms``. Comparisons use unrounded values.

A service with fewer than ``min_probes`` probes in the window is reported as skipped with
the reason, not as 0 % or 100 % available.

Probes are counted by column (:class:`~opsledger.model.health.ProbeHistory`): the window's
probes are sorted once by service, check and time (ties in reading order), and each
service's counts, streaks and percentiles are taken from its slice of those columns. A list
of :class:`~opsledger.model.health.ProbeResult` gives the same results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np

from opsledger.core.config import SloBudget
from opsledger.model.health import ProbeHistory, ProbeResult
from opsledger.model.status import SkippedResult

Probes = Iterable[ProbeResult] | ProbeHistory

MIN_PROBES = 10
PERCENTILE_METHOD = "linear"  # numpy.percentile's method, recorded with each summary


class BudgetStatus(StrEnum):
    MET = "met"
    BREACHED = "breached"
    NOT_SET = "not-set"  # no objective for this dimension


@dataclass(frozen=True)
class CheckAvailability:
    check: str
    probes: int
    ok_probes: int

    @property
    def availability(self) -> float:
        return self.ok_probes / self.probes


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of passing probes' latency, in milliseconds."""

    samples: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    method: str = PERCENTILE_METHOD


@dataclass(frozen=True)
class FailingStreak:
    check: str
    start: datetime
    end: datetime
    probes: int
    ongoing: bool  # still failing at the last probe in the window

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


@dataclass(frozen=True)
class ServiceHealth:
    """One service's health over the window, and how it compares with its budget."""

    service: str
    window_start: datetime
    window_end: datetime
    probes: int
    ok_probes: int
    checks: tuple[CheckAvailability, ...]
    latency: LatencySummary | None  # None when no passing probe reported a latency
    longest_failing_streak: FailingStreak | None  # None when no probe failed
    availability_objective: float
    latency_objective_ms: float | None
    availability_status: BudgetStatus
    latency_status: BudgetStatus

    @property
    def availability(self) -> float:
        return self.ok_probes / self.probes

    @property
    def status(self) -> BudgetStatus:
        """Return BREACHED when either objective is breached, else MET."""
        if BudgetStatus.BREACHED in (self.availability_status, self.latency_status):
            return BudgetStatus.BREACHED
        return BudgetStatus.MET

    skipped = False


@dataclass(frozen=True)
class SkippedServiceHealth(SkippedResult):
    """A service whose health could not be judged, with the reason."""

    service: str
    window_start: datetime
    window_end: datetime
    probes: int
    reason: str


HealthResult = ServiceHealth | SkippedServiceHealth


def latency_summary(latencies: np.ndarray) -> LatencySummary | None:
    """Return p50/p95/p99 of ``latencies`` (NaN ignored), or ``None`` when there are none."""
    values = np.asarray(latencies, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    p50, p95, p99 = np.percentile(values, [50.0, 95.0, 99.0], method="linear")
    return LatencySummary(int(values.size), float(p50), float(p95), float(p99))


def longest_failing_streak(check: str, probes: Probes) -> FailingStreak | None:
    """Return the longest run of consecutive failures in time-ordered ``probes`` of a check."""
    history = ProbeHistory.of(probes)
    starts = np.zeros(len(history), dtype=np.bool_)
    starts[:1] = True
    return _longest_streak(history, starts, check)


def _longest_streak(
    history: ProbeHistory, group_starts: np.ndarray, check: str | None = None
) -> FailingStreak | None:
    """Return the longest failing streak of ``history``, whose groups (one check's probes in
    time order) begin where ``group_starts`` is set; named ``check``, else by its probes.

    Longer in time wins; on a tie, more failed probes, then the earlier one (groups in
    order, then time).
    """
    failed = ~history.ok
    count = len(failed)
    if not failed.any():
        return None
    follows_failure = np.zeros(count, dtype=np.bool_)
    follows_failure[1:] = failed[:-1]
    opens = failed & (group_starts | ~follows_failure)
    group_ends = np.ones(count, dtype=np.bool_)  # the next row starts another group
    group_ends[:-1] = group_starts[1:]
    precedes_failure = np.zeros(count, dtype=np.bool_)
    precedes_failure[:-1] = failed[1:]
    closes = failed & (group_ends | ~precedes_failure)
    first, last = np.flatnonzero(opens), np.flatnonzero(closes)
    ongoing = group_ends[last]  # no probe of the check after the last failure
    end = np.where(ongoing, last, last + 1)  # else the passing probe that ended the run
    # FailingStreak.minutes, computed as it computes it: microseconds / 1e6 / 60.
    minutes = (history.time[end] - history.time[first]) / 1e6 / 60
    failures = last - first + 1
    longest = minutes == minutes.max()
    best = int(np.flatnonzero(longest & (failures == failures[longest].max()))[0])
    row = int(first[best])
    return FailingStreak(
        history.checks[int(history.check[row])] if check is None else check,
        history.moment(row),
        history.moment(int(end[best])),
        int(failures[best]),
        bool(ongoing[best]),
    )


def assess_service(
    service: str,
    probes: Probes,
    start: datetime,
    end: datetime,
    budget: SloBudget,
    min_probes: int = MIN_PROBES,
) -> HealthResult:
    """Return the service's health over ``[start, end)`` against ``budget``."""
    history = ProbeHistory.of(probes)
    code = history.service_code(service)
    if code is None:
        window = history[np.zeros(0, dtype=np.intp)]
    else:
        window = history[(history.service == code) & history.between(start, end)]
    order = np.lexsort((window.time, window.check))  # stable: ties in reading order
    return _assess(service, window[order], start, end, budget, min_probes)


def _assess(
    service: str,
    window: ProbeHistory,
    start: datetime,
    end: datetime,
    budget: SloBudget,
    min_probes: int,
) -> HealthResult:
    """Return the health of ``service`` from ``window``, its probes in ``[start, end)``
    sorted by check and time."""
    count = len(window)
    if count < min_probes:
        return SkippedServiceHealth(
            service, start, end, count,
            f"{count} probe(s) in the window; at least {min_probes} are needed",
        )
    new_check = np.ones(count, dtype=np.bool_)
    new_check[1:] = window.check[1:] != window.check[:-1]
    firsts = np.flatnonzero(new_check)
    sizes = np.diff(np.append(firsts, count))
    passed = np.add.reduceat(window.ok.astype(np.int64), firsts) if count else firsts
    checks = tuple(
        CheckAvailability(window.checks[code], size, ok)
        for code, size, ok in zip(
            window.check[firsts].tolist(), sizes.tolist(), passed.tolist(), strict=True
        )
    )
    streak = _longest_streak(window, new_check)
    latency = latency_summary(window.latency_ms[window.ok])
    ok_probes = sum(c.ok_probes for c in checks)
    availability = ok_probes / count
    availability_status = (
        BudgetStatus.MET if availability >= budget.availability else BudgetStatus.BREACHED
    )
    if budget.latency_p95_ms is None:
        latency_status = BudgetStatus.NOT_SET
    elif latency is None:
        # An objective with nothing to measure it by cannot be called met.
        latency_status = BudgetStatus.BREACHED
    else:
        latency_status = (
            BudgetStatus.MET if latency.p95_ms <= budget.latency_p95_ms else BudgetStatus.BREACHED
        )
    return ServiceHealth(
        service=service,
        window_start=start,
        window_end=end,
        probes=count,
        ok_probes=ok_probes,
        checks=checks,
        latency=latency,
        longest_failing_streak=streak,
        availability_objective=budget.availability,
        latency_objective_ms=budget.latency_p95_ms,
        availability_status=availability_status,
        latency_status=latency_status,
    )


def service_health(
    probes: Probes,
    start: datetime,
    end: datetime,
    budget_for: Callable[[str], SloBudget],
    services: Iterable[str] = (),
    min_probes: int = MIN_PROBES,
) -> list[HealthResult]:
    """Return one result per service, sorted by name.

    ``services`` adds services that must appear even with no probes (e.g. every service in
    the configuration): they come back skipped with the reason. ``budget_for`` is usually
    ``Config.budget_for``.
    """
    history = ProbeHistory.of(probes)
    window = history[history.between(start, end)]
    # One sort for every service: by service, check and time, ties in reading order.
    window = window[np.lexsort((window.time, window.check, window.service))]
    names = sorted({*services, *history.present_services})
    codes = [window.service_code(name) for name in names]
    known = np.array([-1 if code is None else code for code in codes], dtype=np.int64)
    lows = np.searchsorted(window.service, known, side="left")
    highs = np.searchsorted(window.service, known, side="right")
    return [
        _assess(name, window[low:high], start, end, budget_for(name), min_probes)
        for name, low, high in zip(names, lows.tolist(), highs.tolist(), strict=True)
    ]


def availability_domain(
    availabilities: Iterable[float], objectives: Iterable[float], top: float = 1.0
) -> tuple[float, float]:
    """Return an axis range for availabilities that shows their differences.

    From the lowest availability or objective, less a tenth of its distance to ``top`` (at
    least a thousandth of ``top``, so a row at ``top`` stays visible), up to ``top``: 99.77 %
    and 99.95 % are then far apart, where a 0-100 % axis draws them alike. Give ``top`` 100
    for values in percent.
    """
    lowest = min([*availabilities, *objectives], default=top)
    margin = max((top - lowest) * 0.1, top * 0.001)
    return max(lowest - margin, 0.0), top
