"""A halt tells the user what to type next, with their workspace's path in it, and does not
ask them to fix anything while it only waits for approvers."""

from __future__ import annotations

import shlex
from pathlib import Path

from tests.conftest import DEMO_NOW, cli
from tests.protocols.p18_flow import walk_to_approvals


def test_approval_halt_names_the_workspace_and_waits(ws: Path) -> None:
    walk_to_approvals(ws, DEMO_NOW)
    code, out = cli("run", "p18", str(ws), "--now", DEMO_NOW.isoformat())
    assert code == 1, out
    assert "WORKSPACE" not in out
    suggested = [line.strip() for line in out.splitlines() if "opsledger approve p18" in line]
    assert suggested, out
    for line in suggested:
        assert shlex.split(line)[3] in {str(ws), str(ws.resolve())}, line
    assert "Waiting for the decisions above" in out
    assert "Fix the cause" not in out


def test_fixable_halt_still_asks_for_a_fix(ws: Path) -> None:
    (ws / "handover" / "SERVICE-CATALOG.xlsx").unlink()
    code, out = cli("run", "p18", str(ws), "--now", DEMO_NOW.isoformat())
    assert code == 1, out
    assert "Fix the cause and run again." in out
    assert "Waiting for the decisions" not in out
