"""A small valid experiment definition to vary in tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opsledger.model.experiments import ExperimentDefinition

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def definition_data(**changes: Any) -> dict[str, Any]:
    """Return a valid two-variant definition as plain data, with ``changes`` applied."""
    data: dict[str, Any] = {
        "name": "trial",
        "hypothesis": "The change helps.",
        "unit": "user",
        "variants": [{"name": "control", "weight": 1}, {"name": "treatment", "weight": 1}],
        "primary_metric": {"name": "converted", "kind": "binary"},
        "guardrail_metrics": [{"name": "latency_ms", "kind": "continuous",
                               "direction": "decrease", "tolerance": 0.05}],
        "alpha": 0.05,
        "power": 0.8,
        "minimum_detectable_effect": {"value": 0.1, "scale": "relative"},
        "start": "2026-10-01",
        "end": "2026-10-29",
        "salt": "s1",
        "owner": "Ann",
        "status": "running",
    }
    data.update(changes)
    return data


def definition(**changes: Any) -> ExperimentDefinition:
    return ExperimentDefinition.model_validate(definition_data(**changes))
