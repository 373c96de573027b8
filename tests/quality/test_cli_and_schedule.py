"""``quality check``, ``rollback runbooks|canary`` and the p09 step-1 maintenance schedule."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli import quality, rollback
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.protocols.maintenance_schedule import write_maintenance_schedule

NOW = datetime(2026, 11, 1, tzinfo=UTC)
NOW_TEXT = "2026-11-01T00:00:00Z"

cli = typer.Typer()
cli.add_typer(quality.app, name="quality")
cli.add_typer(rollback.app, name="rollback")


@pytest.fixture()
def workspace(small_demo: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout


def test_quality_check_fails_on_key_gates_and_writes_json_and_junit(workspace: Path):
    junit = workspace / "out" / "gates.xml"
    code, out = invoke("quality", "check", str(workspace), "--json", "--now", NOW_TEXT,
                       "--junit", str(junit))
    assert code == 1
    document = json.loads(out)
    assert document["passed"] is False
    assert document["generated_at"] == "2026-11-01T00:00:00+00:00"
    by_name = {g["name"]: g for g in document["gates"]}
    assert by_name["test-pass-rate"]["status"] == "warn"  # one failing test in the demo reports
    saved = json.loads((workspace / ".artifacts/protocol-09/quality-gates.json").read_text())
    assert saved == document
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(len(document["gates"]) + 1)


def test_quality_check_passes_when_the_gates_are_met(workspace: Path):
    (workspace / "gates_config.yaml").write_text(
        "version: 1\ngates:\n  - name: crit\n    metric: critical_vulnerabilities\n"
        "    operator: '<='\n    threshold: 5\n    key: true\n")
    code, out = invoke("quality", "check", str(workspace), "--now", NOW_TEXT)
    assert code == 0, out
    assert "PASSED" in out


def test_quality_check_reports_a_broken_gates_file_with_its_line(workspace: Path):
    (workspace / "gates_config.yaml").write_text("version: 1\ngates:\n  - name: x\n"
                                                 "    metric: y\n    operator: '~'\n"
                                                 "    threshold: 1\n")
    result = CliRunner().invoke(cli, ["quality", "check", str(workspace)])
    assert result.exit_code == 2
    assert "line 5" in result.stderr and "unknown operator" in result.stderr


def test_rollback_runbooks_command(workspace: Path):
    code, out = invoke("rollback", "runbooks", str(workspace), "--json")
    assert code == 0
    document = json.loads(out)
    assert all(Path(p).is_file() for p in document["written"])
    assert {s["kind"] for s in document["services"]} >= {"kubernetes", "helm"}


def test_rollback_canary_on_the_demo_perf_runs_rolls_back(workspace: Path):
    perf = str(workspace / "reports" / "perf.json")
    code, out = invoke("rollback", "canary", str(workspace), "--baseline", perf, "--canary", perf,
                       "--json", "--now", NOW_TEXT)
    assert code == 1
    document = json.loads(out)
    assert document["decision"] == "roll-back"
    assert (workspace / ".artifacts/protocol-09/canary.md").read_text().startswith(
        "# Canary comparison: ROLL BACK")


def test_rollback_canary_same_run_proceeds(workspace: Path, tmp_path: Path):
    document = json.loads((workspace / "reports" / "perf.json").read_text())
    single = tmp_path / "run.json"
    single.write_text(json.dumps(document["baseline"]))
    code, out = invoke("rollback", "canary", str(workspace), "--baseline", str(single),
                       "--canary", str(single), "--json")
    assert code == 0, out
    assert json.loads(out)["decision"] == "proceed"


def test_rollback_canary_finds_relative_paths_in_the_workspace(workspace: Path):
    code, out = invoke("rollback", "canary", str(workspace), "--baseline", "reports/perf.json",
                       "--canary", "reports/perf.json", "--service", "checkout", "--json")
    assert code == 1
    document = json.loads(out)
    assert document["service"] == "checkout" and document["decision"] == "roll-back"


def test_quality_check_without_gates_file_is_bad_input(workspace: Path):
    (workspace / "gates_config.yaml").unlink()
    result = CliRunner().invoke(cli, ["quality", "check", str(workspace)])
    assert result.exit_code == 2 and "no gates file" in result.stderr


def test_rollback_canary_missing_file_is_bad_input(workspace: Path):
    result = CliRunner().invoke(cli, ["rollback", "canary", str(workspace), "--baseline",
                                      str(workspace / "nope.json"), "--canary",
                                      str(workspace / "nope.json")])
    assert result.exit_code == 2 and "no such file" in result.stderr


def test_maintenance_schedule_brings_the_step_one_evidence_together(workspace: Path):
    ctx = Context.open(open_workspace(workspace), NOW)
    paths = write_maintenance_schedule(ctx)
    schedule = paths[0]
    assert schedule == workspace / ".artifacts/protocol-09/maintenance-schedule.md"
    text = schedule.read_text()
    # the demo's weekly window: Tuesdays 02:00 Europe/Berlin, which is 01:00 UTC in November
    assert "Tue 2026-11-03 02:00 CET (01:00 UTC)" in text
    assert "year-end peak" in text
    assert "| Patch and minor updates | monthly |" in text
    assert "| availability | availability &gt;= 0.999 (warn below 0.9995) | 3 | yes |" in text
    for service in ctx.workspace.config.services:
        assert f"[{service.name}](rollback/{service.name}.md)" in text
        assert (workspace / ".artifacts/protocol-09/rollback" / f"{service.name}.md").is_file()
    assert "| sre-manager | awaited |" in text
    again = write_maintenance_schedule(ctx)[0].read_text()
    assert again == text  # same inputs and clock, same bytes
