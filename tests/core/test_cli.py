from __future__ import annotations

import gc
import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsledger.cli.main import app

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help_text() -> None:
    import typer.main

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, f"command {name} has no help text"


def test_init_then_validate(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    code, out, _ = run("init", str(ws))
    assert code == 0
    assert (ws / "opsledger.yaml").exists()
    code, out, _ = run("validate", str(ws), "--json")
    assert code == 0
    states = {row["input"]: row["state"] for row in json.loads(out)}
    assert states["config"] == "ok"
    code, _, err = run("init", str(ws))
    assert code == 2
    assert "already exists" in err


def test_broken_config_exits_2_with_file_and_line_and_no_traceback(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    run("init", str(ws))
    (ws / "opsledger.yaml").write_text("services:\n  - name: a\n    tier: high\n")
    code, _, err = run("validate", str(ws))
    assert code == 2
    assert "opsledger.yaml: line 3" in err
    assert "Traceback" not in err
    code, _, err = run("review", str(ws))
    assert code == 2
    assert "line 3" in err


def test_missing_workspace_and_bad_now_are_usage_errors(tmp_path: Path) -> None:
    code, _, err = run("review", str(tmp_path / "nope"))
    assert code == 2 and "no such workspace" in err
    run("init", str(tmp_path / "ws"))
    code, _, err = run("review", str(tmp_path / "ws"), "--now", "someday")
    assert code == 2 and "--now" in err


def test_review_writes_report_and_summary(small_demo: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    code, out, _ = run("review", str(ws), "--now", "2026-11-01T00:00:00Z", "--json")
    assert code == 0, out
    outputs = {Path(p).name: Path(p) for p in json.loads(out)["outputs"]}
    assert set(outputs) == {"MONTHLY_OPS_REPORT.md", "index.html", "review.json",
                            "NEXT_PHASE.md", "PLAN.md"}
    assert all(p.exists() for p in outputs.values())
    summary = json.loads(outputs["review.json"].read_text())
    errors = [s for s in summary["sections"] if s["status"] == "error"]
    assert errors == [], errors
    assert summary["schema_version"] == 1
    assert summary["generated_at"] == "2026-11-01T00:00:00+00:00"
    assert "config" in summary["inputs"]


def test_review_is_byte_identical_for_the_same_inputs(small_demo: Path, tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        ws = tmp_path / name
        shutil.copytree(small_demo, ws)
        run("review", str(ws), "--now", "2026-11-01T00:00:00Z")
        names = ("MONTHLY_OPS_REPORT.md", "index.html", "review.json")
        outputs.append([(ws / "reports/ops" / name).read_bytes() for name in names])
    assert outputs[0] == outputs[1]


def test_demo_same_seed_same_bytes(tmp_path: Path) -> None:
    digests = []
    for name in ("a", "b"):
        ws = tmp_path / name
        code, _, err = run("demo", str(ws), "--size", "small", "--seed", "3", "--now", "2026-10-01")
        assert code == 0, err
        digests.append({p.relative_to(ws): p.read_bytes() for p in ws.rglob("*") if p.is_file()})
    assert digests[0] == digests[1]
    assert len(digests[0]) > 1


def test_demo_refuses_a_foreign_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    code, _, err = run("demo", str(tmp_path), "--size", "small")
    assert code == 2 and "not empty" in err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_what_a_command_built_is_left_out_of_the_collectors_passes_at_exit(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from opsledger.cli.main import main

    monkeypatch.setattr(sys, "argv", ["opsledger", "--help"])
    gc.unfreeze()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
        assert exited.value.code == 0 and "review" in capsys.readouterr().out
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
