"""``quality check``, ``rollback runbooks|canary`` and the p09 step-1 maintenance schedule."""

from __future__ import annotations

import json
import re
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


OVERDUE_ITEMS = 17  # open action items, each due before NOW


def measured_workspace(root: Path) -> None:
    """Give the workspace a perf run whose worst endpoint fails 4 % of requests and one
    postmortem with 17 open action items past their due date (and 2 done ones)."""
    run = {"duration_s": 600, "endpoints": [
        {"endpoint": "GET /a", "error_rate": 0.04, "p50_ms": 40, "p95_ms": 90, "p99_ms": 120,
         "requests": 1000, "rps": 1.7},
        {"endpoint": "GET /b", "error_rate": 0.003, "p50_ms": 30, "p95_ms": 80, "p99_ms": 100,
         "requests": 3000, "rps": 5},
    ]}
    (root / "reports" / "perf.json").write_text(json.dumps({"baseline": run, "current": run}))
    folder = root / "handover" / "INCIDENT-POSTMORTEMS"
    shutil.rmtree(folder)
    folder.mkdir()
    rows = [f"| X-A{i} | Fix thing {i} | Dana Silva | 2026-10-{i + 1:02d} | Open | P2 | prevent |"
            for i in range(OVERDUE_ITEMS)]
    rows += [f"| X-D{i} | Done thing {i} | Dana Silva | 2026-09-01 | Done | P3 | detect |"
             for i in range(2)]
    (folder / "2026-09-01-INC-9001.md").write_text(
        "---\nincident_id: INC-9001\ntitle: \"checkout: pool exhausted\"\nservice: checkout\n"
        "severity: SEV2\ndate: 2026-09-01T10:00:00Z\nstatus: published\n---\n\n"
        "# checkout: pool exhausted\n\n## Action items\n\n"
        "| ID | Action | Owner | Due | Status | Priority | Kind |\n"
        "| --- | --- | --- | --- | --- | --- | --- |\n" + "\n".join(rows) + "\n")


def write_gates(root: Path, *gates: str) -> None:
    (root / "gates_config.yaml").write_text("version: 1\ngates:\n" + "".join(gates))


ERROR_RATE_GATE = ("  - name: error_rate\n    metric: error_rate\n    operator: '<='\n"
                   "    threshold: 0.01\n")
OVERDUE_GATE = ("  - name: overdue_action_items\n    metric: overdue_action_items\n"
                "    operator: '<='\n    threshold: 5\n")


def junit_failing(path: Path) -> tuple[bool, dict[str, ET.Element]]:
    """Return whether the JUnit file holds a failure or error, and its cases by name."""
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name", ""): c for c in suite.iter("testcase")}
    failing = any(c.find("failure") is not None or c.find("error") is not None
                  for c in cases.values())
    return failing, cases


def test_two_failing_gates_without_key_fail_the_check(workspace: Path):
    measured_workspace(workspace)
    write_gates(workspace, ERROR_RATE_GATE + "    key: false\n", OVERDUE_GATE + "    key: false\n")
    junit = workspace / "gates.xml"
    result = CliRunner().invoke(cli, ["quality", "check", str(workspace), "--now", NOW_TEXT,
                                      "--junit", str(junit)])
    assert result.exit_code == 1, result.stdout
    # 0.04 is the worst endpoint's error rate; 17 items are open and past due
    verdict = "FAILED: error_rate 4.0% > 1.0%; overdue_action_items 17 > 5"
    assert verdict in result.stdout
    assert "PASSED" not in result.stdout
    for name in ("error_rate", "overdue_action_items"):
        assert (f"gates_config.yaml: line {3 if name == 'error_rate' else 8}: gate '{name}': "
                "'key: false' is deprecated") in result.stderr
    failing, cases = junit_failing(junit)
    assert failing
    assert cases["error_rate: error_rate"].find("failure") is not None
    assert cases["overdue_action_items: overdue_action_items"].find("failure") is not None
    overall = cases["quality gates verdict"].find("failure")
    assert overall is not None and overall.get("message") == verdict
    document = json.loads((workspace / ".artifacts/protocol-09/quality-gates.json").read_text())
    assert document["passed"] is False and document["verdict"] == verdict
    assert [g["value"] for g in document["gates"]] == [0.04, float(OVERDUE_ITEMS)]
    assert len(document["warnings"]) == 2


def test_an_advisory_gate_that_fails_exits_0_with_a_warning(workspace: Path):
    measured_workspace(workspace)
    write_gates(workspace, ERROR_RATE_GATE + "    advisory: true\n",
                OVERDUE_GATE.replace("threshold: 5", "threshold: 20"))
    junit = workspace / "gates.xml"
    result = CliRunner().invoke(cli, ["quality", "check", str(workspace), "--now", NOW_TEXT,
                                      "--junit", str(junit)])
    assert result.exit_code == 0, result.stdout
    assert "PASSED" in result.stdout and "FAILED" not in result.stdout
    assert "warning: advisory, not blocking: error_rate 4.0% > 1.0%" in result.stdout
    assert result.stderr == ""  # no deprecated field, no former metric name
    failing, cases = junit_failing(junit)
    assert not failing
    skipped = cases["error_rate: error_rate"].find("skipped")
    assert skipped is not None and "error_rate 4.0% > 1.0%" in skipped.get("message", "")


@pytest.mark.parametrize("advisory", [False, True])
def test_exit_code_and_junit_agree_on_the_demo(workspace: Path, advisory: bool):
    if advisory:  # every gate advisory: nothing blocks
        path = workspace / "gates_config.yaml"
        text = re.sub(r"(?m)^    (key|advisory): .*\n", "", path.read_text())
        path.write_text(text.replace("    weight:", "    advisory: true\n    weight:"))
    junit = workspace / "gates.xml"
    code, out = invoke("quality", "check", str(workspace), "--now", NOW_TEXT, "--junit",
                       str(junit), "--json")
    failing, _ = junit_failing(junit)
    assert code in (0, 1)
    assert failing == (code == 1) == (json.loads(out)["passed"] is False)
    assert code == (0 if advisory else 1)


def test_a_former_metric_name_warns_and_names_the_new_one(workspace: Path):
    write_gates(workspace, "  - name: crit\n    metric: critical_vulnerabilities\n"
                "    operator: '<='\n    threshold: 5\n")
    result = CliRunner().invoke(cli, ["quality", "check", str(workspace), "--now", NOW_TEXT,
                                      "--json"])
    assert result.exit_code == 0, result.stdout
    assert ("gates_config.yaml: line 3: gate 'crit': metric 'critical_vulnerabilities' is now "
            "named 'critical_vulnerabilities_overdue'") in result.stderr
    document = json.loads(result.stdout)
    assert document["gates"][0]["metric"] == "critical_vulnerabilities_overdue"
    assert "critical_vulnerabilities_overdue" in document["warnings"][0]


def test_quality_check_fails_on_the_demo_gates_and_writes_json_and_junit(workspace: Path):
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
        "version: 1\ngates:\n  - name: crit\n    metric: critical_vulnerabilities_overdue\n"
        "    operator: '<='\n    threshold: 5\n")
    result = CliRunner().invoke(cli, ["quality", "check", str(workspace), "--now", NOW_TEXT])
    assert result.exit_code == 0, result.stdout
    assert "PASSED" in result.stdout and result.stderr == ""


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
    assert "| availability | " in text and "&gt;= 0.999 (warn below 0.9995) | 3 |" in text
    for service in ctx.workspace.config.services:
        assert f"[{service.name}](rollback/{service.name}.md)" in text
        assert (workspace / ".artifacts/protocol-09/rollback" / f"{service.name}.md").is_file()
    assert "| sre-manager | awaited |" in text
    again = write_maintenance_schedule(ctx)[0].read_text()
    assert again == text  # same inputs and clock, same bytes
