"""Which engine counts each SLO of a command, each built when the first SLO needs it.

Event-file SLOs go to the configured event engine (DuckDB or Spark), PromQL SLOs to one
Prometheus engine per server, health-check SLOs to the probe history, read once.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opsledger.core.config import EngineChoice
from opsledger.core.errors import EngineError
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.engines.choice import event_engine
from opsledger.engines.health_engine import HealthEngine
from opsledger.engines.interface import EventEngine, SliEngine
from opsledger.model.health import ProbeHistory
from opsledger.model.slo import DuckDbSource, PrometheusSource, Slo
from opsledger.slo.definitions import read_input
from opsledger.slo.scoping import whole_context

if TYPE_CHECKING:
    from opsledger.engines.prometheus_client import Deadline
    from opsledger.engines.prometheus_engine import PrometheusEngine

PROMETHEUS_URL_ENV = "OPSLEDGER_PROMETHEUS_URL"
NEEDS_PROMETHEUS = f"needs a Prometheus server: pass --prometheus URL or set {PROMETHEUS_URL_ENV}"


def _probes(ctx: Context) -> ProbeHistory:
    from opsledger.readers import health

    return health.probe_history(read_input(ctx, InputKey.HEALTH, health.read))


class SliEngines:
    """Chooses the engine per SLO; builds each engine lazily (the health history is read once)."""

    def __init__(self, ctx: Context, prometheus_url: str | None, events: EngineChoice) -> None:
        self.ctx = ctx
        self.prometheus_url = (
            prometheus_url or ctx.prometheus_url or os.environ.get(PROMETHEUS_URL_ENV) or None
        )
        self._event_choice = events
        self._events: EventEngine | None = None
        self._health: HealthEngine | None = None
        self._prometheus: dict[str, PrometheusEngine] = {}
        # One time budget for all Prometheus queries of the command, however many servers
        # its SLO definitions name; started when the first server is asked.
        self._prometheus_deadline: Deadline | None = None

    @property
    def events(self) -> EventEngine:
        """The engine over event files, built when the first event-file SLO needs it."""
        if self._events is None:
            deadline = self.ctx.workspace.config.sli_query_deadline_seconds
            self._events = event_engine(self._event_choice, self.ctx.workspace.root, deadline)
        return self._events

    @staticmethod
    def counts_events(slo: Slo) -> bool:
        """Return True when the SLO is counted from event files (by either event engine)."""
        return isinstance(slo.indicator, DuckDbSource)

    def close(self) -> None:
        if self._events is not None:
            self._events.close()

    def _server(self, source: PrometheusSource) -> str | None:
        """Return the Prometheus server a PromQL SLI is asked of (None when none is known)."""
        return self.prometheus_url or source.url or None

    def asks_prometheus(self, slo: Slo) -> bool:
        """Return True when the SLO is a PromQL query and a Prometheus server is known."""
        source = slo.indicator
        return isinstance(source, PrometheusSource) and self._server(source) is not None

    def lacks_prometheus(self, slo: Slo) -> bool:
        """Return True when the SLO is a PromQL query and no Prometheus server is known."""
        source = slo.indicator
        return isinstance(source, PrometheusSource) and self._server(source) is None

    def for_slo(self, slo: Slo) -> SliEngine:
        if self.counts_events(slo):
            return self.events
        if isinstance(slo.indicator, PrometheusSource):
            url = self._server(slo.indicator)
            if url is None:
                raise EngineError(NEEDS_PROMETHEUS)
            if url not in self._prometheus:
                # Imported here: the HTTP client loads only where a server is asked.
                from opsledger.engines.prometheus_client import command_deadline
                from opsledger.engines.prometheus_engine import PrometheusEngine

                if self._prometheus_deadline is None:
                    self._prometheus_deadline = command_deadline()
                self._prometheus[url] = PrometheusEngine(url, deadline=self._prometheus_deadline)
            return self._prometheus[url]
        if self._health is None:
            # A health SLI names the service whose probes it counts, which may be another
            # team's: the engine picks that service's probes from the whole history.
            self._health = HealthEngine(_probes(whole_context(self.ctx)))
        return self._health

    def prometheus_of(self, engine: SliEngine | None) -> PrometheusEngine | None:
        """Return ``engine`` when it is one of this command's Prometheus engines."""
        return next((p for p in self._prometheus.values() if p is engine), None)
