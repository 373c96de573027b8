"""The root command's subcommands: listed without loading, built on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from opsledger.cli.loading import COMMAND_MODULES, Subcommands, commands_of
from opsledger.cli.main import app

OWN = ["init", "demo", "validate", "review"]


@pytest.mark.parametrize("module", sorted(COMMAND_MODULES))
def test_each_module_adds_the_commands_listed_for_it(module: str) -> None:
    assert list(commands_of(module)) == list(COMMAND_MODULES[module])


def test_help_lists_the_root_commands_then_every_module_s_in_order() -> None:
    names = [*OWN, *(name for names in COMMAND_MODULES.values() for name in names)]
    group = typer.main.get_group(app)
    assert list(group.commands) == names
    done = CliRunner().invoke(app, ["--help"], terminal_width=120)
    assert done.exit_code == 0
    listed = [line.split()[0] for line in done.output.split("Commands:")[1].splitlines()
              if line.strip()]
    assert listed == names


def test_names_are_known_without_loading_and_a_module_loads_once() -> None:
    modules = {"pair": ("one", "two"), "solo": ("three",)}
    loads: list[str] = []

    def load(module: str) -> dict[str, str]:
        loads.append(module)
        return {name: f"command {name}" for name in modules[module]}

    commands = Subcommands({"own": "command own"}, modules, load)
    assert list(commands) == ["own", "one", "two", "three"] and len(commands) == 4
    assert "two" in commands and "four" not in commands and not loads
    assert commands.get("four") is None and not loads
    assert (commands["two"], commands["one"]) == ("command two", "command one")
    assert loads == ["pair"]
    commands["five"] = "command five"
    del commands["three"]
    assert list(commands) == ["own", "one", "two", "five"] and loads == ["pair"]
    with pytest.raises(KeyError):
        del commands["three"]


def test_a_mistyped_command_is_answered_with_the_closest_names() -> None:
    done = CliRunner().invoke(app, ["capacty"])
    assert done.exit_code == 2
    assert "No such command 'capacty'" in done.output and "'capacity'" in done.output


def test_a_command_s_help_loads_only_its_module() -> None:
    probe = ("import sys\nfrom opsledger.cli.main import app\n"
             "try:\n    app(['cost', '--help'])\nexcept SystemExit as end:\n"
             "    assert not end.code, end.code\n"
             "print(' '.join(m for m in sys.modules if m.startswith('opsledger.cli.')),"
             " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    assert "--month" in done.stdout
    assert set(done.stderr.split()) == {"opsledger.cli.common", "opsledger.cli.loading",
                                        "opsledger.cli.main", "opsledger.cli.cost"}
