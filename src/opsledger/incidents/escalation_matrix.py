"""The escalation matrix as Markdown: levels and response targets per service."""

from __future__ import annotations

from opsledger.incidents.escalation import EscalationMatrix
from opsledger.render.sections import md_escape, md_table


def _duration(minutes: float) -> str:
    if minutes < 120:
        return f"{minutes:g} min"
    hours = minutes / 60
    return f"{hours:g} h" if hours < 48 else f"{hours / 24:g} d"


def escalation_markdown(matrix: EscalationMatrix, organisation: str = "") -> str:
    """Return the whole matrix document."""
    title = f"# Escalation matrix{f' — {md_escape(organisation)}' if organisation else ''}\n\n"
    lines = [
        title,
        "Who is paged for an incident, who next and after how long, and how fast each "
        "severity must be acknowledged, updated and resolved. Targets scale with the "
        "service tier (tier 0 is the most critical).\n\n",
        "## Overview\n\n",
        md_table(
            ["Service", "Tier", "Rotation", "Owner", "Escalation path", "Gaps"],
            [
                [s.service, s.tier, s.rotation, s.owner or "—",
                 " → ".join(f"{lv.target} (+{_duration(lv.after_minutes)})"
                            for lv in s.levels),
                 "; ".join(s.gaps) or "none"]
                for s in matrix.services
            ],
            "lrllll",
        ),
    ]
    for service in matrix.services:
        lines.append(f"\n## {md_escape(service.service)} (tier {service.tier})\n\n")
        lines.append(md_table(
            ["Level", "After", "Target", "Role"],
            [[lv.level, _duration(lv.after_minutes), lv.target, lv.role]
             for lv in service.levels],
            "rrll",
        ))
        lines.append("\n")
        lines.append(md_table(
            ["Severity", "Acknowledge", "Update every", "Resolve", "Coverage"],
            [[t.severity, _duration(t.ack_minutes), _duration(t.update_minutes),
              _duration(t.resolve_hours * 60),
              "24x7 (pages)" if t.around_the_clock else "business hours"]
             for t in service.targets],
            "lrrrl",
        ))
        if service.gaps:
            lines.append("\nGaps: " + md_escape("; ".join(service.gaps)) + "\n")
    return "".join(lines)
