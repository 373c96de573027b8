"""A/B experiments: assignment, planning and analysis over a workspace's ``experiments/``.

``assign(unit_id, experiment)`` is what a service calls to put a unit in a variant; the
same unit always gets the same variant, in any process and any Python version.
``analyze_experiment`` and ``plan_experiment`` read nothing themselves: they work on an
:class:`~opsledger.model.experiments.Experiment` as the reader returns it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.problems import Level, ReadResult
from opsledger.core.workspace import InputKey
from opsledger.forecasting import background
from opsledger.model import schema
from opsledger.model.assignment import assign_unit
from opsledger.model.experiments import (
    Experiment,
    ExperimentDefinition,
    ExperimentStatus,
    Metric,
    Verdict,
)
from opsledger.model.status import SkippedResult

# The statistics (scipy, statsmodels), the reader (pyarrow) and the traffic engine (duckdb)
# are imported when used, so that a service importing ``assign`` stays light.
if TYPE_CHECKING:
    from opsledger.experiments.results import Comparison
    from opsledger.experiments.results import ExperimentResult as ExperimentResult
    from opsledger.experiments.statistics import Lift
    from opsledger.experiments.statistics import SampleSize as SampleSize
    from opsledger.model.status import Skipped

__all__ = [
    "ExperimentAnalyses",
    "ExperimentOutcome",
    "ExperimentPlan",
    "NotAnalyzed",
    "Verdict",
    "analyze_experiment",
    "analyze_experiments",
    "assign",
    "find_experiment",
    "plan_experiment",
    "sample_size_of",
    "start_analyses",
    "telemetry_daily_units",
    "workspace_analyses",
    "workspace_experiments",
]

# Result types re-exported on first use: importing them loads the statistics.
_LAZY = {"SampleSize": "opsledger.experiments.statistics",
         "ExperimentResult": "opsledger.experiments.results"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def assign(unit_id: str, experiment: ExperimentDefinition | Experiment) -> str:
    """Return the variant of ``unit_id``: salted SHA-256 bucket, then cumulative weights."""
    definition = experiment.definition if isinstance(experiment, Experiment) else experiment
    weights = [(v.name, v.weight) for v in definition.variants]
    return assign_unit(definition.salt, definition.name, str(unit_id), weights)


@dataclass(frozen=True)
class NotAnalyzed(SkippedResult):
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


@dataclass(frozen=True)
class ExperimentAnalyses:
    """Every experiment of a run analysed at its clock, and each one's sample size."""

    outcomes: tuple[ExperimentOutcome, ...]  # in the order the experiments were read
    sample_sizes: dict[str, SampleSize | Skipped]  # by experiment name


def start_analyses(ctx: Context) -> None:
    """Start analysing the run's experiments in a background worker
    (:mod:`opsledger.forecasting.background`), which has the statistics libraries loaded
    already; :func:`workspace_analyses` then finds them analysed. Same results either way."""
    if (start_analyses,) in ctx.results or (_analyses,) in ctx.results:
        return
    experiments = workspace_experiments(ctx).records
    if experiments:
        ctx.results[(start_analyses,)] = background.submit(analyze_experiments, experiments,
                                                           ctx.now)


def workspace_analyses(ctx: Context) -> ExperimentAnalyses:
    """Return the analyses of the run's experiments, once per run."""
    return ctx.once(_analyses)


def _analyses(ctx: Context) -> ExperimentAnalyses:
    experiments = workspace_experiments(ctx).records
    started = ctx.results.pop((start_analyses,), None)
    if started is None:
        return analyze_experiments(experiments, ctx.now)
    found: ExperimentAnalyses = background.result(started, analyze_experiments, experiments,
                                                  ctx.now)
    return found


def analyze_experiments(experiments: Sequence[Experiment], now: datetime
                        ) -> ExperimentAnalyses:
    """Return the analysis of each of ``experiments`` at ``now`` and its sample size."""
    return ExperimentAnalyses(tuple(analyze_experiment(e, now) for e in experiments),
                              {e.definition.name: sample_size_of(e) for e in experiments})


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
    sample_size: SampleSize | Skipped
    daily_units: float | None
    traffic_source: str  # "--daily-units", "telemetry (...)" or why there is none
    duration_days: int | None


def plan_experiment(
    experiment: Experiment, daily_units: float | None, traffic_source: str = "",
    size: SampleSize | Skipped | None = None,
) -> ExperimentPlan:
    """Return the sample size and duration; ``daily_units`` is eligible units per day.
    ``size`` is the experiment's :func:`sample_size_of` when it was computed already."""
    from opsledger.experiments.statistics import SampleSize, duration_days

    definition = experiment.definition
    if size is None:
        size = sample_size_of(experiment)
    days = None
    if isinstance(size, SampleSize) and daily_units is not None:
        days = duration_days(size.per_variant, definition.weights, daily_units)
    return ExperimentPlan(definition, size, daily_units, traffic_source, days)


def sample_size_of(experiment: Experiment) -> SampleSize | Skipped:
    """Return the units each variant needs to detect the experiment's minimum effect, from
    its control's observations when it has some."""
    from opsledger.experiments.results import metric_values, plan_sample_size

    definition = experiment.definition
    control_values = None
    observations = experiment.observations
    if observations is not None and len(observations):
        mask = observations.variants == definition.control_variant
        values = metric_values(definition.primary_metric, observations.variants,
                               observations.columns)
        control_values = values[mask]
    return plan_sample_size(definition, control_values)


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


def number(value: float | None) -> float | None:
    """Return ``value`` if finite, else ``None`` (JSON has no NaN or infinity)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _lift(lift: Lift) -> dict[str, Any]:
    return {
        "lift_abs": number(lift.lift_abs),
        "lift_rel": number(lift.lift_rel),
        "ci_low": number(lift.ci_low),
        "ci_high": number(lift.ci_high),
        "rel_ci_low": number(lift.rel_ci_low),
        "rel_ci_high": number(lift.rel_ci_high),
        "p_value": number(lift.p_value),
        "se": number(lift.se),
        "df": number(lift.df),
    }


def comparison_json(c: Comparison, metric: Metric | None = None) -> dict[str, Any]:
    """Return one comparison; ``metric`` (its definition) adds a ratio's two columns."""
    ratio = metric.ratio if metric is not None else None
    out: dict[str, Any] = {
        "metric": c.metric,
        "role": c.role,
        "kind": c.kind.value,
        **({"numerator": ratio.numerator, "denominator": ratio.denominator} if ratio else {}),
        "direction": c.direction.value,
        "variant": c.variant,
        "control_mean": number(c.lift.control_mean),
        "treatment_mean": number(c.lift.treatment_mean),
        **_lift(c.lift),
        "p_value_adjusted": number(c.p_value_adjusted),
        "chance_to_win": number(c.posterior.chance_to_win),
        "expected_loss": number(c.posterior.expected_loss),
        "bayesian_method": c.posterior.method,
        "sequential": {
            "ci_low": number(c.sequential.ci_low),
            "ci_high": number(c.sequential.ci_high),
            "p_value": number(c.sequential.p_value),
            "p_value_adjusted": number(c.sequential_p_adjusted),
            "tau": number(c.sequential.tau),
            "method": "mSPRT normal mixture (Johari et al.)",
        },
        "cuped": None,
        "guardrail": None,
    }
    if c.cuped is not None:
        out["cuped"] = {
            "covariate": c.cuped.covariate,
            "theta": number(c.cuped.theta),
            "variance_reduction": number(c.cuped.variance_reduction),
            "unadjusted": _lift(c.unadjusted) if c.unadjusted else None,
        }
    if c.guardrail is not None:
        g = c.guardrail
        out["guardrail"] = {
            "state": g.state.value,
            "degradation": number(g.degradation),
            "worst_case": number(g.worst_case),
            "tolerance": g.tolerance,
            "scale": g.scale.value,
        }
    return out


def sample_size_json(size: Any) -> dict[str, Any]:
    from opsledger.experiments.statistics import SampleSize

    if isinstance(size, SampleSize):
        return {
            "per_variant": dict(size.per_variant),
            "effect_abs": number(size.effect_abs),
            "effect_size": number(size.effect_size),
            "alpha": size.alpha,
            "power": size.power,
            "method": size.method,
        }
    return {"skipped": size.reason}


def outcome_json(outcome: ExperimentOutcome, now: Any = None) -> dict[str, Any]:
    """Return the ``experiment analyze --json`` object."""
    definition = outcome.definition
    head: dict[str, Any] = {
        "schema_version": schema.EXPERIMENTS,
        "experiment": definition.name,
        "status": definition.status.value,
        "owner": definition.owner,
        "hypothesis": definition.hypothesis,
        "start": definition.start.isoformat(),
        "end": definition.end.isoformat(),
        "alpha": definition.alpha,
        "correction": definition.correction.value,
    }
    if now is not None:
        head["analysed_at"] = now.isoformat()
    if isinstance(outcome, NotAnalyzed):
        return {
            **head,
            "srm_p_value": None,
            "variants": [],
            "metrics": [],
            "skipped": [],
            "decision": {"verdict": outcome.verdict.value, "variant": None,
                         "reasons": [outcome.reason]},
        }
    srm = outcome.srm
    total = sum(srm.observed.values())
    metrics = {m.name: m for m in definition.metrics}
    weights = definition.weights
    return {
        **head,
        "horizon": outcome.horizon.value,
        "srm_p_value": number(srm.p_value),
        "srm": {"chi2": number(srm.chi2), "p_value": number(srm.p_value),
                "mismatch": srm.mismatch, "threshold": srm.threshold,
                "observed": dict(srm.observed),
                "expected": {k: number(v) for k, v in srm.expected.items()}},
        "variants": [
            {"name": v.name, "n": v.n, "mean": number(v.mean), "std": number(v.std),
             "expected_share": weights[v.name],
             "observed_share": number(v.n / total) if total else None}
            for v in outcome.variants
        ],
        "primary_metric": definition.primary_metric.name,
        "metrics": [comparison_json(c, metrics.get(c.metric)) for c in outcome.comparisons],
        "skipped": [{"metric": s.metric, "variant": s.variant, "reason": s.reason}
                    for s in outcome.skipped],
        "sample_size": sample_size_json(outcome.sample_size),
        "decision": {"verdict": outcome.decision.verdict.value,
                     "variant": outcome.decision.variant,
                     "reasons": list(outcome.decision.reasons)},
    }


def plan_json(plan: ExperimentPlan) -> dict[str, Any]:
    """Return the ``experiment plan --json`` object."""
    definition = plan.definition
    effect = definition.minimum_detectable_effect
    return {
        "schema_version": schema.EXPERIMENTS,
        "experiment": definition.name,
        "primary_metric": definition.primary_metric.name,
        "kind": definition.primary_metric.kind.value,
        "minimum_detectable_effect": {"value": effect.value, "scale": effect.scale.value},
        "alpha": definition.alpha,
        "power": definition.power,
        "weights": definition.weights,
        "sample_size": sample_size_json(plan.sample_size),
        "daily_units": number(plan.daily_units),
        "traffic_source": plan.traffic_source,
        "duration_days": plan.duration_days,
    }
