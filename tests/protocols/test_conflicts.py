"""Prioritisation conflicts are decided one by one; a decision holds while its conflict's
items stand as they were, and a changed item reopens only the conflicts it is in."""

from __future__ import annotations

import json
from pathlib import Path

from opsledger.protocols.model import HaltKind
from tests.conftest import DEMO_NOW, cli
from tests.protocols.p18_flow import fix_backlog_item, run, set_csv_cell

NOW = DEMO_NOW.isoformat()
MATRIX = ".artifacts/protocol-21/backlog-prioritization-matrix.json"


def decide(ws: Path, *extra: str) -> tuple[int, str]:
    return cli("approve", "p18", str(ws), "--step", "2.2-prioritise", "--as", "product-owner",
               "--decision", "approved", "--conditions", "dates accepted as planned",
               "--now", NOW, *extra)


def open_conflict_ids(details: tuple[str, ...]) -> list[str]:
    return [d.split(":", 1)[0] for d in details
            if not d.startswith((" ", "decide")) and ":" in d]


def test_conflicts_are_decided_one_by_one(ws: Path) -> None:
    outcome = run(ws, DEMO_NOW)
    for detail in outcome.halts[0].details:  # the demo's High item without an owner
        fix_backlog_item(ws, detail)
    outcome = run(ws, DEMO_NOW)
    assert outcome.halted_at == "2.2-prioritise"
    halt = outcome.halts[0]
    assert halt.kind is HaltKind.CONFLICT
    ids = open_conflict_ids(halt.details)
    matrix = json.loads((ws / MATRIX).read_text())
    assert len(ids) == len(matrix["conflicts"]) > 2
    assert halt.reason == (f"{len(ids)} of {len(ids)} prioritisation conflict(s) need a "
                           "decision from product-owner")
    code, out = decide(ws, "--conflict", ids[0])
    assert code == 0 and f"conflict {ids[0]} of step '2.2-prioritise'" in out
    outcome = run(ws, DEMO_NOW)
    assert open_conflict_ids(outcome.halts[0].details) == ids[1:]
    code, out = decide(ws)  # every open one, one row each
    assert code == 0 and out.count("Recorded:") == len(ids) - 1
    outcome = run(ws, DEMO_NOW)
    assert outcome.halted_at == "3.2-approvals"

    # Move one security item's due date: only the conflicts holding that item reopen.
    item = next(i for c in matrix["conflicts"] for i in c["items"] if i.startswith("SEC-"))
    due = next(i["due_date"] for i in matrix["items"] if i["id"] == item)
    later = f"{int(due[:4]) + 1}{due[4:]}"
    set_csv_cell(ws / "handover/SECURITY-RISK-LOG.csv", item, "due_date", later)
    outcome = run(ws, DEMO_NOW)
    assert outcome.halted_at == "2.2-prioritise"
    matrix = json.loads((ws / MATRIX).read_text())
    holding = [c for c in matrix["conflicts"] if item in c["items"]]
    details = outcome.halts[0].details
    assert outcome.halts[0].reason.startswith(f"{len(holding)} of {len(matrix['conflicts'])} ")
    assert len(open_conflict_ids(details)) == len(holding)
    assert any(d.startswith("  lapsed: ") and "product-owner" in d for d in details)
    assert f"    items[{item}].due_date: {due} → {later}" in details


def test_an_unknown_conflict_is_refused_with_the_open_ones(ws: Path) -> None:
    outcome = run(ws, DEMO_NOW)
    for detail in outcome.halts[0].details:
        fix_backlog_item(ws, detail)
    outcome = run(ws, DEMO_NOW)
    ids = open_conflict_ids(outcome.halts[0].details)
    code, out = decide(ws, "--conflict", "sla-NOPE-1")
    assert code == 2 and "no open conflict 'sla-NOPE-1'" in out and ids[0] in out
