"""PagerDuty alert history as JSON, from the REST API v2 (saved responses).

Accepted shapes (one file may hold several lists):

- ``{"alerts": [...]}`` — ``GET /incidents/{id}/alerts`` or ``GET /alerts``: each alert has
  ``id``, ``summary``, ``created_at``, ``status`` (triggered/resolved), ``alert_key``,
  ``severity`` (critical/error/warning/info), ``service`` and ``incident`` references, and
  ``body.details`` (the event's custom details; ``alertname`` names the rule when the
  event came from Prometheus Alertmanager);
- ``{"incidents": [...]}`` — ``GET /incidents``, when no alert list is exported: each
  incident (by ``id``, else ``incident_number``) is one firing named by its ``title``, with
  ``acknowledgements[].at``, ``resolved_at`` or ``last_status_change_at``,
  ``priority.summary`` and ``urgency``; an incident merged into another still paged once,
  so it stays a firing;
- ``"log_entries": [...]`` next to either — ``GET /log_entries``: ``acknowledge_log_entry``
  and ``resolve_log_entry`` entries give acknowledgement and resolution times per incident,
  and the resolving ``agent.type`` says whether a person (``user_reference``) or the
  monitoring integration resolved it (auto-resolve).

A response with ``"more": true`` is one page of a longer list: a warning says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.formats.fields import Fields, parse_datetime, time_problem
from opsledger.formats.jsonrecords import json_items
from opsledger.formats.textfile import json_path, load_json
from opsledger.model.incidents import AlertEvent

FORMAT = "pagerduty-alerts-json"
SOURCE = "pagerduty"
_FIRING_PREFIX = re.compile(r"^\s*\[(FIRING|RESOLVED)(:\d+)?\]\s*", re.IGNORECASE)
PERSON_AGENTS = frozenset({"user_reference", "user"})


@dataclass
class _Lifecycle:
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    auto_resolved: bool | None = None


def read(path: Path) -> ReadResult[AlertEvent]:
    """Return the alert firings in a PagerDuty JSON export."""
    result: ReadResult[AlertEvent] = ReadResult(path, detected_format=FORMAT)
    data = load_json(path, result)
    if data is None:
        return result
    return read_data(path, data, result)


def looks_like(data: Any) -> bool:
    """Return True when ``data`` has PagerDuty's snake_case alert or incident lists."""
    if not isinstance(data, dict):
        return False
    for key in ("alerts", "incidents"):
        items = data.get(key)
        if isinstance(items, list) and not items:
            return True  # an export of a quiet period
        if isinstance(items, list) and isinstance(items[0], dict):
            first = items[0]
            return "created_at" in first or first.get("type") in ("alert", "incident")
    return False


def read_data(path: Path, data: Any, result: ReadResult[AlertEvent]) -> ReadResult[AlertEvent]:
    lifecycles = _lifecycles(data, result) if isinstance(data, dict) else {}
    has_alerts = isinstance(data, dict) and isinstance(data.get("alerts"), list)
    keys = ["alerts"] if has_alerts else ["incidents"]
    seen: set[str] = set()
    for item in json_items(path, result, data, keys):
        event = (
            _alert(item.fields, lifecycles) if has_alerts else _incident(item.fields, lifecycles)
        )
        if event is None or not item.fields.ok:
            result.extend(item.fields.problems)
            continue
        if event.id in seen:
            result.warn(
                json_path(item.list_key, item.index, "id"),
                f"alert {event.id} appears twice; the first is kept",
            )
            continue
        seen.add(event.id)
        result.records.append(event)
    if isinstance(data, dict) and data.get("more") is True:
        result.warn(
            "$.more",
            "one page of a longer list (more: true): the firings of later pages are not in "
            "this file",
            "every page saved (offset and limit until more is false)",
            "true",
        )
    return result


def _lifecycles(data: dict[str, Any], result: ReadResult[AlertEvent]) -> dict[str, _Lifecycle]:
    """Return acknowledgement and resolution per incident id from ``log_entries``."""
    entries = data.get("log_entries")
    found: dict[str, _Lifecycle] = {}
    if not isinstance(entries, list):
        return found
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        kind = str(entry.get("type", ""))
        incident = entry.get("incident")
        incident_id = incident.get("id") if isinstance(incident, dict) else None
        if kind not in ("acknowledge_log_entry", "resolve_log_entry") or not incident_id:
            continue
        try:
            at = parse_datetime(str(entry.get("created_at", "")))
        except (ValueError, OverflowError) as exc:
            message, expected = time_problem("log entry time", exc)
            result.quarantine(
                json_path("log_entries", index, "created_at"),
                message,
                expected,
                str(entry.get("created_at")),
            )
            continue
        life = found.setdefault(str(incident_id), _Lifecycle())
        if kind == "acknowledge_log_entry":
            if life.acknowledged_at is None or at < life.acknowledged_at:
                life.acknowledged_at = at
        else:
            agent = entry.get("agent")
            agent_type = agent.get("type") if isinstance(agent, dict) else None
            life.resolved_at = at
            life.auto_resolved = None if agent_type is None else agent_type not in PERSON_AGENTS
    return found


def _alert_name(fields: Fields, summary: str | None) -> str | None:
    for key in (
        "body_details_alertname",
        "body_details_alert_name",
        "body_cef_details_event_class",
    ):
        value = fields.raw(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if summary is None:
        return None
    return _FIRING_PREFIX.sub("", summary).strip() or summary


def _alert(fields: Fields, lifecycles: dict[str, _Lifecycle]) -> AlertEvent | None:
    identifier = fields.text("id")
    created = fields.timestamp("created_at")
    summary = fields.text("summary", required=False)
    name = _alert_name(fields, summary)
    if name is None:
        fields.bad("summary", "alert has no name", "a summary or body.details.alertname")
    incident_id = fields.text("incident_id", required=False)
    life = lifecycles.get(incident_id or "", _Lifecycle())
    # A resolution time comes from the alert itself or from its incident's log entries.
    resolved = fields.timestamp("resolved_at", required=False) or life.resolved_at
    acknowledged = fields.timestamp("acknowledged_at", required=False) or life.acknowledged_at
    if identifier is None or created is None or name is None:
        return None
    if resolved is not None and resolved < created:
        fields.bad(
            "resolved_at",
            "alert resolved before it was created",
            f"a time after {created.isoformat()}",
            resolved.isoformat(),
        )
        return None
    return AlertEvent(
        id=identifier,
        alert=name,
        service=fields.text("service_summary", required=False),
        created_at=created,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        auto_resolved=life.auto_resolved,
        incident_id=incident_id,
        priority=fields.text("severity", required=False),
        source=SOURCE,
    )


def _incident(fields: Fields, lifecycles: dict[str, _Lifecycle]) -> AlertEvent | None:
    identifier = fields.text("id", required=False) or fields.text("incident_number")
    created = fields.timestamp("created_at")
    title = fields.text("title", required=False) or fields.text("summary", required=False)
    if title is None:
        fields.bad("title", "incident has no title", "a title or summary")
    life = lifecycles.get(identifier or "", _Lifecycle())
    acknowledged = life.acknowledged_at
    acks = fields.raw("acknowledgements")
    if acknowledged is None and isinstance(acks, list):
        times = []
        for ack in acks:
            at = ack.get("at") if isinstance(ack, dict) else None
            try:
                times.append(parse_datetime(str(at)))
            except (ValueError, OverflowError) as exc:
                message, expected = time_problem("acknowledgement time", exc)
                fields.bad("acknowledgements", message, expected, at)
        acknowledged = min(times, default=None)
    status = (fields.text("status", required=False) or "").lower()
    resolved = fields.timestamp("resolved_at", required=False) or life.resolved_at
    if resolved is None and status == "resolved":
        resolved = fields.timestamp("last_status_change_at", required=False)
    if identifier is None or created is None or title is None:
        return None
    priority = fields.text("priority_summary", required=False) or fields.text(
        "urgency", required=False
    )
    return AlertEvent(
        id=identifier,
        alert=_FIRING_PREFIX.sub("", title).strip() or title,
        service=fields.text("service_summary", required=False),
        created_at=created,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        auto_resolved=life.auto_resolved,
        incident_id=identifier,
        priority=priority,
        source=SOURCE,
    )
