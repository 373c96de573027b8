"""Ratio metrics (sum of numerators over sum of denominators) against GrowthBook's gbstats,
against the delta method computed by hand, and through the whole analysis."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
from gbstats.models.statistics import RatioStatistic, SampleMeanStatistic
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from opsledger.experiments.results import (
    Comparison,
    ExperimentResult,
    Horizon,
    Verdict,
    analyze,
    plan_sample_size,
)
from opsledger.experiments.service import outcome_json, plan_experiment
from opsledger.experiments.statistics import (
    SampleSize,
    ratio_linearized,
    sequential_interval,
)
from opsledger.model.experiments import Experiment, MetricKind, Observations

from .builders import definition

AFTER_END = datetime(2026, 11, 5, tzinfo=UTC)
BEFORE_END = datetime(2026, 10, 15, tzinfo=UTC)
RATIO = {"name": "clicks_per_session", "kind": "ratio", "numerator": "clicks",
         "denominator": "sessions"}
PRE = {"clicks_per_session": {"numerator": "pre_clicks", "denominator": "pre_sessions"}}


def agree(value: float) -> Any:
    """The tolerance of the comparison with gbstats: 1e-6 relative."""
    return pytest.approx(value, rel=1e-6, abs=1e-12)


def units(rng: np.random.Generator, n: int, rate: float) -> dict[str, np.ndarray]:
    """Return per-unit sessions and clicks now and in the pre-period, habit-correlated."""
    habit = rng.gamma(2.0, 1.5, n)  # how much a user uses the product: drives both periods
    click_habit = rng.beta(3, 7, n)  # how click-happy a user is: also drives both periods
    pre_sessions = rng.poisson(habit).astype(float)  # 0 is allowed: new since then
    pre_clicks = rng.binomial(pre_sessions.astype(int) * 3, click_habit).astype(float)
    sessions = rng.poisson(habit).astype(float) + 1.0
    clicks = rng.binomial(sessions.astype(int) * 3, np.clip(click_habit * rate / 0.3, 0, 1))
    return {"clicks": clicks.astype(float), "sessions": sessions,
            "pre_clicks": pre_clicks, "pre_sessions": pre_sessions}


def experiment_data(seed: int, n_control: int = 3000, n_treatment: int = 2900,
                    rates: tuple[float, float] = (0.30, 0.32)
                    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    control, treatment = units(rng, n_control, rates[0]), units(rng, n_treatment, rates[1])
    variants = np.array(["control"] * n_control + ["treatment"] * n_treatment, dtype=object)
    order = rng.permutation(variants.size)  # interleaved, as units arrive
    columns = {k: np.concatenate([control[k], treatment[k]])[order] for k in control}
    return variants[order], columns


def gbstats_ratio(m: np.ndarray, d: np.ndarray) -> RatioStatistic:
    """Return gbstats' ratio statistic built from the unit sums, as GrowthBook's SQL gives them."""
    n = int(m.size)
    return RatioStatistic(
        n=n,
        m_statistic=SampleMeanStatistic(n=n, sum=float(m.sum()), sum_squares=float(m @ m)),
        d_statistic=SampleMeanStatistic(n=n, sum=float(d.sum()), sum_squares=float(d @ d)),
        m_d_sum_of_products=float(m @ d),
    )


def ratio_result(seed: int, **changes: Any) -> tuple[ExperimentResult, np.ndarray,
                                                      dict[str, np.ndarray]]:
    variants, columns = experiment_data(seed)
    changes.setdefault("primary_metric", RATIO)
    changes.setdefault("guardrail_metrics", [])
    result = analyze(definition(**changes), variants, columns, AFTER_END)
    return result, variants, columns


def primary(result: ExperimentResult) -> Comparison:
    comparison = result.primary("treatment")
    assert comparison is not None
    return comparison


@pytest.mark.parametrize(("seed", "alpha"), [(1, 0.05), (2, 0.01), (3, 0.1)])
def test_ratio_matches_gbstats(seed: int, alpha: float) -> None:
    result, variants, columns = ratio_result(seed, alpha=alpha)
    comparison = primary(result)
    lift = comparison.lift
    c, t = variants == "control", variants == "treatment"
    stat_c = gbstats_ratio(columns["clicks"][c], columns["sessions"][c])
    stat_t = gbstats_ratio(columns["clicks"][t], columns["sessions"][t])
    # Per variation: the ratio of sums and the delta-method variance (per unit).
    assert comparison.control.mean == agree(stat_c.mean)
    assert comparison.treatment.mean == agree(stat_t.mean)
    assert comparison.control.std**2 == agree(stat_c.variance)
    assert comparison.treatment.std**2 == agree(stat_t.variance)
    # The difference: opsledger's p-value and interval are on the absolute lift.
    absolute = TwoSidedTTest(stat_c, stat_t,
                             FrequentistConfig(alpha=alpha, difference_type="absolute"))
    expected = absolute.compute_result()
    assert expected.error_message is None
    assert lift.lift_abs == agree(expected.expected)
    assert lift.se == agree(expected.uplift.stddev)
    assert lift.df == agree(absolute.dof)
    assert lift.p_value == agree(expected.p_value)
    assert (lift.ci_low, lift.ci_high) == (agree(expected.ci[0]), agree(expected.ci[1]))
    # The relative lift: gbstats' estimate and standard error; opsledger's interval is the
    # normal one around them (gbstats widens it to Student's t on the same df).
    relative = TwoSidedTTest(stat_c, stat_t,
                             FrequentistConfig(alpha=alpha, difference_type="relative"))
    rel = relative.compute_result()
    assert lift.lift_rel == agree(rel.expected)
    z = stats.norm.ppf(1 - alpha / 2)
    assert lift.rel_ci_low == agree(rel.expected - z * rel.uplift.stddev)
    assert lift.rel_ci_high == agree(rel.expected + z * rel.uplift.stddev)


def sums(columns: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, Any]:
    """Return n, the four sums and every sum of products: what a warehouse query returns."""
    names = ["clicks", "sessions", "pre_clicks", "pre_sessions"]
    data = np.vstack([columns[name][mask] for name in names])
    return {"n": int(mask.sum()), "sum": data.sum(axis=1), "products": data @ data.T}


def regression_adjusted_ratio(a: dict[str, Any], b: dict[str, Any], alpha: float
                              ) -> dict[str, float]:
    """Return gbstats' RegressionAdjustedRatioStatistic test of b against a, from sums.

    gbstats 0.8 (the newest release) has no regression-adjusted ratio, so its definition in
    GrowthBook's stats engine is written out here: the 4x4 sample covariance of (m, d,
    m_pre, d_pre), the gradient of ``m/d - theta m_pre/d_pre`` at the means, and
    ``theta = -(cov_a + cov_b)/(var_pre_a + var_pre_b)`` with the gradient at theta = 1.
    """

    def moments(s: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        n = s["n"]
        covariance = (s["products"] - np.outer(s["sum"], s["sum"]) / n) / (n - 1)
        return s["sum"] / n, covariance

    def gradient(means: np.ndarray, theta: float) -> np.ndarray:
        m, d, m_pre, d_pre = means
        return np.array([1 / d, -m / d**2, -theta / d_pre, theta * m_pre / d_pre**2])

    (mean_a, lam_a), (mean_b, lam_b) = moments(a), moments(b)
    pre, post = slice(2, 4), slice(0, 2)
    cov = var_pre = 0.0
    for means, lam in ((mean_a, lam_a), (mean_b, lam_b)):
        g = gradient(means, 1.0)
        cov += float(g[pre] @ lam[pre, post] @ g[post])
        var_pre += float(g[pre] @ lam[pre, pre] @ g[pre])
    theta = -cov / var_pre

    def estimate(means: np.ndarray, lam: np.ndarray) -> tuple[float, float]:
        g = gradient(means, theta)
        return means[0] / means[1] - theta * means[2] / means[3], float(g @ lam @ g)

    (est_a, var_a), (est_b, var_b) = estimate(mean_a, lam_a), estimate(mean_b, lam_b)
    n_a, n_b = a["n"], b["n"]
    variance = var_a / n_a + var_b / n_b
    dof = variance**2 / (var_b**2 / (n_b**2 * (n_b - 1)) + var_a**2 / (n_a**2 * (n_a - 1)))
    diff = est_b - est_a
    width = stats.t.ppf(1 - alpha / 2, dof) * math.sqrt(variance)
    return {"theta": theta, "diff": diff, "se": math.sqrt(variance), "dof": dof,
            "p_value": 2 * (1 - stats.t.cdf(abs(diff) / math.sqrt(variance), dof)),
            "ci_low": diff - width, "ci_high": diff + width}


@pytest.mark.parametrize("seed", [4, 5])
def test_cuped_ratio_matches_gbstats_regression_adjusted_ratio(seed: int) -> None:
    result, variants, columns = ratio_result(seed, covariate=PRE)
    comparison = primary(result)
    assert comparison.cuped is not None
    assert comparison.cuped.covariate == "pre_clicks/pre_sessions"
    expected = regression_adjusted_ratio(sums(columns, variants == "control"),
                                         sums(columns, variants == "treatment"), 0.05)
    lift = comparison.lift
    assert comparison.cuped.theta == agree(expected["theta"])
    assert lift.lift_abs == agree(expected["diff"])
    assert lift.se == agree(expected["se"])
    assert lift.df == agree(expected["dof"])
    assert lift.p_value == agree(expected["p_value"])
    assert (lift.ci_low, lift.ci_high) == (agree(expected["ci_low"]), agree(expected["ci_high"]))
    # The habit behind both periods makes the adjustment worth having.
    assert comparison.cuped.variance_reduction > 0.2
    assert comparison.unadjusted is not None and lift.se < comparison.unadjusted.se
    # Beside it, the unadjusted lift is gbstats' plain ratio test.
    c, t = variants == "control", variants == "treatment"
    plain = TwoSidedTTest(gbstats_ratio(columns["clicks"][c], columns["sessions"][c]),
                          gbstats_ratio(columns["clicks"][t], columns["sessions"][t]),
                          FrequentistConfig(difference_type="absolute")).compute_result()
    assert comparison.unadjusted.lift_abs == agree(plain.expected)
    assert comparison.unadjusted.p_value == agree(plain.p_value)


def delta_method(m: np.ndarray, d: np.ndarray) -> tuple[float, float]:
    """Return R = sum(m)/sum(d) and Var(R) by Deng, Knoblich and Lu (2018), equation (3)."""
    n = m.size
    mu_m, mu_d = m.mean(), d.mean()
    var_m, var_d = np.var(m, ddof=1), np.var(d, ddof=1)
    cov = np.cov(m, d, ddof=1)[0, 1]
    variance = (var_m / mu_d**2 - 2 * mu_m * cov / mu_d**3 + mu_m**2 * var_d / mu_d**4) / n
    return mu_m / mu_d, float(variance)


def test_ratio_lift_against_the_delta_method_by_hand() -> None:
    result, variants, columns = ratio_result(6)
    lift = primary(result).lift
    c, t = variants == "control", variants == "treatment"
    r_c, v_c = delta_method(columns["clicks"][c], columns["sessions"][c])
    r_t, v_t = delta_method(columns["clicks"][t], columns["sessions"][t])
    n_c, n_t = int(c.sum()), int(t.sum())
    se = math.sqrt(v_t + v_c)
    df = (v_t + v_c) ** 2 / (v_t**2 / (n_t - 1) + v_c**2 / (n_c - 1))
    assert lift.control_mean == pytest.approx(r_c, rel=1e-12)
    assert lift.lift_abs == pytest.approx(r_t - r_c, rel=1e-9)
    assert lift.se == pytest.approx(se, rel=1e-9)
    assert lift.df == pytest.approx(df, rel=1e-9)
    assert lift.p_value == pytest.approx(2 * stats.t.sf(abs(r_t - r_c) / se, df), rel=1e-9)
    half = stats.t.ppf(0.975, df) * se
    assert lift.ci_low == pytest.approx(r_t - r_c - half, rel=1e-9)
    # Relative lift: Var(R_t/R_c) for independent ratios.
    rel_se = math.sqrt(v_t / r_c**2 + r_t**2 * v_c / r_c**4)
    assert lift.lift_rel == pytest.approx(r_t / r_c - 1, rel=1e-9)
    assert lift.rel_ci_high == pytest.approx(r_t / r_c - 1 + stats.norm.ppf(0.975) * rel_se,
                                             rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e3), st.floats(0.5, 1e2)), min_size=2, max_size=60))
def test_linearised_values_carry_the_ratio_and_its_delta_variance(
    rows: list[tuple[float, float]],
) -> None:
    m = np.array([r[0] for r in rows])
    d = np.array([r[1] for r in rows])
    values = ratio_linearized(m, d)
    ratio, variance = delta_method(m, d)
    scale = max(1.0, abs(ratio))
    assert values.mean() == pytest.approx(ratio, rel=1e-9, abs=1e-12 * scale)
    assert np.var(values, ddof=1) / m.size == pytest.approx(variance, rel=1e-7,
                                                             abs=1e-12 * scale**2)


def test_a_ratio_is_weighted_by_its_denominator_not_averaged_per_unit() -> None:
    # Two users: 9 clicks in 10 sessions, 0 in 1. Clicks per session is 9/11, not 0.45.
    values = ratio_linearized(np.array([9.0, 0.0]), np.array([10.0, 1.0]))
    assert values.mean() == pytest.approx(9 / 11)


def test_ratio_decisions_use_the_shared_sequential_and_bayesian_paths() -> None:
    variants, columns = experiment_data(7, rates=(0.30, 0.36))
    # Sized for a 2 % change, so a look at 3,000 units per variant is still a peek.
    running = definition(primary_metric=RATIO, guardrail_metrics=[],
                         minimum_detectable_effect={"value": 0.02, "scale": "relative"})
    result = analyze(running, variants, columns, BEFORE_END)
    assert result.horizon is Horizon.SEQUENTIAL
    comparison = primary(result)
    assert comparison.kind is MetricKind.RATIO
    lift = comparison.lift
    tau = 0.02 * lift.control_mean  # the relative MDE in the ratio's own unit
    assert comparison.sequential == sequential_interval(lift.lift_abs, lift.se**2, tau, 0.05)
    assert comparison.posterior.method == "normal approximation"
    assert comparison.posterior.chance_to_win == pytest.approx(
        stats.norm.cdf(lift.lift_abs / lift.se))
    assert result.decision.verdict is Verdict.SHIP
    assert result.decision.variant == "treatment"
    # A decreasing ratio (e.g. errors per request) that rose is a significant harm.
    worse = definition(primary_metric={**RATIO, "direction": "decrease"}, guardrail_metrics=[])
    assert analyze(worse, variants, columns, AFTER_END).decision.verdict is \
        Verdict.DONT_SHIP


def test_ratio_guardrail_and_secondary_metrics() -> None:
    variants, columns = experiment_data(8)
    columns["converted"] = (columns["clicks"] > 0).astype(float)
    changes = {"secondary_metrics": [{**RATIO, "name": "ctr"}],
               "guardrail_metrics": [{**RATIO, "tolerance": 0.5}]}
    result = analyze(definition(**changes), variants, columns, AFTER_END)
    assert {c.metric for c in result.comparisons} == {"converted", "ctr", "clicks_per_session"}
    guardrail = next(c for c in result.comparisons if c.metric == "clicks_per_session")
    assert guardrail.guardrail is not None
    ctr = next(c for c in result.comparisons if c.metric == "ctr")
    assert ctr.lift == guardrail.lift  # the same columns give the same ratio


def test_sample_size_of_a_ratio_uses_its_delta_method_spread() -> None:
    variants, columns = experiment_data(9)
    c = variants == "control"
    ratio, variance = delta_method(columns["clicks"][c], columns["sessions"][c])
    unit_std = math.sqrt(variance * c.sum())
    ratio_definition = definition(primary_metric=RATIO, guardrail_metrics=[])
    observations = Observations("observations.csv", np.arange(variants.size).astype(str),
                                variants, columns)
    plan = plan_experiment(Experiment(ratio_definition, "trial.yaml", observations), 1000.0)
    size = plan.sample_size
    assert isinstance(size, SampleSize)
    assert size.effect_abs == pytest.approx(0.1 * ratio)
    assert size.effect_size == pytest.approx(0.1 * ratio / unit_std)
    assert plan.duration_days is not None
    stated = definition(primary_metric={**RATIO, "baseline": {"mean": 0.5, "std": 0.4}},
                        guardrail_metrics=[])
    from_baseline = plan_sample_size(stated, None)
    assert isinstance(from_baseline, SampleSize)
    assert from_baseline.effect_size == pytest.approx(0.05 / 0.4)


def test_a_variant_without_denominators_is_skipped_with_the_reason() -> None:
    variants = np.array(["control"] * 4 + ["treatment"] * 4, dtype=object)
    columns = {"clicks": np.array([1.0, 2.0, 3.0, 1.0, 1.0, 2.0, 1.0, 0.0]),
               "sessions": np.array([2.0, 3.0, 4.0, 2.0, 2.0, -2.0, 1.0, -1.0])}
    result = analyze(definition(primary_metric=RATIO, guardrail_metrics=[]), variants,
                     columns, AFTER_END)
    [skipped] = result.skipped
    assert skipped.reason == "the denominator 'sessions' sums to 0 in treatment: no ratio"
    assert not result.comparisons
    assert result.decision.verdict is Verdict.DONT_SHIP
    assert math.isnan(result.variants[1].mean)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # extreme values give no warning
@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["control", "treatment"]), st.floats(0, 1e4),
                          st.floats(-5, 1e3), st.floats(0, 1e4), st.floats(0, 1e3)),
                max_size=30))
# Denominators of 1e-204 and 1e-291 push the ratio's scale beyond floating point.
@example([("control", 0.0, 0.0, 0.0, 0.0)] * 3 + [("control", 0.0, 1.0, 0.0, 0.0),
          ("treatment", 0.0, 3.394901870689179e-204, 0.0, 0.0),
          ("treatment", 1.0, 0.0, 0.0, 0.0)])
@example([("control", 0.0, 0.0, 0.0, 0.0)] * 3
         + [("control", 1.0, 1.5470540643753284e-291, 0.0, 0.0),
            ("treatment", 0.0, 1.0, 0.0, 0.0), ("treatment", 1.0, 0.0, 0.0, 0.0)])
# Finite linearised ratios near the float limit: their variances and CUPED products overflow.
@example([("treatment", 9448.71326045837, 960.2048236357358, 37.43950793060336, 1000.0)]
         + [("control", 1.0, 1.1125369292536007e-308, 2654.8893485773856, 505.1300487141098)] * 2
         + [("treatment", 2.191565910748806e-73, -5.960464477539063e-08, 0.6, 479.6)])
@example([("treatment", 8198.400572596254, -1.4338060438907463e-166, 510.3864030226514, 197.2),
          ("treatment", 1000.0, 1.071772693137003e-298, 8195.29952577578, 0.001)])
def test_any_ratio_observations_give_a_result(
    rows: list[tuple[str, float, float, float, float]],
) -> None:
    variants = np.array([r[0] for r in rows], dtype=object)
    columns = {name: np.array([r[i] for r in rows], dtype=float)
               for i, name in enumerate(["clicks", "sessions", "pre_clicks", "pre_sessions"],
                                        start=1)}
    ratio_definition = definition(primary_metric=RATIO, guardrail_metrics=[], covariate=PRE)
    result = analyze(ratio_definition, variants, columns, AFTER_END)
    assert result.decision.verdict in set(Verdict)
    assert result.decision.reasons
    assert len(result.comparisons) + len(result.skipped) == 1
    outcome_json(result)


def test_json_names_the_ratio_columns() -> None:
    result, _, _ = ratio_result(10, covariate=PRE)
    data = outcome_json(result)
    [metric] = data["metrics"]
    assert (metric["kind"], metric["numerator"], metric["denominator"]) == (
        "ratio", "clicks", "sessions")
    comparison = primary(result)
    assert metric["cuped"]["covariate"] == "pre_clicks/pre_sessions"
    assert comparison.unadjusted is not None
    assert metric["cuped"]["unadjusted"]["lift_abs"] == comparison.unadjusted.lift_abs
    assert data["variants"][0]["mean"] == comparison.control.mean

