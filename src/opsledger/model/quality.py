"""Test-run results and code coverage, as read from CI reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestRunCounts:
    """Test cases of one JUnit XML file (or of several, summed).

    ``passed`` = tests - failures - errors - skipped; the *pass rate* is passed over the
    tests that ran (tests - skipped), so skipping a test neither helps nor hurts it.
    """

    __test__ = False  # a record, not a test case for pytest to collect

    source: str
    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped

    @property
    def ran(self) -> int:
        return self.tests - self.skipped

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.ran if self.ran > 0 else None

    def __add__(self, other: TestRunCounts) -> TestRunCounts:
        return TestRunCounts(
            "total",
            self.tests + other.tests,
            self.failures + other.failures,
            self.errors + other.errors,
            self.skipped + other.skipped,
        )


@dataclass(frozen=True)
class CoverageTotal:
    """Line coverage of a run, 0-1, and the report format it came from."""

    source: str
    line_rate: float
    format: str  # "coverage.py json" | "cobertura xml"
    lines_covered: int | None = None
    lines_valid: int | None = None
