"""SLI counts from the health-check history: each probe is an event, good when it passed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from opsledger.core.errors import EngineError
from opsledger.engines.interface import minutes_between
from opsledger.model.health import ProbeHistory, ProbeResult, epoch_microseconds
from opsledger.model.slo import MINUTE, HealthSource, SliSeries, Slo

_MINUTE_MICROSECONDS = MINUTE // timedelta(microseconds=1)


class HealthEngine:
    """Counts probes read from ``reports/health/`` (already parsed into a history).

    The rows of each service and of each service's check are found once, on the first SLI
    asked for; an SLI then counts only the rows of its service (or check).
    """

    name = "health"

    def __init__(self, probes: Sequence[ProbeResult] | ProbeHistory) -> None:
        self.probes = ProbeHistory.of(probes)

    def supports(self, slo: Slo) -> bool:
        return isinstance(slo.indicator, HealthSource)

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        source = slo.indicator
        if not isinstance(source, HealthSource):
            raise EngineError(f"{slo.key}: not a health-check SLI")
        minutes = minutes_between(start, end)
        history = self.probes
        rows = history.rows_of(source.service, source.check)
        since, until = epoch_microseconds(start), epoch_microseconds(end)
        times = history.time[rows]
        inside = (times >= since) & (times < until)
        index = (times[inside] - since) // _MINUTE_MICROSECONDS
        ok = history.ok[rows[inside]].astype(np.float64)
        total = np.bincount(index, minlength=minutes).astype(np.float64)
        good = np.bincount(index, weights=ok, minlength=minutes).astype(np.float64)
        return SliSeries(start, good, total, source="health")
