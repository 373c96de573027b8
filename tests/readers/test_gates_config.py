"""gates_config.yaml: the schema, operator spellings, warn levels and located errors."""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import Level
from opsledger.model.gates import GateSpec, Operator
from opsledger.readers import gates_config

FIXTURES = Path(__file__).parent / "fixtures" / "gates"


def test_good_file_gives_gate_specs_with_defaults():
    result = gates_config.read(FIXTURES / "good.yaml")
    assert result.problems == []
    assert result.records == [
        GateSpec("availability", "availability", Operator.GE, 0.999, 0.9995, 3.0, True, "SLOs met"),
        GateSpec("latency", "latency_p95_ms", Operator.LE, 500.0, 400.0, 1.0, False),
        GateSpec("critical-vulns", "critical_vulnerabilities", Operator.EQ, 0.0, None, 1.0, False),
    ]


def test_every_operator_spelling_is_accepted():
    for word, operator in gates_config.OPERATOR_WORDS.items():
        entry = gates_config.GateEntry(name="g", metric="m", operator=word, threshold=1)
        assert entry.operator is operator
    assert {gates_config.OPERATOR_WORDS[w] for w in ("ge", "gt", "le", "lt", "eq", "ne")} == set(
        Operator
    )


def test_warn_threshold_on_failing_side_is_rejected_at_its_line():
    result = gates_config.read(FIXTURES / "warn_wrong_side.yaml")
    assert result.fatal and result.records == []
    first, second = result.problems
    assert first.location == "line 6" and second.location == "line 11"
    assert "below threshold 0.999" in first.message and "at or above" in first.message
    assert "above threshold 500" in second.message and "at or below" in second.message
    assert str(first).startswith(str(FIXTURES / "warn_wrong_side.yaml") + ": line 6: ")


def test_equality_gate_takes_no_warn_threshold(tmp_path: Path):
    path = tmp_path / "gates_config.yaml"
    path.write_text(
        "gates:\n  - name: g\n    metric: m\n    operator: ==\n    threshold: 0\n"
        "    warn_threshold: 1\n"
    )
    result = gates_config.read(path)
    assert result.problems[0].location == "line 6"
    assert "cannot have a warn_threshold" in result.problems[0].message


def test_unknown_operator_names_line_and_choices():
    result = gates_config.read(FIXTURES / "bad_operator.yaml")
    (problem,) = result.problems
    assert problem.location == "line 4"
    assert "unknown operator 'at least'" in problem.message
    assert "ge, gt, le, lt, eq, ne" in problem.message


def test_missing_and_non_numeric_threshold_each_located():
    result = gates_config.read(FIXTURES / "missing_threshold.yaml")
    by_location = {p.location: p.message for p in result.problems}
    assert "gates.0.threshold: Field required" in by_location["line 2"]
    assert "gates.1.threshold" in by_location["line 9"]
    assert all(p.level is Level.FATAL for p in result.problems)


def test_duplicate_gate_name_is_located_at_the_second():
    result = gates_config.read(FIXTURES / "duplicate.yaml")
    (problem,) = result.problems
    assert problem.location == "line 6"
    assert "declared twice" in problem.message


def test_yaml_syntax_error_is_fatal_with_line_and_column():
    result = gates_config.read(FIXTURES / "broken.yaml")
    (problem,) = result.problems
    assert problem.level is Level.FATAL
    assert problem.location.startswith("line 4, column")
    assert "invalid YAML" in problem.message


def test_unknown_key_empty_file_nul_and_non_utf8(tmp_path: Path):
    path = tmp_path / "gates_config.yaml"
    path.write_text(
        "gates:\n  - name: g\n    metric: m\n    operator: ge\n    threshold: 1\n"
        "    treshold_warn: 2\n"
    )
    (problem,) = gates_config.read(path).problems
    assert problem.location == "line 6" and "treshold_warn" in problem.message
    path.write_text("")
    assert gates_config.read(path).problems[0].message == "file is empty"
    path.write_bytes(b"gates:\n\x00")
    assert gates_config.read(path).problems[0].location == "line 2"
    path.write_bytes(b"gates:\n  - name: caf\xe9\n")
    assert gates_config.read(path).problems[0].location == "line 2"
