"""YAML/JSON documents of SLO definitions, with file:line for every key, and shared parsing.

Used by :mod:`opsledger.readers.slo_definitions` and the per-format modules: one
:class:`Doc` per YAML document (files may hold several, separated by ``---``), and
functions that turn objectives, windows and durations into the normalised model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsledger.errors import ConfigError
from opsledger.model.slo import CalendarUnit, SloWindow
from opsledger.readers.fields import parse_datetime
from opsledger.readers.textfile import wide_encoding
from opsledger.yamlfile import MAX_YAML_BYTES, LineMap, parse_yaml

Key = str | int
_SEPARATOR = re.compile(r"^---\s*(#.*)?$")
_SHORTHAND = re.compile(r"^\s*(\d+)\s*([smhdwMQY])\s*$")


class Invalid(Exception):
    """One SLO definition cannot be used: where (key path) and why."""

    def __init__(
        self, keys: Sequence[Key], message: str, expected: str = "", found: object = None
    ) -> None:
        super().__init__(message)
        self.keys = tuple(keys)
        self.message = message
        self.expected = expected
        self.found = "" if found is None else _shown(found)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class Doc:
    """One YAML document of a file, its line map, and the first line it starts at."""

    path: Path
    data: Any
    lines: LineMap
    offset: int  # lines before this document in the file

    def line(self, keys: Sequence[Key] = ()) -> int:
        found = self.lines.line_of(tuple(keys))
        return (found or 1) + self.offset

    def location(self, keys: Sequence[Key] = ()) -> str:
        return f"line {self.line(keys)}"


def documents(path: Path) -> list[Doc]:
    """Return the documents of a YAML (or JSON) file; raise :class:`ConfigError` if unreadable."""
    try:
        # Sized before it is read, so a huge file is refused without loading it.
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"file is too large ({size} bytes, at most {MAX_YAML_BYTES})")
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}") from None
    encoding = wide_encoding(data)
    if encoding:
        raise ConfigError(f"line 1: file is {encoding} text; save it as UTF-8")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("not valid UTF-8 text") from None
    chunks: list[tuple[int, list[str]]] = [(0, [])]
    for number, line in enumerate(text.splitlines()):
        if _SEPARATOR.match(line):
            chunks.append((number + 1, []))
        else:
            chunks[-1][1].append(line)
    docs = []
    for offset, body in chunks:
        if not any(line.strip() and not line.lstrip().startswith("#") for line in body):
            continue
        try:
            data, lines = parse_yaml("\n".join(body), str(path))
        except ConfigError as exc:
            raise ConfigError(_shift_line(str(exc), str(path), offset)) from None
        docs.append(Doc(path, data, lines, offset))
    return docs


def _shift_line(message: str, name: str, offset: int) -> str:
    """Return a YAML error message with its line counted from the start of the file."""
    message = message.removeprefix(f"{name}: ")
    match = re.match(r"line (\d+)(.*)$", message, re.DOTALL)
    if match:
        return f"line {int(match.group(1)) + offset}{match.group(2)}"
    return message


# --- values ------------------------------------------------------------------------------


def mapping(value: Any, keys: Sequence[Key], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(keys, f"{what} must be a mapping", "a mapping", type(value).__name__)
    return value


def text(node: dict[str, Any], key: str, keys: Sequence[Key], required: bool = True) -> str:
    value = node.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid((*keys, key), f"'{key}' is missing", "a non-empty value")
        return ""
    if isinstance(value, dict | list):
        raise Invalid((*keys, key), f"'{key}' must be text", "text", type(value).__name__)
    return str(value).strip()


def objective(value: Any, keys: Sequence[Key], percent: bool | None) -> float:
    """Return an objective as a fraction in (0, 1).

    ``percent`` True: the format always writes percentages (Sloth's ``99.9``); False: always
    fractions (OpenSLO ``target``); None: values above 1 are taken as percentages.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Invalid(keys, "objective must be a number", "a number such as 0.999 or 99.9", value)
    try:
        number = float(value)
    except ValueError:
        raise Invalid(keys, "objective must be a number", "a number", value) from None
    if percent or (percent is None and number > 1):
        # 99.9 / 100 is 0.9990000000000001 in binary; keep the objective the user wrote.
        number = round(number / 100, 12)
    elif percent is False and number > 1:
        raise Invalid(keys, "target is a fraction here", "a value between 0 and 1", value)
    if not 0 < number < 1:
        raise Invalid(
            keys,
            "objective leaves no error budget or is out of range",
            "above 0 and below 1 (below 100%)",
            value,
        )
    return number


def duration(value: Any, keys: Sequence[Key]) -> timedelta:
    """Return a duration from shorthand (``5m``, ``28d``, ``4w``) or seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=float(value))
    match = _SHORTHAND.match(str(value)) if isinstance(value, str) else None
    if not match:
        raise Invalid(keys, "not a duration", "a duration such as 1m, 5m, 28d", value)
    count, unit = int(match.group(1)), match.group(2)
    if count <= 0:
        raise Invalid(keys, "duration must be positive", "a positive duration", value)
    days = {"d": 1, "w": 7, "M": 30, "Q": 91, "Y": 365}
    if unit in days:
        return timedelta(days=count * days[unit])
    return timedelta(seconds=count * {"s": 1, "m": 60, "h": 3600}[unit])


def window_from_shorthand(
    value: Any, keys: Sequence[Key], rolling: bool, anchor: datetime | None = None
) -> SloWindow:
    """Return the SLO window for ``28d``/``4w``/``1M``: rolling, or aligned to a calendar unit."""
    match = _SHORTHAND.match(str(value)) if isinstance(value, str | int) else None
    if not match:
        raise Invalid(keys, "not a window", "a duration such as 28d, 30d, 4w or 1M", value)
    count, unit = int(match.group(1)), match.group(2)
    span = duration(value, keys)
    if span < timedelta(days=1) or span.total_seconds() % 86400:
        raise Invalid(keys, "an SLO window must be whole days", "1d or longer", value)
    if rolling:
        return SloWindow(days=span.days, rolling=True)
    units = {"d": CalendarUnit.DAY, "w": CalendarUnit.WEEK, "M": CalendarUnit.MONTH}
    units |= {"Q": CalendarUnit.QUARTER, "Y": CalendarUnit.YEAR}
    if count == 1 and anchor is None:
        return SloWindow(days=span.days, rolling=False, calendar_unit=units[unit])
    if anchor is None:
        raise Invalid(keys, "a calendar window of several units needs a start time", "", value)
    return SloWindow(days=span.days, rolling=False, anchor=anchor)


def calendar_anchor(node: Any, keys: Sequence[Key]) -> datetime | None:
    """Return the calendar's ``startTime`` (OpenSLO ``calendar``), or None."""
    if not isinstance(node, dict) or node.get("startTime") in (None, ""):
        return None
    try:
        return parse_datetime(str(node["startTime"]))
    except ValueError:
        raise Invalid(
            (*keys, "startTime"), "not a date-time", "e.g. 2024-01-01 00:00:00", node["startTime"]
        ) from None


def window_text(value: Any, keys: Sequence[Key]) -> SloWindow:
    """Return a window from native text: ``30d``, ``28d``, ``4w``, ``calendar month``..."""
    if isinstance(value, int) and not isinstance(value, bool):
        return SloWindow(days=value)
    raw = str(value).strip()
    lowered = raw.lower()
    if lowered.startswith("calendar"):
        unit = lowered.removeprefix("calendar").strip(" -_")
        try:
            calendar_unit = CalendarUnit(unit)
        except ValueError:
            raise Invalid(
                keys, "unknown calendar window", "calendar day/week/month/quarter/year", value
            ) from None
        days = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}[unit]
        return SloWindow(days=days, rolling=False, calendar_unit=calendar_unit)
    return window_from_shorthand(raw, keys, rolling=True)
