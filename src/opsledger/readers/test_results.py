"""Test results from JUnit XML and line coverage from coverage.py JSON or Cobertura XML.

JUnit XML (pytest ``--junitxml``, Maven Surefire, Gradle, Jest ``jest-junit``, go-junit-report):
a ``<testsuites>`` root holding ``<testsuite>`` elements, or a single ``<testsuite>`` root.
Test cases are counted from the ``<testcase>`` elements: one with an ``<error>`` child is an
error, else one with ``<failure>`` a failure, else one with ``<skipped>`` skipped, else
passed (reruns such as Surefire's ``<flakyFailure>`` do not count against a passing case). A
file without ``<testcase>`` elements is counted from its innermost suites' ``tests``,
``failures``, ``errors`` and ``skipped`` (or ``skip``) attributes.

Coverage: coverage.py's ``coverage json`` report gives ``totals.percent_covered`` (0-100);
Cobertura XML (``coverage xml``, JaCoCo converters, Istanbul ``cobertura``) gives the root's
``line-rate`` (0-1) and ``lines-covered``/``lines-valid``. Both become a 0-1 line rate.

XML is parsed with defusedxml: entity expansion and external references are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import json_path, load_json
from opsledger.model.quality import CoverageTotal, TestRunCounts

TEST_RESULTS_DIR = "reports/tests"
COVERAGE_FILES = ("reports/coverage.json", "reports/coverage.xml")
MAX_XML_BYTES = 64 * 1024 * 1024


def _parse_xml(path: Path, result: ReadResult[Any]) -> Element | None:
    """Return the document's root element, or None after recording why not."""
    try:
        size = path.stat().st_size
        if size > MAX_XML_BYTES:
            result.fail("", "file is too large", f"at most {MAX_XML_BYTES} bytes", f"{size} bytes")
            return None
        data = path.read_bytes()
    except OSError as exc:
        result.fail("", f"cannot read the file: {exc.strerror or exc}")
        return None
    try:
        root: Element = fromstring(data)
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        result.fail(f"line {line}, column {column + 1}", "not well-formed XML", "XML",
                    str(exc).split(":")[0])
        return None
    except DefusedXmlException as exc:
        result.fail("", "XML uses entities or external references, which are refused",
                    "plain XML", type(exc).__name__)
        return None
    return root


def _local(tag: str) -> str:
    """Return a tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _count_attribute(element: Element, names: tuple[str, ...], result: ReadResult[Any],
                     where: str) -> int | None:
    for name in names:
        raw = element.get(name)
        if raw is None:
            continue
        try:
            value = int(float(raw))
        except ValueError:
            result.fail(where, f"attribute '{name}' is not a number", "a count", repr(raw))
            return None
        if value < 0:
            result.fail(where, f"attribute '{name}' is negative", "a count >= 0", raw)
            return None
        return value
    return 0


def read_junit(path: Path) -> ReadResult[TestRunCounts]:
    """Return the test counts of one JUnit XML file."""
    result: ReadResult[TestRunCounts] = ReadResult(path, detected_format="junit xml")
    root = _parse_xml(path, result)
    if root is None:
        return result
    if _local(root.tag) not in ("testsuites", "testsuite"):
        return result.fail("line 1", "not a JUnit XML report", "a <testsuites> or <testsuite> root",
                           f"<{_local(root.tag)}>")
    cases = [e for e in root.iter() if _local(e.tag) == "testcase"]
    if cases:
        failures = errors = skipped = 0
        for case in cases:
            kinds = {_local(child.tag) for child in case}
            if "error" in kinds:
                errors += 1
            elif "failure" in kinds:
                failures += 1
            elif "skipped" in kinds:
                skipped += 1
        result.records.append(TestRunCounts(str(path), len(cases), failures, errors, skipped))
        return result
    suites = [e for e in root.iter() if _local(e.tag) == "testsuite"]
    leaves = [s for s in suites if not any(_local(c.tag) == "testsuite" for c in s)] or [root]
    totals = [0, 0, 0, 0]
    for index, suite in enumerate(leaves):
        where = f"testsuite {index + 1} ({suite.get('name', 'unnamed')})"
        counts = [
            _count_attribute(suite, names, result, where)
            for names in (("tests",), ("failures",), ("errors",), ("skipped", "skip"))
        ]
        if any(c is None for c in counts):
            return result
        totals = [t + (c or 0) for t, c in zip(totals, counts, strict=True)]
    tests, failures, errors, skipped = totals
    if failures + errors + skipped > tests:
        return result.fail("line 1", "suite counts do not add up",
                           "failures + errors + skipped <= tests",
                           f"{failures} + {errors} + {skipped} > {tests}")
    result.records.append(TestRunCounts(str(path), tests, failures, errors, skipped))
    return result


def read_junit_folder(folder: Path) -> ReadResult[TestRunCounts]:
    """Return one record per ``*.xml`` file under ``folder`` (problems of each kept)."""
    result: ReadResult[TestRunCounts] = ReadResult(folder, detected_format="junit xml")
    files = sorted(p for p in folder.rglob("*.xml") if p.is_file()) if folder.is_dir() else []
    for file in files:
        one = read_junit(file)
        result.records.extend(one.records)
        result.extend(one.problems)
    return result


def read_coverage(path: Path) -> ReadResult[CoverageTotal]:
    """Return the total line coverage of a coverage.py JSON or Cobertura XML report."""
    if path.suffix.lower() == ".xml":
        return _read_cobertura(path)
    result: ReadResult[CoverageTotal] = ReadResult(path, detected_format="coverage.py json")
    document = load_json(path, result)
    if result.fatal:
        return result
    totals = document.get("totals") if isinstance(document, dict) else None
    if not isinstance(totals, dict):
        return result.fail(json_path("totals"), "no 'totals' object",
                           "a coverage.py JSON report ('coverage json')",
                           type(document).__name__ if not isinstance(document, dict)
                           else "keys " + ", ".join(sorted(map(str, document))[:6]))
    percent = totals.get("percent_covered")
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 <= percent <= 100:
        return result.fail(json_path("totals", "percent_covered"), "missing or invalid coverage",
                           "a percentage 0-100", repr(percent))
    covered, statements = totals.get("covered_lines"), totals.get("num_statements")
    result.records.append(CoverageTotal(
        str(path), float(percent) / 100, "coverage.py json",
        covered if isinstance(covered, int) else None,
        statements if isinstance(statements, int) else None,
    ))
    return result


def _read_cobertura(path: Path) -> ReadResult[CoverageTotal]:
    result: ReadResult[CoverageTotal] = ReadResult(path, detected_format="cobertura xml")
    root = _parse_xml(path, result)
    if root is None:
        return result
    if _local(root.tag) != "coverage":
        return result.fail("line 1", "not a Cobertura report", "a <coverage> root",
                           f"<{_local(root.tag)}>")
    raw = root.get("line-rate")
    try:
        rate = float(raw) if raw is not None else None
    except ValueError:
        rate = None
    if rate is None or not 0 <= rate <= 1:
        return result.fail("line 1", "missing or invalid 'line-rate' on <coverage>",
                           "a fraction 0-1", repr(raw))
    covered, valid = root.get("lines-covered"), root.get("lines-valid")
    result.records.append(CoverageTotal(
        str(path), rate, "cobertura xml",
        int(covered) if covered and covered.isdigit() else None,
        int(valid) if valid and valid.isdigit() else None,
    ))
    return result
