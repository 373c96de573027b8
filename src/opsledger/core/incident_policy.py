"""How incidents are classified: severity from priority or urgency, working hours, duplicates.

The optional ``incidents`` section of ``opsledger.yaml`` is :class:`IncidentPolicy`; every
field has a default, so a workspace without the section gets:

- priority ``P1``..``P5`` -> ``SEV1``..``SEV5``; with no priority, urgency ``high`` -> SEV2 and
  ``low`` -> SEV4;
- no service mapping: an alert whose export names no service stays under
  ``(unknown service)`` unless ``service_mapping`` maps one of its tags, teams, responders
  or an alias prefix (``"team:payments": checkout``);
- business hours 09:00-18:00 Monday to Friday, sleep hours 23:00-07:00, in UTC;
- two exports of one incident are the same incident when they carry the same id, or when
  they name the same service, were created within 2 minutes of each other and have similar
  titles (a similarity ratio of at least 0.8 after lower-casing, or one title containing
  the other).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opsledger.core.options import iana_zone
from opsledger.model.incidents import UNKNOWN_SERVICE, Incident

SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4", "SEV5")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SERVICE_KEY_KINDS = ("tag", "team", "responder", "alias")


def _severity(value: str) -> str:
    text = value.strip().upper().replace(" ", "").replace("-", "")
    if text not in SEVERITIES:
        raise ValueError(f"'{value}' is not one of {', '.join(SEVERITIES)}")
    return text


class RotationReceiver(BaseModel):
    """Where one rotation's alerts go; URLs point at your own endpoints, never a secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_url: str | None = Field(default=None, description="overrides the URL template")
    pagerduty_routing_key_file: str | None = Field(
        default=None, description="file holding the PagerDuty Events v2 routing key"
    )
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"


class EscalationSettings(BaseModel):
    """Escalation delays and response targets; tier 0 is the most critical service tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    escalate_after_minutes_by_tier: dict[int, int] = Field(
        default_factory=lambda: {0: 5, 1: 10, 2: 15, 3: 30, 4: 30}
    )
    ack_minutes: dict[str, float] = Field(
        default_factory=lambda: {"SEV1": 5.0, "SEV2": 15.0, "SEV3": 60.0, "SEV4": 240.0,
                                 "SEV5": 1440.0}
    )
    update_minutes: dict[str, float] = Field(
        default_factory=lambda: {"SEV1": 30.0, "SEV2": 60.0, "SEV3": 240.0, "SEV4": 1440.0,
                                 "SEV5": 1440.0}
    )
    resolve_hours: dict[str, float] = Field(
        default_factory=lambda: {"SEV1": 4.0, "SEV2": 8.0, "SEV3": 72.0, "SEV4": 168.0,
                                 "SEV5": 336.0}
    )
    tier_factor: dict[int, float] = Field(
        default_factory=lambda: {0: 1.0, 1: 1.0, 2: 2.0, 3: 4.0, 4: 4.0},
        description="response targets are multiplied by this for the service's tier",
    )
    page_severities: list[str] = Field(default_factory=lambda: ["SEV1", "SEV2"])
    always_on_tiers: list[int] = Field(
        default_factory=lambda: [0, 1],
        description="tiers whose SEV3 is also handled around the clock",
    )
    webhook_url_template: str = Field(
        default="http://localhost:9095/alerts/{rotation}",
        description="'{rotation}' is replaced by the rotation name",
    )
    receivers: dict[str, RotationReceiver] = Field(default_factory=dict)

    @field_validator("ack_minutes", "update_minutes", "resolve_hours")
    @classmethod
    def _targets(cls, value: dict[str, float]) -> dict[str, float]:
        return {_severity(k): v for k, v in value.items()}

    @field_validator("page_severities")
    @classmethod
    def _pages(cls, value: list[str]) -> list[str]:
        return [_severity(v) for v in value]


class IncidentPolicy(BaseModel):
    """The ``incidents`` section of ``opsledger.yaml`` (all fields optional)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(default="UTC", description="IANA zone of the on-call team")
    business_start_hour: int = Field(default=9, ge=0, le=23)
    business_end_hour: int = Field(default=18, ge=1, le=24)
    business_days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    sleep_start_hour: int = Field(default=23, ge=0, le=23)
    sleep_end_hour: int = Field(default=7, ge=0, le=23)
    priority_severity: dict[str, str] = Field(
        default_factory=lambda: {f"P{n}": f"SEV{n}" for n in range(1, 6)},
        validate_default=True,
        description="exported priority -> SEV1..SEV5",
    )
    urgency_severity: dict[str, str] = Field(
        default_factory=lambda: {"high": "SEV2", "low": "SEV4"},
        validate_default=True,
        description="used when an incident has no priority",
    )
    major_severities: list[str] = Field(default_factory=lambda: ["SEV1", "SEV2"])
    service_mapping: dict[str, str] = Field(
        default_factory=dict,
        description="for alerts that name no service: 'tag:NAME', 'team:NAME or id', "
        "'responder:NAME or id' or 'alias:PREFIX' -> service",
    )
    duplicate_window_minutes: float = Field(default=2, ge=0)
    duplicate_title_similarity: float = Field(default=0.8, gt=0, le=1)
    escalation: EscalationSettings = EscalationSettings()
    postmortem_on_intervention: bool = Field(
        default=False,
        description="require a postmortem for every incident a responder worked on",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return iana_zone(value)

    @field_validator("business_days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        days = [d.strip().lower()[:3] for d in value]
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekday(s) {', '.join(unknown)}; use mon..sun")
        return days

    @field_validator("priority_severity", "urgency_severity")
    @classmethod
    def _mapping(cls, value: dict[str, str]) -> dict[str, str]:
        return {k.strip().lower(): _severity(v) for k, v in value.items()}

    @field_validator("major_severities")
    @classmethod
    def _majors(cls, value: list[str]) -> list[str]:
        return [_severity(v) for v in value]

    @field_validator("service_mapping")
    @classmethod
    def _service_keys(cls, value: dict[str, str]) -> dict[str, str]:
        out = {}
        for key, service in value.items():
            kind, _, name = key.partition(":")
            kind, name = kind.strip().lower(), name.strip().lower()
            if kind not in SERVICE_KEY_KINDS or not name:
                raise ValueError(
                    f"'{key}' is not one of {', '.join(k + ':NAME' for k in SERVICE_KEY_KINDS)}"
                )
            if not str(service).strip():
                raise ValueError(f"'{key}' maps to an empty service name")
            out[f"{kind}:{name}"] = str(service).strip()
        return out

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_major(self, incident: Incident) -> bool:
        return incident.severity in self.major_severities

    def severity_for(
        self, priority: str | None, urgency: str | None, major: bool | None = None
    ) -> str | None:
        """Return the SEV band for an exported priority, else urgency, else ``None``."""
        if priority is not None:
            mapped = self.priority_severity.get(priority.strip().lower())
            if mapped is not None:
                return mapped
        if major:
            return self.major_severities[0] if self.major_severities else "SEV1"
        if urgency is not None:
            return self.urgency_severity.get(urgency.strip().lower())
        return None

    def service_for(self, keys: Iterable[str]) -> str | None:
        """Return the service ``service_mapping`` gives the first of ``keys`` it knows.

        An ``alias:`` entry is a prefix; the longest matching prefix wins.
        """
        for key in keys:
            kind, _, name = key.partition(":")
            name = name.strip().lower()
            if kind == "alias":
                prefixes = [(k[len("alias:"):], v) for k, v in self.service_mapping.items()
                            if k.startswith("alias:") and name.startswith(k[len("alias:"):])]
                if prefixes:
                    return max(prefixes, key=lambda pair: len(pair[0]))[1]
            elif f"{kind}:{name}" in self.service_mapping:
                return self.service_mapping[f"{kind}:{name}"]
        return None


def policy_of(config: Any) -> IncidentPolicy:
    """Return the workspace's incident policy (defaults when the config has no section)."""
    policy = getattr(config, "incidents", None)
    return policy if isinstance(policy, IncidentPolicy) else IncidentPolicy()


def apply_policy(incidents: Iterable[Incident], policy: IncidentPolicy) -> list[Incident]:
    """Return the incidents with severity re-derived from their exported priority, and the
    service from ``service_mapping`` where the export named none."""
    out = []
    for incident in incidents:
        if incident.priority is not None:
            mapped = policy.severity_for(incident.priority, None)
            if mapped is not None and mapped != incident.severity:
                incident = replace(incident, severity=mapped)
        if incident.service == UNKNOWN_SERVICE:
            service = policy.service_for(incident.service_keys)
            if service is not None:
                incident = replace(incident, service=service)
        out.append(incident)
    return out


# --- duplicates across exports -------------------------------------------------------------

_WORDS = re.compile(r"[^a-z0-9]+")


def _normal_title(title: str) -> str:
    return _WORDS.sub(" ", title.lower()).strip()


def similar_titles(a: str, b: str, threshold: float) -> bool:
    """Return True when two titles name the same failure (ratio or containment)."""
    x, y = _normal_title(a), _normal_title(b)
    if not x or not y:
        return x == y
    if x in y or y in x:
        return True
    return difflib.SequenceMatcher(None, x, y).ratio() >= threshold


def completeness(incident: Incident) -> int:
    """Return how many optional fields of the incident carry a value."""
    values = (
        incident.acknowledged_at, incident.resolved_at, incident.detected_at,
        incident.started_at, incident.team, incident.urgency, incident.escalation_policy,
        incident.assignee, incident.priority,
    )
    return sum(1 for v in values if v not in (None, ""))


@dataclass(frozen=True)
class FoldedDuplicate:
    kept: str
    dropped: str
    reason: str


@dataclass(frozen=True)
class Deduplicated:
    incidents: tuple[Incident, ...]
    folded: tuple[FoldedDuplicate, ...]


def fold_duplicates(incidents: Sequence[Incident], policy: IncidentPolicy) -> Deduplicated:
    """Return one record per real incident, keeping the most complete of each group.

    Each group is anchored at its first creation time, so the 2-minute window runs from
    the first export of an incident whichever record of the group is kept.
    """
    window = timedelta(minutes=policy.duplicate_window_minutes)
    ordered = sorted(incidents, key=lambda i: (i.created_at, -completeness(i), i.id))
    anchors: list[datetime] = []  # first creation time of each group, ascending
    kept: list[Incident] = []
    folded: list[FoldedDuplicate] = []
    for incident in ordered:
        match = _match(incident, anchors, kept, window, policy.duplicate_title_similarity)
        if match is None:
            anchors.append(incident.created_at)
            kept.append(incident)
            continue
        index, reason = match
        other = kept[index]
        winner, loser = (
            (incident, other) if completeness(incident) > completeness(other) else (other, incident)
        )
        kept[index] = winner
        folded.append(FoldedDuplicate(winner.id, loser.id, reason))
    kept.sort(key=lambda i: (i.created_at, i.id))
    return Deduplicated(tuple(kept), tuple(folded))


def _match(
    incident: Incident,
    anchors: list[datetime],
    kept: list[Incident],
    window: timedelta,
    threshold: float,
) -> tuple[int, str] | None:
    for index in range(len(kept) - 1, -1, -1):
        if incident.created_at - anchors[index] > window:
            break  # anchors ascend: every earlier group is further away still
        other = kept[index]
        if other.id != incident.id and other.service == incident.service and similar_titles(
            other.title, incident.title, threshold
        ):
            gap = (incident.created_at - anchors[index]).total_seconds()
            return index, f"same service, created {gap:.0f}s apart, similar title"
    for index, other in enumerate(kept):
        if other.id == incident.id:
            return index, "same id"
    return None


# --- time of day ---------------------------------------------------------------------------


def hour_band(when: datetime, policy: IncidentPolicy) -> str:
    """Return ``business``, ``sleep`` or ``off`` for the local time of ``when``.

    Business hours are checked first, so a sleep window configured to overlap them does
    not take business pages away.
    """
    local = when.astimezone(policy.zone)
    hour = local.hour + local.minute / 60 + local.second / 3600
    if WEEKDAYS[local.weekday()] in policy.business_days and (
        policy.business_start_hour <= hour < policy.business_end_hour
    ):
        return "business"
    start, end = policy.sleep_start_hour, policy.sleep_end_hour
    in_sleep = (start <= hour < end) if start < end else (hour >= start or hour < end)
    return "sleep" if in_sleep and start != end else "off"
