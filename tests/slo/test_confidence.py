from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from opsledger.slo.confidence import (
    Confidence,
    incident_confidence,
    share_confidence,
    share_evidence,
    wilson_interval,
)


@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_agrees_with_statsmodels(case: tuple[int, int]) -> None:
    count, total = case
    evidence = share_evidence("acted on", count, total)
    low, high = proportion_confint(count, total, alpha=0.05, method="wilson")
    assert evidence.low == pytest.approx(low, abs=1e-9)
    assert evidence.high == pytest.approx(high, abs=1e-9)


@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_interval_agrees_with_scipy(case: tuple[int, int], level: float) -> None:
    count, total = case
    expected = binomtest(count, total).proportion_ci(confidence_level=level, method="wilson")
    low, high = wilson_interval(count, total, level)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_levels_from_where_the_interval_lies() -> None:
    # 0 of 20: 0%-16%, wholly below 50%.
    assert share_confidence(share_evidence("x", 0, 20), 0.5, below=True) is Confidence.HIGH
    # 1 of 5: 4%-62%, the share below 50% but not the interval.
    assert share_confidence(share_evidence("x", 1, 5), 0.5, below=True) is Confidence.MEDIUM
    # 4 of 5 is above 50%: the decision "below" does not hold.
    assert share_confidence(share_evidence("x", 4, 5), 0.5, below=True) is Confidence.LOW
    # 10 of 10: 72%-100%, wholly at or above 50%.
    assert share_confidence(share_evidence("x", 10, 10), 0.5, below=False) is Confidence.HIGH
    assert share_confidence(share_evidence("x", 3, 5), 0.5, below=False) is Confidence.MEDIUM
    assert share_confidence(share_evidence("x", 1, 5), 0.5, below=False) is Confidence.LOW
    assert share_evidence("acted on", 0, 20).describe() == (
        "0 of 20 firings acted on (95% interval 0%-16%)"
    )
    with pytest.raises(ValueError):
        share_evidence("x", 1, 0)


def test_incident_counts() -> None:
    assert [incident_confidence(n) for n in (0, 1, 2, 3, 9, 10)] == [
        Confidence.LOW, Confidence.LOW, Confidence.LOW, Confidence.MEDIUM, Confidence.MEDIUM,
        Confidence.HIGH,
    ]
