"""The team scorecard: every team side by side on the figures that ask for attention.

Pure: each figure is taken from the KPIs of the team's own review (:mod:`opsledger.review.kpis`)
and judged against the same targets its KPI section judges them by, so every cell can be
checked by hand in the team's report. A figure that cannot be computed carries the reason
its KPI gives, never a zero.

Figures:

- SLOs met: ``slos_met`` of ``slos_evaluated``, and the SLOs defined for the team's services
  that could not be evaluated.
- Error budget left: ``error_budget_remaining_min`` (the lowest remaining budget among the
  team's SLOs) and ``error_budgets_exhausted``.
- Incidents: ``incidents_per_month`` (the 30 days to the evaluation instant) and how many of
  them the incident policy calls major.
- Overdue postmortem action items: ``action_items_overdue`` (of ``action_items_open``).
- Vulnerabilities past SLA: ``vulnerabilities_overdue``.
- Spend against target: the month's spend of the team's services with a cost target (the
  forecast while the month is partial) against the sum of their targets: ``cost_vs_target``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsledger.model.status import Skipped
from opsledger.render.sections import Status
from opsledger.review.kpis import CostFigures, KpiGap, KpiSet, SkippedKpi, format_value

# The figures in the scorecard's column order: key, title.
FIGURES: tuple[tuple[str, str], ...] = (
    ("slos", "SLOs met"),
    ("error_budget", "Error budget left"),
    ("incidents", "Incidents (30 days)"),
    ("action_items", "Overdue postmortem action items"),
    ("vulnerabilities", "Vulnerabilities past SLA"),
    ("spend", "Spend against target"),
)
_TITLES = dict(FIGURES)
# The order teams are listed in: the most figures failing first, then warning, then not
# computed, then by name.
ORDER_NOTE = ("Teams most in need of attention first: the most figures off target, then "
              "the most warnings, then the most figures not computed; then by name.")
_SEVERITY = (Status.ERROR, Status.FAIL, Status.WARN, Status.PASS, Status.SKIPPED)

FigureValue = float | int | str | bool | None


@dataclass(frozen=True)
class Figure:
    """One cell of the scorecard: the value as shown, its status, and where it comes from."""

    key: str
    status: Status
    text: str
    values: Mapping[str, FigureValue] = field(default_factory=dict)
    kpis: tuple[str, ...] = ()  # the KPIs of the team's review it is read from
    reason: str = ""  # why it could not be computed (status SKIPPED)

    @property
    def title(self) -> str:
        return _TITLES[self.key]

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "status": self.status.value,
                "text": self.text, "values": dict(self.values), "kpis": list(self.kpis),
                "reason": self.reason or None}


@dataclass(frozen=True)
class TeamCard:
    """One team's row: its services, its figures and where its review was written."""

    team: str
    services: tuple[str, ...]
    figures: tuple[Figure, ...]
    review: str  # the folder of the team's review of the month, relative to the workspace

    @property
    def status(self) -> Status:
        """Return the team's status: its worst figure's (not computed only if all are)."""
        found = {f.status for f in self.figures}
        return next((s for s in _SEVERITY if s in found), Status.SKIPPED)

    def count(self, status: Status) -> int:
        return sum(1 for f in self.figures if f.status is status)

    @property
    def attention(self) -> tuple[int, int, int, str]:
        """Return the key teams are sorted by, the most in need of attention first."""
        return (-(self.count(Status.FAIL) + self.count(Status.ERROR)),
                -self.count(Status.WARN), -self.count(Status.SKIPPED), self.team)

    def to_json(self) -> dict[str, Any]:
        return {"team": self.team, "services": list(self.services),
                "status": self.status.value, "review": self.review,
                "figures": [f.to_json() for f in self.figures]}


@dataclass(frozen=True)
class Scorecard:
    """Every team of a month, the most in need of attention first."""

    organisation: str
    month: str
    evaluated_at: datetime
    cards: tuple[TeamCard, ...]
    without_team: tuple[str, ...] = ()  # services that belong to no team
    major_severities: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"organisation": self.organisation, "month": self.month,
                "evaluated_at": self.evaluated_at.isoformat(), "order": ORDER_NOTE,
                "major_severities": list(self.major_severities),
                "services_without_team": list(self.without_team),
                "teams": [card.to_json() for card in self.cards]}


def scorecard(organisation: str, month: str, evaluated_at: datetime,
              cards: Sequence[TeamCard], without_team: Sequence[str] = (),
              major_severities: Sequence[str] = ()) -> Scorecard:
    """Return the scorecard with its teams in order of attention."""
    return Scorecard(organisation, month, evaluated_at,
                     tuple(sorted(cards, key=lambda c: c.attention)),
                     tuple(sorted(without_team)), tuple(major_severities))


def _judged(gaps: Mapping[str, KpiGap], name: str) -> Status | None:
    """Return FAIL/PASS as the KPI section judges ``name`` against its target (None: none)."""
    gap = gaps.get(name)
    if gap is None or gap.met is None:
        return None
    return Status.PASS if gap.met else Status.FAIL


def _not_computed(key: str, reason: str, kpis: tuple[str, ...]) -> Figure:
    return Figure(key, Status.SKIPPED, f"not computed: {reason}", {}, kpis, reason)


def _values(kpis: KpiSet, names: tuple[str, ...]) -> list[float] | str:
    """Return the values of ``names``, or the reason the first one not computed gives."""
    found = []
    for name in names:
        result = kpis.results.get(name)
        if result is None:
            return f"no KPI {name}"
        if isinstance(result, SkippedKpi):
            return result.reason
        found.append(result.value)
    return found


def _count(value: float) -> int:
    return round(value)


def slo_figure(kpis: KpiSet, gaps: Mapping[str, KpiGap], defined: int | Skipped) -> Figure:
    """Return SLOs met of those evaluated, with the defined ones that could not be."""
    names = ("slos_met", "slos_evaluated")
    found = _values(kpis, names)
    if isinstance(found, str):
        return _not_computed("slos", found, names)
    met, evaluated = (_count(v) for v in found)
    values: dict[str, FigureValue] = {"met": met, "evaluated": evaluated, "defined": None}
    text = f"{met} of {evaluated} met"
    if isinstance(defined, int):
        values["defined"] = defined
        if defined > evaluated:
            text += f"; {defined - evaluated} of {defined} not evaluated"
    return Figure("slos", _judged(gaps, "slos_met_share") or Status.PASS, text, values, names)


def budget_figure(kpis: KpiSet, gaps: Mapping[str, KpiGap]) -> Figure:
    """Return the lowest error budget left among the team's SLOs and how many are spent."""
    names = ("error_budget_remaining_min", "error_budgets_exhausted")
    found = _values(kpis, names)
    if isinstance(found, str):
        return _not_computed("error_budget", found, names)
    lowest, exhausted = found[0], _count(found[1])
    status = _judged(gaps, names[0]) or Status.PASS
    if exhausted > 0:  # the error budget policy freezes changes once a budget is spent
        status = Status.FAIL
    return Figure("error_budget", status,
                  f"lowest {format_value(lowest, 'ratio')}; {exhausted} exhausted",
                  {"lowest_remaining": lowest, "exhausted": exhausted}, names)


def incident_figure(kpis: KpiSet, gaps: Mapping[str, KpiGap],
                    major: int | Skipped) -> Figure:
    """Return the incidents of the 30 days and how many were major; a major one warns."""
    names = ("incidents_per_month",)
    found = _values(kpis, names)
    if isinstance(found, str):
        return _not_computed("incidents", found, names)
    count = _count(found[0])
    values: dict[str, FigureValue] = {"count": count, "major": None}
    text = f"{count}"
    status = _judged(gaps, names[0]) or Status.PASS
    if isinstance(major, Skipped):
        text += f" (major not counted: {major.reason})"
    else:
        values["major"] = major
        text += f" ({major} major)"
        if major and status is Status.PASS:
            status = Status.WARN
    return Figure("incidents", status, text, values, names)


def action_item_figure(kpis: KpiSet, gaps: Mapping[str, KpiGap]) -> Figure:
    """Return the postmortem action items past their due date, of those open."""
    names = ("action_items_overdue", "action_items_open")
    found = _values(kpis, names)
    if isinstance(found, str):
        return _not_computed("action_items", found, names)
    overdue, open_items = (_count(v) for v in found)
    return Figure("action_items", _judged(gaps, names[0]) or Status.PASS,
                  f"{overdue} ({open_items} open)",
                  {"overdue": overdue, "open": open_items}, names)


def vulnerability_figure(kpis: KpiSet, gaps: Mapping[str, KpiGap]) -> Figure:
    """Return the open findings past their SLA due date, with the critical ones open."""
    names = ("vulnerabilities_overdue", "vulnerabilities_critical")
    found = _values(kpis, names)
    if isinstance(found, str):
        return _not_computed("vulnerabilities", found, names)
    overdue, critical = (_count(v) for v in found)
    return Figure("vulnerabilities", _judged(gaps, names[0]) or Status.PASS,
                  f"{overdue} ({critical} critical open)",
                  {"overdue": overdue, "critical": critical}, names)


def spend_figure(kpis: KpiSet, gaps: Mapping[str, KpiGap],
                 cost: CostFigures | Skipped) -> Figure:
    """Return the spend of the team's targeted services against the sum of their targets;
    a service over its own target warns."""
    names = ("cost_vs_target",)
    found = _values(kpis, names)
    if isinstance(found, str):
        return _not_computed("spend", found, names)
    if isinstance(cost, Skipped):
        return _not_computed("spend", cost.reason, names)
    ratio = found[0]
    spend = sum(s for _, _, s in cost.targeted)
    target = sum(t for _, t, _ in cost.targeted)
    over = sum(1 for _, t, s in cost.targeted if s > t)
    partial = (cost.days is not None and cost.days_in_month is not None
               and cost.days < cost.days_in_month)
    text = (f"{spend:,.0f} of {target:,.0f} {cost.currency} "
            f"({format_value(ratio, 'ratio')})")
    if partial:
        text += (f", forecast for the whole month ({cost.days} of {cost.days_in_month} "
                 "days so far)")
    if over:
        text += f"; {over} service(s) over their own target"
    status = _judged(gaps, names[0]) or Status.PASS
    if over and status is Status.PASS:
        status = Status.WARN
    return Figure("spend", status, text, {
        "spend": spend, "target": target, "ratio": ratio, "currency": cost.currency,
        "month": cost.month, "services_with_target": len(cost.targeted),
        "services_over_target": over, "forecast": partial,
        "days": cost.days, "days_in_month": cost.days_in_month,
    }, names)


def team_figures(kpis: KpiSet, gaps: Mapping[str, KpiGap], slos_defined: int | Skipped,
                 major: int | Skipped, cost: CostFigures | Skipped) -> tuple[Figure, ...]:
    """Return a team's figures in column order, from its review's KPIs and their gaps."""
    return (
        slo_figure(kpis, gaps, slos_defined),
        budget_figure(kpis, gaps),
        incident_figure(kpis, gaps, major),
        action_item_figure(kpis, gaps),
        vulnerability_figure(kpis, gaps),
        spend_figure(kpis, gaps, cost),
    )
