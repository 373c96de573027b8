"""The command line loads no heavy library until a command that needs one runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pandas", "scipy", "statsforecast", "matplotlib", "pyarrow", "duckdb", "sklearn",
         "pyspark", "univers", "statsmodels")


def loaded_after(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    return set(done.stdout.split())


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    loaded = loaded_after("import opsledger.cli.main")
    assert not [name for name in HEAVY if name in loaded]


def test_version_and_help_build_every_command_without_heavy_libraries() -> None:
    # Building the Click command tree resolves every option's type, as --help does.
    loaded = loaded_after(
        "import typer.main\nfrom opsledger.cli.main import app\n"
        "group = typer.main.get_command(app)\n"
        "assert 'slo' in group.commands and 'experiment' in group.commands"
    )
    assert not [name for name in HEAVY if name in loaded]


def test_a_command_still_finds_what_it_imports_late() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opsledger.cli.main", "experiment", "plan", "--help"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Sample size" in done.stdout
