"""What changed in a document since a version someone decided on.

Each decision keeps a copy of the version it decided on, in the evidence folder under
``approved-versions/<digest>/``, so that when the document changes and the decision lapses
the halt can say what changed: for Markdown, the table rows added, removed or changed (cell
by cell, keyed by the row's first cell) and the lines of prose; for JSON, the fields; for
anything else, the lines.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from opsledger.approvals.digest import unstamped
from opsledger.core.fileio import atomic_write_bytes
from opsledger.formats.mdtable import Table, parse_tables, split_lines

VERSIONS_DIR = "approved-versions"
LONGEST_VALUE = 80  # characters of a changed value or line shown before it is cut
_ITEM = object()  # marks where a list item with an ``id`` sits in a flattened document


def version_folder(evidence_dir: Path, digest: str) -> Path:
    return evidence_dir / VERSIONS_DIR / digest


def keep_version(evidence_dir: Path, digest: str, documents: Mapping[str, bytes]) -> None:
    """Keep a copy of each document of version ``digest`` (once: a version never changes)."""
    folder = version_folder(evidence_dir, digest)
    for name, content in documents.items():
        path = folder / name
        if not path.exists():
            atomic_write_bytes(path, content)


def kept_version(evidence_dir: Path, digest: str, names: Iterable[str]) -> dict[str, bytes] | None:
    """Return the kept copy of version ``digest`` (None when it was not kept)."""
    folder = version_folder(evidence_dir, digest)
    if not folder.is_dir():
        return None
    return {name: (folder / name).read_bytes() for name in names if (folder / name).is_file()}


def version_changes(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> list[str]:
    """Return what changed from the documents ``old`` to ``new``, one line per change."""
    changes: list[str] = []
    several = len(set(old) | set(new)) > 1
    for name in sorted(set(old) | set(new)):
        if name not in new:
            changes.append(f"{name} removed")
            continue
        if name not in old:
            changes.append(f"{name} added")
            continue
        found = document_changes(name, old[name], new[name])
        changes.extend(f"{name}: {c}" if several else c for c in found)
    return changes


def document_changes(name: str, old: bytes, new: bytes) -> list[str]:
    """Return what changed in one document, by its kind (Markdown, JSON, other text)."""
    if name.endswith(".json"):
        try:
            return json_changes(json.loads(old), json.loads(new))
        except ValueError:
            pass
    old_text = unstamped(old).decode("utf-8", "replace")
    new_text = unstamped(new).decode("utf-8", "replace")
    if name.endswith(".md"):
        return markdown_changes(old_text, new_text)
    return _line_changes([("", line) for line in split_lines(old_text)],
                         [("", line) for line in split_lines(new_text)])


def _short(value: object) -> str:
    text = "(empty)" if value in (None, "") else str(value)
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


# --- JSON ----------------------------------------------------------------------------------


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    """Flatten ``value`` into ``path -> leaf``; list items with an ``id`` are keyed by it."""
    if isinstance(value, dict):
        for key in value:
            _flatten(value[key], f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and value and all(
        isinstance(v, dict) and "id" in v for v in value
    ):
        for item in value:
            out[f"{path}[{item['id']}]"] = _ITEM
            _flatten(item, f"{path}[{item['id']}]", out)
    elif isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        for i, item in enumerate(value):
            _flatten(item, f"{path}[{i}]", out)
    else:
        out[path] = value


def json_changes(old: Any, new: Any) -> list[str]:
    """Return the fields of a JSON document that changed, were added or were removed; a
    list item with an ``id`` added or removed is one change."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    _flatten(old, "", before)
    _flatten(new, "", after)
    changes = []
    whole: list[str] = []  # items added or removed as a whole: their fields are not listed
    for path in sorted(set(before) | set(after)):
        if path == "generated_at" or any(path.startswith(f"{w}.") for w in whole):
            continue
        if path not in after:
            if before[path] is _ITEM:
                whole.append(path)
                changes.append(f"{path} removed")
            else:
                changes.append(f"{path} removed (was {_short(before[path])})")
        elif path not in before:
            if after[path] is _ITEM:
                whole.append(path)
                changes.append(f"{path} added")
            else:
                changes.append(f"{path} added: {_short(after[path])}")
        elif before[path] != after[path]:
            changes.append(f"{path}: {_short(before[path])} → {_short(after[path])}")
    return changes


# --- Markdown ------------------------------------------------------------------------------


def _where(table: Table) -> str:
    """Return the heading the table sits under (the nearest one)."""
    return table.headings[-1].title if table.headings else "top"


def _tables_by_place(tables: list[Table]) -> dict[tuple[str, tuple[str, ...], int], Table]:
    """Return the tables keyed by (headings, header, n-th such table there)."""
    keyed: dict[tuple[str, tuple[str, ...], int], Table] = {}
    for table in tables:
        n = 0
        while (_where(table), table.header, n) in keyed:
            n += 1
        keyed[(_where(table), table.header, n)] = table
    return keyed


def _rows_by_key(table: Table) -> dict[str, tuple[str, ...]]:
    """Return the table's rows keyed by their first cell (repeats numbered ``#2``, ``#3``)."""
    rows: dict[str, tuple[str, ...]] = {}
    for row in table.rows:
        first = row.cells[0] if row.cells else ""
        key, n = first, 1
        while key in rows:
            n += 1
            key = f"{first} #{n}"
        rows[key] = row.cells
    return rows


def _table_changes(where: str, header: tuple[str, ...], old: Table, new: Table) -> list[str]:
    before, after = _rows_by_key(old), _rows_by_key(new)
    changes = []
    for key in after:
        if key not in before:
            changes.append(f"{where}: row {_short(key)} added")
            continue
        cells = [(header[i] if i < len(header) else f"column {i + 1}", a, b)
                 for i, (a, b) in enumerate(zip(before[key], after[key], strict=False))
                 if a != b]
        changes.extend(f"{where}, {_short(key)}: {column} {_short(a)} → {_short(b)}"
                       for column, a, b in cells)
    changes.extend(f"{where}: row {_short(key)} removed" for key in before if key not in after)
    return changes


def _prose(text: str, tables: list[Table]) -> list[tuple[str, str]]:
    """Return the non-blank lines outside tables, each with the heading it sits under."""
    in_tables = {t.line + i for t in tables for i in range(len(t.rows) + 2)}
    lines = []
    heading = ""
    for number, line in enumerate(split_lines(text), start=1):
        if number in in_tables or not line.strip():
            continue
        if line.lstrip().startswith("#"):
            heading = line.lstrip("# ").strip() or heading
            continue
        lines.append((heading, line.strip()))
    return lines


def _line_changes(old: list[tuple[str, str]], new: list[tuple[str, str]]) -> list[str]:
    """Return the lines removed (``-``) and added (``+``), each after the heading it is under."""
    changes: list[str] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        changes.extend(_line_change("-", heading, line) for heading, line in old[i1:i2])
        changes.extend(_line_change("+", heading, line) for heading, line in new[j1:j2])
    return changes


def _line_change(sign: str, heading: str, line: str) -> str:
    return f"{heading}: {sign} {_short(line)}" if heading else f"{sign} {_short(line)}"


def markdown_changes(old: str, new: str) -> list[str]:
    """Return the table cells and prose lines that differ between two Markdown documents."""
    old_tables, new_tables = parse_tables(old), parse_tables(new)
    before, after = _tables_by_place(old_tables), _tables_by_place(new_tables)
    changes: list[str] = []
    for key, table in after.items():
        where, header, _ = key
        if key in before:
            changes.extend(_table_changes(where, header, before[key], table))
        else:
            changes.append(f"{where}: table ({', '.join(header)}) added")
    changes.extend(f"{where}: table ({', '.join(header)}) removed"
                   for (where, header, n) in before if (where, header, n) not in after)
    changes.extend(_line_changes(_prose(old, old_tables), _prose(new, new_tables)))
    return changes
