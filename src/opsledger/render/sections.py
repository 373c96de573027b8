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
