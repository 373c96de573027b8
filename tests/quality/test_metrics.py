"""Metrics by name, by hand from small records, and measured on the demo workspace."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from opsledger.core.config import SeverityDays, SloBudget
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.demo.quality import write_test_reports
from opsledger.demo.world import Size, build_world
from opsledger.model.common import Severity
from opsledger.model.health import EndpointPerf, PerfReport, PerfRun, ProbeResult
from opsledger.model.quality import TestRunCounts
from opsledger.model.security import Finding
from opsledger.patching.cadence import assess_posture
from opsledger.quality.gate_definitions import resolve_definitions
from opsledger.quality.gates import NotAvailable
from opsledger.quality.metrics import (
    METRICS,
    health_metrics,
    incident_metrics,
    junit_metrics,
    perf_metrics,
    slo_metrics,
    vulnerability_metrics,
)
from opsledger.quality.perf import compare_runs
from opsledger.quality.service import collect_metrics, read_gates, run_quality_gates
from opsledger.readers import gates_config
from opsledger.slo.health import service_health

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def probes(service: str, ok: int, failed: int, latency: float) -> list[ProbeResult]:
    start = NOW - timedelta(days=1)
    return [ProbeResult(start + timedelta(minutes=i), service, "http", i >= failed,
                        latency + i if i >= failed else None) for i in range(ok + failed)]


def test_availability_is_the_worst_critical_service():
    records = probes("checkout", 995, 5, 100) + probes("reports", 90, 10, 500)
    results = service_health(records, NOW - timedelta(days=30), NOW,
                             lambda name: SloBudget(availability=0.999))
    values = health_metrics(results, critical=["checkout"])
    assert values["worst_critical_availability"] == 0.995  # reports (0.9) is not critical
    assert values["availability_services_breached"] == 2.0
    # linear p95 of 105..999 (995 passing latencies) by hand: 105 + 0.95 x 994
    assert values["probe_latency_p95_ms"] == pytest.approx(105 + 0.95 * 994)
    everyone = health_metrics(results, critical=[])
    assert everyone["worst_critical_availability"] == 0.9
    # not the fleet KPI: pooled over every service it would be (995 + 90) / 1100
    assert everyone["worst_critical_availability"] != pytest.approx(1085 / 1100)


def test_perf_metrics_by_hand():
    before = PerfRun("baseline", (EndpointPerf("a", 10, 100, 200, 5, 0.01, 1000),
                                  EndpointPerf("b", 10, 300, 400, 5, 0.001, 3000)))
    after = PerfRun("current", (EndpointPerf("a", 10, 100, 250, 5, 0.02, 1000),
                                EndpointPerf("b", 10, 350, 400, 5, 0.002, 3000)))
    report = PerfReport(before, after)
    values = perf_metrics(report, compare_runs(report))
    assert values["latency_p95_ms"] == 350 and values["latency_p99_ms"] == 400
    assert values["error_rate"] == 0.02
    # (0.02 x 1000 + 0.002 x 3000) / 4000
    assert values["error_rate_overall"] == pytest.approx(26 / 4000)
    assert values["perf_regressions"] == 2.0  # a: p99 +50 (25 %); b: p95 +50 (16.7 %)
    empty = perf_metrics(None, None)
    assert all(isinstance(v, NotAvailable) for v in empty.values())


@dataclass(frozen=True)
class Budget:
    remaining: float


@dataclass(frozen=True)
class Outcome:
    valid: bool
    met: bool | None
    budget: Budget | None


def test_slo_metrics_over_valid_slos_only():
    values = slo_metrics([Outcome(True, True, Budget(0.4)), Outcome(True, False, Budget(-0.2)),
                          Outcome(True, True, Budget(0.9)), Outcome(False, None, None)])
    assert values["slo_attainment"] == pytest.approx(2 / 3)
    assert values["error_budget_remaining"] == -0.2
    assert values["slos_breached"] == 1.0
    none = slo_metrics([])
    assert none["slo_attainment"] == NotAvailable("no SLO definitions")


def test_vulnerability_metrics_by_hand():
    old = date(2026, 9, 1)
    findings = [
        Finding("CVE-1", (), "a", "PyPI", "1", severity=Severity.CRITICAL, first_seen=old),
        Finding("CVE-2", (), "b", "PyPI", "1", severity=Severity.CRITICAL,
                first_seen=date(2026, 10, 30)),
        Finding("CVE-3", (), "c", "PyPI", "1", severity=Severity.HIGH, first_seen=old),
        Finding("CVE-4", (), "d", "PyPI", "1", severity=Severity.LOW, first_seen=old),
    ]
    posture = assess_posture(findings, SeverityDays(), NOW)
    values = vulnerability_metrics(posture)
    assert values["vulnerabilities_open_critical"] == 2.0
    assert values["vulnerabilities_open_high"] == 1.0
    # overdue: CVE-1 (due 09-08), CVE-3 (due 10-01); CVE-2 due 11-06, CVE-4 due 2027
    assert values["vulnerabilities_overdue"] == 2.0
    assert values["critical_vulnerabilities_overdue"] == 1.0


def test_junit_and_incident_metrics():
    values = junit_metrics([TestRunCounts("a", 100, 2, 1, 7), TestRunCounts("b", 50, 0, 0, 0)])
    assert values["tests_total"] == 150.0
    assert values["test_pass_rate"] == pytest.approx(140 / 143)
    only_skipped = junit_metrics([TestRunCounts("a", 3, 0, 0, 3)])
    assert isinstance(only_skipped["test_pass_rate"], NotAvailable)
    incident = incident_metrics([60.0, 120.0, 30.0], 4)
    assert incident == {"mttr_minutes_major": 70.0, "overdue_action_items": 4.0}
    assert isinstance(incident_metrics([], None)["mttr_minutes_major"], NotAvailable)


def test_every_demo_gate_metric_is_a_documented_metric(small_demo: Path):
    gates = gates_config.read(small_demo / "gates_config.yaml").records
    resolved = resolve_definitions(gates, "gates_config.yaml").gates
    assert {g.metric for g in resolved} <= METRICS.keys()


def test_demo_workspace_measures_every_gate_metric(small_demo: Path, tmp_path: Path):
    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    write_test_reports(build_world(Size.SMALL, 7, NOW), root)
    ctx = Context.open(open_workspace(root), NOW)
    measured = collect_metrics(ctx)
    gates = read_gates(ctx).records
    resolved = resolve_definitions(gates, "gates_config.yaml").gates
    missing = {g.metric: measured.values.get(g.metric) for g in resolved
               if not isinstance(measured.values.get(g.metric), float)}
    assert missing == {}
    # the pass rate, from the files by hand
    cases = [c for f in sorted((root / "reports/tests").glob("*.xml"))
             for c in ET.parse(f).getroot().iter("testcase")]
    failed = sum(1 for c in cases if c.find("failure") is not None)
    skipped = sum(1 for c in cases if c.find("skipped") is not None)
    assert measured.values["test_pass_rate"] == pytest.approx(
        (len(cases) - failed - skipped) / (len(cases) - skipped))
    assert measured.values["coverage"] == pytest.approx(0.782)
    run = run_quality_gates(ctx, gates)
    assert run.scorecard.evaluations and run.scorecard.score is not None
    document = run.to_json(root)
    assert document["schema_version"] == 1 and "gates-config" in document["inputs"]
    assert "test-results" in document["inputs"]
