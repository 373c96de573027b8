"""What awaits people rather than analysis: gate waivers in force and approvals awaited.

Waivers are read from each procedure's waiver log (the evidence folders of p18 and p09); a
log that fails its hash-chain verification is not trusted, and the review says so instead
of listing what it holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from opsledger.approvals.decisions import WaiverInForce, waiver_ledger, waivers_in_force
from opsledger.core.inputs import Context
from opsledger.review.roadmap import charter_approval

# A waiver that ends within this many days needs a decision now: renew it or fix the gate.
EXPIRING_DAYS = 14


@dataclass(frozen=True)
class WaiverView:
    """Waivers in force on ``today`` and the waiver logs that could not be trusted."""

    today: date
    waivers: tuple[WaiverInForce, ...]
    problems: tuple[str, ...] = ()

    def expiring(self) -> list[WaiverInForce]:
        """Return the waivers that end within :data:`EXPIRING_DAYS` days of ``today``."""
        return [w for w in self.waivers if (w.expires - self.today).days <= EXPIRING_DAYS]

    def to_json(self) -> list[dict[str, Any]]:
        return [{**w.to_json(), "days_left": (w.expires - self.today).days,
                 "expiring": (w.expires - self.today).days <= EXPIRING_DAYS}
                for w in self.waivers]


def _shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def workspace_waivers(ctx: Context, today: date) -> WaiverView:
    """Return the waivers in force on ``today`` in every procedure's waiver log."""
    ws = ctx.workspace
    folders = list(dict.fromkeys([ws.p18_evidence, ws.p09_evidence]))
    found: list[WaiverInForce] = []
    problems: list[str] = []
    for folder in folders:
        ledger = waiver_ledger(folder)
        if not ledger.path.exists() and not ledger.head_path.exists():
            continue
        shown = _shown(ledger.path, ws.root)
        try:
            breaks = ledger.verify()
            if not breaks:
                found.extend(waivers_in_force(ledger, today))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{shown} cannot be read ({exc}); its waivers are not shown")
            continue
        if breaks:
            problems.append(f"{shown} fails verification ({breaks[0]}); its waivers are not "
                            f"shown until it is restored ({ledger.restore_hint})")
    ordered = sorted(found, key=lambda w: (w.expires, w.procedure, w.gate))
    return WaiverView(today, tuple(ordered), tuple(problems))


@dataclass(frozen=True)
class AwaitedApproval:
    """A document that still needs the decision of some roles."""

    subject: str
    roles: tuple[str, ...]
    refused: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        parts = []
        if self.roles:
            parts.append("awaits approval from " + ", ".join(self.roles))
        if self.refused:
            parts.append("not approved by " + ", ".join(self.refused))
        return f"{self.subject} {' and '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        return {"subject": self.subject, "awaited": list(self.roles),
                "refused": list(self.refused)}


def awaited_approvals(ctx: Context) -> list[AwaitedApproval]:
    """Return the approvals the review's documents still await (the next-phase charter)."""
    state = charter_approval(ctx)
    if state is None or state.approved:
        return []
    path = ctx.workspace.config.paths.roadmap
    return [AwaitedApproval(f"The next-phase charter ({path})",
                            tuple(r.value for r in state.awaited),
                            tuple(r.value for r, _ in state.refused))]
