"""One JSON incident export, read by the reader its shape calls for.

PagerDuty REST (``{"incidents": [...]}``), PagerDuty raw incident analytics (``{"data":
[...]}`` with ``service_name``/``seconds_to_resolve``) and Opsgenie alerts (``{"data":
[...]}`` or one alert ``{"data": {...}}``, with ``createdAt``/``message``) are told apart by
their keys. An Opsgenie Incident API response is refused by name.
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import load_json
from opsledger.model.incidents import Incident
from opsledger.readers import incidents_opsgenie, incidents_pagerduty_json


def read_file(path: Path) -> ReadResult[Incident]:
    """Return the incidents of one PagerDuty or Opsgenie JSON export."""
    result: ReadResult[Incident] = ReadResult(path)
    data = load_json(path, result)
    if data is None:
        return result
    if incidents_pagerduty_json.kind_of(data) is not None:
        incidents_pagerduty_json.read_data(path, data, result)
    elif incidents_opsgenie.looks_like(data):
        if not incidents_opsgenie.is_incident_api(data):
            result.detected_format = incidents_opsgenie.FORMAT
        incidents_opsgenie.read_data(path, data, result)
    else:
        keys = ", ".join(str(k) for k in list(data)[:8]) if isinstance(data, dict) else ""
        result.fail(
            "$",
            "not a known incident export",
            'PagerDuty {"incidents": [...]} or {"data": [...]} (analytics), or Opsgenie '
            '{"data": [alerts with createdAt]} or {"data": {alert}}',
            f"an object with keys {keys}" if keys else type(data).__name__,
        )
    return result
