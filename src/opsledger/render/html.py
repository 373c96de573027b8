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
from opsledger.render.sections import Chart, Section


@cache
def _markdown() -> MarkdownIt:
    # "js-default": CommonMark with tables, raw HTML off, unsafe link schemes refused.
    return MarkdownIt("js-default").enable("table")


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("opsledger", "render/templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def markdown_html(text: str) -> Markup:
    """Return Markdown rendered to HTML with any raw HTML in it shown as text."""
    return Markup(_markdown().render(text))


def chart_markup(chart: Chart, svgs: dict[str, str] | None = None) -> Markup:
    svg = (svgs or {}).get(chart.key) or chart_svg(chart)
    return Markup(svg)


def render_dashboard(
    title: str,
    subtitle: str,
    sections: Sequence[Section],
    actions: Sequence[Any],
    svgs: dict[str, str] | None = None,
) -> str:
    """Return the dashboard page as one HTML document."""
    panels = [
        {
            "section": section,
            "body": markdown_html(section.body),
            "charts": [(chart, chart_markup(chart, svgs)) for chart in section.charts],
        }
        for section in sections
    ]
    return _environment().get_template("dashboard.html.j2").render(
        title=title, subtitle=subtitle, panels=panels, actions=actions
    )
