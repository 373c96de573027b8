"""Reading a chart's plain data: required fields, numbers, x values, domains, units.

Chart data comes from the section builders as plain mappings. Anything that does not fit
its kind is a :class:`ChartError` naming the chart and the field, never a stray KeyError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsledger.render.chart_frame import Axis
from opsledger.render.scales import (
    ScaleError,
    data_domain,
    explicit_domain,
    parse_time,
    seconds,
    tick_labels,
    ticks,
    time_ticks,
    value_label,
)


class ChartError(ValueError):
    """Chart data does not fit its kind."""


def need(data: Mapping[str, Any], name: str, kind: str) -> Any:
    """Return ``data[name]``; raise ChartError when the field is missing."""
    if name not in data:
        raise ChartError(f"a {kind} chart needs '{name}' in its data")
    return data[name]


def listed(value: Any, where: str) -> list[Any]:
    """Return ``value`` as a list; raise ChartError unless it is a sequence (not text)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ChartError(f"'{where}' must be a list, not {type(value).__name__}")
    return list(value)


def numbers(values: Any, where: str) -> list[float | None]:
    """Return the values as floats, None (or NaN) standing for a missing value."""
    out: list[float | None] = []
    for i, value in enumerate(listed(values, where)):
        if value is None:
            out.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(value)  # numpy and Decimal scalars
            except (TypeError, ValueError):
                raise ChartError(f"'{where}[{i}]' is not a number: {value!r}") from None
        number = float(value)
        out.append(number if math.isfinite(number) else None)
    return out


def same_length(values: Sequence[Any], expected: int, where: str) -> None:
    if len(values) != expected:
        raise ChartError(f"'{where}' has {len(values)} values for {expected} positions")


def series_of(data: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    """Return the chart's series, each checked to be a mapping."""
    series = listed(need(data, "series", kind), "series")
    for i, item in enumerate(series):
        if not isinstance(item, Mapping):
            raise ChartError(f"'series[{i}]' must be a mapping")
    return series


def series_name(series: Mapping[str, Any], index: int) -> str:
    return str(series.get("name") or f"series {index + 1}")


def check_units(series: Sequence[Mapping[str, Any]]) -> str | None:
    """Return the series' common unit; raise ChartError when units differ (one axis, one
    unit: a chart of values in different units must be split into charts)."""
    units = {str(s["unit"]) for s in series if s.get("unit") not in (None, "")}
    if len(units) > 1:
        named = ", ".join(f"{series_name(s, i)} ({s['unit']})" for i, s in enumerate(series)
                          if s.get("unit") not in (None, ""))
        raise ChartError(f"series in different units cannot share an axis: {named}; "
                         "draw one chart per unit")
    return next(iter(units), None)


def legend_shown(data: Mapping[str, Any]) -> bool:
    """Return False when the chart's ``legend`` field turns the legend off."""
    return data.get("legend") not in (False, "none")


def reference_lines(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the chart's ``hlines`` (reference lines), each checked to have a numeric y."""
    out = []
    for i, line in enumerate(listed(data.get("hlines", []), "hlines")):
        if not isinstance(line, Mapping) or numbers([line.get("y")], f"hlines[{i}].y")[0] is None:
            raise ChartError(f"'hlines[{i}]' needs a numeric 'y'")
        out.append(line)
    return out


def value_domain(data: Mapping[str, Any], name: str, values: Sequence[float],
                 zero: bool) -> tuple[float, float]:
    """Return the explicit domain ``data[name]`` if set, else one chosen from the data."""
    if data.get(name) is not None:
        try:
            return explicit_domain(data[name], name)
        except ScaleError as exc:
            raise ChartError(str(exc)) from None
    return data_domain(values, zero=zero)


def value_axis(lo: float, hi: float, label: str, percent: bool = False,
               count: int = 5) -> Axis:
    """Return a continuous value axis with round, labelled ticks."""
    positions = ticks(lo, hi, count)
    if len(positions) < 2:  # a narrow explicit domain: label its ends
        positions = [lo, hi]
    return Axis(lo, hi, tuple(zip(positions, tick_labels(positions, percent), strict=True)),
                label)


def is_percent(data: Mapping[str, Any], axis: str) -> bool:
    fmt = data.get(f"{axis}_format")
    if fmt not in (None, "number", "percent"):
        raise ChartError(f"'{axis}_format' must be 'number' or 'percent', not {fmt!r}")
    return fmt == "percent"


@dataclass(frozen=True)
class XValues:
    """Where a chart's x values go: positions on the axis, and the axis itself."""

    axis: Axis
    kind: str  # time | number | category
    lookup: Mapping[Any, float]  # raw x value → position

    def positions(self, values: Sequence[Any]) -> list[float]:
        return [self.lookup[_key(v)] for v in values]


def _key(value: Any) -> Any:
    return value if isinstance(value, str | int | float) else str(value)


def x_values(all_values: Sequence[Any], label: str, most_ticks: int = 6) -> XValues:
    """Return the x axis for these values: a time axis when every value is a date or time,
    a number axis when every value is a number, else categories in first-seen order."""
    present = [v for v in all_values if v is not None]
    if not present:
        raise ChartError("the chart has no x values")
    times = [parse_time(v) for v in present]
    if all(t is not None for t in times):
        secs = [seconds(t) for t in times if t is not None]
        lo, hi = min(secs), max(secs)
        if lo == hi:
            lo, hi = lo - 43200, hi + 43200
        axis = Axis(lo, hi, tuple(time_ticks(lo, hi, most_ticks)), label)
        return XValues(axis, "time", {_key(v): s for v, s in zip(present, secs, strict=True)})
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        xs = [float(v) for v in present]
        lo, hi = min(xs), max(xs)
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        positions = ticks(lo, hi, most_ticks)
        if all(float(v).is_integer() for v in present):
            positions = [p for p in positions if p.is_integer()]
        axis = Axis(lo, hi, tuple(zip(positions, tick_labels(positions), strict=True)), label)
        return XValues(axis, "number", {_key(v): float(v) for v in present})
    order: dict[Any, float] = {}
    for value in present:
        order.setdefault(_key(value), float(len(order)))
    names = [str(k) for k in order]
    # Every label when they fit, else every k-th: a line needs no label at each point.
    step = max(1, math.ceil(len(names) / (most_ticks * 2)))
    shown = tuple((float(i), n) for i, n in enumerate(names) if i % step == 0)
    axis = Axis(-0.5, len(names) - 0.5, shown, label, tuple(names))
    return XValues(axis, "category", order)


def describe_values(values: Sequence[float | None], unit: str = "") -> str:
    """Return 'first a, last b, lowest c, highest d' for a series (for the description)."""
    present = [v for v in values if v is not None]
    if not present:
        return "no values"
    suffix = f" {unit}" if unit else ""
    return (f"first {value_label(present[0])}, last {value_label(present[-1])}, "
            f"lowest {value_label(min(present))}, highest {value_label(max(present))}{suffix}")
