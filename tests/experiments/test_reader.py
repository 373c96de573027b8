"""Reading experiment definitions and observations: located errors, quarantined rows."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from opsledger.core.problems import Level
from opsledger.experiments.service import assign
from opsledger.model.experiments import ExperimentDefinition, Guardrail, Metric, Traffic
from opsledger.readers.experiments import read

from .builders import definition, definition_data

DOCS = Path(__file__).parents[2] / "docs" / "experiments.md"


def write_definition(folder: Path, text: str, name: str = "trial.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def valid_yaml(**changes: object) -> str:
    return yaml.safe_dump(definition_data(**changes), sort_keys=False)


def assigned_rows(count: int) -> list[tuple[str, str]]:
    trial = definition()
    return [(f"u{i}", assign(f"u{i}", trial)) for i in range(count)]


def test_valid_definition_without_observations(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml())
    result = read(tmp_path)
    assert not result.problems
    [experiment] = result.records
    assert experiment.definition.name == "trial"
    assert experiment.observations is None
    assert experiment.definition.weights == {"control": 0.5, "treatment": 0.5}


def test_schema_error_names_file_and_line(tmp_path: Path) -> None:
    text = valid_yaml().replace("alpha: 0.05", "alpha: 2")
    path = write_definition(tmp_path, text)
    line = text.splitlines().index("alpha: 2") + 1
    result = read(tmp_path)
    assert not result.records
    [problem] = result.problems
    assert problem.path == str(path)
    assert problem.location == f"line {line}"
    assert "alpha" in problem.message and problem.level is Level.FATAL


def test_unknown_key_and_bad_yaml_are_located(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml() + "colour: blue\n", "a.yaml")
    write_definition(tmp_path, "name: [unclosed\n", "b.yaml")
    result = read(tmp_path)
    messages = {Path(p.path).name: (p.location, p.message) for p in result.problems}
    assert "colour" in messages["a.yaml"][1]
    assert re.match(r"line \d+", messages["a.yaml"][0])
    assert messages["b.yaml"][0].startswith("line ")


def test_cross_field_rules(tmp_path: Path) -> None:
    cases = {
        "end.yaml": valid_yaml(end="2026-09-01"),
        "control.yaml": valid_yaml(control="nobody"),
        "dup.yaml": valid_yaml(variants=[{"name": "a", "weight": 1}, {"name": "a", "weight": 1}]),
        "cov.yaml": valid_yaml(covariate={"revenue": "pre_revenue"}),
        "rate.yaml": valid_yaml(primary_metric={"name": "c", "kind": "binary",
                                                "baseline": {"mean": 3}}),
    }
    for name, text in cases.items():
        write_definition(tmp_path, text, name)
    result = read(tmp_path)
    assert not result.records
    by_file = {Path(p.path).name: p.message for p in result.problems}
    assert "not after start" in by_file["end.yaml"]
    assert "not a variant" in by_file["control.yaml"]
    assert "unique" in by_file["dup.yaml"]
    assert "not a metric" in by_file["cov.yaml"]
    assert "rate between 0 and 1" in by_file["rate.yaml"]


def test_duplicate_experiment_names(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml(), "one.yaml")
    write_definition(tmp_path, valid_yaml(), "two.yaml")
    result = read(tmp_path)
    assert len(result.records) == 1
    assert any("also defined in one.yaml" in p.message for p in result.problems)


def test_csv_observations_with_quarantined_rows(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml())
    rows = assigned_rows(6)
    lines = ["Unit ID,Variant,converted,latency_ms"]
    lines += [f"{u},{v},{i % 2},{100 + i}" for i, (u, v) in enumerate(rows)]
    lines += [
        f"u9,{assign('u9', definition())},maybe,120",  # line 8: not 0/1
        "u10,mystery,1,120",  # line 9: undeclared variant
        f"u0,{rows[0][1]},1,120",  # line 10: unit seen twice
        f"u11,{assign('u11', definition())},1,",  # line 11: empty latency
    ]
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / "observations.csv").write_text("\n".join(lines) + "\n")
    result = read(tmp_path)
    [experiment] = result.records
    assert experiment.observations is not None
    assert len(experiment.observations) == 6
    located = sorted((p.location, p.message) for p in result.problems)
    assert located == [
        ("line 10, column 'unit_id'", "unit 'u0' appears twice (first at line 2)"),
        ("line 11, column 'latency_ms'", "missing value for 'latency_ms'"),
        ("line 8, column 'converted'", "'converted' is not 0 or 1 (a binary metric)"),
        ("line 9, column 'variant'", "variant 'mystery' is not declared in the definition"),
    ]
    assert all(p.level is Level.ROW for p in result.problems)
    assert list(experiment.observations.columns["converted"]) == [0, 1, 0, 1, 0, 1]


def test_missing_column_rejects_the_observations(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml())
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / "observations.csv").write_text("unit_id,variant,converted\nu1,a,1\n")
    result = read(tmp_path)
    [experiment] = result.records
    assert experiment.observations is None
    [problem] = result.problems
    assert problem.level is Level.FATAL and "latency_ms" in problem.message
    assert problem.path.endswith("observations.csv") and problem.location == "line 1"


def test_parquet_observations_with_null_and_boolean(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml())
    rows = assigned_rows(4)
    table = pa.table({
        "user_id": [u for u, _ in rows],
        "variant": [v for _, v in rows],
        "converted": [True, False, True, None],
        "latency_ms": [10.0, 11.5, 12.0, 13.0],
    })
    (tmp_path / "trial").mkdir()
    pq.write_table(table, tmp_path / "trial" / "observations.parquet")
    (tmp_path / "trial" / "observations.csv").write_text("ignored\n")
    result = read(tmp_path)
    [experiment] = result.records
    assert experiment.observations is not None
    assert list(experiment.observations.columns["converted"]) == [1.0, 0.0, 1.0]
    locations = {p.location for p in result.problems if p.level is Level.ROW}
    assert locations == {"row 4, column 'converted'"}
    assert any("observations.csv" in p.message and p.level is Level.WARNING
               for p in result.problems)


def test_unreadable_parquet_is_fatal(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml())
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / "observations.parquet").write_bytes(b"PAR1 not really")
    result = read(tmp_path)
    assert result.records[0].observations is None
    assert any(p.level is Level.FATAL and "Parquet" in p.message for p in result.problems)


def test_assignment_mismatch_is_one_warning(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml())
    rows = assigned_rows(10)
    flipped = {"control": "treatment", "treatment": "control"}
    lines = ["unit_id,variant,converted,latency_ms"]
    lines += [f"{u},{flipped[v] if i < 3 else v},1,10" for i, (u, v) in enumerate(rows)]
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / "observations.csv").write_text("\n".join(lines) + "\n")
    result = read(tmp_path)
    [warning] = result.problems
    assert warning.level is Level.WARNING
    assert warning.message.startswith("3 of 10 units are recorded in another variant")
    assert len(result.records[0].observations or []) == 10


def test_the_documented_example_is_valid() -> None:
    text = DOCS.read_text()
    block = text.split("Example:\n\n```yaml\n", 1)[1].split("```", 1)[0]
    parsed = ExperimentDefinition.model_validate(yaml.safe_load(block))
    assert parsed.name == "checkout-one-page"
    assert parsed.covariates == {"revenue": "pre_revenue"}
    first_cells = re.findall(r"^\| (`[^|]+) \|", text, re.MULTILINE)
    documented = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    for model in (ExperimentDefinition, Metric, Guardrail, Traffic):
        assert set(model.model_fields) <= documented, model.__name__


RATIO = {"name": "clicks_per_session", "kind": "ratio", "numerator": "clicks",
         "denominator": "sessions"}
RATIO_COVARIATE = {"clicks_per_session": {"numerator": "pre_clicks",
                                          "denominator": "pre_sessions"}}


def test_ratio_metric_rules(tmp_path: Path) -> None:
    cases = {
        "half.yaml": valid_yaml(primary_metric={**RATIO, "denominator": None}),
        "plain.yaml": valid_yaml(primary_metric={"name": "spend", "kind": "continuous",
                                                 "numerator": "spend"}),
        "bare.yaml": valid_yaml(primary_metric=RATIO, covariate="pre_clicks"),
        "one.yaml": valid_yaml(primary_metric=RATIO, covariate={RATIO["name"]: "pre_clicks"}),
        "two.yaml": valid_yaml(covariate={"latency_ms": {"numerator": "a", "denominator": "b"}}),
    }
    for name, text in cases.items():
        write_definition(tmp_path, text, name)
    result = read(tmp_path)
    assert not result.records
    by_file = {Path(p.path).name: p.message for p in result.problems}
    assert "names its 'numerator' and 'denominator'" in by_file["half.yaml"]
    assert "'numerator' is for ratio metrics only" in by_file["plain.yaml"]
    for name in ("bare.yaml", "one.yaml"):
        assert "covariate of ratio metric 'clicks_per_session' is a mapping" in by_file[name]
    assert "'latency_ms' is not a ratio metric" in by_file["two.yaml"]


def test_ratio_observations_quarantine_zero_and_missing_parts(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml(primary_metric=RATIO, covariate=RATIO_COVARIATE))
    rows = assigned_rows(6)
    lines = ["unit_id,variant,clicks,sessions,pre_clicks,pre_sessions,latency_ms"]
    lines += [f"{u},{v},{i},{i + 1},{i % 3},{i % 2},{100 + i}"  # pre_sessions 0: a new user
              for i, (u, v) in enumerate(rows)]
    lines += [
        f"u20,{assign('u20', definition())},3,0,1,1,120",  # line 8: no sessions
        f"u21,{assign('u21', definition())},,2,1,1,120",  # line 9: no clicks recorded
        f"u22,{assign('u22', definition())},1,2,1,,120",  # line 10: no pre-period sessions
    ]
    (tmp_path / "trial").mkdir()
    (tmp_path / "trial" / "observations.csv").write_text("\n".join(lines) + "\n")
    result = read(tmp_path)
    [experiment] = result.records
    observations = experiment.observations
    assert observations is not None and len(observations) == 6
    located = sorted((p.location, p.message) for p in result.problems)
    assert located == [
        ("line 10, column 'pre_sessions'", "missing value for 'pre_sessions'"),
        ("line 8, column 'sessions'",
         "'sessions' is 0: the denominator of ratio metric 'clicks_per_session'"),
        ("line 9, column 'clicks'", "missing value for 'clicks'"),
    ]
    assert all(p.level is Level.ROW for p in result.problems)
    assert list(observations.columns["sessions"]) == [1, 2, 3, 4, 5, 6]
    assert list(observations.columns["pre_sessions"]) == [0, 1, 0, 1, 0, 1]
    assert "clicks_per_session" not in observations.columns


def test_missing_ratio_column_rejects_the_observations(tmp_path: Path) -> None:
    write_definition(tmp_path, valid_yaml(primary_metric=RATIO))
    (tmp_path / "trial").mkdir()
    pq.write_table(pa.table({"unit_id": ["u1"], "variant": ["control"], "clicks": [1.0],
                             "latency_ms": [1.0]}), tmp_path / "trial" / "observations.parquet")
    result = read(tmp_path)
    assert result.records[0].observations is None
    [problem] = result.problems
    assert problem.level is Level.FATAL and "sessions" in problem.message


def test_the_documented_ratio_example_is_valid() -> None:
    text = DOCS.read_text()
    block = text.split("A ratio metric with its pre-period columns for CUPED:\n\n```yaml\n",
                       1)[1].split("```", 1)[0]
    parsed = ExperimentDefinition.model_validate({**definition_data(), **yaml.safe_load(block)})
    [ratio] = parsed.secondary_metrics
    assert (ratio.numerator, ratio.denominator) == ("clicks", "sessions")
    assert ratio.columns == ("clicks", "sessions")
    assert "pre_sessions" in parsed.columns
