"""The demo's CI reports: readable by the readers, deterministic, and placing the gates."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from opsledger.demo.quality import write_test_reports
from opsledger.demo.world import Size, build_world
from opsledger.readers.test_results import read_coverage, read_junit_folder

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_demo_reports_read_cleanly_and_are_byte_identical(tmp_path: Path):
    world = build_world(Size.SMALL, 7, NOW)
    first = write_test_reports(world, tmp_path / "a")
    second = write_test_reports(build_world(Size.SMALL, 7, NOW), tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    runs = read_junit_folder(tmp_path / "a" / "reports" / "tests")
    assert runs.problems == []
    teams = {s.team for s in world.services}
    assert len(runs.records) == len(teams)
    total = runs.records[0]
    for run in runs.records[1:]:
        total = total + run
    assert total.tests == 24 * len(world.services)
    assert (total.failures, total.errors, total.skipped) == (1, 0, len(teams))
    # one failure keeps the key gate (>= 0.98) passing
    assert total.pass_rate is not None and 0.98 <= total.pass_rate < 1
    (coverage,) = read_coverage(tmp_path / "a" / "reports" / "coverage.json").records
    assert 0.75 <= coverage.line_rate < 0.8  # between the demo threshold and warning level
