"""Incidents from a PagerDuty incident CSV export.

PagerDuty has written incident CSVs with two header styles: the reports download
(``id, incident_number, description, service_name, escalation_policy_name, created_on,
resolved_on, seconds_to_first_ack, seconds_to_resolve, auto_resolved, urgency, ...``) and
the web app's incident list export in title case (``Incident ID, Incident Number, Title,
Description, Status, Urgency, Priority, Service Name, Escalation Policy, Teams, Assigned To,
Created On, Acknowledged On, Resolved On``). Headers are matched after normalisation
(``Created On`` = ``created_on``), so both styles and the API's ``created_at`` spellings
are read by one mapping:

- id: ``id`` / ``incident_id``, else ``incident_number``;
- title: ``title`` / ``summary``, else ``description``;
- service: ``service_name`` / ``service``; created: ``created_on`` / ``created_at``;
- acknowledged: ``acknowledged_on`` / ``first_acknowledged_on``, else created +
  ``seconds_to_first_ack``; resolved: ``resolved_on`` / ``resolved_at``, else created +
  ``seconds_to_resolve``;
- severity: a ``severity`` column (custom field) if present, else ``priority`` (``P1`` ->
  ``SEV1`` .. ``P5`` -> ``SEV5``), else ``urgency`` (high -> SEV2, low -> SEV4);
- ``auto_resolved = true`` means the incident closed without a responder
  (``oncall_intervention = False``);
- a ``status`` column wins over the timestamps: an open incident with a resolution time is
  read as unresolved, a resolved one without any stays out of MTTR, each with a warning.
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.csvrows import csv_rows
from opsledger.formats.fields import Fields
from opsledger.formats.textfile import load_text
from opsledger.model.incidents import Incident
from opsledger.readers.incident_fields import (
    URGENCY_SEVERITY,
    RecordNotes,
    implied_status,
    normalise_severity,
    normalise_status,
    status_conflict,
    timeline_problem,
)

FORMAT = "pagerduty incidents csv"
REQUIRED = ("service", "created")
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("incident_id",),
    "title": ("summary", "incident_title"),
    "service": ("service_name",),
    "created": ("created_on", "created_at", "triggered_on"),
    "acknowledged": ("acknowledged_on", "first_acknowledged_on", "acknowledged_at"),
    "resolved": ("resolved_on", "resolved_at"),
    "escalation_policy": ("escalation_policy_name",),
    "teams": ("team", "team_name", "team_names"),
    "assignee": ("assigned_to", "assigned_to_user_names", "assignees"),
    "priority": ("priority_name",),
}
# Header columns that only a PagerDuty export has, for sniffing a folder.
SIGNATURE = frozenset(
    {
        "created_on",
        "service_name",
        "incident_number",
        "seconds_to_resolve",
        "escalation_policy_name",
        "resolved_on",
    }
)


def read(path: Path) -> ReadResult[Incident]:
    """Return the incidents in a PagerDuty incident CSV export."""
    result: ReadResult[Incident] = ReadResult(path, detected_format=FORMAT)
    text = load_text(path, result)
    if text is not None:
        read_text(path, text, result)
    return result


def read_text(path: Path, text: str, result: ReadResult[Incident]) -> None:
    """Append the incidents of ``text`` (the file's content) to ``result``."""
    first = True
    notes = RecordNotes()
    for fields in csv_rows(path, result, REQUIRED, ALIASES, text=text):
        if first:
            first = False
            if "id" not in fields.values and "incident_number" not in fields.values:
                result.fail(
                    "line 1",
                    "missing required column id",
                    "an id, Incident ID or incident_number column",
                    "header " + ", ".join(fields.values),
                )
                return
        incident = incident_from_fields(fields, notes)
        if incident is None:
            result.extend(fields.problems)
        else:
            result.records.append(incident)
    notes.flush(result, "")


def _severity(fields: Fields) -> str | None:
    for column in ("severity", "priority"):
        text = fields.text(column, required=False)
        if text is not None:
            severity = normalise_severity(text)
            if severity is None:
                fields.bad(
                    column,
                    f"'{column}' is not a known severity or priority",
                    "P1..P5, SEV1..SEV5 or critical/high/medium/low",
                    text,
                )
            return severity
    urgency = fields.text("urgency", required=False)
    if urgency is None:
        fields.bad(
            "urgency",
            "no severity, priority or urgency for this incident",
            "a priority (P1..P5) or an urgency (high/low)",
            "empty cells",
        )
        return None
    severity = URGENCY_SEVERITY.get(urgency.lower())
    if severity is None:
        fields.bad("urgency", "'urgency' is not high or low", "high or low", urgency)
    return severity


def incident_from_fields(fields: Fields, notes: RecordNotes | None = None) -> Incident | None:
    """Return the incident in one export row, or ``None`` with the row's problems recorded."""
    identifier = fields.text("id" if "id" in fields.values else "incident_number")
    title = fields.text("title", required=False) or fields.text(
        "description", required=False, default=""
    )
    service = fields.text("service")
    severity = _severity(fields)
    created = fields.timestamp("created")
    acknowledged = fields.timestamp("acknowledged", required=False)
    resolved = fields.timestamp("resolved", required=False)
    to_ack = fields.number("seconds_to_first_ack", required=False, minimum=0)
    to_resolve = fields.number("seconds_to_resolve", required=False, minimum=0)
    status_text = fields.text("status", required=False)
    status = normalise_status(status_text)
    if status_text is not None and status is None:
        fields.bad(
            "status",
            "'status' is not a known incident status",
            "triggered, acknowledged or resolved",
            status_text,
        )
    auto_resolved = fields.boolean("auto_resolved", required=False)
    if created is not None:
        if acknowledged is None and to_ack is not None:
            acknowledged = fields.later("seconds_to_first_ack", created, to_ack)
        if resolved is None and to_resolve is not None:
            resolved = fields.later("seconds_to_resolve", created, to_resolve)
        clash = timeline_problem(created, acknowledged, resolved)
        if clash is not None:
            column, message, found = clash
            fields.bad(column, message, "a time at or after the creation time", found)
    if not fields.ok or None in (identifier, service, severity, created):
        return None
    assert identifier and service and severity and created
    conflict = status_conflict(status, resolved, "resolved_on")
    if conflict is not None:
        (notes if notes is not None else RecordNotes()).add(conflict, identifier)
        if status != "resolved":
            resolved = None
    teams = fields.listing("teams")
    urgency = fields.text("urgency", required=False)
    return Incident(
        id=identifier,
        title=title or "",
        service=service,
        severity=severity,
        status=status or implied_status(acknowledged, resolved),
        created_at=created,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        # PagerDuty creates the incident when the alert fires: that is detection time.
        detected_at=created,
        team=teams[0] if teams else None,
        urgency=urgency.lower() if urgency else None,
        escalation_policy=fields.text("escalation_policy", required=False),
        assignee=fields.text("assignee", required=False)
        or fields.text("resolved_by_user_name", required=False),
        source="pagerduty",
        oncall_intervention=not auto_resolved if auto_resolved is not None else True,
    )
