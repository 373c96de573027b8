"""Gate scoring by hand: pass/warn/fail in both directions, weights, blocking and advisory
gates, missing metrics, the verdict line and the JUnit document that goes with it."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsledger.model.gates import GateSpec, Operator
from opsledger.quality.gate_report import gate_results, scorecard_junit, scorecard_markdown
from opsledger.quality.gates import (
    NotAvailable,
    Unit,
    evaluate_gate,
    evaluate_gates,
    shown,
    weighted_score,
)
from opsledger.quality.metrics import UNITS
from opsledger.render.junit import gates_junit
from opsledger.render.sections import Status

NOW = datetime(2026, 11, 1, tzinfo=UTC)
AVAILABILITY = GateSpec("availability", "worst_critical_availability", Operator.GE, 0.999,
                        0.9995, 3, True)
LATENCY = GateSpec("latency", "latency_p95_ms", Operator.LE, 500, 400, 2, True)
ERRORS = GateSpec("errors", "error_rate", Operator.LT, 0.01, 0.005, 2, False)
COVERAGE = GateSpec("coverage", "coverage", Operator.GT, 0.75, 0.8, 1, False)
CRITICAL = GateSpec("critical", "critical_vulnerabilities_overdue", Operator.EQ, 0, None, 3,
                    True)
ADVISORY_COVERAGE = GateSpec("coverage", "coverage", Operator.GE, 0.75, None, 1, False,
                             advisory=True)


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


def test_a_failed_gate_without_key_fails_the_whole():
    gates = [AVAILABILITY, LATENCY, ERRORS, COVERAGE]
    metrics = {"worst_critical_availability": 0.9992, "latency_p95_ms": 300, "error_rate": 0.02,
               "coverage": 0.9}
    card = evaluate_gates(gates, metrics, units=UNITS)
    # (3 x 0.5 + 2 x 1 + 2 x 0 + 1 x 1) / (3 + 2 + 2 + 1) = 4.5 / 8
    assert card.score == pytest.approx(4.5 / 8)
    assert not card.passed  # 'errors' has no key flag, and it still blocks
    assert card.status is Status.FAIL
    # `error_rate < 0.01` fails as `>=`; 0.02 and 0.01 read as percentages
    assert card.verdict == "FAILED: errors (error_rate 2.0% >= 1.0%)"
    assert card.counts() == {"pass": 2, "warn": 1, "fail": 1, "skipped": 0, "error": 0}


def test_two_failed_gates_are_both_named_with_measured_and_threshold():
    error_rate = GateSpec("error_rate", "error_rate", Operator.LE, 0.01, None, 1, False)
    overdue = GateSpec("overdue-action-items", "overdue_action_items", Operator.LE, 5, None, 1,
                       False)
    card = evaluate_gates([error_rate, overdue],
                          {"error_rate": 0.04, "overdue_action_items": 17.0}, units=UNITS)
    assert not card.passed
    assert card.verdict == "FAILED: error_rate 4.0% > 1.0%; overdue_action_items 17 > 5"
    assert card.score == 0.0


def test_an_advisory_gate_that_fails_warns_and_does_not_block():
    card = evaluate_gates([LATENCY, ADVISORY_COVERAGE],
                          {"latency_p95_ms": 320, "coverage": 0.72}, units=UNITS)
    assert card.passed and card.verdict == "PASSED"
    assert card.status is Status.WARN
    assert card.advisories == ("coverage 72.0% < 75.0%",)
    assert card.advisory_warning == "advisory, not blocking: coverage 72.0% < 75.0%"
    # an advisory gate still counts in the score: (2 x 1 + 1 x 0) / 3
    assert card.score == pytest.approx(2 / 3)


def test_the_same_advisory_gate_blocks_once_it_is_not_advisory():
    blocking = GateSpec("coverage", "coverage", Operator.GE, 0.75, None, 1, False)
    card = evaluate_gates([blocking], {"coverage": 0.72}, units=UNITS)
    assert not card.passed and card.advisories == ()
    assert card.verdict == "FAILED: coverage 72.0% < 75.0%"


def test_missing_metric_errors_a_blocking_gate_and_skips_an_advisory_one():
    metrics = {"worst_critical_availability": NotAvailable("no health history"),
               "error_rate": 0.001}
    card = evaluate_gates([AVAILABILITY, ERRORS, ADVISORY_COVERAGE], metrics, units=UNITS)
    by_name = {e.gate.name: e for e in card.evaluations}
    assert by_name["availability"].status is Status.ERROR
    assert "no health history" in by_name["availability"].reason
    assert by_name["coverage"].status is Status.SKIPPED
    assert "does not measure a metric named 'coverage'" in by_name["coverage"].reason
    # only the scored gate counts: errors passes at weight 2
    assert card.score == 1.0
    assert not card.passed
    assert card.reasons == (
        "availability (worst_critical_availability not available: no health history)",)
    assert card.advisories == (
        "coverage not available: opsledger does not measure a metric named 'coverage'",)


def test_a_gate_without_key_or_metric_fails_closed():
    card = evaluate_gates([ERRORS], {})
    assert not card.passed
    assert card.evaluations[0].status is Status.ERROR


def test_min_score_fails_the_whole_and_says_by_how_much():
    card = evaluate_gates([ERRORS, ADVISORY_COVERAGE], {"error_rate": 0.007, "coverage": 0.9})
    # errors warns (0.5 x 2), coverage passes (1 x 1): 2 / 3
    assert card.passed and card.score == pytest.approx(2 / 3)
    strict = evaluate_gates([ERRORS, ADVISORY_COVERAGE], {"error_rate": 0.007, "coverage": 0.9},
                            min_score=0.7)
    assert not strict.passed
    assert strict.verdict == "FAILED: weighted score 0.6667 < minimum 0.7"


def test_no_scored_gate_has_no_score():
    assert weighted_score([]) is None
    card = evaluate_gates([ADVISORY_COVERAGE], {})
    assert card.score is None and card.passed


def test_nan_metric_is_not_a_value():
    evaluation = evaluate_gate(AVAILABILITY, float("nan"))
    assert evaluation.status is Status.ERROR and evaluation.value is None


@pytest.mark.parametrize(("operator", "value", "threshold", "text"), [
    (Operator.GE, 0.5, 0.6, "m 0.5 < 0.6"),
    (Operator.GT, 0.6, 0.6, "m 0.6 <= 0.6"),
    (Operator.LE, 7, 5, "m 7 > 5"),
    (Operator.LT, 5, 5, "m 5 >= 5"),
    (Operator.EQ, 2, 0, "m 2 != 0"),
    (Operator.NE, 0, 0, "m 0 == 0"),
])
def test_the_finding_states_the_comparison_that_holds(operator: Operator, value: float,
                                                      threshold: float, text: str):
    gate = GateSpec("m", "m", operator, threshold, None, 1, False)
    evaluation = evaluate_gate(gate, value)
    assert evaluation.status is Status.FAIL
    assert evaluation.finding == text


def test_values_are_shown_with_enough_digits_to_differ_from_the_threshold():
    assert shown(0.04, 0.01, Unit.RATIO) == ("4.0%", "1.0%")
    assert shown(0.9965277, 0.999, Unit.RATIO) == ("99.65%", "99.9%")
    # 1.000001 % would round to the threshold at four digits
    assert shown(0.01000001, 0.01, Unit.RATIO) == ("1.000001%", "1.0%")
    assert shown(672.7, 500, Unit.MS) == ("672.7 ms", "500 ms")
    assert shown(125.069, 240, Unit.MINUTES) == ("125.1 min", "240 min")
    assert shown(12345.6, 100) == ("12346", "100")  # no exponent notation


def _junit_outcome(xml: str) -> tuple[bool, ET.Element]:
    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    assert suite is not None
    failing = any(c.find("failure") is not None or c.find("error") is not None
                  for c in suite.iter("testcase"))
    return failing, suite


def test_junit_marks_blocking_failures_and_advisory_failures_apart():
    metrics = {"worst_critical_availability": 0.9992, "latency_p95_ms": 900,
               "coverage": 0.5, "critical_vulnerabilities_overdue": NotAvailable("no scans")}
    card = evaluate_gates([AVAILABILITY, LATENCY, ADVISORY_COVERAGE, CRITICAL], metrics,
                          units=UNITS)
    failing, suite = _junit_outcome(scorecard_junit(card, NOW))
    assert failing and not card.passed
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"),
            suite.get("skipped")) == ("5", "2", "1", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["latency: latency_p95_ms"].find("failure")
    assert failure is not None and failure.get("message") == "latency (latency_p95_ms 900 ms > " \
        "500 ms)"
    assert cases["critical: critical_vulnerabilities_overdue"].find("error") is not None
    skipped = cases["coverage: coverage"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "advisory gate, not blocking: coverage 50.0% < 75.0%"
    properties = {p.get("name"): p.get("value")
                  for p in cases["coverage: coverage"].iter("property")}
    assert properties["advisory"] == "true" and properties["status"] == "fail"
    warn = cases["availability: worst_critical_availability"].find("system-out")
    assert warn is not None and "warning" in (warn.text or "")
    verdict = cases["quality gates verdict"]
    overall = verdict.find("failure")
    assert overall is not None and overall.get("message") == card.verdict
    out = verdict.find("system-out")
    assert out is not None and "advisory, not blocking: coverage 50.0% < 75.0%" in (out.text or "")


def test_junit_of_a_passing_check_with_an_advisory_failure_has_no_failure():
    card = evaluate_gates([LATENCY, ADVISORY_COVERAGE], {"latency_p95_ms": 100,
                                                         "coverage": 0.5}, units=UNITS)
    failing, suite = _junit_outcome(scorecard_junit(card, NOW, warnings=["gates_config.yaml: x"]))
    assert card.passed and not failing
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "1")
    verdict = next(c for c in suite.iter("testcase") if c.get("name") == "quality gates verdict")
    out = verdict.find("system-out")
    assert out is not None and "warning: gates_config.yaml: x" in (out.text or "")


OPERATORS = list(Operator)
measured = st.one_of(st.floats(-10, 10, allow_nan=False),
                     st.just(NotAvailable("no input")))


@given(st.lists(st.tuples(st.sampled_from(OPERATORS), st.floats(-10, 10, allow_nan=False),
                          st.booleans(), measured), min_size=1, max_size=6),
       st.one_of(st.none(), st.floats(0, 1)))
def test_junit_fails_exactly_when_the_check_fails(
    specs: list[tuple[Operator, float, bool, float | NotAvailable]], min_score: float | None
):
    gates = [GateSpec(f"g{i}", f"m{i}", op, threshold, None, 1, False, advisory=advisory)
             for i, (op, threshold, advisory, _) in enumerate(specs)]
    metrics = {f"m{i}": value for i, (_, _, _, value) in enumerate(specs)}
    card = evaluate_gates(gates, metrics, min_score)
    failing, suite = _junit_outcome(scorecard_junit(card, NOW))
    assert failing == (not card.passed)
    assert card.passed == (card.verdict == "PASSED")
    blocking = [e for e in card.evaluations if e.gate.blocking
                and e.status in (Status.FAIL, Status.ERROR)]
    below = min_score is not None and (card.score is None or card.score < min_score)
    assert card.passed == (not blocking and not below)
    advisory = sum(1 for e in card.evaluations if e.gate.advisory
                   and e.status in (Status.FAIL, Status.SKIPPED))
    assert suite.get("skipped") == str(advisory)


def test_gate_results_feed_the_protocol_junit_renderer():
    card = evaluate_gates([AVAILABILITY, LATENCY, ADVISORY_COVERAGE],
                          {"worst_critical_availability": 0.9999, "latency_p95_ms": 900,
                           "coverage": 0.1})
    results = gate_results(card, "gates_config.yaml")
    assert [r.passed for r in results] == [True, False, True]  # the advisory gate passes
    assert results[2].status is Status.WARN and results[2].failures
    root = ET.fromstring(gates_junit("quality", results, NOW))
    assert root.get("tests") == "3" and root.get("failures") == "1"


def test_markdown_lists_each_gate_and_the_verdict():
    card = evaluate_gates([AVAILABILITY], {"worst_critical_availability": 0.5}, units=UNITS)
    text = scorecard_markdown(card)
    assert ("| availability | worst_critical_availability | 0.5 | &gt;= | 0.999 | 0.9995 | 3 "
            "| blocking | FAIL |") in text
    assert "**FAILED: availability (worst_critical_availability 50.0% &lt; 99.9%)**" in text
