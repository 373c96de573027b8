"""Incidents from the native CSV (documented in ``docs/formats.md``).

Columns (header names matched loosely: ``Created At`` = ``created_at``):
``id, title, service, severity, created_at`` are required; ``status, acknowledged_at,
resolved_at, detected_at, started_at, team, urgency, escalation_policy, assignee,
postmortem_required, data_loss, oncall_intervention, tags`` are optional. Severity is
normalised to ``SEV1``..``SEV5`` (see :mod:`opsledger.readers.incident_fields`). A
``status`` wins over the timestamps: an open incident with ``resolved_at`` is read as
unresolved, a resolved one without it stays out of MTTR, each with a warning.
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.csvrows import csv_rows
from opsledger.formats.fields import Fields
from opsledger.formats.textfile import load_text
from opsledger.model.incidents import Incident
from opsledger.readers.incident_fields import (
    RecordNotes,
    implied_status,
    normalise_severity,
    normalise_status,
    status_conflict,
    timeline_problem,
)

FORMAT = "native incidents csv"
REQUIRED = ("id", "title", "service", "severity", "created_at")
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("incident_id",),
    "created_at": ("created", "opened_at"),
    "acknowledged_at": ("acked_at", "ack_at"),
    "resolved_at": ("closed_at",),
    "started_at": ("impact_start", "impact_started_at"),
    "assignee": ("responder", "commander", "incident_commander"),
    "escalation_policy": ("escalation",),
    "severity": ("sev",),
}
# Header columns that mark a file as a native incident CSV when sniffing a folder.
SIGNATURE = frozenset({"id", "severity", "created_at"})


def read(path: Path) -> ReadResult[Incident]:
    """Return the incidents in a native incident CSV."""
    result: ReadResult[Incident] = ReadResult(path, detected_format=FORMAT)
    text = load_text(path, result)
    if text is not None:
        read_text(path, text, result)
    return result


def read_text(path: Path, text: str, result: ReadResult[Incident]) -> None:
    """Append the incidents of ``text`` (the file's content) to ``result``."""
    notes = RecordNotes()
    for fields in csv_rows(path, result, REQUIRED, ALIASES, text=text):
        incident = incident_from_fields(fields, notes)
        if incident is None:
            result.extend(fields.problems)
        else:
            result.records.append(incident)
    notes.flush(result, "")


def incident_from_fields(fields: Fields, notes: RecordNotes | None = None) -> Incident | None:
    """Return the incident in one native row, or ``None`` with the row's problems recorded."""
    identifier = fields.text("id")
    title = fields.text("title")
    service = fields.text("service")
    severity_text = fields.text("severity")
    severity = normalise_severity(severity_text)
    if severity_text is not None and severity is None:
        fields.bad(
            "severity",
            "'severity' is not a known severity",
            "SEV1..SEV5, P1..P5 or critical/high/medium/low/info",
            severity_text,
        )
    created = fields.timestamp("created_at")
    acknowledged = fields.timestamp("acknowledged_at", required=False)
    resolved = fields.timestamp("resolved_at", required=False)
    detected = fields.timestamp("detected_at", required=False)
    started = fields.timestamp("started_at", required=False)
    status_text = fields.text("status", required=False)
    status = normalise_status(status_text)
    if status_text is not None and status is None:
        fields.bad(
            "status",
            "'status' is not a known incident status",
            "triggered, acknowledged or resolved",
            status_text,
        )
    postmortem = fields.boolean("postmortem_required", required=False)
    data_loss = fields.boolean("data_loss", required=False)
    intervention = fields.boolean("oncall_intervention", required=False)
    if created is not None:
        clash = timeline_problem(created, acknowledged, resolved)
        if clash is not None:
            column, message, found = clash
            fields.bad(f"{column}_at", message, "a time at or after created_at", found)
    if not fields.ok or None in (identifier, title, service, severity, created):
        return None
    assert identifier and title is not None and service and severity and created
    conflict = status_conflict(status, resolved, "resolved_at")
    if conflict is not None:
        (notes if notes is not None else RecordNotes()).add(conflict, identifier)
        if status != "resolved":
            resolved = None
    return Incident(
        id=identifier,
        title=title,
        service=service,
        severity=severity,
        status=status or implied_status(acknowledged, resolved),
        created_at=created,
        acknowledged_at=acknowledged,
        resolved_at=resolved,
        detected_at=detected,
        started_at=started,
        team=fields.text("team", required=False),
        urgency=(fields.text("urgency", required=False) or "").lower() or None,
        escalation_policy=fields.text("escalation_policy", required=False),
        assignee=fields.text("assignee", required=False),
        source="native",
        postmortem_required=postmortem,
        data_loss=bool(data_loss),
        oncall_intervention=True if intervention is None else intervention,
        tags=tuple(fields.listing("tags")),
    )
