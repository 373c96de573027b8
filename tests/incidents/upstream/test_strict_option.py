"""``--strict`` on every command that reads the workspace's inputs, one option for all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import typer.main
from typer.testing import CliRunner

from opsledger.cli.main import app

from .upstream import OPSGENIE_LAST_PAGE

# Commands that read no workspace input: they write one, or append a decision to a log.
READ_NO_INPUTS = {"init", "demo", "approve", "waive", "not-applicable"}
STRICT_HELP = "Treat quarantined rows as a failure (exit 2)."


def commands() -> dict[str, Any]:
    """Return every command by its words: ``review``, ``slo noise``..."""
    root: Any = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in root.commands.items():
        subcommands = getattr(command, "commands", None)
        if subcommands:
            found.update({f"{name} {sub}": c for sub, c in subcommands.items()})
        else:
            found[name] = command
    return found


def test_every_command_that_reads_inputs_takes_the_same_strict_option() -> None:
    every = commands()
    assert set(every) >= READ_NO_INPUTS
    for name, command in every.items():
        strict = [p for p in command.params if "--strict" in getattr(p, "opts", [])]
        if name in READ_NO_INPUTS:
            assert not strict, name
            continue
        assert len(strict) == 1, f"{name} has no --strict"
        assert strict[0].help == STRICT_HELP, name


def test_slo_noise_strict_fails_on_a_quarantined_alert(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    folder = root / "incidents" / "alerts"
    folder.mkdir(parents=True)
    (root / "opsledger.yaml").write_text(
        "organisation: Example\nservices:\n  - {name: checkout, owner: payments, tier: 0}\n"
        "stakeholders:\n  - {name: Sam, email: sam@example.com, role: sre-manager}\n")
    shutil.copy(OPSGENIE_LAST_PAGE, folder / "opsgenie.json")
    runner = CliRunner()
    args = ["slo", "noise", str(root), "--now", "2021-12-01T00:00:00Z", "--json"]
    assert runner.invoke(app, [*args, "--strict"]).exit_code == 0
    data = json.loads(OPSGENIE_LAST_PAGE.read_text())
    data["data"].append({**data["data"][0], "id": "second", "createdAt": "not a time"})
    (folder / "opsgenie.json").write_text(json.dumps(data))
    assert runner.invoke(app, args).exit_code == 0
    failed = runner.invoke(app, [*args, "--strict"])
    assert failed.exit_code == 2
    assert "(--strict)" in failed.output and "createdAt" in failed.output
