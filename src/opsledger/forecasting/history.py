"""Ticket history as the forecasts read it: local arrival times, daily counts, weekday shares.

Every function here works on whole columns (one pass over the tickets, whatever the number
of queues), so preparing a history of hundreds of thousands of tickets takes a fraction of
a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from opsledger.model.handover import Ticket

_NANOS_PER_MINUTE = 60 * 10**9
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def local_arrivals(tickets: Iterable[Ticket], timezone: str) -> pd.DataFrame:
    """Return one row per ticket: queue and local creation time (naive, in ``timezone``)."""
    records = list(tickets)
    created = pd.to_datetime([t.created_at for t in records], utc=True)
    local = created.tz_convert(ZoneInfo(timezone)).tz_localize(None).as_unit("ns")
    return pd.DataFrame({"queue": pd.Series([t.queue for t in records], dtype=object),
                         "local": local})


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame({"unique_id": [], "ds": pd.to_datetime([]), "y": []})


def daily_series(arrivals: pd.DataFrame, last_day: date | None = None) -> pd.DataFrame:
    """Return daily ticket counts per queue (``unique_id, ds, y``), zero-filled.

    Each queue's series runs from its first ticket's day to ``last_day`` (default: the last day
    any ticket arrived), so quiet days count as zero tickets rather than missing. Rows are
    ordered by queue name, then day.
    """
    if arrivals.empty:
        return _empty_series()
    days = arrivals["local"].to_numpy().astype("datetime64[D]")
    end = np.datetime64(last_day, "D") if last_day is not None else days.max()
    kept = days <= end
    if not kept.any():
        return _empty_series()
    codes, queues = pd.factorize(arrivals["queue"].to_numpy()[kept], sort=True)
    days = days[kept]
    first = days.min()
    width = int((end - first).astype(int)) + 1
    offsets = (days - first).astype(np.int64)
    counts = np.bincount(codes * width + offsets, minlength=len(queues) * width)
    counts = counts.reshape(len(queues), width)
    starts = np.full(len(queues), width, dtype=np.int64)
    np.minimum.at(starts, codes, offsets)
    ids: list[np.ndarray] = []
    stamps: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for index, queue in enumerate(queues):
        start = int(starts[index])
        ids.append(np.full(width - start, queue, dtype=object))
        stamps.append(first + np.arange(start, width))
        values.append(counts[index, start:].astype(float))
    return pd.DataFrame({
        "unique_id": np.concatenate(ids),
        "ds": np.concatenate(stamps).astype("datetime64[ns]"),
        "y": np.concatenate(values),
    })


def interval_shares_by_queue(
    arrivals: pd.DataFrame, interval_minutes: int = 60
) -> dict[str, tuple[tuple[float, ...], ...]]:
    """Return, per queue and weekday, the share of that weekday's tickets in each interval.

    Each queue with tickets gets 7 rows (Monday first) of one share per interval of the day;
    a weekday without history gets a flat profile rather than no tickets at all.
    """
    if (24 * 60) % interval_minutes:
        raise ValueError("interval_minutes must divide a day")
    per_day = 24 * 60 // interval_minutes
    if arrivals.empty:
        return {}
    codes, queues = pd.factorize(arrivals["queue"].to_numpy(), sort=True)
    stamps = arrivals["local"].to_numpy().astype("datetime64[ns]")
    days = stamps.astype("datetime64[D]")
    weekdays = (days.astype(np.int64) + _EPOCH_WEEKDAY) % 7
    minutes = (stamps - days).astype(np.int64) // _NANOS_PER_MINUTE
    slots = minutes // interval_minutes
    cells = (codes * 7 + weekdays) * per_day + slots
    counts = np.bincount(cells, minlength=len(queues) * 7 * per_day).astype(float)
    counts = counts.reshape(len(queues), 7, per_day)
    flat = flat_shares(interval_minutes)[0]
    shares: dict[str, tuple[tuple[float, ...], ...]] = {}
    for index, queue in enumerate(queues):
        rows = []
        for weekday in range(7):
            total = counts[index, weekday].sum()
            rows.append(tuple((counts[index, weekday] / total).tolist()) if total else flat)
        shares[str(queue)] = tuple(rows)
    return shares


def weekday_interval_shares(
    arrivals: pd.DataFrame, queue: str, interval_minutes: int = 60
) -> tuple[tuple[float, ...], ...]:
    """Return, per weekday, the share of that weekday's tickets that arrived in each interval.

    A weekday without history gets a flat profile rather than no tickets at all.
    """
    mine = arrivals[arrivals["queue"] == queue]
    return interval_shares_by_queue(mine, interval_minutes).get(queue) or flat_shares(
        interval_minutes)


def flat_shares(interval_minutes: int = 60) -> tuple[tuple[float, ...], ...]:
    """Return the profile of a queue without history: every interval of every weekday alike."""
    per_day = 24 * 60 // interval_minutes
    return tuple(tuple(np.full(per_day, 1.0 / per_day).tolist()) for _ in range(7))
