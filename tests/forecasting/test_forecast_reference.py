"""Queue forecasts equal statsforecast's own cross-validation and forecast, run queue by queue.

The reference below fits each queue on its own with statsforecast directly: a rolling-origin
``cross_validation`` over the whole history (3 windows, 7 days apart), MASE scaled per window
by the in-sample seasonal naive error, the model with the lowest MASE (the baseline on a
tie), then ``forecast`` with that model and 80/95 % intervals, cut at zero tickets.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from opsledger.forecasting.backend import LocalBackend
from opsledger.forecasting.history import daily_series, local_arrivals
from opsledger.forecasting.models import (
    QueueForecast,
    SkippedForecast,
    candidate_models,
    forecast_tickets,
)
from opsledger.model.handover import Ticket
from tests.forecasting.test_forecast_analysis import seasonal_tickets

HORIZON = 28
CV_HORIZON = 14
SEASON = 7
BASELINE = "SeasonalNaive"


def reference_models() -> list:
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    return [
        SeasonalNaive(season_length=SEASON),
        AutoETS(season_length=SEASON),
        MSTL(season_length=SEASON, trend_forecaster=AutoETS(model="ZZN"), alias="MSTL"),
    ]


def model_name(model: object) -> str:
    return str(getattr(model, "alias", None) or repr(model))


@dataclass
class Expected:
    model: str
    windows: int  # 0: no backtest
    mase: dict[str, float]
    mae: dict[str, float]
    daily: np.ndarray  # day rows of mean, lo80, hi80, lo95, hi95
    days: list


def reference(history: pd.DataFrame) -> Expected | None:
    """Return what statsforecast gives for one queue's daily series, or None when skipped."""
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    n = len(history)
    if n < 3 * SEASON:
        return None
    windows = min(3, (n - 4 * SEASON - CV_HORIZON) // SEASON + 1)
    mase: dict[str, float] = {}
    mae: dict[str, float] = {}
    chosen = BASELINE
    if windows >= 1:
        engine = StatsForecast(models=reference_models(), freq="D", n_jobs=1,
                               fallback_model=SeasonalNaive(season_length=SEASON))
        folds = engine.cross_validation(df=history, h=CV_HORIZON, n_windows=windows,
                                        step_size=SEASON)
        y = history["y"].to_numpy()
        for model in reference_models():
            name = model_name(model)
            scaled, absolute = [], []
            for cutoff in sorted(folds["cutoff"].unique()):
                fold = folds[folds["cutoff"] == cutoff]
                train = y[(history["ds"] <= cutoff).to_numpy()]
                scale = np.mean(np.abs(train[SEASON:] - train[:-SEASON]))
                error = np.mean(np.abs(fold["y"].to_numpy() - np.clip(fold[name].to_numpy(), 0,
                                                                      None)))
                absolute.append(error)
                scaled.append(error / scale if scale > 0 else error)
            mase[name], mae[name] = float(np.mean(scaled)), float(np.mean(absolute))
        chosen = min(mase, key=lambda m: (mase[m], m != BASELINE, m))
    [model] = [m for m in reference_models() if model_name(m) == chosen]
    future = StatsForecast(models=[model], freq="D", n_jobs=1).forecast(
        df=history, h=HORIZON, level=[80, 95])
    columns = [chosen] + [f"{chosen}-{side}-{level}" for level in (80, 95)
                          for side in ("lo", "hi")]
    daily = np.maximum(future[columns].to_numpy(dtype=float), 0.0)
    return Expected(chosen, max(windows, 0), mase, mae, daily,
                    [pd.Timestamp(d).date() for d in future["ds"]])


def steady_tickets(days: int, queue: str = "steady") -> list[Ticket]:
    """The same tickets every week: the seasonal naive forecast makes no error in-sample."""
    per_weekday = [9, 8, 8, 7, 6, 2, 1]
    start = datetime(2026, 4, 27, 9, tzinfo=UTC)  # a Monday, 56 days before the others end
    return [
        Ticket(f"{queue}-{d}-{n}", start + timedelta(days=d, minutes=7 * n), None, queue, "c",
               None, "t", None, None)
        for d in range(days) for n in range(per_weekday[(start + timedelta(days=d)).weekday()])
    ]


@pytest.fixture(scope="module")
def tickets() -> list[Ticket]:
    # Three backtest windows, two, one, none (too short to backtest), a sparse queue with
    # quiet days, a history the seasonal naive forecast repeats exactly, and one skipped.
    return (
        seasonal_tickets(112, queue="l1", seed=5)
        + seasonal_tickets(84, queue="billing", base=6.0, trend=0.05, seed=11)
        + seasonal_tickets(49, queue="l2", base=3.0, trend=0.0, seed=12, first_day=63)
        + seasonal_tickets(42, queue="l3", base=4.0, trend=0.2, seed=14, first_day=70)
        + seasonal_tickets(35, queue="vip", base=2.0, seed=13, first_day=77)
        + seasonal_tickets(112, queue="sparse", base=0.6, trend=0.0, seed=15)
        + steady_tickets(56)
        + seasonal_tickets(12, queue="new", seed=9, first_day=100)
    )


@pytest.fixture(scope="module")
def forecasts(tickets: list[Ticket]) -> tuple[QueueForecast | SkippedForecast, ...]:
    backend = LocalBackend(processes=2)
    try:
        return forecast_tickets(tickets, "UTC", HORIZON, backend=backend)
    finally:
        backend.close()


def test_the_candidate_models_are_the_reference_ones() -> None:
    assert [model_name(m) for m in candidate_models()] == [
        model_name(m) for m in reference_models()]
    assert [repr(m) for m in candidate_models()] == [repr(m) for m in reference_models()]


def test_forecasts_equal_statsforecast_run_queue_by_queue(
    tickets: list[Ticket], forecasts: tuple[QueueForecast | SkippedForecast, ...]
) -> None:
    series = daily_series(local_arrivals(tickets, "UTC"))
    by_queue = {f.queue: f for f in forecasts}
    assert sorted(by_queue) == sorted(set(series["unique_id"]))
    windows_seen = set()
    for queue, history in series.groupby("unique_id"):
        expected = reference(history.reset_index(drop=True))
        found = by_queue[str(queue)]
        if expected is None:
            assert isinstance(found, SkippedForecast)
            continue
        assert isinstance(found, QueueForecast), queue
        assert found.model == expected.model, queue
        assert [p.day for p in found.daily] == expected.days
        got = np.array([[p.mean, p.lo80, p.hi80, p.lo95, p.hi95] for p in found.daily])
        np.testing.assert_allclose(got, expected.daily, rtol=1e-12, atol=1e-12)
        windows_seen.add(expected.windows)
        if expected.windows == 0:
            assert found.backtest is None and found.backtest_skipped
            continue
        assert found.backtest is not None and found.backtest.windows == expected.windows
        for accuracy in found.backtest.models:
            assert accuracy.mase == pytest.approx(expected.mase[accuracy.model], rel=1e-12)
            assert accuracy.mae == pytest.approx(expected.mae[accuracy.model], rel=1e-12)
    # Every branch ran: full, shorter and no backtests, and more than one chosen model.
    assert windows_seen == {0, 1, 2, 3}
    assert len({f.model for f in forecasts if isinstance(f, QueueForecast)}) >= 2


def test_the_history_the_naive_forecast_repeats_keeps_the_baseline(
    forecasts: tuple[QueueForecast | SkippedForecast, ...],
) -> None:
    steady = next(f for f in forecasts if f.queue == "steady")
    assert isinstance(steady, QueueForecast) and steady.backtest is not None
    assert steady.baseline_mase == 0.0 and steady.model == BASELINE


def test_worker_processes_and_this_process_give_the_same_forecasts(
    tickets: list[Ticket], forecasts: tuple[QueueForecast | SkippedForecast, ...]
) -> None:
    alone = forecast_tickets(tickets, "UTC", HORIZON, backend=LocalBackend(processes=1))
    assert alone == forecasts


def test_the_worker_processes_stop_with_the_forecast(tickets: list[Ticket]) -> None:
    some = [t for t in tickets if t.queue in ("l2", "l3")]
    forecast_tickets(some, "UTC", 7, backend="local")
    assert multiprocessing.active_children() == []


def test_forecasting_libraries_load_only_when_a_queue_is_fitted() -> None:
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "import opsledger.support.service\n"
        "from opsledger.forecasting.models import SkippedForecast, forecast_tickets\n"
        "from opsledger.model.handover import Ticket\n"
        "assert 'pandas' not in sys.modules and 'statsforecast' not in sys.modules\n"
        "ticket = Ticket('1', datetime(2026, 3, 2, tzinfo=UTC), None, 'q', 'c', None, 't',"
        " None, None)\n"
        "[result] = forecast_tickets([ticket], 'UTC', 7)\n"
        "assert isinstance(result, SkippedForecast)\n"
        "assert 'statsforecast' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
