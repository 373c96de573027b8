"""Incidents from PagerDuty JSON: the REST API v2 incident list and the raw incident analytics.

REST API v2 (``GET /incidents``, saved page by page or merged): ``{"incidents": [...]}`` (a
single ``{"incident": {...}}`` is read too). Per incident:

- id: ``id`` (else ``incident_number``); title: ``title`` (else ``summary``/``description``);
- service: ``service.summary`` (else ``service.name``, ``service.id``);
- created: ``created_at``; acknowledged: the earliest ``acknowledgements[].at``;
  resolved: ``resolved_at`` where present, else ``last_status_change_at`` when ``status`` is
  ``resolved`` (the API empties ``acknowledgements`` and ``assignments`` on resolution, so
  a resolved incident usually has no acknowledgement time);
- status: ``status``, which wins over the timestamps: a ``triggered`` or ``acknowledged``
  incident carrying ``resolved_at`` is read as unresolved, and a ``resolved`` one without any
  resolution time stays out of MTTR, each with a warning;
- severity: ``priority.summary``/``priority.name`` through ``incidents.priority_severity``
  (``P1`` -> ``SEV1`` by default, see :mod:`opsledger.core.incident_policy`), else a
  severity spelling (``SEV-2``, ``P0``, ``Critical``; see
  :mod:`opsledger.readers.incident_fields`); any other priority falls back to ``urgency``
  (high -> SEV2, low -> SEV4) with a warning naming it;
- team: first ``teams[].summary``; assignee: first ``assignments[].assignee.summary``, else
  the first acknowledger; escalation policy: ``escalation_policy.summary``.

An incident merged into another (``resolve_reason.type`` ``merge_resolve_reason``, with the
surviving incident in ``resolve_reason.incident``) is not an incident of its own: PagerDuty
moved its alerts to the survivor, so it is left out and a warning lists each merge (and
whether the survivor is in the file). A response with ``"more": true`` is one page of the
list: a warning says that later pages are not in the file.

Raw incident analytics (``POST /analytics/raw/incidents``): ``{"data": [...]}`` with
``service_name``, ``team_name``, ``created_at``, ``resolved_at``, ``priority_name``,
``urgency``, ``major``, ``seconds_to_first_ack``, ``seconds_to_resolve``; acknowledgement
and resolution times are ``created_at`` plus those seconds when not given directly.

PagerDuty creates an incident when the first alert fires, so ``created_at`` is also the
detection time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.core.incident_policy import IncidentPolicy
from opsledger.core.problems import ReadResult, shown
from opsledger.formats.fields import Fields, parse_datetime, time_problem
from opsledger.formats.jsonrecords import json_items
from opsledger.formats.textfile import load_json
from opsledger.model.incidents import Incident
from opsledger.readers.incident_fields import (
    RecordNotes,
    normalise_severity,
    normalise_status,
    status_conflict,
    timeline_problem,
)

FORMAT_REST = "pagerduty rest incidents json"
FORMAT_ANALYTICS = "pagerduty analytics incidents json"
ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("summary",),
    "service_name": ("service_summary",),
    "priority_name": ("priority_summary",),
    "escalation_policy_name": ("escalation_policy_summary",),
}
_POLICY = IncidentPolicy()
MERGED = "merge_resolve_reason"


def read(path: Path) -> ReadResult[Incident]:
    """Return the incidents in a PagerDuty REST or analytics JSON export."""
    result: ReadResult[Incident] = ReadResult(path)
    data = load_json(path, result)
    if data is not None:
        read_data(path, data, result)
    return result


def kind_of(data: Any) -> str | None:
    """Return ``"rest"``, ``"analytics"`` or ``None`` for a parsed JSON document."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("incidents"), list) or isinstance(data.get("incident"), dict):
        return "rest"
    rows = data.get("data")
    if isinstance(rows, list):
        first = next((r for r in rows if isinstance(r, dict)), None)
        if first is None or ("service_name" in first or "seconds_to_resolve" in first):
            return "analytics"
    return None


def read_data(
    path: Path, data: Any, result: ReadResult[Incident], policy: IncidentPolicy = _POLICY
) -> None:
    """Append the incidents of a parsed document to ``result``."""
    kind = kind_of(data)
    if kind is None:
        result.fail(
            "$",
            "not a PagerDuty incident export",
            'an object with "incidents": [...] (REST API v2) or "data": [...] (analytics)',
            _describe(data),
        )
        return
    result.detected_format = FORMAT_REST if kind == "rest" else FORMAT_ANALYTICS
    if kind == "rest" and isinstance(data.get("incident"), dict):
        data = {"incidents": [data["incident"]]}
    list_key = "incidents" if kind == "rest" else "data"
    notes = RecordNotes()
    merges: list[tuple[str, str]] = []
    for item in json_items(path, result, data, [list_key], ALIASES):
        survivor = _merged_into(item.fields)
        if survivor is not None:
            merged = (item.fields.text("id", required=False)
                      or item.fields.text("incident_number", required=False)
                      or f"{list_key}[{item.index}]")
            merges.append((merged, survivor))
            continue
        incident = incident_from_fields(item.fields, policy, notes)
        if incident is None:
            result.extend(item.fields.problems)
        else:
            result.records.append(incident)
    present = {incident.id for incident in result.records}
    for merged, survivor in merges:
        where = "in this file" if survivor in present else "not in this file"
        notes.add(f"merged into another incident ({MERGED}; the survivor is {where}): "
                  "left out, so the merge counts once", f"{merged} into {survivor or '?'}")
    if data.get("more") is True:
        result.warn(
            "$.more",
            "one page of a longer list (more: true): the incidents of later pages are not "
            "in this file",
            "every page saved (offset and limit until more is false)",
            "true",
        )
    notes.flush(result)


def _merged_into(fields: Fields) -> str | None:
    """Return the id of the incident this one was merged into ('' when not named), or None."""
    if fields.text("resolve_reason_type", required=False) != MERGED:
        return None
    return (fields.text("resolve_reason_incident_id", required=False)
            or fields.text("resolve_reason_incident_summary", required=False) or "")


def incident_from_fields(
    fields: Fields, policy: IncidentPolicy = _POLICY, notes: RecordNotes | None = None
) -> Incident | None:
    """Return the incident of one export object, or ``None`` with its problems recorded."""
    notes = notes if notes is not None else RecordNotes()
    values = fields.values
    identifier = fields.text("id", required=False) or fields.text("incident_number")
    title = fields.text("title", required=False) or fields.text("description", required=False) or ""
    service = fields.text("service_name", required=False) or fields.text(
        "service_id", required=False
    )
    if service is None:
        fields.bad("service", "missing service", "service.summary or service_name", "nothing")
    created = fields.timestamp("created_at")
    status_text = fields.text("status", required=False)
    status = normalise_status(status_text)
    if status_text is not None and status is None:
        fields.bad(
            "status",
            "'status' is not a PagerDuty incident status",
            "triggered, acknowledged or resolved",
            status_text,
        )
    resolved = fields.timestamp("resolved_at", required=False)
    if resolved is None and status == "resolved":
        resolved = fields.timestamp("last_status_change_at", required=False)
    acknowledged = _first_time(fields, "acknowledgements")
    to_ack = fields.number("seconds_to_first_ack", required=False, minimum=0)
    to_resolve = fields.number("seconds_to_resolve", required=False, minimum=0)
    if created is not None:
        if acknowledged is None and to_ack is not None:
            acknowledged = fields.later("seconds_to_first_ack", created, to_ack)
        if resolved is None and to_resolve is not None:
            resolved = fields.later("seconds_to_resolve", created, to_resolve)
        clash = timeline_problem(created, acknowledged, resolved)
        if clash is not None:
            column, message, found = clash
            name = "acknowledgements" if column == "acknowledged" else "resolved_at"
            fields.bad(name, message, "a time at or after created_at", found)
    priority = fields.text("priority_name", required=False)
    urgency = fields.text("urgency", required=False)
    major = fields.boolean("major", required=False)
    severity = policy.severity_for(priority, None) if priority is not None else None
    if severity is None and priority is not None:
        severity = normalise_severity(priority)
    unmapped = priority if severity is None else None
    if severity is None:
        severity = policy.severity_for(None, urgency, major)
    if severity is None:
        if priority is not None:
            fields.bad(
                "priority_name",
                "priority is not in the priority map",
                ", ".join(sorted(policy.priority_severity)),
                priority,
            )
        else:
            fields.bad(
                "urgency",
                "no priority or known urgency for this incident",
                "a priority (P1..P5) or an urgency (high/low)",
                urgency or "nothing",
            )
    if not fields.ok or None in (identifier, service, created, severity):
        return None
    assert identifier and service and created and severity
    if unmapped is not None:
        notes.add(
            f"priority '{unmapped}' is not in incidents.priority_severity and is no severity "
            f"spelling: severity taken from urgency (or the major flag), unless the "
            f"workspace maps '{unmapped}'",
            identifier,
        )
    conflict = status_conflict(status, resolved, "resolved_at")
    if conflict is not None:
        notes.add(conflict, identifier)
        if status != "resolved":
            resolved = None
    reason = fields.text("resolve_reason_type", required=False)
    if reason is not None:
        notes.add(f"resolve_reason '{reason}' is not known: read as an ordinary resolution",
                  identifier)
    team = _first_summary(values.get("teams")) or fields.text("team_name", required=False)
    assignee = (
        _first_summary(values.get("assignments"), "assignee")
        or _first_summary(values.get("acknowledgements"), "acknowledger")
        or fields.text("assigned_user_names", required=False)
    )
    return Incident(
        id=identifier,
        title=title,
        service=service,
        severity=severity,
        status=status
        or ("resolved" if resolved else "acknowledged" if acknowledged else "triggered"),
        created_at=created,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        detected_at=created,
        team=team,
        urgency=urgency.lower() if urgency else None,
        escalation_policy=fields.text("escalation_policy_name", required=False),
        assignee=assignee,
        source="pagerduty",
        priority=priority,
    )


def _first_time(fields: Fields, name: str) -> datetime | None:
    """Return the earliest ``at`` of a list of acknowledgement objects."""
    entries = fields.values.get(name)
    if entries is None:
        return None
    if not isinstance(entries, list):
        fields.bad(name, f"'{name}' is not a list", "a list of objects with 'at'", entries)
        return None
    times = []
    for index, entry in enumerate(entries):
        at = entry.get("at") if isinstance(entry, Mapping) else None
        try:
            times.append(parse_datetime(str(at)))
        except (ValueError, OverflowError, OSError) as exc:
            message, expected = time_problem(f"'{name}[{index}].at'", exc)
            fields.bad(name, message, expected, at)
    return min(times) if times else None


def _first_summary(entries: Any, key: str | None = None) -> str | None:
    if not isinstance(entries, list):
        return None
    for entry in entries:
        target = entry.get(key) if key and isinstance(entry, Mapping) else entry
        if isinstance(target, Mapping):
            text = target.get("summary") or target.get("name")
            if text:
                return str(text)
        elif isinstance(target, str) and target.strip():
            return target.strip()
    return None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object with keys " + ", ".join(str(k) for k in list(value)[:8])
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return shown(value)
