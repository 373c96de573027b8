"""A/B experiments: assignment, planning and analysis over a workspace's ``experiments/``.

``assign(unit_id, experiment)`` is what a service calls to put a unit in a variant; the
same unit always gets the same variant, in any process and any Python version.
``analyze_experiment`` and ``plan_experiment`` read nothing themselves: they work on an
:class:`~opsledger.model.experiments.Experiment` as the reader returns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.problems import Level, ReadResult
from opsledger.core.workspace import InputKey
from opsledger.experiments.assignment import assign_unit
from opsledger.model.experiments import (
    Experiment,
    ExperimentDefinition,
    ExperimentStatus,
    Verdict,
)

# The statistics (scipy, statsmodels), the reader (pyarrow) and the traffic engine (duckdb)
# are imported when used, so that a service importing ``assign`` stays light.
if TYPE_CHECKING:
    from opsledger.experiments.results import ExperimentResult
    from opsledger.experiments.statistics import SampleSize, SkippedSampleSize

__all__ = [
    "ExperimentOutcome",
    "ExperimentPlan",
    "NotAnalyzed",
    "Verdict",
    "analyze_experiment",
    "assign",
    "find_experiment",
    "plan_experiment",
    "telemetry_daily_units",
    "workspace_experiments",
]


def assign(unit_id: str, experiment: ExperimentDefinition | Experiment) -> str:
    """Return the variant of ``unit_id``: salted SHA-256 bucket, then cumulative weights."""
    definition = experiment.definition if isinstance(experiment, Experiment) else experiment
    weights = [(v.name, v.weight) for v in definition.variants]
    return assign_unit(definition.salt, definition.name, str(unit_id), weights)


@dataclass(frozen=True)
class NotAnalyzed:
    """An experiment with nothing to analyse yet, and what that means for the decision."""

    definition: ExperimentDefinition
    reason: str
    verdict: Verdict

    @property
    def name(self) -> str:
        return self.definition.name


ExperimentOutcome: TypeAlias = "ExperimentResult | NotAnalyzed"


def workspace_experiments(ctx: Context) -> ReadResult[Experiment]:
    """Return the workspace's experiments, read once per run (shared with the inventory)."""
    key = InputKey.EXPERIMENTS
    if key not in ctx.inputs.cache:
        from opsledger.readers.experiments import read as read_experiments

        path = ctx.workspace.path(key)
        ctx.inputs.cache[key] = read_experiments(path) if path.exists() else ReadResult(path)
    result: ReadResult[Experiment] = ctx.inputs.cache[key]
    return result


def find_experiment(ctx: Context, name: str) -> Experiment:
    """Return the experiment called ``name``; raise :class:`InputError` naming the others."""
    result = workspace_experiments(ctx)
    for experiment in result.records:
        if experiment.definition.name == name:
            return experiment
    known = ", ".join(sorted(e.definition.name for e in result.records)) or "none"
    problems = [p for p in result.problems if p.level is Level.FATAL]
    raise InputError(
        f"no valid experiment '{name}' in {result.path} (experiments: {known})", problems
    )


def analyze_experiment(experiment: Experiment, now: datetime) -> ExperimentOutcome:
    """Return the analysis of ``experiment`` at ``now``, or why there is none yet."""
    definition = experiment.definition
    observations = experiment.observations
    if observations is None or len(observations) == 0:
        before = definition.status in (ExperimentStatus.PLANNED, ExperimentStatus.RUNNING)
        verdict = Verdict.KEEP_RUNNING if before else Verdict.DONT_SHIP
        where = f"experiments/{definition.name}/observations.parquet or .csv"
        return NotAnalyzed(definition, f"no observations yet ({where})", verdict)
    from opsledger.experiments.results import analyze

    return analyze(definition, observations.variants, observations.columns, now)


@dataclass(frozen=True)
class ExperimentPlan:
    """How many units each variant needs, and how many days that takes at the traffic."""

    definition: ExperimentDefinition
    sample_size: SampleSize | SkippedSampleSize
    daily_units: float | None
    traffic_source: str  # "--daily-units", "telemetry (...)" or why there is none
    duration_days: int | None


def plan_experiment(
    experiment: Experiment, daily_units: float | None, traffic_source: str = ""
) -> ExperimentPlan:
    """Return the sample size and duration; ``daily_units`` is eligible units per day."""
    from opsledger.experiments.results import metric_values, plan_sample_size
    from opsledger.experiments.statistics import SampleSize, duration_days

    definition = experiment.definition
    control_values = None
    observations = experiment.observations
    if observations is not None and len(observations):
        mask = observations.variants == definition.control_variant
        values = metric_values(definition.primary_metric, observations.variants,
                               observations.columns)
        control_values = values[mask]
    size = plan_sample_size(definition, control_values)
    days = None
    if isinstance(size, SampleSize) and daily_units is not None:
        days = duration_days(size.per_variant, definition.weights, daily_units)
    return ExperimentPlan(definition, size, daily_units, traffic_source, days)


def telemetry_daily_units(ctx: Context, experiment: Experiment) -> tuple[float | None, str]:
    """Return eligible units per day from the request events, and where the figure came from."""
    from opsledger.engines.traffic import daily_requests

    traffic = experiment.definition.traffic
    if traffic is None:
        return None, "no 'traffic' in the definition and no --daily-units"
    counted = daily_requests(
        ctx.workspace.root, traffic.source, ctx.now, traffic.days, traffic.timestamp,
        traffic.service, traffic.service_column,
    )
    if counted is None:
        scope = f" for service '{traffic.service}'" if traffic.service else ""
        return None, f"no request events{scope} in {traffic.source} in the last {traffic.days} days"
    units = counted.mean_per_day * traffic.units_per_request
    scope = f", service {traffic.service}" if traffic.service else ""
    return units, (
        f"telemetry {traffic.source}{scope}: {counted.mean_per_day:,.0f} requests/day over "
        f"{counted.days_with_events} days x {traffic.units_per_request:g} units per request"
    )
