"""Every statistic against scipy/statsmodels called directly on the same data, or by hand."""

from __future__ import annotations

import gc
import math
import warnings
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestIndPower
from statsmodels.stats.proportion import proportion_effectsize

from opsledger.experiments.statistics import (
    Lift,
    SampleSize,
    adjust_p_values,
    beta_binomial_posterior,
    cuped_adjust,
    cuped_theta,
    duration_days,
    mixture_likelihood_ratio,
    normal_posterior,
    ratio_cuped_theta,
    sample_ratio_check,
    sample_size,
    sequential_interval,
    variance_reduction,
    welch_lift,
)
from opsledger.model.experiments import Correction, Direction, MetricKind
from opsledger.model.status import Skipped


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2026)
    return rng.normal(10.4, 3.0, 900), rng.normal(10.0, 2.2, 1300)


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_welch_matches_scipy(samples: tuple[np.ndarray, np.ndarray], alpha: float) -> None:
    treatment, control = samples
    lift = welch_lift(treatment, control, alpha)
    assert isinstance(lift, Lift)
    reference = stats.ttest_ind(treatment, control, equal_var=False)
    interval = reference.confidence_interval(confidence_level=1 - alpha)
    assert lift.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert lift.t_statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert lift.df == pytest.approx(reference.df, rel=1e-12)
    assert lift.ci_low == pytest.approx(interval.low, rel=1e-10)
    assert lift.ci_high == pytest.approx(interval.high, rel=1e-10)
    assert lift.lift_abs == pytest.approx(treatment.mean() - control.mean())


def test_binary_metric_welch_matches_scipy() -> None:
    rng = np.random.default_rng(5)
    treatment = (rng.random(4000) < 0.12).astype(float)
    control = (rng.random(4100) < 0.10).astype(float)
    lift = welch_lift(treatment, control, 0.05)
    assert isinstance(lift, Lift)
    assert lift.p_value == pytest.approx(
        stats.ttest_ind(treatment, control, equal_var=False).pvalue, rel=1e-10)


def test_relative_lift_delta_method_by_hand(samples: tuple[np.ndarray, np.ndarray]) -> None:
    treatment, control = samples
    lift = welch_lift(treatment, control, 0.05)
    assert isinstance(lift, Lift)
    n_t, n_c = len(treatment), len(control)
    m_t = sum(treatment) / n_t
    m_c = sum(control) / n_c
    var_t = sum((x - m_t) ** 2 for x in treatment) / (n_t - 1) / n_t
    var_c = sum((x - m_c) ** 2 for x in control) / (n_c - 1) / n_c
    # Var(m_t/m_c) by the delta method for independent means.
    se = math.sqrt(var_t / m_c**2 + m_t**2 * var_c / m_c**4)
    z = 1.959963984540054
    assert lift.lift_rel == pytest.approx(m_t / m_c - 1, rel=1e-10)
    assert lift.rel_ci_low == pytest.approx(m_t / m_c - 1 - z * se, rel=1e-9)
    assert lift.rel_ci_high == pytest.approx(m_t / m_c - 1 + z * se, rel=1e-9)


def test_relative_lift_interval_covers_in_simulation() -> None:
    # The delta-method interval should cover the true ratio about 95 % of the time.
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(400):
        lift = welch_lift(rng.exponential(1.1, 800), rng.exponential(1.0, 800), 0.05)
        assert isinstance(lift, Lift) and lift.rel_ci_low is not None
        assert lift.rel_ci_high is not None
        covered += lift.rel_ci_low <= 0.1 <= lift.rel_ci_high
    assert 0.92 <= covered / 400 <= 0.98


def test_welch_skips_what_cannot_be_computed() -> None:
    assert isinstance(welch_lift(np.ones(10), np.ones(12), 0.05), Skipped)
    assert isinstance(welch_lift(np.array([1.0]), np.arange(5.0), 0.05), Skipped)
    zero_control = welch_lift(np.array([0.0, 1.0, 1.0]), np.zeros(4) + np.array([0, 0, 0, 0.0]),
                              0.05)
    assert isinstance(zero_control, Lift) and zero_control.lift_rel is None


def test_sample_ratio_matches_scipy_chisquare() -> None:
    counts = {"control": 6012, "treatment": 5426}
    check = sample_ratio_check(counts, {"control": 1.0, "treatment": 1.0})
    reference = stats.chisquare([6012, 5426], [5719, 5719])
    assert check.chi2 == pytest.approx(reference.statistic)
    assert check.p_value == pytest.approx(reference.pvalue)
    assert check.mismatch
    uneven = sample_ratio_check({"a": 205, "b": 290, "c": 505}, {"a": 2, "b": 3, "c": 5})
    assert uneven.p_value == pytest.approx(stats.chisquare([205, 290, 505], [200, 300, 500]).pvalue)
    assert not uneven.mismatch
    assert uneven.expected == {"a": 200.0, "b": 300.0, "c": 500.0}


@pytest.mark.parametrize("correction", [Correction.HOLM, Correction.BENJAMINI_HOCHBERG])
def test_adjustment_matches_multipletests(correction: Correction) -> None:
    p_values = [0.001, 0.04, 0.03, 0.2, 0.012]
    method = {Correction.HOLM: "holm", Correction.BENJAMINI_HOCHBERG: "fdr_bh"}[correction]
    expected = multipletests(p_values, alpha=0.05, method=method)[1]
    assert adjust_p_values(p_values, correction, 0.05) == pytest.approx(list(expected))
    assert adjust_p_values(p_values, Correction.NONE, 0.05) == p_values


def statsmodels_holm(p_values: list[float]) -> list[float]:
    """Return statsmodels' Holm adjustment. Its Holm branch runs a full garbage collection on
    every call, which changes no number and takes 0.1-0.5 s in a test process: skipped."""
    with mock.patch.object(gc, "collect", lambda *args: 0):
        return [float(p) for p in multipletests(p_values, alpha=0.05, method="holm")[1]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=12))
def test_holm_is_exactly_statsmodels_holm(p_values: list[float]) -> None:
    # Ties, zeros, ones and products above 1 included: the same numbers, bit for bit.
    expected = statsmodels_holm(p_values)
    assert adjust_p_values(p_values, Correction.HOLM, 0.05) == expected


def test_holm_runs_no_garbage_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(1) or 0)
    adjust_p_values([0.01, 0.04, 0.03], Correction.HOLM, 0.05)
    assert collections == []


def test_holm_by_hand() -> None:
    # Holm: sorted p times (m - rank), made monotone: 0.001*5, 0.012*4, 0.03*3, 0.04*2, 0.2*1.
    adjusted = adjust_p_values([0.001, 0.04, 0.03, 0.2, 0.012], Correction.HOLM, 0.05)
    assert adjusted == pytest.approx([0.005, 0.09, 0.09, 0.2, 0.048])


def test_binary_sample_size_matches_statsmodels_and_hand() -> None:
    plan = sample_size(MetricKind.BINARY, 0.10, None, 0.01, 0.05, 0.8,
                       {"control": 0.5, "treatment": 0.5}, "control")
    assert isinstance(plan, SampleSize)
    h = abs(proportion_effectsize(0.11, 0.10))
    reference = NormalIndPower().solve_power(effect_size=h, alpha=0.05, power=0.8, ratio=1.0,
                                             alternative="two-sided")
    assert plan.per_variant == {"control": math.ceil(reference),
                                "treatment": math.ceil(reference)}
    # By hand: h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)); n = 2 (z_.975 + z_.8)^2 / h^2.
    h_hand = 2 * math.asin(math.sqrt(0.11)) - 2 * math.asin(math.sqrt(0.10))
    assert plan.effect_size == pytest.approx(h_hand)
    n_hand = 2 * (stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) ** 2 / h_hand**2
    assert plan.per_variant["control"] == math.ceil(n_hand)
    assert plan.per_variant["control"] == 14745


def test_continuous_sample_size_with_uneven_weights() -> None:
    weights = {"control": 0.25, "b": 0.25, "c": 0.5}
    plan = sample_size(MetricKind.CONTINUOUS, 50.0, 20.0, 2.0, 0.025, 0.9, weights, "control")
    assert isinstance(plan, SampleSize)
    solver = TTestIndPower()
    n_b = solver.solve_power(effect_size=0.1, alpha=0.025, power=0.9, ratio=1.0)
    n_c = solver.solve_power(effect_size=0.1, alpha=0.025, power=0.9, ratio=2.0)
    assert plan.per_variant["control"] == math.ceil(max(n_b, n_c))
    assert plan.per_variant["b"] == math.ceil(n_b)
    assert plan.per_variant["c"] == math.ceil(n_c * 2)
    assert list(plan.per_variant) == ["control", "b", "c"]


def test_sample_size_skips_impossible_inputs() -> None:
    weights = {"control": 1.0, "t": 1.0}
    assert isinstance(sample_size(MetricKind.BINARY, 0.99, None, 0.02, 0.05, 0.8, weights,
                                  "control"), Skipped)
    assert isinstance(sample_size(MetricKind.CONTINUOUS, 5.0, None, 1.0, 0.05, 0.8, weights,
                                  "control"), Skipped)


def test_duration_is_ceil_of_units_over_daily_units_per_variant() -> None:
    per_variant = {"control": 14745, "treatment": 14745}
    # 1,500 units a day, half to each variant: ceil(14745 / 750) = 20 days.
    assert duration_days(per_variant, {"control": 0.5, "treatment": 0.5}, 1500) == 20
    # 25/75 split: control gets 375 a day and needs ceil(14745 / 375) = 40 days.
    assert duration_days(per_variant, {"control": 1, "treatment": 3}, 1500) == 40
    assert duration_days(per_variant, {"control": 1, "treatment": 1}, 0) is None


def test_cuped_against_hand_calculation() -> None:
    rng = np.random.default_rng(3)
    x = rng.gamma(2.0, 1.0, 500)
    y = 0.8 * x + rng.normal(0, 1.0, 500)
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True)) / (n - 1)
    var_x = sum((a - mx) ** 2 for a in x) / (n - 1)
    var_y = sum((b - my) ** 2 for b in y) / (n - 1)
    theta = cov / var_x
    assert cuped_theta(y, x) == pytest.approx(theta, rel=1e-10)
    adjusted = cuped_adjust(y, x, theta)
    assert adjusted.mean() == pytest.approx(my)
    var_adj = sum((v - my) ** 2 for v in adjusted) / (n - 1)
    assert variance_reduction(y, adjusted) == pytest.approx(1 - var_adj / var_y, rel=1e-9)
    # The reduction is the squared correlation of Y and X.
    assert variance_reduction(y, adjusted) == pytest.approx(cov**2 / (var_x * var_y), rel=1e-9)
    assert cuped_theta(y, np.ones(n)) is None


def test_cuped_leaves_out_a_covariate_whose_products_overflow_without_a_warning() -> None:
    # Finite values near the float limit: their squares and products overflow, so no slope
    # can be computed; the covariate is left out rather than a warning and an infinite theta.
    huge = np.array([1e300, -1e300, 1e300, -2e300])
    small = np.array([1.0, 2.0, 3.0, 5.0])
    groups = np.array(["control", "control", "treatment", "treatment"], dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cuped_theta(small, huge) is None
        theta = cuped_theta(huge, small)  # Y's own variance overflows; the slope does not
        assert theta is not None and math.isfinite(theta)
        assert ratio_cuped_theta(huge, huge, groups) is None
        assert ratio_cuped_theta(small, huge, groups) is None
    assert cuped_theta(small, small) == pytest.approx(1.0)


def test_mixture_likelihood_ratio_by_numerical_integration() -> None:
    diff, variance, tau = 0.03, 0.0002, 0.02
    def integrand(theta: float) -> float:
        ratio = stats.norm.pdf(diff, theta, math.sqrt(variance)) / stats.norm.pdf(
            diff, 0, math.sqrt(variance))
        return float(ratio * stats.norm.pdf(theta, 0, tau))
    reference, _ = integrate.quad(integrand, -10 * tau, 10 * tau, points=[diff])
    assert mixture_likelihood_ratio(diff, variance, tau) == pytest.approx(reference, rel=1e-7)


def test_sequential_interval_is_the_inverted_test() -> None:
    variance, tau, alpha = 0.0004, 0.05, 0.05
    interval = sequential_interval(0.07, variance, tau, alpha)
    # At either end of the interval, the mixture ratio for that null is exactly 1/alpha.
    for edge in (interval.ci_low, interval.ci_high):
        assert mixture_likelihood_ratio(0.07 - edge, variance, tau) == pytest.approx(1 / alpha)
    # Wider than the fixed-horizon interval for the same data.
    assert interval.ci_high - 0.07 > stats.norm.ppf(0.975) * math.sqrt(variance)
    assert interval.p_value == pytest.approx(
        min(1.0, 1 / mixture_likelihood_ratio(0.07, variance, tau)))
    assert (interval.p_value < alpha) == (interval.ci_low > 0)


def test_peeking_with_the_sequential_interval_keeps_the_error_rate() -> None:
    # Under no effect, 20 looks: naive t-tests reject far more often than alpha; mSPRT not.
    rng = np.random.default_rng(8)
    runs, per_look, looks = 300, 100, 20
    a = rng.normal(0, 1, (runs, per_look * looks))
    b = rng.normal(0, 1, (runs, per_look * looks))
    naive = msprt = 0
    for run in range(runs):
        naive_hit = msprt_hit = False
        for look in range(1, looks + 1):
            n = look * per_look
            lift = welch_lift(a[run, :n], b[run, :n], 0.05)
            assert isinstance(lift, Lift)
            naive_hit |= lift.p_value < 0.05
            msprt_hit |= sequential_interval(lift.lift_abs, lift.se**2, 0.1, 0.05).p_value < 0.05
        naive += naive_hit
        msprt += msprt_hit
    assert naive / runs > 0.12
    assert msprt / runs <= 0.07


def test_normal_posterior_by_integration() -> None:
    diff, se = 0.4, 0.3
    posterior = normal_posterior(diff, se, Direction.INCREASE)
    assert posterior.chance_to_win == pytest.approx(stats.norm.cdf(diff / se))
    loss, _ = integrate.quad(lambda d: max(-d, 0.0) * stats.norm.pdf(d, diff, se), -5, 5,
                             points=[0.0])
    assert posterior.expected_loss == pytest.approx(loss, rel=1e-7)
    lower_is_better = normal_posterior(diff, se, Direction.DECREASE)
    assert lower_is_better.chance_to_win == pytest.approx(1 - posterior.chance_to_win)
    gain_loss, _ = integrate.quad(lambda d: max(d, 0.0) * stats.norm.pdf(d, diff, se), -5, 5,
                                  points=[0.0])
    assert lower_is_better.expected_loss == pytest.approx(gain_loss, rel=1e-7)


def _exact_chance(s_t: int, n_t: int, s_c: int, n_c: int) -> float:
    # P(p_t > p_c) for Beta(1+s, 1+n-s) posteriors, closed form (Evan Miller, 2015).
    a_t, b_t, a_c, b_c = 1 + s_t, 1 + n_t - s_t, 1 + s_c, 1 + n_c - s_c
    terms = [
        special.betaln(a_c + i, b_c + b_t) - math.log(b_t + i) - special.betaln(1 + i, b_t)
        - special.betaln(a_c, b_c)
        for i in range(a_t)
    ]
    return float(np.exp(special.logsumexp(terms)))


def test_beta_binomial_chance_against_the_closed_form() -> None:
    posterior = beta_binomial_posterior(48, 400, 36, 410, Direction.INCREASE, seed=1)
    exact = _exact_chance(48, 400, 36, 410)
    monte_carlo_se = math.sqrt(exact * (1 - exact) / 200_000)
    assert abs(posterior.chance_to_win - exact) < 4 * monte_carlo_se
    assert posterior.method == "beta-binomial"


def test_beta_binomial_expected_loss_by_integration() -> None:
    s_t, n_t, s_c, n_c = 30, 300, 36, 310
    posterior = beta_binomial_posterior(s_t, n_t, s_c, n_c, Direction.INCREASE, seed=4)
    treatment = stats.beta(1 + s_t, 1 + n_t - s_t)
    control = stats.beta(1 + s_c, 1 + n_c - s_c)

    def shortfall(x: float) -> float:  # E[max(p_c - x, 0)] = integral of the survival
        value, _ = integrate.quad(control.sf, x, 1)
        return float(value)

    exact, _ = integrate.quad(lambda x: treatment.pdf(x) * shortfall(x), 0.0, 0.3, limit=200)
    assert posterior.expected_loss == pytest.approx(exact, rel=0.02)


def test_beta_binomial_is_deterministic_per_seed() -> None:
    first = beta_binomial_posterior(10, 100, 12, 100, Direction.DECREASE, seed=9)
    again = beta_binomial_posterior(10, 100, 12, 100, Direction.DECREASE, seed=9)
    assert first == again
    assert first.chance_to_win == pytest.approx(1 - _exact_chance(10, 100, 12, 100), abs=0.01)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=40),
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=40),
)
def test_welch_matches_scipy_on_any_data(treatment: list[float], control: list[float]) -> None:
    t, c = np.array(treatment), np.array(control)
    lift = welch_lift(t, c, 0.05)
    if isinstance(lift, Skipped):
        assert t.var() == 0 and c.var() == 0
        return
    # The test is scale-free, so scipy gets the data divided by its largest magnitude: its
    # variances of tiny values (1e-132 squared) would underflow, and the reference with them.
    scale = float(max(np.abs(t).max(), np.abs(c).max()))
    with warnings.catch_warnings():
        # scipy warns about its own moments when the samples are nearly identical; its answer
        # is still the reference compared below.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        reference = stats.ttest_ind(t / scale, c / scale, equal_var=False)
    assert lift.p_value == pytest.approx(reference.pvalue, rel=1e-6, abs=1e-12)
    interval = reference.confidence_interval(0.95)
    assert lift.ci_low == pytest.approx(interval.low * scale, rel=1e-6, abs=1e-9)
    assert lift.ci_high == pytest.approx(interval.high * scale, rel=1e-6, abs=1e-9)


def test_welch_on_values_whose_squares_underflow() -> None:
    """[0, 0, a] against [0, 0]: t = -1 on 2 degrees of freedom whatever ``a`` is (by hand:
    mean a/3, variance a²/3, standard error a/3), even where a² underflows."""
    for a in (1.0, 7e-132):
        lift = welch_lift(np.array([0.0, 0.0]), np.array([0.0, 0.0, a]), 0.05)
        assert not isinstance(lift, Skipped)
        assert lift.t_statistic == pytest.approx(-1.0) and lift.df == pytest.approx(2.0)
        assert lift.p_value == pytest.approx(2 * stats.t.sf(1.0, 2))


def test_sample_size_without_a_solution_says_why() -> None:
    weights = {"control": 0.5, "treatment": 0.5}
    # An effect of 10,000 standard deviations: no sample size solves the power equation.
    huge = sample_size(MetricKind.CONTINUOUS, 100.0, 0.001, 10.0, 0.05, 0.8, weights, "control")
    assert isinstance(huge, Skipped) and "found no sample size" in huge.reason
    spread = sample_size(MetricKind.CONTINUOUS, 1.0, math.inf, 0.1, 0.05, 0.8, weights,
                         "control")
    assert isinstance(spread, Skipped) and "no usable effect size" in spread.reason
