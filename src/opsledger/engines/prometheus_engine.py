"""SLI counts from Prometheus over its HTTP API, the ratio pushed down as PromQL.

Each counter is asked for ``sum(increase(<counter>[1m]))`` with ``/api/v1/query_range`` at a
60 s step: the value at ``t`` counts the events in ``(t - 1m, t]``, i.e. the minute that ends
at ``t``. Prometheus refuses more than 11,000 points per series, so long spans are fetched in
chunks. Sloth-style templates (``{{.window}}``) are filled with ``1m``; rate templates are
multiplied by 60 to give events.

Good, bad and total are counted separately, so the SLI over any window is the ratio of the
summed events, never a mean of minute ratios. The two sides an SLI is counted from are asked
for in one query (:func:`sides_expr`): each side's expression is labelled with its name by
``label_replace`` and the two are joined with ``or``, so every span costs one round trip,
not two; a query Prometheus rejects is asked again side by side, so that the message names
the side at fault. A ratio query (``1 - (errors / total)`` over
``{{.window}}``) is counted this way too when the readers found its two sides; only a ratio
they could not split, or a gauge, is sampled once a minute, one event per minute.

``increase`` extrapolates to the window edges when the first or last sample is not on them,
so a minute's count is exact when samples fall on the minute boundaries or traffic is steady
within the minute, and an estimate otherwise.

Every answer comes through :class:`~opsledger.engines.prometheus_client.PrometheusClient`,
which holds the command to one deadline, caps the decompressed answer, follows no redirect
and accepts only well-formed range-query answers. Here each sample is then checked for what
its query means (:class:`Reading`): event counts must be finite and plausible, a ratio's NaN
is a minute without data, so no NaN or Infinity ever reaches a result or ``--json``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import numpy as np

from opsledger.core.errors import EngineError
from opsledger.engines.interface import minutes_between
from opsledger.engines.prometheus_client import (
    MAX_ANSWER_BYTES,
    Deadline,
    MatrixSeries,
    PrometheusAnswerRefused,
    PrometheusClient,
    PrometheusQueryRejected,
    command_deadline,
    redact_url,
    sample_text,
    sample_time,
)
from opsledger.model.slo import (
    MINUTE,
    BudgetingMethod,
    FloatArray,
    PrometheusSource,
    PromQuery,
    PromQueryKind,
    SliSeries,
    Slo,
)

MAX_POINTS = 11_000  # Prometheus' limit on points per series in one range query
CHUNK_MINUTES = 10_000
STEP_SECONDS = 60
# No service counts 10^15 events in a minute; bounding each sample keeps every sum over any
# window and any number of series far from float overflow, so no Infinity reaches a result.
MAX_EVENTS_PER_MINUTE = 1e15
# The label that tells apart the sides of an SLI asked for in one query (:func:`sides_expr`).
SIDE_LABEL = "opsledger_side"
_SELECTOR = re.compile(r"^\s*[A-Za-z_:][A-Za-z0-9_:]*\s*(\{[^{}]*\})?\s*$")


class Reading(Enum):
    """What a query's samples are, which decides what a NaN or an infinite sample means."""

    EVENTS = "event count"  # every sample must be a finite count
    RATIO = "ratio"  # NaN is Prometheus' 0/0 (no traffic): the minute has no data
    GAUGE = "gauge"  # compared with a threshold: NaN has no data, +Inf is above every bound


def counts_expr(query: PromQuery, minutes: int = 1) -> str:
    """Return the PromQL giving events in the ``minutes`` (1 or 60) ending at each evaluation."""
    window = f"{minutes}m" if minutes < 60 else f"{minutes // 60}h"
    if query.kind is PromQueryKind.RATE_TEMPLATE:
        return f"(sum({query.expr.replace('{{.window}}', window)}) * {minutes * 60})"
    if query.kind is PromQueryKind.COUNT_TEMPLATE:
        return f"sum({query.expr.replace('{{.window}}', window)})"
    if _SELECTOR.match(query.expr):
        return f"sum(increase({query.expr.strip()}[{window}]))"
    # An expression over counters: a subquery keeps increase() applicable.
    return f"sum(increase(({query.expr})[{window}:15s]))"


@dataclass(frozen=True)
class Spans:
    """How a span of minutes is fetched: minute by minute at both ends, by hour in between.

    ``head`` minutes from the start, then ``hours`` whole hours, then ``tail`` minutes to the
    end. The hours end on whole hours before the end, so every window that ends at the end
    and lasts whole hours (every burn window from 1h, and a rolling SLO window) is a sum of
    exact counts; the tail covers the windows shorter than an hour.
    """

    head: int
    hours: int
    tail: int

    @classmethod
    def of(cls, minutes: int, minute_detail: timedelta | None) -> Spans:
        if minute_detail is None:
            return cls(minutes, 0, 0)
        tail = min(minutes, -(-int(minute_detail // MINUTE) // 60) * 60)
        hours = (minutes - tail) // 60
        return cls(minutes - tail - hours * 60, hours, tail)


def sides_expr(exprs: Mapping[str, str]) -> str:
    """Return one PromQL expression that answers every side of ``exprs`` (name to PromQL) at
    once: each side's series labelled :data:`SIDE_LABEL` = its name, joined with ``or``.
    A single side is asked for as it is."""
    if len(exprs) == 1:
        return next(iter(exprs.values()))
    return " or ".join(f'label_replace({expr}, "{SIDE_LABEL}", "{name}", "", "")'
                       for name, expr in exprs.items())


def ratio_expr(query: PromQuery) -> str:
    """Return the PromQL for a ratio or gauge query sampled once per minute (a ratio with
    no good or bad counts beside it: one that cannot be counted as a ratio of sums)."""
    return query.expr.replace("{{.window}}", "1m")


class PrometheusEngine:
    """Asks one Prometheus server (``url``) for SLI counts, within the command's deadline.

    ``deadline`` is the command's one time budget for Prometheus, shared by every engine the
    command makes (default: a new one of ``OPSLEDGER_PROMETHEUS_DEADLINE`` seconds).
    """

    name = "prometheus"

    def __init__(
        self,
        url: str,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        chunk_minutes: int = CHUNK_MINUTES,
        deadline: Deadline | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.client = PrometheusClient(
            url,
            deadline if deadline is not None else command_deadline(),
            timeout=timeout,
            connect_timeout=connect_timeout,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
            max_answer_bytes=max_answer_bytes,
        )
        self.url = self.client.url
        # What messages and labels show: never the credentials a URL may carry.
        self.shown_url = redact_url(self.url)
        self.chunk_minutes = min(max(1, chunk_minutes), MAX_POINTS - 1)

    def supports(self, slo: Slo) -> bool:
        return isinstance(slo.indicator, PrometheusSource)

    def series(
        self,
        slo: Slo,
        start: datetime,
        end: datetime,
        minute_detail: timedelta | None = None,
        exact: Sequence[tuple[datetime, datetime]] = (),
    ) -> SliSeries:
        """Return the SLO's counts per minute over ``[start, end)``.

        With ``minute_detail``, only the minutes of that last stretch (rounded up to whole
        hours) and those before the first whole hour of the span are fetched one by one;
        each hour in between is fetched as one count and spread evenly over its minutes. A
        command that needs sums over windows ending at ``end`` (status, budgets, burn rates)
        then asks Prometheus for some 700 points a series rather than 40,000 for 28 days;
        one that replays every minute (alert backtests) asks for minute detail throughout.
        The hours that meet one of the ``exact`` spans (incidents whose share of the budget
        is computed) are fetched by the minute too.
        Ratios sampled once a minute and time-slice budgets are always fetched by minute.
        """
        source = slo.indicator
        if not isinstance(source, PrometheusSource):
            raise EngineError(f"{slo.key}: not a Prometheus SLI")
        minutes = minutes_between(start, end)
        if slo.budgeting is not BudgetingMethod.OCCURRENCES:
            minute_detail = None  # every slice is judged on its own minutes
        # A ratio that comes with its sides as counts (a windowed 'A / B') is counted by its
        # sides: the SLI over any window is then a ratio of sums. Only a ratio without them is
        # sampled, each minute one event as good as the ratio.
        if source.ratio is not None and source.good is None and source.bad is None:
            reading = Reading.RATIO if source.threshold is None else Reading.GAUGE
            values = self.minute_values(ratio_expr(source.ratio), start, minutes, slo, reading)
            present = ~np.isnan(values)
            total = present.astype(np.float64)
            if source.threshold is not None:
                good = np.zeros(minutes)
                good[present] = _meets(values[present], source.threshold.op, source.threshold.bound)
            else:
                good = np.where(present, np.clip(values, 0.0, 1.0), 0.0)
            return _finite(SliSeries(start, good, total, source=f"prometheus:{self.shown_url}"))
        spans = Spans.of(minutes, minute_detail)
        counts = self.event_counts(dict(_counted(source)), start, spans, slo, exact)
        good, total = _good_and_total({name: np.nan_to_num(v) for name, v in counts.items()})
        return _finite(SliSeries(start, good, total, f"prometheus:{self.shown_url}"))

    def refine(
        self,
        slo: Slo,
        series: SliSeries,
        minute_detail: timedelta,
        exact: Sequence[tuple[datetime, datetime]],
    ) -> SliSeries:
        """Return ``series`` (fetched with ``minute_detail``) with the summed hours that meet
        the ``exact`` spans fetched again minute by minute; the other minutes are kept."""
        source = slo.indicator
        if not isinstance(source, PrometheusSource) or (
                source.good is None and source.bad is None) or (
                slo.budgeting is not BudgetingMethod.OCCURRENCES):
            return series  # fetched minute by minute already
        spans = Spans.of(series.minutes, minute_detail)
        hours_start = series.start + spans.head * MINUTE
        good, total = series.good.copy(), series.total.copy()
        minute = {name: counts_expr(query) for name, query in _counted(source)}
        for first, last in _hours_meeting(exact, hours_start, spans.hours):
            begin, count = hours_start + first * 60 * MINUTE, (last - first) * 60
            part_good, part_total = _good_and_total({
                name: np.nan_to_num(values)
                for name, values in self.sides_minute_values(minute, begin, count, slo).items()
            })
            at = spans.head + first * 60
            good[at : at + count], total[at : at + count] = part_good, part_total
        return _finite(SliSeries(series.start, good, total, series.source, series.notes))

    def event_counts(
        self,
        queries: Mapping[str, PromQuery],
        start: datetime,
        spans: Spans,
        slo: Slo,
        exact: Sequence[tuple[datetime, datetime]] = (),
    ) -> dict[str, FloatArray]:
        """Return events per minute over the span for each of ``queries`` (side name to
        counter query), asked for together; hours in the middle are spread over their
        minutes except the hours that meet one of the ``exact`` spans, fetched by the minute."""
        minute = {name: counts_expr(query) for name, query in queries.items()}
        parts = [self.sides_minute_values(minute, start, spans.head, slo)]
        if spans.hours:
            hours_start = start + spans.head * MINUTE
            hourly = self.sides_minute_values(
                {name: counts_expr(query, 60) for name, query in queries.items()},
                hours_start, spans.hours * 60, slo, step=60)
            spread = {name: np.repeat(values[59::60] / 60, 60) for name, values in hourly.items()}
            for first, last in _hours_meeting(exact, hours_start, spans.hours):
                begin = hours_start + first * 60 * MINUTE
                exact_minutes = self.sides_minute_values(minute, begin, (last - first) * 60, slo)
                for name, values in exact_minutes.items():
                    spread[name][first * 60 : last * 60] = values
            parts.append(spread)
        tail_start = start + (spans.head + spans.hours * 60) * MINUTE
        parts.append(self.sides_minute_values(minute, tail_start, spans.tail, slo))
        return {name: np.concatenate([part[name] for part in parts]) for name in queries}

    def minute_values(
        self,
        expr: str,
        start: datetime,
        minutes: int,
        slo: Slo,
        reading: Reading = Reading.EVENTS,
        step: int = 1,
    ) -> FloatArray:
        """Return one value per minute (NaN where Prometheus has none), evaluated at minute end.

        With ``step`` (minutes), the expression is evaluated every ``step`` minutes and each
        value lands on the last minute of its step; the others are NaN. Samples are checked
        against ``reading`` before they are added up (see :func:`_usable`), so a sum holds
        only finite values of the expected kind.
        """
        return self.sides_minute_values({"": expr}, start, minutes, slo, reading, step)[""]

    def sides_minute_values(
        self,
        exprs: Mapping[str, str],
        start: datetime,
        minutes: int,
        slo: Slo,
        reading: Reading = Reading.EVENTS,
        step: int = 1,
    ) -> dict[str, FloatArray]:
        """Return :meth:`minute_values` of each of ``exprs`` (side name to PromQL), asked for
        in one query per chunk (:func:`sides_expr`). If Prometheus rejects the joined query,
        each side is asked alone: a side at fault is then named by its own expression, and
        sides that each pass (where the joined query ran into a server limit) are answered."""
        try:
            return self._minute_values(exprs, start, minutes, slo, reading, step)
        except PrometheusQueryRejected:
            if len(exprs) == 1:
                raise
        return {name: self._minute_values({name: expr}, start, minutes, slo, reading, step)[name]
                for name, expr in exprs.items()}

    def _minute_values(
        self,
        exprs: Mapping[str, str],
        start: datetime,
        minutes: int,
        slo: Slo,
        reading: Reading,
        step: int,
    ) -> dict[str, FloatArray]:
        names = list(exprs)
        sums = {name: np.zeros(minutes) for name in names}
        present = {name: np.zeros(minutes, dtype=bool) for name in names}
        query = sides_expr(exprs)
        first = 0
        while first < minutes:
            count = min(self.chunk_minutes * step, minutes - first)
            eval_start = start + (first + step) * MINUTE
            eval_end = start + (first + count) * MINUTE
            for found in self.query_range(query, eval_start, eval_end, slo, step * STEP_SECONDS):
                name = names[0] if len(names) == 1 else found.labels.get(SIDE_LABEL, "")
                if name not in sums:
                    raise PrometheusAnswerRefused(
                        f"{slo.key} (defined at {slo.where}): Prometheus answered a series "
                        f"without the {SIDE_LABEL} label the query gives each side\n"
                        f"  query: {query}"
                    )
                values = _usable(found, reading, exprs[name], slo)
                index = np.rint((found.stamps - start.timestamp()) / 60).astype(np.int64) - 1
                keep = (index >= 0) & (index < minutes) & ~np.isnan(values)
                np.add.at(sums[name], index[keep], values[keep])
                present[name][index[keep]] = True
            first += count
        return {name: np.where(present[name], sums[name], np.nan) for name in names}

    def query_range(
        self, expr: str, start: datetime, end: datetime, slo: Slo, step: int = STEP_SECONDS
    ) -> list[MatrixSeries]:
        """Return the validated matrix answer of one range query (see :class:`PrometheusClient`)."""
        if (end - start) / timedelta(seconds=step) + 1 > MAX_POINTS:
            raise EngineError(f"range query of {start}..{end} exceeds {MAX_POINTS} points")
        where = f"{slo.key} (defined at {slo.where})"
        return self.client.query_range(expr, start, end, step, where)


def _counted(source: PrometheusSource) -> list[tuple[str, PromQuery]]:
    """Return the source's counter queries by what they count: good, bad, total."""
    named = (("good", source.good), ("bad", source.bad), ("total", source.total))
    return [(name, query) for name, query in named if query is not None]


def _good_and_total(fetched: dict[str, FloatArray]) -> tuple[FloatArray, FloatArray]:
    """Return good and total events per minute from the counts of two of good, bad, total."""
    if "total" in fetched:
        total = fetched["total"]
        good = fetched["good"] if "good" in fetched else total - fetched["bad"]
    else:
        good = fetched["good"]
        total = good + fetched["bad"]
    return np.clip(good, 0.0, None), np.clip(total, 0.0, None)


def _hours_meeting(
    exact: Sequence[tuple[datetime, datetime]], hours_start: datetime, hours: int
) -> list[tuple[int, int]]:
    """Return the runs ``[first, last)`` of hour indices that meet any of the ``exact`` spans."""
    wanted = np.zeros(hours + 1, dtype=bool)
    for begin, end in exact:
        first = max(0, int((begin - hours_start) // (60 * MINUTE)))
        last = min(hours, -int(-(end - hours_start) // (60 * MINUTE)))
        wanted[first:last] = True
    runs, at = [], 0
    while at < hours:
        if wanted[at]:
            stop = at + int(np.argmin(wanted[at:]))
            runs.append((at, stop))
            at = stop
        else:
            at += 1
    return runs


def _usable(found: MatrixSeries, reading: Reading, expr: str, slo: Slo) -> FloatArray:
    """Return the series' values with NaN where a minute has no data; refuse values that cannot
    be what ``reading`` says (a NaN or infinite event count, an infinite ratio, a count beyond
    :data:`MAX_EVENTS_PER_MINUTE`)."""
    values = found.values
    if reading is Reading.EVENTS:
        wrong = ~np.isfinite(values) | (np.abs(values) > MAX_EVENTS_PER_MINUTE)
        why = f"an event count must be a finite number of at most {MAX_EVENTS_PER_MINUTE:g}"
    elif reading is Reading.RATIO:
        wrong = np.isinf(values)
        why = "a ratio cannot be infinite (the query divides by zero)"
    else:
        return values
    if wrong.any():
        at = int(np.argmax(wrong))
        value, stamp = sample_text(float(values[at])), sample_time(float(found.stamps[at]))
        raise PrometheusAnswerRefused(
            f"{slo.key} (defined at {slo.where}): Prometheus returned {value} at "
            f"{stamp} for a query read as {reading.value}; "
            f"{why}\n  query: {expr}"
        )
    return values


def _finite(series: SliSeries) -> SliSeries:
    """Return ``series`` once it is proven finite: no NaN or Infinity may reach a result."""
    if not (np.isfinite(series.good).all() and np.isfinite(series.total).all()):
        raise PrometheusAnswerRefused(
            f"counts from {series.source} are not finite numbers; the answers are refused"
        )
    return series


def _meets(values: FloatArray, op: str, bound: float) -> FloatArray:
    compare = {"lt": np.less, "lte": np.less_equal, "gt": np.greater, "gte": np.greater_equal}[op]
    return compare(values, bound).astype(np.float64)
