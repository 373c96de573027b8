"""Ticket forecasts fitted on Spark (statsforecast's Fugue backend) equal the local ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from opsledger.forecasting.backend import SparkBackend, forecast_backend
from opsledger.forecasting.models import QueueForecast, SkippedForecast, forecast_tickets
from tests.forecasting.test_forecast_analysis import seasonal_tickets

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def tickets() -> list:
    # Queues with a full backtest, a shorter one, none (too short to backtest) and one
    # skipped outright, so every branch runs on both backends.
    return (
        seasonal_tickets(112, queue="l1", seed=5)
        + seasonal_tickets(84, queue="billing", base=6.0, trend=0.05, seed=11)
        + seasonal_tickets(63, queue="l2", base=3.0, trend=0.0, seed=12, first_day=49)
        + seasonal_tickets(30, queue="vip", base=2.0, seed=13, first_day=82)
        + seasonal_tickets(12, queue="new", seed=9, first_day=100)
    )


def test_spark_forecast_equals_the_local_forecast(spark: SparkSession, tickets: list) -> None:
    local = forecast_tickets(tickets, "UTC", horizon_days=14)
    distributed = forecast_tickets(tickets, "UTC", horizon_days=14,
                                   backend=SparkBackend(session=spark))
    assert [f.queue for f in distributed] == [f.queue for f in local]
    kinds = {f.queue: type(f) for f in local}
    assert kinds == {"billing": QueueForecast, "l1": QueueForecast, "l2": QueueForecast,
                     "new": SkippedForecast, "vip": QueueForecast}
    for ours, theirs in zip(distributed, local, strict=True):
        assert type(ours) is type(theirs)
        if isinstance(theirs, SkippedForecast):
            assert ours == theirs
            continue
        assert isinstance(ours, QueueForecast)
        assert ours.model == theirs.model
        assert ours.backtest_skipped == theirs.backtest_skipped
        assert [p.day for p in ours.daily] == [p.day for p in theirs.daily]
        fields = ("mean", "lo80", "hi80", "lo95", "hi95")
        got = np.array([[getattr(p, f) for f in fields] for p in ours.daily])
        want = np.array([[getattr(p, f) for f in fields] for p in theirs.daily])
        # statsforecast's Fugue backend returns single-precision columns: the values are the
        # local ones rounded to float32, no more apart than that rounding.
        np.testing.assert_allclose(got, want, rtol=2e-7, atol=1e-9)
        np.testing.assert_array_equal(got.astype(np.float32), want.astype(np.float32))
        if theirs.backtest is None:
            assert ours.backtest is None
            continue
        assert ours.backtest is not None
        assert ours.backtest.windows == theirs.backtest.windows
        for a, b in zip(ours.backtest.models, theirs.backtest.models, strict=True):
            assert a.model == b.model
            assert a.mase == pytest.approx(b.mase, rel=1e-6)
            assert a.mae == pytest.approx(b.mae, rel=1e-6)
    l1 = next(f for f in distributed if f.queue == "l1")
    assert isinstance(l1, QueueForecast) and l1.backtest is not None
    assert l1.backtest.windows == 3 and l1.beats_seasonal_naive is True


def test_backends_are_named_by_their_option() -> None:
    assert forecast_backend(None).name == "local"
    assert forecast_backend("local").name == "local"
    assert forecast_backend("spark").name == "spark"  # nothing starts until it runs
    with pytest.raises(ValueError, match="unknown forecast backend 'dask'"):
        forecast_backend("dask")  # type: ignore[arg-type]
