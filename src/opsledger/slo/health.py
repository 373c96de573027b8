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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np

from opsledger.core.config import SloBudget
from opsledger.model.health import ProbeResult
from opsledger.model.status import SkippedResult

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


def longest_failing_streak(check: str, probes: list[ProbeResult]) -> FailingStreak | None:
    """Return the longest run of consecutive failures in time-ordered ``probes`` of a check."""
    best: FailingStreak | None = None
    run_start: datetime | None = None
    run_length = 0
    last_failed: datetime | None = None
    for probe in probes:
        if not probe.ok:
            if run_start is None:
                run_start, run_length = probe.time, 0
            run_length += 1
            last_failed = probe.time
            continue
        if run_start is not None:
            streak = FailingStreak(check, run_start, probe.time, run_length, ongoing=False)
            best = _longer(best, streak)
            run_start = None
    if run_start is not None and last_failed is not None:
        best = _longer(best, FailingStreak(check, run_start, last_failed, run_length, True))
    return best


def _longer(best: FailingStreak | None, candidate: FailingStreak) -> FailingStreak:
    if best is None:
        return candidate
    # Longer in time wins; on a tie, more failed probes, then the earlier one.
    if (candidate.minutes, candidate.probes) > (best.minutes, best.probes):
        return candidate
    return best


def assess_service(
    service: str,
    probes: Iterable[ProbeResult],
    start: datetime,
    end: datetime,
    budget: SloBudget,
    min_probes: int = MIN_PROBES,
) -> HealthResult:
    """Return the service's health over ``[start, end)`` against ``budget``."""
    window = sorted(
        (p for p in probes if p.service == service and start <= p.time < end),
        key=lambda p: (p.time, p.check),
    )
    if len(window) < min_probes:
        return SkippedServiceHealth(
            service, start, end, len(window),
            f"{len(window)} probe(s) in the window; at least {min_probes} are needed",
        )
    by_check: dict[str, list[ProbeResult]] = {}
    for probe in window:
        by_check.setdefault(probe.check, []).append(probe)
    checks = tuple(
        CheckAvailability(name, len(items), sum(1 for p in items if p.ok))
        for name, items in sorted(by_check.items())
    )
    streak: FailingStreak | None = None
    for name, items in sorted(by_check.items()):
        found = longest_failing_streak(name, items)
        if found is not None:
            streak = found if streak is None else _longer(streak, found)
    passing = np.fromiter(
        (p.latency_ms for p in window if p.ok and p.latency_ms is not None), dtype=float
    )
    latency = latency_summary(passing)
    ok_probes = sum(c.ok_probes for c in checks)
    availability = ok_probes / len(window)
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
        probes=len(window),
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
    probes: Iterable[ProbeResult],
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
    grouped: dict[str, list[ProbeResult]] = {name: [] for name in services}
    for probe in probes:
        grouped.setdefault(probe.service, []).append(probe)
    return [
        assess_service(name, grouped[name], start, end, budget_for(name), min_probes)
        for name in sorted(grouped)
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
