"""Canary decisions on clear cases, with the error test checked against scipy and statsmodels."""

from __future__ import annotations

import pytest
from scipy.stats import fisher_exact
from statsmodels.stats.proportion import proportions_ztest

from opsledger.core.config import SloBudget
from opsledger.model.health import EndpointPerf, PerfRun
from opsledger.quality.canary import CanaryPolicy, Decision, compare_canary, compare_errors


def run(label: str, *endpoints: EndpointPerf) -> PerfRun:
    return PerfRun(label, endpoints)


def ep(name: str, errors: int, requests: int, p95: float = 100.0, p99: float = 200.0
       ) -> EndpointPerf:
    return EndpointPerf(name, 50.0, p95, p99, 10.0, errors / requests, requests)


def test_error_test_is_fishers_one_sided_exact_test():
    comparison = compare_errors((10, 10_000), (60, 10_000), alpha=0.05, min_increase=0.001)
    _, expected = fisher_exact([[60, 9_940], [10, 9_990]], alternative="greater")
    assert comparison.p_value == pytest.approx(expected, rel=1e-12)
    # an independent large-sample test agrees that the canary is worse
    _, z_p = proportions_ztest([60, 10], [10_000, 10_000], alternative="larger")
    assert z_p < 0.05 and comparison.worse


def test_clear_error_increase_rolls_back():
    report = compare_canary(run("b", ep("GET /a", 10, 10_000)), run("c", ep("GET /a", 60, 10_000)))
    assert report.decision is Decision.ROLL_BACK
    assert report.overall_errors is not None
    assert report.overall_errors.baseline_errors == 10 and report.overall_errors.canary_errors == 60
    assert any("overall error rate 0.100% -> 0.600%" in r for r in report.reasons)


def test_same_behaviour_proceeds():
    report = compare_canary(run("b", ep("GET /a", 10, 10_000), ep("POST /b", 5, 5_000)),
                            run("c", ep("GET /a", 11, 10_000), ep("POST /b", 5, 5_000)))
    assert report.decision is Decision.PROCEED
    _, expected = fisher_exact([[16, 14_984], [15, 14_985]], alternative="greater")
    assert report.overall_errors is not None
    assert report.overall_errors.p_value == pytest.approx(expected)
    assert report.canary_availability == pytest.approx(1 - 16 / 15_000)


def test_significant_but_negligible_increase_is_not_a_regression():
    report = compare_canary(run("b", ep("GET /a", 1_000, 1_000_000)),
                            run("c", ep("GET /a", 1_300, 1_000_000)))
    assert report.overall_errors is not None and report.overall_errors.p_value < 1e-6
    assert report.decision is Decision.PROCEED  # +0.03 pp is under the 0.1 pp tolerance


def test_too_few_canary_requests_is_inconclusive():
    report = compare_canary(run("b", ep("GET /a", 10, 10_000)), run("c", ep("GET /a", 0, 200)))
    assert report.decision is Decision.INCONCLUSIVE
    assert "only 200 canary requests" in report.reasons[0]


def test_latency_beyond_tolerance_rolls_back():
    report = compare_canary(run("b", ep("GET /a", 10, 10_000, p95=200)),
                            run("c", ep("GET /a", 10, 10_000, p95=260)))
    assert report.decision is Decision.ROLL_BACK
    assert report.reasons == ("GET /a: p95 200 ms -> 260 ms (beyond +10% and +20 ms)",)
    within = compare_canary(run("b", ep("GET /a", 10, 10_000, p95=200)),
                            run("c", ep("GET /a", 10, 10_000, p95=215)))
    assert within.decision is Decision.PROCEED


def test_objective_from_the_slo_budget():
    budget = SloBudget(availability=0.999, latency_p95_ms=150)
    report = compare_canary(run("b", ep("GET /a", 20, 10_000)), run("c", ep("GET /a", 20, 10_000)),
                            objective=budget)
    # 0.2 % errors: availability 99.8 % is below 99.9 %, though no worse than the baseline
    assert report.decision is Decision.ROLL_BACK
    assert "below the objective" in report.reasons[0]


def test_endpoint_tests_are_bonferroni_corrected():
    endpoints_b = [ep(f"GET /{i}", 10, 10_000) for i in range(5)]
    endpoints_c = [ep(f"GET /{i}", 10, 10_000) for i in range(4)] + [ep("GET /4", 30, 10_000)]
    report = compare_canary(run("b", *endpoints_b), run("c", *endpoints_c),
                            CanaryPolicy(min_error_rate_increase=0.0))
    worst = next(v for v in report.endpoints if v.endpoint == "GET /4")
    assert worst.errors is not None and worst.errors.alpha == pytest.approx(0.01)
    _, expected = fisher_exact([[30, 9_970], [10, 9_990]], alternative="greater")
    assert worst.errors.p_value == pytest.approx(expected)
    assert worst.errors.worse == (expected < 0.01)


def test_missing_counts_and_disjoint_runs_are_inconclusive():
    no_counts = EndpointPerf("GET /a", 50.0, 100.0, 200.0, 10.0, 0.001, None)
    report = compare_canary(run("b", no_counts), run("c", no_counts))
    assert report.decision is Decision.INCONCLUSIVE
    disjoint = compare_canary(run("b", ep("GET /a", 1, 100)), run("c", ep("GET /b", 1, 100)))
    assert disjoint.decision is Decision.INCONCLUSIVE
    assert disjoint.unmatched == ("GET /a", "GET /b")
