"""The demo workspace's ``opsledger.yaml``, derived from the world."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from opsledger.core.config import Role
from opsledger.core.fileio import atomic_write_text
from opsledger.demo.slo import maintenance_exclusion
from opsledger.demo.world import World

ROLE_TEAMS = {
    Role.OPERATIONS_DIRECTOR: "platform",
    Role.SUPPORT_LEAD: "identity",
    Role.PRODUCT_OWNER: "storefront",
    Role.SECURITY_LEAD: "payments",
    Role.SRE_MANAGER: "platform",
    Role.ENGINEERING_MANAGER: "fulfilment",
    Role.FINANCE: "data",
}


def config_document(world: World) -> dict[str, Any]:
    """Return the configuration of the demo workspace as plain data."""
    rng = world.rng("config")
    services = [
        {
            "name": s.name,
            "owner": s.team,
            "tier": s.tier,
            "oncall": s.oncall,
            "deployment": s.deployment,
        }
        for s in world.services
    ]
    budgets: dict[str, Any] = {"default": {"availability": 0.995, "latency_p95_ms": 800}}
    for s in world.services:
        if s.tier <= 1:
            budgets[s.name] = {
                "availability": 0.999 if s.tier == 0 else 0.998,
                "latency_p95_ms": 300 if s.tier == 0 else 500,
            }
    cost_targets = {
        s.name: {"monthly": float(round(s.requests_per_minute * rng.uniform(18, 30), -1) or 100)}
        for s in world.services
        if s.tier <= 2
    }
    used: set[str] = set()
    stakeholders = []
    for role, team in ROLE_TEAMS.items():
        person = next(p for p in world.people if p.team == team and p.name not in used)
        used.add(person.name)
        stakeholders.append({"name": person.name, "email": person.email, "role": role.value})
    freeze_start = (world.now + timedelta(days=30)).date()
    return {
        "version": 1,
        "organisation": "Example Retail",
        "services": services,
        "slo_budgets": budgets,
        "cost_targets": cost_targets,
        "stakeholders": stakeholders,
        "change_windows": [
            {
                "name": "weekly-maintenance",
                "cron": "0 2 * * 2",
                "duration_minutes": 180,
                "timezone": "Europe/Berlin",
            },
            {
                "name": "monthly-platform",
                "cron": "0 6 1 * *",
                "duration_minutes": 360,
                "timezone": "America/New_York",
                "services": [s.name for s in world.services if s.team == "platform"],
            },
        ],
        "freezes": [
            {
                "name": "year-end peak",
                "start": freeze_start.isoformat(),
                "end": (freeze_start + timedelta(days=14)).isoformat(),
            }
        ],
        # The planned maintenance the telemetry shows, approved by the SRE manager.
        "error_budget_exclusions": {"maintenance": [maintenance_exclusion(world, next(
            s["email"] for s in stakeholders if s["role"] == Role.SRE_MANAGER.value))]},
        "policies": {
            "vulnerability_sla_days": {"critical": 7, "high": 30, "medium": 90, "low": 180},
            "action_item_sla_days": {"sev1": 15, "sev2": 30},
            "support": {
                "service_level": 0.8,
                # Tickets come by e-mail and web form: first answer within 15 minutes, the
                # response time the handover record promises for tier-0 services.
                "answer_seconds": 900,
                "handle_minutes": 9,
                "shrinkage": 0.3,
                "occupancy_cap": 0.85,
                "shift_hours": 8,
                "timezone": "Europe/Berlin",
                "hours": {"weekly": "Mon-Fri 08:00-20:00, Sat 09:00-17:00"},
                "min_agents": 1,
                "skill_groups": [
                    # First-line agents take account, billing and how-to questions alike.
                    {"name": "customer-care", "queues": ["access", "billing", "how-to"]},
                    # Bug reports and outage reports go to the technical desk, open longer;
                    # outside its hours outages reach the on-call engineers by paging.
                    {"name": "technical", "queues": ["bugs", "incidents"],
                     "hours": {"weekly": "Mon-Fri 07:00-21:00, Sat-Sun 09:00-17:00",
                               "timezone": "Europe/Berlin"}},
                ],
            },
        },
        "kpi_reviews": [
            {"metric": "Mean Time to Resolution", "cadence": "weekly", "owner": "support-lead",
             "day": "monday"},
            {"metric": "Error Budget Consumption", "cadence": "monthly", "owner": "sre-manager",
             "day": "1"},
            {"metric": "Cloud Cost against Target", "cadence": "monthly", "owner": "finance",
             "day": "3"},
        ],
        "growth_targets": {"availability": 0.999, "mttr_minutes": 60},
    }


def write_config(world: World, root: Path) -> list[Path]:
    path = root / "opsledger.yaml"
    header = (
        "# opsledger workspace configuration (demo). Every path below can be overridden\n"
        "# under 'paths:'. See 'opsledger init' for a commented template.\n"
    )
    body = yaml.safe_dump(config_document(world), sort_keys=False, allow_unicode=True)
    atomic_write_text(path, header + body)
    return [path]
