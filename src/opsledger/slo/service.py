"""Evaluate every SLO of a workspace: read definitions, fetch counts, compute status.

The edge between I/O and the pure analysis: definitions and incidents come from the
workspace's readers, counts from the engines (DuckDB over event files, the health history,
Prometheus when a URL is known), and :mod:`opsledger.slo.objectives` does the arithmetic. An
SLO whose counts cannot be fetched is reported invalid with the engine's message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsledger.core.budget_exclusions import SECTION as EXCLUSIONS_KEY
from opsledger.core.catalog import configured_services
from opsledger.core.config import EngineChoice, ErrorBudgetPolicy
from opsledger.core.errors import EngineError
from opsledger.core.inputs import Context, fail_if_strict
from opsledger.core.options import DEFAULT_MIN_EVENTS
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.core.workspace import InputKey
from opsledger.core.yamlfile import load_yaml
from opsledger.engines.choice import configured_engine
from opsledger.model.incidents import AlertEvent, Incident
from opsledger.model.slo import SliSeries, Slo
from opsledger.slo.composite import NotComputable, component_counts, composite_series
from opsledger.slo.definitions import read_input
from opsledger.slo.definitions import read_slos as read_slos
from opsledger.slo.exclusions import (
    Exclusion,
    Unresolved,
    declared_exclusions,
    ignored_incidents,
    unmatched_selectors,
)
from opsledger.slo.health import BudgetStatus as BudgetStatus
from opsledger.slo.health import HealthResult as HealthResult
from opsledger.slo.health import ServiceHealth as ServiceHealth
from opsledger.slo.health import service_health as service_health
from opsledger.slo.objectives import (
    BURN_WINDOWS,
    PolicyDecision,
    SloStatus,
    evaluate_excluding,
    evaluation_span,
    policy_decisions,
)
from opsledger.slo.objectives import floor_minute as floor_minute
from opsledger.slo.objectives import format_age as format_age
from opsledger.slo.objectives import incident_budget_share as incident_budget_share
from opsledger.slo.policy_choice import DEFAULT_MAX_ALERTS_PER_WEEK
from opsledger.slo.prometheus_rules import RuleTarget as RuleTarget
from opsledger.slo.prometheus_rules import target_for as target_for
from opsledger.slo.promtool_tests import promtool_test_files as promtool_test_files
from opsledger.slo.results_json import backtest_json as backtest_json
from opsledger.slo.results_json import noise_json as noise_json
from opsledger.slo.rule_files import RULES_FILE as RULES_FILE
from opsledger.slo.rule_files import RuleFiles as RuleFiles
from opsledger.slo.rule_files import load_policies as load_policies
from opsledger.slo.rule_files import workspace_rules as workspace_rules
from opsledger.slo.rule_files import write_rule_files as write_rule_files
from opsledger.slo.scoping import SloScope as SloScope
from opsledger.slo.scoping import outside_components, slo_scope, whole_context
from opsledger.slo.sli_engines import NEEDS_PROMETHEUS as NEEDS_PROMETHEUS
from opsledger.slo.sli_engines import PROMETHEUS_URL_ENV as PROMETHEUS_URL_ENV
from opsledger.slo.sli_engines import SliEngines

if TYPE_CHECKING:
    from opsledger.engines.prometheus_engine import PrometheusEngine
    from opsledger.slo.backtest import BacktestResult, PolicyChoice
    from opsledger.slo.noise import NoiseReport, WorkingHours

# PromQL SLOs evaluated at the same time: each asks its server one query at a time.
PROMETHEUS_SLOS_AT_ONCE = 4


@dataclass(frozen=True)
class SloEvaluation:
    status: SloStatus
    series: SliSeries | None
    decisions: tuple[PolicyDecision, ...] = ()


@dataclass
class SloReport:
    evaluations: list[SloEvaluation] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # A team's or a service's view: what it shows and leaves out (None: every service).
    scope: SloScope | None = None

    def to_json(self) -> list[dict[str, Any]]:
        return [e.status.to_json() for e in self.evaluations]


def evaluate_workspace(
    ctx: Context,
    prometheus_url: str | None = None,
    min_events: int = DEFAULT_MIN_EVENTS,
    engine: EngineChoice | None = None,
    minute_history: bool = True,
) -> SloReport:
    """Return the status, counts and policy decisions of every SLO in the workspace.

    Event-file SLIs are counted by ``engine`` (default: the one the configuration names).
    Whichever engine counts, the exclusions ``opsledger.yaml`` declares are then applied to
    the minute counts (:mod:`opsledger.slo.exclusions`): every status, policy decision and
    series returned here is computed without the excluded minutes. Computed once per run
    and shared by every section that needs it.

    Without ``minute_history`` the counts need only give the windows that end now (the
    status, budget, burn rates, policy steps and incidents' shares of the budget), so a
    Prometheus server is asked for whole hours where minutes would not change them; the
    alert backtest, which replays every minute, needs the minute history.
    """
    events = engine or configured_engine(ctx.workspace)
    return ctx.once(_evaluate_workspace, prometheus_url, min_events, events, minute_history)


def _evaluate_workspace(
    ctx: Context,
    prometheus_url: str | None,
    min_events: int,
    events: EngineChoice,
    minute_history: bool = True,
) -> SloReport:
    definitions = read_slos(ctx)
    whole = whole_context(ctx)
    every = read_slos(whole).records
    # A journey in a team's view may be counted from other teams' SLOs: those are
    # evaluated too (as a run over every service would), but not reported.
    outside = outside_components(definitions.records, every)
    report = SloReport(problems=list(definitions.problems),
                       scope=slo_scope(ctx, len(definitions.records), outside))
    if not definitions.records:
        return report
    engines = SliEngines(ctx, prometheus_url, events)
    incidents = read_incidents(ctx)
    every_incident = incidents if whole is ctx else read_incidents(whole)
    policy = ctx.workspace.config.policies.error_budget
    # Composite SLOs last: they are counted from their components' evaluations.
    ordered = sorted([*definitions.records, *outside],
                     key=lambda s: (bool(s.composite), s.service, s.name))
    not_shown = {id(slo) for slo in outside}
    # The declarations are the whole configuration's, and a correction may name an incident
    # of another team: they are resolved over every SLO and incident, as in a whole run.
    exclusions, unresolved = workspace_exclusions(ctx, every, every_incident)
    report.problems += unresolved
    evaluated: dict[str, tuple[SloStatus, SliSeries | None]] = {}
    try:
        fetched = _fetch_event_slos(engines, ordered, ctx)

        def evaluate(slo: Slo) -> SloEvaluation:
            among = every_incident if id(slo) in not_shown else incidents
            return _evaluate_one(slo, engines, ctx.now, min_events, among, policy, fetched,
                                 minute_history, exclusions)

        asked = [slo for slo in ordered if not slo.composite and engines.asks_prometheus(slo)]
        if len(asked) > 1:
            ctx.progress(f"asking Prometheus for {len(asked)} SLOs")
        ahead = _evaluate_side_by_side(asked, engines, evaluate)
        for slo in ordered:
            ctx.progress(f"SLO {slo.key}")
            evaluation = (
                ahead.get(slo.key)
                or _uncountable_composite(slo, evaluated, fetched, ctx.now)
                or evaluate(slo)
            )
            evaluated[slo.key] = (evaluation.status, evaluation.series)
            if id(slo) not in not_shown:
                report.evaluations.append(evaluation)
    finally:
        engines.close()
    return report


def _uncountable_composite(
    slo: Slo,
    evaluated: Mapping[str, tuple[SloStatus, SliSeries | None]],
    fetched: dict[str, SliSeries],
    now: datetime,
) -> SloEvaluation | None:
    """Count a composite SLO from its components' evaluations (by key) into ``fetched``, so
    that it is evaluated as any other SLO; return its status instead when a component has no
    counts. None for an SLO that is not a composite."""
    if slo.composite is None:
        return None
    counts = component_counts(slo, evaluated)
    if isinstance(counts, NotComputable):
        status = SloStatus(slo, now, slo.window.start_at(floor_minute(now)), valid=False,
                           reasons=(counts.reason,), needs_prometheus=counts.needs_prometheus)
        return SloEvaluation(status, None)
    fetched[slo.key] = composite_series(slo, counts)
    return None


def workspace_exclusions(
    ctx: Context, slos: Sequence[Slo], incidents: Sequence[Incident]
) -> tuple[list[Exclusion], list[Problem]]:
    """Return the exclusions ``opsledger.yaml`` declares, resolved over the span the SLOs
    are evaluated on, and a warning (at its line) for each declaration that excludes
    nothing it names."""
    config = ctx.workspace.config
    declared = config.error_budget_exclusions
    if declared.empty or not slos:
        return [], []
    start = min(evaluation_span(slo, ctx.now)[0] for slo in slos)
    found, unresolved = declared_exclusions(declared, config.change_windows,
                                            config.stakeholders, incidents, start,
                                            floor_minute(ctx.now))
    unresolved += unmatched_selectors(found, slos)
    return found, _located(ctx, unresolved)


def _located(ctx: Context, notes: Sequence[Unresolved]) -> list[Problem]:
    if not notes:
        return []
    path = ctx.workspace.path(InputKey.CONFIG)
    lines = load_yaml(path)[1] if path.exists() else None
    problems = []
    for note in notes:
        loc = (EXCLUSIONS_KEY, *note.where)
        line = lines.line_of(loc) if lines else None
        dotted = ".".join(str(part) for part in loc)
        problems.append(Problem(str(path), f"line {line}" if line else "",
                                f"{dotted}: {note.message}", level=Level.WARNING))
    return problems


def _fetch_event_slos(engines: SliEngines, slos: list[Slo], ctx: Context
                      ) -> dict[str, SliSeries]:
    """Return counts for the event-file SLOs, one scan per set of files and span."""
    spans: dict[tuple[datetime, datetime], list[Slo]] = {}
    for slo in slos:
        if engines.counts_events(slo):
            spans.setdefault(evaluation_span(slo, ctx.now), []).append(slo)
    fetched: dict[str, SliSeries] = {}
    for (start, end), members in spans.items():
        ctx.progress(f"counting {len(members)} SLO(s) from event files")
        try:
            fetched.update(engines.events.series_many(members, start, end))
        except EngineError:
            continue  # counted one by one below, so each SLO gets its own message
    return fetched


def _evaluate_side_by_side(
    slos: Sequence[Slo], engines: SliEngines, evaluate: Callable[[Slo], SloEvaluation]
) -> dict[str, SloEvaluation]:
    """Return ``evaluate`` of each PromQL SLO, up to ``PROMETHEUS_SLOS_AT_ONCE`` at a time.

    One SLO's queries run one after another; those of different SLOs overlap, so the command
    waits about as long as its slowest SLOs take rather than for every round trip in turn.
    The engines are built here before any thread starts; every query still draws on the one
    deadline of the command.
    """
    if len(slos) < 2:
        return {}
    for slo in slos:
        engines.for_slo(slo)
    pool = ThreadPoolExecutor(min(PROMETHEUS_SLOS_AT_ONCE, len(slos)),
                              thread_name_prefix="opsledger-prometheus")
    try:
        futures = [(slo.key, pool.submit(evaluate, slo)) for slo in slos]
        return {key: future.result() for key, future in futures}
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _evaluate_one(
    slo: Slo,
    engines: SliEngines,
    now: datetime,
    min_events: int,
    incidents: list[Incident],
    policy: ErrorBudgetPolicy,
    fetched: dict[str, SliSeries],
    minute_history: bool = True,
    exclusions: Sequence[Exclusion] = (),
) -> SloEvaluation:
    start, end = evaluation_span(slo, now)
    if engines.lacks_prometheus(slo):
        status = SloStatus(slo, now, slo.window.start_at(end), valid=False,
                           reasons=(NEEDS_PROMETHEUS,), needs_prometheus=True)
        return SloEvaluation(status, None)
    try:
        engine = engines.for_slo(slo) if slo.key not in fetched else None
        prometheus = engines.prometheus_of(engine)
        if prometheus is not None and not minute_history:
            status, series = _from_summed_hours(prometheus, slo, start, end, now, min_events,
                                                incidents, exclusions)
        else:
            counted = engine.series(slo, start, end) if engine else fetched[slo.key]
            status, series = evaluate_excluding(slo, counted, now, exclusions, min_events)
    except EngineError as exc:
        status = SloStatus(slo, now, slo.window.start_at(end), valid=False, reasons=(str(exc),))
        return SloEvaluation(status, None)
    decisions = policy_decisions(status, series, incidents, policy)
    return SloEvaluation(status, series, tuple(decisions))


def _from_summed_hours(
    engine: PrometheusEngine,
    slo: Slo,
    start: datetime,
    end: datetime,
    now: datetime,
    min_events: int,
    incidents: Sequence[Incident],
    exclusions: Sequence[Exclusion] = (),
) -> tuple[SloStatus, SliSeries]:
    """Return status and counts with the hours no window needs by the minute summed.

    The minutes of incidents and of the exclusions that apply are fetched exactly, so an
    excluded minute takes out its own counts. A budget already spent is spent within one
    hour, the same with or without its minutes (the sums at whole hours are exact); that
    hour (with exclusions and without) is fetched again by the minute so the moment it ran
    out is exact too.
    """
    detail = minute_detail(slo)
    excluded = [span for e in exclusions if e.applies_to(slo) for span in e.spans]
    exact = [*incident_spans(slo, incidents, start, end), *excluded]
    counted = engine.series(slo, start, end, detail, exact=exact)
    status, series = evaluate_excluding(slo, counted, now, exclusions, min_events)
    without = status.without_exclusions or status
    spent = [t for t in {status.exhaustion_at, without.exhaustion_at}
             if t is not None and t < end - detail]
    if spent:
        hour = timedelta(hours=1)
        counted = engine.refine(slo, counted, detail, [(t - hour, t + hour) for t in sorted(spent)])
        status, series = evaluate_excluding(slo, counted, now, exclusions, min_events)
    return status, series


def minute_detail(slo: Slo) -> timedelta:
    """Return the stretch before now that the SLO's windows need minute by minute: the
    longest of its burn and policy windows that is not whole hours (at least an hour)."""
    windows = [*BURN_WINDOWS.values(), *(step.window for step in slo.error_budget_policy)]
    ragged = [w for w in windows if w % timedelta(hours=1)]
    return max([timedelta(hours=1), *ragged])


def incident_spans(
    slo: Slo, incidents: Sequence[Incident], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Return the spans of the service's incidents within ``[start, end)``: their share of
    the budget is counted on exact minutes."""
    spans = []
    for incident in incidents:
        if incident.service != slo.service:
            continue
        began = incident.started_at or incident.created_at
        finished = incident.resolved_at or end
        if began < end and finished > start:
            spans.append((max(began, start), min(finished, end)))
    return spans


HEALTH_WINDOW = timedelta(days=30)  # the report's month: the 30 days to the evaluation instant


def workspace_health(ctx: Context) -> list[HealthResult]:
    """Return each service's health over the :data:`HEALTH_WINDOW` to ``ctx.now``, computed
    once per run for every section and gate that reads it."""
    return ctx.once(_workspace_health)


def _workspace_health(ctx: Context) -> list[HealthResult]:
    from opsledger.readers.health import probe_history

    probes = probe_history(ctx.inputs.read(InputKey.HEALTH))
    return service_health(probes, ctx.now - HEALTH_WINDOW, ctx.now,
                          ctx.workspace.config.budget_for,
                          [s.name for s in configured_services(ctx)])


def read_alert_history(ctx: Context) -> ReadResult[AlertEvent]:
    """Return the alert firings exported under ``incidents/alerts/`` (empty when absent)."""
    return ctx.inputs.read(InputKey.ALERTS)


def read_incidents(ctx: Context) -> list[Incident]:
    """Return the run's incidents (a scoped run's: those of its services and team)."""
    from opsledger.readers import incidents

    found = read_input(ctx, InputKey.INCIDENTS, incidents.read).records
    return [r for r in found if isinstance(r, Incident)]


def working_hours(ctx: Context) -> WorkingHours:
    """Return business and sleep hours in the support policy's time zone."""
    from opsledger.slo.noise import WorkingHours

    return WorkingHours(timezone=ctx.workspace.config.policies.support.timezone)


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
    The histories are those of the report, excluded minutes already without counts; an
    incident whose whole impact is excluded is no ground truth for that SLO.
    """
    # Imported here: a command that only evaluates SLOs has no use for the replay.
    from opsledger.slo.backtest import SkippedBacktest, backtest_slos

    report = report or evaluate_workspace(ctx, prometheus_url)
    run = BacktestRun(problems=list(report.problems))
    histories: list[tuple[Slo, SliSeries]] = []
    incidents = read_incidents(ctx)
    ignored: dict[str, frozenset[str]] = {}
    for evaluation in report.evaluations:
        slo = evaluation.status.slo
        if evaluation.series is None:
            reason = "; ".join(evaluation.status.reasons) or "no SLI history"
            run.results.append(
                SkippedBacktest(slo.key, reason, evaluation.status.needs_prometheus)
            )
        else:
            histories.append((slo, evaluation.series))
            excluded = evaluation.status.exclusions
            if excluded is not None:
                ignored[slo.key] = ignored_incidents(incidents, slo, evaluation.series.start,
                                                     excluded.mask)
    if histories:
        ctx.progress(f"backtesting alert policies on {len(histories)} SLO(s)")
        run.results.extend(
            backtest_slos(histories, incidents, policies, max_alerts_per_week, ignored)
        )
    run.results.sort(key=lambda r: r.slo)
    return run


def workspace_noise(ctx: Context) -> tuple[NoiseReport, list[Problem]]:
    """Return the alert-noise report of the workspace's alert history."""
    from opsledger.slo.noise import noise_report

    history = read_alert_history(ctx)
    # Which incident ids are real is asked of every incident: an alert of the view may be
    # linked to an incident filed against another team's service.
    known = {i.id for i in read_incidents(whole_context(ctx))}
    report = noise_report(history.records, known or None, working_hours(ctx))
    return report, list(history.problems)


# --- JSON ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardsWritten:
    """What ``opsledger slo dashboards`` wrote, the SLOs not charted (and why), the problems."""

    written: tuple[Path, ...]
    not_charted: tuple[tuple[str, str], ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class ResultsExported:
    """Where ``opsledger slo export`` wrote, in which format, and how many SLOs it holds."""

    path: Path
    format: str
    slos: int
    computed: int


def write_dashboards(
    ctx: Context,
    out: Path | None = None,
    strict: bool = False,
    warn: Callable[[Problem], None] = lambda problem: None,
) -> DashboardsWritten:
    """Write Grafana dashboards over the rules' series (``opsledger slo dashboards``)."""
    from opsledger.slo import dashboards

    files = dashboards.write_dashboards(ctx, read_slos(ctx), out, strict, warn)
    return DashboardsWritten(files.written, files.not_charted, files.problems)


def export_results(
    ctx: Context,
    out: Path | None,
    fmt: str,
    timestamps: bool = True,
    prometheus_url: str | None = None,
    min_events: int = DEFAULT_MIN_EVENTS,
    engine: EngineChoice | None = None,
    strict: bool = False,
    warn: Callable[[Problem], None] = lambda problem: None,
) -> ResultsExported:
    """Write the computed SLO results as OpenMetrics or JSON Lines (``opsledger slo export``).

    The SLOs are evaluated as ``slo status`` evaluates them. With ``strict``, any problem in
    the SLO definitions fails before anything is written.
    """
    from opsledger.slo import export

    report = evaluate_workspace(ctx, prometheus_url=prometheus_url, min_events=min_events,
                                engine=engine, minute_history=False)
    problems = list(report.problems)
    fail_if_strict(strict, [p for p in problems if p.level is not Level.WARNING])
    for problem in problems:
        warn(problem)
    written = export.export_results(ctx, [e.status for e in report.evaluations], problems,
                                    out, export.ExportFormat(fmt), timestamps)
    return ResultsExported(written.path, written.format.value, len(written.results),
                           sum(r.valid for r in written.results))
