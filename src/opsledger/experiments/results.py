"""One experiment analysed end to end, and the decision it supports.

Every metric is compared for every treatment variant against control (CUPED-adjusted when
the definition names a pre-period covariate for it). A ratio metric enters as its linearised
per-unit values (:func:`~opsledger.experiments.statistics.ratio_linearized`), so it takes the
same path as a mean. P-values are adjusted across that family of metrics x variants with the
configured correction. Which evidence decides depends on the horizon:

- **fixed horizon** (the end date has passed, the experiment is completed or cancelled, or
  every variant has reached its planned sample size): Welch intervals and adjusted p-values;
- **sequential** (still running: a look before the planned end is a peek): the always-valid
  mSPRT intervals and p-values, so stopping early on them keeps the error rate at alpha.

Decision rules, in order: a sample ratio mismatch makes the experiment *invalid*; a breached
guardrail or a significant harm on the primary metric is *don't ship*; a significant
improvement with every guardrail shown within tolerance is *ship*; otherwise *keep running*
while the horizon is sequential, and *don't ship* once it is fixed (no effect as large as
the one the experiment was sized for).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import numpy as np

from opsledger.experiments.statistics import (
    Cuped,
    Lift,
    Posterior,
    SampleRatioCheck,
    SampleSize,
    SampleSummary,
    SequentialInterval,
    adjust_p_values,
    beta_binomial_posterior,
    cuped_adjust,
    cuped_theta,
    improvement_sign,
    normal_posterior,
    ratio_cuped_theta,
    ratio_linearized_by_group,
    sample_ratio_check,
    sample_size,
    sequential_interval,
    stable_seed,
    summarise,
    variance_reduction,
    welch_lift,
)
from opsledger.model.experiments import (
    Correction,
    Direction,
    EffectScale,
    ExperimentDefinition,
    ExperimentStatus,
    Guardrail,
    Metric,
    MetricKind,
    RatioColumns,
    Verdict,
)
from opsledger.model.status import Skipped, SkippedResult

__all__ = ["Verdict"]  # re-exported: the decision's vocabulary lives with the records


class Horizon(StrEnum):
    FIXED = "fixed horizon"
    SEQUENTIAL = "sequential"


class GuardrailState(StrEnum):
    WITHIN = "within tolerance"
    BREACHED = "breached"
    UNCLEAR = "not shown within tolerance"


@dataclass(frozen=True)
class GuardrailCheck:
    state: GuardrailState
    degradation: float | None  # point estimate, on the tolerance's scale; > 0 is worse
    worst_case: float | None  # the bad-side bound of the deciding interval
    tolerance: float
    scale: EffectScale


@dataclass(frozen=True)
class Comparison:
    """One metric, one treatment variant against control."""

    metric: str
    role: str  # primary, secondary or guardrail
    variant: str
    kind: MetricKind
    direction: Direction
    control: SampleSummary  # raw values
    treatment: SampleSummary
    lift: Lift  # CUPED-adjusted when ``cuped`` is set
    p_value_adjusted: float
    sequential: SequentialInterval
    sequential_p_adjusted: float
    posterior: Posterior
    cuped: Cuped | None = None
    unadjusted: Lift | None = None  # the lift before CUPED
    guardrail: GuardrailCheck | None = None


@dataclass(frozen=True)
class SkippedMetricComparison(SkippedResult):
    metric: str
    variant: str
    reason: str


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    variant: str | None  # the variant to ship
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ExperimentResult:
    definition: ExperimentDefinition
    horizon: Horizon
    srm: SampleRatioCheck
    variants: tuple[SampleSummary, ...]  # the primary metric per variant
    comparisons: tuple[Comparison, ...]
    skipped: tuple[SkippedMetricComparison, ...]
    sample_size: SampleSize | Skipped
    decision: Decision

    @property
    def name(self) -> str:
        return self.definition.name

    def primary(self, variant: str | None = None) -> Comparison | None:
        """Return the primary-metric comparison of ``variant`` (default: the decided one)."""
        name = self.definition.primary_metric.name
        wanted = variant or self.decision.variant
        found = [c for c in self.comparisons if c.metric == name]
        for comparison in found:
            if wanted is None or comparison.variant == wanted:
                return comparison
        return found[0] if found else None


def effect_in_units(definition: ExperimentDefinition, metric: Metric, control_mean: float,
                    primary_control_mean: float, spread: float = 0.0) -> float | None:
    """Return the metric's minimum detectable effect in its own unit (``None`` if unknown).

    A relative effect is a share of the control mean; when that mean is 0 it is taken as a
    share of the metric's standard deviation (``spread``) instead, an effect size.
    """
    effect = metric.minimum_detectable_effect or definition.minimum_detectable_effect
    if effect.scale is EffectScale.ABSOLUTE:
        if metric.minimum_detectable_effect or metric.name == definition.primary_metric.name:
            return effect.value
        # An absolute MDE is in the primary metric's unit: carry it over as a share.
        if primary_control_mean == 0:
            return None
        relative = effect.value / abs(primary_control_mean)
    else:
        relative = effect.value
    scale = abs(control_mean) if control_mean != 0 else spread
    return relative * scale if scale > 0 else None


def plan_sample_size(
    definition: ExperimentDefinition, control_values: np.ndarray | None
) -> SampleSize | Skipped:
    """Return the planned units per variant, from the stated baseline or the control's data."""
    metric = definition.primary_metric
    observed = (control_values is not None and control_values.size > 1
                and bool(np.isfinite(control_values).all()))
    if metric.baseline is not None:
        mean, std = metric.baseline.mean, metric.baseline.std
        if std is None and observed and control_values is not None:
            std = float(control_values.std(ddof=1))  # a stated mean, the observed spread
    elif observed and control_values is not None:
        mean, std = float(control_values.mean()), float(control_values.std(ddof=1))
    else:
        return Skipped(
            f"no baseline for '{metric.name}': state primary_metric.baseline or collect "
            "control observations"
        )
    effect = definition.minimum_detectable_effect
    effect_abs = effect.value if effect.scale is EffectScale.ABSOLUTE else effect.value * abs(mean)
    treatments = len(definition.treatments)
    alpha = definition.alpha
    if definition.correction is not Correction.NONE and treatments > 1:
        alpha /= treatments  # Bonferroni: a safe size for Holm's first step
    # A binary metric is sized for a move in its improving direction (Cohen's h depends on it).
    signed = improvement_sign(metric.direction) * effect_abs
    return sample_size(metric.kind, mean, std, signed, alpha, definition.power,
                       definition.weights, definition.control_variant)


def analyze(
    definition: ExperimentDefinition,
    variants: np.ndarray,
    columns: Mapping[str, np.ndarray],
    now: datetime,
) -> ExperimentResult:
    """Return the full analysis of one experiment's per-unit observations at ``now``."""
    weights = definition.weights
    control = definition.control_variant
    counts = {name: int(np.count_nonzero(variants == name)) for name in weights}
    srm = sample_ratio_check(counts, weights)
    masks = {name: variants == name for name in weights}
    primary = definition.primary_metric.name
    values = {m.name: metric_values(m, variants, columns) for m in definition.metrics}
    summaries = tuple(summarise(name, values[primary][masks[name]]) for name in weights)
    plan = plan_sample_size(definition, values[primary][masks[control]])
    horizon = _horizon(definition, counts, plan, now)
    found, skipped = _compare_all(definition, variants, columns, values, masks)
    comparisons = _adjusted(definition, found, horizon)
    decision = decide(definition, srm, comparisons, horizon, plan, counts)
    return ExperimentResult(definition, horizon, srm, summaries, tuple(comparisons),
                            tuple(skipped), plan, decision)


def metric_values(
    metric: Metric, variants: np.ndarray, columns: Mapping[str, np.ndarray]
) -> np.ndarray:
    """Return the metric's value per unit: its column, or a ratio linearised within variants.

    A ratio's values are NaN in a variant whose denominators sum to 0 (no ratio there).
    """
    ratio = metric.ratio
    if ratio is None:
        return columns[metric.name]
    return ratio_linearized_by_group(columns[ratio.numerator], columns[ratio.denominator],
                                     variants)


def _horizon(definition: ExperimentDefinition, counts: Mapping[str, int],
             plan: SampleSize | Skipped, now: datetime) -> Horizon:
    if definition.status in (ExperimentStatus.COMPLETED, ExperimentStatus.CANCELLED):
        return Horizon.FIXED
    if now.date() > definition.end:
        return Horizon.FIXED
    if isinstance(plan, SampleSize) and all(
        counts[name] >= need for name, need in plan.per_variant.items()
    ):
        return Horizon.FIXED
    return Horizon.SEQUENTIAL


@dataclass(frozen=True)
class _Raw:
    """A comparison before the family-wise adjustment."""

    metric: Metric
    variant: str
    control: SampleSummary
    treatment: SampleSummary
    lift: Lift
    sequential: SequentialInterval
    posterior: Posterior
    cuped: Cuped | None
    unadjusted: Lift | None


def _compare_all(
    definition: ExperimentDefinition,
    variants: np.ndarray,
    columns: Mapping[str, np.ndarray],
    values_by_metric: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
) -> tuple[list[_Raw], list[SkippedMetricComparison]]:
    control = definition.control_variant
    covariates = definition.covariates
    primary = definition.primary_metric.name
    primary_control_mean = float(np.mean(values_by_metric[primary][masks[control]])) if np.any(
        masks[control]) else 0.0
    if not math.isfinite(primary_control_mean):
        primary_control_mean = 0.0  # an undefined ratio: no scale to carry over
    found: list[_Raw] = []
    skipped: list[SkippedMetricComparison] = []
    for metric in definition.metrics:
        raw = values_by_metric[metric.name]
        values, cuped = raw, None
        if metric.name in covariates:
            values, cuped = _cuped(raw, covariates[metric.name], variants, columns)
        for variant in definition.treatments:
            undefined = _undefined_ratio(metric, raw, columns,
                                         {control: masks[control], variant: masks[variant]})
            if undefined is not None:
                skipped.append(SkippedMetricComparison(metric.name, variant, undefined))
                continue
            outcome = _compare(definition, metric, variant, raw, values, cuped,
                               masks[variant], masks[control], primary_control_mean)
            if isinstance(outcome, SkippedMetricComparison):
                skipped.append(outcome)
            else:
                found.append(outcome)
    return found, skipped


def _cuped(
    raw: np.ndarray, covariate: str | RatioColumns, variants: np.ndarray,
    columns: Mapping[str, np.ndarray],
) -> tuple[np.ndarray, Cuped | None]:
    """Return the CUPED-adjusted values and how, or ``raw`` and ``None`` when X cannot help."""
    if isinstance(covariate, RatioColumns):
        x = ratio_linearized_by_group(columns[covariate.numerator],
                                      columns[covariate.denominator], variants)
        theta = ratio_cuped_theta(raw, x, variants)
    else:
        x = columns[covariate]
        theta = cuped_theta(raw, x)
    if theta is None:
        return raw, None
    with np.errstate(over="ignore", invalid="ignore"):
        adjusted = cuped_adjust(raw, x, theta)
        reduction = variance_reduction(raw, adjusted)
    # Values near the float limit can overflow once adjusted: the covariate is then no help.
    if not (np.isfinite(adjusted).all() and math.isfinite(reduction)):
        return raw, None
    return adjusted, Cuped(str(covariate), theta, reduction)


def _undefined_ratio(metric: Metric, values: np.ndarray, columns: Mapping[str, np.ndarray],
                     masks: Mapping[str, np.ndarray]) -> str | None:
    """Return why a ratio metric has no value in one of the variants, if it has none."""
    ratio = metric.ratio
    if ratio is None:
        return None
    for name, mask in masks.items():
        if np.isfinite(values[mask]).all():
            continue
        total = float(columns[ratio.denominator][mask].sum())
        if total == 0:
            return f"the denominator '{ratio.denominator}' sums to 0 in {name}: no ratio"
        return (f"the ratio in {name} is not a finite number (the denominator "
                f"'{ratio.denominator}' sums to {total:.3g})")
    return None


def _sequential(lift: Lift, tau: float, alpha: float) -> SequentialInterval | None:
    """Return the sequential interval, or None when its numbers leave floating point."""
    try:
        if not math.isfinite(tau) or not tau * tau > 0.0:
            return None
        found = sequential_interval(lift.lift_abs, lift.se**2, tau, alpha)
    except (OverflowError, ZeroDivisionError):
        return None
    if all(math.isfinite(v) for v in (found.ci_low, found.ci_high, found.p_value)):
        return found
    return None


def _compare(definition: ExperimentDefinition, metric: Metric, variant: str,
             raw: np.ndarray, values: np.ndarray, cuped: Cuped | None,
             treated: np.ndarray, control: np.ndarray,
             primary_control_mean: float) -> _Raw | SkippedMetricComparison:
    lift = welch_lift(values[treated], values[control], definition.alpha)
    if isinstance(lift, Skipped):
        return SkippedMetricComparison(metric.name, variant, lift.reason)
    unadjusted = None
    if cuped is not None:
        plain = welch_lift(raw[treated], raw[control], definition.alpha)
        unadjusted = plain if isinstance(plain, Lift) else None
    control_summary = summarise(definition.control_variant, raw[control])
    spread = float(np.std(values[treated | control], ddof=1))
    tau = effect_in_units(definition, metric, control_summary.mean, primary_control_mean,
                          spread)
    if tau is None or tau <= 0:
        return SkippedMetricComparison(
            metric.name, variant,
            "no scale for the sequential interval (the control mean is 0 and the primary "
            "metric's too); give the metric an absolute minimum_detectable_effect",
        )
    sequential = _sequential(lift, tau, definition.alpha)
    if sequential is None:
        return SkippedMetricComparison(
            metric.name, variant,
            f"no sequential interval at this scale: effect scale {tau:.3g} against a standard "
            f"error of {lift.se:.3g} (values near 0 or beyond floating point); give the "
            "metric a minimum_detectable_effect in its own units",
        )
    if metric.kind is MetricKind.BINARY:
        posterior = beta_binomial_posterior(
            int(raw[treated].sum()), int(treated.sum()), int(raw[control].sum()),
            int(control.sum()), metric.direction,
            stable_seed(definition.salt, definition.name, metric.name, variant),
        )
    else:
        posterior = normal_posterior(lift.lift_abs, lift.se, metric.direction)
    return _Raw(metric, variant, control_summary, summarise(variant, raw[treated]), lift,
                sequential, posterior, cuped, unadjusted)


def _adjusted(definition: ExperimentDefinition, found: Sequence[_Raw],
              horizon: Horizon) -> list[Comparison]:
    fixed = adjust_p_values([r.lift.p_value for r in found], definition.correction,
                            definition.alpha)
    anytime = adjust_p_values([r.sequential.p_value for r in found], definition.correction,
                              definition.alpha)
    out = []
    for raw, p_fixed, p_anytime in zip(found, fixed, anytime, strict=True):
        guardrail = None
        if isinstance(raw.metric, Guardrail):
            guardrail = check_guardrail(raw.metric, raw.lift, raw.sequential, horizon)
        out.append(Comparison(
            raw.metric.name, definition.role(raw.metric.name), raw.variant, raw.metric.kind,
            raw.metric.direction, raw.control, raw.treatment, raw.lift, p_fixed,
            raw.sequential, p_anytime, raw.posterior, raw.cuped, raw.unadjusted, guardrail,
        ))
    return out


def check_guardrail(metric: Guardrail, lift: Lift, sequential: SequentialInterval,
                    horizon: Horizon) -> GuardrailCheck:
    """Return whether the guardrail is within tolerance, breached, or not yet shown either."""
    sign = improvement_sign(metric.direction)
    relative = metric.tolerance_scale is EffectScale.RELATIVE
    if relative and lift.lift_rel is None:
        return GuardrailCheck(GuardrailState.UNCLEAR, None, None, metric.tolerance,
                              metric.tolerance_scale)
    if horizon is Horizon.FIXED:
        point = lift.lift_rel if relative else lift.lift_abs
        low, high = (lift.rel_ci_low, lift.rel_ci_high) if relative else (lift.ci_low,
                                                                           lift.ci_high)
    else:
        scale = abs(lift.control_mean) if relative else 1.0
        point = lift.lift_abs / scale
        low, high = sequential.ci_low / scale, sequential.ci_high / scale
    assert point is not None and low is not None and high is not None
    degradation = -sign * point
    worst = max(-sign * low, -sign * high)
    best = min(-sign * low, -sign * high)
    if worst <= metric.tolerance:
        state = GuardrailState.WITHIN
    elif best > 0 and degradation > metric.tolerance:
        state = GuardrailState.BREACHED
    else:
        state = GuardrailState.UNCLEAR
    return GuardrailCheck(state, degradation, worst, metric.tolerance, metric.tolerance_scale)


def _describe(comparison: Comparison, horizon: Horizon, alpha: float) -> str:
    lift = comparison.lift
    level = f"{1 - alpha:.0%}"
    if horizon is Horizon.FIXED:
        low, high, p = lift.ci_low, lift.ci_high, comparison.p_value_adjusted
        interval, kind = f"{level} interval", "adjusted p"
    else:
        low, high = comparison.sequential.ci_low, comparison.sequential.ci_high
        p = comparison.sequential_p_adjusted
        interval, kind = f"always-valid {level} interval", "always-valid adjusted p"
    rel = "" if lift.lift_rel is None else f" ({lift.lift_rel:+.2%})"
    return (f"{comparison.metric} {comparison.variant} vs control: {lift.lift_abs:+.4g}{rel}, "
            f"{interval} {low:+.4g} to {high:+.4g}, {kind} = {p:.3g}")


def _significant(comparison: Comparison, horizon: Horizon, alpha: float) -> bool:
    p = (comparison.p_value_adjusted if horizon is Horizon.FIXED
         else comparison.sequential_p_adjusted)
    return p < alpha


def decide(
    definition: ExperimentDefinition,
    srm: SampleRatioCheck,
    comparisons: Sequence[Comparison],
    horizon: Horizon,
    plan: SampleSize | Skipped,
    counts: Mapping[str, int],
) -> Decision:
    """Return ship / don't ship / keep running / invalid, with the reasons."""
    if srm.mismatch:
        observed = ", ".join(f"{k} {v}" for k, v in srm.observed.items())
        expected = ", ".join(f"{k} {v:.0f}" for k, v in srm.expected.items())
        return Decision(Verdict.INVALID, None, (
            f"sample ratio mismatch: chi-square p = {srm.p_value:.2g} < {srm.threshold:g} "
            f"(observed {observed}; expected {expected}); find the cause (assignment, "
            "logging, bot filtering) before reading any lift",
        ))
    if definition.status is ExperimentStatus.CANCELLED:
        return Decision(Verdict.DONT_SHIP, None, ("the experiment was cancelled",))
    alpha = definition.alpha
    primary = definition.primary_metric
    verdicts: dict[str, tuple[Verdict, list[str]]] = {}
    for variant in definition.treatments:
        mine = [c for c in comparisons if c.variant == variant]
        main = next((c for c in mine if c.metric == primary.name), None)
        if main is None:
            verdicts[variant] = (Verdict.KEEP_RUNNING if horizon is Horizon.SEQUENTIAL
                                 else Verdict.DONT_SHIP,
                                 [f"{primary.name} {variant}: not computable"])
            continue
        verdicts[variant] = _variant_verdict(main, mine, horizon, alpha, plan, counts)
    shippable = [v for v, (verdict, _) in verdicts.items() if verdict is Verdict.SHIP]
    if shippable:
        best = max(shippable, key=lambda v: _gain(comparisons, primary.name, v))
        return Decision(Verdict.SHIP, best, tuple(verdicts[best][1]))
    reasons = tuple(reason for _, (_, why) in verdicts.items() for reason in why)
    if any(verdict is Verdict.KEEP_RUNNING for verdict, _ in verdicts.values()):
        return Decision(Verdict.KEEP_RUNNING, None, reasons)
    return Decision(Verdict.DONT_SHIP, None, reasons)


def _gain(comparisons: Sequence[Comparison], metric: str, variant: str) -> float:
    for c in comparisons:
        if c.metric == metric and c.variant == variant:
            return c.lift.lift_abs
    return -math.inf


def _variant_verdict(
    main: Comparison, mine: Sequence[Comparison], horizon: Horizon, alpha: float,
    plan: SampleSize | Skipped, counts: Mapping[str, int],
) -> tuple[Verdict, list[str]]:
    improving = improvement_sign(main.direction) * main.lift.lift_abs > 0
    reasons = [_describe(main, horizon, alpha)]
    guardrails = [c for c in mine if c.guardrail is not None]
    breached = [c for c in guardrails if c.guardrail and c.guardrail.state is
                GuardrailState.BREACHED]
    unclear = [c for c in guardrails if c.guardrail and c.guardrail.state is
               GuardrailState.UNCLEAR]
    for c in breached:
        reasons.append(_guardrail_text(c))
    if breached:
        return Verdict.DONT_SHIP, reasons
    significant = _significant(main, horizon, alpha)
    if significant and not improving:
        reasons.append(f"{main.metric} is significantly worse in {main.variant}")
        return Verdict.DONT_SHIP, reasons
    if significant:
        if not unclear:
            reasons += [_guardrail_text(c) for c in guardrails]
            return Verdict.SHIP, reasons
        reasons += [_guardrail_text(c) for c in unclear]
        if horizon is Horizon.SEQUENTIAL:
            return Verdict.KEEP_RUNNING, reasons
        return Verdict.DONT_SHIP, reasons
    if horizon is Horizon.SEQUENTIAL:
        progress = ""
        if isinstance(plan, SampleSize):
            need = plan.per_variant.get(main.variant, 0)
            have = counts.get(main.variant, 0)
            progress = f" ({have} of {need} planned units in {main.variant})"
        reasons.append(f"no conclusive effect yet on {main.metric}{progress}")
        return Verdict.KEEP_RUNNING, reasons
    reasons.append(
        f"no significant effect on {main.metric} at alpha {alpha:g}: any effect is smaller "
        "than the experiment could detect"
    )
    return Verdict.DONT_SHIP, reasons


def _guardrail_text(comparison: Comparison) -> str:
    check = comparison.guardrail
    assert check is not None
    if check.worst_case is None:
        return f"guardrail {comparison.metric}: cannot be checked (control mean is 0)"
    unit = "%" if check.scale is EffectScale.RELATIVE else ""
    factor = 100 if check.scale is EffectScale.RELATIVE else 1
    return (f"guardrail {comparison.metric} {check.state.value}: worst case "
            f"{check.worst_case * factor:+.3g}{unit} degradation against "
            f"{check.tolerance * factor:.3g}{unit} tolerated")
