"""What changed in a document since the version someone decided on."""

from __future__ import annotations

from pathlib import Path

from opsledger.approvals.changes import (
    json_changes,
    keep_version,
    kept_version,
    markdown_changes,
    version_changes,
)

PLAN = """# Maintenance plan

Generated 2026-11-01T00:00:00+00:00.

Scope: 8 services.

## Commitments

| Item | Title | Owner | Due |
| --- | --- | --- | --- |
| TD-001 | Replace the HTTP client | Dana Silva | no date |
| SEC-002 | Patch the gateway | Eli Novak | 2026-12-01 |

## Release and change windows

| Window | Cron |
| --- | --- |
| weekly | 0 2 * * 2 |

Next occurrences as of 2026-11-01: weekly 2026-11-03 02:00 CET
"""


def test_a_changed_cell_is_named_by_section_row_and_column() -> None:
    changed = PLAN.replace("| no date |", "| 2026-12-15 |")
    assert markdown_changes(PLAN, changed) == [
        "Commitments, TD-001: Due no date → 2026-12-15",
    ]


def test_rows_added_and_removed_and_prose_lines_are_listed() -> None:
    changed = (PLAN.replace("| SEC-002 | Patch the gateway | Eli Novak | 2026-12-01 |\n",
                            "| PERF-7 | Cache the catalog | Nia Kowalski | 2027-01-10 |\n")
               .replace("Scope: 8 services.", "Scope: 9 services."))
    assert markdown_changes(PLAN, changed) == [
        "Commitments: row PERF-7 added",
        "Commitments: row SEC-002 removed",
        "Maintenance plan: - Scope: 8 services.",
        "Maintenance plan: + Scope: 9 services.",
    ]


def test_stamps_and_clock_derived_lines_are_not_changes(tmp_path: Path) -> None:
    later = (PLAN.replace("Generated 2026-11-01", "Generated 2026-11-08")
             .replace("as of 2026-11-01: weekly 2026-11-03", "as of 2026-11-08: weekly 2026-11-10"))
    old = {"plan.md": PLAN.encode()}
    assert version_changes(old, {"plan.md": later.encode()}) == []
    assert version_changes(old, {"plan.md": PLAN.replace("Dana Silva", "Lena Ivanova").encode()}) \
        == ["Commitments, TD-001: Owner Dana Silva → Lena Ivanova"]


def test_json_fields_and_items_by_id() -> None:
    old = {"kind": "sla", "items": [{"id": "SEC-1", "due_date": "2026-12-15", "owner": "A"},
                                    {"id": "SEC-2", "due_date": None, "owner": "B"}]}
    new = {"kind": "sla", "items": [{"id": "SEC-1", "due_date": "2026-12-20", "owner": "A"},
                                    {"id": "SEC-3", "due_date": None, "owner": "C"}]}
    assert json_changes(old, new) == [
        "items[SEC-1].due_date: 2026-12-15 → 2026-12-20",
        "items[SEC-2] removed",
        "items[SEC-3] added",
    ]


def test_a_kept_version_is_written_once_and_read_back(tmp_path: Path) -> None:
    assert kept_version(tmp_path, "abc", ["plan.md"]) is None
    keep_version(tmp_path, "abc", {"plan.md": b"first"})
    keep_version(tmp_path, "abc", {"plan.md": b"second"})  # a version never changes
    assert kept_version(tmp_path, "abc", ["plan.md"]) == {"plan.md": b"first"}
    assert (tmp_path / "approved-versions" / "abc" / "plan.md").read_bytes() == b"first"


def test_several_documents_are_prefixed_with_their_name() -> None:
    old = {"a.md": b"one\n", "b.md": b"two\n"}
    new = {"a.md": b"one\n", "b.md": b"three\n", "c.md": b"new\n"}
    assert version_changes(old, new) == ["b.md: - two", "b.md: + three", "c.md added"]
