"""The headline KPIs of a month, and how far each is from its target.

Pure functions: each turns one analysis's typed result into named KPIs (a flat mapping
``name -> value`` with a unit and the direction that is better), so the monthly report, the
history and the roadmap all speak of the same numbers. A KPI that cannot be computed is a
:class:`SkippedKpi` with the reason, never a zero.

Definitions (the window is the 30 days to the evaluation instant unless said otherwise):

- ``availability``: passing probes / probes over every assessed service (probes pooled, so
  a busy service weighs more); ``availability:<service>`` per service.
- ``slos_met_share``: SLOs meeting their objective / valid SLOs; ``error_budget_remaining_min``
  the smallest remaining error budget among valid SLOs (1 = untouched, below 0 = overspent).
- ``mtta_minutes``, ``mttr_minutes``: mean minutes from the incident's creation to its
  acknowledgement and to its resolution, over incidents created in the window (the
  definitions of :mod:`opsledger.incidents.kpis`).
- ``incidents_per_month``: incidents created in the window (a 30-day month).
- ``action_items_open``/``action_items_overdue``: postmortem action items, whatever their age.
- ``vulnerabilities_critical``/``vulnerabilities_overdue``: open scanner findings rated
  critical / past their SLA due date.
- ``cost_vs_target``: the month's spend (forecast month end, else actual to date) of services
  with a target, divided by the sum of their targets; ``cost_month`` the month's actual
  spend: month-to-date while the month is partial, and then labelled so (N of M days, with
  the whole month's forecast beside it).
- ``ticket_volume``: tickets created in the window.
- ``backlog_open_high_critical``: open maintenance backlog items rated high or critical.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from opsledger.backlog.service import Backlog
from opsledger.incidents.service import ActionItemSummary, DurationStats, IncidentKpis
from opsledger.model.common import Severity
from opsledger.model.handover import Ticket
from opsledger.model.status import SkippedResult
from opsledger.patching.service import Posture
from opsledger.slo.service import HealthResult, ServiceHealth, SloStatus


class Better(StrEnum):
    """Which way of moving is an improvement for a KPI."""

    HIGHER = "higher"
    LOWER = "lower"


@dataclass(frozen=True)
class Kpi:
    name: str
    label: str
    value: float
    unit: str
    better: Better
    source: str  # the analysis it comes from

    skipped = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "value": self.value, "unit": self.unit,
                "better": self.better.value, "source": self.source}


@dataclass(frozen=True)
class SkippedKpi(SkippedResult):
    name: str
    label: str
    unit: str
    better: Better
    source: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "value": None, "unit": self.unit,
                "better": self.better.value, "source": self.source, "reason": self.reason}


KpiResult = Kpi | SkippedKpi


@dataclass(frozen=True)
class KpiSet:
    """Every headline KPI of one evaluation, in a stable order."""

    now: datetime
    results: Mapping[str, KpiResult]

    @property
    def computed(self) -> dict[str, Kpi]:
        return {k: v for k, v in self.results.items() if isinstance(v, Kpi)}

    @property
    def skipped(self) -> dict[str, SkippedKpi]:
        return {k: v for k, v in self.results.items() if isinstance(v, SkippedKpi)}

    def value(self, name: str) -> float | None:
        result = self.results.get(name)
        return result.value if isinstance(result, Kpi) else None

    def to_json(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(),
                "kpis": [r.to_json() for r in self.results.values()]}


def kpi_set(now: datetime, groups: Iterable[Iterable[KpiResult]]) -> KpiSet:
    """Return the KPIs of every group, keyed by name (a later duplicate is an error)."""
    results: dict[str, KpiResult] = {}
    for group in groups:
        for result in group:
            if result.name in results:
                raise ValueError(f"KPI '{result.name}' computed twice")
            results[result.name] = result
    return KpiSet(now, results)


def skipped_group(names: Sequence[tuple[str, str, str, Better]], source: str,
                  reason: str) -> list[KpiResult]:
    """Return the KPIs of an analysis that could not run, each with the reason."""
    return [SkippedKpi(name, label, unit, better, source, reason)
            for name, label, unit, better in names]


AVAILABILITY = ("availability", "Availability (probes, all services)", "ratio", Better.HIGHER)


def availability_kpis(results: Sequence[HealthResult]) -> list[KpiResult]:
    """Return pooled availability and one KPI per assessed service."""
    assessed = [r for r in results if isinstance(r, ServiceHealth)]
    source = "service health"
    if not assessed:
        reason = "no service has enough probes in the window" if results else \
            "no health history"
        return skipped_group([AVAILABILITY], source, reason)
    probes = sum(r.probes for r in assessed)
    ok = sum(r.ok_probes for r in assessed)
    out: list[KpiResult] = [Kpi(AVAILABILITY[0], AVAILABILITY[1], ok / probes, "ratio",
                                Better.HIGHER, source)]
    for r in sorted(assessed, key=lambda r: r.service):
        out.append(Kpi(f"availability:{r.service}", f"Availability of {r.service}",
                       r.availability, "ratio", Better.HIGHER, source))
    return out


SLO_NAMES = (
    ("slos_met_share", "SLOs meeting their objective", "ratio", Better.HIGHER),
    ("slos_met", "SLOs met", "count", Better.HIGHER),
    ("slos_evaluated", "SLOs evaluated", "count", Better.HIGHER),
    ("error_budget_remaining_min", "Smallest error budget remaining", "ratio", Better.HIGHER),
    ("error_budgets_exhausted", "SLOs with the error budget exhausted", "count", Better.LOWER),
)


def slo_kpis(statuses: Sequence[SloStatus]) -> list[KpiResult]:
    """Return SLOs met, their share, and the worst remaining error budget."""
    valid = [s for s in statuses if s.valid and s.met is not None]
    source = "SLOs"
    if not valid:
        reason = (f"none of the {len(statuses)} SLO(s) could be evaluated" if statuses
                  else "no SLO definitions")
        return skipped_group(SLO_NAMES, source, reason)
    met = sum(1 for s in valid if s.met)
    budgets = [s.budget.remaining for s in valid if s.budget is not None]
    values: list[float | None] = [
        met / len(valid), float(met), float(len(valid)),
        min(budgets) if budgets else None,
        float(sum(1 for b in budgets if b <= 0)) if budgets else None,
    ]
    out: list[KpiResult] = []
    for (name, label, unit, better), value in zip(SLO_NAMES, values, strict=True):
        if value is None:
            out.append(SkippedKpi(name, label, unit, better, source,
                                  "no valid SLO reports an error budget"))
        else:
            out.append(Kpi(name, label, value, unit, better, source))
    return out


INCIDENT_NAMES = (
    ("incidents_per_month", "Incidents (30 days)", "count", Better.LOWER),
    ("mtta_minutes", "Mean time to acknowledge", "minutes", Better.LOWER),
    ("mttr_minutes", "Mean time to resolve", "minutes", Better.LOWER),
)
ACTION_NAMES = (
    ("action_items_open", "Postmortem action items open", "count", Better.LOWER),
    ("action_items_overdue", "Postmortem action items overdue", "count", Better.LOWER),
)


def incident_kpis(kpis: IncidentKpis) -> list[KpiResult]:
    """Return the incident count, MTTA and MTTR of the window."""
    source = "incidents"
    out: list[KpiResult] = [Kpi("incidents_per_month", INCIDENT_NAMES[0][1], float(kpis.count),
                                "count", Better.LOWER, source)]
    for (name, label, unit, better), stats in zip(INCIDENT_NAMES[1:], (kpis.mtta, kpis.mttr),
                                                   strict=True):
        if isinstance(stats, DurationStats):
            out.append(Kpi(name, label, stats.mean, unit, better, source))
        else:
            out.append(SkippedKpi(name, label, unit, better, source, stats.reason))
    return out


def action_item_kpis(items: ActionItemSummary) -> list[KpiResult]:
    source = "postmortems"
    return [
        Kpi(ACTION_NAMES[0][0], ACTION_NAMES[0][1], float(len(items.open)), "count",
            Better.LOWER, source),
        Kpi(ACTION_NAMES[1][0], ACTION_NAMES[1][1], float(len(items.overdue)), "count",
            Better.LOWER, source),
    ]


VULNERABILITY_NAMES = (
    ("vulnerabilities_critical", "Open critical vulnerabilities", "count", Better.LOWER),
    ("vulnerabilities_overdue", "Vulnerabilities past their SLA", "count", Better.LOWER),
)


def vulnerability_kpis(posture: Posture) -> list[KpiResult]:
    source = "security"
    critical = sum(1 for i in posture.items if i.finding.severity is Severity.CRITICAL)
    return [
        Kpi(VULNERABILITY_NAMES[0][0], VULNERABILITY_NAMES[0][1], float(critical), "count",
            Better.LOWER, source),
        Kpi(VULNERABILITY_NAMES[1][0], VULNERABILITY_NAMES[1][1], float(len(posture.overdue)),
            "count", Better.LOWER, source),
    ]


@dataclass(frozen=True)
class CostFigures:
    """The month's spend as the cost analysis gives it (plain numbers, no pandas)."""

    month: str
    currency: str
    total: float | None  # actual spend of the month (month-to-date while it is partial)
    targeted: Sequence[tuple[str, float, float]]  # (service, target, forecast or actual)
    days: int | None = None  # days of the month the data reaches (None: not said)
    days_in_month: int | None = None
    forecast: float | None = None  # the whole month's forecast while the month is partial


COST_NAMES = (
    ("cost_vs_target", "Spend against cost targets", "ratio", Better.LOWER),
    ("cost_month", "Spend this month", "currency", Better.LOWER),
    ("cost_targets_over", "Services forecast over their cost target", "count", Better.LOWER),
)


def cost_kpis(figures: CostFigures) -> list[KpiResult]:
    """Return spend of targeted services against the sum of their targets, and the total."""
    source = "cost"
    out: list[KpiResult] = []
    target = sum(t for _, t, _ in figures.targeted)
    if figures.targeted and target > 0:
        spend = sum(s for _, _, s in figures.targeted)
        out.append(Kpi("cost_vs_target", COST_NAMES[0][1], spend / target, "ratio",
                       Better.LOWER, source))
        over = sum(1 for _, t, s in figures.targeted if s > t)
        out.append(Kpi("cost_targets_over", COST_NAMES[2][1], float(over), "count",
                       Better.LOWER, source))
    else:
        out += skipped_group([COST_NAMES[0], COST_NAMES[2]], source,
                             "no cost targets with spend in the month")
    if figures.total is None:
        out.append(SkippedKpi("cost_month", COST_NAMES[1][1], figures.currency, Better.LOWER,
                              source, f"no spend for {figures.month}"))
    else:
        out.append(Kpi("cost_month", _spend_label(figures), figures.total,
                       figures.currency, Better.LOWER, source))
    return out


def _spend_label(figures: CostFigures) -> str:
    """Return "Spend <month>", said month-to-date with the forecast while it is partial."""
    label = f"Spend {figures.month}"
    if figures.days is None or figures.days_in_month is None or (
            figures.days >= figures.days_in_month):
        return label
    label += f", month-to-date ({figures.days} of {figures.days_in_month} days)"
    if figures.forecast is not None:
        label += f"; forecast {figures.forecast:,.0f} {figures.currency} for the whole month"
    return label


TICKET_NAME = ("ticket_volume", "Support tickets (30 days)", "count", Better.LOWER)


def ticket_kpis(tickets: Iterable[Ticket], start: datetime, end: datetime) -> list[KpiResult]:
    """Return the number of tickets created in ``[start, end)``."""
    count = sum(1 for t in tickets if start <= t.created_at < end)
    return [Kpi(TICKET_NAME[0], TICKET_NAME[1], float(count), "count", Better.LOWER,
                "tickets")]


BACKLOG_NAMES = (
    ("backlog_open", "Open maintenance backlog items", "count", Better.LOWER),
    ("backlog_open_high_critical", "Open high/critical backlog items", "count", Better.LOWER),
)


def backlog_kpis(backlog: Backlog) -> list[KpiResult]:
    open_items = backlog.open_items()
    source = "backlog"
    return [
        Kpi(BACKLOG_NAMES[0][0], BACKLOG_NAMES[0][1], float(len(open_items)), "count",
            Better.LOWER, source),
        Kpi(BACKLOG_NAMES[1][0], BACKLOG_NAMES[1][1],
            float(sum(1 for i in open_items if i.high_or_critical)), "count", Better.LOWER,
            source),
    ]


@dataclass(frozen=True)
class Target:
    value: float
    source: str  # "growth target", "SLO objective", "vulnerability SLA", ...


@dataclass(frozen=True)
class KpiGap:
    """A KPI against its target; ``gap`` > 0 is a shortfall in the KPI's unit."""

    name: str
    label: str
    unit: str
    better: Better
    current: float | None  # None: the KPI could not be computed (see ``reason``)
    target: float
    target_source: str
    reason: str = ""

    @property
    def gap(self) -> float | None:
        if self.current is None:
            return None
        if self.better is Better.HIGHER:
            return self.target - self.current
        return self.current - self.target

    @property
    def met(self) -> bool | None:
        gap = self.gap
        return None if gap is None else gap <= 0

    def to_json(self) -> dict[str, Any]:
        return {"kpi": self.name, "current": self.current, "target": self.target,
                "gap": self.gap, "met": self.met, "unit": self.unit,
                "better": self.better.value, "target_source": self.target_source,
                "reason": self.reason or None}


def kpi_gaps(kpis: KpiSet, targets: Mapping[str, Target]) -> list[KpiGap]:
    """Return every targeted KPI with its gap: shortfalls first (largest relative gap first),
    then KPIs that could not be computed, then targets already met.

    A target naming no known KPI comes back with the reason, so a typo in ``growth_targets``
    shows instead of vanishing.
    """
    gaps = []
    for name, target in targets.items():
        result = kpis.results.get(name)
        if result is None:
            gaps.append(KpiGap(name, name, "", Better.HIGHER, None, target.value, target.source,
                               "no such KPI (known: " + ", ".join(
                                   k for k in kpis.results if ":" not in k) + ")"))
        elif isinstance(result, SkippedKpi):
            gaps.append(KpiGap(name, result.label, result.unit, result.better, None,
                               target.value, target.source, result.reason))
        else:
            gaps.append(KpiGap(name, result.label, result.unit, result.better, result.value,
                               target.value, target.source))

    def order(g: KpiGap) -> tuple[int, float, str]:
        if g.gap is None:
            return (1, 0.0, g.name)
        if g.gap > 0:
            return (0, -g.gap / max(abs(g.target), 1e-9), g.name)
        return (2, 0.0, g.name)

    return sorted(gaps, key=order)


def format_value(value: float | None, unit: str) -> str:
    """Return a KPI value for people: ratios as percentages, counts as integers."""
    if value is None:
        return "n/a"
    if unit == "ratio":  # two decimals at least, so a 0.01-point change can be checked
        return f"{value * 100:.3f}%" if abs(value) >= 0.99 else f"{value * 100:.2f}%"
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "minutes":
        return f"{value:,.1f} min"
    return f"{value:,.2f} {unit}"
