"""A team's or one service's view of cost and capacity: which charge lines, utilisation
samples and request counts it holds, what it leaves out, and its spend against target.

The cost exports are read once, whole: a FOCUS line is not a record the run's inputs can
place (a file's lines are one table), so the view filters the table itself. A charge line is
placed by its service tag (through ``cost_mapping``), else by its team tag:

- a line of one of the view's services is in the view; in a team's view, so is a line whose
  only tag is the team's (spend the team owns but has not given a service);
- a line of another service, or (team view) tagged only with another team, belongs to others;
- a line whose tags name neither cannot be placed. A service tag naming a service the
  workspace does not list (no ``services`` entry, no catalog component) says nothing about
  whose it is, so such a line is placed by its team tag alone.

Both kinds left out are counted and summed for the month assessed, so a view says how much
spend it does not show. Cost targets are keyed by service (``cost_targets`` names services,
checked like every service name), so a view has the targets of its services.

Reads that do not depend on the view (the bill, the utilisation series, request counts) are
computed once for the run's whole inputs and shared by every view of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeVar

import numpy as np
import pandas as pd

from opsledger.core.scope import Scope
from opsledger.cost.spend import RequestCounts, TargetStatusRow, month_bounds
from opsledger.model.cost import Allocation

T = TypeVar("T")
IN_VIEW, OTHER, UNPLACED = 1, 0, -1
SpendStatus = Literal["over", "at-risk", "no-forecast", "under", "no-target"]

def _where(scope: Scope, service: str | None, team: str | None) -> int:
    verdict = scope.covers(service, team or None)
    return IN_VIEW if verdict else UNPLACED if verdict is None else OTHER


def line_placement(scope: Scope, frame: pd.DataFrame) -> np.ndarray:
    """Return, for each charge line of ``frame``, ``IN_VIEW``, ``OTHER`` or ``UNPLACED``.

    Each distinct (service, team) pair is placed once: a bill repeats a few hundred pairs on
    its many lines."""
    if scope.whole:
        return np.full(len(frame), IN_VIEW, dtype=np.int8)
    service_codes, services = pd.factorize(frame["service"])
    team_codes, teams = pd.factorize(frame["team"])
    width = len(teams) + 1
    pairs = (service_codes.astype(np.int64) + 1) * width + (team_codes + 1)
    keys, inverse = np.unique(pairs, return_inverse=True)
    verdicts = np.empty(len(keys), dtype=np.int8)
    for index, key in enumerate(keys):
        service, team = divmod(int(key), width)
        verdicts[index] = _where(scope, str(services[service - 1]) if service else None,
                                 str(teams[team - 1]) if team else None)
    placed: np.ndarray = verdicts[inverse.reshape(-1)]
    return placed


@dataclass(frozen=True)
class LeftOutSpend:
    """The spend of the month assessed that a view leaves out: lines of other services or
    teams, and lines whose tags name no service or team the workspace knows. ``lines``
    counts the export's rows (FOCUS rows summed into one charge line count one each)."""

    month: str
    currency: str
    complete: bool  # the month is whole; else counted up to the last day with data
    other: float
    other_lines: int
    unplaced: float
    unplaced_lines: int

    @property
    def total(self) -> float:
        return self.other + self.unplaced

    def to_json(self) -> dict[str, object]:
        return {"month": self.month, "currency": self.currency, "complete": self.complete,
                "other": {"spend": round(self.other, 2), "lines": self.other_lines},
                "unplaced": {"spend": round(self.unplaced, 2), "lines": self.unplaced_lines}}

    def line(self, scope: Scope) -> str:
        """Return what the view leaves out in one sentence ('' when it leaves out nothing):
        ``Not in this view, of 2026-11 spend: 9,876.00 USD on 40 lines of other teams;
        1,234.00 USD on 12 lines whose tags name no known service or team``."""
        parts = []
        if self.other_lines:
            parts.append(f"{self._money(self.other)} on {self.other_lines:,} "
                         f"line{'s' if self.other_lines != 1 else ''} of {others(scope)}")
        if self.unplaced_lines:
            named = "service" if scope.service else "service or team"
            parts.append(f"{self._money(self.unplaced)} on {self.unplaced_lines:,} "
                         f"line{'s' if self.unplaced_lines != 1 else ''} whose tags name no "
                         f"known {named}")
        if not parts:
            return ""
        to_date = "" if self.complete else " to date"
        return f"Not in this view, of {self.month} spend{to_date}: " + "; ".join(parts)

    def _money(self, value: float) -> str:
        return f"{value:,.2f}" + (f" {self.currency}" if self.currency else "")


def others(scope: Scope) -> str:
    """Return whose records a view leaves out: other teams' or other services'."""
    return "other services" if scope.service else "other teams"


def left_out_spend(frame: pd.DataFrame, placement: np.ndarray, currency: str, month: str,
                   data_through: date) -> LeftOutSpend:
    """Return the spend in ``currency`` of ``month`` up to ``data_through`` that
    ``placement`` (of ``frame``'s lines) leaves out of the view."""
    first, last = month_bounds(month)
    until = min(data_through, last)
    day = frame["day"]
    counted = ((day >= pd.Timestamp(first)) & (day <= pd.Timestamp(until))
               & frame["currency"].isin([currency, ""])).to_numpy()
    cost = frame["effective_cost"].to_numpy(dtype=float)
    rows = frame["rows"].to_numpy()
    other = counted & (placement == OTHER)
    unplaced = counted & (placement == UNPLACED)
    return LeftOutSpend(month, currency, data_through >= last,
                        float(np.nansum(cost[other])), int(rows[other].sum()),
                        float(np.nansum(cost[unplaced])), int(rows[unplaced].sum()))


def requests_in(scope: Scope, counts: RequestCounts) -> RequestCounts:
    """Return the request counts of the view's services."""
    if scope.whole:
        return counts
    return {key: value for key, value in counts.items() if scope.covers(key[0]) is True}


def allocations_in(scope: Scope, allocations: Iterable[Allocation]) -> list[Allocation]:
    """Return the OpenCost allocations in the view (by service, else by team)."""
    return [a for a in allocations
            if _where(scope, a.service, a.team) == IN_VIEW]


@dataclass(frozen=True)
class LeftOutSeries:
    """Utilisation series (service and resource) a view leaves out: of other services, and
    of services the workspace does not list (which no team can be said to own)."""

    other_series: int = 0
    other_samples: int = 0
    unplaced_series: int = 0
    unplaced_samples: int = 0

    def to_json(self) -> dict[str, object]:
        return {"other": {"series": self.other_series, "samples": self.other_samples},
                "unplaced": {"series": self.unplaced_series,
                             "samples": self.unplaced_samples}}

    def line(self, scope: Scope) -> str:
        """Return what the view leaves out in one sentence ('' when nothing)."""
        parts = []
        if self.other_series:
            parts.append(f"{self.other_series:,} utilisation series of {others(scope)}")
        if self.unplaced_series:
            parts.append(f"{self.unplaced_series:,} of services the workspace does not list")
        return ("Not in this view: " + "; ".join(parts)) if parts else ""


def samples_in(scope: Scope, samples: pd.DataFrame) -> tuple[pd.DataFrame, LeftOutSeries]:
    """Return the utilisation samples of the view's services and what it leaves out."""
    if scope.whole or samples.empty:
        return samples, LeftOutSeries()
    codes, services = pd.factorize(samples["service"])
    verdicts = np.array([_where(scope, str(s), None) for s in services] + [UNPLACED],
                        dtype=np.int8)
    placement = verdicts[codes]  # a missing service (code -1) takes the last: unplaced
    kept = samples[placement == IN_VIEW].reset_index(drop=True)
    counts = {}
    for verdict in (OTHER, UNPLACED):
        rows = samples[placement == verdict]
        series = len(rows[["service", "resource"]].drop_duplicates()) if len(rows) else 0
        counts[verdict] = (series, len(rows))
    return kept, LeftOutSeries(*counts[OTHER], *counts[UNPLACED])


@dataclass(frozen=True)
class SpendVsTarget:
    """A view's spend in the month assessed against the sum of its services' cost targets.

    Like is compared with like: ``target`` sums the targets of the services that have one
    (in the bill's currency) and ``targeted_forecast`` the whole-month forecasts of those same
    services; ``spend`` and ``forecast`` are every line of the view, services without a
    target and spend tagged only with the team included.
    """

    month: str
    currency: str
    coverage: str  # "complete month" or "month-to-date (N of M days)"
    spend: float
    forecast: float | None  # the view's whole month; its spend when complete
    target: float | None  # None: none of the view's services has a target
    targeted: tuple[str, ...]  # the services whose targets are summed
    targeted_spend: float
    targeted_forecast: float | None  # None when a summed service has no forecast
    over: tuple[str, ...]
    at_risk: tuple[str, ...]
    not_summed: tuple[str, ...] = ()  # targets in another currency than the bill's

    @property
    def status(self) -> SpendStatus:
        """Return the worst status of the view's targets ("no-target" without one)."""
        if self.over:
            return "over"
        if self.at_risk:
            return "at-risk"
        if self.target is None:
            return "no-target"
        return "no-forecast" if self.targeted_forecast is None else "under"

    @property
    def share(self) -> float | None:
        """Return the targeted services' forecast as a share of their summed target."""
        if self.target is None or self.targeted_forecast is None:
            return None
        return self.targeted_forecast / self.target

    def to_json(self) -> dict[str, object]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 2)

        return {"month": self.month, "currency": self.currency, "coverage": self.coverage,
                "spend": round(self.spend, 2), "forecast": rounded(self.forecast),
                "target": rounded(self.target), "targeted": list(self.targeted),
                "targeted_spend": round(self.targeted_spend, 2),
                "targeted_forecast": rounded(self.targeted_forecast),
                "share": None if self.share is None else round(self.share, 4),
                "status": self.status, "over": list(self.over), "at_risk": list(self.at_risk),
                "not_summed": list(self.not_summed)}

    def line(self) -> str:
        """Return the comparison in one sentence: ``2026-11 spend 12,994.38 USD (complete
        month); its 2 services with a target: spend 12,990.00 against 18,000.00 USD together;
        over target: payments-api``."""
        money = f" {self.currency}" if self.currency else ""
        complete = self.coverage == "complete month"
        text = f"{self.month} spend {self.spend:,.2f}{money}" + (
            " (complete month)" if complete else f", {self.coverage}")
        if not complete and self.forecast is not None:
            text += f", forecast {self.forecast:,.2f} for the whole month"
        if self.target is None:
            return text + "; no cost target for its services"
        amount = ("not forecast" if self.targeted_forecast is None
                  else f"{self.targeted_forecast:,.2f}")
        text += (f"; its {len(self.targeted)} service(s) with a target: "
                 f"{'spend' if complete else 'forecast'} {amount} against "
                 f"{self.target:,.2f}{money} together")
        if self.over:
            text += f"; over target: {', '.join(self.over)}"
        if self.at_risk:
            text += f"; at risk: {', '.join(self.at_risk)}"
        if self.not_summed:
            text += f"; targets in another currency, not summed: {', '.join(self.not_summed)}"
        return text


def spend_against_targets(month: str, currency: str, coverage: str, spend: float,
                    forecast: float | None, rows: Sequence[TargetStatusRow]) -> SpendVsTarget:
    """Return the view's spend and forecast beside the sum of its targets (``rows``, the
    target status of the view's services)."""
    summed = [r for r in rows if not currency or r.currency == currency]
    skipped = tuple(r.service for r in rows if currency and r.currency != currency)
    forecasts = [r.forecast for r in summed]
    return SpendVsTarget(
        month=month, currency=currency, coverage=coverage, spend=spend, forecast=forecast,
        target=sum(r.target for r in summed) if summed else None,
        targeted=tuple(r.service for r in summed),
        targeted_spend=sum(r.actual for r in summed),
        targeted_forecast=(sum(f for f in forecasts if f is not None)
                           if summed and all(f is not None for f in forecasts) else None),
        over=tuple(r.service for r in rows if r.status == "over"),
        at_risk=tuple(r.service for r in rows if r.status == "at-risk"),
        not_summed=skipped)


def targets_in(scope: Scope, targets: Mapping[str, T]) -> dict[str, T]:
    """Return the cost targets of the view's services (targets are keyed by service)."""
    if scope.whole:
        return dict(targets)
    return {name: target for name, target in targets.items() if scope.covers(name) is True}
