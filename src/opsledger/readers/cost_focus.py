"""FinOps FOCUS cost and usage CSV (FOCUS 1.0 to 1.2), read and summed by DuckDB.

Columns are the specification's (``BilledCost``, ``EffectiveCost``, ``ChargePeriodStart``,
``BillingPeriodStart``, ``ChargeCategory``, ``ChargeClass``, ``BillingCurrency``,
``ServiceName``, ``ResourceId``, ``ResourceName``, ``SubAccountName``, ``Tags`` …), matched
without regard to case or underscores. A charge's service and team come from the workspace's
``cost_mapping`` rules (tags, columns, patterns, lookups: :mod:`.cost_mapping`).

A year of hourly rows for a few hundred resources is millions of lines and gigabytes of
text, so the file is never held in memory: DuckDB reads it in parallel, typed, and sums it
to one ledger line per day, charge kind, resource and naming attributes
(:mod:`.focus_query`). Nothing is dropped without a located problem:

- a cell DuckDB cannot convert (an amount such as ``$10,100.00``) or a row with the wrong
  number of cells: DuckDB rejects the row and names its line;
- a date-time that is not ISO 8601 (``4/1/25``) or is out of range, an unknown
  ``ChargeCategory`` or ``ChargeClass``, a missing or infinite ``BilledCost`` or
  ``EffectiveCost``: the row is quarantined, and the first of them are located by a second
  pass;
- a NUL byte or invalid UTF-8 anywhere makes the file unreadable, with its line (DuckDB
  checks only the columns it reads, so the raw bytes are scanned first).

Nulls are written ``NULL`` (the specification's null rule); ``null`` and empty cells are
read as null too. The FOCUS version is told from the columns, and the FOCUS features that
opsledger does not analyse are named in a warning.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opsledger.core.problems import ReadResult, shown
from opsledger.formats.fields import DATE_RANGE, DATE_TIME_EXPECTED
from opsledger.formats.textfile import wide_encoding
from opsledger.model.cost import LEDGER_COLUMNS, ChargeCategory, CostLedger
from opsledger.readers.cost_mapping import DEFAULT_MAPPING, Mapped, ServiceMapping, lowered_keys
from opsledger.readers.focus_columns import (
    FEATURES,
    FOCUS_COLUMNS,
    PREVIEW_COLUMNS,
    VERSION_COLUMNS,
)
from opsledger.readers.focus_query import (
    AMOUNTS,
    FIRST_DAY,
    LAST_DAY,
    MAX_REJECTED,
    OPTIONAL,
    REQUIRED,
    FocusColumns,
    FocusQuery,
    Summed,
    column_key,
)

__all__ = ["AMOUNTS", "FORMAT", "OPTIONAL", "REQUIRED", "FocusReadResult", "column_key",
           "detect", "focus_version", "line_numbers", "read", "read_header", "scan_text"]

FORMAT = "focus-csv"
CATEGORY_VALUES = {c.value.lower(): c.value for c in ChargeCategory}
MAX_PROBLEMS = 200  # listed per file: past this the file is broken, not a few rows
NUMBER_EXPECTED = "a decimal number (FOCUS numeric format: no currency sign, no commas)"
SCAN_CHUNK = 1 << 23
# ISO 8601 as FOCUS writes it, and the shortenings exports use (a space for the T, no
# seconds, no zone). A refused date that does not look like this is "not a date-time".
ISO_STAMP = re.compile(r"\s*\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*"
                       r"(Z|[+-]\d{2}(:?\d{2})?)?\s*")


@dataclass
class FocusReadResult(ReadResult[CostLedger]):
    """One FOCUS file's ledger, with the FOCUS version its columns show and the rows read."""

    version: str = ""
    rows: int = 0  # source rows that stand in the ledger


def detect(header: Sequence[str]) -> bool:
    keys = {column_key(h) for h in header}
    return {"billedcost", "chargecategory"} <= keys


def read_header(data: bytes) -> list[str] | None:
    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    try:
        return next(csv.reader([first.lstrip("\ufeff")]), None)
    except csv.Error:
        return None


def focus_version(header: Sequence[str]) -> str:
    """Return the FOCUS version the columns show: the first version that has them all
    (``1.0-preview`` for its own columns without ``ChargeClass``)."""
    keys = {column_key(h) for h in header}
    for version in ("1.2", "1.1"):
        if any(column_key(c) in keys for c in VERSION_COLUMNS[version]):
            return version
    if "chargeclass" not in keys and any(column_key(c) in keys for c in PREVIEW_COLUMNS):
        return "1.0-preview"
    return "1.0"


def read(path: Path, mapping: ServiceMapping = DEFAULT_MAPPING) -> FocusReadResult:
    """Return the charge lines of one FOCUS CSV file (one ledger), and its problems."""
    result = FocusReadResult(path, detected_format=FORMAT)
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError as exc:
        result.fail("", f"cannot read the file: {exc.strerror or exc}")
        return result
    encoding = wide_encoding(head)
    if encoding:
        result.fail("line 1", f"file is {encoding} text; save it as UTF-8", "UTF-8 text",
                    f"a {encoding} byte-order mark")
        return result
    header = read_header(head.removeprefix(b"\xef\xbb\xbf"))
    if not header or not any(h.strip() for h in header):
        result.fail("line 1", "file has no header row", "a FOCUS CSV header", "an empty file")
        return result
    columns = FocusColumns.of(header, mapping, result)
    if columns is None:
        return result
    result.version = focus_version(header)
    _warn_about_columns(header, mapping, result)
    spill = Path(tempfile.mkdtemp(prefix="opsledger-focus-"))
    try:
        _read_into(path, columns, mapping, result, spill)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    return result


def _read_into(path: Path, columns: FocusColumns, mapping: ServiceMapping,
               result: FocusReadResult, spill: Path) -> None:
    # The raw bytes first: cheap next to the query, and a binary file never reaches DuckDB.
    scan = scan_text(path)
    if scan.problem is not None:
        result.fail(*scan.problem)
        return
    with FocusQuery(path, spill) as query:
        try:
            summed = query.first_pass(columns)
            rejected = query.rejected()
        except Exception as exc:  # DuckDB raises its own error classes for a bad file
            result.fail("", "unreadable CSV", "UTF-8 CSV text", shown(str(exc), 200))
            return
        _Assembly(path, columns, mapping, result, query, summed, rejected).build()


def _warn_about_columns(header: Sequence[str], mapping: ServiceMapping,
                        result: FocusReadResult) -> None:
    keys = {column_key(h) for h in header}
    if result.version == "1.0-preview":
        preview = [c for c in PREVIEW_COLUMNS if column_key(c) in keys]
        result.warn("line 1", "FOCUS 1.0-preview columns are not read: " + ", ".join(preview),
                    "FOCUS 1.0 or later (ChargeClass for corrections, ChargeCategory 'Credit')")
    known = {column_key(c) for c in FOCUS_COLUMNS + PREVIEW_COLUMNS}
    known |= {column_key(c) for c in mapping.columns}
    unknown = [h for h in header if column_key(h) not in known
               and not h.strip().lower().startswith("x_")]
    if unknown:
        result.warn("line 1", "columns that are not FOCUS 1.0-1.2 columns are not read: "
                    + shown(", ".join(unknown), 200), "FOCUS columns, or x_ custom columns")
    for name in mapping.columns:
        if column_key(name) not in keys:
            result.warn("line 1", f"cost_mapping reads column '{name}', which this file does "
                        "not have", "", "header " + shown(", ".join(header), 120))
    if "billingcurrency" not in keys:
        result.warn("line 1", "no BillingCurrency column; amounts are taken as the target "
                    "currency")
    present = [f.name for f in FEATURES if any(column_key(c) in keys for c in f.columns)]
    if present:
        result.warn("line 1", "FOCUS features in this file that opsledger does not analyse: "
                    + ", ".join(present) + " (docs/formats.md, 'Cost exports')")


@dataclass
class TextScan:
    """What one pass over the raw bytes found: the first NUL byte or invalid UTF-8."""

    problem: tuple[str, str, str, str] | None = None  # location, message, expected, found


def scan_text(path: Path) -> TextScan:
    """Return where the file holds its first NUL byte or invalid UTF-8 sequence, if it does,
    reading it in chunks (constant memory)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer = bytearray(SCAN_CHUNK)
    offset = 0
    with path.open("rb", buffering=0) as handle:
        while size := handle.readinto(buffer):
            nul = buffer.find(b"\0", 0, size)
            bad: tuple[int, int] | None = None  # offset and value of the first invalid byte
            # Checked only where needed: ASCII is UTF-8, unless a character was cut before.
            # A full buffer is asked as it is: slicing a bytearray copies it.
            chunk = buffer if size == len(buffer) else buffer[:size]
            if decoder.getstate()[0] or not chunk.isascii():
                try:
                    decoder.decode(memoryview(buffer)[:size])
                except UnicodeDecodeError as exc:
                    # The decoder's text starts with the bytes it held back from the chunk
                    # before: a character cut by the chunk's edge.
                    held = len(exc.object) - size
                    bad = (offset - held + exc.start, exc.object[exc.start])
            if bad is not None and (nul < 0 or bad[0] < offset + nul):
                return TextScan((f"line {count_lines(path, bad[0]) + 1}",
                                 "file is not valid UTF-8", "UTF-8 text",
                                 f"byte 0x{bad[1]:02x} at offset {bad[0]}"))
            if nul >= 0:
                return TextScan((f"line {count_lines(path, offset + nul) + 1}",
                                 "file holds a NUL byte", "text", "binary data"))
            offset += size
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return TextScan((f"line {count_lines(path) + 1}", "file is not valid UTF-8",
                         "UTF-8 text", "a character cut off at the end of the file"))
    return TextScan()


def count_lines(path: Path, end: int | None = None) -> int:
    """Return the number of line breaks in the file (before byte ``end``)."""
    buffer = bytearray(SCAN_CHUNK)
    lines, offset = 0, 0
    with path.open("rb", buffering=0) as handle:
        while (size := handle.readinto(buffer)) and (end is None or offset < end):
            stop = size if end is None else min(size, end - offset)
            lines += buffer.count(b"\n", 0, stop)
            offset += size
    return lines


def physical_lines(path: Path) -> int:
    """Return the number of lines, counting a last line without a line break."""
    lines = count_lines(path)
    size = path.stat().st_size
    if size:
        with path.open("rb") as handle:
            handle.seek(size - 1)
            lines += handle.read(1) != b"\n"
    return lines


@dataclass(frozen=True)
class _Texts:
    """A text column as codes into its distinct values, each value converted once."""

    codes: np.ndarray  # position in ``values`` (``len(values) - 1`` for a null)
    values: np.ndarray  # converted distinct values, object; the last one stands for null

    @classmethod
    def of(cls, column: pa.ChunkedArray, convert: Any, empty: Any = None) -> _Texts:
        """Return ``convert`` of each stripped, non-empty text, ``empty`` for null or blank."""
        encoded = pc.dictionary_encode(column).combine_chunks()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        values = []
        for value in encoded.dictionary.to_pylist():
            text = str(value).strip()
            values.append(convert(text) if text else empty)
        values.append(empty)
        return cls(np.where(codes < 0, len(values) - 1, codes), np.array(values, dtype=object))

    def test(self, predicate: Any) -> np.ndarray:
        """Return ``predicate`` of each row's value (evaluated once per distinct value)."""
        return np.array([bool(predicate(v)) for v in self.values], dtype=bool)[self.codes]

    def objects(self) -> np.ndarray:
        return self.values[self.codes]


@dataclass(frozen=True)
class _Verdicts:
    """The checks of the groups (or rows): which fail, and the canonical values of the rest."""

    category: _Texts  # canonical ChargeCategory value, None when unknown
    charge_class: _Texts  # lower-cased, None when null
    day_bad: np.ndarray
    day_outside: np.ndarray
    billing_bad: np.ndarray
    billing_outside: np.ndarray
    amounts_bad: np.ndarray

    @classmethod
    def of(cls, table: pa.Table) -> _Verdicts:
        day_bad, day_outside = _day_checks(table["day"])
        billing_bad, billing_outside = _day_checks(table["billing_month"])
        return cls(
            category=_Texts.of(table["category_text"], lambda t: CATEGORY_VALUES.get(t.lower())),
            charge_class=_Texts.of(table["class_text"], str.lower),
            day_bad=day_bad, day_outside=day_outside,
            billing_bad=billing_bad, billing_outside=billing_outside,
            amounts_bad=~table["amounts_ok"].to_numpy().astype(bool),
        )

    @property
    def unknown_category(self) -> np.ndarray:
        return self.category.test(lambda value: value is None)

    @property
    def correction(self) -> np.ndarray:
        return self.charge_class.test(lambda value: value == "correction")

    @property
    def bad_class(self) -> np.ndarray:
        return self.charge_class.test(lambda value: value not in (None, "correction"))

    @property
    def refused(self) -> np.ndarray:
        return (self.unknown_category | self.bad_class | self.day_bad | self.day_outside
                | self.billing_bad | self.billing_outside | self.amounts_bad)


def _day_checks(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Return which days are missing and which lie outside the supported range."""
    missing = column.is_null().to_numpy(zero_copy_only=False)
    days = _day_numbers(column)
    first, last = (int(np.datetime64(d, "D").astype(np.int64)) for d in (FIRST_DAY, LAST_DAY))
    return missing, ~missing & ((days < first) | (days > last))


def _day_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """Return a date column as days since 1970 (0 where missing), without a datetime copy."""
    return pc.cast(column, pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)


def _midnights(column: pa.ChunkedArray) -> np.ndarray:
    """Return a date column as ``datetime64[ns]`` midnights."""
    return (_day_numbers(column).astype(np.int64) * 86_400_000_000_000).view("datetime64[ns]")


def _categorical(values: np.ndarray, codes: np.ndarray) -> pd.Categorical[Any]:
    """Return ``values[codes]`` as a categorical with sorted categories (``None``: missing)."""
    categories = sorted({v for v in values if v is not None})
    position = {v: i for i, v in enumerate(categories)}
    mapped = np.array([position.get(v, -1) if v is not None else -1 for v in values],
                      dtype=np.int32)
    return pd.Categorical.from_codes(mapped[codes], dtype=pd.CategoricalDtype(categories))


class _Assembly:
    """Turns the query's groups into a ledger, and its rejected and refused rows into
    located problems."""

    def __init__(self, path: Path, columns: FocusColumns, mapping: ServiceMapping,
                 result: FocusReadResult, query: FocusQuery, summed: Summed,
                 rejected: pd.DataFrame) -> None:
        self.path, self.columns, self.mapping, self.result = path, columns, mapping, result
        self.query, self.groups, self.rejected = query, summed.groups, rejected
        self.naming = summed.namings
        self.verdicts = _Verdicts.of(self.groups)
        self.refused = self.verdicts.refused
        self.returned = int(pc.sum(self.groups["rows"]).as_py() or 0)
        self.listed = 0
        self.unreadable_tags: list[str] = []
        self._lines: _LineMap | None = None

    @property
    def lines(self) -> _LineMap:
        if self._lines is None:
            self._lines = _LineMap.of(self.path, self.returned, self.rejected)
        return self._lines

    def build(self) -> None:
        if len(self.rejected) >= MAX_REJECTED:
            first = self.rejected.iloc[0]
            self.result.fail(self.lines.rejected_line(int(first["line"])),
                             f"more than {MAX_REJECTED:,} rows could not be read",
                             "a FOCUS CSV export", shown(str(first["error_message"]), 160))
            return
        self._report_rejected()
        if self.refused.any():
            self._report_refused()
        if self.listed > MAX_PROBLEMS:
            self.result.warn("", f"{self.listed:,} problems; the first {MAX_PROBLEMS} are "
                             "listed")
        good = None if not self.refused.any() else np.flatnonzero(~self.refused)
        self._warn_about_values(self.groups if good is None else self.groups.take(good))
        ledger = CostLedger(self._frame(good))
        self._warn_about_tags()
        self.result.records.append(ledger)
        self.result.rows = int(ledger.frame["rows"].sum())

    def _problem(self, location: str, message: str, expected: str, found: str) -> None:
        if self.listed < MAX_PROBLEMS:
            self.result.quarantine(location, message, expected, found)
        self.listed += 1

    def _report_rejected(self) -> None:
        width = len(self.columns.header)
        for item in self.rejected.to_dict("records"):
            where = self.lines.rejected_line(int(item["line"]))
            line = str(item["csv_line"] or "")
            cells = _cells(line)
            kind = str(item["error_type"])
            if kind == "CAST":
                position = int(item["column_idx"]) - 1
                name = self.columns.name_of(position)
                value = cells[position] if 0 <= position < len(cells) else None
                self._problem(f"{where}, column '{name}'", f"'{name}' is not a number",
                              NUMBER_EXPECTED, "an empty cell" if not value else shown(value))
            elif kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
                self._problem(where, "wrong number of cells", f"{width} cells",
                              f"{len(cells)} cells")
            elif kind == "UNQUOTED VALUE":
                self._problem(where, "a quote is not closed; the rest of the file is read as "
                              "part of this row", "a closing '\"'", shown(line[:60]))
            else:
                self._problem(where, "row could not be read", "a FOCUS CSV row",
                              shown(str(item["error_message"]), 160))

    def _report_refused(self) -> None:
        """List the first refused rows (second pass) and count the rest."""
        refused = np.flatnonzero(self.refused)
        groups = self.groups.take(refused)
        unknown = self.verdicts.unknown_category[refused]
        categories = [c for c, bad in zip(groups["category_text"].to_pylist(), unknown,
                                          strict=True) if bad]
        classes = [c for c, bad in zip(groups["class_text"].to_pylist(),
                                       self.verdicts.bad_class[refused], strict=True) if bad]
        rows = self.query.bad_rows(
            self.columns, sorted({str(c) for c in categories if c is not None}),
            None in categories, sorted({str(c) for c in classes if c is not None}),
            max(MAX_PROBLEMS - self.listed, 1))
        row_verdicts = _Verdicts.of(rows)
        records = rows.to_pylist()
        # Evaluated per row here: the refused rows listed are few.
        for position, row in enumerate(records):
            where = self.lines.row_line(int(row["row_no"]))
            for column, message, expected, found in _row_problems(row, row_verdicts, position):
                self._problem(f"{where}, column '{self.columns.written(column)}'", message,
                              expected, found)
        # Rows past the listed ones count once each at least.
        self.listed += max(int(pc.sum(groups["rows"]).as_py() or 0) - len(records), 0)

    def _warn_about_values(self, good: pa.Table) -> None:
        names = set(good.column_names)
        unused = int(pc.sum(good["unused_rows"]).as_py() or 0) if "unused_rows" in names else 0
        if unused:
            cost = float(pc.sum(good["unused_cost"]).as_py() or 0.0)
            self.result.warn("", f"{unused:,} row(s) of unused commitment or capacity "
                             f"reservation (EffectiveCost {cost:,.2f}) count as spend with no "
                             "service; commitment use is not reported (FOCUS 'Commit Usage and "
                             "Under Usage')")
        other = (int(pc.sum(good["other_pricing_rows"]).as_py() or 0)
                 if "other_pricing_rows" in names else 0)
        if other:
            self.result.warn("", f"{other:,} row(s) are priced in a PricingCurrency other than "
                             "their BillingCurrency; only BillingCurrency amounts are read, the "
                             "PricingCurrency* columns are not (FOCUS 1.2 pricing currency)")

    def _frame(self, good: np.ndarray | None) -> pd.DataFrame:
        """Return the ledger columns of the good groups (all when ``good`` is None). Texts
        are categoricals: a million lines name a few hundred resources and services."""
        groups = self.groups if good is None else self.groups.take(good)
        verdicts = self.verdicts
        keep = slice(None) if good is None else good
        category = verdicts.category
        currency = _Texts.of(groups["currency_text"], str, empty="")
        out: dict[str, Any] = {
            "day": _midnights(groups["day"]),
            "billing_period": _midnights(groups["billing_month"]),
            "category": _categorical(category.values, category.codes[keep]),
            "correction": verdicts.correction[keep],
            "currency": _categorical(currency.values, currency.codes),
        }
        for name in ("billed_cost", "effective_cost", "list_cost", "contracted_cost"):
            out[name] = groups[name].to_numpy().astype(float)
        index = groups["naming"].to_numpy()
        for name, values in self._attributes().items():
            out[name] = _categorical(values, index)
        out["rows"] = groups["rows"].to_numpy().astype("int64")
        return pd.DataFrame(out, columns=list(LEDGER_COLUMNS))

    def _attributes(self) -> dict[str, np.ndarray]:
        """Return the resource, naming and mapped values of each naming row (few: one per
        resource and tag set), the service rules applied once to each."""
        naming = self.naming.to_pylist()
        parsed: dict[str, dict[str, Any]] = {}
        named: list[Mapped] = []
        for row in naming:
            tags = self._tags(row["tags"], parsed)
            values = {name: _text(row[f"m{i}"]) for i, name in enumerate(self.columns.mapped)}
            named.append(self.mapping.resolve(tags, values))
        out = {name: np.array([(str(r[name]).strip() or None) if r[name] is not None else None
                               for r in naming], dtype=object)
               for name in ("resource_id", "resource_name", "provider_service", "sub_account")}
        out["service"] = np.array([m.service for m in named], dtype=object)
        out["team"] = np.array([m.team for m in named], dtype=object)
        out["service_source"] = np.array([m.source for m in named], dtype=object)
        return out

    def _tags(self, text: Any, parsed: dict[str, dict[str, Any]]) -> dict[str, Any]:
        key = _text(text)
        if key is None or not key.strip():
            return {}
        if key not in parsed:
            tags = _parse_tags(key)
            if tags is None:
                self.unreadable_tags.append(key)
                tags = {}
            parsed[key] = lowered_keys(tags)
        return parsed[key]

    def _warn_about_tags(self) -> None:
        """Warn about each unreadable Tags value, at the first row that has it."""
        if not self.unreadable_tags:
            return
        column = self.columns.written("Tags")
        first = self.query.first_rows(self.columns, "Tags", self.unreadable_tags[:MAX_PROBLEMS])
        for text in self.unreadable_tags[:MAX_PROBLEMS]:
            row = first.get(text)
            where = self.lines.row_line(row) if row is not None else "a row"
            self.result.warn(f"{where}, column '{column}'",
                             "tags are not a JSON object; their charges are unmapped unless a "
                             "column rule names the service",
                             'a JSON object such as {"service": "checkout"}', shown(text))


def _row_problems(row: dict[str, Any], verdicts: _Verdicts, at: int
                  ) -> Iterator[tuple[str, str, str, str]]:
    """Yield (column, message, expected, found) for each failed check of a refused row."""
    for column in AMOUNTS:
        text = row[f"{column}_text"]
        if text is None:
            if column in REQUIRED:
                yield column, f"'{column}' is missing", NUMBER_EXPECTED, "an empty cell"
        elif not np.isfinite(float(text)):
            yield column, f"'{column}' is not a finite number", NUMBER_EXPECTED, shown(text)
    for column, text, bad, outside in (
            ("ChargePeriodStart", row["charge_text"], verdicts.day_bad, verdicts.day_outside),
            ("BillingPeriodStart", row["billing_text"], verdicts.billing_bad,
             verdicts.billing_outside)):
        iso = text is not None and ISO_STAMP.fullmatch(str(text)) is not None
        if outside[at] and iso:
            yield (column, f"'{column}' is outside the supported dates",
                   f"a date-time from {DATE_RANGE}", shown(text))
        elif bad[at] or outside[at]:
            yield column, f"'{column}' is not a date-time", DATE_TIME_EXPECTED, _found(text)
    if verdicts.unknown_category[at]:
        yield ("ChargeCategory", "unknown charge category",
               "one of " + ", ".join(c.value for c in ChargeCategory),
               _found(row["category_text"]))
    if verdicts.bad_class[at]:
        yield ("ChargeClass", "unknown charge class", "'Correction' or null",
               _found(row["class_text"]))


def _text(value: Any) -> str | None:
    return None if value is None or value != value else str(value)


def _found(value: Any) -> str:
    if value is None or value != value or (isinstance(value, str) and not value.strip()):
        return "an empty cell"
    return shown(value)


def _cells(line: str) -> list[str]:
    try:
        return next(csv.reader([line.strip("\r\n")]), [])
    except csv.Error:
        return line.split(",")


def _parse_tags(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class _LineMap:
    """Turns DuckDB's row numbers into the file's physical lines.

    DuckDB numbers the rows it returns (from 1) and names its rejected rows by a line that
    counts records and blank lines but not line breaks inside quoted cells. When the file's
    line count leaves room for neither blank lines nor quoted line breaks, those are the
    physical lines already; otherwise the file is walked once with the csv module.
    """

    good: np.ndarray  # physical line of each returned row, by row number - 1
    rejected: dict[int, int] = field(default_factory=dict)  # DuckDB line -> physical line
    exact: bool = True

    @classmethod
    def of(cls, path: Path, returned: int, rejected: pd.DataFrame) -> _LineMap:
        lines = sorted({int(n) for n in rejected["line"]}) if len(rejected) else []
        count = physical_lines(path)
        if count == 1 + returned + len(lines):
            physical = np.arange(2, count + 1, dtype=np.int64)
            good = np.setdiff1d(physical, np.array(lines, dtype=np.int64), assume_unique=True)
            return cls(good, {n: n for n in lines})
        return cls.walked(path, returned, set(lines))

    @classmethod
    def walked(cls, path: Path, returned: int, rejected: set[int]) -> _LineMap:
        good: list[int] = []
        mapped: dict[int, int] = {}
        number = 1  # DuckDB's count: the header is line 1
        for start, blank in _records(path):
            number += 1
            if number in rejected:
                mapped[number] = start
            elif not blank:
                good.append(start)
        return cls(np.array(good[:returned], dtype=np.int64), mapped, len(good) == returned)

    def row_line(self, row: int) -> str:
        if self.exact and 0 < row <= len(self.good):
            return f"line {self.good[row - 1]}"
        return f"row {row}"

    def rejected_line(self, line: int) -> str:
        return f"line {self.rejected.get(line, line)}"


def _records(path: Path) -> Iterator[tuple[int, bool]]:
    """Yield the first physical line of each record after the header and whether it is
    blank, as the csv module splits the file."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        reader = csv.reader(handle)
        try:
            next(reader, None)
            previous = reader.line_num
            for row in reader:
                yield previous + 1, not row
                previous = reader.line_num
        except csv.Error:
            return


def line_numbers(data: bytes, rows: int, skipped: list[int | None], cells: int) -> np.ndarray:
    """Return the file line of each row Arrow parsed from ``data`` (Arrow keeps no line
    numbers), given the lines of the rows it skipped."""
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    known = [s for s in skipped if s is not None]
    if physical == 1 + rows + len(skipped) and len(known) == len(skipped):
        return np.setdiff1d(np.arange(2, physical + 1), np.array(known, dtype=np.int64))
    # Quoted line breaks or blank lines: walk the file once with the csv module.
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    next(reader, None)
    starts: list[int] = []
    previous = reader.line_num
    for row in reader:
        if row and any(cell.strip() for cell in row) and len(row) == cells:
            starts.append(previous + 1)
        previous = reader.line_num
    found = np.array(starts[:rows], dtype=np.int64)
    return np.concatenate([found, np.zeros(rows - len(found), dtype=np.int64)])
