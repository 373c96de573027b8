"""The maintenance backlog section of the monthly report: what to do next, and what is unsafe.

The consolidated, scored backlog (tech debt, performance, security, scanner findings,
postmortem action items, knowledge gaps): the open items with the highest WSJF, counts by
source and severity, items nobody owns or with no due date, and the scheduling conflicts.
The chart is the risk matrix: likelihood × impact, one marker per open item.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

from opsledger.backlog.scoring import Backlog, BacklogItem
from opsledger.backlog.service import workspace_backlog
from opsledger.core.inputs import Context
from opsledger.model.common import Severity
from opsledger.render.sections import Chart, Section, Status, md_escape, md_table

KEY = "backlog"
TITLE = "Maintenance backlog"
TOP_ITEMS = 15
LISTED = 20
JITTER = 0.3  # half-width of the spread inside one likelihood × impact cell
ASSUMED_EFFORT_DAYS = 3.0  # the scoring's own assumption when an item has no estimate
MAX_SIZED_EFFORT_DAYS = 20.0  # bigger jobs draw as big as this, so no marker hides the rest
LABELLED = 5  # the highest-WSJF items are named on the matrix


def backlog_section(ctx: Context) -> Section:
    """Return the backlog section (skipped when no source holds a backlog item)."""
    backlog = workspace_backlog(ctx)
    if not backlog.items:
        return Section.skipped(KEY, TITLE, "no backlog items in the handover sources")
    return build_backlog_section(backlog)


def by_wsjf(items: Sequence[BacklogItem]) -> list[BacklogItem]:
    """Return ``items`` highest WSJF first (then highest risk, then id, for a stable order)."""
    return sorted(items, key=lambda i: (-i.scores.wsjf, -i.scores.risk, i.id))


def jitter(item_id: str, axis: str) -> float:
    """Return a stable offset in [-JITTER, JITTER] for one item on one axis.

    Derived from the id, so the same backlog draws the same matrix on every run.
    """
    digest = hashlib.sha256(f"{axis}:{item_id}".encode()).digest()
    return (int.from_bytes(digest[:4], "big") / 0xFFFFFFFF * 2 - 1) * JITTER


def _severity(item: BacklogItem) -> str:
    return item.severity.value if item.severity else "unknown"


def build_backlog_section(backlog: Backlog) -> Section:
    """Return the section for a consolidated backlog."""
    open_items = backlog.open_items()
    ranked = by_wsjf(open_items)
    lines = [
        f"{len(backlog.items)} item(s), {len(open_items)} open; "
        f"{backlog.duplicates_folded} duplicate(s) folded.",
        "",
        f"**Top {min(TOP_ITEMS, len(ranked))} open items by WSJF**",
        "",
        md_table(
            ["id", "title", "source", "owner", "severity", "priority", "due", "WSJF", "RICE",
             "risk"],
            [[i.id, i.title, i.source, i.owner or "—", _severity(i), i.priority,
              i.due_date.isoformat() if i.due_date else "—", f"{i.scores.wsjf:.2f}",
              f"{i.scores.rice:.4g}", i.scores.risk] for i in ranked[:TOP_ITEMS]],
            "llllllrrrr",
        ),
    ]
    sources = Counter(i.source for i in open_items)
    severities = Counter(_severity(i) for i in open_items)
    bands = [s.value for s in Severity if severities.get(s.value)]
    lines += [
        "**Open items by source**", "",
        md_table(["source", "open"], [[source, sources[source]] for source in
                                      sorted(sources, key=lambda k: (-sources[k], k))], "lr"),
        "**Open items by severity**", "",
        md_table(["severity", "open"], [[band, severities[band]] for band in bands], "lr"),
    ]
    unowned = [i for i in ranked if not i.owner]
    undated = [i for i in ranked if not i.due_date]
    for heading, items in (("Without an owner", unowned), ("Without a due date", undated)):
        lines += [f"**{heading}:** {len(items)}", ""]
        lines += [f"- {md_escape(i.id)} ({_severity(i)}): {md_escape(i.title)}"
                  for i in items[:LISTED]]
        if len(items) > LISTED:
            lines.append(f"- … and {len(items) - LISTED} more")
        lines.append("")
    lines += [f"**Conflicts:** {len(backlog.conflicts)}", ""]
    lines += [f"- {md_escape(c.kind)} ({md_escape(c.owner or 'no owner')}): "
              f"{md_escape(c.explanation)}" for c in backlog.conflicts[:LISTED]]
    incomplete = backlog.critical_incomplete()
    status = Status.FAIL if incomplete else (
        Status.WARN if backlog.conflicts or unowned or undated else Status.PASS)
    return Section(
        KEY, TITLE, "\n".join(lines) + "\n", status,
        data={
            "headline": f"{len(open_items)} open item(s); {len(incomplete)} high or critical "
                        f"without an owner or a due date; {len(backlog.conflicts)} conflict(s)",
            "items": len(backlog.items),
            "open": len(open_items),
            "top": [i.as_row() for i in ranked[:TOP_ITEMS]],
            "by_source": dict(sorted(sources.items())),
            "by_severity": {band: severities[band] for band in bands},
            "without_owner": [i.id for i in unowned],
            "without_due_date": [i.id for i in undated],
            "conflicts": [{"kind": c.kind, "items": list(c.items), "owner": c.owner,
                           "explanation": c.explanation} for c in backlog.conflicts],
        },
        charts=(risk_matrix(ranked),) if ranked else (),
        actions=tuple(
            {"action": f"Give {i.id} ({i.title}) an owner and a due date",
             "owner": i.owner or "", "due": "", "source": "backlog"}
            for i in incomplete[:LISTED]
        ),
    )


def risk_matrix(ranked: Sequence[BacklogItem]) -> Chart:
    """Return the likelihood × impact scatter of open items, sized by effort, by source."""
    labelled = {i.id for i in ranked[:LABELLED]}
    points = [
        {
            "x": round(i.scores.likelihood + jitter(i.id, "likelihood"), 4),
            "y": round(i.scores.impact + jitter(i.id, "impact"), 4),
            # Area grows with effort so big jobs stand out; the scoring's assumption otherwise.
            "size": 20 + 12 * min(i.effort_days or ASSUMED_EFFORT_DAYS, MAX_SIZED_EFFORT_DAYS),
            "group": i.source,
            "label": i.id if i.id in labelled else "",
        }
        for i in ranked
    ]
    return Chart(
        key="backlog-risk-matrix",
        title="Backlog risk matrix (open items; size = effort; named: top WSJF)",
        kind="scatter",
        data={
            "points": points,
            "x_label": "likelihood (1–5)",
            "y_label": "impact (1–5)",
            "legend": "outside",
        },
    )
