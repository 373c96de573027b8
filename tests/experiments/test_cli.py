"""``opsledger experiment`` on a workspace with the demo experiments."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsledger.cli.experiment import app
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.experiments.results import ExperimentResult
from opsledger.experiments.service import analyze_experiment, assign, find_experiment

from .builders import NOW

runner = CliRunner()
NOW_TEXT = "2026-11-01T00:00:00Z"
CONTRACT_METRIC_KEYS = {"metric", "variant", "lift_abs", "lift_rel", "ci_low", "ci_high",
                        "p_value", "p_value_adjusted", "chance_to_win"}


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_analyze_json_contract_and_values(experiments_workspace: Path) -> None:
    code, out = invoke("analyze", str(experiments_workspace), "checkout-one-page", "--json",
                       "--now", NOW_TEXT)
    assert code == 0, out
    data = json.loads(out)
    assert isinstance(data["srm_p_value"], float)
    assert [v["name"] for v in data["variants"]] == ["control", "one-page"]
    for variant in data["variants"]:
        assert {"name", "n", "mean", "std"} <= set(variant)
    assert {(m["metric"], m["variant"]) for m in data["metrics"]} == {
        ("converted", "one-page"), ("revenue", "one-page"), ("latency_ms", "one-page")}
    for metric in data["metrics"]:
        assert set(metric) >= CONTRACT_METRIC_KEYS
    assert data["decision"]["verdict"] == "ship"
    # The same figures as the library gives.
    ctx = Context.open(open_workspace(experiments_workspace), NOW)
    result = analyze_experiment(find_experiment(ctx, "checkout-one-page"), NOW)
    assert isinstance(result, ExperimentResult)
    primary = result.primary()
    assert primary is not None
    converted = next(m for m in data["metrics"] if m["metric"] == "converted")
    assert converted["p_value"] == primary.lift.p_value
    assert converted["ci_low"] == primary.lift.ci_low
    assert converted["chance_to_win"] == primary.posterior.chance_to_win


def test_analyze_table_output(experiments_workspace: Path) -> None:
    code, out = invoke("analyze", str(experiments_workspace), "recommendations-carousel",
                       "--now", NOW_TEXT)
    assert code == 0, out
    assert "MISMATCH" in out
    assert "Decision: invalid" in out


def test_plan_with_daily_units(experiments_workspace: Path) -> None:
    code, out = invoke("plan", str(experiments_workspace), "checkout-one-page",
                       "--daily-units", "1500", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["sample_size"]["per_variant"] == {"control": 14745, "one-page": 14745}
    assert data["duration_days"] == 20  # ceil(14745 / 750)
    code, out = invoke("plan", str(experiments_workspace), "checkout-one-page",
                       "--daily-units", "1500")
    assert code == 0 and "Duration: 20 days" in out


def test_plan_reads_daily_units_from_telemetry(experiments_workspace: Path,
                                                tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(experiments_workspace, ws)
    rows = ["ts,service,status"]
    rows += ["2026-10-30T10:00:00Z,checkout,200"] * 100
    rows += ["2026-10-31T10:00:00Z,checkout,200"] * 300
    rows += ["2026-10-31T11:00:00Z,search,200"] * 50  # another service
    rows += ["2026-11-01T01:00:00Z,checkout,200"] * 70  # after --now's last whole day
    (ws / "telemetry" / "requests").mkdir(parents=True)
    (ws / "telemetry" / "requests" / "requests.csv").write_text("\n".join(rows) + "\n")
    code, out = invoke("plan", str(ws), "checkout-one-page", "--json", "--now", NOW_TEXT)
    assert code == 0, out
    data = json.loads(out)
    # (100 + 300) requests over 2 days with events x 0.25 units per request = 50 units/day.
    assert data["daily_units"] == 50.0
    assert data["duration_days"] == 590  # ceil(14745 / 25)
    assert "telemetry" in data["traffic_source"]


def test_plan_without_traffic_says_why(experiments_workspace: Path) -> None:
    code, out = invoke("plan", str(experiments_workspace), "recommendations-carousel")
    assert code == 0, out
    assert "Duration unknown" in out and "--daily-units" in out


def test_assign_matches_the_library(experiments_workspace: Path) -> None:
    code, out = invoke("assign", str(experiments_workspace), "search-ranking-v2", "u42", "--json")
    assert code == 0, out
    ctx = Context.open(open_workspace(experiments_workspace), NOW)
    expected = assign("u42", find_experiment(ctx, "search-ranking-v2"))
    assert json.loads(out) == {"experiment": "search-ranking-v2", "unit_id": "u42",
                               "variant": expected}
    code, out = invoke("assign", str(experiments_workspace), "search-ranking-v2", "u42")
    assert out.strip() == expected


@pytest.mark.parametrize("command", ["analyze", "plan"])
def test_unknown_experiment_is_bad_input(experiments_workspace: Path, command: str) -> None:
    code, out = invoke(command, str(experiments_workspace), "nope")
    assert code == 2
    assert "no valid experiment 'nope'" in out
    assert "checkout-one-page" in out


def test_broken_definition_is_listed(experiments_workspace: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(experiments_workspace, ws)
    (ws / "experiments" / "broken.yaml").write_text("name: broken\nunit: robot\n")
    code, out = invoke("analyze", str(ws), "broken")
    assert code == 2
    assert "broken.yaml: line 2" in out
