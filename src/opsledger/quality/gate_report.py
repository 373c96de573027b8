"""Quality gate results for CI and people: JUnit XML, protocol gate results, Markdown.

The JUnit document follows the structure of :func:`opsledger.render.junit.gates_junit` (one
``testsuite``, one ``testcase`` per gate with its rule as properties) and adds what a
scorecard has beyond pass/fail: a skipped gate gets ``<skipped>``, a key gate whose metric
could not be measured gets ``<error>``, a warning is written to ``system-out``, and the
weighted score and verdict are a last test case, so CI shows why the run failed.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree import ElementTree as ET

from opsledger.model.gates import GateResult
from opsledger.quality.gates import GateEvaluation, Scorecard, describe
from opsledger.render.sections import Status, md_table

SUITE = "opsledger.quality"
OVERALL_CASE = "weighted score and key gates"


def _value(evaluation: GateEvaluation) -> str:
    return "n/a" if evaluation.value is None else f"{evaluation.value:.6g}"


def scorecard_junit(scorecard: Scorecard, now: datetime, suite: str = SUITE) -> str:
    """Return a JUnit XML document: one test case per gate and one for the whole."""
    evaluations = scorecard.evaluations
    failures = sum(1 for e in evaluations if e.status is Status.FAIL)
    errors = sum(1 for e in evaluations if e.status is Status.ERROR)
    skipped = sum(1 for e in evaluations if e.status is Status.SKIPPED)
    failures += 0 if scorecard.passed else 1
    tests = str(len(evaluations) + 1)
    root = ET.Element("testsuites", name="opsledger", tests=tests, failures=str(failures),
                      errors=str(errors), skipped=str(skipped))
    element = ET.SubElement(
        root, "testsuite", name=suite, tests=tests, failures=str(failures), errors=str(errors),
        skipped=str(skipped), timestamp=now.isoformat(),
    )
    for evaluation in evaluations:
        gate = evaluation.gate
        case = ET.SubElement(element, "testcase", classname=suite,
                             name=f"{gate.name}: {gate.metric}")
        properties = ET.SubElement(case, "properties")
        for key, value in (("rule", describe(gate)), ("value", _value(evaluation)),
                           ("weight", f"{gate.weight:g}"), ("key", str(gate.key).lower()),
                           ("status", evaluation.status.value)):
            ET.SubElement(properties, "property", name=key, value=value)
        if evaluation.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", message=evaluation.reason, type="GateFailed")
            failure.text = f"{describe(gate)}; measured {_value(evaluation)}"
        elif evaluation.status is Status.ERROR:
            error = ET.SubElement(case, "error", message=evaluation.reason,
                                  type="MetricNotAvailable")
            error.text = evaluation.reason
        elif evaluation.status is Status.SKIPPED:
            ET.SubElement(case, "skipped", message=evaluation.reason)
        elif evaluation.status is Status.WARN:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {evaluation.reason}"
    overall = ET.SubElement(element, "testcase", classname=suite, name=OVERALL_CASE)
    score = "n/a" if scorecard.score is None else f"{scorecard.score:.4f}"
    properties = ET.SubElement(overall, "properties")
    ET.SubElement(properties, "property", name="score", value=score)
    if not scorecard.passed:
        failure = ET.SubElement(overall, "failure", message="; ".join(scorecard.reasons),
                                type="QualityGatesFailed")
        failure.text = "\n".join(scorecard.reasons)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def gate_results(scorecard: Scorecard, evidence: str) -> list[GateResult]:
    """Return each gate as a protocol :class:`GateResult` (for ``render.junit.gates_junit``).

    A skipped non-key gate is reported as a warning there, because that format has no
    skipped case and the gate does not fail the whole.
    """
    results = []
    for evaluation in scorecard.evaluations:
        gate = evaluation.gate
        status = Status.WARN if evaluation.status is Status.SKIPPED else evaluation.status
        failing = status in (Status.FAIL, Status.ERROR)
        results.append(GateResult(
            id=gate.name,
            title=gate.description or gate.metric,
            criteria=describe(gate),
            threshold=f"{gate.operator.value} {gate.threshold:g}",
            evidence=evidence,
            actual=_value(evaluation) if evaluation.value is not None else evaluation.reason,
            status=status,
            failures=(evaluation.reason,) if failing else (),
            remedy="" if not failing else (
                "produce the metric's input" if evaluation.value is None
                else f"bring {gate.metric} to {gate.operator.value} {gate.threshold:g}"),
        ))
    return results


def scorecard_markdown(scorecard: Scorecard) -> str:
    """Return the gates as a Markdown table with the score and verdict."""
    rows = [
        [e.gate.name, e.gate.metric, _value(e), e.gate.operator.value, f"{e.gate.threshold:g}",
         "" if e.gate.warn_threshold is None else f"{e.gate.warn_threshold:g}",
         f"{e.gate.weight:g}", "yes" if e.gate.key else "", e.status.value.upper(),
         "" if e.status in (Status.PASS,) else e.reason]
        for e in scorecard.evaluations
    ]
    score = "n/a" if scorecard.score is None else f"{scorecard.score:.3f}"
    verdict = "PASSED" if scorecard.passed else "FAILED"
    lines = [
        md_table(["Gate", "Metric", "Value", "Op", "Threshold", "Warn", "Weight", "Key",
                  "Result", "Why"], rows, "lllcrrrcll"),
        f"**Weighted score:** {score} — **{verdict}**",
    ]
    lines += [f"- {reason}" for reason in scorecard.reasons]
    return "\n".join(lines) + "\n"
