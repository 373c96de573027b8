"""Evaluate every SLO of a workspace: read definitions, fetch counts, compute status.

The edge between I/O and the pure analysis: definitions and incidents come from the
workspace's readers, counts from the engines (DuckDB over event files, the health history,
Prometheus when a URL is known), and :mod:`opsledger.slo.objectives` does the arithmetic. An
SLO whose counts cannot be fetched is reported invalid with the engine's message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.core.config import ErrorBudgetPolicy
from opsledger.core.errors import EngineError
from opsledger.core.inputs import READERS, Context
from opsledger.core.problems import Problem, ReadResult
from opsledger.core.workspace import InputKey
from opsledger.engines.choice import EngineChoice, configured_engine, event_engine
from opsledger.engines.health_engine import HealthEngine
from opsledger.engines.interface import EventEngine, SliEngine
from opsledger.engines.prometheus_client import Deadline, command_deadline
from opsledger.engines.prometheus_engine import PrometheusEngine
from opsledger.model.health import ProbeResult
from opsledger.model.incidents import Incident
from opsledger.model.slo import PrometheusSource, SliSeries, Slo
from opsledger.slo.objectives import (
    DEFAULT_MIN_EVENTS,
    PolicyDecision,
    SloStatus,
    evaluate,
    evaluation_span,
    policy_decisions,
)

PROMETHEUS_URL_ENV = "OPSLEDGER_PROMETHEUS_URL"


@dataclass(frozen=True)
class SloEvaluation:
    status: SloStatus
    series: SliSeries | None
    decisions: tuple[PolicyDecision, ...] = ()


@dataclass
class SloReport:
    evaluations: list[SloEvaluation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> list[dict[str, Any]]:
        return [e.status.to_json() for e in self.evaluations]


def _read(
    ctx: Context, key: InputKey, reader: Callable[[Path], ReadResult[Any]]
) -> ReadResult[Any]:
    if key in READERS:
        return ctx.inputs.read(key)
    path = ctx.workspace.path(key)
    return reader(path) if path.exists() else ReadResult(path)


def read_slos(ctx: Context) -> ReadResult[Slo]:
    from opsledger.readers import slo_definitions

    return _read(ctx, InputKey.SLOS, slo_definitions.read)


def _incidents(ctx: Context) -> list[Incident]:
    from opsledger.readers import incidents

    return [
        r for r in _read(ctx, InputKey.INCIDENTS, incidents.read).records if isinstance(r, Incident)
    ]


def _probes(ctx: Context) -> list[ProbeResult]:
    from opsledger.readers import health

    return [
        r for r in _read(ctx, InputKey.HEALTH, health.read).records if isinstance(r, ProbeResult)
    ]


class _Engines:
    """Chooses the engine per SLO; builds each engine lazily (the health history is read once)."""

    def __init__(self, ctx: Context, prometheus_url: str | None, events: EngineChoice) -> None:
        self.ctx = ctx
        self.prometheus_url = prometheus_url or os.environ.get(PROMETHEUS_URL_ENV) or None
        deadline = ctx.workspace.config.sli_query_deadline_seconds
        self.events = event_engine(events, ctx.workspace.root, deadline)
        self._health: HealthEngine | None = None
        self._prometheus: dict[str, PrometheusEngine] = {}
        # One time budget for all Prometheus queries of the command, however many servers
        # its SLO definitions name; started when the first server is asked.
        self._prometheus_deadline: Deadline | None = None

    def for_slo(self, slo: Slo) -> SliEngine:
        if self.events.supports(slo):
            return self.events
        if isinstance(slo.indicator, PrometheusSource):
            url = self.prometheus_url or slo.indicator.url
            if not url:
                raise EngineError(
                    f"needs a Prometheus server: pass --prometheus URL or set {PROMETHEUS_URL_ENV}"
                )
            if url not in self._prometheus:
                if self._prometheus_deadline is None:
                    self._prometheus_deadline = command_deadline()
                self._prometheus[url] = PrometheusEngine(url, deadline=self._prometheus_deadline)
            return self._prometheus[url]
        if self._health is None:
            self._health = HealthEngine(_probes(self.ctx))
        return self._health


def evaluate_workspace(
    ctx: Context,
    prometheus_url: str | None = None,
    min_events: int = DEFAULT_MIN_EVENTS,
    engine: EngineChoice | None = None,
) -> SloReport:
    """Return the status, counts and policy decisions of every SLO in the workspace.

    Event-file SLIs are counted by ``engine`` (default: the one the configuration names).
    Computed once per run and shared by every section that needs it.
    """
    events = engine or configured_engine(ctx.workspace)
    return ctx.memo(
        f"slo-report:{prometheus_url}:{min_events}:{events.value}",
        lambda: _evaluate_workspace(ctx, prometheus_url, min_events, events),
    )


def _evaluate_workspace(
    ctx: Context, prometheus_url: str | None, min_events: int, events: EngineChoice
) -> SloReport:
    definitions = read_slos(ctx)
    report = SloReport(problems=list(definitions.problems))
    if not definitions.records:
        return report
    engines = _Engines(ctx, prometheus_url, events)
    incidents = _incidents(ctx)
    policy = ctx.workspace.config.policies.error_budget
    ordered = sorted(definitions.records, key=lambda s: (s.service, s.name))
    try:
        fetched = _fetch_event_slos(engines.events, ordered, ctx)
        for slo in ordered:
            ctx.progress(f"SLO {slo.key}")
            report.evaluations.append(
                _evaluate_one(slo, engines, ctx.now, min_events, incidents, policy, fetched)
            )
    finally:
        engines.events.close()
    return report


def _fetch_event_slos(engine: EventEngine, slos: list[Slo], ctx: Context) -> dict[str, SliSeries]:
    """Return counts for the event-file SLOs, one scan per set of files and span."""
    spans: dict[tuple[datetime, datetime], list[Slo]] = {}
    for slo in slos:
        if engine.supports(slo):
            spans.setdefault(evaluation_span(slo, ctx.now), []).append(slo)
    fetched: dict[str, SliSeries] = {}
    for (start, end), members in spans.items():
        ctx.progress(f"counting {len(members)} SLO(s) from event files")
        try:
            fetched.update(engine.series_many(members, start, end))
        except EngineError:
            continue  # counted one by one below, so each SLO gets its own message
    return fetched


def _evaluate_one(
    slo: Slo,
    engines: _Engines,
    now: datetime,
    min_events: int,
    incidents: list[Incident],
    policy: ErrorBudgetPolicy,
    fetched: dict[str, SliSeries],
) -> SloEvaluation:
    start, end = evaluation_span(slo, now)
    try:
        series = fetched.get(slo.key) or engines.for_slo(slo).series(slo, start, end)
    except EngineError as exc:
        status = SloStatus(slo, now, slo.window.start_at(end), valid=False, reasons=(str(exc),))
        return SloEvaluation(status, None)
    status = evaluate(slo, series, now, min_events=min_events)
    decisions = policy_decisions(status, series, incidents, policy)
    return SloEvaluation(status, series, tuple(decisions))
