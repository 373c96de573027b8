"""Health and smoke-check history: one probe result per row, from ``reports/health/``.

Accepted files (any mix, read in name order, sub-folders included):

- ``*.csv``: a header with ``time, service, check, ok, latency_ms`` (aliases below);
- ``*.jsonl`` / ``*.ndjson``: one JSON object per line with the same fields;
- ``*.json``: a list of such objects, or ``{"results": [...]}``.

A probe history is the largest input a workspace holds (90 days of 5-minute probes for
40 services is over half a million rows), so it is returned by column: a
:class:`HealthReadResult`'s ``history`` (:class:`~opsledger.model.health.ProbeHistory`), not
one record per probe. A CSV or JSON Lines file is first read column by column
(:mod:`opsledger.readers.health_columns`); a file with any row that needs a word is read
here row by row. Rows then go through a lean path: each cell is converted directly, with
small caches for the values that repeat (timestamps shared by all services, service and
check names, ok words). Only a row that fails the lean path is handed to :class:`Fields`,
which then produces the same located message every reader gives.
"""

from __future__ import annotations

import copy
import csv
import gc
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from opsledger.core.problems import ReadResult
from opsledger.core.scope import LeftOut, Scope
from opsledger.formats.csvrows import open_csv, require_columns
from opsledger.formats.fields import Fields, parse_datetime
from opsledger.formats.textfile import (
    MAX_LINE_CHARS,
    JsonBudgetError,
    json_path,
    load_text,
    parse_json,
)
from opsledger.model.health import ProbeHistory, ProbeResult
from opsledger.readers.health_fields import (
    DEFAULT_CHECK,
    OK_WORDS,
    REQUIRED,
    canonical,
    header_keys,
)

if TYPE_CHECKING:
    from opsledger.readers.health_columns import Instant

csv.field_size_limit(MAX_LINE_CHARS)

# Cached timestamps: a probe history repeats the same instants across services.
_TIME_CACHE_LIMIT = 200_000

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
# Kinds read column by column first (see ``health_columns``); a file with any doubtful row,
# and every ``.json`` document, is read row by row.
COLUMNAR = ("csv", "jsonl")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many records.

    Hundreds of thousands of new records make the collector rescan them all repeatedly
    though none of them can form a cycle; pausing it cuts the read time by about a fifth.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass
class HealthReadResult(ReadResult[ProbeResult]):
    """The probes read, held by column in ``history``; ``records`` stays empty. A scoped run
    keeps the probes of its services through :meth:`in_scope`."""

    history: ProbeHistory = field(default_factory=ProbeHistory.empty)

    @property
    def record_count(self) -> int:
        """Return how many probes were read."""
        return len(self.history)

    def in_scope(self, scope: Scope) -> tuple[HealthReadResult, LeftOut]:
        """Return the result with only the probes of services in ``scope``, and how many
        were another's or could not be placed, as :func:`~opsledger.core.scope.split`
        counts them: a probe is placed by its service."""
        history = self.history
        verdicts = [scope.covers(name) for name in history.services]
        probes = np.bincount(history.service, minlength=len(verdicts))
        other = sum(int(n) for n, v in zip(probes, verdicts, strict=True) if v is False)
        unplaced = sum(int(n) for n, v in zip(probes, verdicts, strict=True) if v is None)
        kept = np.array([v is True for v in verdicts], dtype=np.bool_)
        scoped = copy.copy(self)
        scoped.history = history[kept[history.service]] if len(history) else history
        return scoped, LeftOut(other, unplaced)


def probe_history(result: ReadResult[Any]) -> ProbeHistory:
    """Return the probes of a health input's result: a :class:`HealthReadResult`'s history,
    or the probe records of any other result (an absent input's empty one)."""
    if isinstance(result, HealthReadResult):
        return result.history
    return ProbeHistory.from_records([r for r in result.records if isinstance(r, ProbeResult)])


def read(path: Path) -> HealthReadResult:
    """Return every probe result in the folder (or the one file) at ``path``."""
    with _collector_paused():
        return _read(path)


def _read(path: Path) -> HealthReadResult:
    result = HealthReadResult(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    else:
        result.fail("", "no such file or folder", "a folder of probe results")
        return result
    seen: set[str] = set()
    instants: dict[str, Instant] = {}  # the files of a history share their probe times
    parts: list[ProbeHistory] = []
    for file in files:
        kind = FORMATS.get(file.suffix.lower())
        if kind is None:
            result.warn("", f"ignored {file.name}: not a .csv, .jsonl, .ndjson or .json file")
            continue
        part = read_file(file, kind, instants)
        parts.append(part.history)
        result.problems.extend(part.problems)
        seen.add(kind)
    result.history = ProbeHistory.concat(parts)
    result.detected_format = "+".join(sorted(seen))
    return result


def read_file(
    path: Path, kind: str, instants: dict[str, Instant] | None = None
) -> HealthReadResult:
    """Return the probe results of one file of the given kind (csv, jsonl, json).

    ``instants`` (time text to instant) is shared by the files of one history.
    """
    if kind in COLUMNAR:
        from opsledger.readers.health_columns import read_columns

        history = read_columns(path, kind, instants)
        if history is not None:
            return HealthReadResult(path, detected_format=kind, history=history)
    rows = read_rows(path, kind)
    return HealthReadResult(path, problems=rows.problems, detected_format=rows.detected_format,
                            history=ProbeHistory.from_records(rows.records))


def read_rows(path: Path, kind: str) -> ReadResult[ProbeResult]:
    """Return the probe results of one file read row by row, each bad row named."""
    result: ReadResult[ProbeResult] = ReadResult(path, detected_format=kind)
    text = load_text(path, result)
    if text is None:
        return result
    if kind == "csv":
        _read_csv(text, result)
    elif kind == "jsonl":
        _read_jsonl(text, result)
    else:
        _read_json(text, result)
    return result


def _read_csv(text: str, result: ReadResult[ProbeResult]) -> None:
    opened = open_csv(text, result)
    if opened is None:
        return
    reader, header = opened
    keys = header_keys(header)
    expected = "columns " + ", ".join(REQUIRED) + " (check and latency_ms optional)"
    if not require_columns(result, "line 1", keys, REQUIRED, header, expected):
        return
    width = len(keys)
    i_time, i_service, i_ok = keys.index("time"), keys.index("service"), keys.index("ok")
    i_check = keys.index("check") if "check" in keys else None
    i_latency = keys.index("latency_ms") if "latency_ms" in keys else None
    times: dict[str, datetime] = {}
    names: dict[str, str] = {}
    records = result.records
    where = str(result.path)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            result.quarantine(f"line {reader.line_num}", f"unreadable CSV row: {exc}")
            continue
        if len(row) != width:
            if not row or not any(cell.strip() for cell in row):
                continue
            result.quarantine(
                f"line {reader.line_num}",
                "wrong number of cells",
                f"{width} cells",
                f"{len(row)} cells",
            )
            continue
        probe = _lean_probe(row, i_time, i_service, i_ok, i_check, i_latency, times, names)
        if probe is not None:
            records.append(probe)
            continue
        if not any(cell.strip() for cell in row):
            continue
        fields = Fields(where, dict(zip(keys, row, strict=True)), _at_line(reader.line_num))
        probe = probe_from_fields(fields)
        if probe is None:
            result.extend(fields.problems)
        else:
            records.append(probe)


def _lean_probe(
    row: list[str],
    i_time: int,
    i_service: int,
    i_ok: int,
    i_check: int | None,
    i_latency: int | None,
    times: dict[str, datetime],
    names: dict[str, str],
) -> ProbeResult | None:
    """Return the row's probe when every cell is plainly valid, else ``None``."""
    stamp = row[i_time]
    when = times.get(stamp)
    if when is None:
        try:
            when = parse_datetime(stamp)
        except (ValueError, OverflowError, OSError):
            return None
        if len(times) >= _TIME_CACHE_LIMIT:
            times.clear()
        times[stamp] = when
    cell = row[i_ok]
    ok = OK_WORDS.get(cell)
    if ok is None:
        ok = OK_WORDS.get(cell.strip().lower())
        if ok is None:
            return None
    service = row[i_service].strip()
    if not service:
        return None
    service = names.setdefault(service, service)
    if i_check is None:
        check = DEFAULT_CHECK
    else:
        check = row[i_check].strip() or DEFAULT_CHECK
        check = names.setdefault(check, check)
    latency: float | None = None
    if i_latency is not None:
        cell = row[i_latency]
        if cell and not cell.isspace():  # an empty cell is a probe without a latency
            try:
                latency = float(cell)
            except ValueError:
                return None
            # Negative, NaN and infinite latencies go to the full path for a message.
            if not 0.0 <= latency < float("inf"):
                return None
    return ProbeResult(when, service, check, ok, latency)


def probe_from_fields(fields: Fields) -> ProbeResult | None:
    """Return the probe in ``fields`` (canonical keys), or ``None`` with problems recorded."""
    when = fields.timestamp("time")
    service = fields.text("service")
    check = fields.text("check", required=False, default=DEFAULT_CHECK)
    ok = fields.boolean("ok")
    latency = fields.number("latency_ms", required=False, minimum=0)
    if not fields.ok or when is None or service is None or ok is None:
        return None
    return ProbeResult(when, service, check or DEFAULT_CHECK, ok, latency)


def _at_line(line: int) -> Callable[[str], str]:
    return lambda column: f"line {line}, column '{column}'"


def _at_field(line: int) -> Callable[[str], str]:
    return lambda field: f"line {line}, field '{field}'"


def _at_path(prefix: tuple[str, ...], index: int) -> Callable[[str], str]:
    return lambda field: json_path(*prefix, index, field)


def _canonical_object(item: Mapping[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in item.items():
        name = keys.get(key)
        if name is None:
            name = keys[key] = canonical(str(key))
        # An explicit field wins over an alias of it (``ok`` over ``status``).
        if name in values and key != name:
            continue
        values[name] = value
    ok = values.get("ok")
    # ``"status": 200``-style HTTP codes mean ok for 2xx/3xx and failure otherwise.
    if isinstance(ok, int) and not isinstance(ok, bool) and 100 <= ok <= 599:
        values["ok"] = ok < 400
    return values


class _JsonProbes:
    """Turns JSON objects into probes: a lean path for plain objects, Fields for the rest."""

    def __init__(self, result: ReadResult[ProbeResult]) -> None:
        self.result = result
        self.where = str(result.path)
        self.keys: dict[str, str] = {}
        self.times: dict[str, datetime] = {}
        self.names: dict[str, str] = {}

    def add(self, item: Mapping[str, Any], locate: Callable[[str], str]) -> None:
        values = _canonical_object(item, self.keys)
        probe = self._lean(values)
        if probe is None:
            fields = Fields(self.where, values, locate)
            probe = probe_from_fields(fields)
            if probe is None:
                self.result.extend(fields.problems)
                return
        self.result.records.append(probe)

    def _lean(self, values: dict[str, Any]) -> ProbeResult | None:
        stamp, service, ok = values.get("time"), values.get("service"), values.get("ok")
        if not isinstance(stamp, str) or not isinstance(service, str) or not service.strip():
            return None
        when = self.times.get(stamp)
        if when is None:
            try:
                when = parse_datetime(stamp)
            except (ValueError, OverflowError, OSError):
                return None
            if len(self.times) >= _TIME_CACHE_LIMIT:
                self.times.clear()
            self.times[stamp] = when
        if not isinstance(ok, bool):
            ok = OK_WORDS.get(ok.strip().lower()) if isinstance(ok, str) else None
            if ok is None:
                return None
        check = values.get("check")
        if check is None:
            check = DEFAULT_CHECK
        elif not isinstance(check, str) or not check.strip():
            return None
        latency = values.get("latency_ms")
        if latency is not None:
            if isinstance(latency, bool) or not isinstance(latency, int | float):
                return None
            latency = float(latency)
            if not 0.0 <= latency < float("inf"):
                return None
        service = self.names.setdefault(service.strip(), service.strip())
        check = self.names.setdefault(check.strip(), check.strip())
        return ProbeResult(when, service, check, ok, latency)


def _read_jsonl(text: str, result: ReadResult[ProbeResult]) -> None:
    probes = _JsonProbes(result)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = parse_json(line)
        except json.JSONDecodeError as exc:
            result.quarantine(
                f"line {number}, column {exc.colno}",
                f"invalid JSON: {exc.msg}",
                "one JSON object per line",
            )
            continue
        except RecursionError:
            result.quarantine(f"line {number}", "JSON nested too deeply", "a flat JSON object")
            continue
        if not isinstance(item, dict):
            result.quarantine(
                f"line {number}", "not a JSON object", "a JSON object", type(item).__name__
            )
            continue
        probes.add(item, _at_field(number))


def _read_json(text: str, result: ReadResult[ProbeResult]) -> None:
    try:
        document = parse_json(text)
    except json.JSONDecodeError as exc:
        result.fail(
            f"line {exc.lineno}, column {exc.colno}",
            f"invalid JSON: {exc.msg}",
            "a complete JSON document",
        )
        return
    except RecursionError:
        result.fail("", "JSON nested too deeply", "a JSON document of reasonable depth")
        return
    except JsonBudgetError as exc:
        result.fail("", f"JSON refused: {exc}", "a smaller JSON document")
        return
    prefix: tuple[str, ...] = ()
    if isinstance(document, dict) and isinstance(document.get("results"), list):
        items, prefix = document["results"], ("results",)
    elif isinstance(document, list):
        items = document
    else:
        result.fail(
            "$",
            "not a list of probe results",
            'a JSON list of objects or {"results": [...]}',
            type(document).__name__,
        )
        return
    probes = _JsonProbes(result)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            result.quarantine(
                json_path(*prefix, index),
                "not a JSON object",
                "a JSON object",
                type(item).__name__,
            )
            continue
        probes.add(item, _at_path(prefix, index))
