"""ticket-history.csv: the support tickets behind volume forecasts and automation candidates.

One ticket per row. Required columns: ``id``, ``created_at``, ``queue``, ``category`` and
``title``; optional: ``resolved_at`` (empty while open), ``priority``, ``handle_minutes``
(agent working time), ``service`` and ``channel``. Common export headers are accepted as
aliases (Zendesk's ``Subject``/``Group``/``Solved at``, Jira's ``Summary``/``Resolved``...).
An empty category is kept as :data:`UNCATEGORISED` so the ticket still counts in volumes.

A year of tickets is tens of thousands of rows (hundreds of thousands for a large support
organisation), so rows go through a lean path: each cell is converted directly, and repeated
texts (queues, categories, titles...) and handling times share one object each. Only a row
the lean path cannot take is handed to :class:`Fields`, which then names the bad cell with
line and column like every other reader.
"""

from __future__ import annotations

import _csv
import csv
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.csvrows import header_key, open_csv, require_columns
from opsledger.formats.fields import Fields, within_range
from opsledger.formats.textfile import MAX_LINE_CHARS, load_text
from opsledger.model.handover import Ticket

csv.field_size_limit(MAX_LINE_CHARS)

REQUIRED = ("id", "created_at", "queue", "category", "title")
COLUMNS = (*REQUIRED, "resolved_at", "priority", "handle_minutes", "service", "channel")
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("ticket_id", "ticket", "key", "issue_key", "number"),
    "created_at": ("created", "opened_at", "opened", "submitted_at", "date_created"),
    "resolved_at": ("resolved", "solved_at", "closed_at", "closed", "solved", "date_resolved"),
    "queue": ("group", "team", "assignment_group", "support_queue"),
    "category": ("ticket_type", "type", "issue_type", "topic", "reason"),
    "title": ("subject", "summary", "short_description"),
    "handle_minutes": (
        "handle_time_minutes",
        "handle_time",
        "time_spent_minutes",
        "work_minutes",
        "aht_minutes",
    ),
    "service": ("service_name", "component", "product", "affected_service"),
    "channel": ("via", "source", "contact_channel", "origin"),
}
_REVERSE = {alias: name for name, names in ALIASES.items() for alias in names}
UNCATEGORISED = "uncategorised"


def read(path: Path) -> ReadResult[Ticket]:
    """Return every ticket in the file, in file order."""
    result: ReadResult[Ticket] = ReadResult(path, detected_format="csv")
    text = load_text(path, result)
    if text is None:
        return result
    opened = open_csv(text, result)
    if opened is None:
        return result
    reader, header = opened
    keys = [_REVERSE.get(header_key(h), header_key(h)) for h in header]
    if require_columns(result, "line 1", keys, REQUIRED, header):
        _read_rows(reader, keys, result)
    return result


def _read_rows(reader: _csv.Reader, keys: list[str], result: ReadResult[Ticket]) -> None:
    width = len(keys)
    at = {name: keys.index(name) if name in keys else None for name in COLUMNS}
    i_id, i_created, i_queue, i_category, i_title = (keys.index(name) for name in REQUIRED)
    i_resolved, i_priority, i_minutes = at["resolved_at"], at["priority"], at["handle_minutes"]
    i_service, i_channel = at["service"], at["channel"]
    shared: dict[str, str] = {}
    share = shared.setdefault  # one string object per repeated queue/category/title...
    minutes_of: dict[str, float | None] = {}  # handling times repeat: one float each
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
            if row and any(cell.strip() for cell in row):
                result.quarantine(
                    f"line {reader.line_num}",
                    "wrong number of cells",
                    f"{width} cells",
                    f"{len(row)} cells",
                )
            continue
        try:
            ticket_id = row[i_id].strip()
            created = _time(row[i_created])
            resolved = _time(row[i_resolved]) if i_resolved is not None else None
            minutes = None
            if i_minutes is not None:
                cell = row[i_minutes]
                if cell in minutes_of:
                    minutes = minutes_of[cell]
                else:
                    minutes = minutes_of[cell] = _minutes(cell)
            queue = row[i_queue].strip()
            title = row[i_title].strip()
            if not (ticket_id and queue and title and created is not None):
                raise ValueError("a required cell is empty")
            if resolved is not None and resolved < created:
                raise ValueError("resolved before created")
            category = row[i_category].strip() or UNCATEGORISED
            records.append(
                Ticket(
                    ticket_id,
                    created,
                    resolved,
                    share(queue, queue),
                    share(category, category),
                    _optional(row, i_priority, share),
                    share(title, title),
                    minutes,
                    _optional(row, i_service, share),
                    _optional(row, i_channel, share),
                )
            )
        except (ValueError, OverflowError, TypeError):
            if not any(cell.strip() for cell in row):
                continue  # a row of empty cells, as spreadsheets export trailing lines
            fields = Fields(where, dict(zip(keys, row, strict=True)), _locator(reader.line_num))
            ticket = ticket_from_fields(fields)
            if ticket is None or fields.problems:
                result.extend(fields.problems)
            else:
                records.append(ticket)


def _locator(line: int) -> Callable[[str], str]:
    return lambda column: f"line {line}, column '{column}'"


def _time(text: str) -> datetime | None:
    """Return an aware time from ISO 8601 text, ``None`` for an empty cell."""
    text = text.strip()
    if not text:
        return None
    value = datetime.fromisoformat(text)  # ValueError sends the row to the careful path
    return within_range(value if value.tzinfo else value.replace(tzinfo=UTC))


def _minutes(text: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(text)
    return value


def _optional(row: list[str], index: int | None, share: Callable[[str, str], str]) -> str | None:
    if index is None:
        return None
    text = row[index].strip()
    return share(text, text) if text else None


def ticket_from_fields(fields: Fields) -> Ticket | None:
    """Return the ticket in one row, or ``None`` (with ``fields.problems`` saying why)."""
    ticket_id = fields.text("id")
    created = fields.timestamp("created_at")
    resolved = fields.timestamp("resolved_at", required=False)
    queue = fields.text("queue")
    category = fields.text("category", required=False, default=UNCATEGORISED)
    title = fields.text("title")
    minutes = fields.number("handle_minutes", required=False, minimum=0)
    if created is not None and resolved is not None and resolved < created:
        fields.bad(
            "resolved_at",
            "ticket resolved before it was created",
            f"a time after created_at {created.isoformat()}",
            resolved.isoformat(),
        )
    if ticket_id is None or created is None or queue is None or title is None or fields.problems:
        return None
    return Ticket(
        id=ticket_id,
        created_at=created,
        resolved_at=resolved,
        queue=queue,
        category=category or UNCATEGORISED,
        priority=fields.text("priority", required=False),
        title=title,
        handle_minutes=minutes,
        service=fields.text("service", required=False),
        channel=fields.text("channel", required=False),
    )
