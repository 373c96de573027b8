"""A prefilled postmortem draft for an incident that lacks one.

The draft is Markdown with YAML front matter that the postmortem reader accepts (incident
id, title, service, severity, date, status ``draft``), a timeline built from the incident
record, the impact (duration, and the error budget consumed when known), empty sections
for the authors to fill, and the header of the action-item table.
"""

from __future__ import annotations

import re
from datetime import datetime

import yaml

from opsledger.incidents.postmortems import PostmortemCheck
from opsledger.render.sections import md_escape

SECTIONS_TO_FILL = (
    ("Summary", "What happened, in two or three sentences."),
    ("Root cause", "The chain of causes; why the safeguards did not stop it."),
    ("Detection", "How we found out; how it could have been sooner."),
    ("Response", "What the responders did; what helped and what slowed them."),
    ("Lessons learned", "What went well, what went wrong, where we got lucky."),
)
ACTION_HEADER = (
    "| ID | Action | Owner | Due | Priority | Status | Kind |\n"
    "| --- | --- | --- | --- | --- | --- | --- |\n"
)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def draft_file_name(incident_id: str) -> str:
    """Return a safe file name for the incident's draft (no path separators)."""
    stem = _UNSAFE.sub("-", incident_id).strip("-.") or "incident"
    return f"{stem}.md"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "unknown"


def _minutes(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "still open"
    minutes = (end - start).total_seconds() / 60
    return f"{minutes:.0f} minutes" if minutes < 120 else f"{minutes / 60:.1f} hours"


def postmortem_draft(check: PostmortemCheck, generated_at: datetime) -> str:
    """Return the draft's Markdown text."""
    incident = check.incident
    front = {
        "incident_id": incident.id,
        "title": incident.title or incident.id,
        "service": incident.service,
        "severity": incident.severity,
        "date": incident.created_at.isoformat(),
        "status": "draft",
        "authors": [incident.assignee] if incident.assignee else [],
        "review_deadline": check.deadline.isoformat(),
        "generated_at": generated_at.isoformat(),
    }
    events = [
        (incident.started_at, "Impact started"),
        # PagerDuty and Opsgenie detect when they open the incident: one line, not two.
        (incident.detected_at if incident.detected_at != incident.created_at else None,
         "Detected"),
        (incident.created_at, "Incident opened" + (
            f" ({incident.source})" if incident.source else "")),
        (incident.acknowledged_at, "Acknowledged" + (
            f" by {incident.assignee}" if incident.assignee else "")),
        (incident.resolved_at, "Resolved"),
    ]
    timeline = "\n".join(
        f"| {_when(at)} | {md_escape(text)} |"
        for at, text in sorted((e for e in events if e[0] is not None),
                               key=lambda e: e[0] or incident.created_at)
    )
    impact_start = incident.started_at or incident.created_at
    impact = [
        f"- Service: {md_escape(incident.service)} ({incident.severity})",
        f"- Duration: {_minutes(impact_start, incident.resolved_at)}",
        "- Error budget consumed: " + (
            f"{check.budget_fraction:.1%} of the SLO window's budget"
            if check.budget_fraction is not None else "not known (no SLO evaluation)"
        ),
        "- Data loss: " + ("yes" if incident.data_loss else "none recorded"),
        "- Why a postmortem is required: " + md_escape("; ".join(check.reasons)),
        "- Users affected: _to fill_",
    ]
    parts = [
        "---\n",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True),
        "---\n\n",
        f"# {md_escape(incident.title or incident.id)}\n\n",
        "## Impact\n\n", "\n".join(impact), "\n\n",
        "## Timeline\n\n| Time | Event |\n| --- | --- |\n", timeline, "\n\n",
    ]
    for heading, hint in SECTIONS_TO_FILL:
        parts.append(f"## {heading}\n\n_{hint}_\n\n")
    parts.append("## Action items\n\n")
    parts.append(ACTION_HEADER)
    return "".join(parts)
