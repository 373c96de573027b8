"""Which reader reads which input, and a per-run cache of what was read.

The registry of readers (:mod:`opsledger.readers.registry`) is imported on first use, so
that importing opsledger stays cheap.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from opsledger.core.errors import InputError
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.core.scope import EVERYTHING, LeftOut, Scope, split
from opsledger.core.workspace import InputKey, Workspace

if TYPE_CHECKING:
    from opsledger.core.config import Config

Reader = Callable[..., ReadResult[Any]]  # called with the path (and its READER_SETTINGS)
T = TypeVar("T")


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


def readers() -> Mapping[InputKey, Reader]:
    """Return the reader registry (:mod:`opsledger.readers.registry`), imported on first use."""
    from opsledger.readers.registry import READERS

    return READERS


def reader_for(key: InputKey) -> Reader | None:
    return readers().get(key)


def read_input(
    ctx: Context, key: InputKey, reader: Callable[[Path], ReadResult[Any]]
) -> ReadResult[Any]:
    """Return the input read once per run (through the registry), or by ``reader`` when the
    registry has no reader for ``key``; an empty result when the input is absent."""
    if key in readers():
        return ctx.inputs.read(key)
    path = ctx.workspace.path(key)
    return reader(path) if path.exists() else ReadResult(path)


def fail_if_strict(strict: bool, problems: Iterable[Problem], what: str = "the inputs") -> None:
    """With ``--strict``, raise :class:`InputError` (exit 2) listing every problem read that is
    not a warning: a malformed file or a quarantined row. Warnings never fail a run."""
    if not strict:
        return
    found = list(dict.fromkeys(p for p in problems if p.level is not Level.WARNING))
    if found:
        raise InputError(f"{len(found)} problem(s) in {what} (--strict)", found)


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


@runtime_checkable
class ScopesItself(Protocol):
    """A read result whose records are kept in another shape than one per record (columns):
    it keeps those of a scope itself, counting what it leaves out as
    :func:`~opsledger.core.scope.split` would."""

    def in_scope(self, scope: Scope) -> tuple[ReadResult[Any], LeftOut]: ...


# Inputs that describe the workspace itself rather than records about services: a scoped
# run reads them whole. The catalogs stay whole so that teams and owners resolve.
UNSCOPED: frozenset[InputKey] = frozenset({
    InputKey.CONFIG, InputKey.GATES, InputKey.SERVICE_CATALOG, InputKey.BACKSTAGE,
})


@dataclass
class Inputs:
    """What one run read from a workspace, each input read at most once.

    A scoped run (one team's or one service's view) keeps only the records in its scope
    (:func:`opsledger.core.scope.place`) and counts in ``left_out`` what it did not keep.
    Scoped inputs share ``source``, the whole inputs, so that views of several teams read
    each file once.
    """

    workspace: Workspace
    cache: dict[InputKey, ReadResult[Any]] = field(default_factory=dict)
    scope: Scope = EVERYTHING
    source: Inputs | None = None
    left_out: dict[InputKey, LeftOut] = field(default_factory=dict)
    # Values computed once over the whole inputs and shared by every view (Context.shared).
    shared: dict[Hashable, Any] = field(default_factory=dict)

    def scoped(self, scope: Scope) -> Inputs:
        """Return the inputs of ``scope``, reading through these (whole) inputs."""
        whole = self.source or self
        return whole if scope.whole else Inputs(self.workspace, scope=scope, source=whole)

    def present(self, key: InputKey) -> bool:
        path = self.workspace.path(key)
        if path.is_dir():
            return any(p.is_file() and not p.name.startswith(".") for p in path.rglob("*"))
        return path.exists()

    def read(self, key: InputKey) -> ReadResult[Any]:
        """Return the input's records and problems (an empty result when absent), only the
        records in scope for a scoped run."""
        if key not in self.cache and self.source is not None:
            self.cache[key] = self._in_scope(key, self.source.read(key))
        if key not in self.cache:
            path = self.workspace.path(key)
            reader = reader_for(key)
            if reader is None or not self.present(key):
                self.cache[key] = ReadResult(path)
            else:
                settings = READER_SETTINGS.get(key)
                options = settings(self.workspace.config) if settings else {}
                self.cache[key] = reader(path, **options)
                if key is InputKey.CONFIG:
                    # Names the configuration uses are looked up in what the catalogs declare.
                    from opsledger.core.config_names import config_name_problems

                    self.cache[key].extend(config_name_problems(self.cache[key], self.read))
        return self.cache[key]

    def _in_scope(self, key: InputKey, result: ReadResult[Any]) -> ReadResult[Any]:
        if self.scope.whole or key in UNSCOPED:
            return result
        if isinstance(result, ScopesItself):
            scoped, left_out = result.in_scope(self.scope)
        elif not result.records:
            return result
        else:
            kept, left_out = split(self.scope, result.records)
            scoped = copy.copy(result)  # a reader's own result type, with its extras
            scoped.records = kept
        if left_out.total:
            self.left_out[key] = left_out
        return scoped

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
        registry = readers()
        return [self.status(key) for key in InputKey if key in registry]

    def problems(self) -> list[Problem]:
        return [p for result in self.cache.values() for p in result.problems]

    def require_clean(self, read_all: bool = False) -> None:
        """Raise :class:`InputError` listing every problem (for ``--strict``).

        With ``read_all``, every input is read first (as review does), not only those the
        command has read so far.
        """
        if read_all:
            self.inventory()
        fail_if_strict(True, self.problems())


@dataclass
class Context:
    """Everything an analysis step needs from a run: the workspace, its inputs, the clock."""

    workspace: Workspace
    inputs: Inputs
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    progress: Callable[[str], None] = field(default=lambda message: None)
    results: dict[Hashable, Any] = field(default_factory=dict)
    # The Prometheus server for SLOs written in PromQL, when the command names one.
    prometheus_url: str | None = None

    @property
    def scope(self) -> Scope:
        """The services this run looks at (every service unless it is a team's or a
        service's view); its inputs hold only the records in it."""
        return self.inputs.scope

    def shared(self, compute: Callable[..., T], *args: Hashable) -> T:
        """Return ``compute(ctx, *args)`` over the whole workspace, computed once for the run
        and every team's or service's view of it (a bill read whole, request counts), where
        ``ctx`` is the run over every service: ``compute`` never sees a view's inputs."""
        whole = self.inputs.source or self.inputs
        key = (compute, *args)
        if key not in whole.shared:
            run = self if whole is self.inputs else Context(
                self.workspace, whole, self.now, self.progress,
                prometheus_url=self.prometheus_url)
            whole.shared[key] = compute(run, *args)
        value: T = whole.shared[key]
        return value

    def scoped(self, scope: Scope) -> Context:
        """Return a context over ``scope`` at the same time, sharing what was read (each
        file is read once) but not the results, which are computed for the scope."""
        return Context(self.workspace, self.inputs.scoped(scope), self.now, self.progress,
                       prometheus_url=self.prometheus_url)

    def once(self, compute: Callable[..., T], *args: Hashable) -> T:
        """Return ``compute(self, *args)``, computed once per run.

        A run's results (the SLO evaluation, the cost view, the backlog...) are read by
        several sections and commands; each is keyed by the function that computes it and
        its arguments, so its type is the function's.
        """
        key = (compute, *args)
        if key not in self.results:
            self.results[key] = compute(self, *args)
        value: T = self.results[key]
        return value

    @classmethod
    def open(cls, workspace: Workspace, now: datetime | None = None) -> Context:
        return cls(workspace, Inputs(workspace), now or datetime.now(UTC))
