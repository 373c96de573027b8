"""The team scorecard as a self-contained HTML page and as Markdown.

The page looks like the review's dashboard (it takes the dashboard's style sheet) and, like
it, loads nothing: no scripts, no fonts, no images, and a Content-Security-Policy that
forbids them. Every status is shown as a colour, an icon and a word, so it reads without
colour too. Pure: the page is given as plain values, every one escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from markupsafe import Markup

from opsledger.render.html import template_environment
from opsledger.render.markdown import md_link_text
from opsledger.render.sections import STATUS_ICONS, Status, md_escape, status_label


@dataclass(frozen=True)
class ScoreCell:
    text: str
    status: Status


@dataclass(frozen=True)
class TeamLine:
    """One team's row: its figures in column order and the links to its review."""

    team: str
    anchor: str  # the row's id in the page
    status: Status
    services: tuple[str, ...]
    cells: tuple[ScoreCell, ...]
    dashboard: str  # links relative to the page
    report: str


@dataclass(frozen=True)
class ScorecardPage:
    title: str
    subtitle: str
    columns: tuple[str, ...]
    teams: tuple[TeamLine, ...]
    notes: tuple[str, ...] = ()


@cache
def dashboard_style() -> Markup:
    """Return the dashboard's style sheet (package data), so that the scorecard looks the
    same."""
    env = template_environment()
    assert env.loader is not None
    source = env.loader.get_source(env, "dashboard.html.j2")[0]
    found = re.search(r"<style>(.*?)</style>", source, flags=re.S)
    return Markup(found.group(1) if found else "")


def render_scorecard_html(page: ScorecardPage) -> str:
    """Return the scorecard as one HTML document."""
    return template_environment().get_template("scorecard.html.j2").render(
        page=page, style=dashboard_style(), icons=STATUS_ICONS, status_label=status_label)


def _cell(cell: ScoreCell) -> str:
    return f"{STATUS_ICONS[cell.status]} {cell.text}"


def render_scorecard_markdown(page: ScorecardPage) -> str:
    """Return the scorecard as Markdown: one table, then how to read it."""
    header: Sequence[str] = ("Team", "Status", *page.columns, "Review")
    lines = [f"# {md_escape(page.title)}", "", md_escape(page.subtitle), ""]
    if not page.teams:
        lines.append("No team owns a service: give services an `owner` in opsledger.yaml, or "
                     "a team in the service catalog.")
    else:
        lines += ["| " + " | ".join(md_escape(h) for h in header) + " |",
                  "| " + " | ".join("---" for _ in header) + " |"]
    for team in page.teams:
        cells = [f"**{md_escape(team.team)}** ({md_escape(', '.join(team.services))})",
                 md_escape(status_label(team.status)),
                 *(md_escape(_cell(c)) for c in team.cells),
                 f"[{md_link_text('report')}]({team.report})"]
        lines.append("| " + " | ".join(cells) + " |")
    if page.notes:
        lines += ["", "## How to read it", ""]
        lines += [f"- {md_escape(note)}" for note in page.notes]
    return "\n".join(lines) + "\n"
