"""Bar charts: vertical (grouped or stacked, with forecast parts) and horizontal.

A bar's length is its value, so the value axis keeps zero in view unless the chart sets
its domain. Series differ by hatching as well as colour; a forecast series is drawn light
and hatched with a dashed outline and named as a forecast in the legend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opsledger.render.chart_data import (
    ChartError,
    is_percent,
    legend_shown,
    listed,
    need,
    numbers,
    reference_lines,
    same_length,
    series_name,
    series_of,
    value_axis,
    value_domain,
)
from opsledger.render.chart_frame import SMALL_SIZE, Axis, Frame, Swatch
from opsledger.render.scales import mix, value_label
from opsledger.render.sections import Chart
from opsledger.render.svg import INK, OKABE_ITO, escape, hatch_pattern, num

FORECAST = "forecast"
STYLES = ("actual", FORECAST)
BAR_SHARE = 0.8  # of a category's slot
ROW_HEIGHT = 20.0  # per horizontal bar


def _style(series: Mapping[str, Any], name: str) -> str:
    style = series.get("style", "actual")
    if style not in STYLES:
        raise ChartError(f"'{name}.style' must be one of {', '.join(STYLES)}, not {style!r}")
    return str(style)


def _fill(frame: Frame, index: int, colour: str, forecast: bool) -> tuple[str, str]:
    """Return (fill, outline dash) for a series: solid, hatched, or light hatched forecast."""
    if forecast:
        ident = f"{frame.ident}-fc{index}"
        frame.canvas.defs.append(hatch_pattern(ident, colour, 1, mix((colour, "#ffffff"), 0.7)))
        return f"url(#{ident})", "3 2"
    kind = index % 5
    if kind == 0:
        return colour, ""
    ident = f"{frame.ident}-h{index}"
    frame.canvas.defs.append(hatch_pattern(ident, "#ffffff", kind, colour))
    return f"url(#{ident})", ""


def draw_bar(chart: Chart) -> str:
    """Draw a bar chart of categories: series side by side, or stacked."""
    data = chart.data
    categories = [str(c) for c in listed(need(data, "categories", "bar"), "categories")]
    series = series_of(data, "bar")
    stacked = bool(data.get("stacked", False))
    notes = data.get("notes") or {}
    if not isinstance(notes, Mapping):
        raise ChartError("'notes' must map a category to its note")
    unknown = [str(k) for k in notes if str(k) not in categories]
    if unknown:
        raise ChartError(f"'notes' names categories the chart does not have: "
                         f"{', '.join(unknown)}")
    columns: list[list[float | None]] = []
    styles: list[str] = []
    for i, s in enumerate(series):
        name = series_name(s, i)
        values = numbers(need(s, "values", "bar series"), f"{name}.values")
        same_length(values, len(categories), f"{name}.values")
        columns.append(values)
        styles.append(_style(s, name))
    hlines = reference_lines(data)
    intervals = _intervals(data, categories)
    totals = [float(h["y"]) for h in hlines]
    totals += [bound for _, low, high, _ in intervals for bound in (low, high)]
    if stacked:
        for c in range(len(categories)):
            totals.append(sum(v[c] or 0 for v in columns if (v[c] or 0) > 0))
            totals.append(sum(v[c] or 0 for v in columns if (v[c] or 0) < 0))
    else:
        totals += [v for column in columns for v in column if v is not None]
    lo, hi = value_domain(data, "y_domain", totals, zero=True)
    y_axis = value_axis(lo, hi, str(data.get("y_label", "")), is_percent(data, "y"))
    rotation = data.get("rotation")
    x_axis = Axis.banded(categories, str(data.get("x_label", "")),
                         {str(k): str(v) for k, v in notes.items()},
                         float(rotation) if rotation is not None else None)
    frame = Frame(chart.key, chart.title)
    fills = []
    for i, s in enumerate(series):
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        fill, dash = _fill(frame, i, colour, styles[i] == FORECAST)
        fills.append((colour, fill, dash))
        if legend_shown(data):
            name = series_name(s, i)
            if styles[i] == FORECAST and FORECAST not in name.lower():
                name += " (forecast)"
            frame.legend.append(Swatch(name, colour, "box", dash, fill=fill))
    if legend_shown(data):
        frame.reference_legend(hlines)
    frame.place(x_axis, y_axis)
    frame.open_plot()
    width = BAR_SHARE if stacked else BAR_SHARE / max(1, len(series))
    base_up = [0.0] * len(categories)
    base_down = [0.0] * len(categories)
    for i, values in enumerate(columns):
        colour, fill, dash = fills[i]
        name = series_name(series[i], i)
        frame.canvas.open("g", class_="series", data_series=name,
                          data_style=styles[i])
        for c, value in enumerate(values):
            if value is None or value == 0:
                continue
            if stacked:
                base = base_up[c] if value > 0 else base_down[c]
                start, end = base, base + value
                if value > 0:
                    base_up[c] = end
                else:
                    base_down[c] = end
                left = c - width / 2
            else:
                start, end = 0.0, value
                left = c - BAR_SHARE / 2 + i * width
            _bar(frame, left, width, start, end, colour, fill, dash,
                 f"{name}, {categories[c]}: {value_label(value)}")
        frame.canvas.close("g")
    for c, low, high, label in intervals:
        _whisker(frame, c, low, high, f"{categories[c]}: {label} {value_label(low)} to "
                                      f"{value_label(high)}")
    frame.reference_lines(hlines)
    frame.close_plot()
    description = _bar_description(data, categories, series, columns, styles)
    for c, low, high, label in intervals:
        description += f" {categories[c]}: {label} {value_label(low)} to {value_label(high)}."
    return frame.document(description, "bar")


def _intervals(
    data: Mapping[str, Any], categories: Sequence[str]
) -> list[tuple[int, float, float, str]]:
    """Return the chart's ``intervals`` (``[{category, low, high, label}]``) by category index."""
    found = []
    for i, raw in enumerate(listed(data.get("intervals") or [], "intervals")):
        if not isinstance(raw, Mapping):
            raise ChartError(f"intervals[{i}] must be a mapping of category, low, high, label")
        category = str(need(raw, "category", f"intervals[{i}]"))
        if category not in categories:
            raise ChartError(f"intervals[{i}] names category '{category}' the chart does not have")
        low, high = numbers([need(raw, "low", f"intervals[{i}]"),
                             need(raw, "high", f"intervals[{i}]")], f"intervals[{i}]")
        if low is None or high is None or low > high:
            raise ChartError(f"intervals[{i}] needs numbers low <= high")
        found.append((categories.index(category), low, high, str(raw.get("label", "interval"))))
    return found


def _whisker(frame: Frame, c: int, low: float, high: float, tooltip: str) -> None:
    """Draw an interval as a vertical line with end caps over the category's bars."""
    x, cap = frame.x(c), max(frame.x(c + BAR_SHARE / 4) - frame.x(c), 3.0)
    y0, y1 = frame.y.clamp(low), frame.y.clamp(high)
    path = (f"M{x - cap:.2f},{y0:.2f}H{x + cap:.2f}M{x:.2f},{y0:.2f}V{y1:.2f}"
            f"M{x - cap:.2f},{y1:.2f}H{x + cap:.2f}")
    frame.canvas.element("path", tooltip=tooltip, d=path, fill="none", stroke="#000000",
                         stroke_width=1.2, class_="interval")


def _bar(frame: Frame, left: float, width: float, start: float, end: float, colour: str,
         fill: str, dash: str, tooltip: str) -> None:
    x0, x1 = frame.x(left), frame.x(left + width)
    y0, y1 = frame.y.clamp(start), frame.y.clamp(end)
    frame.canvas.element(
        "rect", tooltip=tooltip, x=x0 + 0.5, y=min(y0, y1), width=max(x1 - x0 - 1.0, 0.5),
        height=max(abs(y1 - y0), 0.5), fill=fill, stroke=colour if dash or fill != colour
        else "#ffffff", stroke_width=0.8, stroke_dasharray=dash or None, class_="bar")


def _bar_description(data: Mapping[str, Any], categories: Sequence[str],
                     series: Sequence[Mapping[str, Any]],
                     columns: Sequence[Sequence[float | None]], styles: Sequence[str]) -> str:
    parts = [str(data["description"])] if data.get("description") else []
    layout = "stacked" if data.get("stacked") else "grouped"
    span = f" from {categories[0]} to {categories[-1]}" if categories else ""
    parts.append(f"Bar chart ({layout}), {len(categories)} categories{span}.")
    for i, (s, values) in enumerate(zip(series, columns, strict=True)):
        present = [v for v in values if v is not None]
        total = value_label(sum(present)) if present else "no values"
        note = " (forecast)" if styles[i] == FORECAST else ""
        parts.append(f"{series_name(s, i)}{note}: total {total}.")
    for category, note in (data.get("notes") or {}).items():
        parts.append(f"{category}: {note}.")
    return " ".join(parts)


def draw_barh(chart: Chart) -> str:
    """Draw horizontal bars, one per category top to bottom, with limit marks and flags."""
    data = chart.data
    categories = [str(c) for c in listed(need(data, "categories", "barh"), "categories")]
    values = numbers(need(data, "values", "barh"), "values")
    same_length(values, len(categories), "values")
    limits = numbers(data["limits"], "limits") if "limits" in data else []
    if limits:
        same_length(limits, len(categories), "limits")
    flags = [bool(f) for f in listed(data.get("flags", [False] * len(categories)), "flags")]
    same_length(flags, len(categories), "flags")
    domain_key = "x_domain" if data.get("x_domain") is not None else "y_domain"
    reach = [v for v in [*values, *limits] if v is not None]
    lo, hi = value_domain(data, domain_key, reach, zero=True)
    x_axis = value_axis(lo, hi, str(data.get("x_label", "")), is_percent(data, "x"))
    y_axis = Axis.banded(categories, str(data.get("y_label", "")))
    frame = Frame(chart.key, chart.title, plot_height=max(60.0, ROW_HEIGHT * len(categories)),
                  right=44.0)
    normal, flagged = OKABE_ITO[0], OKABE_ITO[3]
    flag_fill, _ = _fill(frame, 1, flagged, False)
    if legend_shown(data):
        if any(flags):
            frame.legend.append(Swatch(str(data.get("flag_label", "flagged")), flagged, "box",
                                       fill=flag_fill))
        if limits:
            frame.legend.append(Swatch(str(data.get("limit_label", "limit")), INK, "rule"))
    frame.place(x_axis, y_axis)
    frame.open_plot()
    height = frame.plot_height / max(1, len(categories)) * 0.7
    start = frame.x.clamp(max(lo, 0.0) if lo < 0 < hi or lo >= 0 else hi)
    for i, value in enumerate(values):
        centre = frame.y(float(i))
        limit = limits[i] if limits else None
        if value is not None:
            end = frame.x.clamp(value)
            colour = flagged if flags[i] else normal
            frame.canvas.element(
                "rect", tooltip=f"{categories[i]}: {value_label(value)}"
                + (f" (limit {value_label(limit)})" if limit is not None else ""),
                x=min(start, end), y=centre - height / 2, width=max(abs(end - start), 0.5),
                height=height, fill=flag_fill if flags[i] else colour, stroke=colour,
                stroke_width=0.8, class_="bar" + (" flagged" if flags[i] else ""))
            frame.canvas.parts.append(
                f'<text x="{num(max(start, end) + 3)}" y="{num(centre + 3.8)}"'
                f' font-size="{num(SMALL_SIZE)}"'
                f' fill="{INK}" class="value">{escape(value_label(value))}</text>')
        if limit is not None:
            x = frame.x.clamp(limit)
            frame.canvas.element("line", x1=x, y1=centre - height * 0.75, x2=x,
                                 y2=centre + height * 0.75, stroke=INK, stroke_width=2.2,
                                 class_="limit")
    frame.close_plot()
    parts = [str(data["description"])] if data.get("description") else []
    shown = [(v, c) for c, v in zip(categories, values, strict=True) if v is not None]
    parts.append(f"Horizontal bar chart, {len(categories)} rows.")
    if shown:
        (top, top_name), (low, low_name) = max(shown), min(shown)
        parts.append(f"Largest {top_name} ({value_label(top)}), smallest {low_name} "
                     f"({value_label(low)}).")
    if any(flags):
        parts.append(f"{sum(flags)} {data.get('flag_label', 'flagged')}: "
                     + ", ".join(c for c, f in zip(categories, flags, strict=True) if f) + ".")
    return frame.document(" ".join(parts), "barh")
