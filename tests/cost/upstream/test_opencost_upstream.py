"""OpenCost's published API answers: an allocation response alone is read as the Kubernetes
workloads' spend (validate and cost agree); its other APIs are refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opsledger.core.config import CostMapping, CostMappingRule
from opsledger.core.problems import Level
from opsledger.cost.spend import UNMAPPED, summarise_spend
from opsledger.readers import costs

from .conftest import ALLOCATIONS, CLOUD_COST, SAMPLE, cost_document, costs_status, workspace


def published_allocations() -> dict[str, dict[str, object]]:
    steps = json.loads(ALLOCATIONS.read_text())["data"]
    return {name: item for step in steps for name, item in step.items()}


def test_allocations_alone_are_counted_and_reported(tmp_path: Path) -> None:
    root = workspace(tmp_path, ALLOCATIONS)
    status = costs_status(root)
    assert (status["state"], status["records"], status["format"]) == (
        "ok", len(published_allocations()), "OpenCost allocation")
    assert any("no FOCUS export" in p["message"] for p in status["problems"])
    document = cost_document(root, "2023-07-20T00:00:00Z")
    total = sum(float(str(a["totalCost"])) for a in published_allocations().values())
    assert document["spend_basis"] == "opencost"
    assert sum(document["by_month"].values()) == pytest.approx(total, abs=0.01)


def test_each_allocation_is_spread_over_the_days_of_its_window() -> None:
    ledger = costs.read(ALLOCATIONS).ledger.frame
    for name, item in published_allocations().items():
        lines = ledger[ledger["resource_id"] == name]
        assert lines["effective_cost"].sum() == pytest.approx(item["totalCost"])
        # 2023-07-12T11:02:46Z to 2023-07-19T11:02:00Z: eight UTC days, the ends partial.
        assert len(lines) == 8
        assert lines["day"].min().date().isoformat() == "2023-07-12"


def test_a_property_rule_names_the_namespaces() -> None:
    mapping = CostMapping(service=[CostMappingRule(column="namespace")])
    summary = summarise_spend(costs.read(ALLOCATIONS, mapping).ledger)
    expected = {name: item["totalCost"] for name, item in published_allocations().items()}
    assert {s: sum(m.values()) for s, m in summary.by_service.items()} == pytest.approx(expected)
    assert summary.unmapped == 0 and set(summary.by_rule) == {"column 'namespace'"}


def test_the_default_rules_fall_back_to_the_controller() -> None:
    summary = summarise_spend(costs.read(ALLOCATIONS).ledger)
    assert set(summary.by_service) == {"opencost", UNMAPPED}
    assert set(summary.by_rule) == {"OpenCost controller", UNMAPPED}


def test_next_to_a_focus_export_allocations_do_not_add_to_spend(tmp_path: Path) -> None:
    root = workspace(tmp_path, SAMPLE, ALLOCATIONS)
    result = costs.read(root / "costs")
    assert result.spend_basis == "focus" and len(result.allocations) == 3
    assert result.record_count == 1000 + 3
    only_focus = costs.read(SAMPLE)
    assert summarise_spend(result.ledger).by_month == summarise_spend(
        only_focus.ledger).by_month


def test_a_cloud_cost_answer_is_refused_by_name() -> None:
    result = costs.read(CLOUD_COST)
    (problem,) = [p for p in result.problems if p.level is Level.FATAL]
    assert "OpenCost /cloudCost response is not read" in problem.message
    assert result.spend_basis == "none" and not result.records
