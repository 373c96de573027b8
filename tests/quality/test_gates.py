"""Gate scoring by hand: pass/warn/fail in both directions, weights, key gates, missing metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest

from opsledger.model.gates import GateSpec, Operator
from opsledger.quality.gate_report import gate_results, scorecard_junit, scorecard_markdown
from opsledger.quality.gates import (
    NotAvailable,
    evaluate_gate,
    evaluate_gates,
    weighted_score,
)
from opsledger.render.junit import gates_junit
from opsledger.render.sections import Status

NOW = datetime(2026, 11, 1, tzinfo=UTC)
AVAILABILITY = GateSpec("availability", "availability", Operator.GE, 0.999, 0.9995, 3, True)
LATENCY = GateSpec("latency", "latency_p95_ms", Operator.LE, 500, 400, 2, True)
ERRORS = GateSpec("errors", "error_rate", Operator.LT, 0.01, 0.005, 2, False)
COVERAGE = GateSpec("coverage", "coverage", Operator.GT, 0.75, 0.8, 1, False)
CRITICAL = GateSpec("critical", "critical_vulnerabilities", Operator.EQ, 0, None, 3, True)


@pytest.mark.parametrize(
    ("gate", "value", "status"),
    [
        # higher passes (>=): warn between threshold and warning level, inclusive ends
        (AVAILABILITY, 0.9996, Status.PASS),
        (AVAILABILITY, 0.9995, Status.PASS),
        (AVAILABILITY, 0.9992, Status.WARN),
        (AVAILABILITY, 0.999, Status.WARN),
        (AVAILABILITY, 0.9989, Status.FAIL),
        # lower passes (<=)
        (LATENCY, 350, Status.PASS),
        (LATENCY, 400, Status.PASS),
        (LATENCY, 450, Status.WARN),
        (LATENCY, 500, Status.WARN),
        (LATENCY, 500.1, Status.FAIL),
        # strict operators: equal to a level is on the wrong side of it
        (ERRORS, 0.004, Status.PASS),
        (ERRORS, 0.005, Status.WARN),
        (ERRORS, 0.01, Status.FAIL),
        (COVERAGE, 0.81, Status.PASS),
        (COVERAGE, 0.8, Status.WARN),
        (COVERAGE, 0.75, Status.FAIL),
        # equality: no warning level
        (CRITICAL, 0, Status.PASS),
        (CRITICAL, 1, Status.FAIL),
    ],
)
def test_gate_outcome_by_hand(gate: GateSpec, value: float, status: Status):
    evaluation = evaluate_gate(gate, value)
    assert evaluation.status is status
    assert evaluation.score == {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0}[status]


def test_weighted_score_and_verdict_by_hand():
    gates = [AVAILABILITY, LATENCY, ERRORS, COVERAGE]
    metrics = {"availability": 0.9992, "latency_p95_ms": 300, "error_rate": 0.02,
               "coverage": 0.9}
    card = evaluate_gates(gates, metrics)
    # (3 x 0.5 + 2 x 1 + 2 x 0 + 1 x 1) / (3 + 2 + 2 + 1) = 4.5 / 8
    assert card.score == pytest.approx(4.5 / 8)
    assert card.passed  # the failed gate is not a key gate
    assert card.status is Status.WARN
    assert card.counts() == {"pass": 2, "warn": 1, "fail": 1, "skipped": 0, "error": 0}


def test_failed_key_gate_fails_the_whole_even_with_a_high_score():
    gates = [AVAILABILITY, LATENCY, ERRORS, COVERAGE]
    metrics = {"availability": 1.0, "latency_p95_ms": 900, "error_rate": 0.0, "coverage": 1.0}
    card = evaluate_gates(gates, metrics)
    assert card.score == pytest.approx(6 / 8)
    assert not card.passed
    assert card.reasons == ("key gate 'latency' failed: 900 does not satisfy <= 500",)


def test_missing_metric_skips_a_gate_and_errors_a_key_gate():
    metrics = {"availability": NotAvailable("no health history"), "error_rate": 0.001}
    card = evaluate_gates([AVAILABILITY, ERRORS, COVERAGE], metrics)
    by_name = {e.gate.name: e for e in card.evaluations}
    assert by_name["availability"].status is Status.ERROR
    assert "no health history" in by_name["availability"].reason
    assert by_name["coverage"].status is Status.SKIPPED
    assert "does not measure a metric named 'coverage'" in by_name["coverage"].reason
    # only the scored gate counts: errors passes at weight 2
    assert card.score == 1.0
    assert not card.passed
    assert "could not be evaluated" in card.reasons[0]


def test_non_key_missing_metric_does_not_fail_and_min_score_can():
    card = evaluate_gates([ERRORS, COVERAGE], {"error_rate": 0.007})
    assert card.passed and card.score == 0.5
    strict = evaluate_gates([ERRORS, COVERAGE], {"error_rate": 0.007}, min_score=0.6)
    assert not strict.passed
    assert "below the minimum 0.6" in strict.reasons[0]


def test_no_scored_gate_has_no_score():
    assert weighted_score([]) is None
    card = evaluate_gates([COVERAGE], {})
    assert card.score is None and card.passed


def test_nan_metric_is_not_a_value():
    evaluation = evaluate_gate(AVAILABILITY, float("nan"))
    assert evaluation.status is Status.ERROR and evaluation.value is None


def test_junit_output_parses_with_one_case_per_gate_and_the_verdict():
    metrics = {"availability": 0.9992, "latency_p95_ms": 900, "coverage": NotAvailable("none"),
               "critical_vulnerabilities": NotAvailable("no scanner reports")}
    card = evaluate_gates([AVAILABILITY, LATENCY, COVERAGE, CRITICAL], metrics)
    root = ET.fromstring(scorecard_junit(card, NOW))
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("5", "2", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["latency: latency_p95_ms"].find("failure") is not None
    assert cases["critical: critical_vulnerabilities"].find("error") is not None
    assert cases["coverage: coverage"].find("skipped") is not None
    warn = cases["availability: availability"].find("system-out")
    assert warn is not None and "warning" in (warn.text or "")
    overall = cases["weighted score and key gates"].find("failure")
    assert overall is not None and "latency" in overall.get("message", "")


def test_gate_results_feed_the_protocol_junit_renderer():
    card = evaluate_gates([AVAILABILITY, LATENCY, COVERAGE],
                          {"availability": 0.9999, "latency_p95_ms": 900})
    results = gate_results(card, "gates_config.yaml")
    assert [r.passed for r in results] == [True, False, True]  # skipped coverage does not fail
    root = ET.fromstring(gates_junit("quality", results, NOW))
    assert root.get("tests") == "3" and root.get("failures") == "1"


def test_markdown_lists_each_gate_and_the_verdict():
    card = evaluate_gates([AVAILABILITY], {"availability": 0.5})
    text = scorecard_markdown(card)
    assert "| availability | availability | 0.5 | &gt;= | 0.999 | 0.9995 | 3 | yes | FAIL |" \
        in text
    assert "FAILED" in text
