"""The approval log's chain and recorded head catch each way of tampering with it.

Edits, deletions and reordering break the chain; cutting rows off the end (the case a
chain alone cannot see) breaks the recorded head; a forged row breaks the chain unless
its forger recomputed every hash (a limit stated in docs/security.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from opsledger.approvals.ledger import GENESIS, Ledger
from opsledger.core.errors import InputError
from opsledger.protocols.approval_log import approval_ledger
from opsledger.protocols.p18 import PROCEDURE as P18

DECISIONS = ("approved", "rejected", "approved", "deferred", "rejected")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    log = approval_ledger(tmp_path, P18)
    for n, decision in enumerate(DECISIONS):
        log.append({"time": f"2026-11-0{n + 1}T09:00:00+00:00", "procedure": "p18",
                    "step": "5-approvals", "stakeholder": f"Person {n}", "role": "security-lead",
                    "decision": decision, "plan_digest": "abc"})
    assert log.verify() == []
    return log


def lines_of(ledger: Ledger) -> list[str]:
    return ledger.path.read_text(encoding="utf-8").splitlines(keepends=True)


def write(ledger: Ledger, lines: list[str]) -> None:
    ledger.path.write_text("".join(lines), encoding="utf-8")


def edit_decision(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    lines[2] = lines[2].replace(",rejected,", ",approved,")
    write(ledger, lines)


def delete_middle_row(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    write(ledger, lines[:3] + lines[4:])


def swap_rows(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    write(ledger, [lines[0], lines[1], lines[3], lines[2], *lines[4:]])


def cut_inside_last_hash(ledger: Ledger) -> None:
    text = ledger.path.read_text(encoding="utf-8")
    ledger.path.write_text(text[:-20], encoding="utf-8")


def cut_inside_last_cells(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    lines[-1] = lines[-1][: len(lines[-1]) // 3] + "\n"
    write(ledger, lines)


def drop_last_row(ledger: Ledger) -> None:
    write(ledger, lines_of(ledger)[:-1])


def drop_last_two_rows(ledger: Ledger) -> None:
    write(ledger, lines_of(ledger)[:-2])


def keep_header_only(ledger: Ledger) -> None:
    write(ledger, lines_of(ledger)[:1])


def delete_the_log(ledger: Ledger) -> None:
    ledger.path.unlink()


def append_forged_row(ledger: Ledger) -> None:
    last = ledger.rows()[-1]
    forged = dict(last, seq=str(int(last["seq"]) + 1), decision="approved",
                  stakeholder="Mallory", prev_hash=last["hash"], hash="f" * 64)
    with ledger.path.open("a", encoding="utf-8") as handle:
        handle.write(",".join(forged[h] for h in ledger.header) + "\n")


def replay_last_row(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    write(ledger, [*lines, lines[-1]])


def forged_first_row(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    first = lines[1].split(",")
    first[ledger.header.index("stakeholder")] = "Mallory"
    write(ledger, [lines[0], ",".join(first), *lines[1:]])


def rename_a_column(ledger: Ledger) -> None:
    lines = lines_of(ledger)
    lines[0] = lines[0].replace("decision", "verdict")
    write(ledger, lines)


TAMPERING: dict[str, tuple[Callable[[Ledger], None], str]] = {
    "edited cell": (edit_decision, "edited"),
    "deleted row": (delete_middle_row, "chain broken"),
    "reordered rows": (swap_rows, "chain broken"),
    "last line cut inside its hash": (cut_inside_last_hash, "edited"),
    "last line cut inside its cells": (cut_inside_last_cells, "wrong number of cells"),
    "last row removed": (drop_last_row, "rows 5-5 are missing"),
    "last two rows removed": (drop_last_two_rows, "rows 4-5 are missing"),
    "every row removed": (keep_header_only, "rows 1-5 are missing"),
    "log deleted": (delete_the_log, "rows 1-5 are missing"),
    "forged row appended": (append_forged_row, "edited"),
    "last row replayed": (replay_last_row, "chain broken"),
    "forged row inserted first": (forged_first_row, "edited"),
    "column renamed": (rename_a_column, "header changed"),
}


@pytest.mark.parametrize("tamper", TAMPERING, ids=list(TAMPERING))
def test_tampering_is_detected_and_blocks_appends(ledger: Ledger, tamper: str) -> None:
    change, expected = TAMPERING[tamper]
    change(ledger)
    breaks = ledger.verify()
    assert any(expected in b.problem for b in breaks), [str(b) for b in breaks]
    with pytest.raises(InputError, match="fails verification"):
        ledger.append({"decision": "approved", "stakeholder": "Late Approver"})


def test_head_lagging_one_row_after_a_crash_is_accepted(ledger: Ledger) -> None:
    """A crash between the row's write and the head's leaves the head one row behind."""
    rows = ledger.rows()
    ledger.head_path.write_text(f"{rows[-2]['seq']},{rows[-2]['hash']}\n")
    assert ledger.verify() == []
    ledger.append({"decision": "approved"})
    assert ledger.verify() == [] and len(ledger.rows()) == len(DECISIONS) + 1


def test_a_new_log_starts_from_genesis(tmp_path: Path) -> None:
    log = approval_ledger(tmp_path, P18)
    assert log.verify() == [] and not log.head_path.exists()
    row = log.append({"decision": "approved"})
    assert row["prev_hash"] == GENESIS and row["seq"] == "1"
    assert log.head_path.read_text() == f"1,{row['hash']}\n"
