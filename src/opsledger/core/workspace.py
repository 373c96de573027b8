"""An ops workspace: its root, its configuration and where each input and output lives."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from opsledger.core.errors import ConfigError, InputError
from opsledger.core.options import CONFIG_FILE
from opsledger.core.problems import Level, Problem

if TYPE_CHECKING:  # the schema loads when a workspace is opened, not when this is imported
    from opsledger.core.config import Config


class InputKey(StrEnum):
    """Every input opsledger reads, by the name used in messages and ``--json`` output."""

    CONFIG = "config"
    GATES = "gates-config"
    SLOS = "slos"
    HEALTH = "health-history"
    TELEMETRY = "telemetry"
    PERF = "perf"
    SECURITY = "security"
    INCIDENTS = "incidents"
    COSTS = "costs"
    EXPERIMENTS = "experiments"
    CLOSURE_PACKAGE = "closure-package"
    HANDOVER_RECORD = "handover-record"
    KT_FEEDBACK = "knowledge-transfer-feedback"
    OBSERVABILITY_BASELINE = "observability-baseline"
    POSTMORTEMS = "incident-postmortems"
    PERF_BACKLOG = "performance-backlog"
    TECH_DEBT = "tech-debt-register"
    SECURITY_RISKS = "security-risk-log"
    SERVICE_CATALOG = "service-catalog"
    BACKSTAGE = "backstage-catalog"
    TICKETS = "ticket-history"
    ALERTS = "alert-history"


# Utilisation samples live in this folder under the telemetry folder.
UTILISATION_FOLDER = "utilisation"

# File names inside the handover folder, as the p18 procedure names them.
HANDOVER_FILES: dict[InputKey, str] = {
    InputKey.CLOSURE_PACKAGE: "CLOSURE-PACKAGE.zip",
    InputKey.HANDOVER_RECORD: "operational-handover-record.json",
    InputKey.KT_FEEDBACK: "knowledge-transfer-feedback.json",
    InputKey.OBSERVABILITY_BASELINE: "OBSERVABILITY-BASELINE.md",
    InputKey.POSTMORTEMS: "INCIDENT-POSTMORTEMS",
    InputKey.PERF_BACKLOG: "PERFORMANCE-IMPROVEMENT-BACKLOG.json",
    InputKey.TECH_DEBT: "TECH-DEBT-REGISTER.md",
    InputKey.SECURITY_RISKS: "SECURITY-RISK-LOG.csv",
    InputKey.SERVICE_CATALOG: "SERVICE-CATALOG.xlsx",
    InputKey.BACKSTAGE: "catalog-info.yaml",
    InputKey.TICKETS: "ticket-history.csv",
}


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Config
    # Set when opsledger.yaml was unusable and defaults stand in (``validate`` only).
    config_problems: tuple[Problem, ...] = ()

    @property
    def shell_root(self) -> str:
        """The workspace folder as it is typed in a command a message suggests."""
        return shlex.quote(str(self.root))

    def path(self, key: InputKey) -> Path:
        """Return where input ``key`` lives in this workspace."""
        paths = self.config.paths
        if key in HANDOVER_FILES:
            return self.root / paths.handover / HANDOVER_FILES[key]
        relative = {
            InputKey.CONFIG: CONFIG_FILE,
            InputKey.GATES: paths.gates_config,
            InputKey.SLOS: paths.slos,
            InputKey.HEALTH: paths.health,
            InputKey.TELEMETRY: paths.telemetry,
            InputKey.PERF: paths.perf,
            InputKey.SECURITY: paths.security,
            InputKey.INCIDENTS: paths.incidents,
            InputKey.COSTS: paths.costs,
            InputKey.EXPERIMENTS: paths.experiments,
            InputKey.ALERTS: paths.alerts,
        }[key]
        return self.root / relative

    @property
    def reports_dir(self) -> Path:
        return self.root / self.config.paths.reports

    @property
    def p18_evidence(self) -> Path:
        return self.root / self.config.paths.p18_evidence

    @property
    def p09_evidence(self) -> Path:
        return self.root / self.config.paths.p09_evidence

    @property
    def state_dir(self) -> Path:
        return self.root / self.config.paths.state


def utilisation_folder(telemetry: Path) -> Path:
    """Return where utilisation files live: ``utilisation/`` under the telemetry folder.

    Never the telemetry folder itself: it holds request events, which are not utilisation
    and can be far too large to load.
    """
    return telemetry if telemetry.name == UTILISATION_FOLDER else telemetry / UTILISATION_FOLDER


def open_workspace(root: Path, tolerant: bool = False) -> Workspace:
    """Return the workspace at ``root``; raise :class:`InputError` if there is none.

    With ``tolerant``, an invalid ``opsledger.yaml`` does not stop the caller: defaults stand
    in and the problems are kept in ``config_problems`` so they can be listed with the rest.
    """
    if not root.exists():
        raise InputError(f"{root}: no such workspace (create one with 'opsledger init {root}')")
    if not root.is_dir():
        raise InputError(f"{root}: not a folder")
    from opsledger.core.config import Config, load_config

    try:
        return Workspace(root.resolve(), load_config(root))
    except ConfigError as exc:
        if not tolerant:
            raise
        problems = exc.problems or [
            Problem(str(root / CONFIG_FILE), "", str(exc), level=Level.FATAL)
        ]
        return Workspace(root.resolve(), Config(), tuple(problems))
