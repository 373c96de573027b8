"""Append-only CSV logs whose rows are chained by SHA-256 (approvals, waivers).

Each row stores the hash of the row before it and its own hash over its cells, so an edited
cell, a deleted row or two swapped rows break the chain at a place that can be named.
Rows are appended with one ``write`` on an ``O_APPEND`` descriptor and fsynced: a process
killed mid-way leaves either the whole row or nothing, and never rewrites earlier rows.

A chain alone cannot tell that its last rows were cut off, so each append also records the
head (sequence number and hash of the newest row) in a small file beside the log; a log
shorter than its recorded head, or whose row at that place differs, fails verification.
The head is written after the row, so a crash in between leaves it one row behind, which
verification accepts; before the first row it is written as row 0, so a log with rows but no
head never comes from a crash: its head was deleted, and with it the proof of the log's length.
When log and head are both gone, only another record can tell: a ledger may carry a witness
(for approvals, the procedure's run state) that says whether the log once held rows.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_text, confined_output, csv_cell

GENESIS = "0" * 64
UTF8_BOM = b"\xef\xbb\xbf"

# Given the log's path, return why rows are expected there (e.g. "the run state records
# approvals of step X"), or None when nothing says the log ever existed.
Witness = Callable[[Path], str | None]


@dataclass(frozen=True)
class ChainBreak:
    """Where and how a ledger was tampered with."""

    line: int
    seq: str
    problem: str

    def __str__(self) -> str:
        if not self.line and not self.seq:  # about the files as a whole
            return self.problem
        if not self.line:  # found from the recorded head, not at a line of the log
            return f"row {self.seq}: {self.problem}"
        return f"line {self.line} (row {self.seq or '?'}): {self.problem}"


@dataclass(frozen=True)
class Ledger:
    """A hash-chained CSV at ``path`` with the given data columns."""

    path: Path
    columns: tuple[str, ...]
    witness: Witness | None = None

    @property
    def head_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.head")

    @property
    def restore_hint(self) -> str:
        return (
            "restore the log and its head from version control, e.g. "
            f"'git checkout -- {self.path} {self.head_path}'"
        )

    @property
    def header(self) -> tuple[str, ...]:
        return ("seq", *self.columns, "prev_hash", "hash")

    def rows(self) -> list[dict[str, str]]:
        """Return every row as stored (no verification: see :meth:`verify`)."""
        if not self.path.exists():
            return []
        with self.path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    def verify(self) -> list[ChainBreak]:
        """Return every break in the chain (empty when the ledger is intact)."""
        if not self.path.exists():
            return self._missing_log_breaks()
        with self.path.open("rb") as raw:
            if raw.read(len(UTF8_BOM)) == UTF8_BOM:
                # Not tampering: an editor saved the file "UTF-8 with BOM". Say so, since
                # the generic "header changed" would send the user looking for an attacker.
                return [
                    ChainBreak(
                        1,
                        "",
                        f"{self.path.name} starts with a byte-order mark (BOM): an editor "
                        "added it; remove it (save as UTF-8 without BOM) and verify again",
                    )
                ]
        breaks: list[ChainBreak] = []
        hashes: dict[int, str] = {}
        with self.path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return self._head_breaks({})
            if tuple(header) != self.header:
                return [ChainBreak(1, "", f"header changed: expected {','.join(self.header)}")]
            previous = GENESIS
            expected_seq = 1
            for cells in reader:
                line = reader.line_num
                if len(cells) != len(self.header):
                    breaks.append(ChainBreak(line, "", "row has the wrong number of cells"))
                    continue
                row = dict(zip(self.header, cells, strict=True))
                seq = row["seq"]
                if row["hash"] != row_hash(row, self.columns):
                    breaks.append(ChainBreak(line, seq, "row was edited (its hash does not match)"))
                if row["prev_hash"] != previous:
                    breaks.append(
                        ChainBreak(
                            line, seq, "chain broken: a row before it was deleted, edited or moved"
                        )
                    )
                if seq != str(expected_seq):
                    breaks.append(
                        ChainBreak(line, seq, f"sequence out of order (expected {expected_seq})")
                    )
                previous = row["hash"]
                if seq.isdigit():
                    hashes[int(seq)] = row["hash"]
                expected_seq = _next_seq(seq, expected_seq)
        return breaks + self._head_breaks(hashes)

    def _missing_log_breaks(self) -> list[ChainBreak]:
        """Return a break when the log is gone but its head or a witness says it held rows."""
        if self.head_path.exists():
            return self._head_breaks({})
        reason = self.witness(self.path) if self.witness is not None else None
        if reason is None:
            return []
        return [
            ChainBreak(
                0,
                "",
                f"{self.path.name} and its head {self.head_path.name} are missing, but "
                f"{reason}: the log was deleted; {self.restore_hint}",
            )
        ]

    def _head_breaks(self, hashes: dict[int, str]) -> list[ChainBreak]:
        """Return a break when rows up to the recorded head are missing or different."""
        try:
            raw = self.head_path.read_bytes()
        except FileNotFoundError:
            if not hashes:
                return []
            return [
                ChainBreak(
                    0,
                    "",
                    f"{self.head_path.name} is missing beside a log of {len(hashes)} row(s): "
                    f"rows cut off the end of the log would go unnoticed; {self.restore_hint}",
                )
            ]
        except OSError:
            return [ChainBreak(0, "", f"{self.head_path.name} is unreadable")]
        if raw.startswith(UTF8_BOM):
            return [
                ChainBreak(
                    0,
                    "",
                    f"{self.head_path.name} starts with a byte-order mark (BOM): an editor "
                    "added it; remove it (save as UTF-8 without BOM) and verify again",
                )
            ]
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return [ChainBreak(0, "", f"{self.head_path.name} is unreadable")]
        seq_text, _, head_hash = text.partition(",")
        if not seq_text.isdigit():
            return [ChainBreak(0, "", f"{self.head_path.name} is malformed")]
        seq = int(seq_text)
        if seq == 0 and head_hash == GENESIS:
            return []  # written before the first row: nothing recorded yet
        if seq not in hashes:
            last = max(hashes, default=0)
            return [
                ChainBreak(
                    0,
                    str(seq),
                    f"rows {last + 1}-{seq} are missing: the log once held {seq} rows "
                    f"and now ends at row {last} (truncated?); {self.restore_hint}",
                )
            ]
        if hashes[seq] != head_hash:
            return [ChainBreak(0, str(seq), "row differs from the one recorded as the head")]
        return []

    def append(self, values: Mapping[str, object]) -> dict[str, str]:
        """Append one row (cells made spreadsheet-safe) and return it as stored."""
        # Appending follows a symlinked log; refuse one that leads out of the workspace.
        confined_output(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A row chained onto a broken log would lend it credibility: refuse instead.
            breaks = self.verify()
            if breaks:
                raise InputError(
                    f"{self.path}: the log fails verification, nothing was added: "
                    + "; ".join(str(b) for b in breaks[:3])
                )
            empty_file = os.fstat(fd).st_size == 0
            existing = [] if empty_file else self.rows()
            previous = existing[-1]["hash"] if existing else GENESIS
            row = {"seq": str(len(existing) + 1)}
            row.update({c: csv_cell(values.get(c, "")) for c in self.columns})
            row["prev_hash"] = previous
            row["hash"] = row_hash(row, self.columns)
            text = _csv_line([row[h] for h in self.header])
            if empty_file:
                text = _csv_line(self.header) + text
            if not existing:
                # Head before the first row, so that a log with rows always has one.
                atomic_write_text(self.head_path, f"0,{GENESIS}\n")
            os.write(fd, text.encode("utf-8"))
            os.fsync(fd)
            atomic_write_text(self.head_path, f"{row['seq']},{row['hash']}\n")
            return row
        finally:
            os.close(fd)


def row_hash(row: Mapping[str, str], columns: Sequence[str]) -> str:
    """Return SHA-256 over the previous hash, the sequence number and the data cells."""
    digest = hashlib.sha256()
    for value in (row.get("prev_hash", ""), row.get("seq", ""), *(row.get(c, "") for c in columns)):
        digest.update(value.encode("utf-8"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def _csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _next_seq(seq: str, expected: int) -> int:
    return int(seq) + 1 if seq.isdigit() else expected + 1
