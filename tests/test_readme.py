"""The README's promises: the quickstart targets exist and every command shown works."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from opsledger.cli.main import app
from tests.conftest import DEMO_NOW
from tests.protocols.p18_flow import walk_to_approvals

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command.startswith("opsledger "):
                commands.append(command)
    return commands


def test_quickstart_opens_with_the_two_make_targets() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("##", 1)[0]
    block = re.search(r"```bash\n(.*?)```", quickstart, flags=re.S)
    assert block is not None
    targets = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert targets == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, flags=re.M)
    assert re.search(r"^test:", makefile, flags=re.M)
    assert "make test" in (ROOT / ".ci/run").read_text()


def test_every_command_is_in_the_reference() -> None:
    shown = {" ".join(shlex.split(c)[1:3]) for c in readme_commands()}
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for sub in subcommands:
                assert any(s.startswith(f"{name} {sub}") for s in shown), f"{name} {sub}"
        else:
            assert any(s.split()[0] == name for s in shown), name


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs(
    command: str, small_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative output paths in examples land here
    ws = tmp_path / "ws"
    words = shlex.split(command)
    if words[1] not in ("init", "demo"):
        shutil.copytree(small_demo, ws)
    if words[1] == "approve":
        walk_to_approvals(ws, DEMO_NOW)  # a drafted plan to approve
    args = [str(ws) if word == "WS" else word for word in words[1:]]
    result = CliRunner().invoke(app, args, env={"OPSLEDGER_NOW": DEMO_NOW.isoformat()})
    assert result.exit_code in (0, 1), result.stdout + result.stderr
    assert "internal error" not in result.stderr


def test_every_library_call_shown_exists() -> None:
    """Each ``opsledger.…(…)`` call the README shows names a real function."""
    import importlib
    import inspect

    calls = re.findall(r"`(opsledger(?:\.\w+)+)\(([^`]*)\)`", README)
    assert calls, "the README shows the library"
    for dotted, arguments in calls:
        parts = dotted.split(".")
        target: object = importlib.import_module("opsledger")
        for depth, part in enumerate(parts[1:], start=2):
            if not hasattr(target, part):
                target = importlib.import_module(".".join(parts[:depth]))
            else:
                target = getattr(target, part)
        assert callable(target), dotted
        shown = [a.strip() for a in arguments.split(",") if a.strip() and a.strip() != "..."]
        inspect.signature(target).bind(*shown)  # the arguments shown are accepted
