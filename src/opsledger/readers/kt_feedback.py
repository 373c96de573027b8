"""knowledge-transfer-feedback.json: the knowledge gaps left open after handover."""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.itemfields import severity, status
from opsledger.formats.jsonrecords import json_items
from opsledger.formats.textfile import load_json
from opsledger.model.common import Severity
from opsledger.model.handover import KnowledgeGap

LIST_KEYS = ("gaps", "knowledge_gaps", "items", "feedback", "open_gaps")
ALIASES = {
    "id": ("gap_id", "key", "ref"),
    "topic": ("title", "gap", "summary", "description", "area"),
    "service": ("service_name", "component", "system"),
    "owner": ("assignee", "assigned_to", "responsible"),
    "severity": ("priority", "risk", "impact_level"),
    "due_date": ("due", "deadline", "target_date", "follow_up_date"),
    "follow_up": ("follow_up_action", "action", "next_step", "next_steps", "notes", "resolution"),
}


def read(path: Path) -> ReadResult[KnowledgeGap]:
    """Return the knowledge gaps (open and closed) from the knowledge-transfer feedback."""
    result: ReadResult[KnowledgeGap] = ReadResult(path, detected_format="kt-feedback-json")
    data = load_json(path, result)
    if result.fatal:
        return result
    for item in json_items(path, result, data, LIST_KEYS, ALIASES):
        fields = item.fields
        gap = KnowledgeGap(
            id=fields.text("id", required=False) or f"KT-{item.index + 1}",
            topic=fields.text("topic") or "",
            service=fields.text("service", required=False),
            owner=fields.text("owner", required=False),
            # An unrated gap is kept as UNKNOWN: the backlog check asks for a rating.
            severity=severity(fields, "severity") or Severity.UNKNOWN,
            status=status(fields, "status"),
            due_date=fields.day("due_date", required=False),
            follow_up=fields.text("follow_up", required=False) or "",
        )
        if fields.problems:
            result.extend(fields.problems)
            continue
        result.records.append(gap)
    return result
