"""Experiment results and plans as plain JSON data (``--json``, the report's section data)."""

from __future__ import annotations

import math
from typing import Any

from opsledger.experiments.results import Comparison
from opsledger.experiments.service import ExperimentOutcome, ExperimentPlan, NotAnalyzed
from opsledger.experiments.statistics import Lift, SampleSize
from opsledger.model.experiments import Metric

SCHEMA_VERSION = 1


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
        "schema_version": SCHEMA_VERSION,
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
        "schema_version": SCHEMA_VERSION,
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
