"""``opsledger init``: an empty workspace with a commented configuration and its folders."""

from __future__ import annotations

from pathlib import Path

from opsledger.core.config import CONFIG_FILE, Paths
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_text

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
  # Who may waive a failed gate, and for how many days at most; per gate id if needed.
  waivers:
    default: {roles: [operations-director, sre-manager, engineering-manager], max_days: 30}
    gates: {}
    #  p18-stakeholder-approval: {roles: [operations-director], max_days: 7}
  # The least a waiver's justification or a not-applicable reason must say.
  justification: {min_words: 3, min_chars: 20}

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

GITIGNORE = ".opsledger/lock\n.opsledger/history.duckdb.wal\n"

SCRIPT_TEMPLATE = """#!/usr/bin/env python3
\"\"\"{doc}\"\"\"

import sys

from opsledger.protocols.gate_scripts import {function}

sys.exit({function}(sys.argv[1:]))
"""

WORKFLOW = """# Runs the maintenance-planning quality gates on every change to the workspace.
name: opsledger gates
on: [push, pull_request]
jobs:
  gates:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install opsledger
      - run: opsledger validate .
      - run: python scripts/validate_prerequisites_18.py
      - run: opsledger gates p18 . --junit gates-p18.xml
      - run: opsledger gates p09 . --junit gates-p09.xml
        if: always()
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: gate-results
          path: gates-*.xml
"""


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
    created += write_automation_hooks(root, force)
    return created


def write_automation_hooks(root: Path, force: bool = False) -> list[Path]:
    """Write the procedure's script names as wrappers, and a CI workflow running the gates."""
    from opsledger.protocols.gate_scripts import SCRIPTS

    written = []
    for name, function in SCRIPTS.items():
        path = root / "scripts" / name
        if path.exists() and not force:
            continue
        doc = (function.__doc__ or "").strip() or f"opsledger automation hook {name}"
        atomic_write_text(path, SCRIPT_TEMPLATE.format(doc=doc, function=function.__name__))
        path.chmod(0o755)
        written.append(path)
    workflow = root / ".github" / "workflows" / "opsledger-gates.yml"
    if force or not workflow.exists():
        atomic_write_text(workflow, WORKFLOW)
        written.append(workflow)
    return written
