"""Typed access to one record's fields, collecting a problem per bad field.

Every tabular reader (CSV, Markdown table, spreadsheet, JSON list) hands a record's raw
values to :class:`Fields`; the reader asks for each field with the type it expects and
gets ``None`` plus a recorded problem when the value does not fit. After the last field,
``fields.problems`` says whether the record stands or is quarantined.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, TypeVar

from opsledger.problems import Level, Problem, shown

E = TypeVar("E", bound=Enum)

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "ok", "pass", "passed", "up", "success"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "fail", "failed", "down", "error"})
# "1,234.5" is a thousands separator; "1,5" is not (it may be a decimal comma): refused.
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_datetime(value: str) -> datetime:
    """Return an aware datetime from ISO 8601 text (naive times are taken as UTC)."""
    text = value.strip()
    if not text:
        raise ValueError("empty")
    if text.isdigit() and len(text) >= 9:  # epoch seconds or milliseconds
        number = int(text)
        return datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=UTC)
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.11's fromisoformat handles offsets and fractions; " UTC" suffixes are common.
    if text.upper().endswith("TUTC") or text.upper().endswith("UTC"):
        text = text[:-3].rstrip().rstrip("T") + "+00:00"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_date(value: str) -> date:
    text = value.strip()
    if len(text) > 10:
        return parse_datetime(text).date()
    return date.fromisoformat(text)


def parse_duration_seconds(value: str) -> float:
    """Return seconds from ``90``, ``90s``, ``5m``, ``1.5h``, ``2d`` or ``HH:MM:SS``."""
    text = value.strip()
    if text.count(":") == 2:
        hours, minutes, seconds = (float(p) for p in text.split(":"))
        return hours * 3600 + minutes * 60 + seconds
    match = _DURATION.match(text)
    if not match:
        raise ValueError(text)
    return float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]


class Fields:
    """One record's raw values with a way to say where each one came from."""

    def __init__(
        self,
        path: str,
        values: Mapping[str, Any],
        locate: Callable[[str], str],
    ) -> None:
        self.path = path
        self.values = values
        self.locate = locate
        self.problems: list[Problem] = []

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, name: str, message: str, expected: str = "", found: object = None) -> None:
        self.problems.append(
            Problem(
                self.path,
                self.locate(name),
                message,
                expected,
                "" if found is None else shown(found),
                Level.ROW,
            )
        )

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        if isinstance(value, float) and math.isnan(value):
            return None
        return value

    def _present(self, name: str, required: bool, expected: str) -> Any:
        value = self.raw(name)
        if value is None and required:
            self.bad(name, f"missing value for '{name}'", expected, "an empty cell")
        return value

    def text(self, name: str, required: bool = True, default: str | None = None) -> str | None:
        value = self._present(name, required, "text")
        return default if value is None else str(value)

    def integer(self, name: str, required: bool = True) -> int | None:
        value = self._present(name, required, "a whole number")
        if value is None:
            return None
        if isinstance(value, bool):
            self.bad(name, f"'{name}' is not a whole number", "a whole number", value)
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.bad(name, f"'{name}' is not a whole number", "a whole number", value)
            return None
        if not number.is_integer():
            self.bad(name, f"'{name}' is not a whole number", "a whole number", value)
            return None
        return int(number)

    def number(
        self,
        name: str,
        required: bool = True,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float | None:
        value = self._present(name, required, "a number")
        if value is None:
            return None
        if isinstance(value, bool):
            self.bad(name, f"'{name}' is not a number", "a number", value)
            return None
        try:
            if isinstance(value, str):
                text = value.replace(",", "") if _THOUSANDS.match(value) else value
                number = float(text)
            else:
                number = float(value)
        except (TypeError, ValueError):
            self.bad(name, f"'{name}' is not a number", "a number", value)
            return None
        if not math.isfinite(number):
            self.bad(name, f"'{name}' is not a finite number", "a finite number", value)
            return None
        if minimum is not None and number < minimum:
            self.bad(name, f"'{name}' is below {minimum:g}", f"at least {minimum:g}", value)
            return None
        if maximum is not None and number > maximum:
            self.bad(name, f"'{name}' is above {maximum:g}", f"at most {maximum:g}", value)
            return None
        return number

    def boolean(self, name: str, required: bool = True) -> bool | None:
        value = self._present(name, required, "true or false")
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        self.bad(name, f"'{name}' is not true or false", "true/false, yes/no or 1/0", value)
        return None

    def timestamp(self, name: str, required: bool = True) -> datetime | None:
        value = self._present(name, required, "an ISO 8601 date-time")
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            return parse_datetime(str(value))
        except (ValueError, OverflowError, OSError):
            self.bad(name, f"'{name}' is not a date-time", "an ISO 8601 date-time", value)
            return None

    def day(self, name: str, required: bool = True) -> date | None:
        value = self._present(name, required, "a date (YYYY-MM-DD)")
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return parse_date(str(value))
        except (ValueError, OverflowError, OSError):
            self.bad(name, f"'{name}' is not a date", "a date (YYYY-MM-DD)", value)
            return None

    def duration(self, name: str, required: bool = True) -> float | None:
        """Return seconds."""
        value = self._present(name, required, "a duration (e.g. 90s, 5m, 1h)")
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return parse_duration_seconds(str(value))
        except ValueError:
            self.bad(name, f"'{name}' is not a duration", "a duration such as 90s, 5m, 1h", value)
            return None

    def choice(
        self, name: str, enum: type[E], required: bool = True, default: E | None = None
    ) -> E | None:
        value = self._present(name, required, "one of " + ", ".join(m.value for m in enum))
        if value is None:
            return default
        parsed = parse_enum(enum, str(value))
        if parsed is None:
            self.bad(
                name,
                f"'{name}' is not a known value",
                "one of " + ", ".join(str(m.value) for m in enum),
                value,
            )
        return parsed

    def listing(self, name: str, required: bool = False, sep: str = ",") -> list[str]:
        value = self._present(name, required, "a list")
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [part.strip() for part in str(value).replace(";", sep).split(sep) if part.strip()]


def parse_enum(enum: type[E], text: str) -> E | None:
    """Return the member of ``enum`` whose value or name matches ``text`` (any case)."""
    key = text.strip().lower()
    for member in enum:
        if str(member.value).lower() == key or member.name.lower() == key:
            return member
    aliases: Mapping[str, str] = getattr(enum, "_aliases_", {})
    alias = aliases.get(key) if isinstance(aliases, Mapping) else None
    return enum(alias) if alias is not None else None
