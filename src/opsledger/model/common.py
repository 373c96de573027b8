"""Vocabulary shared by many records."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """Severity band of a finding, risk, debt item or backlog item (highest first)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """Return 4 for critical down to 0 for unknown."""
        return {"critical": 4, "high": 3, "medium": 2, "low": 1, "unknown": 0}[self.value]

    @property
    def is_high_or_critical(self) -> bool:
        return self in (Severity.CRITICAL, Severity.HIGH)

    @classmethod
    def parse(cls, text: str | None) -> Severity | None:
        """Return the band for common spellings (``Critical``, ``P1``, ``sev2``, ``4``...)."""
        if text is None:
            return None
        key = str(text).strip().lower().replace(" ", "")
        return _SEVERITY_WORDS.get(key)


_SEVERITY_WORDS = {
    **{s.value: s for s in Severity},
    "crit": Severity.CRITICAL,
    "blocker": Severity.CRITICAL,
    "p0": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "sev0": Severity.CRITICAL,
    "sev1": Severity.CRITICAL,
    "p2": Severity.HIGH,
    "sev2": Severity.HIGH,
    "major": Severity.HIGH,
    "important": Severity.HIGH,
    "p3": Severity.MEDIUM,
    "sev3": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "med": Severity.MEDIUM,
    "p4": Severity.LOW,
    "p5": Severity.LOW,
    "sev4": Severity.LOW,
    "sev5": Severity.LOW,
    "minor": Severity.LOW,
    "negligible": Severity.LOW,
    "info": Severity.LOW,
    "informational": Severity.LOW,
    "none": Severity.UNKNOWN,
}


class ItemStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    DONE = "done"
    WONT_DO = "wont_do"

    @property
    def is_open(self) -> bool:
        return self not in (ItemStatus.DONE, ItemStatus.WONT_DO)

    @classmethod
    def parse(cls, text: str | None) -> ItemStatus | None:
        if text is None:
            return None
        key = str(text).strip().lower().replace("-", "_").replace(" ", "_")
        return _STATUS_WORDS.get(key)


_STATUS_WORDS = {
    **{s.value: s for s in ItemStatus},
    "todo": ItemStatus.OPEN,
    "to_do": ItemStatus.OPEN,
    "new": ItemStatus.OPEN,
    "backlog": ItemStatus.OPEN,
    "proposed": ItemStatus.OPEN,
    "accepted": ItemStatus.OPEN,
    "active": ItemStatus.OPEN,
    "doing": ItemStatus.IN_PROGRESS,
    "started": ItemStatus.IN_PROGRESS,
    "wip": ItemStatus.IN_PROGRESS,
    "mitigating": ItemStatus.IN_PROGRESS,
    "closed": ItemStatus.DONE,
    "resolved": ItemStatus.DONE,
    "fixed": ItemStatus.DONE,
    "complete": ItemStatus.DONE,
    "completed": ItemStatus.DONE,
    "mitigated": ItemStatus.DONE,
    "remediated": ItemStatus.DONE,
    "cancelled": ItemStatus.WONT_DO,
    "canceled": ItemStatus.WONT_DO,
    "wontfix": ItemStatus.WONT_DO,
    "won't_fix": ItemStatus.WONT_DO,
    "risk_accepted": ItemStatus.WONT_DO,
}
