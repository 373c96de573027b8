"""Performance hotspots: regressions ranked by hand, thresholds, skipped endpoints, the demo."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.model.health import EndpointPerf, PerfReport, PerfRun
from opsledger.model.status import Skipped
from opsledger.quality.perf import (
    PerfComparison,
    PerfThresholds,
    compare_runs,
    percentile_regressed,
)
from opsledger.quality.section import perf_section
from opsledger.readers import perf
from opsledger.render.sections import Status

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def ep(name: str, p95: float | None, p99: float | None, rps: float = 1.0,
       error_rate: float = 0.001) -> EndpointPerf:
    return EndpointPerf(name, None, p95, p99, rps, error_rate, 1000)


BASELINE = PerfRun("baseline", (
    ep("A", 100, 200), ep("B", 300, 600), ep("C", 50, 90), ep("D", 1000, 1500),
    ep("E", 10, 20), ep("G", None, None),
))
CURRENT = PerfRun("current", (
    ep("A", 150, 210, rps=10), ep("B", 330, 700, rps=2), ep("C", 65, 100, error_rate=0.02),
    ep("D", 1200, 1600, rps=5), ep("F", 10, 20), ep("G", None, None),
))


def comparison() -> PerfComparison:
    result = compare_runs(PerfReport(BASELINE, CURRENT))
    assert isinstance(result, PerfComparison)
    return result


def test_hotspots_ranked_by_traffic_times_increase_by_hand():
    hotspots = comparison().hotspots
    # D: p95 +200 ms (20 %) at 5 rps = 1000; A: p95 +50 ms (50 %) at 10 rps = 500;
    # B: p95 +30 ms is exactly 10 %, not more, so only p99 +100 ms counts: 2 x 100 = 200.
    assert [(e.endpoint, e.impact) for e in hotspots] == [("D", 1000.0), ("A", 500.0),
                                                           ("B", 200.0)]
    b = hotspots[2]
    assert [(p.percentile, p.regressed) for p in b.percentiles] == [("p95", False),
                                                                     ("p99", True)]


def test_small_absolute_change_is_not_a_regression_and_errors_are_reported():
    result = comparison()
    c = next(e for e in result.endpoints if e.endpoint == "C")
    assert not c.regressed  # +15 ms is 30 % but under 20 ms
    assert [e.endpoint for e in result.error_rate_increases] == ["C"]
    assert c.error_rate_delta == pytest.approx(0.019)


def test_endpoints_missing_from_a_run_are_listed_as_skipped():
    skipped = {s.endpoint: s.reason for s in comparison().skipped}
    assert skipped == {"E": "in the baseline run only", "F": "in the current run only",
                       "G": "no p95 or p99 in both runs"}


def test_thresholds_are_configurable():
    looser = compare_runs(PerfReport(BASELINE, CURRENT), PerfThresholds(relative=0.3,
                                                                          absolute_ms=40))
    assert isinstance(looser, PerfComparison)
    # by hand: A p95 +50 ms (50 %) passes both; B p99 +100 ms is 16.7 %, D p95 +200 ms 20 %
    assert [e.endpoint for e in looser.hotspots] == ["A"]
    loosest = compare_runs(PerfReport(BASELINE, CURRENT), PerfThresholds(relative=0.3,
                                                                           absolute_ms=60))
    assert isinstance(loosest, PerfComparison) and loosest.hotspots == ()
    assert percentile_regressed(100, 131, PerfThresholds(relative=0.3, absolute_ms=30))
    assert not percentile_regressed(100, 130, PerfThresholds(relative=0.3, absolute_ms=30))


def test_a_report_without_baseline_is_skipped_with_the_reason():
    result = compare_runs(PerfReport(None, CURRENT))
    assert isinstance(result, Skipped)
    assert result.reason == "no baseline run to compare with"


def test_the_demo_planted_regressions_are_found(small_demo: Path):
    (report,) = perf.read(small_demo / "reports" / "perf.json").records
    planted = {e.endpoint for e in report.current.endpoints
               if e.p95_ms > 1.3 * next(b.p95_ms for b in report.baseline.endpoints
                                        if b.endpoint == e.endpoint)}
    erroring = {e.endpoint for e in report.current.endpoints
                if e.error_rate > 5 * next(b.error_rate for b in report.baseline.endpoints
                                           if b.endpoint == e.endpoint)}
    result = compare_runs(report)
    assert isinstance(result, PerfComparison)
    assert {e.endpoint for e in result.hotspots} == planted
    assert {e.endpoint for e in result.error_rate_increases} == erroring
    impacts = [e.impact for e in result.hotspots]
    assert impacts == sorted(impacts, reverse=True)


def test_perf_section_charts_the_top_regressions(small_demo: Path):
    ctx = Context.open(open_workspace(small_demo), NOW)
    section = perf_section(ctx)
    assert section.status is Status.WARN
    (chart,) = section.charts
    assert chart.kind == "bar"
    hotspots = section.data["hotspots"]
    assert chart.data["categories"] == [h["endpoint"] for h in hotspots]
    assert chart.data["series"][1]["values"] == [h["p95"]["current_ms"] for h in hotspots]
    assert "GET" in section.body or "PUT" in section.body or "POST" in section.body


def test_perf_section_is_skipped_without_a_report(tmp_path: Path):
    ctx = Context.open(open_workspace(tmp_path), NOW)
    section = perf_section(ctx)
    assert section.status is Status.SKIPPED
    assert "reports/perf.json" in section.body
