"""Field types shared by the backlog-like registers: severity, status, effort, scores."""

from __future__ import annotations

import re

from opsledger.formats.fields import Fields
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import WorkItem

_EFFORT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|hr|hrs|hours?|d|days?|pd|w|wk|weeks?)?\s*$", re.I)
# A working day is 8 hours and a working week 5 days.
_EFFORT_DAYS = {"h": 1 / 8, "d": 1.0, "p": 1.0, "w": 5.0}
SEVERITY_WORDS = "critical, high, medium, low (or P0-P4, SEV1-SEV5)"
STATUS_WORDS = "open, in progress, blocked, done, won't do (or todo, closed, resolved...)"


def severity(fields: Fields, name: str) -> Severity | None:
    """Return the severity band, ``None`` when blank; an unknown word is a field problem."""
    value = fields.raw(name)
    if value is None:
        return None
    parsed = Severity.parse(str(value))
    if parsed is None:
        fields.bad(name, f"'{name}' is not a known severity", SEVERITY_WORDS, value)
    return parsed


def status(fields: Fields, name: str, default: ItemStatus = ItemStatus.OPEN) -> ItemStatus:
    """Return the item status, ``default`` when blank; an unknown word is a field problem."""
    value = fields.raw(name)
    if value is None:
        return default
    parsed = ItemStatus.parse(str(value))
    if parsed is None:
        fields.bad(name, f"'{name}' is not a known status", STATUS_WORDS, value)
        return default
    return parsed


def effort_days(fields: Fields, name: str) -> float | None:
    """Return effort in working days from ``3``, ``3d``, ``2 days``, ``4h`` or ``1w``."""
    value = fields.raw(name)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number, unit = float(value), "d"
    else:
        match = _EFFORT.match(str(value))
        if not match:
            fields.bad(name, f"'{name}' is not an effort", "days, or a number with h/d/w", value)
            return None
        number, unit = float(match.group(1)), (match.group(2) or "d")[0].lower()
    if number < 0:
        fields.bad(name, f"'{name}' is negative", "a non-negative effort", value)
        return None
    return number * _EFFORT_DAYS[unit]


def score(fields: Fields, name: str) -> float | None:
    """Return an impact or likelihood score on the 1-5 scale."""
    return fields.number(name, required=False, minimum=1, maximum=5)


def fraction(fields: Fields, name: str) -> float | None:
    """Return an availability as a fraction from ``0.999``, ``99.9`` or ``99.9%``."""
    value = fields.raw(name)
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip()
    number = Fields(fields.path, {name: value}, fields.locate).number(name, required=False)
    if number is None:
        if value is not None:
            fields.bad(name, f"'{name}' is not an availability", "0-1 or a percentage", value)
        return None
    # Rounded so that "99.9" gives 0.999 rather than 0.9990000000000001.
    share = round(number / 100, 12) if number > 1 else number
    if not 0 < share <= 1:
        fields.bad(name, f"'{name}' is not an availability", "0-1 or a percentage", value)
        return None
    return share


# Spellings of the work-item fields shared by the tech-debt register and performance backlog.
WORK_ITEM_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("key", "ref", "item_id", "debt_id", "td_id", "perf_id", "ticket_id", "no", "number"),
    "title": ("item", "summary", "name", "debt", "debt_item", "issue", "task"),
    "service": ("service_name", "component", "system", "area", "services"),
    "owner": ("assignee", "assigned_to", "responsible", "dri"),
    "severity": ("priority", "risk", "rating", "sev", "criticality"),
    "status": ("state",),
    "due_date": ("due", "deadline", "target_date", "due_by", "target"),
    "effort": ("effort_days", "estimate", "estimate_days", "effort_estimate", "size", "cost_days"),
    "impact": ("impact_score", "business_impact"),
    "likelihood": ("likelihood_score", "probability"),
    "category": ("type", "kind", "debt_type"),
    "reference": ("link", "url", "ticket", "issue_link", "jira"),
    "compliance": ("compliance_tags", "regulations", "controls"),
    "description": ("details", "notes", "note", "comment", "comments", "rationale"),
    "reach": ("requests_per_month", "users_affected", "affected_requests"),
    "created": ("created_at", "created_on", "added", "opened", "logged", "date_added", "raised"),
    "endpoint": ("route", "operation", "api", "url_path"),
}


def work_item(fields: Fields, source: str, default_id: str, description: str = "") -> WorkItem:
    """Return the work item described by ``fields`` (check ``fields.problems`` afterwards)."""
    return WorkItem(
        id=fields.text("id", required=False) or default_id,
        title=fields.text("title") or "",
        source=source,
        service=fields.text("service", required=False),
        owner=fields.text("owner", required=False),
        severity=severity(fields, "severity"),
        status=status(fields, "status"),
        due_date=fields.day("due_date", required=False),
        effort_days=effort_days(fields, "effort"),
        impact=score(fields, "impact"),
        likelihood=score(fields, "likelihood"),
        category=fields.text("category", required=False),
        reference=fields.text("reference", required=False),
        compliance=tuple(fields.listing("compliance")),
        description=fields.text("description", required=False) or description,
        reach=fields.number("reach", required=False, minimum=0),
        created=fields.day("created", required=False),
        endpoint=fields.text("endpoint", required=False),
    )
