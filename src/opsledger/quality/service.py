"""Measure a workspace's metrics and evaluate its quality gates.

The edge between I/O and the pure analysis: records come from the workspace's readers, the
figures from :mod:`opsledger.analysis` (health, perf, patching, slo, incidents), the naming
from :mod:`opsledger.quality.metrics` and the verdict from :mod:`opsledger.quality.gates`.
A figure whose input is missing or unreadable is reported not available with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsledger.core.errors import InputError, OpsledgerError
from opsledger.core.fileio import atomic_write_json, atomic_write_text, sha256_file, sha256_tree
from opsledger.core.inputs import Context, fail_if_strict
from opsledger.core.lock import writing
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.core.workspace import InputKey
from opsledger.model import schema
from opsledger.model.gates import GateSpec
from opsledger.model.health import PerfReport, PerfRun
from opsledger.model.status import Skipped
from opsledger.patching.service import assess_posture
from opsledger.quality.canary import CanaryPolicy as CanaryPolicy
from opsledger.quality.canary import CanaryReport
from opsledger.quality.canary import Decision as Decision
from opsledger.quality.canary import compare_canary as compare_canary
from opsledger.quality.gate_definitions import GateDefinitions, resolve_definitions
from opsledger.quality.gate_report import scorecard_junit as scorecard_junit
from opsledger.quality.gates import MetricValue, NotAvailable, Scorecard, evaluate_gates
from opsledger.quality.gates import describe as describe
from opsledger.quality.metrics import (
    SLO_NAMES,
    UNITS,
    VULNERABILITY_NAMES,
    coverage_metrics,
    health_metrics,
    incident_metrics,
    junit_metrics,
    missing,
    perf_metrics,
    slo_metrics,
)
from opsledger.quality.perf import PerfComparison, compare_runs
from opsledger.quality.runbooks import ROLLBACK_DIR as ROLLBACK_DIR
from opsledger.quality.runbooks import canary_markdown as canary_markdown
from opsledger.quality.runbooks import runbook_file_name as runbook_file_name
from opsledger.quality.runbooks import write_runbooks as write_runbooks
from opsledger.readers import perf
from opsledger.readers.test_results import (
    COVERAGE_FILES,
    TEST_RESULTS_DIR,
    read_coverage,
    read_junit_folder,
)
from opsledger.slo.service import workspace_health

INCIDENT_WINDOW_DAYS = 90
RESULT_FILE = "quality-gates.json"
CANARY_FILES = ("canary.md", "canary.json")


@dataclass
class MeasuredMetrics:
    """Every metric measured for a workspace, the files they came from, and problems met."""

    values: dict[str, MetricValue] = field(default_factory=dict)
    inputs: dict[str, Path] = field(default_factory=dict)  # input name -> path read
    problems: list[Problem] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {name: (value if not isinstance(value, NotAvailable)
                       else {"not_available": value.reason})
                for name, value in sorted(self.values.items())}


def _fatal_reason(result: ReadResult[Any], root: Path) -> str | None:
    fatal = [p for p in result.problems if p.level is Level.FATAL]
    if not fatal:
        return None
    first = fatal[0]
    try:
        where = Path(first.path).relative_to(root).as_posix()
    except ValueError:
        where = first.path
    return f"{where} is unreadable: {first.message}"


def perf_report(ctx: Context) -> tuple[PerfReport | None, str]:
    """Return the workspace's performance report, or None and why not."""
    path = ctx.workspace.path(InputKey.PERF)
    if not path.exists():
        return None, f"no {path.relative_to(ctx.workspace.root).as_posix()}"
    result = ctx.inputs.read(InputKey.PERF)
    reason = _fatal_reason(result, ctx.workspace.root)
    reports = [r for r in result.records if isinstance(r, PerfReport)]
    if not reports:
        return None, reason or "no performance run in the report"
    return reports[0], ""


def _health(ctx: Context, measured: MeasuredMetrics) -> None:
    from opsledger.quality.metrics import HEALTH_NAMES

    result = ctx.inputs.read(InputKey.HEALTH)
    measured.problems.extend(result.problems)
    if not result.record_count:
        reason = _fatal_reason(result, ctx.workspace.root) or "no health history"
        measured.values.update(missing(HEALTH_NAMES, reason))
        return
    measured.inputs["health"] = ctx.workspace.path(InputKey.HEALTH)
    config = ctx.workspace.config
    results = workspace_health(ctx)  # the 30 days to ctx.now, shared with the review
    critical = [s.name for s in config.services if s.critical]
    measured.values.update(health_metrics(results, critical))


def _perf(ctx: Context, measured: MeasuredMetrics) -> PerfComparison | Skipped | None:
    report, reason = perf_report(ctx)
    if ctx.workspace.path(InputKey.PERF).exists():
        measured.problems.extend(ctx.inputs.read(InputKey.PERF).problems)
    comparison = compare_runs(report) if report is not None else None
    values = perf_metrics(report, comparison)
    if report is None:
        values = {k: NotAvailable(reason) for k in values}
    else:
        measured.inputs["perf"] = ctx.workspace.path(InputKey.PERF)
    measured.values.update(values)
    return comparison


def _slo(ctx: Context, measured: MeasuredMetrics) -> None:
    try:
        from opsledger.slo.service import evaluate_workspace
    except ImportError:
        measured.values.update(missing(SLO_NAMES, "no SLO results"))
        return
    try:
        report = evaluate_workspace(ctx)
    except OpsledgerError as exc:
        measured.values.update(missing(SLO_NAMES, f"SLO evaluation failed: {exc}"))
        return
    measured.problems.extend(report.problems)
    if report.evaluations:
        measured.inputs["slos"] = ctx.workspace.path(InputKey.SLOS)
    measured.values.update(slo_metrics([e.status for e in report.evaluations]))


def _vulnerabilities(ctx: Context, measured: MeasuredMetrics) -> None:
    from opsledger.patching.section import security_result

    result = security_result(ctx)
    measured.problems.extend(result.problems)
    if not result.files:
        measured.values.update(missing(VULNERABILITY_NAMES, "no scanner reports"))
        return
    measured.inputs["security"] = ctx.workspace.path(InputKey.SECURITY)
    from opsledger.quality.metrics import vulnerability_metrics

    posture = assess_posture(result.records, ctx.workspace.config.policies.vulnerability_sla_days,
                             ctx.now)
    measured.values.update(vulnerability_metrics(posture))


def _tests(ctx: Context, measured: MeasuredMetrics) -> None:
    root = ctx.workspace.root
    folder = root / TEST_RESULTS_DIR
    runs = read_junit_folder(folder)
    measured.problems.extend(runs.problems)
    values = junit_metrics(runs.records)
    reason = _fatal_reason(runs, root)
    if reason:  # a report we cannot read may hide failures: no pass rate rather than a guess
        values = {k: NotAvailable(reason) for k in values}
    elif runs.records:
        measured.inputs["test-results"] = folder
    measured.values.update(values)
    coverage_path = next((root / p for p in COVERAGE_FILES if (root / p).is_file()), None)
    if coverage_path is None:
        measured.values.update(coverage_metrics(None))
        return
    coverage = read_coverage(coverage_path)
    measured.problems.extend(coverage.problems)
    if coverage.records:
        measured.inputs["coverage"] = coverage_path
        measured.values.update(coverage_metrics(coverage.records[0]))
    else:
        measured.values["coverage"] = NotAvailable(
            _fatal_reason(coverage, root) or "coverage report holds no total")


def _incidents(ctx: Context, measured: MeasuredMetrics) -> None:
    from opsledger.core.incident_policy import policy_of
    from opsledger.incidents.service import load_incidents, load_postmortems, track_action_items
    from opsledger.model.handover import Postmortem

    policy = policy_of(ctx.workspace.config)
    records = load_incidents(ctx, policy)
    measured.problems.extend(records.problems)
    start = ctx.now - timedelta(days=INCIDENT_WINDOW_DAYS)
    minutes: list[float] | None = None
    if records.incidents:
        measured.inputs["incidents"] = ctx.workspace.path(InputKey.INCIDENTS)
        minutes = [
            (i.resolved_at - i.created_at).total_seconds() / 60
            for i in records.incidents
            if policy.is_major(i) and i.resolved_at is not None and start <= i.created_at < ctx.now
        ]
    postmortems = load_postmortems(ctx)
    measured.problems.extend(postmortems.problems)
    written = [p for p in postmortems.records if isinstance(p, Postmortem)]
    overdue: int | None = None
    if written:
        measured.inputs["postmortems"] = ctx.workspace.path(InputKey.POSTMORTEMS)
        by_id = {i.id: i for i in records.incidents}
        items = track_action_items(written, by_id, ctx.workspace.config.policies
                                   .action_item_sla_days, ctx.now.date())
        overdue = len(items.overdue)
    values = incident_metrics(minutes, overdue)
    if minutes is None:
        values["mttr_minutes_major"] = NotAvailable("no incident records")
    if overdue is None:
        values["overdue_action_items"] = NotAvailable("no postmortems with action items")
    measured.values.update(values)


def collect_metrics(ctx: Context) -> MeasuredMetrics:
    """Return every metric opsledger measures for the workspace (see ``analysis.metrics``)."""
    measured = MeasuredMetrics()
    steps = (("health history", _health), ("performance runs", _perf), ("SLOs", _slo),
             ("vulnerabilities", _vulnerabilities), ("test results", _tests),
             ("incidents", _incidents))
    for label, step in steps:
        ctx.progress(f"measuring {label}")
        step(ctx, measured)
    return measured


@dataclass(frozen=True)
class QualityRun:
    gates: tuple[GateSpec, ...]
    metrics: MeasuredMetrics
    scorecard: Scorecard
    generated_at: datetime
    gates_path: Path
    warnings: tuple[Problem, ...] = ()  # deprecated fields and metric names in the gates file

    def to_json(self, root: Path) -> dict[str, Any]:
        digests = {"gates-config": sha256_tree(self.gates_path)}
        for name, path in sorted(self.metrics.inputs.items()):
            if path.exists():
                digests[name] = sha256_tree(path)
        return {
            "schema_version": schema.QUALITY_GATES,
            "generated_at": self.generated_at.isoformat(),
            "inputs": digests,
            "gates_config": self.gates_path.relative_to(root).as_posix()
            if self.gates_path.is_relative_to(root) else str(self.gates_path),
            **self.scorecard.to_json(),
            "warnings": [str(w) for w in self.warnings],
            "metrics": self.metrics.to_json(),
        }


def read_gates(ctx: Context) -> ReadResult[GateSpec]:
    """Return the workspace's gates (a fatal problem when the file is missing)."""
    path = ctx.workspace.path(InputKey.GATES)
    if not path.exists():
        result: ReadResult[GateSpec] = ReadResult(path)
        return result.fail("", "no gates file", "gates_config.yaml with a 'gates:' list")
    return ctx.inputs.read(InputKey.GATES)


def gate_definitions(ctx: Context, gates: list[GateSpec]) -> GateDefinitions:
    """Return the gates as the check uses them (former metric names resolved) and the
    warnings their definitions call for, located in the workspace's gates file."""
    path = ctx.workspace.path(InputKey.GATES)
    try:
        shown = path.relative_to(ctx.workspace.root).as_posix()
    except ValueError:
        shown = str(path)
    return resolve_definitions(gates, shown)


def run_quality_gates(
    ctx: Context, gates: list[GateSpec], min_score: float | None = None
) -> QualityRun:
    """Return the gates evaluated on the workspace's measured metrics."""
    definitions = gate_definitions(ctx, gates)
    measured = collect_metrics(ctx)
    scorecard = evaluate_gates(definitions.gates, measured.values, min_score, UNITS)
    return QualityRun(definitions.gates, measured, scorecard, ctx.now,
                      ctx.workspace.path(InputKey.GATES), definitions.warnings)


@dataclass(frozen=True)
class QualityCheck:
    """The gates evaluated on the workspace, the result document and the files it went to."""

    run: QualityRun
    document: dict[str, Any]
    path: Path
    junit: Path | None

    @property
    def scorecard(self) -> Scorecard:
        return self.run.scorecard

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return self.run.warnings


def check_quality(
    ctx: Context, min_score: float | None = None, junit: Path | None = None, strict: bool = False
) -> QualityCheck:
    """Evaluate every gate of the workspace and write the result under the p09 evidence folder.

    The result is written as JSON (and as JUnit XML to ``junit`` when given) while the
    workspace lock is held. Gates that cannot be read raise :class:`InputError`; with
    ``strict``, so does any problem in the inputs measured.
    """
    gates = read_gates(ctx)
    if gates.fatal or not gates.records:
        problems = [p for p in gates.problems if p.level is not Level.WARNING]
        raise InputError("cannot evaluate the quality gates", problems)
    run = run_quality_gates(ctx, gates.records, min_score)
    if strict:
        ctx.inputs.require_clean()
    document = run.to_json(ctx.workspace.root)
    path = ctx.workspace.p09_evidence / RESULT_FILE
    with writing(ctx.workspace, "quality check"):
        atomic_write_json(path, document)
        if junit is not None:
            atomic_write_text(junit, scorecard_junit(run.scorecard, ctx.now,
                                                     warnings=[str(w) for w in run.warnings]))
    return QualityCheck(run, document, path, junit)


@dataclass(frozen=True)
class CanaryCheck:
    """A canary compared with its baseline, its evidence document and the files written."""

    report: CanaryReport
    document: dict[str, Any]
    paths: tuple[Path, ...]


def _locate_run_file(path: Path, root: Path) -> Path:
    """Return ``path``; a relative path not found from the current folder is looked up in
    the workspace."""
    if not path.is_file() and not path.is_absolute() and (root / path).is_file():
        return root / path
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    return path


def _perf_run(path: Path, prefer: str, strict: bool = False) -> PerfRun:
    """Return the run of ``path``: ``prefer`` ("baseline"/"current") if present, else the
    other one."""
    result = perf.read(path)
    fail_if_strict(strict, result.problems, str(path))
    problems = [p for p in result.problems if p.level is Level.FATAL]
    reports = [r for r in result.records if isinstance(r, PerfReport)]
    if problems or not reports:
        raise InputError(f"{path}: cannot read the performance run", problems)
    report = reports[0]
    first, second = ((report.baseline, report.current) if prefer == "baseline"
                     else (report.current, report.baseline))
    run = first or second
    if run is None:
        raise InputError(f"{path}: holds no performance run")
    return run


def canary_check(
    ctx: Context,
    baseline: Path,
    canary: Path,
    service: str | None = None,
    policy: CanaryPolicy | None = None,
    strict: bool = False,
) -> CanaryCheck:
    """Compare a canary run with its baseline; write the verdict under the p09 evidence folder.

    Each file is a perf report (native JSON or k6 summary), looked up in the workspace when
    not found from the current folder. From the baseline file the baseline run is used when
    it has one, from the canary file the current run. With ``service``, the canary is also
    held to that service's SLO budget. canary.md and canary.json are written while the
    workspace lock is held.
    """
    before_path = _locate_run_file(baseline, ctx.workspace.root)
    after_path = _locate_run_file(canary, ctx.workspace.root)
    before = _perf_run(before_path, "baseline", strict)
    after = _perf_run(after_path, "current", strict)
    objective = None
    if service is not None:
        if ctx.workspace.config.service(service) is None:
            raise InputError(f"--service: '{service}' is not in opsledger.yaml")
        objective = ctx.workspace.config.budget_for(service)
    report = compare_canary(before, after, policy, objective)
    document = {
        "schema_version": schema.PROCEDURE_EVIDENCE,
        "generated_at": ctx.now.isoformat(),
        "inputs": {"baseline": sha256_file(before_path), "canary": sha256_file(after_path)},
        "service": service,
        **report.to_json(),
    }
    markdown, evidence = (ctx.workspace.p09_evidence / name for name in CANARY_FILES)
    with writing(ctx.workspace, "rollback canary"):
        atomic_write_text(markdown, canary_markdown(report, str(before_path), str(after_path)))
        atomic_write_json(evidence, document)
    return CanaryCheck(report, document, (markdown, evidence))
