"""Incidents from an Opsgenie alert export (Alert API v2 ``GET /v2/alerts/{id}`` objects).

The file is ``{"data": [alert, ...]}`` (the list endpoint's shape) or a bare list. Per alert:

- id: ``tinyId`` (the short number people quote), else ``id``; title: ``message``;
- service: ``details.service``, else a ``service:NAME`` tag, else ``entity``;
- created: ``createdAt``; ``report.ackTime`` and ``report.closeTime`` are durations in
  milliseconds from creation, so acknowledged = created + ackTime and resolved = created +
  closeTime (only when ``status`` is ``closed``);
- severity: ``priority`` ``P1``..``P5`` through the priority map (``P1`` -> ``SEV1``);
- team: first ``teams[].name``; assignee: ``report.acknowledgedBy``, else ``owner``.

Opsgenie creates the alert when the monitor fires, so ``createdAt`` is the detection time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from opsledger.analysis.incident_policy import IncidentPolicy
from opsledger.model.incidents import Incident
from opsledger.problems import ReadResult, shown
from opsledger.readers.fields import Fields
from opsledger.readers.jsonrecords import json_items
from opsledger.readers.textfile import load_json

FORMAT = "opsgenie alerts json"
_POLICY = IncidentPolicy()


def read(path: Path) -> ReadResult[Incident]:
    """Return the alerts of an Opsgenie export as incidents."""
    result: ReadResult[Incident] = ReadResult(path, detected_format=FORMAT)
    data = load_json(path, result)
    if data is not None:
        read_data(path, data, result)
    return result


def looks_like(data: Any) -> bool:
    """Return True when a parsed document holds Opsgenie alerts."""
    rows = data.get("data") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        return False
    first = next((r for r in rows if isinstance(r, dict)), None)
    return first is not None and "createdAt" in first and ("message" in first or "tinyId" in first)


def read_data(
    path: Path, data: Any, result: ReadResult[Incident], policy: IncidentPolicy = _POLICY
) -> None:
    """Append the alerts of a parsed document to ``result`` as incidents."""
    if not isinstance(data, list | dict):
        result.fail(
            "$", "not an Opsgenie alert export", 'an object with "data": [...]', shown(data)
        )
        return
    for item in json_items(path, result, data, ["data", "alerts"]):
        incident = incident_from_fields(item.fields, policy)
        if incident is None:
            result.extend(item.fields.problems)
        else:
            result.records.append(incident)


def incident_from_fields(fields: Fields, policy: IncidentPolicy = _POLICY) -> Incident | None:
    """Return the incident of one alert object, or ``None`` with its problems recorded."""
    identifier = fields.text("tiny_id", required=False) or fields.text("id")
    title = fields.text("message", required=False, default="") or ""
    tags = fields.listing("tags")
    service = (
        fields.text("details_service", required=False)
        or _tagged_service(tags)
        or (fields.text("entity", required=False))
    )
    if service is None:
        fields.bad(
            "details",
            "no service for this alert",
            "details.service, a 'service:NAME' tag or entity",
            "none of them",
        )
    created = fields.timestamp("created_at")
    status_text = (fields.text("status", required=False) or "open").lower()
    if status_text not in ("open", "closed", "resolved"):
        fields.bad(
            "status", "'status' is not an Opsgenie alert status", "open or closed", status_text
        )
    ack_ms = fields.number("report_ack_time", required=False, minimum=0)
    close_ms = fields.number("report_close_time", required=False, minimum=0)
    acknowledged_flag = fields.boolean("acknowledged", required=False)
    priority = fields.text("priority", required=False) or "P3"  # Opsgenie's own default
    severity = policy.severity_for(priority, None)
    if severity is None:
        fields.bad(
            "priority",
            "priority is not in the priority map",
            ", ".join(sorted(policy.priority_severity)),
            priority,
        )
    acknowledged = resolved = None
    closed = status_text in ("closed", "resolved")
    # ackTime/closeTime are non-negative durations, so the timeline cannot run backwards.
    if created is not None:
        if ack_ms is not None:
            acknowledged = created + timedelta(milliseconds=ack_ms)
        if close_ms is not None and closed:
            resolved = created + timedelta(milliseconds=close_ms)
    if not fields.ok or None in (identifier, service, created, severity):
        return None
    assert identifier and service and created and severity
    if closed:
        status = "resolved"
    elif acknowledged is not None or acknowledged_flag:
        status = "acknowledged"
    else:
        status = "triggered"
    return Incident(
        id=identifier,
        title=title,
        service=service,
        severity=severity,
        status=status,
        created_at=created,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        detected_at=created,
        team=_first_team(fields.values.get("teams")),
        assignee=fields.text("report_acknowledged_by", required=False)
        or fields.text("owner", required=False),
        source="opsgenie",
        tags=tuple(tags),
        priority=priority,
    )


def _tagged_service(tags: list[str]) -> str | None:
    for tag in tags:
        key, sep, value = tag.partition(":")
        if sep and key.strip().lower() == "service" and value.strip():
            return value.strip()
    return None


def _first_team(teams: Any) -> str | None:
    if not isinstance(teams, list):
        return None
    for team in teams:
        if isinstance(team, Mapping) and team.get("name"):
            return str(team["name"])
    return None
