"""operational-handover-record.json: who owns each service after handover, under which SLA.

The native schema is documented in ``docs/formats.md`` (handover section). A service with no
owner is kept with ``owner=None``: an unclear assignment is what the intake check looks for,
not a reading error.
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.fields import Fields
from opsledger.formats.itemfields import fraction
from opsledger.formats.jsonrecords import json_items
from opsledger.formats.textfile import load_json
from opsledger.model.handover import OwnershipAssignment

LIST_KEYS = ("services", "assignments", "ownership", "handover", "records", "items")
ALIASES = {
    "service": ("name", "service_name", "component"),
    "owner": ("owner_name", "primary_owner", "assigned_to", "assignee", "service_owner"),
    "team": ("owner_team", "owning_team", "support_team", "group"),
    "escalation_contact": ("escalation", "escalation_owner", "secondary", "secondary_owner"),
    "support_hours": ("hours", "coverage", "support_coverage", "sla_support_hours"),
    "response_minutes": (
        "sla_response_minutes",
        "response_sla_minutes",
        "response_time_minutes",
        "sla_response_time_minutes",
        "sla_response",
        "response_sla",
        "response_time",
    ),
    "resolution_hours": (
        "sla_resolution_hours",
        "resolution_sla_hours",
        "resolution_time_hours",
        "sla_resolution_time_hours",
        "sla_resolution",
        "resolution_sla",
        "resolution_time",
    ),
    "availability": (
        "sla_availability",
        "availability_sla",
        "availability_target",
        "sla_availability_target",
        "uptime",
        "sla_uptime",
    ),
}


def read(path: Path) -> ReadResult[OwnershipAssignment]:
    """Return one ownership assignment per service in the handover record."""
    result: ReadResult[OwnershipAssignment] = ReadResult(path, detected_format="handover-json")
    data = load_json(path, result)
    if result.fatal:
        return result
    seen: set[str] = set()
    for item in json_items(path, result, data, LIST_KEYS, ALIASES):
        fields = item.fields
        service = fields.text("service")
        assignment = OwnershipAssignment(
            service=service or "",
            owner=fields.text("owner", required=False),
            team=fields.text("team", required=False),
            escalation_contact=fields.text("escalation_contact", required=False),
            support_hours=fields.text("support_hours", required=False),
            response_sla_minutes=_in_unit(fields, "response_minutes", 60.0),
            resolution_sla_hours=_in_unit(fields, "resolution_hours", 3600.0),
            availability_sla=fraction(fields, "availability"),
        )
        if fields.problems:
            result.extend(fields.problems)
            continue
        if assignment.service in seen:
            result.warn(
                fields.locate("service"),
                f"service '{assignment.service}' is assigned more than once; both kept",
            )
        seen.add(assignment.service)
        result.records.append(assignment)
    return result


def _in_unit(fields: Fields, name: str, unit_seconds: float) -> float | None:
    """Return a plain number as is (already in the field's unit) or a duration converted."""
    value = fields.raw(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return fields.number(name, required=False, minimum=0)
    text = str(value).strip()
    try:
        float(text)
    except ValueError:
        seconds = fields.duration(name, required=False)
        return None if seconds is None else seconds / unit_seconds
    return fields.number(name, required=False, minimum=0)
