"""Ticket volume forecast per queue: daily counts with weekly seasonality, spread over hours.

Daily volumes are forecast with statsforecast (AutoETS and MSTL with a 7-day season, and the
seasonal naive forecast as the baseline every model must beat). Accuracy is backtested by
rolling-origin cross-validation and reported as MASE, the mean absolute error scaled by the
in-sample error of the seasonal naive forecast (Hyndman & Koehler, "Another look at measures
of forecast accuracy", 2006); the model with the lowest MASE is used per queue. The intraday
pattern comes from the history: each weekday's forecast is spread over its hours in the
proportions that weekday's tickets arrived.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from opsledger.forecasting.backend import (
    BackendName,
    ForecastBackend,
    LocalBackend,
    SparkBackend,
    forecast_backend,
)
from opsledger.model.handover import Ticket
from opsledger.model.status import SkippedResult

SEASON = 7
LEVELS = (80, 95)
BASELINE = "SeasonalNaive"
MIN_HISTORY_DAYS = 3 * SEASON
CV_WINDOWS = 3
CV_STEP = SEASON
CV_MIN_TRAIN_DAYS = 4 * SEASON


def _numba_cache_default() -> None:
    """Point numba's cache at the user's cache folder unless the caller chose one.

    statsforecast releases before 2.0 compile their models with numba on first use; caching
    the compiled code makes that a one-time cost per machine rather than per process.
    """
    if "NUMBA_CACHE_DIR" not in os.environ:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        os.environ["NUMBA_CACHE_DIR"] = str(base / "opsledger" / "numba")


@dataclass(frozen=True)
class DailyForecast:
    """Expected tickets on one day with 80 % and 95 % prediction intervals."""

    day: date
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float

    def to_json(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "mean": round(self.mean, 3),
            "lo80": round(self.lo80, 3),
            "hi80": round(self.hi80, 3),
            "lo95": round(self.lo95, 3),
            "hi95": round(self.hi95, 3),
        }


@dataclass(frozen=True)
class ModelAccuracy:
    """Backtest of one model: MASE and MAE over the rolling-origin windows."""

    model: str
    mase: float
    mae: float
    windows: int

    def to_json(self) -> dict[str, object]:
        return {"model": self.model, "mase": round(self.mase, 4), "mae": round(self.mae, 4),
                "windows": self.windows}


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin cross-validation of every candidate model on one queue."""

    horizon_days: int
    windows: int
    models: tuple[ModelAccuracy, ...]

    def of(self, model: str) -> ModelAccuracy:
        return next(m for m in self.models if m.model == model)

    @property
    def best(self) -> ModelAccuracy:
        return min(self.models, key=lambda m: (m.mase, m.model != BASELINE, m.model))

    def to_json(self) -> dict[str, object]:
        return {
            "method": "rolling-origin cross-validation",
            "horizon_days": self.horizon_days,
            "windows": self.windows,
            "step_days": CV_STEP,
            "metric": "MASE (scale: in-sample seasonal naive, season 7)",
            "models": [m.to_json() for m in self.models],
        }


@dataclass(frozen=True)
class QueueForecast:
    """The forecast of one queue: the chosen model, its daily forecast and its backtest."""

    queue: str
    model: str
    history_start: date
    history_end: date
    history_tickets: int
    daily: tuple[DailyForecast, ...]
    backtest: Backtest | None
    backtest_skipped: str | None  # why there is no backtest
    weekday_hour_shares: tuple[tuple[float, ...], ...]  # 7 × 24, each row sums to 1

    @property
    def mase(self) -> float | None:
        return None if self.backtest is None else self.backtest.of(self.model).mase

    @property
    def baseline_mase(self) -> float | None:
        return None if self.backtest is None else self.backtest.of(BASELINE).mase

    @property
    def beats_seasonal_naive(self) -> bool | None:
        if self.mase is None or self.baseline_mase is None:
            return None
        return self.mase < self.baseline_mase

    def hourly(self) -> list[tuple[datetime, float, float]]:
        """Return (local hour start, expected tickets, upper 80 % bound) per forecast hour.

        The upper bound spreads the day's 80 % upper bound in the same proportions; it is a
        planning figure, not a per-hour interval.
        """
        rows = []
        for point in self.daily:
            shares = self.weekday_hour_shares[point.day.weekday()]
            start = datetime(point.day.year, point.day.month, point.day.day)
            for hour, share in enumerate(shares):
                rows.append((start + timedelta(hours=hour), point.mean * share,
                             point.hi80 * share))
        return rows

    def contacts_per_hour_of_week(self) -> list[float]:
        """Return the mean expected tickets for each of the 168 hours of the week."""
        sums = np.zeros(168)
        counts = np.zeros(168)
        for start, mean, _ in self.hourly():
            slot = start.weekday() * 24 + start.hour
            sums[slot] += mean
            counts[slot] += 1
        return [float(s / c) if c else 0.0 for s, c in zip(sums, counts, strict=True)]

    def to_json(self) -> dict[str, object]:
        return {
            "queue": self.queue,
            "status": "forecast",
            "model": self.model,
            "history": {
                "start": self.history_start.isoformat(),
                "end": self.history_end.isoformat(),
                "days": (self.history_end - self.history_start).days + 1,
                "tickets": self.history_tickets,
            },
            "accuracy": {
                "model_mase": _round(self.mase),
                "seasonal_naive_mase": _round(self.baseline_mase),
                "beats_seasonal_naive": self.beats_seasonal_naive,
                "backtest": None if self.backtest is None else self.backtest.to_json(),
                "skipped": self.backtest_skipped,
            },
            "daily": [p.to_json() for p in self.daily],
            "weekday_hour_shares": [[round(s, 5) for s in row] for row in self.weekday_hour_shares],
        }


@dataclass(frozen=True)
class SkippedForecast(SkippedResult):
    """A queue that could not be forecast, and why."""

    queue: str
    reason: str
    history_tickets: int

    def to_json(self) -> dict[str, object]:
        return {"queue": self.queue, "status": "skipped", "reason": self.reason,
                "history_tickets": self.history_tickets}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def local_arrivals(tickets: Iterable[Ticket], timezone: str) -> pd.DataFrame:
    """Return one row per ticket: queue and local creation time (naive, in ``timezone``)."""
    zone = ZoneInfo(timezone)
    rows = [(t.queue, t.created_at.astimezone(zone).replace(tzinfo=None)) for t in tickets]
    return pd.DataFrame(rows, columns=["queue", "local"])


def daily_series(arrivals: pd.DataFrame, last_day: date | None = None) -> pd.DataFrame:
    """Return daily ticket counts per queue (``unique_id, ds, y``), zero-filled.

    Each queue's series runs from its first ticket's day to ``last_day`` (default: the last day
    any ticket arrived), so quiet days count as zero tickets rather than missing.
    """
    if arrivals.empty:
        return pd.DataFrame({"unique_id": [], "ds": pd.to_datetime([]), "y": []})
    days = arrivals.assign(ds=arrivals["local"].dt.normalize())
    end = pd.Timestamp(last_day) if last_day is not None else days["ds"].max()
    days = days[days["ds"] <= end]
    if days.empty:
        return pd.DataFrame({"unique_id": [], "ds": pd.to_datetime([]), "y": []})
    frames = []
    for queue, group in days.groupby("queue", sort=True):
        counts = group.groupby("ds").size()
        index = pd.date_range(counts.index.min(), end, freq="D")
        series = counts.reindex(index, fill_value=0).astype(float)
        frames.append(pd.DataFrame({"unique_id": queue, "ds": index, "y": series.to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def weekday_hour_shares(arrivals: pd.DataFrame, queue: str) -> tuple[tuple[float, ...], ...]:
    """Return, per weekday, the share of that weekday's tickets that arrived in each hour.

    A weekday without history gets a flat profile (1/24 each) rather than no tickets at all.
    """
    local = arrivals.loc[arrivals["queue"] == queue, "local"]
    counts = np.zeros((7, 24))
    np.add.at(counts, (local.dt.weekday.to_numpy(), local.dt.hour.to_numpy()), 1.0)
    rows = []
    for weekday in range(7):
        total = counts[weekday].sum()
        row = counts[weekday] / total if total else np.full(24, 1.0 / 24)
        rows.append(tuple(float(v) for v in row))
    return tuple(rows)


def candidate_models() -> list[Any]:
    """Return the statsforecast models compared per queue (the baseline first)."""
    _numba_cache_default()
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    return [
        SeasonalNaive(season_length=SEASON),
        AutoETS(season_length=SEASON),
        MSTL(season_length=SEASON, trend_forecaster=AutoETS(model="ZZN"), alias="MSTL"),
    ]


def seasonal_naive_scale(train: np.ndarray, season: int = SEASON) -> float:
    """Return the in-sample mean absolute error of the seasonal naive forecast."""
    if len(train) <= season:
        return float("nan")
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def backtest(series: pd.DataFrame, horizon: int, windows: int = CV_WINDOWS) -> Backtest:
    """Return the rolling-origin backtest of every candidate model on one queue's series.

    Each window's errors are scaled by the seasonal naive error on that window's own
    training data, so MASE < 1 means better than the seasonal naive forecast in-sample, and a
    model beats the baseline out of sample when its MASE is below the baseline's.
    """
    return score_backtest(series, cross_validate(series, horizon, windows, LocalBackend()),
                          horizon)


def cross_validate(
    series: pd.DataFrame, horizon: int, windows: int, backend: ForecastBackend
) -> pd.DataFrame:
    """Return the rolling-origin folds of every candidate model for every series in ``series``.

    Each series is fitted on its own, so a frame of many queues gives each queue the folds
    it would get alone.
    """
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    # A model that fails to fit on a window is replaced by the baseline, not dropped.
    engine = StatsForecast(models=candidate_models(), freq="D", n_jobs=1,
                           fallback_model=SeasonalNaive(season_length=SEASON))
    return backend.run(engine, "cross_validation", series, h=horizon, n_windows=windows,
                       step_size=CV_STEP)


def score_backtest(series: pd.DataFrame, folds: pd.DataFrame, horizon: int) -> Backtest:
    """Return MASE and MAE per model from one queue's ``series`` and its ``folds``."""
    values = series["y"].to_numpy()
    names = [_name(m) for m in candidate_models()]
    errors: dict[str, list[float]] = {n: [] for n in names}
    absolute: dict[str, list[float]] = {n: [] for n in names}
    for cutoff in sorted(folds["cutoff"].unique()):
        fold = folds[folds["cutoff"] == cutoff]
        scale = seasonal_naive_scale(values[(series["ds"] <= cutoff).to_numpy()])
        for name in names:
            mae = float(np.mean(np.abs(fold["y"].to_numpy() - fold[name].clip(lower=0).to_numpy())))
            absolute[name].append(mae)
            # A perfectly repeating history has no naive error to scale by; a scale of one
            # ticket a day keeps the models comparable with each other.
            errors[name].append(mae / scale if scale > 0 else mae)
    used = folds["cutoff"].nunique()
    return Backtest(
        horizon,
        used,
        tuple(ModelAccuracy(n, float(np.mean(errors[n])), float(np.mean(absolute[n])), used)
              for n in names),
    )


def _name(model: Any) -> str:
    return str(getattr(model, "alias", None) or repr(model))


def forecast_queue(
    series: pd.DataFrame,
    arrivals: pd.DataFrame,
    queue: str,
    horizon_days: int,
) -> QueueForecast | SkippedForecast:
    """Return the forecast of one queue over ``horizon_days``, or why there is none."""
    return forecast_queues(series, arrivals, [queue], horizon_days)[0]


def forecast_queues(
    series: pd.DataFrame,
    arrivals: pd.DataFrame,
    queues: Sequence[str],
    horizon_days: int,
    backend: ForecastBackend | None = None,
) -> tuple[QueueForecast | SkippedForecast, ...]:
    """Return the forecast of each queue in ``queues`` (in that order), or why there is none.

    The queues are fitted together: one backtest per number of windows their histories
    allow, then one forecast per chosen model, so a backend can spread the queues over
    workers. Each queue is still fitted on its own history alone.
    """
    runner = backend or LocalBackend()
    histories = {
        q: series[series["unique_id"] == q].sort_values("ds").reset_index(drop=True)
        for q in queues
    }
    cv_horizon = min(horizon_days, 2 * SEASON)
    results: dict[str, QueueForecast | SkippedForecast] = {}
    windows: dict[str, int] = {}
    for queue, history in histories.items():
        if len(history) < MIN_HISTORY_DAYS:
            results[queue] = SkippedForecast(
                queue, f"{len(history)} days of history; at least {MIN_HISTORY_DAYS} are needed",
                int(history["y"].sum()),
            )
        else:
            windows[queue] = min(
                CV_WINDOWS, (len(history) - CV_MIN_TRAIN_DAYS - cv_horizon) // CV_STEP + 1
            )
    backtests: dict[str, Backtest] = {}
    for count, members in _grouped({q: w for q, w in windows.items() if w >= 1}).items():
        folds = cross_validate(_frame(histories, members), cv_horizon, count, runner)
        for queue in members:
            mine = folds[folds["unique_id"] == queue]
            backtests[queue] = score_backtest(histories[queue], mine, cv_horizon)
    chosen = {q: backtests[q].best.model if q in backtests else BASELINE for q in windows}
    for model, members in _grouped(chosen).items():
        future = _forecast(_frame(histories, members), model, horizon_days, runner)
        for queue in members:
            history = histories[queue]
            results[queue] = QueueForecast(
                queue,
                model,
                pd.Timestamp(history["ds"].iloc[0]).date(),
                pd.Timestamp(history["ds"].iloc[-1]).date(),
                int(history["y"].sum()),
                _daily(future[future["unique_id"] == queue], model),
                backtests.get(queue),
                None if queue in backtests else (
                    f"{len(history)} days of history; a backtest needs "
                    f"{CV_MIN_TRAIN_DAYS + cv_horizon} (the seasonal naive forecast is used)"
                ),
                weekday_hour_shares(arrivals, queue),
            )
    return tuple(results[q] for q in queues)


def _grouped(values: dict[str, Any]) -> dict[Any, list[str]]:
    groups: dict[Any, list[str]] = {}
    for key, value in values.items():
        groups.setdefault(value, []).append(key)
    return groups


def _frame(histories: dict[str, pd.DataFrame], queues: list[str]) -> pd.DataFrame:
    return pd.concat([histories[q] for q in sorted(queues)], ignore_index=True)


def _forecast(
    series: pd.DataFrame, model: str, horizon_days: int, backend: ForecastBackend
) -> pd.DataFrame:
    from statsforecast import StatsForecast

    models = [m for m in candidate_models() if _name(m) == model]
    engine = StatsForecast(models=models, freq="D", n_jobs=1)
    return backend.run(engine, "forecast", series, h=horizon_days, level=list(LEVELS))


def _daily(future: pd.DataFrame, model: str) -> tuple[DailyForecast, ...]:
    columns = (model, f"{model}-lo-80", f"{model}-hi-80", f"{model}-lo-95", f"{model}-hi-95")
    return tuple(
        DailyForecast(
            pd.Timestamp(row["ds"]).date(),
            *(max(0.0, float(row[column])) for column in columns),
        )
        for _, row in future.iterrows()
    )


def forecast_tickets(
    tickets: Sequence[Ticket],
    timezone: str,
    horizon_days: int,
    last_day: date | None = None,
    backend: BackendName | ForecastBackend | None = None,
) -> tuple[QueueForecast | SkippedForecast, ...]:
    """Return the forecast of every queue in ``tickets`` (sorted by queue name).

    ``last_day`` is the last complete day of history in ``timezone``; tickets after it are not
    used (they belong to a day still in progress). ``backend`` says where the models are
    fitted: ``"local"`` (default, this process) or ``"spark"`` (the queues spread over Spark
    workers, same results), or a backend object such as a
    :class:`~opsledger.forecasting.backend.SparkBackend` on an existing session.
    """
    if horizon_days < 1:
        raise ValueError("horizon_days must be at least 1")
    arrivals = local_arrivals(tickets, timezone)
    if last_day is not None and not arrivals.empty:
        arrivals = arrivals[arrivals["local"] < pd.Timestamp(last_day) + pd.Timedelta(days=1)]
    series = daily_series(arrivals, last_day)
    queues = sorted(set(series["unique_id"])) if not series.empty else []
    runner = forecast_backend(backend)
    try:
        return forecast_queues(series, arrivals, queues, horizon_days, runner)
    finally:
        if runner is not backend and isinstance(runner, SparkBackend):
            runner.close()  # started here for this call, so stopped here
