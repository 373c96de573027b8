"""YAML/JSON documents of SLO definitions, with file:line for every key, and shared parsing.

Used by :mod:`opsledger.readers.slo_definitions` and the per-format modules: one
:class:`Doc` per YAML document (files may hold several, separated by ``---``), and
functions that turn objectives, windows, durations and PromQL ratio queries into the
normalised model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opsledger.core.errors import ConfigError
from opsledger.core.yamlfile import MAX_YAML_BYTES, LineMap, parse_yaml
from opsledger.formats.fields import parse_datetime
from opsledger.formats.textfile import wide_encoding
from opsledger.model.slo import (
    CalendarUnit,
    PrometheusSource,
    PromQuery,
    PromQueryKind,
    SloWindow,
)

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
    prefix: tuple[Key, ...] = ()  # where the object sits when a document is a list of objects

    def line(self, keys: Sequence[Key] = ()) -> int:
        found = self.lines.line_of((*self.prefix, *keys)) or self.lines.line_of(self.prefix)
        return (found or 1) + self.offset

    def items(self) -> list[Doc]:
        """Return one document per object when this one is a YAML list of objects."""
        if not isinstance(self.data, list):
            return [self]
        return [
            Doc(self.path, item, self.lines, self.offset, (*self.prefix, index))
            for index, item in enumerate(self.data)
        ]

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


def label_value(value: Any) -> str:
    """Return a label value as YAML wrote it: ``true`` stays ``true``, ``0.2`` stays ``0.2``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def label_pairs(value: Any, keys: Sequence[Key]) -> tuple[tuple[str, str], ...]:
    """Return a mapping of labels (or annotations) as sorted ``(name, value)`` pairs."""
    if value is None:
        return ()
    node = mapping(value, keys, "labels")
    for name, item in node.items():
        if isinstance(item, dict | list):
            raise Invalid((*keys, str(name)), "a label value must be text", "text", item)
    return tuple(sorted((str(name), label_value(item)) for name, item in node.items()))


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
    value: Any,
    keys: Sequence[Key],
    rolling: bool,
    anchor: datetime | None = None,
    time_zone: str = "UTC",
) -> SloWindow:
    """Return the SLO window for ``28d``/``4w``/``1M``: rolling, or calendar periods.

    A calendar window of one unit without ``anchor`` aligns to the unit's natural boundary in
    ``time_zone``; with ``anchor`` (local wall time), periods start there.
    """
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
    if unit not in units:  # whole days written in hours, minutes or seconds: 24h, 48h
        unit, count = "d", span.days
    if count > 1 and anchor is None:
        raise Invalid(keys, "a calendar window of several units needs a start time", "", value)
    return SloWindow(
        days=span.days,
        rolling=False,
        calendar_unit=units[unit],
        anchor=anchor,
        count=count,
        time_zone=time_zone,
    )


def calendar_time_zone(node: Any, keys: Sequence[Key]) -> str:
    """Return the calendar's IANA ``timeZone`` (OpenSLO ``calendar``), ``UTC`` when absent."""
    if not isinstance(node, dict) or node.get("timeZone") in (None, ""):
        return "UTC"
    name = str(node["timeZone"]).strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            (*keys, "timeZone"),
            "unknown time zone",
            "an IANA time zone such as UTC or America/New_York",
            node["timeZone"],
        ) from None
    return name


def calendar_anchor(node: Any, keys: Sequence[Key], time_zone: str = "UTC") -> datetime | None:
    """Return the calendar's ``startTime`` as wall time in ``time_zone`` (naive), or None.

    OpenSLO writes the start as local time (``2022-01-01 12:00:00``); a start with an offset or
    ``Z`` names an instant, which becomes the zone's wall time at that instant.
    """
    if not isinstance(node, dict) or node.get("startTime") in (None, ""):
        return None
    text = str(node["startTime"]).strip()  # YAML may have read it as a date or date-time
    try:
        stamp = parse_datetime(text)
    except ValueError:
        raise Invalid(
            (*keys, "startTime"), "not a date-time", "e.g. 2024-01-01 00:00:00", node["startTime"]
        ) from None
    if not (text.isdigit() and len(text) >= 9):  # epoch seconds name an instant
        try:
            local = datetime.fromisoformat(text)
        except ValueError:  # a form only parse_datetime reads, such as "... UTC": an instant
            local = stamp
        if local.tzinfo is None:
            return local
    zone = UTC if time_zone == "UTC" else ZoneInfo(time_zone)
    return stamp.astimezone(zone).replace(tzinfo=None, fold=0)


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


# --- ratio queries -----------------------------------------------------------------------

WINDOW_PLACEHOLDERS = ("{{.window}}", "[window]")  # Sloth and OpenSLO; slo-generator
_OPERATOR = re.compile(r"[-+*/%^<>=!]|\b(?:and|or|unless|atan2)\b")
_MATCHING = re.compile(r"^(?:(?:ignoring|on|group_left|group_right)\b\s*(?:\([^()]*\))?\s*)+")
_ONE = re.compile(r"^1(?:\.0*)?$")


@dataclass(frozen=True)
class RatioParts:
    """The two sides of a windowed ratio query ``A / B``, or of its complement ``1 - (A / B)``."""

    numerator: str
    denominator: str
    complement: bool = False  # the query is 1 - (numerator / denominator)


def window_query(expr: str) -> PromQuery:
    """Return a PromQL query as the engines count it.

    With a window placeholder (``{{.window}}``, or slo-generator's ``[window]``) it is a
    template: with ``rate`` it gives events per second, which the engines scale to events;
    otherwise events over the window. Without one it is a counter, whose increase is taken.
    """
    query = expr.strip().replace("[window]", "[{{.window}}]")
    if "{{.window}}" not in query:
        return PromQuery(query, PromQueryKind.COUNTER)
    per_second = re.search(r"\b(i?rate)\s*\(", query) and "increase" not in query
    kind = PromQueryKind.RATE_TEMPLATE if per_second else PromQueryKind.COUNT_TEMPLATE
    return PromQuery(query, kind)


def split_ratio(expr: str) -> RatioParts | str:
    """Return the sides of a windowed ratio ``A / B`` or ``1 - (A / B)``, else why it is not one.

    Parentheses around the whole are looked through. Both sides must range over the window
    (hold a placeholder of :data:`WINDOW_PLACEHOLDERS`), so each side counts the events of
    any window. Matching modifiers after the ``/`` (``ignoring (le)``, ``on (...)``,
    ``group_left``) are dropped: each side is summed on its own, so the ratio is one of sums.
    """
    body = _unwrapped(expr)
    operators = _top_level_operators(body)
    complement = False
    if operators and operators[0][1] == "-" and _ONE.match(body[: operators[0][0]].strip()):
        # `1 - A / B` is `1 - (A / B)`: division binds tighter.
        complement = True
        body = _unwrapped(body[operators[0][0] + 1 :])
        operators = _top_level_operators(body)
    cut = operators[0][0] if [op for _, op in operators] == ["/"] else -1
    numerator = body[:cut].strip() if cut >= 0 else ""
    denominator = _MATCHING.sub("", body[cut + 1 :].strip()) if cut >= 0 else ""
    if not numerator or not denominator:
        return "it is not a ratio 'A / B' (or '1 - (A / B)') of two queries"
    if not all(any(p in side for p in WINDOW_PLACEHOLDERS) for side in (numerator, denominator)):
        return "its numerator and denominator do not both range over {{.window}} (or [window])"
    return RatioParts(numerator, denominator, complement)


def ratio_indicator(
    expr: str,
    written: PromQuery,
    errors: bool,
    keys: Sequence[Key],
    warn: Callable[[Invalid], None],
    url: str | None = None,
) -> PrometheusSource:
    """Return the SLI of the ratio query ``expr``: its two sides as event counts when it is a
    windowed ratio (:func:`split_ratio`), else the query itself, with a warning at ``keys``.

    ``expr`` is a good ratio, or with ``errors`` an error ratio (Sloth ``error_ratio_query``,
    OpenSLO ``rawType: failure``). Counted side by side per minute, the SLI over any window is
    the ratio of the sums, as the query gives it over a whole window; a ratio sampled once a
    minute is averaged instead, which weighs a quiet minute as much as a busy one.
    ``written``, the good ratio as the definition words it, is kept as ``ratio`` either way:
    the Prometheus rules write it as it stands.
    """
    parts = split_ratio(expr)
    if isinstance(parts, str):
        warn(
            Invalid(
                keys,
                f"{parts}: its value is sampled once a minute and the minutes are averaged, "
                "so the SLI is not the ratio of good to total events over the window",
            )
        )
        return PrometheusSource(ratio=written, url=url)
    numerator, denominator = window_query(parts.numerator), window_query(parts.denominator)
    # An error ratio's numerator counts bad events; so does a good ratio's complement.
    counts_bad = errors != parts.complement
    return PrometheusSource(
        good=None if counts_bad else numerator,
        bad=numerator if counts_bad else None,
        total=denominator,
        ratio=written,
        url=url,
    )


def _unwrapped(expr: str) -> str:
    """Return ``expr`` without surrounding whitespace and parentheses around all of it."""
    text = expr.strip()
    while text.startswith("(") and text.endswith(")") and not _top_level(text).strip():
        text = text[1:-1].strip()
    return text


def _top_level_operators(expr: str) -> list[tuple[int, str]]:
    """Return the position and text of every binary operator outside brackets and quotes."""
    return [(m.start(), m.group()) for m in _OPERATOR.finditer(_top_level(expr))]


def _top_level(expr: str) -> str:
    """Return ``expr`` with what is inside (and the) brackets, braces, parentheses or quotes
    blanked, positions kept."""
    chars, depth, quote = [], 0, ""
    for index, char in enumerate(expr):
        if quote:
            if char == quote and expr[index - 1] != "\\":
                quote = ""
            chars.append(" ")
        elif char in "\"'`":
            quote = char
            chars.append(" ")
        elif char in "([{":
            depth += 1
            chars.append(" ")
        elif char in ")]}":
            depth -= 1
            chars.append(" ")
        else:
            chars.append(char if depth == 0 else " ")
    return "".join(chars)
