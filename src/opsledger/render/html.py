"""The self-contained HTML dashboard: the report's sections with their charts inline.

No network: styles, scripts and charts are inline, and a Content-Security-Policy forbids
loading anything else. Every value from the inputs is escaped: Markdown bodies are rendered
with raw HTML disabled, and everything else goes through Jinja2's autoescaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup

from opsledger.render.charts import chart_svg
from opsledger.render.sections import (
    STATUS_ICONS,
    Chart,
    Section,
    headline_of,
    not_computed,
    off_target,
    on_target,
    status_label,
)


@cache
def _markdown() -> MarkdownIt:
    # "js-default": CommonMark with tables, raw HTML off, unsafe link schemes refused.
    return MarkdownIt("js-default").enable("table")


@cache
def template_environment() -> Environment:
    return Environment(
        loader=PackageLoader("opsledger", "render/templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def markdown_html(text: str) -> Markup:
    """Return Markdown rendered to HTML with any raw HTML in it shown as text.

    Each table is wrapped in a block that scrolls sideways, so that a wide table scrolls
    inside its card instead of widening the page on a phone.
    """
    html = _markdown().render(text)
    # Raw HTML is off, so "<table>" here can only be a table the renderer made.
    html = html.replace("<table>", '<div class="table-scroll"><table>')
    html = html.replace("</table>", "</table></div>")
    return Markup(html)


def chart_markup(chart: Chart, svgs: dict[str, str] | None = None) -> Markup:
    svg = (svgs or {}).get(chart.key) or chart_svg(chart)
    return Markup(svg)


def _panel(section: Section, svgs: dict[str, str] | None) -> dict[str, Any]:
    return {
        "section": section,
        "body": markdown_html(section.body),
        "details": markdown_html(section.details) if section.details else "",
        "charts": [(chart, chart_markup(chart, svgs)) for chart in section.charts],
    }


def render_dashboard(
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    actions: Sequence[Any],
    svgs: dict[str, str] | None = None,
    *,
    summary: Any | None = None,
    appendix: Sequence[Section] = (),
    note: str = "",
    compared_title: str = "",
    threshold_note: str = "",
) -> str:
    """Return the dashboard page as one HTML document.

    The summary comes first: ``summary`` (the review's front page: decisions, changes since
    ``compared_title``, waivers, month to date) when given, then every section's status and
    headline. ``appendix`` sections come after the actions.
    """
    everything = [*sections, *appendix]
    lines = {"off": off_target(everything), "on": on_target(everything),
             "skipped": not_computed(everything)}
    return template_environment().get_template("dashboard.html.j2").render(
        title=title, subtitle=subtitle, note=note,
        panels=[_panel(s, svgs) for s in sections],
        appendix=[_panel(s, svgs) for s in appendix],
        actions=actions, summary=summary, lines=lines, compared_title=compared_title,
        threshold_note=threshold_note, icons=STATUS_ICONS, status_label=status_label,
        headline_of=headline_of,
    )
