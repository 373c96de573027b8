"""Walking p18 on a demo workspace as a user would: run, read the halt, fix, run again."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.protocols.model import HaltKind
from opsledger.protocols.p18 import PROCEDURE
from opsledger.protocols.runner import RunOutcome, run_procedure

OWNER = "Dana Silva"
DUE = "2026-12-15"


def run(root: Path, now: datetime) -> RunOutcome:
    return run_procedure(PROCEDURE, Context.open(open_workspace(root), now))


def give_services_owners(root: Path) -> list[str]:
    path = root / "handover/operational-handover-record.json"
    record = json.loads(path.read_text())
    fixed = []
    for entry in record["services"]:
        if not entry.get("owner"):
            entry["owner"] = OWNER
            fixed.append(entry["service"])
    path.write_text(json.dumps(record, indent=2))
    return fixed


def set_markdown_cell(path: Path, item_id: str, column: str, value: str) -> None:
    """Set one cell of the row whose first cell is ``item_id`` in a Markdown table."""
    lines = path.read_text().splitlines(keepends=True)
    header: list[str] = []
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and column in cells:
            header = cells
        elif line.startswith("|") and header and cells[0] == item_id:
            cells[header.index(column)] = value
            lines[i] = "| " + " | ".join(cells) + " |\n"
            path.write_text("".join(lines))
            return
    raise AssertionError(f"{item_id} not found in {path}")


def set_csv_cell(path: Path, item_id: str, column: str, value: str) -> None:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for row in rows:
        if row["id"] == item_id:
            row[column] = value
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue())


def fix_backlog_item(root: Path, detail: str) -> None:
    """Fix the item a halt or gate detail names ("TD-001 (tech-debt): no owner — ...")."""
    item_id = re.match(r"([A-Z]+-[\w-]+)", detail)
    assert item_id, detail
    ident = item_id.group(1)
    column = "Owner" if "no owner" in detail else "Due"
    if ident.startswith("TD-"):
        set_markdown_cell(root / "handover/TECH-DEBT-REGISTER.md", ident, column, OWNER
                          if column == "Owner" else DUE)
    elif ident.startswith("SEC-"):
        set_csv_cell(root / "handover/SECURITY-RISK-LOG.csv", ident,
                     "owner" if column == "Owner" else "due_date",
                     OWNER if column == "Owner" else DUE)
    else:
        raise AssertionError(f"no fix known for {detail}")


def walk_to_approvals(root: Path, now: datetime) -> list[RunOutcome]:
    """Run p18, fixing each planted defect it halts on, until it waits for plan approval."""
    outcomes = []
    for _ in range(8):
        outcome = run(root, now)
        outcomes.append(outcome)
        if outcome.complete:
            return outcomes
        halt = outcome.halts[0]
        if halt.kind is HaltKind.OWNERSHIP:
            give_services_owners(root)
        elif halt.kind is HaltKind.UNRATED:
            for detail in halt.details:
                fix_backlog_item(root, detail)
        elif halt.kind is HaltKind.CONFLICT:
            from typer.testing import CliRunner

            from opsledger.cli.main import app

            result = CliRunner().invoke(app, [
                "approve", "p18", str(root), "--step", "2.2-prioritise", "--as",
                "product-owner", "--decision", "approved", "--conditions",
                "dates accepted as planned", "--now", now.isoformat()])
            assert result.exit_code == 0, result.stdout + result.stderr
        elif halt.kind is HaltKind.APPROVAL_AWAITED and outcome.halted_at == "3.2-approvals":
            return outcomes
        else:
            raise AssertionError(f"unexpected halt {halt}")
    raise AssertionError("p18 did not reach the approvals")
