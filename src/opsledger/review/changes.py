"""Whether a KPI moved since last month by enough to matter, and how to show the move.

A change smaller than its unit's threshold is "same": month-to-month noise is not news, and
a report never says "-0.00 pts worse". The thresholds, by unit:

- ``ratio`` (availability, shares, spend against target): 0.01 percentage points, the
  smallest step the report shows; 99.95 % against 99.76 % is a real change (0.19 pts).
- ``count``, ``minutes`` and currencies: 5 % of last month's value, and at least one unit
  (one incident, one minute, one unit of currency), so 409 tickets after 405 is "same" but
  12 incidents after 11 is "worse".

Pure functions: no clock, no files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opsledger.render.scales import LARGEST
from opsledger.review.kpis import Better, format_value

RATIO_THRESHOLD = 0.0001  # 0.01 percentage points
RELATIVE_THRESHOLD = 0.05  # of last month's value, for every other unit
UNIT_FLOOR = 1.0  # one incident, one minute, one unit of currency


class Verdict(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    SAME = "same"


def threshold(unit: str, previous: float) -> float:
    """Return the smallest change of a KPI in ``unit`` from ``previous`` that counts."""
    if unit == "ratio":
        return RATIO_THRESHOLD
    return max(UNIT_FLOOR, RELATIVE_THRESHOLD * abs(previous))


def threshold_text(unit: str, previous: float) -> str:
    """Return the threshold of :func:`threshold` for people ("0.01 pts", "5.0 min")."""
    if unit == "ratio":
        return f"{RATIO_THRESHOLD * 100:.2f} pts"
    return format_value(threshold(unit, previous), unit)


def verdict(previous: float, current: float, unit: str, better: Better) -> Verdict:
    """Return whether ``current`` is better, worse or the same as ``previous``."""
    change = current - previous
    # A hair of tolerance: 0.9996 - 0.9995 is 0.01 pts, though in binary a shade less.
    if abs(change) < threshold(unit, previous) * (1 - 1e-9):
        return Verdict.SAME
    improved = change > 0 if better is Better.HIGHER else change < 0
    return Verdict.BETTER if improved else Verdict.WORSE


def shown_value(value: float, unit: str) -> float:
    """Return ``value`` rounded as :func:`~opsledger.review.kpis.format_value` shows it."""
    if unit == "ratio":
        return round(value * 100, 3 if abs(value) >= 0.99 else 2) / 100
    if unit == "count":
        return float(round(value))
    if unit == "minutes":
        return round(value, 1)
    return round(value, 2)


def shown_change(previous: float, current: float, unit: str) -> float:
    """Return the change between the two values as shown, so that the reader's subtraction
    of the figures on the page gives the change printed beside them."""
    return shown_value(current, unit) - shown_value(previous, unit)


def format_change(change: float, unit: str) -> str:
    """Return a signed change for people: percentage points for ratios, else the unit.

    A change too small to show at the unit's precision is written as below that precision
    ("<0.01 pts"), never as a signed zero.
    """
    if unit == "ratio":
        points = change * 100
        if round(points, 2) == 0:
            return "<0.01 pts"
        return f"{points:+.2f} pts"
    if unit == "count":
        if round(change) == 0:
            return "<1" if change else "0"
        return f"{change:+,.0f}"
    if unit == "minutes":
        if round(change, 1) == 0:
            return "<0.1 min"
        return f"{change:+,.1f} min"
    if round(change, 2) == 0:
        return f"<0.01 {unit}"
    return f"{change:+,.2f} {unit}"


@dataclass(frozen=True)
class KpiChange:
    """One KPI this month against the month before it."""

    name: str
    label: str
    unit: str
    better: Better
    current: float
    previous: float
    previous_month: str

    @property
    def change(self) -> float:
        return self.current - self.previous

    @property
    def verdict(self) -> Verdict:
        return verdict(self.previous, self.current, self.unit, self.better)

    @property
    def threshold(self) -> float:
        return threshold(self.unit, self.previous)

    @property
    def text(self) -> str:
        """Return e.g. "Mean time to resolve: 75.0 min (60.0 min in 2026-09, +15.0 min)"."""
        return (f"{self.label}: {format_value(self.current, self.unit)} "
                f"({format_value(self.previous, self.unit)} in {self.previous_month}, "
                f"{self.change_text})")

    @property
    def change_text(self) -> str:
        """Return the change as shown: the difference of the two values as printed."""
        return format_change(shown_change(self.previous, self.current, self.unit), self.unit)

    def to_json(self) -> dict[str, Any]:
        return {"kpi": self.name, "label": self.label, "unit": self.unit,
                "better": self.better.value, "current": self.current,
                "previous": self.previous, "previous_month": self.previous_month,
                "change": self.change, "threshold": self.threshold,
                "verdict": self.verdict.value}


def by_verdict(changes: Sequence[KpiChange], wanted: Verdict) -> list[KpiChange]:
    """Return the changes with the ``wanted`` verdict, the largest relative move first."""
    chosen = [c for c in changes if c.verdict is wanted]
    return sorted(chosen, key=lambda c: (-abs(c.change) / c.threshold, c.name))


def value_domain(values: Sequence[float | None], unit: str) -> tuple[float, float] | None:
    """Return the y range a chart of ``values`` should span so that their differences show.

    Percentages span their own range with a margin, not 0-100 % (99.76 % and 99.95 % must
    not look alike), clipped to 0-100; counts, minutes and money start at zero, where the
    reader expects them.
    """
    shown = [v for v in values if v is not None]
    if not shown:
        return None
    low, high = min(shown), max(shown)
    if unit == "%":
        margin = max((high - low) * 0.15, 0.05)
        return (max(0.0, low - margin), min(100.0, high + margin))
    top = high * 1.1 if high > 0 else 1.0
    # No axis reaches beyond what a chart can label; values past it are drawn off the plot.
    return (max(-LARGEST, min(0.0, low * 1.1)), min(LARGEST, top))
