"""The p18 handover prerequisites: archive manifest, ownership, knowledge gaps, baselines,
postmortems, backlogs, risks, the service catalog and ticket history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from opsledger.model.common import ItemStatus, Severity


@dataclass(frozen=True)
class ArchiveEntry:
    name: str
    size: int
    compressed_size: int
    sha256: str


@dataclass(frozen=True)
class OwnershipAssignment:
    """Who owns a service after handover, and the SLA they own it under."""

    service: str
    owner: str | None  # a person or team; None = unclear
    team: str | None
    escalation_contact: str | None
    support_hours: str | None
    response_sla_minutes: float | None
    resolution_sla_hours: float | None
    availability_sla: float | None  # 0-1


@dataclass(frozen=True)
class KnowledgeGap:
    id: str
    topic: str
    service: str | None
    owner: str | None
    severity: Severity
    status: ItemStatus
    due_date: date | None
    follow_up: str = ""


@dataclass(frozen=True)
class BaselineMetric:
    service: str
    metric: str
    value: str
    threshold: str
    dashboard: str | None
    alert: str | None
    measured_at: date | None


@dataclass(frozen=True)
class ObservabilityBaseline:
    """Dashboards, alerts and baseline figures per service from OBSERVABILITY-BASELINE.md."""

    measured_at: date | None
    metrics: tuple[BaselineMetric, ...]

    def services(self) -> set[str]:
        return {m.service for m in self.metrics}


@dataclass(frozen=True)
class ActionItem:
    id: str
    title: str
    owner: str | None
    due_date: date | None
    status: ItemStatus
    priority: str | None  # P0..P4 as written
    incident_id: str | None
    service: str | None = None
    kind: str | None = None  # prevent | mitigate | detect | process


@dataclass(frozen=True)
class Postmortem:
    incident_id: str
    title: str
    service: str | None
    severity: str | None
    incident_date: datetime | None
    review_date: date | None
    status: str  # draft | in_review | published
    authors: tuple[str, ...]
    sections: dict[str, str]  # heading -> body markdown
    action_items: tuple[ActionItem, ...]
    path: str = ""


@dataclass(frozen=True)
class WorkItem:
    """An item of the tech-debt register, performance backlog or security risk log."""

    id: str
    title: str
    source: str  # tech-debt | performance | security | postmortem | scanner | knowledge-gap
    service: str | None
    owner: str | None
    severity: Severity | None  # None = not rated
    status: ItemStatus
    due_date: date | None
    effort_days: float | None = None
    impact: float | None = None  # 1-5
    likelihood: float | None = None  # 1-5
    category: str | None = None
    reference: str | None = None  # CVE, ticket, URL
    compliance: tuple[str, ...] = field(default_factory=tuple)
    description: str = ""
    reach: float | None = None  # users/requests affected per month, when known
    created: date | None = None
    endpoint: str | None = None  # "GET /cart/items" for a performance item


@dataclass(frozen=True)
class CatalogService:
    """A row of SERVICE-CATALOG.xlsx or a Backstage Component."""

    name: str
    owner: str | None
    team: str | None
    tier: int | None
    lifecycle: str | None
    deployment: str | None
    dependencies: tuple[str, ...]
    dashboard: str | None
    runbook: str | None
    oncall: str | None
    source: str = "catalog"
    kind: str = "component"  # Backstage kind: component, system or resource


@dataclass(frozen=True, slots=True)
class Ticket:
    id: str
    created_at: datetime
    resolved_at: datetime | None
    queue: str
    category: str
    priority: str | None
    title: str
    handle_minutes: float | None
    service: str | None
    channel: str | None = None
