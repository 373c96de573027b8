"""Gate definitions: ``advisory``, the deprecated ``key`` and renamed metrics, each warned
about at the file and gate; gate metric names set apart from the monthly KPIs."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsledger.core.problems import Level, ReadResult
from opsledger.model.gates import GateSpec
from opsledger.quality.gate_definitions import resolve_definitions
from opsledger.quality.metrics import METRICS, RENAMED_METRICS, UNITS
from opsledger.readers import gates_config
from opsledger.review import kpis

HEADER = "version: 1\ngates:\n"


def gate(name: str, metric: str, extra: str = "") -> str:
    return (f"  - name: {name}\n    metric: {metric}\n    operator: '<='\n    threshold: 1\n"
            + extra)


def read(tmp_path: Path, body: str) -> ReadResult[GateSpec]:
    path = tmp_path / "gates_config.yaml"
    path.write_text(HEADER + body)
    return gates_config.read(path)


def test_advisory_is_read_and_a_gate_blocks_by_default(tmp_path: Path):
    result = read(tmp_path, gate("a", "error_rate", "    advisory: true\n")
                  + gate("b", "coverage"))
    assert result.problems == []
    first, second = result.records
    assert first.advisory and not first.blocking
    assert not second.advisory and second.blocking
    assert (first.where, second.where) == ("line 3", "line 8")
    assert resolve_definitions(result.records, "gates_config.yaml").warnings == ()


@pytest.mark.parametrize(("key", "advisory", "blocking", "says"), [
    ("true", "", True, "'key: true' is deprecated and has no effect"),
    ("false", "", True, "this gate now blocks"),
    ("false", "    advisory: true\n", False, "'advisory: true' decides"),
])
def test_key_is_read_with_a_warning_naming_file_line_and_gate(
    tmp_path: Path, key: str, advisory: str, blocking: bool, says: str
):
    result = read(tmp_path, gate("ok", "coverage") + gate("old", "error_rate",
                                                          f"    key: {key}\n{advisory}"))
    assert not result.fatal
    definitions = resolve_definitions(result.records, "gates_config.yaml")
    assert definitions.gates[1].blocking is blocking
    (warning,) = definitions.warnings
    assert warning.level is Level.WARNING
    assert str(warning).startswith("gates_config.yaml: line 7: gate 'old': ")
    assert says in warning.message and "remove 'key'" in warning.message


def test_key_true_and_advisory_true_together_are_refused_at_the_line(tmp_path: Path):
    result = read(tmp_path, gate("g", "coverage", "    key: true\n    advisory: true\n"))
    assert result.fatal and result.records == []
    (problem,) = result.problems
    assert problem.location == "line 8"
    assert "both 'key: true' and 'advisory: true'" in problem.message


@pytest.mark.parametrize("old", sorted(RENAMED_METRICS))
def test_a_former_metric_name_is_measured_under_the_new_one_with_a_warning(
    tmp_path: Path, old: str
):
    new, _ = RENAMED_METRICS[old]
    result = read(tmp_path, gate("g", old))
    definitions = resolve_definitions(result.records, "gates_config.yaml")
    assert definitions.gates[0].metric == new
    (warning,) = definitions.warnings
    assert f"metric '{old}' is now named '{new}'" in warning.message
    assert warning.location == "line 3" and "gate 'g'" in warning.message


def _kpi_names() -> set[str]:
    groups = [[kpis.AVAILABILITY], kpis.SLO_NAMES, kpis.INCIDENT_NAMES, kpis.ACTION_NAMES,
              kpis.VULNERABILITY_NAMES, kpis.COST_NAMES, [kpis.TICKET_NAME], kpis.BACKLOG_NAMES]
    return {name for group in groups for name, *_ in group}


def test_no_gate_metric_takes_a_kpi_name_that_means_something_else():
    shared = set(METRICS) & _kpi_names()
    # both count open findings past their SLA due date (patching's Posture.overdue)
    assert shared == {"vulnerabilities_overdue"}
    # the former names were KPI names, or the KPI's words in another order
    assert "availability" in _kpi_names()
    assert {"vulnerabilities_critical"} <= _kpi_names()
    assert not set(RENAMED_METRICS) & set(METRICS)
    assert {new for new, _ in RENAMED_METRICS.values()} <= set(METRICS)


def test_every_metric_has_a_unit():
    assert set(UNITS) == set(METRICS)
