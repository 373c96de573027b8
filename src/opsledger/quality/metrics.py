"""The metrics opsledger measures, by the names ``gates_config.yaml`` uses.

Pure functions: each turns one analysis result into named values, or into
:class:`NotAvailable` with the reason when the figure cannot be computed. The names, and
what each one means, are listed in :data:`METRICS` (and in ``docs/quality-gates.md``), their
units in :data:`UNITS`. A gate metric never takes the name of a monthly KPI
(:mod:`opsledger.review.kpis`) that means something else: the KPI ``availability`` pools
the probes of every service, so the gate metric for the worst critical service is
``worst_critical_availability``. Former names still read are in :data:`RENAMED_METRICS`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from opsledger.model.common import Severity
from opsledger.model.health import PerfReport
from opsledger.model.quality import CoverageTotal, TestRunCounts
from opsledger.model.status import Skipped
from opsledger.patching.service import SECURITY_BANDS, Posture
from opsledger.quality.gates import MetricValue, NotAvailable, Unit
from opsledger.quality.perf import PerfComparison
from opsledger.slo.service import BudgetStatus, HealthResult, ServiceHealth

METRICS: dict[str, str] = {
    "worst_critical_availability": "lowest availability (passing probes / probes, 0-1) among "
    "critical services (tier 0-1; every service when none is critical) over the health window",
    "availability_services_breached": "services below their availability or latency objective "
    "over the health window",
    "probe_latency_p95_ms": "highest p95 latency of passing probes among critical services",
    "latency_p95_ms": "highest endpoint p95 latency in the current performance run (ms)",
    "latency_p99_ms": "highest endpoint p99 latency in the current performance run (ms)",
    "error_rate": "highest endpoint error rate in the current performance run (0-1)",
    "error_rate_overall": "request-weighted error rate of the current performance run (0-1)",
    "perf_regressions": "endpoints whose p95 or p99 regressed against the baseline run",
    "slo_attainment": "share of evaluated SLOs meeting their objective (0-1)",
    "error_budget_remaining": "lowest error budget remaining among evaluated SLOs (1 untouched, "
    "0 exhausted, negative overspent)",
    "slos_breached": "evaluated SLOs below their objective",
    **{f"vulnerabilities_open_{band.value}": f"open {band.value} vulnerability findings"
       for band in SECURITY_BANDS},
    "vulnerabilities_overdue": "open findings past their SLA due date",
    "critical_vulnerabilities_overdue": "open critical findings past their SLA due date",
    "tests_total": "test cases in the JUnit reports",
    "tests_failed": "test cases that failed",
    "tests_errors": "test cases that errored",
    "tests_skipped": "test cases skipped",
    "test_pass_rate": "passed / (tests - skipped), 0-1",
    "coverage": "line coverage, 0-1",
    "overdue_action_items": "open postmortem action items past their due date",
    "mttr_minutes_major": "mean minutes from creation to resolution of major (SEV1/SEV2) "
    "incidents created in the incident window",
}

_RATIOS = ("worst_critical_availability", "error_rate", "error_rate_overall", "slo_attainment",
           "error_budget_remaining", "test_pass_rate", "coverage")
_TIMES = {"probe_latency_p95_ms": Unit.MS, "latency_p95_ms": Unit.MS, "latency_p99_ms": Unit.MS,
          "mttr_minutes_major": Unit.MINUTES}
UNITS: dict[str, Unit] = {
    name: Unit.RATIO if name in _RATIOS else _TIMES.get(name, Unit.COUNT) for name in METRICS
}

# Former gate metric names, still read with a warning: old name -> (new name, why renamed).
RENAMED_METRICS: dict[str, tuple[str, str]] = {
    "availability": (
        "worst_critical_availability",
        "it is the lowest availability among tier-0/1 services, while the monthly KPI "
        "'availability' pools the probes of every service",
    ),
    "critical_vulnerabilities": (
        "critical_vulnerabilities_overdue",
        "it counts critical findings past their SLA due date, while the monthly KPI "
        "'vulnerabilities_critical' counts every open critical finding",
    ),
}


class SloOutcome(Protocol):
    """What the metrics need from an evaluated SLO (``analysis.slo.SloStatus``)."""

    @property
    def valid(self) -> bool: ...

    @property
    def met(self) -> bool | None: ...

    @property
    def budget(self) -> Any: ...


def missing(names: Iterable[str], reason: str) -> dict[str, MetricValue]:
    """Return every name in ``names`` as not available for ``reason``."""
    return {name: NotAvailable(reason) for name in names}


HEALTH_NAMES = ("worst_critical_availability", "availability_services_breached",
                "probe_latency_p95_ms")
PERF_NAMES = ("latency_p95_ms", "latency_p99_ms", "error_rate", "error_rate_overall",
              "perf_regressions")
SLO_NAMES = ("slo_attainment", "error_budget_remaining", "slos_breached")
VULNERABILITY_NAMES = (*(f"vulnerabilities_open_{b.value}" for b in SECURITY_BANDS),
                       "vulnerabilities_overdue", "critical_vulnerabilities_overdue")
TEST_NAMES = ("tests_total", "tests_failed", "tests_errors", "tests_skipped", "test_pass_rate")


def health_metrics(
    results: Sequence[HealthResult], critical: Iterable[str]
) -> dict[str, MetricValue]:
    """Return availability, breached services and probe p95 from per-service health."""
    assessed = [r for r in results if isinstance(r, ServiceHealth)]
    if not assessed:
        return missing(HEALTH_NAMES, "no service has enough probes in the health window")
    wanted = set(critical)
    scope = [r for r in assessed if r.service in wanted] or assessed
    out: dict[str, MetricValue] = {
        "worst_critical_availability": min(r.availability for r in scope),
        "availability_services_breached": float(
            sum(1 for r in assessed if r.status is BudgetStatus.BREACHED)),
    }
    latencies = [r.latency.p95_ms for r in scope if r.latency is not None]
    out["probe_latency_p95_ms"] = (
        max(latencies) if latencies
        else NotAvailable("no passing probe with a latency among the services in scope"))
    return out


def perf_metrics(
    report: PerfReport | None, comparison: PerfComparison | Skipped | None
) -> dict[str, MetricValue]:
    """Return the current run's worst p95/p99/error rate, the overall error rate and the
    number of regressed endpoints."""
    if report is None or report.current is None or not report.current.endpoints:
        return missing(PERF_NAMES, "no current performance run")
    endpoints = report.current.endpoints
    out: dict[str, MetricValue] = {}
    for name, attribute in (("latency_p95_ms", "p95_ms"), ("latency_p99_ms", "p99_ms"),
                            ("error_rate", "error_rate")):
        values = [getattr(e, attribute) for e in endpoints if getattr(e, attribute) is not None]
        out[name] = max(values) if values else NotAvailable(
            f"no endpoint of the current run reports {attribute}")
    weighted = [(e.error_rate, e.requests) for e in endpoints
                if e.error_rate is not None and e.requests]
    total = sum(n for _, n in weighted if n)
    out["error_rate_overall"] = (
        sum(rate * n for rate, n in weighted if n) / total if total
        else NotAvailable("no endpoint reports both an error rate and a request count"))
    if isinstance(comparison, PerfComparison):
        out["perf_regressions"] = float(len(comparison.hotspots))
    else:
        reason = comparison.reason if comparison is not None else "no comparison made"
        out["perf_regressions"] = NotAvailable(reason)
    return out


def slo_metrics(statuses: Sequence[SloOutcome]) -> dict[str, MetricValue]:
    """Return attainment, lowest budget remaining and breaches over the valid SLOs."""
    valid = [s for s in statuses if s.valid and s.met is not None]
    if not valid:
        reason = ("no SLO definitions" if not statuses
                  else f"none of the {len(statuses)} SLO(s) could be evaluated")
        return missing(SLO_NAMES, reason)
    met = sum(1 for s in valid if s.met)
    budgets = [float(s.budget.remaining) for s in valid if s.budget is not None]
    return {
        "slo_attainment": met / len(valid),
        "error_budget_remaining": min(budgets) if budgets
        else NotAvailable("no evaluated SLO has an error budget"),
        "slos_breached": float(len(valid) - met),
    }


def vulnerability_metrics(posture: Posture) -> dict[str, MetricValue]:
    """Return open findings by band, overdue findings and overdue critical findings."""
    out: dict[str, MetricValue] = {
        f"vulnerabilities_open_{band}": float(count)
        for band, count in posture.counts_by_band().items()
    }
    out["vulnerabilities_overdue"] = float(len(posture.overdue))
    out["critical_vulnerabilities_overdue"] = float(
        sum(1 for i in posture.overdue if i.finding.severity is Severity.CRITICAL))
    return out


def junit_metrics(runs: Sequence[TestRunCounts]) -> dict[str, MetricValue]:
    """Return the summed test counts and the pass rate."""
    if not runs:
        return missing(TEST_NAMES, "no JUnit XML test reports")
    total = runs[0]
    for run in runs[1:]:
        total = total + run
    rate = total.pass_rate
    return {
        "tests_total": float(total.tests),
        "tests_failed": float(total.failures),
        "tests_errors": float(total.errors),
        "tests_skipped": float(total.skipped),
        "test_pass_rate": rate if rate is not None
        else NotAvailable(f"no test ran ({total.tests} test(s), all skipped)"),
    }


def coverage_metrics(coverage: CoverageTotal | None) -> dict[str, MetricValue]:
    if coverage is None:
        return missing(("coverage",), "no coverage report (coverage.py JSON or Cobertura XML)")
    return {"coverage": coverage.line_rate}


def incident_metrics(
    major_resolve_minutes: Sequence[float] | None, overdue_action_items: int | None,
    reason: str = "",
) -> dict[str, MetricValue]:
    """Return the MTTR of major incidents and the number of overdue action items."""
    out: dict[str, MetricValue] = {}
    if major_resolve_minutes is None:
        out["mttr_minutes_major"] = NotAvailable(reason or "no incident records")
    elif not major_resolve_minutes:
        out["mttr_minutes_major"] = NotAvailable("no resolved major incident in the window")
    else:
        out["mttr_minutes_major"] = sum(major_resolve_minutes) / len(major_resolve_minutes)
    out["overdue_action_items"] = (
        float(overdue_action_items) if overdue_action_items is not None
        else NotAvailable(reason or "no postmortems"))
    return out
