"""Normalising incident severity and status across PagerDuty and native exports.

Severity is always one of ``SEV1`` (worst) .. ``SEV5``:

- ``SEV1``..``SEV5`` in any spelling (``sev-2``, ``Sev 2``, ``S2``) and bare digits ``1``..``5``;
- PagerDuty priorities ``P1``..``P5`` map to the same number (``P1`` -> ``SEV1``);
- words: critical -> SEV1, major/high -> SEV2, moderate/medium -> SEV3, minor/low -> SEV4,
  info/informational -> SEV5;
- with no severity or priority, PagerDuty urgency decides: ``high`` -> SEV2 (pages someone
  now, but without a priority nobody declared it the worst class), ``low`` -> SEV4.

Status is one of ``triggered``, ``acknowledged``, ``resolved``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsledger.core.problems import ReadResult

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
_NUMBERED = re.compile(r"^(?:sev|s|p|priority|severity)?[\s_-]*([0-5])$")
_SEVERITY_WORDS = {
    "critical": "SEV1",
    "crit": "SEV1",
    "blocker": "SEV1",
    "emergency": "SEV1",
    "major": "SEV2",
    "high": "SEV2",
    "moderate": "SEV3",
    "medium": "SEV3",
    "minor": "SEV4",
    "low": "SEV4",
    "info": "SEV5",
    "informational": "SEV5",
    "trivial": "SEV5",
}
URGENCY_SEVERITY = {"high": "SEV2", "low": "SEV4"}

STATUSES = ("triggered", "acknowledged", "resolved")
_STATUS_WORDS = {
    "triggered": "triggered",
    "open": "triggered",
    "new": "triggered",
    "active": "triggered",
    "firing": "triggered",
    "acknowledged": "acknowledged",
    "ack": "acknowledged",
    "acked": "acknowledged",
    "investigating": "acknowledged",
    "identified": "acknowledged",
    "mitigating": "acknowledged",
    "monitoring": "acknowledged",
    "in_progress": "acknowledged",
    "resolved": "resolved",
    "closed": "resolved",
    "done": "resolved",
    "fixed": "resolved",
    "mitigated": "resolved",
}


def normalise_severity(text: str | None) -> str | None:
    """Return ``SEV1``..``SEV5`` for a severity or priority spelling, or ``None``."""
    if text is None:
        return None
    key = text.strip().lower()
    word = _SEVERITY_WORDS.get(key)
    if word is not None:
        return word
    match = _NUMBERED.match(key)
    if match is None:
        return None
    # SEV0 / P0 exist in some schemes as "worse than 1"; they fold into the top band.
    return SEVERITIES[max(int(match.group(1)), 1) - 1]


def normalise_status(text: str | None) -> str | None:
    if text is None:
        return None
    return _STATUS_WORDS.get(text.strip().lower().replace(" ", "_").replace("-", "_"))


def implied_status(acknowledged: datetime | None, resolved: datetime | None) -> str:
    """Return the status the timestamps imply when the export has no status column."""
    if resolved is not None:
        return "resolved"
    return "acknowledged" if acknowledged is not None else "triggered"


def timeline_problem(
    created: datetime, acknowledged: datetime | None, resolved: datetime | None
) -> tuple[str, str, str] | None:
    """Return (column, message, found) when the timestamps contradict each other."""
    if acknowledged is not None and acknowledged < created:
        return ("acknowledged", "acknowledged before it was created", acknowledged.isoformat())
    if resolved is not None and resolved < created:
        return ("resolved", "resolved before it was created", resolved.isoformat())
    return None


def status_conflict(
    status: str | None, resolved: datetime | None, resolved_field: str
) -> str | None:
    """Return a note when the exported status and resolution time contradict each other.

    The status is the incident's state when it was exported, so it wins: an open incident
    carrying a resolution time is read as unresolved, and a resolved one without any
    resolution time stays out of MTTR.
    """
    if status in ("triggered", "acknowledged") and resolved is not None:
        return (f"status '{status}' with {resolved_field} set: read as unresolved "
                f"({resolved_field} ignored)")
    if status == "resolved" and resolved is None:
        return "status 'resolved' without a resolution time: left out of MTTR"
    return None


@dataclass
class RecordNotes:
    """Warnings about many records of one file, each said once with the records it concerns."""

    what: str = "incident"
    notes: dict[str, list[str]] = field(default_factory=dict)

    def add(self, message: str, identifier: str) -> None:
        self.notes.setdefault(message, []).append(identifier)

    def flush(self, result: ReadResult[Any], location: str = "$", shown: int = 5) -> None:
        for message, identifiers in self.notes.items():
            listed = ", ".join(identifiers[:shown])
            more = f" and {len(identifiers) - shown} more" if len(identifiers) > shown else ""
            plural = "" if len(identifiers) == 1 else "s"
            result.warn(location, f"{message}: {len(identifiers)} {self.what}{plural} "
                        f"({listed}{more})")
        self.notes.clear()
