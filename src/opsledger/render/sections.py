"""A section of the monthly report: Markdown for people, data for ``--json`` and the dashboard.

Each capability contributes a builder ``(Context) -> Section``; ``review`` runs them in order.
A section that cannot be computed is still a section, with ``status`` SKIPPED and the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opsledger.core.inputs import Context
from opsledger.model.status import Status


@dataclass(frozen=True)
class Chart:
    """A chart to draw: ``kind`` (line, bar, heatmap, ...) and its series as plain data."""

    key: str
    title: str
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    body: str  # Markdown, without the section heading
    status: Status = Status.PASS
    data: Mapping[str, Any] = field(default_factory=dict)
    charts: tuple[Chart, ...] = ()
    actions: tuple[Mapping[str, Any], ...] = ()  # {"action", "owner", "due", "source"}
    # One line for the review's summary: what this section says at a glance.
    headline: str = ""
    # Markdown of what is on target, kept out of the way: collapsed in the dashboard,
    # after the section's tables in the report.
    details: str = ""
    details_title: str = "On target"  # what the collapsed details hold

    @classmethod
    def skipped(cls, key: str, title: str, reason: str) -> Section:
        return cls(key, title, f"_Not computed: {reason}_\n", Status.SKIPPED, {"reason": reason})


SectionBuilder = Callable[[Context], Section]


def md_escape(value: object) -> str:
    """Return ``value`` as text safe inside a Markdown table cell (and inert as HTML)."""
    text = "" if value is None else str(value)
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def md_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None
) -> str:
    """Return a GitHub-flavoured Markdown table; ``align`` is one of l/r/c per column."""
    rule = []
    for i, _ in enumerate(header):
        a = (align or "l" * len(header))[i]
        rule.append({"l": "---", "r": "---:", "c": ":---:"}[a])
    lines = ["| " + " | ".join(md_escape(h) for h in header) + " |", "| " + " | ".join(rule) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(md_escape(cell) for cell in row) + " |")
    return "\n".join(lines) + "\n"


def percent(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


# How each status is shown beside colour, so that it reads without colour too.
STATUS_ICONS: Mapping[Status, str] = {
    Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.ERROR: "✗", Status.SKIPPED: "–",
}


def status_label(status: Status) -> str:
    """Return the status as an icon and its word, e.g. "✗ fail"."""
    return f"{STATUS_ICONS[status]} {status.value}"


def headline_of(section: Section) -> str:
    """Return the section's one-line headline: its field, else the one in its data, else
    (for a section not computed) the reason."""
    found = section.headline or str(section.data.get("headline", "") or "")
    if not found and section.status is Status.SKIPPED and section.data.get("reason"):
        found = f"not computed: {section.data['reason']}"
    return found


# Sections off target, the most severe first.
OFF_TARGET: tuple[Status, ...] = (Status.ERROR, Status.FAIL, Status.WARN)


def off_target(sections: Iterable[Section]) -> list[Section]:
    """Return the sections that failed or warn, the most severe first (stable otherwise)."""
    order = {status: i for i, status in enumerate(OFF_TARGET)}
    return sorted((s for s in sections if s.status in order), key=lambda s: order[s.status])


def on_target(sections: Iterable[Section]) -> list[Section]:
    return [s for s in sections if s.status is Status.PASS]


def not_computed(sections: Iterable[Section]) -> list[Section]:
    return [s for s in sections if s.status is Status.SKIPPED]
