"""The shared outcome vocabulary: the closed set of statuses, and the skipped result.

Every result that could not be computed is a :class:`SkippedResult`: it carries the reason,
and ``skipped`` is true on it, so a report never shows a silent zero. A bare reason is a
:class:`Skipped`; a result that also names what was skipped (an SLO, a queue, a service)
is its own dataclass deriving from :class:`SkippedResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar


class Status(StrEnum):
    """Closed set of outcomes for a section, a check or a gate."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"
    ERROR = "error"


class SkippedResult:
    """Base of every result that could not be computed; each declares ``reason`` as a field."""

    __slots__ = ()
    reason: str
    skipped: ClassVar[bool] = True


@dataclass(frozen=True)
class Skipped(SkippedResult):
    """A value that could not be computed, and why."""

    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"skipped": self.reason}
