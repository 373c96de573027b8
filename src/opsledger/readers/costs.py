"""The ``costs/`` folder: FOCUS CSV exports and OpenCost allocation responses, told apart by
content (the CSV header, the JSON shape) rather than by file name.

FOCUS charge lines are the records. OpenCost allocations ride along on
:class:`CostReadResult`: they split the cluster's bill by workload, the same money the FOCUS
rows already hold for the cluster's machines, so they are never added to the totals; they
feed per-workload efficiency and savings instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opsledger.model.cost import Allocation, CostLedger
from opsledger.problems import Level, Problem, ReadResult
from opsledger.readers import cost_focus, cost_opencost
from opsledger.readers.cost_focus import DEFAULT_TAG_KEYS, TagKeys
from opsledger.readers.scan_common import describe
from opsledger.readers.textfile import load_json

SUFFIXES = frozenset({".csv", ".json"})
EXPECTED = "a FinOps FOCUS CSV export or an OpenCost allocation API response (JSON)"


@dataclass(frozen=True)
class CostFileRead:
    """What one file in the folder was taken for and how many records it gave."""

    name: str
    detected_format: str
    records: int


@dataclass
class CostReadResult(ReadResult[CostLedger]):
    """One ledger per FOCUS file as the records; allocations and file reads alongside."""

    allocations: list[Allocation] = field(default_factory=list)
    files: list[CostFileRead] = field(default_factory=list)

    @property
    def ledger(self) -> CostLedger:
        """Return every charge line read, as one ledger."""
        return CostLedger.concat(self.records)

    @property
    def record_count(self) -> int:
        """Return the number of charge lines and allocations read."""
        return sum(len(ledger) for ledger in self.records) + len(self.allocations)


def read(path: Path, tag_keys: TagKeys = DEFAULT_TAG_KEYS) -> CostReadResult:
    """Return the charge lines and allocations of every cost file under ``path``."""
    result = CostReadResult(path, detected_format="cost exports")
    if path.is_file():
        files = [path]
    else:
        files = sorted(
            p for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    for file in files:
        name = file.name if path.is_file() else file.relative_to(path).as_posix()
        suffix = file.suffix.lower()
        if suffix not in SUFFIXES:
            result.problems.append(Problem(str(file), "", "not a cost export (ignored)",
                                           ".csv or .json", file.suffix or "no extension",
                                           Level.WARNING))
            continue
        if suffix == ".csv":
            _read_csv(file, name, result, tag_keys)
        else:
            _read_json(file, name, result, tag_keys)
    return result


def _read_csv(file: Path, name: str, result: CostReadResult, tag_keys: TagKeys) -> None:
    try:
        with file.open("rb") as handle:
            head = handle.read(64 * 1024)
    except OSError as exc:
        result.problems.append(Problem(str(file), "", f"cannot read the file: {exc.strerror}",
                                       level=Level.FATAL))
        result.files.append(CostFileRead(name, "unreadable", 0))
        return
    header = cost_focus.read_header(head.removeprefix(b"\xef\xbb\xbf"))
    if header is None or not cost_focus.detect(header):
        result.problems.append(Problem(
            str(file), "line 1", "not a FOCUS cost export", "a header with BilledCost, "
            "EffectiveCost, ChargePeriodStart, BillingPeriodStart and ChargeCategory",
            ", ".join(header or [])[:200] or "no header", Level.FATAL))
        result.files.append(CostFileRead(name, "unrecognised", 0))
        return
    focus = cost_focus.read(file, tag_keys)
    result.extend(focus.problems)
    result.records.extend(focus.records)
    result.files.append(CostFileRead(name, cost_focus.FORMAT if not focus.fatal else "malformed",
                                     sum(len(ledger) for ledger in focus.records)))


def _read_json(file: Path, name: str, result: CostReadResult, tag_keys: TagKeys) -> None:
    scratch: ReadResult[Allocation] = ReadResult(file)
    data: Any = load_json(file, scratch)
    fmt = "malformed"
    if not scratch.fatal:
        if cost_opencost.detect(data):
            fmt = cost_opencost.FORMAT
            cost_opencost.parse(data, scratch, tag_keys)
        else:
            fmt = "unrecognised"
            scratch.fail("$", "not an OpenCost allocation response", EXPECTED, describe(data))
    result.extend(scratch.problems)
    result.allocations.extend(scratch.records)
    result.files.append(CostFileRead(name, fmt, len(scratch.records)))
