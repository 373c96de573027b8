"""Utilisation series under ``telemetry/utilisation/``: CSV or Parquet files with one sample per
row — ``time``, ``service``, ``resource`` (cpu, memory, disk, connections) and either ``used``
with ``capacity`` or ``utilisation`` (0-1; a column of percentages is recognised and scaled).

Samples can be many (hourly for a thousand services is millions a year), so they are checked
column by column and kept as one table; a bad row is quarantined with its line (CSV) or row
number (Parquet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from opsledger.core.problems import Level, Problem, ReadResult, shown
from opsledger.core.workspace import utilisation_folder as utilisation_folder
from opsledger.formats.csvrows import header_key
from opsledger.formats.fields import DATE_RANGE, DATE_TIME_EXPECTED, stamp_column
from opsledger.formats.textfile import MAX_TEXT_BYTES
from opsledger.model.cost import UtilisationResource
from opsledger.readers.cost_focus import line_numbers, read_header

FORMAT = "utilisation series"
COLUMNS = ("time", "service", "resource", "utilisation", "used", "capacity")
NUMBER_COLUMNS = ("utilisation", "used", "capacity")
ALIASES = {
    "time": ("timestamp", "ts", "date", "datetime"),
    "utilisation": ("utilization", "util", "usage_ratio"),
    "resource": ("kind", "metric", "resource_type"),
}
RESOURCES = {r.value: r.value for r in UtilisationResource} | {
    "mem": "memory", "ram": "memory", "storage": "disk", "conn": "connections",
    "db_connections": "connections",
}
MAX_PROBLEMS = 200
# Where a row is, by its index in the file's table ("line 12", "row 3").
Locator = Callable[[int], str]


@dataclass(frozen=True, eq=False)
class UtilisationLog:
    """Samples as a table: ``time`` (UTC), ``service``, ``resource``, ``utilisation`` (0-1),
    ``used`` and ``capacity`` (NaN when not given)."""

    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def concat(cls, logs: list[UtilisationLog]) -> UtilisationLog:
        """Return the samples of ``logs`` in order: the one log itself when only one holds
        any (a log is not changed once read), so that a run does not hold its samples
        twice."""
        filled = [log for log in logs if len(log)]
        if len(filled) == 1:
            return filled[0]
        frames = [log.frame for log in filled]
        if not frames:
            return cls(pd.DataFrame({
                "time": pd.to_datetime([], utc=True), "service": [], "resource": [],
                "utilisation": [], "used": [], "capacity": []}))
        return cls(pd.concat(frames, ignore_index=True))


@dataclass
class UtilisationReadResult(ReadResult[UtilisationLog]):
    files: list[str] = field(default_factory=list)

    @property
    def log(self) -> UtilisationLog:
        return UtilisationLog.concat(self.records)


def read(path: Path) -> UtilisationReadResult:
    """Return the utilisation samples of every CSV/Parquet file under ``path``."""
    folder = utilisation_folder(path) if path.is_dir() else path
    result = UtilisationReadResult(folder, detected_format=FORMAT)
    files = [folder] if folder.is_file() else sorted(
        p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    for file in files:
        suffix = file.suffix.lower()
        if suffix not in (".csv", ".parquet"):
            result.problems.append(Problem(str(file), "", "not a utilisation file (ignored)",
                                           ".csv or .parquet", file.suffix or "no extension",
                                           Level.WARNING))
            continue
        scratch: ReadResult[UtilisationLog] = ReadResult(file)
        frame, where = _csv(file, scratch) if suffix == ".csv" else _parquet(file, scratch)
        if frame is not None and where is not None:
            log = _check(frame, where, scratch)
            if log is not None:
                scratch.records.append(log)
        result.extend(scratch.problems)
        result.records.extend(scratch.records)
        result.files.append(file.name)
    return result


def _normalise(columns: list[str]) -> list[str]:
    reverse = {alias: name for name, names in ALIASES.items() for alias in names}
    return [reverse.get(header_key(c), header_key(c)) for c in columns]


def _named(columns: list[str], result: ReadResult[Any], location: str) -> list[str] | None:
    """Return the columns by the names this reader knows them by; ``None``, with the file
    failed, when two columns give the same field (``time`` and ``timestamp``, say)."""
    names = _normalise(columns)
    first: dict[str, str] = {}
    for written, name in zip(columns, names, strict=True):
        if name in COLUMNS and name in first:
            header = shown(", ".join(columns), 160)
            result.fail(location, f"columns '{first[name]}' and '{written}' both give the "
                        f"'{name}' column", "one column per field", f"columns {header}")
            return None
        first.setdefault(name, written)
    return names


def _csv(file: Path, result: ReadResult[Any]) -> tuple[pd.DataFrame | None, Locator | None]:
    try:
        if file.stat().st_size > MAX_TEXT_BYTES:
            result.fail("", "file is too large", f"at most {MAX_TEXT_BYTES} bytes")
            return None, None
        data = file.read_bytes().removeprefix(b"\xef\xbb\xbf")
    except OSError as exc:
        result.fail("", f"cannot read the file: {exc.strerror or exc}")
        return None, None
    header = read_header(data)
    if not header:
        result.fail("line 1", "file has no header row", "time, service, resource, ...")
        return None, None
    skipped: list[tuple[int | None, int, int]] = []

    def invalid_row(row: Any) -> str:
        skipped.append((row.number, row.expected_columns, row.actual_columns))
        return "skip"

    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data), read_options=pa_csv.ReadOptions(use_threads=False),
            parse_options=pa_csv.ParseOptions(invalid_row_handler=invalid_row),
            convert_options=pa_csv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                  strings_can_be_null=False))
    except pa.ArrowException as exc:
        result.fail("", "unreadable CSV", "UTF-8 CSV text", shown(str(exc), 160))
        return None, None
    for number, expected, actual in skipped:
        result.quarantine(f"line {number}", "wrong number of cells", f"{expected} cells",
                          f"{actual} cells")
    names = _named(table.column_names, result, "line 1")
    if names is None:
        return None, None
    frame = _text_frame(table, names)
    found: list[np.ndarray] = []

    def line(index: int) -> str:
        # Only a bad row needs its line: the file is walked for them on the first one.
        if not found:
            found.append(line_numbers(data, len(frame), [s[0] for s in skipped], len(header)))
        return f"line {found[0][index]}"

    return frame, line


def _text_frame(table: pa.Table, names: list[str]) -> pd.DataFrame:
    """Return a table of text cells as pandas columns without a Python string per cell.

    Names and times repeat (a year of hourly samples names a few hundred series), so they
    become categoricals: each distinct text once, and a code per row. Number columns stay
    Arrow text, which :func:`numbers_of` casts as it is.
    """
    columns: dict[int, pd.Series] = {}
    for index, (name, column) in enumerate(zip(names, table.columns, strict=True)):
        if name in NUMBER_COLUMNS:
            columns[index] = pd.Series(pd.arrays.ArrowExtensionArray(column), copy=False)
        else:
            columns[index] = pc.dictionary_encode(column).to_pandas()
    frame = pd.DataFrame(columns, copy=False)
    frame.columns = names  # a column this reader does not read may be named twice
    return frame


def _parquet(file: Path, result: ReadResult[Any]) -> tuple[pd.DataFrame | None, Locator | None]:
    try:
        frame = pq.read_table(file).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        result.fail("", "unreadable Parquet file", "a Parquet file", shown(str(exc), 160))
        return None, None
    names = _named([str(c) for c in frame.columns], result, "")
    if names is None:
        return None, None
    frame.columns = names
    return frame, lambda index: f"row {index + 1}"


# A number as Arrow's cast reads it: decimal, with an optional exponent, or inf and nan.
_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?$|^[+-]?(?:inf|infinity|nan)$"


def _per_text(values: pd.Series, convert: Callable[[str], object]) -> pd.Series | None:
    """Return ``convert`` of each cell, called once per distinct text rather than per row.

    A year of hourly samples repeats the same few hundred service and resource names; ``None``
    when the column holds anything but text (a Parquet column of numbers, a missing cell).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    if not all(isinstance(value, str) for value in uniques):
        return None
    converted = np.empty(len(uniques), dtype=object)
    converted[:] = [convert(value) for value in uniques]
    return pd.Series(converted[codes], index=values.index, dtype=object)


def numbers_of(column: pd.Series) -> np.ndarray:
    """Return a column's cells as floats: NaN, or another value that is not finite, where a
    cell holds no number.

    A column of text is cast by Arrow, each number to its nearest float, surrounding spaces
    trimmed and cells that are not written as a number left out. A column that holds
    anything but text is read by pandas.
    """
    arrow_text = isinstance(column.dtype, pd.ArrowDtype) and pa.types.is_string(
        column.dtype.pyarrow_dtype)
    if column.dtype == object or arrow_text:
        try:
            cells = (pa.array(column.array) if arrow_text
                     else pa.array(column.to_numpy(), type=pa.string(), from_pandas=True))
            text = pc.utf8_trim_whitespace(cells)
            written = pc.match_substring_regex(text, _NUMBER, ignore_case=True)
            cells = pc.if_else(written, text, pa.scalar(None, pa.string()))
            return np.asarray(pc.cast(cells, pa.float64()).to_numpy(zero_copy_only=False),
                              dtype=float)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def _present(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """Return, for every row, whether the cell holds something (rows outside ``rows``: False)."""
    present = np.zeros(len(column), dtype=bool)
    if rows.size:
        cells = column.iloc[rows]
        present[rows] = cells.notna().to_numpy() & (cells.astype(str).str.strip() != "").to_numpy()
    return present


def _check(frame: pd.DataFrame, where: Locator, result: ReadResult[Any]) -> UtilisationLog | None:
    missing = [c for c in ("time", "service", "resource") if c not in frame]
    has_ratio = "utilisation" in frame
    if not has_ratio and not {"used", "capacity"} <= set(frame.columns):
        missing.append("utilisation (or used and capacity)")
    if missing:
        result.fail("line 1", "missing required column" + ("s " if len(missing) > 1 else " ")
                    + ", ".join(missing), "time, service, resource, and utilisation or "
                    "used + capacity", "columns " + ", ".join(map(str, frame.columns)))
        return None
    bad = np.zeros(len(frame), dtype=bool)
    reported = [0]

    def flag(mask: np.ndarray, column: str, message: str, expected: str) -> None:
        nonlocal bad
        bad = bad | mask
        for index in np.flatnonzero(mask):
            if reported[0] >= MAX_PROBLEMS:
                return
            reported[0] += 1
            value = frame[column].iat[int(index)]
            if isinstance(value, datetime):  # a Parquet timestamp: show the text, not the repr
                value = value.isoformat()
            result.quarantine(f"{where(int(index))}, column '{column}'", message, expected,
                              shown(value))

    times, unreadable, outside = stamp_column(frame["time"])
    flag(unreadable, "time", "'time' is not a date-time", DATE_TIME_EXPECTED)
    flag(outside, "time", "'time' is outside the supported dates", f"a date-time from {DATE_RANGE}")
    named = frame["service"].astype(object).where(frame["service"].notna(), "")
    service = _per_text(named, str.strip)
    if service is None:
        service = named.astype(str).str.strip()
    flag((service == "").to_numpy(), "service", "missing service", "a service name")
    resource = _per_text(frame["resource"], lambda text: RESOURCES.get(text.strip().lower()))
    if resource is None:
        resource = frame["resource"].astype(str).str.strip().str.lower().map(RESOURCES)
    flag(resource.isna().to_numpy(), "resource", "unknown resource",
         "one of " + ", ".join(r.value for r in UtilisationResource))
    numbers: dict[str, np.ndarray] = {}
    for column in NUMBER_COLUMNS:
        if column not in frame:
            numbers[column] = np.full(len(frame), np.nan)
            continue
        values = numbers_of(frame[column])
        unread = ~np.isfinite(values)  # an empty cell is no number, and no error either
        present = _present(frame[column], np.flatnonzero(unread))
        flag(present & unread, column, f"'{column}' is not a number", "a number")
        numbers[column] = values
    ratio = numbers["utilisation"]
    if has_ratio and np.nanmax(np.append(ratio[~bad], 0.0)) > 1.5:
        result.warn("", "utilisation looks like percentages (values above 1.5); divided by 100")
        ratio = ratio / 100.0
    derived = numbers["used"] / np.where(numbers["capacity"] > 0, numbers["capacity"], np.nan)
    ratio = np.where(np.isfinite(ratio), ratio, derived)
    flag(~bad & ~np.isfinite(ratio), "capacity" if not has_ratio else "utilisation",
         "no utilisation: give 'utilisation' or 'used' with a positive 'capacity'",
         "a ratio 0-1 or used and capacity > 0")
    flag(~bad & np.isfinite(ratio) & (ratio < 0), "utilisation" if has_ratio else "used",
         "utilisation is negative", "at least 0")
    keep = ~bad
    return UtilisationLog(pd.DataFrame({
        "time": times[keep].reset_index(drop=True),
        "service": service[keep].to_numpy(dtype=object),
        "resource": resource[keep].to_numpy(dtype=object),
        "utilisation": ratio[keep],
        "used": numbers["used"][keep],
        "capacity": numbers["capacity"][keep],
    }))
