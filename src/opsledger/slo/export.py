"""SLO results as metrics: OpenMetrics text for Prometheus, JSON Lines for warehouses.

The numbers are those ``opsledger slo status`` computes (one evaluation per run); this
module only names and writes them. OpenMetrics is written with ``prometheus_client``'s
exposition, one gauge family per figure, every name prefixed ``opsledger_slo_``, labelled
``service``, ``slo``, ``window`` (the SLO window) and ``team`` (empty when no team is known,
which Prometheus stores as no label), and stamped with the run time in seconds, so the file
can be backfilled with ``promtool tsdb create-blocks-from openmetrics``. Without timestamps
it suits the node exporter's textfile collector, which refuses timestamped samples.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from opsledger.core.config_names import CATALOG_INPUTS, merge_catalogs
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.lock import writing
from opsledger.core.problems import Problem
from opsledger.model import schema
from opsledger.model.slo import Slo
from opsledger.slo.objectives import SloStatus

PREFIX = "opsledger_slo_"
# The version of the JSON Lines record; adding a field keeps it, removing or renaming one
# raises it.
EXPORT_FOLDER = Path("metrics")  # under the p09 evidence folder
TEAM_LABELS = ("team", "owner")  # SLO labels naming the owning team (Sloth's examples: owner)


class ExportFormat(StrEnum):
    OPENMETRICS = "openmetrics"
    JSONL = "jsonl"

    @property
    def default_file(self) -> str:
        return {ExportFormat.OPENMETRICS: "slo-results.prom",
                ExportFormat.JSONL: "slo-results.jsonl"}[self]


def service_teams(ctx: Context) -> dict[str, str]:
    """Return each service's team: its ``owner`` in opsledger.yaml, else its catalog team."""
    teams = {s.name: s.owner for s in ctx.workspace.config.services if s.owner}
    for entry in merge_catalogs(ctx.inputs.records(key) for key in CATALOG_INPUTS):
        if entry.team:
            teams.setdefault(entry.name, entry.team)
    return teams


def team_of(slo: Slo, teams: Mapping[str, str]) -> str | None:
    """Return the SLO's team: its service's, else the SLO's ``team`` or ``owner`` label."""
    if slo.service in teams:
        return teams[slo.service]
    labels = dict(slo.labels)
    return next((labels[k] for k in TEAM_LABELS if labels.get(k)), None)


@dataclass(frozen=True)
class SloResult:
    """One SLO's computed figures at one run, as exported (None: not computed)."""

    run_at: datetime
    service: str
    slo: str
    window: str
    team: str | None
    objective: float
    valid: bool
    reasons: tuple[str, ...]
    sli: float | None
    good: float | None
    total: float | None
    error_budget_remaining: float | None
    burn_rates: tuple[tuple[str, float | None], ...]  # (lookback, rate); "window": the SLO's

    @property
    def key(self) -> str:
        return f"{self.service}/{self.slo}"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON Lines record: who the SLO is, then its figures under ``values``."""
        return {
            "schema_version": schema.SLO_RESULTS,
            "run_at": self.run_at.isoformat(),
            "key": self.key,
            "service": self.service,
            "slo": self.slo,
            "team": self.team,
            "window": self.window,
            "objective": self.objective,
            "valid": self.valid,
            "reasons": list(self.reasons),
            "values": {
                "sli": self.sli,
                "good": self.good,
                "total": self.total,
                "error_budget_remaining": self.error_budget_remaining,
                "burn_rates": dict(self.burn_rates),
            },
        }


def slo_results(statuses: Sequence[SloStatus], teams: Mapping[str, str]) -> list[SloResult]:
    """Return the exported figures of every SLO evaluated, in their order."""
    results = []
    for status in statuses:
        slo = status.slo
        results.append(
            SloResult(
                run_at=status.now,
                service=slo.service,
                slo=slo.name,
                window=slo.window.label,
                team=team_of(slo, teams),
                objective=slo.objective,
                valid=status.valid,
                reasons=status.reasons,
                sli=status.sli,
                good=status.good,
                total=status.total,
                error_budget_remaining=status.budget.remaining if status.budget else None,
                burn_rates=tuple(status.burn_rates.items()),
            )
        )
    return results


@dataclass(frozen=True)
class Gauge:
    """One exported figure: its name (without the prefix), unit, help and how to read it."""

    name: str
    help: str
    value: Callable[[SloResult], float | None]
    unit: str = ""


GAUGES = (
    Gauge("valid", "1 when the SLO was computed, 0 when not (too few events, no data...)",
          lambda r: 1.0 if r.valid else 0.0),
    Gauge("sli_ratio", "Good events over valid events in the SLO window", lambda r: r.sli,
          "ratio"),
    Gauge("objective_ratio", "The SLO's objective", lambda r: r.objective, "ratio"),
    Gauge("error_budget_remaining_ratio",
          "Share of the window's error budget left: 1 untouched, 0 exhausted, below 0 overspent",
          lambda r: r.error_budget_remaining, "ratio"),
    Gauge("good_events", "Good events in the SLO window", lambda r: r.good),
    Gauge("total_events", "Valid events in the SLO window", lambda r: r.total),
)
BURN_RATE = "burn_rate"
BURN_RATE_HELP = (
    "Error ratio over the lookback (burn_window; 'window': the whole SLO window) divided by "
    "the error budget 1 - objective"
)
LABELS = ("service", "slo", "window", "team")


def _labels(result: SloResult) -> list[str]:
    return [result.service, result.slo, result.window, result.team or ""]


def openmetrics_text(results: Sequence[SloResult], timestamps: bool = True) -> str:
    """Return the results as OpenMetrics text ending ``# EOF``; samples are stamped with the
    run time in seconds unless ``timestamps`` is False. Figures not computed are absent."""
    from prometheus_client.core import GaugeMetricFamily, Metric
    from prometheus_client.openmetrics.exposition import generate_latest
    from prometheus_client.registry import Collector, CollectorRegistry

    def stamp(result: SloResult) -> float | None:
        return result.run_at.timestamp() if timestamps else None

    class Results(Collector):
        def collect(self) -> Iterator[Metric]:
            for gauge in GAUGES:
                family = GaugeMetricFamily(PREFIX + gauge.name, gauge.help, labels=LABELS,
                                           unit=gauge.unit)
                for result in results:
                    value = gauge.value(result)
                    if value is not None:
                        family.add_metric(_labels(result), value, timestamp=stamp(result))
                yield family
            burn = GaugeMetricFamily(PREFIX + BURN_RATE, BURN_RATE_HELP,
                                     labels=(*LABELS, "burn_window"))
            for result in results:
                for lookback, rate in result.burn_rates:
                    if rate is not None:
                        burn.add_metric([*_labels(result), lookback], rate,
                                        timestamp=stamp(result))
            yield burn

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Results())
    return generate_latest(registry).decode("utf-8")


def jsonl_text(results: Iterable[SloResult]) -> str:
    """Return one JSON object per line and per SLO (see :meth:`SloResult.to_json`)."""
    return "".join(
        json.dumps(r.to_json(), ensure_ascii=False, sort_keys=False) + "\n" for r in results
    )


@dataclass(frozen=True)
class ExportFile:
    """The file written, what it holds, and the problems met computing it."""

    path: Path
    format: ExportFormat
    results: tuple[SloResult, ...]
    problems: tuple[Problem, ...]


def export_results(
    ctx: Context,
    statuses: Sequence[SloStatus],
    problems: Sequence[Problem],
    out: Path | None = None,
    fmt: ExportFormat = ExportFormat.OPENMETRICS,
    timestamps: bool = True,
) -> ExportFile:
    """Write the results of the SLOs evaluated (as ``slo status`` evaluates them) in ``fmt``
    to ``out`` (default: ``metrics/`` under the p09 evidence folder); return what was written.

    A ``slos/`` none of whose definitions could be read is refused: nothing is written.
    """
    if not statuses and problems:
        raise InputError("no SLO definition in slos/ could be read: nothing to export",
                         list(problems))
    results = slo_results(statuses, service_teams(ctx))
    text = (openmetrics_text(results, timestamps) if fmt is ExportFormat.OPENMETRICS
            else jsonl_text(results))
    path = out or ctx.workspace.p09_evidence / EXPORT_FOLDER / fmt.default_file
    with writing(ctx.workspace, "slo export"):
        atomic_write_text(path, text)
    return ExportFile(path, fmt, tuple(results), tuple(problems))
