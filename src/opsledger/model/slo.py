"""Service level objectives, their indicators, and minute-bucketed SLI series.

Every SLO format opsledger reads (OpenSLO, Sloth, slo-generator, native) is normalised into
:class:`Slo`: an objective as a fraction (0-1), a window (rolling days or calendar periods), a
budgeting method, and one indicator whose counts any engine can produce, or (a composite SLO)
the other SLOs whose counts it combines.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


# 2001-01-01 was a Monday: a midnight, an ISO week start, and the first of a month, quarter and
# year, so periods counted from it align to every unit's natural boundary.
_NATURAL_ORIGIN = datetime(2001, 1, 1)
_MONTHS = {CalendarUnit.MONTH: 1, CalendarUnit.QUARTER: 3, CalendarUnit.YEAR: 12}


@dataclass(frozen=True)
class SloWindow:
    """The compliance period: ``days`` long and rolling, or a run of calendar periods.

    A calendar window (``rolling`` False) is ``count`` calendar units long. Its periods start
    at ``anchor + k * count`` units, counted on the wall clock of ``time_zone`` (an IANA name)
    and returned as UTC datetimes, so local midnight stays local midnight and a day may last
    23 or 25 hours. Month arithmetic keeps the anchor's day of the month, clamped to the
    month's length: from Jan 31, periods start Feb 28 (29), Mar 31, Apr 30. A wall time that a
    daylight-saving change skips moves forward by the gap; one that occurs twice is taken at
    its first occurrence. Without an anchor, periods align to the unit's natural boundary
    (midnight, ISO Monday, the first of a month, quarter or year).

    ``days`` is the window's approximate length (30 for a month), used for burn rates and
    projections.
    """

    days: int
    rolling: bool = True
    calendar_unit: CalendarUnit | None = None  # for calendar windows: the unit periods count
    anchor: datetime | None = None  # the first period's start as local wall time (naive)
    count: int = 1  # units per period: 2 with WEEK is a fortnight
    time_zone: str = "UTC"

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a calendar window counts at least one unit, not {self.count}")
        if not self.rolling and self.calendar_unit is None:
            raise ValueError("a calendar window needs a calendar unit")
        try:
            zone = self.zone
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone '{self.time_zone}'") from None
        if self.anchor is not None:  # an instant becomes the zone's wall time at that instant
            wall = self.anchor.astimezone(zone) if self.anchor.tzinfo else self.anchor
            object.__setattr__(self, "anchor", wall.replace(tzinfo=None, fold=0))

    @property
    def duration(self) -> timedelta:
        return timedelta(days=self.days)

    @property
    def zone(self) -> tzinfo:
        """Return the time zone calendar periods are counted in."""
        return UTC if self.time_zone == "UTC" else ZoneInfo(self.time_zone)

    @property
    def label(self) -> str:
        """Return the window as written in reports: ``"30d"``, ``"calendar month"``...

        Calendar windows name their count, anchor and time zone when these are not the
        defaults: ``"calendar 2 weeks from 2026-01-05 (America/New_York)"``.
        """
        if self.rolling or self.calendar_unit is None:
            return f"{self.days}d"
        unit = self.calendar_unit.value
        text = f"calendar {unit}" if self.count == 1 else f"calendar {self.count} {unit}s"
        if self.anchor is not None:
            clock = self.anchor.time()
            if clock == time():
                text += f" from {self.anchor.date().isoformat()}"
            else:
                spec = "minutes" if clock.second == clock.microsecond == 0 else "seconds"
                text += f" from {self.anchor.isoformat(sep=' ', timespec=spec)}"
        if self.time_zone != "UTC":
            text += f" ({self.time_zone})"
        return text

    def end_of_period(self, end: datetime) -> datetime:
        """Return when the period containing ``end`` closes (``end`` itself when rolling).

        For a calendar window this is the next period's start, in UTC.
        """
        if self.rolling:
            return end
        return self._period_start(self._period_index(end) + 1)

    def start_at(self, end: datetime) -> datetime:
        """Return where the window ending at ``end`` begins (calendar windows align down).

        ``end`` must be timezone-aware; calendar windows return the period's start in UTC.
        """
        if self.rolling:
            return end - self.duration
        return self._period_start(self._period_index(end))

    def _wall_start(self, index: int) -> datetime:
        """Return the local wall time period ``index`` starts at (period 0 starts at the anchor)."""
        origin = _NATURAL_ORIGIN if self.anchor is None else self.anchor
        unit = self.calendar_unit
        if unit is CalendarUnit.DAY or unit is CalendarUnit.WEEK:
            step = self.count * (7 if unit is CalendarUnit.WEEK else 1)
            return origin + timedelta(days=index * step)
        assert unit is not None
        months = origin.month - 1 + index * self.count * _MONTHS[unit]
        year, month = origin.year + months // 12, months % 12 + 1
        day = min(origin.day, monthrange(year, month)[1])
        return origin.replace(year=year, month=month, day=day)

    def _period_start(self, index: int) -> datetime:
        return self._wall_start(index).replace(tzinfo=self.zone).astimezone(UTC)

    def _period_index(self, end: datetime) -> int:
        """Return the index of the period holding ``end``: its start <= ``end`` < the next's."""
        if end.tzinfo is None:
            raise ValueError("calendar periods need a timezone-aware end time")
        wall = end.astimezone(self.zone).replace(tzinfo=None)
        origin = _NATURAL_ORIGIN if self.anchor is None else self.anchor
        unit = self.calendar_unit
        if unit is CalendarUnit.DAY or unit is CalendarUnit.WEEK:
            step = self.count * (7 if unit is CalendarUnit.WEEK else 1)
            index = (wall - origin) // timedelta(days=step)
        else:
            assert unit is not None
            months = (wall.year - origin.year) * 12 + wall.month - origin.month
            index = months // (self.count * _MONTHS[unit])
        # The estimate comes from wall time, which repeats or skips around daylight-saving
        # changes and ignores clamped month ends; settle it on UTC instants.
        while self._period_start(index) > end:
            index -= 1
        while self._period_start(index + 1) <= end:
            index += 1
        return index


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

    With ``ratio`` alone, each minute with a sample is one event whose goodness is the ratio
    (or, with ``threshold``, 1 when the sampled value meets the threshold, else 0). A ratio
    query that splits into two windowed sides keeps its text in ``ratio`` (the rules print
    it) and also carries the sides as ``good``/``bad``/``total``: the engines count those, so
    its SLI over any window is a ratio of sums.
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


class CompositeMethod(StrEnum):
    """How a composite SLO combines its components in each minute (or time slice).

    ``ALL_SUCCEED``: a journey succeeds only if every step does, the steps failing
    independently: the share of good journeys is the product of the components' good shares.
    ``WEIGHTED``: the composite burns its budget at the weighted mean of the components' burn
    rates (each component's bad share divided by its own error budget).
    ``WEIGHTED_SUM``: at the weighted sum of those burn rates (OpenSLO v1's composite rule).
    """

    ALL_SUCCEED = "all-succeed"
    WEIGHTED = "weighted"
    WEIGHTED_SUM = "weighted-sum"

    @property
    def weighs(self) -> bool:
        """Return True when the method uses the components' weights and error budgets."""
        return self is not CompositeMethod.ALL_SUCCEED


@dataclass(frozen=True)
class CompositeComponent:
    """One SLO a composite combines, by key (``service/name``), with its weight."""

    key: str
    weight: float = 1.0
    line: int = 0  # where the definition names it, for messages


@dataclass(frozen=True)
class CompositeSource:
    """An SLI derived from other SLOs' counts: a user journey that needs every step to work.

    ``per_slice`` False: the components' good and total events are combined minute by
    minute. True (OpenSLO ``Timeslices`` and ``RatioTimeslices`` composites): their time
    slices are, as each component's budgeting method judges its slices.
    """

    components: tuple[CompositeComponent, ...]
    method: CompositeMethod = CompositeMethod.ALL_SUCCEED
    per_slice: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.components)

    @property
    def label(self) -> str:
        """Return the composite as reports word it: ``all-succeed of a/x, b/y``; a weight
        other than 1 follows its component (``weighted of a/x ×2, b/y``)."""
        parts = [c.key if c.weight == 1 else f"{c.key} ×{c.weight:g}" for c in self.components]
        return f"{self.method.value} of {', '.join(parts)}"


IndicatorSource = PrometheusSource | DuckDbSource | HealthSource | CompositeSource


@dataclass(frozen=True)
class ErrorBudgetPolicyStep:
    """One step of an slo-generator error budget policy (alert when burn >= threshold)."""

    name: str
    window: timedelta
    burn_rate_threshold: float
    alert: bool = True
    message_alert: str = ""
    message_ok: str = ""


Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class AlertOptions:
    """One burn-rate alert as a definition asks for it (Sloth ``page_alert``/``ticket_alert``)."""

    disabled: bool = False
    labels: Labels = ()
    annotations: Labels = ()


@dataclass(frozen=True)
class RuleOptions:
    """What a definition says about its Prometheus rules beyond the SLO itself (Sloth).

    ``sloth_alerts`` True: alerts take Sloth's form (one ``alert_name`` for page and ticket,
    labels ``sloth_severity`` plus the user's, Sloth's default annotations); False: opsledger's
    (``...Page``/``...Ticket`` names, ``severity`` label, the policy annotation).
    """

    sloth_alerts: bool = False
    alert_name: str = ""
    alert_labels: Labels = ()
    alert_annotations: Labels = ()
    page: AlertOptions = AlertOptions()
    ticket: AlertOptions = AlertOptions()
    info_metric: str = "sloth_slo_info"
    info_labels: Labels = ()  # Sloth plugin sloth.dev/contrib/info_labels/v1
    sli_interval: str = ""  # group intervals: Sloth plugin sloth.dev/contrib/rule_intervals/v1
    metadata_interval: str = ""
    alert_interval: str = ""
    rule_slo_name: str = (
        ""  # sloth_slo in the rules when it differs (Sloth numbers OpenSLO objectives)
    )
    spec: str = ""  # the sloth_spec label: the definition's own version string


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
    rules: RuleOptions = RuleOptions()

    @property
    def key(self) -> str:
        return f"{self.service}/{self.name}"

    @property
    def composite(self) -> CompositeSource | None:
        """Return the components this SLO combines (None: it has an SLI of its own)."""
        return self.indicator if isinstance(self.indicator, CompositeSource) else None

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
