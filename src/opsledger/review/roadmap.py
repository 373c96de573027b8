"""``docs/roadmap/NEXT_PHASE.md``: the phase 2+ charter, and its summary section.

The charter gathers what the run computed into a plan people can approve: the KPI gaps
(KPIs against growth targets and SLO budgets), themes from the scored backlog, success
metrics with targets, the UX-debt clean-up plan, the experiments planned with their sample
sizes and durations, and a check of the plan's effort against the teams' capacity. It ends
with its approval status line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from opsledger.approvals.decisions import ApprovalState, approval_ledger, approval_state
from opsledger.approvals.digest import documents_digest
from opsledger.backlog.service import (
    UNASSIGNED,
    BacklogItem,
    CapacityCheck,
    Theme,
    capacity_check,
    effort_of,
    people_per_team,
    team_of_items,
    themes,
    ux_items,
    ux_wave,
    workspace_backlog,
)
from opsledger.core.config import Config, Role
from opsledger.core.errors import OpsledgerError
from opsledger.core.fileio import atomic_write_text
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.handover import CatalogService
from opsledger.render.sections import Section, Status, md_escape, md_table
from opsledger.review.kpi_results import kpi_trends, policy_targets, workspace_kpis
from opsledger.review.kpis import KpiGap, KpiSet, format_value, kpi_gaps
from opsledger.version import __version__

KEY, TITLE = "roadmap", "Roadmap: next phase"
# Who approves the charter: the procedure's "stakeholder approval" of the growth roadmap.
def charter_approvers(config: Config) -> tuple[Role, ...]:
    """Return the roles that approve the charter (the p09 roadmap step's approvers)."""
    return tuple(config.approvals.p09_roadmap)
THEME_ITEMS_LISTED = 3
PLANNED_STATUSES = ("planned", "running")
NO_UX = (
    "**No UX items in the backlog.** No open item's category, title or description mentions "
    "UX, usability, accessibility or the frontend, so there is nothing to schedule. If UX "
    "debt exists it is not tracked: record it in the tech-debt register (category `ux`) so "
    "the next charter can plan it."
)
# Words in a configured KPI review's metric that say it reviews this KPI.
REVIEW_WORDS: dict[str, tuple[str, ...]] = {
    "mttr_minutes": ("resolution", "mttr"),
    "mtta_minutes": ("acknowledge", "mtta"),
    "error_budget_remaining_min": ("error budget",),
    "slos_met_share": ("error budget", "slo"),
    "availability": ("availability", "error budget"),
    "cost_vs_target": ("cost",),
    "cost_month": ("cost",),
    "ticket_volume": ("ticket",),
    "incidents_per_month": ("incident",),
}


# The procedure step whose approvers decide on the charter, and the name it approves it by.
CHARTER_STEP = ("p09", "4-roadmap")
CHARTER_DOCUMENT = "@roadmap"


def charter_approval(ctx: Context) -> ApprovalState | None:
    """Return the approvers' decisions on the charter as it is now (None: no charter, or an
    approval log that fails verification)."""
    ws = ctx.workspace
    path = ws.root / ws.config.paths.roadmap
    if not path.exists():
        return None
    ledger = approval_ledger(ws.p09_evidence)
    if ledger.verify():
        return None
    digest = documents_digest({CHARTER_DOCUMENT: path})
    return approval_state(ledger, *CHARTER_STEP, charter_approvers(ws.config), digest)


@dataclass(frozen=True)
class PlanningCapacity:
    """Defaults of the planning capacity (``team_capacity`` in opsledger.yaml when present)."""

    days_per_person_per_month: float = 20.0
    people: dict[str, int] = field(default_factory=dict)  # team -> engineers
    roadmap_share: float = 0.5  # the rest goes to on-call, support and interrupts
    horizon_months: int = 3


def planning_capacity(config: Config) -> PlanningCapacity:
    """Return the configured planning capacity, or the defaults."""
    configured = getattr(config, "team_capacity", None)
    if configured is None:
        return PlanningCapacity()
    defaults = PlanningCapacity()
    return PlanningCapacity(
        float(getattr(configured, "days_per_person_per_month",
                      defaults.days_per_person_per_month)),
        dict(getattr(configured, "people", {}) or {}),
        float(getattr(configured, "roadmap_share", defaults.roadmap_share)),
        int(getattr(configured, "horizon_months", defaults.horizon_months)),
    )


@dataclass(frozen=True)
class ExperimentLine:
    name: str
    status: str
    hypothesis: str
    primary_metric: str
    effect: str
    per_variant: dict[str, int] | None
    daily_units: float | None
    traffic: str
    duration_days: int | None
    schedule: str  # fits / overruns the end date / why unknown
    reason: str = ""  # why the sample size is not computed


@dataclass(frozen=True)
class ExperimentPlans:
    lines: tuple[ExperimentLine, ...] = ()
    skipped: str = ""  # the whole part could not be computed


@dataclass(frozen=True)
class RoadmapView:
    kpis: KpiSet
    gaps: tuple[KpiGap, ...]
    themes: tuple[Theme, ...]
    ux: tuple[BacklogItem, ...]
    experiments: ExperimentPlans
    capacity: CapacityCheck
    trends: dict[str, Any]
    trend_note: str


def _service_teams(ctx: Context) -> dict[str, str]:
    teams = {s.name: s.owner for s in ctx.workspace.config.services if s.owner}
    for entry in _catalog(ctx):
        if entry.team:
            teams.setdefault(entry.name, entry.team)
    return teams


def _catalog(ctx: Context) -> list[CatalogService]:
    return [r for key in (InputKey.SERVICE_CATALOG, InputKey.BACKSTAGE)
            for r in ctx.inputs.records(key) if isinstance(r, CatalogService)]


def _capacity(ctx: Context, plan: list[Theme], items: list[BacklogItem]) -> CapacityCheck:
    settings = planning_capacity(ctx.workspace.config)
    item_teams = team_of_items(items, _service_teams(ctx))
    named: dict[str, list[str]] = {}
    for entry in _catalog(ctx):
        if entry.team and entry.owner:
            named.setdefault(entry.team, []).append(entry.owner)
    counted = people_per_team(items, item_teams, named)
    people = dict(counted)
    source = {team: "people named as owners in the backlog and catalog" for team in counted}
    for team, count in settings.people.items():
        people[team] = count
        source[team] = "team_capacity.people"
    return capacity_check(plan, item_teams, people, source,
                          settings.days_per_person_per_month, settings.roadmap_share,
                          settings.horizon_months)


def experiment_plans(ctx: Context) -> ExperimentPlans:
    """Return the sample size and duration of every planned or running experiment."""
    from opsledger.experiments.service import (
        SampleSize,
        plan_experiment,
        telemetry_daily_units,
        workspace_analyses,
        workspace_experiments,
    )

    try:
        read = workspace_experiments(ctx)
    except OpsledgerError as exc:
        return ExperimentPlans(skipped=f"experiments could not be read: {exc}")
    analyses = workspace_analyses(ctx)  # the sample sizes, computed beside the analyses
    lines = []
    for experiment in sorted(read.records, key=lambda e: e.definition.name):
        definition = experiment.definition
        if definition.status.value not in PLANNED_STATUSES:
            continue
        try:
            daily, traffic = telemetry_daily_units(ctx, experiment)
        except OpsledgerError as exc:
            daily, traffic = None, f"traffic not counted: {exc}"
        plan = plan_experiment(experiment, daily, traffic,
                               analyses.sample_sizes.get(definition.name))
        size = plan.sample_size
        mde = definition.minimum_detectable_effect
        effect = (f"{mde.value:.1%} relative" if mde.scale.value == "relative"
                  else f"{mde.value:g} absolute")
        if plan.duration_days is None:
            schedule = "unknown: no traffic figure" if isinstance(size, SampleSize) else \
                "unknown: no sample size"
        else:
            finish = definition.start + timedelta(days=plan.duration_days)
            schedule = (f"fits: enough units by {finish}" if finish <= definition.end
                        else f"overruns: needs until {finish}, ends {definition.end}")
        lines.append(ExperimentLine(
            definition.name, definition.status.value, definition.hypothesis,
            definition.primary_metric.name, effect,
            dict(size.per_variant) if isinstance(size, SampleSize) else None,
            daily, traffic, plan.duration_days, schedule,
            "" if isinstance(size, SampleSize) else size.reason,
        ))
    if not lines:
        found = len(read.records)
        return ExperimentPlans(skipped=(
            f"none of the {found} experiment(s) is planned or running" if found
            else f"no experiment definitions in {ctx.workspace.config.paths.experiments}/"))
    return ExperimentPlans(tuple(lines))


def _trends(ctx: Context) -> tuple[dict[str, Any], str]:
    try:
        found = kpi_trends(ctx)
    except OpsledgerError as exc:
        return {}, f"history unavailable: {exc}"
    compared = any(t.previous is not None for t in found.values())
    return found, "" if compared else "no earlier month recorded yet"


def roadmap_view(ctx: Context) -> RoadmapView:
    """Return everything the charter says (computed once per run)."""
    return ctx.once(_roadmap_view)


def _roadmap_view(ctx: Context) -> RoadmapView:
    kpis = workspace_kpis(ctx)
    backlog = workspace_backlog(ctx)
    open_items = backlog.open_items()
    plan = themes(open_items)
    found, note = _trends(ctx)
    return RoadmapView(
        kpis, tuple(kpi_gaps(kpis, policy_targets(ctx))), tuple(plan),
        tuple(ux_items(open_items)), experiment_plans(ctx),
        _capacity(ctx, plan, open_items), found, note,
    )


def approval_line(state: Any | None, approvers: tuple[Role, ...]) -> str:
    """Return the charter's approval status line from an approval state (or pending)."""
    roles = ", ".join(r.value for r in approvers)
    if state is None:
        return f"**Approval status:** pending — awaiting {roles}."
    if state.approved:
        who = "; ".join(f"{role.value} ({row.get('stakeholder', '')}, {row.get('time', '')})"
                        for role, row in state.decisions.items() if row)
        return f"**Approval status:** approved — {who}."
    refused = [f"{role.value} {row.get('decision', '')}"
               + (f" ({row['conditions']})" if row.get("conditions") else "")
               for role, row in state.refused]
    awaited = [role.value for role in state.awaited]
    parts = []
    if refused:
        parts.append("not approved: " + "; ".join(refused))
    if awaited:
        parts.append("awaiting " + ", ".join(awaited))
    return "**Approval status:** pending — " + "; ".join(parts) + "."


def _gap_text(gap: KpiGap) -> str:
    if gap.gap is None:
        return "n/a"
    if gap.unit == "ratio":
        return f"{gap.gap * 100:+.3f} pts"
    return format_value(gap.gap, gap.unit) if gap.unit != "count" else f"{gap.gap:+,.0f}"


def _gap_rows(gaps: tuple[KpiGap, ...]) -> list[list[object]]:
    return [[g.label, g.name, format_value(g.current, g.unit), format_value(g.target, g.unit),
             _gap_text(g), g.target_source,
             "met" if g.met else "shortfall" if g.met is False else f"not computed: {g.reason}"]
            for g in gaps]


def _kpi_gaps_part(view: RoadmapView) -> list[str]:
    shortfalls = [g for g in view.gaps if g.met is False]
    unknown = [g for g in view.gaps if g.met is None]
    met = [g for g in view.gaps if g.met]
    lines = ["## KPI gaps", "",
             f"{len(view.gaps)} targeted KPI(s): {len(shortfalls)} short of target, "
             f"{len(met)} met, {len(unknown)} not computable. Targets come from "
             "`growth_targets`, the SLO objectives and the SLA policies in opsledger.yaml.", ""]
    shown = [*shortfalls, *unknown]
    if shown:
        lines.append(md_table(["KPI", "Name", "Current", "Target", "Gap", "Target from",
                               "Status"], _gap_rows(tuple(shown)), "llrrrll"))
    else:
        lines.append("Every targeted KPI meets its target.\n")
    if met:
        lines += ["Met: " + ", ".join(md_escape(f"{g.label} ({format_value(g.current, g.unit)})")
                                      for g in met) + ".", ""]
    return lines


def _themes_part(view: RoadmapView) -> list[str]:
    lines = ["## Themes", ""]
    if not view.themes:
        return [*lines, "The maintenance backlog has no open items: no theme to plan.", ""]
    shortfall = {g.name for g in view.gaps if g.met is False}
    lines += [f"{sum(len(t.items) for t in view.themes)} open backlog item(s) in "
              f"{len(view.themes)} theme(s), ordered by their best WSJF (cost of delay ÷ job "
              "size). Effort in engineer-days; items without an estimate count 3 days.", ""]
    rows = []
    for t in view.themes:
        closes = [k for k in t.kpis if k in shortfall]
        rows.append([t.name, len(t.items), t.high_or_critical,
                     f"{t.effort_days:g}" + (f" ({t.assumed} assumed)" if t.assumed else ""),
                     f"{t.top.id} ({t.top.scores.wsjf:.2f})",
                     ", ".join(closes) or "—"])
    lines.append(md_table(["Theme", "Items", "High/critical", "Effort (days)",
                           "Top item (WSJF)", "Closes KPI gaps"], rows, "lrrrll"))
    for t in view.themes:
        lines.append(f"**{md_escape(t.name)}** — "
                     + "; ".join(md_escape(f"{i.id} {i.title} (WSJF {i.scores.wsjf:.2f}, "
                                           f"{i.priority})")
                                 for i in t.items[:THEME_ITEMS_LISTED])
                     + (f"; and {len(t.items) - THEME_ITEMS_LISTED} more"
                        if len(t.items) > THEME_ITEMS_LISTED else ""))
        lines.append("")
    return lines


def _trend_text(view: RoadmapView, name: str) -> str:
    found = view.trends.get(name)
    if found is None or found.latest is None:
        return "—"
    if found.previous is None or found.verdict is None:
        return "no record of the month before"
    return f"{found.verdict.value} than {found.previous.month}"


def _metrics_part(view: RoadmapView, config: Config) -> list[str]:
    lines = ["## Success metrics", "",
             "What the phase is judged by: each metric's target, where the target comes from, "
             "and how it moved since the previous recorded month.", ""]
    rows = []
    for g in view.gaps:
        if ":" in g.name and g.met:
            continue  # a service already within its objective is not a phase goal
        words = REVIEW_WORDS.get(g.name.split(":")[0], ())
        review = next((f"{r.cadence} ({r.owner})" for r in config.kpi_reviews
                       if any(w in r.metric.lower() for w in words)), "monthly ops review")
        rows.append([g.label, format_value(g.current, g.unit), format_value(g.target, g.unit),
                     g.target_source, _trend_text(view, g.name), review])
    lines.append(md_table(["Metric", "Now", "Target", "Target from", "Month over month",
                           "Reviewed"], rows, "lrrlll"))
    if view.trend_note:
        lines += [f"_Trend: {md_escape(view.trend_note)}._", ""]
    return lines


def _ux_part(view: RoadmapView) -> list[str]:
    lines = ["## UX-debt clean-up plan", ""]
    if not view.ux:
        return [*lines, NO_UX, ""]
    total = sum(effort_of(i) for i in view.ux)
    lines += [f"{len(view.ux)} open UX item(s), {total:g} engineer-days. Waves by risk "
              "priority: P1/P2 in month 1, P3 in month 2, P4 in month 3; within a wave, "
              "highest WSJF first.", ""]
    rows = [[f"month {ux_wave(i)}", i.id, i.title, i.service or "—", i.owner or "unowned",
             i.severity.value if i.severity else "unrated", f"{effort_of(i):g}",
             f"{i.scores.wsjf:.2f}", i.due_date.isoformat() if i.due_date else "—"]
            for i in sorted(view.ux, key=lambda i: (ux_wave(i), -i.scores.wsjf, i.id))]
    lines.append(md_table(["Wave", "Id", "Item", "Service", "Owner", "Severity",
                           "Effort (days)", "WSJF", "Due"], rows, "llllllrrl"))
    return lines


def _experiments_part(view: RoadmapView) -> list[str]:
    lines = ["## Experiments planned", ""]
    plans = view.experiments
    if plans.skipped:
        return [*lines, f"_Not computed: {md_escape(plans.skipped)}._", ""]
    lines += ["Sample size per variant from the power analysis of each primary metric "
              "(two-sided, the experiment's alpha and power); duration from the eligible "
              "units per day the telemetry shows.", ""]
    rows = []
    for e in plans.lines:
        sizes = (", ".join(f"{k} {v:,}" for k, v in e.per_variant.items())
                 if e.per_variant else f"not computed: {e.reason}")
        rows.append([e.name, e.status, e.primary_metric, e.effect, sizes,
                     f"{e.daily_units:,.0f}" if e.daily_units is not None else "n/a",
                     e.duration_days if e.duration_days is not None else "n/a", e.schedule])
    lines.append(md_table(["Experiment", "Status", "Primary metric", "Minimum effect",
                           "Units per variant", "Units/day", "Days", "Schedule"], rows,
                          "llllrrrl"))
    lines += [f"- **{md_escape(e.name)}**: {md_escape(e.hypothesis)} "
              f"(traffic: {md_escape(e.traffic)})" for e in plans.lines]
    return [*lines, ""]


def _capacity_part(view: RoadmapView) -> list[str]:
    c = view.capacity
    lines = ["## Capacity check", "",
             f"Horizon {c.horizon_months} month(s); capacity = people × "
             f"{c.days_per_person_per_month:g} days per person per month × "
             f"{c.horizon_months} × {c.roadmap_share:.0%} of time for planned work (the rest "
             "is on-call, support and interrupts). Demand = effort of every open item in "
             "the themes above.", ""]
    rows = [[t.team, "—" if t.people is None else t.people, t.people_source, t.items,
             f"{t.demand_days:g}", f"{t.capacity_days:g}",
             "n/a" if t.utilisation is None else f"{t.utilisation:.0%}",
             "no owning team" if t.team == UNASSIGNED else
             (f"over by {t.over:g} days" if t.over else "fits")]
            for t in c.teams]
    lines.append(md_table(["Team", "People", "People from", "Items", "Demand (days)",
                           "Capacity (days)", "Load", "Verdict"], rows, "lrlrrrrl"))
    verdict = ("The whole plan fits the teams' capacity." if c.fits else
               f"The plan asks {c.demand_days:g} days against {c.capacity_days:g} available: "
               "it does not fit as a whole.")
    lines += [verdict, ""]
    if c.deferred:
        lines += ["Taking themes in order and deferring any that would overload a team: "
                  f"**plan** {md_escape(', '.join(c.planned) or 'none')}; **defer to the "
                  f"following phase** {md_escape(', '.join(c.deferred))}.", ""]
    unassigned = next((t for t in c.teams if t.team == UNASSIGNED), None)
    if unassigned and unassigned.items:
        lines += [f"{unassigned.items} item(s) ({unassigned.demand_days:g} days) belong to no "
                  "team: assign them before the phase starts.", ""]
    return lines


def roadmap_markdown(ctx: Context, view: RoadmapView, approval: Any | None = None) -> str:
    """Return the charter as Markdown."""
    config = ctx.workspace.config
    shortfalls = sum(1 for g in view.gaps if g.met is False)
    lines = [
        f"# Next phase charter — {md_escape(config.organisation)}", "",
        f"Evaluated as of {ctx.now.isoformat()} by opsledger {__version__}. Phase 2+ plan for "
        f"the next {view.capacity.horizon_months} month(s): {len(view.themes)} theme(s) from "
        f"the scored maintenance backlog, {shortfalls} KPI gap(s) to close, "
        f"{len(view.ux)} UX item(s), {len(view.experiments.lines)} experiment(s) planned.", "",
    ]
    lines += _kpi_gaps_part(view)
    lines += _themes_part(view)
    lines += _metrics_part(view, config)
    lines += _ux_part(view)
    lines += _experiments_part(view)
    lines += _capacity_part(view)
    lines += ["## Approval", "",
              "This charter needs the approval of "
              + ", ".join(r.value for r in charter_approvers(config))
              + " before the phase starts; a decision applies to this version only.", "",
              approval_line(approval, charter_approvers(config)), ""]
    return "\n".join(lines)


def write_roadmap(ctx: Context, approval: Any | None = None) -> Path:
    """Write the charter to ``paths.roadmap`` (atomically) and return its path.

    ``approval`` is the charter's :class:`~opsledger.approvals.decisions.ApprovalState`
    when known; without it the charter says it awaits approval.
    """
    path = ctx.workspace.root / ctx.workspace.config.paths.roadmap
    view = roadmap_view(ctx)
    atomic_write_text(path, roadmap_markdown(ctx, view, approval))
    if approval is None:
        # Approvals refer to the charter's content (its status line aside): look them up for
        # the version just written, and state them in it.
        state = charter_approval(ctx)
        if state is not None and any(state.decisions.values()):
            atomic_write_text(path, roadmap_markdown(ctx, view, state))
    return path


def roadmap_section(ctx: Context) -> Section:
    """Return the monthly report's summary of the charter."""
    view = roadmap_view(ctx)
    shortfalls = [g for g in view.gaps if g.met is False]
    c = view.capacity
    lines = [f"Full charter: `{ctx.workspace.config.paths.roadmap}`.", ""]
    if not ctx.scope.whole:
        lines = [f"The charter (`{ctx.workspace.config.paths.roadmap}`) plans for every "
                 f"service and is written by the whole workspace's review; this is the part "
                 f"of {ctx.scope.label}: the themes of its backlog items and its KPI gaps.", ""]
    rows = [[t.name, len(t.items), f"{t.effort_days:g}", f"{t.top.id} ({t.top.scores.wsjf:.2f})",
             "deferred" if t.name in c.deferred else "planned"] for t in view.themes]
    if rows:
        lines.append(md_table(["Theme", "Items", "Effort (days)", "Top item (WSJF)", "Plan"],
                              rows, "lrrll"))
    if shortfalls:
        lines += ["KPI gaps: " + "; ".join(md_escape(
            f"{g.label} {format_value(g.current, g.unit)} vs {format_value(g.target, g.unit)}")
            for g in shortfalls[:5]) + (f"; and {len(shortfalls) - 5} more"
                                        if len(shortfalls) > 5 else ""), ""]
    lines += [f"UX items: {len(view.ux)}. Experiments planned: {len(view.experiments.lines)}"
              + (f" ({view.experiments.skipped})" if view.experiments.skipped else "") + ".",
              "", f"Capacity: {c.demand_days:g} days asked, {c.capacity_days:g} available over "
              f"{c.horizon_months} month(s)" + ("." if c.fits else " — does not fit."), ""]
    headline = (f"{len(view.themes)} themes, {len(shortfalls)} KPI gaps, "
                f"{'fits' if c.fits else 'over'} capacity "
                f"({c.demand_days:g}/{c.capacity_days:g} days)")
    return Section(
        KEY, TITLE, "\n".join(lines) + "\n",
        Status.PASS if c.fits and not shortfalls else Status.WARN,
        {
            "headline": headline,
            "themes": [{"name": t.name, "items": len(t.items), "effort_days": t.effort_days,
                        "top": t.top.id, "top_wsjf": t.top.scores.wsjf,
                        "planned": t.name in c.planned} for t in view.themes],
            "gaps": [g.to_json() for g in view.gaps],
            "ux_items": [i.id for i in view.ux],
            "experiments": [{"name": e.name, "per_variant": e.per_variant,
                             "duration_days": e.duration_days} for e in view.experiments.lines],
            "capacity": {"demand_days": c.demand_days, "capacity_days": c.capacity_days,
                         "fits": c.fits, "deferred": list(c.deferred)},
        },
        headline=headline,
    )
