"""SLI counts from the health-check history: each probe is an event, good when it passed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from opsledger.core.errors import EngineError
from opsledger.engines.interface import minutes_between
from opsledger.model.health import ProbeResult
from opsledger.model.slo import MINUTE, HealthSource, SliSeries, Slo


class HealthEngine:
    """Counts probes read from ``reports/health/`` (already parsed into records)."""

    name = "health"

    def __init__(self, probes: Sequence[ProbeResult]) -> None:
        self.probes = probes

    def supports(self, slo: Slo) -> bool:
        return isinstance(slo.indicator, HealthSource)

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        source = slo.indicator
        if not isinstance(source, HealthSource):
            raise EngineError(f"{slo.key}: not a health-check SLI")
        minutes = minutes_between(start, end)
        chosen = [
            p
            for p in self.probes
            if p.service == source.service
            and (source.check is None or p.check == source.check)
            and start <= p.time < end
        ]
        index = np.array([(p.time - start) // MINUTE for p in chosen], dtype=np.int64)
        ok = np.array([p.ok for p in chosen], dtype=np.float64)
        total = np.bincount(index, minlength=minutes).astype(np.float64)
        good = np.bincount(index, weights=ok, minlength=minutes).astype(np.float64)
        return SliSeries(start, good, total, source="health")
