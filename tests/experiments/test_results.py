"""The whole analysis of an experiment, and the decision rules, on synthetic observations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.multitest import multipletests

from opsledger.experiments.results import (
    ExperimentResult,
    GuardrailState,
    Horizon,
    Verdict,
    analyze,
)
from opsledger.experiments.statistics import SampleSize

from .builders import definition

BEFORE_END = datetime(2026, 10, 15, tzinfo=UTC)
AFTER_END = datetime(2026, 11, 5, tzinfo=UTC)


def observations(
    n: int = 8000,
    rate: tuple[float, float] = (0.10, 0.13),
    latency_factor: float = 1.0,
    seed: int = 1,
    drop_treatment: float = 0.0,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    treated = np.arange(n) % 2 == 1
    keep = ~(treated & (rng.random(n) < drop_treatment))
    treated = treated[keep]
    size = int(keep.sum())
    variants = np.where(treated, "treatment", "control").astype(object)
    converted = (rng.random(size) < np.where(treated, rate[1], rate[0])).astype(float)
    latency = rng.normal(200, 40, size) * np.where(treated, latency_factor, 1.0)
    return variants, {"converted": converted, "latency_ms": latency}


def run(now: datetime = AFTER_END, **kwargs: Any) -> ExperimentResult:
    changes = kwargs.pop("changes", {})
    variants, columns = observations(**kwargs)
    return analyze(definition(**changes), variants, columns, now)


def test_clear_winner_ships() -> None:
    result = run()
    assert result.horizon is Horizon.FIXED
    assert result.decision.verdict is Verdict.SHIP
    assert result.decision.variant == "treatment"
    guardrail = next(c for c in result.comparisons if c.metric == "latency_ms")
    assert guardrail.guardrail is not None
    assert guardrail.guardrail.state is GuardrailState.WITHIN
    assert any("guardrail latency_ms within tolerance" in r for r in result.decision.reasons)


def test_breached_guardrail_blocks_a_winner() -> None:
    result = run(latency_factor=1.10)
    check = next(c for c in result.comparisons if c.metric == "latency_ms").guardrail
    assert check is not None and check.state is GuardrailState.BREACHED
    assert check.degradation == pytest.approx(0.10, abs=0.02)
    assert result.decision.verdict is Verdict.DONT_SHIP
    assert any("breached" in r for r in result.decision.reasons)


def test_significant_harm_is_dont_ship() -> None:
    result = run(rate=(0.13, 0.10))
    assert result.decision.verdict is Verdict.DONT_SHIP
    assert any("significantly worse" in r for r in result.decision.reasons)


def test_no_effect_keeps_running_before_the_end_and_stops_after() -> None:
    running = run(now=BEFORE_END, n=2000, rate=(0.10, 0.10))
    assert running.horizon is Horizon.SEQUENTIAL
    assert running.decision.verdict is Verdict.KEEP_RUNNING
    ended = run(now=AFTER_END, n=2000, rate=(0.10, 0.10))
    assert ended.decision.verdict is Verdict.DONT_SHIP
    assert any("no significant effect" in r for r in ended.decision.reasons)


def test_peeking_uses_the_always_valid_interval() -> None:
    # Significant at a fixed horizon, but not yet by the wider always-valid interval.
    result = run(now=BEFORE_END, n=6000, rate=(0.10, 0.12), seed=3)
    primary = result.primary("treatment")
    assert primary is not None
    assert primary.p_value_adjusted < 0.05 < primary.sequential_p_adjusted
    assert result.horizon is Horizon.SEQUENTIAL
    assert result.decision.verdict is Verdict.KEEP_RUNNING
    assert "always-valid" in result.decision.reasons[0]


def test_reaching_the_planned_sample_fixes_the_horizon() -> None:
    result = run(now=BEFORE_END, n=40_000, rate=(0.10, 0.12),
                 changes={"primary_metric": {"name": "converted", "kind": "binary",
                                             "baseline": {"mean": 0.1}}})
    assert isinstance(result.sample_size, SampleSize)
    assert all(v.n >= result.sample_size.per_variant[v.name] for v in result.variants)
    assert result.horizon is Horizon.FIXED


def test_sample_ratio_mismatch_is_invalid() -> None:
    result = run(drop_treatment=0.08)
    assert result.srm.mismatch
    assert result.decision.verdict is Verdict.INVALID
    assert "sample ratio mismatch" in result.decision.reasons[0]


def test_cancelled_is_dont_ship() -> None:
    result = run(changes={"status": "cancelled"})
    assert result.decision.verdict is Verdict.DONT_SHIP


def test_adjusted_p_values_are_multipletests_over_the_family() -> None:
    variants, columns = observations(n=3000, rate=(0.10, 0.115))
    rng = np.random.default_rng(2)
    third = np.where(rng.random(len(variants)) < 0.5, "control", "other").astype(object)
    third[variants == "treatment"] = "treatment"
    changes = {
        "variants": [{"name": "control", "weight": 1}, {"name": "treatment", "weight": 1},
                     {"name": "other", "weight": 1}],
        "correction": "benjamini-hochberg",
    }
    result = analyze(definition(**changes), third, columns, AFTER_END)
    assert len(result.comparisons) == 4  # 2 metrics x 2 treatment variants
    raw = [c.lift.p_value for c in result.comparisons]
    expected = multipletests(raw, alpha=0.05, method="fdr_bh")[1]
    assert [c.p_value_adjusted for c in result.comparisons] == pytest.approx(list(expected))
    for c in result.comparisons:
        treated = columns[c.metric][third == c.variant]
        control = columns[c.metric][third == "control"]
        reference = stats.ttest_ind(treated, control, equal_var=False)
        assert c.lift.p_value == pytest.approx(reference.pvalue, rel=1e-10)


def test_cuped_headline_is_the_welch_test_on_adjusted_values() -> None:
    rng = np.random.default_rng(4)
    n = 4000
    variants = np.where(np.arange(n) % 2 == 0, "control", "treatment").astype(object)
    habit = rng.gamma(2.0, 1.0, n)
    pre = rng.poisson(habit).astype(float)
    orders = rng.poisson(habit * np.where(variants == "treatment", 1.05, 1.0)).astype(float)
    changes = {"primary_metric": {"name": "orders", "kind": "continuous"},
               "guardrail_metrics": [], "covariate": "pre_orders"}
    result = analyze(definition(**changes), variants,
                     {"orders": orders, "pre_orders": pre}, AFTER_END)
    comparison = result.comparisons[0]
    assert comparison.cuped is not None and comparison.unadjusted is not None
    theta = np.cov(orders, pre, ddof=1)[0, 1] / np.var(pre, ddof=1)
    adjusted = orders - theta * (pre - pre.mean())
    treated, control = variants == "treatment", variants == "control"
    reference = stats.ttest_ind(adjusted[treated], adjusted[control], equal_var=False)
    assert comparison.cuped.theta == pytest.approx(theta)
    assert comparison.lift.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    raw = stats.ttest_ind(orders[treated], orders[control], equal_var=False)
    assert comparison.unadjusted.p_value == pytest.approx(raw.pvalue, rel=1e-9)
    reduction = 1 - np.var(adjusted, ddof=1) / np.var(orders, ddof=1)
    assert comparison.cuped.variance_reduction == pytest.approx(reduction)
    assert comparison.cuped.variance_reduction > 0.2
    assert comparison.lift.se < comparison.unadjusted.se
    # The variants summary reports raw values, not adjusted ones.
    assert result.variants[0].mean == pytest.approx(orders[control].mean())


def test_variants_summary_and_srm_figures() -> None:
    variants, columns = observations(n=1000)
    result = analyze(definition(), variants, columns, AFTER_END)
    control = result.variants[0]
    values = columns["converted"][variants == "control"]
    assert (control.name, control.n) == ("control", 500)
    assert control.mean == pytest.approx(values.mean())
    assert control.std == pytest.approx(values.std(ddof=1))
    assert result.srm.p_value == pytest.approx(1.0)


def test_a_metric_without_variation_is_skipped_with_a_reason() -> None:
    variants, columns = observations(n=400)
    columns["converted"] = np.zeros(len(variants))
    result = analyze(definition(), variants, columns, AFTER_END)
    assert [s.metric for s in result.skipped] == ["converted"]
    assert "no variation" in result.skipped[0].reason
    assert result.decision.verdict is Verdict.DONT_SHIP


def test_plan_uses_the_stated_baseline_or_the_control_data() -> None:
    from opsledger.experiments.results import plan_sample_size
    from opsledger.model.status import Skipped

    control = np.random.default_rng(6).normal(40.0, 8.0, 3000)
    continuous = {"name": "spend", "kind": "continuous"}
    from_data = plan_sample_size(definition(primary_metric=continuous), control)
    assert isinstance(from_data, SampleSize)
    assert from_data.effect_abs == pytest.approx(0.1 * control.mean())
    assert from_data.effect_size == pytest.approx(0.1 * control.mean() / control.std(ddof=1))
    stated = plan_sample_size(
        definition(primary_metric={**continuous, "baseline": {"mean": 50.0}}), control)
    assert isinstance(stated, SampleSize)
    assert stated.effect_size == pytest.approx(5.0 / control.std(ddof=1))
    missing = plan_sample_size(definition(primary_metric=continuous), None)
    assert isinstance(missing, Skipped) and "no baseline" in missing.reason
    # Two treatments under Holm: each comparison is sized at alpha / 2.
    three = definition(variants=[{"name": "control", "weight": 1}, {"name": "b", "weight": 1},
                                 {"name": "c", "weight": 1}],
                       primary_metric={**continuous, "baseline": {"mean": 50.0, "std": 10}})
    plan = plan_sample_size(three, None)
    assert isinstance(plan, SampleSize) and plan.alpha == 0.025


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["control", "treatment"]), st.booleans(),
                          st.floats(0, 1e6, allow_nan=False)), max_size=30))
# A control mean of 5e-175 gives an effect scale whose square underflows to 0.
@example([("control", False, 0.0), ("control", False, 4.987747306320308e-175),
          ("treatment", False, 0.0), ("treatment", False, 1.0)])
def test_any_observations_give_a_result(rows: list[tuple[str, bool, float]]) -> None:
    variants = np.array([r[0] for r in rows], dtype=object)
    columns = {"converted": np.array([float(r[1]) for r in rows]),
               "latency_ms": np.array([r[2] for r in rows])}
    result = analyze(definition(), variants, columns, AFTER_END)
    assert result.decision.verdict in set(Verdict)
    assert result.decision.reasons
    assert len(result.comparisons) + len(result.skipped) == 2


def test_guardrail_with_a_zero_control_mean_is_still_compared() -> None:
    # No errors at all in control: the relative scale falls back to the spread.
    variants, columns = observations(n=4000)
    rng = np.random.default_rng(9)
    errors = np.where(variants == "treatment", (rng.random(len(variants)) < 0.02), 0.0)
    columns["errors"] = errors.astype(float)
    changes = {"guardrail_metrics": [{"name": "errors", "kind": "continuous",
                                      "direction": "decrease", "tolerance": 0.001,
                                      "tolerance_scale": "absolute"}]}
    result = analyze(definition(**changes), variants, columns, AFTER_END)
    check = next(c for c in result.comparisons if c.metric == "errors")
    assert check.sequential.tau == pytest.approx(0.1 * np.std(errors, ddof=1))
    assert check.guardrail is not None and check.guardrail.state is GuardrailState.BREACHED
    assert result.decision.verdict is Verdict.DONT_SHIP
