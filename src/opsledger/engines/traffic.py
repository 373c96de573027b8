"""Daily request volume from the workspace's request events, for experiment planning.

One DuckDB ``GROUP BY`` day over the event files (Parquet, CSV or JSONL) in a window of
whole days before ``now``; the mean is taken over the days that have events, so a history
shorter than the window is not diluted by empty days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from opsledger.core.errors import EngineError
from opsledger.engines.duckdb_engine import DuckDbEngine
from opsledger.model.slo import DuckDbSource


@dataclass(frozen=True)
class DailyRequests:
    mean_per_day: float
    days_with_events: int
    window_start: datetime
    window_end: datetime


def daily_requests(
    root: Path,
    source: str,
    now: datetime,
    days: int,
    timestamp: str = "ts",
    service: str | None = None,
    service_column: str = "service",
) -> DailyRequests | None:
    """Return the mean requests per day over ``days`` whole days before ``now``, or ``None``."""
    end = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    engine = DuckDbEngine(root)
    try:
        relation = engine.relation_sql(DuckDbSource(path=source, timestamp=timestamp))
        where = f'"{_ident(timestamp)}" >= $start AND "{_ident(timestamp)}" < $end'
        parameters: dict[str, object] = {"start": start, "end": end}
        if service is not None:
            where += f' AND CAST("{_ident(service_column)}" AS VARCHAR) = $service'
            parameters["service"] = service
        sql = (
            f'SELECT count(*) AS requests, count(DISTINCT CAST("{_ident(timestamp)}" AS DATE)) '
            f"AS days FROM {relation} WHERE {where}"
        )
        row = engine.connection.execute(sql, parameters).fetchone()
    except duckdb.Error as exc:
        raise EngineError(f"{source}: cannot count requests: {exc}") from None
    finally:
        engine.close()
    if row is None or not row[1]:
        return None
    return DailyRequests(float(row[0]) / int(row[1]), int(row[1]), start, end)


def _ident(name: str) -> str:
    return name.replace('"', '""')
