"""Without a terminal (a pipe, a CI log) tables are printed whole and a long command says
which stage it is in, one line per stage on stderr; ``--json`` prints the document alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
