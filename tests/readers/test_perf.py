"""The perf reader: native baseline/current JSON, k6 summaries, a baseline beside the file."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.core.problems import Level
from opsledger.model.health import EndpointPerf
from opsledger.readers import perf

FIXTURES = Path(__file__).parent / "fixtures" / "perf"


def endpoints(run) -> dict[str, EndpointPerf]:
    return {e.endpoint: e for e in run.endpoints}


def test_native_baseline_and_current():
    result = perf.read(FIXTURES / "native.json")
    assert result.problems == []
    assert result.detected_format == "native"
    (report,) = result.records
    assert report.baseline.started_at == datetime(2026, 10, 1, 2, tzinfo=UTC)
    assert report.baseline.tool == "k6" and report.current.tool == "native"
    before, after = endpoints(report.baseline), endpoints(report.current)
    assert before["GET /items"] == EndpointPerf("GET /items", 40, 120.5, 210, 55.2, 0.001, 33120)
    assert before["POST /items"].requests is None
    assert after["GET /items"].p95_ms == 190
    assert after["POST /items"].error_rate == 0.031


def test_k6_summary_export_per_endpoint_submetrics():
    result = perf.read(FIXTURES / "k6-summary-export.json")
    assert result.problems == []
    assert result.detected_format == "k6 summary"
    (report,) = result.records
    assert report.baseline is None
    assert report.current.tool == "k6" and report.current.label == "current"
    found = endpoints(report.current)
    # The {expected_response:true} sub-metric is not an endpoint.
    assert sorted(found) == ["GET /items", "POST /items"]
    get = found["GET /items"]
    assert (get.p50_ms, get.p95_ms, get.p99_ms) == (60.0, 150.0, 300.0)  # p50 = med
    assert (get.rps, get.requests, get.error_rate) == (25.0, 1500, 0.002)
    post = found["POST /items"]
    assert post.p99_ms is None  # not in --summary-trend-stats for this sub-metric
    # No "value": the share is passes (failed requests) / all samples = 15 / 300.
    assert post.error_rate == pytest.approx(0.05)


def test_k6_handle_summary_values_nesting_gives_one_all_endpoint():
    result = perf.read(FIXTURES / "k6-handle-summary.json")
    assert result.problems == []
    (report,) = result.records
    (only,) = report.current.endpoints
    assert only == EndpointPerf("all", 40.0, 120.0, 180.0, 16.6, 0.0005, 5000)


def test_baseline_beside_a_k6_file(tmp_path: Path):
    shutil.copy(FIXTURES / "k6-summary-export.json", tmp_path / "perf.json")
    shutil.copy(FIXTURES / "native.json", tmp_path / "perf-baseline.json")
    result = perf.read(tmp_path / "perf.json")
    assert result.problems == []
    assert result.detected_format == "k6 summary, baseline native"
    (report,) = result.records
    assert endpoints(report.baseline)["GET /items"].p95_ms == 120.5
    assert endpoints(report.current)["GET /items"].p95_ms == 150.0


def test_k6_baseline_beside_a_k6_file(tmp_path: Path):
    shutil.copy(FIXTURES / "k6-summary-export.json", tmp_path / "perf.json")
    shutil.copy(FIXTURES / "k6-handle-summary.json", tmp_path / "perf-baseline.json")
    (report,) = perf.read(tmp_path / "perf.json").records
    assert report.baseline.label == "baseline"
    assert [e.endpoint for e in report.baseline.endpoints] == ["all"]


def test_sidecar_ignored_with_warning_when_file_has_a_baseline(tmp_path: Path):
    shutil.copy(FIXTURES / "native.json", tmp_path / "perf.json")
    shutil.copy(FIXTURES / "native.json", tmp_path / "perf-baseline.json")
    result = perf.read(tmp_path / "perf.json")
    (warning,) = result.problems
    assert warning.level is Level.WARNING
    assert warning.path.endswith("perf-baseline.json")


def test_truncated_json_is_fatal_with_line():
    result = perf.read(FIXTURES / "truncated.json")
    (problem,) = result.problems
    assert problem.level is Level.FATAL
    assert problem.path.endswith("truncated.json")
    assert problem.location.startswith("line 5, column")


def test_bad_values_quarantine_the_endpoint_with_json_path():
    result = perf.read(FIXTURES / "bad_value.json")
    assert [(p.location, p.level) for p in result.problems] == [
        ("$.current.endpoints[0].p95_ms", Level.ROW),
        ("$.current.endpoints[1].error_rate", Level.ROW),
    ]
    assert "'fast'" in result.problems[0].found
    assert "at most 1" in result.problems[1].expected
    (report,) = result.records
    assert [e.endpoint for e in report.current.endpoints] == ["GET /ok"]


def test_missing_endpoints_is_fatal():
    result = perf.read(FIXTURES / "no_endpoints.json")
    assert result.fatal
    assert result.problems[0].location == "$.current.endpoints"


def test_unknown_document_is_fatal_and_says_what_it_found():
    result = perf.read(FIXTURES / "unknown.json")
    assert result.fatal
    assert "runs" in result.problems[0].found


def test_k6_without_duration_metric_is_fatal(tmp_path: Path):
    path = tmp_path / "perf.json"
    path.write_text('{"metrics": {"http_reqs": {"count": 1, "rate": 1}}}')
    result = perf.read(path)
    assert result.fatal
    assert result.problems[0].location == "$.metrics.http_req_duration"


def test_non_utf8_and_nul_are_fatal(tmp_path: Path):
    bad = tmp_path / "perf.json"
    bad.write_bytes(b'{"current": {"endpoints": [{"endpoint": "caf\xe9"}]}}')
    assert perf.read(bad).problems[0].location == "line 1"
    bad.write_bytes(b'{"current":\n\x00}')
    problem = perf.read(bad).problems[0]
    assert (problem.location, problem.level) == ("line 2", Level.FATAL)
