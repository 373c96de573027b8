"""Where statsforecast fits its models: on this machine, or on Spark through Fugue.

The forecasting code builds one :class:`statsforecast.StatsForecast` and one frame of series
(``unique_id, ds, y``) and hands both to a backend. The local backend gives each series to
a pool of worker processes forked from this one (so they start with the libraries already
imported), or fits them in this process; the Spark backend passes the series as a Spark
DataFrame, which statsforecast sends through its Fugue backend: the series are partitioned
by ``unique_id`` and each is fitted on a Spark worker by the same code. Either way every
series is fitted on its own, so the results are the same; the backends differ only in where
the work runs.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, Protocol

from opsledger.engines.spark_session import DEFAULT_MASTER, active_session, start_session

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

Method = Literal["forecast", "cross_validation"]


class ForecastBackend(Protocol):
    """Runs one statsforecast method over a frame of series and returns a pandas frame."""

    name: str

    def run(self, engine: Any, method: Method, df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        """Return ``engine.<method>(df=df, **kwargs)`` with a ``unique_id`` column, sorted."""
        ...

    def close(self) -> None:
        """Release what the backend started (worker processes, a Spark session)."""
        ...


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame with ``unique_id`` as a column, rows by series, cutoff and day."""
    if "unique_id" not in frame.columns:
        frame = frame.reset_index()
    keys = [k for k in ("unique_id", "cutoff", "ds") if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _forks() -> bool:
    """Return whether worker processes are started by forking this one (Linux)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def default_processes() -> int:
    """Return how many worker processes a local fit uses: one per CPU this process may use.

    Workers are forked, so they start at once with statsforecast already imported; where
    processes are not forked (Windows, macOS), models are fitted in this process instead.
    """
    return len(os.sched_getaffinity(0)) if _forks() else 1


def _run_method(engine: Any, method: Method, df: pd.DataFrame, kwargs: dict[str, Any]
                ) -> pd.DataFrame:
    result: pd.DataFrame = getattr(engine, method)(df=df, **kwargs)
    return result


class LocalBackend:
    """Fits the series on this machine: in this process, or with ``processes`` above one
    (:func:`default_processes` gives one per CPU) each series a task for a pool of forked
    worker processes.

    Fitting in this process is the default: forking a process whose libraries (DuckDB,
    Arrow, BLAS) run threads of their own can leave a child waiting on a lock no thread
    will release, and on two cores the pool saved little. With one process, a single
    series, or where processes are not forked, everything is fitted here. The pool is
    started on the first run that needs it and kept for the next runs until :meth:`close`.
    """

    name = "local"

    def __init__(self, processes: int | None = None) -> None:
        wanted = 1 if processes is None else max(1, processes)
        self.processes = wanted if _forks() else 1
        self._pool: ProcessPoolExecutor | None = None

    def run(self, engine: Any, method: Method, df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        import pandas as pd

        parts = [part for _, part in df.groupby("unique_id", sort=False)]
        if self.processes == 1 or len(parts) == 1:
            return _tidy(_run_method(engine, method, df, kwargs))
        pool = self._executor()
        # Longest series first, so the last tasks to finish are short ones.
        parts.sort(key=len, reverse=True)
        tasks = [pool.submit(_run_method, engine, method, part, kwargs) for part in parts]
        return _tidy(pd.concat([task.result() for task in tasks], ignore_index=True))

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes,
                                             mp_context=multiprocessing.get_context("fork"))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class SparkBackend:
    """Fits the series on Spark with statsforecast's Fugue backend.

    The session is started on the first run (or the given or already running one is used)
    and stopped by :meth:`close` only when this backend started it.
    """

    name = "spark"

    def __init__(self, session: SparkSession | None = None, master: str = DEFAULT_MASTER) -> None:
        self.master = master
        self._session = session
        self._owns_session = session is None

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            # A session the caller already runs is used and left running.
            running = active_session()
            self._owns_session = running is None
            self._session = running or start_session(self.master)
        return self._session

    def run(self, engine: Any, method: Method, df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        # Importing these registers Spark with Fugue and the Fugue backend with statsforecast.
        import fugue_spark  # noqa: F401
        import pandas as pd
        import statsforecast.distributed.fugue  # noqa: F401

        frame = self.session.createDataFrame(df)
        result = getattr(engine, method)(df=frame, **kwargs)
        local = result.toPandas() if hasattr(result, "toPandas") else pd.DataFrame(result)
        for column in ("ds", "cutoff"):
            # Spark hands timestamps back at nanosecond precision; match statsforecast's own.
            if column in local.columns and column in df.columns:
                local[column] = local[column].astype(df[column].dtype)
        if "ds" in local.columns and "cutoff" in local.columns and "ds" in df.columns:
            local["cutoff"] = local["cutoff"].astype(df["ds"].dtype)
        return _tidy(local)

    def close(self) -> None:
        if self._session is not None and self._owns_session:
            self._session.stop()
            self._session = None


BackendName = Literal["local", "spark"]


def forecast_backend(name: BackendName | ForecastBackend | None) -> ForecastBackend:
    """Return the backend ``name`` stands for (a backend object is returned as it is)."""
    if name is None or name == "local":
        return LocalBackend()
    if name == "spark":
        return SparkBackend()
    if isinstance(name, str):
        raise ValueError(f"unknown forecast backend '{name}' (expected local or spark)")
    return name
