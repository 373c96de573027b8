"""Without a terminal (a pipe, a CI log) tables are printed whole and a long command says
which stage it is in, one line per stage on stderr; ``--json`` prints the document alone.
The consoles are made when first used."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from opsledger.cli.common import PLAIN_WIDTH, LazyConsole, rich_table
from tests.conftest import DEMO_NOW

ENTRY = "import sys; from opsledger.cli import main; sys.argv[0] = 'opsledger'; main()"


def opsledger(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command line with stdout and stderr on pipes, as CI does."""
    return subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


def test_piped_tables_are_not_cut(ws: Path) -> None:
    now = ("--now", DEMO_NOW.isoformat())
    table = opsledger("slo", "status", str(ws), *now)
    assert table.returncode in (0, 1), table.stderr
    assert "…" not in table.stdout
    rows = json.loads(opsledger("slo", "status", str(ws), *now, "--json").stdout)
    assert rows
    for row in rows:  # every note is printed in full on its SLO's line
        line = next(x for x in table.stdout.splitlines() if f" {row['slo']} " in x
                    and f" {row['service']} " in x)
        for note in row.get("reasons", []):
            assert note in line
    findings = opsledger("patch", "findings", str(ws), *now)
    assert findings.stdout.strip() and "…" not in findings.stdout


def test_a_piped_review_reports_each_stage(ws: Path) -> None:
    run = opsledger("review", str(ws), "--now", DEMO_NOW.isoformat())
    assert run.returncode == 0, run.stderr
    stages = run.stderr.splitlines()
    assert stages[0] == "reviewing..."
    assert "  reading inputs" in stages and len(stages) > 10

    quiet = opsledger("review", str(ws), "--now", DEMO_NOW.isoformat(), "--json")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert json.loads(quiet.stdout)["outputs"]


def test_a_console_is_made_on_first_use_with_its_settings() -> None:
    lazy = LazyConsole(stderr=True, soft_wrap=True)
    assert not lazy.is_made
    assert lazy.stderr is True
    assert lazy.is_made
    made = lazy.made()
    assert isinstance(made, Console) and made is lazy.made()
    assert made.stderr and made.soft_wrap


def test_a_console_writing_to_no_terminal_prints_tables_whole() -> None:
    out = io.StringIO()
    lazy = LazyConsole(file=out, highlight=False, soft_wrap=True)
    assert lazy.width == PLAIN_WIDTH
    table = rich_table("service", "note")
    table.add_row("checkout", "x" * 300)
    lazy.print(table)
    assert "x" * 300 in out.getvalue()


def test_a_console_on_a_terminal_keeps_the_terminal_width() -> None:
    lazy = LazyConsole(file=io.StringIO(), force_terminal=True, width=80)
    assert lazy.is_terminal and lazy.width == 80


def test_setting_an_attribute_reaches_the_console() -> None:
    lazy = LazyConsole(file=io.StringIO())
    lazy.width = 42
    assert lazy.made().width == 42
    with pytest.raises(AttributeError):
        _ = lazy.no_such_attribute
