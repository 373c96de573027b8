"""Evaluate every SLO of a workspace: read definitions, fetch counts, compute status.

The edge between I/O and the pure analysis: definitions and incidents come from the
workspace's readers, counts from the engines (DuckDB over event files, the health history,
Prometheus when a URL is known), and :mod:`opsledger.slo.objectives` does the arithmetic. An
SLO whose counts cannot be fetched is reported invalid with the engine's message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.core.config import EngineChoice, ErrorBudgetPolicy
from opsledger.core.errors import ConfigError, EngineError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context, fail_if_strict, readers
from opsledger.core.lock import writing
from opsledger.core.options import DEFAULT_MIN_EVENTS
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.core.workspace import InputKey
from opsledger.core.yamlfile import load_yaml
from opsledger.engines.choice import configured_engine, event_engine
from opsledger.engines.health_engine import HealthEngine
from opsledger.engines.interface import EventEngine, SliEngine
from opsledger.engines.prometheus_client import Deadline, command_deadline
from opsledger.engines.prometheus_engine import PrometheusEngine
from opsledger.model.health import ProbeResult
from opsledger.model.incidents import AlertEvent, Incident
from opsledger.model.slo import PrometheusSource, SliSeries, Slo
from opsledger.slo.alerting import AlertPolicy, custom_policy, default_policies
from opsledger.slo.backtest import (
    DEFAULT_MAX_ALERTS_PER_WEEK,
    BacktestResult,
    PolicyChoice,
    SkippedBacktest,
    SloBacktest,
    backtest_slos,
)
from opsledger.slo.health import BudgetStatus as BudgetStatus
from opsledger.slo.health import HealthResult as HealthResult
from opsledger.slo.health import ServiceHealth as ServiceHealth
from opsledger.slo.health import service_health as service_health
from opsledger.slo.noise import NoiseReport, WorkingHours, noise_report
from opsledger.slo.objectives import (
    PolicyDecision,
    SloStatus,
    evaluate,
    evaluation_span,
    policy_decisions,
)
from opsledger.slo.objectives import floor_minute as floor_minute
from opsledger.slo.objectives import incident_budget_share as incident_budget_share
from opsledger.slo.prometheus_rules import RuleTarget as RuleTarget
from opsledger.slo.prometheus_rules import rules_file
from opsledger.slo.prometheus_rules import target_for as target_for
from opsledger.slo.promtool_tests import promtool_test_files as promtool_test_files

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
    if key in readers():
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
        self.prometheus_url = (
            prometheus_url or ctx.prometheus_url or os.environ.get(PROMETHEUS_URL_ENV) or None
        )
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
    return ctx.once(_evaluate_workspace, prometheus_url, min_events, events)


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


def read_alert_history(ctx: Context) -> ReadResult[AlertEvent]:
    """Return the alert firings exported under ``incidents/alerts/`` (empty when absent)."""
    return ctx.inputs.read(InputKey.ALERTS)


def read_incidents(ctx: Context) -> list[Incident]:
    from opsledger.core.inputs import readers
    from opsledger.readers import incidents

    if InputKey.INCIDENTS in readers():
        found = ctx.inputs.read(InputKey.INCIDENTS).records
    else:
        path = ctx.workspace.path(InputKey.INCIDENTS)
        found = incidents.read(path).records if path.exists() else []
    return [r for r in found if isinstance(r, Incident)]


def working_hours(ctx: Context) -> WorkingHours:
    """Return business and sleep hours in the support policy's time zone."""
    return WorkingHours(timezone=ctx.workspace.config.policies.support.timezone)


def workspace_rules(ctx: Context, policy: AlertPolicy | None = None) -> tuple[str, list[Problem]]:
    """Return the Prometheus rule file for the workspace's SLOs and the definition problems."""
    definitions = read_slos(ctx)
    ordered = sorted(definitions.records, key=lambda s: (s.service, s.name))
    text, skipped = rules_file(ordered, policy)
    problems = list(definitions.problems)
    for item in (s for s in skipped if s.applies):
        path, _, line = item.where.rpartition(":")
        problems.append(
            Problem(
                path or item.where,
                f"line {line}" if path else "",
                f"no Prometheus rules for SLO {item.slo}: {item.reason}",
                level=Level.WARNING,
            )
        )
    return text, problems


RULES_FILE = Path("prometheus") / "slo-rules.yaml"  # under the p09 evidence folder


@dataclass(frozen=True)
class RuleFiles:
    """The Prometheus rule file written, every file written with it, and the problems met."""

    path: Path
    written: tuple[Path, ...]
    problems: tuple[Problem, ...]


def write_rule_files(
    ctx: Context,
    out: Path | None = None,
    with_tests: bool = False,
    strict: bool = False,
    warn: Callable[[Problem], None] = lambda problem: None,
) -> RuleFiles:
    """Write the workspace's recording and burn-rate alerting rules (and promtool tests).

    The rule file goes to ``out``, by default under the p09 evidence folder; with
    ``with_tests``, promtool unit tests that can pass go to ``tests/`` beside it. With
    ``strict``, any problem in the SLO definitions fails first. Each problem is passed to
    ``warn`` when it is met; the files are written while the workspace lock is held.
    """
    text, problems = workspace_rules(ctx)
    fail_if_strict(strict, [*problems, *ctx.inputs.problems()])
    for problem in problems:
        warn(problem)
    path = out or ctx.workspace.p09_evidence / RULES_FILE
    with writing(ctx.workspace, "slo rules"):
        atomic_write_text(path, text)
        written = [path]
        if with_tests:
            written += _write_promtool_tests(ctx, path.parent / "tests", problems, warn)
    return RuleFiles(path, tuple(written), tuple(problems))


def _write_promtool_tests(
    ctx: Context, folder: Path, problems: list[Problem], warn: Callable[[Problem], None]
) -> list[Path]:
    """Write a rule file and promtool tests per SLO into ``folder``; return the files.

    Only tests that can pass are written; for each other SLO a warning, added to
    ``problems`` and passed to ``warn``, says why not.
    """
    written: list[Path] = []
    for slo in read_slos(ctx).records:
        target = target_for(slo)
        if not isinstance(target, RuleTarget):
            continue
        name = f"{target.sloth_id}.rules.yaml"
        try:
            rules_text, tests_text = promtool_test_files(target, rules_file=name)
        except ValueError as exc:
            skipped = Problem(slo.source_path, f"line {slo.source_line}",
                              f"no promtool test for SLO {slo.key}: {exc}", level=Level.WARNING)
            problems.append(skipped)
            warn(skipped)
            continue
        atomic_write_text(folder / name, rules_text)
        atomic_write_text(folder / f"{target.sloth_id}.test.yaml", tests_text)
        written += [folder / name, folder / f"{target.sloth_id}.test.yaml"]
    return written


_CONDITION = re.compile(r"conditions\[(\d+)\]")


def load_policies(path: Path) -> Callable[[int], tuple[AlertPolicy, ...]]:
    """Return custom alert policies from a YAML file, as a function of the SLO window in days.

    The file holds ``policies:`` (a list of ``name``, ``description`` and ``conditions``, see
    :func:`opsledger.slo.alerting.custom_policy`) and ``include_defaults`` (default
    true: compare the four default policies too). Raise :class:`ConfigError` naming the
    file and line of the first mistake.
    """
    data, lines = load_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("policies"), list):
        raise ConfigError(f"{path}: expected a mapping with a 'policies' list")
    unknown = set(data) - {"policies", "include_defaults"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    include_defaults = data.get("include_defaults", True)
    if not isinstance(include_defaults, bool):
        raise ConfigError(
            f"{path}: line {lines.line_of(('include_defaults',))}: "
            "include_defaults must be true or false"
        )
    specs = data["policies"]
    for index, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{path}: line {lines.line_of(('policies', index))}: each policy must be a mapping"
            )
        try:
            custom_policy(spec)
        except ValueError as exc:
            where: tuple[str | int, ...] = ("policies", index)
            match = _CONDITION.search(str(exc))
            if match:
                where += ("conditions", int(match.group(1)))
            raise ConfigError(f"{path}: line {lines.line_of(where)}: {exc}") from None
    names = [spec["name"] for spec in specs]
    if include_defaults:
        names += [p.name for p in default_policies()]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: policy names must be unique (and differ from the defaults)")

    def policies(window_days: int) -> tuple[AlertPolicy, ...]:
        custom = tuple(custom_policy(spec, window_days) for spec in specs)
        return (default_policies(window_days) if include_defaults else ()) + custom

    return policies


@dataclass
class BacktestRun:
    results: list[BacktestResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def backtest_workspace(
    ctx: Context,
    report: SloReport | None = None,
    policies: PolicyChoice | None = None,
    max_alerts_per_week: float = DEFAULT_MAX_ALERTS_PER_WEEK,
    prometheus_url: str | None = None,
) -> BacktestRun:
    """Return a policy backtest per SLO over the SLI history the engines return.

    ``report``: an evaluation already made (the SLO section's), to fetch counts only once.
    """
    report = report or evaluate_workspace(ctx, prometheus_url)
    run = BacktestRun(problems=list(report.problems))
    histories: list[tuple[Slo, SliSeries]] = []
    for evaluation in report.evaluations:
        slo = evaluation.status.slo
        if evaluation.series is None:
            reason = "; ".join(evaluation.status.reasons) or "no SLI history"
            run.results.append(SkippedBacktest(slo.key, reason))
        else:
            histories.append((slo, evaluation.series))
    if histories:
        ctx.progress(f"backtesting alert policies on {len(histories)} SLO(s)")
        run.results.extend(
            backtest_slos(histories, read_incidents(ctx), policies, max_alerts_per_week)
        )
    run.results.sort(key=lambda r: r.slo)
    return run


def workspace_noise(ctx: Context) -> tuple[NoiseReport, list[Problem]]:
    """Return the alert-noise report of the workspace's alert history."""
    history = read_alert_history(ctx)
    known = {i.id for i in read_incidents(ctx)}
    report = noise_report(history.records, known or None, working_hours(ctx))
    return report, list(history.problems)


# --- JSON ---------------------------------------------------------------------------------


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def backtest_json(results: Sequence[BacktestResult]) -> list[dict[str, Any]]:
    """Return backtests as JSON-ready objects (numbers rounded for display only)."""
    out: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, SkippedBacktest):
            out.append({"slo": result.slo, "valid": False, "reason": result.reason})
            continue
        assert isinstance(result, SloBacktest)
        out.append(
            {
                "slo": result.slo,
                "valid": True,
                "objective": result.objective,
                "window_days": result.window_days,
                "minutes": result.minutes,
                "recommended": result.recommendation.policy,
                "reason": result.recommendation.reason,
                "policies": [
                    {
                        "policy": s.policy,
                        "alerts": s.alerts,
                        "pages": s.pages,
                        "tickets": s.tickets,
                        "alerts_per_week": _rounded(s.alerts_per_week),
                        "precision": _rounded(s.precision),
                        "recall": _rounded(s.recall),
                        "incidents": s.incidents,
                        "detected": s.detected,
                        "mean_detection_minutes": _rounded(s.mean_detection_minutes, 1),
                        "mean_reset_minutes": _rounded(s.mean_reset_minutes, 1),
                        "mean_budget_before_detection": _rounded(s.mean_budget_before_detection),
                    }
                    for s in result.scores
                ],
            }
        )
    return out


def noise_json(report: NoiseReport) -> dict[str, Any]:
    """Return the noise report as a JSON-ready object."""
    return {
        "firings": report.firings,
        "start": report.start.isoformat() if report.start else None,
        "end": report.end.isoformat() if report.end else None,
        "timezone": report.working_hours.timezone,
        "alerts": [
            {
                "alert": a.alert,
                "service": a.service,
                "firings": a.firings,
                "occurrences": a.occurrences,
                "flapping_episodes": a.flapping_episodes,
                "auto_resolve_rate": _rounded(a.auto_resolve_rate),
                "actionable_rate": _rounded(a.actionable_rate),
                "alerts_per_incident": _rounded(a.alerts_per_incident, 2),
                "off_hours": a.off_hours,
                "sleep_hours": a.sleep_hours,
            }
            for a in report.alerts
        ],
        "recommendations": [
            {"alert": r.alert, "service": r.service, "action": r.action.value, "reason": r.reason}
            for r in report.recommendations
        ],
    }
