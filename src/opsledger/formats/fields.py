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
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from opsledger.core.problems import Level, Problem, shown

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

E = TypeVar("E", bound=Enum)

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "ok", "pass", "passed", "up", "success"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "fail", "failed", "down", "error"})
# "1,234.5" is a thousands separator; "1,5" is not (it may be a decimal comma): refused.
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}

# The dates every reader accepts. Operational records older than the Unix epoch or later
# than 2200 are typos or crafted; bounding them here keeps every analysis inside what
# Python's datetime (year 9999, and converting a local time to UTC can step past it) and
# pandas' nanosecond timestamps (1677-2262) can represent, even after adding an SLA or a
# forecast horizon to them.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
DATE_RANGE = f"{EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d}"
DATE_TIME_EXPECTED = "an ISO 8601 date-time"
DATE_EXPECTED = "a date (YYYY-MM-DD)"


class DateOutOfRange(ValueError):
    """A well-formed date or date-time outside ``EARLIEST`` .. ``LATEST``."""


def within_range(moment: datetime) -> datetime:
    """Return ``moment`` (aware) if it lies in the supported range, else raise."""
    if not EARLIEST <= moment <= LATEST:
        raise DateOutOfRange(f"{moment.isoformat()} is outside {DATE_RANGE}")
    return moment


def day_within_range(day: date) -> date:
    """Return ``day`` if it lies in the supported range, else raise."""
    if not EARLIEST.date() <= day <= LATEST.date():
        raise DateOutOfRange(f"{day.isoformat()} is outside {DATE_RANGE}")
    return day


def time_problem(subject: str, error: Exception, kind: str = "date-time") -> tuple[str, str]:
    """Return the message and expectation for a value that failed to parse as a time."""
    if isinstance(error, DateOutOfRange):
        return f"{subject} is outside the supported dates", f"a {kind} from {DATE_RANGE}"
    expected = DATE_TIME_EXPECTED if kind == "date-time" else DATE_EXPECTED
    return f"{subject} is not a {kind}", expected


def parse_datetime(value: str) -> datetime:
    """Return an aware datetime from ISO 8601 text (naive times are taken as UTC).

    Raises ``ValueError`` (``DateOutOfRange`` for a valid time outside the supported range).
    """
    text = value.strip()
    if not text:
        raise ValueError("empty")
    if text.isdigit() and len(text) >= 9:  # epoch seconds or milliseconds
        number = int(text)
        stamp = datetime.fromtimestamp(number / 1000 if number > 10**11 else number, tz=UTC)
        return within_range(stamp)
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.11's fromisoformat handles offsets and fractions; " UTC" suffixes are common.
    if text.upper().endswith("TUTC") or text.upper().endswith("UTC"):
        text = text[:-3].rstrip().rstrip("T") + "+00:00"
    parsed = datetime.fromisoformat(text)
    return within_range(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


# A time of day followed by a zone: Z, or an offset in hours and maybe minutes.
_ZONED = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?\s*(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$"


def stamp_column(values: pd.Series) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Return a column as UTC timestamps, with masks of unreadable and out-of-range cells.

    Both kinds of bad cell are ``NaT`` in the returned column, so later arithmetic (flooring
    to days, converting to nanoseconds) cannot overflow on them. Empty cells are unreadable.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dt.tz_localize("UTC") if values.dt.tz is None else values
    else:
        # Samples repeat the same instants across services: each distinct cell is read once.
        codes, cells = pd.factorize(values.astype(object).where(values.notna(), ""))
        text = pd.Series(cells, dtype=object).astype(str).str.strip()
        # pandas (2.3) reads a time without a zone that follows one with an offset in that
        # offset: times with a zone and times without are read apart.
        zoned = np.asarray(pc.match_substring_regex(pa.array(text.to_numpy(), type=pa.string()),
                                                    _ZONED), dtype=bool)
        parts = [part for part in (zoned, ~zoned) if part.any()]
        if len(parts) < 2:
            distinct = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
        else:
            distinct = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
            for part in parts:
                distinct[part] = pd.to_datetime(text[part], utc=True, errors="coerce",
                                                format="ISO8601")
        stamps = pd.Series(distinct.array.take(codes), index=values.index)
    missing = stamps.isna().to_numpy()
    outside = ~missing & ((stamps < pd.Timestamp(EARLIEST)) | (stamps > pd.Timestamp(LATEST)))
    outside = np.asarray(outside, dtype=bool)
    if missing.any() and not pd.api.types.is_datetime64_any_dtype(values):
        # pandas turns times past 2262 into NaT like any unreadable text; tell them apart so
        # the message says "outside the supported dates" rather than "not a date-time".
        unread = distinct.isna().to_numpy()
        far = np.zeros(len(text), dtype=bool)
        far[unread] = [outside_the_dates(str(cell)) for cell in text[unread]]
        outside[missing] = far[codes[missing]]
    unreadable = missing & ~outside
    return stamps.where(~outside), unreadable, outside


def outside_the_dates(text: str) -> bool:
    """Return whether ``text`` is a valid time outside the supported dates."""
    try:
        parse_datetime(text)
    except DateOutOfRange:
        return True
    except (ValueError, OverflowError, OSError):
        return False
    return False


def parse_date(value: str) -> date:
    """Return a calendar day from ISO 8601 text; raises like ``parse_datetime``."""
    text = value.strip()
    if len(text) > 10:
        return parse_datetime(text).date()
    return day_within_range(date.fromisoformat(text))


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
                "" if found is None else shown(_as_text(found)),
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
        """Return an aware date-time; a date (from YAML or a spreadsheet) is its midnight UTC."""
        value = self._present(name, required, DATE_TIME_EXPECTED)
        if value is None:
            return None
        try:
            if isinstance(value, datetime):
                return within_range(value if value.tzinfo else value.replace(tzinfo=UTC))
            if isinstance(value, date):
                return within_range(datetime(value.year, value.month, value.day, tzinfo=UTC))
            return parse_datetime(str(value))
        except (ValueError, OverflowError, OSError) as exc:
            message, expected = time_problem(f"'{name}'", exc)
            self.bad(name, message, expected, value)
            return None

    def day(self, name: str, required: bool = True) -> date | None:
        value = self._present(name, required, DATE_EXPECTED)
        if value is None:
            return None
        try:
            if isinstance(value, datetime):
                return within_range(value if value.tzinfo else value.replace(tzinfo=UTC)).date()
            if isinstance(value, date):
                return day_within_range(value)
            return parse_date(str(value))
        except (ValueError, OverflowError, OSError) as exc:
            message, expected = time_problem(f"'{name}'", exc, "date")
            self.bad(name, message, expected, value)
            return None

    def later(self, name: str, start: datetime, seconds: float) -> datetime | None:
        """Return ``start`` plus the duration in field ``name``, if that stays in range.

        Exports give some times as an offset from creation (PagerDuty's seconds to resolve,
        Opsgenie's closeTime); a huge offset must not overflow or leave the supported dates.
        """
        span = (LATEST - EARLIEST).total_seconds()
        moment = start + timedelta(seconds=seconds) if seconds <= span else None
        if moment is None or moment > LATEST:
            self.bad(
                name,
                f"'{name}' ends past the supported dates",
                f"a duration that ends by {LATEST:%Y-%m-%d}",
                self.raw(name),
            )
            return None
        return moment

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


def _as_text(value: object) -> object:
    """Return a date or time from YAML or a spreadsheet as the ISO text a person wrote."""
    return value.isoformat() if isinstance(value, date) else value


def parse_enum(enum: type[E], text: str) -> E | None:
    """Return the member of ``enum`` whose value or name matches ``text`` (any case)."""
    key = text.strip().lower()
    for member in enum:
        if str(member.value).lower() == key or member.name.lower() == key:
            return member
    aliases: Mapping[str, str] = getattr(enum, "_aliases_", {})
    alias = aliases.get(key) if isinstance(aliases, Mapping) else None
    return enum(alias) if alias is not None else None
