"""The review's front page: what needs a decision, what moved since last month, and where
each section stands.

One typed summary feeds the Markdown report, the dashboard and ``review.json``, so the three
say the same thing. Pure: built from sections and results computed elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsledger.approvals.decisions import WaiverInForce
from opsledger.render.sections import (
    Section,
    headline_of,
    not_computed,
    off_target,
    on_target,
)
from opsledger.review.changes import KpiChange, Verdict, by_verdict
from opsledger.review.month_to_date import MonthToDate
from opsledger.review.pending import AwaitedApproval, WaiverView

ACTIONS_LISTED = 5  # on the front page; the rest are in the actions table


@dataclass(frozen=True)
class DecisionItem:
    """Something a person has to decide: an approval, an expiring waiver, an action."""

    kind: str  # "approval", "waiver" or "action"
    text: str
    link: str  # the key of the part of the report that says more

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "link": self.link}


@dataclass(frozen=True)
class ReviewSummary:
    month: str
    compared_with: str
    decisions: tuple[DecisionItem, ...]
    worse: tuple[KpiChange, ...]
    better: tuple[KpiChange, ...]
    same: tuple[KpiChange, ...]
    sections: tuple[Section, ...]
    waivers: WaiverView
    month_to_date: MonthToDate | None
    actions: int

    @property
    def off_target(self) -> list[Section]:
        return off_target(self.sections)

    @property
    def on_target(self) -> list[Section]:
        return on_target(self.sections)

    @property
    def not_computed(self) -> list[Section]:
        return not_computed(self.sections)

    def to_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "compared_with": self.compared_with,
            "decisions": [d.to_json() for d in self.decisions],
            "worse": [c.to_json() for c in self.worse],
            "better": [c.to_json() for c in self.better],
            "same": [c.name for c in self.same],
            "sections": [{"key": s.key, "title": s.title, "status": s.status.value,
                          "headline": headline_of(s)} for s in self.sections],
            "waiver_problems": list(self.waivers.problems),
            "month_to_date": self.month_to_date.to_json() if self.month_to_date else None,
            "actions": self.actions,
        }


def waiver_text(waiver: WaiverInForce, view: WaiverView) -> str:
    """Return who waived which gate, why, and until when."""
    left = (waiver.expires - view.today).days
    when = "today" if left == 0 else f"in {left} day(s)"
    return (f"{waiver.procedure} gate {waiver.gate} waived by {waiver.approver} "
            f"({waiver.role}) until {waiver.expires.isoformat()} ({when}): "
            f"{waiver.justification}")


def _due_key(action: Mapping[str, Any]) -> tuple[int, str]:
    due = action.get("due")
    return (0, str(due)) if due else (1, "")


def action_text(action: Mapping[str, Any]) -> str:
    owner = action.get("owner") or "unassigned"
    due = f", due {action['due']}" if action.get("due") else ""
    source = f" ({action['source']})" if action.get("source") else ""
    return f"{action.get('action', '')} — {owner}{due}{source}"


def decisions(approvals: Sequence[AwaitedApproval], waivers: WaiverView,
              actions: Sequence[Mapping[str, Any]]) -> list[DecisionItem]:
    """Return what needs a decision: approvals awaited, waivers about to expire (and waiver
    logs that cannot be trusted), then the actions due soonest."""
    items = [DecisionItem("approval", a.text, "roadmap") for a in approvals]
    items += [DecisionItem("waiver", f"Renew or let lapse: {waiver_text(w, waivers)}",
                           "waivers") for w in waivers.expiring()]
    items += [DecisionItem("waiver", problem, "waivers") for problem in waivers.problems]
    ranked = sorted(actions, key=_due_key)
    items += [DecisionItem("action", action_text(a), "actions")
              for a in ranked[:ACTIONS_LISTED]]
    if len(ranked) > ACTIONS_LISTED:
        items.append(DecisionItem("action", f"… and {len(ranked) - ACTIONS_LISTED} more "
                                  "action(s)", "actions"))
    return items


def review_summary(
    month: str,
    compared_with: str,
    sections: Sequence[Section],
    changes: Sequence[KpiChange],
    waivers: WaiverView,
    approvals: Sequence[AwaitedApproval],
    month_to_date: MonthToDate | None,
) -> ReviewSummary:
    """Return the front page of the review of ``month``."""
    actions = [a for s in sections for a in s.actions]
    return ReviewSummary(
        month, compared_with,
        tuple(decisions(approvals, waivers, actions)),
        tuple(by_verdict(changes, Verdict.WORSE)),
        tuple(by_verdict(changes, Verdict.BETTER)),
        tuple(c for c in changes if c.verdict is Verdict.SAME),
        tuple(sections),
        waivers, month_to_date, len(actions),
    )
