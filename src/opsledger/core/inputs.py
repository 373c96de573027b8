"""Which reader reads which input, and a per-run cache of what was read.

``READERS`` maps each :class:`InputKey` to its reader, named as ``"module:function"`` so
that importing opsledger stays cheap. A reader takes the path the workspace gives for the
key (a file or a folder), and the settings ``READER_SETTINGS`` takes from opsledger.yaml for
it, and returns a :class:`ReadResult`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from opsledger.core.errors import InputError
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.core.workspace import InputKey, Workspace

if TYPE_CHECKING:
    from opsledger.core.config import Config

Reader = Callable[..., ReadResult[Any]]  # called with the path (and its READER_SETTINGS)
T = TypeVar("T")

READERS: dict[InputKey, str] = {
    InputKey.CONFIG: "opsledger.readers.config_file:read",
    InputKey.GATES: "opsledger.readers.gates_config:read",
    InputKey.HEALTH: "opsledger.readers.health:read",
    InputKey.PERF: "opsledger.readers.perf:read",
    InputKey.INCIDENTS: "opsledger.readers.incidents:read",
    InputKey.CLOSURE_PACKAGE: "opsledger.readers.closure_package:read",
    InputKey.HANDOVER_RECORD: "opsledger.readers.handover_record:read",
    InputKey.KT_FEEDBACK: "opsledger.readers.kt_feedback:read",
    InputKey.OBSERVABILITY_BASELINE: "opsledger.readers.observability_baseline:read",
    InputKey.POSTMORTEMS: "opsledger.readers.postmortems:read",
    InputKey.PERF_BACKLOG: "opsledger.readers.perf_backlog:read",
    InputKey.TECH_DEBT: "opsledger.readers.tech_debt:read",
    InputKey.SECURITY_RISKS: "opsledger.readers.security_risk_log:read",
    InputKey.SERVICE_CATALOG: "opsledger.readers.service_catalog:read",
    InputKey.BACKSTAGE: "opsledger.readers.backstage:read",
    InputKey.TICKETS: "opsledger.readers.tickets:read",
    InputKey.SECURITY: "opsledger.readers.security:read",
    InputKey.SLOS: "opsledger.readers.slo_definitions:read",
    InputKey.ALERTS: "opsledger.readers.alerts:read",
    InputKey.EXPERIMENTS: "opsledger.readers.experiments:read",
    InputKey.COSTS: "opsledger.readers.costs:read",
}

# The p18 prerequisites whose absence halts intake, and those whose absence is noted only.
P18_CRITICAL: tuple[InputKey, ...] = (
    InputKey.CLOSURE_PACKAGE,
    InputKey.HANDOVER_RECORD,
    InputKey.KT_FEEDBACK,
    InputKey.OBSERVABILITY_BASELINE,
    InputKey.POSTMORTEMS,
    InputKey.PERF_BACKLOG,
    InputKey.TECH_DEBT,
    InputKey.SECURITY_RISKS,
    InputKey.SERVICE_CATALOG,
)


# Readers that also take settings from opsledger.yaml, and how each gets them.
READER_SETTINGS: dict[InputKey, Callable[[Config], dict[str, Any]]] = {
    InputKey.COSTS: lambda config: {"mapping": config.cost_mapping},
}


def reader_for(key: InputKey) -> Reader | None:
    target = READERS.get(key)
    if target is None:
        return None
    module_name, _, function = target.partition(":")
    reader: Reader = getattr(importlib.import_module(module_name), function)
    return reader


@dataclass(frozen=True)
class InputStatus:
    """One line of the inventory: found or not, read or not, and what went wrong."""

    key: InputKey
    path: Path
    present: bool
    records: int
    detected_format: str
    problems: tuple[Problem, ...]

    @property
    def malformed(self) -> bool:
        return any(p.level is Level.FATAL for p in self.problems)

    @property
    def quarantined(self) -> int:
        return sum(1 for p in self.problems if p.level is Level.ROW)

    @property
    def state(self) -> str:
        if not self.present:
            return "missing"
        if self.malformed:
            return "malformed"
        if self.quarantined:
            return "read, rows quarantined"
        return "ok"


@dataclass
class Inputs:
    """What one run read from a workspace, each input read at most once."""

    workspace: Workspace
    cache: dict[InputKey, ReadResult[Any]] = field(default_factory=dict)

    def present(self, key: InputKey) -> bool:
        path = self.workspace.path(key)
        if path.is_dir():
            return any(p.is_file() and not p.name.startswith(".") for p in path.rglob("*"))
        return path.exists()

    def read(self, key: InputKey) -> ReadResult[Any]:
        """Return the input's records and problems (an empty result when absent)."""
        if key not in self.cache:
            path = self.workspace.path(key)
            reader = reader_for(key)
            if reader is None or not self.present(key):
                self.cache[key] = ReadResult(path)
            else:
                settings = READER_SETTINGS.get(key)
                options = settings(self.workspace.config) if settings else {}
                self.cache[key] = reader(path, **options)
        return self.cache[key]

    def records(self, key: InputKey) -> list[Any]:
        return self.read(key).records

    def status(self, key: InputKey) -> InputStatus:
        present = self.present(key)
        result = self.read(key) if present else ReadResult(self.workspace.path(key))
        return InputStatus(
            key,
            self.workspace.path(key),
            present,
            result.record_count,
            result.detected_format,
            tuple(result.problems),
        )

    def inventory(self) -> list[InputStatus]:
        return [self.status(key) for key in InputKey if key in READERS]

    def problems(self) -> list[Problem]:
        return [p for result in self.cache.values() for p in result.problems]

    def require_clean(self) -> None:
        """Raise :class:`InputError` listing every problem (for ``--strict``)."""
        problems = [p for p in self.problems() if p.level is not Level.WARNING]
        if problems:
            raise InputError(f"{len(problems)} problem(s) in the inputs (--strict)", problems)


@dataclass
class Context:
    """Everything an analysis step needs from a run: the workspace, its inputs, the clock."""

    workspace: Workspace
    inputs: Inputs
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    progress: Callable[[str], None] = field(default=lambda message: None)
    results: dict[str, Any] = field(default_factory=dict)

    def memo(self, key: str, compute: Callable[[], T]) -> T:
        """Return ``compute()``, computed once per run (analyses shared by several sections)."""
        if key not in self.results:
            self.results[key] = compute()
        value: T = self.results[key]
        return value

    @classmethod
    def open(cls, workspace: Workspace, now: datetime | None = None) -> Context:
        return cls(workspace, Inputs(workspace), now or datetime.now(UTC))
