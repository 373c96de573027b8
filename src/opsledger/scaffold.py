"""``opsledger init``: an empty workspace with a commented configuration and its folders."""

from __future__ import annotations

from pathlib import Path

from opsledger.config import CONFIG_FILE, Paths
from opsledger.errors import InputError
from opsledger.fileio import atomic_write_text

CONFIG_TEMPLATE = """\
# opsledger workspace configuration.
# Every input path can be overridden under 'paths:' (defaults shown at the end).
version: 1
organisation: my-org

# The services you own. tier: 0 = most critical .. 4 = least.
# deployment: kubernetes | helm | vm-package | serverless | database-migration | other
services:
  - name: checkout
    owner: payments          # owning team
    tier: 0
    oncall: payments-primary # on-call rotation
    deployment: kubernetes

# SLO budgets per service; 'default' applies to services not listed.
# availability: a fraction (0.999) or a percentage (99.9).
slo_budgets:
  default:
    availability: 0.995
    latency_p95_ms: 800
  checkout:
    availability: 0.999
    latency_p95_ms: 300

# Monthly cost targets per service (billing currency).
cost_targets:
  checkout:
    monthly: 4000

# People who approve plans. role: operations-director | support-lead | product-owner |
# security-lead | sre-manager | engineering-manager | finance
stakeholders:
  - name: Ada Example
    email: ada@example.com
    role: operations-director

# When changes may go out: 5-field cron for each window's start, IANA time zone.
change_windows:
  - name: weekly-maintenance
    cron: "0 2 * * 2"
    duration_minutes: 180
    timezone: Europe/Berlin

# No changes in these periods except the kinds in 'allow'.
freezes: []
#  - name: year-end peak
#    start: 2026-12-15
#    end: 2026-12-31
#    allow: [security, p0]

policies:
  vulnerability_sla_days: {critical: 7, high: 30, medium: 90, low: 180}
  action_item_sla_days: {sev1: 15, sev2: 30}
  support:
    service_level: 0.8       # share of contacts answered within answer_seconds
    answer_seconds: 20
    handle_minutes: 6
    shrinkage: 0.3
    occupancy_cap: 0.85
    timezone: UTC

# KPI reviews: the governance cadence.
kpi_reviews:
  - metric: Mean Time to Resolution
    cadence: weekly
    owner: support-lead
    day: monday
  - metric: Error Budget Consumption
    cadence: monthly
    owner: sre-manager
    day: "1"
"""

GITIGNORE = ".opsledger/lock\n"


def init_workspace(root: Path, force: bool = False) -> list[Path]:
    """Create a workspace skeleton at ``root``; return the paths created."""
    config = root / CONFIG_FILE
    if config.exists() and not force:
        raise InputError(f"{config}: already exists (pass --force to overwrite)")
    paths = Paths()
    created: list[Path] = []
    for folder in (
        paths.slos,
        paths.health,
        paths.telemetry,
        paths.security,
        paths.incidents,
        paths.costs,
        paths.experiments,
        paths.handover,
        f"{paths.handover}/INCIDENT-POSTMORTEMS",
        paths.reports,
    ):
        target = root / folder
        if not target.exists():
            target.mkdir(parents=True)
            created.append(target)
    atomic_write_text(config, CONFIG_TEMPLATE)
    created.append(config)
    gitignore = root / ".gitignore"
    if not gitignore.exists():
        atomic_write_text(gitignore, GITIGNORE)
        created.append(gitignore)
    return created
