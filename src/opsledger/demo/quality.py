"""Demo CI reports: JUnit XML test results (one file per team) and a coverage.py JSON total.

The numbers are chosen so the demo's gates show every outcome: the pass rate sits above
the key threshold with one failing test, coverage between its threshold and warning level.
"""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from opsledger.core.fileio import atomic_write_text, dumps_json
from opsledger.demo.world import World
from opsledger.readers.test_results import COVERAGE_FILES, TEST_RESULTS_DIR

TESTS_PER_SERVICE = 24
COVERED_LINES = 15_640
STATEMENTS = 20_000  # 78.2 % line coverage


def junit_document(world: World, team: str) -> str:
    """Return a pytest-style JUnit XML report for the team's services."""
    rng = world.rng(f"junit:{team}")
    services = [s for s in world.services if s.team == team]
    cases = []
    for service in services:
        for index in range(TESTS_PER_SERVICE):
            cases.append((service.name, f"test_{service.name.replace('-', '_')}_{index:02d}",
                          round(rng.uniform(0.002, 0.4), 3)))
    # One failing test in the first team, one skipped test per team: realistic, not alarming.
    first_team = sorted({s.team for s in world.services})[0]
    failing = 3 if team == first_team else None
    skipped = len(cases) - 1
    root = ET.Element("testsuites")
    suite = ET.SubElement(root, "testsuite", name="pytest", errors="0",
                          failures="1" if failing is not None else "0", skipped="1",
                          tests=str(len(cases)), time=f"{sum(c[2] for c in cases):.3f}",
                          timestamp=world.now.strftime("%Y-%m-%dT%H:%M:%S"), hostname="ci")
    for index, (module, name, seconds) in enumerate(cases):
        case = ET.SubElement(suite, "testcase", classname=f"tests.{module.replace('-', '_')}",
                             name=name, time=f"{seconds:.3f}")
        if index == failing:
            failure = ET.SubElement(case, "failure", message="AssertionError: 502 != 200")
            failure.text = "assert response.status_code == 200\nAssertionError: 502 != 200"
        elif index == skipped:
            ET.SubElement(case, "skipped", type="pytest.skip", message="needs a staging token")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_test_reports(world: World, root: Path) -> list[Path]:
    """Write ``reports/tests/<team>.xml`` and ``reports/coverage.json``."""
    written = []
    for team in sorted({s.team for s in world.services}):
        path = root / TEST_RESULTS_DIR / f"{team}.xml"
        atomic_write_text(path, junit_document(world, team))
        written.append(path)
    coverage = {
        "meta": {"format": 3, "version": "7.6.1", "timestamp": world.now.isoformat(),
                 "branch_coverage": False, "show_contexts": False},
        "files": {},
        "totals": {"covered_lines": COVERED_LINES, "num_statements": STATEMENTS,
                   "percent_covered": COVERED_LINES / STATEMENTS * 100,
                   "percent_covered_display": f"{COVERED_LINES / STATEMENTS * 100:.0f}",
                   "missing_lines": STATEMENTS - COVERED_LINES, "excluded_lines": 0},
    }
    path = root / COVERAGE_FILES[0]
    atomic_write_text(path, dumps_json(coverage))
    written.append(path)
    return written
