"""Alert history: every PagerDuty or Opsgenie JSON export in a folder (``incidents/alerts``).

Each file is sniffed by its content: PagerDuty's snake_case ``alerts``/``incidents`` lists
or Opsgenie's camelCase alerts (``createdAt``, ``tinyId``).
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import load_json
from opsledger.model.incidents import AlertEvent
from opsledger.readers import alerts_opsgenie, alerts_pagerduty
from opsledger.readers.incidents_opsgenie import is_incident_api

ALERTS_DIR = "alerts"  # inside the incidents folder


def read(path: Path) -> ReadResult[AlertEvent]:
    """Return the firings of every alert export at ``path`` (a file or a folder)."""
    result: ReadResult[AlertEvent] = ReadResult(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if not p.name.startswith("."))
    else:
        return result.fail("", "no such file or folder", "a folder of alert exports")
    formats: set[str] = set()
    for file in files:
        part = read_file(file)
        result.extend(part.problems)
        result.records.extend(part.records)
        if part.detected_format:
            formats.add(part.detected_format)
    result.records.sort(key=lambda e: (e.created_at, e.source, e.id))
    result.detected_format = " + ".join(sorted(formats))
    return result


def read_file(path: Path) -> ReadResult[AlertEvent]:
    """Return the firings of one export, read by the reader its content calls for."""
    result: ReadResult[AlertEvent] = ReadResult(path)
    data = load_json(path, result)
    if data is None:
        return result
    if alerts_pagerduty.looks_like(data):
        result.detected_format = alerts_pagerduty.FORMAT
        return alerts_pagerduty.read_data(path, data, result)
    if alerts_opsgenie.looks_like(data):
        if not is_incident_api(data):  # refused by name in read_data
            result.detected_format = alerts_opsgenie.FORMAT
        return alerts_opsgenie.read_data(path, data, result)
    return result.fail(
        "$",
        "not a known alert export",
        "PagerDuty alerts/incidents JSON or Opsgenie alerts JSON",
        "a document without either's fields",
    )
