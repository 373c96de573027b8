"""TECH-DEBT-REGISTER.md: the technical-debt register, a Markdown table of work items.

Every table in the document whose header has a title column (``Title``, ``Item``,
``Debt``...) is part of the register, so a register split into sections ("Active",
"Resolved") reads whole. A High or Critical item without an owner or due date is kept:
the backlog gates report it. An unknown severity or a bad date quarantines the row.
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.itemfields import WORK_ITEM_ALIASES, work_item
from opsledger.formats.mdtable import canonical_keys, parse_tables, table_fields
from opsledger.formats.textfile import load_text
from opsledger.model.handover import WorkItem

SOURCE = "tech-debt"
REQUIRED = ("title",)
# Columns that mark a table as part of the register even when its title column is missing.
_REGISTER_HINTS = frozenset({"id", "severity", "owner", "due_date", "status", "effort"})


def read(path: Path) -> ReadResult[WorkItem]:
    """Return the register's items (source ``tech-debt``)."""
    result: ReadResult[WorkItem] = ReadResult(path, detected_format="markdown-table")
    text = load_text(path, result)
    if text is None:
        return result
    tables = [
        t
        for t in parse_tables(text)
        if len(_REGISTER_HINTS & set(canonical_keys(t.header, WORK_ITEM_ALIASES))) >= 2
        or "title" in canonical_keys(t.header, WORK_ITEM_ALIASES)
    ]
    if not tables:
        return result.fail(
            "",
            "no register table found",
            "a Markdown table with a Title column (and ID, Severity, Owner, Due...)",
            "no such table",
        )
    number = 0
    for table in tables:
        for fields in table_fields(path, result, table, REQUIRED, WORK_ITEM_ALIASES):
            number += 1
            item = work_item(fields, SOURCE, f"TD-{number}")
            if fields.problems:
                result.extend(fields.problems)
                continue
            result.records.append(item)
        if result.fatal:
            return result
    _warn_duplicate_ids(result)
    return result


def _warn_duplicate_ids(result: ReadResult[WorkItem]) -> None:
    seen: set[str] = set()
    for item in result.records:
        if item.id in seen:
            result.warn("", f"item id {item.id} appears more than once; both kept")
        seen.add(item.id)
