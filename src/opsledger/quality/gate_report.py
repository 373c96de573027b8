"""Quality gate results for CI and people: JUnit XML, protocol gate results, Markdown.

The JUnit document follows the structure of :func:`opsledger.render.junit.gates_junit` (one
``testsuite``, one ``testcase`` per gate with its rule as properties) and adds what a
scorecard has beyond pass/fail, so that the XML and the exit code always agree (a
``<failure>`` or ``<error>`` appears exactly when the check fails):

- a blocking gate that fails gets ``<failure>``; one whose metric could not be measured
  gets ``<error>``;
- an advisory gate that fails, or whose metric could not be measured, gets ``<skipped>``
  with a message that starts ``advisory``. CI test views (Jenkins, GitLab, Azure Pipelines)
  count and mark skipped cases apart from passing ones without failing the build, whereas
  the ``system-out`` of a passing case shows only when that case is opened. The properties
  ``advisory`` and ``status`` carry the outcome for tools that read them, and the verdict
  case repeats the advisory findings for views that do not show a skipped case's message;
- a warning (between threshold and warning level) is written to ``system-out``;
- the last test case is the verdict: it fails, with the verdict line as its message, when
  the check fails; the advisory warning and the definition warnings are in its
  ``system-out``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from xml.etree import ElementTree as ET

from opsledger.model.gates import GateResult
from opsledger.quality.gates import GateEvaluation, Scorecard, describe
from opsledger.render.sections import Status, md_escape, md_table

SUITE = "opsledger.quality"
OVERALL_CASE = "quality gates verdict"


def _value(evaluation: GateEvaluation) -> str:
    return "n/a" if evaluation.value is None else f"{evaluation.value:.6g}"


def _kind(evaluation: GateEvaluation) -> str:
    return "advisory" if evaluation.gate.advisory else "blocking"


def scorecard_junit(
    scorecard: Scorecard, now: datetime, suite: str = SUITE, warnings: Sequence[str] = ()
) -> str:
    """Return a JUnit XML document: one test case per gate and one for the verdict."""
    evaluations = scorecard.evaluations
    failures = sum(1 for e in evaluations if e.blocking and e.status is Status.FAIL)
    errors = sum(1 for e in evaluations if e.blocking and e.status is Status.ERROR)
    skipped = sum(1 for e in evaluations if e.advisory_failure)
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
                           ("weight", f"{gate.weight:g}"), ("kind", _kind(evaluation)),
                           ("advisory", str(gate.advisory).lower()),
                           ("status", evaluation.status.value)):
            ET.SubElement(properties, "property", name=key, value=value)
        if evaluation.advisory_failure:
            ET.SubElement(case, "skipped",
                          message=f"advisory gate, not blocking: {evaluation.finding}")
        elif evaluation.status is Status.FAIL:
            failure = ET.SubElement(case, "failure", message=evaluation.finding,
                                    type="GateFailed")
            failure.text = f"{describe(gate)}; {evaluation.reason}"
        elif evaluation.status is Status.ERROR:
            error = ET.SubElement(case, "error", message=evaluation.finding,
                                  type="MetricNotAvailable")
            error.text = evaluation.reason
        elif evaluation.status is Status.WARN:
            out = ET.SubElement(case, "system-out")
            out.text = f"warning: {evaluation.reason}"
    overall = ET.SubElement(element, "testcase", classname=suite, name=OVERALL_CASE)
    score = "n/a" if scorecard.score is None else f"{scorecard.score:.4f}"
    properties = ET.SubElement(overall, "properties")
    ET.SubElement(properties, "property", name="score", value=score)
    ET.SubElement(properties, "property", name="verdict", value=scorecard.verdict)
    if not scorecard.passed:
        failure = ET.SubElement(overall, "failure", message=scorecard.verdict,
                                type="QualityGatesFailed")
        failure.text = "\n".join(scorecard.reasons)
    notes = [line for line in (scorecard.advisory_warning, *warnings) if line]
    if notes:
        out = ET.SubElement(overall, "system-out")
        out.text = "\n".join(f"warning: {line}" for line in notes)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def gate_results(scorecard: Scorecard, evidence: str) -> list[GateResult]:
    """Return each gate as a protocol :class:`GateResult` (for ``render.junit.gates_junit``).

    An advisory gate that failed or was not measured is reported as a warning there (that
    format has no skipped case), with its finding, because it does not fail the whole.
    """
    results = []
    for evaluation in scorecard.evaluations:
        gate = evaluation.gate
        advisory = evaluation.advisory_failure
        status = Status.WARN if advisory else evaluation.status
        failing = status in (Status.FAIL, Status.ERROR)
        results.append(GateResult(
            id=gate.name,
            title=gate.description or gate.metric,
            criteria=describe(gate) + (" (advisory)" if gate.advisory else ""),
            threshold=f"{gate.operator.value} {gate.threshold:g}",
            evidence=evidence,
            actual=_value(evaluation) if evaluation.value is not None else evaluation.reason,
            status=status,
            failures=(evaluation.finding,) if failing or advisory else (),
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
         f"{e.gate.weight:g}", _kind(e), e.status.value.upper(),
         "" if e.status in (Status.PASS,) else e.reason]
        for e in scorecard.evaluations
    ]
    score = "n/a" if scorecard.score is None else f"{scorecard.score:.3f}"
    lines = [
        md_table(["Gate", "Metric", "Value", "Op", "Threshold", "Warn", "Weight", "Kind",
                  "Result", "Why"], rows, "lllcrrrcll"),
        f"**Weighted score:** {score}",
        "",
        f"**{md_escape(scorecard.verdict)}**",
    ]
    if scorecard.advisory_warning:
        lines += ["", f"Warning: {md_escape(scorecard.advisory_warning)}"]
    return "\n".join(lines) + "\n"
