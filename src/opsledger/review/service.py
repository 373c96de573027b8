"""``opsledger review``: read everything, run every analysis, write the monthly report."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.backlog.section import backlog_section
from opsledger.core.catalog import known_services, scope_of, teams
from opsledger.core.errors import InputError, OpsledgerError
from opsledger.core.fileio import dumps_json, remove_stale_temp_files, sha256_tree
from opsledger.core.inputs import Context, InputStatus
from opsledger.core.scope import EVERYTHING, Scope
from opsledger.core.workspace import Workspace
from opsledger.cost.section import capacity_section, cost_section
from opsledger.cost.service import start_capacity_view
from opsledger.experiments.section import experiments_section
from opsledger.experiments.service import start_analyses
from opsledger.forecasting import background
from opsledger.incidents.section import incidents_section
from opsledger.model import schema
from opsledger.patching.section import patch_section
from opsledger.quality.section import perf_section
from opsledger.render.charts import chart_svg
from opsledger.render.html import render_dashboard
from opsledger.render.links import heading_anchor
from opsledger.render.markdown import render_template
from opsledger.render.sections import Section, SectionBuilder, Status, headline_of
from opsledger.review.governance import COMPLETE as COMPLETE
from opsledger.review.governance import governance_checklist as governance_checklist
from opsledger.review.governance import scheduled_reviews as scheduled_reviews
from opsledger.review.governance_calendar import governance_calendar as governance_calendar
from opsledger.review.history import (
    last_complete_month,
    month_end,
    month_title,
    record_month,
    review_month,
)
from opsledger.review.history import review_instant as review_instant
from opsledger.review.input_digests import digest_of
from opsledger.review.inventory_section import inventory_section
from opsledger.review.kpi_results import (
    month_changes,
    previous_month,
    workspace_kpis,
)
from opsledger.review.kpi_section import kpi_section, threshold_note
from opsledger.review.month_to_date import workspace_month_to_date
from opsledger.review.optimization_plan import write_optimization_plan
from opsledger.review.outputs import (
    CHARTS_DIR,
    chart_file,
    folder_clashes,
    is_newest,
    month_folder,
    scope_folder,
    write_review,
)
from opsledger.review.outputs import DASHBOARD_NAME as DASHBOARD_NAME
from opsledger.review.outputs import REPORT_NAME as REPORT_NAME
from opsledger.review.outputs import SUMMARY_NAME as SUMMARY_NAME
from opsledger.review.pending import awaited_approvals, workspace_waivers
from opsledger.review.roadmap import roadmap_section, write_roadmap
from opsledger.review.scope_section import scope_json, scope_note, scope_section
from opsledger.review.scorecard import Scorecard
from opsledger.review.summary import ReviewSummary, review_summary
from opsledger.review.teams import build_scorecard, team_card, write_scorecard
from opsledger.slo.section import alerting_section, health_section, slo_section
from opsledger.support.section import support_section
from opsledger.support.service import start_coverage_plan
from opsledger.version import __version__

# Report sections in reading order; the appendix follows the actions.
SECTIONS: tuple[SectionBuilder, ...] = (
    kpi_section,
    health_section,
    slo_section,
    alerting_section,
    incidents_section,
    support_section,
    perf_section,
    cost_section,
    capacity_section,
    patch_section,
    backlog_section,
    experiments_section,
    roadmap_section,
)
APPENDIX: tuple[SectionBuilder, ...] = (inventory_section,)


@dataclass(frozen=True)
class ReviewResult:
    report: Path  # the month's own copy, under reports/ops/<YYYY-MM>/
    dashboard: Path
    summary: Path
    charts: tuple[Path, ...]
    sections: tuple[Section, ...]
    inventory: tuple[InputStatus, ...]
    documents: tuple[Path, ...] = ()  # the roadmap and optimisation plan
    month: str = ""
    latest: tuple[Path, ...] = ()  # the copies at the usual place, when the month is newest
    history_recorded: bool = False
    front_page: ReviewSummary | None = None
    scope: Scope = EVERYTHING  # the view reviewed: every service, a team's or a service's
    teams: tuple[ReviewResult, ...] = ()  # with --by-team: each team's review
    scorecard: Scorecard | None = None  # with --by-team: every team side by side
    scorecard_files: tuple[Path, ...] = ()

    @property
    def outputs(self) -> list[Path]:
        own = [self.report, self.dashboard, self.summary, *self.latest, *self.documents]
        return own + [p for team in self.teams for p in team.outputs] + [*self.scorecard_files]


def section_builders() -> list[SectionBuilder]:
    return [*SECTIONS, *APPENDIX]


def _build(ctx: Context, builders: Sequence[SectionBuilder],
           drawings: dict[str, str]) -> list[Section]:
    sections = []
    for builder in builders:
        name = builder.__name__.removesuffix("_section")
        ctx.progress(f"analysing: {name}")
        try:
            section = builder(ctx)
            for chart in section.charts:
                if chart.key not in drawings:
                    drawings[chart.key] = chart_svg(chart)
        except OpsledgerError as exc:
            section = Section(name, name.replace("_", " ").capitalize(), f"_{exc}_\n",
                              Status.ERROR, {"error": str(exc)})
        except Exception as exc:  # reported in the report, never swallowed
            message = f"internal error in the {name} analysis: {type(exc).__name__}: {exc}"
            section = Section(name, name.replace("_", " ").capitalize(),
                              f"_{message} (please report it)_\n", Status.ERROR,
                              {"error": message})
        sections.append(section)
    return sections


def build_sections(ctx: Context, drawings: dict[str, str] | None = None) -> list[Section]:
    """Return every section, the appendix last; a builder that fails becomes an ERROR
    section, not a crash.

    One analysis failing must not cost the user the rest of the report: the failure is
    shown in its section (and the section's status is ERROR, which tests treat as a bug).
    Each section's charts are drawn into ``drawings`` (by key) as the section is built.
    """
    drawings = {} if drawings is None else drawings
    return _build(ctx, section_builders(), drawings)


def input_digests(inventory: list[InputStatus]) -> dict[str, str]:
    return {
        status.key.value: sha256_tree(status.path)
        for status in inventory
        if status.present and status.path.exists()
    }


def history_note(month: str, recorded: bool) -> str:
    if recorded:
        return f"The KPIs of {month_title(month)} are recorded in the KPI history."
    return (f"The KPIs of {month_title(month)} are not recorded in the KPI history: a review "
            "with a pinned clock (--now, --month) records them only with --record-history.")


@contextmanager
def collector_skips_what_was_read() -> Iterator[None]:
    """Leave every object that exists now out of the cyclic garbage collector's passes until
    the block ends.

    A review keeps its inputs in memory from the first section to the last, and a large
    workspace's are millions of records (a year of probes), none of them in a reference
    cycle. Each full pass of the collector would walk all of them again, several times a
    run; frozen, they are skipped. Reference counting still frees them as usual, and they
    return to the collector's care when the block ends.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_review(
    workspace: Workspace,
    now: datetime,
    strict: bool = False,
    progress: Callable[[str], None] = lambda message: None,
    prometheus_url: str | None = None,
    *,
    month: str | None = None,
    record_history: bool = False,
    team: str | None = None,
    service: str | None = None,
    by_team: bool = False,
) -> ReviewResult:
    """Review ``month`` (default: the last complete month at ``now``) and write its reports.

    ``now`` is the clock: the month reviewed is evaluated as of its end, the days since
    then are shown as the month to date, and waivers are those in force at ``now``. The
    month's KPIs go into the history only with ``record_history``.

    With ``team`` or ``service`` the review is that team's or service's view, written under
    ``reports/ops/teams/<team>/`` (``services/<service>/``); it never records the KPI history
    and never writes the charter. With ``by_team`` the whole workspace's review is followed
    by one view per team, from the inputs read once, and the scorecard of every team.
    """
    if (team is not None or service is not None) and by_team:
        raise InputError("--by-team reviews every team: give it without --team or --service")
    reviewed = review_month(month, now)
    ctx = Context.open(workspace, month_end(reviewed))
    ctx.progress = progress
    ctx.prometheus_url = prometheus_url
    scope = scope_of(ctx, team, service)
    if record_history and not scope.whole:
        raise InputError(f"--record-history: the KPI history holds the whole workspace's KPIs; "
                         f"the view of {scope.label} is not recorded in it")
    _check_folders(ctx, scope, by_team)
    # A run killed mid-write (SIGKILL) leaves its temporary files; the caller holds the lock.
    remove_stale_temp_files(workspace.reports_dir)
    progress("reading inputs")
    views = ([ctx.scoped(scope)] if not scope.whole
             else [ctx, *(_team_view(ctx, name) for name in teams(ctx))] if by_team else [ctx])
    try:
        if not strict:  # the forecasts are fitted while the other inputs are read
            start_in_background(views)
        inventory = ctx.inputs.inventory()
        with collector_skips_what_was_read():
            if strict:
                ctx.inputs.require_clean()
                start_in_background(views)
            digests = input_digests(inventory)  # hashed once: the inputs can be large
            if not scope.whole:
                return review_view(views[0], reviewed, now, digests)
            whole = review_view(ctx, reviewed, now, digests, inventory, record_history)
            if not by_team:
                return whole
            return _with_teams(ctx, whole, views[1:], now, digests)
    finally:
        background.shutdown()  # the workers of this review end with it


def start_in_background(views: Sequence[Context]) -> None:
    """Start fitting the ticket and utilisation forecasts and analysing the experiments of
    every view in the background workers, in the order the views are reviewed, while this
    process computes the rest. That is all the review hands them: they end when it is done."""
    for view in views:
        start_coverage_plan(view)
        start_capacity_view(view)
        start_analyses(view)
    background.release()


def _team_view(ctx: Context, team: str) -> Context:
    view = ctx.scoped(scope_of(ctx, team=team))
    view.progress = _prefixed(ctx.progress, view.scope.label)
    return view


def _check_folders(ctx: Context, scope: Scope, by_team: bool) -> None:
    """Refuse, before anything is written, views that would write over one another."""
    owners = teams(ctx)
    if by_team:
        views = [scope_of(ctx, team=name) for name in owners]
    else:
        views = [] if scope.whole else [scope]
    for view in views:
        names = known_services(ctx) if view.service else owners
        clash = folder_clashes(view, names, by_team)
        if clash:
            raise InputError(clash)


def review_view(ctx: Context, reviewed: str, now: datetime, digests: dict[str, str],
                inventory: Sequence[InputStatus] | None = None,
                record_history: bool = False) -> ReviewResult:
    """Review the view ``ctx`` looks at (every service, or a team's or a service's) and
    write its reports; the inputs are read and hashed by the caller."""
    workspace, progress, scope = ctx.workspace, ctx.progress, ctx.scope
    if inventory is None:
        inventory = ctx.inputs.inventory()  # a view counts its own records
    drawings: dict[str, str] = {}
    main = _build(ctx, SECTIONS, drawings)
    appendix = _build(ctx, APPENDIX, drawings)
    if not scope.whole:
        appendix.insert(0, scope_section(ctx, main))
    sections = [*main, *appendix]
    if record_history:
        progress(f"recording the KPIs of {reviewed}")
        record_month(ctx, workspace_kpis(ctx), reviewed, inputs_digest=digest_of(digests))
    folder = scope_folder(workspace.reports_dir, scope)
    newest = is_newest(folder, reviewed)
    documents: tuple[Path, ...] = ()
    if newest and scope.whole:  # the charter plans from the newest month, never an older one
        progress("writing the next-phase charter")
        documents = (write_roadmap(ctx), write_optimization_plan(ctx))
    front = front_page(ctx, reviewed, now, sections)
    progress("writing the reports")
    charts = [c for s in sections for c in s.charts]
    svgs = {c.key: drawings[c.key] if c.key in drawings else chart_svg(c) for c in charts}
    view = None if scope.whole else ViewOf(scope.label, scope_note(ctx), scope_json(ctx))
    texts = review_texts(workspace, reviewed, now, main, appendix, front, digests, svgs,
                         record_history, newest, view)
    kept = write_review(month_folder(folder, reviewed), *texts, svgs, charts)
    latest: tuple[Path, ...] = ()
    if newest:
        copy = write_review(folder, *texts, svgs, charts)
        latest = (copy.report, copy.dashboard, copy.summary)
    return ReviewResult(
        kept.report, kept.dashboard, kept.summary, kept.charts, tuple(sections),
        tuple(inventory), documents, reviewed, latest, record_history, front, scope,
    )


def _prefixed(progress: Callable[[str], None], label: str) -> Callable[[str], None]:
    """Return ``progress`` saying which view each message is about."""
    return lambda message: progress(f"{label}: {message}")


def _with_teams(ctx: Context, whole: ReviewResult, views: Sequence[Context], now: datetime,
                digests: dict[str, str]) -> ReviewResult:
    """Return the whole review with one view per team and the scorecard, written."""
    owners = teams(ctx)
    results, cards = [], []
    for view in views:
        result = review_view(view, whole.month, now, digests)
        results.append(result)
        cards.append(team_card(view, result.report.parent))
    ctx.progress("writing the team scorecard")
    card = build_scorecard(ctx, whole.month, cards, owners, known_services(ctx))
    files = write_scorecard(ctx.workspace, card, now, digests)
    return replace(whole, teams=tuple(results), scorecard=card, scorecard_files=files)


def front_page(ctx: Context, month: str, clock: datetime,
               sections: Sequence[Section]) -> ReviewSummary:
    """Return the review's summary: decisions, changes, waivers, month to date, sections."""
    progress = ctx.progress
    progress("summarising")
    to_date = (workspace_month_to_date(ctx, clock) if month == last_complete_month(clock)
               else None)
    # The charter is the whole workspace's document: its approvals are decided there.
    approvals = awaited_approvals(ctx) if ctx.scope.whole else []
    return review_summary(month, previous_month(ctx), sections, month_changes(ctx),
                          workspace_waivers(ctx, clock.date()), approvals, to_date)


@dataclass(frozen=True)
class ViewOf:
    """What a team's or a service's review says of its view: a label for its titles, the
    note that opens it and its scope in review.json."""

    label: str
    note: str
    scope: dict[str, Any]


def review_texts(
    workspace: Workspace, month: str, clock: datetime, main: Sequence[Section],
    appendix: Sequence[Section], front: ReviewSummary, digests: dict[str, str],
    svgs: dict[str, str], recorded: bool, newest: bool, view: ViewOf | None = None,
) -> tuple[str, str, str]:
    """Return the report, the dashboard and review.json of a review (of a team's or a
    service's ``view``), as text."""
    everything = [*main, *appendix]
    actions = [a for s in everything for a in s.actions]
    title = month_title(month)
    note = history_note(month, recorded) if view is None else view.note
    named = workspace.config.organisation
    if view is not None:
        named = f"{named}, {view.label}"
    report = render_report(workspace, month, clock, main, appendix, front, note, named)
    dashboard = render_dashboard(
        f"Monthly ops review — {named}, {title}",
        f"{title}, evaluated as of {month_end(month).isoformat()} · generated "
        f"{clock.isoformat()} by opsledger {__version__}",
        main, actions, svgs,
        summary=front, appendix=appendix, note=note,
        compared_title=month_title(front.compared_with), threshold_note=threshold_note(),
    )
    document = summary_document(clock, everything, digests, month=month, front=front,
                                recorded=recorded, newest=newest)
    if view is not None:
        document["scope"] = view.scope
    return report, dashboard, dumps_json(document)


def render_report(workspace: Workspace, month: str, clock: datetime, main: Sequence[Section],
                  appendix: Sequence[Section], front: ReviewSummary, note: str,
                  named: str | None = None) -> str:
    """Return the Markdown report: the summary first, the inputs last; ``named`` is who it
    is of (the organisation, and the team or service of a view)."""
    links = {s.key: heading_anchor(s.title) for s in [*main, *appendix]}
    links.update({"actions": heading_anchor("Actions"),
                  "waivers": heading_anchor("Waivers in force")})
    return render_template(
        "monthly_ops_report.md.j2",
        organisation=named or workspace.config.organisation,
        month=month,
        month_title=month_title(month),
        evaluated_at=month_end(month).isoformat(),
        now=clock.isoformat(),
        version=__version__,
        history_note=note,
        summary=front,
        compared_title=month_title(front.compared_with),
        threshold_note=threshold_note(),
        links=links,
        sections=main,
        appendix=appendix,
        chart_dir=CHARTS_DIR,
        chart_file=chart_file,
        actions=[a for s in [*main, *appendix] for a in s.actions],
    )


def summary_document(
    now: datetime, sections: Sequence[Section], digests: dict[str, str], *,
    month: str, front: ReviewSummary, recorded: bool, newest: bool,
) -> dict[str, Any]:
    """Return review.json (its schema: ``opsledger/model/schemas/review.schema.json``)."""
    return {
        "schema_version": schema.REVIEW,
        "generated_at": now.isoformat(),
        "opsledger_version": __version__,
        "month": month,
        "evaluated_at": month_end(month).isoformat(),
        "latest": newest,
        "history": {"month": month, "recorded": recorded},
        "inputs": digests,
        "summary": front.to_json(),
        "waivers": front.waivers.to_json(),
        "sections": [
            {"key": s.key, "title": s.title, "status": s.status.value,
             "headline": headline_of(s), "data": s.data}
            for s in sections
        ],
        "actions": [dict(a) for s in sections for a in s.actions],
    }
