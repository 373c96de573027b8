"""Smoke and health-check results, and performance runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe of one check against one service."""

    time: datetime
    service: str
    check: str
    ok: bool
    latency_ms: float | None


@dataclass(frozen=True)
class EndpointPerf:
    """Latency, throughput and errors of one endpoint in one run."""

    endpoint: str
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float | None
    error_rate: float | None  # 0-1
    requests: int | None = None


@dataclass(frozen=True)
class PerfRun:
    """A performance run: ``label`` is ``baseline`` or ``current`` (or a run name)."""

    label: str
    endpoints: tuple[EndpointPerf, ...]
    started_at: datetime | None = None
    tool: str = "native"


@dataclass(frozen=True)
class PerfReport:
    baseline: PerfRun | None
    current: PerfRun | None
