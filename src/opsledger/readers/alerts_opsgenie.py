"""Opsgenie alert history as JSON (Alert API v2 list or get responses, or an export).

Accepted shapes: ``{"data": [...]}`` (``GET /v2/alerts``), ``{"data": {...}}`` (``GET
/v2/alerts/{id}``), ``{"alerts": [...]}`` or a bare list; an Incident API response (``GET
/v1/incidents``) is refused by name, and a list with ``paging.next`` is warned about as one
page of a longer list. Each alert has ``id``, ``tinyId``, ``alias``, ``message``, ``status``
(open/closed), ``acknowledged``, ``isSeen``, ``tags``, ``count`` (occurrences folded in by
deduplication), ``createdAt``, ``updatedAt``, ``lastOccurredAt``, ``source``, ``owner``,
``priority`` (P1-P5), ``integration`` and ``report`` with ``ackTime`` and ``closeTime`` (in
milliseconds after ``createdAt``), ``acknowledgedBy`` and ``closedBy``.

How the fields become an :class:`AlertEvent`:

- the alert's name is ``details.alertname`` when present (Prometheus integrations), else
  its ``message``; the service is ``details.service``, ``entity`` or a ``service:<name>``
  tag;
- a person closed it when ``closedBy`` is a user (Opsgenie shows the user's login, an
  e-mail address); anything else (an integration's name, ``System``, an API key name)
  is an automatic close;
- an incident link is ``details.incident_id`` or an ``incident:<id>`` tag.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.formats.fields import Fields
from opsledger.formats.jsonrecords import json_items
from opsledger.formats.textfile import json_path, load_json
from opsledger.model.incidents import AlertEvent
from opsledger.readers.incidents_opsgenie import (
    ALERTS_EXPECTED,
    INCIDENT_API_REFUSED,
    is_incident_api,
    single_alert,
    warn_if_partial,
)

FORMAT = "opsgenie-alerts-json"
SOURCE = "opsgenie"
LIST_KEYS = ("data", "alerts")


def read(path: Path) -> ReadResult[AlertEvent]:
    """Return the alert firings in an Opsgenie JSON export."""
    result: ReadResult[AlertEvent] = ReadResult(path, detected_format=FORMAT)
    data = load_json(path, result)
    if data is None:
        return result
    return read_data(path, data, result)


def looks_like(data: Any) -> bool:
    """Return True when ``data`` holds camelCase Opsgenie alerts."""
    items = data if isinstance(data, list) else None
    if isinstance(data, dict):
        if isinstance(data.get("data"), dict):  # one alert (Get Alert)
            items = [data["data"]]
        else:
            items = next((data[k] for k in LIST_KEYS if isinstance(data.get(k), list)), None)
    if items == [] and isinstance(data, dict):
        return True  # an export of a quiet period
    if not items or not isinstance(items[0], dict):
        return False
    return "createdAt" in items[0] or "tinyId" in items[0]


def read_data(path: Path, data: Any, result: ReadResult[AlertEvent]) -> ReadResult[AlertEvent]:
    if is_incident_api(data):
        return result.fail("$", INCIDENT_API_REFUSED, ALERTS_EXPECTED,
                           "objects with impactedServices")
    one = single_alert(path, data)
    if one is not None:
        event = _alert(one)
        if event is None or not one.ok:
            result.extend(one.problems)
        else:
            result.records.append(event)
        return result
    warn_if_partial(data, result)
    seen: set[str] = set()
    for item in json_items(path, result, data, LIST_KEYS):
        event = _alert(item.fields)
        if event is None or not item.fields.ok:
            result.extend(item.fields.problems)
            continue
        if event.id in seen:
            result.warn(
                json_path(item.list_key, item.index, "id")
                if item.list_key
                else json_path(item.index, "id"),
                f"alert {event.id} appears twice; the first is kept",
            )
            continue
        seen.add(event.id)
        result.records.append(event)
    return result


def _tag(tags: list[str], prefix: str) -> str | None:
    for tag in tags:
        if tag.lower().startswith(prefix) and tag[len(prefix) :].strip():
            return tag[len(prefix) :].strip()
    return None


def _alert(fields: Fields) -> AlertEvent | None:
    identifier = fields.text("id", required=False) or fields.text("tiny_id", required=False)
    if identifier is None:
        fields.bad("id", "missing value for 'id'", "an alert id", "nothing")
    created = fields.timestamp("created_at")
    name = fields.text("details_alertname", required=False) or fields.text("message")
    tags = fields.listing("tags")
    status = (fields.text("status", required=False) or "").lower()
    acknowledged = fields.boolean("acknowledged", required=False)
    ack_ms = fields.number("report_ack_time", required=False, minimum=0)
    close_ms = fields.number("report_close_time", required=False, minimum=0)
    closed_by = fields.text("report_closed_by", required=False)
    count = fields.integer("count", required=False)
    if count is not None and count < 1:
        fields.bad("count", "'count' must be at least 1", "a whole number of at least 1", count)
    if identifier is None or created is None or name is None:
        return None
    acknowledged_at = (
        fields.later("report_ack_time", created, ack_ms / 1000)
        if ack_ms is not None and acknowledged is not False
        else None
    )
    resolved_at = (
        fields.later("report_close_time", created, close_ms / 1000)
        if close_ms is not None and status != "open"
        else None
    )
    # Opsgenie names a closing person by login (an e-mail address); anything else closing an
    # alert is an integration, a policy or the system.
    auto_resolved = None if resolved_at is None or closed_by is None else "@" not in closed_by
    service = (
        fields.text("details_service", required=False)
        or fields.text("entity", required=False)
        or _tag(tags, "service:")
    )
    incident = (
        fields.text("details_incident_id", required=False)
        or fields.text("details_incident", required=False)
        or _tag(tags, "incident:")
    )
    return AlertEvent(
        id=identifier,
        alert=name,
        service=service,
        created_at=created,
        acknowledged_at=acknowledged_at,
        resolved_at=resolved_at,
        auto_resolved=auto_resolved,
        incident_id=incident,
        priority=fields.text("priority", required=False),
        source=SOURCE,
        occurrences=count if count is not None and count >= 1 else 1,
    )
