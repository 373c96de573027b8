"""``opsledger review``: read everything, run every analysis, write the monthly report."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.backlog.section import backlog_section
from opsledger.core.errors import OpsledgerError
from opsledger.core.fileio import dumps_json, remove_stale_temp_files, sha256_tree
from opsledger.core.inputs import Context, InputStatus
from opsledger.core.workspace import Workspace
from opsledger.cost.section import capacity_section, cost_section
from opsledger.experiments.section import experiments_section
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
    is_newest,
    month_folder,
    write_review,
)
from opsledger.review.outputs import DASHBOARD_NAME as DASHBOARD_NAME
from opsledger.review.outputs import REPORT_NAME as REPORT_NAME
from opsledger.review.outputs import SUMMARY_NAME as SUMMARY_NAME
from opsledger.review.pending import awaited_approvals, workspace_waivers
from opsledger.review.roadmap import roadmap_section, write_roadmap
from opsledger.review.summary import ReviewSummary, review_summary
from opsledger.slo.section import alerting_section, health_section, slo_section
from opsledger.support.section import support_section
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

    @property
    def outputs(self) -> list[Path]:
        return [self.report, self.dashboard, self.summary, *self.latest, *self.documents]


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
) -> ReviewResult:
    """Review ``month`` (default: the last complete month at ``now``) and write its reports.

    ``now`` is the clock: the month reviewed is evaluated as of its end, the days since
    then are shown as the month to date, and waivers are those in force at ``now``. The
    month's KPIs go into the history only with ``record_history``.
    """
    reviewed = review_month(month, now)
    ctx = Context.open(workspace, month_end(reviewed))
    ctx.progress = progress
    ctx.prometheus_url = prometheus_url
    # A run killed mid-write (SIGKILL) leaves its temporary files; the caller holds the lock.
    remove_stale_temp_files(workspace.reports_dir)
    progress("reading inputs")
    inventory = ctx.inputs.inventory()
    with collector_skips_what_was_read():
        if strict:
            ctx.inputs.require_clean()
        digests = input_digests(inventory)  # hashed once: the inputs can be large
        drawings: dict[str, str] = {}
        main = _build(ctx, SECTIONS, drawings)
        appendix = _build(ctx, APPENDIX, drawings)
        sections = [*main, *appendix]
        if record_history:
            progress(f"recording the KPIs of {reviewed}")
            record_month(ctx, workspace_kpis(ctx), reviewed, inputs_digest=digest_of(digests))
        newest = is_newest(workspace.reports_dir, reviewed)
        documents: tuple[Path, ...] = ()
        if newest:  # the charter plans from the newest month, never from an older one
            progress("writing the next-phase charter")
            documents = (write_roadmap(ctx), write_optimization_plan(ctx))
        front = front_page(ctx, reviewed, now, sections)
        progress("writing the reports")
        charts = [c for s in sections for c in s.charts]
        svgs = {c.key: drawings[c.key] if c.key in drawings else chart_svg(c) for c in charts}
        texts = review_texts(workspace, reviewed, now, main, appendix, front, digests, svgs,
                             record_history, newest)
        kept = write_review(month_folder(workspace.reports_dir, reviewed), *texts, svgs, charts)
        latest: tuple[Path, ...] = ()
        if newest:
            copy = write_review(workspace.reports_dir, *texts, svgs, charts)
            latest = (copy.report, copy.dashboard, copy.summary)
        return ReviewResult(
            kept.report, kept.dashboard, kept.summary, kept.charts, tuple(sections),
            tuple(inventory), documents, reviewed, latest, record_history, front,
        )


def front_page(ctx: Context, month: str, clock: datetime,
               sections: Sequence[Section]) -> ReviewSummary:
    """Return the review's summary: decisions, changes, waivers, month to date, sections."""
    progress = ctx.progress
    progress("summarising")
    to_date = (workspace_month_to_date(ctx, clock) if month == last_complete_month(clock)
               else None)
    return review_summary(month, previous_month(ctx), sections, month_changes(ctx),
                          workspace_waivers(ctx, clock.date()), awaited_approvals(ctx),
                          to_date)


def review_texts(
    workspace: Workspace, month: str, clock: datetime, main: Sequence[Section],
    appendix: Sequence[Section], front: ReviewSummary, digests: dict[str, str],
    svgs: dict[str, str], recorded: bool, newest: bool,
) -> tuple[str, str, str]:
    """Return the report, the dashboard and review.json of a review, as text."""
    everything = [*main, *appendix]
    actions = [a for s in everything for a in s.actions]
    title = month_title(month)
    note = history_note(month, recorded)
    report = render_report(workspace, month, clock, main, appendix, front, note)
    dashboard = render_dashboard(
        f"Monthly ops review — {workspace.config.organisation}, {title}",
        f"{title}, evaluated as of {month_end(month).isoformat()} · generated "
        f"{clock.isoformat()} by opsledger {__version__}",
        main, actions, svgs,
        summary=front, appendix=appendix, note=note,
        compared_title=month_title(front.compared_with), threshold_note=threshold_note(),
    )
    document = summary_document(clock, everything, digests, month=month, front=front,
                                recorded=recorded, newest=newest)
    return report, dashboard, dumps_json(document)


def render_report(workspace: Workspace, month: str, clock: datetime, main: Sequence[Section],
                  appendix: Sequence[Section], front: ReviewSummary, note: str) -> str:
    """Return the Markdown report: the summary first, the inputs last."""
    links = {s.key: heading_anchor(s.title) for s in [*main, *appendix]}
    links.update({"actions": heading_anchor("Actions"),
                  "waivers": heading_anchor("Waivers in force")})
    return render_template(
        "monthly_ops_report.md.j2",
        organisation=workspace.config.organisation,
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
