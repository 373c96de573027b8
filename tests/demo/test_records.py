"""Demo writers for health, perf, gates and incidents: readable, realistic, deterministic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from opsledger.core.problems import Level
from opsledger.demo.records import (
    health_row_count,
    native_incident_team,
    write_gates,
    write_health,
    write_incidents,
    write_perf,
)
from opsledger.demo.world import Size, World, build_world
from opsledger.readers import gates_config, health, incidents, perf

NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return build_world(Size.SMALL, 7, NOW)


@pytest.fixture(scope="module")
def workspace(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("records")
    for writer in (write_health, write_perf, write_gates, write_incidents):
        writer(world, root)
    return root


def test_health_history_is_read_cleanly_in_both_formats(world: World, workspace: Path):
    result = health.read(workspace / "reports" / "health")
    assert result.problems == []
    assert result.detected_format == "csv+jsonl"
    assert result.record_count == health_row_count(world)
    assert set(result.history.present_services) == {s.name for s in world.services}
    assert min(p.time for p in result.history) == world.history_start


def test_probes_fail_during_incidents_in_proportion_to_error_fraction(
    world: World, workspace: Path
):
    probes = list(health.read(workspace / "reports" / "health").history)
    windows = [
        (i.service, i.started_at, i.resolved_at, i.error_fraction)
        for i in world.incidents
        if i.started_at >= world.history_start
    ]
    inside_failed = inside_total = outside_failed = outside_total = 0
    expected_failures = 0.0
    for p in probes:
        fraction = max(
            (f for s, a, b, f in windows if s == p.service and a <= p.time < b), default=None
        )
        if fraction is None:
            outside_total += 1
            outside_failed += not p.ok
        else:
            inside_total += 1
            inside_failed += not p.ok
            expected_failures += fraction
    assert inside_total > 0
    assert outside_failed / outside_total < 0.002
    # Binomial: observed failures within 4 standard deviations of the expected count.
    assert abs(inside_failed - expected_failures) <= 4 * max(expected_failures, 1) ** 0.5 + 1


def test_latency_has_an_afternoon_peak(workspace: Path):
    probes = list(health.read(workspace / "reports" / "health").history)
    by_hour = {
        hour: np.median(
            [
                p.latency_ms
                for p in probes
                if p.ok and p.latency_ms is not None and p.time.hour == hour
            ]
        )
        for hour in (3, 15)
    }
    assert by_hour[15] > 1.3 * by_hour[3]


def test_medium_health_history_stays_under_600k_rows():
    medium = build_world(Size.MEDIUM, 7, NOW)
    assert 450_000 < health_row_count(medium) <= 600_000


def test_perf_has_clear_p95_regressions_and_one_error_rate_increase(workspace: Path):
    result = perf.read(workspace / "reports" / "perf.json")
    assert result.problems == []
    (report,) = result.records
    before = {e.endpoint: e for e in report.baseline.endpoints}
    after = {e.endpoint: e for e in report.current.endpoints}
    assert before.keys() == after.keys() and len(before) >= 9
    regressions = [n for n in before if after[n].p95_ms > 1.3 * before[n].p95_ms]
    erroring = [n for n in before if after[n].error_rate > 5 * before[n].error_rate]
    assert 2 <= len(regressions) <= 3
    assert len(erroring) == 1 and erroring[0] not in regressions
    assert all(e.p50_ms <= e.p95_ms <= e.p99_ms for e in [*before.values(), *after.values()])


def test_gates_config_is_valid_and_covers_the_usual_metrics(workspace: Path):
    result = gates_config.read(workspace / "gates_config.yaml")
    assert result.problems == []
    metrics = {g.metric for g in result.records}
    assert {
        "worst_critical_availability",
        "latency_p95_ms",
        "error_rate",
        "critical_vulnerabilities_overdue",
        "test_pass_rate",
        "coverage",
    } <= metrics
    # Most gates block a release; one shows an advisory gate, and no deprecated key is used.
    blocking = [g for g in result.records if g.blocking]
    assert 0 < len(blocking) < len(result.records)
    assert all("key" not in g.declared for g in result.records)


def test_incidents_round_trip_with_one_malformed_row_and_one_duplicate(
    world: World, workspace: Path
):
    result = incidents.read(workspace / "incidents")
    (row,) = [p for p in result.problems if p.level is Level.ROW]
    team = native_incident_team(world)
    assert row.path.endswith(f"{team}-incidents.csv")
    assert row.location.endswith("column 'acknowledged_at'") and "-02-30T" in row.found
    (duplicate,) = [p for p in result.problems if p.level is Level.WARNING]
    assert "also in" in duplicate.message
    assert not result.fatal
    assert len(result.records) == len(world.incidents) - 1
    expected = {i.id: i for i in world.incidents}
    for incident in result.records:
        source = expected[incident.id]
        assert incident.severity == source.severity
        assert incident.service == source.service
        assert incident.acknowledged_at == source.acknowledged_at
        assert incident.resolved_at == source.resolved_at


def test_writers_are_deterministic(world: World, workspace: Path, tmp_path: Path):
    for writer in (write_health, write_perf, write_gates, write_incidents):
        for path in writer(world, tmp_path):
            relative = path.relative_to(tmp_path)
            assert path.read_bytes() == (workspace / relative).read_bytes(), relative
