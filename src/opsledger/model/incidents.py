"""Incidents and alerts, normalised from PagerDuty, Opsgenie and native exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The service of an incident whose export names none (and no configured mapping gives one).
UNKNOWN_SERVICE = "(unknown service)"


@dataclass(frozen=True)
class Incident:
    id: str
    title: str
    service: str
    severity: str  # normalised "SEV1".."SEV5"
    status: str  # triggered | acknowledged | resolved
    created_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    detected_at: datetime | None = None
    started_at: datetime | None = None  # impact start, when known
    team: str | None = None
    urgency: str | None = None
    escalation_policy: str | None = None
    assignee: str | None = None
    source: str = "native"
    postmortem_required: bool | None = None  # an explicit flag in the export
    data_loss: bool = False
    oncall_intervention: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    priority: str | None = None  # the priority as exported (P1..P5), before mapping
    # What the export offers for incidents.service_mapping when it names no service:
    # "tag:db", "team:payments", "responder:<id>", "alias:checkout-5xx".
    service_keys: tuple[str, ...] = field(default_factory=tuple)

    @property
    def major(self) -> bool:
        return self.severity in ("SEV1", "SEV2")


@dataclass(frozen=True)
class AlertEvent:
    """One firing of an alert, with its lifecycle."""

    id: str
    alert: str  # alert name / rule
    service: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    auto_resolved: bool | None
    incident_id: str | None
    priority: str | None
    source: str
    occurrences: int = 1  # repeats folded into this firing by deduplication (Opsgenie count)
