"""Health-check probes as SLI events: counted per minute, good when the probe passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsledger.core.errors import EngineError
from opsledger.engines.health_engine import HealthEngine
from opsledger.model.health import ProbeHistory, ProbeResult
from opsledger.model.slo import DuckDbSource, HealthSource, Slo, SloWindow
from opsledger.readers.slo_documents import Invalid, objective

START = datetime(2026, 5, 1, tzinfo=UTC)


def probe(
    minute: int, second: int, ok: bool, check: str = "http", service: str = "api"
) -> ProbeResult:
    return ProbeResult(START + timedelta(minutes=minute, seconds=second), service, check, ok, 12.0)


def test_probes_are_counted_per_minute_and_check() -> None:
    probes = [
        probe(0, 5, True),
        probe(0, 35, False),
        probe(2, 0, True),
        probe(2, 30, True, check="tcp"),
        probe(9, 59, False),
        probe(10, 0, False),  # outside the span (half-open)
        probe(1, 0, False, service="other"),
    ]
    engine = HealthEngine(probes)
    every = Slo("api", "health", 0.99, SloWindow(1), HealthSource("api"))
    series = engine.series(every, START, START + timedelta(minutes=10))
    np.testing.assert_array_equal(series.total, [2, 0, 2, 0, 0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(series.good, [1, 0, 2, 0, 0, 0, 0, 0, 0, 0])
    http = Slo("api", "http", 0.99, SloWindow(1), HealthSource("api", "http"))
    assert engine.series(http, START, START + timedelta(minutes=10)).total.sum() == 4
    by_columns = HealthEngine(ProbeHistory.from_records(probes))
    np.testing.assert_array_equal(
        by_columns.series(every, START, START + timedelta(minutes=10)).good, series.good)
    nobody = Slo("api", "x", 0.99, SloWindow(1), HealthSource("nobody"))
    assert by_columns.series(nobody, START, START + timedelta(minutes=3)).total.tolist() == [0] * 3


def hand_counts(probes: list[ProbeResult], source: HealthSource, start: datetime,
                minutes: int) -> tuple[list[float], list[float]]:
    """Return (good, total) per minute, counted probe by probe."""
    good, total = [0.0] * minutes, [0.0] * minutes
    for p in probes:
        if p.service != source.service or source.check not in (None, p.check):
            continue
        if start <= p.time < start + timedelta(minutes=minutes):
            minute = (p.time - start) // timedelta(minutes=1)
            total[minute] += 1
            good[minute] += p.ok
    return good, total


@pytest.mark.parametrize("seed", range(4))
def test_every_slo_counts_what_a_count_probe_by_probe_gives(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probes = [
        ProbeResult(START + timedelta(seconds=int(rng.integers(-600, 7200))),
                    f"svc-{int(rng.integers(0, 5))}", ("http", "tcp")[int(rng.integers(0, 2))],
                    bool(rng.random() < 0.9), 1.0)
        for _ in range(5_000)
    ]
    engine = HealthEngine(ProbeHistory.from_records(probes))
    for service in ("svc-0", "svc-3", "nobody"):
        for check in (None, "http", "tcp", "dns"):
            source = HealthSource(service, check)
            slo = Slo(service, f"{check}", 0.99, SloWindow(1), source)
            for start, minutes in ((START, 60), (START + timedelta(minutes=17), 90)):
                series = engine.series(slo, start, start + timedelta(minutes=minutes))
                good, total = hand_counts(probes, source, start, minutes)
                assert series.good.tolist() == good and series.total.tolist() == total
                assert series.good.dtype == series.total.dtype == np.float64


def test_other_indicators_are_refused() -> None:
    slo = Slo("api", "x", 0.99, SloWindow(1), DuckDbSource("a.parquet", good="TRUE"))
    assert not HealthEngine([]).supports(slo)
    with pytest.raises(EngineError, match="not a health-check SLI"):
        HealthEngine([]).series(slo, START, START + timedelta(minutes=1))


@given(st.integers(min_value=1, max_value=99_999))
def test_percent_and_fraction_spellings_agree(thousandths: int) -> None:
    percent = thousandths / 1000  # 0.001 .. 99.999 percent
    as_fraction = objective(percent / 100, ("objective",), percent=False)
    as_percent = objective(percent, ("objective",), percent=True)
    assert as_percent == pytest.approx(as_fraction, rel=1e-12)
    assert 0 < as_percent < 1


@given(st.floats(min_value=100, max_value=1e6) | st.floats(max_value=0, min_value=-1e6))
def test_objectives_without_budget_are_refused(value: float) -> None:
    with pytest.raises(Invalid):
        objective(value, ("objective",), percent=True)
