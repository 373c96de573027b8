"""PERFORMANCE-IMPROVEMENT-BACKLOG.json: the optimisation work queue, as work items."""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.fields import Fields
from opsledger.formats.itemfields import WORK_ITEM_ALIASES, work_item
from opsledger.formats.jsonrecords import json_items
from opsledger.formats.textfile import load_json
from opsledger.model.handover import WorkItem

SOURCE = "performance"
LIST_KEYS = ("items", "backlog", "improvements", "tasks", "performance_items", "work_items")
ALIASES: dict[str, tuple[str, ...]] = {
    **WORK_ITEM_ALIASES,
    # In a performance backlog "target" is the goal figure, not a date.
    "due_date": tuple(a for a in WORK_ITEM_ALIASES["due_date"] if a != "target"),
    "metric": ("sli", "measure", "kpi"),
    "baseline": ("current", "current_value", "baseline_value", "observed"),
    "target_value": ("target", "goal", "target_metric", "objective"),
}


def read(path: Path) -> ReadResult[WorkItem]:
    """Return the performance backlog's items (source ``performance``)."""
    result: ReadResult[WorkItem] = ReadResult(path, detected_format="performance-backlog-json")
    data = load_json(path, result)
    if result.fatal:
        return result
    for item in json_items(path, result, data, LIST_KEYS, ALIASES):
        fields = item.fields
        record = work_item(fields, SOURCE, f"PERF-{item.index + 1}", _metric_text(fields))
        if fields.problems:
            result.extend(fields.problems)
            continue
        result.records.append(record)
    return result


def _metric_text(fields: Fields) -> str:
    """Return "p95_ms: 480 -> 250" from the metric, baseline and target fields, if given."""
    metric = fields.text("metric", required=False)
    if metric is None:
        return ""
    baseline = fields.text("baseline", required=False)
    target = fields.text("target_value", required=False)
    text = metric
    if baseline is not None:
        text += f": {baseline}"
        if target is not None:
            text += f" -> {target}"
    elif target is not None:
        text += f": target {target}"
    return text
