"""Ticket volume forecast per queue: daily counts with weekly seasonality, spread over hours.

Daily volumes are forecast with statsforecast (AutoETS and MSTL with a 7-day season, and the
seasonal naive forecast as the baseline every model must beat). Accuracy is backtested by
rolling-origin cross-validation and reported as MASE, the mean absolute error scaled by the
in-sample error of the seasonal naive forecast (Hyndman & Koehler, "Another look at measures
of forecast accuracy", 2006); the model with the lowest MASE is used per queue. The intraday
pattern comes from the history: each weekday's forecast is spread over its hours in the
proportions that weekday's tickets arrived, at the staffing interval (15, 30 or 60 minutes).

Every model is fitted once per queue and forecast origin: once at each backtest origin (the
end of a window's training days) and once, for the chosen model only, at the end of the
history. Each backtest origin is handed to the backend as a series of its own (the queue's
history up to the end of that window), so all windows of all queues are fitted in one call
and spread evenly over the worker processes or Spark executors; the result is the same as
statsforecast's rolling-origin ``cross_validation`` over the whole history, which fits the
same models on the same training days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from opsledger.forecasting.backend import (
    BackendName,
    ForecastBackend,
    LocalBackend,
    forecast_backend,
)
from opsledger.forecasting.results import (
    BASELINE,
    CV_STEP,
    SEASON,
    Backtest,
    DailyForecast,
    ModelAccuracy,
    QueueForecast,
    SkippedForecast,
)
from opsledger.model.handover import Ticket

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "BASELINE",
    "CV_MIN_TRAIN_DAYS",
    "CV_STEP",
    "CV_WINDOWS",
    "LEVELS",
    "MIN_HISTORY_DAYS",
    "SEASON",
    "Backtest",
    "DailyForecast",
    "ModelAccuracy",
    "QueueForecast",
    "SkippedForecast",
    "arrivals_by_queue",
    "backtest",
    "candidate_models",
    "forecast_arrivals",
    "forecast_queues",
    "forecast_tickets",
    "seasonal_naive_scale",
    "ticket_arrivals",
]

LEVELS = (80, 95)
MIN_HISTORY_DAYS = 3 * SEASON
CV_WINDOWS = 3
CV_MIN_TRAIN_DAYS = 4 * SEASON


@dataclass(frozen=True)
class _History:
    """One queue's daily ticket counts, zero-filled, from its first day."""

    days: np.ndarray  # datetime64[ns], one per day
    counts: np.ndarray  # float tickets per day

    def __len__(self) -> int:
        return len(self.counts)

    @property
    def tickets(self) -> int:
        return int(self.counts.sum())


@dataclass(frozen=True)
class _Origin:
    """One backtest window of one queue: it trains on the first ``train_days`` days."""

    queue: str
    train_days: int


def candidate_models() -> list[Any]:
    """Return the statsforecast models compared per queue (the baseline first)."""
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    return [
        SeasonalNaive(season_length=SEASON),
        AutoETS(season_length=SEASON),
        MSTL(season_length=SEASON, trend_forecaster=AutoETS(model="ZZN"), alias="MSTL"),
    ]


def _name(model: Any) -> str:
    return str(getattr(model, "alias", None) or repr(model))


def seasonal_naive_scale(train: np.ndarray, season: int = SEASON) -> float:
    """Return the in-sample mean absolute error of the seasonal naive forecast."""
    if len(train) <= season:
        return float("nan")
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def _histories(series: pd.DataFrame, queues: Sequence[str]) -> dict[str, _History]:
    """Return each queue's history from ``series`` (``unique_id, ds, y``), ordered by day."""
    found: dict[str, _History] = {}
    if not series.empty:
        ordered = series.sort_values(["unique_id", "ds"], kind="stable")
        ids = ordered["unique_id"].to_numpy()
        days = ordered["ds"].to_numpy().astype("datetime64[ns]")
        counts = ordered["y"].to_numpy(dtype=float)
        edges = [0, *(np.flatnonzero(ids[1:] != ids[:-1]) + 1).tolist(), len(ids)]
        for lo, hi in pairwise(edges):
            found[str(ids[lo])] = _History(days[lo:hi], counts[lo:hi])
    empty = _History(np.array([], dtype="datetime64[ns]"), np.array([], dtype=float))
    return {queue: found.get(queue, empty) for queue in queues}


def _frame(ids: np.ndarray, parts: Sequence[_History]) -> pd.DataFrame:
    """Return the series ``parts`` as one statsforecast frame, each under its id."""
    import pandas as pd

    return pd.DataFrame({
        "unique_id": np.repeat(ids, [len(p) for p in parts]),
        "ds": np.concatenate([p.days for p in parts]),
        "y": np.concatenate([p.counts for p in parts]),
    })


def _engine(models: list[Any], with_fallback: bool) -> Any:
    from statsforecast import StatsForecast
    from statsforecast.models import SeasonalNaive

    # In a backtest a model that fails to fit on a window is replaced by the baseline, not
    # dropped. The backend spreads the series over processes, so statsforecast uses one.
    fallback = SeasonalNaive(season_length=SEASON) if with_fallback else None
    return StatsForecast(models=models, freq="D", n_jobs=1, fallback_model=fallback)


def _backtests(
    histories: dict[str, _History], origins: list[_Origin], horizon: int,
    backend: ForecastBackend,
) -> dict[str, Backtest]:
    """Return the backtest of every queue with origins, all origins fitted in one call.

    ``origins`` are listed per queue from the earliest window to the latest. Each origin is
    one series (the queue's days up to the end of its window) with a one-window
    cross-validation: its model fits and errors are those of that window in a rolling-origin
    cross-validation over the whole history.
    """
    if not origins:
        return {}
    parts = [_History(histories[o.queue].days[: o.train_days + horizon],
                      histories[o.queue].counts[: o.train_days + horizon]) for o in origins]
    folds = backend.run(_engine(candidate_models(), with_fallback=True), "cross_validation",
                        _frame(np.arange(len(origins)), parts), h=horizon, n_windows=1)
    names = [_name(m) for m in candidate_models()]
    ids = folds["unique_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    if not np.array_equal(ids[order], np.repeat(np.arange(len(origins)), horizon)):
        raise RuntimeError("the backtest did not return one window per origin")
    actual = folds["y"].to_numpy()[order].reshape(len(origins), horizon)
    predicted = {n: folds[n].to_numpy()[order].reshape(len(origins), horizon) for n in names}
    scaled: dict[str, dict[str, list[float]]] = {}
    absolute: dict[str, dict[str, list[float]]] = {}
    for index, origin in enumerate(origins):
        scale = seasonal_naive_scale(histories[origin.queue].counts[: origin.train_days])
        for name in names:
            mae = float(np.mean(np.abs(actual[index] - np.clip(predicted[name][index], 0, None))))
            absolute.setdefault(origin.queue, {}).setdefault(name, []).append(mae)
            # A perfectly repeating history has no naive error to scale by; a scale of one
            # ticket a day keeps the models comparable with each other.
            scaled.setdefault(origin.queue, {}).setdefault(name, []).append(
                mae / scale if scale > 0 else mae)
    results = {}
    for queue, errors in scaled.items():
        used = len(errors[names[0]])
        results[queue] = Backtest(horizon, used, tuple(
            ModelAccuracy(n, float(np.mean(errors[n])), float(np.mean(absolute[queue][n])), used)
            for n in names))
    return results


def _origins(queue: str, history_days: int, horizon: int, windows: int) -> list[_Origin]:
    """Return ``windows`` backtest origins of a queue, ``CV_STEP`` days apart, earliest first."""
    last = history_days - horizon
    return [_Origin(queue, last - k * CV_STEP) for k in reversed(range(windows))]


def backtest(series: pd.DataFrame, horizon: int, windows: int = CV_WINDOWS,
             backend: ForecastBackend | None = None) -> Backtest:
    """Return the rolling-origin backtest of every candidate model on one queue's series.

    Each window's errors are scaled by the seasonal naive error on that window's own
    training data, so MASE < 1 means better than the seasonal naive forecast in-sample, and a
    model beats the baseline out of sample when its MASE is below the baseline's.
    """
    histories = _histories(series.assign(unique_id="queue"), ["queue"])
    origins = _origins("queue", len(histories["queue"]), horizon, windows)
    if not origins or origins[0].train_days < 1:
        raise ValueError(f"{len(histories['queue'])} days are too few for {windows} windows "
                         f"of {horizon} days")
    runner = backend or LocalBackend()
    try:
        return _backtests(histories, origins, horizon, runner)["queue"]
    finally:
        if runner is not backend:
            runner.close()


def _forecasts(histories: dict[str, _History], model: str, queues: list[str],
               horizon_days: int, backend: ForecastBackend) -> dict[str, tuple[DailyForecast, ...]]:
    """Return the daily forecast of each of ``queues`` by ``model``, fitted on all its days."""
    models = [m for m in candidate_models() if _name(m) == model]
    future = backend.run(_engine(models, with_fallback=False), "forecast",
                         _frame(np.array(queues, dtype=object), [histories[q] for q in queues]),
                         h=horizon_days, level=list(LEVELS))
    columns = (model, f"{model}-lo-80", f"{model}-hi-80", f"{model}-lo-95", f"{model}-hi-95")
    ids = future["unique_id"].to_numpy()
    days = future["ds"].to_numpy().astype("datetime64[D]").tolist()
    values = np.column_stack([future[c].to_numpy() for c in columns])
    daily: dict[str, list[DailyForecast]] = {q: [] for q in queues}
    for queue, day, row in zip(ids, days, values.tolist(), strict=True):
        daily[queue].append(DailyForecast(day, *(max(0.0, float(v)) for v in row)))
    return {q: tuple(points) for q, points in daily.items()}


def forecast_queues(
    series: pd.DataFrame,
    arrivals: pd.DataFrame,
    queues: Sequence[str],
    horizon_days: int,
    backend: ForecastBackend | None = None,
    *,
    timezone: str = "UTC",
    interval_minutes: int = 60,
) -> tuple[QueueForecast | SkippedForecast, ...]:
    """Return the forecast of each queue in ``queues`` (in that order), or why there is none.

    ``arrivals`` hold local times in ``timezone``; each weekday's forecast is spread over
    intervals of ``interval_minutes`` by the shares its history arrived in.

    The queues are fitted together: every backtest window of every queue in one call, then
    one forecast per chosen model, so a backend can spread the work over workers. Each
    queue is still fitted on its own history alone.
    """
    runner = backend or LocalBackend()
    try:
        return _forecast_queues(series, arrivals, queues, horizon_days, runner, timezone,
                                interval_minutes)
    finally:
        if runner is not backend:
            runner.close()  # started here for this call, so stopped here


def _forecast_queues(
    series: pd.DataFrame, arrivals: pd.DataFrame, queues: Sequence[str], horizon_days: int,
    runner: ForecastBackend, timezone: str, interval_minutes: int,
) -> tuple[QueueForecast | SkippedForecast, ...]:
    from opsledger.forecasting.history import flat_shares, interval_shares_by_queue

    histories = _histories(series, queues)
    cv_horizon = min(horizon_days, 2 * SEASON)
    results: dict[str, QueueForecast | SkippedForecast] = {}
    origins: list[_Origin] = []
    forecastable: list[str] = []
    for queue in queues:
        history = histories[queue]
        if len(history) < MIN_HISTORY_DAYS:
            results[queue] = SkippedForecast(
                queue, f"{len(history)} days of history; at least {MIN_HISTORY_DAYS} are needed",
                history.tickets,
            )
            continue
        forecastable.append(queue)
        windows = min(CV_WINDOWS, (len(history) - CV_MIN_TRAIN_DAYS - cv_horizon) // CV_STEP + 1)
        origins += _origins(queue, len(history), cv_horizon, max(windows, 0))
    backtests = _backtests(histories, origins, cv_horizon, runner)
    chosen = {q: backtests[q].best.model if q in backtests else BASELINE for q in forecastable}
    shares = interval_shares_by_queue(arrivals, interval_minutes) if forecastable else {}
    for model in sorted(set(chosen.values())):
        members = sorted(q for q, m in chosen.items() if m == model)
        daily = _forecasts(histories, model, members, horizon_days, runner)
        for queue in members:
            history = histories[queue]
            results[queue] = QueueForecast(
                queue,
                model,
                history.days[0].astype("datetime64[D]").tolist(),
                history.days[-1].astype("datetime64[D]").tolist(),
                history.tickets,
                daily[queue],
                backtests.get(queue),
                None if queue in backtests else (
                    f"{len(history)} days of history; a backtest needs "
                    f"{CV_MIN_TRAIN_DAYS + cv_horizon} (the seasonal naive forecast is used)"
                ),
                shares.get(queue) or flat_shares(interval_minutes),
                timezone,
                interval_minutes,
            )
    return tuple(results[q] for q in queues)


def ticket_arrivals(tickets: Sequence[Ticket], timezone: str, last_day: date | None = None
                    ) -> pd.DataFrame:
    """Return the arrivals (queue, local time in ``timezone``) of ``tickets``, leaving out
    those after ``last_day``, the last complete day of history."""
    import pandas as pd

    from opsledger.forecasting.history import local_arrivals

    arrivals = local_arrivals(tickets, timezone)
    if last_day is not None and not arrivals.empty:
        arrivals = arrivals[arrivals["local"] < pd.Timestamp(last_day) + pd.Timedelta(days=1)]
    return arrivals


def arrivals_by_queue(arrivals: pd.DataFrame) -> list[pd.DataFrame]:
    """Return the arrivals of each queue apart, the busiest queue first.

    Each queue is fitted on its own history alone, so the queues' forecasts, computed apart
    (in different processes, say) and put together by queue name, are the forecast of every
    queue. The busiest queues tend to take longest; handed out first, the last to end are
    short ones."""
    if arrivals.empty:
        return []
    parts = [part for _, part in arrivals.groupby("queue", sort=True)]
    return sorted(parts, key=len, reverse=True)


def forecast_arrivals(
    arrivals: pd.DataFrame,
    timezone: str,
    horizon_days: int,
    last_day: date | None = None,
    backend: BackendName | ForecastBackend | None = None,
    *,
    interval_minutes: int = 60,
) -> tuple[QueueForecast | SkippedForecast, ...]:
    """Return the forecast of every queue in ``arrivals`` (:func:`ticket_arrivals`), sorted by
    queue name; see :func:`forecast_tickets`."""
    from opsledger.forecasting.history import daily_series

    if horizon_days < 1:
        raise ValueError("horizon_days must be at least 1")
    series = daily_series(arrivals, last_day)
    queues = sorted(set(series["unique_id"])) if not series.empty else []
    runner = forecast_backend(backend)
    try:
        return forecast_queues(series, arrivals, queues, horizon_days, runner,
                               timezone=timezone, interval_minutes=interval_minutes)
    finally:
        if runner is not backend:
            runner.close()  # started here for this call, so stopped here


def forecast_tickets(
    tickets: Sequence[Ticket],
    timezone: str,
    horizon_days: int,
    last_day: date | None = None,
    backend: BackendName | ForecastBackend | None = None,
    *,
    interval_minutes: int = 60,
) -> tuple[QueueForecast | SkippedForecast, ...]:
    """Return the forecast of every queue in ``tickets`` (sorted by queue name).

    ``last_day`` is the last complete day of history in ``timezone``; tickets after it are not
    used (they belong to a day still in progress). ``backend`` says where the models are
    fitted: ``"local"`` (default: this machine, the queues spread over one worker process
    per CPU) or ``"spark"`` (the queues spread over Spark workers, same results), or a backend
    object such as a :class:`~opsledger.forecasting.backend.SparkBackend` on an existing
    session. Each day is spread over intervals of ``interval_minutes`` (15, 30 or 60).
    """
    return forecast_arrivals(ticket_arrivals(tickets, timezone, last_day), timezone,
                             horizon_days, last_day, backend, interval_minutes=interval_minutes)
