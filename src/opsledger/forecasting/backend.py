"""Where statsforecast fits its models: in this process, or on Spark through Fugue.

The forecasting code builds one :class:`statsforecast.StatsForecast` and one frame of series
(``unique_id, ds, y``) and hands both to a backend. The local backend calls statsforecast
directly; the Spark backend passes the series as a Spark DataFrame, which statsforecast sends
through its Fugue backend: the series are partitioned by ``unique_id`` and each is fitted on
a Spark worker by the same code. Either way every series is fitted on its own, so the
results are the same; the backends differ only in where the work runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

import pandas as pd

from opsledger.engines.spark_session import DEFAULT_MASTER, active_session, start_session

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Method = Literal["forecast", "cross_validation"]


class ForecastBackend(Protocol):
    """Runs one statsforecast method over a frame of series and returns a pandas frame."""

    name: str

    def run(self, engine: Any, method: Method, df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        """Return ``engine.<method>(df=df, **kwargs)`` with a ``unique_id`` column, sorted."""
        ...


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the frame with ``unique_id`` as a column, rows by series, cutoff and day."""
    if "unique_id" not in frame.columns:
        frame = frame.reset_index()
    keys = [k for k in ("unique_id", "cutoff", "ds") if k in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


class LocalBackend:
    """Fits every series in this process (statsforecast's own loop)."""

    name = "local"

    def run(self, engine: Any, method: Method, df: pd.DataFrame, **kwargs: Any) -> pd.DataFrame:
        result: pd.DataFrame = getattr(engine, method)(df=df, **kwargs)
        return _tidy(result)


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
