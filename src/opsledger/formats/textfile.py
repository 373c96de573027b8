"""Loading input files as text or JSON, with every failure turned into a problem."""

from __future__ import annotations

import codecs
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

from opsledger.core.problems import ReadResult

T = TypeVar("T")

# Inputs are exports and hand-written files; anything past this is a mistake or an attack.
MAX_TEXT_BYTES = 512 * 1024 * 1024
MAX_LINE_CHARS = 1_000_000


def load_text(path: Path, result: ReadResult[T], limit: int = MAX_TEXT_BYTES) -> str | None:
    """Return the file's text (UTF-8, BOM removed) or ``None`` after recording why not."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        result.fail("", f"cannot read the file: {exc.strerror or exc}")
        return None
    if size > limit:
        result.fail("", "file is too large", f"at most {limit} bytes", f"{size} bytes")
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        result.fail("", f"cannot read the file: {exc.strerror or exc}")
        return None
    return decode_text(data, result)


# Byte-order marks of the encodings a spreadsheet's "Unicode text" export may use.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def wide_encoding(data: bytes) -> str | None:
    """Return "UTF-16" or "UTF-32" when ``data`` starts with that encoding's byte-order mark."""
    for bom, encoding in _WIDE_BOMS:
        if data.startswith(bom):
            return encoding
    return None


def _refuse_binary(data: bytes, result: ReadResult[T]) -> bool:
    """Return True (after recording why) when ``data`` is UTF-16/32 or holds a NUL byte."""
    encoding = wide_encoding(data)
    if encoding:
        result.fail(
            "line 1",
            f"file is {encoding} text; save it as UTF-8",
            "UTF-8 text",
            f"a {encoding} byte-order mark",
        )
        return True
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        result.fail(f"line {line}", "file holds a NUL byte", "text", "binary data")
        return True
    return False


def _not_utf8(data: bytes, offset: int, result: ReadResult[T]) -> None:
    line = data.count(b"\n", 0, offset) + 1
    result.fail(
        f"line {line}",
        "file is not valid UTF-8",
        "UTF-8 text",
        f"byte 0x{data[offset]:02x} at offset {offset}",
    )


def decode_text(data: bytes, result: ReadResult[T]) -> str | None:
    if _refuse_binary(data, result):
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _not_utf8(data, exc.start, result)
        return None


def load_json(path: Path, result: ReadResult[T]) -> Any:
    """Return parsed JSON, or ``None`` after recording a fatal problem with line and column."""
    text = load_text(path, result)
    if text is None:
        return None
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        result.fail(
            f"line {exc.lineno}, column {exc.colno}",
            f"invalid JSON: {exc.msg}",
            "a complete JSON document",
        )
        return None
    except RecursionError:
        result.fail("", "JSON nested too deeply", "a JSON document of reasonable depth")
        return None
    except JsonBudgetError as exc:
        result.fail("", f"JSON refused: {exc}", "a smaller JSON document")
        return None


# Python refuses to convert integers longer than this (CVE-2020-10735); such a number in
# an export is an attack or corruption, and is reported as a JSON error with its place.
_LONG_NUMBER = re.compile(rf"-?[0-9]{{{sys.get_int_max_str_digits() + 1},}}")

# JSON is parsed in C at about 50 MB/s, so the size cap bounds the time already; these are
# the backstop against a document that is cheap to send and expensive to hold: members of
# objects (a record of five fields is six), and wall-clock time. A year of five-minute
# probes for a hundred services is about ten million records, sixty million members.
MAX_JSON_MEMBERS = 100_000_000
MAX_JSON_SECONDS = 60.0
_CLOCK_EVERY = 8192  # objects between two looks at the clock

# A JSON string, or one of the punctuation marks that give a key its object and depth.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:]')


class JsonBudgetError(ValueError):
    """A document over the member cap or the time budget."""


class _DuplicateJsonKey(ValueError):
    def __init__(self, key: str, closed_before: int) -> None:
        super().__init__(key)
        self.key = key
        self.closed_before = closed_before


class _ObjectHook:
    """Builds each JSON object, refusing a repeated key and watching the budget.

    ``json`` calls the hook as each object closes, so ``closed`` is the number of objects
    that closed before the current one: enough to find it again in the text.
    """

    def __init__(self) -> None:
        self.closed = 0
        self.members = 0
        self.deadline = time.monotonic() + MAX_JSON_SECONDS

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        built = dict(pairs)
        if len(built) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise _DuplicateJsonKey(key, self.closed)
                seen.add(key)
        self.closed += 1
        self.members += len(pairs) + 1
        if self.members > MAX_JSON_MEMBERS:
            raise JsonBudgetError(
                f"more than {MAX_JSON_MEMBERS} object members, over the limit; split the file"
            )
        if self.closed % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            raise JsonBudgetError(f"took longer than {MAX_JSON_SECONDS:g} s to parse")
        return built


def parse_json(text: str) -> Any:
    """Return the parsed document.

    Raises ``JSONDecodeError`` for malformed JSON, an over-long number and a key repeated in
    one object (the position is the repeat's), and :class:`JsonBudgetError` past the budget.
    A repeated key is refused, as YAML's are: which value a tool keeps differs from tool to
    tool, so a repeat can make a record read one way here and another way elsewhere.
    """
    try:
        return json.loads(text, object_pairs_hook=_ObjectHook())
    except (json.JSONDecodeError, JsonBudgetError):
        raise
    except _DuplicateJsonKey as dup:
        position = _repeated_key_position(text, dup.closed_before, dup.key)
        raise json.JSONDecodeError(
            f"duplicate key {json.dumps(dup.key)[:80]} in one object", text, position
        ) from None
    except ValueError:
        match = _LONG_NUMBER.search(text)
        position = match.start() if match else 0
        digits = len(match.group().lstrip("-")) if match else 0
        raise json.JSONDecodeError(f"number too long ({digits} digits)", text, position) from None


def _repeated_key_position(text: str, closed_before: int, key: str) -> int:
    """Return the offset of ``key``'s second occurrence in the object that closed after
    ``closed_before`` others (only called once the parser has found the repeat)."""
    opened: list[int] = []
    closed = 0
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark == "{":
            opened.append(token.start())
        elif mark == "}" and opened:
            start = opened.pop()
            if closed == closed_before:
                return _second_key(text, start, token.end(), key)
            closed += 1
    return 0


def _second_key(text: str, start: int, end: int, key: str) -> int:
    depth = 0
    seen = False
    previous: re.Match[str] | None = None
    for token in _JSON_TOKEN.finditer(text, start + 1, end - 1):
        mark = token.group()
        if mark in "{[":
            depth += 1
        elif mark in "}]":
            depth -= 1
        elif (
            mark == ":"
            and depth == 0
            and previous is not None
            and json.loads(previous.group()) == key
        ):
            if seen:
                return previous.start()
            seen = True
        previous = token
    return start


def check_text(data: bytes, result: ReadResult[T]) -> bool:
    """Return whether ``data`` is text (UTF-8, no NUL byte), recording a fatal problem if not.

    For readers that hand the bytes to a columnar parser: it checks in constant memory,
    without building the decoded string.
    """
    if _refuse_binary(data, result):
        return False
    decoder = codecs.getincrementaldecoder("utf-8")()
    chunk = 1 << 20
    for start in range(0, len(data), chunk):
        piece = data[start : start + chunk]
        try:
            decoder.decode(piece, final=start + chunk >= len(data))
        except UnicodeDecodeError as exc:
            # ``exc.object`` is the bytes held back from the previous piece plus this one.
            held_back = len(exc.object) - len(piece)
            _not_utf8(data, start - held_back + exc.start, result)
            return False
    return True


def json_path(*parts: str | int) -> str:
    """Return a JSONPath-like location, e.g. ``$.incidents[3].id``."""
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
