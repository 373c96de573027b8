"""Grafana dashboards over the recording rules that ``opsledger slo rules`` writes.

One dashboard per SLO with a Prometheus SLI (budget remaining, SLI, burn rate by window,
alert state, the SLO's info labels) and one overview of every such SLO, grouped by the team
that owns its service and sorted by error budget remaining. Every query reads only series
the generated rules record (Sloth's names: ``slo:sli_error:ratio_rate<window>``,
``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:period_burn_rate:ratio``,
``slo:current_burn_rate:ratio``, ``slo:period_error_budget_remaining:ratio``, the info
metric) plus ``ALERTS`` for the alerts the rules define, so the dashboards work wherever the
rule file is loaded. What to chart is decided here; :mod:`opsledger.slo.grafana_panels`
turns it into Grafana's dashboard JSON with the Grafana Foundation SDK.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from opsledger.core.inputs import Context
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.model.slo import Slo
from opsledger.slo.alerting import AlertSeverity, workbook_policy
from opsledger.slo.export import service_teams, team_of
from opsledger.slo.objectives import AT_RISK_BUDGET_LEFT
from opsledger.slo.prometheus_rules import RuleTarget, rule_groups, target_for

DASHBOARDS_FOLDER = Path("grafana")  # under the p09 evidence folder
OVERVIEW_FILE = "slo-overview.json"
TAG = "opsledger-slo"
NO_TEAM = "no team known"
# Columns of the overview tables: the burn-rate lookbacks shown when every SLO records them.
OVERVIEW_BURN_WINDOWS = ("1h", "6h", "1d", "3d")
_SLOTH_KEYS = "sloth_id, sloth_service, sloth_slo"


@dataclass(frozen=True)
class SloSeries:
    """What the generated rules record for one SLO, as its dashboards read it."""

    sloth_id: str
    service: str
    slo: str
    title: str
    description: str
    objective: float
    period: str  # the SLO window as a recording label: "30d"
    windows: tuple[str, ...]  # the shorter windows recorded, shortest first: "5m", "30m"...
    alerts: tuple[str, ...]  # alert names the rules define (Sloth: one name for both)
    info_metric: str
    team: str | None = None
    # (burn rate, severity) of each alert condition the rules keep, lowest rate first
    alert_burn_rates: tuple[tuple[float, AlertSeverity], ...] = ()

    @property
    def selector(self) -> str:
        return (
            f"{{sloth_id={promql_string(self.sloth_id)}, "
            f"sloth_service={promql_string(self.service)}, sloth_slo={promql_string(self.slo)}}}"
        )

    @property
    def uid(self) -> str:
        return dashboard_uid(f"slo-{self.sloth_id}")


def promql_string(value: str) -> str:
    """Return ``value`` as a double-quoted PromQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def promql_alternatives(values: Sequence[str]) -> str:
    """Return a PromQL regex string literal matching exactly one of ``values`` (Prometheus
    anchors label regexes at both ends)."""
    return promql_string("|".join(_RE2_SPECIAL.sub(r"\\\1", v) for v in values))


_UID_TEXT = re.compile(r"[^A-Za-z0-9_-]+")
UID_LENGTH = 40  # Grafana's limit


def dashboard_uid(name: str) -> str:
    """Return a Grafana uid for ``name``: ``opsledger-<name>``, or a digest-suffixed form when
    the name holds other characters or is too long, so different names get different uids."""
    uid = f"opsledger-{name}"
    if _UID_TEXT.search(uid) is None and len(uid) <= UID_LENGTH:
        return uid
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{_UID_TEXT.sub('-', uid)[: UID_LENGTH - 11]}-{digest}"


def slo_series(slo: Slo, target: RuleTarget, team: str | None) -> SloSeries:
    """Return what the rules written for ``target`` record, read from the rules themselves."""
    policy = workbook_policy(target.window_days)
    groups = rule_groups(target, policy)
    rules = [rule for group in groups for rule in group["rules"]]
    alerts = tuple(dict.fromkeys(rule["alert"] for rule in rules if "alert" in rule))
    period = f"{target.window_days}d"
    windows = tuple(
        rule["labels"]["sloth_window"]
        for rule in rules
        if rule.get("record", "").startswith("slo:sli_error:ratio_rate")
        and rule["labels"]["sloth_window"] != period
    )
    severities = {rule["labels"].get("sloth_severity") for rule in rules if "alert" in rule}
    burn_rates = sorted({(c.burn_rate, c.severity) for c in policy.conditions
                         if c.severity.value in severities})
    return SloSeries(
        sloth_id=target.sloth_id,
        service=target.service,
        slo=target.slo,
        title=slo.display_name or f"{target.service} {target.slo}",
        description=slo.description,
        objective=target.objective,
        period=period,
        windows=windows,
        alerts=alerts,
        info_metric=target.options.info_metric,
        team=team,
        alert_burn_rates=tuple(burn_rates),
    )


# --- what to chart ------------------------------------------------------------------------


class PanelKind(StrEnum):
    STAT = "stat"
    TIMESERIES = "timeseries"
    TABLE = "table"
    BAR_GAUGE = "bargauge"
    STATE_TIMELINE = "state-timeline"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False  # one value now (stats, tables) rather than a range
    column: str = ""  # the table column the query's value fills
    unit: str = ""  # the column's unit (tables)


@dataclass(frozen=True)
class PanelSpec:
    kind: PanelKind
    title: str
    queries: tuple[Query, ...]
    width: int
    height: int
    description: str = ""
    unit: str = ""
    decimals: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    # (value, colour) steps, the first with value None (from minus infinity)
    thresholds: tuple[tuple[float | None, str], ...] = ()
    threshold_lines: bool = False  # timeseries: draw the thresholds as dashed lines
    sort_by: str = ""  # table: the column to sort by, ascending
    no_value: str = ""


@dataclass(frozen=True)
class RowSpec:
    title: str
    panels: tuple[PanelSpec, ...]


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[RowSpec, ...]
    tags: tuple[str, ...] = (TAG,)
    time_from: str = "now-7d"


BUDGET_STEPS: tuple[tuple[float | None, str], ...] = (
    (None, "red"),
    (0.0, "yellow"),
    (AT_RISK_BUDGET_LEFT, "green"),
)


def _burn_steps(series: SloSeries) -> tuple[tuple[float | None, str], ...]:
    """Return a step at each alert condition's burn rate: yellow for tickets, red for pages."""
    colour = {AlertSeverity.PAGE: "red", AlertSeverity.TICKET: "yellow"}
    return ((None, "green"), *((rate, colour[severity])
                               for rate, severity in series.alert_burn_rates))


def _burn_rate_expr(series: SloSeries, window: str) -> str:
    sel = series.selector
    return (
        f"slo:sli_error:ratio_rate{window}{sel}\n/ on({_SLOTH_KEYS}) group_left\n"
        f"slo:error_budget:ratio{sel}"
    )


def _alerts_selector(series: Sequence[SloSeries], firing: bool) -> str:
    names = sorted({name for s in series for name in s.alerts})
    ids = sorted(s.sloth_id for s in series)
    id_match = f"sloth_id={promql_string(ids[0])}" if len(ids) == 1 else (
        f"sloth_id=~{promql_alternatives(ids)}"
    )
    name_match = f"alertname={promql_string(names[0])}" if len(names) == 1 else (
        f"alertname=~{promql_alternatives(names)}"
    )
    state = ', alertstate="firing"' if firing else ""
    return f"ALERTS{{{name_match}, {id_match}{state}}}"


def slo_dashboard(series: SloSeries) -> DashboardSpec:
    """Return the dashboard of one SLO."""
    sel = series.selector
    short = [w for w in ("5m", "1h") if w in series.windows]
    stats = [
        PanelSpec(PanelKind.STAT, "Error budget remaining",
                  (Query(f"slo:period_error_budget_remaining:ratio{sel}", instant=True),),
                  4, 5, f"Share of the {series.period} error budget left (1 = untouched).",
                  unit="percentunit", decimals=1, thresholds=BUDGET_STEPS),
        PanelSpec(PanelKind.STAT, f"SLI over {series.period}",
                  (Query(f"1 - slo:sli_error:ratio_rate{series.period}{sel}", instant=True),),
                  4, 5, "Good events over valid events in the SLO window.",
                  unit="percentunit", decimals=3,
                  thresholds=((None, "red"), (series.objective, "green"))),
        PanelSpec(PanelKind.STAT, "Objective",
                  (Query(f"slo:objective:ratio{sel}", instant=True),), 4, 5,
                  unit="percentunit", decimals=3),
        PanelSpec(PanelKind.STAT, f"Burn rate over {series.period}",
                  (Query(f"slo:period_burn_rate:ratio{sel}", instant=True),), 4, 5,
                  "1 spends exactly the whole budget over the window.", decimals=2,
                  thresholds=((None, "green"), (1.0, "red"))),
        PanelSpec(PanelKind.STAT, "Burn rate now (5m)",
                  (Query(f"slo:current_burn_rate:ratio{sel}", instant=True),), 4, 5,
                  decimals=2, thresholds=_burn_steps(series)),
    ]
    if series.alerts:
        stats.append(PanelSpec(
            PanelKind.STAT, "Alerts firing",
            (Query(f"count({_alerts_selector([series], firing=True)}) or vector(0)",
                   instant=True),),
            4, 5, ", ".join(series.alerts), decimals=0,
            thresholds=((None, "green"), (1.0, "red"))))
    burn = PanelSpec(
        PanelKind.TIMESERIES, "Burn rate by window",
        tuple(Query(_burn_rate_expr(series, w), w) for w in (*series.windows, series.period)),
        24, 9, "Error ratio over each window divided by the error budget; the dashed lines "
        "are the burn rates of the alert conditions (yellow: ticket, red: page).",
        decimals=2, minimum=0, thresholds=_burn_steps(series), threshold_lines=True)
    sli = PanelSpec(
        PanelKind.TIMESERIES, "SLI",
        (*(Query(f"1 - slo:sli_error:ratio_rate{w}{sel}", f"SLI {w}") for w in short),
         Query(f"1 - slo:sli_error:ratio_rate{series.period}{sel}", f"SLI {series.period}"),
         Query(f"slo:objective:ratio{sel}", "objective")),
        12, 8, unit="percentunit", decimals=3)
    budget = PanelSpec(
        PanelKind.TIMESERIES, "Error budget remaining",
        (Query(f"slo:period_error_budget_remaining:ratio{sel}", "remaining"),),
        12, 8, unit="percentunit", decimals=1, thresholds=BUDGET_STEPS, threshold_lines=True)
    history: list[PanelSpec] = [sli, budget]
    if series.alerts:
        history.append(PanelSpec(
            PanelKind.STATE_TIMELINE, "Alert state",
            (Query(f"max by (alertname, sloth_severity, alertstate) "
                   f"({_alerts_selector([series], firing=False)})",
                   "{{alertname}} {{sloth_severity}} {{alertstate}}"),),
            24, 6, "Pending and firing states of the SLO's burn-rate alerts.",
            no_value="no alert pending or firing"))
    info = PanelSpec(
        PanelKind.TABLE, "SLO",
        (Query(f"{series.info_metric}{sel}", instant=True),), 24, 4,
        "The labels of the SLO's info series (objective, spec, generator).")
    return DashboardSpec(
        uid=series.uid,
        title=f"SLO / {series.title}",
        description=series.description or f"SLO {series.service}/{series.slo}",
        rows=(RowSpec("Now", tuple(stats)), RowSpec("Burn rates", (burn,)),
              RowSpec("History", tuple(history)), RowSpec("Definition", (info,))),
        tags=(TAG, f"service:{series.service}"),
    )


def _by_slo(expr: str) -> str:
    return f"max by (sloth_service, sloth_slo) ({expr})"


def _ids_selector(series: Sequence[SloSeries]) -> str:
    return f"{{sloth_id=~{promql_alternatives(sorted(s.sloth_id for s in series))}}}"


def _team_panels(team: str, members: Sequence[SloSeries]) -> tuple[PanelSpec, ...]:
    sel = _ids_selector(members)
    common = set.intersection(*(set(m.windows) for m in members))
    windows = [w for w in OVERVIEW_BURN_WINDOWS if w in common]
    # The period burn rate keeps the sloth_window label of its ratio; the budget has none.
    period_error = (
        f"slo:period_burn_rate:ratio{sel} * on({_SLOTH_KEYS}) slo:error_budget:ratio{sel}"
    )
    queries = [
        Query(_by_slo(f"slo:period_error_budget_remaining:ratio{sel}"), instant=True,
              column="budget remaining", unit="percentunit"),
        Query(f"1 - {_by_slo(period_error)}", instant=True, column="SLI (window)",
              unit="percentunit"),
        Query(_by_slo(f"slo:objective:ratio{sel}"), instant=True, column="objective",
              unit="percentunit"),
        *(Query(f"{_by_slo(f'slo:sli_error:ratio_rate{w}{sel}')}\n/ on(sloth_service, "
                f"sloth_slo)\n{_by_slo(f'slo:error_budget:ratio{sel}')}", instant=True,
                column=f"burn {w}") for w in windows),
    ]
    if any(m.alerts for m in members):
        queries.append(Query(
            f"count by (sloth_service, sloth_slo) "
            f"({_alerts_selector([m for m in members if m.alerts], firing=True)})",
            instant=True, column="alerts firing"))
    table = PanelSpec(PanelKind.TABLE, f"{team}: SLOs by error budget remaining",
                      tuple(queries), 16, 3 + 2 * max(len(members), 2),
                      "One row per SLO, least budget first.", sort_by="budget remaining")
    bars = PanelSpec(
        PanelKind.BAR_GAUGE, f"{team}: error budget remaining",
        (Query(f"sort({_by_slo(f'slo:period_error_budget_remaining:ratio{sel}')})",
               "{{sloth_service}} / {{sloth_slo}}", instant=True),),
        8, 3 + 2 * max(len(members), 2), unit="percentunit", decimals=1,
        minimum=0, maximum=1, thresholds=BUDGET_STEPS)
    return table, bars


def overview_dashboard(series: Sequence[SloSeries]) -> DashboardSpec:
    """Return the overview: counts over every SLO, then one row per team."""
    sel = _ids_selector(series)
    stats = [
        PanelSpec(PanelKind.STAT, "SLOs", (Query(f"count(slo:objective:ratio{sel})",
                                                 instant=True),), 6, 4, decimals=0),
        PanelSpec(PanelKind.STAT, "Error budget exhausted",
                  (Query(f"count(slo:period_error_budget_remaining:ratio{sel} <= 0) or vector(0)",
                         instant=True),), 6, 4, decimals=0,
                  thresholds=((None, "green"), (1.0, "red"))),
        PanelSpec(PanelKind.STAT, f"Under {AT_RISK_BUDGET_LEFT:.0%} of budget left",
                  (Query(f"count(slo:period_error_budget_remaining:ratio{sel} > 0 < "
                         f"{AT_RISK_BUDGET_LEFT:g}) or vector(0)", instant=True),), 6, 4,
                  decimals=0, thresholds=((None, "green"), (1.0, "yellow"))),
    ]
    with_alerts = [s for s in series if s.alerts]
    if with_alerts:
        stats.append(PanelSpec(
            PanelKind.STAT, "SLO alerts firing",
            (Query(f"count({_alerts_selector(with_alerts, firing=True)}) or vector(0)",
                   instant=True),), 6, 4, decimals=0, thresholds=((None, "green"), (1.0, "red"))))
    teams: dict[str, list[SloSeries]] = {}
    for item in series:
        teams.setdefault(item.team or NO_TEAM, []).append(item)
    order = sorted(teams, key=lambda t: (t == NO_TEAM, t))
    rows = [RowSpec("All SLOs", tuple(stats))]
    rows += [
        RowSpec(f"{team} ({len(teams[team])} SLO{'s' if len(teams[team]) > 1 else ''})",
                _team_panels(team, teams[team]))
        for team in order
    ]
    return DashboardSpec(
        uid=dashboard_uid("slo-overview"),
        title="SLO overview",
        description="Every SLO with a Prometheus SLI, by team, least error budget first.",
        rows=tuple(rows),
        time_from="now-24h",
    )


# --- the workspace ------------------------------------------------------------------------


@dataclass(frozen=True)
class DashboardFiles:
    """The dashboards written, the SLOs not charted and why, and the problems met."""

    folder: Path
    written: tuple[Path, ...]
    not_charted: tuple[tuple[str, str], ...]  # (SLO key, why)
    problems: tuple[Problem, ...] = field(default_factory=tuple)


def workspace_series(
    ctx: Context, definitions: ReadResult[Slo]
) -> tuple[list[SloSeries], list[tuple[str, str]], list[Problem]]:
    """Return what the rules record per SLO with a Prometheus SLI, the SLOs without (and
    why), and the problems of the definitions, in the order ``slo rules`` writes them."""
    problems = list(definitions.problems)
    teams = service_teams(ctx)
    found: list[SloSeries] = []
    skipped: list[tuple[str, str]] = []
    for slo in sorted(definitions.records, key=lambda s: (s.service, s.name)):
        target = target_for(slo)
        if not isinstance(target, RuleTarget):
            skipped.append((slo.key, target.reason))
            if target.applies:
                problems.append(_warning(slo, f"no dashboard for SLO {slo.key}: {target.reason}"))
            continue
        if target.sloth_id in {s.sloth_id for s in found}:
            # The rule file keeps the first SLO with an id; so do the dashboards.
            reason = "an SLO with the same id comes first"
            skipped.append((slo.key, reason))
            problems.append(_warning(slo, f"no dashboard for SLO {slo.key}: {reason}"))
            continue
        found.append(slo_series(slo, target, team_of(slo, teams)))
    return found, skipped, problems


def _warning(slo: Slo, message: str) -> Problem:
    return Problem(slo.source_path, f"line {slo.source_line}" if slo.source_line else "",
                   message, level=Level.WARNING)


def slo_file_name(series: SloSeries) -> str:
    return f"{series.uid}.json"
