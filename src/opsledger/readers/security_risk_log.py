"""SECURITY-RISK-LOG.csv: the security obligations handed over by Security Review.

One risk per row. Required columns: ``id``, ``title`` (or ``risk``), ``severity``,
``due_date`` and ``status``; optional: ``service``, ``owner``, ``likelihood`` and ``impact``
(1-5, or the words of the usual five-point risk matrix), ``reference`` (or ``cve``),
``compliance`` (frameworks separated by ``;`` or ``,``, e.g. ``SOC2;PCI-DSS``),
``category``, ``description`` and ``created``.

An empty severity means "not rated" and an empty due date "no deadline": both are findings
for later checks, not reading errors. Cells are kept as text exactly as written: a value
such as ``=HYPERLINK(...)`` is never evaluated (outputs escape it for spreadsheets).
"""

from __future__ import annotations

from pathlib import Path

from opsledger.core.problems import ReadResult
from opsledger.formats.csvrows import csv_rows
from opsledger.formats.fields import Fields
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import WorkItem

REQUIRED = ("id", "title", "severity", "due_date", "status")
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("risk_id", "key", "ref_id", "finding_id"),
    "title": ("risk", "summary", "name", "risk_title", "finding"),
    "service": ("service_name", "component", "system", "asset"),
    "owner": ("risk_owner", "assignee", "owned_by"),
    "severity": ("risk_level", "rating", "risk_rating"),
    "likelihood": ("probability",),
    "impact": ("consequence",),
    "due_date": ("due", "deadline", "target_date", "remediation_date", "due_by"),
    "status": ("state",),
    "reference": ("cve", "cve_id", "ref", "url", "ticket", "advisory"),
    "compliance": ("frameworks", "compliance_frameworks", "controls", "regulation"),
    "created": ("created_at", "raised", "identified", "date_identified", "opened"),
}
SOURCE = "security"
SCALE = "1-5, or rare/unlikely/possible/likely/almost certain"
# The five-point scales of a common risk matrix (ISO 31000 style), lowest first.
LIKELIHOOD_WORDS = {
    "rare": 1,
    "unlikely": 2,
    "possible": 3,
    "likely": 4,
    "almost_certain": 5,
    "very_unlikely": 1,
    "very_likely": 5,
    "certain": 5,
}
IMPACT_WORDS = {
    "insignificant": 1,
    "negligible": 1,
    "minor": 2,
    "moderate": 3,
    "major": 4,
    "severe": 5,
    "catastrophic": 5,
}


def read(path: Path) -> ReadResult[WorkItem]:
    """Return one :class:`WorkItem` (source ``security``) per row of the risk log."""
    result: ReadResult[WorkItem] = ReadResult(path, detected_format="csv")
    seen: dict[str, str] = {}
    for fields in csv_rows(path, result, REQUIRED, ALIASES):
        item = risk_from_fields(fields)
        if item is None or fields.problems:
            result.extend(fields.problems)
            continue
        if item.id in seen:
            result.quarantine(
                fields.locate("id"),
                f"duplicate risk id '{item.id}'",
                "each id once",
                f"also at {seen[item.id]}",
            )
            continue
        seen[item.id] = fields.locate("id").split(",")[0]
        result.records.append(item)
    return result


def risk_from_fields(fields: Fields) -> WorkItem | None:
    """Return the risk in one row, or ``None`` (with ``fields.problems`` saying why)."""
    item_id = fields.text("id")
    title = fields.text("title")
    severity = _severity(fields)
    status = _status(fields)
    due = fields.day("due_date", required=False)
    created = fields.day("created", required=False)
    likelihood = _scale(fields, "likelihood", LIKELIHOOD_WORDS)
    impact = _scale(fields, "impact", IMPACT_WORDS)
    if item_id is None or title is None or status is None or fields.problems:
        return None
    return WorkItem(
        id=item_id,
        title=title,
        source=SOURCE,
        service=fields.text("service", required=False),
        owner=fields.text("owner", required=False),
        severity=severity,
        status=status,
        due_date=due,
        impact=impact,
        likelihood=likelihood,
        category=fields.text("category", required=False),
        reference=fields.text("reference", required=False),
        compliance=tuple(fields.listing("compliance")),
        description=fields.text("description", required=False) or "",
        created=created,
    )


def _severity(fields: Fields) -> Severity | None:
    value = fields.raw("severity")
    if value is None:
        return None
    severity = Severity.parse(str(value))
    if severity is None:
        fields.bad(
            "severity",
            "'severity' is not a known severity",
            "critical, high, medium, low (or P1-P4, sev1-sev4)",
            value,
        )
    return severity


def _status(fields: Fields) -> ItemStatus | None:
    value = fields.raw("status")
    if value is None:
        return ItemStatus.OPEN  # a logged risk with no status has not been dealt with
    status = ItemStatus.parse(str(value))
    if status is None:
        fields.bad(
            "status",
            "'status' is not a known status",
            "open, in progress, blocked, done, risk accepted, won't do",
            value,
        )
    return status


def _scale(fields: Fields, name: str, words: dict[str, int]) -> float | None:
    value = fields.raw(name)
    if value is None:
        return None
    word = str(value).strip().lower().replace(" ", "_").replace("-", "_")
    if word in words:
        return float(words[word])
    try:
        number = float(str(value))
    except ValueError:
        number = float("nan")
    if not 1 <= number <= 5:  # also rejects NaN
        fields.bad(name, f"'{name}' is not on the 1-5 scale", SCALE, value)
        return None
    return number
