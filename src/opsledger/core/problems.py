"""Problems found in input files, and the result type every reader returns.

A reader never raises on bad input: it returns what it could read plus a list of
:class:`Problem`. A problem is either *fatal* (the file as a whole could not be read:
truncated JSON, a missing column, an unsafe archive) or a *row* problem (one record was
quarantined, the rest stand; in ``opsledger.yaml``, an entry naming a service, team, gate...
that the workspace does not declare, which applies to nothing). Row problems are listed and
counted, and fail a run under ``--strict``; a *warning* never does.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class Level(StrEnum):
    FATAL = "fatal"  # the file could not be used at all
    ROW = "row"  # one row/record/cell was quarantined, or a configured name matches nothing
    WARNING = "warning"  # read, but something looks off (kept)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what was expected, what was found."""

    path: str
    location: str  # "line 12", "line 12, column 'due_date'", "sheet 'Services' cell C7", "$.x[3]"
    message: str
    expected: str = ""
    found: str = ""
    level: Level = Level.ROW

    def __str__(self) -> str:
        where = f"{self.path}: {self.location}" if self.location else self.path
        text = f"{where}: {self.message}"
        if self.expected:
            text += f" (expected {self.expected}"
            text += f", found {self.found})" if self.found else ")"
        elif self.found:
            text += f" (found {self.found})"
        return text

    def to_json(self) -> dict[str, str]:
        return {
            "path": self.path,
            "location": self.location,
            "level": self.level.value,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
        }


# How close a known name must be to be offered as the one meant (difflib's ratio, 0-1).
SUGGESTION_CUTOFF = 0.6


def closest(name: str, known: Iterable[str]) -> str | None:
    """Return the known name closest to ``name``, ignoring case, or None if none is close:
    the "did you mean" of a problem about a name that matches nothing."""
    by_folded: dict[str, str] = {}
    for candidate in sorted(known):
        by_folded.setdefault(candidate.casefold(), candidate)
    close = difflib.get_close_matches(name.casefold(), list(by_folded), 1, SUGGESTION_CUTOFF)
    return by_folded[close[0]] if close else None


def shown(value: object, limit: int = 60) -> str:
    """Return a short, printable rendering of a found value for a problem message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class ReadResult(Generic[T]):
    """Records read from one input, and the problems found while reading it."""

    path: Path
    records: list[T] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    detected_format: str = ""

    @property
    def fatal(self) -> bool:
        return any(p.level is Level.FATAL for p in self.problems)

    @property
    def record_count(self) -> int:
        """Return how many records the input held (a reader that keeps its records in
        another shape than one per record says so by overriding this)."""
        return len(self.records)

    @property
    def quarantined(self) -> list[Problem]:
        return [p for p in self.problems if p.level is Level.ROW]

    def fail(
        self, location: str, message: str, expected: str = "", found: str = ""
    ) -> ReadResult[T]:
        """Record a fatal problem and return self, so a reader can ``return result.fail(...)``."""
        self.problems.append(
            Problem(str(self.path), location, message, expected, found, Level.FATAL)
        )
        return self

    def quarantine(self, location: str, message: str, expected: str = "", found: str = "") -> None:
        self.problems.append(Problem(str(self.path), location, message, expected, found, Level.ROW))

    def warn(self, location: str, message: str, expected: str = "", found: str = "") -> None:
        self.problems.append(
            Problem(str(self.path), location, message, expected, found, Level.WARNING)
        )

    def extend(self, problems: Iterable[Problem]) -> None:
        self.problems.extend(problems)
