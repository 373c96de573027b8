"""Service level objectives, their indicators, and minute-bucketed SLI series.

Every SLO format opsledger reads (OpenSLO, Sloth, slo-generator, native) is normalised into
:class:`Slo`: an objective as a fraction (0-1), a window in days (rolling or calendar), a
budgeting method, and one indicator whose counts any engine can produce.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import numpy.typing as npt

MINUTE = timedelta(minutes=1)


class BudgetingMethod(StrEnum):
    """How the error budget is counted (OpenSLO ``budgetingMethod``)."""

    OCCURRENCES = "occurrences"  # good events / total events
    TIMESLICES = "timeslices"  # good time slices / all slices; a slice is good if its SLI >= target
    RATIO_TIMESLICES = "ratio_timeslices"  # mean of the per-slice ratios

    @classmethod
    def parse(cls, text: str | None) -> BudgetingMethod | None:
        if text is None:
            return None
        key = str(text).strip().lower().replace("-", "").replace("_", "").replace(" ", "")
        return {
            "occurrences": cls.OCCURRENCES,
            "timeslices": cls.TIMESLICES,
            "ratiotimeslices": cls.RATIO_TIMESLICES,
        }.get(key)


class CalendarUnit(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


@dataclass(frozen=True)
class SloWindow:
    """The compliance period: ``days`` long, rolling or aligned to a calendar unit."""

    days: int
    rolling: bool = True
    calendar_unit: CalendarUnit | None = None  # for calendar windows: the period it aligns to
    anchor: datetime | None = None  # calendar windows of N days: periods start here + k * N days

    @property
    def duration(self) -> timedelta:
        return timedelta(days=self.days)

    @property
    def label(self) -> str:
        """Return the window as written in reports: ``"30d"``, ``"28d"``, ``"calendar month"``."""
        if self.rolling or self.calendar_unit is None:
            return f"{self.days}d"
        return f"calendar {self.calendar_unit.value}"

    def end_of_period(self, end: datetime) -> datetime:
        """Return when the period containing ``end`` closes (``end`` itself when rolling)."""
        if self.rolling:
            return end
        start = self.start_at(end)
        unit = self.calendar_unit
        if unit is None:
            return start + self.duration
        if unit is CalendarUnit.DAY:
            return start + timedelta(days=1)
        if unit is CalendarUnit.WEEK:
            return start + timedelta(days=7)
        months = {CalendarUnit.MONTH: 1, CalendarUnit.QUARTER: 3, CalendarUnit.YEAR: 12}[unit]
        month0 = start.month - 1 + months
        return start.replace(year=start.year + month0 // 12, month=month0 % 12 + 1)

    def start_at(self, end: datetime) -> datetime:
        """Return where the window ending at ``end`` begins (calendar windows align down)."""
        if self.rolling:
            return end - self.duration
        if self.anchor is not None and self.calendar_unit is None:
            periods = (end - self.anchor) // self.duration
            return self.anchor + periods * self.duration
        if self.calendar_unit is None:
            return end - self.duration
        day = end.replace(hour=0, minute=0, second=0, microsecond=0)
        if self.calendar_unit is CalendarUnit.DAY:
            return day
        if self.calendar_unit is CalendarUnit.WEEK:
            return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
        if self.calendar_unit is CalendarUnit.MONTH:
            return day.replace(day=1)
        if self.calendar_unit is CalendarUnit.QUARTER:
            return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
        return day.replace(month=1, day=1)


# --- indicator sources -------------------------------------------------------------------


class PromQueryKind(StrEnum):
    """How a PromQL expression is turned into per-minute event counts."""

    COUNTER = "counter"  # a counter selector/expression: sum(increase((q)[1m]))
    RATE_TEMPLATE = "rate_template"  # contains {{.window}} and yields events per second (Sloth)
    COUNT_TEMPLATE = "count_template"  # contains {{.window}} and yields events over the window


@dataclass(frozen=True)
class PromQuery:
    expr: str
    kind: PromQueryKind = PromQueryKind.COUNTER


@dataclass(frozen=True)
class Threshold:
    """A good-value condition for a threshold metric: ``value <op> bound`` is good."""

    op: str  # lt | lte | gt | gte
    bound: float

    def sql(self, column: str) -> str:
        symbol = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[self.op]
        return f"({column}) {symbol} {self.bound!r}"


@dataclass(frozen=True)
class PrometheusSource:
    """Counts from Prometheus: good/total or bad/total counters, or one ratio/gauge query.

    With ``ratio`` set, each minute with a sample is one event whose goodness is the ratio
    (or, with ``threshold``, 1 when the sampled value meets the threshold, else 0).
    """

    good: PromQuery | None = None
    bad: PromQuery | None = None
    total: PromQuery | None = None
    ratio: PromQuery | None = None
    threshold: Threshold | None = None
    url: str | None = None  # the data source's URL when the definition names one


@dataclass(frozen=True)
class DuckDbSource:
    """Counts from event files (Parquet, CSV or JSONL) under the workspace.

    ``path`` is a file or glob relative to the workspace root; ``good``/``bad``/``total`` are
    SQL predicates over the rows (``total`` None: every row counts).
    """

    path: str
    timestamp: str = "ts"
    good: str | None = None
    bad: str | None = None
    total: str | None = None


@dataclass(frozen=True)
class HealthSource:
    """Counts from the health-check history: a probe is an event, good when it passed."""

    service: str
    check: str | None = None  # None: every check of the service


IndicatorSource = PrometheusSource | DuckDbSource | HealthSource


@dataclass(frozen=True)
class ErrorBudgetPolicyStep:
    """One step of an slo-generator error budget policy (alert when burn >= threshold)."""

    name: str
    window: timedelta
    burn_rate_threshold: float
    alert: bool = True
    message_alert: str = ""
    message_ok: str = ""


@dataclass(frozen=True)
class Slo:
    """One SLO normalised from any supported format."""

    service: str
    name: str
    objective: float  # 0-1
    window: SloWindow
    indicator: IndicatorSource
    description: str = ""
    budgeting: BudgetingMethod = BudgetingMethod.OCCURRENCES
    timeslice_target: float | None = None  # 0-1; a slice is good when its SLI >= this
    timeslice_size: timedelta = MINUTE
    error_budget_policy: tuple[ErrorBudgetPolicyStep, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    source_format: str = "native"
    source_path: str = ""
    source_line: int = 0
    display_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def error_budget(self) -> float:
        """Return the allowed bad fraction, ``1 - objective``."""
        return 1.0 - self.objective

    @property
    def where(self) -> str:
        return f"{self.source_path}:{self.source_line}" if self.source_line else self.source_path


# --- series ------------------------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SliSeries:
    """Good and total event counts per minute from ``start`` (UTC, minute-aligned).

    Counts are floats because Prometheus ``increase`` extrapolates; file engines give
    whole numbers. A minute with no events has ``total == 0``.
    """

    start: datetime
    good: FloatArray
    total: FloatArray
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.good.shape != self.total.shape or self.good.ndim != 1:
            raise ValueError("good and total must be one-dimensional arrays of the same length")

    @property
    def minutes(self) -> int:
        return int(self.total.shape[0])

    @property
    def end(self) -> datetime:
        return self.start + self.minutes * MINUTE

    @property
    def bad(self) -> FloatArray:
        return self.total - self.good

    def index_of(self, when: datetime) -> int:
        """Return the minute index of ``when``, clipped to ``[0, minutes]``."""
        offset = int((when - self.start) // MINUTE)
        return min(max(offset, 0), self.minutes)

    def between(self, begin: datetime, end: datetime) -> SliSeries:
        """Return the minutes in ``[begin, end)`` (clipped to this series)."""
        i, j = self.index_of(begin), self.index_of(end)
        return SliSeries(self.start + i * MINUTE, self.good[i:j], self.total[i:j], self.source)

    @classmethod
    def empty(cls, start: datetime, minutes: int, source: str = "") -> SliSeries:
        zeros = np.zeros(minutes, dtype=np.float64)
        return cls(start, zeros, zeros.copy(), source)
