"""Loading input files as text or JSON, with every failure turned into a problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from opsledger.problems import ReadResult

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


def decode_text(data: bytes, result: ReadResult[T]) -> str | None:
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        result.fail(f"line {line}", "file holds a NUL byte", "text", "binary data")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        result.fail(
            f"line {line}",
            "file is not valid UTF-8",
            "UTF-8 text",
            f"byte 0x{data[exc.start]:02x} at offset {exc.start}",
        )
        return None
    return text


def load_json(path: Path, result: ReadResult[T]) -> Any:
    """Return parsed JSON, or ``None`` after recording a fatal problem with line and column."""
    text = load_text(path, result)
    if text is None:
        return None
    try:
        return json.loads(text)
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


def json_path(*parts: str | int) -> str:
    """Return a JSONPath-like location, e.g. ``$.incidents[3].id``."""
    text = "$"
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text
