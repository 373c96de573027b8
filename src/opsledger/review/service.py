"""``opsledger review``: read everything, run every analysis, write the monthly report."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opsledger.backlog.section import backlog_section
from opsledger.core.errors import OpsledgerError
from opsledger.core.fileio import (
    atomic_write_json,
    atomic_write_text,
    remove_stale_temp_files,
    sha256_tree,
)
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
from opsledger.render.markdown import render_template
from opsledger.render.sections import Chart, Section, SectionBuilder, Status
from opsledger.review.governance import COMPLETE as COMPLETE
from opsledger.review.governance import governance_checklist as governance_checklist
from opsledger.review.governance import scheduled_reviews as scheduled_reviews
from opsledger.review.governance_calendar import governance_calendar as governance_calendar
from opsledger.review.history import record_month
from opsledger.review.history import review_instant as review_instant
from opsledger.review.inventory_section import inventory_section
from opsledger.review.kpi_results import digest_of, workspace_kpis
from opsledger.review.kpi_section import kpi_section
from opsledger.review.optimization_plan import write_optimization_plan
from opsledger.review.roadmap import roadmap_section, write_roadmap
from opsledger.slo.section import alerting_section, health_section, slo_section
from opsledger.support.section import support_section
from opsledger.version import __version__

REPORT_NAME = "MONTHLY_OPS_REPORT.md"
SUMMARY_NAME = "review.json"
DASHBOARD_NAME = "index.html"
CHARTS_DIR = "charts"

# Report sections in reading order.
SECTIONS: tuple[SectionBuilder, ...] = (
    inventory_section,
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


@dataclass(frozen=True)
class ReviewResult:
    report: Path
    dashboard: Path
    summary: Path
    charts: tuple[Path, ...]
    sections: tuple[Section, ...]
    inventory: tuple[InputStatus, ...]
    documents: tuple[Path, ...] = ()  # the roadmap and optimisation plan

    @property
    def outputs(self) -> list[Path]:
        return [self.report, self.dashboard, self.summary, *self.documents]


def chart_file(chart: Chart) -> str:
    """Return the chart's file name under the charts folder."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", chart.key).strip("-") + ".svg"


def section_builders() -> list[SectionBuilder]:
    return list(SECTIONS)


def build_sections(ctx: Context, drawings: dict[str, str] | None = None) -> list[Section]:
    """Return every section; a builder that fails becomes an ERROR section, not a crash.

    One analysis failing must not cost the user the rest of the report: the failure is
    shown in its section (and the section's status is ERROR, which tests treat as a bug).
    Each section's charts are drawn into ``drawings`` (by key) as the section is built.
    """
    drawings = {} if drawings is None else drawings
    sections = []
    for builder in section_builders():
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


def input_digests(inventory: list[InputStatus]) -> dict[str, str]:
    return {
        status.key.value: sha256_tree(status.path)
        for status in inventory
        if status.present and status.path.exists()
    }


def run_review(
    workspace: Workspace,
    now: datetime,
    strict: bool = False,
    progress: Callable[[str], None] = lambda message: None,
    prometheus_url: str | None = None,
) -> ReviewResult:
    """Read the workspace, analyse it, and write the report and its JSON summary."""
    ctx = Context.open(workspace, now)
    ctx.progress = progress
    ctx.prometheus_url = prometheus_url
    # A run killed mid-write (SIGKILL) leaves its temporary files; the caller holds the lock.
    remove_stale_temp_files(workspace.reports_dir)
    progress("reading inputs")
    inventory = ctx.inputs.inventory()
    if strict:
        ctx.inputs.require_clean()
    # This month's KPIs go into the history first, so every trend includes them.
    progress("recording this month's KPIs")
    digests = input_digests(inventory)  # hashed once: the inputs can be large
    record_month(ctx, workspace_kpis(ctx), inputs_digest=digest_of(digests))
    drawings: dict[str, str] = {}
    sections = build_sections(ctx, drawings)
    report_dir = workspace.reports_dir
    svgs = {c.key: drawings[c.key] if c.key in drawings else chart_svg(c)
            for s in sections for c in s.charts}
    chart_paths = []
    for section in sections:
        for chart in section.charts:
            path = report_dir / CHARTS_DIR / chart_file(chart)
            atomic_write_text(path, svgs[chart.key])
            chart_paths.append(path)
    progress("writing the reports")
    report = report_dir / REPORT_NAME
    dashboard = report_dir / DASHBOARD_NAME
    summary = report_dir / SUMMARY_NAME
    actions = [a for s in sections for a in s.actions]
    atomic_write_text(report, render_report(workspace, now, sections))
    atomic_write_text(
        dashboard,
        render_dashboard(
            f"Monthly ops review — {workspace.config.organisation}",
            f"{now.strftime('%B %Y')} · generated {now.isoformat()} by opsledger {__version__}",
            sections,
            actions,
            svgs,
        ),
    )
    atomic_write_json(summary, summary_document(now, sections, digests))
    progress("writing the next-phase charter")
    documents = (write_roadmap(ctx), write_optimization_plan(ctx))
    return ReviewResult(
        report, dashboard, summary, tuple(chart_paths), tuple(sections), tuple(inventory),
        documents,
    )


def render_report(workspace: Workspace, now: datetime, sections: list[Section]) -> str:
    attention = [s for s in sections if s.status in (Status.FAIL, Status.WARN, Status.ERROR)]
    actions = [a for s in sections for a in s.actions]
    return render_template(
        "monthly_ops_report.md.j2",
        organisation=workspace.config.organisation,
        month=now.strftime("%B %Y"),
        now=now.isoformat(),
        version=__version__,
        sections=sections,
        chart_dir=CHARTS_DIR,
        chart_file=chart_file,
        attention=attention,
        actions=actions,
    )


def summary_document(
    now: datetime, sections: list[Section], digests: dict[str, str]
) -> dict[str, Any]:
    return {
        "schema_version": schema.REVIEW,
        "generated_at": now.isoformat(),
        "opsledger_version": __version__,
        "inputs": digests,
        "sections": [
            {"key": s.key, "title": s.title, "status": s.status.value, "data": s.data}
            for s in sections
        ],
    }
