"""Probe results read column by column: the fast path for CSV and JSON Lines histories.

A probe history is the largest input a workspace holds: a year of five-minute probes for a
hundred services is ten million rows. Arrow parses a file into whole columns; each distinct
value of a column (an instant shared by all services, a service name, an ok word, a latency)
is then converted once, with the very functions the row-by-row reader applies to each cell.
Times are the exception when plainly written ('2026-10-01T00:05:00Z', an offset, at most six
digits of fraction): Arrow converts those for the whole column at once, to the instants and
zones that reader gives them; any other way of writing a time is read by that reader's
function, one distinct text at a time.

The fast path takes a file only when every row is one the row-by-row reader accepts without
a word: every instant readable, every service named, every ok word known, every latency a
finite number of at least 0, and nothing the two parsers could read differently. Anything
else returns ``None`` and the file goes to the row-by-row reader, which names each bad row
with its line. Probes are therefore those of the row-by-row reader, only sooner. They are
kept by column (:class:`~opsledger.model.health.ProbeHistory`), built from each column's
distinct values and each row's index into them: no object is made per row.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from collections.abc import Callable, Iterator
from datetime import tzinfo
from pathlib import Path
from typing import Any, TypedDict, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from opsledger.core.problems import ReadResult
from opsledger.formats.fields import EARLIEST, LATEST, parse_datetime
from opsledger.formats.textfile import MAX_LINE_CHARS, MAX_TEXT_BYTES, check_text
from opsledger.model.health import Encoded, EncodedTimes, ProbeHistory, epoch_microseconds
from opsledger.readers.health_fields import (
    DEFAULT_CHECK,
    OK_WORDS,
    REQUIRED,
    canonical,
    header_keys,
)

T = TypeVar("T")

_UTF8_BOM = b"\xef\xbb\xbf"
# Line breaks that ``str.splitlines`` honours and a JSON parser reads inside a string (NEL,
# LINE SEPARATOR, PARAGRAPH SEPARATOR): the row-by-row reader would cut the line there.
_SPLITTING_CHARACTERS = (b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9")
# Python's JSON parser gives up around a thousand levels of nesting (the row-by-row reader
# then reports the line); a probe record is flat, so any deep nesting is left to that reader.
_MAX_NESTING = 64
# The longest JSON line read by columns: at most about two thousand levels of nesting, which
# Arrow parses safely, and no number longer than Python's default limit of 4300 digits.
_LONGEST_LINE = 4096
_SCAN_BLOCK = 1 << 24  # bytes of a JSON Lines file scanned at a time when counting its lines
_INSTANTS_LIMIT = 200_000  # times remembered across the files of a history
_BLOCK_BYTES = 1 << 22  # bytes of CSV Arrow parses at a time
# The value of an optional field in a file without it.
_ABSENT: dict[str, Any] = {"check": DEFAULT_CHECK, "latency_ms": None}

# A time in the form probe tools write it: date, 'T', seconds, at most six digits of
# fraction, and 'Z' or an offset, every field in its range. Arrow converts these for a whole
# column at once; parse_datetime reads each of them to the same instant and zone.
_PLAIN_TIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_EARLIEST_US = epoch_microseconds(EARLIEST)
_LATEST_US = epoch_microseconds(LATEST)

# A time as read: microseconds since 1970-01-01 UTC, and the zone it was written in.
Instant = tuple[int, tzinfo | None]


class Columns(TypedDict):
    """The probe fields of a block of rows, each as distinct values and row indexes."""

    time: EncodedTimes
    service: Encoded[str]
    check: Encoded[str]
    ok: Encoded[bool]
    latency_ms: Encoded[float | None]

# Arrow's buffers here live only while a block is converted. The system allocator gives
# them back; pyarrow's default pool (mimalloc, unless the command line chose jemalloc) keeps
# tens of megabytes per thread for reuse, which for this reader is only a larger process.
# The pool is named here so that the reader behaves the same when used as a library.
_POOL = pa.system_memory_pool()


class _Doubtful(Exception):
    """A value the row-by-row reader would not take as it is: that reader reads the file."""


def read_columns(
    path: Path, kind: str, instants: dict[str, Instant] | None = None
) -> ProbeHistory | None:
    """Return the probes of a ``csv`` or ``jsonl`` file read column by column, or ``None``
    when any row needs the row-by-row reader (a problem to name, or a doubt).

    ``instants`` holds the times already read (text to instant), so that the files of one
    history, which share their probe times, read each of them once.
    """
    instant = _Instants({} if instants is None else instants)
    parts: list[ProbeHistory] = []
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            return None
        data = path.read_bytes()
        if not check_text(data, ReadResult(path)):
            return None
        batches = _csv_batches(data, instant) if kind == "csv" else _jsonl_batches(data, instant)
        for columns in batches:
            parts.append(build_history(columns))
    except (_Doubtful, OSError, pa.ArrowException, csv.Error, ValueError, OverflowError):
        return None
    return ProbeHistory.concat(parts)


def build_history(columns: Columns) -> ProbeHistory:
    """Return the probes of ``columns``: per field, the distinct values the row-by-row reader
    would give ``ProbeResult`` (a time as an :data:`Instant`) and each row's index into them.
    """
    return ProbeHistory.from_encoded(
        columns["time"], columns["service"], columns["check"], columns["ok"],
        columns["latency_ms"],
    )


# --- CSV ----------------------------------------------------------------------------------


def _csv_batches(data: bytes, instant: Callable[[str | None], Instant]) -> Iterator[Columns]:
    """Yield the probe fields of a CSV file a block at a time, each cell converted.

    Raises ``_Doubtful`` (or Arrow's error) at the first row the row-by-row reader must see.
    Reading a block at a time keeps Arrow's share of memory to a few blocks, whatever the
    size of the file.
    """
    header = _csv_header(data)
    keys = header_keys(header)
    if not set(REQUIRED) <= set(keys):
        raise _Doubtful("a required column is missing")
    reader = pacsv.open_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(block_size=_BLOCK_BYTES),
        # Quoted cells may hold line breaks, as Python's reader allows; without quotes there
        # are none and Arrow can split the file at any line break.
        parse_options=pacsv.ParseOptions(newlines_in_values=b'"' in data),
        convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in header}),
        memory_pool=_POOL,
    )
    if reader.schema.names != header:
        raise _Doubtful("Arrow read the header otherwise")
    for batch in reader:
        # Python's reader refuses a cell of this length, so the row-by-row reader reports it.
        for cells in batch.columns:
            if len(cells) and _longest_cell(cells) >= MAX_LINE_CHARS:
                raise _Doubtful("a cell is too long")
        yield Columns(
            time=_times(pa.chunked_array([batch.column(keys.index("time"))]), instant),
            service=_csv_field(batch, keys, "service", _service),
            check=_csv_field(batch, keys, "check", _csv_check),
            ok=_csv_field(batch, keys, "ok", _ok),
            latency_ms=_csv_field(batch, keys, "latency_ms", _csv_latency),
        )


def _csv_field(
    batch: pa.RecordBatch, keys: list[str], name: str, convert: Callable[[Any], T]
) -> Encoded[T]:
    """Return the field ``name`` of a block of CSV rows, each distinct cell converted; a
    field the file has no column for holds its default value in every row."""
    if name not in keys:
        return _repeated(_ABSENT[name], batch.num_rows)
    return _each_distinct(pa.chunked_array([batch.column(keys.index(name))]), convert)


def _longest_cell(cells: pa.Array) -> int:
    longest: int = pc.max(pc.binary_length(cells, memory_pool=_POOL), memory_pool=_POOL).as_py()
    return longest


def _csv_header(data: bytes) -> list[str]:
    """Return the header as Python's CSV reader reads it (the row-by-row reader's view)."""
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    header = next(csv.reader(text), None)
    if not header or not any(cell.strip() for cell in header):
        raise _Doubtful("no header")
    if any(len(cell) >= MAX_LINE_CHARS for cell in header):
        raise _Doubtful("a header cell is too long")
    return header


def _csv_check(cell: str) -> str:
    return cell.strip() or DEFAULT_CHECK


def _csv_latency(cell: str) -> float | None:
    if not cell or cell.isspace():  # an empty cell is a probe without a latency
        return None
    try:
        return _latency(float(cell))
    except ValueError:
        raise _Doubtful(cell) from None


# --- JSON Lines ---------------------------------------------------------------------------


def _jsonl_batches(data: bytes, instant: Callable[[str | None], Instant]) -> Iterator[Columns]:
    """Yield the probe fields of a JSON Lines file, each value converted.

    Raises ``_Doubtful`` (or Arrow's error) at the first object the row-by-row reader must see.
    """
    data = data.removeprefix(_UTF8_BOM)
    # (Each of these is a search through the whole file: the cheap question comes first.)
    if not data.isascii() and any(mark in data for mark in _SPLITTING_CHARACTERS):
        raise _Doubtful("a line break the row-by-row reader honours inside a line")
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        raise _Doubtful("a carriage return alone ends a line for the row-by-row reader")
    filled, longest = _line_shape(data)
    # Arrow's parser recurses into nested lists and objects: a long enough line could nest
    # deep enough to overflow its stack. A short line also cannot hold a whole number of
    # more digits than Python takes (which Arrow would read as infinite).
    digits = sys.get_int_max_str_digits()
    if longest > min(_LONGEST_LINE, digits or _LONGEST_LINE):
        raise _Doubtful("a line longer than the column path reads")
    table = pajson.read_json(
        pa.BufferReader(data),
        parse_options=pajson.ParseOptions(explicit_schema=_text_fields(data)),
        memory_pool=_POOL,
    )
    # Arrow takes two objects on one line, or one object over two lines; Python does not.
    if table.num_rows != filled:
        raise _Doubtful("not one object per line")
    if any(_nested_deeper_than(field.type, _MAX_NESTING) for field in table.schema):
        raise _Doubtful("nested too deeply")
    found: dict[str, list[int]] = {}
    for index, key in enumerate(table.column_names):
        found.setdefault(canonical(key), []).append(index)
    count = table.num_rows

    def column(name: str, kinds: tuple[Callable[[pa.DataType], bool], ...]) -> pa.ChunkedArray:
        indexes = found.get(name, [])
        if len(indexes) != 1:  # absent (a required field), or under two names
            raise _Doubtful(name)
        values = table.column(indexes[0])
        if not any(kind(values.type) for kind in kinds):
            raise _Doubtful(f"{name} is {values.type}")
        return values

    text = (pa.types.is_string,)
    numbers = (pa.types.is_null, pa.types.is_integer, pa.types.is_floating)
    yield Columns(
        time=_times(column("time", text), instant),
        service=_each_distinct(column("service", text), _service),
        check=_repeated(_ABSENT["check"], count) if "check" not in found
        else _each_distinct(column("check", (pa.types.is_null, *text)), _json_check),
        ok=_each_distinct(column("ok", (pa.types.is_boolean, pa.types.is_integer, *text)), _ok),
        latency_ms=_repeated(_ABSENT["latency_ms"], count) if "latency_ms" not in found
        else _each_distinct(column("latency_ms", numbers), _json_latency),
    )


def _text_fields(data: bytes) -> pa.Schema:
    """Return the time, service and check keys of the first object, typed as text.

    Arrow would otherwise read an ISO 8601 time as its own timestamp; the row-by-row reader
    reads the text, and so must this one. A key seen only further down is typed by Arrow,
    and a time not typed as text sends the file to the row-by-row reader.
    """
    first, start = b"{}", 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if data[start:end].strip():
            first = data[start:end]
            break
        start = end + 1
    try:
        item = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise _Doubtful("the first line is not JSON") from None
    if not isinstance(item, dict):
        raise _Doubtful("the first line is not an object")
    names = [key for key in item if canonical(key) in ("time", "service", "check")]
    return pa.schema([(key, pa.string()) for key in names])


def _line_shape(data: bytes) -> tuple[int, int]:
    """Return how many lines of ``data`` hold more than spaces, tabs and carriage returns,
    and the length of the longest line in bytes."""
    scanned = np.frombuffer(data, dtype=np.uint8)
    filled = longest = 0
    after_break = True  # the text starts a line
    line_start = 0
    for start in range(0, scanned.size, _SCAN_BLOCK):
        block = scanned[start : start + _SCAN_BLOCK]
        breaks = np.flatnonzero(block == ord("\n")) + start
        if breaks.size:
            ends = np.concatenate(([line_start - 1], breaks))
            longest = max(longest, int(np.diff(ends).max()) - 1)
            line_start = int(breaks[-1]) + 1
        kept = block[(block != ord(" ")) & (block != ord("\t")) & (block != ord("\r"))]
        if not kept.size:
            continue
        content = kept != ord("\n")
        # A line's first content byte is one whose previous kept byte is a line break.
        follows_break = np.empty_like(content)
        follows_break[0] = after_break
        follows_break[1:] = ~content[:-1]
        filled += int(np.count_nonzero(content & follows_break))
        after_break = not content[-1]
    return filled, max(longest, scanned.size - line_start)


def _nested_deeper_than(kind: pa.DataType, depth: int) -> bool:
    """Return whether lists and objects nest more than ``depth`` levels in type ``kind``."""
    level = [kind]
    for _ in range(depth + 1):
        level = [child.field(i).type for child in level for i in range(child.num_fields)]
        if not level:
            return False
    return True


def _json_check(value: str | None) -> str:
    if value is None:  # no check, or null: the default check
        return DEFAULT_CHECK
    if not value.strip():
        raise _Doubtful("a blank check")
    return value.strip()


def _json_latency(value: float | None) -> float | None:
    return None if value is None else _latency(float(value))


# --- values -------------------------------------------------------------------------------


class _Instants:
    """Reads a time as the row-by-row reader does, remembering each text read."""

    def __init__(self, known: dict[str, Instant]) -> None:
        self.known = known

    def __call__(self, value: str | None) -> Instant:
        if value is None:
            raise _Doubtful("no time")
        found = self.known.get(value)
        if found is None:
            try:
                moment = parse_datetime(value)
            except (ValueError, OverflowError, OSError):
                raise _Doubtful(value) from None
            found = (epoch_microseconds(moment), moment.tzinfo)
            if len(self.known) >= _INSTANTS_LIMIT:  # all distinct: keep memory bounded
                self.known.clear()
            self.known[value] = found
        return found


def _service(value: str | None) -> str:
    name = (value or "").strip()
    if not name:
        raise _Doubtful("no service")
    return name


def _ok(value: bool | int | str | None) -> bool:
    if isinstance(value, bool):
        return value
    word = OK_WORDS.get(value.strip().lower()) if isinstance(value, str) else None
    if word is not None:
        return word
    if isinstance(value, int) and 100 <= value <= 599:  # JSON ``"status": 200``: HTTP code
        return value < 400  # 2xx and 3xx mean ok
    raise _Doubtful(f"ok is {value!r}")


def _latency(number: float) -> float:
    if not 0.0 <= number < math.inf:  # negative, NaN and infinite latencies are reported
        raise _Doubtful(f"latency {number!r}")
    return number


def _repeated(value: T, count: int) -> Encoded[T]:
    """Return ``value`` for ``count`` rows (one column of a field the file does not have)."""
    return [value], np.zeros(count, dtype=np.intp)


def _each_distinct(values: pa.ChunkedArray, convert: Callable[[Any], T]) -> Encoded[T]:
    """Return ``convert`` of each distinct value (nulls as None), called once per value, and
    each row's index into those values."""
    if pa.types.is_null(values.type):
        return _repeated(convert(None), len(values))
    dictionaries, at = _dictionary_encoded(values)
    return [convert(value) for texts in dictionaries for value in texts.to_pylist()], at


def _dictionary_encoded(values: pa.ChunkedArray) -> tuple[list[pa.Array], np.ndarray]:
    """Return the distinct values of ``values`` (null among them), as the dictionaries Arrow
    encoded them with, and each row's index into those dictionaries one after the other."""
    dictionaries: list[pa.Array] = []
    rows: list[np.ndarray] = []
    first = 0  # where the values of the current dictionary start
    encoded = pc.dictionary_encode(values, null_encoding="encode", memory_pool=_POOL)
    for chunk in encoded.chunks:
        # Arrow encodes all chunks against one dictionary: it is converted once.
        if not dictionaries or not chunk.dictionary.equals(dictionaries[-1]):
            first += len(dictionaries[-1]) if dictionaries else 0
            dictionaries.append(chunk.dictionary)
        rows.append(_codes(chunk.indices).astype(np.intp) + first)
    return dictionaries, np.concatenate(rows) if rows else np.zeros(0, dtype=np.intp)


def _times(values: pa.ChunkedArray, instant: Callable[[str | None], Instant]) -> EncodedTimes:
    """Return the distinct instants of a time column and each row's index into them.

    Plain times (:data:`_PLAIN_TIME`) are converted by Arrow, all at once; any other text is
    read by ``instant``, one distinct value at a time, as the row-by-row reader reads it.
    """
    if pa.types.is_null(values.type):
        instant(None)  # raises: a probe without a time
    dictionaries, at = _dictionary_encoded(values)
    texts = pa.concat_arrays(dictionaries) if dictionaries else pa.array([], pa.string())
    micros = np.zeros(len(texts), dtype=np.int64)
    kind_of = np.zeros(len(texts), dtype=np.intp)
    read = np.zeros(len(texts), dtype=np.bool_)
    written_in: list[tzinfo | None] = []
    plain = pc.fill_null(pc.match_substring_regex(texts, _PLAIN_TIME, memory_pool=_POOL), False)
    chosen = texts.filter(plain)
    try:
        stamps = pc.cast(chosen, pa.timestamp("us", "UTC"), memory_pool=_POOL)
    except pa.ArrowInvalid:  # a day the month does not have: every time is read one by one
        stamps = None
    if stamps is not None and len(stamps):
        at_plain = _codes(pc.indices_nonzero(plain, memory_pool=_POOL)).astype(np.intp)
        stamped = _codes(stamps.cast(pa.int64()))
        # A time outside the supported range is read alone, which names it.
        kept = (stamped >= _EARLIEST_US) & (stamped <= _LATEST_US)
        # The zone part of a plain time: 'Z', or the offset in its last six characters.
        offsets = pc.if_else(pc.ends_with(chosen, "Z", memory_pool=_POOL), "Z",
                             pc.utf8_slice_codeunits(chosen, -6, memory_pool=_POOL),
                             memory_pool=_POOL)
        zones = pc.dictionary_encode(offsets, memory_pool=_POOL)
        written_in = [_zone_written_as(offset) for offset in zones.dictionary.to_pylist()]
        converted = at_plain[kept]
        micros[converted] = stamped[kept]
        kind_of[converted] = _codes(zones.indices)[kept]
        read[converted] = True
    for index in np.flatnonzero(~read):
        us, zone = instant(texts[int(index)].as_py())
        micros[index] = us
        kind_of[index] = len(written_in)
        written_in.append(zone)
    return EncodedTimes.zoned(micros, at, written_in, kind_of)


def _zone_written_as(offset: str) -> tzinfo | None:
    """Return the zone parse_datetime gives a time written with ``offset`` ('Z', '+02:00')."""
    return parse_datetime(f"2000-01-01T00:00:00{offset}").tzinfo


def _codes(indices: pa.Array) -> np.ndarray:
    """Return integers (dictionary indices, say; no nulls) as a NumPy view of Arrow's buffer.

    ``Array.to_numpy`` would do the same after importing pandas, which this reader does not
    otherwise need: some 40 MB and a third of a second.
    """
    kind = np.dtype(f"int{indices.type.bit_width}")
    codes = np.frombuffer(indices.buffers()[1], dtype=kind)
    return codes[indices.offset : indices.offset + len(indices)]
