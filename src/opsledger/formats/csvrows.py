"""CSV rows with their line numbers, headers matched loosely, problems recorded."""

from __future__ import annotations

import _csv
import csv
import functools
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from opsledger.core.problems import ReadResult
from opsledger.formats.fields import Fields
from opsledger.formats.textfile import MAX_LINE_CHARS, load_text

T = TypeVar("T")

csv.field_size_limit(MAX_LINE_CHARS)


@functools.lru_cache(maxsize=4096)  # a file's rows and records repeat the same few keys
def header_key(name: str) -> str:
    """Return a header normalised for matching: ``"Due Date"`` → ``"due_date"``."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def open_csv(text: str, result: ReadResult[T]) -> tuple[_csv.Reader, list[str]] | None:
    """Return a row reader past the header, and the header; ``None`` after recording why."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        result.fail("line 1", f"unreadable CSV header: {exc}", "a CSV header row")
        return None
    if not header or not any(cell.strip() for cell in header):
        result.fail("line 1", "file has no header row", "a CSV header row", "an empty file")
        return None
    return reader, header


def require_columns(
    result: ReadResult[T],
    location: str,
    keys: Sequence[str],
    required: Sequence[str],
    found: Sequence[str],
    expected: str = "",
) -> bool:
    """Return whether every required column is in ``keys``; record a fatal problem if not."""
    missing = [name for name in required if name not in keys]
    if missing:
        result.fail(
            location,
            "missing required column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
            expected or "columns " + ", ".join(required),
            "header " + ", ".join(h.strip() for h in found),
        )
    return not missing


def csv_rows(
    path: Path,
    result: ReadResult[T],
    required: Sequence[str],
    aliases: Mapping[str, Sequence[str]] | None = None,
    text: str | None = None,
) -> Iterator[Fields]:
    """Yield a :class:`Fields` per data row, keyed by normalised column names.

    ``required`` columns (normalised names) must be in the header, else the whole file is
    rejected. ``aliases`` maps a normalised name to other headers that mean the same.
    A row whose cell count differs from the header's is quarantined.
    """
    if text is None:
        text = load_text(path, result)
    if text is None:
        return
    opened = open_csv(text, result)
    if opened is None:
        return
    reader, header = opened
    keys = [header_key(h) for h in header]
    reverse = {alias: name for name, names in (aliases or {}).items() for alias in names}
    keys = [reverse.get(k, k) for k in keys]
    if not require_columns(result, "line 1", keys, required, header):
        return
    where = str(path)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            result.quarantine(f"line {reader.line_num}", f"unreadable CSV row: {exc}")
            continue
        line = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(keys):
            result.quarantine(
                f"line {line}",
                "wrong number of cells",
                f"{len(keys)} cells",
                f"{len(row)} cells",
            )
            continue
        values = dict(zip(keys, row, strict=True))
        yield Fields(where, values, _locator(line))


def _locator(line: int) -> Callable[[str], str]:
    return lambda column: f"line {line}, column '{column}'"
