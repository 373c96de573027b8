"""The statistics of an A/B test, as pure functions over arrays.

Formulas, and where they come from:

- **Sample ratio mismatch**: Pearson's chi-square goodness of fit of the unit counts per
  variant against the configured weights (``scipy.stats.chisquare``); flagged at p < 0.001,
  the threshold in Fabijan et al., "Diagnosing Sample Ratio Mismatch in Online Controlled
  Experiments" (KDD 2019).
- **Absolute lift** ``d = mean_t - mean_c`` with Welch's unequal-variance t-test: standard
  error ``se = sqrt(s_t^2/n_t + s_c^2/n_c)``, Welch–Satterthwaite degrees of freedom
  ``df = se^4 / ((s_t^2/n_t)^2/(n_t-1) + (s_c^2/n_c)^2/(n_c-1))``, interval
  ``d ± t_{1-alpha/2, df} se``; identical to ``scipy.stats.ttest_ind(equal_var=False)``.
- **Relative lift** ``r = mean_t/mean_c - 1`` with the delta method for a ratio of two
  independent means: ``Var(r) ≈ Var(mean_t)/mean_c^2 + mean_t^2 Var(mean_c)/mean_c^4``
  where ``Var(mean) = s^2/n``; interval ``r ± z_{1-alpha/2} sqrt(Var(r))``.
- **Ratio metrics** (a numerator and a denominator per unit, the metric
  ``R = sum(m)/sum(d)`` per variant): the delta method of Deng, Knoblich and Lu, "Applying
  the Delta Method in Metric Analytics" (KDD 2018), as GrowthBook's ``gbstats``
  ``RatioStatistic`` computes it: with sample moments (ddof=1) of the variant's units,
  ``n Var(R) ≈ s_m^2/mean_d^2 - 2 mean_m cov(m, d)/mean_d^3 + mean_m^2 s_d^2/mean_d^4``.
  That is exactly the sample variance of the linearised per-unit values
  ``l_i = R + (m_i - R d_i)/mean_d``, whose mean is exactly ``R``; so a ratio metric is
  analysed as those values, through the same Welch, relative-lift, sequential and Bayesian
  code as any continuous metric (the difference ``R_t - R_c`` and its variance
  ``Var(R_t) + Var(R_c)`` are the delta method's).
- **CUPED** (Deng, Xu, Kohavi, Walker, WSDM 2013): ``theta = cov(Y, X)/var(X)`` over all
  units of the experiment pooled, ``Y_adj = Y - theta (X - mean(X))``; the variance
  reduction is ``1 - var(Y_adj)/var(Y)`` (equal to the squared correlation of Y and X).
  For a ratio metric, Y and X are the linearised values of the post-period ratio and of the
  pre-period ratio (pre numerator over pre denominator), each within its variant, and
  ``theta = sum_v cov_v(Y, X) / sum_v var_v(X)`` over the variants, as ``gbstats``'
  ``RegressionAdjustedRatioStatistic``; the adjusted estimator ``R - theta R_pre`` then has
  the delta-method variance of that statistic (its gradient over the four means).
- **Always-valid interval**: the mixture sequential probability ratio test of Johari,
  Koomen, Pekelis and Walsh, "Always Valid Inference" (Operations Research, 2022), for a
  difference of means with a normal mixing distribution ``N(0, tau^2)`` on the effect.
  With ``V = s_t^2/n_t + s_c^2/n_c`` the variance of ``d``, the mixture likelihood ratio is
  ``Lambda = sqrt(V/(V+tau^2)) exp(tau^2 d^2 / (2 V (V+tau^2)))``, the always-valid p-value
  ``min(1, 1/Lambda)``, and the confidence sequence
  ``d ± sqrt(V (V+tau^2)/tau^2 * log((V+tau^2)/(V alpha^2)))``. ``tau`` is the minimum
  detectable effect in the metric's unit, so the test is most powerful near the effect
  the experiment was sized for.
- **Bayesian**: Beta(1, 1) priors and Beta-Binomial posteriors for binary metrics, compared
  by Monte Carlo with a seeded generator; for continuous metrics the normal approximation
  ``D ~ N(d, se^2)`` to the posterior of the difference (flat prior). Chance to win is
  ``P(D is an improvement)``; expected loss is ``E[max(-D, 0)]`` in the improving direction,
  the mean shortfall if the treatment is shipped and is in fact worse.
- **Sample size**: statsmodels' ``NormalIndPower`` on Cohen's h
  (``proportion_effectsize``) for binary metrics, ``TTestIndPower`` on Cohen's d for
  continuous ones; two-sided.
"""

from __future__ import annotations

import hashlib
import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from opsledger.model.experiments import Correction, Direction, MetricKind
from opsledger.model.status import Skipped

SRM_THRESHOLD = 0.001
MONTE_CARLO_DRAWS = 200_000


@dataclass(frozen=True)
class SampleSummary:
    """One variant's values of one metric."""

    name: str
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1)


def summarise(name: str, values: np.ndarray) -> SampleSummary:
    """Return n, mean and sample standard deviation (0 for fewer than two values)."""
    n = int(values.size)
    mean = float(values.mean()) if n else math.nan
    std = float(values.std(ddof=1)) if n > 1 else 0.0
    return SampleSummary(name, n, mean, std)


@dataclass(frozen=True)
class SampleRatioCheck:
    observed: Mapping[str, int]
    expected: Mapping[str, float]
    chi2: float
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold


def sample_ratio_check(
    counts: Mapping[str, int], weights: Mapping[str, float], threshold: float = SRM_THRESHOLD
) -> SampleRatioCheck:
    """Return the chi-square goodness of fit of ``counts`` against the weights' shares."""
    from scipy import stats

    names = list(weights)
    total_weight = sum(weights.values())
    observed = np.array([counts.get(name, 0) for name in names], dtype=float)
    expected = observed.sum() * np.array([weights[n] / total_weight for n in names])
    if observed.sum() == 0:  # no units: nothing to test (NaN, shown as n/a)
        chi2, p_value = math.nan, math.nan
    else:
        chi2, p_value = stats.chisquare(observed, expected)
    return SampleRatioCheck(
        {n: int(o) for n, o in zip(names, observed, strict=True)},
        {n: float(e) for n, e in zip(names, expected, strict=True)},
        float(chi2),
        float(p_value),
        threshold,
    )


@dataclass(frozen=True)
class Lift:
    """Treatment against control on one metric: fixed-horizon estimates and intervals."""

    control_mean: float
    treatment_mean: float
    lift_abs: float
    se: float
    df: float
    t_statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    lift_rel: float | None  # None when the control mean is 0
    rel_ci_low: float | None
    rel_ci_high: float | None


def welch_lift(
    treatment: np.ndarray, control: np.ndarray, alpha: float
) -> Lift | Skipped:
    """Return the absolute lift (Welch's test and interval) and the relative lift (delta method)."""
    from scipy import stats

    n_t, n_c = int(treatment.size), int(control.size)
    if n_t < 2 or n_c < 2:
        return Skipped(f"too few units ({n_t} treatment, {n_c} control; need 2 each)")
    m_t, m_c = float(treatment.mean()), float(control.mean())
    v_t = float(treatment.var(ddof=1)) / n_t
    v_c = float(control.var(ddof=1)) / n_c
    variance = v_t + v_c
    if variance <= 0:
        return Skipped("no variation in either variant (every unit has the same value)")
    se = math.sqrt(variance)
    # Welch–Satterthwaite on shares of the variance: the same value, no underflow when tiny.
    share_t, share_c = v_t / variance, v_c / variance
    df = 1.0 / (share_t**2 / (n_t - 1) + share_c**2 / (n_c - 1))
    diff = m_t - m_c
    t_statistic = diff / se
    p_value = float(2 * stats.t.sf(abs(t_statistic), df))
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    rel, rel_low, rel_high = relative_lift(m_t, m_c, v_t, v_c, alpha)
    return Lift(m_c, m_t, diff, se, df, t_statistic, p_value, diff - half, diff + half,
                rel, rel_low, rel_high)


def relative_lift(
    m_t: float, m_c: float, var_mean_t: float, var_mean_c: float, alpha: float
) -> tuple[float | None, float | None, float | None]:
    """Return ``m_t/m_c - 1`` and its delta-method interval (``None`` when ``m_c`` is 0)."""
    from scipy import stats

    if m_c == 0:
        return None, None, None
    ratio = m_t / m_c
    # sqrt(Var(m_t)/m_c^2 + m_t^2 Var(m_c)/m_c^4), arranged so no power of m_c underflows
    # and nothing is squared (hypot): a near-zero control mean gives inf, not an overflow.
    se = math.hypot(math.sqrt(var_mean_t), abs(ratio) * math.sqrt(var_mean_c)) / abs(m_c)
    if not math.isfinite(ratio) or not math.isfinite(se):
        return None, None, None
    half = float(stats.norm.ppf(1 - alpha / 2)) * se
    return ratio - 1, ratio - 1 - half, ratio - 1 + half


@dataclass(frozen=True)
class Cuped:
    covariate: str
    theta: float
    variance_reduction: float  # 1 - var(Y_adj)/var(Y), pooled over every unit


def cuped_theta(y: np.ndarray, x: np.ndarray) -> float | None:
    """Return ``cov(Y, X)/var(X)`` (``None`` when the covariate does not vary, or when values
    so large that their squares overflow leave no finite slope)."""
    if x.size < 2:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        var_x = float(np.var(x, ddof=1))
        if not 0 < var_x < math.inf:
            return None
        theta = float(np.cov(y, x, ddof=1)[0, 1]) / var_x
    return theta if math.isfinite(theta) else None


def ratio_linearized(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Return ``R + (m_i - R d_i)/mean(d)`` per unit, ``R = sum(m)/sum(d)``.

    The values' mean is ``R`` and their sample variance over ``n`` is the delta-method
    variance of ``R``, so every statistic of a mean applies to the ratio unchanged. They are
    NaN when there is no finite ratio (the denominators sum to 0, or so near it that the
    values overflow), or when a value is so large that the variance of the values would.
    """
    undefined = np.full(numerator.shape, math.nan)
    total = float(denominator.sum())
    if numerator.size == 0 or total == 0:
        return undefined
    with np.errstate(over="ignore", invalid="ignore"):
        ratio = float(numerator.sum()) / total
        values = ratio + (numerator - ratio * denominator) / (total / denominator.size)
    # A deviation from the mean is at most twice the largest value: n squared deviations
    # below this bound sum to a finite number.
    bound = math.sqrt(sys.float_info.max / (4.0 * values.size))
    return values if bool((np.abs(values) <= bound).all()) else undefined


def ratio_linearized_by_group(
    numerator: np.ndarray, denominator: np.ndarray, groups: np.ndarray
) -> np.ndarray:
    """Return each unit's linearised ratio, around the ratio of its own group (variant)."""
    values = np.full(numerator.shape, math.nan)
    for group in dict.fromkeys(groups.tolist()):
        mask = groups == group
        values[mask] = ratio_linearized(numerator[mask], denominator[mask])
    return values


def ratio_cuped_theta(
    post: np.ndarray, pre: np.ndarray, groups: np.ndarray
) -> float | None:
    """Return ``sum_v cov_v(post, pre) / sum_v var_v(pre)`` over the groups (``None`` if 0).

    ``post`` and ``pre`` are linearised ratios (:func:`ratio_linearized_by_group`): the
    within-variant covariances are those of the ratio estimators, not of the raw columns.
    """
    covariance = variance = 0.0
    for group in dict.fromkeys(groups.tolist()):
        mask = groups == group
        if np.count_nonzero(mask) < 2:
            continue
        # Finite values near the float limit overflow when multiplied: the sums then are not
        # finite, and the covariate is left out below.
        with np.errstate(over="ignore", invalid="ignore"):
            matrix = np.cov(post[mask], pre[mask], ddof=1)
        covariance += float(matrix[0, 1])
        variance += float(matrix[1, 1])
    if not math.isfinite(covariance) or not math.isfinite(variance) or variance <= 0:
        return None
    return covariance / variance


def cuped_adjust(y: np.ndarray, x: np.ndarray, theta: float) -> np.ndarray:
    """Return ``Y - theta (X - mean(X))``: same mean as Y, less variance when X predicts Y."""
    return y - theta * (x - x.mean())


def variance_reduction(y: np.ndarray, adjusted: np.ndarray) -> float:
    var_y = float(np.var(y, ddof=1))
    return 0.0 if var_y <= 0 else 1.0 - float(np.var(adjusted, ddof=1)) / var_y


@dataclass(frozen=True)
class SequentialInterval:
    """An always-valid (anytime) interval for the absolute lift, and its p-value."""

    ci_low: float
    ci_high: float
    p_value: float
    tau: float  # the standard deviation of the normal mixing distribution


def mixture_likelihood_ratio(diff: float, variance: float, tau: float) -> float:
    """Return the mSPRT statistic for H0: no difference (normal mixture, scale ``tau``)."""
    total = variance + tau**2
    exponent = tau**2 * diff**2 / (2 * variance * total)
    return math.sqrt(variance / total) * math.exp(min(exponent, 700.0))


def sequential_interval(
    diff: float, variance: float, tau: float, alpha: float
) -> SequentialInterval:
    """Return the mSPRT confidence sequence and always-valid p-value at this look."""
    total = variance + tau**2
    half = math.sqrt(variance * total / tau**2 * math.log(total / (variance * alpha**2)))
    p_value = min(1.0, 1.0 / mixture_likelihood_ratio(diff, variance, tau))
    return SequentialInterval(diff - half, diff + half, p_value, tau)


@dataclass(frozen=True)
class Posterior:
    chance_to_win: float
    expected_loss: float  # in the metric's unit, >= 0
    method: str


def improvement_sign(direction: Direction) -> float:
    return 1.0 if direction is Direction.INCREASE else -1.0


def normal_posterior(diff: float, se: float, direction: Direction) -> Posterior:
    """Return chance to win and expected loss under ``D ~ N(diff, se^2)``."""
    from scipy import stats

    gain = improvement_sign(direction) * diff  # the improvement, positive when better
    z = gain / se
    chance = float(stats.norm.cdf(z))
    # E[max(-G, 0)] for G ~ N(gain, se^2): se * pdf(z) - gain * cdf(-z).
    loss = float(se * stats.norm.pdf(z) - gain * stats.norm.cdf(-z))
    return Posterior(chance, max(loss, 0.0), "normal approximation")


def beta_binomial_posterior(
    successes_t: int,
    n_t: int,
    successes_c: int,
    n_c: int,
    direction: Direction,
    seed: int,
    draws: int = MONTE_CARLO_DRAWS,
) -> Posterior:
    """Return chance to win and expected loss from Beta(1+s, 1+n-s) posteriors (Monte Carlo)."""
    rng = np.random.default_rng(seed)
    p_t = rng.beta(1 + successes_t, 1 + n_t - successes_t, size=draws)
    p_c = rng.beta(1 + successes_c, 1 + n_c - successes_c, size=draws)
    gain = improvement_sign(direction) * (p_t - p_c)
    return Posterior(
        float(np.mean(gain > 0)), float(np.mean(np.maximum(-gain, 0.0))), "beta-binomial"
    )


def stable_seed(*parts: str) -> int:
    """Return a seed from text, the same in every process (``hash()`` is salted per run)."""
    digest = hashlib.sha256(":".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def adjust_p_values(
    p_values: Sequence[float], correction: Correction, alpha: float
) -> list[float]:
    """Return p-values adjusted for multiple comparisons (Holm or Benjamini–Hochberg)."""
    from statsmodels.stats.multitest import multipletests

    if not p_values or correction is Correction.NONE:
        return list(p_values)
    if correction is Correction.HOLM:
        return holm_adjusted(p_values)
    _, adjusted, _, _ = multipletests(list(p_values), alpha=alpha, method="fdr_bh")
    return [float(p) for p in adjusted]


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Return Holm's step-down adjusted p-values, in the order given.

    Sorted ascending, the k-th smallest of m p-values (k from 0) is multiplied by ``m - k``,
    the products are made non-decreasing (running maximum) and capped at 1: the same
    arithmetic, in the same order, as ``multipletests(method="holm")``, whose Holm branch
    also runs a full garbage collection on every call (half a second in a review that
    holds a year of health checks in memory).
    """
    values = np.asarray(p_values, dtype=float)
    order = np.argsort(values)
    adjusted = np.maximum.accumulate(values[order] * np.arange(len(values), 0, -1))
    adjusted[adjusted > 1] = 1
    unsorted = np.empty_like(adjusted)
    unsorted[order] = adjusted
    return [float(p) for p in unsorted]


@dataclass(frozen=True)
class SampleSize:
    """Units needed per variant to detect ``effect_abs`` with the given power."""

    per_variant: Mapping[str, int]
    effect_abs: float
    effect_size: float  # Cohen's h (binary) or d (continuous)
    alpha: float  # per comparison (Bonferroni over treatment variants when corrected)
    power: float
    method: str


def sample_size(
    kind: MetricKind,
    baseline_mean: float,
    baseline_std: float | None,
    effect: float,
    alpha: float,
    power: float,
    weights: Mapping[str, float],
    control: str,
) -> SampleSize | Skipped:
    """Return the units needed per variant for every treatment-vs-control comparison.

    ``effect`` is the change to detect in the metric's unit (signed: for a binary metric
    Cohen's h of 0.10 -> 0.11 differs from 0.10 -> 0.09). ``weights`` are the traffic
    shares; each comparison is solved for the control's sample size at
    ``ratio = w_treatment / w_control`` and the largest control need wins.
    """
    from statsmodels.stats.power import NormalIndPower, TTestIndPower
    from statsmodels.stats.proportion import proportion_effectsize
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    effect_abs = abs(effect)
    if effect_abs == 0:
        return Skipped("the minimum detectable effect must not be 0")
    if kind is MetricKind.BINARY:
        target = baseline_mean + effect
        if not 0 < baseline_mean < 1 or not 0 < target < 1:
            return Skipped(
                f"baseline rate {baseline_mean:.4g} moved by {effect:+.4g} "
                "must stay within (0, 1)"
            )
        effect_size = abs(float(proportion_effectsize(target, baseline_mean)))
        solver: NormalIndPower | TTestIndPower = NormalIndPower()
        method = "NormalIndPower on Cohen's h"
    else:
        if baseline_std is None or baseline_std <= 0:
            return Skipped("no baseline standard deviation for a continuous metric")
        effect_size = effect_abs / baseline_std
        if not math.isfinite(effect_size) or effect_size == 0:
            return Skipped(
                f"no usable effect size from an effect of {effect_abs:.3g} and a standard "
                f"deviation of {baseline_std:.3g}"
            )
        solver = TTestIndPower()
        method = "TTestIndPower on Cohen's d"
    need: dict[str, float] = {}
    control_need = 0.0
    for name, weight in weights.items():
        if name == control:
            continue
        ratio = weight / weights[control]
        with warnings.catch_warnings():  # a failed search is reported below, not printed
            warnings.simplefilter("ignore", ConvergenceWarning)
            nobs1 = float(solver.solve_power(effect_size=effect_size, nobs1=None, alpha=alpha,
                                             power=power, ratio=ratio,
                                             alternative="two-sided"))
        if not math.isfinite(nobs1):  # an effect of many standard deviations: no root to find
            return Skipped(
                f"{method} found no sample size for an effect size of {effect_size:.3g} "
                "(the effect is many times the metric's spread)"
            )
        control_need = max(control_need, nobs1)
        need[name] = nobs1 * ratio
    per_variant = {control: math.ceil(control_need)}
    per_variant.update({name: math.ceil(n) for name, n in need.items()})
    ordered = {name: per_variant[name] for name in weights}
    return SampleSize(ordered, effect_abs, effect_size, alpha, power, method)


def duration_days(
    per_variant: Mapping[str, int], weights: Mapping[str, float], daily_units: float
) -> int | None:
    """Return days until every variant has its units: ``ceil(n / daily units per variant)``."""
    if daily_units <= 0:
        return None
    total = sum(weights.values())
    return max(
        math.ceil(n / (daily_units * weights[name] / total)) for name, n in per_variant.items()
    )
