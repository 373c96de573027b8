"""The escalation matrix per service: who is paged, who next, after how long, how fast.

Services come from ``opsledger.yaml`` and the service catalog (the configuration wins where
both say something). For each service:

- the on-call rotation is the configured ``oncall``, else the catalog's, else
  ``<team>-oncall``;
- level 1 is the rotation at once; level 2 the service owner after the tier's escalation
  delay ``d`` (5 minutes for tier 0 up to 30 for tiers 3-4); level 3 the SRE manager (else
  the engineering manager) after ``2d``; for tiers 0-1, level 4 the operations director
  after ``3d``; a person already on the path is not repeated (an owner who is also the
  SRE manager appears once);
- response targets by severity are the base targets (acknowledge SEV1 in 5 minutes ...)
  multiplied by the tier factor (1 for tiers 0-1, 2 for tier 2, 4 for tiers 3-4); SEV1 and
  SEV2 page around the clock, SEV3 too on tiers 0-1, everything else waits for business
  hours.

Anything the matrix needs and cannot find (no owner, no manager) is listed as a gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opsledger.core.config import Config, Role
from opsledger.core.incident_policy import SEVERITIES, EscalationSettings, IncidentPolicy
from opsledger.core.scope import EVERYTHING, Scope
from opsledger.model.handover import CatalogService

DEFAULT_TIER = 2


@dataclass(frozen=True)
class EscalationLevel:
    level: int
    after_minutes: float
    target: str
    role: str

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "after_minutes": self.after_minutes,
                "target": self.target, "role": self.role}


@dataclass(frozen=True)
class ResponseTarget:
    severity: str
    ack_minutes: float
    update_minutes: float
    resolve_hours: float
    around_the_clock: bool

    @property
    def pages(self) -> bool:
        return self.around_the_clock

    def to_json(self) -> dict[str, Any]:
        return {"severity": self.severity, "ack_minutes": self.ack_minutes,
                "update_minutes": self.update_minutes, "resolve_hours": self.resolve_hours,
                "coverage": "24x7" if self.around_the_clock else "business hours"}


@dataclass(frozen=True)
class ServiceEscalation:
    service: str
    tier: int
    team: str | None
    owner: str | None
    rotation: str
    levels: tuple[EscalationLevel, ...]
    targets: tuple[ResponseTarget, ...]
    gaps: tuple[str, ...]
    source: str  # config | catalog | config+catalog

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service, "tier": self.tier, "team": self.team, "owner": self.owner,
            "rotation": self.rotation, "source": self.source,
            "levels": [lv.to_json() for lv in self.levels],
            "targets": [t.to_json() for t in self.targets],
            "gaps": list(self.gaps),
        }


@dataclass(frozen=True)
class EscalationMatrix:
    services: tuple[ServiceEscalation, ...]

    @property
    def rotations(self) -> list[str]:
        return sorted({s.rotation for s in self.services})

    def to_json(self) -> dict[str, Any]:
        return {"services": [s.to_json() for s in self.services],
                "rotations": self.rotations}


def response_targets(tier: int, settings: EscalationSettings) -> tuple[ResponseTarget, ...]:
    factor = settings.tier_factor.get(tier, max(settings.tier_factor.values(), default=1))
    targets = []
    for severity in SEVERITIES:
        around = severity in settings.page_severities or (
            severity == "SEV3" and tier in settings.always_on_tiers
        )
        targets.append(ResponseTarget(
            severity,
            settings.ack_minutes.get(severity, 1440) * factor,
            settings.update_minutes.get(severity, 1440) * factor,
            settings.resolve_hours.get(severity, 336) * factor,
            around,
        ))
    return tuple(targets)


def _people(config: Config, *roles: Role) -> tuple[str, str] | None:
    for role in roles:
        people = config.stakeholders_with(role)
        if people:
            return ", ".join(p.name for p in people), role.value
    return None


def _add_level(levels: list[EscalationLevel], after: float, target: str, role: str) -> None:
    """Append a level unless its target is already on the path (one person, one level)."""
    if any(level.target == target for level in levels):
        return
    levels.append(EscalationLevel(len(levels) + 1, after, target, role))


def escalation_matrix(
    config: Config,
    catalog: Sequence[CatalogService] = (),
    policy: IncidentPolicy | None = None,
    scope: Scope = EVERYTHING,
) -> EscalationMatrix:
    """Return the escalation levels and response targets of every known service (of the
    services in ``scope``)."""
    settings = (policy or IncidentPolicy()).escalation
    listed = {entry.name: entry for entry in catalog}
    names = [s.name for s in config.services] + sorted(
        n for n in listed if config.service(n) is None
    )
    names = [name for name in names if scope.covers(name)]
    managers = _people(config, Role.SRE_MANAGER, Role.ENGINEERING_MANAGER)
    director = _people(config, Role.OPERATIONS_DIRECTOR)
    services = []
    for name in names:
        configured = config.service(name)
        entry = listed.get(name)
        source = "+".join(s for s, v in (("config", configured), ("catalog", entry)) if v)
        catalog_tier = entry.tier if entry is not None else None
        # A tier written in opsledger.yaml wins; the schema's default does not beat the catalog.
        if configured is not None and ("tier" in configured.model_fields_set
                                       or catalog_tier is None):
            tier = configured.tier
        else:
            tier = catalog_tier if catalog_tier is not None else DEFAULT_TIER
        team = (configured.owner if configured else None) or (entry.team if entry else None)
        gaps: list[str] = []
        owner = (entry.owner if entry else None) or team
        if entry is not None and not entry.owner:
            gaps.append("no named owner in the catalog; level 2 is the whole team"
                        if team else "no owner in the catalog")
        rotation = ((configured.oncall if configured else None)
                    or (entry.oncall if entry else None)
                    or f"{team or name}-oncall")
        if (configured is None or not configured.oncall) and not (entry and entry.oncall):
            gaps.append(f"no on-call rotation named; assumed '{rotation}'")
        delay = settings.escalate_after_minutes_by_tier.get(tier, 30)
        levels = [EscalationLevel(1, 0, rotation, "primary on-call")]
        if owner:
            levels.append(EscalationLevel(2, delay, owner, "service owner"))
        else:
            gaps.append("no service owner for level 2")
        if managers:
            _add_level(levels, 2 * delay, *managers)
        else:
            gaps.append("no sre-manager or engineering-manager stakeholder for level 3")
        if tier <= 1:
            if director:
                _add_level(levels, 3 * delay, *director)
            else:
                gaps.append("no operations-director stakeholder for critical escalation")
        services.append(ServiceEscalation(
            name, tier, team, owner, rotation, tuple(levels),
            response_targets(tier, settings), tuple(gaps), source,
        ))
    return EscalationMatrix(tuple(services))
