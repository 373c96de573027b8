"""Incidents from Opsgenie alerts (Alert API v2).

Accepted: the List Alerts response ``{"data": [alert, ...]}`` (``GET /v2/alerts``), a bare
list of alerts, and the Get Alert response ``{"data": {alert}}`` (``GET /v2/alerts/{id}``).
A response of the Incident API (``GET /v1/incidents``, whose objects carry
``impactedServices`` and ``impactStartDate``) is refused by name. Per alert:

- id: ``tinyId`` (the short number people quote), else ``id``; title: ``message``;
- service: ``details.service``, else a ``service:NAME`` tag, else ``entity`` (``details`` and
  ``entity`` come only with Get Alert). An alert naming none is kept under
  ``(unknown service)``, where ``incidents.service_mapping`` can place it by one of its tags,
  teams (``teams[].name``/``id``, ``ownerTeamId``), responders (``responders[].name``/``id``)
  or its ``alias`` (by prefix); one warning per file lists such alerts;
- created: ``createdAt``; ``report.ackTime`` and ``report.closeTime`` are durations in
  milliseconds from creation, so acknowledged = created + ackTime and resolved = created +
  closeTime (only when ``status`` is ``closed``); a closed alert without ``closeTime`` stays
  out of MTTR and one acknowledged without ``ackTime`` out of MTTA, each with a warning;
- severity: ``priority`` ``P1``..``P5`` through the priority map (``P1`` -> ``SEV1``);
- team: first ``teams[].name``; assignee: ``report.acknowledgedBy``, else ``owner``.

A List Alerts response with ``paging.next`` is one page of a longer list: a warning says
that the alerts of later pages are not in the file. Opsgenie creates the alert when the
monitor fires, so ``createdAt`` is the detection time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opsledger.core.incident_policy import IncidentPolicy
from opsledger.core.problems import ReadResult, shown
from opsledger.formats.fields import Fields
from opsledger.formats.jsonrecords import flatten, json_items
from opsledger.formats.textfile import load_json
from opsledger.model.incidents import UNKNOWN_SERVICE, Incident
from opsledger.readers.incident_fields import RecordNotes

FORMAT = "opsgenie alerts json"
_POLICY = IncidentPolicy()


def read(path: Path) -> ReadResult[Incident]:
    """Return the alerts of an Opsgenie export as incidents."""
    result: ReadResult[Incident] = ReadResult(path, detected_format=FORMAT)
    data = load_json(path, result)
    if data is not None:
        read_data(path, data, result)
    return result


def _first_object(data: Any) -> dict[str, Any] | None:
    """Return the first alert-like object of a response (list, ``data`` list or object)."""
    rows = data.get("data") if isinstance(data, dict) else data
    if isinstance(rows, dict):
        return rows
    if isinstance(rows, list):
        return next((r for r in rows if isinstance(r, dict)), None)
    return None


def looks_like(data: Any) -> bool:
    """Return True when a parsed document holds Opsgenie alerts (a list or one alert)."""
    first = _first_object(data)
    return first is not None and "createdAt" in first and ("message" in first or "tinyId" in first)


def is_incident_api(data: Any) -> bool:
    """Return True for a response of Opsgenie's Incident API rather than its Alert API."""
    first = _first_object(data)
    return first is not None and ("impactedServices" in first or "impactStartDate" in first)


INCIDENT_API_REFUSED = (
    "an Opsgenie Incident API response (GET /v1/incidents) is not read: it has no "
    "acknowledgement or resolution times"
)
ALERTS_EXPECTED = 'Opsgenie alerts: GET /v2/alerts {"data": [...]} or GET /v2/alerts/{id}'


def single_alert(path: Path, data: Any) -> Fields | None:
    """Return the fields of a Get Alert response ``{"data": {...}}``, else ``None``."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), dict):
        return None
    flat, origin = flatten(data["data"], None)
    return Fields(str(path), flat, lambda name: "$.data." + origin.get(name, name))


def warn_if_partial(data: Any, result: ReadResult[Any], what: str = "alerts") -> None:
    """Warn when a List Alerts response is one page of a longer list (``paging.next``)."""
    paging = data.get("paging") if isinstance(data, dict) else None
    following = paging.get("next") if isinstance(paging, dict) else None
    if following:
        result.warn(
            "$.paging.next",
            f"one page of a longer list: the {what} of later pages are not in this file",
            "every page saved (follow paging.next until it is absent)",
            shown(following),
        )


def read_data(
    path: Path, data: Any, result: ReadResult[Incident], policy: IncidentPolicy = _POLICY
) -> None:
    """Append the alerts of a parsed document to ``result`` as incidents."""
    if not isinstance(data, list | dict):
        result.fail(
            "$", "not an Opsgenie alert export", 'an object with "data": [...]', shown(data)
        )
        return
    if is_incident_api(data):
        result.fail("$", INCIDENT_API_REFUSED, ALERTS_EXPECTED, "objects with impactedServices")
        return
    notes = RecordNotes("alert")
    one = single_alert(path, data)
    every = [one] if one is not None else [
        item.fields for item in json_items(path, result, data, ["data", "alerts"])
    ]
    for fields in every:
        incident = incident_from_fields(fields, policy, notes)
        if incident is None:
            result.extend(fields.problems)
        else:
            result.records.append(incident)
    warn_if_partial(data, result)
    notes.flush(result)


def incident_from_fields(
    fields: Fields, policy: IncidentPolicy = _POLICY, notes: RecordNotes | None = None
) -> Incident | None:
    """Return the incident of one alert object, or ``None`` with its problems recorded."""
    notes = notes if notes is not None else RecordNotes("alert")
    identifier = fields.text("tiny_id", required=False) or fields.text("id")
    title = fields.text("message", required=False, default="") or ""
    tags = fields.listing("tags")
    service = (
        fields.text("details_service", required=False)
        or _tagged_service(tags)
        or (fields.text("entity", required=False))
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
            acknowledged = fields.later("report_ack_time", created, ack_ms / 1000)
        if close_ms is not None and closed:
            resolved = fields.later("report_close_time", created, close_ms / 1000)
    if not fields.ok or None in (identifier, created, severity):
        return None
    assert identifier and created and severity
    if closed:
        status = "resolved"
    elif acknowledged is not None or acknowledged_flag:
        status = "acknowledged"
    else:
        status = "triggered"
    if service is None:
        service = UNKNOWN_SERVICE
        notes.add(
            f"no service named (details.service, a 'service:NAME' tag or entity): counted "
            f"under '{UNKNOWN_SERVICE}' unless incidents.service_mapping maps one of its "
            "tags, teams, responders or its alias",
            identifier,
        )
    if closed and close_ms is None:
        notes.add("closed without report.closeTime: left out of MTTR", identifier)
    if acknowledged is None and acknowledged_flag:
        notes.add("acknowledged without report.ackTime: left out of MTTA", identifier)
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
        service_keys=_service_keys(fields, tags),
    )


def _service_keys(fields: Fields, tags: list[str]) -> tuple[str, ...]:
    """Return the tags, teams, responders and alias of an alert as service-mapping keys."""
    keys = [f"tag:{tag}" for tag in tags]
    for entry in _objects(fields.values.get("teams")):
        keys += [f"team:{entry[k]}" for k in ("name", "id") if _filled(entry.get(k))]
    owner_team = fields.text("owner_team_id", required=False)
    if owner_team:
        keys.append(f"team:{owner_team}")
    for entry in _objects(fields.values.get("responders")):
        keys += [f"responder:{entry[k]}" for k in ("name", "username", "id")
                 if _filled(entry.get(k))]
    alias = fields.text("alias", required=False)
    if alias:
        keys.append(f"alias:{alias}")
    return tuple(dict.fromkeys(keys))


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _filled(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip() != ""


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
