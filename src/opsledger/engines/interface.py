"""Where SLI counts come from: one small protocol every engine implements.

An engine turns one :class:`~opsledger.model.slo.Slo` into minute-bucketed good/total
counts between two times. The definition is the same whichever engine runs it: DuckDB over
event files, Prometheus over its HTTP API, or the health-check history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from opsledger.core.errors import EngineError
from opsledger.model.slo import MINUTE, SliSeries, Slo


class SliEngine(Protocol):
    """Produces good/total counts per minute for an SLO."""

    name: str

    def supports(self, slo: Slo) -> bool:
        """Return True when this engine can count the SLO's indicator."""
        ...

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        """Return counts for each minute in ``[start, end)`` (both minute-aligned, UTC).

        Raise :class:`EngineError` with a message the user can act on when the source
        cannot answer.
        """
        ...


class EventEngine(SliEngine, Protocol):
    """An engine over event files that can count several SLOs in one scan of their files."""

    def series_many(
        self, slos: Sequence[Slo], start: datetime, end: datetime
    ) -> dict[str, SliSeries]:
        """Return counts per SLO key for ``slos`` over ``[start, end)``."""
        ...

    def close(self) -> None:
        """Release the engine's connection or session."""
        ...


def minutes_between(start: datetime, end: datetime) -> int:
    """Return how many whole minutes ``[start, end)`` spans; refuse unaligned or reversed spans."""
    if start.second or start.microsecond or end.second or end.microsecond:
        raise EngineError(f"SLI spans must be minute-aligned (got {start} .. {end})")
    if end < start:
        raise EngineError(f"SLI span ends before it starts ({start} .. {end})")
    return int((end - start) // MINUTE)


class EngineSet:
    """Dispatches each SLO to the first engine that supports its indicator."""

    name = "auto"

    def __init__(self, engines: list[SliEngine]) -> None:
        self.engines = engines

    def supports(self, slo: Slo) -> bool:
        return any(engine.supports(slo) for engine in self.engines)

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        for engine in self.engines:
            if engine.supports(slo):
                return engine.series(slo, start, end)
        kind = type(slo.indicator).__name__
        raise EngineError(f"no engine configured for {slo.key} ({kind}, defined at {slo.where})")
