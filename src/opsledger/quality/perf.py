"""Performance hotspots: p95 and p99 regressions of the current run against the baseline.

Pure functions over a :class:`PerfReport`; no I/O.

For each endpoint present in both runs:

- a percentile (p95, p99) **regresses** when the current value exceeds the baseline by more
  than ``relative`` (default 10 %) *and* by more than ``absolute_ms`` (default 20 ms). Both
  must hold: 10 % of a 15 ms endpoint is noise, and 20 ms on a 2 s endpoint is too;
- the **error rate** worsens when it rises by more than ``error_rate_increase`` (default
  0.005, half a percentage point) and to more than ``error_rate_factor`` (default 2) times
  the baseline;
- the **impact** of a regression is ``rps x increase`` in milliseconds, with ``rps`` the
  current run's throughput (the baseline's when the current run has none) and the increase
  the largest one among the regressed percentiles: extra milliseconds of waiting per second
  of traffic at that tail. Hotspots are ranked by impact, largest first (ties: endpoint).

An endpoint found in only one run, or without the figures to compare, is listed as
skipped with the reason, never as "no change".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opsledger.model.health import EndpointPerf, PerfReport
from opsledger.model.status import Skipped, SkippedResult

PERCENTILES = ("p95", "p99")


@dataclass(frozen=True)
class PerfThresholds:
    relative: float = 0.10
    absolute_ms: float = 20.0
    error_rate_increase: float = 0.005
    error_rate_factor: float = 2.0


@dataclass(frozen=True)
class PercentileChange:
    percentile: str  # "p95" | "p99"
    baseline_ms: float
    current_ms: float
    regressed: bool

    @property
    def delta_ms(self) -> float:
        return self.current_ms - self.baseline_ms

    @property
    def ratio(self) -> float | None:
        return self.current_ms / self.baseline_ms if self.baseline_ms > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline_ms": self.baseline_ms,
            "current_ms": self.current_ms,
            "delta_ms": round(self.delta_ms, 3),
            "change": None if self.ratio is None else round(self.ratio - 1, 4),
            "regressed": self.regressed,
        }


@dataclass(frozen=True)
class EndpointChange:
    endpoint: str
    rps: float | None
    percentiles: tuple[PercentileChange, ...]
    error_rate_baseline: float | None
    error_rate_current: float | None
    error_rate_worse: bool

    def change(self, percentile: str) -> PercentileChange | None:
        return next((p for p in self.percentiles if p.percentile == percentile), None)

    @property
    def regressed(self) -> bool:
        return any(p.regressed for p in self.percentiles)

    @property
    def latency_increase_ms(self) -> float:
        """Return the largest increase among the regressed percentiles (0 when none)."""
        return max((p.delta_ms for p in self.percentiles if p.regressed), default=0.0)

    @property
    def impact(self) -> float:
        """Return ``rps x latency increase`` (ms per second of traffic); 0 without rps."""
        return (self.rps or 0.0) * self.latency_increase_ms

    @property
    def error_rate_delta(self) -> float | None:
        if self.error_rate_baseline is None or self.error_rate_current is None:
            return None
        return self.error_rate_current - self.error_rate_baseline

    def to_json(self) -> dict[str, Any]:
        delta = self.error_rate_delta
        return {
            "endpoint": self.endpoint,
            "rps": self.rps,
            **{p.percentile: p.to_json() for p in self.percentiles},
            "regressed": self.regressed,
            "impact": round(self.impact, 3),
            "error_rate": {
                "baseline": self.error_rate_baseline,
                "current": self.error_rate_current,
                "delta": None if delta is None else round(delta, 6),
                "worse": self.error_rate_worse,
            },
        }


@dataclass(frozen=True)
class SkippedEndpoint(SkippedResult):
    endpoint: str
    reason: str


@dataclass(frozen=True)
class PerfComparison:
    """Every compared endpoint, the hotspots ranked by impact, and what was skipped."""

    thresholds: PerfThresholds
    endpoints: tuple[EndpointChange, ...]
    skipped: tuple[SkippedEndpoint, ...]

    @property
    def hotspots(self) -> tuple[EndpointChange, ...]:
        """Return the regressed endpoints, largest impact first."""
        regressed = [e for e in self.endpoints if e.regressed]
        return tuple(sorted(regressed, key=lambda e: (-e.impact, e.endpoint)))

    @property
    def error_rate_increases(self) -> tuple[EndpointChange, ...]:
        worse = [e for e in self.endpoints if e.error_rate_worse]
        return tuple(sorted(worse, key=lambda e: (-(e.error_rate_delta or 0.0), e.endpoint)))

    def to_json(self) -> dict[str, Any]:
        t = self.thresholds
        return {
            "thresholds": {"relative": t.relative, "absolute_ms": t.absolute_ms,
                           "error_rate_increase": t.error_rate_increase,
                           "error_rate_factor": t.error_rate_factor},
            "compared": len(self.endpoints),
            "hotspots": [e.to_json() for e in self.hotspots],
            "error_rate_increases": [e.to_json() for e in self.error_rate_increases],
            "skipped": [{"endpoint": s.endpoint, "reason": s.reason} for s in self.skipped],
        }


def percentile_regressed(baseline: float, current: float, thresholds: PerfThresholds) -> bool:
    """Return True when ``current`` exceeds ``baseline`` by both the relative and absolute
    margins."""
    delta = current - baseline
    return delta > thresholds.absolute_ms and delta > thresholds.relative * baseline


def error_rate_worse(baseline: float, current: float, thresholds: PerfThresholds) -> bool:
    return (current - baseline > thresholds.error_rate_increase
            and current > thresholds.error_rate_factor * baseline)


def compare_endpoint(
    before: EndpointPerf, after: EndpointPerf, thresholds: PerfThresholds
) -> EndpointChange | SkippedEndpoint:
    """Return the change of one endpoint between runs, or why it cannot be compared."""
    changes = []
    for name in PERCENTILES:
        base, cur = getattr(before, f"{name}_ms"), getattr(after, f"{name}_ms")
        if base is None or cur is None:
            continue
        changes.append(PercentileChange(name, base, cur, percentile_regressed(base, cur,
                                                                              thresholds)))
    if not changes:
        return SkippedEndpoint(before.endpoint, "no p95 or p99 in both runs")
    worse = (
        before.error_rate is not None and after.error_rate is not None
        and error_rate_worse(before.error_rate, after.error_rate, thresholds)
    )
    rps = after.rps if after.rps is not None else before.rps
    return EndpointChange(before.endpoint, rps, tuple(changes), before.error_rate,
                          after.error_rate, worse)


def compare_runs(
    report: PerfReport, thresholds: PerfThresholds | None = None
) -> PerfComparison | Skipped:
    """Return the endpoint-by-endpoint comparison of the current run with the baseline."""
    thresholds = thresholds or PerfThresholds()
    if report.baseline is None:
        return Skipped("no baseline run to compare with")
    if report.current is None:
        return Skipped("no current run to compare")
    before = {e.endpoint: e for e in report.baseline.endpoints}
    after = {e.endpoint: e for e in report.current.endpoints}
    compared: list[EndpointChange] = []
    skipped: list[SkippedEndpoint] = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            skipped.append(SkippedEndpoint(name, "in the baseline run only"))
            continue
        if name not in before:
            skipped.append(SkippedEndpoint(name, "in the current run only"))
            continue
        outcome = compare_endpoint(before[name], after[name], thresholds)
        if isinstance(outcome, SkippedEndpoint):
            skipped.append(outcome)
        else:
            compared.append(outcome)
    return PerfComparison(thresholds, tuple(compared), tuple(skipped))
