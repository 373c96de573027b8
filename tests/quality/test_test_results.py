"""JUnit XML and coverage readers: counts by hand, quirks, and bad input located."""

from __future__ import annotations

import json
from pathlib import Path

from opsledger.core.problems import Level
from opsledger.readers.test_results import read_coverage, read_junit, read_junit_folder

PYTEST = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5">
<testcase classname="t" name="a"/>
<testcase classname="t" name="b"><failure message="boom">x</failure></testcase>
<testcase classname="t" name="c"><error message="setup">y</error></testcase>
<testcase classname="t" name="d"><skipped message="later"/></testcase>
<testcase classname="t" name="e"><system-out>hi</system-out></testcase>
</testsuite></testsuites>
"""

SUREFIRE_FLAKY = """<testsuite name="s" tests="2" failures="0" errors="0" skipped="0">
<testcase name="a"><flakyFailure message="first try"/></testcase>
<testcase name="b"/>
</testsuite>
"""

ATTRIBUTES_ONLY = """<testsuites>
<testsuite name="one" tests="10" failures="2" errors="0" skip="1"/>
<testsuite name="two" tests="5" failures="0" errors="1" skipped="0"/>
</testsuites>
"""

BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<testsuite tests="1"><testcase name="&lol2;"/></testsuite>
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_pytest_report_counts_each_case_once(tmp_path: Path):
    result = read_junit(write(tmp_path, "r.xml", PYTEST))
    (counts,) = result.records
    assert (counts.tests, counts.failures, counts.errors, counts.skipped) == (5, 1, 1, 1)
    assert counts.passed == 2 and counts.ran == 4
    assert counts.pass_rate == 0.5


def test_rerun_markers_do_not_fail_a_passing_case(tmp_path: Path):
    (counts,) = read_junit(write(tmp_path, "s.xml", SUREFIRE_FLAKY)).records
    assert counts.failures == 0 and counts.pass_rate == 1.0


def test_suite_attributes_are_used_without_test_cases(tmp_path: Path):
    (counts,) = read_junit(write(tmp_path, "a.xml", ATTRIBUTES_ONLY)).records
    assert (counts.tests, counts.failures, counts.errors, counts.skipped) == (15, 2, 1, 1)
    assert counts.pass_rate == 11 / 14


def test_malformed_xml_is_located(tmp_path: Path):
    result = read_junit(write(tmp_path, "bad.xml", "<testsuite>\n<testcase name='a'>\n"))
    (problem,) = result.problems
    assert problem.level is Level.FATAL
    assert problem.location.startswith("line 3")
    assert result.records == []


def test_entity_expansion_is_refused(tmp_path: Path):
    result = read_junit(write(tmp_path, "bomb.xml", BOMB))
    assert result.fatal and "entities" in result.problems[0].message


def test_other_xml_is_not_a_report(tmp_path: Path):
    result = read_junit(write(tmp_path, "pom.xml", "<project/>"))
    assert result.fatal and "<project>" in result.problems[0].found


def test_folder_reads_every_file_and_sums(tmp_path: Path):
    write(tmp_path, "tests/a.xml", PYTEST)
    write(tmp_path, "tests/nested/b.xml", SUREFIRE_FLAKY)
    result = read_junit_folder(tmp_path / "tests")
    total = result.records[0] + result.records[1]
    assert (total.tests, total.failures, total.errors, total.skipped) == (7, 1, 1, 1)


def test_coverage_py_json(tmp_path: Path):
    path = write(tmp_path, "coverage.json", json.dumps(
        {"meta": {"format": 3}, "files": {},
         "totals": {"covered_lines": 782, "num_statements": 1000, "percent_covered": 78.2}}))
    (total,) = read_coverage(path).records
    assert total.line_rate == 0.782 and total.lines_valid == 1000


def test_cobertura_xml(tmp_path: Path):
    path = write(tmp_path, "coverage.xml",
                 '<?xml version="1.0" ?>\n<coverage version="7.6" line-rate="0.8512" '
                 'branch-rate="0" lines-covered="851" lines-valid="1000"><packages/></coverage>')
    (total,) = read_coverage(path).records
    assert total.line_rate == 0.8512 and total.lines_covered == 851


def test_bad_coverage_names_the_field(tmp_path: Path):
    path = write(tmp_path, "coverage.json", json.dumps({"totals": {"percent_covered": 140}}))
    result = read_coverage(path)
    assert result.fatal
    assert result.problems[0].location == "$.totals.percent_covered"
    assert result.problems[0].found == "140"
