"""Canary comparison: baseline (before / old version) against canary (after / new version),
and whether to proceed or roll back.

Pure functions over two :class:`PerfRun`; no I/O.

- **Errors.** Failed requests are ``round(error_rate x requests)`` per endpoint. The pooled
  counts of all matched endpoints, and each endpoint's, are compared with a one-sided
  Fisher exact test (``scipy.stats.fisher_exact``, ``alternative="greater"``: is the
  canary's failure odds higher?). The pooled test uses ``alpha`` (default 0.05); endpoint
  tests use ``alpha / m`` for ``m`` endpoints (Bonferroni), so many endpoints do not raise
  false alarms. A significant increase counts only when the canary's error rate also exceeds
  the baseline's by more than ``min_error_rate_increase`` (default 0.001 absolute): with
  millions of requests a trivial difference is significant but not worth a rollback.
- **Latency.** Percentiles come without their samples, so no test applies; a p95 or p99
  counts as worse when the canary exceeds the baseline by more than ``latency_relative``
  (default 10 %) *and* ``latency_absolute_ms`` (default 20 ms).
- **Availability** is ``1 - error rate`` of the canary's requests; with an objective given
  (the service's SLO budget) a canary below it, or above the latency objective, is worse.
- **Samples.** Fewer than ``min_requests`` canary requests in total (default 1,000) make
  the comparison inconclusive unless a regression is already clear.

Decision: roll back on any regression; otherwise inconclusive when samples are short or
request counts are missing; otherwise proceed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opsledger.core.config import SloBudget
from opsledger.model.health import EndpointPerf, PerfRun


class Decision(StrEnum):
    PROCEED = "proceed"
    ROLL_BACK = "roll-back"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class CanaryPolicy:
    alpha: float = 0.05
    min_error_rate_increase: float = 0.001
    latency_relative: float = 0.10
    latency_absolute_ms: float = 20.0
    min_requests: int = 1000


@dataclass(frozen=True)
class ErrorComparison:
    """Failed and total requests on both sides, and the one-sided Fisher exact p-value."""

    baseline_errors: int
    baseline_requests: int
    canary_errors: int
    canary_requests: int
    p_value: float
    alpha: float
    worse: bool

    @property
    def baseline_rate(self) -> float:
        return self.baseline_errors / self.baseline_requests

    @property
    def canary_rate(self) -> float:
        return self.canary_errors / self.canary_requests

    def to_json(self) -> dict[str, Any]:
        return {"baseline": {"errors": self.baseline_errors, "requests": self.baseline_requests,
                             "error_rate": self.baseline_rate},
                "canary": {"errors": self.canary_errors, "requests": self.canary_requests,
                           "error_rate": self.canary_rate},
                "p_value": self.p_value, "alpha": self.alpha, "worse": self.worse}


@dataclass(frozen=True)
class LatencyComparison:
    percentile: str
    baseline_ms: float
    canary_ms: float
    worse: bool

    def to_json(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "baseline_ms": self.baseline_ms,
                "canary_ms": self.canary_ms, "delta_ms": round(self.canary_ms - self.baseline_ms,
                                                                3), "worse": self.worse}


@dataclass(frozen=True)
class EndpointVerdict:
    endpoint: str
    errors: ErrorComparison | None  # None: request counts or error rates missing
    latency: tuple[LatencyComparison, ...]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint,
                "errors": self.errors.to_json() if self.errors else None,
                "latency": [c.to_json() for c in self.latency], "notes": list(self.notes)}


@dataclass(frozen=True)
class CanaryReport:
    decision: Decision
    reasons: tuple[str, ...]
    overall_errors: ErrorComparison | None
    canary_availability: float | None
    endpoints: tuple[EndpointVerdict, ...]
    unmatched: tuple[str, ...]
    policy: CanaryPolicy

    def to_json(self) -> dict[str, Any]:
        p = self.policy
        return {
            "decision": self.decision.value,
            "reasons": list(self.reasons),
            "overall_errors": self.overall_errors.to_json() if self.overall_errors else None,
            "canary_availability": self.canary_availability,
            "endpoints": [e.to_json() for e in self.endpoints],
            "unmatched_endpoints": list(self.unmatched),
            "policy": {"alpha": p.alpha, "min_error_rate_increase": p.min_error_rate_increase,
                       "latency_relative": p.latency_relative,
                       "latency_absolute_ms": p.latency_absolute_ms,
                       "min_requests": p.min_requests},
        }


def error_counts(endpoint: EndpointPerf) -> tuple[int, int] | None:
    """Return (failed, total) requests of an endpoint, or None when either is unknown."""
    if endpoint.requests is None or endpoint.error_rate is None or endpoint.requests <= 0:
        return None
    return round(endpoint.error_rate * endpoint.requests), endpoint.requests


def compare_errors(
    baseline: tuple[int, int], canary: tuple[int, int], alpha: float, min_increase: float
) -> ErrorComparison:
    """Return the one-sided Fisher exact comparison of canary against baseline failures."""
    from scipy.stats import fisher_exact  # only a canary comparison needs scipy.stats

    b_err, b_total = baseline
    c_err, c_total = canary
    table = [[c_err, c_total - c_err], [b_err, b_total - b_err]]
    _, p_value = fisher_exact(table, alternative="greater")
    increase = c_err / c_total - b_err / b_total
    worse = bool(p_value < alpha) and increase > min_increase
    return ErrorComparison(b_err, b_total, c_err, c_total, float(p_value), alpha, worse)


def latency_worse(baseline_ms: float, canary_ms: float, policy: CanaryPolicy) -> bool:
    delta = canary_ms - baseline_ms
    return delta > policy.latency_absolute_ms and delta > policy.latency_relative * baseline_ms


def compare_canary(
    baseline: PerfRun,
    canary: PerfRun,
    policy: CanaryPolicy | None = None,
    objective: SloBudget | None = None,
) -> CanaryReport:
    """Return the canary's verdict against the baseline, with the reasons."""
    policy = policy or CanaryPolicy()
    before = {e.endpoint: e for e in baseline.endpoints}
    after = {e.endpoint: e for e in canary.endpoints}
    matched = sorted(before.keys() & after.keys())
    unmatched = tuple(sorted(before.keys() ^ after.keys()))
    reasons: list[str] = []
    inconclusive: list[str] = []
    if not matched:
        return CanaryReport(Decision.INCONCLUSIVE, ("no endpoint appears in both runs",), None,
                            None, (), unmatched, policy)
    per_endpoint_alpha = policy.alpha / len(matched)
    verdicts = []
    pooled_b = [0, 0]
    pooled_c = [0, 0]
    counted = True
    for name in matched:
        b, c = before[name], after[name]
        notes = []
        errors = None
        b_counts, c_counts = error_counts(b), error_counts(c)
        if b_counts is None or c_counts is None:
            counted = False
            notes.append("request count or error rate missing: errors not tested")
        else:
            pooled_b = [pooled_b[0] + b_counts[0], pooled_b[1] + b_counts[1]]
            pooled_c = [pooled_c[0] + c_counts[0], pooled_c[1] + c_counts[1]]
            errors = compare_errors(b_counts, c_counts, per_endpoint_alpha,
                                    policy.min_error_rate_increase)
            if errors.worse:
                reasons.append(
                    f"{name}: error rate {errors.baseline_rate:.3%} -> {errors.canary_rate:.3%} "
                    f"(Fisher exact p = {errors.p_value:.2g} < {per_endpoint_alpha:.2g})")
        latency = []
        for percentile in ("p95", "p99"):
            b_ms, c_ms = getattr(b, f"{percentile}_ms"), getattr(c, f"{percentile}_ms")
            if b_ms is None or c_ms is None:
                continue
            comparison = LatencyComparison(percentile, b_ms, c_ms, latency_worse(b_ms, c_ms,
                                                                                 policy))
            latency.append(comparison)
            if comparison.worse:
                reasons.append(f"{name}: {percentile} {b_ms:g} ms -> {c_ms:g} ms (beyond "
                               f"+{policy.latency_relative:.0%} and +"
                               f"{policy.latency_absolute_ms:g} ms)")
            if objective is not None and objective.latency_p95_ms is not None \
                    and percentile == "p95" and c_ms > objective.latency_p95_ms:
                reasons.append(f"{name}: canary p95 {c_ms:g} ms is above the objective "
                               f"{objective.latency_p95_ms:g} ms")
        verdicts.append(EndpointVerdict(name, errors, tuple(latency), tuple(notes)))
    overall = None
    availability = None
    if pooled_b[1] > 0 and pooled_c[1] > 0:
        overall = compare_errors((pooled_b[0], pooled_b[1]), (pooled_c[0], pooled_c[1]),
                                 policy.alpha, policy.min_error_rate_increase)
        availability = 1 - overall.canary_rate
        if overall.worse:
            reasons.insert(0, f"overall error rate {overall.baseline_rate:.3%} -> "
                              f"{overall.canary_rate:.3%} (Fisher exact p = "
                              f"{overall.p_value:.2g} < {policy.alpha:g})")
        if objective is not None and availability < objective.availability:
            reasons.insert(0, f"canary availability {availability:.4%} is below the objective "
                              f"{objective.availability:.4%}")
        if pooled_c[1] < policy.min_requests:
            inconclusive.append(f"only {pooled_c[1]} canary requests; at least "
                                f"{policy.min_requests} are needed")
    if not counted:
        inconclusive.append("some endpoints have no request counts, so their errors were not "
                            "tested")
    if reasons:
        return CanaryReport(Decision.ROLL_BACK, tuple(reasons), overall, availability,
                            tuple(verdicts), unmatched, policy)
    if inconclusive:
        return CanaryReport(Decision.INCONCLUSIVE, tuple(inconclusive), overall, availability,
                            tuple(verdicts), unmatched, policy)
    proceed = [f"no error-rate increase is significant (pooled p = "
               f"{overall.p_value:.2g})" if overall else "errors compared per endpoint",
               "no p95/p99 beyond the latency tolerance"]
    return CanaryReport(Decision.PROCEED, tuple(proceed), overall, availability,
                        tuple(verdicts), unmatched, policy)
