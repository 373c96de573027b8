"""OpenCost allocation responses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsledger.core.problems import Level
from opsledger.readers import costs

ALLOCATION = {
    "name": "checkout",
    "properties": {"cluster": "c1", "namespace": "payments",
                   "labels": {"app_kubernetes_io_name": "checkout", "team": "payments"}},
    "window": {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
    "start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z",
    "cpuCost": 1.5, "ramCost": 0.5, "pvCost": 0.25, "networkCost": 0.0, "totalCost": 2.25,
    "cpuCoreUsageAverage": 0.5, "cpuCoreRequestAverage": 2.0,
}


def test_allocations_are_read_with_labels_and_efficiency(tmp_path: Path) -> None:
    idle = {"name": "__idle__", "start": "2026-11-01T00:00:00Z",
            "end": "2026-11-02T00:00:00Z", "totalCost": 4.0}
    (tmp_path / "alloc.json").write_text(json.dumps(
        {"code": 200, "data": [{"checkout": ALLOCATION, "__idle__": idle}, None]}))
    result = costs.read(tmp_path)
    assert [p.level for p in result.problems] == [Level.WARNING]  # spend from OpenCost only
    assert [f.detected_format for f in result.files] == ["opencost-allocation"]
    checkout, spare = result.allocations
    assert (checkout.service, checkout.team, checkout.namespace) == (
        "checkout", "payments", "payments")
    assert checkout.total_cost == 2.25 and checkout.days == pytest.approx(1.0)
    assert checkout.cpu_efficiency == pytest.approx(0.25)  # 0.5 used of 2 requested
    assert spare.idle and spare.service is None
    # Without a FOCUS export the allocations are the spend, one line per allocation and day.
    assert result.spend_basis == "opencost" and result.record_count == 2
    frame = result.ledger.frame
    assert frame.loc[frame["service"] == "checkout", "effective_cost"].sum() == pytest.approx(2.25)
    assert frame.loc[frame["service"].isna(), "effective_cost"].sum() == pytest.approx(4.0)


def test_bad_allocations_are_located(tmp_path: Path) -> None:
    broken = dict(ALLOCATION, totalCost="a lot")
    (tmp_path / "alloc.json").write_text(json.dumps({"code": 200, "data": [
        {"checkout": broken, "search": dict(ALLOCATION, name="search")}]}))
    result = costs.read(tmp_path)
    (problem,) = [p for p in result.problems if p.level is not Level.WARNING]
    assert problem.location == "$.data[0].checkout.totalCost"
    assert problem.level is Level.ROW
    assert [a.name for a in result.allocations] == ["search"]


def test_error_response_and_unknown_json_fail(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"code": 500, "data": [{"x": {"totalCost": 1}}]}))
    (tmp_path / "b.json").write_text(json.dumps({"items": []}))
    (tmp_path / "c.json").write_text('{"code": 200, "data": [')
    result = costs.read(tmp_path)
    fatal = {Path(p.path).name: p for p in result.problems if p.level is Level.FATAL}
    assert set(fatal) == {"a.json", "b.json", "c.json"}
    assert fatal["a.json"].location == "$.code"
    assert "not an OpenCost allocation response" in fatal["b.json"].message
    assert "line 1" in fatal["c.json"].location
