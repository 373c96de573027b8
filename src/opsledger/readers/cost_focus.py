"""FinOps FOCUS cost and usage CSV (FOCUS 1.0 and later).

Columns are the specification's (``BilledCost``, ``EffectiveCost``, ``ChargePeriodStart``,
``BillingPeriodStart``, ``ChargeCategory``, ``ChargeClass``, ``BillingCurrency``,
``ServiceName``, ``ResourceId``, ``ResourceName``, ``SubAccountName``, ``Tags`` …), matched
without regard to case or underscores. The service and team of a charge come from its
``Tags`` (a JSON object, FOCUS "Key-Value Format") under configurable keys.

A year of daily rows for a thousand services is about a million lines, so the file is parsed
by Arrow and checked column by column; a row with a bad amount, date or category is
quarantined with its line number, and a row with unreadable tags is kept as untagged (its
cost still counts) with a warning.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from opsledger.model.cost import LEDGER_COLUMNS, ChargeCategory, CostLedger
from opsledger.problems import ReadResult, shown
from opsledger.readers.csvrows import header_key
from opsledger.readers.textfile import MAX_TEXT_BYTES, check_text

FORMAT = "focus-csv"
REQUIRED = ("BilledCost", "EffectiveCost", "ChargePeriodStart", "BillingPeriodStart",
            "ChargeCategory")
OPTIONAL = ("ChargeClass", "BillingCurrency", "ListCost", "ContractedCost", "ServiceName",
            "ResourceId", "ResourceName", "SubAccountName", "Tags")
AMOUNTS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
STAMPS = ("ChargePeriodStart", "BillingPeriodStart")
CATEGORY_VALUES = {c.value.lower(): c.value for c in ChargeCategory}
MAX_PROBLEMS = 200  # per file: past this the file is broken, not a few rows


@dataclass(frozen=True)
class TagKeys:
    """Which tag keys name a charge's service and team (first present key wins)."""

    service: tuple[str, ...] = ("service", "app", "app.kubernetes.io/name")
    team: tuple[str, ...] = ("team", "owner")


DEFAULT_TAG_KEYS = TagKeys()


def column_key(name: str) -> str:
    """Return a header reduced for matching: ``Billed Cost``/``billed_cost`` → ``billedcost``."""
    return header_key(name).replace("_", "")


def detect(header: Sequence[str]) -> bool:
    keys = {column_key(h) for h in header}
    return {"billedcost", "chargecategory"} <= keys


def read_header(data: bytes) -> list[str] | None:
    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    try:
        return next(csv.reader([first.lstrip("\ufeff")]), None)
    except csv.Error:
        return None


def read(path: Path, tag_keys: TagKeys = DEFAULT_TAG_KEYS) -> ReadResult[CostLedger]:
    """Return the charge lines of one FOCUS CSV file (one ledger), and its problems."""
    result: ReadResult[CostLedger] = ReadResult(path, detected_format=FORMAT)
    try:
        size = path.stat().st_size
        if size > MAX_TEXT_BYTES:
            return result.fail("", "file is too large", f"at most {MAX_TEXT_BYTES} bytes",
                               f"{size} bytes")
        data = path.read_bytes()
    except OSError as exc:
        return result.fail("", f"cannot read the file: {exc.strerror or exc}")
    ledger = parse(data, result, tag_keys)
    if ledger is not None:
        result.records.append(ledger)
    return result


def parse(data: bytes, result: ReadResult[CostLedger], tag_keys: TagKeys) -> CostLedger | None:
    """Return the ledger of a FOCUS CSV document, recording problems on ``result``."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not check_text(data, result):
        return None
    header = read_header(data)
    if not header or not any(h.strip() for h in header):
        result.fail("line 1", "file has no header row", "a FOCUS CSV header", "an empty file")
        return None
    by_key = {column_key(h): h for h in header}
    missing = [c for c in REQUIRED if column_key(c) not in by_key]
    if missing:
        result.fail("line 1", "missing required FOCUS column" + ("s " if len(missing) > 1
                    else " ") + ", ".join(missing), "columns " + ", ".join(REQUIRED),
                    "header " + shown(", ".join(header), 200))
        return None
    if len(set(header)) != len(header):
        result.fail("line 1", "duplicate column names", "each column once",
                    ", ".join(sorted({h for h in header if header.count(h) > 1})))
        return None
    used = [by_key[column_key(c)] for c in REQUIRED + OPTIONAL if column_key(c) in by_key]
    # Typed parsing first (fast, and the common case); any value that does not convert sends
    # the file through the text path, which finds and locates every bad cell.
    typed = {h: pa.dictionary(pa.int32(), pa.string()) for h in header}
    typed.update({by_key[column_key(c)]: pa.float64() for c in AMOUNTS if column_key(c) in by_key})
    typed.update({by_key[column_key(c)]: pa.timestamp("us", tz="UTC") for c in STAMPS})
    try:
        table, skipped = _read_table(data, typed, used)
        fast = True
    except pa.ArrowInvalid:
        fast = False
    if not fast:
        try:
            table, skipped = _read_table(data, {h: pa.string() for h in header}, used)
        except (pa.ArrowInvalid, pa.ArrowException) as exc:
            result.fail("", "unreadable CSV", "UTF-8 CSV text", shown(str(exc), 160))
            return None
    for number, expected, actual in skipped:
        result.quarantine(f"line {number}" if number else "a row", "wrong number of cells",
                          f"{expected} cells", f"{actual} cells")
    frame = table.rename_columns([_canonical(n) for n in table.column_names]).to_pandas()
    lines = line_numbers(data, len(frame), [s[0] for s in skipped], len(header))
    return _build(frame, lines, result, tag_keys, fast)


def _read_table(
    data: bytes, types: dict[str, pa.DataType], used: list[str]
) -> tuple[pa.Table, list[tuple[int | None, int, int]]]:
    skipped: list[tuple[int | None, int, int]] = []

    def invalid_row(row: Any) -> str:
        skipped.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    table = pa_csv.read_csv(
        pa.BufferReader(data),
        # One thread: Arrow reports the line of a bad row only when reading serially.
        read_options=pa_csv.ReadOptions(use_threads=False),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True,
                                          invalid_row_handler=invalid_row),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, include_columns=used, strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, skipped


def _canonical(name: str) -> str:
    key = column_key(name)
    return next((c for c in REQUIRED + OPTIONAL if column_key(c) == key), name)


def line_numbers(data: bytes, rows: int, skipped: list[int | None], cells: int) -> np.ndarray:
    """Return the file line of each parsed row (Arrow keeps no line numbers)."""
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


class _Checker:
    """Marks bad rows and records one located problem per bad cell (up to a limit)."""

    def __init__(self, frame: pd.DataFrame, lines: np.ndarray, result: ReadResult[Any]) -> None:
        self.frame, self.lines, self.result = frame, lines, result
        self.bad = np.zeros(len(frame), dtype=bool)
        self.reported = 0

    def flag(self, mask: np.ndarray, column: str, message: str, expected: str) -> None:
        self.bad |= mask
        for index in np.flatnonzero(mask):
            if self.reported >= MAX_PROBLEMS:
                return
            self.reported += 1
            value = self.frame[column].iat[int(index)]
            self.result.quarantine(f"line {self.lines[index]}, column '{column}'", message,
                                   expected, "an empty cell" if _blank(value) else shown(value))


def _blank(value: Any) -> bool:
    return value is None or value != value or (isinstance(value, str) and not value.strip())


def _build(
    frame: pd.DataFrame,
    lines: np.ndarray,
    result: ReadResult[CostLedger],
    tag_keys: TagKeys,
    typed: bool,
) -> CostLedger:
    check = _Checker(frame, lines, result)
    out = pd.DataFrame(index=frame.index)
    for column, name in zip(AMOUNTS, ("billed_cost", "effective_cost", "list_cost",
                                      "contracted_cost"), strict=True):
        if column not in frame:
            out[name] = np.nan
            continue
        if typed:
            values = frame[column].to_numpy(dtype=float)
            wrong = np.isnan(values) & (column in REQUIRED)
        else:
            text = frame[column].str.strip()
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
            wrong = ~np.isfinite(values) & ((text != "").to_numpy() | (column in REQUIRED))
        check.flag(np.asarray(wrong), column, f"'{column}' is not a number", "a decimal number")
        out[name] = values
    for column, name in zip(STAMPS, ("day", "billing_period"), strict=True):
        stamps = frame[column] if typed else pd.to_datetime(
            frame[column].str.strip(), utc=True, errors="coerce", format="ISO8601")
        check.flag(stamps.isna().to_numpy(), column, f"'{column}' is not a date-time",
                   "an ISO 8601 date-time")
        days = stamps.dt.tz_convert("UTC").dt.tz_localize(None).dt.floor("D")
        out[name] = days.astype("datetime64[ns]")
    out["billing_period"] = out["billing_period"].dt.to_period("M").dt.start_time
    category = _lower(frame["ChargeCategory"]).map(CATEGORY_VALUES)
    check.flag(category.isna().to_numpy(), "ChargeCategory", "unknown charge category",
               "one of " + ", ".join(c.value for c in ChargeCategory))
    out["category"] = category.to_numpy(dtype=object)
    out["correction"] = False
    if "ChargeClass" in frame:
        charge_class = _lower(frame["ChargeClass"])
        out["correction"] = (charge_class == "correction").to_numpy()
        check.flag((~out["correction"] & (charge_class != "")).to_numpy(), "ChargeClass",
                   "unknown charge class", "'Correction' or empty")
    if check.reported >= MAX_PROBLEMS:
        result.warn("", f"more than {MAX_PROBLEMS} bad cells; the rest are not listed")
    if "BillingCurrency" not in frame:
        result.warn("line 1", "no BillingCurrency column; amounts are taken as the target "
                    "currency")
    out["currency"] = _text(frame, "BillingCurrency")
    out["currency"] = out["currency"].fillna("")
    out["service"], out["team"] = _tags(frame, lines, result, tag_keys)
    for column, name in (("ResourceId", "resource_id"), ("ResourceName", "resource_name"),
                         ("ServiceName", "provider_service"), ("SubAccountName", "sub_account")):
        out[name] = _text(frame, column)
    out["line"] = lines.astype("int64")
    kept = out.loc[~check.bad, list(LEDGER_COLUMNS)].reset_index(drop=True)
    return CostLedger(kept)


def _lower(column: pd.Series) -> pd.Series:
    """Return the column stripped and lower-cased, each distinct value worked on once."""
    codes, uniques = pd.factorize(column.astype(object))
    cleaned = np.array([str(u).strip().lower() for u in uniques] + [""], dtype=object)
    return pd.Series(cleaned[codes], index=column.index)


def _text(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Return the column's stripped text with empty cells as ``None``."""
    if column not in frame:
        return np.full(len(frame), None, dtype=object)
    codes, uniques = pd.factorize(frame[column].astype(object))
    cleaned = np.array([str(u).strip() or None for u in uniques] + [None], dtype=object)
    return cleaned[codes]


def _tags(
    frame: pd.DataFrame, lines: np.ndarray, result: ReadResult[Any], tag_keys: TagKeys
) -> tuple[np.ndarray, np.ndarray]:
    """Return the service and team of each row from its Tags (parsed once per distinct value)."""
    none = np.full(len(frame), None, dtype=object)
    if "Tags" not in frame:
        return none, none.copy()
    codes, uniques = pd.factorize(frame["Tags"].astype(object))
    services: list[str | None] = []
    teams: list[str | None] = []
    for code, text in enumerate(uniques):
        tags = _parse_tags(str(text).strip())
        if tags is None:
            first = int(np.flatnonzero(codes == code)[0])
            result.warn(f"line {lines[first]}, column 'Tags'",
                        "tags are not a JSON object; the charge is counted as untagged",
                        'a JSON object such as {"service": "checkout"}', shown(text))
            tags = {}
        services.append(_first(tags, tag_keys.service))
        teams.append(_first(tags, tag_keys.team))
    service_of = np.array([*services, None], dtype=object)
    team_of = np.array([*teams, None], dtype=object)
    return service_of[codes], team_of[codes]  # code -1 (missing) picks the trailing None


def _parse_tags(text: str) -> dict[str, Any] | None:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _first(tags: dict[str, Any], keys: Sequence[str]) -> str | None:
    lowered = {str(k).lower(): v for k, v in tags.items()}
    for key in keys:
        value = lowered.get(key.lower())
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value).strip()
            if text:
                return text
    return None
