"""The ``costs/`` folder: FOCUS CSV exports and OpenCost allocation responses, told apart by
content (the CSV header, the JSON shape) rather than by file name.

FOCUS charge lines are the records. OpenCost allocations ride along on
:class:`CostReadResult`: they split the cluster's bill by workload, the same money the FOCUS
rows already hold for the cluster's machines, so next to a FOCUS export they are never added
to the totals; they feed per-workload efficiency and savings instead. A folder with OpenCost
allocations and no FOCUS export is read as what it is: the Kubernetes workloads' spend, one
ledger built from the allocations (``spend_basis`` says which).

The record count is what the files hold: FOCUS rows and OpenCost allocations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from opsledger.core.config import CostMapping
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.formats.textfile import load_json
from opsledger.model.cost import Allocation, CostLedger
from opsledger.readers import cost_focus, cost_opencost
from opsledger.readers.cost_mapping import ServiceMapping

SUFFIXES = frozenset({".csv", ".json"})
EXPECTED = "a FinOps FOCUS CSV export or an OpenCost allocation API response (JSON)"
SpendBasis = Literal["focus", "opencost", "none"]
FORMAT_NAMES = {cost_focus.FORMAT: "FOCUS", cost_opencost.FORMAT: "OpenCost allocation"}


@dataclass(frozen=True)
class CostFileRead:
    """What one file in the folder was taken for and how many records it gave (FOCUS rows
    read into the ledger, OpenCost allocations)."""

    name: str
    detected_format: str
    records: int
    version: str = ""  # the FOCUS version its columns show

    @property
    def description(self) -> str:
        """Return the format as the inventory names it: ``FOCUS 1.2``, ``OpenCost allocation``."""
        name = FORMAT_NAMES.get(self.detected_format, self.detected_format)
        return f"{name} {self.version}" if self.version else name


@dataclass
class CostReadResult(ReadResult[CostLedger]):
    """One ledger per FOCUS file as the records; allocations and file reads alongside."""

    allocations: list[Allocation] = field(default_factory=list)
    files: list[CostFileRead] = field(default_factory=list)
    spend_basis: SpendBasis = "none"
    mapping: ServiceMapping = field(default_factory=ServiceMapping)

    @property
    def ledger(self) -> CostLedger:
        """Return every charge line read, as one ledger."""
        return CostLedger.concat(self.records)

    @property
    def record_count(self) -> int:
        """Return the number of FOCUS rows and OpenCost allocations read."""
        return sum(f.records for f in self.files)


def read(path: Path, mapping: CostMapping | None = None) -> CostReadResult:
    """Return the charge lines and allocations of every cost file under ``path``, naming
    services by ``mapping`` (the workspace's ``cost_mapping``; its defaults when absent)."""
    naming = ServiceMapping(mapping)
    result = CostReadResult(path, detected_format="cost exports", mapping=naming)
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
            _read_csv(file, name, result, naming)
        else:
            _read_json(file, name, result, naming)
    if result.records:
        result.spend_basis = "focus"
    elif result.allocations:
        result.spend_basis = "opencost"
        result.records.append(cost_opencost.allocation_ledger(result.allocations))
        result.problems.append(Problem(
            str(path), "", "no FOCUS export: spend is taken from the OpenCost allocations "
            "(Kubernetes workloads only, in OpenCost's configured currency)",
            level=Level.WARNING))
    read_formats = sorted({f.description for f in result.files if f.detected_format
                           in FORMAT_NAMES})
    if read_formats:
        result.detected_format = ", ".join(read_formats)
    return result


def _read_csv(file: Path, name: str, result: CostReadResult, mapping: ServiceMapping) -> None:
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
    focus = cost_focus.read(file, mapping)
    result.extend(focus.problems)
    result.records.extend(focus.records)
    result.files.append(CostFileRead(name, cost_focus.FORMAT if not focus.fatal else "malformed",
                                     focus.rows, focus.version))


def _read_json(file: Path, name: str, result: CostReadResult, mapping: ServiceMapping) -> None:
    scratch: ReadResult[Allocation] = ReadResult(file)
    data: Any = load_json(file, scratch)
    fmt = "malformed"
    if not scratch.fatal:
        other = cost_opencost.other_api(data)
        if other is not None:
            fmt = "unrecognised"
            scratch.fail("$", f"an OpenCost {other} response is not read", EXPECTED,
                         f"OpenCost {other} costs")
        elif cost_opencost.detect(data):
            fmt = cost_opencost.FORMAT
            cost_opencost.parse(data, scratch, mapping)
        else:
            # Imported here: the scanners' module loads version-range parsers a FOCUS read
            # never needs.
            from opsledger.readers.scan_common import describe

            fmt = "unrecognised"
            scratch.fail("$", "not an OpenCost allocation response", EXPECTED, describe(data))
    result.extend(scratch.problems)
    result.allocations.extend(scratch.records)
    result.files.append(CostFileRead(name, fmt, len(scratch.records)))
