"""Request events for the engine tests, and an independent numpy count of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from opsledger.model.slo import DuckDbSource, Slo, SloWindow

START = datetime(2026, 3, 1, tzinfo=UTC)
MINUTES = 6 * 60
SERVICES = ("checkout", "search")


@dataclass(frozen=True)
class Events:
    """Columns of generated request events (timestamps in microseconds since the epoch)."""

    ts_us: np.ndarray
    service: np.ndarray  # index into SERVICES
    status: np.ndarray
    latency_ms: np.ndarray

    def expected(self, service: str, start: datetime, minutes: int) -> tuple[np.ndarray, ...]:
        """Return (good, total) per minute for availability of ``service``, by numpy."""
        chosen = self.service == SERVICES.index(service)
        offset = (self.ts_us - int(start.timestamp() * 1e6)) // 60_000_000
        inside = chosen & (offset >= 0) & (offset < minutes)
        total = np.bincount(offset[inside], minlength=minutes).astype(float)
        ok = inside & (self.status < 500)
        good = np.bincount(offset[ok], minlength=minutes).astype(float)
        return good, total


def generate(seed: int = 11, steady_slots: bool = False) -> Events:
    """Return events over MINUTES minutes from START; with ``steady_slots``, every 15-second
    slot of a minute holds the same number of events of each kind (steady within minutes)."""
    rng = np.random.default_rng(seed)
    per_minute = rng.poisson(40, size=(len(SERVICES), MINUTES))
    if steady_slots:
        per_minute = per_minute - per_minute % 4
    rows = []
    for s in range(len(SERVICES)):
        for m in np.flatnonzero(per_minute[s]):
            count = int(per_minute[s, m])
            base = int(START.timestamp() * 1e6) + int(m) * 60_000_000
            if steady_slots:
                slot = np.repeat(np.arange(4), count // 4)
                # error share varies by minute but is equal in each slot of the minute
                errors = int(rng.integers(0, count // 4 + 1)) if m % 17 == 0 else 0
                status = np.tile(np.r_[np.full(errors, 503), np.full(count // 4 - errors, 200)], 4)
                ts = base + slot * 15_000_000 + rng.integers(1, 15_000_000, count)
            else:
                ts = base + rng.integers(0, 60_000_000, count)
                status = np.where(rng.random(count) < (0.3 if 100 <= m < 130 else 0.01), 500, 200)
            rows.append((ts, np.full(count, s), status))
    ts = np.concatenate([r[0] for r in rows])
    order = np.argsort(ts, kind="stable")
    return Events(
        ts[order],
        np.concatenate([r[1] for r in rows])[order],
        np.concatenate([r[2] for r in rows])[order].astype(np.int16),
        rng.lognormal(4, 0.5, ts.size).astype(np.float32),
    )


def write_parquet(events: Events, path: Path, row_group_size: int = 2_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "ts": pa.array(events.ts_us, type=pa.timestamp("us", tz="UTC")),
            "service": pa.array([SERVICES[i] for i in events.service]),
            "status": pa.array(events.status),
            "latency_ms": pa.array(events.latency_ms),
        }
    )
    pq.write_table(table, path, row_group_size=row_group_size)


def availability_slo(service: str, path: str, bad: bool = False) -> Slo:
    mine = f"service = '{service}'"
    source = (
        DuckDbSource(path, "ts", bad=f"{mine} AND status >= 500", total=mine)
        if bad
        else DuckDbSource(path, "ts", good=f"{mine} AND status < 500", total=mine)
    )
    return Slo(
        service,
        "availability",
        0.99,
        SloWindow(days=1),
        source,
        source_path="test.yaml",
        source_line=3,
    )
