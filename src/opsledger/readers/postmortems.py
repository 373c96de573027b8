"""INCIDENT-POSTMORTEMS/: one Markdown file per incident, with YAML front matter.

Each file opens with front matter (incident id, title, service, severity, date, review
date, status, authors) between ``---`` lines, then ``##`` sections; the section "Action
items" holds a table of corrective actions. A file that cannot be read (bad front
matter, no incident id) is quarantined with its own path and line; the other files stand.
An action item with a bad date or status is quarantined alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from opsledger.core.errors import ConfigError
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.core.yamlfile import LineMap, compose_one, parse_yaml
from opsledger.formats.fields import Fields
from opsledger.formats.itemfields import SEVERITY_WORDS, status
from opsledger.formats.jsonrecords import flatten
from opsledger.formats.mdtable import parse_tables, sections, split_lines, table_fields
from opsledger.formats.textfile import load_text
from opsledger.model.common import Severity
from opsledger.model.handover import ActionItem, Postmortem

MAX_FILES = 20_000
MAX_FILE_BYTES = 16 * 1024 * 1024  # a postmortem is a document, not a data dump
MAX_FRONT_MATTER_VALUES = 10_000
FRONT_MATTER_ALIASES = {
    "incident_id": ("id", "incident", "incident_number", "ref"),
    "title": ("name", "summary"),
    "service": ("service_name", "component", "system", "services"),
    "severity": ("sev", "priority", "level"),
    "date": ("incident_date", "started_at", "started", "start", "occurred", "occurred_at"),
    "review_date": ("reviewed", "reviewed_on", "review", "postmortem_date", "retro_date"),
    "status": ("state", "postmortem_status"),
    "authors": ("author", "owners", "owner", "written_by"),
}
ACTION_HEADINGS = (
    "Action items",
    "Action item",
    "Actions",
    "Corrective actions",
    "Follow-ups",
    "Follow ups",
    "Remediation",
    "Remediation items",
)
ACTION_ALIASES = {
    "action": ("title", "item", "task", "description", "action_item", "summary"),
    "id": ("ref", "key", "ticket", "action_id", "item_id"),
    "owner": ("assignee", "assigned_to", "responsible"),
    "due": ("due_date", "deadline", "target_date", "due_by"),
    "status": ("state",),
    "priority": ("prio", "severity", "p"),
    "kind": ("type", "category", "action_type"),
}
POSTMORTEM_STATUS = {
    "draft": "draft",
    "in_review": "in_review",
    "review": "in_review",
    "in_progress": "draft",
    "pending_review": "in_review",
    "published": "published",
    "final": "published",
    "complete": "published",
    "completed": "published",
    "approved": "published",
    "closed": "published",
}
_STANDARD_TAG = re.compile(r"^tag:yaml\.org,2002:(str|int|float|bool|null|map|seq|timestamp)$")
_SKIPPED_NAMES = {"readme.md", "index.md"}


def read(path: Path) -> ReadResult[Postmortem]:
    """Return one :class:`Postmortem` per readable Markdown file below ``path``."""
    result: ReadResult[Postmortem] = ReadResult(path, detected_format="markdown+yaml")
    if not path.is_dir():
        return result.fail("", "not a folder", "a folder of Markdown postmortems")
    files = list(_postmortem_files(path))
    if len(files) > MAX_FILES:
        return result.fail("", "too many files", f"at most {MAX_FILES}", str(len(files)))
    ids: dict[str, Path] = {}
    for file in files:
        postmortem = read_postmortem(file, result)
        if postmortem is None:
            continue
        if postmortem.incident_id in ids:
            first = ids[postmortem.incident_id].name
            _bad(
                result,
                file,
                "",
                f"incident {postmortem.incident_id} also has a postmortem in {first}; both kept",
                level=Level.WARNING,
            )
        ids.setdefault(postmortem.incident_id, file)
        result.records.append(postmortem)
    return result


def _postmortem_files(folder: Path) -> Iterator[Path]:
    for file in sorted(folder.rglob("*.md")):
        relative = file.relative_to(folder).parts
        if any(part.startswith((".", "_")) for part in relative):
            continue  # hidden files and templates such as _template.md
        if file.name.lower() in _SKIPPED_NAMES or not file.is_file():
            continue
        yield file


def read_postmortem(file: Path, result: ReadResult[Postmortem]) -> Postmortem | None:
    """Return the file's postmortem, or ``None`` after recording why it was quarantined."""
    own: ReadResult[Postmortem] = ReadResult(file)
    text = load_text(file, own, limit=MAX_FILE_BYTES)
    if text is None:
        _quarantine(result, own.problems)
        return None
    lines = split_lines(text)
    if not lines or lines[0].strip() != "---":
        first = lines[0][:40] if lines else ""
        _bad(result, file, "line 1", "no YAML front matter", "a first line '---'", repr(first))
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        _bad(result, file, "line 1", "front matter is not closed", "a closing '---' line")
        return None
    # Blank first line so that the YAML parser's line numbers are the file's line numbers.
    front_text = "\n" + "\n".join(lines[1:end]) + "\n"
    parsed = _front_matter(file, front_text, result)
    if parsed is None:
        return None
    meta, line_map = parsed
    body = "\n".join(lines[end + 1 :])
    body_offset = end + 1  # lines before the body's first line
    flat, origin = flatten(meta, FRONT_MATTER_ALIASES)

    def locate(name: str) -> str:
        written = origin.get(name, name)
        line = line_map.line_of(tuple(written.split(".")))
        return f"line {line}, front matter '{written}'" if line else f"front matter '{written}'"

    fields = Fields(str(file), flat, locate)
    incident_id = fields.text("incident_id")
    title = fields.text("title", required=False) or _title(body) or (incident_id or "")
    severity = fields.text("severity", required=False)
    if severity is not None and Severity.parse(severity) is None:
        fields.bad("severity", "'severity' is not a known severity", SEVERITY_WORDS, severity)
    incident_date = _incident_time(fields)
    review_date = fields.day("review_date", required=False)
    pm_status = _postmortem_status(fields)
    authors = tuple(fields.listing("authors"))
    if fields.problems:
        _quarantine(result, fields.problems)
        return None
    items = tuple(_action_items(file, body, body_offset, incident_id, flat.get("service"), result))
    return Postmortem(
        incident_id=incident_id or "",
        title=title,
        service=fields.text("service", required=False),
        severity=severity,
        incident_date=incident_date,
        review_date=review_date,
        status=pm_status,
        authors=authors,
        sections={s.heading.title: s.body.strip() for s in sections(body, 2)},
        action_items=items,
        path=str(file),
    )


def _front_matter(
    file: Path, text: str, result: ReadResult[Postmortem]
) -> tuple[dict[str, Any], LineMap] | None:
    try:
        node = compose_one(text)
    except (yaml.YAMLError, RecursionError):
        node = None  # parse_yaml below reports it with the line (or as nested too deeply)
    if node is not None and _expanded_size(node) > MAX_FRONT_MATTER_VALUES:
        _bad(
            result,
            file,
            f"line {node.start_mark.line + 1}",
            "front matter expands to too many values (alias bomb?)",
            f"at most {MAX_FRONT_MATTER_VALUES} values",
        )
        return None
    foreign = _foreign_tag(node) if node is not None else None
    if foreign is not None:
        tag, line = foreign
        _bad(
            result,
            file,
            f"line {line}",
            "front matter uses a YAML tag that is not allowed",
            "plain YAML values",
            tag,
        )
        return None
    try:
        data, line_map = parse_yaml(text, str(file))
    except ConfigError as exc:
        location, message = _split_config_error(str(exc.args[0]), str(file))
        _bad(result, file, location, f"front matter: {message}", "valid YAML")
        return None
    if not isinstance(data, dict):
        _bad(
            result,
            file,
            "line 2",
            "front matter is not a mapping",
            "key: value lines",
            type(data).__name__,
        )
        return None
    return data, line_map


def _foreign_tag(node: yaml.Node) -> tuple[str, int] | None:
    """Return the first tag outside YAML's core schema (e.g. ``!!python/object``) and its line."""
    for current in _distinct_nodes(node):
        if not _STANDARD_TAG.match(current.tag or ""):
            return current.tag, current.start_mark.line + 1
    return None


def _distinct_nodes(node: yaml.Node) -> list[yaml.Node]:
    """Return every node of the composed graph once, in document order (aliases share nodes)."""
    order: list[yaml.Node] = []
    stack = [node]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        order.append(current)
        stack.extend(reversed(_children(current)))
    return order


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _expanded_size(node: yaml.Node) -> int:
    """Return how many values the document holds once aliases are expanded (capped).

    Computed over the shared graph in linear time (each node sized once, after its
    children), so an alias bomb is measured without being expanded; an alias that refers
    back to one of its own ancestors counts as unbounded.
    """
    limit = MAX_FRONT_MATTER_VALUES + 1
    size: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if children_done:
            total = 1 + sum(size[id(child)] for child in _children(current))
            size[key] = min(total, limit)
            open_nodes.discard(key)
            continue
        if key in size:
            continue
        if key in open_nodes:
            return limit  # a cycle: the value would be infinite
        open_nodes.add(key)
        stack.append((current, True))
        for child in _children(current):
            if id(child) in open_nodes:
                return limit
            if id(child) not in size:
                stack.append((child, False))
    return size[id(node)]


def _split_config_error(message: str, name: str) -> tuple[str, str]:
    text = message[len(name) + 2 :] if message.startswith(name + ": ") else message
    match = re.match(r"^(line \d+(?:, column \d+)?): (.*)$", text, re.S)
    return (match.group(1), match.group(2)) if match else ("", text)


def _incident_time(fields: Fields) -> datetime | None:
    # YAML front matter gives a date or datetime object; text goes through the same parser.
    return fields.timestamp("date", required=False)


def _postmortem_status(fields: Fields) -> str:
    value = fields.raw("status")
    if value is None:
        return "draft"
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if key not in POSTMORTEM_STATUS:
        fields.bad(
            "status", "'status' is not a postmortem status", "draft, in review or published", value
        )
        return "draft"
    return POSTMORTEM_STATUS[key]


def _title(body: str) -> str | None:
    for line in split_lines(body):
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


def _action_items(
    file: Path,
    body: str,
    body_offset: int,
    incident_id: str | None,
    service: Any,
    result: ReadResult[Postmortem],
) -> Iterator[ActionItem]:
    tables = [t for t in parse_tables(body) if any(t.under(h) for h in ACTION_HEADINGS)]
    if not tables:
        _bad(
            result,
            file,
            "",
            "no 'Action items' table; no corrective actions recorded",
            level=Level.WARNING,
        )
        return
    own: ReadResult[ActionItem] = ReadResult(file)
    default_service = str(service) if service else None
    number = 0
    for table in tables:
        for fields in table_fields(file, own, table, ("action",), ACTION_ALIASES):
            number += 1
            item = ActionItem(
                id=fields.text("id", required=False) or f"{incident_id}-A{number}",
                title=fields.text("action") or "",
                owner=fields.text("owner", required=False),
                due_date=fields.day("due", required=False),
                status=status(fields, "status"),
                priority=fields.text("priority", required=False),
                incident_id=incident_id,
                service=fields.text("service", required=False) or default_service,
                kind=fields.text("kind", required=False),
            )
            if fields.problems:
                own.extend(fields.problems)
                continue
            yield item
    # Table lines count from the body; shift them to the file's line numbers.
    for problem in own.problems:
        shifted = _shift(problem, body_offset)
        if problem.level is Level.FATAL:
            # A broken action table spoils this file's actions only, not the folder.
            shifted = Problem(
                shifted.path,
                shifted.location,
                shifted.message,
                shifted.expected,
                shifted.found,
                Level.ROW,
            )
        result.problems.append(shifted)


def _shift(problem: Problem, offset: int) -> Problem:
    location = re.sub(
        r"^line (\d+)", lambda m: f"line {int(m.group(1)) + offset}", problem.location
    )
    return Problem(
        problem.path, location, problem.message, problem.expected, problem.found, problem.level
    )


def _bad(
    result: ReadResult[Postmortem],
    file: Path,
    location: str,
    message: str,
    expected: str = "",
    found: str = "",
    level: Level = Level.ROW,
) -> None:
    result.problems.append(Problem(str(file), location, message, expected, found, level))


def _quarantine(result: ReadResult[Postmortem], problems: list[Problem]) -> None:
    for p in problems:
        result.problems.append(
            Problem(p.path, p.location, p.message, p.expected, p.found, Level.ROW)
        )
